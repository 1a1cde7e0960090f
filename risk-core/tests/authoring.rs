//! The policy writer: golden tests against policy_sentry's own examples (same actions, or a
//! difference documented in docs/authoring.md) and properties of what it writes.

use iam_catalog::{AccessLevel, ACTIONS};
use proptest::prelude::*;
use proptest::sample::select;
use risk_core::analysis::Analysis;
use risk_core::authoring::{write_policy, Template};
use risk_core::policy::Policy;
use risk_core::{score_value, PolicyType, ScoreOptions};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/authoring")
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every action of a policy document, lowercase.
fn action_set(policy: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for st in policy["Statement"].as_array().into_iter().flatten() {
        match &st["Action"] {
            Value::String(s) => {
                out.insert(s.to_ascii_lowercase());
            }
            Value::Array(a) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_ascii_lowercase)),
            _ => {}
        }
    }
    out
}

/// Rows of the markdown table between `<!-- NAME:start -->` and `<!-- NAME:end -->`, as cells.
fn doc_table(name: &str) -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/authoring.md"))
        .expect("docs/authoring.md");
    let start = doc.find(&format!("<!-- {name}:start -->")).expect("start marker");
    let end = doc.find(&format!("<!-- {name}:end -->")).expect("end marker");
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.trim().trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect())
        .collect()
}

fn template_name(cell: &str) -> String {
    cell.trim_matches('`').trim_end_matches(".yml").to_string()
}

/// (template, "ours" | "policy_sentry") → documented actions, lowercase.
fn documented_differences() -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for row in doc_table("golden-differences") {
        assert_eq!(row.len(), 4, "{row:?}");
        assert!(["dependent", "newer-catalog", "resource-types", "arn-match"].contains(&row[2].as_str()), "{row:?}");
        let actions = row[3].split(", ").map(|a| a.trim_matches('`').to_ascii_lowercase());
        out.entry((template_name(&row[0]), row[1].clone())).or_default().extend(actions);
    }
    out
}

fn templates() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yml"))
        .map(|n| n.trim_end_matches(".yml").to_string())
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), read_json(&fixtures().join(format!("{n}.json"))))).collect()
}

#[test]
fn golden_against_policy_sentry() {
    let documented = documented_differences();
    let refusals: BTreeMap<String, String> = doc_table("golden-refusals")
        .into_iter()
        .map(|r| (template_name(&r[0]), r[2].trim_matches('`').trim().to_string()))
        .collect();
    let mut compared = 0;
    let mut identical = Vec::new();
    for (name, value) in templates() {
        let written = Template::from_value(&value).and_then(|t| write_policy(&t));
        if let Some(expected) = refusals.get(&name) {
            let e = written.expect_err(&name).to_string();
            assert!(e.contains(expected.as_str()), "{name}: error {e:?} should contain {expected:?}");
            continue;
        }
        let ours = action_set(&written.unwrap_or_else(|e| panic!("{name}: {e}")).policy);
        let theirs = action_set(&read_json(&fixtures().join(format!("{name}.policy_sentry.json"))));
        let none = BTreeSet::new();
        let only_ours: BTreeSet<String> = ours.difference(&theirs).cloned().collect();
        let only_theirs: BTreeSet<String> = theirs.difference(&ours).cloned().collect();
        assert_eq!(
            &only_ours,
            documented.get(&(name.clone(), "ours".into())).unwrap_or(&none),
            "{name}: actions only we grant differ from docs/authoring.md"
        );
        assert_eq!(
            &only_theirs,
            documented.get(&(name.clone(), "policy_sentry".into())).unwrap_or(&none),
            "{name}: actions only policy_sentry grants differ from docs/authoring.md"
        );
        compared += 1;
        if only_ours.is_empty() && only_theirs.is_empty() {
            identical.push(name);
        }
    }
    assert_eq!(compared + refusals.len(), 14);
    assert_eq!(
        identical,
        [
            "1-ssm-read",
            "2-skip-resource-constraints",
            "3-wildcard-only-single-actions",
            "4-wildcard-only-bulk-selection",
            "crud-rds-read",
            "crud-with-override"
        ]
    );
    // Every documented template exists.
    for (name, _) in documented.keys() {
        assert!(fixtures().join(format!("{name}.yml")).exists(), "{name}");
    }
}

