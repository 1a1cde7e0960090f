//! Narrow a broad policy to what a task touches: wildcards to the actions used, `*` to ARNs per resource type.
//!
//! [`narrow`] rewrites each Allow statement of a policy with what the caller knows about the
//! task — the resource ARNs it touches, the access levels it needs, the actions it actually used
//! — and never grants anything the statement did not: actions are intersected with what the
//! statement granted, and `"Resource": "*"` is replaced, action by action, by the given ARNs
//! whose resource type (matched by [`super::match_arn`]'s rules) the action acts on. Deny
//! statements, `Condition` blocks, `Principal`s and Sids are kept. Where the input does not say
//! enough, the broad grant stays and a [`NarrowingQuestion`] says what to find out. The result
//! carries both reports and the engine's [`PolicyDiff`]; a diff that adds an action is refused as
//! an error, so a narrowed policy never widens. The rules are documented in `docs/authoring.md`.

use super::arn::{best_matches, ArnParts};
use super::{match_arn, template::level_key, AuthoringError};
use crate::actions::{expand_into, ActionSet};
use crate::diff::{diff_values, PolicyDiff};
use crate::policy::{Effect, Policy, Statement};
use crate::{score_value, Report, ScoreOptions};
use iam_catalog::{AccessLevel, Action, ACTIONS, SERVICES};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the task touches. Empty fields mean "not known".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NarrowInput {
    /// Resource ARNs the task touches; each must name a resource type of its service.
    pub resources: Vec<String>,
    /// Access levels the task needs; empty = not restricted by level.
    pub access_levels: Vec<AccessLevel>,
    /// Actions the task actually used (names, patterns allowed), e.g. from CloudTrail;
    /// `None` = not known. `Some(empty)` means the task used nothing.
    pub used_actions: Option<Vec<String>>,
}

/// The narrowed policy, its reports before and after, and what is left to ask.
#[derive(Debug, Clone, Serialize)]
pub struct Narrowed {
    /// The narrowed policy document (the input itself when nothing could be narrowed).
    pub policy: Value,
    /// The v1 report of the input policy (default options).
    pub before: Report,
    /// The v1 report of [`Narrowed::policy`].
    pub after: Report,
    /// The engine's diff from the input to the narrowed policy (`added_actions_total` is 0).
    pub diff: PolicyDiff,
    /// Broad grants the input did not say enough about, in statement order.
    pub questions: Vec<NarrowingQuestion>,
    /// What was done, one line (or more) per statement, in statement order.
    pub changes: Vec<String>,
}

/// One broad grant the input did not say enough about. Field names follow the predecessor's
/// `iam_jit.narrow.NarrowingQuestion` (`id`, `pattern`, `service`, `severity`, `question`,
/// `suggested_arn_format`, `triggering_actions`); `resource_type`, `why`, `statement` and
/// `sid` are added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct NarrowingQuestion {
    /// `stmt-{index}-{service}-{resource type}` or `stmt-{index}-action-wildcard`, as the
    /// predecessor's `stmt-<idx>-<service>-<rule>`.
    pub id: String,
    /// `wildcard-resource` (actions left on `"Resource": "*"`) or `wildcard-action` (a
    /// wildcard or `NotAction` left as written).
    pub pattern: String,
    /// The service prefix; `*` when the actions span several services.
    pub service: String,
    /// The resource type to give ARNs of (`wildcard-resource` only).
    pub resource_type: Option<String>,
    /// The type's ARN template from the catalog, with `${…}` placeholders to fill in.
    pub suggested_arn_format: Option<String>,
    /// The actions this question is about (as written, for `wildcard-action`).
    pub triggering_actions: Vec<String>,
    /// `high` (write or permissions-management actions), `medium` (read), `low` (list, tagging).
    pub severity: String,
    /// What to find out.
    pub question: String,
    /// Why it matters.
    pub why: String,
    /// The statement's index in the input policy.
    pub statement: usize,
    /// The statement's `Sid`, if any.
    pub sid: Option<String>,
}

/// More services than this in a wildcard restricted by access level alone is not listed out
/// (`*` at `read` is thousands of actions — not least privilege, and not what the task used).
pub const MAX_LEVEL_SERVICES: usize = 8;

/// An access level by its CLI/template key (`read`, `write`, `list`, `tagging`,
/// `permissions-management`), case-insensitively; AWS's spelling is accepted too.
pub fn parse_access_level(s: &str) -> Option<AccessLevel> {
    let k = s.trim().to_ascii_lowercase().replace([' ', '_'], "-");
    AccessLevel::ALL.into_iter().find(|&l| level_key(l) == k)
}

