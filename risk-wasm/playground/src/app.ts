// The playground: wires the editors, the engine (WebAssembly, in this page) and the results.
// Nothing here talks to a server: the only requests are for this site's own files.

import init, { catalogInfo, diff, rules, score, version, writePolicy } from "./pkg/risk_wasm.js";
import type { Finding, RiskError, ScoreOptions, WrittenPolicy } from "./pkg/risk_wasm.js";
import { byId, fmt, h } from "./dom.js";
import { Editor, type Mark } from "./editor.js";
import { EXAMPLES } from "./examples.js";
import { decodeState, encodeState, type ViewState } from "./fragment.js";
import { lineSpan, parseSpans, pathSpan, statementSpan } from "./jsonspan.js";
import { renderDiff, renderReport, type RenderContext } from "./render.js";

const EMPTY_POLICY = '{"Version":"2012-10-17","Statement":[]}';
const DEFAULT_DOC_URL = "https://github.com/iam-risk-score/iam-risk-score/blob/main/docs/rules.md";

type Side = "policy" | "old" | "new";

const editors: Record<Side, Editor> = {
  policy: new Editor(byId("ed-policy")),
  old: new Editor(byId("ed-old")),
  new: new Editor(byId("ed-new")),
};
const LABEL: Record<Side, string> = { policy: "Policy", old: "Old policy", new: "New policy" };

const result = byId("result");
const status = byId("status");
const announce = byId("announce");
const optionsStatus = byId("options-status");
type Mode = "score" | "diff" | "write";
let mode: Mode = "score";
let lastFragment = "";

const optionFields = {
  accessType: byId<HTMLSelectElement>("opt-access-type"),
  durationHours: byId<HTMLInputElement>("opt-duration"),
  description: byId<HTMLInputElement>("opt-description"),
  sensitive: byId<HTMLInputElement>("opt-sensitive"),
  highImpact: byId<HTMLInputElement>("opt-high-impact"),
};

// Write mode: ARNs per access level (one per line) and an optional JSON template.
const LEVELS = ["read", "write", "list", "tagging", "permissions-management"] as const;
const arnFields = Object.fromEntries(LEVELS.map((l) => [l, byId<HTMLTextAreaElement>(`w-${l}`)])) as Record<
  (typeof LEVELS)[number],
  HTMLTextAreaElement
>;
const templateField = byId<HTMLTextAreaElement>("w-template");
const written = byId("written");
const writeWarnings = byId("write-warnings");
const loadButton = byId<HTMLButtonElement>("w-load");
let lastWritten: WrittenPolicy | null = null;

/**
 * The template text for `writePolicy`: the JSON template (if any) with the ARN lists added
 * under their level, as `iam-risk-score write-policy --template FILE --read ARN…` does. A
 * template that is not a JSON object is passed on as typed, so the engine words the error.
 */
function templateText(): string {
  const typed = templateField.value.trim();
  let t: Record<string, unknown> = {};
  if (typed) {
    try {
      const parsed: unknown = JSON.parse(typed);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return typed;
      t = parsed as Record<string, unknown>;
    } catch {
      return typed;
    }
  }
  for (const level of LEVELS) {
    const arns = arnFields[level].value
      .split("\n")
      .map((x) => x.trim())
      .filter(Boolean);
    if (!arns.length) continue;
    // The template may spell the key with `_`; add to whichever spelling it uses.
    const key = level.replace("-", "_") in t ? level.replace("-", "_") : level;
    const have = t[key];
    const list = Array.isArray(have) ? have : typeof have === "string" ? [have] : [];
    t[key] = [...list, ...arns];
  }
  return JSON.stringify(t);
}

