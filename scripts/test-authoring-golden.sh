#!/usr/bin/env bash
# scripts/test-authoring-golden.sh — the policy writer against the real policy_sentry.
#
#   scripts/test-authoring-golden.sh     regenerate policy_sentry's output for every fixture and compare
#
# Idempotent: the venv (target/venv-ps, under $CARGO_TARGET_DIR when set) is created once with the
# pinned policy_sentry from PyPI and reused. For every template in risk-core/tests/fixtures/authoring/
# (*.yml, policy_sentry's own examples) it rewrites NAME.json (the template as JSON, read by the core's
# tests) and NAME.policy_sentry.json (`policy_sentry write-policy --input-file NAME.yml`), then runs
# `iam-risk-score write-policy --template NAME.yml --format json` and compares the action sets. It fails
# on any difference not in the tables of docs/authoring.md ("Compared with policy_sentry"), and on a
# documented difference that no longer occurs. `git status` then shows whether the committed outputs
# moved (they should not, with the version pinned).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# NOTE: pinned; docs/authoring.md's table and the committed *.policy_sentry.json are for this version.
PS_VERSION="0.15.2"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/venv-ps"
FIXTURES="$ROOT/risk-core/tests/fixtures/authoring"

case "${1:-}" in
    "") ;;
    -h | --help) sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripts/test-authoring-golden.sh: unknown argument \`$1\`" >&2; exit 2 ;;
esac

if [[ ! -x "$VENV/bin/policy_sentry" ]] || [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("policy_sentry"))' 2>/dev/null)" != "$PS_VERSION" ]]; then
    echo "creating $VENV with policy_sentry==$PS_VERSION"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "policy_sentry==$PS_VERSION"
fi

echo "building iam-risk-score"
# The workspace's test build (a no-op after `cargo test --workspace`): `cargo build -p` would
# resolve features differently, recompile ~60-80 crates and relink the workspace's binaries.
cargo test --quiet --workspace --no-run
BIN="$TARGET/debug/iam-risk-score"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Everything is regenerated into $WORK; the committed fixtures (read by
# risk-core/tests/authoring.rs) are compared with it below, and only UPDATE=1 rewrites them.
for yml in "$FIXTURES"/*.yml; do
    name="$(basename "$yml" .yml)"
    "$VENV/bin/python" -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), indent=2))' \
        "$yml" > "$WORK/$name.json"
    if ! (cd "$FIXTURES" && "$VENV/bin/policy_sentry" write-policy --input-file "$name.yml") \
        > "$WORK/$name.policy_sentry.json" 2> "$WORK/$name.ps.err"; then
        rm -f "$WORK/$name.policy_sentry.json"
    fi
    "$BIN" write-policy --template "$yml" --format json > "$WORK/$name.ours.json" 2> "$WORK/$name.ours.err" || true
done

"$VENV/bin/python" - "$FIXTURES" "$WORK" "$ROOT/docs/authoring.md" <<'PY'
import json, pathlib, sys

fixtures, work, doc = map(pathlib.Path, sys.argv[1:4])
text = doc.read_text()

def table(name):
    body = text[text.index(f"<!-- {name}:start -->"):text.index(f"<!-- {name}:end -->")]
    return [[c.strip() for c in l.strip().strip("|").split(" | ")] for l in body.splitlines() if l.startswith("| `")]

def stem(cell):
    return cell.strip("`").removesuffix(".yml")

documented = {}
for tpl, side, why, acts in table("golden-differences"):
    documented.setdefault((stem(tpl), side), set()).update(a.strip("`").lower() for a in acts.split(", "))
refusals = {stem(r[0]): r[2].strip("`").strip() for r in table("golden-refusals")}

def actions(policy):
    out = set()
    for st in policy.get("Statement", []):
        a = st.get("Action", [])
        out |= {x.lower() for x in ([a] if isinstance(a, str) else a)}
    return out

failures, identical, compared = [], [], 0
for yml in sorted(fixtures.glob("*.yml")):
    name = yml.stem
    ours_err = (work / f"{name}.ours.err").read_text()
    if name in refusals:
        if refusals[name] not in ours_err:
            failures.append(f"{name}: expected our error to contain {refusals[name]!r}, got {ours_err.strip()!r}")
        continue
    try:
        ours = actions(json.loads((work / f"{name}.ours.json").read_text())["policy"])
    except Exception:
        failures.append(f"{name}: iam-risk-score failed: {ours_err.strip()}")
        continue
    ps_path = work / f"{name}.policy_sentry.json"
    if not ps_path.exists():
        failures.append(f"{name}: policy_sentry failed: {(work / f'{name}.ps.err').read_text().strip()[-300:]}")
        continue
    theirs = actions(json.loads(ps_path.read_text()))
    compared += 1
    for side, got in (("ours", ours - theirs), ("policy_sentry", theirs - ours)):
        want = documented.get((name, side), set())
        if got - want:
            failures.append(f"{name}: undocumented, only in {side}: {sorted(got - want)}")
        if want - got:
            failures.append(f"{name}: documented but no longer only in {side}: {sorted(want - got)}")
    if ours == theirs:
        identical.append(name)

print(f"{compared} templates compared, {len(identical)} identical ({', '.join(identical)}), "
      f"{len(refusals)} refused as documented")
if failures:
    print("\n".join(["FAILED:"] + failures))
    sys.exit(1)
print("every difference is documented in docs/authoring.md")
PY

# The committed fixtures must be what policy_sentry and the template reader give today.
stale=()
for yml in "$FIXTURES"/*.yml; do
    name="$(basename "$yml" .yml)"
    for f in "$name.json" "$name.policy_sentry.json"; do
        if [[ -f "$WORK/$f" && -f "$FIXTURES/$f" ]]; then
            cmp -s "$WORK/$f" "$FIXTURES/$f" || stale+=("$f")
        elif [[ -f "$WORK/$f" || -f "$FIXTURES/$f" ]]; then
            stale+=("$f")
        fi
    done
done
if ((${#stale[@]})); then
    if [[ "${UPDATE:-}" == 1 ]]; then
        for f in "${stale[@]}"; do
            if [[ -f "$WORK/$f" ]]; then cp "$WORK/$f" "$FIXTURES/$f"; else rm -f "$FIXTURES/$f"; fi
        done
        echo "updated: ${stale[*]}"
    else
        echo "FAILED: the committed fixtures differ from what policy_sentry $PS_VERSION gives today: ${stale[*]}"
        echo "  (rerun with UPDATE=1 to rewrite them, then review and commit the change)"
        exit 1
    fi
fi
