// End to end in real headless Chromium (Debian's, driven by playwright-core): the built
// playground served from 127.0.0.1. Types a policy, checks the score and findings, clicks a
// finding, shows a JSON error, switches to diff mode, writes a policy in write mode and loads
// it for scoring, reloads from the URL fragment, goes offline, and checks that no request ever
// leaves 127.0.0.1. Screenshots go to target/playground-screenshots/. Run: node --test risk-wasm/tests/e2e.test.mjs (after build.sh).

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../scripts/serve.mjs";

// Report the service worker's own fetches as context requests too, so the "nothing leaves
// 127.0.0.1" check sees them (Chromium only; must be set before launch).
process.env.PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS = "1";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const DIST = join(HERE, "../playground/dist");
const SHOTS = join(ROOT, "target/playground-screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const DOC_URL = "https://github.com/iam-risk-score/iam-risk-score/blob/main/docs/rules.md";
// The flags this machine needs: no sandbox as root, and no background calls home.
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

// The engine in Node gives the expected values: the page must show exactly them.
const wasm = await import(join(HERE, "../pkg/risk_wasm.js"));
wasm.initSync({ module: readFileSync(join(HERE, "../pkg/risk_wasm_bg.wasm")) });

const TYPED = JSON.stringify(
  {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadAllSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" },
      { Sid: "LaunchWithAnyRole", Effect: "Allow", Action: ["iam:PassRole", "ec2:RunInstances"], Resource: "*" },
    ],
  },
  null,
  2,
);
const OLD = JSON.stringify(
  { Version: "2012-10-17", Statement: [{ Sid: "Launch", Effect: "Allow", Action: "ec2:RunInstances", Resource: "*" }] },
  null,
  2,
);

let server;
let browser;
const requests = []; // every URL any page, worker or context asked for
const escaped = []; // those whose host is not 127.0.0.1
const pageErrors = [];

function watch(context) {
  context.on("request", (r) => {
    const url = r.url();
    requests.push(url);
    const u = new URL(url);
    if (!["data:", "blob:"].includes(u.protocol) && u.hostname !== "127.0.0.1") escaped.push(url);
  });
  context.on("page", (p) => trackErrors(p));
}

function trackErrors(page) {
  page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`console: ${m.text()}`);
  });
}

/** A context whose every request is checked; with routing, anything not local is aborted. */
async function newContext(options = {}, { route = true } = {}) {
  const context = await browser.newContext({ serviceWorkers: route ? "block" : "allow", ...options });
  watch(context);
  if (route) {
    await context.route("**/*", (r) => {
      const u = new URL(r.request().url());
      return u.hostname === "127.0.0.1" || u.protocol === "data:" ? r.continue() : r.abort("blockedbyclient");
    });
  }
  return context;
}

