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
# line `schemathesis: N passed, N failed` (operations). The harness (build, start,
# wait, fuzz, stop, sum up) is scripts/lib/server.sh, shared with scripts/test-api.sh.

set -euo pipefail
# shellcheck source=lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"

schemathesis_init 50 20261201
WORK="$ROOT/target/tmp/test-jit"

server_build jit-service iam-jit

rm -rf "$WORK"
mkdir -p "$WORK"
DB="$WORK/iam-jit.db"
TOKEN="$("$SERVER_BIN" seed-admin --email schemathesis-admin@jit.test --token --database "$DB" 2>/dev/null)"
[[ $TOKEN == iamjit_* ]] || { echo "seed-admin did not print a token" >&2; exit 1; }

# Port 0: the kernel picks a free port (no race with other tests); the log names it.
server_start "$WORK" "$LOG_DIR/jit-server.log" \
    env -u IAM_RISK_SCORE_LLM_MODEL -u IAM_JIT_CONFIG IAM_JIT_RATE_LIMIT_PER_MINUTE=0 \
    IAM_JIT_OUTBOX_INTERVAL_SECS=3600 IAM_JIT_JSON_LOGS=1 IAM_JIT_LOG=info,sqlx=warn \
    "$SERVER_BIN" serve --dev --listen 127.0.0.1:0 --database "$DB"
server_wait_addr 's/.*"listen":"\([0-9.:]*\)".*/\1/p' 300 /readyz

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
    schemathesis_run "$junit" "$TOKEN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
        --request-timeout 20 "$@" || rc=$?
}
main=()
only=()
for id in "${lockout[@]}"; do
    main+=(--exclude-operation-id "$id")
    only+=(--include-operation-id "$id")
done
run main "${main[@]}"
# The pass is only meaningful if the admin stayed an admin throughout.
if ! curl -fsS -H "Authorization: Bearer $TOKEN" "http://$SERVER_ADDR/api/v1/reports/users" >/dev/null; then
    echo "the fuzzer's admin token stopped working during the main pass" >&2
    rc=1
fi
run lockout "${only[@]}"

server_stop || rc=1
schemathesis_summary "${junits[@]}"
exit "$rc"
