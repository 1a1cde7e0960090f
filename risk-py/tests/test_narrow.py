"""Narrowing from Python: `narrow` equals the CLI's `narrow --format json`, as parsed data and byte
for byte, with ARNs, access levels and used actions given as a list, a policy or `{"policy": ...}`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import iam_risk_score
from iam_risk_score import PolicyError, narrow

from conftest import console_script
from test_authoring import CLOUDTRAIL, as_cli_text, clis, run, the_cli

S3_EVENTS = CLOUDTRAIL / "s3-log-file.json"

POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "App", "Effect": "Allow", "Action": ["s3:*", "dynamodb:GetItem"], "Resource": "*"},
        {
            "Sid": "Queue",
            "Effect": "Allow",
            "Action": "sqs:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
        {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
    ],
}
USED = ["s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets", "dynamodb:GetItem", "sqs:SendMessage"]
ARNS = ["arn:aws:s3:::reports/*", "arn:aws:s3:::reports"]

# (resources, access levels, used actions) as Python takes them.
CASES: list[tuple[str, list[str], list[str], Any]] = [
    ("resources", ARNS, [], None),
    ("used-list", ARNS, [], USED),
    ("used-policy", [], [], {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": USED, "Resource": "*"}]}),
    ("used-from-cloudtrail", ARNS, [], {"policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}}),
    ("levels", ARNS, ["read", "List"], None),
    ("levels-and-used", [], ["permissions-management", "read"], USED),
    ("nothing-known", [], [], None),
]


def cli_args(tmp: Path, resources: list[str], levels: list[str], used: Any) -> list[str]:
    args = ["narrow", str(tmp / "policy.json"), "--format", "json"]
    if resources:
        args += ["--resource", *resources]
    for level in levels:
        args += ["--access-level", level]
    if used is not None:
        (tmp / "used.json").write_text(json.dumps(used), encoding="utf-8")
        args += ["--used-actions", str(tmp / "used.json")]
    return args


@pytest.mark.parametrize("which", clis())
def test_narrow_parity_with_the_cli(which: Any, tmp_path: Path) -> None:
    cli = the_cli(which)
    (tmp_path / "policy.json").write_text(json.dumps(POLICY), encoding="utf-8")
    mismatches = []
    for name, resources, levels, used in CASES:
        out = run(cli, *cli_args(tmp_path, resources, levels, used))
        assert out.returncode == 0, (name, out.stderr)
        for given in (POLICY, json.dumps(POLICY), json.dumps(POLICY).encode()):
            ours = narrow(given, resources=resources, access_levels=levels, used_actions=used)
            if json.loads(out.stdout) != ours:
                mismatches.append(f"{name} ({type(given).__name__}): parsed JSON differs")
            elif out.stdout != as_cli_text(ours):
                mismatches.append(f"{name} ({type(given).__name__}): same data, different bytes")
    assert not mismatches, "\n".join(mismatches)


def test_narrow_answer_shape_and_used_actions_from_cloudtrail() -> None:
    r = narrow(POLICY, resources=ARNS, used_actions=USED)
    assert list(r) == ["policy", "before", "after", "diff", "questions", "changes"]
    assert r["diff"]["added_actions_total"] == 0
    assert r["after"] == iam_risk_score.score(r["policy"])
    assert r["after"]["score"] <= r["before"]["score"]
    assert r["policy"]["Statement"][-1] == POLICY["Statement"][-1], "Deny kept as written"
    assert list(r["policy"]["Statement"][0])[:2] == ["Sid", "Effect"], "usual key order"
    assert all(q["statement"] in (0, 1) for q in r["questions"])
    # What policy_from_cloudtrail returns is a used-actions value, as the CLI's --used-actions reads it.
    activity = iam_risk_score.policy_from_cloudtrail(json.loads(S3_EVENTS.read_text(encoding="utf-8")))
    assert narrow(POLICY, used_actions=activity) == narrow(POLICY, used_actions=activity["policy"])
    # Any iterable of names works as a list does.
    assert narrow(POLICY, used_actions=tuple(USED)) == narrow(POLICY, used_actions=USED)
    assert narrow(POLICY, used_actions=set(USED)) == narrow(POLICY, used_actions=USED)


def test_narrow_refusals_are_the_cli_refusals(tmp_path: Path) -> None:
    # Used actions the policy grants none of: an error, with the CLI's message.
    with pytest.raises(PolicyError) as e:
        narrow(POLICY, used_actions=[])
    (tmp_path / "policy.json").write_text(json.dumps(POLICY), encoding="utf-8")
    (tmp_path / "used.json").write_text("[]", encoding="utf-8")
    cli = run(console_script(), "narrow", str(tmp_path / "policy.json"), "--used-actions", str(tmp_path / "used.json"))
    assert cli.returncode == 2
    assert cli.stderr == f"error: {e.value}\n"


def test_narrow_errors_carry_the_cli_message(tmp_path: Path) -> None:
    arn = "arn:aws:s3:us-east-1:123456789012:nothing/x"
    with pytest.raises(PolicyError) as e:
        narrow(POLICY, resources=[arn])
    (tmp_path / "policy.json").write_text(json.dumps(POLICY), encoding="utf-8")
    cli = run(console_script(), "narrow", str(tmp_path / "policy.json"), "--resource", arn)
    assert cli.returncode == 2
    assert cli.stderr.startswith(f"error: {str(e.value).splitlines()[0]}")
    assert e.value.errors()[0]["path"] == ""

    with pytest.raises(PolicyError) as e:
        narrow(POLICY, access_levels=["admin"])
    cli = run(console_script(), "narrow", str(tmp_path / "policy.json"), "--access-level", "admin")
    assert cli.returncode == 2
    assert str(e.value) in cli.stderr
    with pytest.raises(PolicyError, match="used actions: item 0 is not a string"):
        narrow(POLICY, used_actions=[{"Action": "s3:GetObject"}])  # type: ignore[list-item]
    with pytest.raises(PolicyError, match="`NotAction`"):
        narrow(POLICY, used_actions={"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]})
    with pytest.raises(PolicyError):
        narrow("{", resources=ARNS)
    with pytest.raises(PolicyError):
        narrow({"Statement": 3}, resources=ARNS)
    with pytest.raises(TypeError, match="a policy must be a dict"):
        narrow([POLICY])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="resources must be a list of str, not a single str"):
        narrow(POLICY, resources=ARNS[0])
    with pytest.raises(TypeError, match="used_actions must be a list of action names"):
        narrow(POLICY, used_actions="s3:GetObject")
    with pytest.raises(TypeError, match=r"used_actions value at `\[0\]` is of type set"):
        narrow(POLICY, used_actions=[{"s3:GetObject"}])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="used_actions must be a list of action names"):
        narrow(POLICY, used_actions=3)  # type: ignore[arg-type]
