//! Property tests of the engine's invariants: letter case, statement order, splitting and
//! string-vs-array never change a result; adding an Allow never lowers the score; arbitrary
//! input never panics; the same input always gives byte-identical output.

use iam_catalog::ACTIONS;
use proptest::prelude::*;
use proptest::sample::select;
use risk_core::{score_json, score_value, Report, ScoreOptions};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// A small policy model, rendered to JSON in the different (equivalent) ways the properties need.

#[derive(Debug, Clone)]
struct Stmt {
    deny: bool,
    not_action: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    /// Index into `CONDITIONS`.
    condition: Option<usize>,
    /// When the list has one element: write it as a bare string rather than a one-element array.
    bare_action: bool,
    bare_resource: bool,
}

#[derive(Debug, Clone)]
struct Pol {
    version: Option<&'static str>,
    statements: Vec<Stmt>,
}

/// Literal catalog actions that matter to the rules (escalation, credentials, exfiltration,
/// destruction, logging) next to harmless ones.
const LITERALS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteBucket",
    "s3:ListBucket",
    "s3:PutBucketPolicy",
    "iam:PassRole",
    "iam:CreateAccessKey",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
    "iam:CreatePolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:ChangePassword",
    "iam:GetUser",
    "ec2:RunInstances",
    "ec2:DescribeInstances",
    "ec2:AuthorizeSecurityGroupIngress",
    "lambda:CreateFunction",
    "lambda:InvokeFunction",
    "lambda:UpdateFunctionCode",
    "sts:AssumeRole",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "kms:ScheduleKeyDeletion",
    "dynamodb:GetItem",
    "dynamodb:DeleteTable",
    "cloudtrail:StopLogging",
    "logs:DeleteLogGroup",
    "ssm:GetParameter",
    "cloudwatch:GetMetricData",
];

const SERVICE_POOL: &[&str] =
    &["s3", "iam", "ec2", "lambda", "sts", "kms", "secretsmanager", "dynamodb", "logs", "cloudtrail", "ssm"];

const VERB_POOL: &[&str] = &["Get", "List", "Describe", "Put", "Delete", "Create", "Update"];

/// Patterns that match nothing: reported as validation findings, granting nothing.
const UNKNOWN: &[&str] = &["s3:GetObjectz", "nosuchsvc:Get*", "iam:Frobnicate"];

