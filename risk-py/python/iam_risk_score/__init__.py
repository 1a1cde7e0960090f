"""Score AWS IAM policies for risk: 1 (harmless) to 10 (full administrator), with findings.

A deterministic engine written in Rust; every result has the same v1 JSON shape as the
``iam-risk-score`` CLI's ``--format json`` and the scoring API. :func:`score` and
:func:`score_many` return :class:`Report` objects, read-only mappings that build the nested
values only when read (``to_dict()`` gives a plain dict, ``to_json()`` the CLI's text); the
other functions return plain dicts::

    >>> import iam_risk_score
    >>> r = iam_risk_score.score({"Version": "2012-10-17", "Statement": [
    ...     {"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    >>> r["score"], r["tier"]
    (10, 'high')

Functions: :func:`score`, :func:`score_many`, :func:`diff`, :func:`explain`, :func:`rules`,
:func:`catalog_info`, :func:`versions`; for writing policies :func:`write_policy` (from a
template: ARNs per access level) and :func:`policy_from_cloudtrail` (from CloudTrail records), and :func:`narrow` to narrow an
existing policy to a task's ARNs, access levels or used actions; :func:`scan` finds and
scores the policies in files, directories and infrastructure code (CloudFormation, Terraform,
plans, authorization exports), as ``iam-risk-score scan`` does.
Policies, templates and records that cannot be used raise :class:`PolicyError` (a
``ValueError``). See docs/python.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._core import (
    MAX_INPUT_BYTES,
    Report,
    __version__,
    catalog_info,
    diff,
    explain,
    narrow,
    policy_from_cloudtrail,
    rules,
    scan_json,
    score,
    score_many,
    versions,
    write_policy,
)
from ._scan import scan
from ._errors import ErrorDetail, PolicyError
from ._types import (
    AccessSummary,
    ActionDoc,
    CatalogInfo,
    CategorySummary,
    Context,
    Explanation,
    Finding,
    FromActivity,
    NarrowedPolicy,
    NarrowingQuestion,
    PatternExplanation,
    PolicyDiff,
    ReportDict,
    RuleDoc,
    RuleExplanation,
    ScanEntry,
    ScanGate,
    ScanResult,
    ServiceAccess,
    Versions,
    WrittenPolicy,
)

# `Report` is a native class (it cannot inherit from the ABC): registered, it passes
# `isinstance(r, Mapping)` like a dict does. json.dumps still needs `r.to_dict()`.
Mapping.register(Report)

__all__ = [
    "MAX_INPUT_BYTES",
    "AccessSummary",
    "ActionDoc",
    "CatalogInfo",
    "CategorySummary",
    "Context",
    "ErrorDetail",
    "Explanation",
    "Finding",
    "FromActivity",
    "NarrowedPolicy",
    "NarrowingQuestion",
    "PatternExplanation",
    "PolicyDiff",
    "PolicyError",
    "Report",
    "ReportDict",
    "RuleDoc",
    "RuleExplanation",
    "ScanEntry",
    "ScanGate",
    "ScanResult",
    "ServiceAccess",
    "Versions",
    "WrittenPolicy",
    "__version__",
    "catalog_info",
    "diff",
    "explain",
    "narrow",
    "policy_from_cloudtrail",
    "rules",
    "scan",
    "scan_json",
    "score",
    "score_many",
    "versions",
    "write_policy",
]