impl NarrowInput {
    /// The used actions from JSON: an array of action names, a policy document (the `Action`s
    /// of its Allow statements), or an object with a `policy` member holding one (what
    /// `iam-risk-score from-cloudtrail --format json` prints). Sorted, without duplicates.
    pub fn used_actions_from_value(v: &Value) -> Result<Vec<String>, AuthoringError> {
        let mut out = BTreeSet::new();
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let s = item.as_str().ok_or_else(|| {
                        AuthoringError::new(format!("used actions: item {i} is not a string; give action names such as `s3:GetObject`"))
                    })?;
                    out.insert(s.trim().to_string());
                }
            }
            Value::Object(m) if m.contains_key("policy") && !m.contains_key("Statement") => {
                return Self::used_actions_from_value(&m["policy"]);
            }
            Value::Object(m) if m.contains_key("Statement") => {
                let statements = match &m["Statement"] {
                    Value::Array(s) => s.iter().collect::<Vec<_>>(),
                    other => vec![other],
                };
                for (i, st) in statements.into_iter().enumerate() {
                    if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
                        continue;
                    }
                    if st.get("NotAction").is_some() {
                        return Err(AuthoringError::new(format!(
                            "used actions: `Statement[{i}]` has `NotAction`, which does not list the actions used"
                        )));
                    }
                    match st.get("Action") {
                        Some(Value::String(s)) => {
                            out.insert(s.trim().to_string());
                        }
                        Some(Value::Array(a)) => {
                            for s in a.iter().filter_map(Value::as_str) {
                                out.insert(s.trim().to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {
                return Err(AuthoringError::new(
                    "used actions: expected a JSON array of action names, a policy document, or `{\"policy\": …}` as `from-cloudtrail --format json` prints".to_string(),
                ))
            }
        }
        out.remove("");
        Ok(out.into_iter().collect())
    }
}

/// A given ARN, parsed once.
struct Given<'a> {
    raw: &'a str,
    parts: ArnParts<'a>,
}

/// The best-matching resource types of a given ARN among a service's types, memoised.
struct Matcher<'a> {
    given: Vec<Given<'a>>,
    cache: HashMap<(usize, usize), Vec<u16>>,
}

impl Matcher<'_> {
    fn types(&mut self, g: usize, service: usize) -> &[u16] {
        let parts = &self.given[g].parts;
        self.cache.entry((g, service)).or_insert_with(|| best_matches(parts, SERVICES[service].resource_types))
    }
}

/// Narrow `policy` to what `input` says the task touches, and score both versions.
pub fn narrow(policy: &Value, input: &NarrowInput) -> Result<Narrowed, AuthoringError> {
    let options = ScoreOptions::default();
    let before = score_value(policy, &options).map_err(|e| AuthoringError::new(format!("policy: {e}")))?;
    let parsed = Policy::parse(policy).map_err(|e| AuthoringError::new(format!("policy: {e}")))?;

    // The ARNs: each must name a resource type (the error lists the service's types).
    let mut raws: Vec<&str> = input.resources.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    raws.sort_unstable();
    raws.dedup();
    let mut given = Vec::with_capacity(raws.len());
    for raw in raws {
        match_arn(raw)?;
        let parts = ArnParts::parse(raw).ok_or_else(|| AuthoringError::new(format!("`{raw}` is not an ARN")))?;
        given.push(Given { raw, parts });
    }
    let mut matcher = Matcher { given, cache: HashMap::new() };

    let used = match &input.used_actions {
        None => None,
        Some(names) => {
            let mut set = ActionSet::empty();
            for n in names {
                expand_into(n, &mut set)
                    .map_err(|_| AuthoringError::new(format!("used actions: `{n}` names no action in the catalog")))?;
            }
            Some(set)
        }
    };
    let levels: BTreeSet<AccessLevel> = input.access_levels.iter().copied().collect();

    let raw_statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(s)) => s.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let mut sids: BTreeSet<String> = parsed.statements.iter().filter_map(|s| s.sid.map(str::to_string)).collect();
    let mut cx = Cx { out: Vec::new(), questions: Vec::new(), changes: Vec::new(), used_arns: BTreeSet::new() };
    let mut changed = false;
    for (st, raw) in parsed.statements.iter().zip(raw_statements) {
        changed |= narrow_statement(st, raw, used.as_ref(), &levels, &mut matcher, &mut sids, &mut cx);
    }
    for g in &matcher.given {
        if !cx.used_arns.contains(g.raw) {
            cx.changes.push(format!("`{}`: no statement was narrowed to it", g.raw));
        }
    }
    let allows = |v: &Vec<Value>| v.iter().any(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"));
    if !allows(&cx.out) && parsed.statements.iter().any(|s| s.effect == Effect::Allow) {
        return Err(AuthoringError::new(
            "narrowing leaves no Allow statement: the policy grants none of the used actions at the requested access levels"
                .to_string(),
        ));
    }

    let narrowed = if changed {
        let mut doc = policy.as_object().cloned().unwrap_or_default();
        doc.insert("Statement".to_string(), Value::Array(cx.out));
        Value::Object(doc)
    } else {
        policy.clone()
    };
    let after = score_value(&narrowed, &options)
        .map_err(|e| AuthoringError::new(format!("the narrowed policy could not be scored: {e}")))?;
    let diff = diff_values(policy, &narrowed, &options)
        .map_err(|e| AuthoringError::new(format!("the narrowed policy could not be compared: {e}")))?;
    if diff.added_actions_total > 0 {
        // NOTE: unreachable by construction; refusing beats returning a wider policy.
        return Err(AuthoringError::new(format!(
            "internal error: narrowing would add {} actions; please report this policy",
            diff.added_actions_total
        )));
    }
    Ok(Narrowed { policy: narrowed, before, after, diff, questions: cx.questions, changes: cx.changes })
}

