// Parity: the WASM module (web build, loaded in Node with initSync) gives exactly what the CLI
// prints with `--format json`, for the shared corpus, the AWS managed policies, options, diff,
// explain, rules, catalog and errors. Run: node --test risk-wasm/tests/parity.test.mjs
// (after risk-wasm/build.sh and `cargo build -p risk-cli`; IAM_RISK_SCORE_CLI overrides the binary).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const CLI = process.env.IAM_RISK_SCORE_CLI ?? join(ROOT, "target/debug/iam-risk-score");
const CORPUS = join(ROOT, "risk-core/tests/corpus");
const MANAGED = join(ROOT, "benches/corpus/aws-managed-policies.jsonl");

const wasm = await import(join(HERE, "../pkg/risk_wasm.js"));
wasm.initSync({ module: readFileSync(join(HERE, "../pkg/risk_wasm_bg.wasm")) });

const tmp = mkdtempSync(join(tmpdir(), "risk-wasm-parity-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args) {
  const r = spawnSync(CLI, args, { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return r;
}

function file(name, text) {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

/** The CLI's JSON output, checked against the WASM result as objects and as bytes. */
function assertSameJson(result, stdout, what) {
  assert.deepStrictEqual(result, JSON.parse(stdout), `${what}: objects differ`);
  // The module hands back what serde printed, so re-serialising gives the CLI's exact bytes.
  assert.equal(`${JSON.stringify(result, null, 2)}\n`, stdout, `${what}: bytes differ`);
}

/** What the module throws, as `{message, problems, …}`. */
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Error, "throws an Error");
    return e;
  }
  assert.fail("expected an error");
}

const corpus = readdirSync(CORPUS)
  .filter((f) => f.endsWith(".json"))
  .sort();

test("the corpus is there", () => {
  assert.ok(corpus.length >= 45, `only ${corpus.length} corpus files`);
});

for (const name of corpus) {
  test(`corpus ${name}: score equals the CLI's --format json`, () => {
    const text = `${JSON.stringify(JSON.parse(readFileSync(join(CORPUS, name), "utf8")).policy, null, 2)}\n`;
    const out = cli([file(name, text), "--format", "json"]);
    assert.ok(out.status === 0 || out.status === 1, `CLI exit ${out.status}: ${out.stderr}`);
    assertSameJson(wasm.score(text), out.stdout, name);
  });
}

test("options equal the CLI's flags", () => {
  const cases = [
    [{ accessType: "read-only", durationHours: 24 }, ["--access-type", "read-only", "--duration-hours", "24"]],
    [{ accessType: "read-write", durationHours: 8760, description: "nightly export" },
      ["--access-type", "read-write", "--duration-hours", "8760", "--description", "nightly export"]],
    [{ extraSensitiveServices: ["dynamodb", "lambda"], extraHighImpactActions: ["iam:PassRole", "route53:Change*"] },
      ["--sensitive-service", "dynamodb", "--sensitive-service", "lambda", "--high-impact-action", "iam:PassRole", "--high-impact-action", "route53:Change*"]],
    [{ policyType: "resource" }, ["--policy-type", "resource"]],
  ];
  for (const name of ["privesc-cloudformation-passrole.json", "benign-dynamodb-crud-one-table.json", "infra-route53-one-zone-records.json"]) {
    const text = JSON.stringify(JSON.parse(readFileSync(join(CORPUS, name), "utf8")).policy);
    const path = file(`opts-${name}`, text);
    for (const [options, flags] of cases) {
      const out = cli([path, "--format", "json", ...flags]);
      assert.ok(out.status === 0 || out.status === 1, `CLI exit ${out.status}: ${out.stderr}`);
      assertSameJson(wasm.score(text, options), out.stdout, `${name} ${flags.join(" ")}`);
    }
  }
});

test("every AWS managed policy scores identically", () => {
  const dir = join(tmp, "managed");
  mkdirSync(dir);
  const docs = readFileSync(MANAGED, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line, i) => ({ file: join(dir, `${String(i).padStart(4, "0")}.json`), text: JSON.stringify(JSON.parse(line).document) }));
  assert.equal(docs.length, 1594);
  for (const d of docs) writeFileSync(d.file, d.text);
  const out = cli([dir, "--format", "json"]);
  assert.ok(out.status === 0 || out.status === 1, `CLI exit ${out.status}: ${out.stderr.slice(0, 500)}`);
  const byFile = new Map(JSON.parse(out.stdout).map((o) => [basename(o.file), o]));
  let same = 0;
  for (const d of docs) {
    const expected = byFile.get(basename(d.file));
    assert.ok(expected?.result, `CLI has no result for ${d.file}: ${JSON.stringify(expected?.error)}`);
    assert.deepStrictEqual(wasm.score(d.text), expected.result, basename(d.file));
    same++;
  }
  assert.equal(same, 1594);
});

