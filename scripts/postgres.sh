#!/usr/bin/env bash
# scripts/postgres.sh — a throwaway PostgreSQL cluster for the tests (no systemd, no Docker).
#
#   scripts/postgres.sh install   install Debian's postgresql package when initdb is missing
#   scripts/postgres.sh start     start the cluster (creating it once) and print its admin URL
#   scripts/postgres.sh url       print the admin URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/postgres.sh stop      stop it
#
# Data lives in $IAM_JIT_PG_DIR (default target/pg); port $IAM_JIT_PG_PORT (default: 55000-55899,
# derived from the checkout's path).
# Idempotent: `start` on a running cluster only prints the URL. As root the cluster runs as the
# `postgres` user (initdb refuses root); otherwise as the current user. Trust authentication on
# 127.0.0.1 only: this cluster is for tests, never for data.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${IAM_JIT_PG_DIR:-$ROOT/target/pg}"
# One port per checkout (derived from its path), so clusters of several worktrees never clash.
PORT="${IAM_JIT_PG_PORT:-$((55000 + $(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 900))}"
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    [[ -n $d && -x $d/initdb ]] && echo "$d"
}

as_pg() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install() {
    if bindir >/dev/null; then
        return 0
    fi
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    echo "--> installing postgresql (apt-get)" >&2
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postgresql >/dev/null
    bindir >/dev/null || { echo "postgresql installed but initdb not found under /usr/lib/postgresql" >&2; exit 1; }
}

running() {
    local bin
    bin="$(bindir)" || return 1
    [[ -f $DIR/data/postmaster.pid ]] && as_pg "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
    local bin
    bin="$(bindir)" || { echo "PostgreSQL is not installed: run \`scripts/postgres.sh install\` (or scripts/test.sh)" >&2; exit 1; }
    if running; then
        echo "$URL"
        return 0
    fi
    mkdir -p "$DIR"
    if [[ $(id -u) == 0 ]]; then
        chown postgres "$DIR"
        # runuser needs to reach the directory: every parent must be searchable.
        local p="$DIR"
        while [[ $p != / ]]; do
            p="$(dirname "$p")"
            chmod o+x "$p" 2>/dev/null || true
        done
    fi
    if [[ ! -f $DIR/data/PG_VERSION ]]; then
        rm -rf "$DIR/data"
        as_pg "$bin/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=trust -E UTF8 >"$DIR/initdb.log" 2>&1 ||
            { cat "$DIR/initdb.log" >&2; exit 1; }
    fi
    as_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/data/log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/data -c max_connections=300 -c fsync=off -c synchronous_commit=off" \
        start >/dev/null || { tail -n 20 "$DIR/data/log" >&2; exit 1; }
    # Each test makes a database of its own (t_…) and leaves it; the ones of earlier runs go
    # here, when the cluster starts, so target/pg does not grow run after run.
    local db
    for db in $("$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atq \
        -c "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'"); do
        "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -q -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null
    done
    echo "$URL"
}

stop() {
    local bin
    bin="$(bindir)" || return 0
    if running; then
        as_pg "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    url) echo "$URL" ;;
    stop) stop ;;
    *) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
