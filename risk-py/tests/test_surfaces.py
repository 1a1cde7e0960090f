"""Cross-surface parity from Python: the same options and the same bad documents give the
same score or the same message as the CLI, WASM and the HTTP API (whose Rust twin is
scorer-api/tests/surfaces.rs, with the very same expected strings)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from iam_risk_score import PolicyError, score

from conftest import console_script

DYNAMO = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:Get*","Resource":"*"}]}'
SNS = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:*","Resource":"*"}]}'


def rules(report: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in report["findings"]}


@pytest.mark.parametrize(
    "policy, kwargs, flags, want_score, has_cx002",
    [
        (SNS, {}, [], 7, False),
        (SNS, {"extra_sensitive_services": [" sns"]}, ["--sensitive-service", " sns"], 8, True),
        (DYNAMO, {"extra_sensitive_services": [" dynamodb"]}, ["--sensitive-service", " dynamodb"], 6, True),
        (DYNAMO, {"extra_sensitive_services": ["DynamoDB"]}, ["--sensitive-service", "DynamoDB"], 6, True),
    ],
)
def test_same_options_same_score(
    policy: str, kwargs: dict[str, Any], flags: list[str], want_score: int, has_cx002: bool
) -> None:
    r = score(policy, **kwargs)
    assert r["score"] == want_score
    assert ("CX002" in rules(r)) == has_cx002
    cli = subprocess.run(
        [str(console_script()), "--format", "json", *flags, "-"],
        input=policy, capture_output=True, text=True, timeout=60,
    )
    assert json.loads(cli.stdout) == r


@pytest.mark.parametrize(
    "kwargs, flags, message",
    [
        (
            {"extra_sensitive_services": ["nosuch"]},
            ["--sensitive-service", "nosuch"],
            "extra_sensitive_services[0] names an unknown service `nosuch`; use a service prefix such as `dynamodb`",
        ),
        (
            {"duration_hours": 0},
            ["--duration-hours", "0"],
            "duration_hours must be a whole number of hours between 1 and 8760, got `0`",
        ),
        (
            {"access_type": "sometimes"},
            ["--access-type", "sometimes"],
            'access_type must be "read-only" or "read-write", got `sometimes`',
        ),
        (
            {"policy_type": "group"},
            ["--policy-type", "group"],
            'policy_type must be "identity", "resource" or "trust", got `group`',
        ),
        (
            {"description": "d" * 501},
            ["--description", "d" * 501],
            "description must be at most 500 characters, got 501",
        ),
    ],
)
def test_same_bad_options_same_message(kwargs: dict[str, Any], flags: list[str], message: str) -> None:
    with pytest.raises(ValueError) as e:
        score(SNS, **kwargs)
    assert not isinstance(e.value, PolicyError)
    assert str(e.value) == message
    cli = subprocess.run(
        [str(console_script()), *flags, "-"], input=SNS, capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 2
    assert cli.stderr.strip() == f"error: {message}"


DEEP = '{"Statement": ' + "[" * 200 + "]" * 200 + "}"
BAD_DOCUMENTS = [
    (
        '{"Version": "2012-10-17",\n "Statement": [}',
        "",
        "the policy is not valid JSON: expected value at line 2 column 16",
    ),
    (
        DEEP,
        "",
        "the policy nests more than 128 levels deep (recursion limit exceeded at line 1 column 141)",
    ),
    (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",\n'
        ' "Resource": "*", "Action": "*"}]}',
        "Statement[0].Action",
        "has the key `Action` twice in one object, at line 1 column 61 and again at line 2 column 19; keep one "
        "(JSON readers silently use the last, so the document would not say what it seems to)",
    ),
]


@pytest.mark.parametrize("text, path, message", BAD_DOCUMENTS)
def test_bad_documents_fail_alike(text: str, path: str, message: str) -> None:
    full = f"{path} {message}" if path else message
    with pytest.raises(PolicyError) as e:
        score(text)
    assert str(e.value) == full
    assert e.value.errors() == [{"path": path, "message": message if path else full}]
    cli = subprocess.run([str(console_script()), "-"], input=text, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2
    assert f"error: -: {full}" in cli.stderr


def test_condition_keys_in_different_case_are_ambiguous_even_in_a_dict() -> None:
    # A dict cannot repeat a key, but IAM condition keys are case-insensitive: one key, two values.
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1", "aws:sourcevpc": "vpc-2"}},
        }],
    }
    with pytest.raises(PolicyError, match="repeats the condition key `aws:SourceVpc` in different case") as e:
        score(policy)
    assert e.value.errors()[0]["path"] == "Statement[0].Condition.StringEquals.aws:sourcevpc"
    with pytest.raises(PolicyError) as t:
        score(json.dumps(policy))
    assert str(t.value) == str(e.value)


MIXED = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},'
    '{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"*"}]}'
)


def test_mixed_principal_document_is_refused_unless_typed() -> None:
    # Issue 9, defect 1: one Deny carrying a Principal used to make an admin policy score 1.
    for policy in (MIXED, json.loads(MIXED)):
        with pytest.raises(PolicyError) as e:
            score(policy)
        assert "mixes statements with a `Principal` (Statement[1]) and without one (Statement[0])" in str(e.value)
        assert score(policy, policy_type="identity")["score"] == 10
    cli = subprocess.run([str(console_script()), "-"], input=MIXED, capture_output=True, text=True, check=False)
    assert cli.returncode == 2
    assert "mixes statements with a `Principal`" in cli.stderr
