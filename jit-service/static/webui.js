// iam-jit web UI enhancements. Every page works without this file; it adds the live risk
// score on the new-request form — computed in the browser by the engine's WebAssembly build
// when the server serves one (with the diff against the saved revision when editing), and
// checked against POST /api/v1/requests/preview, the same call the API documents — and copy
// buttons on the assume-role snippets. It only ever sets textContent.
"use strict";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function renderScore(out, v) {
  out.replaceChildren();
  const r = v.review;
  const p = el("p", "", "score");
  p.append(el("span", `Risk score ${r.score}/10 (${r.tier})`, `tier tier-${r.tier}`));
  if (v.would && typeof v.would.quorum === "number") {
    p.append(` · needs ${v.would.quorum} approval${v.would.quorum === 1 ? "" : "s"}`);
  }
  out.append(p);
  if (r.llm_narrative) {
    const n = el("div", undefined, "narrative");
    const head = el("p");
    head.append(el("strong", "Narrative"), " ", el("small", "(written by a language model from the findings; it explains the score and never changes it)", "muted"));
    n.append(head, el("p", r.llm_narrative));
    out.append(n);
  }
  const byCat = new Map();
  for (const f of r.findings || []) {
    if (!byCat.has(f.category)) byCat.set(f.category, []);
    byCat.get(f.category).push(f);
  }
  if (byCat.size === 0) out.append(el("p", "No findings.", "muted"));
  for (const [cat, list] of [...byCat.entries()].sort()) {
    const sec = el("section", undefined, "category");
    sec.append(el("h3", `${cat} (${list.length})`));
    const ul = el("ul", undefined, "findings");
    for (const f of list) {
      const li = el("li", undefined, `sev-${f.severity}`);
      li.append(el("strong", f.rule), ` ${f.name} `, el("span", f.severity, "badge"), el("br"), f.message);
      ul.append(li);
    }
    sec.append(ul);
    out.append(sec);
  }
}

// The engine's browser build (risk-wasm), when the server serves it and its engine, rules
// and catalog versions are the server's: then the editor scores and diffs as the user types,
// with exactly the v1 result the server will compute. Otherwise null (the server previews).
async function loadEngine(form) {
  const src = form.dataset.wasm;
  if (!src) return null;
  try {
    const engine = await import(src);
    await engine.default({ module_or_path: src.replace(/\.js$/, "_bg.wasm") });
    const want = JSON.parse(form.dataset.engine || "{}");
    const have = engine.version();
    for (const k of ["engine", "rules", "catalog"]) {
      if (want[k] !== have[k]) {
        console.warn(`iam-jit: the browser engine's ${k} is ${have[k]}, the server's ${want[k]}: scoring on the server`);
        return null;
      }
    }
    return engine;
  } catch (e) {
    console.warn("iam-jit: the browser engine did not load; scoring on the server", e);
    return null;
  }
}

// The score options the server derives from the form (requests::score): access type,
// duration in hours, the first 500 characters of the description.
function formOptions(form) {
  const hours = Number(form.duration_hours.value);
  const opts = {
    accessType: form.access_type.value,
    description: Array.from(form.description.value).slice(0, 500).join(""),
  };
  if (Number.isInteger(hours) && hours >= 1 && hours <= 8760) opts.durationHours = hours;
  return opts;
}

function problemList(out, title, msgs) {
  out.replaceChildren(el("p", title, "muted"));
  const ul = el("ul", undefined, "muted");
  for (const m of msgs) ul.append(el("li", m));
  out.append(ul);
}

function actionLines(byService) {
  const lines = [];
  for (const [service, levels] of Object.entries(byService || {}).sort()) {
    for (const [level, actions] of Object.entries(levels).sort()) {
      const shown = actions.slice(0, 40);
      const more = actions.length - shown.length;
      lines.push(`${service} · ${level}: ${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""}`);
    }
  }
  return lines;
}

// The same sections as templates/webui/diff.html renders on the server.
function renderDiff(out, d, against) {
  out.replaceChildren();
  const delta = d.risk_delta === 0 ? "±0" : d.risk_delta > 0 ? `+${d.risk_delta}` : String(d.risk_delta);
  const p = el("p", `Against ${against}: risk `, "score");
  p.append(
    el("span", `${d.old_score}/10 (${d.old_tier})`, `tier tier-${d.old_tier}`),
    " → ",
    el("span", `${d.new_score}/10 (${d.new_tier})`, `tier tier-${d.new_tier}`),
    " ",
    el("strong", delta, "delta"),
  );
  out.append(p);
  const finding = (f) => `${f.rule} ${f.name}: ${f.message}`;
  const parts = [
    ["Newly granted actions", actionLines(d.added_actions), d.added_actions_total, "diff-added"],
    ["No longer granted", actionLines(d.removed_actions), d.removed_actions_total, "diff-removed"],
    ["New findings", d.new_findings.map(finding), null, "diff-added"],
    ["Resolved findings", d.resolved_findings.map(finding), null, "diff-removed"],
  ];
  if (parts.every(([, items]) => items.length === 0)) {
    out.append(el("p", "The policy grants the same actions with the same findings.", "muted"));
  }
  for (const [title, items, total, cls] of parts) {
    if (items.length === 0) continue;
    const h = el("h3", title);
    if (total !== null) h.append(" ", el("small", `(${total})`, "muted"));
    const ul = el("ul", undefined, cls);
    for (const i of items) ul.append(el("li", i));
    out.append(h, ul);
  }
}

