// The web UI end to end in real headless Chromium (Debian's, driven by playwright-core),
// against a live `iam-jit serve --dev` that scripts/test-webui.sh starts (JIT_URL) with an
// admin token (ADMIN_TOKEN). A requester signs in with the dev link, sees the live score
// before submitting, submits; an approver signs in and approves from the queue; the requester
// sees the assume-role snippets and copies one. The same path without JavaScript. The admin
// pages (users, onboarding template, CSV report download; groups, tokens created and revoked,
// the approval policy with an invalid proposal, webhooks). A tier that needs two approvals:
// the first approval shows 1 of 2 and the request stays pending. Every page
// is checked with axe-core (no serious or critical violation), for CSP violations, and for
// horizontal overflow on a phone-sized screen. Screenshots: target/test-logs/webui/.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const SHOTS = join(ROOT, "target/test-logs/webui");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const BASE = process.env.JIT_URL;
const ADMIN = process.env.ADMIN_TOKEN;
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
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
const REQUESTER = "rita@example.com";
const APPROVER = "alma@example.com";
const APPROVER2 = "abe@example.com";
const ADMIN2 = "ada@example.com";
const POLICY = JSON.stringify(
  {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::incident-logs/*" }],
  },
  null,
  2,
);

let browser;
const violations = []; // CSP violations and page errors, from every page

async function api(method, path, body, token = ADMIN) {
  const r = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function context(opts = {}) {
  const ctx = await browser.newContext({ baseURL: BASE, ...opts });
  ctx.on("page", watch);
  return ctx;
}

function watch(page) {
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  page.on("pageerror", (e) => violations.push(`page error: ${e.message}`));
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** axe-core on the current page: no serious or critical violation. */
async function accessible(page, name) {
  // Evaluated through the DevTools protocol, so the page's CSP does not block it.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `${name}: accessibility violations`,
  );
}

/** No horizontal scrolling at phone width. */
async function fitsPhone(ctxOpts, path, name) {
  const ctx = await context({ ...ctxOpts, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  await page.goto(path);
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `${name} overflows a phone screen: ${scroll} > ${width}`);
  await shot(page, `phone-${name}`);
  await ctx.close();
}

/** Follow a link of the main navigation (pages also link each other in their text). */
async function nav(page, name) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
}

/** Sign in through the login form and the dev link shown on the page. */
async function signIn(page, email) {
  await page.goto("/");
  assert.match(page.url(), /\/login$/, "anonymous visitors are sent to /login");
  await page.getByLabel("E-mail address").fill(email);
  await page.getByRole("button", { name: "Send me a sign-in link" }).click();
  await page.locator("#dev-login-link").click();
  await page.waitForURL(BASE + "/");
  await page.getByRole("heading", { name: "My requests" }).waitFor();
}

before(async () => {
  assert.ok(BASE && ADMIN, "run through scripts/test-webui.sh (JIT_URL and ADMIN_TOKEN)");
  mkdirSync(SHOTS, { recursive: true });
  for (const [email, role] of [
    [REQUESTER, "requester"],
    [APPROVER, "approver"],
  ]) {
    const r = await api("POST", "/api/v1/users", { user_id: `email:${email}`, roles: [role] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

after(async () => {
  await browser?.close();
});

test("the /login page renders a sign-in form", async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  const resp = await page.goto("/login");
  assert.equal(resp.status(), 200);
  const form = page.locator("form#login-form");
  await form.waitFor();
  assert.equal(await form.getAttribute("method"), "post");
  assert.equal(await page.getByLabel("E-mail address").getAttribute("type"), "email");
  assert.ok(await page.getByRole("button", { name: "Send me a sign-in link" }).isVisible());
  assert.doesNotMatch(resp.headers()["content-security-policy"], /unsafe-inline/);
  await shot(page, "login");
  await accessible(page, "login");
  await ctx.close();
  await fitsPhone({}, "/login", "login");
});

test("requester submits with a live score, approver approves from the queue, requester gets the snippet", async () => {
  const rctx = await context();
  await rctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const rita = await rctx.newPage();
  await signIn(rita, REQUESTER);
  await shot(rita, "home-empty");
  await accessible(rita, "home");

  await rita.getByRole("link", { name: "New request", exact: true }).first().click();
  await rita.getByLabel("What is the access for?").fill("Read the incident logs for INC-4711 (e2e)");
  await rita.getByLabel("AWS accounts").fill("111122223333");
  await rita.getByLabel("Duration (hours)").fill("2");
  await rita.getByLabel("IAM policy (JSON)").fill(POLICY);
  // The live score (the script calls POST /api/v1/requests/preview) appears before submitting.
  const live = rita.locator("#live-score");
  await live.getByText(/Risk score \d+\/10 \((low|medium|high)\)/).waitFor({ timeout: 10_000 });
  // Scored in the browser by the engine's WebAssembly build, then confirmed by the server
  // (which adds the approvals the tier needs): the same v1 result.
  await rita.locator('#live-score[data-source="wasm"][data-confirmed="server"]').waitFor({ timeout: 10_000 });
  await live.getByText(/needs \d+ approval/).waitFor();
  const liveText = await live.innerText();
  await shot(rita, "new-request-live-score");
  await accessible(rita, "new request");
  const [, liveScore] = liveText.match(/Risk score (\d+\/10)/);

  await rita.getByRole("button", { name: "Submit the request" }).click();
  await rita.waitForURL(/\/requests\/req-[0-9a-z]+$/);
  const detailUrl = rita.url();
  const id = detailUrl.split("/").pop();
  assert.equal(await rita.locator("#state").innerText(), "pending");
  assert.match(await rita.locator(".score").first().innerText(), new RegExp(`Risk score ${liveScore}`));
  assert.equal(await rita.locator("#approve-form").count(), 0, "requesters get no approve form");
  await shot(rita, "detail-pending");
  await accessible(rita, "detail (pending)");

  const actx = await context();
  const alma = await actx.newPage();
  await signIn(alma, APPROVER);
  await alma.getByRole("link", { name: "Approval queue" }).click();
  const row = alma.locator("#queue tbody tr", { hasText: id });
  await row.waitFor();
  const cells = await row.locator("td").allInnerTexts();
  assert.match(cells[2], new RegExp(liveScore), "the queue shows the score");
  assert.match(cells[3], /^\d+/, "and the number of findings");
  assert.equal(cells[4], "0 of 1", "and the quorum progress");
  await shot(alma, "queue");
  await accessible(alma, "queue");
  await fitsPhone({ storageState: await actx.storageState() }, "/queue", "queue");
  await row.getByRole("link").click();
  await alma.getByLabel("Comment (optional)").fill("fine for the incident");
  await shot(alma, "detail-approver");
  await accessible(alma, "detail (approver)");
  await alma.getByRole("button", { name: "Approve" }).click();
  await alma.waitForURL(/done=approved/);
  assert.equal(await alma.locator("#state").innerText(), "active");

  await rita.goto(detailUrl);
  assert.equal(await rita.locator("#state").innerText(), "active");
  const cli = rita.locator("#cli-1");
  assert.match(await cli.innerText(), /^aws sts assume-role --role-arn arn:aws:iam::111122223333:role\//);
  const copy = rita.locator('button[data-copy="cli-1"]');
  assert.ok(await copy.isVisible(), "the script shows the copy buttons");
  await copy.click();
  await copy.getByText(/Copied|Selected/).waitFor();
  const copied = await rita.evaluate(() => navigator.clipboard.readText().catch(() => null));
  if (copied !== null) assert.equal(copied, await cli.innerText());
  await shot(rita, "detail-active-assume");
  await accessible(rita, "detail (active)");

  await fitsPhone({ storageState: await rctx.storageState() }, new URL(detailUrl).pathname, "detail");
  await fitsPhone({ storageState: await rctx.storageState() }, "/requests/new", "new-request");
  await rctx.close();
  await actx.close();
});

test("the same path works without JavaScript", async () => {
  const rctx = await context({ javaScriptEnabled: false });
  const rita = await rctx.newPage();
  await signIn(rita, REQUESTER);
  await rita.goto("/requests/new");
  await rita.getByLabel("What is the access for?").fill("Read the incident logs again, without scripts");
  await rita.getByLabel("AWS accounts").fill("111122223333");
  // A broader policy, so the findings (by category) show in the screenshot.
  await rita.getByLabel("IAM policy (JSON)").fill(
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: ["s3:*", "iam:PassRole"], Resource: "*" }],
    }),
  );
  // Without the script the preview button scores the form on the server.
  await rita.getByRole("button", { name: "Preview the risk score" }).click();
  await rita.locator("#live-score").getByText(/Risk score \d+\/10/).waitFor();
  await shot(rita, "nojs-preview");
  assert.ok((await rita.locator("#live-score .category").count()) > 0, "findings by category");
  await rita.getByRole("button", { name: "Submit the request" }).click();
  await rita.waitForURL(/\/requests\/req-/);
  const detailUrl = rita.url();
  assert.equal(await rita.locator("#state").innerText(), "pending");

  const actx = await context({ javaScriptEnabled: false });
  const alma = await actx.newPage();
  await signIn(alma, APPROVER);
  await alma.goto(new URL(detailUrl).pathname);
  await alma.getByLabel("What should change?").fill("name the incident ticket, please");
  await alma.getByRole("button", { name: "Request changes" }).click();
  await alma.waitForURL(/done=changes-requested/);
  assert.equal(await alma.locator("#state").innerText(), "needs_changes");
  await rita.goto(detailUrl);
  assert.match(await rita.locator(".comments").innerText(), /name the incident ticket/);
  // The requester edits it (a plain form too); it goes back to pending.
  await rita.getByRole("link", { name: "Edit the request" }).click();
  await rita.getByLabel("What is the access for?").fill("Read the incident logs for INC-4711, without scripts");
  // The server's preview compares the edit with the saved revision.
  await rita.getByRole("button", { name: "Preview the risk score" }).click();
  await rita.locator("#revision-diff").getByText(/Against revision 1: risk/).waitFor();
  await rita.getByRole("button", { name: "Save the changes" }).click();
  await rita.waitForURL(/done=edited/);
  assert.equal(await rita.locator("#state").innerText(), "pending");
  assert.match(await rita.locator("#description").innerText(), /INC-4711/);
  // The copy buttons stay hidden without the script (nothing to copy here anyway).
  assert.equal(await rita.locator("button[data-copy]:visible").count(), 0);
  await rctx.close();
  await actx.close();
});

test("an edit after a request for changes shows its diff against the saved revision, live in the browser", async () => {
  const rctx = await context();
  const rita = await rctx.newPage();
  await signIn(rita, REQUESTER);
  await rita.goto("/requests/new");
  await rita.getByLabel("What is the access for?").fill("Upload the INC-4711 forensics bundle (e2e diff)");
  await rita.getByLabel("AWS accounts").fill("111122223333");
  await rita.getByLabel("IAM policy (JSON)").fill(POLICY);
  await rita.locator('#live-score[data-source="wasm"]').waitFor({ timeout: 10_000 });
  await rita.getByRole("button", { name: "Submit the request" }).click();
  await rita.waitForURL(/\/requests\/req-[0-9a-z]+$/);
  const detailUrl = rita.url();

  const actx = await context();
  const alma = await actx.newPage();
  await signIn(alma, APPROVER);
  await alma.goto(new URL(detailUrl).pathname);
  await alma.getByLabel("What should change?").fill("the upload needs s3:PutObject on the bundle prefix only");
  await alma.getByRole("button", { name: "Request changes" }).click();
  await alma.waitForURL(/done=changes-requested/);

  await rita.goto(detailUrl);
  await rita.getByRole("link", { name: "Edit the request" }).click();
  const edited = JSON.stringify(
    {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::incident-logs/*" },
        { Effect: "Allow", Action: ["s3:PutObject"], Resource: "arn:aws:s3:::incident-logs/forensics/*" },
      ],
    },
    null,
    2,
  );
  await rita.getByLabel("IAM policy (JSON)").fill(edited);
  // The browser's engine compares the edit with revision 1 as the user types.
  const diff = rita.locator('#revision-diff-live[data-source="wasm"]');
  await diff.getByText(/Against the saved request \(revision 1\): risk/).waitFor({ timeout: 10_000 });
  await diff.getByRole("heading", { name: /Newly granted actions/ }).waitFor();
  assert.match(await diff.innerText(), /s3 · Write: .*PutObject/);
  await shot(rita, "edit-diff-live");
  await accessible(rita, "edit with diff");
  await rita.getByRole("button", { name: "Save the changes" }).click();
  await rita.waitForURL(/done=edited/);

  // The approver sees what revision 2 changed.
  await alma.goto(new URL(detailUrl).pathname);
  const changes = alma.locator("#revision-changes");
  await changes.getByRole("heading", { name: "Changes in revision 2" }).waitFor();
  assert.match(await changes.innerText(), /Against revision 1: risk/);
  assert.match(await changes.innerText(), /PutObject/);
  await shot(alma, "detail-revision-changes");
  await accessible(alma, "detail with revision changes");
  await rctx.close();
  await actx.close();
});

test("admin pages: users, accounts with the onboarding template, report downloads", async () => {
  const ctx = await context();
  const page = await ctx.newPage();
  await signIn(page, "admin@localhost");
  await page.getByRole("link", { name: "Users" }).click();
  await page.locator("#users", { hasText: `email:${APPROVER}` }).waitFor();
  await shot(page, "admin-users");
  await accessible(page, "admin users");

  await page.getByRole("link", { name: "Accounts" }).click();
  await page.getByLabel("AWS account id").fill("111122223333");
  await page.getByRole("button", { name: "Generate the onboarding template" }).click();
  await page.locator("#cfn").getByText(/AWSTemplateFormatVersion/).waitFor();
  assert.ok(await page.locator('button[data-copy="cfn"]').isVisible());
  await shot(page, "admin-accounts-onboarding");
  await accessible(page, "admin accounts");

  await page.getByRole("link", { name: "Reports" }).click();
  await shot(page, "admin-reports");
  await accessible(page, "admin reports");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download grants (CSV)" }).click();
  const file = await (await download).path();
  const csv = readFileSync(file, "utf8");
  assert.match(csv.split("\n")[0], /^id,owner,.*risk_score,tier/, "a CSV with its header row");
  assert.ok(csv.includes(`email:${REQUESTER}`), "the grants of the test above");
  await ctx.close();
  await fitsPhone({}, "/login", "login-again");
});

test("admin pages: groups, tokens created and revoked, approval policy, webhooks", async () => {
  const ctx = await context();
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await ctx.newPage();
  await signIn(page, "admin@localhost");

  // A user's groups, changed with the per-user form (PATCH /api/v1/users/{id} underneath).
  await nav(page, "Users");
  const row = page.locator("#users tbody tr", { hasText: `email:${APPROVER}` });
  await row.locator("summary").click();
  await row.getByLabel("Groups").fill("oncall, db-admins");
  await row.getByRole("button", { name: `Save email:${APPROVER}` }).click();
  await page.waitForURL(/done=updated/);
  assert.match(await page.locator("#users tbody tr", { hasText: `email:${APPROVER}` }).innerText(), /db-admins, oncall/);
  await shot(page, "admin-users-updated");
  await accessible(page, "admin users (updated)");

  await nav(page, "Groups");
  const group = page.locator("#groups tbody tr", { hasText: "oncall" });
  assert.match(await group.innerText(), new RegExp(`email:${APPROVER} \\(approver\\)`));
  await shot(page, "admin-groups");
  await accessible(page, "admin groups");

  // A token: created, its secret shown once with a copy button, then revoked.
  await nav(page, "Tokens");
  await page.getByLabel("Name", { exact: true }).fill("e2e-ci");
  await page.getByLabel("Expires in (days, optional)").fill("7");
  await page.getByRole("button", { name: "Create the token" }).click();
  const secret = (await page.locator("#token-secret").innerText()).trim();
  assert.match(secret, /^iamjit_/);
  const me = await api("GET", "/api/v1/me", undefined, secret);
  assert.equal(me.status, 200, "the new token works");
  const copy = page.locator('button[data-copy="token-secret"]');
  await copy.click();
  await copy.getByText(/Copied|Selected/).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText().catch(() => null));
  if (copied !== null) assert.equal(copied.trim(), secret);
  await shot(page, "admin-token-created");
  await accessible(page, "admin token created");
  await page.goto("/admin/tokens");
  assert.ok(!(await page.content()).includes(secret), "the secret is shown once");
  await page.getByRole("button", { name: "Revoke e2e-ci of email:admin@localhost" }).click();
  await page.waitForURL(/done=revoked/);
  assert.match(await page.locator("#tokens tbody tr", { hasText: "e2e-ci" }).innerText(), /revoked/);
  assert.equal((await api("GET", "/api/v1/me", undefined, secret)).status, 401, "the revoked token is refused");
  await shot(page, "admin-tokens");
  await accessible(page, "admin tokens");

  // The approval policy; a proposal that is not JSON comes back with the error, not a 500.
  await nav(page, "Approval policy");
  await page.locator("#tiers").waitFor();
  await shot(page, "admin-approval-policy");
  await accessible(page, "admin approval policy");
  await page.getByLabel("Approval policy (JSON)").fill('{"tiers": {"low": ');
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/admin/approval-policy") && r.request().method() === "POST"),
    page.getByRole("button", { name: "Propose this version" }).click(),
  ]);
  assert.equal(resp.status(), 422);
  await page.locator("#policy-errors").waitFor();
  assert.match(await page.locator("#policy-errors").innerText(), /policy: not valid JSON/);
  assert.equal(await page.getByLabel("Approval policy (JSON)").inputValue(), '{"tiers": {"low": ');
  await shot(page, "admin-approval-policy-invalid");
  await accessible(page, "admin approval policy (invalid proposal)");
  const versions = await api("GET", "/api/v1/approval-policy/versions");
  assert.deepEqual(versions.body.versions, [], "nothing was proposed");

  await nav(page, "Webhooks");
  await page.getByRole("heading", { name: "Recent deliveries" }).waitFor();
  await shot(page, "admin-webhooks");
  await accessible(page, "admin webhooks");

  const state = { storageState: await ctx.storageState() };
  for (const p of ["users", "groups", "tokens", "approval-policy", "webhooks"]) {
    await fitsPhone(state, `/admin/${p}`, `admin-${p}`);
  }
  await ctx.close();
});

test("a tier that needs two approvals: 1 of 2 stays pending, the second approval activates", async () => {
  // Set up with the API: a second approver, a second admin (a policy version needs one to
  // approve it) with a token, and a version where every tier needs two approvals (the
  // evaluator in shadow mode, so the shadow log has an entry).
  for (const [email, role] of [
    [APPROVER2, "approver"],
    [ADMIN2, "admin"],
  ]) {
    const r = await api("POST", "/api/v1/users", { user_id: `email:${email}`, roles: [role] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const t = await api("POST", "/api/v1/tokens", { name: "e2e", user_id: `email:${ADMIN2}`, expires_in_days: 1 });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  const current = await api("GET", "/api/v1/approval-policy");
  const policy = current.body.policy;
  for (const tier of ["low", "medium", "high"]) policy.tiers[tier].quorum = 2;
  policy.auto_approval = { ...policy.auto_approval, enabled: true, shadow: true, accounts: ["111122223333"] };
  const proposed = await api("PUT", "/api/v1/approval-policy", policy);
  assert.equal(proposed.status, 202, JSON.stringify(proposed.body));
  const version = proposed.body.proposal.version;
  const self = await api("POST", `/api/v1/approval-policy/versions/${version}/approve`, {});
  assert.equal(self.status, 403, "the proposer cannot approve its own version");
  const approved = await api("POST", `/api/v1/approval-policy/versions/${version}/approve`, {}, t.body.token);
  assert.equal(approved.status, 200, JSON.stringify(approved.body));

  const rctx = await context();
  const rita = await rctx.newPage();
  await signIn(rita, REQUESTER);
  await rita.goto("/requests/new");
  await rita.getByLabel("What is the access for?").fill("Read the incident logs, two approvers (e2e)");
  await rita.getByLabel("AWS accounts").fill("111122223333");
  await rita.getByLabel("IAM policy (JSON)").fill(POLICY);
  await rita.locator("#live-score").getByText(/needs 2 approvals/).waitFor({ timeout: 10_000 });
  await rita.getByRole("button", { name: "Submit the request" }).click();
  await rita.waitForURL(/\/requests\/req-[0-9a-z]+$/);
  const path = new URL(rita.url()).pathname;
  assert.equal(await rita.locator("#quorum").innerText(), "0 of 2");

  const actx = await context();
  const alma = await actx.newPage();
  await signIn(alma, APPROVER);
  await alma.goto(path);
  await alma.getByRole("button", { name: "Approve" }).click();
  await alma.waitForURL(/done=approved/);
  assert.equal(await alma.locator("#state").innerText(), "pending", "one approval of two");
  assert.equal(await alma.locator("#quorum").innerText(), "1 of 2");
  // Her approval counts; she is not offered a second one (the API would refuse it).
  assert.match(await alma.locator("#approved-by-me").innerText(), /needs 1 more approval from other approvers/);
  assert.equal(await alma.locator("#approve-form").count(), 0);
  await shot(alma, "detail-quorum-1-of-2");
  await accessible(alma, "detail (1 of 2)");

  const bctx = await context();
  const abe = await bctx.newPage();
  await signIn(abe, APPROVER2);
  await abe.goto(path);
  assert.equal(await abe.locator("#quorum").innerText(), "1 of 2");
  await abe.getByLabel("Comment (optional)").fill("second approval");
  await abe.getByRole("button", { name: "Approve" }).click();
  await abe.waitForURL(/done=approved/);
  assert.equal(await abe.locator("#state").innerText(), "active");

  await rita.goto(path);
  assert.equal(await rita.locator("#state").innerText(), "active");
  assert.equal(await rita.locator("#quorum").innerText(), "2 of 2");
  assert.match(await rita.locator("#cli-1").innerText(), /^aws sts assume-role --role-arn arn:aws:iam::111122223333:role\//);
  await shot(rita, "detail-quorum-active");

  // The shadow log on the approval-policy page names the request.
  const id = path.split("/").pop();
  const adm = await (await context()).newPage();
  await signIn(adm, "admin@localhost");
  await adm.goto("/admin/approval-policy");
  await adm.locator("#shadow-log", { hasText: id }).waitFor();
  assert.match(await adm.locator("#auto-mode").innerText(), /shadow mode/);
  await shot(adm, "admin-approval-policy-shadow-log");
  await accessible(adm, "admin approval policy (shadow log)");
  await adm.context().close();
  await rctx.close();
  await actx.close();
  await bctx.close();
});

test("no page broke its Content-Security-Policy or threw", () => {
  assert.deepEqual(violations, []);
});
