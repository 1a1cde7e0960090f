//! Policies that read two ways: condition keys, or condition operators, repeated in different
//! case.
//!
//! Exact duplicate keys are refused while reading JSON ([`crate::json`]). Condition keys are
//! case-insensitive in IAM, so `{"StringEquals": {"aws:SourceVpc": "a", "aws:sourcevpc": "b"}}`
//! is two JSON keys but one IAM key: which value applies is not what a reviewer can tell. IAM
//! Access Analyzer reports this as an error (`DUPLICATE_KEYS_WITH_DIFFERENT_CASE`); so do we.
//!
//! Operators: the IAM User Guide documents key names as case-insensitive but says nothing
//! either way for operator names, and this engine reads operators without regard to case
//! ([`crate::conditions::Operator::parse`]). So `StringEquals` and `stringequals` in one
//! `Condition` block are, to us, one operator given twice: read as both (AND), they would
//! restrict more than IAM does if it keeps only one, and if IAM instead treats the lowercase
//! name as unknown the document is invalid. Either way the document cannot be scored as
//! written, so it is refused the same way.
//!
//! Checked on the parsed value, so dicts from Python and objects in API bodies are covered too.

use crate::error::{PolicyError, Problem};
use serde_json::Value;

/// Every condition operator that repeats another of the same `Condition` block in different
/// case, and every condition key that repeats another of the same operator block.
pub fn check(doc: &Value) -> Result<(), PolicyError> {
    let mut problems = Vec::new();
    match doc.get("Statement") {
        Some(Value::Object(_)) => statement(&doc["Statement"], || "Statement".to_string(), &mut problems),
        Some(Value::Array(items)) => {
            for (i, s) in items.iter().enumerate() {
                statement(s, || format!("Statement[{i}]"), &mut problems);
            }
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::new(problems))
    }
}

/// `path` is built only when the statement has a condition (most have none).
fn statement(s: &Value, path: impl FnOnce() -> String, out: &mut Vec<Problem>) {
    let Some(Value::Object(ops)) = s.get("Condition") else { return };
    let path = path();
    for (first, op) in case_variants(ops) {
        out.push(Problem {
            path: format!("{path}.Condition.{op}"),
            message: format!(
                "repeats the condition operator `{first}` in different case; operator names are read \
                 without regard to case, so both name one operator and the policy reads two ways: keep one \
                 and put the condition keys of both in it"
            ),
        });
    }
    for (op, body) in ops {
        let Value::Object(keys) = body else { continue };
        for (first, key) in case_variants(keys) {
            out.push(Problem {
                path: format!("{path}.Condition.{op}.{key}"),
                message: format!(
                    "repeats the condition key `{first}` in different case; condition keys are \
                     case-insensitive, so both name one key and the policy reads two ways: keep one"
                ),
            });
        }
    }
}

/// Each key of `map` that repeats an earlier key in different case, with that earlier key.
fn case_variants(map: &serde_json::Map<String, Value>) -> Vec<(&String, &String)> {
    let names: Vec<&String> = map.keys().collect();
    names
        .iter()
        .enumerate()
        .filter_map(|(j, k)| names[..j].iter().find(|e| e.eq_ignore_ascii_case(k)).map(|first| (*first, *k)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn case_variants_of_a_condition_key_are_refused() {
        let v = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1", "aws:sourcevpc": "vpc-2"}}}]});
        let e = check(&v).unwrap_err();
        assert_eq!(e.problems().len(), 1);
        let p = &e.problems()[0];
        assert!(p.path.starts_with("Statement[0].Condition.StringEquals.aws:"), "{}", p.path);
        assert!(p.message.starts_with("repeats the condition key `aws:"), "{}", p.message);
        // Different keys, or the same key under different operators, are fine.
        let ok = json!({"Statement": {"Condition": {"StringEquals": {"aws:SourceVpc": "a", "aws:SourceIp": "b"},
            "StringLike": {"aws:sourcevpc": "c"}}}});
        assert!(check(&ok).is_ok());
    }

    #[test]
    fn case_variants_of_a_condition_operator_are_refused() {
        let v = json!({"Statement": [{"Sid": "a"}, {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}, "stringequals": {"aws:SourceVpc": "vpc-2"}}}]});
        let e = check(&v).unwrap_err();
        assert_eq!(e.problems().len(), 1, "{e}");
        let p = &e.problems()[0];
        // serde_json's map is sorted, so which spelling comes second is the map's order.
        assert!(p.path == "Statement[1].Condition.stringequals" || p.path == "Statement[1].Condition.StringEquals");
        assert!(p.message.starts_with("repeats the condition operator `"), "{}", p.message);
        assert!(p.message.contains("in different case"), "{}", p.message);
        // Qualified and `IfExists` forms are different operators; a single statement object too.
        let ok = json!({"Statement": {"Condition": {"StringEquals": {"aws:SourceVpc": "a"},
            "StringEqualsIfExists": {"aws:SourceVpc": "a"}, "ForAnyValue:StringEquals": {"aws:TagKeys": "k"}}}});
        assert!(check(&ok).is_ok());
        let v = json!({"Statement": {"Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": "a"},
            "foranyvalue:stringlike": {"aws:TagKeys": "b"}, "Bool": {"aws:SecureTransport": "true"}}}});
        assert_eq!(check(&v).unwrap_err().problems().len(), 1);
    }

    #[test]
    fn operators_in_another_case_are_read_by_meaning() {
        // Not refused alone: one operator in unusual case is read as the operator it names, so a
        // negated one stays negated (never silently restrictive).
        let op = crate::conditions::Operator::parse("stringnotequalsifexists");
        assert!(op.is_negated() && op.if_exists);
        let v = json!({"Statement": {"Condition": {"stringnotequals": {"aws:SourceVpc": "a"}}}});
        assert!(check(&v).is_ok());
    }
}
