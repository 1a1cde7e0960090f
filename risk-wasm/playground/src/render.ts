// Results as DOM: the score badge, findings by category, what the policy really grants, diffs.

import type { ActionsByService, Finding, PolicyDiff, Report, RuleDoc, ServiceAccess } from "./pkg/risk_wasm.js";
import { fmt, h } from "./dom.js";

export interface RenderContext {
  /** Base URL of the rule reference (docs/rules.md); a rule's anchor is `#` + lowercase code. */
  docUrl: string;
  rules: Map<string, RuleDoc>;
  /** Highlight a finding's statement; `side` names the editor in diff mode. */
  locate(f: Finding, side: "policy" | "old" | "new"): void;
  /** Every granted action of one service by access level (for the expanded view). */
  expand(service: string): Record<string, string[]> | null;
}

export const ACCESS_LEVELS = ["List", "Read", "Write", "Permissions management", "Tagging"];

const CATEGORIES: Record<string, string> = {
  "full-admin": "Full admin",
  "privilege-escalation": "Privilege escalation",
  "credentials-exposure": "Credentials exposure",
  "data-exfiltration": "Data exfiltration",
  "resource-exposure": "Resource exposure",
  "infrastructure-modification": "Infrastructure modification",
  destructive: "Destructive",
  "defense-evasion": "Defense evasion",
  "broad-access": "Broad access",
  "access-mismatch": "Access mismatch",
  "org-policy": "Organisation policy",
  validation: "Validation",
};

const TIER_LABEL: Record<string, string> = { low: "Low risk", medium: "Medium risk", high: "High risk" };

export function ruleUrl(base: string, code: string): string {
  return `${base}#${code.toLowerCase()}`;
}

export function badge(score: number, tier: string, caption?: string): HTMLElement {
  return h(
    "div",
    { class: `badge tier-${tier}`, "data-testid": "score-badge" },
    h("span", { class: "badge-score" }, score),
    h("span", { class: "badge-of" }, "/10"),
    h("span", { class: "badge-tier" }, caption ?? TIER_LABEL[tier] ?? tier),
  );
}

function list(title: string, items: string[], cls: string): HTMLElement | null {
  if (items.length === 0) return null;
  return h("div", { class: cls }, h("h3", null, title), h("ul", null, items.map((s) => h("li", null, s))));
}

function codeList(label: string, items: string[], limit: number): HTMLElement | null {
  if (items.length === 0) return null;
  const shown = items.slice(0, limit);
  const more = items.length - shown.length;
  return h(
    "p",
    { class: "evidence" },
    h("span", { class: "evidence-label" }, `${label}: `),
    shown.flatMap((a, i) => [i > 0 ? ", " : null, h("code", null, a)]),
    more > 0 ? ` and ${fmt(more)} more` : null,
  );
}

function statementLabel(f: Finding): string {
  if (f.statement === null) return "";
  const others = f.statements.length > 1 ? ` (+${f.statements.length - 1} more)` : "";
  return `Statement ${f.statement}${f.sid ? ` “${f.sid}”` : ""}${others}`;
}

export function findingCard(f: Finding, ctx: RenderContext, side: "policy" | "old" | "new"): HTMLElement {
  const doc = ctx.rules.get(f.rule);
  const locatable = f.statement !== null;
  const locate = (): void => ctx.locate(f, side);
  const card = h(
    "li",
    { class: `finding sev-${f.severity}${locatable ? " locatable" : ""}`, "data-rule": f.rule },
    h(
      "div",
      { class: "finding-head" },
      h(
        "a",
        {
          class: "rule-code",
          href: ruleUrl(ctx.docUrl, f.rule),
          target: "_blank",
          rel: "noopener noreferrer",
          title: `Rule ${f.rule} in the rule reference`,
        },
        f.rule,
      ),
      h("span", { class: "rule-name" }, f.name),
      h("span", { class: `severity sev-${f.severity}` }, `${f.severity} · ${f.score}/10`),
    ),
    h("p", { class: "message" }, f.message),
    locatable
      ? h(
          "button",
          { type: "button", class: "locate", onclick: locate, "aria-label": `Highlight ${statementLabel(f)} in the editor` },
          statementLabel(f),
        )
      : null,
    codeList("Actions", f.actions, 12),
    codeList("Resources", f.resources, 6),
    f.paths.length ? codeList("Escalation paths", f.paths, 12) : null,
    h("p", { class: "suggestion" }, h("strong", null, "Suggestion: "), f.suggestion),
    doc
      ? h(
          "details",
          { class: "ruledoc" },
          h("summary", null, `About ${f.rule} ${f.name}`),
          h("p", null, h("strong", null, "Why it is risky: "), doc.why),
          h("p", null, h("strong", null, "Safer alternative: "), doc.safer),
        )
      : null,
  );
  if (locatable) {
    // Clicking anywhere on the card locates the statement, except on its own controls.
    card.addEventListener("click", (ev) => {
      const t = ev.target as HTMLElement;
      if (!t.closest("a, button, summary, details[open] p")) locate();
    });
  }
  return card;
}

