// iam-jit web UI enhancements. Every page works without this file; it adds the live risk
// score on the new-request form (POST /api/v1/requests/preview, the same call the API
// documents) and copy buttons on the assume-role snippets. It only ever sets textContent.
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

function liveScore(form) {
  const out = document.getElementById("live-score");
  const csrf = form.querySelector("input[name=csrf]").value;
  let timer = null;
  let seq = 0;
  async function update() {
    const mine = ++seq;
    let policy;
    try {
      policy = JSON.parse(form.policy.value);
    } catch (e) {
      out.replaceChildren(el("p", "The policy is not valid JSON yet.", "muted"));
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
      renderScore(out, v);
    } else {
      const msgs = (v.errors || []).map((e) => `${e.path}: ${e.message}`);
      out.replaceChildren(el("p", "Not scored yet:", "muted"));
      const ul = el("ul", undefined, "muted");
      for (const m of msgs.length ? msgs : [v.detail || `HTTP ${resp.status}`]) ul.append(el("li", m));
      out.append(ul);
    }
  }
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 400);
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
