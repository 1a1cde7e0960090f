//! Differential and monotonicity properties: the fast engine held to the slow reference
//! evaluator in `reference_eval` (AWS semantics, cited there).
//!
//! - `differential_*`: whenever the reference ALLOWS a concrete request for action A, the engine
//!   must count A as granted (`Analysis::breadth(A) != None`); when every resource of the
//!   request is "fresh" (random names that occur nowhere in the policy), the grant must be
//!   `Breadth::All` (or `SelfScoped` when the policy uses a `${…}` variable).
//! - `exposure_*`: when the reference lets an outsider (anonymous, or a principal of an
//!   unrelated account, or any GitHub repository) in, RX002/RX003 must report it.
//! - `monotonic_*`: more Allow never lowers the score; an unconditional Deny-all never raises it;
//!   conditioning or removing a Deny, or dropping an Allow's condition, never lowers it.
//! - `adversarial_*` (tables) and `adv_*`: hand-written adversarial regressions.
//!
//! Seeded and bounded (`DIFF_CASES`, `DIFF_SEED` env vars). Failures are shrunk and printed.

mod reference_eval;

use iam_catalog::{ResourceType, ACTIONS};
use reference_eval::{self as re, Mode, Principal, Request};
use risk_core::analysis::Analysis;
use risk_core::policy::Policy;
use risk_core::resources::Breadth;
use risk_core::{PolicyType, ScoreOptions};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------------------
// RNG (SplitMix64): deterministic, no dependency.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn token(&mut self) -> String {
        let abc = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let s: String = (0..8).map(|_| abc[self.below(abc.len())] as char).collect();
        format!("zq{s}")
    }
    fn account(&mut self) -> String {
        let s: String = (0..11).map(|_| char::from(b'0' + self.below(10) as u8)).collect();
        format!("4{s}")
    }
}

fn cases() -> usize {
    std::env::var("DIFF_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(400)
}

fn seed() -> u64 {
    std::env::var("DIFF_SEED").ok().and_then(|c| c.parse().ok()).unwrap_or(0x5eed_1a4d)
}

// ---------------------------------------------------------------------------------------------
// Vocabulary.

const PARTITIONS: &[&str] =
    &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];
const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "us-gov-west-1", "cn-north-1", "ap-south-2", "eusc-de-east-1"];

/// Actions the properties ask about (all in the catalog).
const ACTS: &[&str] = &[
    "iam:PassRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateUser",
    "iam:AttachUserPolicy",
    "iam:CreatePolicyVersion",
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "ec2:RunInstances",
    "ec2:TerminateInstances",
    "ec2:DescribeInstances",
    "lambda:InvokeFunction",
    "lambda:UpdateFunctionCode",
    "kms:Decrypt",
    "secretsmanager:GetSecretValue",
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
];

const ACTION_PATTERNS: &[&str] = &[
    "iam:PassRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateUser",
    "iam:*",
    "iam:Pass*",
    "iam:Create*",
    "s3:GetObject",
    "s3:PutObject",
    "s3:*",
    "s3:Get*",
    "s3:List*",
    "ec2:RunInstances",
    "ec2:*",
    "ec2:Run*",
    "ec2:TerminateInstances",
    "lambda:*",
    "lambda:InvokeFunction",
    "kms:*",
    "kms:Decrypt",
    "secretsmanager:GetSecretValue",
    "secretsmanager:*",
    "*",
    "sts:AssumeRole",
    "iam:P?ssRole",
    "s3:Get?bject",
    "IAM:passrole",
];

const PART_PAT: &[&str] =
    &["aws", "aws", "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc", "*"];
const REGION_PAT: &[&str] = &["*", "*", "us-east-1", "eu-west-1"];
const ACCOUNT_PAT: &[&str] = &["*", "*", "111111111111", "999999999999", "9999999999??", "${aws:PrincipalAccount}"];
const NAME_PAT: &[&str] = &["*", "*", "prod-app", "prod-*", "prod-ap?", "${aws:username}"];

const ADMIN_ROLE: &str = "arn:aws:iam::111111111111:role/admin";
const GITHUB: &str = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com";
const SUB: &str = "token.actions.githubusercontent.com:sub";
const EVIL_SUB: &str = "repo:evil/x:ref:refs/heads/main";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Arn,
    Ip,
    Bool,
    Num,
    Date,
    Multi,
}

struct KeySpec {
    key: &'static str,
    kind: Kind,
    policy: &'static [&'static str],
    /// Values a request may carry (insiders and outsiders).
    request: &'static [&'static str],
    /// Values an outsider (another account, the internet) may carry.
    outsider: &'static [&'static str],
}

const KEYS: &[KeySpec] = &[
    KeySpec {
        key: "aws:PrincipalOrgID",
        kind: Kind::Str,
        policy: &["o-good"],
        request: &["o-good", "o-evil"],
        outsider: &["o-evil"],
    },
    KeySpec {
        key: "aws:SourceIp",
        kind: Kind::Ip,
        policy: &["10.0.0.0/8", "203.0.113.0/24", "0.0.0.0/0"],
        request: &["10.1.2.3", "198.51.100.7"],
        outsider: &["198.51.100.7"],
    },
    KeySpec {
        key: "aws:SecureTransport",
        kind: Kind::Bool,
        policy: &["true", "false"],
        request: &["true", "false"],
        outsider: &["true", "false"],
    },
    KeySpec {
        key: "aws:SourceAccount",
        kind: Kind::Str,
        policy: &["111111111111"],
        request: &["111111111111", "444444444444"],
        outsider: &["444444444444"],
    },
    KeySpec {
        key: "aws:TagKeys",
        kind: Kind::Multi,
        policy: &["env", "team"],
        request: &["env", "secret"],
        outsider: &["env", "secret"],
    },
    KeySpec {
        key: "aws:MultiFactorAuthAge",
        kind: Kind::Num,
        policy: &["3600"],
        request: &["100", "7200"],
        outsider: &["100", "7200"],
    },
    KeySpec {
        key: "aws:CurrentTime",
        kind: Kind::Date,
        policy: &["2020-01-01T00:00:00Z"],
        request: &["2026-11-30T00:00:00Z", "2019-01-01T00:00:00Z"],
        outsider: &["2026-11-30T00:00:00Z", "2019-01-01T00:00:00Z"],
    },
    KeySpec {
        key: SUB,
        kind: Kind::Str,
        policy: &["repo:org/app:ref:refs/heads/main", "repo:org/*"],
        request: &["repo:org/app:ref:refs/heads/main", EVIL_SUB],
        outsider: &[EVIL_SUB],
    },
    // Derived from the principal (set by `context_for`), never drawn at random.
    KeySpec {
        key: "aws:PrincipalArn",
        kind: Kind::Arn,
        policy: &[ADMIN_ROLE, "arn:aws:iam::111111111111:*"],
        request: &[],
        outsider: &[],
    },
    KeySpec { key: "aws:PrincipalAccount", kind: Kind::Str, policy: &["111111111111"], request: &[], outsider: &[] },
    KeySpec { key: "aws:username", kind: Kind::Str, policy: &["alice"], request: &[], outsider: &[] },
];

