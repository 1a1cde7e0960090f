"""`iam_jit`: the deprecated shim for iam-risk-score 0.1's `iam_jit.review.analyze_policy`.

Side by side with 0.1.0 itself when `target/venv-pred` exists (scripts/test-python.sh creates it
with `pip install iam-risk-score==0.1.0` from PyPI): 0.1.0's documented calls run there in a
subprocess, ours here, and the result shapes (fields, `to_dict()` keys, types) must match.
Scores may differ where 0.1.0 was wrong; the cases that do are listed in KNOWN_SCORE_CHANGES.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import iam_risk_score

ROOT = Path(__file__).resolve().parents[2]
PRED_PY = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "venv-pred" / "bin" / "python"

S3_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
READ_ONE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/2024/*"}],
}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
PASSROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction"], "Resource": "*"}
    ],
}
NOT_ACTION = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "*"}],
}
DESCRIBE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
DYNAMO_WRITE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}],
}

RO_1H = {"spec": {"access_type": "read-only", "duration": {"duration_hours": 1}}}
RW_LONG = {"spec": {"access_type": "read-write", "duration": {"duration_hours": 24 * 40}, "description": "deploy"}}

# (name, policy, request, kwargs): 0.1's documented call forms (README/MCP `analyze_policy`,
# docs/TUNING-RISK.md's extra_* context).
CASES: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any]]] = [
    ("s3-star-read-only", S3_ALL, RO_1H, {}),
    ("read-one-object", READ_ONE, RO_1H, {}),
    ("admin-long", ADMIN, RW_LONG, {}),
    ("passrole", PASSROLE, {"spec": {"access_type": "read-write"}}, {}),
    ("not-action", NOT_ACTION, RO_1H, {}),
    ("describe-star", DESCRIBE, RO_1H, {}),
    ("empty-request", READ_ONE, {}, {}),
    ("sensitive-extra", DYNAMO_WRITE, {"spec": {"access_type": "read-write"}},
     {"extra_sensitive_services": ("dynamodb",)}),
    ("high-impact-extra", DYNAMO_WRITE, {"spec": {"access_type": "read-write"}},
     {"extra_high_impact_actions": ("dynamodb:PutItem",)}),
]

# Every case whose score differs from 0.1.0's, and why. The side-by-side test fails when the
# set changes, so a new difference is looked at rather than slipping through.
KNOWN_SCORE_CHANGES = {
    "not-action": "0.1 ignored NotAction: everything but s3:DeleteBucket on * scored 4, now 10",
    "describe-star": "0.1 scored ec2:Describe* on * (read-only listing) 4, now 1",
    "s3-star-read-only": "8 -> 9: s3:* also grants permissions-management (bucket policies, ACLs); not reviewed further",
    "passrole": "9 -> 7: PassRole + CreateFunction without lambda:InvokeFunction; 0.1 gave any PassRole on * 9; not reviewed further",
}

FIELDS = [
    "risk_score", "risk_factors", "suggestions", "deterministic_score",
    "llm_narrative", "analyzed_at", "analyzer", "context_fingerprints",
]

_PRED_SCRIPT = r"""
import dataclasses, json, sys
from iam_jit.review import ReviewAnalysis, analyze_policy
cases = json.load(sys.stdin)
out = {"fields": [f.name for f in dataclasses.fields(ReviewAnalysis)], "results": {}}
for name, policy, request, kwargs in cases:
    kwargs = {k: tuple(v) for k, v in kwargs.items()}
    r = analyze_policy(policy, request, **kwargs)
    out["results"][name] = {
        "to_dict": r.to_dict(),
        "types": {f: type(getattr(r, f)).__name__ for f in out["fields"]},
    }
