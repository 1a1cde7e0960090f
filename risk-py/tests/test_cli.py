"""The `iam-risk-score` console script installed by the wheel: the Rust CLI, same flags,
output and exit codes (0 below threshold, 1 at or above, 2 bad input, 3 API error)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import iam_risk_score

from conftest import ADMIN, PASSROLE, READ_ONE_OBJECT, console_script


def run(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1")
    env.pop("IAM_RISK_SCORE_API_URL", None)
    return subprocess.run(
        [str(console_script()), *map(str, args)],
        input=stdin, capture_output=True, text=True, env=env, timeout=60,
    )


def write(tmp_path: Path, name: str, policy: Any) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(policy, indent=2), encoding="utf-8")
    return p


def test_exit_0_below_threshold(tmp_path: Path) -> None:
    r = run(write(tmp_path, "ok.json", READ_ONE_OBJECT))
    assert r.returncode == 0, r.stderr
    assert "IAM Policy Risk Score" in r.stdout
    assert "PASS" in r.stdout


def test_exit_1_at_or_above_threshold(tmp_path: Path) -> None:
    p = write(tmp_path, "admin.json", ADMIN)
    r = run(p)
    assert r.returncode == 1
    assert "10/10" in r.stdout and "FAIL" in r.stdout
    # The threshold moves the gate; the predecessor's `--offline` is still accepted.
    assert run("--offline", "--threshold", "10", write(tmp_path, "pr.json", PASSROLE)).returncode == 0


def test_exit_2_bad_input(tmp_path: Path) -> None:
    missing = run(tmp_path / "missing.json")
    assert missing.returncode == 2
    assert "policy file not found" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    r = run(bad)
    assert r.returncode == 2
    assert "ends unexpectedly" in r.stderr
    bad_flag = run("--threshold", "11", write(tmp_path, "ok.json", READ_ONE_OBJECT))
    assert bad_flag.returncode == 2
    assert "--threshold" in bad_flag.stderr
    assert run().returncode == 2
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (iam_risk_score.MAX_INPUT_BYTES + 1))
    assert "larger than 1024 KiB" in run(big).stderr


def test_exit_3_api_unreachable(tmp_path: Path) -> None:
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    r = run("--api", "http://127.0.0.1:9", "--timeout", "5", write(tmp_path, "ok.json", READ_ONE_OBJECT))
    assert r.returncode == 3, (r.stdout, r.stderr)


def test_format_json_equals_score(tmp_path: Path) -> None:
    p = write(tmp_path, "passrole.json", PASSROLE)
    r = run("--format", "json", "--access-type", "read-only", "--duration-hours", "12", p)
    assert r.returncode == 1
    assert json.loads(r.stdout) == iam_risk_score.score(PASSROLE, access_type="read-only", duration_hours=12)


def test_stdin_and_many_files(tmp_path: Path) -> None:
    r = run("--format", "json", "-", stdin=json.dumps(READ_ONE_OBJECT))
    assert r.returncode == 0
    assert json.loads(r.stdout) == iam_risk_score.score(READ_ONE_OBJECT)
    write(tmp_path, "a.json", READ_ONE_OBJECT)
    write(tmp_path, "b.json", ADMIN)
    many = run("--format", "json", tmp_path)
    assert many.returncode == 1
    out = json.loads(many.stdout)
    assert [Path(o["file"]).name for o in out] == ["a.json", "b.json"]
    assert [o["result"] for o in out] == iam_risk_score.score_many([READ_ONE_OBJECT, ADMIN])


def test_subcommands_match_the_python_api(tmp_path: Path) -> None:
    rules = run("rules", "--format", "json")
    assert rules.returncode == 0 and json.loads(rules.stdout) == iam_risk_score.rules()
    cat = run("catalog", "--format", "json")
    assert json.loads(cat.stdout) == iam_risk_score.catalog_info()
    ex = run("explain", "s3:GetObjectV*", "--format", "json")
    assert json.loads(ex.stdout) == iam_risk_score.explain("s3:GetObjectV*")
    assert run("explain", "s3:GetObjectz").returncode == 2
    old, new = write(tmp_path, "old.json", READ_ONE_OBJECT), write(tmp_path, "new.json", PASSROLE)
    d = run("diff", old, new, "--format", "json", "--fail-on-increase")
    assert d.returncode == 1
    assert json.loads(d.stdout) == iam_risk_score.diff(READ_ONE_OBJECT, PASSROLE)


def test_version_and_help() -> None:
    v = run("--version")
    assert v.returncode == 0
    assert v.stdout.strip() == f"iam-risk-score {iam_risk_score.__version__}"
    h = run("--help")
    assert h.returncode == 0
    assert "Usage: iam-risk-score" in h.stdout
    assert "Exit codes" in h.stdout


def test_python_dash_m_and_output_order() -> None:
    """`python -m iam_risk_score` works, and Python's buffered output comes first."""
    code = (
        "import sys; print('from python', flush=False); "
        "sys.argv = ['anything', '--version']; "
        "from iam_risk_score._cli import main; main()"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert r.stdout.splitlines() == ["from python", f"iam-risk-score {iam_risk_score.__version__}"]
    m = subprocess.run([sys.executable, "-m", "iam_risk_score", "rules"], capture_output=True, text=True,
                       timeout=60)
    assert m.returncode == 0 and "PE002" in m.stdout


@pytest.mark.parametrize("fmt", ["human", "github", "sarif", "markdown"])
def test_other_formats_run(tmp_path: Path, fmt: str) -> None:
    r = run("--format", fmt, "--color", "never", write(tmp_path, "p.json", PASSROLE))
    assert r.returncode == 1, r.stderr
    assert r.stdout.strip()