fn operators(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Str | Kind::Multi => {
            &["StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase"]
        }
        Kind::Arn => &["ArnLike", "ArnEquals", "ArnNotLike", "ArnNotEquals", "StringLike", "StringEquals"],
        Kind::Ip => &["IpAddress", "NotIpAddress"],
        Kind::Bool => &["Bool"],
        Kind::Num => &["NumericLessThan", "NumericGreaterThan", "NumericEquals"],
        Kind::Date => &["DateGreaterThan", "DateLessThan"],
    }
}

// ---------------------------------------------------------------------------------------------
// Catalog helpers.

fn idx(name: &str) -> usize {
    iam_catalog::action_index(name).unwrap_or_else(|| panic!("{name} is not in the catalog"))
}

/// (resource type, required) of a catalog action.
fn types_of(i: usize) -> Vec<(&'static ResourceType, bool)> {
    let a = &ACTIONS[i];
    a.resources().iter().map(|r| (a.resource_type(r), r.required)).collect()
}

/// Replace each `${Var}` of a catalog ARN template with `f(Var)`.
fn fill(template: &str, mut f: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(s) = rest.find("${") {
        out.push_str(&rest[..s]);
        let e = rest[s..].find('}').expect("template variable");
        out.push_str(&f(&rest[s + 2..s + e]));
        rest = &rest[s + e + 1..];
    }
    out.push_str(rest);
    out
}

fn template_glob(rt: &ResourceType) -> String {
    fill(rt.arn(), |_| "*".into())
}

// ---------------------------------------------------------------------------------------------
// Policy generation.

fn resource_pattern(rng: &mut Rng) -> String {
    let p = resource_pattern_inner(rng);
    if rng.chance(0.04) {
        // ARNs are case-sensitive: an upper-cased pattern names no real resource.
        p.to_uppercase()
    } else {
        p
    }
}

fn resource_pattern_inner(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => "*".into(),
        1 => format!("arn:{}:*:*:*:*", rng.pick(PART_PAT)),
        2 => {
            let a = idx(rng.pick::<&str>(ACTS));
            match types_of(a).first() {
                Some((rt, _)) => format!("arn:{}:{}:*:*:*", rng.pick(PART_PAT), rt.arn_service()),
                None => "*".into(),
            }
        }
        _ => loop {
            let a = idx(rng.pick::<&str>(ACTS));
            let ts = types_of(a);
            if ts.is_empty() {
                continue;
            }
            let (rt, _) = ts[rng.below(ts.len())];
            break fill(rt.arn(), |v| match v {
                "Partition" => rng.pick(PART_PAT).to_string(),
                "Region" => rng.pick(REGION_PAT).to_string(),
                "Account" => rng.pick(ACCOUNT_PAT).to_string(),
                _ => rng.pick(NAME_PAT).to_string(),
            });
        },
    }
}

fn condition(rng: &mut Rng) -> Value {
    let mut ops = serde_json::Map::new();
    for _ in 0..1 + rng.below(2) {
        let k = rng.pick(KEYS);
        let (op, vals): (String, Vec<&str>) = if rng.chance(0.12) {
            ("Null".into(), vec![*rng.pick(&["true", "false"])])
        } else {
            let mut op = rng.pick(operators(k.kind)).to_string();
            let setp = if k.kind == Kind::Multi { 0.7 } else { 0.2 };
            if rng.chance(setp) {
                op = format!("{}{op}", rng.pick(&["ForAnyValue:", "ForAllValues:"]));
            }
            if rng.chance(0.25) {
                op.push_str("IfExists");
            }
            let n = 1 + rng.below(k.policy.len().min(2));
            let mut vals: Vec<&str> = (0..n).map(|_| *rng.pick(k.policy)).collect();
            vals.dedup();
            (op, vals)
        };
        let entry = ops.entry(op).or_insert_with(|| json!({}));
        entry[k.key] = if vals.len() == 1 { json!(vals[0]) } else { json!(vals) };
    }
    Value::Object(ops)
}

fn principal_value(rng: &mut Rng, trust: bool) -> Value {
    let choices: Vec<Value> = vec![
        json!("*"),
        json!({"AWS": "*"}),
        json!({"AWS": "111111111111"}),
        json!({"AWS": "arn:aws:iam::111111111111:root"}),
        json!({"AWS": ADMIN_ROLE}),
        json!({"Service": "lambda.amazonaws.com"}),
        json!({"Federated": GITHUB}),
    ];
    let v = rng.pick(&choices).clone();
    if trust || rng.chance(0.8) {
        v
    } else {
        json!({"AWS": ["111111111111", ADMIN_ROLE]})
    }
}

fn list_or_one(rng: &mut Rng, mut items: Vec<String>) -> Value {
    items.dedup();
    if items.len() == 1 && rng.chance(0.5) {
        json!(items[0])
    } else {
        json!(items)
    }
}

fn statement(rng: &mut Rng, mode: Mode, allow: bool, deny_principal_in_identity: bool) -> Value {
    let mut st = serde_json::Map::new();
    st.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
    let nacts = 1 + rng.below(2);
    let acts: Vec<String> = if mode == Mode::Trust {
        (0..nacts)
            .map(|_| {
                rng.pick(&["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRole*", "sts:*", "*"])
                    .to_string()
            })
            .collect()
    } else {
        (0..nacts).map(|_| rng.pick(ACTION_PATTERNS).to_string()).collect()
    };
    let not_action = mode != Mode::Trust && rng.chance(0.15);
    st.insert(if not_action { "NotAction" } else { "Action" }.into(), list_or_one(rng, acts));
    if mode != Mode::Trust {
        let n = 1 + rng.below(2);
        let pats: Vec<String> = (0..n).map(|_| resource_pattern(rng)).collect();
        let not_res = rng.chance(0.25);
        st.insert(if not_res { "NotResource" } else { "Resource" }.into(), list_or_one(rng, pats));
    }
    match mode {
        Mode::Identity => {
            if deny_principal_in_identity && !allow && rng.chance(0.5) {
                st.insert("Principal".into(), principal_value(rng, false));
            }
        }
        Mode::Resource | Mode::Trust => {
            let key = if rng.chance(0.12) { "NotPrincipal" } else { "Principal" };
            st.insert(key.into(), principal_value(rng, mode == Mode::Trust));
        }
    }
    if rng.chance(0.35) {
        st.insert("Condition".into(), condition(rng));
    }
    Value::Object(st)
}

