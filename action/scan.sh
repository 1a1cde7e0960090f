#!/usr/bin/env bash
# action/scan.sh — the Action's logic, run by action.yml's "Scan IAM policies" step and by the
# end-to-end test exactly as GitHub runs it. Reads INPUT_* (set from the inputs via `env:`) and
# GitHub's own variables (GITHUB_EVENT_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, …); runs one
# `iam-risk-score scan`, which prints annotations, writes the step outputs, the summary and
# the SARIF file.
#
# Exit status: 0 passed, 1 a failing condition was met, 2 bad inputs or unreadable policies.
set -uo pipefail
set -f # paths are literal: never glob-expand an input

die() {
    echo "::error title=iam-risk-score::$1"
    exit 2
}

bin="${IAM_RISK_SCORE:-iam-risk-score}"
tmp="$(mktemp -d "${RUNNER_TEMP:-/tmp}/iam-risk-score.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Paths: split on whitespace (inputs are multi-line friendly), never evaluated.
read -r -d '' -a paths <<<"${INPUT_PATHS:-.}" || true
((${#paths[@]})) || paths=(.)

# The base: the input, else the pull request's base commit from the event, else nothing.
base="${INPUT_BASE_REF:-}"
if [[ -z "$base" && -n "${GITHUB_EVENT_PATH:-}" && -f "${GITHUB_EVENT_PATH}" ]]; then
    base="$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(((e.get("pull_request") or {}).get("base") or {}).get("sha") or "")' "$GITHUB_EVENT_PATH" 2>/dev/null || true)"
fi
if [[ -z "$base" && -n "${GITHUB_BASE_REF:-}" ]]; then
    base="origin/${GITHUB_BASE_REF}"
fi
if [[ -n "$base" ]]; then
    [[ "$base" != -* ]] || die "base-ref must be a git revision, not \`$base\`"
    if ! git cat-file -e "${base}^{commit}" 2>/dev/null; then
        # Shallow checkouts (actions/checkout's default) lack the base: fetch just that commit.
        git fetch --no-tags --quiet --depth=1 origin "$base" || die "cannot fetch the base revision \`$base\`"
        git cat-file -e "${base}^{commit}" 2>/dev/null || base="FETCH_HEAD"
    fi
fi

args=(scan "${paths[@]}")
[[ -z "$base" ]] || args+=(--base "$base")

if [[ -n "${INPUT_THRESHOLD:-}" ]]; then
    [[ "$INPUT_THRESHOLD" =~ ^([1-9]|10)$ ]] || die "threshold must be a number from 1 to 10, not \`$INPUT_THRESHOLD\`"
    args+=(--threshold "$INPUT_THRESHOLD")
else
    # The input's documented default is "off"; the CLI's own default (5) would gate every
    # changed policy scoring 5 or more.
    args+=(--no-threshold)
fi
case "${INPUT_ALLOW_EMPTY:-false}" in
    true) args+=(--allow-empty) ;;
    false) ;;
    *) die "allow-empty must be true or false, not \`$INPUT_ALLOW_EMPTY\`" ;;
esac
case "${INPUT_FAIL_ON_INCREASE:-true}" in
    true) [[ -z "$base" ]] || args+=(--fail-on-increase) ;;
    false) ;;
    *) die "fail-on-increase must be true or false, not \`$INPUT_FAIL_ON_INCREASE\`" ;;
esac
cats="${INPUT_FAIL_ON_CATEGORY:-}"
read -r -d '' -a categories <<<"${cats//,/ }" || true
for c in "${categories[@]}"; do
    args+=(--fail-on-category "$c")
done

summary=false annotations=false sarif=false json=false
fmts="${INPUT_FORMATS:-summary,annotations,sarif}"
read -r -d '' -a formats <<<"${fmts//,/ }" || true
for f in "${formats[@]}"; do
    case "$f" in
        summary) summary=true ;;
        annotations) annotations=true ;;
        sarif) sarif=true ;;
        json) json=true ;;
        *) die "unknown format \`$f\` in formats (use summary, annotations, sarif, json)" ;;
    esac
done

# Annotations are workflow commands on standard output; the github renderer also writes the
# step outputs, so it runs even when annotations are off (into a file nobody reads).
if $annotations; then
    args+=(--format github)
else
    args+=(--format human --output "github=$tmp/annotations.txt")
fi
$summary && args+=(--output "markdown=$tmp/summary.md")
$sarif && args+=(--output "sarif=${INPUT_SARIF_FILE:-iam-risk-score.sarif}")
$json && args+=(--output "json=${INPUT_JSON_FILE:-iam-risk-score.json}")

echo "iam-risk-score ${args[*]}"
rc=0
"$bin" "${args[@]}" || rc=$?

if $summary && [[ -f "$tmp/summary.md" && -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    cat "$tmp/summary.md" >>"$GITHUB_STEP_SUMMARY"
fi
if [[ -n "${GITHUB_OUTPUT:-}" ]] && $sarif; then
    echo "sarif-file=${INPUT_SARIF_FILE:-iam-risk-score.sarif}" >>"$GITHUB_OUTPUT"
fi
case "$rc" in
    0) ;;
    1) echo "::error title=iam-risk-score::IAM policy risk gate failed (see the job summary)" ;;
    *) echo "::error title=iam-risk-score::iam-risk-score exited with status $rc" ;;
esac
exit "$rc"
