"""The shapes of results, as ``TypedDict`` s for type checkers: plain dicts at run time.

They mirror the engine's frozen v1 JSON (``risk-core/src/output/v1.rs`` and
``docs/output-v1.md``); fields are only ever added within v1. ``score`` and ``score_many``
return :class:`iam_risk_score.Report` objects (a read-only mapping typed in ``_core.pyi``);
:class:`ReportDict` is the same report as a plain dict: ``Report.to_dict()``, and the reports
nested in the results of ``write_policy``, ``narrow``, ``policy_from_cloudtrail`` and ``scan``.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Union


class CategorySummary(TypedDict):
    max_score: int
    findings: int


class ServiceAccess(TypedDict):
    access_levels: dict[str, int]
    catalog_actions: int
    actions_on_all_resources: int


class AccessSummary(TypedDict):
    services: int
    actions: int
    actions_on_all_resources: int
    by_service: dict[str, ServiceAccess]


class Context(TypedDict):
    access_type: str | None
    duration_hours: int | None


class Versions(TypedDict):
    engine: str
    rules: str
    catalog: str
    catalog_source: str


class Finding(TypedDict):
    rule: str
    name: str
    category: str
    severity: str
    score: int
    statement: int | None
    statements: list[int]
    sid: str | None
    actions: list[str]
    resources: list[str]
    conditions: dict[str, Any] | None
    message: str
    suggestion: str
    paths: list[str]


class ReportDict(TypedDict):
    """One scored policy (v1) as a plain dict (``Report.to_dict()``).

    The first nine keys are those of ``iam-risk-score`` 0.1.
    """

    score: int
    tier: str
    would_auto_approve_at_threshold_5: bool
    factors: list[str]
    suggestions: list[str]
    llm_narrative: str | None
    analyzer: str
    policy_fingerprint: str
    api_version: str
    policy_type: str
    findings: list[Finding]
    categories: dict[str, CategorySummary]
    access_summary: AccessSummary
    context: Context
    versions: Versions


class PolicyDiff(TypedDict):
    old_score: int
    new_score: int
    risk_delta: int
    old_tier: str
    new_tier: str
    added_actions: dict[str, dict[str, list[str]]]
    added_actions_total: int
    removed_actions: dict[str, dict[str, list[str]]]
    removed_actions_total: int
    new_findings: list[Finding]
    resolved_findings: list[Finding]
    old_fingerprint: str
    new_fingerprint: str
    api_version: str
    versions: Versions


class RuleDoc(TypedDict):
    code: str
    name: str
    category: str
    severity: str
    max_score: int
    applies_to: list[str]
    summary: str
    what: str
    why: str
    example: str
    safer: str
    scoring: str


class RuleExplanation(RuleDoc):
    kind: Literal["rule"]


class ActionDoc(TypedDict):
    action: str
    access_level: str
    resource_types: list[str]


class PatternExplanation(TypedDict):
    kind: Literal["pattern"]
    pattern: str
    total: int
    services: dict[str, dict[str, list[ActionDoc]]]


Explanation = Union[RuleExplanation, PatternExplanation]


class CatalogInfo(TypedDict):
    services: int
    actions: int
    source: str
    version: str
    updated_at: str
    license: str


class WrittenPolicy(TypedDict, total=False):
    """What :func:`~iam_risk_score.write_policy` returns (``warnings`` only when there are any)."""

    policy: dict[str, Any]
    report: ReportDict
    warnings: list[str]


class UnknownEvent(TypedDict):
    event_source: str
    event_name: str
    count: int


class DeniedEvent(TypedDict):
    event_source: str
    event_name: str
    error_code: str
    actions: list[str]
    count: int


class NotNarrowed(TypedDict):
    action: str
    resource_types: list[str]
    count: int


class SkippedEvent(TypedDict):
    event_source: str
    event_name: str
    reason: str
    count: int


class FromActivity(TypedDict):
    """What :func:`~iam_risk_score.policy_from_cloudtrail` returns."""

    policy: dict[str, Any]
    report: ReportDict
    unknown: list[UnknownEvent]
    denied: list[DeniedEvent]
    not_narrowed: list[NotNarrowed]
    skipped: list[SkippedEvent]
    events_read: int


class NarrowingQuestion(TypedDict):
    """A broad grant :func:`~iam_risk_score.narrow` had too little information to narrow."""

    id: str
    pattern: str
    service: str
    resource_type: str | None
    suggested_arn_format: str | None
    triggering_actions: list[str]
    severity: str
    question: str
    why: str
    statement: int
    sid: str | None


class NarrowedPolicy(TypedDict):
    """What :func:`~iam_risk_score.narrow` returns."""

    policy: dict[str, Any]
    before: ReportDict
    after: ReportDict
    diff: PolicyDiff
    questions: list[NarrowingQuestion]
    changes: list[str]


class ScanEntry(TypedDict):
    """One policy a scan found: where it is and its v1 result."""

    file: str
    line: int
    address: str
    principal: str | None
    source: Literal["policy", "cloudformation", "terraform", "terraform-plan", "authorization-details"]
    statement_lines: list[int]
    notes: list[str]
    result: ReportDict | None


class ScanGate(TypedDict):
    failed: bool
    reasons: list[str]


class ScanResult(TypedDict):
    """A scan (v1), as ``iam-risk-score scan --format json``: see docs/scan.md."""

    api_version: str
    kind: Literal["scan"]
    base: dict[str, str] | None
    threshold: int | None
    results: list[ScanEntry]
    errors: list[dict[str, Any]]
    unresolved: list[dict[str, Any]]
    totals: dict[str, Any]
    gate: ScanGate
    versions: Versions