fn policy(rng: &mut Rng, mode: Mode) -> Value {
    let n = 1 + rng.below(4);
    let mixed = mode == Mode::Identity && rng.chance(0.3);
    let sts: Vec<Value> = (0..n)
        .map(|_| {
            let allow = rng.chance(0.6);
            statement(rng, mode, allow, mixed)
        })
        .collect();
    let version = if rng.chance(0.9) { "2012-10-17" } else { "2008-10-17" };
    json!({"Version": version, "Statement": sts})
}

fn policy_type(mode: Mode) -> PolicyType {
    match mode {
        Mode::Identity => PolicyType::Identity,
        Mode::Resource => PolicyType::Resource,
        Mode::Trust => PolicyType::Trust,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// Resource patterns written in the document.
fn doc_patterns(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for st in doc["Statement"].as_array().into_iter().flatten() {
        for k in ["Resource", "NotResource"] {
            match &st[k] {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => out.extend(a.iter().filter_map(|v| v.as_str().map(str::to_string))),
                _ => {}
            }
        }
    }
    out
}

/// Identity of the caller for one request.
struct Caller {
    account: String,
    name: String,
}

/// A concrete ARN of type `rt` that some policy pattern names (its wildcards filled with fresh
/// text, its variables with the caller's values), if one of the patterns fits the type.
fn instantiate(rng: &mut Rng, pattern: &str, rt: &ResourceType, caller: &Caller) -> Option<String> {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let t: Vec<&str> = rt.arn().splitn(6, ':').collect();
    if p.len() != 6 || t.len() != 6 || p[0] != "arn" {
        return None;
    }
    let parts: Vec<&&str> = PARTITIONS.iter().filter(|x| re::glob(p[1], x)).collect();
    if parts.is_empty() || !re::glob(p[2], rt.arn_service()) {
        return None;
    }
    let sub = |s: &str, rng: &mut Rng| -> String {
        let s = s.replace("${aws:username}", &caller.name).replace("${aws:PrincipalAccount}", &caller.account);
        let mut o = String::new();
        for c in s.chars() {
            match c {
                '*' => o.push_str(&rng.token()),
                '?' => o.push('x'),
                c => o.push(c),
            }
        }
        o
    };
    let region = if t[3].is_empty() {
        String::new()
    } else {
        let rs: Vec<&&str> = REGIONS.iter().filter(|r| re::glob(p[3], r)).collect();
        if rs.is_empty() {
            return None;
        }
        rs[rng.below(rs.len())].to_string()
    };
    let account = if t[4].is_empty() {
        String::new()
    } else if p[4] == "*" {
        rng.account()
    } else {
        sub(p[4], rng)
    };
    let arn =
        format!("arn:{}:{}:{}:{}:{}", parts[rng.below(parts.len())], rt.arn_service(), region, account, sub(p[5], rng));
    // Names and account ids never contain `$`, `{` or `}` (a 2008-10-17 variable is literal
    // text that no real resource has).
    (re::glob(&template_glob(rt), &arn) && !arn.contains(['$', '{', '}'])).then_some(arn)
}

fn fresh_arn(rng: &mut Rng, rt: &ResourceType, caller: &Caller) -> String {
    let own = rng.chance(0.5);
    let partition = rng.pick(PARTITIONS).to_string();
    fill(rt.arn(), |v| match v {
        "Partition" => partition.clone(),
        "Region" => rng.pick(REGIONS).to_string(),
        "Account" => {
            if own {
                caller.account.clone()
            } else {
                rng.account()
            }
        }
        v if v.starts_with("User") && rng.chance(0.5) => caller.name.clone(),
        _ => {
            if rng.chance(0.3) {
                caller.name.clone()
            } else {
                rng.token()
            }
        }
    })
}

/// Resources for one request of action `a`: `(resources, all_fresh)`.
fn resources_for(rng: &mut Rng, a: usize, doc: &Value, caller: &Caller) -> (Vec<String>, bool) {
    let ts = types_of(a);
    if ts.is_empty() {
        return (vec!["*".into()], true);
    }
    let required: Vec<&ResourceType> = ts.iter().filter(|t| t.1).map(|t| t.0).collect();
    let mut chosen: Vec<&ResourceType> = if ACTIONS[a].full_name() == "ec2:RunInstances" {
        required
    } else if !required.is_empty() {
        vec![required[rng.below(required.len())]]
    } else {
        vec![ts[rng.below(ts.len())].0]
    };
    for (t, req) in &ts {
        if !req && !chosen.iter().any(|c| std::ptr::eq(*c, *t)) && rng.chance(0.2) {
            chosen.push(t);
        }
    }
    let pats = doc_patterns(doc);
    let mut fresh = true;
    let mut out = Vec::new();
    for rt in chosen {
        let mut inst = None;
        if !pats.is_empty() && rng.chance(0.5) {
            for _ in 0..3 {
                let p = rng.pick(&pats).clone();
                if let Some(x) = instantiate(rng, &p, rt, caller) {
                    inst = Some(x);
                    break;
                }
            }
        }
        match inst {
            Some(x) => {
                fresh = false;
                out.push(x);
            }
            None => out.push(fresh_arn(rng, rt, caller)),
        }
    }
    (out, fresh)
}

fn random_context(rng: &mut Rng, outsider: bool) -> BTreeMap<String, Vec<String>> {
    let mut ctx = BTreeMap::new();
    for k in KEYS {
        let pool = if outsider { k.outsider } else { k.request };
        if pool.is_empty() || k.key == SUB || rng.chance(0.4) {
            continue;
        }
        let vals: Vec<String> = if k.kind == Kind::Multi {
            let n = 1 + rng.below(2);
            let mut v: Vec<String> = (0..n).map(|_| rng.pick(pool).to_string()).collect();
            v.dedup();
            v
        } else {
            vec![rng.pick(pool).to_string()]
        };
        ctx.insert(k.key.to_string(), vals);
    }
    ctx
}

/// Context keys implied by the principal.
fn context_for(rng: &mut Rng, p: &Principal, outsider: bool) -> BTreeMap<String, Vec<String>> {
    let mut ctx = random_context(rng, outsider);
    match p {
        Principal::Aws { arn, account } => {
            ctx.insert("aws:PrincipalArn".into(), vec![arn.clone()]);
            ctx.insert("aws:PrincipalAccount".into(), vec![account.clone()]);
            if let Some(name) = arn.split(":user/").nth(1) {
                ctx.insert("aws:username".into(), vec![name.to_string()]);
            }
        }
        Principal::Federated(_) => {
            let pool = if outsider { &[EVIL_SUB][..] } else { KEYS.iter().find(|k| k.key == SUB).unwrap().request };
            ctx.insert(SUB.into(), vec![rng.pick(pool).to_string()]);
        }
        _ => {}
    }
    ctx
}

fn caller_principals(rng: &mut Rng, mode: Mode, caller: &Caller) -> Vec<Principal> {
    match mode {
        Mode::Identity => {
            let arn = if rng.chance(0.7) {
                format!("arn:aws:iam::{}:user/{}", caller.account, caller.name)
            } else {
                format!("arn:aws:iam::{}:role/{}", caller.account, caller.name)
            };
            vec![Principal::aws(&arn)]
        }
        Mode::Resource | Mode::Trust => vec![
            Principal::Anonymous,
            Principal::aws(&format!("arn:aws:iam::{}:role/{}", caller.account, caller.name)),
            Principal::aws(ADMIN_ROLE),
            Principal::Service("lambda.amazonaws.com".into()),
            Principal::Federated(GITHUB.into()),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// The differential check.

#[derive(Debug, Clone)]
struct Failure {
    what: &'static str,
    action: usize,
    request: Request,
}

fn engine_breadth(doc: &Value, mode: Mode, a: usize) -> Option<Breadth> {
    let policy = Policy::parse(doc).ok()?;
    let analysis = Analysis::new(&policy, policy_type(mode));
    Some(analysis.breadth(a))
}

/// `Some(description)` when the engine contradicts the reference on this (action, request).
fn judge(doc: &Value, mode: Mode, a: usize, req: &Request, fresh: bool) -> Option<(&'static str, String)> {
    if !re::allows(doc, mode, req) {
        return None;
    }
    judge_breadth(doc, engine_breadth(doc, mode, a)?, fresh)
}

fn judge_breadth(doc: &Value, b: Breadth, fresh: bool) -> Option<(&'static str, String)> {
    if b == Breadth::None {
        return Some(("reference allows, engine grants nothing", format!("{b:?}")));
    }
    if fresh && b != Breadth::All {
        let vars = doc.to_string().contains("${");
        if !(vars && b == Breadth::SelfScoped) {
            return Some(("reference allows a fresh resource, engine breadth is not All", format!("{b:?}")));
        }
    }
    None
}

fn differential(mode: Mode, n: usize, salt: u64) -> Vec<(Value, Failure)> {
    let mut rng = Rng(seed() ^ salt);
    let mut failures = Vec::new();
    let (mut allowed, mut allowed_fresh) = (0usize, 0usize);
    for _ in 0..n {
        let doc = policy(&mut rng, mode);
        let Ok(parsed) = Policy::parse(&doc) else { continue };
        let analysis = Analysis::new(&parsed, policy_type(mode));
        let acts: Vec<&str> =
            if mode == Mode::Trust { vec!["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"] } else { ACTS.to_vec() };
        for act in acts {
            let a = idx(act);
            let mut found = false;
            for _ in 0..4 {
                let caller = Caller {
                    account: if rng.chance(0.3) { "111111111111".into() } else { rng.account() },
                    name: if rng.chance(0.2) { "alice".into() } else { rng.token() },
                };
                let (resources, fresh) = if mode == Mode::Trust {
                    (vec![format!("arn:aws:iam::{}:role/{}", rng.account(), rng.token())], true)
                } else {
                    resources_for(&mut rng, a, &doc, &caller)
                };
                for p in caller_principals(&mut rng, mode, &caller) {
                    for _ in 0..2 {
                        let req = Request {
                            principal: p.clone(),
                            action: act.to_string(),
                            resources: resources.clone(),
                            context: context_for(&mut rng, &p, false),
                        };
                        if !re::allows(&doc, mode, &req) {
                            continue;
                        }
                        allowed += 1;
                        allowed_fresh += usize::from(fresh);
                        if let Some((what, _)) = judge_breadth(&doc, analysis.breadth(a), fresh) {
                            failures.push((doc.clone(), Failure { what, action: a, request: req }));
                            found = true;
                            break;
                        }
                    }
                    if found {
                        break;
                    }
                }
                if found {
                    break;
                }
            }
        }
    }
    // The property must not hold vacuously.
    assert!(
        allowed >= n && allowed_fresh >= n / 4,
        "only {allowed} allowed requests ({allowed_fresh} fresh) in {n} policies"
    );
    failures
}

// ---------------------------------------------------------------------------------------------
// Shrinking: drop statements, list items, conditions while the failure persists.

fn candidates(doc: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let sts = doc["Statement"].as_array().cloned().unwrap_or_default();
    for i in 0..sts.len() {
        if sts.len() > 1 {
            let mut d = doc.clone();
            d["Statement"].as_array_mut().unwrap().remove(i);
            out.push(d);
        }
        let st = &sts[i];
        if st.get("Condition").is_some() {
            let mut d = doc.clone();
            d["Statement"][i].as_object_mut().unwrap().remove("Condition");
            out.push(d);
            if let Some(ops) = st["Condition"].as_object() {
                for (op, keys) in ops {
                    for k in keys.as_object().into_iter().flatten().map(|(k, _)| k) {
                        let mut d = doc.clone();
                        let c = d["Statement"][i]["Condition"].as_object_mut().unwrap();
                        let body = c.get_mut(op).unwrap().as_object_mut().unwrap();
                        body.remove(k);
                        if body.is_empty() {
                            c.remove(op);
                        }
                        if c.is_empty() {
                            d["Statement"][i].as_object_mut().unwrap().remove("Condition");
                        }
                        out.push(d);
                    }
                }
            }
        }
        for k in ["Action", "NotAction", "Resource", "NotResource"] {
            if let Some(Value::Array(items)) = st.get(k) {
                for j in 0..items.len() {
                    let mut d = doc.clone();
                    let mut items = items.clone();
                    items.remove(j);
                    d["Statement"][i][k] = if items.len() == 1 { items[0].clone() } else { json!(items) };
                    if !items.is_empty() {
                        out.push(d);
                    }
                }
            }
        }
        if let Some(Value::Object(p)) = st.get("Principal") {
            if p.len() > 1 || p.values().any(|v| v.is_array()) {
                for (kind, v) in p {
                    for one in v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]) {
                        let mut d = doc.clone();
                        d["Statement"][i]["Principal"] = json!({ kind.as_str(): one });
                        out.push(d);
                    }
                }
            }
        }
    }
    out
}

fn shrink(mut doc: Value, keep: impl Fn(&Value) -> bool) -> Value {
    'outer: loop {
        for c in candidates(&doc) {
            if Policy::parse(&c).is_ok() && keep(&c) {
                doc = c;
                continue 'outer;
            }
        }
        return doc;
    }
}

fn describe_request(r: &Request) -> String {
    format!("principal={:?} action={} resources={:?} context={:?}", r.principal, r.action, r.resources, r.context)
}

/// Shrink, deduplicate and render failures; `None` when there are none.
fn report(mode: Mode, failures: Vec<(Value, Failure)>) -> Option<String> {
    if failures.is_empty() {
        return None;
    }
    let total = failures.len();
    let mut seen = BTreeSet::new();
    let mut lines = Vec::new();
    for (doc, f) in failures.into_iter().take(60) {
        let fresh = f.what.contains("fresh");
        let small = shrink(doc, |d| judge(d, mode, f.action, &f.request, fresh).is_some_and(|(w, _)| w == f.what));
        let key = format!("{}|{}", f.what, small);
        if !seen.insert(key) {
            continue;
        }
        let engine = judge(&small, mode, f.action, &f.request, fresh).map(|x| x.1).unwrap_or_default();
        let ambiguous = if re::evaluate_reading(&small, mode, &f.request, re::Reading::Strict) == re::Decision::Allow {
            ""
        } else {
            " [only under the permissive reading of an unresolvable NotResource variable]"
        };
        lines.push(format!(
            "- {}{ambiguous} [{}] engine={engine}\n  policy: {small}\n  request: {}",
            f.what,
            ACTIONS[f.action].full_name(),
            describe_request(&f.request)
        ));
    }
    lines.sort_by_key(|l| l.len());
    lines.truncate(25);
    Some(format!("{total} failing cases ({mode:?}); shrunk, shortest first:\n{}", lines.join("\n")))
}

#[test]
fn differential_identity_policies() {
    if let Some(r) = report(Mode::Identity, differential(Mode::Identity, cases(), 1)) {
        panic!("{r}");
    }
}

#[test]
fn differential_resource_policies() {
    if let Some(r) = report(Mode::Resource, differential(Mode::Resource, cases() / 2, 2)) {
        panic!("{r}");
    }
}

#[test]
fn differential_trust_policies() {
    if let Some(r) = report(Mode::Trust, differential(Mode::Trust, cases() / 2, 3)) {
        panic!("{r}");
    }
}

// ---------------------------------------------------------------------------------------------
// Exposure: what the reference lets an outsider do, RX002/RX003 must report.

fn score(doc: &Value, t: PolicyType) -> Option<risk_core::Report> {
    risk_core::score_value(doc, &ScoreOptions { policy_type: Some(t), ..Default::default() }).ok()
}

fn exposure_reported(doc: &Value, mode: Mode) -> Option<bool> {
    let r = score(doc, policy_type(mode))?;
    Some(match mode {
        Mode::Resource => r.findings.iter().any(|f| f.rule == "RX002"),
        Mode::Trust => r.findings.iter().any(|f| f.rule == "RX003" && f.score >= 8),
        Mode::Identity => true,
    })
}

/// Some outsider request the reference allows, if any.
fn outsider_allowed(rng: &mut Rng, doc: &Value, mode: Mode) -> Option<Request> {
    let outsiders: Vec<(Principal, Vec<&str>)> = match mode {
        Mode::Resource => {
            let acts: Vec<&str> = ACTS.iter().copied().filter(|a| !a.starts_with("sts:")).collect();
            vec![(Principal::Anonymous, acts.clone()), (Principal::aws("arn:aws:iam::444444444444:role/evil"), acts)]
        }
        Mode::Trust => vec![
            (Principal::aws("arn:aws:iam::444444444444:role/evil"), vec!["sts:AssumeRole"]),
            (Principal::Federated(GITHUB.into()), vec!["sts:AssumeRoleWithWebIdentity"]),
        ],
        Mode::Identity => return None,
    };
    let caller = Caller { account: "444444444444".into(), name: "evil".into() };
    for (p, acts) in outsiders {
        for act in acts {
            let a = idx(act);
            for _ in 0..3 {
                let resources = if mode == Mode::Trust {
                    vec!["arn:aws:iam::111111111111:role/target".to_string()]
                } else {
                    resources_for(rng, a, doc, &caller).0
                };
                let req = Request {
                    principal: p.clone(),
                    action: act.into(),
                    resources,
                    context: context_for(rng, &p, true),
                };
                if re::allows(doc, mode, &req) {
                    return Some(req);
                }
            }
        }
    }
    None
}

fn exposure(mode: Mode, n: usize, salt: u64) -> Option<String> {
    let mut rng = Rng(seed() ^ salt);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    let mut exposed = 0;
    for _ in 0..n {
        let doc = policy(&mut rng, mode);
        if Policy::parse(&doc).is_err() {
            continue;
        }
        let Some(req) = outsider_allowed(&mut rng, &doc, mode) else { continue };
        exposed += 1;
        if exposure_reported(&doc, mode) != Some(false) {
            continue;
        }
        total += 1;
        if out.len() >= 20 {
            continue;
        }
        let small = shrink(doc, |d| re::allows(d, mode, &req) && exposure_reported(d, mode) == Some(false));
        if seen.insert(small.to_string()) {
            let findings: Vec<String> = score(&small, policy_type(mode))
                .map(|r| r.findings.iter().map(|f| format!("{}:{}", f.rule, f.score)).collect())
                .unwrap_or_default();
            out.push(format!(
                "- outsider allowed, no {}\n  policy: {small}\n  request: {}\n  engine findings: {findings:?}",
                if mode == Mode::Trust { "RX003>=8" } else { "RX002" },
                describe_request(&req)
            ));
        }
    }
    assert!(exposed >= n / 20, "only {exposed} of {n} policies let an outsider in: the property is near vacuous");
    out.sort_by_key(|l| l.len());
    (!out.is_empty()).then(|| format!("{total} failing cases ({mode:?} exposure); shrunk:\n{}", out.join("\n")))
}

#[test]
fn exposure_resource_policies() {
    if let Some(r) = exposure(Mode::Resource, cases(), 4) {
        panic!("{r}");
    }
}

#[test]
fn exposure_trust_policies() {
    if let Some(r) = exposure(Mode::Trust, cases(), 5) {
        panic!("{r}");
    }
}

// ---------------------------------------------------------------------------------------------
// Monotonicity of the score.

fn score_of(doc: &Value, mode: Mode) -> Option<u8> {
    score(doc, policy_type(mode)).map(|r| r.score)
}

fn with_statement(doc: &Value, st: Value) -> Value {
    let mut d = doc.clone();
    d["Statement"].as_array_mut().unwrap().push(st);
    d
}

fn deny_all(mode: Mode) -> Value {
    match mode {
        Mode::Identity => json!({"Effect": "Deny", "Action": "*", "Resource": "*"}),
        Mode::Resource => json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}),
        Mode::Trust => json!({"Effect": "Deny", "Principal": "*", "Action": "*"}),
    }
}

