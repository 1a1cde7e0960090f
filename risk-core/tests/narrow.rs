//! Properties of `authoring::narrow` over random policies and inputs: it never widens (the
//! engine's diff adds nothing, the score does not rise, no resource is broader than before), it
//! is idempotent, and Deny statements come out byte-identical.

use iam_catalog::AccessLevel;
use proptest::prelude::*;
use proptest::sample::select;
use risk_core::authoring::{narrow, NarrowInput};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ACTIONS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "s3:DeleteBucket",
    "kms:*",
    "kms:Decrypt",
    "kms:ListKeys",
    "sqs:SendMessage",
    "sqs:*",
    "iam:PassRole",
    "iam:Get*",
    "dynamodb:GetItem",
];

const RESOURCES: &[&str] = &[
    "*",
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:kms:us-east-1:123456789012:key/k",
    "arn:aws:sqs:us-east-1:123456789012:q",
];

const GIVEN: &[&str] = &[
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::other/logs/*",
    "arn:aws:kms:us-east-1:123456789012:key/k",
    "arn:aws:sqs:us-east-1:123456789012:q",
    "arn:aws:iam::123456789012:role/app",
    "arn:aws:dynamodb:us-east-1:123456789012:table/t",
];

const USED: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "kms:Decrypt",
    "sqs:SendMessage",
    "iam:PassRole",
    "iam:GetRole",
    "dynamodb:GetItem",
];

fn arb_statement() -> impl Strategy<Value = Value> {
    (
        prop::bool::weighted(0.75),
        prop::bool::weighted(0.15),
        proptest::collection::vec(select(ACTIONS), 1..4),
        proptest::collection::vec(select(RESOURCES), 1..3),
        prop::bool::weighted(0.2),
        proptest::option::of(select(&["A", "B", "A1", "Data"][..])),
    )
        .prop_map(|(allow, not_action, actions, resources, condition, sid)| {
            let mut st = serde_json::Map::new();
            if let Some(s) = sid {
                st.insert("Sid".into(), json!(s));
            }
            st.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
            st.insert(if not_action { "NotAction" } else { "Action" }.into(), json!(actions));
            st.insert("Resource".into(), json!(resources));
            if condition {
                st.insert("Condition".into(), json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}));
            }
            Value::Object(st)
        })
}

fn arb_policy() -> impl Strategy<Value = Value> {
    proptest::collection::vec(arb_statement(), 1..4).prop_map(|mut s| {
        // Sids must be unique for the policy to be scored.
        let mut seen = BTreeSet::new();
        for st in &mut s {
            if let Some(sid) = st.get("Sid").and_then(Value::as_str).map(str::to_string) {
                if !seen.insert(sid) {
                    st.as_object_mut().unwrap().remove("Sid");
                }
            }
        }
        json!({"Version": "2012-10-17", "Statement": s})
    })
}

fn arb_input() -> impl Strategy<Value = NarrowInput> {
    (
        proptest::collection::vec(select(GIVEN), 0..4),
        proptest::collection::vec(select(&AccessLevel::ALL[..]), 0..2),
        proptest::option::weighted(0.5, proptest::collection::vec(select(USED), 1..5)),
    )
        .prop_map(|(resources, access_levels, used)| NarrowInput {
            resources: resources.into_iter().map(str::to_string).collect(),
            access_levels,
            used_actions: used.map(|u| u.into_iter().map(str::to_string).collect()),
        })
}

fn statements(p: &Value) -> Vec<&Value> {
    match &p["Statement"] {
        Value::Array(s) => s.iter().collect(),
        other => vec![other],
    }
}

fn list(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn narrowing_never_widens_is_idempotent_and_keeps_denies(policy in arb_policy(), input in arb_input()) {
        let n = match narrow(&policy, &input) {
            Ok(n) => n,
            // The one refusal a valid random case can meet: nothing of the policy was used.
            Err(e) => {
                prop_assert!(e.message().contains("leaves no Allow statement"), "{e}");
                return Ok(());
            }
        };
        prop_assert_eq!(n.diff.added_actions_total, 0, "{:#}", n.policy);
        prop_assert!(n.after.score <= n.before.score, "{} > {}: {:#}", n.after.score, n.before.score, n.policy);

        // Deny statements byte-identical, in the same relative order.
        let denies = |p: &Value| -> Vec<Value> {
            statements(p).into_iter().filter(|s| s["Effect"] == "Deny").cloned().collect()
        };
        prop_assert_eq!(denies(&policy), denies(&n.policy));

        // No resource broader than before: every Allow resource of the output was a resource of
        // an input Allow statement, or a given ARN replacing a `*` one.
        let given: BTreeSet<&str> = input.resources.iter().map(String::as_str).collect();
        let any_star = statements(&policy).iter().any(|s| s["Effect"] == "Allow" && list(s.get("Resource")).contains(&"*"));
        let before: BTreeSet<&str> = statements(&policy)
            .into_iter()
            .filter(|s| s["Effect"] == "Allow")
            .flat_map(|s| list(s.get("Resource")))
            .collect();
        for st in statements(&n.policy).into_iter().filter(|s| s["Effect"] == "Allow") {
            for r in list(st.get("Resource")) {
                prop_assert!(before.contains(r) || (any_star && given.contains(r)), "`{}` is new: {:#}", r, n.policy);
            }
        }

        // Idempotent: the narrowed policy narrows to itself.
        let again = narrow(&n.policy, &input).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again.policy, &n.policy);
        prop_assert_eq!(again.diff.removed_actions_total, 0);
    }
}
