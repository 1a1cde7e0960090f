//! Policy authoring: write a least-privilege policy from a template, and score what was written.
//!
//! [`write_policy`] reads a [`Template`] (policy_sentry's CRUD or actions template, or the same
//! keys in JSON) and produces a policy: for every ARN listed under an access level, the actions
//! of that level that act on the ARN's resource type (matched by the catalog's ARN templates,
//! see [`arn`]), one statement per (access level, service, resource type); wildcard-only
//! actions in one statement on `*`; every result scored with the engine. No I/O; the same
//! template gives the same bytes on every surface. The scheme is documented in
//! `docs/authoring.md`. [`narrow()`] rewrites an existing broad policy to the ARNs, access
//! levels or used actions of a task, never widening it, and asks about what it cannot narrow.

pub mod arn;
pub mod narrow;
pub mod template;

pub use arn::{match_arn, ArnMatch};
pub use narrow::{narrow, parse_access_level, NarrowInput, Narrowed, NarrowingQuestion};
pub use template::{Effect, Mode, Template};

use crate::{glob, score_value, Report, ScoreOptions};
use iam_catalog::{AccessLevel, Action, ACTIONS, SERVICES};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Why a template could not be written; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthoringError {
    message: String,
}

impl AuthoringError {
    pub(crate) fn new(message: String) -> Self {
        AuthoringError { message }
    }

    /// The message (lowercase, user input in backticks).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A written policy and the engine's report of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    /// The policy document (`Version`, `Statement`).
    pub policy: Value,
    /// The v1 report of [`Written::policy`], scored with default options.
    pub report: Report,
    /// Things the writer noticed but that are not errors (an ARN no action of the level acts
    /// on, placeholders in `mode: actions` resources), in the order they arose.
    pub warnings: Vec<String>,
}

/// The order access levels are written in: policy_sentry's template order.
pub const LEVEL_ORDER: [AccessLevel; 5] = [
    AccessLevel::Read,
    AccessLevel::Write,
    AccessLevel::List,
    AccessLevel::Tagging,
    AccessLevel::PermissionsManagement,
];

/// Statement sections, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    /// CRUD: ARNs per (level, service, resource type).
    Scoped,
    /// `mode: actions`: an action's resource-type ARN formats.
    ActionsMode,
    /// Wildcard-only actions on `*` (`MultMultNone`).
    WildcardOnly,
    /// `skip-resource-constraints` on `*`.
    Skip,
    /// `sts:` AssumeRole* on role ARNs.
    Sts,
}

#[derive(Debug, Default)]
struct Group {
    sid: String,
    resources: BTreeSet<String>,
    /// Catalog indices: catalog order is service, then lowercase action name.
    actions: BTreeSet<usize>,
}

