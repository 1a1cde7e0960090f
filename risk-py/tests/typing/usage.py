"""Typical use of the package, checked with `mypy --strict` against the stubs (not run)."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import iam_risk_score
from iam_risk_score import Finding, PolicyDiff, PolicyError, Report, ReportDict, score, score_many


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


def as_data(report: Report) -> str:
    plain: ReportDict = report.to_dict()
    first: dict[str, Any] = dict(report)
    view: Mapping[str, Any] = report
    tier: str = report["tier"]
    narrative: str | None = report.get("llm_narrative")
    keys: list[str] = list(report.keys())
    same: bool = report == plain and copy.deepcopy(report) == pickle.loads(pickle.dumps(report))
    for key, value in report.items():
        print(key, value, report[key])
    print(first, view, tier, narrative, keys, same, len(report), "score" in report)
    return json.dumps(plain, indent=2) + report.to_json() + report.to_json(indent=2)


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


print(gate(Path("p.json")), batch([json.loads("{}")]), change("{}", "{}"), docs(), as_data(score("{}")))