/// (variant name, base document, changed document, must the score go up (`true`) or down).
fn monotone_variants(rng: &mut Rng, mode: Mode) -> Vec<(&'static str, Value, Value, bool)> {
    let base = policy(rng, mode);
    let mut v = Vec::new();
    let allow = statement(rng, mode, true, false);
    v.push(("adding an Allow lowered the score", base.clone(), with_statement(&base, allow), true));
    v.push((
        "adding an unconditional Deny-all raised the score",
        base.clone(),
        with_statement(&base, deny_all(mode)),
        false,
    ));
    let sts = base["Statement"].as_array().unwrap();
    for (i, st) in sts.iter().enumerate() {
        if st["Effect"] == "Deny" {
            let mut d = base.clone();
            d["Statement"].as_array_mut().unwrap().remove(i);
            v.push(("removing a Deny lowered the score", base.clone(), d, true));
            let mut d = base.clone();
            let extra = condition(rng);
            match d["Statement"][i].get_mut("Condition") {
                Some(Value::Object(c)) => {
                    for (op, body) in extra.as_object().unwrap() {
                        c.entry(op.clone()).or_insert_with(|| body.clone());
                    }
                }
                _ => d["Statement"][i]["Condition"] = extra,
            }
            v.push(("adding a condition to a Deny lowered the score", base.clone(), d, true));
        } else if st.get("Condition").is_some() {
            let mut d = base.clone();
            d["Statement"][i].as_object_mut().unwrap().remove("Condition");
            v.push(("removing an Allow's condition lowered the score", base.clone(), d, true));
        }
    }
    v
}

