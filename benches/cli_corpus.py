#!/usr/bin/env python3
"""Whole process over a directory of the 1,594 managed policies: our CLI vs the predecessor
scoring the same files in one Python process, alternating, in one run.

    python3 benches/cli_corpus.py [--runs 5] [--markdown]

Ours: `target/release/iam-risk-score --offline DIR` (human output, and `--format json`), one
process, output discarded. The predecessor (`iam-risk-score==0.1.0`) has no directory mode
and one CLI process per file costs ~0.3 s each, so it gets its best case: one Python process
(`target/bench-venv-pred/bin/python`, the venv benches/compare.py creates) that imports
`iam_jit.review` and, per file, reads it, `json.load`s it and calls `analyze_policy` with the
request its CLI builds (read-only, 1 hour). Wall time of each whole process, start to exit,
best of --runs, the two alternating. The directory (one indented JSON file per policy) is
written under a temporary directory. Standard library only; no network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "benches" / "corpus" / "aws-managed-policies.jsonl"
OURS = ROOT / "target" / "release" / "iam-risk-score"
PRED_PYTHON = ROOT / "target" / "bench-venv-pred" / "bin" / "python"

PRED_SCRIPT = """
import json, os, sys
from iam_jit import review
request = {"spec": {"access_type": "read-only", "duration": {"duration_hours": 1}, "resource_constraints": []}}
d = sys.argv[1]
n = 0
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), encoding="utf-8") as fh:
        review.analyze_policy(json.load(fh), request)
    n += 1
print(n)
"""


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # our CLI exits 1 when a policy is above the threshold
        sys.exit(f"error: `{' '.join(cmd[:3])} …` exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if not OURS.is_file():
        sys.exit(f"error: {OURS.relative_to(ROOT)} missing: cargo build --release -p risk-cli")
    if not PRED_PYTHON.is_file():
        sys.exit("error: the predecessor venv is missing: run python3 benches/compare.py once")
    with tempfile.TemporaryDirectory(prefix="cli-corpus-") as tmp:
        n = 0
        with open(CORPUS, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                Path(tmp, f"{rec['name']}.json").write_text(json.dumps(rec["document"], indent=2) + "\n", encoding="utf-8")
                n += 1
        cmds = {
            "ours `iam-risk-score --offline DIR`": [str(OURS), "--offline", tmp],
            "ours `iam-risk-score --offline DIR --format json`": [str(OURS), "--offline", tmp, "--format", "json"],
            "predecessor, one Python process (`analyze_policy` per file)": [str(PRED_PYTHON), "-c", PRED_SCRIPT, tmp],
        }
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for r in range(args.runs + 1):
            for k, cmd in cmds.items():
                dt = wall(cmd)
                if r > 0:  # the first round warms the page cache
                    times[k].append(dt)
    pred = min(times["predecessor, one Python process (`analyze_policy` per file)"])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = [(k, min(v), pred / min(v)) for k, v in times.items()]
    if args.markdown:
        print(f"{n} policy files, {os.cpu_count()} CPUs, best of {args.runs}, load average {load}.\n")
        print("| Whole process over the directory | Wall time | vs predecessor |\n|---|---:|---:|")
        for k, t, q in rows:
            print(f"| {k} | {t * 1e3:.0f} ms | {q:.1f}x |")
    else:
        print(f"{n} policy files, {os.cpu_count()} CPUs, best of {args.runs}, load average {load}")
        for k, t, q in rows:
            print(f"{k:64s} {t * 1e3:8.0f} ms  {q:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
