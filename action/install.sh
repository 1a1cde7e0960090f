#!/usr/bin/env bash
# action/install.sh — put `iam-risk-score` on PATH for the next steps.
#
# INPUT_INSTALL:
#   release (default)  download the release archive of the action's own version for this
#                      runner, verify its SHA-256 against the release's .sha256 file, unpack it
#                      (seconds; no toolchain needed)
#   pip                install the `iam-risk-score` wheel from PyPI into a venv
#   cargo              build the action's own checkout with `cargo install` (minutes; needs Rust)
#   none               use the `iam-risk-score` already on PATH
# INPUT_VERSION: the version to install (release, pip); empty: the action's own version (the
#   workspace version in the action's checkout), so `uses: …/action@v0.2.0` runs 0.2.0.
# INPUT_RELEASE_URL: where the release archives are; empty:
#   https://github.com/$GITHUB_ACTION_REPOSITORY/releases/download (a mirror or GHES works too).
#   The archive is <url>/v<version>/iam-risk-score-v<version>-<target>.tar.gz (.zip on Windows).
# INPUT_TARGET: the archive's target triple; empty: the runner's (RUNNER_OS, RUNNER_ARCH).
#
# Nothing falls back silently: a failed download says how to build instead (`install: cargo`).
set -euo pipefail

err() { echo "::error title=iam-risk-score::install: $*"; exit 2; }

prefix="${RUNNER_TEMP:-/tmp}/iam-risk-score"
bin_dir="$prefix/bin"
action_version() {
    sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$GITHUB_ACTION_PATH/../Cargo.toml" 2>/dev/null
}
version="${INPUT_VERSION:-}"
version="${version#v}"
if [[ -z "$version" && "${INPUT_INSTALL:-release}" != none && "${INPUT_INSTALL:-release}" != cargo ]]; then
    version="$(action_version)"
    [[ -n "$version" ]] || err "no version given and none found in the action's Cargo.toml; set the \`version\` input"
fi
if [[ -n "$version" && ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][A-Za-z0-9.-]+)?$ ]]; then
    err "version must look like 0.2.0, not \`$version\`"
fi

sha256_of() {
    if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

install_release() {
    local target="${INPUT_TARGET:-}"
    if [[ -z "$target" ]]; then
        case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
            Linux/X64) target=x86_64-unknown-linux-musl ;;
            Linux/ARM64) target=aarch64-unknown-linux-musl ;;
            macOS/X64) target=x86_64-apple-darwin ;;
            macOS/ARM64) target=aarch64-apple-darwin ;;
            Windows/X64) target=x86_64-pc-windows-msvc ;;
            *) err "no release binary for runner ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}; use install: pip or cargo, or set \`target\`" ;;
        esac
    fi
    [[ "$target" =~ ^[A-Za-z0-9_.-]+$ ]] || err "target must be a target triple, not \`$target\`"
    local base="${INPUT_RELEASE_URL:-}"
    if [[ -z "$base" ]]; then
        [[ -n "${GITHUB_ACTION_REPOSITORY:-}" ]] || err "GITHUB_ACTION_REPOSITORY is unset; set \`release-url\`"
        base="${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_ACTION_REPOSITORY/releases/download"
    fi
    [[ "$base" =~ ^https?://[^[:space:]]+$ ]] || err "release-url must be an http(s) URL, not \`$base\`"
    local ext=tar.gz exe=iam-risk-score
    if [[ "$target" == *windows* ]]; then ext=zip exe=iam-risk-score.exe; fi
    local name="iam-risk-score-v$version-$target"
    local url="${base%/}/v$version/$name.$ext"
    local work
    work="$(mktemp -d)"
    echo "downloading $url"
    if ! curl -fsSL --retry 3 --connect-timeout 10 -o "$work/$name.$ext" "$url" \
        || ! curl -fsSL --retry 3 --connect-timeout 10 -o "$work/$name.$ext.sha256" "$url.sha256"; then
        err "could not download $url (and its .sha256): is v$version released for $target? \`install: cargo\` builds from the action's source instead"
    fi
    local want got
    want="$(tr -d '\r' <"$work/$name.$ext.sha256" | awk 'NR == 1 {print $1}')"
    [[ "$want" =~ ^[0-9a-f]{64}$ ]] || err "$url.sha256 holds no SHA-256"
    got="$(sha256_of "$work/$name.$ext")"
    [[ "$got" == "$want" ]] || err "checksum mismatch for $name.$ext: expected $want, got $got (nothing was installed)"
    echo "sha256 $got  $name.$ext (verified)"
    rm -rf "$prefix/$name"
    mkdir -p "$prefix" "$bin_dir"
    if [[ "$ext" == zip ]]; then
        unzip -q "$work/$name.$ext" -d "$prefix"
    else
        tar -xzf "$work/$name.$ext" -C "$prefix"
    fi
    [[ -f "$prefix/$name/$exe" ]] || err "$name.$ext has no $name/$exe"
    cp "$prefix/$name/$exe" "$bin_dir/$exe"
    chmod 0755 "$bin_dir/$exe"
    rm -rf "$work"
}

case "${INPUT_INSTALL:-release}" in
    none) ;;
    release)
        install_release
        echo "$bin_dir" >>"$GITHUB_PATH"
        export PATH="$bin_dir:$PATH"
        ;;
    cargo)
        command -v cargo >/dev/null || err "cargo needs Rust on the runner (or use install: release / pip / none)"
        # The action's own checkout is the source: the CLI matches the action's ref exactly.
        # Without default features: no LLM client, which the action never uses.
        cargo install --locked --no-default-features --path "$GITHUB_ACTION_PATH/../cli" --root "$prefix"
        echo "$bin_dir" >>"$GITHUB_PATH"
        export PATH="$bin_dir:$PATH"
        ;;
    pip)
        python3 -m venv "$prefix"
        [[ -d "$prefix/Scripts" ]] && bin_dir="$prefix/Scripts" # a Windows venv
        "$bin_dir/python" -m pip install --quiet --disable-pip-version-check "iam-risk-score==$version"
        echo "$bin_dir" >>"$GITHUB_PATH"
        export PATH="$bin_dir:$PATH"
        ;;
    *)
        err "install must be release, pip, cargo or none, not \`${INPUT_INSTALL}\`"
        ;;
esac
if ! iam-risk-score scan --help >/dev/null 2>&1; then
    err "the installed iam-risk-score has no \`scan\` command (iam-risk-score 0.1 is the predecessor; install 0.2 or newer)"
fi
installed="$(iam-risk-score --version)"
echo "$installed"
if [[ -n "$version" && "${INPUT_INSTALL:-release}" != none && "$installed" != *" $version"* ]]; then
    err "asked for $version but got \`$installed\`"
fi
