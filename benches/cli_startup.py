#!/usr/bin/env python3
"""Whole-process time of `iam-risk-score --offline POLICY` for several CLI binaries, side by side.

    python3 benches/cli_startup.py OLD_BINARY target/release/iam-risk-score
    python3 benches/cli_startup.py --runs 300 --policy AmazonS3ReadOnlyAccess A B C

Runs every binary once per round, alternating, so background load hits them alike, plus the
process-spawn floor (`true`); prints the median and 10th percentile wall time of each and the
ratio of each median to the first binary's. The policy comes from the managed-policy corpus
(`benches/corpus/aws-managed-policies.jsonl`, default `AmazonEC2FullAccess`, issue 15's
one-policy figure). Pin it to one core with `taskset -c 1 python3 …` to measure what a
single-core machine sees. Standard library only; no network.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "benches" / "corpus" / "aws-managed-policies.jsonl"


def policy_text(name: str) -> str:
    with open(CORPUS, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["name"] == name:
                return json.dumps(rec["document"], indent=2) + "\n"
    sys.exit(f"error: no policy named `{name}` in {CORPUS}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binaries", nargs="+", help="iam-risk-score binaries to compare (the first is the baseline)")
    ap.add_argument("--runs", type=int, default=200, help="rounds (default 200)")
    ap.add_argument("--policy", default="AmazonEC2FullAccess", help="corpus policy name")
    args = ap.parse_args()
    for b in args.binaries:
        if not Path(b).is_file():
            sys.exit(f"error: {b} is not a file (build it with `cargo build --release -p risk-cli`)")
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as tmp:
        path = Path(tmp) / f"{args.policy}.json"
        path.write_text(policy_text(args.policy), encoding="utf-8")
        cmds = [[b, "--offline", str(path)] for b in args.binaries] + [["true"]]
        times: list[list[float]] = [[] for _ in cmds]
        for r in range(args.runs + 1):
            for i, cmd in enumerate(cmds):
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
                dt = time.perf_counter() - t0
                if proc.returncode not in (0, 1):
                    sys.exit(f"error: `{' '.join(cmd)}` exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
                if r > 0:  # the first round only warms the page cache
                    times[i].append(dt)
    base = statistics.median(times[0])
    for cmd, t in zip(cmds, times):
        med = statistics.median(t)
        p10 = sorted(t)[len(t) // 10]
        label = "spawn floor (`true`)" if cmd == ["true"] else cmd[0]
        ratio = "" if cmd == ["true"] else f"  {base / med:.2f}x of the first"
        print(f"{label:60s} median {med * 1e3:6.2f} ms  p10 {p10 * 1e3:6.2f} ms{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
