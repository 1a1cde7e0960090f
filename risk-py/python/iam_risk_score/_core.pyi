"""Type stubs of the native module ``iam_risk_score._core`` (see ``src/lib.rs``)."""

import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Union

from ._types import (
    CatalogInfo,
    Explanation,
    FromActivity,
    NarrowedPolicy,
    PolicyDiff,
    Report,
    RuleDoc,
    Versions,
    WrittenPolicy,
)

__all__ = [
    "MAX_INPUT_BYTES",
    "__version__",
    "catalog_info",
    "diff",
    "explain",
    "narrow",
    "policy_from_cloudtrail",
    "rules",
    "run_cli",
    "scan_json",
    "score",
    "score_many",
    "versions",
    "write_policy",
]

#: A policy document: a dict, or its JSON text as ``str``/``bytes``/``bytearray`` (UTF-8).
_Policy = Union[dict[str, Any], str, bytes, bytearray]
_AccessType = Literal["read-only", "read-write"]
_PolicyType = Literal["identity", "resource", "trust"]

__version__: str
MAX_INPUT_BYTES: int

def score(
    policy: _Policy,
    *,
    access_type: _AccessType | None = None,
    duration_hours: int | None = None,
    description: str | None = None,
    extra_sensitive_services: Iterable[str] = (),
    extra_high_impact_actions: Iterable[str] = (),
    policy_type: _PolicyType | None = None,
) -> Report: ...
def score_many(
    policies: Iterable[_Policy],
    *,
    threads: int | None = None,
    access_type: _AccessType | None = None,
    duration_hours: int | None = None,
    description: str | None = None,
    extra_sensitive_services: Iterable[str] = (),
    extra_high_impact_actions: Iterable[str] = (),
    policy_type: _PolicyType | None = None,
) -> list[Report]: ...
def diff(old: _Policy, new: _Policy, *, access_type: _AccessType | None = None) -> PolicyDiff: ...
def explain(pattern_or_rule: str) -> Explanation: ...
def rules() -> list[RuleDoc]: ...
def catalog_info() -> CatalogInfo: ...
def versions() -> Versions: ...
def run_cli(argv: Sequence[str]) -> int: ...
def write_policy(
    template: dict[str, Any] | None = None,
    *,
    read: Iterable[str] = (),
    write: Iterable[str] = (),
    list: Iterable[str] = (),
    tagging: Iterable[str] = (),
    permissions_management: Iterable[str] = (),
) -> WrittenPolicy: ...
def policy_from_cloudtrail(
    events: dict[str, Any] | list[Any] | str | bytes, *, include_denied: bool = False
) -> FromActivity: ...
def narrow(
    policy: _Policy,
    *,
    resources: Iterable[str] = (),
    access_levels: Iterable[str] = (),
    used_actions: Iterable[str] | dict[str, Any] | None = None,
) -> NarrowedPolicy: ...
def scan_json(
    *paths: str | os.PathLike[str],
    threshold: int | None = 5,
    fail_on_category: Iterable[str] | None = None,
    max_file_size: int | None = None,
) -> str: ...