fn monotonic(mode: Mode, n: usize, salt: u64) -> Option<String> {
    let mut rng = Rng(seed() ^ salt);
    let mut out = Vec::new();
    let mut total = 0;
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        for (what, before, after, up) in monotone_variants(&mut rng, mode) {
            let (Some(s0), Some(s1)) = (score_of(&before, mode), score_of(&after, mode)) else { continue };
            let bad = if up { s1 < s0 } else { s1 > s0 };
            if !bad {
                continue;
            }
            total += 1;
            if seen.insert(what) || out.len() < 12 {
                out.push(format!("- {what}: {s0} -> {s1}\n  before: {before}\n  after:  {after}"));
            }
        }
    }
    out.sort_by_key(|l| l.len());
    out.truncate(12);
    (!out.is_empty()).then(|| format!("{total} monotonicity violations ({mode:?}):\n{}", out.join("\n")))
}

#[test]
fn monotonic_identity() {
    if let Some(r) = monotonic(Mode::Identity, cases() / 2, 6) {
        panic!("{r}");
    }
}

#[test]
fn monotonic_resource() {
    if let Some(r) = monotonic(Mode::Resource, cases() / 4, 7) {
        panic!("{r}");
    }
}

#[test]
fn monotonic_trust() {
    if let Some(r) = monotonic(Mode::Trust, cases() / 4, 8) {
        panic!("{r}");
    }
}

