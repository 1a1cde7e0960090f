#!/usr/bin/env bash
# Format the workspace: `scripts/fmt.sh` rewrites, `scripts/fmt.sh --check` only checks.
#
# `cargo fmt` formats the files it reaches through `mod` declarations; the rule files in
# risk-core/src/rules/ are declared by code that risk-core/build.rs generates (so that a new
# rule needs no `mod` line), which rustfmt cannot see. They are passed to rustfmt by name.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all "$@"
rustfmt --edition 2021 "$@" risk-core/src/rules/*.rs