struct Cx<'a> {
    out: Vec<Value>,
    questions: Vec<NarrowingQuestion>,
    changes: Vec<String>,
    used_arns: BTreeSet<&'a str>,
}

fn label(st: &Statement<'_>) -> String {
    match st.sid {
        Some(s) => format!("statement {} (`{s}`)", st.index),
        None => format!("statement {}", st.index),
    }
}

/// Narrow one statement into `cx.out`; `true` when the output differs from the input statement.
fn narrow_statement<'a>(
    st: &Statement<'_>,
    raw: &Value,
    used: Option<&ActionSet>,
    levels: &BTreeSet<AccessLevel>,
    matcher: &mut Matcher<'a>,
    sids: &mut BTreeSet<String>,
    cx: &mut Cx<'a>,
) -> bool {
    let here = label(st);
    if st.effect == Effect::Deny {
        cx.changes.push(format!("{here}: Deny kept as written"));
        cx.out.push(raw.clone());
        return false;
    }
    let mut granted = ActionSet::empty();
    for p in &st.action.patterns {
        // Patterns that match nothing grant nothing (the report's validation findings say so).
        let _ = expand_into(p, &mut granted);
    }
    if st.action.not {
        granted.complement();
    }
    let wildcard = st.action.not || st.action.patterns.iter().any(|p| p.contains(['*', '?']));
    let known = used.is_some() || !levels.is_empty();

    if wildcard && !known {
        cx.changes
            .push(format!("{here}: kept: its actions are wildcards and no used actions or access levels were given"));
        cx.questions.push(action_question(st, &granted, None));
        cx.out.push(raw.clone());
        return false;
    }
    let mut acts = granted.clone();
    if let Some(u) = used {
        acts.intersect_with(u);
    }
    if !levels.is_empty() {
        let keep: Vec<usize> = acts.iter().filter(|&i| levels.contains(&ACTIONS[i].access)).collect();
        acts = ActionSet::empty();
        for i in keep {
            acts.insert(i);
        }
    }
    if acts.is_empty() {
        let why = if used.is_some() {
            "none of its actions was used"
        } else {
            "none of its actions is at the requested access levels"
        };
        cx.changes.push(format!("{here}: removed: {why}"));
        return true;
    }
    if wildcard && used.is_none() {
        let services: BTreeSet<u16> = acts.iter().map(|i| ACTIONS[i].service).collect();
        if services.len() > MAX_LEVEL_SERVICES {
            cx.changes.push(format!(
                "{here}: kept: at the requested access levels its wildcards still cover {} actions in {} services; give the used actions",
                acts.len(),
                services.len()
            ));
            cx.questions.push(action_question(st, &granted, Some(services.len())));
            cx.out.push(raw.clone());
            return false;
        }
    }
    let actions_changed = wildcard || acts.len() != granted.len();
    let mut change = String::new();
    if actions_changed {
        change = format!("actions {} → {}", written_actions(st), count_list(&acts));
    }

    // Resources: only `*` on an identity statement is narrowed; a `Principal` statement's
    // resources are the resource it is attached to, and other patterns are already specific.
    let star =
        st.principal.is_none() && st.resource.as_ref().is_some_and(|r| !r.not && r.patterns.iter().any(|p| is_star(p)));
    if !star {
        return finish_unsplit(st, raw, &acts, actions_changed, change, &here, cx);
    }
    let others: Vec<String> = st
        .resource
        .as_ref()
        .map(|r| r.patterns.iter().filter(|p| !is_star(p)).map(|p| p.to_string()).collect())
        .unwrap_or_default();

    let mut scoped: BTreeMap<BTreeSet<String>, ActionSet> = BTreeMap::new();
    let mut unscoped = ActionSet::empty();
    let mut wildcard_only = ActionSet::empty();
    // (service, resource type) → actions left on `*` for want of an ARN of that type.
    let mut missing: BTreeMap<(usize, u16), Vec<usize>> = BTreeMap::new();
    for i in acts.iter() {
        let a = &ACTIONS[i];
        if a.resources().is_empty() {
            wildcard_only.insert(i);
            continue;
        }
        let svc = usize::from(a.service);
        let mut arns: BTreeSet<String> = BTreeSet::new();
        let mut covered: BTreeSet<u16> = BTreeSet::new();
        for g in 0..matcher.given.len() {
            let hit: Vec<u16> = matcher
                .types(g, svc)
                .iter()
                .copied()
                .filter(|t| a.resources().iter().any(|r| r.resource_type == *t))
                .collect();
            if !hit.is_empty() {
                arns.insert(matcher.given[g].raw.to_string());
                covered.extend(hit);
            }
        }
        // Every required type needs an ARN (ec2:RunInstances on an instance ARN alone would
        // fail); an action with optional types only needs one of them.
        let required: Vec<u16> = a.resources().iter().filter(|r| r.required).map(|r| r.resource_type).collect();
        // Optional types only (s3:GetObject on an `object` or an access point's
        // `accesspointobject`): one question, about the type its service's actions use most.
        let need: Vec<u16> = if required.is_empty() {
            a.resources()
                .iter()
                .map(|r| r.resource_type)
                .max_by_key(|&t| (type_use(svc, t), std::cmp::Reverse(t)))
                .into_iter()
                .collect()
        } else {
            required.clone()
        };
        let ok = if required.is_empty() { !covered.is_empty() } else { required.iter().all(|t| covered.contains(t)) };
        if ok {
            arns.extend(others.iter().cloned());
            scoped.entry(arns).or_insert_with(ActionSet::empty).insert(i);
        } else {
            unscoped.insert(i);
            for t in need.into_iter().filter(|t| !covered.contains(t)) {
                missing.entry((svc, t)).or_default().push(i);
            }
        }
    }
    for ((svc, t), actions) in &missing {
        cx.questions.push(resource_question(st, *svc, *t, actions));
    }
    if scoped.is_empty() {
        // No given ARN applies: the statement keeps its resources (no pointless split).
        if !missing.is_empty() {
            let n = unscoped.len();
            let tail = format!("{n} action{} left on `*` (questions below)", if n == 1 { "" } else { "s" });
            change = if change.is_empty() { tail } else { format!("{change}; {tail}") };
        }
        return finish_unsplit(st, raw, &acts, actions_changed, change, &here, cx);
    }

    let mut parts: Vec<(Vec<String>, ActionSet)> =
        scoped.into_iter().map(|(arns, set)| (arns.into_iter().collect(), set)).collect();
    let mut notes: Vec<String> =
        parts.iter().map(|(arns, set)| format!("{} on {}", count_list(set), ticks(arns))).collect();
    for arns in parts.iter().flat_map(|(a, _)| a.iter()) {
        if let Some(g) = matcher.given.iter().find(|g| g.raw == arns) {
            cx.used_arns.insert(g.raw);
        }
    }
    if !unscoped.is_empty() {
        notes.push(format!("{} left on `*` (questions below)", count_list(&unscoped)));
        parts.push((vec!["*".to_string()], unscoped));
    }
    if !wildcard_only.is_empty() {
        notes.push(format!("wildcard-only: {} kept on `*`", count_list(&wildcard_only)));
        parts.push((vec!["*".to_string()], wildcard_only));
    }
    let split = parts.len() > 1;
    let mut names = Vec::new();
    let mut n = 1;
    for (arns, set) in parts {
        let sid = match (st.sid, split) {
            (Some(s), true) => {
                let mut name = format!("{s}{n}");
                while sids.contains(&name) {
                    n += 1;
                    name = format!("{s}{n}");
                }
                n += 1;
                sids.insert(name.clone());
                names.push(format!("`{name}`"));
                Some(name)
            }
            (s, _) => s.map(str::to_string),
        };
        cx.out.push(rebuild(raw, &set, Some(&arns), sid.as_deref()));
    }
    let how = if split {
        if names.is_empty() {
            "`Resource: *` split by resource type".to_string()
        } else {
            format!("`Resource: *` split by resource type into {}", names.join(", "))
        }
    } else {
        "`Resource: *` replaced".to_string()
    };
    let lead = if change.is_empty() { String::new() } else { format!("{change}; ") };
    cx.changes.push(format!("{here}: {lead}{how}: {}", notes.join("; ")));
    true
}