async function open(context, url) {
  const page = await context.newPage();
  trackErrors(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

async function shot(page, name, fullPage = true) {
  // A full-page capture of a scrolled page draws the sticky editor column mid-page.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, name), fullPage });
}

/** Replace an editor's text by typing it, as a person would. */
async function typeInto(page, selector, text) {
  const ta = page.locator(selector);
  await ta.fill("");
  await ta.pressSequentially(text);
}

async function settled(page) {
  // Scoring is debounced and the fragment written after it; the page flags when both are done.
  await page.waitForSelector('body[data-pending="0"]');
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await serve(DIST);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

let shared; // { context, page } carried through the flow tests below

test("a typed policy shows the engine's score and findings", async () => {
  const context = await newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await open(context, `${server.url}/`);
  shared = { context, page };
  await typeInto(page, "#policy", TYPED);
  await settled(page);
  const expected = wasm.score(TYPED);
  assert.ok(expected.score >= 6, `expected a high score, engine says ${expected.score}`);
  const badge = page.locator('.report [data-testid="score-badge"]');
  assert.equal(await badge.locator(".badge-score").textContent(), String(expected.score));
  assert.match((await badge.getAttribute("class")) ?? "", new RegExp(`tier-${expected.tier}`));
  const shown = await page.locator(".finding").evaluateAll((els) => els.map((e) => e.dataset.rule));
  assert.deepStrictEqual([...shown].sort(), expected.findings.map((f) => f.rule).sort());
  for (const cat of Object.keys(expected.categories)) {
    assert.equal(await page.locator(`.category[data-category="${cat}"]`).count(), 1, `category ${cat} shown`);
  }
  for (const rule of ["PE002", "CE001"]) assert.ok(shown.includes(rule), `${rule} among ${shown}`);
  const link = page.locator('.finding[data-rule="PE002"] a.rule-code');
  assert.equal(await link.getAttribute("href"), `${DOC_URL}#pe002`);
  // What it really grants: the services of the access summary, with their counts.
  const services = await page.locator('[data-testid="grants"] details.service').evaluateAll((els) => els.map((e) => e.dataset.service));
  assert.deepStrictEqual([...services].sort(), Object.keys(expected.access_summary.by_service).sort());
  await page.locator('[data-testid="grants"] details.service[data-service="iam"] summary').click();
  await page.waitForSelector('details.service[data-service="iam"] dl.expanded');
  assert.match(await page.locator('details.service[data-service="iam"] dl.expanded').textContent(), /PassRole/);
  await shot(page, "1-score.png");
});

test("clicking a finding highlights its statement in the editor", async () => {
  const { page } = shared;
  await page.locator('.finding[data-rule="PE002"] .message').click();
  const mark = page.locator("#ed-policy .backdrop mark.m-statement");
  await mark.first().waitFor();
  const marked = (await mark.allTextContents()).join("");
  assert.match(marked, /LaunchWithAnyRole/);
  assert.doesNotMatch(marked, /ReadAllSecrets/);
  assert.match((await page.locator('.finding[data-rule="PE002"]').getAttribute("class")) ?? "", /active/);
  const sel = await page.locator("#policy").evaluate((t) => t.value.slice(t.selectionStart, t.selectionEnd));
  assert.equal(sel, marked);
  await shot(page, "2-finding-highlighted.png", false);
  // The same from the keyboard: focus the other finding's statement button and press Enter.
  await page.locator('.finding[data-rule="CE001"] button.locate').focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#ed-policy mark.m-statement")?.textContent?.includes("ReadAllSecrets"));
});

test("malformed JSON is marked at its line and column", async () => {
  const { page } = shared;
  const broken = TYPED.replace('"Effect": "Allow",\n      "Action": "secretsmanager', '"Effect": "Allow"\n      "Action": "secretsmanager');
  assert.notEqual(broken, TYPED);
  await page.locator("#policy").fill(broken);
  await settled(page);
  let err;
  try {
    wasm.score(broken);
  } catch (e) {
    err = e;
  }
  assert.ok(err?.line, "the engine rejects it with a position");
  const status = await page.locator("#status").textContent();
  assert.match(status ?? "", new RegExp(`line ${err.line}, column ${err.column}`));
  assert.equal(await page.locator("#ed-policy .gutter .err").textContent(), String(err.line));
  const marked = await page.locator("#ed-policy .backdrop mark.m-error").textContent();
  assert.equal(marked, broken.split("\n")[err.line - 1]);
  await shot(page, "3-json-error.png", false);
  // A policy that parses but is invalid: the problem's JSON path is marked.
  await page.locator("#policy").fill(TYPED.replace('"Effect": "Allow"', '"Effect": "allow"'));
  await settled(page);
  assert.match(await page.locator('[data-testid="problems"]').textContent(), /Statement\[0\]\.Effect/);
  assert.equal(await page.locator("#ed-policy .backdrop mark.m-problem").textContent(), '"Effect": "allow"');
  await page.locator("#policy").fill(TYPED);
  await settled(page);
});

test("diff mode compares two versions", async () => {
  const { page } = shared;
  await page.getByLabel("Compare two versions").check();
  await page.waitForSelector("#diff-editors:not([hidden])");
  assert.equal(await page.locator("#policy-old").inputValue(), TYPED, "diff starts from the scored policy");
  await page.locator("#policy-old").fill(OLD);
  await settled(page);
  const expected = wasm.diff(OLD, TYPED);
  assert.ok(expected.risk_delta > 0);
  assert.equal(await page.locator('[data-testid="risk-delta"]').textContent(), `Risk +${expected.risk_delta}`);
  const badges = await page.locator('.diff [data-testid="score-badge"] .badge-score').allTextContents();
  assert.deepStrictEqual(badges, [String(expected.old_score), String(expected.new_score)]);
  const added = await page.locator('[data-testid="new-findings"] .finding').evaluateAll((els) => els.map((e) => e.dataset.rule));
  assert.deepStrictEqual([...added].sort(), expected.new_findings.map((f) => f.rule).sort());
  await page.locator('[data-testid="new-findings"] .finding[data-rule="PE002"] button.locate').click();
  assert.match(await page.locator("#ed-new .backdrop mark.m-statement").textContent(), /LaunchWithAnyRole/);
  await shot(page, "4-diff.png");
});

test("a reload from the URL fragment reproduces the view", async () => {
  const { context, page } = shared;
  await page.waitForSelector('body[data-fragment="saved"]');
  await page.waitForFunction(() => location.hash.includes("mode=diff"));
  const url = page.url();
  assert.ok(!url.includes("Statement") && !url.includes("PassRole"), "the policy is encoded, not in clear");
  const again = await open(context, url);
  assert.equal(await again.locator('input[name="mode"][value="diff"]').isChecked(), true);
  assert.equal(await again.locator("#policy-old").inputValue(), OLD);
  assert.equal(await again.locator("#policy-new").inputValue(), TYPED);
  await again.waitForSelector('[data-testid="risk-delta"]');
  assert.equal(await again.locator('[data-testid="risk-delta"]').textContent(), `Risk +${wasm.diff(OLD, TYPED).risk_delta}`);
  await shot(again, "5-reloaded-diff.png");
  // Score mode with options survives a plain reload too.
  await again.getByLabel("Score a policy").check();
  await again.locator("#options summary").click();
  await again.locator("#opt-access-type").selectOption("read-only");
  await again.locator("#opt-duration").fill("24");
  await settled(again);
  await again.waitForFunction(() => location.hash.includes("options="));
  await again.reload();
  await again.waitForSelector('body[data-ready="true"]');
  const expected = wasm.score(TYPED, { accessType: "read-only", durationHours: 24 });
  assert.equal(await again.locator("#opt-access-type").inputValue(), "read-only");
  assert.equal(await again.locator('.report [data-testid="score-badge"] .badge-score').textContent(), String(expected.score));
  assert.ok(await again.locator('.category[data-category="access-mismatch"]').count());
  await again.close();
});

test("readable on a phone", async () => {
  const context = await newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const page = await open(context, `${server.url}/`);
  await page.locator('button[data-example="admin-notaction"]').click();
  await settled(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
  const badge = await page.locator('.report [data-testid="score-badge"] .badge-score').textContent();
  assert.equal(badge, String(wasm.score(await page.locator("#policy").inputValue()).score));
  assert.ok(Number(badge) >= 9, "NotAction admin scores as admin");
  await shot(page, "6-phone.png", false);
  await page.locator('[data-testid="score-badge"]').scrollIntoViewIfNeeded();
  await shot(page, "6-phone-result.png", false);
  await context.close();
});

test("accessible: labelled controls, keyboard reachable, badge contrast", async () => {
  const { page } = shared;
  await page.getByLabel("Score a policy").check();
  await settled(page);
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => !el.closest("[hidden]"))
      .filter((el) => {
        const named = el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
        return !named && !(el.tagName === "BUTTON" && el.textContent.trim());
      })
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  assert.deepStrictEqual(unlabelled, []);
  // WCAG contrast of the badge and severity chips (text on their own background).
  const ratios = await page.evaluate(() => {
    const rgb = (s) => s.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) =>
      [r, g, b].map((c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4)).reduce((a, c, i) => a + c * [0.2126, 0.7152, 0.0722][i], 0);
    const ratio = (el) => {
      const cs = getComputedStyle(el);
      const [a, b] = [lum(rgb(cs.color)), lum(rgb(cs.backgroundColor))];
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    };
    return [...document.querySelectorAll(".badge, .severity")].map((el) => [el.className, ratio(el)]);
  });
  assert.ok(ratios.length > 0);
  for (const [cls, r] of ratios) assert.ok(r >= 4.5, `${cls}: contrast ${r.toFixed(2)} < 4.5`);
  // Keyboard: Tab from the top reaches the mode switch, the examples and the editor.
  await page.locator("body").focus();
  const seen = [];
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    seen.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.dataset.example || document.activeElement?.tagName));
  }
  assert.ok(seen.includes("policy"), `tab order: ${seen.join(", ")}`);
  assert.ok(seen.some((s) => s === "passrole"), `tab order: ${seen.join(", ")}`);
});

