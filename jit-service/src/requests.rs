//! Access requests: the predecessor's `RoleRequest` in, validated field by field, scored by
//! the engine at every submit and edit, then moved through its states by people (quorum,
//! no self-approval unless a tier opts in), the opt-in evaluator, the provisioner and the
//! expiry sweep. Every transition is one transaction that also appends the audit record and
//! queues the notifications, under a row lock and a version check (optimistic locking for
//! clients that send `version`).
//!
//! States: pending → approved → provisioning → active → revoking → expired | revoked; and rejected,
//! needs_changes (→ pending on edit), cancelled, provisioning_failed (→ provisioning on retry).

use crate::approval::{self, ApprovalPolicy};
use crate::audit;
use crate::db::{opt_i64, opt_str, Write};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::identity::{Caller, Role};
use crate::notify;
use crate::util::{fmt_ts, new_id, now_ms, parse_ts};
use crate::AppState;
use risk_core::{AccessType, Report, ScoreOptions};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::{AssertSqlSafe, Row};

pub const API_VERSION: &str = "iam-jit.dev/v1alpha1";
pub const KIND: &str = "RoleRequest";
const HOUR_MS: i64 = 3_600_000;
/// Engine findings that make a request invalid rather than merely risky.
/// (Resource mismatches, VA002, stay findings: AWS's own managed policies carry hundreds.)
pub const REFUSED_RULES: [&str; 2] = ["VA001", "VA005"];

pub const STATES: [&str; 11] = [
    "pending",
    "needs_changes",
    "approved",
    "provisioning",
    "active",
    "revoking",
    "expired",
    "revoked",
    "rejected",
    "cancelled",
    "provisioning_failed",
];
pub const TERMINAL: [&str; 4] = ["expired", "revoked", "rejected", "cancelled"];

// ---------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------

/// A validated request body.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub name: Option<String>,
    /// The normalised spec as stored and returned.
    pub spec: Value,
    pub description: String,
    pub access_type: AccessType,
    pub accounts: Vec<String>,
    pub duration_hours: Option<u32>,
    pub not_after: Option<i64>,
    pub policy: Value,
    pub break_glass_reason: Option<String>,
    pub assume_by: Option<String>,
}

struct Errs(Vec<FieldError>);

impl Errs {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(FieldError { path: path.to_string(), message: message.into() });
    }
    fn unknown(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for k in obj.keys() {
            if !known.contains(&k.as_str()) {
                let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                self.add(&at, format!("unknown field; expected one of: {}", known.join(", ")));
            }
        }
    }
}

fn str_field<'a>(errs: &mut Errs, obj: &'a Map<String, Value>, key: &str, path: &str) -> Option<&'a str> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            errs.add(path, "must be a string");
            None
        }
    }
}