test("diff equals `iam-risk-score diff --format json`", () => {
  const policy = (name) => JSON.stringify(JSON.parse(readFileSync(join(CORPUS, name), "utf8")).policy);
  const pairs = [
    ["benign-lambda-basic-execution.json", "privesc-cloudformation-passrole.json"],
    ["privesc-put-role-policy-any-role.json", "benign-s3-get-star-one-bucket.json"],
    ["admin-iam-star.json", "admin-iam-star.json"],
    ["deny-only-guardrail.json", "pred-notaction-all-but-delete-bucket.json"],
  ];
  for (const [a, b] of pairs) {
    const [oldText, newText] = [policy(a), policy(b)];
    // `--no-threshold`: the exit status is not what is compared (diff fails at 5 by default).
    const out = cli(["diff", file(`old-${a}`, oldText), file(`new-${b}`, newText), "--format", "json", "--no-threshold"]);
    assert.equal(out.status, 0, out.stderr);
    assertSameJson(wasm.diff(oldText, newText), out.stdout, `${a} -> ${b}`);
  }
  const out = cli(["diff", file("o.json", policy(pairs[0][0])), file("n.json", policy(pairs[0][1])), "--format", "json", "--access-type", "read-only"]);
  assertSameJson(wasm.diff(policy(pairs[0][0]), policy(pairs[0][1]), { accessType: "read-only" }), out.stdout, "diff --access-type");
});

test("explain, rules and catalog equal the CLI", () => {
  for (const q of ["PE002", "passrole-escalation", "s3:Get*", "iam:*Role*", "ec2:describe*"]) {
    const out = cli(["explain", q, "--format", "json"]);
    assert.equal(out.status, 0, out.stderr);
    assertSameJson(wasm.explain(q), out.stdout, `explain ${q}`);
  }
  for (const q of ["s3:GetObjectz", "nosuchservice:Get*", "not a pattern", ""]) {
    const out = cli(["explain", q, "--format", "json"]);
    assert.equal(out.status, 2);
    const e = thrown(() => wasm.explain(q));
    assert.equal(`error: ${e.message}\n`, out.stderr, `explain ${JSON.stringify(q)}`);
    assert.equal(e.problems.length, 1);
  }
  assertSameJson(wasm.rules(), cli(["rules", "--format", "json"]).stdout, "rules");
  assertSameJson(wasm.catalogInfo(), cli(["catalog", "--format", "json"]).stdout, "catalog");
  assert.equal(cli(["--version"]).stdout.trim(), `iam-risk-score ${wasm.version().engine}`);
  const v = wasm.version();
  assert.deepStrictEqual(wasm.score('{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}').versions, v);
});

