// The WASM benchmark, in headless Chromium: instantiation time (cold, a fresh browser context
// per load) and the time to score each of the 1,594 AWS managed policies through the module.
//
//   bash risk-wasm/build.sh && node risk-wasm/bench/run.mjs [--loads N] [--passes N] [--pkg DIR]
//
// Prints a summary and writes target/wasm-bench.json. Not part of the test suite.

import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { serve } from "../scripts/serve.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LOADS = arg("--loads", 9);
// --pkg DIR benchmarks another build of the package (e.g. other optimisation settings).
const PKG = process.argv.includes("--pkg") ? resolve(process.argv[process.argv.indexOf("--pkg") + 1]) : join(HERE, "../pkg");
const PASSES = arg("--passes", 5);
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const median = (xs) => quantile(xs, 0.5);

// Cross-origin isolation gives performance.now() 5 µs resolution instead of 100 µs.
const server = await serve(join(HERE, ".."), {
  headers: { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" },
  files: {
    "/corpus.jsonl": join(ROOT, "benches/corpus/aws-managed-policies.jsonl"),
    "/pkg/risk_wasm.js": join(PKG, "risk_wasm.js"),
    "/pkg/risk_wasm_bg.wasm": join(PKG, "risk_wasm_bg.wasm"),
  },
});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ARGS });
const version = browser.version();

async function run(query) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/bench/index.html?${query}`);
  await page.waitForFunction(() => window.__bench !== undefined, null, { timeout: 600_000 });
  const r = await page.evaluate(() => window.__bench);
  await context.close();
  if (r.error) throw new Error(r.error);
  return r;
}

try {
  const loads = [];
  const steps = [];
  for (let i = 0; i < LOADS; i++) {
    loads.push(await run("mode=load"));
    steps.push(await run("mode=steps"));
  }
  const s = await run(`mode=score&passes=${PASSES}`);
  const wasm = join(PKG, "risk_wasm_bg.wasm");
  const bytes = readFileSync(wasm);
  const result = {
    chromium: version,
    wasm_bytes: statSync(wasm).size,
    wasm_gzip_bytes: gzipSync(bytes, { level: 9 }).length,
    instantiate_ms: { median: median(loads.map((l) => l.instantiated)), max: Math.max(...loads.map((l) => l.instantiated)), runs: LOADS },
    steps_ms: {
      fetch: median(steps.map((l) => l.fetch)),
      compile: median(steps.map((l) => l.compile)),
      instantiate: median(steps.map((l) => l.instantiate)),
    },
    first_score_ms: { median: median(loads.map((l) => l.firstScore)) },
    score_ms: {
      policies: s.policies,
      passes: s.passes,
      median: median(s.per),
      p90: quantile(s.per, 0.9),
      p99: quantile(s.per, 0.99),
      max: Math.max(...s.per),
      mean: s.per.reduce((a, b) => a + b, 0) / s.per.length,
      under_1ms: s.per.filter((t) => t <= 1).length,
      all_policies_one_pass_ms: s.wall / s.passes,
    },
    slowest: s.slowest,
    cross_origin_isolated: s.isolated,
  };
  mkdirSync(join(ROOT, "target"), { recursive: true });
  writeFileSync(join(ROOT, "target/wasm-bench.json"), JSON.stringify(result, null, 2) + "\n");
  const f = (x) => x.toFixed(3);
  console.log(`Chromium ${version}, .wasm ${result.wasm_bytes} bytes (${result.wasm_gzip_bytes} gzip)`);
  console.log(`instantiate (fetch + compile + instantiate, cold): median ${result.instantiate_ms.median.toFixed(1)} ms, max ${result.instantiate_ms.max.toFixed(1)} ms over ${LOADS} loads`);
  const st = result.steps_ms;
  console.log(`in steps (medians): fetch ${st.fetch.toFixed(1)} ms, compile ${st.compile.toFixed(1)} ms, instantiate ${st.instantiate.toFixed(1)} ms; first score after load: median ${result.first_score_ms.median.toFixed(2)} ms`);
  const sc = result.score_ms;
  console.log(`score(), ${sc.policies} managed policies, median of ${sc.passes} passes each: median ${f(sc.median)} ms, p90 ${f(sc.p90)}, p99 ${f(sc.p99)}, max ${f(sc.max)}, mean ${f(sc.mean)}; ${sc.under_1ms}/${sc.policies} under 1 ms; all policies ${sc.all_policies_one_pass_ms.toFixed(0)} ms`);
  console.log("slowest:", s.slowest.map((x) => `${x.name} ${f(x.ms)} ms (${x.bytes} B, score ${x.score})`).join("; "));
  console.log("written to target/wasm-bench.json");
} finally {
  await browser.close();
  await server.close();
}