/// Push the statement with its (maybe narrowed) actions and its resources as written.
fn finish_unsplit(
    st: &Statement<'_>,
    raw: &Value,
    acts: &ActionSet,
    actions_changed: bool,
    change: String,
    here: &str,
    cx: &mut Cx<'_>,
) -> bool {
    if actions_changed {
        cx.out.push(rebuild(raw, acts, None, st.sid));
    } else {
        cx.out.push(raw.clone());
    }
    let what = if change.is_empty() { "kept as written".to_string() } else { change };
    cx.changes.push(format!("{here}: {what}"));
    actions_changed
}

/// The statement with `Action` set to `acts` (catalog order), and `Resource`/`Sid` when given;
/// every other member (`Condition`, `Principal`, …) as it was.
fn rebuild(raw: &Value, acts: &ActionSet, resources: Option<&[String]>, sid: Option<&str>) -> Value {
    let mut m: Map<String, Value> = raw.as_object().cloned().unwrap_or_default();
    m.remove("NotAction");
    m.insert("Action".to_string(), Value::Array(acts.iter().map(|i| Value::String(ACTIONS[i].full_name())).collect()));
    if let Some(r) = resources {
        m.insert("Resource".to_string(), Value::Array(r.iter().cloned().map(Value::String).collect()));
    }
    if let Some(s) = sid {
        m.insert("Sid".to_string(), Value::String(s.to_string()));
    }
    Value::Object(m)
}

