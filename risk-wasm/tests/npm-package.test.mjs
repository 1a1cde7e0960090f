// The npm package as a user gets it: `npm pack risk-wasm/pkg` into target/npm/, the tarball
// installed offline into a fresh project (timed: the bar is under a minute), then imported by
// its name from Node and from a bundler-free page in headless Chromium; both must print what
// `iam-risk-score FILE --format json` prints, byte for byte. Run after risk-wasm/build.sh and
// `cargo build -p risk-cli`: node --test risk-wasm/tests/npm-package.test.mjs

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../scripts/serve.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const PKG = join(ROOT, "risk-wasm/pkg");
const OUT = join(ROOT, "target/npm");
const CLI = process.env.IAM_RISK_SCORE_CLI ?? join(ROOT, "target/debug/iam-risk-score");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TSC = join(ROOT, "risk-wasm/node_modules/.bin/tsc");
const POLICY_FILE = join(ROOT, "examples/passrole-lambda.json");
const POLICY = readFileSync(POLICY_FILE, "utf8");
const ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  return r;
}

function ok(cmd, args, opts) {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

// What the CLI prints for the policy: exit 1 (score 9 is at or above the threshold 5).
const cliRun = run(CLI, [POLICY_FILE, "--format", "json"]);
assert.equal(cliRun.status, 1, `the CLI at ${CLI} must score the example 9 (exit 1): ${cliRun.stderr}`);
const EXPECTED = cliRun.stdout;

let tarball;
let project;
let packed;

before(() => {
  mkdirSync(OUT, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));
  const tgz = join(OUT, `${manifest.name}-${manifest.version}.tgz`);
  rmSync(tgz, { force: true });
  const r = ok("npm", ["pack", PKG, "--pack-destination", OUT, "--json", "--loglevel=error"]);
  packed = JSON.parse(r.stdout)[0];
  tarball = join(OUT, packed.filename);
  assert.equal(tarball, tgz);
  project = mkdtempSync(join(OUT, "consumer-"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

test("npm pack: the package holds exactly its files, with the workspace version", () => {
  const cargo = readFileSync(join(ROOT, "Cargo.toml"), "utf8");
  const version = /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(cargo)[1];
  assert.equal(packed.name, "iam-risk-score");
  assert.equal(packed.version, version);
  assert.deepEqual(packed.files.map((f) => f.path).sort(), [
    "LICENSE", "LICENSE-iam-data.txt", "README.md", "package.json", "risk_wasm.d.ts", "risk_wasm.js",
    "risk_wasm_bg.wasm", "risk_wasm_bg.wasm.d.ts",
  ]);
  const manifest = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));
  for (const key of ["exports", "types", "files", "repository", "license", "sideEffects", "keywords"]) {
    assert.ok(manifest[key] !== undefined, `package.json lacks ${key}`);
  }
  assert.equal(manifest.type, "module");
  console.log(`# ${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
});

test("npm install of the tarball, offline, in under a minute", () => {
  const start = process.hrtime.bigint();
  ok("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: project });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`# npm install ${packed.filename}: ${seconds.toFixed(2)} s`);
  writeFileSync(join(OUT, "npm-install-seconds.txt"), `${seconds.toFixed(2)}\n`);
  assert.ok(existsSync(join(project, "node_modules/iam-risk-score/risk_wasm_bg.wasm")));
  assert.ok(seconds < 60, `install took ${seconds} s`);
});

test("Node: import by package name, score() equals the CLI's JSON", () => {
  writeFileSync(
    join(project, "check.mjs"),
    `import { readFileSync } from "node:fs";
import { initSync, score, version } from "iam-risk-score";
initSync({ module: readFileSync(new URL("risk_wasm_bg.wasm", import.meta.resolve("iam-risk-score"))) });
const report = score(readFileSync(process.argv[2], "utf8"));
process.stdout.write(JSON.stringify(report, null, 2) + "\\n");
`,
  );
  const r = ok("node", ["check.mjs", POLICY_FILE], { cwd: project });
  assert.equal(JSON.parse(r.stdout).score, 9);
  assert.equal(r.stdout, EXPECTED);
});

test("TypeScript: the package's types resolve by name (module nodenext)", { skip: !existsSync(TSC) }, () => {
  writeFileSync(
    join(project, "check.mts"),
    `import { score, type Report } from "iam-risk-score";
const r: Report = score("{}");
const n: number = r.score;
export { n };
`,
  );
  ok(TSC, ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
    "--skipLibCheck", "false", "check.mts"], { cwd: project });
});

test("bundler-free page: import ./node_modules/iam-risk-score/risk_wasm.js, init(), score()", async () => {
  writeFileSync(
    join(project, "index.html"),
    `<!doctype html>
<meta charset="utf-8">
<title>iam-risk-score from npm</title>
<pre id="out"></pre>
<script type="module">
  import init, { score } from "./node_modules/iam-risk-score/risk_wasm.js";
  try {
    await init();
    const policy = await (await fetch("./policy.json")).text();
    window.result = JSON.stringify(score(policy), null, 2) + "\\n";
  } catch (e) {
    window.result = "error: " + e;
  }
  document.getElementById("out").textContent = window.result;
</script>
`,
  );
  writeFileSync(join(project, "policy.json"), POLICY);
  const server = await serve(project);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  try {
    const page = await browser.newPage();
    const requests = [];
    page.on("request", (req) => requests.push(req.url()));
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}/index.html`);
    await page.waitForFunction(() => typeof window.result === "string", null, { timeout: 30_000 });
    const result = await page.evaluate(() => window.result);
    assert.deepEqual(errors, []);
    assert.equal(result, EXPECTED);
    for (const url of requests) assert.ok(url.startsWith(server.url), `request left the server: ${url}`);
    assert.ok(requests.some((u) => u.endsWith("/node_modules/iam-risk-score/risk_wasm_bg.wasm")));
  } finally {
    await browser.close();
    await server.close();
  }
});