fn valid_account(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

pub fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    (3..=5).contains(&parts.len())
        && r.len() <= 25
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Validate a `RoleRequest` body. Every problem is reported at once, each with its path.
pub fn parse(body: &Value) -> ApiResult<Parsed> {
    let mut e = Errs(Vec::new());
    let Some(top) = body.as_object() else {
        return Err(ApiError::field("", "the body must be a RoleRequest object"));
    };
    e.unknown(top, "", &["apiVersion", "kind", "metadata", "spec", "status"]);
    if top.contains_key("status") {
        e.add("status", "is set by the service; remove it");
    }
    match top.get("apiVersion") {
        None => {}
        Some(Value::String(v)) if v == API_VERSION => {}
        Some(_) => e.add("apiVersion", format!("must be \"{API_VERSION}\"")),
    }
    match top.get("kind") {
        None => {}
        Some(Value::String(v)) if v == KIND => {}
        Some(_) => e.add("kind", format!("must be \"{KIND}\"")),
    }
    let mut name = None;
    if let Some(m) = top.get("metadata") {
        match m.as_object() {
            None => e.add("metadata", "must be an object"),
            Some(m) => {
                e.unknown(m, "metadata", &["name", "requester", "labels", "id"]);
                if m.contains_key("id") {
                    e.add("metadata.id", "is assigned by the service; remove it");
                }
                if let Some(n) = str_field(&mut e, m, "name", "metadata.name") {
                    if n.is_empty()
                        || n.len() > 128
                        || !n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    {
                        e.add("metadata.name", "must be 1-128 letters, digits, `-`, `_` or `.`");
                    } else {
                        name = Some(n.to_string());
                    }
                }
                // `requester` is informational (the predecessor's clients send it); the
                // authenticated caller is the requester.
                if let Some(r) = m.get("requester") {
                    match r.as_object() {
                        Some(r) => e.unknown(r, "metadata.requester", &["name", "email", "principal_arn"]),
                        None => e.add("metadata.requester", "must be an object"),
                    }
                }
                if let Some(l) = m.get("labels") {
                    if !l.as_object().is_some_and(|o| {
                        o.len() <= 20 && o.values().all(|v| v.as_str().is_some_and(|s| s.len() <= 256))
                    }) {
                        e.add("metadata.labels", "must be an object of at most 20 string values");
                    }
                }
            }
        }
    }
    let Some(spec) = top.get("spec") else {
        e.add("spec", "is required");
        return Err(ApiError::invalid("the request is not valid", e.0));
    };
    let Some(spec) = spec.as_object() else {
        e.add("spec", "must be an object");
        return Err(ApiError::invalid("the request is not valid", e.0));
    };
    e.unknown(
        spec,
        "spec",
        &[
            "description",
            "access_type",
            "accounts",
            "duration",
            "policy",
            "ticket_url",
            "assume_by",
            "tags",
            "provisioning",
            "break_glass",
            "task_intent",
        ],
    );
    if spec.contains_key("task_intent") && !spec.contains_key("policy") {
        e.add(
            "spec.task_intent",
            "is drafted by POST /api/v1/requests/preview: review the policy it writes there, then submit the drafted spec (with spec.policy) to confirm",
        );
    } else if spec.contains_key("task_intent") {
        e.add("spec.task_intent", "send either spec.policy or spec.task_intent, not both");
    }
    let mut out_spec = Map::new();
    let description = match str_field(&mut e, spec, "description", "spec.description") {
        None => {
            e.add("spec.description", "is required: say what the access is for (10-2000 characters)");
            String::new()
        }
        Some(d) => {
            let d = d.trim();
            let n = d.chars().count();
            if !(10..=2000).contains(&n) {
                e.add("spec.description", format!("must be 10-2000 characters (is {n})"));
            }
            if d.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                e.add("spec.description", "must not contain control characters");
            }
            d.to_string()
        }
    };
    out_spec.insert("description".into(), json!(description));
    let access_type = match str_field(&mut e, spec, "access_type", "spec.access_type") {
        None => AccessType::ReadOnly,
        Some(s) => AccessType::parse(s).unwrap_or_else(|| {
            e.add("spec.access_type", "must be \"read-only\" or \"read-write\"");
            AccessType::ReadOnly
        }),
    };
    out_spec.insert("access_type".into(), json!(access_type.as_str()));
    let mut accounts = Vec::new();
    let mut accounts_out = Vec::new();
    match spec.get("accounts") {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= 20 => {
            for (i, a) in list.iter().enumerate() {
                let p = format!("spec.accounts[{i}]");
                let Some(o) = a.as_object() else {
                    e.add(&p, "must be an object with account_id");
                    continue;
                };
                e.unknown(o, &p, &["account_id", "regions", "alias"]);
                let id = match o.get("account_id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => format!("{n:0>12}"),
                    _ => String::new(),
                };
                if !valid_account(&id) {
                    e.add(&format!("{p}.account_id"), "must be a 12-digit AWS account id (as a string)");
                } else if accounts.contains(&id) {
                    e.add(&format!("{p}.account_id"), format!("account {id} is listed twice"));
                }
                let mut regions = Vec::new();
                match o.get("regions") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(rs)) if rs.len() <= 40 => {
                        for (j, r) in rs.iter().enumerate() {
                            match r.as_str() {
                                Some(r) if valid_region(r) => regions.push(r.to_string()),
                                _ => {
                                    e.add(&format!("{p}.regions[{j}]"), "must be an AWS region name such as us-east-1")
                                }
                            }
                        }
                    }
                    Some(_) => e.add(&format!("{p}.regions"), "must be a list of at most 40 region names"),
                }
                let mut acc = json!({"account_id": id, "regions": regions});
                if let Some(alias) = str_field(&mut e, o, "alias", &format!("{p}.alias")) {
                    acc["alias"] = json!(alias.chars().take(64).collect::<String>());
                }
                accounts_out.push(acc);
                accounts.push(id);
            }
        }
        Some(Value::Array(_)) => e.add("spec.accounts", "must list 1-20 accounts"),
        None => {
            e.add("spec.accounts", "is required: the destination accounts, e.g. [{\"account_id\": \"123456789012\"}]")
        }
        Some(_) => e.add("spec.accounts", "must be a list of {\"account_id\": …}"),
    }
    out_spec.insert("accounts".into(), Value::Array(accounts_out));
    let (mut duration_hours, mut not_after) = (None, None);
    match spec.get("duration") {
        Some(Value::Object(d)) => {
            e.unknown(d, "spec.duration", &["duration_hours", "not_after"]);
            match (d.get("duration_hours"), d.get("not_after")) {
                (Some(h), None) => match h.as_u64() {
                    Some(h) if (1..=8760).contains(&h) => duration_hours = Some(h as u32),
                    _ => e.add("spec.duration.duration_hours", "must be a whole number of hours, 1-8760"),
                },
                (None, Some(t)) => match t.as_str().and_then(parse_ts) {
                    Some(t) if t > now_ms() => not_after = Some(t),
                    Some(_) => e.add("spec.duration.not_after", "is in the past"),
                    None => e.add("spec.duration.not_after", "must be an RFC 3339 time, e.g. 2026-12-01T18:00:00Z"),
                },
                _ => e.add("spec.duration", "give exactly one of duration_hours or not_after"),
            }
        }
        None => e.add("spec.duration", "is required: {\"duration_hours\": N} or {\"not_after\": \"…Z\"}"),
        Some(_) => e.add("spec.duration", "must be an object"),
    }
    let mut dur = Map::new();
    if let Some(h) = duration_hours {
        dur.insert("duration_hours".into(), json!(h));
    }
    if let Some(t) = not_after {
        dur.insert("not_after".into(), json!(fmt_ts(t)));
    }
    out_spec.insert("duration".into(), Value::Object(dur));
    let policy = match spec.get("policy") {
        Some(p @ Value::Object(_)) => p.clone(),
        Some(Value::String(s)) => match risk_core::parse_json(s) {
            Ok(v) => v,
            Err(err) => {
                for p in err.problems() {
                    e.add(
                        &format!(
                            "spec.policy{}",
                            if p.path.is_empty() { String::new() } else { format!(".{}", p.path) }
                        ),
                        p.message.clone(),
                    );
                }
                Value::Null
            }
        },
        Some(_) => {
            e.add("spec.policy", "must be an IAM policy document (an object)");
            Value::Null
        }
        None => {
            if !spec.contains_key("task_intent") {
                e.add("spec.policy", "is required: the IAM policy document to grant");
            }
            Value::Null
        }
    };
    out_spec.insert("policy".into(), policy.clone());
    if let Some(u) = str_field(&mut e, spec, "ticket_url", "spec.ticket_url") {
        if !(u.starts_with("https://") || u.starts_with("http://"))
            || u.len() > 2048
            || u.chars().any(char::is_whitespace)
        {
            e.add("spec.ticket_url", "must be an http(s) URL of at most 2048 characters");
        } else {
            out_spec.insert("ticket_url".into(), json!(u));
        }
    }
    let mut assume_by = None;
    if let Some(a) = spec.get("assume_by") {
        match a.as_object() {
            Some(o) => {
                e.unknown(o, "spec.assume_by", &["principal_arn"]);
                match o.get("principal_arn").and_then(Value::as_str).map(crate::identity::normalise_principal_arn) {
                    Some(Ok(arn)) => {
                        out_spec.insert("assume_by".into(), json!({"principal_arn": arn}));
                        assume_by = Some(arn);
                    }
                    Some(Err(m)) => e.add("spec.assume_by.principal_arn", m),
                    None => e.add("spec.assume_by.principal_arn", "is required"),
                }
            }
            None => e.add("spec.assume_by", "must be {\"principal_arn\": …}"),
        }
    }
    if let Some(t) = spec.get("tags") {
        let ok = t.as_object().is_some_and(|o| {
            o.len() <= 20
                && o.iter().all(|(k, v)| {
                    !k.is_empty()
                        && k.len() <= 128
                        && !k.starts_with("iam-jit")
                        && !k.starts_with("aws:")
                        && v.as_str().is_some_and(|s| s.len() <= 256)
                })
        });
        if ok {
            out_spec.insert("tags".into(), t.clone());
        } else {
            e.add(
                "spec.tags",
                "must be at most 20 string tags (keys 1-128 chars, not starting with iam-jit or aws:, values ≤ 256)",
            );
        }
    }
    if let Some(p) = spec.get("provisioning") {
        match p.as_object() {
            Some(o) => {
                e.unknown(o, "spec.provisioning", &["mode"]);
                match o.get("mode") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(m)) if m == "classic_iam" => {}
                    Some(Value::String(m)) => {
                        e.add("spec.provisioning.mode", format!("`{m}` is not supported (use classic_iam)"))
                    }
                    Some(_) => e.add("spec.provisioning.mode", "must be the string \"classic_iam\""),
                }
                out_spec.insert("provisioning".into(), json!({"mode": "classic_iam"}));
            }
            None => e.add("spec.provisioning", "must be an object"),
        }
    }
    let mut break_glass_reason = None;
    if let Some(b) = spec.get("break_glass") {
        match b.as_object() {
            Some(o) => {
                e.unknown(o, "spec.break_glass", &["reason"]);
                match o.get("reason").and_then(Value::as_str).map(str::trim) {
                    Some(r) if r.chars().count() >= 10 && r.chars().count() <= 2000 => {
                        out_spec.insert("break_glass".into(), json!({"reason": r}));
                        break_glass_reason = Some(r.to_string());
                    }
                    _ => e.add(
                        "spec.break_glass.reason",
                        "is mandatory for break-glass access: 10-2000 characters saying why",
                    ),
                }
            }
            None => e.add("spec.break_glass", "must be {\"reason\": …}"),
        }
    }
    if !e.0.is_empty() {
        let detail = if e.0.len() == 1 {
            format!("{}: {}", e.0[0].path, e.0[0].message)
        } else {
            format!("the request has {} problems; see errors", e.0.len())
        };
        return Err(ApiError::invalid(detail, e.0));
    }
    Ok(Parsed {
        name,
        spec: Value::Object(out_spec),
        description,
        access_type,
        accounts,
        duration_hours,
        not_after,
        policy,
        break_glass_reason,
        assume_by,
    })
}

