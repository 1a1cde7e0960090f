"""`scan()` / `scan_json()`: the same files give the CLI's `scan --format json`, byte for byte,
over the CLI's own scan fixtures (every format: policy JSON, CloudFormation, SAM, Terraform,
modules, plans, authorization exports, files with errors)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import iam_risk_score
from conftest import ROOT, console_script, rust_cli

FIXTURES = ROOT / "cli" / "tests" / "fixtures" / "scan"


def cli_scan(cli: Path, cwd: Path, *args: str) -> str:
    r = subprocess.run(
        [str(cli), "scan", "--format", "json", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=dict(os.environ, NO_COLOR="1"),
    )
    assert r.returncode in (0, 1, 2), f"{cli} exited {r.returncode}: {r.stderr}"
    return r.stdout


def clis() -> list[Any]:
    return [pytest.param(console_script, id="console-script"), pytest.param(rust_cli, id="rust-binary")]


@pytest.mark.parametrize("which", clis())
@pytest.mark.parametrize(
    "flags, paths, kwargs",
    [
        ([], ["."], {}),
        (["--no-threshold"], ["terraform", "cloudformation"], {"threshold": None}),
        (["--threshold", "3", "--fail-on-category", "privilege-escalation"], ["."],
         {"threshold": 3, "fail_on_category": ["privilege-escalation"]}),
    ],
    ids=["whole-tree", "two-dirs-no-threshold", "threshold-and-category"],
)
def test_scan_json_is_the_cli_output_byte_for_byte(
    which: Any, flags: list[str], paths: list[str], kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = which()
    if cli is None:
        pytest.skip("IAM_RISK_SCORE_CLI not set: no up-to-date Rust binary (run `cargo test --workspace`)")
    expected = cli_scan(cli, FIXTURES, *flags, *paths)
    monkeypatch.chdir(FIXTURES)
    ours = iam_risk_score.scan_json(*paths, **kwargs)
    assert ours == expected
    parsed = iam_risk_score.scan(*paths, **kwargs)
    assert parsed == json.loads(expected)


def test_scan_finds_every_kind_and_reports_what_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    r = iam_risk_score.scan(".")
    assert r["kind"] == "scan" and r["api_version"] == "v1"
    sources = {e["source"] for e in r["results"]}
    assert {"policy", "cloudformation", "terraform", "terraform-plan", "authorization-details"} <= sources
    assert all(e["result"] is not None and 1 <= e["result"]["score"] <= 10 for e in r["results"])
    assert r["totals"]["policies"] == len(r["results"])
    assert r["threshold"] == 5 and r["gate"]["failed"] == (r["totals"]["max_score"] >= 5)
    assert r["versions"] == iam_risk_score.versions()


def test_scan_accepts_path_objects_and_files(tmp_path: Path) -> None:
    policy = tmp_path / "admin.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}), encoding="utf-8")
    r = iam_risk_score.scan(policy)
    assert [e["file"] for e in r["results"]] == [str(policy)]
    assert r["results"][0]["result"]["score"] == 10 and r["gate"]["failed"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"Version": "2012-10-17", "Statement": [', encoding="utf-8")
    r = iam_risk_score.scan(tmp_path)
    assert len(r["results"]) == 1 and [e["file"] for e in r["errors"]] == [str(broken)]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: iam_risk_score.scan(), TypeError, "at least one path"),
        (lambda: iam_risk_score.scan(42), TypeError, "paths[0] must be a str or os.PathLike, got int"),
        (lambda: iam_risk_score.scan("/nonexistent/iac"), FileNotFoundError, "path not found: /nonexistent/iac"),
        (lambda: iam_risk_score.scan(".", threshold=11), ValueError, "threshold must be 1 to 10"),
        (lambda: iam_risk_score.scan(".", threshold=0), ValueError, "threshold must be 1 to 10"),
        (lambda: iam_risk_score.scan(".", fail_on_category=["admin"]), ValueError, "unknown category `admin`"),
        (lambda: iam_risk_score.scan(".", fail_on_category="full-admin"), TypeError, "not a single str"),
        (lambda: iam_risk_score.scan(".", max_file_size=0), ValueError, "max_file_size must be at least 1 byte"),
    ],
    ids=["no-path", "not-a-path", "missing", "threshold-high", "threshold-zero", "category", "lone-str", "size"],
)
def test_bad_arguments_raise_clear_errors(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=None) as info:
        call()
    assert message in str(info.value)


def test_max_file_size_makes_a_large_file_an_error_entry(tmp_path: Path) -> None:
    (tmp_path / "big.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}), encoding="utf-8")
    r = iam_risk_score.scan(tmp_path, max_file_size=10)
    assert r["results"] == [] and "larger than scan's limit" in r["errors"][0]["message"]