function updateWrite(): void {
  const started = performance.now();
  const empty = !templateField.value.trim() && LEVELS.every((l) => !arnFields[l].value.trim());
  lastWritten = null;
  loadButton.disabled = true;
  writeWarnings.replaceChildren();
  if (empty) {
    written.textContent = "";
    status.className = "status";
    status.textContent = "List resource ARNs under an access level, or give a template.";
    result.replaceChildren(h("p", { class: "none" }, "Nothing to write yet."));
    return;
  }
  try {
    const w = writePolicy(templateText());
    const ms = performance.now() - started;
    lastWritten = w;
    written.textContent = JSON.stringify(w.policy, null, 2);
    for (const warning of w.warnings ?? []) writeWarnings.append(h("li", null, `warning: ${warning}`));
    loadButton.disabled = false;
    status.className = "status ok";
    status.textContent = `Written and scored in ${ms.toFixed(1)} ms, in this browser.`;
    result.replaceChildren(renderReport(w.report, context()));
    const n = (w.policy as { Statement?: unknown[] }).Statement?.length ?? 0;
    announce.textContent = `Wrote ${n} statements: score ${w.report.score} out of 10, ${w.report.tier} risk.`;
  } catch (e) {
    const err = asRiskError(e);
    written.textContent = "";
    status.className = "status error";
    // The first line in the status; the whole message (the resource-type list) in the result.
    status.textContent = `Template: ${err.message.split("\n")[0]}`;
    result.replaceChildren(
      h(
        "div",
        { class: "problems", "data-testid": "problems" },
        h("h3", null, "The policy cannot be written"),
        h("pre", { class: "message" }, err.message),
      ),
    );
  }
}

/** Put the written policy into the scoring editor and switch to it. */
function loadWritten(): void {
  if (!lastWritten) return;
  editors.policy.value = `${JSON.stringify(lastWritten.policy, null, 2)}\n`;
  setMode("score");
  update();
  editors.policy.textarea.focus();
  announce.textContent = "The written policy is in the policy editor.";
}

function docUrl(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="rules-doc-url"]')?.content ?? "";
  return meta && !meta.startsWith("__") ? meta : DEFAULT_DOC_URL;
}

function rawOptions(): Record<string, string> {
  return Object.fromEntries(Object.entries(optionFields).map(([k, el]) => [k, el.value.trim()]));
}

function scoreOptions(): ScoreOptions {
  const raw = rawOptions();
  const list = (s: string): string[] =>
    s
      .split(/[\s,]+/)
      .map((x) => x.trim())
      .filter(Boolean);
  const o: ScoreOptions = {};
  if (raw.accessType) o.accessType = raw.accessType as ScoreOptions["accessType"];
  if (raw.durationHours) o.durationHours = Number(raw.durationHours);
  if (raw.description) o.description = raw.description;
  if (raw.sensitive) o.extraSensitiveServices = list(raw.sensitive);
  if (raw.highImpact) o.extraHighImpactActions = list(raw.highImpact);
  return o;
}

function asRiskError(e: unknown): RiskError {
  if (e instanceof Error && Array.isArray((e as RiskError).problems)) return e as RiskError;
  const err = e instanceof Error ? e : new Error(String(e));
  return Object.assign(err, { name: "PolicyError" as const, problems: [{ path: "", message: err.message }] });
}

// Expanding a service lists every action the policy grants there: the diff of the empty
// policy against this one, computed once per text and options.
let expansion: { key: string; added: Record<string, Record<string, string[]>> } | null = null;
function expand(service: string): Record<string, string[]> | null {
  const text = editors.policy.value;
  const opts = scoreOptions();
  const key = JSON.stringify([text, opts]);
  try {
    if (expansion?.key !== key) expansion = { key, added: diff(EMPTY_POLICY, text, opts).added_actions };
    return expansion.added[service] ?? {};
  } catch {
    return null;
  }
}

let rulesByCode = new Map<string, import("./pkg/risk_wasm.js").RuleDoc>();

function context(): RenderContext {
  return { docUrl: docUrl(), rules: rulesByCode, locate, expand };
}

function locate(f: Finding, side: Side): void {
  const ed = editors[side];
  const root = parseSpans(ed.value);
  const span = root && f.statement !== null ? statementSpan(root, f.statement) : null;
  ed.highlight(span);
  for (const el of result.querySelectorAll(".finding.active")) el.classList.remove("active");
  const card = [...result.querySelectorAll<HTMLElement>(`.finding[data-rule="${f.rule}"]`)].find(
    (c) => c.querySelector(".message")?.textContent === f.message,
  );
  card?.classList.add("active");
  announce.textContent = span
    ? `${LABEL[side]}: statement ${f.statement} is highlighted in the editor.`
    : `Statement ${f.statement} could not be located in the text.`;
}