/// Group key: section, level rank, service index, resource type name.
type Key = (Section, usize, usize, &'static str);

/// Write the policy a template asks for and score it.
pub fn write_policy(t: &Template) -> Result<Written, AuthoringError> {
    if t.is_empty() {
        return Err(AuthoringError::new(
            "the template asks for nothing: list resource ARNs under `read`, `write`, `list`, `tagging` or `permissions-management`, actions under `actions`, or services under `wildcard-only`".to_string(),
        ));
    }
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    let mut warnings = Vec::new();

    // CRUD: each ARN's most specific resource types, and the level's actions on them.
    for (rank, &level) in LEVEL_ORDER.iter().enumerate() {
        for raw in t.arns(level) {
            let m = match_arn(raw)?;
            let svc = m.service();
            for &rt_i in &m.resource_types {
                let rt = &svc.resource_types[usize::from(rt_i)];
                let acts: Vec<usize> = svc_actions(m.service)
                    .filter(|(_, a)| a.access == level && a.resources().iter().any(|r| r.resource_type == rt_i))
                    .map(|(i, _)| i)
                    .collect();
                if acts.is_empty() {
                    warnings.push(format!(
                        "`{raw}` ({} `{}`): no {} action of `{}` acts on it, so `{}` grants nothing for it",
                        svc.prefix,
                        rt.name(),
                        level,
                        svc.prefix,
                        template::level_key(level)
                    ));
                    continue;
                }
                let g = groups
                    .entry((Section::Scoped, rank, m.service, rt.name()))
                    .or_insert_with(|| Group { sid: sid(svc.prefix, level.as_str(), rt.name()), ..Group::default() });
                g.resources.insert(raw.clone());
                g.actions.extend(acts);
            }
        }
    }

    // `mode: actions`: each action on its resource types' ARN formats, like policy_sentry.
    let mut placeholders = false;
    for name in &t.actions {
        let i = action_by_name(name, "actions")?;
        let a = &ACTIONS[i];
        if a.resources().is_empty() {
            wildcard_group(&mut groups).actions.insert(i);
            continue;
        }
        let rank = LEVEL_ORDER.iter().position(|&l| l == a.access).unwrap_or(0);
        for r in a.resources() {
            let rt = a.resource_type(r);
            let g =
                groups.entry((Section::ActionsMode, rank, usize::from(a.service), rt.name())).or_insert_with(|| {
                    Group { sid: sid(a.service().prefix, a.access.as_str(), rt.name()), ..Group::default() }
                });
            g.resources.insert(rt.arn().to_string());
            g.actions.insert(i);
            placeholders = true;
        }
    }
    if placeholders {
        warnings.push(
            "`actions`: resources are the actions' ARN formats with `${…}` placeholders (as policy_sentry writes them); replace the placeholders with your resources before use".to_string(),
        );
    }

    // Wildcard-only: single actions, and every wildcard-only action of a service and level.
    for name in &t.single_actions {
        let i = action_by_name(name, "wildcard-only.single-actions")?;
        let a = &ACTIONS[i];
        if !a.resources().is_empty() {
            let types: Vec<&str> = a.resources().iter().map(|r| a.resource_type(r).name()).collect();
            return Err(AuthoringError::new(format!(
                "`wildcard-only.single-actions`: `{}` is not wildcard-only: it can be scoped to {}; list the resource ARNs under `{}`, or the action under `skip-resource-constraints` to grant it on `*`",
                a.full_name(),
                types.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                template::level_key(a.access)
            )));
        }
        wildcard_group(&mut groups).actions.insert(i);
    }
    for level in LEVEL_ORDER {
        for prefix in t.service_wide(level) {
            let s = iam_catalog::service_index(prefix).ok_or_else(|| {
                AuthoringError::new(format!(
                    "`wildcard-only.service-{}`: unknown service prefix `{prefix}`",
                    template::level_key(level)
                ))
            })?;
            let acts: Vec<usize> =
                svc_actions(s).filter(|(_, a)| a.access == level && a.resources().is_empty()).map(|(i, _)| i).collect();
            if acts.is_empty() {
                warnings.push(format!(
                    "`wildcard-only.service-{}`: `{}` has no wildcard-only {level} action",
                    template::level_key(level),
                    SERVICES[s].prefix
                ));
            }
            wildcard_group(&mut groups).actions.extend(acts);
        }
    }

    // Skip resource constraints: on `*`, and so nowhere else.
    let mut skipped = BTreeSet::new();
    for name in &t.skip_resource_constraints {
        skipped.insert(action_by_name(name, "skip-resource-constraints")?);
    }
    if !skipped.is_empty() {
        for g in groups.values_mut() {
            g.actions.retain(|i| !skipped.contains(i));
        }
        let g = groups
            .entry((Section::Skip, 0, 0, ""))
            .or_insert_with(|| Group { sid: "SkipResourceConstraints".to_string(), ..Group::default() });
        g.resources.insert("*".to_string());
        g.actions.extend(skipped);
    }

    // STS: AssumeRole* on role ARNs.
    let sts = [
        ("assume-role", "AssumeRole", &t.assume_role),
        ("assume-role-with-saml", "AssumeRoleWithSAML", &t.assume_role_with_saml),
        ("assume-role-with-web-identity", "AssumeRoleWithWebIdentity", &t.assume_role_with_web_identity),
    ];
    for (rank, (key, action, arns)) in sts.into_iter().enumerate() {
        if arns.is_empty() {
            continue;
        }
        let i = iam_catalog::action_index(&format!("sts:{action}"))
            .ok_or_else(|| AuthoringError::new(format!("`sts.{key}`: the catalog has no `sts:{action}`")))?;
        let a = &ACTIONS[i];
        for raw in arns {
            let parts = arn::ArnParts::parse(raw)
                .ok_or_else(|| AuthoringError::new(format!("`sts.{key}`: `{raw}` is not an ARN; give role ARNs such as `arn:aws:iam::123456789012:role/deploy`")))?;
            let ok = a.resources().iter().any(|r| arn::template_matches(a.resource_type(r).arn(), &parts).is_some());
            if !ok {
                let formats: Vec<String> = a
                    .resources()
                    .iter()
                    .map(|r| format!("`{}` (`{}`)", a.resource_type(r).name(), a.resource_type(r).arn()))
                    .collect();
                return Err(AuthoringError::new(format!(
                    "`sts.{key}`: `{raw}` is not a resource `sts:{action}` acts on; it takes {}",
                    formats.join(", ")
                )));
            }
            let g = groups
                .entry((Section::Sts, rank, 0, ""))
                .or_insert_with(|| Group { sid: action.to_string(), ..Group::default() });
            g.resources.insert(raw.clone());
            g.actions.insert(i);
        }
    }

    // Exclusions last, over everything (policy_sentry applies them when rendering).
    let mut excluded: Vec<String> = Vec::new();
    for p in &t.exclude_actions {
        let lower = p.to_ascii_lowercase();
        if !lower.contains(':') && lower != "*" {
            return Err(AuthoringError::new(format!(
                "`exclude-actions`: `{p}` is not an action pattern; write `service:Action`, wildcards allowed (`kms:Delete*`)"
            )));
        }
        excluded.push(lower);
    }
    if !excluded.is_empty() {
        for g in groups.values_mut() {
            g.actions.retain(|&i| {
                let full = ACTIONS[i].full_name();
                !excluded.iter().any(|p| glob::matches_ignore_text_case(p, &full))
            });
        }
    }
    groups.retain(|_, g| !g.actions.is_empty());
    if groups.is_empty() {
        return Err(AuthoringError::new(
            "the template grants no action: every requested action was excluded by `exclude-actions` or none applies to the listed resources".to_string(),
        ));
    }

    let policy = render(groups, t.effect);
    let report = score_value(&policy, &ScoreOptions::default())
        .map_err(|e| AuthoringError::new(format!("the written policy could not be scored: {e}")))?;
    Ok(Written { policy, report, warnings })
}

/// A policy document as pretty JSON with the keys in the order people write them (`Version`,
/// `Statement`; `Sid`, `Effect`, `Principal`, `Action`, `Resource`, `Condition`), other keys
/// after them in byte order. `serde_json::Value` sorts keys, which puts `Sid` last.
pub fn policy_to_string_pretty(policy: &Value) -> String {
    serde_json::to_string_pretty(&Ordered(policy)).unwrap_or_default()
}

/// Serialises a policy document with [`policy_to_string_pretty`]'s key order (for embedding it
/// in a larger JSON answer).
pub struct Ordered<'a>(pub &'a Value);

