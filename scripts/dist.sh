#!/usr/bin/env bash
# scripts/dist.sh — build the distribution artifacts here, check them, and install each one
# from its artifact alone on a clean slate, timed.
#
#   scripts/dist.sh
#
# Writes target/dist/:
#   iam-risk-score-vX.Y.Z-x86_64-unknown-linux-gnu.tar.gz (+ .sha256)
#       the CLI, release profile, built with cargo-zigbuild against glibc 2.17 (runs on every
#       x86_64 Linux since 2012: Amazon Linux 2, Ubuntu 14.04+, RHEL/CentOS 7+), packaged by
#       scripts/package-cli.sh with completions and man pages. The release workflow builds
#       static musl archives instead; their musl standard library cannot be installed offline
#       here (rustup's server is not a package registry).
#   iam_risk_score-X.Y.Z-cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl
#       `maturin build --release --zig --compatibility manylinux2014`, checked by
#       `auditwheel show` (it must be manylinux2014-compatible)
#   iam_risk_score-X.Y.Z.tar.gz   the sdist, built back into a wheel from source here
#   iam-risk-score-X.Y.Z.tgz      `npm pack` of the WebAssembly package (risk-wasm/build.sh)
#   install-timings.txt           what the clean installs below took, in seconds
#
# Then each artifact is installed with nothing else: a fresh prefix for the CLI, a fresh venv
# (`pip install --no-index`) for the wheel and the sdist's wheel, an empty npm project with an
# empty cache (`npm install --offline`) for the tarball, and the GitHub Action's default
# install path (action/install.sh, `install: release`) against the CLI archive served over
# HTTP on loopback. Inside a network namespace without a network when `unshare -n` is
# allowed, so no install can reach a registry; the timings file says which.
#
# Tools (pinned, PyPI, in target/venv-dist): maturin, ziglang, cargo-zigbuild, auditwheel.

set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DIST="$TARGET/dist"
VENV="$TARGET/venv-dist"
say() { printf '  [dist] %s\n' "$*"; }
die() { printf 'dist: error: %s\n' "$*" >&2; exit 1; }

VERSION="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)"
[[ -n "$VERSION" ]] || die "no [workspace.package] version in Cargo.toml"
HOST=x86_64-unknown-linux-gnu
[[ "$(uname -m)" == x86_64 ]] || die "this script builds x86_64 Linux artifacts; this machine is $(uname -m)"

# ---------------------------------------------------------------------------------------------
# The install phase (re-entered inside `unshare -n`): every install from its artifact only.
# ---------------------------------------------------------------------------------------------
if [[ "${1:-}" == --install-phase ]]; then
    NETWORK="$2"
    ip link set lo up 2>/dev/null || true
    SLATE="$(mktemp -d)"
    SERVER_PID=""
    trap '[[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$SLATE"' EXIT
    export HOME="$SLATE/home" PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
    export npm_config_cache="$SLATE/npm-cache" npm_config_userconfig="$SLATE/npmrc"
    mkdir -p "$HOME"
    now() { date +%s.%N; }
    secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
    TIMINGS="$DIST/install-timings.txt"
    {
        echo "# scripts/dist.sh, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "# $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); network during installs: $NETWORK"
    } >"$TIMINGS"
    policy="$ROOT/examples/passrole-lambda.json"

    say "clean install: the CLI archive into a fresh prefix"
    archive="iam-risk-score-v$VERSION-$HOST.tar.gz"
    t0="$(now)"
    (
        cd "$SLATE" && mkdir -p cli/bin && cp "$DIST/$archive" "$DIST/$archive.sha256" cli/ && cd cli
        sha256sum -c --quiet "$archive.sha256"
        tar -xzf "$archive"
        cp "iam-risk-score-v$VERSION-$HOST/iam-risk-score" bin/
        bin/iam-risk-score --version
        bin/iam-risk-score --format json "$policy" >out.json || [[ $? -eq 1 ]]
        python3 -c 'import json, sys; r = json.load(open("out.json")); assert r["score"] >= 7, r["score"]'
    )
    t1="$(now)"
    echo "cli-archive $(secs "$t0" "$t1") s  (sha256sum -c, tar -x, --version, score one policy)" >>"$TIMINGS"

    wheel="$(ls "$DIST"/iam_risk_score-"$VERSION"-*manylinux*.whl)"
    say "clean install: $(basename "$wheel") into a fresh venv"
    t0="$(now)"
    python3 -m venv "$SLATE/venv"
    "$SLATE/venv/bin/pip" install --quiet --no-index --no-cache-dir "$wheel"
    "$SLATE/venv/bin/python" - "$policy" <<'PY'
