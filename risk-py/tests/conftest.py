"""Shared fixtures: repository paths, sample policies and the two CLIs to compare against."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "risk-core" / "tests" / "corpus"
MANAGED_CORPUS = ROOT / "benches" / "corpus" / "aws-managed-policies.jsonl"

ADMIN: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
READ_ONE_OBJECT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/2024/*"}
    ],
}
PASSROLE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Deploy",
            "Effect": "Allow",
            "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
            "Resource": "*",
        }
    ],
}


def corpus_cases() -> list[tuple[str, dict[str, Any]]]:
    """Every hand-written corpus file's name and policy, sorted by name."""
    return [
        (p.name, json.loads(p.read_text(encoding="utf-8"))["policy"])
        for p in sorted(CORPUS_DIR.glob("*.json"))
    ]


def managed_policies(limit: int | None = None) -> list[dict[str, Any]]:
    """AWS managed policy documents from the benchmark corpus."""
    docs = []
    with open(MANAGED_CORPUS, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                docs.append(json.loads(line)["document"])
                if limit is not None and len(docs) >= limit:
                    break
    return docs


def console_script() -> Path:
    """The `iam-risk-score` console script installed with the package, beside this Python."""
    found = shutil.which("iam-risk-score", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"console script `iam-risk-score` not found next to {sys.executable}")
    return Path(found)


def rust_cli() -> Path | None:
    """The Rust binary named by $IAM_RISK_SCORE_CLI (scripts/test-python.sh sets it when
    target/debug/iam-risk-score is up to date), else None."""
    env = os.environ.get("IAM_RISK_SCORE_CLI")
    return Path(env) if env else None


@pytest.fixture(scope="session")
def corpus() -> list[tuple[str, dict[str, Any]]]:
    cases = corpus_cases()
    assert len(cases) >= 45, f"expected the hand-written corpus in {CORPUS_DIR}"
    return cases
