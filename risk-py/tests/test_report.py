"""`Report`, what `score` and `score_many` return: a read-only v1 mapping that builds nested
values only when they are read, equal to the plain dict the package used to return."""

from __future__ import annotations

import copy
import gc
import json
import os
import pickle
import subprocess
import sys
import threading
import types
import weakref
from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from pathlib import Path
from typing import Any

import pytest

import iam_risk_score
from iam_risk_score import Report, score, score_many
from iam_risk_score._core import _report_from_json

from conftest import ADMIN, PASSROLE, READ_ONE_OBJECT, console_script, corpus_cases, managed_policies, rust_cli

V1_KEYS = [
    "score", "tier", "would_auto_approve_at_threshold_5", "factors", "suggestions",
    "llm_narrative", "analyzer", "policy_fingerprint", "api_version", "policy_type",
    "findings", "categories", "access_summary", "context", "versions",
]
NESTED = ["factors", "suggestions", "findings", "categories", "access_summary", "context", "versions"]
SCALARS = [k for k in V1_KEYS if k not in NESTED]

# Text the CLI and Python's json write differently unless both are the engine's: non-ASCII,
# escapes, a float in a condition.
AWKWARD: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Données",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "iam:PassRole"],
            "Resource": ["arn:aws:s3:::b/é \"q\" \\ /*", "*"],
            "Condition": {"NumericLessThan": {"s3:max-keys": 0.9565758222131459},
                          "StringEquals": {"aws:RequestTag/ü": "tab\there"}},
        }
    ],
}


@pytest.fixture
def report() -> Report:
    return score(PASSROLE, access_type="read-only", duration_hours=2)


def test_score_and_score_many_return_reports(report: Report) -> None:
    assert type(report) is Report
    assert isinstance(report, Mapping)
    assert not isinstance(report, dict)
    assert all(type(r) is Report for r in score_many([ADMIN, READ_ONE_OBJECT], threads=2))
    assert all(type(r) is Report for r in score_many([ADMIN, READ_ONE_OBJECT], threads=1))
    assert Report.__module__ == "iam_risk_score" and Report.__name__ == "Report"
    assert iam_risk_score.Report is Report


def test_every_key_equals_the_plain_dict(report: Report) -> None:
    plain = report.to_dict()
    for key in V1_KEYS:
        assert report[key] == plain[key], key
        assert type(report[key]) is type(plain[key]), key
    assert report["score"] == 9 and report["tier"] == "high"
    assert report["findings"][0]["rule"] == "PE002"


def test_unknown_keys_raise_key_error_with_the_key(report: Report) -> None:
    with pytest.raises(KeyError) as e:
        report["scroe"]
    assert e.value.args == ("scroe",)
    for bad in [0, None, b"score", ("score",), "Score", "score "]:
        with pytest.raises(KeyError) as e:
            report[bad]
        assert e.value.args == (bad,)


def test_len_iter_and_contains(report: Report) -> None:
    assert len(report) == 15
    assert list(report) == V1_KEYS
    assert [k for k in report] == V1_KEYS
    assert all(k in report for k in V1_KEYS)
    for missing in ["nope", "", 1, None, b"score"]:
        assert missing not in report


class _Str(str):
    pass


def test_a_str_subclass_is_the_same_key(report: Report) -> None:
    assert _Str("score") in report
    assert report[_Str("score")] == report["score"]


def test_keys_values_items_are_views_in_v1_order(report: Report) -> None:
    plain = report.to_dict()
    keys, values, items = report.keys(), report.values(), report.items()
    assert isinstance(keys, KeysView) and isinstance(values, ValuesView) and isinstance(items, ItemsView)
    assert list(keys) == V1_KEYS == list(plain.keys())
    assert list(values) == list(plain.values())
    assert list(items) == list(plain.items())
    assert len(keys) == len(values) == len(items) == 15
    assert keys & {"score", "nope"} == {"score"}
    assert ("score", report["score"]) in items
    assert "findings" in keys


def test_get(report: Report) -> None:
    assert report.get("score") == report["score"]
    assert report.get("score", 0) == report["score"]
    assert report.get("findings") is report["findings"]
    assert report.get("nope") is None
    assert report.get("nope", "fallback") == "fallback"
    assert report.get(42, 0) == 0
    assert report.get("llm_narrative", "x") is None  # present, and None


