//! Fuzz target: documents that mix statement shapes (Principal or none, NotPrincipal, Deny,
//! NotAction, NotResource, conditions, partitions, variables) are scored as every policy type
//! without a panic, and the soundness properties hold: adding an Allow never lowers the score,
//! adding an unconditional Deny never raises it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use risk_core::{score_value, PolicyType, ScoreOptions};
use serde_json::{json, Value};

const ACTIONS: &[&str] = &[
    "*",
    "iam:*",
    "iam:PassRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateAccessKey",
    "s3:GetObject",
    "s3:*",
    "ec2:RunInstances",
    "lambda:CreateFunction",
    "lambda:InvokeFunction",
    "sts:AssumeRole",
    "kms:Decrypt",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:iam::*:role/*",
    "arn:aws-cn:iam::*:role/*",
    "arn:aws-iso-f:*:*:*:*",
    "arn:*:*:*:*:*",
    "arn:aws:iam::111122223333:role/admin",
    "arn:aws:iam::999999999999:*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:ec2:*:*:placement-group/*",
    "arn:*:ec2:*:*:instance/*",
    "arn:aws:iam::*:user/${aws:username}",
    "arn:aws:iam::${aws:PrincipalAccount}:role/*",
    "arn:aws:iam::*:*",
];
const PRINCIPALS: &[&str] = &["*", "arn:aws:iam::*:root", "arn:aws-cn:iam::*:root", "arn:aws:iam::123456789012:root"];
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIfExists",
    "ForAllValues:StringEquals",
    "ForAnyValue:StringNotLike",
    "Null",
    "ArnLike",
    "NotIpAddress",
    "IpAddress",
];
const KEYS: &[&str] = &["aws:PrincipalOrgID", "aws:SourceIp", "aws:PrincipalArn", "aws:SourceAccount"];

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn pick<'s>(&mut self, xs: &[&'s str]) -> &'s str {
        xs[self.next() as usize % xs.len()]
    }
}

fn statement(b: &mut Bytes<'_>) -> Value {
    let bits = b.next();
    let mut s = serde_json::Map::new();
    s.insert("Effect".into(), json!(if bits & 1 == 1 { "Deny" } else { "Allow" }));
    s.insert(if bits & 2 == 2 { "NotAction" } else { "Action" }.into(), json!(b.pick(ACTIONS)));
    s.insert(
        if bits & 4 == 4 { "NotResource" } else { "Resource" }.into(),
        json!([b.pick(RESOURCES), b.pick(RESOURCES)]),
    );
    match (bits >> 3) & 3 {
        1 => {
            s.insert("Principal".into(), json!({"AWS": b.pick(PRINCIPALS)}));
        }
        2 => {
            s.insert("NotPrincipal".into(), json!({"AWS": b.pick(PRINCIPALS)}));
        }
        3 => {
            s.insert("Principal".into(), json!("*"));
        }
        _ => {}
    }
    if bits & 32 == 32 {
        let (op, key) = (b.pick(OPERATORS), b.pick(KEYS));
        s.insert("Condition".into(), json!({op: {key: "o-a1b2c3d4e5"}}));
    }
    Value::Object(s)
}

fn score(doc: &Value, t: Option<PolicyType>) -> Option<u8> {
    let options = ScoreOptions { policy_type: t, ..Default::default() };
    match score_value(doc, &options) {
        Ok(r) => {
            assert!((1..=10).contains(&r.score));
            Some(r.score)
        }
        Err(e) => {
            assert!(e.problems().iter().all(|p| !p.message.trim().is_empty()));
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let n = 1 + b.next() as usize % 5;
    let statements: Vec<Value> = (0..n).map(|_| statement(&mut b)).collect();
    let doc = json!({"Version": "2012-10-17", "Statement": statements});
    score(&doc, None);
    for t in [PolicyType::Identity, PolicyType::Resource, PolicyType::Trust] {
        let Some(before) = score(&doc, Some(t)) else { continue };
        // Monotonicity: one more Allow never lowers the score …
        let mut extra = statement(&mut b);
        extra["Effect"] = json!("Allow");
        let mut more = doc.clone();
        more["Statement"].as_array_mut().unwrap().push(extra);
        if let Some(after) = score(&more, Some(t)) {
            assert!(after >= before, "adding an Allow lowered {t:?} from {before} to {after}: {more}");
        }
        // … and an unconditional Deny of everything, for everyone, never raises it.
        let deny = if t == PolicyType::Identity {
            json!({"Effect": "Deny", "Action": "*", "Resource": "*"})
        } else {
            json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"})
        };
        let mut less = doc.clone();
        less["Statement"].as_array_mut().unwrap().push(deny);
        if let Some(after) = score(&less, Some(t)) {
            assert!(after <= before, "adding a Deny raised {t:?} from {before} to {after}: {less}");
        }
    }
});
