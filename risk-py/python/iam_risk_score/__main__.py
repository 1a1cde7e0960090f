"""``python -m iam_risk_score``: the ``iam-risk-score`` command line."""

from ._cli import main

main()
