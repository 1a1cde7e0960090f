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
# Idempotent: schemathesis comes from the venv of scripts/jit-venv.sh (created once); the
# server log is left in target/test-logs/api-server.log. Ends with one line
# `schemathesis: N passed, N failed` (operations). The harness (build, start,
# wait, fuzz, stop, sum up) is scripts/lib/server.sh, shared with scripts/test-jit.sh.

set -euo pipefail
# shellcheck source=lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"

schemathesis_init 100 20261128
KEY="schemathesis-$$"

server_build scorer-api iam-risk-score-api

server_start "$ROOT" "$LOG_DIR/api-server.log" \
    env IAM_RISK_SCORE_API_KEY="$KEY" IAM_RISK_SCORE_RATE_PER_MINUTE=0 IAM_RISK_SCORE_LLM_MODEL= \
    "$SERVER_BIN" --listen 127.0.0.1:0
server_wait_addr 's/.*"addr":"\([0-9.:]*\)".*"listening".*/\1/p; s/.*"message":"listening".*"addr":"\([0-9.:]*\)".*/\1/p' 100

junit="$LOG_DIR/schemathesis-junit.xml"
rc=0
schemathesis_run "$junit" "$KEY" --checks all --exclude-checks positive_data_acceptance --request-timeout 10 || rc=$?

server_stop || rc=1
schemathesis_summary "$junit"
exit "$rc"
