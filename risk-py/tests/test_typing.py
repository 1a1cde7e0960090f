"""The stubs (`_core.pyi`, `py.typed`, the TypedDicts) under `mypy --strict`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import iam_risk_score

HERE = Path(__file__).parent / "typing"


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.10", *args],
        capture_output=True, text=True, timeout=300, cwd=HERE,
    )


def test_package_is_typed() -> None:
    pkg = Path(iam_risk_score.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_core.pyi").is_file()


def test_usage_passes_mypy_strict() -> None:
    r = mypy("usage.py")
    assert r.returncode == 0, r.stdout + r.stderr


def test_misuse_fails_mypy_strict() -> None:
    r = mypy("misuse.py")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = {int(line.split(":")[1]) for line in r.stdout.splitlines() if ": error:" in line}
    # One error (at least) on every line that misuses the API.
    assert lines >= {7, 8, 9, 10, 11, 12, 13, 14}, r.stdout


def test_stubs_match_the_extension(tmp_path: Path) -> None:
    """`stubtest` compares `_core.pyi` with the compiled module's real signatures."""
    r = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "iam_risk_score._core"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
