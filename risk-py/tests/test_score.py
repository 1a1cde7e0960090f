"""`score`: input kinds, options, and the exact v1 result shape."""

from __future__ import annotations

import json
import typing
from collections import OrderedDict
from typing import Any

import pytest

import iam_risk_score
from iam_risk_score import Report, ReportDict, score

from conftest import ADMIN, PASSROLE, READ_ONE_OBJECT, managed_policies

V1_KEYS = [
    "score", "tier", "would_auto_approve_at_threshold_5", "factors", "suggestions",
    "llm_narrative", "analyzer", "policy_fingerprint", "api_version", "policy_type",
    "findings", "categories", "access_summary", "context", "versions",
]
# The predecessor's offline result (`iam-risk-score --offline --format json` 0.1.0).
PREDECESSOR_KEYS = {
    "score", "tier", "would_auto_approve_at_threshold_5", "factors", "suggestions",
    "llm_narrative", "analyzer", "policy_fingerprint", "api_version",
}


def test_admin_scores_ten() -> None:
    r = score(ADMIN)
    assert r["score"] == 10
    assert r["tier"] == "high"
    assert r["would_auto_approve_at_threshold_5"] is False
    assert r["api_version"] == "v1"
    assert r["analyzer"] == "deterministic"
    assert r["llm_narrative"] is None
    assert r["policy_type"] == "identity"
    assert r["policy_fingerprint"].startswith("sha256:")
    assert "full-admin" in r["categories"]


def test_result_is_a_v1_mapping_of_plain_json_data_in_v1_order() -> None:
    r = score(PASSROLE)
    assert type(r) is Report
    assert list(r) == V1_KEYS
    assert PREDECESSOR_KEYS <= set(r)
    plain = r.to_dict()
    assert type(plain) is dict and list(plain) == V1_KEYS
    # Only JSON types anywhere: a json round trip gives the same value back.
    assert json.loads(json.dumps(plain)) == plain == r
    f = r["findings"][0]
    assert f["rule"] == "PE002" and f["name"] == "passrole-escalation"
    assert f["statement"] == 0 and f["statements"] == [0] and f["sid"] == "Deploy"
    assert "iam:PassRole" in f["actions"]
    assert r["access_summary"]["by_service"]["lambda"]["access_levels"]["Write"] >= 1


def test_typed_dicts_match_the_results() -> None:
    """The TypedDicts in the stubs name exactly the keys the engine returns."""
    r = score(PASSROLE, access_type="read-only", duration_hours=2)
    hints = typing.get_type_hints

    assert set(hints(iam_risk_score.ReportDict)) == set(r)
    assert list(hints(iam_risk_score.ReportDict)) == list(r)
    assert set(hints(iam_risk_score.Finding)) == set(r["findings"][0])
    assert set(hints(iam_risk_score.CategorySummary)) == set(next(iter(r["categories"].values())))
    assert set(hints(iam_risk_score.AccessSummary)) == set(r["access_summary"])
    svc = next(iter(r["access_summary"]["by_service"].values()))
    assert set(hints(iam_risk_score.ServiceAccess)) == set(svc)
    assert set(hints(iam_risk_score.Context)) == set(r["context"])
    assert set(hints(iam_risk_score.Versions)) == set(r["versions"])
    d = iam_risk_score.diff(READ_ONE_OBJECT, PASSROLE)
    assert set(hints(iam_risk_score.PolicyDiff)) == set(d)
    assert set(hints(iam_risk_score.RuleDoc)) == set(iam_risk_score.rules()[0])
    assert set(hints(iam_risk_score.RuleExplanation)) == set(iam_risk_score.explain("PE002"))
    pattern = iam_risk_score.explain("s3:GetObject")
    assert set(hints(iam_risk_score.PatternExplanation)) == set(pattern)
    action = pattern["services"]["s3"]["Read"][0]  # type: ignore[typeddict-item]
    assert set(hints(iam_risk_score.ActionDoc)) == set(action)
    assert set(hints(iam_risk_score.CatalogInfo)) == set(iam_risk_score.catalog_info())


@pytest.mark.parametrize("kind", ["dict", "str", "bytes", "bytearray", "ordereddict"])
def test_every_input_kind_gives_the_same_result(kind: str) -> None:
    text = json.dumps(PASSROLE)
    policy: Any = {
        "dict": PASSROLE,
        "str": text,
        "bytes": text.encode(),
        "bytearray": bytearray(text.encode()),
        "ordereddict": OrderedDict(PASSROLE),
    }[kind]
    assert score(policy) == score(PASSROLE)


