"""Typical use of the package, checked with `mypy --strict` against the stubs (not run)."""

from __future__ import annotations

import json
from pathlib import Path

import iam_risk_score
from iam_risk_score import Finding, PolicyDiff, PolicyError, Report, score, score_many


def gate(path: Path, threshold: int = 5) -> bool:
    report: Report = score(path.read_bytes(), access_type="read-only", duration_hours=4)
    worst: list[Finding] = [f for f in report["findings"] if f["score"] >= threshold]
    for f in worst:
        where = f["sid"] or f"statement {f['statement']}"
        print(f"{f['rule']} {f['name']} ({where}): {f['message']} -> {f['suggestion']}")
    services: dict[str, int] = {
        name: sum(s["access_levels"].values()) for name, s in report["access_summary"]["by_service"].items()
    }
    print(services, report["context"]["duration_hours"], report["versions"]["catalog"])
    return report["score"] < threshold and not report["would_auto_approve_at_threshold_5"] is None


def batch(docs: list[dict[str, object]]) -> list[int]:
    try:
        return [r["score"] for r in score_many(docs, threads=2, extra_sensitive_services=["dynamodb"])]
    except PolicyError as e:
        for problem in e.errors():
            print(e.index, problem["path"], problem["message"])
        return []


def change(old: str, new: str) -> int:
    d: PolicyDiff = iam_risk_score.diff(old, new)
    added = sum(len(v) for levels in d["added_actions"].values() for v in levels.values())
    return d["risk_delta"] + added + len(d["new_findings"])


def docs() -> str:
    x = iam_risk_score.explain("s3:Get*")
    if x["kind"] == "pattern":
        return f"{x['pattern']}: {x['total']}"
    codes = [r["code"] for r in iam_risk_score.rules()]
    info = iam_risk_score.catalog_info()
    return f"{x['code']} {x['safer']} {codes} {info['actions']} {iam_risk_score.__version__}"


print(gate(Path("p.json")), batch([json.loads("{}")]), change("{}", "{}"), docs())
