#!/usr/bin/env python3
"""Side-by-side benchmark: this engine vs the predecessor (`iam-risk-score==0.1.0`) and
`parliament`, on the AWS managed-policy corpus, in one run.

Measures, each on one CPU core:
  * predecessor in-process throughput: `iam_jit.review.analyze_policy(policy, request)` over
    every corpus document, with the request its CLI builds (`cli_score._score_offline`);
  * parliament in-process throughput: `parliament.analyze_policy_string(text)`;
  * serde_json parse-only and this engine's throughput, from the Rust binary
    `cargo run --release -q -p risk-benches --bin throughput -- CORPUS`;
  * a whole CLI process scoring one policy: predecessor `iam-risk-score --offline FILE`
    vs ours `target/release/iam-risk-score --offline FILE` (median wall time);
and prints policies/s with ratios. The Python tools run in a throwaway venv created (once)
under `target/bench-venv-pred/`.

Usage (from anywhere in the workspace):
    python3 benches/compare.py                     # table on stdout
    python3 benches/compare.py --markdown          # markdown table for docs/performance.md
    python3 benches/compare.py --json out.json     # also write the figures as JSON (- = stdout)

Standard library only. Needs network access to PyPI the first time (to fill the venv).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "benches" / "corpus" / "aws-managed-policies.jsonl"
VENV = ROOT / "target" / "bench-venv-pred"
# NOTE: pinned so figures are comparable between runs. parliament imports `pkg_resources`,
# which Python >= 3.12 venvs no longer ship and setuptools is removing: pin one that has it.
VENV_REQUIREMENTS = ["iam-risk-score==0.1.0", "parliament==1.6.4", "setuptools<81"]
VENV_MARKER = ".bench-requirements"

THROUGHPUT_CMD = ["cargo", "run", "--release", "-q", "-p", "risk-benches", "--bin", "throughput", "--"]
THROUGHPUT_KEYS = ("policies", "parse_only_per_sec", "score_per_sec", "threads")
OUR_CLI = ROOT / "target" / "release" / "iam-risk-score"

# Goals from issue 2 (a benchmark, not a timed test).
GOAL_VS_PREDECESSOR = 10.0
GOAL_VS_PARSE_ONLY = 0.5
GOAL_CLI_SPEEDUP = 30.0


def log(msg: str) -> None:
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def load_corpus(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# ------------------------------------------------------------------------------------------
# Worker mode: runs inside the venv's interpreter, measures one Python tool, prints JSON.
# ------------------------------------------------------------------------------------------

def _best_of(runs: int, fn) -> list[float]:
    fn()  # NOTE: untimed warm-up: fills the tools' lazy caches (policy_sentry, parliament)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def worker_predecessor(corpus: Path, runs: int) -> dict:
    from importlib.metadata import version

    from iam_jit import review

    records = load_corpus(corpus)
    docs = [r["document"] for r in records]
    lines = [json.dumps(d) for d in docs]
    # Exactly what `iam-risk-score --offline FILE` builds with its default flags
    # (cli_score.main defaults: access_type read-only, duration 1 h; _score_offline shape).
    request = {
        "spec": {
            "access_type": "read-only",
            "duration": {"duration_hours": 1},
            "resource_constraints": [],
        }
    }

    def analyze_only():
        for d in docs:
            review.analyze_policy(d, request)

    def parse_and_analyze():
        for text in lines:
            review.analyze_policy(json.loads(text), request)

    t_analyze = _best_of(runs, analyze_only)
    t_parse = _best_of(runs, parse_and_analyze)
    histogram: dict[str, int] = {}
    for d in docs:
        s = str(review.analyze_policy(d, request).risk_score)
        histogram[s] = histogram.get(s, 0) + 1
    return {
        "package": f"iam-risk-score=={version('iam-risk-score')}",
        "policy_sentry": version("policy_sentry"),
        "policies": len(docs),
        "analyze_times_s": t_analyze,
        "analyze_per_sec": len(docs) / min(t_analyze),
        "parse_and_analyze_times_s": t_parse,
        "parse_and_analyze_per_sec": len(docs) / min(t_parse),
        "score_histogram": dict(sorted(histogram.items(), key=lambda kv: int(kv[0]))),
    }


def worker_parliament(corpus: Path, runs: int) -> dict:
    import warnings
    from importlib.metadata import version

    warnings.simplefilter("ignore")  # pkg_resources deprecation noise
    import parliament

    records = load_corpus(corpus)
    texts = [json.dumps(r["document"]) for r in records]
    errors: dict[str, str] = {}
    findings = [0]

    def run():
        findings[0] = 0
        for rec, text in zip(records, texts):
            try:
                findings[0] += len(parliament.analyze_policy_string(text).findings)
            except Exception as e:  # NOTE: parliament 1.6.4 raises on some current policies
                errors[rec["name"]] = f"{type(e).__name__}: {e}"

    times = _best_of(runs, run)
    return {
        "package": f"parliament=={version('parliament')}",
        "policies": len(texts),
        "times_s": times,
        "per_sec": len(texts) / min(times),
        "findings": findings[0],
        "errors": len(errors),
        "error_policies": errors,
    }


# ------------------------------------------------------------------------------------------
# Driver mode
# ------------------------------------------------------------------------------------------

def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    """Create target/bench-venv-pred with the pinned tools, unless it is already there."""
    marker = VENV / VENV_MARKER
    wanted = "\n".join(VENV_REQUIREMENTS) + "\n"
    if venv_python().exists() and marker.exists() and marker.read_text() == wanted:
        return
    log(f"creating {VENV.relative_to(ROOT)} with {' '.join(VENV_REQUIREMENTS)} (once)")
    if VENV.exists():
        shutil.rmtree(VENV)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    proc = subprocess.run(pip + VENV_REQUIREMENTS, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: could not install {VENV_REQUIREMENTS} into {VENV}:\n{proc.stderr}")
    marker.write_text(wanted)


def run_worker(kind: str, corpus: Path, runs: int) -> dict:
    cmd = [str(venv_python()), str(Path(__file__).resolve()), "--_worker", kind,
           "--corpus", str(corpus), "--runs", str(runs)]
    # NOTE: no network is needed: policy_sentry and parliament read their bundled IAM data.
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cargo_available() -> bool:
    return shutil.which("cargo") is not None


def build_rust() -> dict[str, str]:
    """Build our binaries before the CPU is pinned (compiling on one core is slow).

    Returns an error message per missing piece instead of failing the whole run."""
    problems: dict[str, str] = {}
    if not cargo_available():
        return {"throughput": "`cargo` not found", "cli": "`cargo` not found"}
    steps = {
        "throughput": ["cargo", "build", "--release", "-q", "-p", "risk-benches", "--bin", "throughput"],
        "cli": ["cargo", "build", "--release", "-q", "--bin", "iam-risk-score"],
    }
    for name, cmd in steps.items():
        log("running " + " ".join(cmd))
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            problems[name] = f"`{' '.join(cmd)}` failed:\n{proc.stderr.strip()[-2000:]}"
    return problems


def run_throughput(corpus: Path) -> dict:
    arg = os.path.relpath(corpus, ROOT) if corpus.is_relative_to(ROOT) else str(corpus)
    cmd = THROUGHPUT_CMD + [arg]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stderr.strip()[-2000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines:
        raise RuntimeError(f"`{' '.join(cmd)}` printed nothing on stdout")
    try:
        out = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise RuntimeError(f"throughput output is not one JSON line ({e}): {lines[-1]!r}")
    missing = [k for k in THROUGHPUT_KEYS if k not in out]
    if missing:
        raise RuntimeError(f"throughput output lacks {missing}: {lines[-1]!r}")
    return out


def time_process(cmd: list[str], runs: int, ok_codes=(0, 1)) -> list[float]:
    """Wall time of a whole process, start to exit; output discarded."""
    env = dict(os.environ, NO_COLOR="1")
    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env)
        dt = time.perf_counter() - t0
        if proc.returncode not in ok_codes:
            raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()[-1000:]}")
        if i > 0:  # NOTE: the first run only warms the page cache
            times.append(dt)
    return times


def pin_to_one_cpu(cpu: int | None) -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})  # children (workers, binaries, CLIs) inherit it
    return chosen


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    for key, cmd in (("rustc", ["rustc", "--version"]), ("commit", ["git", "rev-parse", "--short", "HEAD"])):
        try:
            info[key] = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout.strip() or None
        except OSError:
            info[key] = None
    return info


def pick_cli_policy(records: list[dict], name: str, workdir: Path) -> Path:
    for rec in records:
        if rec["name"] == name:
            path = workdir / f"{name}.json"
            path.write_text(json.dumps(rec["document"], indent=2) + "\n", encoding="utf-8")
            return path
    sys.exit(f"error: no policy named `{name}` in the corpus")


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def fmt_rate(x: float | None) -> str:
    return f"{x:,.0f}" if x else "n/a"


def fmt_ratio(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    if pct:
        return f"{x * 100:.0f}%"
    return f"{x:,.1f}x" if x >= 1 else f"{x:.3f}x"


def fmt_ms(x: float | None) -> str:
    return f"{x * 1000:.2f} ms" if x else "n/a"


def goal(x: float | None, target: float) -> str:
    if x is None:
        return "not measured"
    return "met" if x >= target else "NOT met"


def build_rows(r: dict) -> tuple[list[list[str]], list[list[str]]]:
    pred, parl, ours, cli, q = r["predecessor"], r["parliament"], r["ours"], r["cli"], r["ratios"]
    throughput = [
        ["predecessor `analyze_policy` (iam-risk-score 0.1.0)", fmt_rate(pred and pred["analyze_per_sec"]),
         "1.0x", ""],
        ["predecessor `json.loads` + `analyze_policy`", fmt_rate(pred and pred["parse_and_analyze_per_sec"]),
         fmt_ratio(ratio(pred and pred["parse_and_analyze_per_sec"], pred and pred["analyze_per_sec"])), ""],
        [f"parliament `analyze_policy_string` ({parl['package'].split('==')[1] if parl else '?'})",
         fmt_rate(parl and parl["per_sec"]), fmt_ratio(ratio(parl and parl["per_sec"], pred and pred["analyze_per_sec"])), ""],
        ["serde_json parse only", fmt_rate(ours and ours["parse_only_per_sec"]),
         fmt_ratio(ratio(ours and ours["parse_only_per_sec"], pred and pred["analyze_per_sec"])), ""],
        ["**iam-risk-score (this engine), full analysis**", fmt_rate(ours and ours["score_per_sec"]),
         fmt_ratio(q["ours_vs_predecessor"]),
         f"{fmt_ratio(q['ours_vs_parliament'])} vs parliament; "
         f"{fmt_ratio(q['ours_vs_parse_only'], pct=True)} of parse-only"],
    ]
    process = [
        ["predecessor `iam-risk-score --offline`", fmt_ms(cli.get("predecessor_median_s")), "1.0x"],
        ["ours `iam-risk-score --offline`", fmt_ms(cli.get("ours_median_s")), fmt_ratio(q["cli_speedup"])],
        ["process-spawn floor (`true`)", fmt_ms(cli.get("spawn_floor_median_s")), ""],
    ]
    return throughput, process


def render_text(r: dict) -> str:
    throughput, process = build_rows(r)
    strip = lambda s: s.replace("**", "").replace("`", "")  # noqa: E731
    out = [f"corpus: {r['corpus']['policies']} AWS managed policies ({r['corpus']['path']}), "
           f"one CPU core (cpu {r['pinned_cpu']}), best of {r['runs']}", ""]
    w = max(len(strip(row[0])) for row in throughput + process)
    out.append(f"{'in-process':<{w}}  {'policies/s':>12}  {'vs pred.':>9}  other")
    for name, rate, rel, extra in throughput:
        out.append(f"{strip(name):<{w}}  {rate:>12}  {rel:>9}  {extra}")
    out.append("")
    out.append(f"{'one CLI process, one policy':<{w}}  {'median':>12}  {'speedup':>9}")
    for name, t, rel in process:
        out.append(f"{strip(name):<{w}}  {t:>12}  {rel:>9}")
    out.append("")
    out += [f"goal: >= {GOAL_VS_PREDECESSOR:.0f}x predecessor in-process ......... {r['goals']['vs_predecessor']}",
            f"goal: >= {GOAL_VS_PARSE_ONLY:.0%} of serde_json parse-only ......... {r['goals']['vs_parse_only']}",
            f"goal: CLI >= {GOAL_CLI_SPEEDUP:.0f}x faster than predecessor CLI ... {r['goals']['cli_speedup']}"]
    if r["parliament"] and r["parliament"]["errors"]:
        out += ["", f"parliament raised on {r['parliament']['errors']} policies: "
                + ", ".join(sorted(r["parliament"]["error_policies"]))]
    for key, msg in r["problems"].items():
        out += ["", f"NOTE ({key}): {msg}"]
    return "\n".join(out)


def render_markdown(r: dict) -> str:
    throughput, process = build_rows(r)
    m = r["machine"]
    out = [f"Corpus: {r['corpus']['policies']} AWS managed policies (`{r['corpus']['path']}`). "
           f"One CPU core, best of {r['runs']} runs. Machine: {m['cpu']}, {m['cpus']} CPUs, "
           f"{m['os']}; Python {m['python']}; {m.get('rustc') or 'rustc ?'}; commit `{m.get('commit')}`; {m['date']}.",
           "",
           "| In-process, one core | Policies/s | vs predecessor | Other ratios |",
           "|---|---:|---:|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in throughput]
    out += ["",
            f"| Whole CLI process, one policy (`{r['cli']['policy']}`) | Median wall time | Speedup |",
            "|---|---:|---:|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in process]
    out += ["",
            "| Goal (issue 2) | Target | Measured | |",
            "|---|---:|---:|---|",
            f"| In-process throughput vs predecessor | ≥ {GOAL_VS_PREDECESSOR:.0f}x | "
            f"{fmt_ratio(r['ratios']['ours_vs_predecessor'])} | {r['goals']['vs_predecessor']} |",
            f"| Throughput vs serde_json parse-only | ≥ {GOAL_VS_PARSE_ONLY:.0%} | "
            f"{fmt_ratio(r['ratios']['ours_vs_parse_only'], pct=True)} | {r['goals']['vs_parse_only']} |",
            f"| CLI process vs predecessor CLI | ≥ {GOAL_CLI_SPEEDUP:.0f}x | "
            f"{fmt_ratio(r['ratios']['cli_speedup'])} | {r['goals']['cli_speedup']} |"]
    if r["parliament"] and r["parliament"]["errors"]:
        out += ["", f"parliament raised on {r['parliament']['errors']} policies "
                f"({', '.join(sorted(r['parliament']['error_policies']))}); they count as analysed."]
    for key, msg in r["problems"].items():
        out += ["", f"> **Not measured ({key}):** {msg.splitlines()[0]}"]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL corpus (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=3, help="in-process runs per tool, best kept (default: 3)")
    ap.add_argument("--cli-runs-pred", type=int, default=20, help="predecessor CLI runs (default: 20)")
    ap.add_argument("--cli-runs-ours", type=int, default=200, help="our CLI runs (default: 200)")
    ap.add_argument("--cli-policy", default="AmazonEC2FullAccess",
                    help="corpus policy name scored by the CLI timing (default: %(default)s)")
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last allowed one)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin measurements to one CPU")
    ap.add_argument("--skip-python", action="store_true", help="skip the predecessor and parliament")
    ap.add_argument("--skip-rust", action="store_true", help="skip our engine and CLI")
    ap.add_argument("--json", metavar="PATH", help="write all figures as JSON to PATH (- for stdout)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table instead of text")
    ap.add_argument("--_worker", choices=["predecessor", "parliament"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    corpus = args.corpus.resolve()

    if args._worker:
        fn = worker_predecessor if args._worker == "predecessor" else worker_parliament
        print(json.dumps(fn(corpus, args.runs)))
        return 0

    records = load_corpus(corpus)
    problems: dict[str, str] = {}
    if not args.skip_python:
        ensure_venv()
    if not args.skip_rust:
        problems.update(build_rust())

    pinned = None if args.no_pin else pin_to_one_cpu(args.cpu)
    result: dict = {
        "machine": machine_info(),
        "corpus": {"path": os.path.relpath(corpus, ROOT), "policies": len(records),
                   "bytes": corpus.stat().st_size},
        "runs": args.runs,
        "pinned_cpu": pinned,
        "predecessor": None, "parliament": None, "ours": None, "cli": {"policy": args.cli_policy},
    }

    if not args.skip_python:
        for kind in ("predecessor", "parliament"):
            log(f"timing {kind} in-process ({len(records)} policies, best of {args.runs})")
            try:
                result[kind] = run_worker(kind, corpus, args.runs)
            except RuntimeError as e:
                problems[kind] = str(e)

    if not args.skip_rust and "throughput" not in problems:
        log("timing our engine in-process (" + " ".join(THROUGHPUT_CMD) + " CORPUS)")
        try:
            ours = run_throughput(corpus)
            if ours["policies"] != len(records):
                problems["throughput"] = (f"binary scored {ours['policies']} policies, "
                                          f"the corpus has {len(records)}")
            result["ours"] = ours
        except RuntimeError as e:
            problems["throughput"] = str(e)
    elif "throughput" in problems:
        problems["throughput"] = ("throughput binary not available yet (benches: `risk-benches`, "
                                  "bin `throughput`); " + problems["throughput"])

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        policy_file = pick_cli_policy(records, args.cli_policy, Path(tmp))
        cli = result["cli"]
        cli["spawn_floor_median_s"] = statistics.median(time_process(["true"], 50))
        if not args.skip_python:
            pred_cli = VENV / "bin" / "iam-risk-score"
            log(f"timing predecessor CLI x{args.cli_runs_pred}")
            try:
                t = time_process([str(pred_cli), "--offline", str(policy_file)], args.cli_runs_pred)
                cli["predecessor_runs"] = len(t)
                cli["predecessor_median_s"] = statistics.median(t)
            except RuntimeError as e:
                problems["predecessor-cli"] = str(e)
        if not args.skip_rust:
            if "cli" in problems or not OUR_CLI.exists():
                # NOTE: never time a stale binary left over from an earlier build
                problems["cli"] = (f"{OUR_CLI.relative_to(ROOT)} not built; "
                                   + problems.get("cli", "build it with `cargo build --release`"))
            else:
                log(f"timing our CLI x{args.cli_runs_ours}")
                try:
                    t = time_process([str(OUR_CLI), "--offline", str(policy_file)], args.cli_runs_ours)
                    cli["ours_runs"] = len(t)
                    cli["ours_median_s"] = statistics.median(t)
                except RuntimeError as e:
                    problems["cli"] = str(e)

    pred, parl, ours, cli = result["predecessor"], result["parliament"], result["ours"], result["cli"]
    result["ratios"] = {
        "ours_vs_predecessor": ratio(ours and ours["score_per_sec"], pred and pred["analyze_per_sec"]),
        "ours_vs_parliament": ratio(ours and ours["score_per_sec"], parl and parl["per_sec"]),
        "ours_vs_parse_only": ratio(ours and ours["score_per_sec"], ours and ours["parse_only_per_sec"]),
        "cli_speedup": ratio(cli.get("predecessor_median_s"), cli.get("ours_median_s")),
    }
    q = result["ratios"]
    result["goals"] = {
        "vs_predecessor": goal(q["ours_vs_predecessor"], GOAL_VS_PREDECESSOR),
        "vs_parse_only": goal(q["ours_vs_parse_only"], GOAL_VS_PARSE_ONLY),
        "cli_speedup": goal(q["cli_speedup"], GOAL_CLI_SPEEDUP),
    }
    result["problems"] = problems

    if args.json:
        text = json.dumps(result, indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
            return 0
        Path(args.json).write_text(text, encoding="utf-8")
        log(f"wrote {args.json}")
    print(render_markdown(result) if args.markdown else render_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