// ---------------------------------------------------------------------------------------------
// Adversarial regressions. Each states what AWS does (checked with the reference) and what the
// engine must therefore report.

fn breadth(doc: &Value, t: PolicyType, action: &str) -> Breadth {
    let policy = Policy::parse(doc).expect("valid policy");
    Analysis::new(&policy, t).breadth(idx(action))
}

fn id_req(action: &str, resources: &[&str]) -> Request {
    Request::new(Principal::aws("arn:aws:iam::123456789012:user/alice"), action, resources)
        .with("aws:PrincipalAccount", &["123456789012"])
        .with("aws:username", &["alice"])
}

fn rules(doc: &Value, t: PolicyType) -> Vec<(String, u8)> {
    score(doc, t).expect("scores").findings.iter().map(|f| (f.rule.clone(), f.score)).collect()
}

fn doc(sts: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": sts})
}

fn trust_rx003(d: &Value) -> u8 {
    rules(d, PolicyType::Trust).iter().filter(|(r, _)| r == "RX003").map(|(_, s)| *s).max().unwrap_or(0)
}

fn outsider_assume() -> Request {
    Request::new(
        Principal::aws("arn:aws:iam::444444444444:role/evil"),
        "sts:AssumeRole",
        &["arn:aws:iam::111111111111:role/target"],
    )
    .with("aws:PrincipalAccount", &["444444444444"])
    .with("aws:PrincipalArn", &["arn:aws:iam::444444444444:role/evil"])
}

/// Another GitHub repository's workflow assuming the role through the OIDC provider.
fn evil_repo_web_identity() -> Request {
    Request::new(
        Principal::Federated(GITHUB.into()),
        "sts:AssumeRoleWithWebIdentity",
        &["arn:aws:iam::111111111111:role/target"],
    )
    .with(SUB, &[EVIL_SUB])
}

fn public(d: &Value) -> bool {
    rules(d, PolicyType::Resource).iter().any(|(r, _)| r == "RX002")
}

fn anon_get() -> Request {
    Request::new(Principal::Anonymous, "s3:GetObject", &["arn:aws:s3:::site/index.html"])
        .with("aws:SourceIp", &["198.51.100.7"])
}

/// What the engine must report for a request the reference allows.
enum Must {
    /// Identity policy: the request's action is granted with exactly this breadth.
    Grant(Breadth),
    /// Identity policy: the request's action is granted at all (any breadth but `None`).
    GrantSome,
    /// Trust policy: RX003 (outsiders may assume the role) at 8 or more.
    OpenTrust,
    /// Resource policy: RX002 (public).
    Public,
}

/// One adversarial regression: statements, a request the reference (AWS) allows, and what the
/// engine must therefore report.
struct Adv {
    name: &'static str,
    /// The AWS semantics that make the request allowed.
    why: &'static str,
    statements: Value,
    request: Request,
    must: Must,
}