function liveScore(form) {
  const out = document.getElementById("live-score");
  const diffOut = document.getElementById("revision-diff-live");
  const previous = document.getElementById("previous-policy");
  const refused = new Set((form.dataset.refused || "").split(/\s+/).filter(Boolean));
  const csrf = form.querySelector("input[name=csrf]").value;
  const engineReady = loadEngine(form);
  let local = null; // the browser engine's report of the current text, if any
  let timer = null;
  let serverTimer = null;
  let seq = 0;

  // In the browser, immediately: the v1 report and, when editing, the diff.
  async function scoreHere(mine) {
    const engine = await engineReady;
    if (!engine || mine !== seq) return false;
    out.dataset.engine = "wasm";
    const text = form.policy.value;
    const opts = formOptions(form);
    let report;
    try {
      report = engine.score(text, opts);
    } catch (e) {
      local = null;
      const where = e.line ? ` (line ${e.line}, column ${e.column})` : "";
      problemList(out, "Not scored yet:", (e.problems || []).length ? e.problems.map((p) => `${p.path || "policy"}: ${p.message}`) : [e.message + where]);
      if (diffOut) diffOut.replaceChildren();
      return true;
    }
    local = report;
    const stop = report.findings.filter((f) => refused.has(f.rule));
    renderScore(out, { review: report });
    if (stop.length) {
      const warn = el("div", undefined, "error");
      warn.setAttribute("role", "alert");
      warn.append(el("p", "The service will refuse this policy:"));
      const ul = el("ul");
      for (const f of stop) ul.append(el("li", `${f.rule} ${f.name}: ${f.message} ${f.suggestion}`));
      warn.append(ul);
      out.prepend(warn);
    }
    out.dataset.source = "wasm";
    out.dataset.score = String(report.score);
    if (diffOut && previous) {
      try {
        const d = engine.diff(previous.value, text, opts);
        document.getElementById("revision-diff-hint")?.remove();
        const label = document.getElementById("revision-diff-title").textContent.replace(/^Changes against /, "");
        renderDiff(diffOut, d, label);
        diffOut.dataset.source = "wasm";
      } catch (e) {
        diffOut.replaceChildren();
      }
    }
    return true;
  }

  // On the server, debounced: validation of the whole request (accounts, duration) and the
  // approvals its tier needs — what the browser cannot know — plus a check of the score.
  async function askServer(mine) {
    let policy;
    try {
      policy = JSON.parse(form.policy.value);
    } catch (e) {
      if (!local) out.replaceChildren(el("p", "The policy is not valid JSON yet.", "muted"));
      return;
    }
    const accounts = form.accounts.value.split(/[\s,]+/).filter(Boolean).map((a) => ({ account_id: a }));
    const body = {
      spec: {
        description: form.description.value,
        access_type: form.access_type.value,
        accounts,
        duration: { duration_hours: Number(form.duration_hours.value) },
        policy,
      },
    };
    let resp;
    try {
      resp = await fetch("/api/v1/requests/preview", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (e) {
      return;
    }
    if (mine !== seq) return;
    const v = await resp.json().catch(() => ({}));
    if (resp.ok) {
      if (local && local.score === v.review.score && local.policy_fingerprint === v.review.policy_fingerprint) {
        // The browser's result stands; add what only the server knows.
        renderScore(out, { review: local, would: v.would });
        out.dataset.confirmed = "server";
      } else {
        if (local) console.warn("iam-jit: the server's score differs from the browser's; showing the server's");
        renderScore(out, v);
        out.dataset.source = "server";
        out.dataset.score = String(v.review.score);
      }
    } else if (!local) {
      const msgs = (v.errors || []).map((e) => `${e.path}: ${e.message}`);
      problemList(out, "Not scored yet:", msgs.length ? msgs : [v.detail || `HTTP ${resp.status}`]);
    } else {
      // Scored here, but the request as a whole is not valid yet: say what to fix.
      const msgs = (v.errors || []).map((e) => `${e.path}: ${e.message}`);
      const note = el("div", undefined, "muted");
      note.append(el("p", "Before it can be submitted:"));
      const ul = el("ul");
      for (const m of msgs.length ? msgs : [v.detail || `HTTP ${resp.status}`]) ul.append(el("li", m));
      note.append(ul);
      out.append(note);
    }
  }

  async function update() {
    const mine = ++seq;
    delete out.dataset.confirmed;
    const here = await scoreHere(mine);
    clearTimeout(serverTimer);
    serverTimer = setTimeout(() => askServer(mine), here ? 600 : 0);
  }
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 120);
  });
  update();
}

function copyButtons() {
  for (const b of document.querySelectorAll("button[data-copy]")) {
    const src = document.getElementById(b.dataset.copy);
    if (!src) continue;
    b.hidden = false;
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(src.textContent);
        b.textContent = "Copied";
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(src);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        b.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => { b.textContent = "Copy"; }, 2000);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("new-request");
  if (form) liveScore(form);
  copyButtons();
});