function byCategory(findings: Finding[], ctx: RenderContext, side: "policy" | "old" | "new"): HTMLElement[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) groups.set(f.category, [...(groups.get(f.category) ?? []), f]);
  const ordered = [...groups.entries()].sort(
    ([a, fa], [b, fb]) => Math.max(...fb.map((f) => f.score)) - Math.max(...fa.map((f) => f.score)) || a.localeCompare(b),
  );
  return ordered.map(([cat, fs]) =>
    h(
      "section",
      { class: "category", "data-category": cat },
      h(
        "h4",
        null,
        CATEGORIES[cat] ?? cat,
        h(
          "span",
          { class: "count" },
          ` · ${fs.length} finding${fs.length === 1 ? "" : "s"}, up to ${Math.max(...fs.map((f) => f.score))}/10`,
        ),
      ),
      h("ol", { class: "findings" }, fs.map((f) => findingCard(f, ctx, side))),
    ),
  );
}

function levelChips(levels: Record<string, number>): HTMLElement {
  return h(
    "span",
    { class: "levels" },
    ACCESS_LEVELS.filter((l) => levels[l]).map((l) =>
      h("span", { class: `level level-${l.split(" ")[0].toLowerCase()}` }, `${l} ${fmt(levels[l])}`),
    ),
  );
}

function actionsByLevel(levels: Record<string, string[]>): HTMLElement {
  return h(
    "dl",
    { class: "expanded" },
    ACCESS_LEVELS.filter((l) => levels[l]?.length).flatMap((l) => [
      h("dt", null, `${l} (${fmt(levels[l].length)})`),
      h("dd", null, levels[l].map((a) => h("code", null, a.split(":")[1] ?? a)).flatMap((c, i) => (i ? [" ", c] : [c]))),
    ]),
  );
}

const SERVICES_SHOWN = 30;

function grants(r: Report, ctx: RenderContext): HTMLElement {
  const s = r.access_summary;
  const entries = Object.entries(s.by_service) as [string, ServiceAccess][];
  const total = (a: ServiceAccess): number => Object.values(a.access_levels).reduce((x, y) => x + y, 0);
  const risky = (a: ServiceAccess): number =>
    (a.access_levels["Permissions management"] ?? 0) * 4 + (a.access_levels["Write"] ?? 0) * 2 + total(a);
  entries.sort(([a, x], [b, y]) => risky(y) - risky(x) || a.localeCompare(b));
  const rows = entries.map(([svc, a]) => {
    const d = h(
      "details",
      { class: "service", "data-service": svc },
      h(
        "summary",
        null,
        h("code", { class: "svc" }, svc),
        h(
          "span",
          { class: "svc-count" },
          `${fmt(total(a))} of ${fmt(a.catalog_actions)} actions${a.actions_on_all_resources ? `, ${fmt(a.actions_on_all_resources)} on all resources` : ""}`,
        ),
        levelChips(a.access_levels),
      ),
    );
    d.addEventListener("toggle", () => {
      if (!d.open || d.querySelector(".expanded")) return;
      const levels = ctx.expand(svc);
      d.append(levels ? actionsByLevel(levels) : h("p", null, "Could not expand this service."));
    });
    return d;
  });
  const shown = rows.slice(0, SERVICES_SHOWN);
  const hidden = rows.slice(SERVICES_SHOWN);
  const container = h("div", { class: "service-list" }, shown);
  const more = hidden.length
    ? h(
        "button",
        {
          type: "button",
          class: "more",
          onclick: (ev: Event) => {
            container.append(...hidden);
            (ev.currentTarget as HTMLElement).remove();
          },
        },
        `Show ${fmt(hidden.length)} more services`,
      )
    : null;
  return h(
    "section",
    { class: "grants", "data-testid": "grants" },
    h("h3", null, "What this policy really grants"),
    h(
      "p",
      null,
      s.actions === 0
        ? "No action is granted (after wildcards, NotAction, denies and resource checks)."
        : `${fmt(s.actions)} actions in ${fmt(s.services)} service${s.services === 1 ? "" : "s"} after expanding wildcards and NotAction and applying denies; ${fmt(s.actions_on_all_resources)} of them on all resources. Open a service to list its actions.`,
    ),
    container,
    more,
  );
}

