#!/usr/bin/env bash
# action/install.sh — put `iam-risk-score` on PATH for the next steps (INPUT_INSTALL: cargo, pip
# or none). Only package registries are contacted: crates.io through cargo, PyPI through pip.
set -euo pipefail

bin_dir="${RUNNER_TEMP:-/tmp}/iam-risk-score/bin"
case "${INPUT_INSTALL:-cargo}" in
    none) ;;
    cargo)
        command -v cargo >/dev/null || { echo "::error title=iam-risk-score::install: cargo needs Rust on the runner (or use install: pip / none)"; exit 2; }
        # The action's own checkout is the source: the CLI matches the action's ref exactly.
        # Without default features: no LLM client, which the action never uses.
        cargo install --locked --no-default-features --path "$GITHUB_ACTION_PATH/../cli" --root "${bin_dir%/bin}"
        echo "$bin_dir" >>"$GITHUB_PATH"
        export PATH="$bin_dir:$PATH"
        ;;
    pip)
        python3 -m venv "${bin_dir%/bin}"
        "$bin_dir/pip" install --quiet "iam-risk-score${INPUT_VERSION:+==$INPUT_VERSION}"
        echo "$bin_dir" >>"$GITHUB_PATH"
        export PATH="$bin_dir:$PATH"
        ;;
    *)
        echo "::error title=iam-risk-score::install must be cargo, pip or none, not \`${INPUT_INSTALL}\`"
        exit 2
        ;;
esac
if ! iam-risk-score scan --help >/dev/null 2>&1; then
    echo "::error title=iam-risk-score::the installed iam-risk-score has no \`scan\` command (iam-risk-score 0.1 is the predecessor; install 0.2 or newer)"
    exit 2
fi
iam-risk-score --version
