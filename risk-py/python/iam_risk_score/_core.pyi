"""Type stubs of the native module ``iam_risk_score._core`` (see ``src/lib.rs``)."""

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal, Union, final, overload

from ._types import (
    AccessSummary,
    CatalogInfo,
    CategorySummary,
    Context,
    Explanation,
    Finding,
    FromActivity,
    NarrowedPolicy,
    PolicyDiff,
    ReportDict,
    RuleDoc,
    Versions,
    WrittenPolicy,
)

__all__ = [
    "MAX_INPUT_BYTES",
    "Report",
    "__version__",
    "_report_from_json",
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

@final
class Report(Mapping[str, Any]):
    """One scored policy (v1): a read-only mapping whose nested values are built when read.

    Registered as a ``collections.abc.Mapping`` (it does not inherit from it at run time).
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]
    @overload
    def __getitem__(self, key: Literal["score"], /) -> int: ...
    @overload
    def __getitem__(self, key: Literal["tier"], /) -> str: ...
    @overload
    def __getitem__(self, key: Literal["would_auto_approve_at_threshold_5"], /) -> bool: ...
    @overload
    def __getitem__(self, key: Literal["factors", "suggestions"], /) -> list[str]: ...
    @overload
    def __getitem__(self, key: Literal["llm_narrative"], /) -> str | None: ...
    @overload
    def __getitem__(
        self, key: Literal["analyzer", "policy_fingerprint", "api_version", "policy_type"], /
    ) -> str: ...
    @overload
    def __getitem__(self, key: Literal["findings"], /) -> list[Finding]: ...
    @overload
    def __getitem__(self, key: Literal["categories"], /) -> dict[str, CategorySummary]: ...
    @overload
    def __getitem__(self, key: Literal["access_summary"], /) -> AccessSummary: ...
    @overload
    def __getitem__(self, key: Literal["context"], /) -> Context: ...
    @overload
    def __getitem__(self, key: Literal["versions"], /) -> Versions: ...
    @overload
    def __getitem__(self, key: str, /) -> Any: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...
    def __contains__(self, key: object, /) -> bool: ...
    @overload
    def get(self, key: str, /) -> Any | None: ...
    @overload
    def get(self, key: str, default: Any, /) -> Any: ...
    def __eq__(self, other: object, /) -> bool: ...
    def to_dict(self) -> ReportDict: ...
    def to_json(self, indent: int | None = None) -> str: ...
    def __reduce__(self) -> tuple[Callable[[str], Report], tuple[str]]: ...
    def __copy__(self) -> Report: ...
    def __deepcopy__(self, memo: Any, /) -> Report: ...

def _report_from_json(text: str) -> Report: ...

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