/// Score the policy of a parsed request with the engine (plus the optional narrative).
pub async fn score(state: &AppState, p: &Parsed) -> ApiResult<Report> {
    let options = ScoreOptions {
        access_type: Some(p.access_type),
        duration_hours: Some(p.duration_hours.unwrap_or_else(|| {
            p.not_after.map(|t| (((t - now_ms()) + HOUR_MS - 1) / HOUR_MS).clamp(1, 8760) as u32).unwrap_or(1)
        })),
        description: Some(p.description.chars().take(500).collect()),
        ..ScoreOptions::default()
    };
    let mut report = risk_core::score_value(&p.policy, &options).map_err(|err| {
        let errors = err
            .problems()
            .iter()
            .map(|pr| FieldError {
                path: if pr.path.is_empty() { "spec.policy".into() } else { format!("spec.policy.{}", pr.path) },
                message: pr.message.clone(),
            })
            .collect::<Vec<_>>();
        let detail = errors
            .first()
            .map(|f| format!("{}: {}", f.path, f.message))
            .unwrap_or_else(|| "the policy is not valid".into());
        ApiError::invalid(detail, errors)
    })?;
    // A grant that names unknown actions or grants nothing is a mistake to fix before anyone
    // reviews it, not a low score.
    let refused: Vec<FieldError> = report
        .findings
        .iter()
        .filter(|f| REFUSED_RULES.contains(&f.rule.as_str()))
        .map(|f| FieldError {
            path: match f.statement {
                Some(i) => format!("spec.policy.Statement[{i}]"),
                None => "spec.policy".to_string(),
            },
            message: format!("{} ({} {}); {}", f.message, f.rule, f.name, f.suggestion),
        })
        .collect();
    if !refused.is_empty() {
        let detail = format!("{}: {}", refused[0].path, refused[0].message);
        return Err(ApiError::invalid(detail, refused));
    }
    if let Some(n) = &state.narrator {
        let narration = n.narrate(&report, &p.policy, &options).await;
        risk_narrative::apply(&mut report, &narration);
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Stored requests
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub owner: String,
    pub name: Option<String>,
    pub state: String,
    pub version: i64,
    pub revision: i64,
    pub spec: Value,
    pub risk_score: i64,
    pub tier: String,
    pub accounts: Vec<String>,
    pub duration_ms: i64,
    pub break_glass_reason: Option<String>,
    pub review_required: bool,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<i64>,
    pub auto_approved: bool,
    pub extension: Option<Value>,
    pub state_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub pending_until: Option<i64>,
    pub approved_at: Option<i64>,
    pub activated_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub grant_info: Option<Value>,
}

const COLS: &str = "id, owner, name, state, version, revision, spec, risk_score, tier, accounts, duration_ms, break_glass_reason, review_required, reviewed_by, reviewed_at, auto_approved, extension, state_reason, created_at, updated_at, pending_until, approved_at, activated_at, expires_at, ended_at, grant_info";

fn from_row(r: &sqlx::any::AnyRow) -> Stored {
    let json_col = |c: &str| opt_str(r, c).and_then(|s| serde_json::from_str(&s).ok());
    Stored {
        id: r.get("id"),
        owner: r.get("owner"),
        name: opt_str(r, "name"),
        state: r.get("state"),
        version: r.get("version"),
        revision: r.get("revision"),
        spec: json_col("spec").unwrap_or(Value::Null),
        risk_score: r.get("risk_score"),
        tier: r.get("tier"),
        accounts: json_col("accounts").and_then(|v: Value| serde_json::from_value(v).ok()).unwrap_or_default(),
        duration_ms: r.get("duration_ms"),
        break_glass_reason: opt_str(r, "break_glass_reason"),
        review_required: r.get::<i64, _>("review_required") != 0,
        reviewed_by: opt_str(r, "reviewed_by"),
        reviewed_at: opt_i64(r, "reviewed_at"),
        auto_approved: r.get::<i64, _>("auto_approved") != 0,
        extension: json_col("extension"),
        state_reason: opt_str(r, "state_reason"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        pending_until: opt_i64(r, "pending_until"),
        approved_at: opt_i64(r, "approved_at"),
        activated_at: opt_i64(r, "activated_at"),
        expires_at: opt_i64(r, "expires_at"),
        ended_at: opt_i64(r, "ended_at"),
        grant_info: json_col("grant_info"),
    }
}

pub async fn load(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<Stored>, sqlx::Error> {
    Ok(sqlx::query(AssertSqlSafe(format!("SELECT {COLS} FROM requests WHERE id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| from_row(&r)))
}

pub(crate) async fn lock(w: &mut Write, id: &str) -> ApiResult<Stored> {
    let sql = format!("SELECT {COLS} FROM requests WHERE id = $1{}", w.lock());
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(|| ApiError::not_found(format!("no request `{id}`")))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Approval {
    pub approver: String,
    pub round: String,
    pub self_approval: bool,
    pub comment: Option<String>,
    pub at: String,
    /// Whether it counts toward the quorum now (its approver may still approve this request).
    pub counts: bool,
}

/// Whether an approval by `approver` counts for `s` now: the approver must still be allowed
/// to approve it (enabled, not deleted, in scope), and the owner only where the tier allows
/// self-approval. The evaluator's approval stands (it is audited when given).
pub async fn approval_counts(
    conn: &mut sqlx::AnyConnection,
    s: &Stored,
    policy: &ApprovalPolicy,
    approver: &str,
) -> Result<bool, sqlx::Error> {
    if approver.starts_with("evaluator:") {
        return Ok(true);
    }
    let rule = policy.tier_rule(&s.tier);
    let user = crate::identity::get_user(conn, approver).await?;
    Ok(user.is_some_and(|u| {
        policy.may_approve(&u, &s.tier, &s.accounts) && (approver != s.owner || rule.allow_self_approval)
    }))
}

/// The approvals of `s`, each marked with whether it counts now.
async fn counted(
    conn: &mut sqlx::AnyConnection,
    s: &Stored,
    policy: &ApprovalPolicy,
) -> Result<Vec<Approval>, sqlx::Error> {
    let mut list = approvals(conn, &s.id).await?;
    for a in &mut list {
        // A request has a handful of approvals; each check is one user read.
        a.counts = approval_counts(conn, s, policy, &a.approver).await?;
    }
    Ok(list)
}

async fn approvals(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Vec<Approval>, sqlx::Error> {
    Ok(sqlx::query("SELECT approver, round, self_approval, comment, created_at FROM approvals WHERE request_id = $1 ORDER BY created_at, approver")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Approval {
            approver: r.get("approver"),
            round: r.get("round"),
            self_approval: r.get::<i64, _>("self_approval") != 0,
            comment: opt_str(r, "comment"),
            at: fmt_ts(r.get("created_at")),
            counts: false,
        })
        .collect())
}

pub(crate) fn round_for(s: &Stored) -> String {
    match &s.extension {
        Some(ext) if s.state == "active" => format!("ext{}", ext.get("number").and_then(Value::as_i64).unwrap_or(1)),
        _ => format!("r{}", s.revision),
    }
}

/// The API form of a request (the predecessor's RoleRequest shape plus status details).
pub fn to_json(s: &Stored, approvals: &[Approval], policy: &ApprovalPolicy) -> Value {
    let round = round_for(s);
    let have = approvals.iter().filter(|a| a.round == round && a.counts).count();
    let rule = policy.tier_rule(&s.tier);
    let mut status = json!({
        "state": s.state,
        "owner": s.owner,
        "version": s.version,
        "revision": s.revision,
        "review": {"risk_score": s.risk_score, "tier": s.tier},
        "approvals": approvals,
        "quorum": {"required": rule.quorum, "have": have, "round": round},
        "auto_approved": s.auto_approved,
    });
    let opt = |v: Option<i64>| v.map(fmt_ts);
    for (k, v) in [
        ("approved_at", opt(s.approved_at)),
        ("activated_at", opt(s.activated_at)),
        ("expires_at", opt(s.expires_at)),
        ("ended_at", opt(s.ended_at)),
        (
            "pending_until",
            if matches!(s.state.as_str(), "pending" | "needs_changes") { opt(s.pending_until) } else { None },
        ),
    ] {
        if let Some(v) = v {
            status[k] = json!(v);
        }
    }
    if let Some(r) = &s.state_reason {
        status["reason"] = json!(r);
    }
    if let Some(r) = &s.break_glass_reason {
        status["break_glass"] = json!({
            "reason": r,
            "review_required": s.review_required,
            "reviewed_by": s.reviewed_by,
            "reviewed_at": opt(s.reviewed_at),
        });
    }
    if let Some(e) = &s.extension {
        status["extension"] = e.clone();
    }
    if let Some(g) = &s.grant_info {
        status["grant"] = g.clone();
    }
    let mut metadata = json!({
        "id": s.id,
        "requester": {"user_id": s.owner},
        "created_at": fmt_ts(s.created_at),
        "updated_at": fmt_ts(s.updated_at),
    });
    if let Some(n) = &s.name {
        metadata["name"] = json!(n);
    }
    json!({"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": s.spec, "status": status})
}

pub async fn view(state: &AppState, id: &str) -> ApiResult<Value> {
    let s = load(&mut *state.store.pool.acquire().await?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no request `{id}`")))?;
    let mut conn = state.store.pool.acquire().await?;
    let (_, policy) = approval::active(&mut conn).await?;
    let a = counted(&mut conn, &s, &policy).await?;
    Ok(to_json(&s, &a, &policy))
}

/// The active approval policy.
pub(crate) async fn active_policy(state: &AppState) -> ApiResult<ApprovalPolicy> {
    Ok(approval::active(&mut *state.store.pool.acquire().await?).await?.1)
}

/// A write transaction with request `id` locked in it, if the caller may see the request.
async fn open_locked(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(Write, Stored)> {
    let mut w = state.store.write().await?;
    let s = lock(&mut w, id).await?;
    check_visible(caller, &s)?;
    Ok((w, s))
}

/// [`open_locked`], with the active approval policy (read before the transaction starts).
async fn open(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(ApprovalPolicy, Write, Stored)> {
    let policy = active_policy(state).await?;
    let (w, s) = open_locked(state, caller, id).await?;
    Ok((policy, w, s))
}

/// 404 for a request the caller may not see (it does not reveal that the id exists).
pub fn check_visible(caller: &Caller, s: &Stored) -> ApiResult<()> {
    if s.owner == caller.id() || caller.has(Role::Approver) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no request `{}`", s.id)))
    }
}

pub async fn get_visible(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Stored> {
    let s = load(&mut *state.store.pool.acquire().await?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no request `{id}`")))?;
    check_visible(caller, &s)?;
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Transitions
// ---------------------------------------------------------------------------------------------

fn check_version(s: &Stored, expected: Option<i64>) -> ApiResult<()> {
    match expected {
        Some(v) if v != s.version => Err(ApiError::conflict(format!(
            "the request changed since you read it (version {v}, now {}); reload and retry",
            s.version
        ))),
        _ => Ok(()),
    }
}

/// Set columns and bump the version, under the row lock held by `w`.
async fn update(w: &mut Write, s: &Stored, sets: &[(&str, Value)]) -> ApiResult<()> {
    let mut sql = String::from("UPDATE requests SET version = version + 1, updated_at = $1");
    for (i, (col, _)) in sets.iter().enumerate() {
        sql.push_str(&format!(", {col} = ${}", i + 2));
    }
    sql.push_str(&format!(" WHERE id = ${} AND version = ${}", sets.len() + 2, sets.len() + 3));
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now_ms());
    for (_, v) in sets {
        q = match v {
            Value::Null => q.bind(None::<String>),
            Value::Number(n) => q.bind(n.as_i64().unwrap_or(0)),
            Value::String(t) => q.bind(t.clone()),
            Value::Bool(b) => q.bind(i64::from(*b)),
            other => q.bind(other.to_string()),
        };
    }
    let n = q.bind(s.id.clone()).bind(s.version).execute(&mut *w.tx).await?.rows_affected();
    if n != 1 {
        return Err(ApiError::conflict("the request was changed concurrently; retry"));
    }
    Ok(())
}

pub(crate) async fn transition(
    w: &mut Write,
    s: &Stored,
    actor: &str,
    to: &str,
    reason: Option<&str>,
    extra: &[(&str, Value)],
) -> ApiResult<()> {
    let mut sets: Vec<(&str, Value)> =
        vec![("state", json!(to)), ("state_reason", reason.map(|r| json!(r)).unwrap_or(Value::Null))];
    sets.extend(extra.iter().cloned());
    update(w, s, &sets).await?;
    audit::append(
        w,
        actor,
        &format!("request.{to}"),
        &s.id,
        json!({"from": s.state, "to": to, "reason": reason, "revision": s.revision}),
    )
    .await?;
    Ok(())
}

fn trust_principal(caller: &Caller, p: &Parsed) -> ApiResult<Option<String>> {
    match &p.assume_by {
        None => Ok(caller.principal_arn().map(str::to_string)),
        Some(arn) if caller.principal_arn() == Some(arn.as_str()) || caller.user.principals.contains(arn) => Ok(Some(arn.clone())),
        Some(arn) => Err(ApiError::field(
            "spec.assume_by.principal_arn",
            format!("`{arn}` is not a principal you have proved you own; an admin can link it to your user (POST /api/v1/users/{{id}}/principals)"),
        )),
    }
}

fn duration_ms(p: &Parsed) -> i64 {
    match (p.duration_hours, p.not_after) {
        (Some(h), _) => i64::from(h) * HOUR_MS,
        (None, Some(t)) => (t - now_ms()).max(60_000),
        _ => HOUR_MS,
    }
}

fn check_duration(p: &Parsed, policy: &ApprovalPolicy) -> ApiResult<()> {
    let max = if p.break_glass_reason.is_some() { policy.break_glass.max_hours } else { policy.max_hours(&p.accounts) };
    let ms = duration_ms(p);
    if ms > i64::from(max) * HOUR_MS && p.break_glass_reason.is_none() {
        return Err(ApiError::field(
            if p.duration_hours.is_some() { "spec.duration.duration_hours" } else { "spec.duration.not_after" },
            format!(
                "{:.1} h is longer than the {max} h allowed for {}",
                ms as f64 / HOUR_MS as f64,
                p.accounts.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Queue `event` with the request as it is now inside `w` (after the caller's changes).
pub(crate) async fn notify_current(
    w: &mut Write,
    state: &AppState,
    id: &str,
    event: &str,
    note: Option<&str>,
) -> ApiResult<()> {
    let s = lock(w, id).await?;
    notify::enqueue(w, state, event, &s, note).await?;
    Ok(())
}

/// The destination accounts must be registered when grants become real roles (the `aws`
/// provisioner), and their regions allowed wherever an account is registered.
async fn check_accounts(state: &AppState, p: &Parsed) -> ApiResult<()> {
    let errors = crate::accounts::check_request_accounts(
        &state.store,
        state.provisioner.name() == "aws",
        p.spec.get("accounts").unwrap_or(&Value::Null),
    )
    .await?;
    if errors.is_empty() {
        return Ok(());
    }
    let detail = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ");
    Err(ApiError::invalid(detail, errors))
}

/// A `spec.task_intent` (services × access levels with ARNs) without `spec.policy`: the body
/// with the policy the writer drafts from it (scored like any policy), and the draft to show.
/// Anything else is returned unchanged. The requester confirms by submitting the drafted spec:
/// no request is stored from an intent, so the state machine is unchanged.
fn draft_task_intent(body: &Value) -> ApiResult<Option<(Value, Value)>> {
    let Some(spec) = body.get("spec").and_then(Value::as_object) else { return Ok(None) };
    let (Some(intent), None) = (spec.get("task_intent"), spec.get("policy")) else { return Ok(None) };
    let accounts: Vec<String> = match spec.get("accounts") {
        Some(Value::Array(a)) => {
            a.iter().filter_map(|x| x.get("account_id").and_then(Value::as_str)).map(str::to_string).collect()
        }
        _ => Vec::new(),
    };
    let hours =
        body.pointer("/spec/duration/duration_hours").and_then(Value::as_u64).and_then(|h| u32::try_from(h).ok());
    let description = spec.get("description").and_then(Value::as_str).unwrap_or_default();
    let turn = risk_narrative::intake::intent_turn(intent, description, &accounts, hours)
        .map_err(|e| ApiError::field("spec.task_intent", e.0))?;
    let Some(draft) = turn.draft else {
        let mut errors: Vec<FieldError> = turn
            .questions
            .iter()
            .filter(|q| q.topic == risk_narrative::intake::Topic::Resources)
            .map(|q| FieldError {
                path: format!(
                    "spec.task_intent.{}.{}",
                    q.service.as_deref().unwrap_or(""),
                    q.level.as_deref().unwrap_or("")
                ),
                message: format!(
                    "needs the resource ARNs, one of: {}",
                    q.arn_formats.iter().map(|f| f.arn.as_str()).collect::<Vec<_>>().join(", ")
                ),
            })
            .collect();
        errors.extend(turn.notes.iter().map(|n| FieldError { path: "spec.task_intent".into(), message: n.clone() }));
        if errors.is_empty() {
            errors.push(FieldError {
                path: "spec.task_intent".into(),
                message: "asks for nothing the writer can grant".into(),
            });
        }
        let detail = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ");
        return Err(ApiError::invalid(detail, errors));
    };
    let mut drafted = body.clone();
    if let Some(spec) = drafted.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("task_intent");
        spec.insert("policy".into(), draft.policy.clone());
    }
    let shown = json!({
        "template": turn.template,
        "policy": draft.policy,
        "warnings": draft.warnings,
        "spec": drafted["spec"],
    });
    Ok(Some((drafted, shown)))
}

/// `POST /requests/preview`: validate and score, store nothing. A `spec.task_intent` is drafted
/// into `spec.policy` first, and the answer carries the `draft` to confirm.
pub async fn preview(state: &AppState, caller: &Caller, body: &Value) -> ApiResult<Value> {
    let drafted = draft_task_intent(body)?;
    let body = drafted.as_ref().map_or(body, |(b, _)| b);
    let p = parse(body)?;
    check_accounts(state, &p).await?;
    let policy = active_policy(state).await?;
    check_duration(&p, &policy)?;
    trust_principal(caller, &p)?;
    let report = score(state, &p).await?;
    let rule = policy.tier_rule(&report.tier);
    let mut out = json!({
        "review": report,
        "would": {
            "quorum": rule.quorum,
            "eligible_approvers_needed": rule.quorum,
            "self_approval_allowed": rule.allow_self_approval,
            "max_duration_hours": policy.max_hours(&p.accounts),
        }
    });
    if let Some((_, shown)) = drafted {
        out["draft"] = shown;
    }
    Ok(out)
}

/// `POST /requests`: validate, score, store as pending (or break-glass active), notify; the
/// evaluator may approve at once. Returns `(request, review)`.
pub async fn submit(state: &AppState, caller: &Caller, body: &Value) -> ApiResult<(Value, Report)> {
    caller.require(Role::Requester)?;
    let p = parse(body)?;
    check_accounts(state, &p).await?;
    let policy = active_policy(state).await?;
    check_duration(&p, &policy)?;
    let principal = trust_principal(caller, &p)?;
    if p.break_glass_reason.is_some() && !policy.break_glass.enabled {
        return Err(ApiError::forbidden("break-glass access is disabled by the approval policy"));
    }
    let report = score(state, &p).await?;
    let now = state.now();
    let id = new_id("req-");
    let mut dur = duration_ms(&p);
    if p.break_glass_reason.is_some() {
        dur = dur.min(i64::from(policy.break_glass.max_hours) * HOUR_MS);
    }
    let review_json = serde_json::to_string(&report).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut w = state.store.write().await?;
    sqlx::query(
        "INSERT INTO requests (id, owner, name, state, version, revision, spec, risk_score, tier, accounts, duration_ms, break_glass_reason, review_required, created_at, updated_at, pending_until) \
         VALUES ($1, $2, $3, 'pending', 1, 1, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
    )
    .bind(&id)
    .bind(caller.id())
    .bind(p.name.clone())
    .bind(p.spec.to_string())
    .bind(i64::from(report.score))
    .bind(report.tier.clone())
    .bind(json!(p.accounts).to_string())
    .bind(dur)
    .bind(p.break_glass_reason.clone())
    .bind(i64::from(p.break_glass_reason.is_some()))
    .bind(now)
    .bind(now + i64::from(policy.pending_expiry_hours) * HOUR_MS)
    .execute(&mut *w.tx)
    .await?;
    sqlx::query("INSERT INTO request_revisions (request_id, revision, spec, review, author, created_at) VALUES ($1, 1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(p.spec.to_string())
        .bind(&review_json)
        .bind(caller.id())
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    audit::append(
        &mut w,
        caller.id(),
        "request.submitted",
        &id,
        json!({
            "revision": 1, "risk_score": report.score, "tier": report.tier,
            "policy_fingerprint": report.policy_fingerprint, "accounts": p.accounts,
            "break_glass": p.break_glass_reason, "trust_principal": principal,
        }),
    )
    .await?;
    let mut s = lock(&mut w, &id).await?;
    let mut approve_now = false;
    if let Some(reason) = &p.break_glass_reason {
        transition(&mut w, &s, caller.id(), "approved", Some("break-glass"), &[("approved_at", json!(now))]).await?;
        crate::jobs::enqueue(&mut w, &id, "provision", None, caller.id(), Some("break-glass"), false, now).await?;
        audit::append(
            &mut w,
            caller.id(),
            "request.break_glass",
            &id,
            json!({"reason": reason, "max_hours": policy.break_glass.max_hours}),
        )
        .await?;
        notify::enqueue(&mut w, state, "request.break_glass", &s, Some(reason)).await?;
        approve_now = true;
    } else {
        notify::enqueue(&mut w, state, "request.submitted", &s, None).await?;
        if policy.auto_approval.enabled {
            let hour_ago = now - HOUR_MS;
            let used: i64 = sqlx::query(
                "SELECT COUNT(*) FROM requests WHERE owner = $1 AND auto_approved = 1 AND approved_at >= $2",
            )
            .bind(caller.id())
            .bind(hour_ago)
            .fetch_one(&mut *w.tx)
            .await?
            .get(0);
            let hours = dur as f64 / HOUR_MS as f64;
            let verdict = policy.evaluate(&report, p.access_type.as_str(), hours, &p.accounts, used as u32);
            let (would, reasons) = match &verdict {
                Ok(()) => (true, Vec::new()),
                Err(r) => (false, r.clone()),
            };
            if policy.auto_approval.shadow {
                audit::append(
                    &mut w,
                    "evaluator:auto",
                    "auto_approval.shadow",
                    &id,
                    json!({"would_approve": would, "reasons": reasons}),
                )
                .await?;
            } else if would {
                s = lock(&mut w, &id).await?;
                sqlx::query("INSERT INTO approvals (request_id, round, approver, self_approval, comment, created_at) VALUES ($1, 'r1', 'evaluator:auto', 0, $2, $3)")
                    .bind(&id)
                    .bind("auto-approved by the evaluator")
                    .bind(now)
                    .execute(&mut *w.tx)
                    .await?;
                transition(
                    &mut w,
                    &s,
                    "evaluator:auto",
                    "approved",
                    Some("auto-approved"),
                    &[("approved_at", json!(now)), ("auto_approved", json!(1))],
                )
                .await?;
                crate::jobs::enqueue(&mut w, &id, "provision", None, "evaluator:auto", None, false, now).await?;
                approve_now = true;
            } else {
                audit::append(&mut w, "evaluator:auto", "auto_approval.declined", &id, json!({"reasons": reasons}))
                    .await?;
            }
        }
    }
    w.commit().await?;
    if approve_now {
        crate::jobs::kick(state, &id, "provision").await?;
    }
    Ok((view(state, &id).await?, report))
}

/// `PATCH /requests/{id}`: the owner edits a pending or needs-changes request. A new revision
/// is scored; approvals of the old revision no longer count.
pub async fn edit(state: &AppState, caller: &Caller, id: &str, body: &Value) -> ApiResult<(Value, Report)> {
    let mut body = body.clone();
    let expected = body
        .as_object_mut()
        .and_then(|o| o.remove("version"))
        .map(|v| v.as_i64().ok_or_else(|| ApiError::field("version", "must be an integer")));
    let expected = expected.transpose()?;
    let p = parse(&body)?;
    check_accounts(state, &p).await?;
    if p.break_glass_reason.is_some() {
        return Err(ApiError::field(
            "spec.break_glass",
            "an existing request cannot become break-glass; submit a new one",
        ));
    }
    let policy = active_policy(state).await?;
    check_duration(&p, &policy)?;
    trust_principal(caller, &p)?;
    let report = score(state, &p).await?;
    let (mut w, s) = open_locked(state, caller, id).await?;
    if s.owner != caller.id() {
        return Err(ApiError::forbidden("only the requester can edit a request"));
    }
    if !matches!(s.state.as_str(), "pending" | "needs_changes") {
        return Err(ApiError::conflict(format!("a {} request cannot be edited", s.state)));
    }
    check_version(&s, expected)?;
    let rev = s.revision + 1;
    let now = state.now();
    sqlx::query("INSERT INTO request_revisions (request_id, revision, spec, review, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(rev)
        .bind(p.spec.to_string())
        .bind(serde_json::to_string(&report).unwrap_or_default())
        .bind(caller.id())
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    update(
        &mut w,
        &s,
        &[
            ("state", json!("pending")),
            ("state_reason", Value::Null),
            ("revision", json!(rev)),
            ("spec", json!(p.spec.to_string())),
            ("risk_score", json!(report.score)),
            ("tier", json!(report.tier)),
            ("accounts", json!(json!(p.accounts).to_string())),
            ("duration_ms", json!(duration_ms(&p))),
            ("name", p.name.clone().map(Value::String).unwrap_or(Value::Null)),
        ],
    )
    .await?;
    audit::append(
        &mut w,
        caller.id(),
        "request.edited",
        id,
        json!({"revision": rev, "risk_score": report.score, "tier": report.tier, "policy_fingerprint": report.policy_fingerprint, "from": s.state}),
    )
    .await?;
    notify_current(&mut w, state, id, "request.edited", None).await?;
    w.commit().await?;
    Ok((view(state, id).await?, report))
}

/// The caller's standing to decide on `s` (approve, reject, ask for changes, review).
fn check_decider(caller: &Caller, s: &Stored, policy: &ApprovalPolicy, allow_owner: bool) -> ApiResult<bool> {
    caller.require(Role::Approver)?;
    if !policy.may_approve(&caller.user, &s.tier, &s.accounts) {
        return Err(ApiError::forbidden(format!(
            "you are not in an approver group for {} risk on account(s) {}",
            s.tier,
            s.accounts.join(", ")
        )));
    }
    let own = s.owner == caller.id();
    if own && !allow_owner {
        return Err(ApiError::forbidden("you cannot decide on your own request"));
    }
    Ok(own)
}

/// `POST /requests/{id}/approve`.
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    id: &str,
    comment: Option<String>,
    expected: Option<i64>,
) -> ApiResult<Value> {
    let (policy, mut w, s) = open(state, caller, id).await?;
    // Who may decide is checked before what state the request is in: an approver out of
    // scope learns nothing about the request's progress.
    let rule = policy.tier_rule(&s.tier);
    let own = check_decider(caller, &s, &policy, rule.allow_self_approval)?;
    let extension = s.state == "active" && s.extension.is_some();
    if s.state != "pending" && !extension {
        return Err(ApiError::conflict(format!("a {} request cannot be approved", s.state)));
    }
    check_version(&s, expected)?;
    let round = round_for(&s);
    let already = sqlx::query("SELECT approver FROM approvals WHERE request_id = $1 AND round = $2 AND approver = $3")
        .bind(id)
        .bind(&round)
        .bind(caller.id())
        .fetch_optional(&mut *w.tx)
        .await?;
    if already.is_some() {
        return Err(ApiError::conflict("you have already approved this revision"));
    }
    let now = state.now();
    sqlx::query("INSERT INTO approvals (request_id, round, approver, self_approval, comment, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(&round)
        .bind(caller.id())
        .bind(i64::from(own))
        .bind(comment.clone())
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    // An approval counts while its approver may still give it: one who was disabled, deleted or
    // moved out of the approver group since no longer makes up the quorum.
    let approvers: Vec<String> = sqlx::query("SELECT approver FROM approvals WHERE request_id = $1 AND round = $2")
        .bind(id)
        .bind(&round)
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut have: i64 = 0;
    for a in &approvers {
        if approval_counts(&mut w.tx, &s, &policy, a).await? {
            have += 1;
        }
    }
    audit::append(
        &mut w,
        caller.id(),
        if own { "request.self_approved" } else { "request.approval_recorded" },
        id,
        json!({"round": round, "have": have, "required": rule.quorum, "comment": comment}),
    )
    .await?;
    let met = have >= i64::from(rule.quorum);
    let mut provision_now = false;
    let mut extend_now = false;
    if extension {
        if met {
            let ext = s.extension.clone().unwrap_or(Value::Null);
            let add = ext.get("hours").and_then(Value::as_i64).unwrap_or(0) * HOUR_MS;
            let new_expiry = s.expires_at.unwrap_or(now) + add;
            update(
                &mut w,
                &s,
                &[
                    ("extension", Value::Null),
                    ("expires_at", json!(new_expiry)),
                    ("expiry_warned", json!(0)),
                    ("duration_ms", json!(s.duration_ms + add)),
                ],
            )
            .await?;
            audit::append(
                &mut w,
                caller.id(),
                "request.extended",
                id,
                json!({"hours": ext.get("hours"), "expires_at": fmt_ts(new_expiry)}),
            )
            .await?;
            notify_current(&mut w, state, id, "request.extended", None).await?;
            // The role's trust and its expiry Deny carry the old end: a job moves them.
            crate::jobs::enqueue(&mut w, id, "extend", None, caller.id(), None, false, now).await?;
            extend_now = true;
        } else {
            update(&mut w, &s, &[]).await?;
        }
    } else if met {
        transition(&mut w, &s, caller.id(), "approved", None, &[("approved_at", json!(now))]).await?;
        notify_current(&mut w, state, id, "request.approved", comment.as_deref()).await?;
        crate::jobs::enqueue(&mut w, id, "provision", None, caller.id(), None, false, now).await?;
        provision_now = true;
    } else {
        update(&mut w, &s, &[]).await?;
    }
    w.commit().await?;
    if provision_now {
        crate::jobs::kick(state, id, "provision").await?;
    }
    if extend_now {
        crate::jobs::kick(state, id, "extend").await?;
    }
    view(state, id).await
}

/// `POST /requests/{id}/reject` (a pending request, or a pending extension of an active one).
pub async fn reject(
    state: &AppState,
    caller: &Caller,
    id: &str,
    comment: Option<String>,
    expected: Option<i64>,
) -> ApiResult<Value> {
    let (policy, mut w, s) = open(state, caller, id).await?;
    check_decider(caller, &s, &policy, false)?;
    check_version(&s, expected)?;
    if s.state == "active" && s.extension.is_some() {
        update(&mut w, &s, &[("extension", Value::Null)]).await?;
        audit::append(&mut w, caller.id(), "request.extension_rejected", id, json!({"comment": comment})).await?;
        notify_current(&mut w, state, id, "request.extension_rejected", comment.as_deref()).await?;
    } else if matches!(s.state.as_str(), "pending" | "needs_changes") {
        transition(&mut w, &s, caller.id(), "rejected", comment.as_deref(), &[("ended_at", json!(state.now()))])
            .await?;
        add_comment(&mut w, id, caller.id(), "rejection", comment.as_deref().unwrap_or(""), None).await?;
        notify_current(&mut w, state, id, "request.rejected", comment.as_deref()).await?;
    } else {
        return Err(ApiError::conflict(format!("a {} request cannot be rejected", s.state)));
    }
    w.commit().await?;
    view(state, id).await
}

/// `POST /requests/{id}/request-changes`: back to the requester with a comment and suggested
/// constraints.
pub async fn request_changes(
    state: &AppState,
    caller: &Caller,
    id: &str,
    comment: String,
    suggested: Option<Value>,
    expected: Option<i64>,
) -> ApiResult<Value> {
    let (policy, mut w, s) = open(state, caller, id).await?;
    check_decider(caller, &s, &policy, false)?;
    check_version(&s, expected)?;
    if s.state != "pending" {
        return Err(ApiError::conflict(format!(
            "changes can be asked for on a pending request, not a {} one",
            s.state
        )));
    }
    transition(&mut w, &s, caller.id(), "needs_changes", Some(&comment), &[]).await?;
    add_comment(&mut w, id, caller.id(), "changes_requested", &comment, suggested.clone()).await?;
    notify_current(&mut w, state, id, "request.changes_requested", Some(&comment)).await?;
    w.commit().await?;
    view(state, id).await
}

/// `POST /requests/{id}/cancel`: the owner (or an admin) withdraws a request not yet active.
pub async fn cancel(state: &AppState, caller: &Caller, id: &str, reason: Option<String>) -> ApiResult<Value> {
    let (mut w, s) = open_locked(state, caller, id).await?;
    if s.owner != caller.id() && !caller.has(Role::Admin) {
        return Err(ApiError::forbidden("only the requester or an admin can cancel a request"));
    }
    if !matches!(s.state.as_str(), "pending" | "needs_changes" | "approved" | "provisioning_failed") {
        return Err(ApiError::conflict(format!(
            "a {} request cannot be cancelled{}",
            s.state,
            if s.state == "active" { "; revoke it instead" } else { "" }
        )));
    }
    let now = state.now();
    transition(&mut w, &s, caller.id(), "cancelled", reason.as_deref(), &[("ended_at", json!(now))]).await?;
    notify_current(&mut w, state, id, "request.cancelled", reason.as_deref()).await?;
    // A failed provisioning may have created some of the roles: a clean-up job removes what
    // exists (queued in this transaction, so it is not lost if we stop now).
    let cleanup = s.state == "provisioning_failed";
    if cleanup {
        crate::jobs::enqueue(&mut w, id, "revoke", None, caller.id(), reason.as_deref(), true, now).await?;
    }
    w.commit().await?;
    if cleanup {
        crate::jobs::kick(state, id, "revoke").await?;
    }
    view(state, id).await
}

async fn add_comment(
    w: &mut Write,
    id: &str,
    author: &str,
    kind: &str,
    body: &str,
    data: Option<Value>,
) -> ApiResult<String> {
    let cid = new_id("c-");
    sqlx::query("INSERT INTO comments (id, request_id, author, kind, body, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&cid)
        .bind(id)
        .bind(author)
        .bind(kind)
        .bind(body)
        .bind(data.map(|d| d.to_string()))
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?;
    Ok(cid)
}

/// `POST /requests/{id}/comments`.
pub async fn comment(state: &AppState, caller: &Caller, id: &str, body: String) -> ApiResult<Value> {
    let (mut w, s) = open_locked(state, caller, id).await?;
    let cid = add_comment(&mut w, id, caller.id(), "comment", &body, None).await?;
    audit::append(
        &mut w,
        caller.id(),
        "request.commented",
        id,
        json!({"comment_id": cid, "length": body.chars().count()}),
    )
    .await?;
    notify::enqueue(&mut w, state, "request.commented", &s, Some(&body)).await?;
    w.commit().await?;
    Ok(json!({"id": cid, "request_id": id, "author": caller.id(), "kind": "comment", "body": body}))
}

pub async fn comments(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Value> {
    get_visible(state, caller, id).await?;
    let rows = sqlx::query(
        "SELECT id, author, kind, body, data, created_at FROM comments WHERE request_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(&state.store.pool)
    .await?;
    Ok(json!({"comments": rows.iter().map(|r| json!({
        "id": r.get::<String, _>("id"),
        "author": r.get::<String, _>("author"),
        "kind": r.get::<String, _>("kind"),
        "body": r.get::<String, _>("body"),
        "suggested_constraints": opt_str(r, "data").and_then(|d| serde_json::from_str::<Value>(&d).ok()),
        "created_at": fmt_ts(r.get("created_at")),
    })).collect::<Vec<_>>()}))
}

/// `POST /requests/{id}/extend`: ask for more time; access continues until decided.
pub async fn extend(state: &AppState, caller: &Caller, id: &str, hours: u32, reason: String) -> ApiResult<Value> {
    let (policy, mut w, s) = open(state, caller, id).await?;
    if s.owner != caller.id() {
        return Err(ApiError::forbidden("only the requester can extend a grant"));
    }
    if s.state != "active" {
        return Err(ApiError::conflict(format!("only an active grant can be extended (this one is {})", s.state)));
    }
    if s.extension.is_some() {
        return Err(ApiError::conflict("an extension is already waiting for approval"));
    }
    if s.break_glass_reason.is_some() {
        return Err(ApiError::forbidden("break-glass grants cannot be extended; submit a regular request"));
    }
    let max = i64::from(policy.max_hours(&s.accounts)) * HOUR_MS;
    let total = s.duration_ms + i64::from(hours) * HOUR_MS;
    if total > max {
        return Err(ApiError::field(
            "hours",
            format!(
                "the grant would last {:.1} h in total, more than the {} h allowed",
                total as f64 / HOUR_MS as f64,
                max / HOUR_MS
            ),
        ));
    }
    let n = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE subject = $1 AND action = 'request.extension_requested'")
        .bind(id)
        .fetch_one(&mut *w.tx)
        .await?
        .get::<i64, _>(0)
        + 1;
    let ext = json!({"number": n, "hours": hours, "reason": reason, "requested_at": fmt_ts(state.now())});
    update(&mut w, &s, &[("extension", json!(ext.to_string()))]).await?;
    audit::append(&mut w, caller.id(), "request.extension_requested", id, ext.clone()).await?;
    notify_current(&mut w, state, id, "request.extension_requested", Some(&reason)).await?;
    w.commit().await?;
    view(state, id).await
}

/// `POST /requests/{id}/review`: the mandatory post-hoc review of a break-glass grant.
pub async fn review(state: &AppState, caller: &Caller, id: &str, comment: String) -> ApiResult<Value> {
    let (policy, mut w, s) = open(state, caller, id).await?;
    check_decider(caller, &s, &policy, false)?;
    if !s.review_required || s.reviewed_by.is_some() {
        return Err(ApiError::conflict("this request has no pending break-glass review"));
    }
    update(
        &mut w,
        &s,
        &[("reviewed_by", json!(caller.id())), ("reviewed_at", json!(state.now())), ("review_required", json!(0))],
    )
    .await?;
    add_comment(&mut w, id, caller.id(), "break_glass_review", &comment, None).await?;
    audit::append(&mut w, caller.id(), "request.break_glass_reviewed", id, json!({"comment": comment})).await?;
    w.commit().await?;
    view(state, id).await
}

/// `POST /requests/{id}/revoke`: end an active grant now (owner, admin, or an eligible approver).
pub async fn revoke(state: &AppState, caller: &Caller, id: &str, reason: Option<String>) -> ApiResult<Value> {
    let policy = active_policy(state).await?;
    let s = get_visible(state, caller, id).await?;
    let allowed = s.owner == caller.id()
        || caller.has(Role::Admin)
        || (caller.has(Role::Approver) && policy.may_approve(&caller.user, &s.tier, &s.accounts));
    if !allowed {
        return Err(ApiError::forbidden("only the requester, an admin or an eligible approver can revoke"));
    }
    if !matches!(s.state.as_str(), "active" | "provisioning_failed") {
        return Err(ApiError::conflict(format!("a {} request cannot be revoked", s.state)));
    }
    // Ended by a person before its time: the revocation first denies the sessions already
    // issued, then removes the role.
    if !crate::jobs::begin_revoke(state, id, caller.id(), "revoked", reason.as_deref(), true).await? {
        return Err(ApiError::conflict("the grant is already being ended"));
    }
    crate::jobs::kick(state, id, "revoke").await?;
    view(state, id).await
}

/// `POST /requests/{id}/retry-provisioning` (admin).
pub async fn retry_provisioning(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Value> {
    caller.require(Role::Admin)?;
    let mut w = state.store.write().await?;
    let s = lock(&mut w, id).await?;
    if s.state != "provisioning_failed" {
        return Err(ApiError::conflict(format!(
            "only a provisioning_failed request can be retried (this one is {})",
            s.state
        )));
    }
    transition(&mut w, &s, caller.id(), "approved", Some("retry"), &[]).await?;
    crate::jobs::enqueue(&mut w, id, "provision", None, caller.id(), Some("retry"), false, state.now()).await?;
    w.commit().await?;
    crate::jobs::kick(state, id, "provision").await?;
    view(state, id).await
}

/// Whether the grant's roles trust the hub (the owner has no AWS principal of their own and
/// named no `assume_by`): then the owner gets credentials through the service.
pub fn brokered(s: &Stored) -> bool {
    s.spec.pointer("/assume_by/principal_arn").is_none() && !s.owner.starts_with("iam:")
}

/// `POST /requests/{id}/credentials`: short-lived credentials for the owner of an active grant
/// whose roles trust the hub — the hub assumes the role with the owner's source identity. The
/// session lasts at most an hour (STS's floor is 15 minutes; the grant's own time conditions
/// end it at the grant's end either way).
pub async fn credentials(state: &AppState, caller: &Caller, id: &str, account: Option<String>) -> ApiResult<Value> {
    let s = get_visible(state, caller, id).await?;
    if s.owner != caller.id() {
        return Err(ApiError::forbidden("only the requester receives a grant's credentials"));
    }
    if s.state != "active" {
        return Err(ApiError::conflict(format!("the request is {}, not active", s.state)));
    }
    if !brokered(&s) {
        return Err(ApiError::conflict(
            "this grant's roles trust your own AWS principal: assume them with your own credentials (GET /api/v1/requests/{id}/assume)",
        ));
    }
    if state.provisioner.name() != "aws" {
        return Err(ApiError::conflict(format!(
            "the {} provisioner creates no role in AWS, so there are no credentials to hand out",
            state.provisioner.name()
        )));
    }
    let account = match account {
        Some(a) if s.accounts.contains(&a) => a,
        Some(a) => {
            return Err(ApiError::field(
                "account_id",
                format!("the grant is not for account {a} (it is for {})", s.accounts.join(", ")),
            ))
        }
        None if s.accounts.len() == 1 => s.accounts[0].clone(),
        None => {
            return Err(ApiError::field(
                "account_id",
                format!("the grant spans {} accounts ({}): name one", s.accounts.len(), s.accounts.join(", ")),
            ))
        }
    };
    let now = state.now();
    let remaining_s = (s.expires_at.unwrap_or(now) - now) / 1000;
    if remaining_s < 60 {
        return Err(ApiError::conflict("the grant ends in less than a minute"));
    }
    let seconds = remaining_s.clamp(900, 3600) as i32;
    let steps = crate::provision::Steps { store: state.store.clone(), request_id: s.id.clone() };
    let creds = state
        .provisioner
        .credentials(&account, &s.id, &crate::provision::source_identity(&s.owner), seconds, &steps)
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_GATEWAY, "provisioner", e))?;
    // The credentials leave the service only after their audit record is committed: if the
    // append fails, the caller gets the error and never sees them (the STS call itself is
    // already in the audit as a `grant.step`).
    audit::append_now(
        &state.store,
        caller.id(),
        "request.credentials_issued",
        id,
        json!({"account_id": account, "expiration": creds["expiration"]}),
    )
    .await?;
    Ok(creds)
}

/// The assume-role instructions of an active grant.
pub async fn assume_instructions(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Value> {
    let s = get_visible(state, caller, id).await?;
    if s.state != "active" {
        return Err(ApiError::conflict(format!("the request is {}, not active", s.state)));
    }
    // The same value the trust policy demands as `sts:SourceIdentity`.
    let session = crate::provision::source_identity(&s.owner);
    // Roles that trust the hub are used through POST …/credentials, not assumed directly.
    let brokered = brokered(&s);
    let expires = s.expires_at.map(fmt_ts);
    let roles: Vec<Value> = s
        .accounts
        .iter()
        .map(|a| {
            let arn = crate::provision::role_arn(a, &s.id);
            let cli = format!("aws sts assume-role --role-arn {arn} --role-session-name {session} --source-identity {session}");
            json!({
                "account_id": a,
                "role_arn": arn,
                "expires_at": expires,
                "source_identity": session,
                "cli": cli,
                "env": format!(
                    "eval \"$({cli} --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text | \
                     awk '{{print \"export AWS_ACCESS_KEY_ID=\" $1 \"; export AWS_SECRET_ACCESS_KEY=\" $2 \"; export AWS_SESSION_TOKEN=\" $3}}')\""
                ),
                "profile": format!("[profile iam-jit-{a}]\nrole_arn = {arn}\nsource_profile = default\nrole_session_name = {session}\nsource_identity = {session}\n"),
                "console_url": format!(
                    "https://signin.aws.amazon.com/switchrole?account={a}&roleName=iam-jit%2F{}&displayName={}",
                    crate::provision::role_name(&s.id),
                    format!("iam-jit-{}", s.id).chars().take(64).collect::<String>()
                ),
                "console_note": "the console's switch-role cannot set a source identity, which this role's trust policy requires: use the CLI, the profile or the environment snippet",
                "brokered": brokered,
            })
        })
        .collect();
    Ok(json!({"request_id": s.id, "roles": roles}))
}

// ---------------------------------------------------------------------------------------------
// Listing and history
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub state: Option<String>,
    pub owner: Option<String>,
    pub account: Option<String>,
    pub tier: Option<String>,
    pub review_required: Option<bool>,
    pub mine: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn list(state: &AppState, caller: &Caller, q: &ListQuery) -> ApiResult<Value> {
    let mut sql = format!("SELECT {COLS} FROM requests WHERE 1 = 1");
    let mut args: Vec<String> = Vec::new();
    fn add(args: &mut Vec<String>, sql: &mut String, clause: &str, v: String) {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    }
    if let Some(st) = &q.state {
        for s in st.split(',') {
            if !STATES.contains(&s) {
                return Err(ApiError::field("state", format!("unknown state `{s}`; one of {}", STATES.join(", "))));
            }
        }
        let list: Vec<String> = st.split(',').map(str::to_string).collect();
        let mut placeholders = Vec::new();
        for s in list {
            args.push(s);
            placeholders.push(format!("${}", args.len()));
        }
        sql.push_str(&format!(" AND state IN ({})", placeholders.join(", ")));
    }
    let owner = if !caller.has(Role::Approver) || q.mine == Some(true) {
        Some(caller.id().to_string())
    } else {
        q.owner.clone()
    };
    if let Some(o) = owner {
        add(&mut args, &mut sql, " AND owner = ?", o);
    }
    if let Some(t) = &q.tier {
        if !approval::TIERS.contains(&t.as_str()) {
            return Err(ApiError::field("tier", "must be low, medium or high"));
        }
        add(&mut args, &mut sql, " AND tier = ?", t.clone());
    }
    if let Some(a) = &q.account {
        if !valid_account(a) {
            return Err(ApiError::field("account", "must be a 12-digit account id"));
        }
        add(&mut args, &mut sql, " AND accounts LIKE ?", format!("%\"{a}\"%"));
    }
    if let Some(r) = q.review_required {
        sql.push_str(if r { " AND review_required = 1" } else { " AND review_required = 0" });
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1-200"));
    }
    let offset = q.offset.unwrap_or(0);
    if !(0..=1_000_000).contains(&offset) {
        return Err(ApiError::field("offset", "must be 0 or more"));
    }
    sql.push_str(&format!(" ORDER BY risk_score DESC, created_at DESC, id LIMIT {} OFFSET {offset}", limit + 1));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for a in args {
        query = query.bind(a);
    }
    let rows = query.fetch_all(&state.store.pool).await?;
    let more = rows.len() as i64 > limit;
    let mut conn = state.store.pool.acquire().await?;
    let (_, policy) = approval::active(&mut conn).await?;
    let mut items = Vec::new();
    for r in rows.iter().take(limit as usize) {
        let s = from_row(r);
        let a = counted(&mut conn, &s, &policy).await?;
        items.push(to_json(&s, &a, &policy));
    }
    Ok(
        json!({"requests": items, "limit": limit, "offset": offset, "next_offset": if more { Some(offset + limit) } else { None }}),
    )
}

/// Revisions (with their stored v1 reviews) and the audit records of one request.
pub async fn history(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Value> {
    get_visible(state, caller, id).await?;
    let revs = sqlx::query("SELECT revision, spec, review, author, created_at FROM request_revisions WHERE request_id = $1 ORDER BY revision")
        .bind(id)
        .fetch_all(&state.store.pool)
        .await?;
    let revisions: Vec<Value> = revs
        .iter()
        .map(|r| {
            json!({
                "revision": r.get::<i64, _>("revision"),
                "author": r.get::<String, _>("author"),
                "created_at": fmt_ts(r.get("created_at")),
                "spec": serde_json::from_str::<Value>(&r.get::<String, _>("spec")).unwrap_or(Value::Null),
                "review": serde_json::from_str::<Value>(&r.get::<String, _>("review")).unwrap_or(Value::Null),
            })
        })
        .collect();
    let events = audit::list(
        &state.store,
        &audit::Filter { subject: Some(id.to_string()), limit: 10_000, ..Default::default() },
    )
    .await?;
    Ok(json!({"request_id": id, "revisions": revisions, "events": events}))
}

/// The review (v1 report) of the current revision.
pub async fn current_review(state: &AppState, s: &Stored) -> ApiResult<Value> {
    let r = sqlx::query("SELECT review FROM request_revisions WHERE request_id = $1 AND revision = $2")
        .bind(&s.id)
        .bind(s.revision)
        .fetch_one(&state.store.pool)
        .await?;
    Ok(serde_json::from_str(&r.get::<String, _>(0)).unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------

/// The ids `sql` selects, its one parameter bound to `t` (a time).
async fn ids(state: &AppState, sql: &'static str, t: i64) -> ApiResult<Vec<String>> {
    Ok(sqlx::query(sql).bind(t).fetch_all(&state.store.pool).await?.iter().map(|r| r.get(0)).collect())
}

/// One pass: expire due grants (queueing the revocation of their roles), expire stale pending
/// requests, warn owners of grants ending within `expiry_warning_minutes`, then run the due
/// provisioning and revocation jobs (new ones, retries after a backoff, and the jobs of a
/// replica that crashed holding them). Returns the number of requests it moved to a new state.
pub async fn sweep(state: &AppState) -> ApiResult<usize> {
    let now = state.now();
    let mut changed = 0;
    let due = ids(
        state,
        "SELECT id FROM requests WHERE state = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT 100",
        now,
    )
    .await?;
    for id in due {
        // Checked again under the row lock: another replica may have begun it already. The
        // revocation job it queues runs below, and counts when it records `expired`.
        crate::jobs::begin_revoke(state, &id, "system:expiry", "expired", Some("the grant's time is up"), false)
            .await?;
    }
    let stale = ids(
        state,
        "SELECT id FROM requests WHERE state IN ('pending', 'needs_changes') AND pending_until <= $1 LIMIT 100",
        now,
    )
    .await?;
    for id in stale {
        let mut w = state.store.write().await?;
        let s = lock(&mut w, &id).await?;
        if matches!(s.state.as_str(), "pending" | "needs_changes") && s.pending_until.is_some_and(|t| t <= now) {
            transition(
                &mut w,
                &s,
                "system:expiry",
                "expired",
                Some("not decided before the pending time ran out"),
                &[("ended_at", json!(now))],
            )
            .await?;
            notify_current(&mut w, state, &id, "request.expired", Some("not decided in time")).await?;
            changed += 1;
        }
        w.commit().await?;
    }
    let lead = i64::from(state.config.expiry_warning_minutes) * 60_000;
    let soon = ids(
        state,
        "SELECT id FROM requests WHERE state = 'active' AND expiry_warned = 0 AND expires_at <= $1",
        now + lead,
    )
    .await?;
    for id in soon {
        let mut w = state.store.write().await?;
        let s = lock(&mut w, &id).await?;
        // Under the row lock, read again what the list was chosen by: another replica's sweep
        // may have warned (or an extension moved the expiry) since.
        let warned: i64 = sqlx::query("SELECT expiry_warned FROM requests WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *w.tx)
            .await?
            .get(0);
        if s.state == "active" && warned == 0 && s.expires_at.is_some_and(|t| t <= now + lead) {
            update(&mut w, &s, &[("expiry_warned", json!(1))]).await?;
            notify::enqueue(&mut w, state, "request.expiring", &s, None).await?;
        }
        w.commit().await?;
    }
    // Provisioning and revocation jobs that are due: new ones, ones whose attempt failed and
    // whose backoff is over, and ones a crashed replica held (their lease ran out).
    changed += crate::jobs::run_due(state).await?;
    Ok(changed)
}
