"""The policy writer and CloudTrail from Python: `write_policy` and `policy_from_cloudtrail` equal
the CLI's `write-policy --format json` and `from-cloudtrail --format json`, as parsed data and
byte for byte, on the policy_sentry templates and the CloudTrail fixtures of risk-core."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import iam_risk_score
from iam_risk_score import PolicyError, policy_from_cloudtrail, write_policy

from conftest import ROOT, console_script, rust_cli

AUTHORING = ROOT / "risk-core" / "tests" / "fixtures" / "authoring"
CLOUDTRAIL = ROOT / "risk-core" / "tests" / "fixtures" / "cloudtrail"
TEMPLATES = sorted(p for p in AUTHORING.glob("*.json") if not p.name.endswith(".policy_sentry.json"))
EVENTS = sorted(CLOUDTRAIL.glob("*.json"))


def run(cli: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli), *args], capture_output=True, text=True, timeout=60, env=dict(os.environ, NO_COLOR="1")
    )


def as_cli_text(result: Any) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def clis() -> list[Any]:
    return [pytest.param(console_script, id="console-script"), pytest.param(rust_cli, id="rust-binary")]


def the_cli(which: Any) -> Path:
    cli = which()
    if cli is None:
        pytest.skip("IAM_RISK_SCORE_CLI not set: no up-to-date Rust binary (run `cargo test --workspace`)")
    assert isinstance(cli, Path)
    return cli


def test_fixtures_are_there() -> None:
    assert len(TEMPLATES) >= 14, TEMPLATES
    assert len(EVENTS) >= 8, EVENTS


@pytest.mark.parametrize("which", clis())
def test_write_policy_parity_on_policy_sentry_templates(which: Any) -> None:
    cli = the_cli(which)
    mismatches = []
    for path in TEMPLATES:
        out = run(cli, "write-policy", "--template", str(path), "--format", "json")
        template = json.loads(path.read_text(encoding="utf-8"))
        if out.returncode != 0:
            # The same refusal, with the core's message.
            with pytest.raises(PolicyError) as e:
                write_policy(template)
            assert str(e.value) in out.stderr, (path.name, out.stderr)
            continue
        ours = write_policy(template)
        if json.loads(out.stdout) != ours:
            mismatches.append(f"{path.name}: parsed JSON differs")
        elif out.stdout != as_cli_text(ours):
            mismatches.append(f"{path.name}: same data, different bytes")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("which", clis())
def test_write_policy_keywords_are_the_cli_flags(which: Any) -> None:
    cli = the_cli(which)
    out = run(
        cli, "write-policy", "--read", "arn:aws:s3:::reports/*", "--list", "arn:aws:s3:::reports",
        "--permissions-management", "arn:aws:kms:us-east-1:123456789012:key/k", "--format", "json",
    )
    assert out.returncode == 0, out.stderr
    ours = write_policy(
        read=["arn:aws:s3:::reports/*"], list=["arn:aws:s3:::reports"],
        permissions_management=["arn:aws:kms:us-east-1:123456789012:key/k"],
    )
    assert out.stdout == as_cli_text(ours)
    assert list(ours) == ["policy", "report"]
    assert [s["Sid"] for s in ours["policy"]["Statement"]] == [
        "S3ReadObject", "S3ListBucket", "KmsPermissionsmanagementKey"
    ]
    assert ours["report"] == iam_risk_score.score(ours["policy"])


def test_keywords_add_to_the_template() -> None:
    both = write_policy({"read": ["arn:aws:s3:::reports/*"]}, list=("arn:aws:s3:::reports",))
    assert both == write_policy({"read": ["arn:aws:s3:::reports/*"], "list": ["arn:aws:s3:::reports"]})


def test_warnings_are_listed_and_the_cli_prints_them_too() -> None:
    r = write_policy({"mode": "actions", "actions": ["s3:GetObject"]})
    assert list(r) == ["policy", "report", "warnings"]
    assert r["warnings"] and r["warnings"][0].startswith("`actions`: resources are the actions' ARN formats")
    proc = subprocess.run(
        [str(console_script()), "write-policy", "--template", "-", "--format", "json"],
        input=json.dumps({"mode": "actions", "actions": ["s3:GetObject"]}), capture_output=True, text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == as_cli_text(r)


def test_write_policy_errors() -> None:
    with pytest.raises(PolicyError) as e:
        write_policy(read=["arn:aws:s3:us-east-1:123456789012:nothing/x"])
    cli = run(console_script(), "write-policy", "--read", "arn:aws:s3:us-east-1:123456789012:nothing/x")
    assert cli.returncode == 2
    assert cli.stderr.startswith(f"error: {str(e.value).splitlines()[0]}")
    assert e.value.errors()[0]["path"] == ""
    with pytest.raises(PolicyError, match="unknown template key `reed`"):
        write_policy({"reed": ["arn:aws:s3:::b"]})
    with pytest.raises(PolicyError, match="the template asks for nothing"):
        write_policy()
    with pytest.raises(TypeError, match="template must be a dict"):
        write_policy("read: []")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read must be a list of str, not a single str"):
        write_policy(read="arn:aws:s3:::b")
    with pytest.raises(TypeError, match=r"template value at `read\[0\]` is of type set"):
        write_policy({"read": [{"x"}]})


@pytest.mark.parametrize("which", clis())
@pytest.mark.parametrize("denied", [False, True], ids=["default", "include-denied"])
def test_policy_from_cloudtrail_parity(which: Any, denied: bool) -> None:
    cli = the_cli(which)
    flags = ["--include-denied"] if denied else []
    mismatches = []
    for path in EVENTS:
        out = run(cli, "from-cloudtrail", str(path), "--format", "json", *flags)
        assert out.returncode == 0, (path.name, out.stderr)
        text = path.read_text(encoding="utf-8")
        for given in (json.loads(text), text, text.encode()):
            ours = policy_from_cloudtrail(given, include_denied=denied)
            if json.loads(out.stdout) != ours:
                mismatches.append(f"{path.name} ({type(given).__name__}): parsed JSON differs")
            elif out.stdout != as_cli_text(ours):
                mismatches.append(f"{path.name} ({type(given).__name__}): same data, different bytes")
    assert not mismatches, "\n".join(mismatches)


def test_policy_from_cloudtrail_errors() -> None:
    with pytest.raises(PolicyError, match="not CloudTrail: expected `Records`"):
        policy_from_cloudtrail({"Items": []})
    with pytest.raises(PolicyError, match="^the CloudTrail file "):
        policy_from_cloudtrail("{")
    with pytest.raises(PolicyError, match="gzip"):
        policy_from_cloudtrail(b"\x1f\x8b\x08\x00")
    with pytest.raises(TypeError, match="events must be a dict or list"):
        policy_from_cloudtrail(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="include_denied must be a bool"):
        policy_from_cloudtrail([], include_denied=1)  # type: ignore[arg-type]