/// How many actions of the service act on resource type `t`.
fn type_use(service: usize, t: u16) -> usize {
    SERVICES[service].action_slice().iter().filter(|a| a.resources().iter().any(|r| r.resource_type == t)).count()
}

fn is_star(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|c| c == b'*')
}

fn ticks(items: &[String]) -> String {
    items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

/// `3 actions (`s3:GetObject`, `s3:PutObject`, …)`: the first few names.
fn count_list(set: &ActionSet) -> String {
    const SHOWN: usize = 3;
    let n = set.len();
    let names: Vec<String> = set.iter().take(SHOWN).map(|i| format!("`{}`", ACTIONS[i].full_name())).collect();
    let more = if n > SHOWN { ", …" } else { "" };
    format!("{n} action{} ({}{more})", if n == 1 { "" } else { "s" }, names.join(", "))
}

fn written_actions(st: &Statement<'_>) -> String {
    let list = st.action.patterns.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
    if st.action.not {
        format!("NotAction {list}")
    } else {
        list
    }
}

fn severity<'x>(actions: impl Iterator<Item = &'x Action>) -> &'static str {
    let mut sev = 0;
    for a in actions {
        sev = sev.max(match a.access {
            AccessLevel::Write | AccessLevel::PermissionsManagement => 2,
            AccessLevel::Read => 1,
            AccessLevel::List | AccessLevel::Tagging => 0,
        });
    }
    ["low", "medium", "high"][sev]
}

fn level_summary<'x>(actions: impl Iterator<Item = &'x Action>) -> String {
    let levels: BTreeSet<AccessLevel> = actions.map(|a| a.access).collect();
    levels.iter().map(|l| l.as_str().to_ascii_lowercase()).collect::<Vec<_>>().join(", ")
}