import json, sys, warnings
import iam_risk_score
r = iam_risk_score.score(json.load(open(sys.argv[1])))
assert r["score"] >= 7 and r["findings"], r
with warnings.catch_warnings(record=True):
    warnings.simplefilter("always")
    from iam_jit.review import analyze_policy  # the 0.1.0 import still works
print("wheel:", iam_risk_score.__version__, "score", r["score"])
PY
    "$SLATE/venv/bin/iam-risk-score" --version
    t1="$(now)"
    echo "wheel       $(secs "$t0" "$t1") s  (python3 -m venv, pip install --no-index, import and score)" >>"$TIMINGS"

    sdist_wheel="$(ls "$DIST"/sdist-build/iam_risk_score-"$VERSION"-*.whl)"
    say "clean install: the wheel built from the sdist into a fresh venv"
    python3 -m venv "$SLATE/venv-sdist"
    "$SLATE/venv-sdist/bin/pip" install --quiet --no-index --no-cache-dir "$sdist_wheel"
    "$SLATE/venv-sdist/bin/python" -c "import iam_risk_score as m; assert m.score({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]})['score'] == 10"

    tgz="$DIST/iam-risk-score-$VERSION.tgz"
    say "clean install: $(basename "$tgz") into an empty npm project (empty cache, --offline)"
    t0="$(now)"
    mkdir -p "$SLATE/npm-project"
    (
        cd "$SLATE/npm-project"
        printf '{"name": "clean-install", "version": "1.0.0", "private": true, "type": "module"}\n' >package.json
        npm install --offline --no-audit --no-fund --loglevel=error "$tgz"
        node --input-type=module -e '
            import { readFileSync } from "node:fs";
            import { initSync, score } from "iam-risk-score";
            initSync({ module: readFileSync(new URL("risk_wasm_bg.wasm", import.meta.resolve("iam-risk-score"))) });
            const r = score(readFileSync(process.argv[1], "utf8"));
            if (r.score < 7) throw new Error(`score ${r.score}`);
            console.log("npm: score", r.score);
        ' "$policy"
    )
    t1="$(now)"
    echo "npm         $(secs "$t0" "$t1") s  (npm install --offline of the tarball, import and score)" >>"$TIMINGS"

    say "the GitHub Action's default install (install: release) from the archive over HTTP"
    mkdir -p "$SLATE/www/v$VERSION"
    cp "$DIST/$archive" "$DIST/$archive.sha256" "$SLATE/www/v$VERSION/"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    python3 -m http.server --bind 127.0.0.1 --directory "$SLATE/www" "$port" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
    mkdir -p "$SLATE/runner"
    : >"$SLATE/runner/path"
    t0="$(now)"
    env -i PATH=/usr/bin:/bin HOME="$HOME" GITHUB_ACTION_PATH="$ROOT/action" GITHUB_PATH="$SLATE/runner/path" \
        RUNNER_TEMP="$SLATE/runner" RUNNER_OS=Linux RUNNER_ARCH=X64 INPUT_INSTALL=release INPUT_VERSION= \
        INPUT_RELEASE_URL="http://127.0.0.1:$port" INPUT_TARGET="$HOST" \
        bash --noprofile --norc -eo pipefail "$ROOT/action/install.sh"
    t1="$(now)"
    [[ -x "$(cat "$SLATE/runner/path")/iam-risk-score" ]] || die "the Action's install put no iam-risk-score on GITHUB_PATH"
    echo "action      $(secs "$t0" "$t1") s  (action/install.sh install: release: download, verify, unpack, --version)" >>"$TIMINGS"
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
TOOLS=("maturin==1.16.0" "ziglang==0.17.1" "cargo-zigbuild==0.24.1" "auditwheel==6.8.2")
STAMP="$VENV/.tools"
if [[ ! -x "$VENV/bin/python" || "$(cat "$STAMP" 2>/dev/null)" != "${TOOLS[*]}" ]]; then
    say "installing ${TOOLS[*]} into ${VENV#"$ROOT"/} (PyPI)"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${TOOLS[@]}"
    echo "${TOOLS[*]}" >"$STAMP"
fi
# cargo-zigbuild and maturin find zig as `python3 -m ziglang` of this venv.
export PATH="$VENV/bin:$PATH"
mkdir -p "$DIST"
rm -f "$DIST"/iam-risk-score-v*-"$HOST".tar.gz* "$DIST"/iam_risk_score-*.whl "$DIST"/iam_risk_score-*.tar.gz \
    "$DIST"/iam-risk-score-*.tgz "$DIST"/install-timings.txt
rm -rf "$DIST/sdist-build"

