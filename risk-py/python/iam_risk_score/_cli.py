"""The ``iam-risk-score`` console script: the very same command line as the Rust binary."""

from __future__ import annotations

import sys

from . import _core


def main() -> None:
    """Run ``iam-risk-score`` with ``sys.argv`` and exit with its code (0, 1, 2 or 3)."""
    # The Rust CLI writes to the file descriptors directly: flush anything Python buffered
    # first so output keeps its order.
    sys.stdout.flush()
    sys.stderr.flush()
    argv = list(sys.argv)
    argv[0] = "iam-risk-score"
    sys.exit(_core.run_cli(argv))
