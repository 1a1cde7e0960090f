//! Policies that read two ways: condition keys repeated in different case.
//!
//! Exact duplicate keys are refused while reading JSON ([`crate::json`]). Condition keys are
//! case-insensitive in IAM, so `{"StringEquals": {"aws:SourceVpc": "a", "aws:sourcevpc": "b"}}`
//! is two JSON keys but one IAM key: which value applies is not what a reviewer can tell. IAM
//! Access Analyzer reports this as an error (`DUPLICATE_KEYS_WITH_DIFFERENT_CASE`); so do we.
//! Checked on the parsed value, so dicts from Python and objects in API bodies are covered too.

use crate::error::{PolicyError, Problem};
use serde_json::Value;

/// Every condition key that repeats another of the same operator block in different case.
pub fn check(doc: &Value) -> Result<(), PolicyError> {
    let mut problems = Vec::new();
    match doc.get("Statement") {
        Some(Value::Object(_)) => statement(&doc["Statement"], "Statement", &mut problems),
        Some(Value::Array(items)) => {
            for (i, s) in items.iter().enumerate() {
                statement(s, &format!("Statement[{i}]"), &mut problems);
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

fn statement(s: &Value, path: &str, out: &mut Vec<Problem>) {
    let Some(Value::Object(ops)) = s.get("Condition") else { return };
    for (op, body) in ops {
        let Value::Object(keys) = body else { continue };
        let names: Vec<&String> = keys.keys().collect();
        for (j, key) in names.iter().enumerate() {
            if let Some(first) = names[..j].iter().find(|k| k.eq_ignore_ascii_case(key)) {
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
}
