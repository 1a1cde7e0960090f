"""Error paths: every bad input is a clear Python exception, never a Rust panic."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

import iam_risk_score
from iam_risk_score import PolicyError, score, score_many

from conftest import ADMIN, READ_ONE_OBJECT


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)
    with pytest.raises(ValueError):
        score("{")


def test_malformed_json() -> None:
    with pytest.raises(PolicyError) as e:
        score('{"Version": "2012-10-17", "Statement": [')
    assert "ends unexpectedly" in str(e.value)
    assert e.value.errors() == [{"path": "", "message": str(e.value)}]
    with pytest.raises(PolicyError, match="is not valid JSON"):
        score("{'single': 'quotes'}")
    with pytest.raises(PolicyError, match="is not valid JSON"):
        score(b"not json")


def test_invalid_policy_lists_every_problem_with_its_path() -> None:
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Maybe", "Action": "s3:GetObject"},
        ],
    }
    with pytest.raises(PolicyError) as e:
        score(bad)
    errors = e.value.errors()
    assert [x["path"] for x in errors] == ["Statement[1].Effect", "Statement[1]"]
    assert all(set(x) == {"path", "message"} for x in errors)
    assert "Allow" in errors[0]["message"]
    # The whole message names each path; .errors() returns copies.
    assert "Statement[1].Effect" in str(e.value)
    errors[0]["path"] = "changed"
    assert e.value.errors()[0]["path"] == "Statement[1].Effect"


@pytest.mark.parametrize(
    "policy, match",
    [
        ("{}", "Statement is missing"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ({"Statement": "nope"}, "Statement"),
    ],
)
def test_wrong_policy_shapes(policy: Any, match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        score(policy)


@pytest.mark.parametrize("policy", [[ADMIN], 42, 4.2, None, True, {"a"}, object()])
def test_wrong_python_types_are_type_errors(policy: Any) -> None:
    with pytest.raises(TypeError, match="a policy must be a dict, or JSON text as str or bytes"):
        score(policy)


def test_values_json_cannot_hold() -> None:
    with pytest.raises(TypeError, match=r"`Statement\[0\]\.Action` is of type set"):
        score({"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": {"s3:GetObject"}, "Resource": "*"}]})
    with pytest.raises(TypeError, match="key of type int"):
        score({1: "x"})
    with pytest.raises(PolicyError, match="not a JSON number") as e:
        score({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": float("nan")}]})
    assert e.value.errors()[0]["path"] == "Statement[0].Resource"


def test_self_containing_and_deeply_nested_values() -> None:
    loop: dict[str, Any] = {"Version": "2012-10-17"}
    loop["Statement"] = [loop]
    with pytest.raises(PolicyError, match="nests more than 128 levels deep"):
        score(loop)
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(PolicyError, match="nests more than 128 levels deep"):
        score({"Statement": deep})
    # The same depth as text hits serde_json's own limit: also a PolicyError.
    with pytest.raises(PolicyError, match="recursion limit"):
        score('{"Statement": ' + "[" * 10_000 + "]" * 10_000 + "}")


def test_oversized_input() -> None:
    limit = iam_risk_score.MAX_INPUT_BYTES
    assert limit == 1024 * 1024
    padding = " " * (limit + 1 - len(json.dumps(READ_ONE_OBJECT)))
    text = json.dumps(READ_ONE_OBJECT) + padding
    assert len(text.encode()) == limit + 1
    for policy in (text, text.encode(), bytearray(text.encode())):
        with pytest.raises(PolicyError, match="larger than 1024 KiB") as e:
            score(policy)
        assert e.value.errors() == [{"path": "", "message": str(e.value)}]
    # Exactly at the limit is fine.
    assert score(text[:-1])["score"] >= 1
    # A dict is measured by its compact JSON.
    big = dict(READ_ONE_OBJECT, Id="x" * limit)
    with pytest.raises(PolicyError, match="larger than 1024 KiB"):
        score(big)


def test_non_utf8_bytes() -> None:
    with pytest.raises(PolicyError, match=r"not UTF-8 text \(invalid byte at offset 14\)"):
        score(b'{"Statement": \xff}')
    with pytest.raises(PolicyError, match="not UTF-8"):
        score(json.dumps(ADMIN).encode("utf-16"))
    with pytest.raises(PolicyError, match="not UTF-8"):
        score(bytearray(b"\xc3\x28"))


def test_lone_surrogates_in_str() -> None:
    with pytest.raises(PolicyError, match="not valid text"):
        score('{"Statement": "\ud800"}')


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"access_type": "admin"}, ValueError, "access_type must be \"read-only\" or \"read-write\", got `admin`"),
        ({"access_type": 1}, TypeError, "access_type must be a str or None"),
        ({"duration_hours": 0}, ValueError, "between 1 and 8760"),
        ({"duration_hours": 8761}, ValueError, "between 1 and 8760"),
        ({"duration_hours": -5}, ValueError, "between 1 and 8760"),
        ({"duration_hours": 2**80}, ValueError, "between 1 and 8760"),
        ({"duration_hours": 1.5}, TypeError, "duration_hours must be an int"),
        ({"duration_hours": "24"}, TypeError, "duration_hours must be an int"),
        ({"duration_hours": True}, TypeError, "duration_hours must be an int"),
        ({"description": 3}, TypeError, "description must be a str"),
        ({"extra_sensitive_services": "dynamodb"}, TypeError, "not a single str"),
        ({"extra_sensitive_services": 3}, TypeError, "must be a list of str"),
        ({"extra_sensitive_services": [3]}, TypeError, "must contain only str"),
        ({"extra_sensitive_services": ["nosuchservice"]}, ValueError, "unknown service `nosuchservice`"),
        ({"extra_high_impact_actions": ["s3:NoSuchThing*"]}, ValueError, "matches no action"),
        ({"policy_type": "group"}, ValueError, "policy_type must be"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as e:
        score(READ_ONE_OBJECT, **kwargs)
    assert not isinstance(e.value, PolicyError)


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        score(READ_ONE_OBJECT, "read-only")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        score(READ_ONE_OBJECT, access_typ="read-only")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        score()  # type: ignore[call-arg]


# threads=1 converts every policy and then scores; a pool scores each policy while the next
# is converted. The errors must not depend on which.
@pytest.mark.parametrize("threads", [None, 1, 2])
def test_score_many_errors_name_the_policy(threads: int | None) -> None:
    with pytest.raises(PolicyError, match=r"^policies\[1\]: the policy ends unexpectedly") as e:
        score_many([ADMIN, "{", "also bad"], threads=threads)
    assert e.value.index == 1
    assert e.value.errors()[0]["path"] == ""
    with pytest.raises(PolicyError) as e:
        score_many([ADMIN, ADMIN, {"Statement": [{"Effect": "Nope"}]}], threads=threads)
    assert e.value.index == 2
    assert e.value.errors()[0]["path"] == "Statement[0].Effect"
    with pytest.raises(TypeError, match=r"policies\[2\]: a policy must be a dict"):
        score_many([ADMIN, ADMIN, 7], threads=threads)
    with pytest.raises(PolicyError, match=r"policies\[0\]: .*not UTF-8"):
        score_many([b"\xff"], threads=threads)
    # A policy that is not a policy at all is reported before one that fails to score, even
    # at a higher index: every input is read before any result is looked at.
    with pytest.raises(TypeError, match=r"^policies\[40\]: a policy must be a dict"):
        score_many([ADMIN] * 20 + ["{"] + [READ_ONE_OBJECT] * 19 + [7] + [ADMIN] * 20, threads=threads)
    with pytest.raises(PolicyError, match=r"^policies\[3\]: the policy is larger than") as e:
        score_many([ADMIN] * 3 + ["x" * (iam_risk_score.MAX_INPUT_BYTES + 1)] + [ADMIN] * 3, threads=threads)
    assert e.value.index == 3


@pytest.mark.parametrize(
    "policies, kwargs, exc, match",
    [
        ("[]", {}, TypeError, "not a single str"),
        (b"[]", {}, TypeError, "not a single bytes"),
        (ADMIN, {}, TypeError, "not a single dict"),
        (3, {}, TypeError, "takes a list of policies, not int"),
        ([ADMIN], {"threads": 0}, ValueError, "threads must be between 1 and 1024"),
        ([ADMIN], {"threads": 5000}, ValueError, "threads must be between 1 and 1024"),
        ([ADMIN], {"threads": -1}, ValueError, "threads must be between 1 and 1024"),
        ([ADMIN], {"threads": 2.0}, TypeError, "threads must be an int"),
        ([ADMIN], {"access_type": "x"}, ValueError, "access_type"),
    ],
)
def test_score_many_bad_arguments(policies: Any, kwargs: dict[str, Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        score_many(policies, **kwargs)


def test_diff_errors_name_the_side() -> None:
    with pytest.raises(PolicyError, match="^old policy: Statement is missing") as e:
        iam_risk_score.diff("{}", "{")
    assert e.value.side == "old"
    with pytest.raises(PolicyError, match="^new policy: the policy ends unexpectedly") as e:
        iam_risk_score.diff(READ_ONE_OBJECT, "{")
    assert e.value.side == "new"
    assert e.value.errors()[0]["path"] == ""
    with pytest.raises(TypeError, match="^new policy: a policy must be a dict"):
        iam_risk_score.diff(READ_ONE_OBJECT, [READ_ONE_OBJECT])
    with pytest.raises(PolicyError, match="^old policy: the policy is not UTF-8"):
        iam_risk_score.diff(b"\xfe", READ_ONE_OBJECT)


def test_explain_errors() -> None:
    with pytest.raises(ValueError, match="did you mean `s3:GetObject`"):
        iam_risk_score.explain("s3:GetObjectz")
    with pytest.raises(ValueError, match="nothing to explain"):
        iam_risk_score.explain("  ")
    with pytest.raises(ValueError, match="not in the AWS catalog"):
        iam_risk_score.explain("nosuchservice:Get*")
    with pytest.raises(TypeError, match="explain takes a str"):
        iam_risk_score.explain(42)  # type: ignore[arg-type]


def test_policy_error_survives_pickling() -> None:
    with pytest.raises(PolicyError) as e:
        score_many([ADMIN, {"Statement": [{"Effect": "Nope"}]}])
    back = pickle.loads(pickle.dumps(e.value))
    assert isinstance(back, PolicyError)
    assert str(back) == str(e.value)
    assert back.errors() == e.value.errors()
    assert back.index == 1


def test_policy_error_can_be_raised_by_users() -> None:
    err = PolicyError("custom")
    assert err.errors() == [{"path": "", "message": "custom"}]
    assert err.index is None and err.side is None


def test_no_panic_on_hostile_inputs() -> None:
    """A sample of odd inputs: each must score or raise an ordinary exception."""
    odd: list[Any] = [
        "", " ", "null", "0", "{}", '{"Statement": null}', '{"Statement": [null]}',
        '{"Statement": [{}]}', '{"Statement": [{"Effect": "Allow"}]}',
        '{"Statement": {"Effect": "Allow", "Action": [], "Resource": []}}',
        '{"Statement": [{"Effect": "Allow", "Action": "*:*", "Resource": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Action": ":", "Resource": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": 5}]}',
        '{"Statement": [{"Effect": "Allow", "NotAction": "*", "NotResource": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}',
        '{"Version": 1, "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}',
        "\x00", "\ufeff{}", b"", b"\x00\x00", {"": ""}, {"Statement": [[[]]]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:" + "*" * 5000, "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": ["a" * 10_000 + ":x"], "Resource": "*"}]},
    ]
    for policy in odd:
        try:
            r = score(policy)
        except (PolicyError, TypeError):
            continue
        assert 1 <= r["score"] <= 10