#[test]
fn sids_match_policy_sentry_where_actions_agree() {
    // Where the action sets are identical the statements should be too (Sid, actions, resources).
    for name in ["1-ssm-read", "crud-rds-read", "3-wildcard-only-single-actions"] {
        let t = Template::from_value(&read_json(&fixtures().join(format!("{name}.json")))).unwrap();
        let ours = write_policy(&t).unwrap().policy;
        let theirs = read_json(&fixtures().join(format!("{name}.policy_sentry.json")));
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn statements_policy_sentry_also_writes_have_its_resources() {
    // policy_sentry's Sid scheme is ours: a Sid both write names the same resources in both.
    let mut shared = 0;
    for (name, value) in templates() {
        let Ok(ours) = Template::from_value(&value).and_then(|t| write_policy(&t)) else { continue };
        let Ok(text) = std::fs::read_to_string(fixtures().join(format!("{name}.policy_sentry.json"))) else { continue };
        let theirs: Value = serde_json::from_str(&text).expect("json");
        let by_sid = |p: &Value| -> BTreeMap<String, BTreeSet<String>> {
            p["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let res = s["Resource"].as_array().into_iter().flatten().filter_map(Value::as_str);
                    (s["Sid"].as_str().unwrap_or("").to_string(), res.map(String::from).collect())
                })
                .collect()
        };
        let (o, t) = (by_sid(&ours.policy), by_sid(&theirs));
        for (sid, res) in &o {
            if let Some(theirs) = t.get(sid) {
                assert_eq!(res, theirs, "{name}: {sid}");
                shared += 1;
            }
        }
    }
    assert!(shared >= 20, "{shared}");
}

// ---------------------------------------------------------------------------------------------
// Properties

const ARNS: &[&str] = &[
    "arn:aws:s3:::bucket-a",
    "arn:aws:s3:::bucket-a/*",
    "arn:aws:s3:::bucket-b/logs/*",
    "arn:aws:iam::123456789012:role/app/deploy",
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
    "arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/by-date",
    "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
    "arn:aws:sqs:us-east-1:123456789012:jobs",
    "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789",
    "arn:aws:ecr:us-east-1:123456789012:repository/team/app",
    "arn:aws:lambda:us-east-1:123456789012:function:f",
];
const SERVICES: &[&str] = &["s3", "iam", "ec2", "kms", "sts", "logs"];

fn arb_template() -> impl Strategy<Value = Template> {
    let arns = || proptest::collection::vec(select(ARNS), 0..3);
    let svcs = || proptest::collection::vec(select(SERVICES), 0..2);
    let own = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
    (
        (arns(), arns(), arns(), arns(), arns()),
        (svcs(), svcs(), svcs(), svcs(), svcs()),
        proptest::collection::vec(select(&["s3:Delete*", "iam:Pass*", "kms:*Key", "*:List*"][..]), 0..2),
    )
        .prop_map(move |((r, w, l, t, p), (sr, sw, sl, st, sp), ex)| Template {
            read: own(r),
            write: own(w),
            list: own(l),
            tagging: own(t),
            permissions_management: own(p),
            service_read: own(sr),
            service_write: own(sw),
            service_list: own(sl),
            service_tagging: own(st),
            service_permissions_management: own(sp),
            exclude_actions: own(ex),
            ..Template::default()
        })
}

/// The levels a template asks for (ARNs or service-wide).
fn requested_levels(t: &Template) -> BTreeSet<AccessLevel> {
    AccessLevel::ALL.into_iter().filter(|&l| !t.arns(l).is_empty() || !t.service_wide(l).is_empty()).collect()
}

/// The same policy with each statement's actions replaced by `service:*` for their services.
fn with_service_wildcards(policy: &Value) -> Value {
    let mut p = policy.clone();
    for st in p["Statement"].as_array_mut().into_iter().flatten() {
        let services: BTreeSet<String> = st["Action"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str()?.split_once(':').map(|(s, _)| format!("{s}:*")))
            .collect();
        st["Action"] = json!(services);
    }
    p
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn written_policies_grant_only_requested_levels_and_never_outscore_service_wildcards(t in arb_template()) {
        let written = match write_policy(&t) {
            Ok(w) => w,
            // Nothing asked for, or everything excluded: refused with a message, never a panic.
            Err(e) => {
                prop_assert!(e.message().contains("asks for nothing") || e.message().contains("grants no action"), "{e}");
                return Ok(());
            }
        };
        // The engine's own expansion of the written policy.
        let policy = Policy::parse(&written.policy).expect("written policy parses");
        let analysis = Analysis::new(&policy, PolicyType::Identity);
        let levels = requested_levels(&t);
        let services: BTreeSet<&str> = t
            .read.iter().chain(&t.write).chain(&t.list).chain(&t.tagging).chain(&t.permissions_management)
            .map(|a| a.split(':').nth(2).unwrap_or(""))
            .chain(AccessLevel::ALL.iter().flat_map(|&l| t.service_wide(l).iter().map(String::as_str)))
            .collect();
        for i in analysis.effective.iter() {
            let a = &ACTIONS[i];
            prop_assert!(levels.contains(&a.access), "{} is {} but only {:?} were asked for", a.full_name(), a.access, levels);
            prop_assert!(services.contains(a.service().prefix), "{} is outside {:?}", a.full_name(), services);
            prop_assert!(!t.exclude_actions.iter().any(|p| risk_core::glob::matches(&p.to_ascii_lowercase(), &a.full_name().to_ascii_lowercase())),
                "{} is excluded", a.full_name());
        }
        // Written with service wildcards on the same resources, the policy never scores lower.
        let wide = score_value(&with_service_wildcards(&written.policy), &ScoreOptions::default()).expect("scores");
        prop_assert!(written.report.score <= wide.score, "{} > {} for {:#}", written.report.score, wide.score, written.policy);
        // Deterministic: the same template, the same policy and report.
        let again = write_policy(&t).expect("writes again");
        prop_assert_eq!(&again.policy, &written.policy);
        prop_assert_eq!(again.report.policy_fingerprint, written.report.policy_fingerprint);
    }
}
