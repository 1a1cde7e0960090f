//! `explain`: a rule's documentation, or what an action pattern expands to by access level.

use crate::actions::{expand_into, suggest, ActionSet, Unmatched};
use crate::rules::{self, RuleMeta};
use iam_catalog::{AccessLevel, ACTIONS, SERVICES};
use serde::Serialize;
use std::collections::BTreeMap;

/// A rule as documented (the same text feeds docs, SARIF help, the API and the playground).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RuleDoc {
    pub code: &'static str,
    pub name: &'static str,
    pub category: &'static str,
    pub severity: &'static str,
    pub max_score: u8,
    pub applies_to: Vec<&'static str>,
    pub summary: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub safer: &'static str,
    pub scoring: &'static str,
}

impl From<&'static RuleMeta> for RuleDoc {
    fn from(m: &'static RuleMeta) -> Self {
        RuleDoc {
            code: m.code,
            name: m.name,
            category: m.category.as_str(),
            severity: m.severity().as_str(),
            max_score: m.max_score,
            applies_to: m.applies_to.iter().map(|t| t.as_str()).collect(),
            summary: m.summary,
            what: m.what,
            why: m.why,
            example: m.example,
            safer: m.safer,
            scoring: m.scoring,
        }
    }
}

/// Every rule's documentation, in registry order.
pub fn rule_docs() -> Vec<RuleDoc> {
    rules::REGISTRY.iter().map(|r| RuleDoc::from(r.meta())).collect()
}

/// One expanded action.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ActionDoc {
    pub action: String,
    pub access_level: &'static str,
    /// Resource types with their ARN templates; empty when only `*` is supported.
    pub resource_types: Vec<String>,
}

/// What an action pattern expands to.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PatternDoc {
    pub pattern: String,
    pub total: usize,
    /// service → access level → actions.
    pub services: BTreeMap<String, BTreeMap<&'static str, Vec<ActionDoc>>>,
}

/// The answer of `explain`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Explanation {
    Rule(RuleDoc),
    Pattern(PatternDoc),
}

/// Explain a rule code/name or an action pattern. Errors say why nothing matched.
pub fn explain(query: &str) -> Result<Explanation, String> {
    let q = query.trim();
    if q.is_empty() {
        return Err(
            "nothing to explain: give a rule code (`PE002`), a rule name or an action pattern (`s3:Get*`)".into()
        );
    }
    if let Some(r) = rules::find(q) {
        return Ok(Explanation::Rule(RuleDoc::from(r.meta())));
    }
    let mut set = ActionSet::empty();
    match expand_into(q, &mut set) {
        Ok(()) => Ok(Explanation::Pattern(pattern_doc(q, &set))),
        Err(Unmatched::Malformed) => {
            Err(format!("`{q}` is neither a rule code, a rule name nor an action pattern of the form `service:action`"))
        }
        Err(Unmatched::UnknownService) => Err(format!("`{q}` names a service that is not in the AWS catalog")),
        Err(Unmatched::UnknownAction) => Err(match suggest(q) {
            Some(s) => format!("`{q}` matches no action in the AWS catalog; did you mean `{s}`?"),
            None => format!("`{q}` matches no action in the AWS catalog"),
        }),
    }
}

fn pattern_doc(pattern: &str, set: &ActionSet) -> PatternDoc {
    let mut services: BTreeMap<String, BTreeMap<&'static str, Vec<ActionDoc>>> = BTreeMap::new();
    for i in set.iter() {
        let a = &ACTIONS[i];
        let svc = &SERVICES[a.service as usize];
        let doc = ActionDoc {
            action: a.full_name(),
            access_level: a.access.as_str(),
            resource_types: a
                .resources()
                .iter()
                .map(|r| {
                    let rt = a.resource_type(r);
                    format!("{}{} {}", rt.name(), if r.required { "*" } else { "" }, rt.arn())
                })
                .collect(),
        };
        services.entry(svc.prefix.to_string()).or_default().entry(a.access.as_str()).or_default().push(doc);
    }
    let _ = AccessLevel::ALL;
    PatternDoc { pattern: pattern.to_string(), total: set.len(), services }
}