const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:iam::*:role/*",
    "arn:aws:iam::123456789012:role/app",
    "arn:aws:iam::*:user/${aws:username}",
];

fn conditions() -> Vec<Value> {
    vec![
        json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}}),
        json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        json!({"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}),
    ]
}

fn action_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => select(LITERALS).prop_map(str::to_string),
        2 => (0..ACTIONS.len()).prop_map(|i| ACTIONS[i].full_name()),
        2 => select(SERVICE_POOL).prop_map(|s| format!("{s}:*")),
        2 => (select(SERVICE_POOL), select(VERB_POOL)).prop_map(|(s, v)| format!("{s}:{v}*")),
        1 => Just("*".to_string()),
        1 => select(UNKNOWN).prop_map(str::to_string),
    ]
}

fn stmt_with(effect: impl Strategy<Value = bool>) -> impl Strategy<Value = Stmt> {
    (
        effect,
        prop::bool::weighted(0.15),
        prop::collection::vec(action_pattern(), 1..5),
        prop::collection::vec(select(RESOURCES).prop_map(str::to_string), 1..3),
        prop::option::weighted(0.3, 0..4usize),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(deny, not_action, actions, resources, condition, bare_action, bare_resource)| Stmt {
            deny,
            not_action,
            actions,
            resources,
            condition,
            bare_action,
            bare_resource,
        })
}

fn stmt() -> impl Strategy<Value = Stmt> {
    stmt_with(prop::bool::weighted(0.25))
}

fn allow_stmt() -> impl Strategy<Value = Stmt> {
    stmt_with(Just(false))
}

fn policy() -> impl Strategy<Value = Pol> {
    (
        prop_oneof![8 => Just(Some("2012-10-17")), 1 => Just(Some("2008-10-17")), 1 => Just(None)],
        prop::collection::vec(stmt(), 1..5),
    )
        .prop_map(|(version, statements)| Pol { version, statements })
}

fn list(items: &[String], bare: bool) -> Value {
    if bare && items.len() == 1 {
        Value::String(items[0].clone())
    } else {
        Value::Array(items.iter().cloned().map(Value::String).collect())
    }
}

impl Stmt {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("Effect".into(), Value::String(if self.deny { "Deny" } else { "Allow" }.into()));
        let akey = if self.not_action { "NotAction" } else { "Action" };
        m.insert(akey.into(), list(&self.actions, self.bare_action));
        m.insert("Resource".into(), list(&self.resources, self.bare_resource));
        if let Some(c) = self.condition {
            m.insert("Condition".into(), conditions()[c].clone());
        }
        Value::Object(m)
    }
}

impl Pol {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = self.version {
            m.insert("Version".into(), Value::String(v.into()));
        }
        m.insert("Statement".into(), Value::Array(self.statements.iter().map(Stmt::to_json).collect()));
        Value::Object(m)
    }
}

/// Flip the case of ASCII letters pseudo-randomly (xorshift from `seed`).
fn mangle_case(s: &str, seed: &mut u64) -> String {
    s.chars()
        .map(|c| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            if *seed & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn score(v: &Value) -> Report {
    score_value(v, &ScoreOptions::default()).unwrap_or_else(|e| panic!("generated policy does not score: {e}\n{v:#}"))
}

/// `(rule, score, first statement)` of every finding, sorted.
fn rule_scores(r: &Report) -> Vec<(String, u8, Option<usize>)> {
    let mut v: Vec<_> = r.findings.iter().map(|f| (f.rule.clone(), f.score, f.statement)).collect();
    v.sort();
    v
}

/// Rule codes that fired, without duplicates.
fn rule_set(r: &Report) -> Vec<String> {
    let mut v: Vec<_> = r.findings.iter().map(|f| f.rule.clone()).collect();
    v.sort();
    v.dedup();
    v
}

/// Category → highest score (the part of `categories` that does not count statements).
fn category_max(r: &Report) -> BTreeMap<String, u8> {
    r.categories.iter().map(|(k, c)| (k.clone(), c.max_score)).collect()
}

fn describe(r: &Report) -> String {
    let f: Vec<_> =
        r.findings.iter().map(|f| format!("{} {} s{:?}: {}", f.rule, f.score, f.statements, f.message)).collect();
    format!("score {} findings:\n  {}", r.score, f.join("\n  "))
}

/// 64 cases keep the file within seconds in debug; `PROPTEST_CASES=5000` digs deeper.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary JSON, weighted towards the policy grammar so the parser's deeper paths are reached.

const KEYS: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "StringEquals",
    "StringLike",
    "Bool",
    "aws:SourceIp",
    "iam:PassedToService",
    "statement",
    "PolicyDocument",
];

const STRINGS: &[&str] = &[
    "Allow",
    "Deny",
    "allow ",
    "*",
    "**",
    "?",
    "s3:*",
    "s3:Get*",
    "S3:GETOBJECT",
    "iam:PassRole",
    "*:*",
    "s3*:get*",
    ":",
    "s3:",
    ":x",
    "a:b:c",
    "2012-10-17",
    "2008-10-17",
    "arn:aws:s3:::*",
    "arn:aws:s3:::*/*",
    "arn:*:*:*:*:*",
    "arn:aws:iam::*:role/*",
    "arn:aws:iam::*:user/${aws:username}",
    "${aws:username}",
    "${",
    "arn:aws:iam::123456789012:root",
    "ec2.amazonaws.com",
    "",
    "é",
    "\u{212a}",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        3 => select(STRINGS).prop_map(|s| Value::String(s.into())),
        2 => ".{0,16}".prop_map(Value::String),
    ];
    let key = prop_oneof![4 => select(KEYS).prop_map(str::to_string), 1 => ".{0,8}"];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A document shaped like a policy whose values are arbitrary.
fn policy_shaped_json() -> impl Strategy<Value = Value> {
    let stmt = || {
        prop::collection::vec((select(&KEYS[3..12]).prop_map(str::to_string), arb_json()), 0..6)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
    };
    (prop::option::of(arb_json()), prop_oneof![stmt(), prop::collection::vec(stmt(), 0..4).prop_map(Value::Array)])
        .prop_map(|(version, statement)| {
            let mut m = Map::new();
            if let Some(v) = version {
                m.insert("Version".into(), v);
            }
            m.insert("Statement".into(), statement);
            Value::Object(m)
        })
}

