#!/usr/bin/env python3
"""Regenerate the data `iam-risk-score scan` embeds for CloudFormation and SAM templates.

    python3 scan/src/data/regenerate.py --sam FILE   # both files; FILE = SAM's policy_templates.json
    python3 scan/src/data/regenerate.py              # the managed policies only
    python3 scan/src/data/regenerate.py --check [--sam FILE]   # exit 1 if a committed file is stale

aws-managed-policies.tsv
    From benches/corpus/aws-managed-policies.jsonl (see its PROVENANCE.md): one line per AWS
    managed policy, sorted by name, `name<TAB>path<TAB>document` with the document as minified
    JSON. Policies under `/aws-service-role/` keep their name and path but no document: they
    can only be attached to service-linked roles, never to a role a template declares.

sam-policy-templates.json
    From SAM's samtranslator/policy_templates_data/policy_templates.json: each template's
    parameter names and definition, minified; descriptions dropped.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CORPUS = ROOT / "benches" / "corpus" / "aws-managed-policies.jsonl"
MANAGED = HERE / "aws-managed-policies.tsv"
SAM = HERE / "sam-policy-templates.json"
PREFIX = "arn:aws:iam::aws:policy"


def managed() -> str:
    lines = []
    for raw in CORPUS.read_text(encoding="utf-8").splitlines():
        p = json.loads(raw)
        name, arn = p["name"], p["arn"]
        if not (arn.startswith(PREFIX + "/") and arn.endswith("/" + name)):
            sys.exit(f"error: unexpected ARN {arn!r} for {name!r}")
        path = arn[len(PREFIX):-len(name)]
        doc = "" if path == "/aws-service-role/" else json.dumps(
            p["document"], separators=(",", ":"), ensure_ascii=False)
        if "\t" in name + path + doc or "\n" in name + path + doc:
            sys.exit(f"error: a tab or newline in {name!r}")
        lines.append(f"{name}\t{path}\t{doc}\n")
    lines.sort()
    return "".join(lines)


def sam(source: Path) -> str:
    data = json.loads(source.read_text(encoding="utf-8"))
    out = {
        name: {"Parameters": sorted(t.get("Parameters", {})), "Definition": t["Definition"]}
        for name, t in sorted(data["Templates"].items())
    }
    return json.dumps({"Version": data.get("Version"), "Templates": out},
                      separators=(",", ":"), ensure_ascii=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sam", type=Path, help="SAM's policy_templates.json")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    outputs = [(MANAGED, managed())]
    if args.sam:
        outputs.append((SAM, sam(args.sam)))
    stale = False
    for path, text in outputs:
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
                stale = True
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)} ({len(text.encode())} bytes)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