# ---------------------------------------------------------------------------------------------
# The CLI archive
# ---------------------------------------------------------------------------------------------
say "cargo zigbuild --release -p risk-cli --target $HOST.2.17 (glibc 2.17)"
cargo zigbuild --quiet --release --locked -p risk-cli --bin iam-risk-score --target "$HOST.2.17"
CLI="$TARGET/$HOST/release/iam-risk-score"
newest_glibc="$(objdump -T "$CLI" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -k3,3n -u | tail -1)"
say "$CLI needs at most $newest_glibc"
case "$newest_glibc" in
    GLIBC_2.[0-9] | GLIBC_2.1[0-7] | GLIBC_2.[0-9].* | GLIBC_2.1[0-7].*) ;;
    *) die "the CLI needs $newest_glibc, newer than glibc 2.17" ;;
esac
bash scripts/package-cli.sh --binary "$CLI" --target "$HOST" --out "$DIST" >/dev/null

# ---------------------------------------------------------------------------------------------
# The wheel (manylinux2014) and the sdist
# ---------------------------------------------------------------------------------------------
say "maturin build --release --zig --compatibility manylinux2014"
# Its own target directory: maturin's zig setup and cargo-zigbuild's fingerprint the shared
# crates differently, so in one directory each build recompiled ~150 crates the other had built.
CARGO_TARGET_DIR="$TARGET/dist-wheel" \
    maturin build --quiet --release --locked --zig --compatibility manylinux2014 -m risk-py/Cargo.toml -o "$DIST" \
        >"$DIST/maturin.log" 2>&1 || { tail -30 "$DIST/maturin.log" >&2; die "maturin build failed (log: $DIST/maturin.log)"; }
wheel="$(ls "$DIST"/iam_risk_score-"$VERSION"-*.whl)"
case "$wheel" in *manylinux_2_17_x86_64*) ;; *) die "not a manylinux2014 wheel: $wheel" ;; esac
auditwheel show "$wheel" | tee "$DIST/auditwheel.txt" | sed 's/^/    /'
tr -s ' \n' ' ' <"$DIST/auditwheel.txt" | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' \
    || die "auditwheel does not find $(basename "$wheel") manylinux_2_17 (manylinux2014) compatible"

say "maturin sdist, then a wheel built from it alone (pip wheel --no-index, debug profile)"
maturin sdist -m risk-py/Cargo.toml -o "$DIST" >/dev/null
sdist="$DIST/iam_risk_score-$VERSION.tar.gz"
[[ -f "$sdist" ]] || die "no sdist $sdist"
# Rebuilt from the unpacked sdist only (no workspace around it); the debug profile keeps it
# quick, the sources and manifests are what this checks.
# NOTE: in an empty target directory every time. The sdist's files all carry one fixed
# (reproducible) mtime, years old, and cargo names a workspace's artifacts by paths relative to
# the workspace root, so in a reused directory it took the previous run's artifacts as fresh
# and built against a stale catalog (or could pass a broken sdist on old code).
rm -rf "$TARGET/sdist-target"
MATURIN_PEP517_ARGS="--profile dev" CARGO_TARGET_DIR="$TARGET/sdist-target" \
    pip wheel --quiet --no-deps --no-index --no-build-isolation --no-cache-dir "$sdist" -w "$DIST/sdist-build" \
    >"$DIST/sdist-build.log" 2>&1 || { tail -30 "$DIST/sdist-build.log" >&2; die "the sdist does not build (log: $DIST/sdist-build.log)"; }

# ---------------------------------------------------------------------------------------------
# The npm package
# ---------------------------------------------------------------------------------------------
say "bash risk-wasm/build.sh; npm pack"
bash risk-wasm/build.sh >"$DIST/wasm-build.log" 2>&1 || { tail -30 "$DIST/wasm-build.log" >&2; die "risk-wasm/build.sh failed"; }
npm pack --silent ./risk-wasm/pkg --pack-destination "$DIST" >/dev/null
[[ -f "$DIST/iam-risk-score-$VERSION.tgz" ]] || die "npm pack wrote no iam-risk-score-$VERSION.tgz"

# ---------------------------------------------------------------------------------------------
# Clean installs, without a network when possible
# ---------------------------------------------------------------------------------------------
if unshare -n true 2>/dev/null; then
    unshare -n bash "$0" --install-phase "none (unshare -n: loopback only)"
else
    say "note: unshare -n is not allowed here; installs run with --no-index/--offline instead"
    bash "$0" --install-phase "available but unused (--no-index, --offline)"
fi
say "artifacts in ${DIST#"$ROOT"/}:"
(cd "$DIST" && ls -l -- *.tar.gz *.whl *.tgz | awk '{printf "    %10d  %s\n", $5, $9}')
say "clean installs (seconds):"
sed 's/^/    /' "$DIST/install-timings.txt"
