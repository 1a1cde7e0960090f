"""Deprecated compatibility shim for code written against iam-risk-score 0.1 (``iam_jit``).

iam-risk-score 0.1 shipped the ``iam_jit`` package (a whole self-hosted service); its successor
ships ``iam_risk_score``, a Rust engine. This package keeps the one part scripts call,
``iam_jit.review.analyze_policy(policy, request)``, working on the new engine, with 0.1's call
signature and result shape. Everything else of 0.1's ``iam_jit`` (the web service, stores, LLM
backends, ``suggest``, ``narrow``) is not shipped. Move to ``iam_risk_score.score``: see
docs/python.md, "Migrating from iam-risk-score 0.1".
"""

from __future__ import annotations

import warnings

from iam_risk_score import __version__ as _engine_version

# 0.1's iam_jit said "0.0.1"; this shim reports the engine's version it runs on.
__version__ = _engine_version

warnings.warn(
    "iam_jit is deprecated: it is a compatibility shim over iam_risk_score; "
    "use iam_risk_score.score(policy, ...) instead (docs/python.md, 'Migrating from iam-risk-score 0.1')",
    DeprecationWarning,
    stacklevel=2,
)