print(json.dumps(out))
"""


def _review() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module("iam_jit.review")


def _ours(name: str, policy: dict[str, Any], request: Any, kwargs: dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _review().analyze_policy(policy, request, **kwargs)


def test_import_warns_and_points_to_iam_risk_score() -> None:
    sys.modules.pop("iam_jit", None)
    sys.modules.pop("iam_jit.review", None)
    with pytest.warns(DeprecationWarning, match="iam_risk_score"):
        importlib.import_module("iam_jit")
    with pytest.warns(DeprecationWarning, match=r"iam_risk_score\.score"):
        _review().analyze_policy(S3_ALL, RO_1H)


def test_result_shape_is_0_1s() -> None:
    review = _review()
    assert [f.name for f in dataclasses.fields(review.ReviewAnalysis)] == FIELDS
    r = _ours("s3", S3_ALL, RO_1H, {})
    assert isinstance(r, review.ReviewAnalysis)
    assert list(r.to_dict()) == FIELDS
    assert r.risk_score == r.deterministic_score == iam_risk_score.score(
        S3_ALL, access_type="read-only", duration_hours=1
    )["score"]
    assert r.risk_factors and all(isinstance(f, str) for f in r.risk_factors)
    assert r.llm_narrative is None and r.analyzer == "deterministic" and r.context_fingerprints == {}
    assert r.analyzed_at.endswith("Z") and len(r.analyzed_at) == 20


def test_request_is_read_like_0_1() -> None:
    # request=None and {} are "nothing stated"; not_after counts hours from now; out-of-range
    # hours are clamped (0.1 accepted any integer).
    base = _ours("n", ADMIN, None, {}).risk_score
    assert _ours("e", ADMIN, {}, {}).risk_score == base
    assert _ours("u", ADMIN, {"spec": {"access_type": "whatever"}}, {}).risk_score == base
    far = {"spec": {"duration": {"not_after": "2999-01-01T00:00:00Z"}}}
    assert _ours("f", ADMIN, far, {}).risk_score == iam_risk_score.score(ADMIN, duration_hours=8760)["score"]
    big = {"spec": {"duration": {"duration_hours": 100000}}}
    assert _ours("b", ADMIN, big, {}).risk_score == iam_risk_score.score(ADMIN, duration_hours=8760)["score"]


def test_backend_is_ignored_with_a_warning_and_is_review_enabled_raises() -> None:
    review = _review()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.warns(RuntimeWarning, match="backend= is ignored"):
            r = review.analyze_policy(S3_ALL, RO_1H, backend=object())
    assert r.llm_narrative is None and r.analyzer == "deterministic"
    with pytest.raises(NotImplementedError, match="iam_risk_score.score"):
        review.is_review_enabled()


def test_invalid_policy_raises_policy_error() -> None:
    with pytest.raises(iam_risk_score.PolicyError):
        _ours("bad", {"Statement": [{"Effect": "allow ", "Action": "s3:GetObject", "Resource": "*"}]}, None, {})


@pytest.mark.skipif(not PRED_PY.exists(), reason="no target/venv-pred (scripts/test-python.sh creates it)")
def test_side_by_side_with_0_1_0() -> None:
    payload = json.dumps([[n, p, r, {k: list(v) for k, v in kw.items()}] for n, p, r, kw in CASES])
    proc = subprocess.run(
        [str(PRED_PY), "-c", _PRED_SCRIPT], input=payload, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    pred = json.loads(proc.stdout)
    assert pred["fields"] == FIELDS
    table = []
    for name, policy, request, kwargs in CASES:
        theirs = pred["results"][name]
        r = _ours(name, policy, request, kwargs)
        mine = r.to_dict()
        assert list(mine) == list(theirs["to_dict"]), name
        assert {f: type(getattr(r, f)).__name__ for f in FIELDS} == theirs["types"], name
        for key in ("risk_factors", "suggestions"):
            assert all(isinstance(x, str) for x in mine[key]), (name, key)
        table.append((name, theirs["to_dict"]["risk_score"], mine["risk_score"]))
    print("\n0.1.0 vs now (risk_score):")
    for name, old, new in table:
        note = KNOWN_SCORE_CHANGES.get(name, "")
        print(f"  {name:20} {old:>2} -> {new:>2}  {note}")
    assert {n for n, old, new in table if old != new} == set(KNOWN_SCORE_CHANGES), table
