#!/usr/bin/env bash
# scripts/test-python.sh — build the Python package the way a user does and run its tests.
#
#   scripts/test-python.sh             debug build of the extension (fast; what CI runs)
#   scripts/test-python.sh --release   the release profile, as a published wheel is built
#
# Idempotent: the venv (target/venv-py, under $CARGO_TARGET_DIR when set) is created once and
# reused; tools are installed only when missing. Steps: venv with maturin, pytest and mypy from
# PyPI → `pip install ./risk-py` (maturin as PEP 517 backend) → pytest on risk-py/tests, whose
# summary line is repeated at the end. The parity tests compare with the console script, and
# with the Rust binary too when `cargo test --workspace` has built an up-to-date one.
#
# NOTE: the debug profile by default. Building one package resolves crate features apart from
# the workspace build, so even after `cargo test --workspace` the wheel recompiles serde,
# serde_json and what depends on them, plus pyo3: measured 3 min 55 s on this 2-core machine
# while other builds kept it at load 6-8. A release build with LTO takes longer still. The API
# is the same either way; only speed differs.

set -euo pipefail
export LC_NUMERIC=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/venv-py"
LOG_DIR="$TARGET/test-logs"
PROFILE=dev
# Tools for building and testing; lower bounds are the versions verified here.
TOOLS=("maturin>=1.16,<2" "pytest>=8" "mypy>=1.10")

for arg in "$@"; do
    case "$arg" in
        --release) PROFILE=release ;;
        -h | --help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "scripts/test-python.sh: unknown argument \`$arg\`" >&2; exit 2 ;;
    esac
done

START=$EPOCHREALTIME
elapsed() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'; }
say() { printf '    [python] %s\n' "$*"; }

PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "scripts/test-python.sh: \`$PYTHON\` not found: install Python 3.10 or newer" >&2
    exit 127
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "scripts/test-python.sh: $("$PYTHON" --version 2>&1) is too old: the package needs Python 3.10+" >&2
    exit 1
fi

# 1. The venv, rebuilt if it is missing or broken (e.g. the interpreter it pointed to is gone).
t=$EPOCHREALTIME
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    say "creating ${VENV#"$ROOT"/} with $("$PYTHON" --version 2>&1)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# maturin's PEP 517 backend runs the `maturin` executable: the venv's must come first.
export PATH="$VENV/bin:$PATH"
if ! "$PY" -m pip install -q --disable-pip-version-check "${TOOLS[@]}"; then
    echo "scripts/test-python.sh: could not install ${TOOLS[*]} from PyPI into ${VENV#"$ROOT"/}" >&2
    exit 1
fi
say "venv ready: $("$PY" -m maturin --version), pytest $("$PY" -m pytest --version 2>&1 | awk '{print $2}'), $("$PY" -m mypy --version | awk '{print $1, $2}') ($(elapsed "$t")s)"

# 2. The Rust CLI binary, for a second parity check beside the console script: used only when
#    it is newer than every engine and CLI source (`cargo test --workspace` builds it, and
#    scripts/test.sh runs that first). NOTE: not built here: `cargo build -p risk-cli` resolves
#    features differently from the workspace build and recompiles much of the tree (~4 min).
#    Manifests are not compared: a test-only manifest change relinks nothing (dependency
#    changes show in Cargo.lock).
CLI="$TARGET/debug/iam-risk-score"
if [[ -x "$CLI" && -z "$(find "$ROOT/catalog" "$ROOT/risk-core" "$ROOT/scan" "$ROOT/cli" "$ROOT/Cargo.lock" \
    -newer "$CLI" -type f ! -path '*/tests/*' ! -name Cargo.toml -print -quit 2>/dev/null)" ]]; then
    export IAM_RISK_SCORE_CLI="$CLI"
    say "parity: console script and the Rust binary ${CLI#"$ROOT"/}"
else
    unset IAM_RISK_SCORE_CLI
    say "parity: console script only (no up-to-date ${CLI#"$ROOT"/}; \`cargo test --workspace\` builds it)"
    if [[ -n "${CI:-}" ]]; then
        say "error: under CI the Rust binary must be current (scripts/test.sh builds it in its cargo test step)"
        exit 1
    fi
fi

# 3. Build and install the wheel through pip and maturin's PEP 517 backend, as
#    `pip install ./risk-py` does for a user; maturin comes from the venv (no build isolation,
#    so no second download), and the cargo profile from MATURIN_PEP517_ARGS.
t=$EPOCHREALTIME
mkdir -p "$LOG_DIR"
if ! MATURIN_PEP517_ARGS="--profile $PROFILE" "$PY" -m pip install --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps "$ROOT/risk-py" >"$LOG_DIR/python-build.log" 2>&1; then
    tail -n 40 "$LOG_DIR/python-build.log" >&2
    echo "scripts/test-python.sh: \`pip install ./risk-py\` failed (full log: ${LOG_DIR#"$ROOT"/}/python-build.log)" >&2
    exit 1
fi
say "pip install ./risk-py ($PROFILE profile): $("$PY" -c 'import iam_risk_score as m; print(m.__version__)') installed ($(elapsed "$t")s)"

# 3b. iam-risk-score 0.1.0 (the predecessor, `iam_jit`) in its own venv, for the side-by-side
#     test of the `iam_jit` shim (risk-py/tests/test_iam_jit_compat.py). Pinned; created once.
#     Without network the test is skipped locally; under CI=… the install must work.
PRED_VENV="$TARGET/venv-pred"
if ! "$PRED_VENV/bin/python" -c 'import iam_jit.review' >/dev/null 2>&1; then
    t=$EPOCHREALTIME
    rm -rf "$PRED_VENV"
    if "$PYTHON" -m venv "$PRED_VENV" && "$PRED_VENV/bin/pip" install -q --disable-pip-version-check \
        "iam-risk-score==0.1.0" >"$LOG_DIR/venv-pred.log" 2>&1; then
        say "predecessor: iam-risk-score 0.1.0 in ${PRED_VENV#"$ROOT"/} ($(elapsed "$t")s)"
    else
        rm -rf "$PRED_VENV"
        if [[ -n "${CI:-}" ]]; then
            say "error: could not install iam-risk-score==0.1.0 (see ${LOG_DIR#"$ROOT"/}/venv-pred.log): CI must run the side-by-side test"
            exit 1
        fi
        say "predecessor: could not install iam-risk-score==0.1.0 (see ${LOG_DIR#"$ROOT"/}/venv-pred.log); side-by-side test skipped"
    fi
else
    say "predecessor: iam-risk-score 0.1.0 in ${PRED_VENV#"$ROOT"/} (reused)"
fi

# 4. The tests, against the installed package (run from a scratch directory so the source
#    tree's risk-py/python cannot shadow it).
t=$EPOCHREALTIME
rc=0
(cd "$TARGET" && "$PY" -m pytest "$ROOT/risk-py/tests" -q -p no:cacheprovider --rootdir "$ROOT/risk-py") \
    2>&1 | tee "$LOG_DIR/pytest.log" || rc=$?
summary="$(grep -E '^(=+ )?[0-9]+ (passed|failed|error)|no tests ran' "$LOG_DIR/pytest.log" | tail -n 1 | sed 's/=//g; s/^ *//; s/ *$//')"
say "pytest: ${summary:-no summary line (see ${LOG_DIR#"$ROOT"/}/pytest.log)} ($(elapsed "$t")s)"
say "total $(elapsed "$START")s"
exit "$rc"