const KEY_ORDER: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_by_key(|k| (KEY_ORDER.iter().position(|o| o == k).unwrap_or(KEY_ORDER.len()), k.as_str()));
                let mut map = ser.serialize_map(Some(keys.len()))?;
                for k in keys {
                    map.serialize_entry(k, &Ordered(&m[k]))?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&Ordered(v))?;
                }
                seq.end()
            }
            other => other.serialize(ser),
        }
    }
}

/// The policy document, statements in key order, Sids made unique with a number if needed.
fn render(groups: BTreeMap<Key, Group>, effect: Effect) -> Value {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let statements: Vec<Value> = groups
        .into_values()
        .map(|g| {
            let mut sid = g.sid.clone();
            let mut n = 2;
            while !seen.insert(sid.clone()) {
                sid = format!("{}{n}", g.sid);
                n += 1;
            }
            let actions: Vec<String> = g.actions.iter().map(|&i| ACTIONS[i].full_name()).collect();
            json!({
                "Sid": sid,
                "Effect": effect.as_str(),
                "Action": actions,
                "Resource": g.resources.into_iter().collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

fn wildcard_group(groups: &mut BTreeMap<Key, Group>) -> &mut Group {
    let g = groups
        .entry((Section::WildcardOnly, 0, 0, ""))
        .or_insert_with(|| Group { sid: "MultMultNone".to_string(), ..Group::default() });
    g.resources.insert("*".to_string());
    g
}

/// A service's actions with their catalog indices.
fn svc_actions(service: usize) -> impl Iterator<Item = (usize, &'static Action)> {
    let svc = &SERVICES[service];
    (svc.actions.start as usize..svc.actions.end as usize).map(|i| (i, &ACTIONS[i]))
}

/// An action by its full name, case-insensitively.
fn action_by_name(name: &str, key: &str) -> Result<usize, AuthoringError> {
    if name.contains(['*', '?']) {
        return Err(AuthoringError::new(format!(
            "`{key}`: `{name}` is a pattern; list actions by name here (patterns are accepted in `exclude-actions`)"
        )));
    }
    iam_catalog::action_index(name).ok_or_else(|| {
        let hint = match name.split_once(':') {
            Some((svc, _)) if iam_catalog::service_index(svc).is_none() => format!("unknown service prefix `{svc}`"),
            Some(_) => "no such action in the catalog (`iam-risk-score explain SERVICE:*` lists a service's actions)"
                .to_string(),
            None => "an action is written `service:Action`, e.g. `s3:GetObject`".to_string(),
        };
        AuthoringError::new(format!("`{key}`: unknown action `{name}`: {hint}"))
    })
}

/// policy_sentry's Sid scheme: `{Service}{Level}{Resourcetype}`, each part stripped to ASCII
/// letters and digits, its first letter upper case and the rest lower case (`S3ReadObject`,
/// `KmsPermissionsmanagementKey`, `LogsWriteLoggroup`).
pub fn sid(service: &str, level: &str, resource_type: &str) -> String {
    [service, level, resource_type].iter().map(|p| capitalise(p)).collect()
}

fn capitalise(s: &str) -> String {
    let clean: String = s.chars().filter(char::is_ascii_alphanumeric).collect();
    let mut out = String::with_capacity(clean.len());
    for (i, c) in clean.chars().enumerate() {
        out.push(if i == 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Value) -> Template {
        Template::from_value(&v).unwrap()
    }

    fn sids(w: &Written) -> Vec<String> {
        w.policy["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn sids_follow_policy_sentry() {
        assert_eq!(sid("s3", "Read", "object"), "S3ReadObject");
        assert_eq!(sid("kms", "Permissions management", "key"), "KmsPermissionsmanagementKey");
        assert_eq!(sid("logs", "Write", "log-group"), "LogsWriteLoggroup");
        assert_eq!(sid("s3", "Read", "accessPointObject"), "S3ReadAccesspointobject");
    }

    #[test]
    fn crud_groups_by_level_service_and_type() {
        let w = write_policy(&t(json!({
            "read": ["arn:aws:s3:::b/*", "arn:aws:s3:::a/*", "arn:aws:s3:::b"],
            "write": ["arn:aws:s3:::b/*"],
            "wildcard-only": {"single-actions": ["s3:ListAllMyBuckets"]}
        })))
        .unwrap();
        assert_eq!(sids(&w), ["S3ReadBucket", "S3ReadObject", "S3WriteObject", "MultMultNone"]);
        let st = &w.policy["Statement"][1];
        assert_eq!(st["Resource"], json!(["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]));
        assert!(st["Action"].as_array().unwrap().contains(&json!("s3:GetObject")));
        assert_eq!(w.policy["Statement"][3]["Resource"], json!(["*"]));
        assert!(w.report.score >= 1);
    }

    #[test]
    fn exclude_and_skip() {
        let w = write_policy(&t(json!({
            "write": ["arn:aws:kms:us-east-1:123456789012:key/k"],
            "exclude-actions": ["kms:Delete*", "KMS:Schedule*"],
            "skip-resource-constraints": ["kms:Encrypt"]
        })))
        .unwrap();
        let all: Vec<&str> = w.policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()))
            .collect();
        assert!(!all.iter().any(|a| a.starts_with("kms:Delete") || a.starts_with("kms:Schedule")));
        assert_eq!(all.iter().filter(|a| **a == "kms:Encrypt").count(), 1);
        assert_eq!(sids(&w), ["KmsWriteKey", "SkipResourceConstraints"]);
    }

    #[test]
    fn errors_say_what_to_fix() {
        let e = |v: Value| write_policy(&t(v)).unwrap_err().to_string();
        assert!(e(json!({})).contains("asks for nothing"));
        assert!(e(json!({"wildcard-only": {"single-actions": ["s3:GetObject"]}})).contains("is not wildcard-only"));
        assert!(e(json!({"actions": ["s3:Get*"]})).contains("is a pattern"));
        assert!(e(json!({"actions": ["s3:Nope"]})).contains("unknown action `s3:Nope`"));
        assert!(e(json!({"wildcard-only": {"service-read": ["nope"]}})).contains("unknown service prefix `nope`"));
        assert!(e(json!({"sts": {"assume-role": ["arn:aws:s3:::b"]}})).contains("is not a resource `sts:AssumeRole`"));
        assert!(e(json!({"read": ["arn:aws:s3:::b"], "exclude-actions": ["s3:*"]})).contains("grants no action"));
    }

    #[test]
    fn sts_and_actions_mode() {
        let w = write_policy(&t(json!({"sts": {"assume-role": ["arn:aws:iam::123456789012:role/deploy"]}}))).unwrap();
        assert_eq!(sids(&w), ["AssumeRole"]);
        let w = write_policy(&t(json!({"mode": "actions", "actions": ["kms:CreateGrant", "s3:ListAllMyBuckets"]})))
            .unwrap();
        assert_eq!(sids(&w), ["KmsPermissionsmanagementKey", "MultMultNone"]);
        assert_eq!(
            w.policy["Statement"][0]["Resource"],
            json!(["arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}"])
        );
        assert_eq!(w.warnings.len(), 1);
    }

    #[test]
    fn pretty_keeps_the_usual_key_order() {
        let p = json!({"Statement": [{"Resource": "*", "Action": "s3:GetObject", "Effect": "Allow", "Sid": "A"}], "Version": "2012-10-17"});
        let text = policy_to_string_pretty(&p);
        let pos = |k: &str| text.find(k).unwrap();
        assert!(pos("Version") < pos("Statement") && pos("Sid") < pos("Effect") && pos("Effect") < pos("Action"));
        assert!(pos("Action") < pos("Resource"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), p);
    }

    #[test]
    fn deterministic() {
        let a = t(json!({"read": ["arn:aws:s3:::b", "arn:aws:sqs:us-east-1:1:q"], "list": ["arn:aws:s3:::b"]}));
        let mut b = a.clone();
        b.read.reverse();
        assert_eq!(write_policy(&a).unwrap().policy, write_policy(&b).unwrap().policy);
    }
}
