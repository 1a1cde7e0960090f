#!/usr/bin/env bash
# scripts/jit-venv.sh — the Python tools the service tests drive, in one venv (the jit-service
# tests; scripts/test-jit.sh and scripts/test-api.sh through scripts/lib/server.sh).
#
#   scripts/jit-venv.sh        create/update target/venv-jit and print its python's path
#
# aiosmtpd: the local SMTP server mail tests deliver to; schemathesis: fuzzes the API against
# its OpenAPI document; moto (server): the local IAM/STS the provisioning and AWS-login tests
# run against; cfn-lint and python-hcl2: check the onboarding templates (CloudFormation,
# Terraform); mcp: the Python MCP client the MCP server tests drive. Versions pinned; idempotent (installs only what is missing).

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${IAM_JIT_VENV:-$ROOT/target/venv-jit}"
PKGS=("aiosmtpd==1.4.6" "schemathesis==4.32.5" "moto[server]==5.2.5" "cfn-lint==1.58.0" "python-hcl2==8.1.4" "mcp==2.3.0")

if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
fi
missing=()
"$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null || missing+=("${PKGS[0]}")
"$VENV/bin/schemathesis" --version 2>/dev/null | grep -q 4.32.5 || missing+=("${PKGS[1]}")
"$VENV/bin/python" -c 'import moto, flask; assert moto.__version__ == "5.2.5"' 2>/dev/null || missing+=("${PKGS[2]}")
"$VENV/bin/cfn-lint" --version 2>/dev/null | grep -q 1.58.0 || missing+=("${PKGS[3]}")
"$VENV/bin/python" -c 'import hcl2' 2>/dev/null || missing+=("${PKGS[4]}")
"$VENV/bin/python" -c 'import importlib.metadata as m; assert m.version("mcp") == "2.3.0"' 2>/dev/null || missing+=("${PKGS[5]}")
if ((${#missing[@]})); then
    echo "--> installing ${missing[*]} into ${VENV#"$ROOT"/}" >&2
    "$VENV/bin/pip" install -q --disable-pip-version-check "${missing[@]}" >&2
fi
echo "$VENV/bin/python"
