#!/usr/bin/env python3
"""Python side by side: `iam_risk_score` (this engine's wheel) vs the predecessor's
`iam_jit.review.analyze_policy` (`iam-risk-score==0.1.0`), on the AWS managed-policy corpus,
in one run.

Measures, each as policies/s over all 1,594 documents (best of --runs, after a warm-up; by
wall time and by the process's CPU time, which is steadier on a shared machine):
  * predecessor `analyze_policy(document, request)` with the request its CLI builds for
    `iam-risk-score --offline` (access_type read-only, 1 hour); input already a dict, and
    again with `json.loads` of the text first;
  * ours `iam_risk_score.score(document, access_type="read-only", duration_hours=1)` per call,
    with the dict, and with the JSON text (str) so parsing is included; the result is a lazy
    `Report` that builds Python objects only for the keys read, so these rows read none;
  * ours `score(document).to_dict()`: every value built, as a caller reading the whole report
    (and as `score` itself did when it returned dicts);
  * ours `score` in a list comprehension that keeps every report (what `score_many` returns);
  * ours `score_many(documents, threads=1)` and `threads=2` (same options);
  * for reference, the engine alone without Python (`risk-benches` throughput binary, no context).
Single-thread figures are pinned to one CPU; `threads=2` runs on two.

The predecessor runs in the throwaway venv `target/bench-venv-pred/` that benches/compare.py
creates (reused here). Ours runs in `target/bench-venv-py/`, where this script installs the
package with `pip install ./risk-py` (release profile, as a published wheel is built) unless
--no-build is given. `--venv DIR --no-build` times another build of ours instead (e.g. an
older commit's wheel installed there), for before/after figures against the same predecessor.

Usage:
    python3 benches/python_compare.py               # text table on stdout
    python3 benches/python_compare.py --markdown    # markdown for docs/performance.md
    python3 benches/python_compare.py --json out.json

Standard library only. Needs PyPI the first time (the two venvs) and cargo.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare  # noqa: E402  (benches/compare.py: venv, worker and machine helpers)

ROOT = compare.ROOT
DEFAULT_CORPUS = compare.DEFAULT_CORPUS
OUR_VENV = ROOT / "target" / "bench-venv-py"
OUR_TOOLS = ["maturin>=1.16,<2"]
# The request `iam-risk-score --offline` 0.1.0 builds with its default flags; ours gets the same.
CONTEXT = {"access_type": "read-only", "duration_hours": 1}

# Goals from issue 4.
GOAL_SCORE_VS_PREDECESSOR = 10.0
GOAL_SCALING_2_THREADS = 1.8  # issue 15: 2 threads >= 1.8x of 1 (90 % of linear on 2 cores)


def log(msg: str) -> None:
    print(f"[python_compare] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Workers: each runs inside its venv's interpreter, times one package, prints one JSON line.
# Both use the same timer: best of `runs` after an untimed warm-up, wall time and the
# process's CPU time (the CPU figure is steadier when other jobs share the machine).
# ------------------------------------------------------------------------------------------

def best_of(runs: int, fn) -> dict:
    import gc

    fn()  # NOTE: untimed warm-up (lazy caches, page faults, the catalog's first touches)
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall_s": min(walls), "cpu_s": min(cpus)}


def pin(cpu: int | None) -> set[int] | None:
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    return before


def worker_predecessor(corpus: Path, runs: int, cpu: int | None) -> dict:
    from importlib.metadata import version

    from iam_jit import review

    docs = [r["document"] for r in compare.load_corpus(corpus)]
    texts = [json.dumps(d) for d in docs]
    # Exactly what `iam-risk-score --offline FILE` 0.1.0 builds with its default flags.
    request = {"spec": {"access_type": CONTEXT["access_type"],
                        "duration": {"duration_hours": CONTEXT["duration_hours"]},
                        "resource_constraints": []}}
    pin(cpu)

    def analyze():
        for d in docs:
            review.analyze_policy(d, request)

    def parse_and_analyze():
        for t in texts:
            review.analyze_policy(json.loads(t), request)

    return {"package": f"iam-risk-score=={version('iam-risk-score')}", "policies": len(docs),
            "analyze": best_of(runs, analyze), "parse_and_analyze": best_of(runs, parse_and_analyze)}


def worker_ours(corpus: Path, runs: int, cpu: int | None) -> dict:
    from importlib.metadata import version

    import iam_risk_score as m

    docs = [r["document"] for r in compare.load_corpus(corpus)]
    texts = [json.dumps(d) for d in docs]

    def per_call(inputs):
        def run():
            for p in inputs:
                m.score(p, **CONTEXT)
        return run

    def per_call_kept(inputs):
        # NOTE: as score_many must: every report stays alive (when reports were dicts, Python's
        # cyclic GC kept scanning their growing heap); this row makes score_many comparable.
        return lambda: [m.score(p, **CONTEXT) for p in inputs]

    out: dict = {"package": f"iam-risk-score=={version('iam-risk-score')}", "policies": len(docs)}
    all_cpus = pin(cpu)
    out["score_dict"] = best_of(runs, per_call(docs))
    out["score_str"] = best_of(runs, per_call(texts))
    # NOTE: before `Report`, score returned the plain dict itself.
    plain = (lambda r: r.to_dict()) if hasattr(m, "Report") and hasattr(m.Report, "to_dict") else (lambda r: r)

    def per_call_to_dict():
        for p in docs:
            plain(m.score(p, **CONTEXT))

    out["score_to_dict"] = best_of(runs, per_call_to_dict)
    out["score_kept"] = best_of(runs, per_call_kept(docs))
    out["score_many_1"] = best_of(runs, lambda: m.score_many(docs, threads=1, **CONTEXT))
    if all_cpus is not None:
        # NOTE: unpinned before the 2-thread pool exists: its threads inherit this affinity.
        os.sched_setaffinity(0, all_cpus)
    out["score_many_2"] = best_of(runs, lambda: m.score_many(docs, threads=2, **CONTEXT))
    # Same answers every way: a benchmark of different work would measure the wrong thing.
    one = [m.score(d, **CONTEXT) for d in docs]
    assert one == m.score_many(texts, threads=2, **CONTEXT), "score_many differs from score"
    return out


# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------

def ensure_our_venv(venv: Path, build: bool) -> None:
    py = venv / "bin" / "python"
    if not py.exists():
        log(f"creating {venv} (once)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + OUR_TOOLS, check=True)
    if not build:
        return
    log("pip install ./risk-py (release profile; first time several minutes)")
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("MATURIN_PEP517_ARGS", None)
    t0 = time.perf_counter()
    proc = subprocess.run(pip + ["--no-build-isolation", "--force-reinstall", "--no-deps", str(ROOT / "risk-py")],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: pip install ./risk-py failed:\n{proc.stderr[-3000:]}")
    log(f"built and installed in {time.perf_counter() - t0:.0f} s")


def run_worker(kind: str, python: Path, corpus: Path, runs: int, cpu: int | None) -> dict:
    cmd = [str(python), str(Path(__file__).resolve()), "--_worker", kind,
           "--corpus", str(corpus), "--runs", str(runs)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr.strip()[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rate(n: int, t: dict | None, key: str) -> float | None:
    return n / t[key] if t and t.get(key) else None


def figures(r: dict) -> dict:
    """Rates (policies/s, by wall and by CPU time) and ratios from the raw timings."""
    n = r["corpus"]["policies"]
    pred, ours, eng = r["predecessor"] or {}, r["ours"] or {}, r["engine"] or {}
    rows = {
        "pred": pred.get("analyze"), "pred_parse": pred.get("parse_and_analyze"),
        "score_dict": ours.get("score_dict"), "score_str": ours.get("score_str"),
        "score_to_dict": ours.get("score_to_dict"), "score_kept": ours.get("score_kept"),
        "many_1": ours.get("score_many_1"), "many_2": ours.get("score_many_2"),
    }
    q: dict = {}
    for name, t in rows.items():
        q[name] = {"wall": rate(n, t, "wall_s"), "cpu": rate(n, t, "cpu_s")}
    q["engine"] = {"wall": eng.get("score_per_sec"), "cpu": None}
    for name in ("pred_parse", "score_dict", "score_str", "score_to_dict", "score_kept", "many_1", "many_2", "engine"):
        q[name]["vs_pred_wall"] = compare.ratio(q[name]["wall"], q["pred"]["wall"])
        q[name]["vs_pred_cpu"] = compare.ratio(q[name]["cpu"], q["pred"]["cpu"])
    q["score_str"]["vs_pred_parse_wall"] = compare.ratio(q["score_str"]["wall"], q["pred_parse"]["wall"])
    q["scaling_2"] = compare.ratio(q["many_2"]["wall"], q["many_1"]["wall"])
    return q


ROW_NAMES = [
    ("pred", "predecessor `analyze_policy(dict)` (iam-risk-score 0.1.0)"),
    ("pred_parse", "predecessor `json.loads` + `analyze_policy`"),
    ("score_dict", "**ours `score(dict)`**"),
    ("score_str", "**ours `score(str)`** (JSON parsing included)"),
    ("score_to_dict", "ours `score(dict).to_dict()` (every value built, as a caller reading it all)"),
    ("score_kept", "ours `[score(d) for d in dicts]` (all reports kept, as `score_many` must)"),
    ("many_1", "ours `score_many(dicts, threads=1)`"),
    ("many_2", "ours `score_many(dicts, threads=2)`"),
    ("engine", "engine alone in Rust, no Python (`throughput` binary, no context)"),
]


def build_rows(r: dict) -> list[list[str]]:
    q = r["ratios"]
    f, x = compare.fmt_rate, compare.fmt_ratio
    rows = []
    for key, label in ROW_NAMES:
        v = q[key]
        per = f"{1e6 / v['cpu']:,.1f} µs" if v["cpu"] else "n/a"
        if key == "pred":
            rel = "1.0x"
        else:
            rel = f"{x(v['vs_pred_wall'])} / {x(v['vs_pred_cpu'])}"
        if key == "many_2":
            rel += f"; {x(q['scaling_2'])} of threads=1 (wall)"
            per = "(2 threads)"
        rows.append([label, f(v["wall"]), f(v["cpu"]), per, rel])
    return rows


def render_text(r: dict) -> str:
    rows = build_rows(r)
    strip = lambda s: s.replace("**", "").replace("`", "")  # noqa: E731
    w = max(len(strip(row[0])) for row in rows)
    out = [f"corpus: {r['corpus']['policies']} AWS managed policies ({r['corpus']['path']}); "
           f"context access_type=read-only, duration_hours=1; best of {r['runs']}; "
           f"single-thread rows pinned to cpu {r['pinned_cpu']}; load average before: {r['load_before']}", ""]
    out.append(f"{'':<{w}}  {'wall pol/s':>11}  {'CPU pol/s':>11}  {'CPU/policy':>11}  vs predecessor (wall / CPU)")
    for name, wall, cpu, per, rel in rows:
        out.append(f"{strip(name):<{w}}  {wall:>11}  {cpu:>11}  {per:>11}  {rel}")
    out += ["", f"goal: score >= {GOAL_SCORE_VS_PREDECESSOR:.0f}x predecessor per call ................ "
                f"{r['goals']['score']}",
            f"goal: score_many scales with cores (2 threads >= {GOAL_SCALING_2_THREADS}x of 1) ... "
            f"{r['goals']['scaling']}"]
    for key, msg in r["problems"].items():
        out += ["", f"NOTE ({key}): {msg}"]
    return "\n".join(out)


def render_markdown(r: dict) -> str:
    rows = build_rows(r)
    m, q = r["machine"], r["ratios"]
    out = [f"Corpus: {r['corpus']['policies']} AWS managed policies (`{r['corpus']['path']}`); every call "
           f"with the predecessor CLI's default context (`access_type` read-only, 1 hour). Best of {r['runs']} "
           f"runs after a warm-up; single-thread rows pinned to one CPU. Machine: {m['cpu']}, {m['cpus']} CPUs, "
           f"{m['os']}; Python {m['python']}; {m.get('rustc') or 'rustc ?'}; commit `{m.get('commit')}`; "
           f"{m['date']}; load average before the run {r['load_before']}.",
           "",
           "| Python, in-process | Policies/s (wall) | Policies/s (CPU time) | CPU per policy | vs predecessor (wall / CPU) |",
           "|---|---:|---:|---:|---|"]
    out += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    out += ["",
            "| Goal (issue 4) | Target | Measured | |",
            "|---|---:|---:|---|",
            f"| `score(dict)` per call vs predecessor `analyze_policy` | ≥ {GOAL_SCORE_VS_PREDECESSOR:.0f}x | "
            f"{compare.fmt_ratio(q['score_dict']['vs_pred_wall'])} (CPU time "
            f"{compare.fmt_ratio(q['score_dict']['vs_pred_cpu'])}) | {r['goals']['score']} |",
            f"| `score_many`: 2 threads vs 1 (wall) | ≥ {GOAL_SCALING_2_THREADS}x | "
            f"{compare.fmt_ratio(q['scaling_2'])} | {r['goals']['scaling']} |"]
    for key, msg in r["problems"].items():
        out += ["", f"> **Not measured ({key}):** {msg.splitlines()[0]}"]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL corpus (default: %(default)s)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per figure, best kept (default: 5)")
    ap.add_argument("--cpu", type=int, default=None, help="CPU for single-thread figures (default: the last)")
    ap.add_argument("--no-build", action="store_true", help="time the package already in the venv (see --venv)")
    ap.add_argument("--venv", type=Path, default=OUR_VENV,
                    help="venv of ours to build into and time (default: %(default)s)")
    ap.add_argument("--skip-engine", action="store_true", help="skip the Rust-only reference row")
    ap.add_argument("--json", metavar="PATH", help="write all figures as JSON to PATH (- for stdout)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table instead of text")
    ap.add_argument("--_worker", choices=["predecessor", "ours"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    corpus = args.corpus.resolve()

    if args._worker:
        fn = worker_predecessor if args._worker == "predecessor" else worker_ours
        print(json.dumps(fn(corpus, args.runs, args.cpu)))
        return 0

    n = len(compare.load_corpus(corpus))
    compare.ensure_venv()
    ensure_our_venv(args.venv.resolve(), build=not args.no_build)
    problems: dict[str, str] = {}
    if not args.skip_engine:
        log("building the throughput binary (cargo build --release -p risk-benches --bin throughput)")
        proc = subprocess.run(["cargo", "build", "--release", "-q", "-p", "risk-benches", "--bin", "throughput"],
                              cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            problems["engine"] = f"throughput binary did not build:\n{proc.stderr.strip()[-2000:]}"
    cpu = args.cpu
    if cpu is None and hasattr(os, "sched_getaffinity"):
        cpu = sorted(os.sched_getaffinity(0))[-1]
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    log(f"load average {load_before}")
    result: dict = {
        "machine": compare.machine_info(),
        "corpus": {"path": os.path.relpath(corpus, ROOT), "policies": n},
        "runs": args.runs, "pinned_cpu": cpu, "load_before": load_before, "context": CONTEXT,
        "predecessor": None, "ours": None, "engine": None,
    }
    workers = [("predecessor", compare.venv_python()), ("ours", args.venv.resolve() / "bin" / "python")]
    for kind, python in workers:
        log(f"timing {kind} in-process ({n} policies, best of {args.runs})")
        try:
            result[kind] = run_worker(kind, python, corpus, args.runs, cpu)
        except RuntimeError as e:
            problems[kind] = str(e)
    if not args.skip_engine and "engine" not in problems:
        log("timing the engine alone (throughput binary, pinned)")
        all_cpus = pin(cpu)
        try:
            result["engine"] = compare.run_throughput(corpus)
        except RuntimeError as e:
            problems["engine"] = str(e)
        finally:
            if all_cpus is not None:
                os.sched_setaffinity(0, all_cpus)

    q = figures(result)
    result["ratios"] = q
    result["goals"] = {
        "score": compare.goal(q["score_dict"]["vs_pred_wall"], GOAL_SCORE_VS_PREDECESSOR),
        "scaling": compare.goal(q["scaling_2"], GOAL_SCALING_2_THREADS),
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
