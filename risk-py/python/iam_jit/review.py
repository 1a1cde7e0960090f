"""``iam_jit.review`` of iam-risk-score 0.1, backed by ``iam_risk_score.score`` (deprecated).

Same call signature and result shape as 0.1::

    from iam_jit.review import analyze_policy
    analysis = analyze_policy(policy, {"spec": {"access_type": "read-only",
                                                "duration": {"duration_hours": 1}}})
    analysis.risk_score, analysis.risk_factors, analysis.suggestions, analysis.to_dict()

What differs from 0.1 (docs/python.md, "Migrating from iam-risk-score 0.1"):

- scores, factors and suggestions come from the new engine (worded per finding; scores differ
  where 0.1 was wrong, e.g. ``NotAction`` or a single statement written as an object);
- an invalid policy raises ``iam_risk_score.PolicyError`` (a ``ValueError``); 0.1 scored what
  it understood, an unparseable one as 1;
- ``backend=`` (an LLM backend) is accepted and ignored with a ``RuntimeWarning``: there are
  no LLM backends in this package. ``llm_narrative`` stays ``None`` and ``analyzer``
  ``"deterministic"``, which is what 0.1 returned when its LLM call failed;
- ``is_review_enabled()`` read 0.1's service LLM configuration and raises
  ``NotImplementedError``;
- durations outside 1-8760 hours (0.1 accepted any) are clamped into that range.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import iam_risk_score

__all__ = ["ReviewAnalysis", "analyze_policy", "is_review_enabled"]

_MAX_HOURS = 8760


def _deprecated(name: str, instead: str) -> None:
    warnings.warn(
        f"iam_jit.review.{name} is deprecated: use {instead} (docs/python.md, 'Migrating from iam-risk-score 0.1')",
        DeprecationWarning,
        stacklevel=3,
    )


@dataclass
class ReviewAnalysis:
    """0.1's result type, field for field."""

    risk_score: int
    risk_factors: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    deterministic_score: int = 1
    llm_narrative: str | None = None
    analyzed_at: str = ""
    analyzer: str = "deterministic"
    context_fingerprints: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "risk_score": self.risk_score,
            "risk_factors": list(self.risk_factors),
            "suggestions": list(self.suggestions),
            "deterministic_score": self.deterministic_score,
            "llm_narrative": self.llm_narrative,
            "analyzed_at": self.analyzed_at,
            "analyzer": self.analyzer,
            "context_fingerprints": dict(self.context_fingerprints),
        }


def is_review_enabled() -> bool:
    """0.1: whether the iam-jit service had an LLM backend configured. Not available."""
    raise NotImplementedError(
        "iam_jit.review.is_review_enabled() read iam-jit 0.1's LLM service configuration, which "
        "iam-risk-score no longer has; scoring is always available: iam_risk_score.score(policy)"
    )


def _duration_hours(duration: Any) -> int | None:
    """0.1's reading of ``spec.duration``: ``duration_hours``, else hours until ``not_after``."""
    if not isinstance(duration, dict):
        return None
    hours: int | None
    if "duration_hours" in duration:
        try:
            hours = int(duration["duration_hours"])
        except (TypeError, ValueError):
            return None
    else:
        not_after = duration.get("not_after")
        if not isinstance(not_after, str):
            return None
        try:
            deadline = _dt.datetime.fromisoformat(not_after.replace("Z", "+00:00"))
        except ValueError:
            return None
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=_dt.timezone.utc)
        seconds = (deadline - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
        if seconds <= 0:
            return None
        hours = max(1, int(seconds / 3600))
    return min(max(hours, 1), _MAX_HOURS)


def analyze_policy(
    policy: dict[str, Any],
    request: dict[str, Any] | None = None,
    *,
    backend: Any = None,
    extra_sensitive_services: tuple[str, ...] = (),
    extra_high_impact_actions: tuple[str, ...] = (),
) -> ReviewAnalysis:
    """Score ``policy`` 1-10 with the iam_risk_score engine; 0.1's signature and result.

    ``request`` is 0.1's role request: ``spec.access_type`` (``read-only``/``read-write``;
    empty = not stated), ``spec.duration.duration_hours`` or ``spec.duration.not_after`` and
    ``spec.description`` are used; ``None`` means an empty request.
    """
    _deprecated("analyze_policy", "iam_risk_score.score(policy, access_type=..., duration_hours=...)")
    if backend is not None:
        warnings.warn(
            "iam_jit.review.analyze_policy: backend= is ignored (iam-risk-score has no LLM backends; "
            "llm_narrative stays None); the CLI's --narrative writes a narrative",
            RuntimeWarning,
            stacklevel=2,
        )
    spec = (request or {}).get("spec") or {}
    # 0.1 only distinguished "read-only" from anything else (empty: not stated).
    access_in = str(spec.get("access_type") or "").strip().lower()
    access: Literal["read-only", "read-write"] | None = (
        "read-only" if access_in == "read-only" else "read-write" if access_in == "read-write" else None
    )
    description = spec.get("description")
    report = iam_risk_score.score(
        policy,
        access_type=access,
        duration_hours=_duration_hours(spec.get("duration")),
        description=description if isinstance(description, str) and description else None,
        extra_sensitive_services=list(extra_sensitive_services),
        extra_high_impact_actions=list(extra_high_impact_actions),
    )
    score = int(report["score"])
    return ReviewAnalysis(
        risk_score=score,
        risk_factors=list(report["factors"]),
        suggestions=list(report["suggestions"]),
        deterministic_score=score,
        llm_narrative=None,
        analyzed_at=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        analyzer="deterministic",
        context_fingerprints={},
    )
