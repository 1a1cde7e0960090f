#!/usr/bin/env python3
"""Benchmark `iam-risk-score scan` on a tree of 10,000 policy files, side by side with the
predecessor (`iam-risk-score==0.1.0`), which has no scan and needs one process per file.

The tree (under target/scan-bench/, rebuilt when missing) holds the 1,594 AWS managed policies
of benches/corpus/aws-managed-policies.jsonl, repeated:
  * 6,000 standalone policy JSON files,
  * 2,000 CloudFormation YAML templates (one AWS::IAM::ManagedPolicy each, block style),
  * 2,000 Terraform files (one aws_iam_policy with `policy = jsonencode({...})` each).

Measured:
  * ours: one `target/release/iam-risk-score scan TREE --format json` process, wall time,
    best of --runs (default 3), output discarded; plus the policies it reports;
  * predecessor: `target/bench-venv-pred/bin/iam-risk-score --offline FILE` (the venv that
    benches/compare.py creates) on a sample of --sample standalone files (default 30), one
    process per file as it requires; the mean per file is EXTRAPOLATED to 10,000 files. It
    cannot read CloudFormation or Terraform at all, so its figure is for the bare policies.

Usage: python3 benches/scan_bench.py [--runs N] [--sample N] [--markdown]
Standard library only; builds the release binary with cargo when it is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "benches" / "corpus" / "aws-managed-policies.jsonl"
TREE = ROOT / "target" / "scan-bench" / "tree"
OURS = ROOT / "target" / "release" / "iam-risk-score"
PRED = ROOT / "target" / "bench-venv-pred" / "bin" / "iam-risk-score"
COUNTS = {"json": 6000, "cloudformation": 2000, "terraform": 2000}


def log(msg: str) -> None:
    print(f"[scan_bench] {msg}", file=sys.stderr, flush=True)


def yaml_scalar(v) -> str:
    # JSON strings are valid YAML double-quoted scalars.
    return json.dumps(v)


def to_yaml(v, indent: int) -> str:
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return " {}\n"
        out = "\n"
        for k, x in v.items():
            out += f"{pad}{yaml_scalar(k)}:{to_yaml(x, indent + 2)}"
        return out
    if isinstance(v, list):
        if not v:
            return " []\n"
        out = "\n"
        for x in v:
            if isinstance(x, dict) and x:
                body = to_yaml(x, indent + 2)
                # "- key: value" on the dash line for the first key.
                first, rest = body[1:].split("\n", 1)
                out += f"{pad}- {first.strip()}\n{rest}"
            else:
                out += f"{pad}-{to_yaml(x, indent + 2)}"
        return out
    return f" {yaml_scalar(v)}\n"


def hcl_string(s: str) -> str:
    return json.dumps(s).replace("${", "$${").replace("%{", "%%{")


def to_hcl(v, indent: int) -> str:
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = "".join(f"{pad}  {hcl_string(k)} = {to_hcl(x, indent + 2)}\n" for k, x in v.items())
        return "{\n" + inner + pad + "}"
    if isinstance(v, list):
        return "[" + ", ".join(to_hcl(x, indent) for x in v) + "]"
    if isinstance(v, str):
        return hcl_string(v)
    return json.dumps(v)


def build_tree(policies: list[dict]) -> None:
    marker = TREE / ".complete"
    if marker.exists():
        return
    log(f"building {sum(COUNTS.values())} files under {TREE.relative_to(ROOT)}")
    n = len(policies)
    i = 0
    for kind, count in COUNTS.items():
        d = TREE / kind
        for j in range(count):
            p = policies[i % n]
            i += 1
            sub = d / f"{j // 500:02d}"
            sub.mkdir(parents=True, exist_ok=True)
            doc = p["document"]
            if kind == "json":
                (sub / f"{p['name']}-{j}.json").write_text(json.dumps(doc, indent=2) + "\n")
            elif kind == "cloudformation":
                tpl = {
                    "AWSTemplateFormatVersion": "2010-09-09",
                    "Resources": {"Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": doc}}},
                }
                (sub / f"{p['name']}-{j}.yaml").write_text(to_yaml(tpl, 0).lstrip("\n"))
            else:
                name = f"p{j}"
                tf = f'resource "aws_iam_policy" "{name}" {{\n  name   = "{p["name"]}"\n  policy = jsonencode({to_hcl(doc, 2)})\n}}\n'
                (sub / f"{p['name']}-{j}.tf").write_text(tf)
    marker.write_text("ok\n")


def time_ours(runs: int) -> tuple[float, float, int, int]:
    """Best wall time and the CPU time (user + sys, all threads) of that run."""
    import resource

    best = cpu_best = float("inf")
    policies = errors = 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run([str(OURS), "scan", str(TREE), "--format", "json"], capture_output=True, check=False)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if wall < best:
            best, cpu_best = wall, cpu
        if out.returncode not in (0, 1, 2):
            sys.exit(f"scan failed ({out.returncode}): {out.stderr.decode()[:500]}")
        totals = json.loads(out.stdout)["totals"]
        policies, errors = totals["policies"], totals["errors"]
    return best, cpu_best, policies, errors


def time_predecessor(sample: int) -> float | None:
    if not PRED.exists():
        log(f"{PRED.relative_to(ROOT)} missing: run `python3 benches/compare.py` once to create the venv")
        return None
    files = sorted((TREE / "json").rglob("*.json"))
    random.Random(7).shuffle(files)
    times = []
    for f in files[:sample]:
        t = time.perf_counter()
        subprocess.run([str(PRED), "--offline", str(f)], capture_output=True, check=False)
        times.append(time.perf_counter() - t)
    return statistics.mean(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    policies = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    build_tree(policies)
    if not OURS.exists():
        log("building target/release/iam-risk-score")
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "risk-cli"], cwd=ROOT, check=True)
    files = sum(COUNTS.values())
    ours, cpu, found, errors = time_ours(a.runs)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    pred_per_file = time_predecessor(a.sample)
    pred_total = pred_per_file * files if pred_per_file else None
    ratio = pred_total / ours if pred_total else None
    if a.markdown:
        print(f"Tree: {files:,} files ({COUNTS['json']:,} policy JSON, {COUNTS['cloudformation']:,} CloudFormation YAML, "
              f"{COUNTS['terraform']:,} Terraform; the {len(policies):,} AWS managed policies repeated). "
              f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python {platform.python_version()}.\n")
        print("| Tool | How | Wall time for 10,000 files | Files/s |")
        print("|---|---|---|---|")
        print(f"| `iam-risk-score scan --format json` (this engine, release) | one process, best of {a.runs}; CPU {cpu:.2f} s (user+sys, both cores) | {ours:.2f} s | {files / ours:,.0f} |")
        if pred_total:
            print(f"| predecessor `iam-risk-score --offline` 0.1.0 | one process per file; mean of {a.sample} files × {files:,} (extrapolated) | "
                  f"{pred_total:,.0f} s ({pred_per_file * 1000:.0f} ms/file) | {1 / pred_per_file:.1f} |")
            print(f"\nRatio: **{ratio:,.0f}×** faster end to end (goal ≥ 1,000×); {found:,} policies reported, {errors} errors; "
                  f"1-minute load average when measured: {load:.1f}.")
    else:
        print(f"files                 {files}")
        print(f"policies reported     {found} ({errors} errors)")
        print(f"ours (one process)    {ours:.3f} s wall, {cpu:.3f} s CPU  ({files / ours:,.0f} files/s; load {load:.1f})")
        if pred_total:
            print(f"predecessor           {pred_per_file * 1000:.1f} ms/file x {files} = {pred_total:,.0f} s (extrapolated from {a.sample} files)")
            print(f"ratio                 {ratio:,.0f}x")


if __name__ == "__main__":
    main()
