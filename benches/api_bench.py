#!/usr/bin/env python3
"""HTTP benchmark: this scoring API vs the predecessor's, with wrk, in one run.

    python3 benches/api_bench.py                 # text table on stdout, progress on stderr
    python3 benches/api_bench.py --markdown      # markdown tables for docs/performance.md
    python3 benches/api_bench.py --json out.json # every figure as JSON as well

Starts `iam-risk-score-api` (release build) and the predecessor's scoring router
(`iam_jit.routes.score.router` from `iam-risk-score==0.1.0`, mounted in a FastAPI app under
uvicorn with as many workers as this API has threads (`--pred-workers`), in a throwaway venv under
`target/bench-venv-api-pred/`), then measures `POST /api/v1/score` on a typical and a large
AWS managed policy from `benches/corpus/` at several concurrencies with `wrk --latency`,
alternating the two servers cell by cell so background load hits both alike. Prints requests/s,
p50/p99 latency and the ratios ours / predecessor.

Both servers get the same body: `{"policy": ..., "access_type": "read-write",
"duration_hours": 1}`. Ours runs as shipped: JSON access logs on (written to /dev/null),
metrics, request ids and the rate limiter on (limit raised); no API key (the predecessor's
default). The predecessor's per-IP limit is raised with `IAM_JIT_SCORE_RATE_PER_MINUTE`, or it
answers 429. wrk runs on the same machine and takes CPU from both servers alike.

Needs: Python 3.10+, cargo, `wrk` (installed with apt-get when missing and running as root),
PyPI for the first run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "benches" / "corpus" / "aws-managed-policies.jsonl"
VENV = ROOT / "target" / "bench-venv-api-pred"
PRED_VERSION = "0.1.0"

PRED_APP = '''"""FastAPI app with only the predecessor's scoring router (its full app needs files the
wheel lacks)."""
from fastapi import FastAPI
from iam_jit.routes.score import router

app = FastAPI()
app.include_router(router)
'''


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("--> installing wrk (apt-get)")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
        path = shutil.which("wrk")
    if not path:
        sys.exit("wrk not found: install it (Debian: apt-get install wrk)")
    return path


def ensure_pred_venv() -> Path:
    py = VENV / "bin" / "python"
    ok = py.exists() and subprocess.run(
        [str(py), "-c", "import iam_jit.routes.score, uvicorn, fastapi"], capture_output=True
    ).returncode == 0
    if not ok:
        log(f"--> creating {VENV.relative_to(ROOT)} with iam-risk-score=={PRED_VERSION} (PyPI)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
             f"iam-risk-score=={PRED_VERSION}", "setuptools<81"],
            check=True,
        )
    (VENV / "pred_app.py").write_text(PRED_APP)
    return VENV


def policies(typical: str, large: str) -> dict[str, dict]:
    wanted = {typical: "typical", large: "large"}
    out: dict[str, dict] = {}
    with CORPUS.open() as f:
        for line in f:
            d = json.loads(line)
            if d["name"] in wanted:
                out[wanted[d["name"]]] = {"name": d["name"], "document": d["document"]}
    missing = set(wanted.values()) - set(out)
    if missing:
        sys.exit(f"policies not in the corpus: {sorted(missing)}")
    return out


def post(url: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(url: str, body: bytes, proc: subprocess.Popen, what: str) -> dict:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early with {proc.returncode}")
        try:
            status, data = post(url, body, timeout=5)
            if status == 200:
                return json.loads(data)
            sys.exit(f"{what} answered {status}: {data[:300]!r}")
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            time.sleep(0.2)
    sys.exit(f"{what} did not answer within 60 s")


def start_ours(threads: int) -> tuple[subprocess.Popen, str]:
    binary = ROOT / "target" / "release" / "iam-risk-score-api"
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("IAM_RISK_SCORE_"):
            del env[k]
    env.update({
        "IAM_RISK_SCORE_RATE_PER_MINUTE": "1000000000",
        "IAM_RISK_SCORE_RATE_BURST": "1000000000",
        "TOKIO_WORKER_THREADS": str(threads),
    })
    # Logs go to /dev/null (not a pipe this script would have to drain): formatted and written
    # as in production, at no cost to the benchmark's own process.
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    return proc, f"http://127.0.0.1:{port}"


def start_pred(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, IAM_JIT_SCORE_RATE_PER_MINUTE="1000000000")
    env.pop("IAM_JIT_SCORE_API_KEY", None)
    proc = subprocess.Popen(
        [str(VENV / "bin" / "uvicorn"), "pred_app:app", "--app-dir", str(VENV), "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_latency(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * UNITS[m.group(2)]


def run_wrk(wrk: str, url: str, body_file: Path, conns: int, threads: int, seconds: int) -> dict:
    lua = body_file.with_suffix(".lua")
    lua.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    cmd = [wrk, "-t", str(min(threads, conns)), "-c", str(conns), "-d", f"{seconds}s", "--latency",
           "--timeout", "10s", "-s", str(lua), f"{url}/api/v1/score"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50_ms": parse_latency(pct["50"]),
        "p99_ms": parse_latency(pct["99"]),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    ap.add_argument("--concurrency", default="1,16,32,64,256", help="connections, comma-separated")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                    help="server threads/workers and wrk threads (default: CPU count)")
    ap.add_argument("--pred-workers", type=int, default=None,
                    help="uvicorn workers for the predecessor (default: --threads, the same CPU as ours; "
                         "uvicorn's own default is 1)")
    ap.add_argument("--typical", default="AWSLambda_FullAccess", help="corpus policy for the typical case")
    ap.add_argument("--large", default="AWSSupportServiceRolePolicy", help="corpus policy for the large case")
    ap.add_argument("--skip-pred", action="store_true", help="measure only this API")
    ap.add_argument("--no-build", action="store_true", help="use the existing release binary")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    ap.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    args = ap.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]

    wrk = ensure_wrk()
    if not args.no_build:
        log("--> cargo build --release -p scorer-api")
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "scorer-api"], cwd=ROOT, check=True)
    if not args.skip_pred:
        ensure_pred_venv()
    pols = policies(args.typical, args.large)

    tmp = Path(tempfile.mkdtemp(prefix="api-bench-"))
    bodies: dict[str, Path] = {}
    for kind, p in pols.items():
        body = json.dumps({"policy": p["document"], "access_type": "read-write", "duration_hours": 1}).encode()
        bodies[kind] = tmp / f"{kind}.json"
        bodies[kind].write_bytes(body)
        p["bytes"] = len(body)

    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    results: list[dict] = []
    try:
        servers["ours"] = start_ours(args.threads)
        if not args.skip_pred:
            servers["predecessor"] = start_pred(args.pred_workers or args.threads)
        for name, (proc, url) in servers.items():
            for kind, p in pols.items():
                r = wait_ready(f"{url}/api/v1/score", bodies[kind].read_bytes(), proc, name)
                p.setdefault("scores", {})[name] = r["score"]
                log(f"    {name}: {p['name']} scores {r['score']} ({p['bytes']:,} byte body)")
        load = os.getloadavg()[0]
        log(f"--> load average before measuring: {load:.2f}")
        for kind in pols:
            for name, (_, url) in servers.items():  # warm-up
                run_wrk(wrk, url, bodies[kind], 16, args.threads, 2)
            for c in concurrencies:
                for name, (_, url) in servers.items():
                    r = run_wrk(wrk, url, bodies[kind], c, args.threads, args.duration)
                    r.update({"server": name, "policy": kind, "connections": c})
                    results.append(r)
                    bad = f", {r['non_2xx']} non-2xx" if r["non_2xx"] else ""
                    log(f"    {kind:8} c={c:<4} {name:12} {r['rps']:>10,.0f} req/s  p99 {r['p99_ms']:8.2f} ms{bad}")
    finally:
        for proc, _ in servers.values():
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)

    def cell(server: str, kind: str, c: int) -> dict | None:
        return next((r for r in results if (r["server"], r["policy"], r["connections"]) == (server, kind, c)), None)

    rows = []
    for kind, p in pols.items():
        for c in concurrencies:
            o, q = cell("ours", kind, c), cell("predecessor", kind, c)
            rows.append({
                "policy": f"{kind} ({p['name']}, {p['bytes'] / 1024:.1f} KiB)",
                "c": c,
                "ours_rps": o["rps"], "ours_p50": o["p50_ms"], "ours_p99": o["p99_ms"],
                "pred_rps": q["rps"] if q else None, "pred_p99": q["p99_ms"] if q else None,
                "ratio": (o["rps"] / q["rps"]) if q and q["rps"] else None,
                "errors": o["non_2xx"] + (q["non_2xx"] if q else 0),
            })

    def fmt(v, spec):
        return "–" if v is None else format(v, spec)

    meta = (f"ours {args.threads} threads, predecessor {args.pred_workers or args.threads} uvicorn workers, "
            f"wrk -t{args.threads}, {args.duration} s per cell, "
            f"load average {os.getloadavg()[0]:.2f} at the end; CPU: {cpu_model()}")
    if args.markdown:
        print(f"Measured with `python3 benches/api_bench.py` — {meta}.\n")
        print("| Policy | Connections | Ours req/s | Ours p50 | Ours p99 | Predecessor req/s | Predecessor p99 | Ours ÷ predecessor |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['policy']} | {r['c']} | {fmt(r['ours_rps'], ',.0f')} | {fmt(r['ours_p50'], '.2f')} ms | "
                  f"{fmt(r['ours_p99'], '.2f')} ms | {fmt(r['pred_rps'], ',.0f')} | "
                  f"{fmt(r['pred_p99'], ',.1f')} ms | {fmt(r['ratio'], '.1f')}× |")
    else:
        print(meta)
        print(f"{'policy':44} {'conns':>5} {'ours req/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'pred req/s':>11} {'pred p99':>9} {'ratio':>7}")
        for r in rows:
            print(f"{r['policy']:44} {r['c']:>5} {fmt(r['ours_rps'], ',.0f'):>11} {fmt(r['ours_p50'], '.2f'):>8} "
                  f"{fmt(r['ours_p99'], '.2f'):>8} {fmt(r['pred_rps'], ',.0f'):>11} {fmt(r['pred_p99'], '.1f'):>9} "
                  f"{fmt(r['ratio'], '.1f'):>6}×")
    # Issue 15's goals, judged on the typical policy: every measured ratio and the p99 at 32
    # connections (when that cell was measured).
    typical = [r for r in rows if r["policy"].startswith("typical")]
    ratios = [r["ratio"] for r in typical if r["ratio"] is not None]
    at32 = next((r for r in typical if r["c"] == 32), None)
    verdicts = []
    if ratios:
        verdicts.append(f"goal: typical policy >= {GOAL_RATIO:.0f}x the predecessor at every concurrency "
                        f"({min(ratios):.1f}-{max(ratios):.1f}x) ... {'met' if min(ratios) >= GOAL_RATIO else 'NOT met'}")
    if at32 is not None and at32["ours_p99"] is not None:
        verdicts.append(f"goal: typical policy p99 <= {GOAL_P99_MS:.0f} ms at 32 connections "
                        f"({at32['ours_p99']:.2f} ms) ... {'met' if at32['ours_p99'] <= GOAL_P99_MS else 'NOT met'}")
    print()
    for v in verdicts:
        print(("- " if args.markdown else "") + v)
    if any(r["errors"] for r in rows):
        print("WARNING: some responses were not 2xx; see the progress lines above", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "policies": pols, "results": results, "rows": rows},
                                              indent=2, default=str))


GOAL_RATIO = 20.0  # issue 15: req/s >= 20x the predecessor's on the same cores
GOAL_P99_MS = 5.0  # issue 15: p99 <= 5 ms at 32 connections


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