export function renderReport(r: Report, ctx: RenderContext): HTMLElement {
  const findings = r.findings.length
    ? byCategory(r.findings, ctx, "policy")
    : [h("p", { class: "none" }, "No findings.")];
  return h(
    "div",
    { class: "report" },
    h(
      "div",
      { class: "headline" },
      badge(r.score, r.tier),
      h(
        "div",
        { class: "headline-text" },
        h("p", { class: "big" }, `${TIER_LABEL[r.tier] ?? r.tier}: ${r.score} out of 10`),
        h(
          "p",
          null,
          `${r.policy_type === "identity" ? "An" : "A"} ${r.policy_type} policy with ${r.findings.length} finding${r.findings.length === 1 ? "" : "s"}. `,
          r.would_auto_approve_at_threshold_5
            ? "Below the usual auto-approval threshold (5)."
            : "At or above the usual auto-approval threshold (5): needs a human review.",
        ),
      ),
    ),
    list("Why this score", r.factors, "factors"),
    list("How to lower it", r.suggestions, "suggestions"),
    h("section", { class: "findings-section", "data-testid": "findings" }, h("h3", null, "Findings"), findings),
    grants(r, ctx),
    h("p", { class: "fingerprint" }, `Fingerprint ${r.policy_fingerprint}`),
  );
}

function actionGroups(title: string, total: number, by: ActionsByService, cls: string): HTMLElement {
  const services = Object.entries(by);
  return h(
    "section",
    { class: cls },
    h("h3", null, `${title} (${fmt(total)})`),
    services.length === 0
      ? h("p", { class: "none" }, "None.")
      : h(
          "div",
          { class: "service-list" },
          services.map(([svc, levels]) =>
            h(
              "details",
              { class: "service", "data-service": svc },
              h(
                "summary",
                null,
                h("code", { class: "svc" }, svc),
                levelChips(Object.fromEntries(Object.entries(levels).map(([l, a]) => [l, a.length]))),
              ),
              actionsByLevel(levels),
            ),
          ),
        ),
  );
}

export function renderDiff(d: PolicyDiff, ctx: RenderContext): HTMLElement {
  const delta = d.risk_delta > 0 ? `+${d.risk_delta}` : String(d.risk_delta);
  const verdict =
    d.risk_delta > 0 ? "The change raises the risk." : d.risk_delta < 0 ? "The change lowers the risk." : "Same score.";
  return h(
    "div",
    { class: "diff", "data-testid": "diff" },
    h(
      "div",
      { class: "headline" },
      badge(d.old_score, d.old_tier, "old"),
      h("span", { class: "arrow", "aria-hidden": "true" }, "→"),
      badge(d.new_score, d.new_tier, "new"),
      h(
        "div",
        { class: "headline-text" },
        h("p", { class: "big", "data-testid": "risk-delta" }, `Risk ${delta}`),
        h(
          "p",
          null,
          `${verdict} ${fmt(d.added_actions_total)} actions added, ${fmt(d.removed_actions_total)} removed; ${d.new_findings.length} new finding${d.new_findings.length === 1 ? "" : "s"}, ${d.resolved_findings.length} resolved.`,
        ),
      ),
    ),
    h(
      "section",
      { class: "findings-section", "data-testid": "new-findings" },
      h("h3", null, "New findings"),
      d.new_findings.length ? byCategory(d.new_findings, ctx, "new") : h("p", { class: "none" }, "None."),
    ),
    h(
      "section",
      { class: "findings-section", "data-testid": "resolved-findings" },
      h("h3", null, "Resolved findings"),
      d.resolved_findings.length ? byCategory(d.resolved_findings, ctx, "old") : h("p", { class: "none" }, "None."),
    ),
    actionGroups("Newly granted actions", d.added_actions_total, d.added_actions, "grants added"),
    actionGroups("No longer granted", d.removed_actions_total, d.removed_actions, "grants removed"),
  );
}
