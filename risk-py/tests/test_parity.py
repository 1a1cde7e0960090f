"""Parity: every hand-written corpus policy scored through Python equals the CLI's
`--format json`, as parsed data and byte for byte (both keep the v1 declaration order): the
`Report` itself, its `to_dict()` dumped by Python's json, and its `to_json(indent=2)`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import iam_risk_score

from conftest import console_script, corpus_cases, rust_cli

CASES = corpus_cases()
OPTION_SETS: list[tuple[list[str], dict[str, Any]]] = [
    ([], {}),
    (["--access-type", "read-only", "--duration-hours", "72"], {"access_type": "read-only", "duration_hours": 72}),
]


def cli_json(cli: Path, policy_file: Path, flags: list[str]) -> str:
    r = subprocess.run(
        [str(cli), "--format", "json", *flags, str(policy_file)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, NO_COLOR="1"),
    )
    assert r.returncode in (0, 1), f"{cli} exited {r.returncode}: {r.stderr}"
    return r.stdout


def as_cli_text(result: Any) -> str:
    """What serde_json's pretty printer writes for the same value."""
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def clis() -> list[Any]:
    out: list[Any] = [pytest.param(console_script, id="console-script")]
    out.append(pytest.param(rust_cli, id="rust-binary"))
    return out


@pytest.mark.parametrize("which", clis())
@pytest.mark.parametrize("flags, options", OPTION_SETS, ids=["defaults", "read-only-72h"])
def test_corpus_parity(which: Any, flags: list[str], options: dict[str, Any], tmp_path: Path) -> None:
    cli = which()
    if cli is None:
        pytest.skip("IAM_RISK_SCORE_CLI not set: no up-to-date Rust binary (run `cargo test --workspace`)")
    assert cli.is_file(), f"{cli} does not exist"
    mismatches = []
    for name, policy in CASES:
        path = tmp_path / name
        path.write_text(json.dumps(policy, indent=2), encoding="utf-8")
        out = cli_json(cli, path, flags)
        ours = iam_risk_score.score(policy, **options)
        plain = ours.to_dict()
        parsed = json.loads(out)
        # The report, its plain dict, and every value read through the mapping.
        if not (parsed == ours == plain == dict(ours)):
            mismatches.append(f"{name}: parsed JSON differs")
        elif out != as_cli_text(plain):
            mismatches.append(f"{name}: same data, different bytes")
        elif out != ours.to_json(indent=2) + "\n":
            mismatches.append(f"{name}: to_json(indent=2) differs from the CLI's bytes")
    assert not mismatches, "\n".join(mismatches)
    assert len(CASES) >= 45


def test_corpus_through_score_many_equals_score() -> None:
    policies = [p for _, p in CASES]
    many = iam_risk_score.score_many(policies)
    one_by_one = [iam_risk_score.score(p) for p in policies]
    assert many == one_by_one
    assert [r.to_dict() for r in many] == [r.to_dict() for r in one_by_one]
