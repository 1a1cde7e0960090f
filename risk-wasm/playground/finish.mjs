// Finishes playground/dist after tsc: copies the static files, sets the rule-doc URL, and
// writes the service worker with the list of files to keep offline and a hash of their bytes.
// Usage: node finish.mjs DIST_DIR   (env RULES_DOC_URL overrides the rule reference link)
import { createHash } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = process.argv[2];
if (!dist) throw new Error("usage: node finish.mjs DIST_DIR");
const docUrl =
  process.env.RULES_DOC_URL || "https://github.com/iam-risk-score/iam-risk-score/blob/main/docs/rules.md";

for (const f of ["index.html", "style.css", "icon.svg"]) copyFileSync(join(here, "static", f), join(dist, f));
const index = join(dist, "index.html");
const escaped = docUrl.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
writeFileSync(index, readFileSync(index, "utf8").replace("__RULES_DOC_URL__", escaped));

function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}
// Only what the page loads: no TypeScript declarations, no package metadata.
const files = walk(dist)
  .map((p) => relative(dist, p).split("\\").join("/"))
  .filter((p) => p !== "sw.js" && !p.endsWith(".d.ts") && !p.endsWith(".json") && !p.endsWith(".map"));
const hash = createHash("sha256");
for (const f of files) hash.update(f).update(readFileSync(join(dist, f)));
const version = hash.digest("hex").slice(0, 16);
const list = JSON.stringify(["./", ...files.map((f) => `./${f}`)], null, 2);
const sw = readFileSync(join(here, "static", "sw.js"), "utf8")
  .replace("__BUILD_HASH__", version)
  .replace("__FILES__", list);
writeFileSync(join(dist, "sw.js"), sw);
console.log(`playground: ${files.length + 1} files, build ${version}, rule docs at ${docUrl}`);