/// Either scores or fails with problems that each say something; never panics.
fn check_total(result: Result<Report, risk_core::PolicyError>) -> Result<(), TestCaseError> {
    match result {
        Ok(r) => {
            prop_assert!((1..=10).contains(&r.score), "score {} out of range", r.score);
        }
        Err(e) => {
            prop_assert!(!e.problems().is_empty(), "error without problems");
            for p in e.problems() {
                prop_assert!(!p.message.trim().is_empty(), "empty message at `{}`", p.path);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// (a) IAM action names are case-insensitive, so the letter case of `Action`/`NotAction`
    /// entries never changes the result.
    #[test]
    fn action_letter_case_never_changes_the_result(p in policy(), seed in 1u64..) {
        let mut mangled = p.clone();
        let mut s = seed;
        for st in &mut mangled.statements {
            for a in &mut st.actions {
                *a = mangle_case(a, &mut s);
            }
        }
        let (a, b) = (score(&p.to_json()), score(&mangled.to_json()));
        prop_assert_eq!(a.score, b.score, "\n{}\n---\n{}", describe(&a), describe(&b));
        prop_assert_eq!(rule_scores(&a), rule_scores(&b));
        prop_assert_eq!(&a.categories, &b.categories);
        prop_assert_eq!(&a.access_summary, &b.access_summary);
        prop_assert_eq!(&a.tier, &b.tier);
    }

    /// (b) Statements are an unordered set: their order changes only the statement indices
    /// findings point at.
    #[test]
    fn statement_order_never_changes_the_result(
        (p, perm) in policy().prop_flat_map(|p| {
            let n = p.statements.len();
            (Just(p), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        })
    ) {
        let mut shuffled = p.clone();
        shuffled.statements = perm.iter().map(|&i| p.statements[i].clone()).collect();
        let (a, b) = (score(&p.to_json()), score(&shuffled.to_json()));
        prop_assert_eq!(a.score, b.score, "\n{}\n---\n{}", describe(&a), describe(&b));
        prop_assert_eq!(rule_set(&a), rule_set(&b), "\n{}\n---\n{}", describe(&a), describe(&b));
        prop_assert_eq!(&a.categories, &b.categories, "\n{}\n---\n{}", describe(&a), describe(&b));
        prop_assert_eq!(&a.access_summary, &b.access_summary);
    }

    /// (c) `Action: [a, b, c]` grants what three statements with one action each grant.
    #[test]
    fn splitting_a_statement_never_changes_score_or_categories(p in policy(), which in any::<prop::sample::Index>()) {
        let candidates: Vec<usize> =
            (0..p.statements.len()).filter(|&i| !p.statements[i].not_action && p.statements[i].actions.len() > 1).collect();
        prop_assume!(!candidates.is_empty());
        let at = candidates[which.index(candidates.len())];
        let mut split = p.clone();
        let original = split.statements.remove(at);
        for (k, a) in original.actions.iter().enumerate() {
            split.statements.insert(at + k, Stmt { actions: vec![a.clone()], ..original.clone() });
        }
        let (a, b) = (score(&p.to_json()), score(&split.to_json()));
        prop_assert_eq!(a.score, b.score, "\n{}\n---\n{}", describe(&a), describe(&b));
        prop_assert_eq!(category_max(&a), category_max(&b), "\n{}\n---\n{}", describe(&a), describe(&b));
        prop_assert_eq!(&a.access_summary, &b.access_summary);
    }

    /// (d) `"Action": "x"` and `"Action": ["x"]` (likewise `Resource`) are the same policy:
    /// everything but the fingerprint of the document as written is equal.
    #[test]
    fn string_or_one_element_array_is_the_same_policy(p in policy()) {
        let mut bare = p.clone();
        let mut arrays = p.clone();
        for st in &mut bare.statements {
            st.bare_action = true;
            st.bare_resource = true;
        }
        for st in &mut arrays.statements {
            st.bare_action = false;
            st.bare_resource = false;
        }
        let (mut a, mut b) = (score(&bare.to_json()), score(&arrays.to_json()));
        a.policy_fingerprint.clear();
        b.policy_fingerprint.clear();
        prop_assert_eq!(a, b);
    }

    /// (e) An extra Allow can only grant more, so it never lowers the score.
    #[test]
    fn adding_an_allow_never_lowers_the_score(p in policy(), extra in allow_stmt(), at in any::<prop::sample::Index>()) {
        let mut more = p.clone();
        more.statements.insert(at.index(p.statements.len() + 1), extra);
        let (a, b) = (score(&p.to_json()), score(&more.to_json()));
        prop_assert!(b.score >= a.score, "score fell from {} to {}\n{}\n---\n{}", a.score, b.score, describe(&a), describe(&b));
    }

    /// (f) Arbitrary JSON never panics: a report, or problems that each have a message.
    #[test]
    fn arbitrary_json_never_panics(v in prop_oneof![arb_json(), policy_shaped_json()]) {
        check_total(score_value(&v, &ScoreOptions::default()))?;
        check_total(score_json(&v.to_string(), &ScoreOptions::default()))?;
    }

    /// (f) Arbitrary text, and damaged policy text, never panics either.
    #[test]
    fn arbitrary_text_never_panics(
        s in prop_oneof![
            any::<String>(),
            (policy(), any::<prop::sample::Index>(), ".{0,3}").prop_map(|(p, at, junk)| {
                let text = p.to_json().to_string();
                let mut cut = at.index(text.len() + 1);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}{junk}{}", &text[..cut], if junk.is_empty() { "" } else { &text[cut..] })
            }),
        ]
    ) {
        check_total(score_json(&s, &ScoreOptions::default()))?;
    }

    /// (g) Same input, same bytes out.
    #[test]
    fn same_input_gives_byte_identical_json(p in policy()) {
        let text = serde_json::to_string_pretty(&p.to_json()).unwrap();
        let a = serde_json::to_string(&score_json(&text, &ScoreOptions::default()).unwrap()).unwrap();
        let b = serde_json::to_string(&score_json(&text, &ScoreOptions::default()).unwrap()).unwrap();
        prop_assert_eq!(&a, &b);
        let c = serde_json::to_string(&score(&p.to_json())).unwrap();
        prop_assert_eq!(&a, &c);
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases for what the properties above have found, so a regression shows up every run
// rather than only when the generator happens upon it again.

/// Found by `statement_order_never_changes_the_result`: whether a Deny that does not cancel
/// everything it overlaps is reported (VA003) depended on whether another Deny that cancels the
/// same action came before it, because Deny statements were applied in document order and the
/// later one saw nothing left to overlap. First with a conditional Deny (fixed in bf9dfb9),
/// then with an unconditional Deny on part of the resources.
#[test]
fn deny_order_does_not_change_findings() {
    let unconditional = json!({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"});
    let allow = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
    let conditional = json!({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}});
    let partial = json!({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"});
    let doc = |s: [&Value; 3]| json!({"Version": "2012-10-17", "Statement": s});
    for other in [&conditional, &partial] {
        let a = score(&doc([other, &unconditional, &allow]));
        let b = score(&doc([&unconditional, other, &allow]));
        assert_eq!(rule_set(&a), rule_set(&b), "\n{}\n---\n{}", describe(&a), describe(&b));
        assert_eq!(a.categories, b.categories);
    }
}

/// Found by the reference matcher (`glob::matches` took the text's `*` for the pattern's):
/// `Resource: "*?"` matches every resource `"?"` does, and more, so it cannot grant less.
/// `ec2:DescribeInstances` has no resource-level permissions (its resource is `*`).
#[test]
fn a_wider_resource_pattern_never_grants_less() {
    let with = |resource: &str| {
        score(&json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": resource}]}))
    };
    let (narrow, wide) = (with("?"), with("*?"));
    assert_eq!(narrow.access_summary.actions, 1, "{}", describe(&narrow));
    assert_eq!(wide.access_summary, narrow.access_summary, "\n{}\n---\n{}", describe(&narrow), describe(&wide));
    assert_eq!(rule_set(&wide), rule_set(&narrow));
}