test("errors carry the CLI's message and problems", () => {
  const cases = [
    "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"Action\": \"*\"}\n  ]\n}\n",
    "{\"Statement\": [",
    "[]",
    "{}",
    '{"Version":"2012-10-18","Statement":[{"Effect":"allow","Action":[1],"Resource":"*","Foo":1},{"Effect":"Deny"}]}',
    // A repeated key and nesting beyond 128 levels: the core's strict reader on both sides.
    '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",\n "Resource": "*", "Action": "*"}}',
    '{"Statement": ' + "[".repeat(200) + "]".repeat(200) + "}",
  ];
  for (const [i, text] of cases.entries()) {
    const out = cli([file(`bad-${i}.json`, text), "--format", "json"]);
    assert.equal(out.status, 2, `case ${i}: ${out.stdout}`);
    const expected = JSON.parse(out.stdout).error;
    const e = thrown(() => wasm.score(text));
    assert.equal(e.name, "PolicyError");
    assert.equal(e.message, expected.message, `case ${i}`);
    assert.deepStrictEqual(e.problems, expected.details, `case ${i}`);
  }
  const syntax = thrown(() => wasm.score(cases[0]));
  assert.deepStrictEqual([syntax.line, syntax.column], [4, 24]);
  const dup = thrown(() => wasm.score(cases[5]));
  assert.deepStrictEqual([dup.line, dup.column], [2, 19]);
  assert.equal(dup.problems[0].path, "Statement.Action");
  const side = thrown(() => wasm.diff('{"Statement":[]}', cases[1]));
  assert.equal(side.side, "new");
  assert.match(side.message, /^new policy: the policy ends unexpectedly/);
  const diffCli = cli(["diff", file("ok.json", '{"Statement":[]}'), file("eof.json", cases[1]), "--format", "json"]);
  assert.equal(diffCli.stderr, `error: ${side.message}\n`);
});

test("oversized input throws a PolicyError before parsing, as the CLI refuses it", () => {
  // Valid JSON one byte over 1 MiB: only its size can fail, in the module and in the CLI.
  const policy = '{"Statement": []}';
  const big = policy + " ".repeat(1024 * 1024 + 1 - policy.length);
  const e = thrown(() => wasm.score(big));
  assert.equal(e.name, "PolicyError");
  assert.deepStrictEqual(e.problems, [{ path: "", message: e.message }]);
  assert.equal(thrown(() => wasm.diff(policy, big)).side, "new");
  assert.match(thrown(() => wasm.policyFromCloudTrail("[" + " ".repeat(32 * 1024 * 1024) + "]")).message,
    /^the CloudTrail input is larger than 32 MiB; split it/);
  // The CLI names the file where the module says "the policy"; the rest is the same text.
  const out = cli([file("big.json", big), "--format", "json"]);
  assert.equal(out.status, 2, out.stdout);
  const cliMessage = JSON.parse(out.stdout).error.message;
  assert.ok(cliMessage.endsWith(e.message.replace(/^the policy/, "")), `${cliMessage} vs ${e.message}`);
  assert.equal(e.message, "the policy is larger than 1024 KiB; an IAM policy is at most a few KiB");
});

test("bad options throw an OptionsError naming each path", () => {
  const policy = '{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}';
  const e = thrown(() =>
    wasm.score(policy, { durationHours: 0, extraSensitiveServices: ["nosuch"], extraHighImpactActions: ["s3:Nope*"], colour: "red" }),
  );
  assert.equal(e.name, "OptionsError");
  assert.deepStrictEqual(
    e.problems.map((p) => p.path),
    // risk-core's field order, unknown keys last: the order of every surface.
    ["options.durationHours", "options.extraSensitiveServices[0]", "options.extraHighImpactActions[0]", "options.colour"],
  );
  assert.equal(thrown(() => wasm.score(policy, "read-only")).message, "options must be an object, got `read-only`");
  // undefined, null and {} are all "no options".
  const plain = wasm.score(policy);
  assert.deepStrictEqual(wasm.score(policy, null), plain);
  assert.deepStrictEqual(wasm.score(policy, {}), plain);
  assert.deepStrictEqual(wasm.score(policy, { accessType: null }), plain);
});

