#!/usr/bin/env python3
"""Peak memory (max RSS) and wall time of `iam-risk-score scan` on one large file, before and
after a change, side by side in one run, with the ratio.

Inputs, generated under target/scan-memory/ from benches/corpus/aws-managed-policies.jsonl
(rebuilt when missing or when --sizes changes):
  * authorization-details-<N>MB.json: an `aws iam get-account-authorization-details` export
    as the AWS CLI prints it (indent 4): managed policies with their versions, and users,
    groups and roles with inline policies, attached managed policies and group memberships;
  * authorization-details-compact-<N>MB.json: the same shape as compact JSON (as the raw API
    or `jq -c` gives it): more values per byte, so the highest cost per MB;
  * tfplan-<N>MB.json: a `terraform show -json` plan of aws_iam_policy resources, each policy
    a JSON string in planned_values and again in resource_changes[].change.after, as
    Terraform writes it.

Binaries:
  * before: the `iam-risk-score` of git revision --before (default 84e88e3, the main commit
    this work started from), exported with `git archive` and built in release mode into
    target/scan-memory/before-*/ (once; --before-bin PATH uses a binary you built);
  * after: this checkout's release binary (`cargo build --release -p risk-cli`, honouring
    CARGO_TARGET_DIR; --after-bin PATH to give one).

Each measurement is one `scan FILE --format json` process with output discarded; max RSS is the
child's own (os.wait4), wall time from spawn to exit. Of --runs (default 3): the best
(lowest) time, and the median max RSS (the allocator's peak moves by a few tens of MiB from
run to run; the log line gives the range). Exit codes 0 and 1 are accepted (1: the default threshold);
anything else is reported.

Usage: python3 benches/scan_memory.py [--sizes 16,50] [--runs N] [--markdown]
Standard library only, Linux (os.wait4's ru_maxrss is in KiB).
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
WORK = ROOT / "target" / "scan-memory"
MB = 1_000_000


def log(msg: str) -> None:
    print(f"[scan_memory] {msg}", file=sys.stderr, flush=True)


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def pretty_len(entry: dict) -> int:
    """Bytes of `entry` as an element of a top-level list in an indent-4 dump (8 more spaces a line)."""
    text = json.dumps(entry, indent=4)
    return len(text) + 8 * (text.count("\n") + 1) + 2


def compact_len(entry: dict) -> int:
    return len(json.dumps(entry, separators=(",", ":"))) + 1


def authorization_details(docs: list[dict], size: int, compact: bool = False) -> str:
    """An export of at least `size` bytes: 200 managed policies, then principals until full."""
    rnd = random.Random(7)
    managed = docs[:200]
    policies = [
        {
            "PolicyName": d["name"],
            "PolicyId": f"ANPA{i:016d}",
            "Arn": d["arn"],
            "Path": "/",
            "DefaultVersionId": d["version"],
            "AttachmentCount": 1,
            "IsAttachable": True,
            "PolicyVersionList": [
                {"Document": d["document"], "VersionId": d["version"], "IsDefaultVersion": True}
            ],
        }
        for i, d in enumerate(managed)
    ]
    out = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": policies}
    measure = compact_len if compact else pretty_len
    base = measure(out)
    total, n = base, 0
    groups = [f"group-{i}" for i in range(50)]
    for g in groups:
        inline = rnd.choice(docs)
        entry = {
            "Path": "/",
            "GroupName": g,
            "GroupId": f"AGPA{n:016d}",
            "Arn": f"arn:aws:iam::123456789012:group/{g}",
            "GroupPolicyList": [{"PolicyName": inline["name"], "PolicyDocument": inline["document"]}],
            "AttachedManagedPolicies": [
                {"PolicyName": m["name"], "PolicyArn": m["arn"]} for m in rnd.sample(managed, 2)
            ],
        }
        out["GroupDetailList"].append(entry)
        total += measure(entry)
    while total < size:
        n += 1
        inline = rnd.choice(docs)
        attached = [{"PolicyName": m["name"], "PolicyArn": m["arn"]} for m in rnd.sample(managed, 2)]
        if n % 2:
            entry = {
                "Path": "/",
                "UserName": f"user-{n}",
                "UserId": f"AIDA{n:016d}",
                "Arn": f"arn:aws:iam::123456789012:user/user-{n}",
                "UserPolicyList": [{"PolicyName": inline["name"], "PolicyDocument": inline["document"]}],
                "GroupList": rnd.sample(groups, 2),
                "AttachedManagedPolicies": attached,
            }
            out["UserDetailList"].append(entry)
        else:
            entry = {
                "Path": "/",
                "RoleName": f"role-{n}",
                "RoleId": f"AROA{n:016d}",
                "Arn": f"arn:aws:iam::123456789012:role/role-{n}",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                },
                "RolePolicyList": [{"PolicyName": inline["name"], "PolicyDocument": inline["document"]}],
                "AttachedManagedPolicies": attached,
            }
            out["RoleDetailList"].append(entry)
        total += measure(entry)
    if compact:
        return json.dumps(out, separators=(",", ":")) + "\n"
    return json.dumps(out, indent=4) + "\n"


def authorization_details_compact(docs: list[dict], size: int) -> str:
    return authorization_details(docs, size, compact=True)


def plan(docs: list[dict], size: int) -> str:
    rnd = random.Random(11)
    resources, changes, total, n = [], [], 0, 0
    while total < size:
        n += 1
        d = rnd.choice(docs)
        values = {"name": f"{d['name']}-{n}", "path": "/", "policy": json.dumps(d["document"]), "tags": None}
        address = f"aws_iam_policy.p{n}"
        resources.append(
            {
                "address": address,
                "mode": "managed",
                "type": "aws_iam_policy",
                "name": f"p{n}",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "schema_version": 0,
                "values": values,
            }
        )
        changes.append(
            {
                "address": address,
                "mode": "managed",
                "type": "aws_iam_policy",
                "name": f"p{n}",
                "change": {"actions": ["create"], "before": None, "after": values, "after_unknown": {"id": True}},
            }
        )
        total += 2 * (len(json.dumps(values, indent=2)) + 300)
    out = {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": resources}},
        "resource_changes": changes,
    }
    return json.dumps(out, indent=2) + "\n"


def inputs(sizes: list[int]) -> list[Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    docs = None
    files = []
    for mb in sizes:
        for name, make in (
            ("authorization-details", authorization_details),
            ("authorization-details-compact", authorization_details_compact),
            ("tfplan", plan),
        ):
            path = WORK / f"{name}-{mb}MB.json"
            if not path.exists():
                docs = docs or corpus()
                log(f"writing {path.relative_to(ROOT)}")
                path.write_text(make(docs, mb * MB))
            files.append(path)
    return files


def build_before(rev: str) -> Path:
    src = WORK / f"before-{rev}-src"
    target = WORK / f"before-{rev}-target"
    binary = target / "release" / "iam-risk-score"
    if binary.exists():
        return binary
    if not src.exists():
        log(f"exporting {rev} into {src.relative_to(ROOT)}")
        src.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    log(f"building {rev} (release) — this takes a few minutes")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "risk-cli", "--bin", "iam-risk-score"], cwd=src, env=env, check=True)
    return binary


def build_after() -> Path:
    log("building this checkout (release)")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "risk-cli", "--bin", "iam-risk-score"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "iam-risk-score"


def measure(binary: Path, path: Path, extra: list[str]) -> tuple[float, int, int]:
    """(wall seconds, max RSS in bytes, exit code) of one scan process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(binary), "scan", str(path), "--format", "json", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1):
        log(f"{binary} on {path.name} exited {proc.returncode}: {err.strip()[:300]}")
    return wall, usage.ru_maxrss * 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="16,50", help="input sizes in MB (10^6 bytes), comma separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--before", default="84e88e3", help="git revision of the `before` binary")
    ap.add_argument("--before-bin", type=Path, help="a prebuilt `before` binary")
    ap.add_argument("--after-bin", type=Path, help="a prebuilt `after` binary")
    ap.add_argument("--markdown", action="store_true", help="a markdown table for docs/")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    files = inputs(sizes)
    before = a.before_bin or build_before(a.before)
    after = a.after_bin or build_after()
    # The after binary caps files at a documented size; these inputs are meant to be read.
    after_extra = ["--max-file-size", "1GiB"]
    rows = []
    for path in files:
        size = path.stat().st_size
        res = {}
        for label, binary, extra in (("before", before, []), ("after", after, after_extra)):
            walls, rsss, codes = [], [], set()
            for _ in range(a.runs):
                w, r, c = measure(binary, path, extra)
                walls.append(w)
                rsss.append(r)
                codes.add(c)
            rss = statistics.median(rsss)
            res[label] = (min(walls), rss, sorted(codes))
            log(
                f"{path.name} {label}: {min(walls):.2f} s, max RSS median {rss / 2**20:.0f} MiB "
                f"(range {min(rsss) / 2**20:.0f}–{max(rsss) / 2**20:.0f}), exit {sorted(codes)}"
            )
        rows.append((path.name, size, res))
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"{a.runs} runs each: best time, median max RSS"
    )
    if a.markdown:
        print("| Input | Size | Before: max RSS | After: max RSS | RSS ratio | Before: time | After: time | Time ratio |")
        print("|---|---|---|---|---|---|---|---|")
    else:
        print(f"{'input':<34} {'size':>8} {'RSS before':>11} {'RSS after':>10} {'ratio':>7} {'t before':>9} {'t after':>8} {'ratio':>7}")
    for name, size, res in rows:
        (tb, rb, _), (ta, ra, _) = res["before"], res["after"]
        cells = (
            name,
            f"{size / MB:.1f} MB",
            f"{rb / 2**20:.0f} MiB ({rb / size:.0f}×)",
            f"{ra / 2**20:.0f} MiB ({ra / size:.0f}×)",
            f"{rb / ra:.1f}×",
            f"{tb:.2f} s",
            f"{ta:.2f} s",
            f"{tb / ta:.1f}×",
        )
        if a.markdown:
            print("| " + " | ".join(cells) + " |")
        else:
            print(f"{cells[0]:<34} {cells[1]:>8} {cells[2]:>11} {cells[3]:>10} {cells[4]:>7} {cells[5]:>9} {cells[6]:>8} {cells[7]:>7}")
    print("ratio = before ÷ after (higher is better); `(N×)` = max RSS ÷ file size")
    return 0


if __name__ == "__main__":
    sys.exit(main())
