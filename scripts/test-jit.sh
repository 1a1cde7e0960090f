#!/usr/bin/env bash
# scripts/test-jit.sh — schemathesis against the live iam-jit service's own /openapi.json.
#
#   scripts/test-jit.sh                                build (debug), start on a fresh SQLite
#                                                      database, fuzz every operation, stop
#   SCHEMATHESIS_EXAMPLES=200 scripts/test-jit.sh      more examples per operation (default 50)
#   SCHEMATHESIS_SEED=random scripts/test-jit.sh       a fresh seed (default: fixed, reproducible)
#
# The service runs with `--dev` (recording provisioner: no AWS calls), rate limiting off and
# the outbox worker idle (webhooks the fuzzer subscribes are never called). Requests carry an
# admin token made by `iam-jit seed-admin`, so every route is reachable.
#
# Checks: not_a_server_error (no 5xx, ever: bad input must be a clear 4xx),
# status_code_conformance, content_type_conformance, response_schema_conformance (every answer
# is documented, with its media type and body schema) and negative_data_rejection (a request
# that breaks the schema is refused). Not checked: positive_data_acceptance — a body can match
# the schema and still be refused for reasons a schema cannot state (an unknown user, a policy
# the engine rejects, a duration over the approval policy's cap), so a 4xx there is correct.
#
# Idempotent: the venv comes from scripts/jit-venv.sh; the database is recreated under
# target/tmp/test-jit; the server log is left in target/test-logs/jit-server.log. Ends with one
# line `schemathesis: N passed, N failed` (operations).

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

EXAMPLES="${SCHEMATHESIS_EXAMPLES:-50}"
SEED="${SCHEMATHESIS_SEED:-20261201}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/debug/iam-jit"
WORK="$ROOT/target/tmp/test-jit"
LOG_DIR="$ROOT/target/test-logs"
SERVER_LOG="$LOG_DIR/jit-server.log"
mkdir -p "$LOG_DIR"

PY="$(bash "$ROOT/scripts/jit-venv.sh")"
SCHEMATHESIS="$(dirname "$PY")/schemathesis"

echo "--> building iam-jit (debug)"
cargo build -q -p jit-service --bin iam-jit

rm -rf "$WORK"
mkdir -p "$WORK"
DB="$WORK/iam-jit.db"
TOKEN="$("$BIN" seed-admin --email schemathesis-admin@jit.test --token --database "$DB" 2>/dev/null)"
[[ $TOKEN == iamjit_* ]] || { echo "seed-admin did not print a token" >&2; exit 1; }

# Port 0: the kernel picks a free port (no race with other tests); the log names it.
(
    cd "$WORK"
    exec env -u IAM_RISK_SCORE_LLM_MODEL -u IAM_JIT_CONFIG IAM_JIT_RATE_LIMIT_PER_MINUTE=0 \
        IAM_JIT_OUTBOX_INTERVAL_SECS=3600 IAM_JIT_JSON_LOGS=1 IAM_JIT_LOG=info,sqlx=warn \
        "$BIN" serve --dev --listen 127.0.0.1:0 --database "$DB"
) >"$SERVER_LOG" 2>&1 &
pid=$!
stop() {
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap stop EXIT

addr=""
for _ in $(seq 1 300); do
    addr="$(sed -n 's/.*"listen":"\([0-9.:]*\)".*/\1/p' "$SERVER_LOG" | head -n1)"
    if [[ -n $addr ]] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then
        break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "the server exited early:" >&2; cat "$SERVER_LOG" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "http://$addr/readyz" >/dev/null || { echo "the server is not ready:" >&2; cat "$SERVER_LOG" >&2; exit 1; }
echo "--> server on http://$addr (pid $pid)"

seed_args=()
[[ $SEED != random ]] && seed_args=(--seed "$SEED")
# Operations that can lock the fuzzer's own admin out (revoke its token once a listing reveals
# the hash; disable or delete it once it has made another admin) run in a second pass, so the
# first pass keeps its credential for every other operation.
lockout=(delete_tokens_hash delete_users_user_id patch_users_user_id)
rc=0
junits=()
run() {
    local name="$1"
    shift
    local junit="$LOG_DIR/schemathesis-jit-$name-junit.xml"
    junits+=("$junit")
    echo "--> schemathesis: $name"
    "$SCHEMATHESIS" run "http://$addr/openapi.json" \
        --header "Authorization: Bearer $TOKEN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
        --max-examples "$EXAMPLES" "${seed_args[@]}" \
        --request-timeout 20 --no-color \
        --report junit --report-junit-path "$junit" "$@" || rc=$?
}
main=()
only=()
for id in "${lockout[@]}"; do
    main+=(--exclude-operation-id "$id")
    only+=(--include-operation-id "$id")
done
run main "${main[@]}"
# The pass is only meaningful if the admin stayed an admin throughout.
if ! curl -fsS -H "Authorization: Bearer $TOKEN" "http://$addr/api/v1/reports/users" >/dev/null; then
    echo "the fuzzer's admin token stopped working during the main pass" >&2
    rc=1
fi
run lockout "${only[@]}"

# Graceful shutdown is part of the contract: SIGTERM, then exit status 0.
kill -TERM "$pid"
server_rc=0
wait "$pid" || server_rc=$?
trap - EXIT
if ((server_rc != 0)); then
    echo "the server exited with $server_rc after SIGTERM (log: ${SERVER_LOG#"$ROOT"/})" >&2
    rc=1
fi
if grep -q '"status":5' "$SERVER_LOG"; then
    echo "the server log records a 5xx answer (log: ${SERVER_LOG#"$ROOT"/}):" >&2
    grep '"status":5' "$SERVER_LOG" | head -n 5 >&2
    rc=1
fi

python3 - "${junits[@]}" <<'EOF'
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
EOF
exit "$rc"