test("works offline once loaded", async () => {
  const context = await newContext({ viewport: { width: 1200, height: 900 } }, { route: false });
  const page = await open(context, `${server.url}/`);
  await page.waitForSelector('body[data-offline="ready"]');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await page.locator('button[data-example="read-only"]').click();
  await settled(page);
  const expected = wasm.score(await page.locator("#policy").inputValue());
  assert.equal(await page.locator('.report [data-testid="score-badge"] .badge-score').textContent(), String(expected.score));
  assert.equal(expected.tier, "low");
  await shot(page, "7-offline.png", false);
  await context.close();
});

test("write mode writes and scores a policy, and loads it into the scoring editor", async () => {
  const context = await newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await open(context, `${server.url}/`);
  // Reach the mode from the keyboard: focus the current radio, arrow to "Write a policy".
  await page.locator('input[name="mode"][value="score"]').focus();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  assert.equal(await page.locator('input[name="mode"][value="write"]').isChecked(), true);
  await page.waitForSelector("#write-editors:not([hidden])");
  // Typed by a person: a bucket's objects to read, the bucket to list, a queue to write.
  await typeInto(page, "#w-read", "arn:aws:s3:::reports/*");
  await typeInto(page, "#w-list", "arn:aws:s3:::reports");
  await typeInto(page, "#w-write", "arn:aws:sqs:us-east-1:123456789012:jobs");
  await settled(page);
  const expected = wasm.writePolicy(
    JSON.stringify({
      read: ["arn:aws:s3:::reports/*"],
      write: ["arn:aws:sqs:us-east-1:123456789012:jobs"],
      list: ["arn:aws:s3:::reports"],
    }),
  );
  const shownPolicy = await page.locator('[data-testid="written"]').textContent();
  assert.deepStrictEqual(JSON.parse(shownPolicy), expected.policy);
  assert.equal(shownPolicy, JSON.stringify(expected.policy, null, 2));
  const badge = page.locator('.report [data-testid="score-badge"]');
  assert.equal(await badge.locator(".badge-score").textContent(), String(expected.report.score));
  await shot(page, "8-write.png");
  // An ARN of no resource type: the writer's message, and nothing to load.
  await typeInto(page, "#w-tagging", "arn:aws:s3:us-east-1:123456789012:nothing/x");
  await settled(page);
  assert.match(await page.locator("#status").textContent(), /^Template: /);
  assert.equal(await page.locator("#w-load").isDisabled(), true);
  await shot(page, "9-write-error.png", false);
  await page.locator("#w-tagging").fill("");
  await page.locator("#w-tagging").dispatchEvent("input");
  await settled(page);
  // Load it into the scoring tab from the keyboard.
  await page.locator("#w-load").focus();
  await page.keyboard.press("Enter");
  await page.waitForSelector("#score-editors:not([hidden])");
  await settled(page);
  assert.equal(await page.locator('input[name="mode"][value="score"]').isChecked(), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "policy");
  assert.deepStrictEqual(JSON.parse(await page.locator("#policy").inputValue()), expected.policy);
  assert.equal(await badge.locator(".badge-score").textContent(), String(expected.report.score));
  await context.close();
});

test("no request left 127.0.0.1, and the page logged no errors", async () => {
  await shared.context.close();
  assert.ok(requests.length > 10, `only ${requests.length} requests seen`);
  assert.ok(requests.some((u) => u.endsWith(".wasm")), "the .wasm request was seen");
  assert.deepStrictEqual(escaped, [], "requests that left 127.0.0.1");
  // Chromium's own offline reload logs a failed fetch of nothing; anything else is a bug.
  assert.deepStrictEqual(pageErrors.filter((e) => !e.includes("ERR_INTERNET_DISCONNECTED")), []);
});
