#!/usr/bin/env bash
# risk-wasm/build.sh — build the WASM package into risk-wasm/pkg/ (wasm-bindgen `web` target,
# optimised with wasm-opt -Oz; package.json and README from risk-wasm/npm/, so pkg/ is the npm
# package `iam-risk-score`) and the playground into risk-wasm/playground/dist/.
#
#   bash risk-wasm/build.sh
#
# Installs what is missing, then builds; safe to re-run (unchanged inputs are not rebuilt):
#   - the wasm32-unknown-unknown target (rustup)
#   - wasm-bindgen-cli at exactly the version risk-wasm/Cargo.toml pins (cargo install)
#   - npm dev dependencies from package-lock.json: binaryen@132 (wasm-opt; Debian's 108 breaks
#     wasm-bindgen output), typescript, playwright-core
# Environment: RULES_DOC_URL — where rule codes link (default: docs/rules.md on GitHub).
# Prints the .wasm size raw, gzip -9 and brotli; writes them to target/wasm-size.txt.

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

say() { printf '  [build.sh] %s\n' "$*"; }
die() { printf '  [build.sh] error: %s\n' "$*" >&2; exit 1; }

# The version risk-wasm/Cargo.toml pins with `=`: the CLI must match the crate exactly.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' "$HERE/Cargo.toml")"
[[ -n "$WASM_BINDGEN_VERSION" ]] || die 'risk-wasm/Cargo.toml must pin wasm-bindgen as `wasm-bindgen = "=X.Y.Z"`'

ensure_target() {
    command -v rustup >/dev/null 2>&1 || die "rustup not found: install the wasm32-unknown-unknown target by hand"
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        say "adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
}

ensure_wasm_bindgen() {
    local have=""
    if command -v wasm-bindgen >/dev/null 2>&1; then
        have="$(wasm-bindgen --version | awk '{print $2}')"
    fi
    if [[ "$have" != "$WASM_BINDGEN_VERSION" ]]; then
        say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (found: ${have:-none}); takes a few minutes"
        # No --locked: its lockfile can pin versions the registry mirror lacks. No default
        # features: they only add TLS for the test runner's downloads, which we never use.
        cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --no-default-features
    fi
}

ensure_npm() {
    command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20 or newer"
    local want stamp="$HERE/node_modules/.risk-wasm-lock"
    want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        say "installing npm dev dependencies (npm ci)"
        (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" >"$stamp"
    fi
}

build_wasm() {
    say "cargo build -p risk-wasm --target wasm32-unknown-unknown --profile wasm-release"
    (cd "$ROOT" && cargo build -p risk-wasm --lib --target wasm32-unknown-unknown --profile wasm-release)
    local input="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/risk_wasm.wasm"
    local stamp="$HERE/pkg/.built-from" want
    # wasm-opt takes ~15 s; skip wasm-bindgen and wasm-opt when nothing they read changed.
    want="$(cat "$input" "$HERE/package-lock.json" "$HERE/build.sh" | sha256sum | cut -d' ' -f1) $WASM_BINDGEN_VERSION"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$HERE/pkg/risk_wasm_bg.wasm" ]]; then
        say "pkg/ is up to date"
    else
        rm -rf "$HERE/pkg"
        say "wasm-bindgen --target web"
        wasm-bindgen --target web --out-dir "$HERE/pkg" --out-name risk_wasm "$input"
        say "wasm-opt -Oz (npm binaryen)"
        # The features rustc enables by default for wasm32-unknown-unknown; wasm-opt must keep them.
        "$HERE/node_modules/.bin/wasm-opt" -Oz \
            --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
            --enable-sign-ext --enable-reference-types --enable-multivalue \
            --strip-debug --strip-producers --strip-target-features \
            "$HERE/pkg/risk_wasm_bg.wasm" -o "$HERE/pkg/risk_wasm_bg.opt.wasm"
        mv "$HERE/pkg/risk_wasm_bg.opt.wasm" "$HERE/pkg/risk_wasm_bg.wasm"
        echo "$want" >"$stamp"
    fi
    write_npm_package
    report_size
}

# The npm package: pkg/ gets package.json (risk-wasm/npm/package.json with the workspace
# version), the npm README and the catalog data's licence. Always rewritten (cheap), so a
# template change never waits for a wasm rebuild; the output depends only on its inputs.
write_npm_package() {
    local version
    version="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml")"
    [[ -n "$version" ]] || die "no version in [workspace.package] of Cargo.toml"
    node -e '
        const fs = require("fs");
        const [template, out, version] = process.argv.slice(1);
        const pkg = JSON.parse(fs.readFileSync(template, "utf8"));
        pkg.version = version;
        fs.writeFileSync(out, JSON.stringify(pkg, null, 2) + "\n");
    ' "$HERE/npm/package.json" "$HERE/pkg/package.json" "$version"
    cp "$HERE/npm/README.md" "$HERE/pkg/README.md"
    cp "$ROOT/catalog/data/LICENSE-iam-data.txt" "$HERE/pkg/LICENSE-iam-data.txt"
    cp "$ROOT/LICENSE" "$HERE/pkg/LICENSE"
    say "npm package iam-risk-score@$version in pkg/ (template: risk-wasm/npm/)"
}

report_size() {
    local wasm="$HERE/pkg/risk_wasm_bg.wasm" raw gz br
    raw="$(stat -c %s "$wasm")"
    gz="$(gzip -9 -c "$wasm" | wc -c)"
    br="$(node -e 'const z=require("zlib");const b=require("fs").readFileSync(process.argv[1]);process.stdout.write(String(z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length))' "$wasm")"
    mkdir -p "$TARGET_DIR"
    printf 'raw %s\ngzip %s\nbrotli %s\n' "$raw" "$gz" "$br" >"$TARGET_DIR/wasm-size.txt"
    say "$(printf 'risk_wasm_bg.wasm: %s bytes raw, %s gzip -9, %s brotli' "$raw" "$gz" "$br")"
}

build_playground() {
    local src="$HERE/playground" dist="$HERE/playground/dist"
    say "playground -> playground/dist/"
    rm -rf "$dist"
    mkdir -p "$dist/pkg"
    cp "$HERE/pkg/risk_wasm.js" "$HERE/pkg/risk_wasm_bg.wasm" "$HERE/pkg/risk_wasm.d.ts" "$dist/pkg/"
    # Type-checks the playground against the generated declarations, then emits ES modules.
    (cd "$src" && "$HERE/node_modules/.bin/tsc" -p tsconfig.json)
    node "$src/finish.mjs" "$dist"
}

ensure_target
ensure_wasm_bindgen
ensure_npm
build_wasm
build_playground
say "done: risk-wasm/pkg/ and risk-wasm/playground/dist/"
