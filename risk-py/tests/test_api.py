"""`diff`, `explain`, `rules`, `catalog_info`, `versions`, `__version__` and the package surface."""

from __future__ import annotations

import json
import re

import iam_risk_score
from iam_risk_score import catalog_info, diff, explain, rules

from conftest import ADMIN, PASSROLE, READ_ONE_OBJECT


def test_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", iam_risk_score.__version__)
    from importlib.metadata import version

    assert version("iam-risk-score") == iam_risk_score.__version__


def test_public_names() -> None:
    for name in iam_risk_score.__all__:
        assert hasattr(iam_risk_score, name), name
    for fn in (iam_risk_score.score, iam_risk_score.score_many, diff, explain, rules, catalog_info):
        assert fn.__doc__ and len(fn.__doc__) > 80, fn


def test_signatures_are_introspectable() -> None:
    import inspect

    sig = inspect.signature(iam_risk_score.score)
    assert list(sig.parameters) == [
        "policy", "access_type", "duration_hours", "description",
        "extra_sensitive_services", "extra_high_impact_actions", "policy_type",
    ]
    assert sig.parameters["extra_sensitive_services"].default == ()
    assert sig.parameters["access_type"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "threads" in inspect.signature(iam_risk_score.score_many).parameters


def test_diff_widening() -> None:
    old = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}]}
    new = PASSROLE
    d = diff(old, new)
    assert d["risk_delta"] == d["new_score"] - d["old_score"] > 0
    assert d["added_actions"]["iam"]["Write"] == ["iam:PassRole"]
    assert d["added_actions_total"] == 1
    assert d["removed_actions_total"] == 0
    assert any(f["rule"] == "PE002" for f in d["new_findings"])
    assert d["api_version"] == "v1"
    assert d["versions"] == iam_risk_score.versions()
    back = diff(new, old)
    assert back["risk_delta"] == -d["risk_delta"]
    assert any(f["rule"] == "PE002" for f in back["resolved_findings"])
    assert back["removed_actions"]["iam"]["Write"] == ["iam:PassRole"]


def test_diff_accepts_text_and_matches_scores() -> None:
    d = diff(json.dumps(READ_ONE_OBJECT), json.dumps(ADMIN).encode())
    assert d["old_score"] == iam_risk_score.score(READ_ONE_OBJECT)["score"]
    assert d["new_score"] == 10
    assert d["old_fingerprint"] == iam_risk_score.score(READ_ONE_OBJECT)["policy_fingerprint"]
    assert diff(READ_ONE_OBJECT, READ_ONE_OBJECT)["risk_delta"] == 0


def test_diff_access_type() -> None:
    write = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}]}
    plain = diff(READ_ONE_OBJECT, write)
    ro = diff(READ_ONE_OBJECT, write, access_type="read-only")
    assert ro["new_score"] >= plain["new_score"]


def test_explain_rule_by_code_and_name() -> None:
    by_code = explain("PE002")
    assert by_code["kind"] == "rule"
    assert by_code["name"] == "passrole-escalation"
    assert by_code == explain("passrole-escalation")
    assert by_code["applies_to"] == ["identity"]
    for key in ("what", "why", "example", "safer", "scoring", "summary"):
        assert by_code[key], key


def test_explain_pattern() -> None:
    x = explain("s3:GetObjectV*")
    assert x["kind"] == "pattern"
    assert x["pattern"] == "s3:GetObjectV*"
    actions = [a["action"] for level in x["services"]["s3"].values() for a in level]
    assert "s3:GetObjectVersion" in actions
    assert x["total"] == len(actions)
    assert explain("iam:PassRole")["total"] == 1


def test_rules() -> None:
    rs = rules()
    codes = [r["code"] for r in rs]
    assert len(codes) == len(set(codes)) >= 20
    assert "PE002" in codes and "FA001" in codes
    for r in rs:
        assert explain(r["code"]) == {"kind": "rule", **r}
    assert {r["severity"] for r in rs} <= {"info", "low", "medium", "high", "critical"}


def test_catalog_info() -> None:
    info = catalog_info()
    assert info["services"] > 400 and info["actions"] > 20_000
    assert info["license"] == "MIT"
    assert info["version"] == iam_risk_score.versions()["catalog"]


def test_results_are_fresh_objects() -> None:
    a = iam_risk_score.score(ADMIN)
    a["findings"].clear()
    assert iam_risk_score.score(ADMIN)["findings"]
    r = rules()
    r.clear()
    assert rules()
