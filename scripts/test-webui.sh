#!/usr/bin/env bash
# scripts/test-webui.sh — iam-jit's web UI end to end in headless Chromium.
#
#   bash scripts/test-webui.sh
#
# Installs what is missing (Debian's chromium; the npm dev dependencies of
# jit-service/webui-tests: playwright-core and axe-core, from its package-lock.json), builds
# the debug `iam-jit`, starts `iam-jit serve --dev` on a free port with a throwaway SQLite
# database, and runs jit-service/webui-tests/e2e.test.mjs against it: sign-in with the dev
# link, live score in the browser (the engine's WebAssembly build from risk-wasm/pkg, built by
# risk-wasm/build.sh), submit, approval from the queue, assume-role snippets, the diff of an
# edit, the no-JavaScript path, the admin pages (tokens, approval policy, …), a tier that needs
# two approvals, axe-core on every page, phone-width layout. Screenshots: target/test-logs/webui/;
# server log: target/test-logs/webui-server.log; TAP: target/test-logs/webui.tap.

set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HERE="$ROOT/jit-service/webui-tests"
LOG_DIR="$ROOT/target/test-logs"
mkdir -p "$LOG_DIR/webui"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/iam-jit"

say() { printf '  [test-webui] %s\n' "$*"; }

if [[ ! -x "$CHROMIUM" ]]; then
    say "installing Debian's chromium (apt-get)"
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
fi
command -v npm >/dev/null 2>&1 || { say "error: npm not found: install Node.js 20 or newer"; exit 127; }
if [[ ! -d "$HERE/node_modules/playwright-core" || ! -d "$HERE/node_modules/axe-core" ]]; then
    say "installing npm dev dependencies (npm ci)"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

say "cargo test --workspace --no-run (builds iam-jit)"
# The workspace's test build (a no-op after `cargo test --workspace`): `cargo build -p` would
# resolve features differently, recompile ~60-80 crates and relink the workspace's binaries.
cargo test --quiet --workspace --no-run
# The engine's browser build the editor scores with (a no-op when risk-wasm/pkg is current).
say "bash risk-wasm/build.sh (the engine's WebAssembly build, served at /ui/wasm/)"
bash risk-wasm/build.sh >"$LOG_DIR/webui-wasm-build.log" 2>&1 || { cat "$LOG_DIR/webui-wasm-build.log" >&2; exit 1; }

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
DB="sqlite://$WORK/jit.db"
URL="http://127.0.0.1:$PORT"
say "iam-jit serve --dev on $URL (log: target/test-logs/webui-server.log)"
IAM_JIT_WEBUI_WASM_DIR="$ROOT/risk-wasm/pkg" "$BIN" serve --dev --listen "127.0.0.1:$PORT" --database "$DB" >"$LOG_DIR/webui-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    if curl -fsS "$URL/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$LOG_DIR/webui-server.log" >&2
        say "error: the server exited"
        exit 1
    fi
    sleep 0.1
done
curl -fsS "$URL/readyz" >/dev/null
# The dev server made admin@localhost; the test creates its users with an admin token.
ADMIN_TOKEN="$("$BIN" token create --user email:admin@localhost --database "$DB" | grep -o 'iamjit_[A-Za-z0-9_-]*' | head -1)"
[[ -n "$ADMIN_TOKEN" ]] || { say "error: no admin token"; exit 1; }

say "node --test jit-service/webui-tests/e2e.test.mjs"
rc=0
JIT_URL="$URL" ADMIN_TOKEN="$ADMIN_TOKEN" CHROMIUM="$CHROMIUM" node --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$LOG_DIR/webui.tap" \
    "$HERE/e2e.test.mjs" || rc=$?
say "screenshots in target/test-logs/webui/"
exit "$rc"