def test_dict_of_a_report(report: Report) -> None:
    d = dict(report)
    assert type(d) is dict
    assert list(d) == V1_KEYS
    assert d == report.to_dict()
    # Like dict(other_dict): a new top level sharing the (cached) nested values.
    assert d["findings"] is report["findings"]


def test_equality(report: Report) -> None:
    same = score(PASSROLE, access_type="read-only", duration_hours=2)
    assert report is not same
    assert report == same and not (report != same)
    assert report == report.to_dict() and report.to_dict() == report
    assert not (report != report.to_dict())
    assert report == types.MappingProxyType(report.to_dict())  # any Mapping, not only dict
    assert report != score(ADMIN)
    assert report != score(PASSROLE)  # other options, other context
    changed = report.to_dict()
    changed["findings"][0]["score"] = 1
    assert report != changed and changed != report
    fewer = report.to_dict()
    del fewer["versions"]  # type: ignore[misc]
    assert report != fewer
    for other in [None, 9, "report", list(report), list(report.items())]:
        assert report != other
        assert not (report == other)
    assert report.__eq__(9) is NotImplemented


def test_unhashable_like_a_dict(report: Report) -> None:
    with pytest.raises(TypeError):
        hash(report)


def test_repr(report: Report) -> None:
    assert repr(report) == "Report(score=9, tier='high', findings=%d)" % len(report["findings"])
    assert repr(score(READ_ONE_OBJECT)) == "Report(score=1, tier='low', findings=0)"


def test_nested_values_are_built_once(report: Report) -> None:
    for key in NESTED:
        assert report[key] is report[key], key
        assert report.get(key) is report[key], key
    assert dict(report.items())["categories"] is report["categories"]
    # to_dict builds everything afresh, never handing out the cached objects.
    a, b = report.to_dict(), report.to_dict()
    assert a is not b and a["findings"] is not b["findings"] and a["findings"] is not report["findings"]
    assert a == b


def test_to_dict_is_plain_json_data_in_v1_order(report: Report) -> None:
    d = report.to_dict()
    assert type(d) is dict
    assert list(d) == V1_KEYS
    assert type(d["findings"]) is list and type(d["findings"][0]) is dict
    assert json.loads(json.dumps(d)) == d


def test_json_dumps_needs_to_dict_or_to_json(report: Report) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        json.dumps(report)
    assert json.loads(json.dumps(report.to_dict())) == report
    assert json.loads(report.to_json()) == report


@pytest.mark.parametrize("policy", [PASSROLE, ADMIN, READ_ONE_OBJECT, AWKWARD], ids=["passrole", "admin", "read", "awkward"])
def test_to_json_is_the_engines_serialisation(policy: dict[str, Any]) -> None:
    r = score(policy)
    plain = r.to_dict()
    assert r.to_json() == json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
    assert r.to_json(None) == r.to_json()
    for indent in (0, 1, 2, 4):
        assert r.to_json(indent=indent) == json.dumps(plain, indent=indent, ensure_ascii=False), indent
    assert list(json.loads(r.to_json())) == V1_KEYS


def test_to_json_bad_indent(report: Report) -> None:
    for bad in ["  ", 2.0, True, [2]]:
        with pytest.raises(TypeError, match="indent must be an int or None"):
            report.to_json(indent=bad)  # type: ignore[arg-type]
    for bad_value in [-1, 65, 10**30, -(10**30)]:
        with pytest.raises(ValueError, match="indent must be None or 0 to 64 spaces"):
            report.to_json(indent=bad_value)
    assert report.to_json(indent=64).startswith("{\n" + " " * 64 + '"score"')


def _clis() -> list[Any]:
    return [pytest.param(console_script, id="console-script"), pytest.param(rust_cli, id="rust-binary")]


@pytest.mark.parametrize("which", _clis())
@pytest.mark.parametrize(
    "policy, flags, options",
    [
        (AWKWARD, [], {}),
        (PASSROLE, ["--access-type", "read-only", "--duration-hours", "72"], {"access_type": "read-only", "duration_hours": 72}),
    ],
    ids=["awkward", "passrole-read-only-72h"],
)
def test_to_json_indent_2_is_the_clis_output(
    which: Any, policy: dict[str, Any], flags: list[str], options: dict[str, Any], tmp_path: Path
) -> None:
    cli = which()
    if cli is None:
        pytest.skip("IAM_RISK_SCORE_CLI not set: no up-to-date Rust binary (run `cargo test --workspace`)")
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy, ensure_ascii=False), encoding="utf-8")
    out = subprocess.run(
        [str(cli), "--format", "json", *flags, str(path)],
        capture_output=True, timeout=60, env=dict(os.environ, NO_COLOR="1"),
    )
    assert out.returncode in (0, 1), out.stderr
    r = score(policy, **options)
    assert out.stdout.decode("utf-8") == r.to_json(indent=2) + "\n"
    assert r.to_dict() == json.loads(out.stdout)


