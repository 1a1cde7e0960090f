//! `risk-core`: a deterministic AWS IAM policy risk engine. It works out what a policy really
//! grants (wildcards, `NotAction`, `Deny`, resource patterns, the complete AWS action catalog)
//! and scores it 1–10 with findings. No I/O, no async: every surface calls [`score_json`] or
//! [`score_value`] and returns the same [`output::v1::Report`].

pub mod actions;
pub mod ambiguous;
pub mod analysis;
pub mod answers;
pub mod authoring;
pub mod cloudtrail;
pub mod conditions;
pub mod diff;
pub mod docs;
pub mod error;
pub mod explain;
pub mod fingerprint;
pub mod glob;
pub mod json;
pub mod must_deny;
pub mod options;
pub mod output;
pub mod partition;
pub mod policy;
pub mod resources;
pub mod rules;
pub mod score;

pub use error::{PolicyError, Problem};
pub use options::{AccessType, OptionsInput, ScoreOptions};
pub use output::v1::Report;
pub use policy::PolicyType;

use analysis::Analysis;
use output::v1;
use policy::Policy;
use rules::{Context, Finding};
use serde_json::Value;
use std::collections::BTreeMap;

/// Version of the rule set: the highest `changed_in` of any rule, so adding or changing a
/// rule bumps it from the rule's own file.
pub use rules::RULES_VERSION;
/// Version of this engine.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest policy document, in UTF-8 bytes, that every surface accepts (the CLI, scan, the
/// Python package, the WebAssembly module): AWS's own limits are far smaller (6 KiB for a
/// managed policy, 20 KiB for a resource policy); the largest AWS managed policy is 153 KiB.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// Parse JSON text and score it.
pub fn score_json(text: &str, options: &ScoreOptions) -> Result<Report, PolicyError> {
    let value = parse_json(text)?;
    score_value(&value, options)
}

/// Parse JSON text into a value, with a clear error for malformed input. Duplicate keys are
/// errors (see [`json`]): the last one would silently win.
pub fn parse_json(text: &str) -> Result<Value, PolicyError> {
    json::from_str(text).map_err(|e| e.to_policy_error())
}

/// Score an already-parsed policy document.
pub fn score_value(value: &Value, options: &ScoreOptions) -> Result<Report, PolicyError> {
    let policy = Policy::parse(value)?;
    ambiguous::check(value)?;
    let ptype = policy.policy_type(options.policy_type)?;
    let analysis = Analysis::new(&policy, ptype);
    let findings = run_rules(&analysis, options);
    let summary = access_summary(&analysis);
    Ok(report(value, findings, options, ptype, summary))
}

/// Run every applicable rule, returning findings in their defined order:
/// score descending, then rule code, then first statement.
pub fn findings(policy: &Policy<'_>, options: &ScoreOptions) -> Result<Vec<Finding>, PolicyError> {
    let ptype = policy.policy_type(options.policy_type)?;
    let analysis = Analysis::new(policy, ptype);
    Ok(run_rules(&analysis, options))
}

fn run_rules(analysis: &Analysis<'_>, options: &ScoreOptions) -> Vec<Finding> {
    let cx = Context {
        analysis,
        options,
        full_admin: analysis.policy_type == PolicyType::Identity && rules::is_full_admin(analysis),
    };
    let mut out = Vec::new();
    for rule in rules::REGISTRY {
        if rule.meta().applies_to.contains(&analysis.policy_type) {
            rule.check(&cx, &mut out);
        }
    }
    out.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.rule.code.cmp(b.rule.code))
            .then(a.statements.first().cmp(&b.statements.first()))
            .then(a.message.cmp(&b.message))
    });
    out
}