def test_dict_and_text_agree_on_the_managed_policies() -> None:
    """Converting a dict in Rust and parsing its JSON text give identical results."""
    for doc in managed_policies(limit=150):
        assert score(doc) == score(json.dumps(doc, indent=1))


def test_tuples_and_non_ascii_are_accepted() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": (
            {"Sid": "Données", "Effect": "Allow", "Action": ("s3:GetObject",), "Resource": "*"},
        ),
    }
    r = score(policy)
    assert r["findings"][0]["sid"] == "Données"
    assert r == score(json.dumps(policy, ensure_ascii=False))
    assert r == score(json.dumps(policy, ensure_ascii=True).encode("ascii"))


def test_fingerprint_ignores_formatting() -> None:
    a = score(json.dumps(ADMIN))
    b = score(json.dumps(ADMIN, indent=4, sort_keys=True))
    assert a["policy_fingerprint"] == b["policy_fingerprint"]


def test_default_context_is_not_stated() -> None:
    r = score(READ_ONE_OBJECT)
    assert r["context"] == {"access_type": None, "duration_hours": None}
    assert r["score"] <= 3


def test_access_type_read_only_flags_writes() -> None:
    write = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}],
    }
    plain = score(write)
    ro = score(write, access_type="read-only")
    rw = score(write, access_type="read-write")
    assert ro["context"]["access_type"] == "read-only"
    assert rw["context"]["access_type"] == "read-write"
    assert ro["score"] > plain["score"]
    assert rw["score"] == plain["score"]
    # Case and surrounding spaces are forgiven, as the engine's parser does.
    assert score(write, access_type=" Read-Only ")["score"] == ro["score"]  # type: ignore[arg-type]


def test_duration_raises_risky_scores() -> None:
    short = score(PASSROLE, duration_hours=1)
    long = score(PASSROLE, duration_hours=24 * 90)
    assert short["context"]["duration_hours"] == 1
    assert long["context"]["duration_hours"] == 2160
    assert long["score"] >= short["score"]
    assert score(PASSROLE, duration_hours=8760)["context"]["duration_hours"] == 8760


def test_description_never_changes_the_result() -> None:
    assert score(PASSROLE, description="deploy the billing lambda") == score(PASSROLE)


def test_extra_sensitive_services_and_high_impact_actions() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:*", "route53:ChangeResourceRecordSets"],
             "Resource": "*"}
        ],
    }
    base = score(policy)
    org = score(
        policy,
        extra_sensitive_services=["dynamodb"],
        extra_high_impact_actions=("route53:Change*",),
    )
    assert org["score"] >= base["score"]
    assert org != base
    # None means none, like the default.
    assert score(policy, extra_sensitive_services=None, extra_high_impact_actions=None) == base  # type: ignore[arg-type]
    # Any iterable of str works, including a generator.
    assert score(policy, extra_sensitive_services=(s for s in ["dynamodb"])) == score(
        policy, extra_sensitive_services=["dynamodb"]
    )


def test_policy_type_can_be_forced() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    assert score(trust)["policy_type"] == "trust"
    assert score(trust, policy_type="resource")["policy_type"] == "resource"
    assert score(READ_ONE_OBJECT, policy_type="identity")["policy_type"] == "identity"


def test_versions_are_stamped() -> None:
    r = score(ADMIN)
    assert r["versions"] == iam_risk_score.versions()
    assert r["versions"]["engine"] == iam_risk_score.__version__
    assert iam_risk_score.catalog_info()["version"] == r["versions"]["catalog"]


def test_report_types_are_usable_as_annotations() -> None:
    r: Report = score(ADMIN)
    assert r["score"] == 10
    plain: ReportDict = r.to_dict()
    assert plain["score"] == 10


def test_floats_read_exactly_from_text_and_dict() -> None:
    """A float in a condition is the same number whether the policy comes as text or dict."""
    text = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",'
        ' "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": 0.9565758222131459}}}]}'
    )
    from_text, from_dict = score(text), score(json.loads(text))
    assert from_text == from_dict
    conditions = [f["conditions"] for f in from_text["findings"] if f["conditions"]]
    assert conditions and conditions[0]["NumericLessThan"]["s3:max-keys"] == 0.9565758222131459