/** Show a failure: marks in the editor, the message, and the problems as locatable buttons. */
function showError(e: RiskError, side: Side): void {
  const ed = editors[side];
  const text = ed.value;
  if (e.name === "OptionsError") {
    optionsStatus.textContent = e.message;
    byId("options").setAttribute("open", "");
    status.textContent = "Fix the request context to see the score.";
    status.className = "status error";
    result.replaceChildren(h("p", { class: "none" }, "The request context is not valid: ", e.message));
    return;
  }
  const marks: Mark[] = [];
  let where = "";
  if (e.line !== undefined && e.column !== undefined) {
    marks.push({ ...lineSpan(text, e.line), kind: "error" });
    where = ` (line ${e.line}, column ${e.column})`;
  }
  const root = parseSpans(text);
  const located = e.problems.map((p) => ({ p, span: root && p.path ? pathSpan(root, p.path) : null }));
  for (const { span } of located) if (span) marks.push({ ...span, kind: "problem" });
  ed.setMarks(marks, e.line ?? null);
  status.className = "status error";
  status.textContent = `${LABEL[side]}: ${e.message}${where}`;
  result.replaceChildren(
    h(
      "div",
      { class: "problems", "data-testid": "problems" },
      h("h3", null, `${LABEL[side]} cannot be scored`),
      e.line !== undefined
        ? h("p", null, `The JSON is malformed at line ${e.line}, column ${e.column}: the line is marked in the editor.`)
        : null,
      h(
        "ul",
        null,
        located.map(({ p, span }) =>
          h(
            "li",
            null,
            span
              ? h(
                  "button",
                  { type: "button", class: "locate", onclick: () => ed.highlight(span) },
                  p.path ? `${p.path} ` : "",
                  p.message,
                )
              : `${p.path ? `${p.path} ` : ""}${p.message}`,
          ),
        ),
      ),
    ),
  );
}

function update(): void {
  optionsStatus.textContent = "";
  const opts = scoreOptions();
  const started = performance.now();
  if (mode === "write") {
    updateWrite();
  } else if (mode === "score") {
    const text = editors.policy.value;
    if (!text.trim()) {
      editors.policy.setMarks([]);
      status.className = "status";
      status.textContent = "Paste a policy or pick an example.";
      result.replaceChildren(h("p", { class: "none" }, "No policy yet."));
      scheduleFragment();
      return;
    }
    try {
      const r = score(text, opts);
      const ms = performance.now() - started;
      editors.policy.setMarks([]);
      status.className = "status ok";
      status.textContent = `Scored in ${ms.toFixed(1)} ms, in this browser.`;
      result.replaceChildren(renderReport(r, context()));
      announce.textContent = `Score ${r.score} out of 10, ${r.tier} risk, ${r.findings.length} findings.`;
    } catch (e) {
      showError(asRiskError(e), "policy");
    }
  } else {
    const [o, n] = [editors.old.value, editors.new.value];
    try {
      const d = diff(o, n, opts);
      const ms = performance.now() - started;
      editors.old.setMarks([]);
      editors.new.setMarks([]);
      status.className = "status ok";
      status.textContent = `Compared in ${ms.toFixed(1)} ms, in this browser.`;
      result.replaceChildren(renderDiff(d, context()));
      announce.textContent = `Risk ${d.old_score} to ${d.new_score}, ${d.new_findings.length} new findings.`;
    } catch (e) {
      const err = asRiskError(e);
      const side: Side = err.side === "old" ? "old" : "new";
      editors[side === "old" ? "new" : "old"].setMarks([]);
      showError(err, side);
    }
  }
  scheduleFragment();
}

// `data-pending` is 1 from an edit until its result and fragment are written (tests wait on it).
let updateTimer = 0;
let updateQueued = false;
function scheduleUpdate(): void {
  document.body.dataset.pending = "1";
  updateQueued = true;
  window.clearTimeout(updateTimer);
  updateTimer = window.setTimeout(() => {
    updateQueued = false;
    update();
  }, 120);
}

let fragmentTimer = 0;
let fragmentQueued = false;
function scheduleFragment(): void {
  document.body.dataset.pending = "1";
  fragmentQueued = true;
  window.clearTimeout(fragmentTimer);
  fragmentTimer = window.setTimeout(() => {
    fragmentQueued = false;
    void writeFragment();
  }, 200);
}

function state(): ViewState {
  return {
    // The write inputs stay out of the link: it reproduces the scoring view.
    mode: mode === "diff" ? "diff" : "score",
    policy: editors.policy.value,
    oldPolicy: editors.old.value,
    newPolicy: editors.new.value,
    options: rawOptions(),
  };
}

let fragmentSeq = 0;
async function writeFragment(): Promise<void> {
  const seq = ++fragmentSeq;
  const frag = await encodeState(state());
  if (seq !== fragmentSeq) return; // a newer write is under way
  if (frag !== lastFragment) {
    lastFragment = frag;
    // replaceState: typing must not fill the back button's history.
    history.replaceState(null, "", `#${frag}`);
    document.body.dataset.fragment = "saved";
  }
  if (!updateQueued && !fragmentQueued) document.body.dataset.pending = "0";
}