test("the TypeScript declarations name exactly the fields the results have", () => {
  const dts = readFileSync(join(HERE, "../src/types.d.ts"), "utf8");
  const fields = new Map();
  for (const m of dts.matchAll(/export interface (\w+)[^{]*\{([\s\S]*?)\n\}/g)) {
    fields.set(m[1], [...m[2].matchAll(/^ {2}(\w+)\??:/gm)].map((f) => f[1]).sort());
  }
  const keys = (o) => Object.keys(o).sort();
  const corpus = (name) => JSON.stringify(JSON.parse(readFileSync(join(CORPUS, name), "utf8")).policy);
  const r = wasm.score(corpus("privesc-cloudformation-passrole.json"));
  assert.deepStrictEqual(fields.get("Report"), keys(r));
  assert.deepStrictEqual(fields.get("Finding"), keys(r.findings[0]));
  assert.deepStrictEqual(fields.get("AccessSummary"), keys(r.access_summary));
  assert.deepStrictEqual(fields.get("ServiceAccess"), keys(Object.values(r.access_summary.by_service)[0]));
  assert.deepStrictEqual(fields.get("Versions"), keys(r.versions));
  const d = wasm.diff(corpus("benign-lambda-basic-execution.json"), corpus("privesc-cloudformation-passrole.json"));
  assert.deepStrictEqual(fields.get("PolicyDiff"), keys(d));
  assert.deepStrictEqual(fields.get("RuleDoc"), keys(wasm.rules()[0]));
  assert.deepStrictEqual(fields.get("CatalogInfo"), keys(wasm.catalogInfo()));
  assert.deepStrictEqual(fields.get("ActionDoc"), keys(Object.values(Object.values(wasm.explain("s3:Get*").services)[0])[0][0]));
});

// The policy writer and CloudTrail: the same bytes as `write-policy` / `from-cloudtrail --format json`.
const AUTHORING = join(ROOT, "risk-core/tests/fixtures/authoring");
const CLOUDTRAIL = join(ROOT, "risk-core/tests/fixtures/cloudtrail");
const templates = readdirSync(AUTHORING)
  .filter((f) => f.endsWith(".json") && !f.endsWith(".policy_sentry.json"))
  .sort();
const trails = readdirSync(CLOUDTRAIL)
  .filter((f) => f.endsWith(".json"))
  .sort();

test("the authoring fixtures are there", () => {
  assert.ok(templates.length >= 14, `only ${templates.length} templates`);
  assert.ok(trails.length >= 8, `only ${trails.length} CloudTrail files`);
});

for (const name of templates) {
  test(`template ${name}: writePolicy equals \`write-policy --format json\``, () => {
    const path = join(AUTHORING, name);
    const out = cli(["write-policy", "--template", path, "--format", "json"]);
    const text = readFileSync(path, "utf8");
    if (out.status !== 0) {
      assert.equal(out.status, 2, out.stderr);
      const e = thrown(() => wasm.writePolicy(text));
      assert.ok(out.stderr.includes(e.message), `${e.message} not in ${out.stderr}`);
      return;
    }
    assertSameJson(wasm.writePolicy(text), out.stdout, name);
  });
}

test("writePolicy: warnings, and errors with the writer's message", () => {
  const actions = JSON.stringify({ mode: "actions", actions: ["s3:GetObject"] });
  const out = cli(["write-policy", "--template", file("actions-mode.json", actions), "--format", "json"]);
  assert.equal(out.status, 0, out.stderr);
  const w = wasm.writePolicy(actions);
  assert.ok(w.warnings.length > 0);
  assertSameJson(w, out.stdout, "actions mode");
  const bad = cli(["write-policy", "--read", "arn:aws:s3:us-east-1:123456789012:nothing/x"]);
  assert.equal(bad.status, 2);
  const e = thrown(() => wasm.writePolicy('{"read": ["arn:aws:s3:us-east-1:123456789012:nothing/x"]}'));
  assert.equal(e.name, "PolicyError");
  assert.ok(bad.stderr.startsWith(`error: ${e.message.split("\n")[0]}`), bad.stderr);
  assert.deepStrictEqual(e.problems, [{ path: "", message: e.message }]);
  const json = thrown(() => wasm.writePolicy('{"read": ['));
  assert.equal(json.line, 1);
  assert.match(thrown(() => wasm.writePolicy('{"reed": []}')).message, /^unknown template key `reed`/);
});

for (const name of trails) {
  test(`CloudTrail ${name}: policyFromCloudTrail equals \`from-cloudtrail --format json\``, () => {
    const path = join(CLOUDTRAIL, name);
    const text = readFileSync(path, "utf8");
    for (const denied of [false, true]) {
      const out = cli(["from-cloudtrail", path, "--format", "json", ...(denied ? ["--include-denied"] : [])]);
      assert.equal(out.status, 0, out.stderr);
      assertSameJson(wasm.policyFromCloudTrail(text, { includeDenied: denied }), out.stdout, `${name} denied=${denied}`);
    }
  });
}

test("policyFromCloudTrail: errors and options", () => {
  assert.match(thrown(() => wasm.policyFromCloudTrail('{"Items": []}')).message, /^not CloudTrail: expected `Records`/);
  assert.equal(thrown(() => wasm.policyFromCloudTrail("{")).line, 1);
  const o = thrown(() => wasm.policyFromCloudTrail("[]", { includeDenied: "yes" }));
  assert.equal(o.name, "OptionsError");
  assert.deepStrictEqual(o.problems.map((p) => p.path), ["options.includeDenied"]);
  assert.equal(thrown(() => wasm.policyFromCloudTrail("[]", { colour: 1 })).problems[0].path, "options.colour");
  const text = readFileSync(join(CLOUDTRAIL, "s3-log-file.json"), "utf8");
  assert.deepStrictEqual(wasm.policyFromCloudTrail(text, null), wasm.policyFromCloudTrail(text));
  assert.deepStrictEqual(wasm.policyFromCloudTrail(text, { include_denied: false }), wasm.policyFromCloudTrail(text));
});

test("the TypeScript declarations name the authoring results' fields", () => {
  const dts = readFileSync(join(HERE, "../src/types.d.ts"), "utf8");
  const fields = (name) => {
    const m = dts.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`));
    return [...m[1].matchAll(/^ {2}(\w+)\??:/gm)].map((f) => f[1]).sort();
  };
  const w = wasm.writePolicy(JSON.stringify({ mode: "actions", actions: ["s3:GetObject"] }));
  assert.deepStrictEqual(fields("WrittenPolicy"), Object.keys(w).sort());
  const a = wasm.policyFromCloudTrail(readFileSync(join(CLOUDTRAIL, "s3-log-file.json"), "utf8"));
  assert.deepStrictEqual(fields("FromActivity"), Object.keys(a).sort());
});

// Narrowing: the same bytes as `narrow POLICY … --format json`.
const NARROW_POLICY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    { Sid: "App", Effect: "Allow", Action: ["s3:*", "dynamodb:GetItem"], Resource: "*" },
    { Sid: "Queue", Effect: "Allow", Action: "sqs:*", Resource: "*", Condition: { Bool: { "aws:SecureTransport": "true" } } },
    { Effect: "Deny", Action: "s3:DeleteBucket", Resource: "*" },
  ],
});
const ARNS = ["arn:aws:s3:::reports/*", "arn:aws:s3:::reports"];
const USED = ["s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets", "dynamodb:GetItem", "sqs:SendMessage"];
const narrowCases = () => [
  ["resources", { resources: ARNS }],
  ["used list", { resources: ARNS, usedActions: USED }],
  ["used policy", { resources: [], usedActions: { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: USED, Resource: "*" }] } }],
  ["from-cloudtrail answer", { resources: ARNS, usedActions: wasm.policyFromCloudTrail(readFileSync(join(CLOUDTRAIL, "s3-log-file.json"), "utf8")) }],
  ["levels", { resources: ARNS, accessLevels: ["read", "List"] }],
  ["levels and used", { resources: [], accessLevels: ["permissions-management", "read"], usedActions: USED }],
  ["nothing known", { resources: [] }],
];

for (const [name, input] of narrowCases()) {
  test(`narrow (${name}) equals \`narrow --format json\``, () => {
    const args = ["narrow", file("narrow-policy.json", NARROW_POLICY), "--format", "json"];
    if (input.resources.length) args.push("--resource", ...input.resources);
    for (const l of input.accessLevels ?? []) args.push("--access-level", l);
    if (input.usedActions) args.push("--used-actions", file(`used-${name.replace(/ /g, "-")}.json`, JSON.stringify(input.usedActions)));
    const out = cli(args);
    assert.equal(out.status, 0, out.stderr);
    assertSameJson(wasm.narrow(NARROW_POLICY, JSON.stringify(input)), out.stdout, name);
    // snake_case keys are read too.
    const snake = { resources: input.resources, access_levels: input.accessLevels, used_actions: input.usedActions };
    assertSameJson(wasm.narrow(NARROW_POLICY, JSON.stringify(snake)), out.stdout, `${name} (snake_case)`);
  });
}

test("narrow: errors with the core's message", () => {
  const bad = "arn:aws:s3:us-east-1:123456789012:nothing/x";
  const out = cli(["narrow", file("narrow-policy.json", NARROW_POLICY), "--resource", bad]);
  assert.equal(out.status, 2);
  const e = thrown(() => wasm.narrow(NARROW_POLICY, JSON.stringify({ resources: [bad] })));
  assert.equal(e.name, "PolicyError");
  assert.ok(out.stderr.startsWith(`error: ${e.message.split("\n")[0]}`), out.stderr);
  assert.deepStrictEqual(e.problems, [{ path: "", message: e.message }]);
  const level = cli(["narrow", file("narrow-policy.json", NARROW_POLICY), "--access-level", "admin"]);
  const l = thrown(() => wasm.narrow(NARROW_POLICY, JSON.stringify({ resources: [], accessLevels: ["admin"] })));
  assert.ok(level.stderr.includes(l.message), level.stderr);
  const none = cli(["narrow", file("narrow-policy.json", NARROW_POLICY), "--used-actions", file("used-none.json", "[]")]);
  assert.equal(none.status, 2);
  assert.equal(none.stderr, `error: ${thrown(() => wasm.narrow(NARROW_POLICY, '{"resources": [], "usedActions": []}')).message}\n`);
  assert.match(thrown(() => wasm.narrow(NARROW_POLICY, '{"resources": [], "usedActions": [3]}')).message, /^used actions: item 0 is not a string/);
  assert.equal(thrown(() => wasm.narrow('{"Statement": [', '{"resources": []}')).line, 1);
  assert.equal(thrown(() => wasm.narrow(NARROW_POLICY, '{"resources": [')).problems[0].path, "input");
  assert.equal(thrown(() => wasm.narrow(NARROW_POLICY, "{}")).problems[0].path, "input.resources");
  assert.equal(thrown(() => wasm.narrow(NARROW_POLICY, '{"resources": [1]}')).problems[0].path, "input.resources[0]");
  assert.equal(thrown(() => wasm.narrow(NARROW_POLICY, '{"resources": [], "colour": 1}')).problems[0].path, "input.colour");
  assert.equal(thrown(() => wasm.narrow(NARROW_POLICY, "[]")).problems[0].path, "input");
});

test("the TypeScript declarations name the narrowing result's fields", () => {
  const dts = readFileSync(join(HERE, "../src/types.d.ts"), "utf8");
  const fields = (name) => {
    const m = dts.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`));
    return [...m[1].matchAll(/^ {2}(\w+)\??:/gm)].map((f) => f[1]).sort();
  };
  const n = wasm.narrow(NARROW_POLICY, JSON.stringify({ resources: ARNS }));
  assert.deepStrictEqual(fields("NarrowedPolicy"), Object.keys(n).sort());
  assert.ok(n.questions.length > 0);
  assert.deepStrictEqual(fields("NarrowingQuestion"), Object.keys(n.questions[0]).sort());
  assert.deepStrictEqual(fields("NarrowInput"), ["accessLevels", "resources", "usedActions"]);
});
