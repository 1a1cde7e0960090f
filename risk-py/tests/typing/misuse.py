"""Mistakes the stubs must catch: each line below is a type error under `mypy --strict`."""

from __future__ import annotations

from iam_risk_score import score, score_many

r = score({}, duration_hours="24")
s: str = score("{}")["score"]
score({}, "read-only")
score({}, access_type="admin")
score_many([{}], thread=2)
score("{}")["findings"][0]["no_such_key"]
n: int = score("{}").to_dict()["tier"]
score("{}").to_json(indent="  ")