function setMode(m: Mode): void {
  mode = m;
  byId("score-editors").hidden = m !== "score";
  byId("diff-editors").hidden = m !== "diff";
  byId("write-editors").hidden = m !== "write";
  byId("options").hidden = m === "write"; // the writer scores with default options
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="mode"]')) r.checked = r.value === m;
  document.body.dataset.mode = m;
}

function apply(st: ViewState): void {
  setMode(st.mode);
  editors.policy.value = st.policy;
  editors.old.value = st.oldPolicy;
  editors.new.value = st.newPolicy;
  for (const [k, el] of Object.entries(optionFields)) el.value = st.options[k] ?? "";
}

function loadExample(id: string): void {
  const ex = EXAMPLES.find((x) => x.id === id);
  if (!ex) return;
  setMode(ex.mode);
  if (ex.mode === "score") editors.policy.value = ex.policy ?? "";
  else {
    editors.old.value = ex.oldPolicy ?? "";
    editors.new.value = ex.newPolicy ?? "";
  }
  update();
}

async function main(): Promise<void> {
  const t0 = performance.now();
  await init();
  const loadMs = performance.now() - t0;
  rulesByCode = new Map(rules().map((r) => [r.code, r]));
  const v = version();
  const c = catalogInfo();
  byId("versions").textContent =
    `Engine ${v.engine} · rules v${v.rules} · AWS catalog ${c.version} (${fmt(c.actions)} actions in ${fmt(c.services)} services) · loaded in ${Math.round(loadMs)} ms`;
  const docLink = byId<HTMLAnchorElement>("rules-link");
  docLink.href = docUrl();

  const examples = byId("examples");
  for (const ex of EXAMPLES) {
    examples.append(
      h("button", { type: "button", "data-example": ex.id, onclick: () => loadExample(ex.id) }, ex.label),
    );
  }
  for (const ed of Object.values(editors)) ed.textarea.addEventListener("input", scheduleUpdate);
  for (const el of Object.values(optionFields)) el.addEventListener("input", scheduleUpdate);
  for (const el of [...Object.values(arnFields), templateField]) el.addEventListener("input", scheduleUpdate);
  loadButton.addEventListener("click", loadWritten);
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="mode"]')) {
    r.addEventListener("change", () => {
      if (!r.checked) return;
      const m: Mode = r.value === "diff" ? "diff" : r.value === "write" ? "write" : "score";
      // Entering write mode with nothing typed starts from an example.
      if (m === "write" && !templateField.value.trim() && LEVELS.every((l) => !arnFields[l].value.trim())) {
        arnFields.read.value = "arn:aws:s3:::reports/*";
        arnFields.list.value = "arn:aws:s3:::reports";
      }
      // Entering diff mode starts from the policy being scored, as both old and new.
      if (m === "diff" && !editors.old.value.trim() && !editors.new.value.trim()) {
        editors.old.value = editors.policy.value;
        editors.new.value = editors.policy.value;
      }
      if (m === "score" && !editors.policy.value.trim()) editors.policy.value = editors.new.value;
      setMode(m);
      update();
    });
  }
  window.addEventListener("hashchange", () => {
    const frag = location.hash.slice(1);
    if (frag === lastFragment) return;
    void decodeState(frag).then((st) => {
      if (!st) return;
      lastFragment = frag;
      apply(st);
      update();
    });
  });

  const frag = location.hash.slice(1);
  const st = await decodeState(frag);
  if (st) {
    lastFragment = frag;
    apply(st);
    update();
  } else {
    loadExample("passrole");
  }
  document.body.dataset.ready = "true";

  // Offline: a service worker keeps this site's files (never anything else) in the cache.
  if ("serviceWorker" in navigator && location.protocol.startsWith("http")) {
    navigator.serviceWorker
      .register("./sw.js")
      .then(() => navigator.serviceWorker.ready)
      .then(() => {
        byId("offline").textContent = "Works offline: this page is saved in your browser.";
        document.body.dataset.offline = "ready";
      })
      .catch(() => {
        byId("offline").textContent = "";
      });
  }
}

main().catch((e: unknown) => {
  status.className = "status error";
  status.textContent = `The engine could not be loaded: ${e instanceof Error ? e.message : String(e)}`;
  document.body.dataset.ready = "error";
});