/// A question for a statement whose wildcard actions could not be narrowed.
fn action_question(st: &Statement<'_>, granted: &ActionSet, too_wide: Option<usize>) -> NarrowingQuestion {
    let services: BTreeSet<&str> = granted.iter().map(|i| ACTIONS[i].service().prefix).collect();
    let service = match services.iter().next() {
        Some(s) if services.len() == 1 => s.to_string(),
        _ => "*".to_string(),
    };
    let mut triggering: Vec<String> = st
        .action
        .patterns
        .iter()
        .filter(|p| st.action.not || p.contains(['*', '?']))
        .map(|p| if st.action.not { format!("NotAction {p}") } else { p.to_string() })
        .collect();
    triggering.sort();
    let n = granted.len();
    let on = if st.resource.as_ref().is_some_and(|r| !r.not && r.patterns.iter().any(|p| is_star(p))) {
        " on every resource (`Resource: *`)"
    } else {
        ""
    };
    let why = format!(
        "{} grant{} {n} actions in {} service{} ({}){on}, most of which the task does not need",
        ticks(&triggering),
        if triggering.len() == 1 { "s" } else { "" },
        services.len(),
        if services.len() == 1 { "" } else { "s" },
        level_summary(granted.iter().map(|i| &ACTIONS[i])),
    );
    let question = match too_wide {
        Some(k) => format!("Which actions does the task use? At the requested access levels the wildcards still span {k} services; list the actions used (e.g. from CloudTrail)"),
        None => "Which actions does the task use? List them (e.g. from CloudTrail), or name the access levels it needs (read, write, list, tagging, permissions-management)".to_string(),
    };
    NarrowingQuestion {
        id: format!("stmt-{}-action-wildcard", st.index),
        pattern: "wildcard-action".to_string(),
        service,
        resource_type: None,
        suggested_arn_format: None,
        triggering_actions: triggering,
        severity: severity(granted.iter().map(|i| &ACTIONS[i])).to_string(),
        question,
        why,
        statement: st.index,
        sid: st.sid.map(str::to_string),
    }
}