def test_pickle_round_trip(report: Report) -> None:
    report["findings"]  # a cached value must not change what is pickled
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(report, protocol=protocol))
        assert type(back) is Report
        assert back == report and back.to_dict() == report.to_dict()
        assert back.to_json(indent=2) == report.to_json(indent=2)
    many = score_many([ADMIN, AWKWARD, READ_ONE_OBJECT])
    assert pickle.loads(pickle.dumps(many)) == many
    # The float in the condition survives exactly.
    awkward = pickle.loads(pickle.dumps(score(AWKWARD)))
    cond = [f["conditions"] for f in awkward["findings"] if f["conditions"]][0]
    assert cond["NumericLessThan"]["s3:max-keys"] == 0.9565758222131459


def test_json_round_trip_keeps_every_report_of_the_corpora() -> None:
    """What pickling relies on: the JSON text rebuilds an equal report, for every corpus policy."""
    policies = [p for _, p in corpus_cases()] + managed_policies(limit=300)
    for options in ({}, {"access_type": "read-only", "duration_hours": 72}):
        for r in score_many(policies, **options):
            back = _report_from_json(r.to_json())
            assert back == r and back.to_json(indent=2) == r.to_json(indent=2)


def test_report_from_json_refuses_what_is_not_a_report(report: Report) -> None:
    assert _report_from_json(report.to_json()) == report
    assert _report_from_json(report.to_json(indent=2)) == report
    with pytest.raises(ValueError, match="not a v1 report: missing field `score`"):
        _report_from_json("{}")
    with pytest.raises(ValueError, match="not a v1 report"):
        _report_from_json(report.to_json()[:-1])
    with pytest.raises(ValueError, match="not a v1 report"):
        _report_from_json(report.to_json().replace('"score":9', '"score":"9"'))
    with pytest.raises(TypeError, match=r"JSON text \(str\), not bytes"):
        _report_from_json(report.to_json().encode())  # type: ignore[arg-type]


def test_copy_and_deepcopy(report: Report) -> None:
    findings = report["findings"]
    shallow = copy.copy(report)
    assert type(shallow) is Report and shallow is not report and shallow == report
    assert shallow["findings"] is findings  # shares what was read, as dict.copy() does
    deep = copy.deepcopy(report)
    assert type(deep) is Report and deep == report
    assert deep["findings"] is not findings and deep["findings"] == findings
    boxed = copy.deepcopy({"r": report, "again": report})
    assert boxed["r"] == report and boxed["r"] is boxed["again"]


def test_read_only_and_not_constructible(report: Report) -> None:
    with pytest.raises(TypeError):
        report["score"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        del report["score"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        report.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        Report()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        type("Sub", (Report,), {})


def test_threads_reading_one_report_share_each_value() -> None:
    """Many threads read the same fresh reports at once: one object per nested key, all equal
    to the plain dict. A tiny switch interval makes the threads interleave inside reads."""
    reports = score_many(managed_policies(limit=40))
    expected = [r.to_dict() for r in reports]  # builds nothing in the reports' caches
    start = threading.Barrier(8)
    seen: list[list[dict[str, Any]]] = [[] for _ in range(8)]
    errors: list[BaseException] = []

    def reader(k: int) -> None:
        try:
            start.wait()
            order = V1_KEYS if k % 2 else V1_KEYS[::-1]
            for r, want in zip(reports, expected):
                got = {key: r[key] for key in order}
                assert got == want
                assert dict(r.items()) == want and r.to_dict() == want
                seen[k].append(got)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    for i, r in enumerate(reports):
        for key in NESTED:
            assert all(seen[k][i][key] is r[key] for k in range(8)), (i, key)


def test_a_cycle_through_a_cached_value_is_collected() -> None:
    """A report put inside its own (cached) findings list is freed by the cyclic GC."""

    class Marker:
        pass

    r = score(ADMIN)
    marker = Marker()
    gone = weakref.ref(marker)
    r["findings"].append({"report": r, "marker": marker})
    del r, marker
    gc.collect()
    assert gone() is None
