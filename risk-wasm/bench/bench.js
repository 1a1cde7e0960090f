// Runs inside Chromium (see run.mjs). `?mode=load`: time one cold instantiation of the module.
// `?mode=score`: score every AWS managed policy through the module, timing each call.
import init, { score } from "../pkg/risk_wasm.js";

const params = new URLSearchParams(location.search);
const out = document.getElementById("out");

const WASM_URL = new URL("../pkg/risk_wasm_bg.wasm", import.meta.url);

// One cold load as the playground does it (streaming compile while downloading).
async function load() {
  const t0 = performance.now();
  await init({ module_or_path: WASM_URL });
  const instantiated = performance.now() - t0;
  return { instantiated, firstScore: firstScore(), isolated: self.crossOriginIsolated };
}

// The same, in steps: download, compile, instantiate (each cold, in a fresh context).
async function steps() {
  const t0 = performance.now();
  const bytes = await (await fetch(WASM_URL)).arrayBuffer();
  const t1 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const t2 = performance.now();
  await init({ module_or_path: module });
  const t3 = performance.now();
  return { fetch: t1 - t0, compile: t2 - t1, instantiate: t3 - t2, firstScore: firstScore() };
}

function firstScore() {
  const t = performance.now();
  score('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}');
  return performance.now() - t;
}

async function scoreAll() {
  await init({ module_or_path: new URL("../pkg/risk_wasm_bg.wasm", import.meta.url) });
  const lines = (await (await fetch("/corpus.jsonl")).text()).split("\n").filter(Boolean);
  const docs = lines.map((l) => {
    const { name, document } = JSON.parse(l);
    return { name, text: JSON.stringify(document) };
  });
  const passes = Number(params.get("passes") ?? 5);
  // Warm-up: lets V8 tier the module up and fills the allocator, as in a live editor.
  for (const d of docs) score(d.text);
  const times = docs.map(() => []);
  const scores = new Array(docs.length);
  const wall0 = performance.now();
  for (let p = 0; p < passes; p++) {
    for (let i = 0; i < docs.length; i++) {
      const t = performance.now();
      const r = score(docs[i].text);
      times[i].push(performance.now() - t);
      scores[i] = r.score;
    }
  }
  const wall = performance.now() - wall0;
  // Per policy: the median of its passes; then the distribution over policies.
  const per = times.map((ts) => ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]);
  const slowest = per
    .map((t, i) => ({ name: docs[i].name, ms: t, bytes: docs[i].text.length, score: scores[i] }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 5);
  return { policies: docs.length, passes, per, wall, slowest, isolated: self.crossOriginIsolated };
}

const mode = params.get("mode");
(mode === "load" ? load() : mode === "steps" ? steps() : scoreAll())
  .then((r) => {
    window.__bench = r;
    out.textContent = "done";
  })
  .catch((e) => {
    window.__bench = { error: String(e && e.stack ? e.stack : e) };
    out.textContent = "error";
  });