/// A question for actions left on `*` for want of an ARN of one resource type.
fn resource_question(st: &Statement<'_>, svc: usize, t: u16, actions: &[usize]) -> NarrowingQuestion {
    let service = &SERVICES[svc];
    let rt = &service.resource_types[usize::from(t)];
    let names: Vec<String> = actions.iter().map(|&i| ACTIONS[i].full_name()).collect();
    let shown: Vec<String> = names.iter().take(3).map(|n| format!("`{n}`")).collect();
    let more = if names.len() > 3 { format!(" and {} more", names.len() - 3) } else { String::new() };
    let why = format!(
        "{}{more} ({}) on every `{}` `{}` the account can reach (`Resource: *`), not only the ones the task touches",
        shown.join(", "),
        level_summary(actions.iter().map(|&i| &ACTIONS[i])),
        service.prefix,
        rt.name(),
    );
    NarrowingQuestion {
        id: format!("stmt-{}-{}-{}", st.index, service.prefix, rt.name()),
        pattern: "wildcard-resource".to_string(),
        service: service.prefix.to_string(),
        resource_type: Some(rt.name().to_string()),
        suggested_arn_format: Some(rt.arn().to_string()),
        triggering_actions: names,
        severity: severity(actions.iter().map(|&i| &ACTIONS[i])).to_string(),
        question: format!("Which `{}` `{}` resources does the task touch? Give their ARNs", service.prefix, rt.name()),
        why,
        statement: st.index,
        sid: st.sid.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(resources: &[&str], levels: &[AccessLevel], used: Option<&[&str]>) -> NarrowInput {
        NarrowInput {
            resources: resources.iter().map(|s| s.to_string()).collect(),
            access_levels: levels.to_vec(),
            used_actions: used.map(|u| u.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn doc(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn statements(n: &Narrowed) -> &Vec<Value> {
        n.policy["Statement"].as_array().unwrap()
    }

    #[test]
    fn service_wildcard_becomes_the_used_actions_it_granted() {
        let p = doc(json!([{"Sid": "App", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}]));
        let n = narrow(&p, &input(&[], &[], Some(&["s3:GetObject", "s3:PutObject", "kms:Decrypt"]))).unwrap();
        let st = &statements(&n)[0];
        assert_eq!(st["Action"], json!(["s3:GetObject", "s3:PutObject"]), "kms:Decrypt was not granted");
        assert_eq!(st["Resource"], json!("arn:aws:s3:::b/*"));
        assert_eq!(st["Sid"], "App");
        assert_eq!(n.diff.added_actions_total, 0);
        assert!(n.diff.removed_actions_total > 100);
        assert!(n.after.score <= n.before.score);
        assert!(n.questions.is_empty(), "{:?}", n.questions);
        assert!(n.changes[0].starts_with("statement 0 (`App`): actions `s3:*` → 2 actions"), "{:?}", n.changes);
    }

    #[test]
    fn star_resource_is_split_per_type_bucket_vs_object_and_wildcard_only() {
        let p = doc(json!([{"Sid": "S", "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets"], "Resource": "*"}]));
        let n = narrow(&p, &input(&["arn:aws:s3:::b/*", "arn:aws:s3:::b"], &[], None)).unwrap();
        let st = statements(&n);
        assert_eq!(st.len(), 3, "{:#}", n.policy);
        assert_eq!(
            st[0],
            json!({"Sid": "S1", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::b"]})
        );
        assert_eq!(
            st[1],
            json!({"Sid": "S2", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]})
        );
        assert_eq!(
            st[2],
            json!({"Sid": "S3", "Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": ["*"]})
        );
        assert!(n.questions.is_empty(), "{:?}", n.questions);
        assert_eq!(n.diff.added_actions_total, 0);
        assert!(n.after.access_summary.actions_on_all_resources < n.before.access_summary.actions_on_all_resources);
    }

    #[test]
    fn deny_and_conditions_are_kept() {
        let deny = json!({"Effect": "Deny", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::b/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        let allow = json!({"Effect": "Allow", "Action": "s3:Get*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}});
        let p = doc(json!([allow, deny]));
        let n = narrow(&p, &input(&["arn:aws:s3:::b/*"], &[], Some(&["s3:GetObject"]))).unwrap();
        let st = statements(&n);
        assert_eq!(st[0]["Action"], json!(["s3:GetObject"]));
        assert_eq!(st[0]["Resource"], json!(["arn:aws:s3:::b/*"]));
        assert_eq!(st[0]["Condition"], allow["Condition"]);
        assert_eq!(st[1], deny, "Deny byte-identical");
        assert!(n.changes.iter().any(|c| c == "statement 1: Deny kept as written"), "{:?}", n.changes);
    }

    #[test]
    fn not_action_is_replaced_by_used_actions_it_did_not_exclude() {
        let p = doc(json!([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]));
        let n = narrow(&p, &input(&[], &[], Some(&["s3:ListAllMyBuckets", "iam:PassRole"]))).unwrap();
        let st = &statements(&n)[0];
        assert_eq!(st["Action"], json!(["s3:ListAllMyBuckets"]));
        assert!(st.get("NotAction").is_none());
        assert_eq!(st["Resource"], json!("*"), "a wildcard-only action keeps `*`");
        assert!(n.questions.is_empty());
    }

    #[test]
    fn questions_when_no_arn_of_a_type_is_given() {
        let p = doc(json!([{"Sid": "Data", "Effect": "Allow",
            "Action": ["s3:GetObject", "dynamodb:GetItem", "dynamodb:PutItem"], "Resource": "*"}]));
        let n = narrow(&p, &input(&["arn:aws:s3:::reports/*"], &[], None)).unwrap();
        let st = statements(&n);
        assert_eq!(st[0]["Action"], json!(["s3:GetObject"]));
        assert_eq!(st[1]["Action"], json!(["dynamodb:GetItem", "dynamodb:PutItem"]));
        assert_eq!(st[1]["Resource"], json!(["*"]));
        assert_eq!(n.questions.len(), 1, "{:?}", n.questions);
        let q = &n.questions[0];
        assert_eq!(q.id, "stmt-0-dynamodb-table");
        assert_eq!(q.pattern, "wildcard-resource");
        assert_eq!(q.service, "dynamodb");
        assert_eq!(q.resource_type.as_deref(), Some("table"));
        assert_eq!(
            q.suggested_arn_format.as_deref(),
            Some("arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}")
        );
        assert_eq!(q.triggering_actions, ["dynamodb:GetItem", "dynamodb:PutItem"]);
        assert_eq!(q.severity, "high");
        assert_eq!((q.statement, q.sid.as_deref()), (0, Some("Data")));
        assert!(q.why.contains("every `dynamodb` `table`"), "{}", q.why);
        // Without any ARN: the statement stays whole, one question per type.
        let n = narrow(&p, &input(&[], &[], None)).unwrap();
        assert_eq!(n.policy, p);
        assert_eq!(
            n.questions.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
            ["stmt-0-dynamodb-table", "stmt-0-s3-object"]
        );
    }

    #[test]
    fn wildcards_without_action_information_stay_with_a_question() {
        let p = doc(json!([{"Effect": "Allow", "Action": ["s3:*", "s3:GetObject"], "Resource": "*"}]));
        let n = narrow(&p, &input(&["arn:aws:s3:::b"], &[], None)).unwrap();
        assert_eq!(n.policy, p);
        assert_eq!(n.questions.len(), 1);
        assert_eq!(n.questions[0].pattern, "wildcard-action");
        assert_eq!(n.questions[0].service, "s3");
        assert_eq!(n.questions[0].triggering_actions, ["s3:*"]);
        assert!(n.changes.iter().any(|c| c.contains("no statement was narrowed to it")), "{:?}", n.changes);
        // `*` at one level is still thousands of actions: kept, asked.
        let p = doc(json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]));
        let n = narrow(&p, &input(&[], &[AccessLevel::Read], None)).unwrap();
        assert_eq!(n.policy, p);
        assert_eq!(n.questions[0].service, "*");
    }

    #[test]
    fn access_levels_restrict_a_wildcard() {
        let p = doc(json!([{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]));
        let q = "arn:aws:sqs:us-east-1:123456789012:jobs";
        let n = narrow(&p, &input(&[q], &[AccessLevel::Read], None)).unwrap();
        for st in statements(&n) {
            for a in st["Action"].as_array().unwrap() {
                let i = iam_catalog::action_index(a.as_str().unwrap()).unwrap();
                assert_eq!(ACTIONS[i].access, AccessLevel::Read, "{a}");
            }
        }
        assert_eq!(statements(&n)[0]["Resource"], json!([q]));
        assert!(statements(&n)[0]["Action"].as_array().unwrap().contains(&json!("sqs:ReceiveMessage")));
    }

    #[test]
    fn principal_statements_keep_principal_and_resources() {
        let p = doc(json!([{"Sid": "Share", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}]));
        let n = narrow(&p, &input(&["arn:aws:s3:::b/x"], &[], Some(&["s3:GetObject"]))).unwrap();
        let st = &statements(&n)[0];
        assert_eq!(st["Principal"], p["Statement"][0]["Principal"]);
        assert_eq!(st["Resource"], json!("arn:aws:s3:::b/*"));
        assert_eq!(st["Action"], json!(["s3:GetObject"]));
    }

    #[test]
    fn split_sids_are_unique_and_statements_without_sid_get_none() {
        let p = doc(json!([
            {"Sid": "A1", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
            {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListAllMyBuckets"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListAllMyBuckets"], "Resource": "*"}
        ]));
        let n = narrow(&p, &input(&["arn:aws:s3:::b/*"], &[], None)).unwrap();
        let sids: Vec<Option<&str>> = statements(&n).iter().map(|s| s["Sid"].as_str()).collect();
        assert_eq!(sids, [Some("A1"), Some("A2"), Some("A3"), None, None]);
    }

    #[test]
    fn idempotent() {
        let p = doc(json!([{"Sid": "S", "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets", "kms:Decrypt"], "Resource": "*"}]));
        let i = input(&["arn:aws:s3:::b/*", "arn:aws:s3:::b"], &[], None);
        let once = narrow(&p, &i).unwrap();
        let twice = narrow(&once.policy, &i).unwrap();
        assert_eq!(twice.policy, once.policy);
        assert_eq!(twice.diff.removed_actions_total, 0);
    }

    #[test]
    fn bad_input_is_an_error_that_says_what_to_fix() {
        let p = doc(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]));
        let e = narrow(&p, &input(&["arn:aws:s3:us-east-1:1:nope"], &[], None)).unwrap_err();
        assert!(e.message().contains("bucket"), "{e}");
        let e = narrow(&json!({"Statement": [{"Effect": "allow"}]}), &NarrowInput::default()).unwrap_err();
        assert!(e.message().starts_with("policy: "), "{e}");
        let e = narrow(&p, &input(&[], &[], Some(&["s3:Nope"]))).unwrap_err();
        assert!(e.message().contains("`s3:Nope`"), "{e}");
        let e = narrow(&p, &input(&[], &[], Some(&["kms:Decrypt"]))).unwrap_err();
        assert!(e.message().contains("leaves no Allow statement"), "{e}");
    }

    #[test]
    fn used_actions_accept_a_list_a_policy_and_from_cloudtrail_output() {
        let list = json!(["s3:PutObject", "s3:GetObject", "s3:GetObject"]);
        let policy = doc(json!([{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]));
        let wrapped = json!({"policy": policy.clone(), "report": {}});
        for v in [list, policy, wrapped] {
            assert_eq!(NarrowInput::used_actions_from_value(&v).unwrap(), ["s3:GetObject", "s3:PutObject"], "{v}");
        }
        assert!(NarrowInput::used_actions_from_value(&json!({"x": 1})).is_err());
        assert!(NarrowInput::used_actions_from_value(&json!([1])).is_err());
    }

    #[test]
    fn access_level_keys() {
        assert_eq!(parse_access_level("permissions-management"), Some(AccessLevel::PermissionsManagement));
        assert_eq!(parse_access_level("Permissions management"), Some(AccessLevel::PermissionsManagement));
        assert_eq!(parse_access_level("READ"), Some(AccessLevel::Read));
        assert_eq!(parse_access_level("admin"), None);
    }
}
