#!/usr/bin/env bash
# scripts/test-api.sh — schemathesis against the live scoring API's own /openapi.json.
#
#   scripts/test-api.sh                 build (debug), start on 127.0.0.1, fuzz, stop
#   SCHEMATHESIS_EXAMPLES=500 scripts/test-api.sh     more examples per operation
#   SCHEMATHESIS_SEED=random scripts/test-api.sh      a fresh seed (default: fixed, reproducible)
#
# Checks every response for: no 5xx, a documented status, the documented content type,
# headers and body schema; schema-violating requests must be rejected (4xx); requests without
# the key must get 401. Not checked: `positive_data_acceptance` — a body can match the schema
# and still hold a policy the engine rightly refuses (no `Statement`, an unknown service), so a
# 400/422 there is correct, not a failure.
#
# Idempotent: the venv (target/venv-api) is created once; the server log is left in
# target/test-logs/api-server.log. Ends with one line `schemathesis: N passed, N failed`
# (operations).

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCHEMATHESIS_VERSION="4.32.5"
VENV="$ROOT/target/venv-api"
LOG_DIR="$ROOT/target/test-logs"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-100}"
SEED="${SCHEMATHESIS_SEED:-20261128}"
KEY="schemathesis-$$"
mkdir -p "$LOG_DIR"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "--> installing schemathesis $SCHEMATHESIS_VERSION into ${VENV#"$ROOT"/}"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

echo "--> building iam-risk-score-api (debug)"
cargo build -q -p scorer-api --bin iam-risk-score-api

SERVER_LOG="$LOG_DIR/api-server.log"
IAM_RISK_SCORE_API_KEY="$KEY" IAM_RISK_SCORE_RATE_PER_MINUTE=0 IAM_RISK_SCORE_LLM_MODEL= \
    "$ROOT/target/debug/iam-risk-score-api" --listen 127.0.0.1:0 >"$SERVER_LOG" 2>&1 &
pid=$!
stop() {
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap stop EXIT

addr=""
for _ in $(seq 1 100); do
    addr="$(sed -n 's/.*"addr":"\([0-9.:]*\)".*"listening".*/\1/p; s/.*"message":"listening".*"addr":"\([0-9.:]*\)".*/\1/p' "$SERVER_LOG" | head -n1)"
    [[ -n $addr ]] && break
    kill -0 "$pid" 2>/dev/null || { echo "the server exited early:" >&2; cat "$SERVER_LOG" >&2; exit 1; }
    sleep 0.1
done
[[ -n $addr ]] || { echo "the server did not report its address:" >&2; cat "$SERVER_LOG" >&2; exit 1; }
echo "--> server on http://$addr (pid $pid)"

seed_args=()
[[ $SEED != random ]] && seed_args=(--seed "$SEED")
junit="$LOG_DIR/schemathesis-junit.xml"
rc=0
"$VENV/bin/schemathesis" run "http://$addr/openapi.json" \
    --header "Authorization: Bearer $KEY" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" "${seed_args[@]}" \
    --request-timeout 10 --no-color \
    --report junit --report-junit-path "$junit" || rc=$?

# Graceful shutdown is part of the contract: SIGTERM, then exit status 0.
kill -TERM "$pid"
server_rc=0
wait "$pid" || server_rc=$?
trap - EXIT
if ((server_rc != 0)); then
    echo "the server exited with $server_rc after SIGTERM (log: ${SERVER_LOG#"$ROOT"/})" >&2
    rc=1
fi
grep -q '"status":5' "$SERVER_LOG" && { echo "the server log records a 5xx answer" >&2; rc=1; }

python3 - "$junit" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
except (OSError, ET.ParseError):
    cases = []
passed = failed = 0
for c in cases:
    if c.find("failure") is not None or c.find("error") is not None:
        failed += 1
    else:
        passed += 1
print(f"schemathesis: {passed} passed, {failed} failed")
EOF
exit "$rc"