fn access_summary(a: &Analysis<'_>) -> v1::AccessSummary {
    // Count per service into fixed arrays first; build the (allocating) maps once per service.
    let mut by_service: BTreeMap<String, v1::ServiceAccess> = BTreeMap::new();
    let mut current: Option<(u16, [usize; 5], usize)> = None;
    let flush = |cur: Option<(u16, [usize; 5], usize)>, map: &mut BTreeMap<String, v1::ServiceAccess>| {
        if let Some((s, levels, on_all)) = cur {
            let svc = &iam_catalog::SERVICES[s as usize];
            let access_levels = iam_catalog::AccessLevel::ALL
                .iter()
                .zip(levels)
                .filter(|(_, n)| *n > 0)
                .map(|(l, n)| (l.as_str().to_string(), n))
                .collect();
            map.insert(
                svc.prefix.to_string(),
                v1::ServiceAccess {
                    access_levels,
                    catalog_actions: svc.actions.len(),
                    actions_on_all_resources: on_all,
                },
            );
        }
    };
    let mut visit = |i: usize| {
        let act = &iam_catalog::ACTIONS[i];
        if current.as_ref().map(|c| c.0) != Some(act.service) {
            flush(current.take(), &mut by_service);
            current = Some((act.service, [0; 5], 0));
        }
        if let Some((_, levels, on_all)) = current.as_mut() {
            levels[act.access as usize] += 1;
            if a.all.contains(i) {
                *on_all += 1;
            }
        }
    };
    match &a.effective_list {
        Some(list) => list.iter().for_each(|&i| visit(i as usize)),
        None => a.effective.iter().for_each(visit),
    }
    flush(current.take(), &mut by_service);
    v1::AccessSummary {
        services: by_service.len(),
        actions: a.effective.len(),
        actions_on_all_resources: a.all.len(),
        by_service,
    }
}

fn report(
    value: &Value,
    findings: Vec<Finding>,
    options: &ScoreOptions,
    ptype: PolicyType,
    access_summary: v1::AccessSummary,
) -> Report {
    let scored = score::score(&findings, options);
    let mut categories: BTreeMap<String, v1::CategorySummary> = BTreeMap::new();
    for f in &findings {
        let e = categories
            .entry(f.rule.category.as_str().to_string())
            .or_insert(v1::CategorySummary { max_score: 0, findings: 0 });
        e.max_score = e.max_score.max(f.score);
        e.findings += 1;
    }
    Report {
        score: scored.score,
        tier: score::tier(scored.score).to_string(),
        would_auto_approve_at_threshold_5: scored.score < 5,
        factors: scored.factors,
        suggestions: scored.suggestions,
        llm_narrative: None,
        analyzer: "deterministic".to_string(),
        policy_fingerprint: fingerprint::fingerprint(value),
        api_version: v1::API_VERSION.to_string(),
        policy_type: ptype.as_str().to_string(),
        findings: findings.into_iter().map(finding_v1).collect(),
        categories,
        access_summary,
        context: v1::Context {
            access_type: options.access_type.map(|a| a.as_str().to_string()),
            duration_hours: options.duration_hours,
        },
        versions: versions(),
    }
}

/// Engine, rule-set and catalog versions, as stamped into every result.
pub fn versions() -> v1::Versions {
    v1::Versions {
        engine: ENGINE_VERSION.to_string(),
        rules: RULES_VERSION.to_string(),
        catalog: iam_catalog::VERSION.to_string(),
        catalog_source: iam_catalog::SOURCE.to_string(),
    }
}

fn finding_v1(f: Finding) -> v1::Finding {
    v1::Finding {
        rule: f.rule.code.to_string(),
        name: f.rule.name.to_string(),
        category: f.rule.category.as_str().to_string(),
        severity: rules::Severity::from_score(f.score).as_str().to_string(),
        score: f.score,
        statement: f.statements.first().copied(),
        statements: f.statements,
        sid: f.sid,
        actions: f.actions,
        resources: f.resources,
        conditions: f.conditions,
        message: f.message,
        suggestion: f.suggestion,
        paths: f.paths,
    }
}

/// Size and provenance of the bundled AWS action catalog.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CatalogInfo {
    pub services: usize,
    pub actions: usize,
    pub source: String,
    pub version: String,
    pub updated_at: String,
    pub license: String,
}

/// The catalog's size and provenance.
pub fn catalog_info() -> CatalogInfo {
    CatalogInfo {
        services: iam_catalog::SERVICES.len(),
        actions: iam_catalog::ACTIONS.len(),
        source: iam_catalog::SOURCE.to_string(),
        version: iam_catalog::VERSION.to_string(),
        updated_at: iam_catalog::UPDATED_AT.to_string(),
        license: iam_catalog::LICENSE.to_string(),
    }
}