fn check_adv(c: &Adv) -> Result<(), String> {
    let d = doc(c.statements.clone());
    let mode = match c.must {
        Must::Grant(_) | Must::GrantSome => Mode::Identity,
        Must::OpenTrust => Mode::Trust,
        Must::Public => Mode::Resource,
    };
    let mut wrong = Vec::new();
    let decision = re::evaluate(&d, mode, &c.request);
    if decision != re::Decision::Allow {
        wrong.push(format!("the reference says {decision:?} to {}", describe_request(&c.request)));
    }
    let action = c.request.action.as_str();
    match c.must {
        Must::Grant(want) => {
            let got = breadth(&d, PolicyType::Identity, action);
            if got != want {
                wrong.push(format!("engine breadth of {action} is {got:?}, want {want:?}"));
            }
        }
        Must::GrantSome => {
            if breadth(&d, PolicyType::Identity, action) == Breadth::None {
                wrong.push(format!("engine does not grant {action}"));
            }
        }
        Must::OpenTrust => {
            if trust_rx003(&d) < 8 {
                wrong.push(format!("RX003 below 8: {:?}", rules(&d, PolicyType::Trust)));
            }
        }
        Must::Public => {
            if !public(&d) {
                wrong.push(format!("no RX002: {:?}", rules(&d, PolicyType::Resource)));
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

fn check_advs(table: &str, cases: &[Adv]) {
    re::check_table(table, cases, |c| (c.name, c.why), check_adv);
}

#[test]
fn adversarial_identity_grants() {
    let cases = [
        Adv {
            name: "deny_not_resource_one_role_keeps_update_assume_role_policy",
            why: "A Deny with NotResource denies every resource but the one listed: that role stays allowed.",
            statements: json!([
                {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:*", "NotResource": "arn:aws:iam::123456789012:role/break-glass"}]),
            request: id_req("iam:UpdateAssumeRolePolicy", &["arn:aws:iam::123456789012:role/break-glass"]),
            must: Must::GrantSome,
        },
        Adv {
            name: "deny_other_account_keeps_passrole",
            why: "A Deny on another account's roles leaves every role of the caller's account allowed.",
            statements: json!([
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "arn:aws:iam::999999999999:role/*"}]),
            request: id_req("iam:PassRole", &["arn:aws:iam::123456789012:role/admin"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_other_partition_keeps_passrole",
            why: "A Deny on aws-cn ARNs does not match resources of the aws partition.",
            statements: json!([
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "arn:aws-cn:iam::*:role/*"}]),
            request: id_req("iam:PassRole", &["arn:aws:iam::123456789012:role/admin"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_one_region_keeps_terminate_instances",
            why: "A Deny on one region's instances leaves the instances of every other region allowed.",
            statements: json!([
                {"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"},
                {"Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "arn:aws:ec2:us-east-1:*:instance/*"}]),
            request: id_req("ec2:TerminateInstances", &["arn:aws:ec2:eu-west-1:123456789012:instance/i-1"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_optional_placement_group_keeps_run_instances",
            why: "A Deny on an optional resource type (placement group) only hits calls that name one; a \
                  RunInstances without a placement group is allowed.",
            statements: json!([
                {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"},
                {"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*:*:placement-group/*"}]),
            request: id_req(
                "ec2:RunInstances",
                &[
                    "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
                    "arn:aws:ec2:us-east-1::image/ami-1",
                    "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-1",
                    "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1",
                    "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-1",
                    "arn:aws:ec2:us-east-1:123456789012:volume/vol-1",
                ],
            ),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "iso_e_role_pattern_grants_passrole",
            why: "Every role of every account in the aws-iso-e partition is every role there.",
            statements: json!([{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws-iso-e:iam::*:role/*"}]),
            request: id_req("iam:PassRole", &["arn:aws-iso-e:iam::123456789012:role/x"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "allow_not_resource_one_account_grants_other_accounts",
            why: "An Allow with NotResource on one account's roles allows the roles of every other account.",
            statements: json!([{"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::111111111111:role/*"}]),
            request: id_req("iam:PassRole", &["arn:aws:iam::123456789012:role/admin"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "allow_not_resource_other_partition_grants_everything_here",
            why: "An Allow with NotResource on aws-cn roles allows every role of the aws partition.",
            statements: json!([{"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws-cn:iam::*:role/*"}]),
            request: id_req("iam:PassRole", &["arn:aws:iam::123456789012:role/admin"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "principal_account_variable_is_every_role_of_the_callers_account",
            why: "${aws:PrincipalAccount} resolves to the caller's own account: every role of it.",
            statements: json!([{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}]),
            request: id_req("iam:PassRole", &["arn:aws:iam::123456789012:role/admin"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_on_roles_keeps_create_user",
            why: "A Deny on roles does not match users.",
            statements: json!([
                {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::*:role/*"}]),
            request: id_req("iam:CreateUser", &["arn:aws:iam::123456789012:user/x"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_arn_star_keeps_resourceless_actions",
            why: "An action without resource-level permissions is requested on `*`, which `arn:*` does not match.",
            statements: json!([
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:*"}]),
            request: id_req("s3:ListAllMyBuckets", &["*"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_not_resource_with_unresolvable_variable_is_not_relied_on",
            why: "For a role session aws:username is absent: AWS documents that the statement \"might\" be \
                  invalid, so a must-deny must not count on this Deny to cancel the admin grant.",
            statements: json!([
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:iam::111111111111:user/${aws:username}"}]),
            request: Request::new(
                Principal::aws("arn:aws:iam::111111111111:role/ci"),
                "iam:PassRole",
                &["arn:aws:iam::111111111111:role/admin"],
            )
            .with("aws:PrincipalAccount", &["111111111111"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_with_question_mark_account_keeps_passrole",
            why:
                "`?` matches exactly one character: 9999999999?? matches only accounts 9999999999xx, not the caller's.",
            statements: json!([
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "arn:aws:iam::9999999999??:role/*"}]),
            request: id_req("iam:PassRole", &["arn:aws:iam::123456789012:role/admin"]),
            must: Must::Grant(Breadth::All),
        },
        Adv {
            name: "deny_upper_case_arn_does_not_cancel",
            why: "Resource ARNs are matched case-sensitively: an upper-case ARN matches no real resource.",
            statements: json!([
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "ARN:AWS:IAM::*:ROLE/*"}]),
            request: id_req("iam:PassRole", &["arn:aws:iam::123456789012:role/admin"]),
            must: Must::Grant(Breadth::All),
        },
    ];
    check_advs("identity-grant", &cases);
}

#[test]
fn adversarial_open_trusts() {
    let cases = [
        Adv {
            name: "trust_star_with_string_not_equals_org_is_open",
            why: "StringNotEquals on a key the request lacks (no org) is true: any outsider gets in.",
            statements: json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-good"}}}]),
            request: outsider_assume(),
            must: Must::OpenTrust,
        },
        Adv {
            name: "trust_star_with_if_exists_org_is_open",
            why: "No org: the key is absent, and ...IfExists on an absent key is true.",
            statements: json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-good"}}}]),
            request: outsider_assume(),
            must: Must::OpenTrust,
        },
        Adv {
            name: "trust_star_with_for_all_values_org_is_open",
            why: "ForAllValues is true when the key is absent from the request.",
            statements: json!([{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
                "Condition": {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-good"}}}]),
            request: outsider_assume(),
            must: Must::OpenTrust,
        },
        Adv {
            name: "trust_not_principal_is_open",
            why: "An Allow with NotPrincipal applies to everyone but the listed principal.",
            statements: json!([{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:role/blocked"}, "Action": "sts:AssumeRole"}]),
            request: outsider_assume(),
            must: Must::OpenTrust,
        },
        Adv {
            name: "oidc_string_not_equals_sub_is_not_pinned",
            why: "StringNotEquals on sub admits every repository but the one named.",
            statements: json!([{"Effect": "Allow", "Principal": {"Federated": GITHUB}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringNotEquals": {SUB: "repo:org/app:ref:refs/heads/main"}}}]),
            request: evil_repo_web_identity(),
            must: Must::OpenTrust,
        },
        Adv {
            name: "oidc_sub_if_exists_is_pinned_only_if_present",
            why: "StringLikeIfExists on sub still requires a matching sub (GitHub always sends one), but a \
                  ForAnyValue:StringNotLike admits every other repository.",
            statements: json!([{"Effect": "Allow", "Principal": {"Federated": GITHUB}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"ForAnyValue:StringNotLike": {SUB: "repo:org/app:*"}}}]),
            request: evil_repo_web_identity(),
            must: Must::OpenTrust,
        },
    ];
    check_advs("open-trust", &cases);
}

#[test]
fn adversarial_public_resources() {
    let cases = [
        Adv {
            name: "resource_star_with_not_ip_address_is_public",
            why: "NotIpAddress 10.0.0.0/8 admits every address of the internet.",
            statements: json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]),
            request: anon_get(),
            must: Must::Public,
        },
        Adv {
            name: "resource_star_with_ip_any_is_public",
            why: "IpAddress 0.0.0.0/0 is every IPv4 address.",
            statements: json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}]),
            request: anon_get(),
            must: Must::Public,
        },
        Adv {
            name: "resource_star_with_if_exists_vpce_is_public",
            why: "A request from the internet has no aws:SourceVpce, and ...IfExists on an absent key is true.",
            statements: json!([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
                "Condition": {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c"}}}]),
            request: anon_get(),
            must: Must::Public,
        },
        Adv {
            name: "resource_star_with_arn_not_like_principal_is_public",
            why: "ArnNotLike on a key the request lacks (an anonymous caller has no aws:PrincipalArn) is true.",
            statements: json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/blocked"}}}]),
            request: anon_get(),
            must: Must::Public,
        },
        Adv {
            name: "resource_star_with_wildcard_principal_arn_is_public",
            why: "ArnLike arn:*:iam::*:* matches every IAM principal of every account.",
            statements: json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:*:iam::*:*"}}}]),
            request: Request::new(
                Principal::aws("arn:aws:iam::444444444444:role/evil"),
                "s3:GetObject",
                &["arn:aws:s3:::site/x"],
            )
            .with("aws:PrincipalArn", &["arn:aws:iam::444444444444:role/evil"]),
            must: Must::Public,
        },
        Adv {
            name: "public_bucket_in_iso_f_partition_is_public",
            why: "Principal * is everyone, anonymous callers included, in any partition.",
            statements: json!([{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws-iso-f:s3:::site/*"}]),
            request: Request::new(Principal::Anonymous, "s3:GetObject", &["arn:aws-iso-f:s3:::site/x"]),
            must: Must::Public,
        },
    ];
    check_advs("public-resource", &cases);
}

// Regressions that do not fit the tables (they check the score itself).

#[test]
fn adv_identity_admin_with_deny_carrying_principal_is_still_admin() {
    let d = doc(json!([
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]));
    assert!(re::allows(&d, Mode::Identity, &id_req("iam:CreateUser", &["arn:aws:iam::123456789012:user/x"])));
    assert_eq!(score(&d, PolicyType::Identity).unwrap().score, 10, "{:?}", rules(&d, PolicyType::Identity));
}

#[test]
fn adv_mixed_document_autodetected_still_scores_its_identity_allow() {
    // Allow statements without Principal are identity statements; a Principal on the Deny must
    // not turn the document into a "resource policy" that hides the admin grant.
    let d = doc(json!([
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "s3:*", "Resource": "*"}]));
    // Refusing the document (an error: the gate fails closed) is fine; scoring it lower is not.
    if let Ok(r) = risk_core::score_value(&d, &ScoreOptions::default()) {
        let rules: Vec<&String> = r.findings.iter().map(|f| &f.rule).collect();
        assert_eq!(r.score, 10, "detected {} findings {rules:?}", r.policy_type);
    }
}

#[test]
fn adv_iso_f_wildcard_is_admin() {
    let d = doc(json!([{"Effect": "Allow", "Action": "*", "Resource": ["*", "arn:aws-iso-f:*:*:*:*"]}]));
    assert_eq!(score(&d, PolicyType::Identity).unwrap().score, 10);
    let d = doc(json!([{"Effect": "Allow", "Action": "*", "Resource": "arn:aws-iso-f:*:*:*:*"}]));
    assert!(re::allows(&d, Mode::Identity, &id_req("iam:CreateUser", &["arn:aws-iso-f:iam::123456789012:user/x"])));
    assert_eq!(breadth(&d, PolicyType::Identity, "iam:PassRole"), Breadth::All);
    let aws = doc(json!([{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:*:*:*:*"}]));
    let (s_iso, s_aws) =
        (score(&d, PolicyType::Identity).unwrap().score, score(&aws, PolicyType::Identity).unwrap().score);
    assert!(s_iso >= s_aws, "arn:aws-iso-f:*:*:*:* scores {s_iso}, arn:aws:*:*:*:* scores {s_aws}");
    assert_eq!(s_iso, 10, "`*` on every resource of a partition is administrator access");
}
