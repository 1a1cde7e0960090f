#!/usr/bin/env bash
# scripts/test-wasm.sh — the WASM surface's tests, end to end, on a fresh machine or a warm one.
#
#   bash scripts/test-wasm.sh
#
# Installs what is missing (Debian's chromium; through risk-wasm/build.sh the wasm32 target,
# wasm-bindgen-cli at the crate's exact version and the npm dev dependencies), builds the
# package and the playground, then runs:
#   1. the bindings' Rust unit tests, natively (their binary from `cargo test --workspace --no-run`)
#   2. the Node parity test: WASM results equal `iam-risk-score … --format json`
#   3. the playground end to end in headless Chromium (screenshots: target/playground-screenshots/)
#   4. the npm package: `npm pack` into target/npm/, installed offline into a fresh project
#      (timed), imported by name from Node and from a bundler-free page in Chromium
# Every suite runs even if an earlier one fails; the last line is `N passed, N failed`.
# Logs (TAP and cargo output) go to target/test-logs/wasm-*.

set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG_DIR="$ROOT/target/test-logs"
mkdir -p "$LOG_DIR"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

say() { printf '  [test-wasm] %s\n' "$*"; }
START=$EPOCHREALTIME
took() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", e - s }'; }

# On a fresh machine the apt download overlaps the first build (wasm-bindgen-cli takes minutes);
# the end-to-end suite waits for it.
APT_PID=""
start_chromium_install() {
    if [[ -x "$CHROMIUM" ]]; then
        return
    fi
    say "installing Debian's chromium in the background (apt-get; log: target/test-logs/wasm-apt.log)"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    (
        "${sudo[@]}" apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium
    ) >"$LOG_DIR/wasm-apt.log" 2>&1 &
    APT_PID=$!
}

wait_for_chromium() {
    if [[ -n "$APT_PID" ]]; then
        local rc=0
        wait "$APT_PID" || rc=$?
        APT_PID=""
        if ((rc != 0)); then
            cat "$LOG_DIR/wasm-apt.log" >&2
            say "error: apt-get install chromium failed (exit $rc)"
            return 1
        fi
    fi
    [[ -x "$CHROMIUM" ]] || { say "error: chromium is missing at $CHROMIUM"; return 1; }
}

PASSED=0
FAILED=0
RESULTS=()

record() { # record NAME PASSED FAILED SECONDS
    PASSED=$((PASSED + $2))
    FAILED=$((FAILED + $3))
    RESULTS+=("$(printf '%-40s %4d passed, %d failed  (%s)' "$1" "$2" "$3" "$4")")
}

# Run a node --test file: spec output on the terminal, TAP in the log for the counts.
node_suite() { # node_suite NAME FILE
    local name="$1" file="$2" tap="$LOG_DIR/wasm-$1.tap" start=$EPOCHREALTIME rc=0
    say "node --test ${file#"$ROOT"/}"
    node --test --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$tap" "$file" || rc=$?
    local pass fail
    pass="$(awk '/^# pass /{print $3}' "$tap" | tail -1)"
    fail="$(awk '/^# fail /{print $3}' "$tap" | tail -1)"
    # A suite that crashed before reporting counts as one failure.
    if [[ -z "$pass" || -z "$fail" ]]; then
        pass=${pass:-0} fail=1
    elif ((rc != 0 && fail == 0)); then
        fail=1
    fi
    record "$name" "$pass" "$fail" "$(took "$start")"
}

cargo_suite() {
    local log="$LOG_DIR/wasm-cargo-test.log" start=$EPOCHREALTIME rc=0
    # Its unit-test binary from the workspace's test build (built above), run directly:
    # `cargo test -p risk-wasm` would resolve features differently and recompile ~20 crates.
    local exe
    exe="$(cargo test --workspace --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "risk_wasm" \
            and m["profile"]["test"] and m.get("executable"):
        print(m["executable"])')"
    if [[ -z "$exe" || ! -x "$exe" ]]; then
        say "error: no risk_wasm unit-test binary in the workspace's test build"
        record "rust (risk-wasm, native)" 0 1 "$(took "$start")"
        return 0
    fi
    say "risk-wasm's unit tests (${exe#"$ROOT"/})"
    "$exe" 2>&1 | tee "$log" || rc=$?
    local pass fail
    pass="$(awk '/^test result:/{for (i = 1; i <= NF; i++) if ($i ~ /^passed/) s += $(i - 1)} END {print s + 0}' "$log")"
    fail="$(awk '/^test result:/{for (i = 1; i <= NF; i++) if ($i ~ /^failed/) s += $(i - 1)} END {print s + 0}' "$log")"
    if ((rc != 0 && fail == 0)); then fail=1; fi
    record "rust (risk-wasm, native)" "$pass" "$fail" "$(took "$start")"
}

start_chromium_install
step_start=$EPOCHREALTIME
bash "$ROOT/risk-wasm/build.sh"
say "build: $(took "$step_start")"
# The parity test compares with the CLI's debug binary (the one `cargo test --workspace` builds).
say "cargo test --workspace --no-run (builds iam-risk-score for the parity test)"
# The workspace's test build (a no-op after `cargo test --workspace`): `cargo build -p` would
# resolve features differently, recompile ~60-80 crates and relink the workspace's binaries.
cargo test --quiet --workspace --no-run

cargo_suite
node_suite parity "$ROOT/risk-wasm/tests/parity.test.mjs"
if wait_for_chromium; then
    node_suite e2e "$ROOT/risk-wasm/tests/e2e.test.mjs"
    rm -f "$ROOT/target/npm/npm-install-seconds.txt"
    node_suite npm-package "$ROOT/risk-wasm/tests/npm-package.test.mjs"
else
    record e2e 0 1 "-"
    record npm-package 0 1 "-"
fi

echo
for r in "${RESULTS[@]}"; do printf '  %s\n' "$r"; done
if [[ -f "$ROOT/target/npm/npm-install-seconds.txt" ]]; then
    say "npm install of the packed tarball (offline, fresh project): $(cat "$ROOT/target/npm/npm-install-seconds.txt") s"
fi
say "total $(took "$START"); screenshots in target/playground-screenshots/"
echo "wasm: $PASSED passed, $FAILED failed"
((FAILED == 0))
