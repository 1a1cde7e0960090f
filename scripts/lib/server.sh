# scripts/lib/server.sh — the harness of the scripts that fuzz a live service with schemathesis
# (scripts/test-api.sh, scripts/test-jit.sh): build the server, start it, wait for the address
# it reports, fuzz it against its own /openapi.json, stop it and check it stopped cleanly, and
# sum up the reports.
#
#   set -euo pipefail
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
#
# Sourcing sets ROOT (the checkout, also made the working directory), TARGET (cargo's target
# directory) and LOG_DIR (target/test-logs, created: server logs and JUnit reports).
#
#   schemathesis_init EXAMPLES SEED     set SCHEMATHESIS to the pinned schemathesis of the venv of
#                                       scripts/jit-venv.sh (created when missing); examples per
#                                       operation and seed: $SCHEMATHESIS_EXAMPLES and
#                                       $SCHEMATHESIS_SEED, else EXAMPLES and SEED (`random`: none)
#   server_build PACKAGE BIN            `cargo build` the debug binary BIN of PACKAGE; sets
#                                       SERVER_BIN to its path
#   server_start DIR LOG CMD [ARG...]   run CMD in DIR in the background, stdout and stderr to
#                                       LOG; sets SERVER_PID and SERVER_LOG, and an EXIT trap that
#                                       stops the server if the script ends early
#   server_wait_addr SED TRIES [PATH]   poll the log every 0.1 s, at most TRIES times, until the
#                                       sed script SED prints the address the server listens on
#                                       (and, with PATH, until GET PATH answers 2xx); sets
#                                       SERVER_ADDR. Exits 1 with the log if the server dies first
#                                       or never gets there
#   schemathesis_run JUNIT TOKEN [ARG...]
#                                       fuzz the server, sending `Authorization: Bearer TOKEN`,
#                                       with the examples and seed above plus ARG (the checks, the
#                                       timeout, operation filters); JUnit report to JUNIT;
#                                       returns schemathesis's status
#   server_stop                         SIGTERM, then check the contract: exit status 0 and no 5xx
#                                       answer in the log (a `"status":5…` field of its JSON lines);
#                                       returns 1, saying why on stderr, when either fails: call it
#                                       as `server_stop || rc=1`
#   schemathesis_summary JUNIT...       print one line `schemathesis: N passed, N failed`
#                                       (operations) over the reports; a missing or broken report
#                                       counts as one failure

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
LOG_DIR="$ROOT/target/test-logs"
mkdir -p "$LOG_DIR"

schemathesis_init() {
    local py
    py="$(bash "$ROOT/scripts/jit-venv.sh")"
    SCHEMATHESIS="$(dirname "$py")/schemathesis"
    SCHEMATHESIS_EXAMPLES="${SCHEMATHESIS_EXAMPLES:-$1}"
    SCHEMATHESIS_SEED="${SCHEMATHESIS_SEED:-$2}"
}

server_build() {
    echo "--> building $2 of $1 (debug, as \`cargo test --workspace\` builds it)"
    # The workspace's test build (a no-op after `cargo test --workspace`): `cargo build -p` would
    # resolve features differently, recompile ~60-80 crates and relink the workspace's binaries.
    cargo test -q --workspace --no-run
    SERVER_BIN="$TARGET/debug/$2"
}

server_start() {
    local dir="$1"
    SERVER_LOG="$2"
    shift 2
    # Created here, not only by the child's redirection, so the first poll always finds it.
    : >"$SERVER_LOG"
    (cd "$dir" && exec "$@") >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    trap server_kill EXIT
}

# The EXIT trap: stop the server, whatever state it is in, without failing.
server_kill() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}

server_fail() {
    echo "$1:" >&2
    cat "$SERVER_LOG" >&2
    exit 1
}

server_wait_addr() {
    local sed_script="$1" tries="$2" ready="${3:-}" _
    SERVER_ADDR=""
    for _ in $(seq 1 "$tries"); do
        SERVER_ADDR="$(sed -n "$sed_script" "$SERVER_LOG" | head -n1)"
        if [[ -n $SERVER_ADDR ]] && { [[ -z $ready ]] || curl -fsS "http://$SERVER_ADDR$ready" >/dev/null 2>&1; }; then
            echo "--> server on http://$SERVER_ADDR (pid $SERVER_PID)"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || server_fail "the server exited early"
        sleep 0.1
    done
    [[ -n $SERVER_ADDR ]] || server_fail "the server did not report its address"
    server_fail "the server is not ready"
}

schemathesis_run() {
    local junit="$1" token="$2"
    shift 2
    local seed=()
    [[ $SCHEMATHESIS_SEED == random ]] || seed=(--seed "$SCHEMATHESIS_SEED")
    "$SCHEMATHESIS" run "http://$SERVER_ADDR/openapi.json" \
        --header "Authorization: Bearer $token" \
        --max-examples "$SCHEMATHESIS_EXAMPLES" "${seed[@]}" --no-color \
        --report junit --report-junit-path "$junit" "$@"
}

# Graceful shutdown is part of the contract: SIGTERM, then exit status 0.
server_stop() {
    local rc=0 status=0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" || status=$?
    trap - EXIT
    if ((status != 0)); then
        echo "the server exited with $status after SIGTERM (log: ${SERVER_LOG#"$ROOT"/})" >&2
        rc=1
    fi
    if grep -q '"status":5' "$SERVER_LOG"; then
        echo "the server log records a 5xx answer (log: ${SERVER_LOG#"$ROOT"/}):" >&2
        grep '"status":5' "$SERVER_LOG" | head -n 5 >&2
        rc=1
    fi
    return "$rc"
}

schemathesis_summary() {
    python3 - "$@" <<'PY'
import sys, xml.etree.ElementTree as ET
passed = failed = 0
for path in sys.argv[1:]:
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        print(f"no report in {path}", file=sys.stderr)
        failed += 1
        continue
    for c in cases:
        if c.find("failure") is not None or c.find("error") is not None:
            failed += 1
        else:
            passed += 1
print(f"schemathesis: {passed} passed, {failed} failed")
PY
}
