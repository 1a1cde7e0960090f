//! Admin reports — grants, activity, approvals, risk distribution, users — as JSON or CSV.
//!
//! Every query is portable SQL: the same text runs on SQLite and PostgreSQL through sqlx's
//! `any` driver (`$n` placeholders, BIGINT millisecond timestamps, no dialect functions).
//! What the two dialects would spell differently — dates, JSON lists, medians and
//! percentiles — is computed here in Rust.
//!
//! CSV follows RFC 4180: a header row, CRLF between records, a field quoted when it holds a
//! comma, a double quote, CR or LF, and quotes inside doubled. Cells of user-controlled text
//! (names, reasons, user ids, groups) that start with `=`, `+`, `-`, `@`, tab or CR get a
//! leading `'`, so a spreadsheet shows them as text instead of running them as formulas.

use crate::api::Q;
use crate::db::{opt_i64, opt_str, Store};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::identity::{self, Caller, Role};
use crate::requests::STATES;
use crate::util::{fmt_ts, now_ms};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

const DAY_MS: i64 = 86_400_000;
const TIERS: [&str; 3] = crate::approval::TIERS;

/// The `state` parameter's pattern: a comma-separated list of request states. A unit test
/// checks that it names exactly [`STATES`].
pub const STATE_LIST_PATTERN: &str = "^(pending|needs_changes|approved|provisioning|active|revoking|expired|revoked|rejected|cancelled|provisioning_failed)(,(pending|needs_changes|approved|provisioning|active|revoking|expired|revoked|rejected|cancelled|provisioning_failed))*$";

/// The report's representation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `application/json` (the default).
    #[default]
    Json,
    /// `text/csv; charset=utf-8`, RFC 4180, one header row.
    Csv,
}

/// The query string of every report. Unknown parameters are refused with a 400 naming them.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// From this time, inclusive (RFC 3339, e.g. `2026-11-01T00:00:00Z`). The time compared
    /// depends on the report (see its description).
    #[param(format = DateTime, example = "2026-11-01T00:00:00Z")]
    pub since: Option<String>,
    /// Until this time, exclusive (RFC 3339).
    #[param(format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub until: Option<String>,
    /// Only requests touching this AWS account (12 digits).
    #[param(pattern = r"^[0-9]{12}$", example = "111122223333")]
    pub account: Option<String>,
    /// Only this user — the requester (grants, approvals, risk-distribution), the actor
    /// (activity: also `system:…` and `evaluator:auto`), or the one user listed (users) — as
    /// `email:…`, `iam:arn:…` or a bare e-mail address.
    #[param(example = "email:alice@example.com")]
    pub user: Option<String>,
    /// Only requests in these states (comma-separated). Not accepted by the activity report.
    #[param(
        pattern = "^(pending|needs_changes|approved|provisioning|active|revoking|expired|revoked|rejected|cancelled|provisioning_failed)(,(pending|needs_changes|approved|provisioning|active|revoking|expired|revoked|rejected|cancelled|provisioning_failed))*$",
        example = "active,expired"
    )]
    pub state: Option<String>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<Format>,
}

/// Which report a query is for (filters that do not apply are refused, not ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Grants,
    Activity,
    Approvals,
    RiskDistribution,
    Users,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Grants => "grants",
            Kind::Activity => "activity",
            Kind::Approvals => "approvals",
            Kind::RiskDistribution => "risk-distribution",
            Kind::Users => "users",
        }
    }
}

/// The filters a report applied, normalised (echoed in every JSON report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Filters {
    pub since: Option<String>,
    pub until: Option<String>,
    pub account: Option<String>,
    pub user: Option<String>,
    pub states: Vec<String>,
    #[serde(skip)]
    pub since_ms: Option<i64>,
    #[serde(skip)]
    pub until_ms: Option<i64>,
}

fn parse_time(s: &str) -> Option<i64> {
    // Strict RFC 3339 (no surrounding blanks): what the OpenAPI `date-time` format promises.
    OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A user filter: `email:…` and `iam:…` ids are normalised as everywhere else, a bare e-mail
/// address means `email:` it, and `system:…` / `evaluator:…` name the service's own actors.
pub fn normalise_user(raw: &str) -> Result<String, String> {
    if raw.starts_with("system:") || raw.starts_with("evaluator:") {
        let ok =
            raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) && raw.len() > 7;
        return if ok { Ok(raw.to_string()) } else { Err(format!("`{raw}` is not a valid system actor")) };
    }
    if !raw.starts_with("email:") && !raw.starts_with("iam:") && raw.contains('@') {
        return identity::normalise_user_id(&format!("email:{raw}"));
    }
    identity::normalise_user_id(raw)
}

impl Filters {
    /// Validate a report's query; every problem is reported at once (422), each with its field.
    pub fn parse(q: &ReportQuery, kind: Kind) -> ApiResult<Filters> {
        let mut errs = Vec::new();
        let mut err = |path: &str, message: String| errs.push(FieldError { path: path.into(), message });
        let mut f = Filters::default();
        for (name, v, out) in [("since", &q.since, &mut f.since_ms), ("until", &q.until, &mut f.until_ms)] {
            if let Some(v) = v {
                match parse_time(v) {
                    Some(ms) => *out = Some(ms),
                    None => err(name, format!("`{v}` is not an RFC 3339 time such as 2026-11-01T00:00:00Z")),
                }
            }
        }
        if let (Some(s), Some(u)) = (f.since_ms, f.until_ms) {
            if s >= u {
                err("until", "must be later than since".into());
            }
        }
        f.since = f.since_ms.map(fmt_ts);
        f.until = f.until_ms.map(fmt_ts);
        if let Some(a) = &q.account {
            if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
                f.account = Some(a.clone());
            } else {
                err("account", format!("`{a}` is not a 12-digit AWS account id"));
            }
        }
        if let Some(u) = &q.user {
            match normalise_user(u) {
                Ok(u) => f.user = Some(u),
                Err(m) => err("user", m),
            }
        }
        if let Some(st) = &q.state {
            if kind == Kind::Activity {
                err(
                    "state",
                    "the activity report summarises audit records, which have no state; filter with since, until, account or user".into(),
                );
            } else {
                let mut seen = BTreeSet::new();
                for s in st.split(',') {
                    if !STATES.contains(&s) {
                        err("state", format!("unknown state `{s}`; one or more of {}", STATES.join(", ")));
                    } else if seen.insert(s) {
                        f.states.push(s.to_string());
                    }
                }
            }
        }
        if errs.is_empty() {
            Ok(f)
        } else {
            let detail = if errs.len() == 1 {
                format!("{}: {}", errs[0].path, errs[0].message)
            } else {
                format!("the {} report's query has {} problems; see errors", kind.name(), errs.len())
            };
            Err(ApiError::invalid(detail, errs))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Portable SQL with positional arguments
// ---------------------------------------------------------------------------------------------

enum Arg {
    Int(i64),
    Text(String),
}

/// A query under construction: text with `$n` placeholders and its arguments, in order.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn new(text: impl Into<String>) -> Sql {
        Sql { text: text.into(), args: Vec::new() }
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Add an argument; returns its placeholder.
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn and(&mut self, clause: impl FnOnce(&str) -> String, a: Arg) {
        let p = self.arg(a);
        self.text.push_str(" AND ");
        self.text.push_str(&clause(&p));
    }

    /// Filters on requests aliased `r`: time window on `time_col` (if any), account, owner,
    /// states.
    fn requests(&mut self, f: &Filters, time_col: Option<&str>, owner: bool) {
        if let Some(col) = time_col {
            if let Some(s) = f.since_ms {
                self.and(|p| format!("{col} >= {p}"), Arg::Int(s));
            }
            if let Some(u) = f.until_ms {
                self.and(|p| format!("{col} < {p}"), Arg::Int(u));
            }
        }
        if let Some(a) = &f.account {
            // `accounts` is a JSON list of quoted 12-digit ids; the id is validated digits, so
            // the pattern needs no escaping.
            self.and(|p| format!("r.accounts LIKE {p}"), Arg::Text(format!("%\"{a}\"%")));
        }
        if owner {
            if let Some(u) = &f.user {
                self.and(|p| format!("r.owner = {p}"), Arg::Text(u.clone()));
            }
        }
        if !f.states.is_empty() {
            let ps: Vec<String> = f.states.iter().map(|s| self.arg(Arg::Text(s.clone()))).collect();
            self.push(&format!(" AND r.state IN ({})", ps.join(", ")));
        }
    }

    async fn fetch_all(self, store: &Store) -> Result<Vec<AnyRow>, sqlx::Error> {
        let mut q = sqlx::query(AssertSqlSafe(self.text));
        for a in self.args {
            q = match a {
                Arg::Int(i) => q.bind(i),
                Arg::Text(s) => q.bind(s),
            };
        }
        q.fetch_all(&store.pool).await
    }
}

fn accounts_of(r: &AnyRow) -> Vec<String> {
    opt_str(r, "accounts").and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

/// One CSV cell: user-controlled text (defused against formulas) or a value the service
/// generated (numbers, times, states, ids), written as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Plain(String),
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

fn opt_text(s: &Option<String>) -> Cell {
    Cell::Text(s.clone().unwrap_or_default())
}

fn plain(s: impl ToString) -> Cell {
    Cell::Plain(s.to_string())
}

fn opt_plain(s: &Option<String>) -> Cell {
    Cell::Plain(s.clone().unwrap_or_default())
}

/// A cell as an RFC 4180 field.
pub fn csv_field(cell: &Cell) -> String {
    let s = match cell {
        Cell::Text(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Cell::Text(s) | Cell::Plain(s) => s.clone(),
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A whole CSV document: the header row, then one record per row, CRLF after each.
pub fn csv(header: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<String>| {
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    line(&mut out, header.iter().map(|h| csv_field(&Cell::Plain((*h).to_string()))).collect());
    for r in rows {
        line(&mut out, r.iter().map(csv_field).collect());
    }
    out
}

/// A report as a table (its CSV form).
pub trait Tabular {
    fn header(&self) -> Vec<String>;
    fn rows(&self) -> Vec<Vec<Cell>>;
    fn to_csv(&self) -> String {
        let h = self.header();
        let h: Vec<&str> = h.iter().map(String::as_str).collect();
        csv(&h, &self.rows())
    }
}

// ---------------------------------------------------------------------------------------------
// Grants
// ---------------------------------------------------------------------------------------------

/// One grant: a request that was active at some point.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GrantRow {
    pub id: String,
    pub owner: String,
    pub name: Option<String>,
    pub accounts: Vec<String>,
    pub risk_score: i64,
    /// `low`, `medium` or `high`.
    pub tier: String,
    pub activated_at: String,
    pub expires_at: Option<String>,
    pub ended_at: Option<String>,
    /// The request's state now: `active` while the grant lasts, then how it ended (`expired`,
    /// `revoked`).
    pub state: String,
    pub break_glass: bool,
    pub break_glass_reason: Option<String>,
    pub auto_approved: bool,
}

/// Requests that were active at some point in `[since, until)`, in activation order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantsReport {
    pub generated_at: String,
    pub filters: Filters,
    pub count: usize,
    pub grants: Vec<GrantRow>,
}

pub async fn grants_report(store: &Store, f: &Filters) -> Result<GrantsReport, sqlx::Error> {
    let mut sql = Sql::new(
        "SELECT r.id, r.owner, r.name, r.state, r.risk_score, r.tier, r.accounts, r.break_glass_reason, \
         r.auto_approved, r.activated_at, r.expires_at, r.ended_at FROM requests r WHERE r.activated_at IS NOT NULL",
    );
    // Active at some point in the window: activated before its end, not ended before its start.
    if let Some(u) = f.until_ms {
        sql.and(|p| format!("r.activated_at < {p}"), Arg::Int(u));
    }
    if let Some(s) = f.since_ms {
        sql.and(|p| format!("(r.ended_at IS NULL OR r.ended_at >= {p})"), Arg::Int(s));
    }
    sql.requests(f, None, true);
    sql.push(" ORDER BY r.activated_at, r.id");
    let grants: Vec<GrantRow> = sql
        .fetch_all(store)
        .await?
        .iter()
        .map(|r| {
            let reason = opt_str(r, "break_glass_reason");
            GrantRow {
                id: r.get("id"),
                owner: r.get("owner"),
                name: opt_str(r, "name"),
                accounts: accounts_of(r),
                risk_score: r.get("risk_score"),
                tier: r.get("tier"),
                activated_at: fmt_ts(opt_i64(r, "activated_at").unwrap_or(0)),
                expires_at: opt_i64(r, "expires_at").map(fmt_ts),
                ended_at: opt_i64(r, "ended_at").map(fmt_ts),
                state: r.get("state"),
                break_glass: reason.is_some(),
                break_glass_reason: reason,
                auto_approved: r.get::<i64, _>("auto_approved") != 0,
            }
        })
        .collect();
    Ok(GrantsReport { generated_at: fmt_ts(now_ms()), filters: f.clone(), count: grants.len(), grants })
}

impl Tabular for GrantsReport {
    fn header(&self) -> Vec<String> {
        [
            "id",
            "owner",
            "name",
            "accounts",
            "risk_score",
            "tier",
            "activated_at",
            "expires_at",
            "ended_at",
            "state",
            "break_glass",
            "break_glass_reason",
            "auto_approved",
        ]
        .map(String::from)
        .to_vec()
    }
    fn rows(&self) -> Vec<Vec<Cell>> {
        self.grants
            .iter()
            .map(|g| {
                vec![
                    plain(&g.id),
                    text(&g.owner),
                    opt_text(&g.name),
                    plain(g.accounts.join(" ")),
                    plain(g.risk_score),
                    plain(&g.tier),
                    plain(&g.activated_at),
                    opt_plain(&g.expires_at),
                    opt_plain(&g.ended_at),
                    plain(&g.state),
                    plain(g.break_glass),
                    opt_text(&g.break_glass_reason),
                    plain(g.auto_approved),
                ]
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Activity
// ---------------------------------------------------------------------------------------------

/// Audit records of one actor and action on one day (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActivityRow {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub actor: String,
    pub action: String,
    pub count: i64,
    pub first_at: String,
    pub last_at: String,
}

/// The audit log summarised per day, actor and action (`since`/`until` compare the record's
/// time; `account` keeps records about requests touching the account).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityReport {
    pub generated_at: String,
    pub filters: Filters,
    /// Audit records summarised.
    pub records: i64,
    /// Distinct actors.
    pub actors: usize,
    pub activity: Vec<ActivityRow>,
}

pub async fn activity_report(store: &Store, f: &Filters) -> Result<ActivityReport, sqlx::Error> {
    // Integer division of non-negative BIGINTs truncates alike on both backends.
    let mut sql = Sql::new(format!(
        "SELECT l.actor, l.action, l.ts / {DAY_MS} AS day, COUNT(*) AS n, MIN(l.ts) AS first_ts, MAX(l.ts) AS last_ts \
         FROM audit_log l WHERE 1 = 1"
    ));
    if let Some(s) = f.since_ms {
        sql.and(|p| format!("l.ts >= {p}"), Arg::Int(s));
    }
    if let Some(u) = f.until_ms {
        sql.and(|p| format!("l.ts < {p}"), Arg::Int(u));
    }
    if let Some(u) = &f.user {
        sql.and(|p| format!("l.actor = {p}"), Arg::Text(u.clone()));
    }
    if let Some(a) = &f.account {
        sql.and(
            |p| format!("l.subject IN (SELECT r.id FROM requests r WHERE r.accounts LIKE {p})"),
            Arg::Text(format!("%\"{a}\"%")),
        );
    }
    sql.push(&format!(" GROUP BY l.actor, l.action, l.ts / {DAY_MS}"));
    let mut rows: Vec<(i64, ActivityRow)> = sql
        .fetch_all(store)
        .await?
        .iter()
        .map(|r| {
            let day: i64 = r.get("day");
            let date = fmt_ts(day * DAY_MS).chars().take(10).collect();
            (
                day,
                ActivityRow {
                    day: date,
                    actor: r.get("actor"),
                    action: r.get("action"),
                    count: r.get("n"),
                    first_at: fmt_ts(r.get("first_ts")),
                    last_at: fmt_ts(r.get("last_ts")),
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| (a.0, &a.1.actor, &a.1.action).cmp(&(b.0, &b.1.actor, &b.1.action)));
    let activity: Vec<ActivityRow> = rows.into_iter().map(|(_, r)| r).collect();
    let actors = activity.iter().map(|r| r.actor.as_str()).collect::<BTreeSet<_>>().len();
    Ok(ActivityReport {
        generated_at: fmt_ts(now_ms()),
        filters: f.clone(),
        records: activity.iter().map(|r| r.count).sum(),
        actors,
        activity,
    })
}

impl Tabular for ActivityReport {
    fn header(&self) -> Vec<String> {
        ["day", "actor", "action", "count", "first_at", "last_at"].map(String::from).to_vec()
    }
    fn rows(&self) -> Vec<Vec<Cell>> {
        self.activity
            .iter()
            .map(|r| {
                vec![
                    plain(&r.day),
                    text(&r.actor),
                    plain(&r.action),
                    plain(r.count),
                    plain(&r.first_at),
                    plain(&r.last_at),
                ]
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Approvals
// ---------------------------------------------------------------------------------------------

/// How a request was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// A quorum of people approved it.
    Approved,
    /// The opt-in evaluator approved it at submission.
    AutoApproved,
    /// Break-glass: active at submission, reviewed afterwards.
    BreakGlass,
    Rejected,
}

impl DecisionKind {
    pub const ALL: [DecisionKind; 4] =
        [DecisionKind::Approved, DecisionKind::AutoApproved, DecisionKind::BreakGlass, DecisionKind::Rejected];
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Approved => "approved",
            DecisionKind::AutoApproved => "auto_approved",
            DecisionKind::BreakGlass => "break_glass",
            DecisionKind::Rejected => "rejected",
        }
    }
    /// Decided by people (the latency that measures the approvers).
    pub fn by_people(self) -> bool {
        matches!(self, DecisionKind::Approved | DecisionKind::Rejected)
    }
}

/// One decided request.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApprovalRow {
    pub id: String,
    pub owner: String,
    pub tier: String,
    pub risk_score: i64,
    /// The request's state now.
    pub state: String,
    pub decision: DecisionKind,
    /// Who made the deciding move: the approver who completed the quorum, the rejecter,
    /// `evaluator:auto`, or the requester (break-glass).
    pub decided_by: Option<String>,
    /// Approvals recorded for the decided revision, in order.
    pub approvers: Vec<String>,
    pub approvals: usize,
    pub submitted_at: String,
    pub decided_at: String,
    /// Submission to decision, in seconds (millisecond precision).
    pub latency_seconds: f64,
}

/// Latency statistics of a set of decisions (seconds; `null` when there are none).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LatencyStats {
    pub count: usize,
    /// The middle value (the mean of the two middle values for an even count).
    pub median_seconds: Option<f64>,
    /// The 90th percentile, nearest-rank.
    pub p90_seconds: Option<f64>,
    pub max_seconds: Option<f64>,
}

impl LatencyStats {
    pub fn of(values: &[f64]) -> LatencyStats {
        let mut v: Vec<f64> = values.to_vec();
        v.sort_by(f64::total_cmp);
        LatencyStats {
            count: v.len(),
            median_seconds: median(&v),
            p90_seconds: nearest_rank(&v, 90),
            max_seconds: v.last().copied(),
        }
    }
}

/// Median of sorted values.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(round_ms((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0)),
    }
}

/// The `p`th percentile (nearest rank) of sorted values: the smallest value with at least
/// `p`% of the values at or below it.
pub fn nearest_rank(sorted: &[f64], p: u32) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

fn round_ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApprovalSummary {
    pub decided: usize,
    /// Median submission-to-decision latency of the decisions people made (approved and
    /// rejected; auto-approved and break-glass requests are decided at submission).
    pub median_latency_seconds: Option<f64>,
    /// 90th percentile (nearest rank) of the same.
    pub p90_latency_seconds: Option<f64>,
    /// Every decision kind (`approved`, `auto_approved`, `break_glass`, `rejected`).
    pub by_decision: BTreeMap<String, LatencyStats>,
}

/// Decided requests (`since`/`until` compare the submission time). The CSV form holds the
/// rows; the summary is in the JSON form.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalsReport {
    pub generated_at: String,
    pub filters: Filters,
    pub summary: ApprovalSummary,
    pub approvals: Vec<ApprovalRow>,
}

const DECIDED: &str = "(r.approved_at IS NOT NULL OR r.state = 'rejected')";

pub async fn approvals_report(store: &Store, f: &Filters) -> Result<ApprovalsReport, sqlx::Error> {
    let mut sql = Sql::new(format!(
        "SELECT r.id, r.owner, r.state, r.risk_score, r.tier, r.revision, r.auto_approved, r.break_glass_reason, \
         r.created_at, r.approved_at, r.ended_at, r.updated_at FROM requests r WHERE {DECIDED}"
    ));
    sql.requests(f, Some("r.created_at"), true);
    sql.push(" ORDER BY r.created_at, r.id");
    let requests = sql.fetch_all(store).await?;

    let mut sql = Sql::new(format!(
        "SELECT a.request_id, a.round, a.approver FROM approvals a JOIN requests r ON r.id = a.request_id WHERE {DECIDED}"
    ));
    sql.requests(f, Some("r.created_at"), true);
    sql.push(" ORDER BY a.created_at, a.approver");
    let mut approvers: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for a in sql.fetch_all(store).await? {
        approvers.entry((a.get("request_id"), a.get("round"))).or_default().push(a.get("approver"));
    }

    let mut sql = Sql::new(format!(
        "SELECT l.subject, l.actor, l.action FROM audit_log l JOIN requests r ON r.id = l.subject \
         WHERE l.action IN ('request.approved', 'request.rejected') AND {DECIDED}"
    ));
    sql.requests(f, Some("r.created_at"), true);
    sql.push(" ORDER BY l.seq");
    // The first record of each kind decided (a later `request.approved` is a provisioning retry).
    let mut deciders: BTreeMap<(String, String), String> = BTreeMap::new();
    for l in sql.fetch_all(store).await? {
        deciders.entry((l.get("subject"), l.get("action"))).or_insert_with(|| l.get("actor"));
    }

    let mut rows = Vec::new();
    for r in &requests {
        let id: String = r.get("id");
        let state: String = r.get("state");
        let created: i64 = r.get("created_at");
        let (decision, decided_ms) = match opt_i64(r, "approved_at") {
            Some(at) if state != "rejected" => {
                let d = if opt_str(r, "break_glass_reason").is_some() {
                    DecisionKind::BreakGlass
                } else if r.get::<i64, _>("auto_approved") != 0 {
                    DecisionKind::AutoApproved
                } else {
                    DecisionKind::Approved
                };
                (d, at)
            }
            _ => (DecisionKind::Rejected, opt_i64(r, "ended_at").unwrap_or_else(|| r.get("updated_at"))),
        };
        let action = if decision == DecisionKind::Rejected { "request.rejected" } else { "request.approved" };
        let round = format!("r{}", r.get::<i64, _>("revision"));
        let names = approvers.get(&(id.clone(), round)).cloned().unwrap_or_default();
        rows.push(ApprovalRow {
            decided_by: deciders.get(&(id.clone(), action.to_string())).cloned(),
            approvals: names.len(),
            approvers: names,
            owner: r.get("owner"),
            tier: r.get("tier"),
            risk_score: r.get("risk_score"),
            state,
            decision,
            submitted_at: fmt_ts(created),
            decided_at: fmt_ts(decided_ms),
            latency_seconds: round_ms((decided_ms - created).max(0) as f64 / 1000.0),
            id,
        });
    }
    let people: Vec<f64> = rows.iter().filter(|r| r.decision.by_people()).map(|r| r.latency_seconds).collect();
    let headline = LatencyStats::of(&people);
    let by_decision = DecisionKind::ALL
        .iter()
        .map(|d| {
            let v: Vec<f64> = rows.iter().filter(|r| r.decision == *d).map(|r| r.latency_seconds).collect();
            (d.as_str().to_string(), LatencyStats::of(&v))
        })
        .collect();
    Ok(ApprovalsReport {
        generated_at: fmt_ts(now_ms()),
        filters: f.clone(),
        summary: ApprovalSummary {
            decided: rows.len(),
            median_latency_seconds: headline.median_seconds,
            p90_latency_seconds: headline.p90_seconds,
            by_decision,
        },
        approvals: rows,
    })
}

impl Tabular for ApprovalsReport {
    fn header(&self) -> Vec<String> {
        [
            "id",
            "owner",
            "tier",
            "risk_score",
            "state",
            "decision",
            "decided_by",
            "approvers",
            "approvals",
            "submitted_at",
            "decided_at",
            "latency_seconds",
        ]
        .map(String::from)
        .to_vec()
    }
    fn rows(&self) -> Vec<Vec<Cell>> {
        self.approvals
            .iter()
            .map(|a| {
                vec![
                    plain(&a.id),
                    text(&a.owner),
                    plain(&a.tier),
                    plain(a.risk_score),
                    plain(&a.state),
                    plain(a.decision.as_str()),
                    opt_text(&a.decided_by),
                    text(&a.approvers.join(" ")),
                    plain(a.approvals),
                    plain(&a.submitted_at),
                    plain(&a.decided_at),
                    plain(a.latency_seconds),
                ]
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Risk distribution
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScoreCount {
    pub score: i64,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierCount {
    pub tier: String,
    pub count: i64,
}

/// Requests counted per score (all of 1-10, in order) and per tier (low, medium, high).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Distribution {
    pub total: i64,
    pub by_score: Vec<ScoreCount>,
    pub by_tier: Vec<TierCount>,
}

impl Distribution {
    fn new() -> Distribution {
        Distribution {
            total: 0,
            by_score: (1..=10).map(|score| ScoreCount { score, count: 0 }).collect(),
            by_tier: TIERS.iter().map(|t| TierCount { tier: (*t).to_string(), count: 0 }).collect(),
        }
    }
    fn add(&mut self, score: i64, tier: &str, n: i64) {
        self.total += n;
        // Scores are 1-10 by construction of the engine; clamp so a stray value still counts.
        self.by_score[(score.clamp(1, 10) - 1) as usize].count += n;
        if let Some(t) = self.by_tier.iter_mut().find(|t| t.tier == tier) {
            t.count += n;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StateDistribution {
    pub state: String,
    pub total: i64,
    pub by_score: Vec<ScoreCount>,
    pub by_tier: Vec<TierCount>,
}

/// Requests by risk score and tier, overall and per state (`since`/`until` compare the
/// submission time). Every state is listed (or those asked for), in lifecycle order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskReport {
    pub generated_at: String,
    pub filters: Filters,
    pub overall: Distribution,
    pub states: Vec<StateDistribution>,
}

pub async fn risk_report(store: &Store, f: &Filters) -> Result<RiskReport, sqlx::Error> {
    let mut sql = Sql::new("SELECT r.state, r.tier, r.risk_score, COUNT(*) AS n FROM requests r WHERE 1 = 1");
    sql.requests(f, Some("r.created_at"), true);
    sql.push(" GROUP BY r.state, r.tier, r.risk_score");
    let mut overall = Distribution::new();
    let mut per: BTreeMap<String, Distribution> = BTreeMap::new();
    for r in sql.fetch_all(store).await? {
        let (state, tier, score, n): (String, String, i64, i64) =
            (r.get("state"), r.get("tier"), r.get("risk_score"), r.get("n"));
        overall.add(score, &tier, n);
        per.entry(state).or_insert_with(Distribution::new).add(score, &tier, n);
    }
    let listed: Vec<&str> = if f.states.is_empty() {
        STATES.to_vec()
    } else {
        STATES.iter().copied().filter(|s| f.states.iter().any(|x| x == s)).collect()
    };
    let states = listed
        .into_iter()
        .map(|s| {
            let d = per.remove(s).unwrap_or_else(Distribution::new);
            StateDistribution { state: s.to_string(), total: d.total, by_score: d.by_score, by_tier: d.by_tier }
        })
        .collect();
    Ok(RiskReport { generated_at: fmt_ts(now_ms()), filters: f.clone(), overall, states })
}

impl Tabular for RiskReport {
    fn header(&self) -> Vec<String> {
        let mut h = vec!["state".to_string(), "total".to_string()];
        h.extend((1..=10).map(|s| format!("score_{s}")));
        h.extend(TIERS.iter().map(|t| format!("tier_{t}")));
        h
    }
    fn rows(&self) -> Vec<Vec<Cell>> {
        let row = |state: &str, total: i64, by_score: &[ScoreCount], by_tier: &[TierCount]| {
            let mut r = vec![plain(state), plain(total)];
            r.extend(by_score.iter().map(|s| plain(s.count)));
            r.extend(by_tier.iter().map(|t| plain(t.count)));
            r
        };
        let mut rows: Vec<Vec<Cell>> =
            self.states.iter().map(|s| row(&s.state, s.total, &s.by_score, &s.by_tier)).collect();
        rows.push(row("all", self.overall.total, &self.overall.by_score, &self.overall.by_tier));
        rows
    }
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UserRow {
    pub user_id: String,
    pub display_name: Option<String>,
    /// The highest role held.
    pub role: String,
    /// Every role held (each role includes the ones below it).
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub enabled: bool,
    pub deleted: bool,
    pub created_at: String,
    /// Requests this user submitted (within the filters).
    pub requests: i64,
    /// The same, per state (every state listed).
    pub requests_by_state: BTreeMap<String, i64>,
    /// Approvals this user recorded (within the filters; `since`/`until` compare the
    /// approval's time).
    pub approvals_given: i64,
    /// The user's last audited action or API token use, whichever is later.
    pub last_activity_at: Option<String>,
}

/// Every user (or the one named by `user`), with request and approval counts. `since`,
/// `until`, `account` and `state` narrow the counts, not the list of users.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsersReport {
    pub generated_at: String,
    pub filters: Filters,
    pub count: usize,
    pub users: Vec<UserRow>,
}

pub async fn users_report(store: &Store, f: &Filters) -> Result<UsersReport, sqlx::Error> {
    let one = |sql: &mut Sql, col: &str| {
        if let Some(u) = &f.user {
            sql.and(|p| format!("{col} = {p}"), Arg::Text(u.clone()));
        }
    };
    let mut sql =
        Sql::new("SELECT u.id, u.role, u.enabled, u.deleted, u.display_name, u.created_at FROM users u WHERE 1 = 1");
    one(&mut sql, "u.id");
    sql.push(" ORDER BY u.id");
    let users = sql.fetch_all(store).await?;

    let mut sql = Sql::new("SELECT g.user_id, g.group_name FROM user_groups g WHERE 1 = 1");
    one(&mut sql, "g.user_id");
    sql.push(" ORDER BY g.user_id, g.group_name");
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in sql.fetch_all(store).await? {
        groups.entry(g.get("user_id")).or_default().push(g.get("group_name"));
    }

    let mut sql = Sql::new("SELECT r.owner, r.state, COUNT(*) AS n FROM requests r WHERE 1 = 1");
    sql.requests(f, Some("r.created_at"), true);
    sql.push(" GROUP BY r.owner, r.state");
    let mut counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for r in sql.fetch_all(store).await? {
        *counts.entry(r.get("owner")).or_default().entry(r.get("state")).or_default() += r.get::<i64, _>("n");
    }

    let mut sql = Sql::new(
        "SELECT a.approver, COUNT(*) AS n FROM approvals a JOIN requests r ON r.id = a.request_id WHERE 1 = 1",
    );
    sql.requests(f, Some("a.created_at"), false);
    one(&mut sql, "a.approver");
    sql.push(" GROUP BY a.approver");
    let given: BTreeMap<String, i64> =
        sql.fetch_all(store).await?.iter().map(|r| (r.get("approver"), r.get("n"))).collect();

    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    let mut sql = Sql::new("SELECT l.actor AS who, MAX(l.ts) AS at FROM audit_log l WHERE 1 = 1");
    one(&mut sql, "l.actor");
    sql.push(" GROUP BY l.actor");
    let audit_rows = sql.fetch_all(store).await?;
    let mut sql = Sql::new("SELECT t.user_id AS who, MAX(t.last_used_at) AS at FROM api_tokens t WHERE 1 = 1");
    one(&mut sql, "t.user_id");
    sql.push(" GROUP BY t.user_id");
    let token_rows = sql.fetch_all(store).await?;
    for r in audit_rows.iter().chain(token_rows.iter()) {
        if let Some(at) = opt_i64(r, "at") {
            let e = last.entry(r.get("who")).or_insert(at);
            *e = (*e).max(at);
        }
    }

    let rows: Vec<UserRow> = users
        .iter()
        .map(|u| {
            let id: String = u.get("id");
            let role = Role::parse(&u.get::<String, _>("role")).unwrap_or(Role::Requester);
            let mine = counts.get(&id);
            let by_state: BTreeMap<String, i64> =
                STATES.iter().map(|s| (s.to_string(), mine.and_then(|m| m.get(*s)).copied().unwrap_or(0))).collect();
            UserRow {
                display_name: opt_str(u, "display_name"),
                role: role.as_str().to_string(),
                roles: [Role::Requester, Role::Approver, Role::Admin]
                    .into_iter()
                    .filter(|r| *r <= role)
                    .map(|r| r.as_str().to_string())
                    .collect(),
                groups: groups.remove(&id).unwrap_or_default(),
                enabled: u.get::<i64, _>("enabled") != 0,
                deleted: u.get::<i64, _>("deleted") != 0,
                created_at: fmt_ts(u.get("created_at")),
                requests: mine.map(|m| m.values().sum()).unwrap_or(0),
                requests_by_state: by_state,
                approvals_given: given.get(&id).copied().unwrap_or(0),
                last_activity_at: last.get(&id).copied().map(fmt_ts),
                user_id: id,
            }
        })
        .collect();
    Ok(UsersReport { generated_at: fmt_ts(now_ms()), filters: f.clone(), count: rows.len(), users: rows })
}

impl Tabular for UsersReport {
    fn header(&self) -> Vec<String> {
        let mut h: Vec<String> =
            ["user_id", "display_name", "role", "roles", "groups", "enabled", "deleted", "created_at", "requests"]
                .map(String::from)
                .to_vec();
        h.extend(STATES.iter().map(|s| format!("requests_{s}")));
        h.extend(["approvals_given".to_string(), "last_activity_at".to_string()]);
        h
    }
    fn rows(&self) -> Vec<Vec<Cell>> {
        self.users
            .iter()
            .map(|u| {
                let mut r = vec![
                    text(&u.user_id),
                    opt_text(&u.display_name),
                    plain(&u.role),
                    plain(u.roles.join(" ")),
                    text(&u.groups.join(" ")),
                    plain(u.enabled),
                    plain(u.deleted),
                    plain(&u.created_at),
                    plain(u.requests),
                ];
                r.extend(STATES.iter().map(|s| plain(u.requests_by_state.get(*s).copied().unwrap_or(0))));
                r.push(plain(u.approvals_given));
                r.push(opt_plain(&u.last_activity_at));
                r
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

fn respond<T: Serialize + Tabular>(kind: Kind, format: Option<Format>, report: &T) -> Response {
    match format.unwrap_or_default() {
        Format::Json => (StatusCode::OK, axum::Json(report)).into_response(),
        Format::Csv => {
            let mut resp = (StatusCode::OK, report.to_csv()).into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"iam-jit-{}.csv\"", kind.name())) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
    }
}

fn start(caller: &Caller, q: &ReportQuery, kind: Kind) -> ApiResult<Filters> {
    caller.require(Role::Admin)?;
    Filters::parse(q, kind)
}

/// `GET /api/v1/reports/grants`.
pub async fn grants(State(s): State<AppState>, caller: Caller, Q(q): Q<ReportQuery>) -> ApiResult<Response> {
    let f = start(&caller, &q, Kind::Grants)?;
    Ok(respond(Kind::Grants, q.format, &grants_report(&s.store, &f).await?))
}

/// `GET /api/v1/reports/activity`.
pub async fn activity(State(s): State<AppState>, caller: Caller, Q(q): Q<ReportQuery>) -> ApiResult<Response> {
    let f = start(&caller, &q, Kind::Activity)?;
    Ok(respond(Kind::Activity, q.format, &activity_report(&s.store, &f).await?))
}

/// `GET /api/v1/reports/approvals`.
pub async fn approvals(State(s): State<AppState>, caller: Caller, Q(q): Q<ReportQuery>) -> ApiResult<Response> {
    let f = start(&caller, &q, Kind::Approvals)?;
    Ok(respond(Kind::Approvals, q.format, &approvals_report(&s.store, &f).await?))
}

/// `GET /api/v1/reports/risk-distribution`.
pub async fn risk_distribution(State(s): State<AppState>, caller: Caller, Q(q): Q<ReportQuery>) -> ApiResult<Response> {
    let f = start(&caller, &q, Kind::RiskDistribution)?;
    Ok(respond(Kind::RiskDistribution, q.format, &risk_report(&s.store, &f).await?))
}

/// `GET /api/v1/reports/users`.
pub async fn users(State(s): State<AppState>, caller: Caller, Q(q): Q<ReportQuery>) -> ApiResult<Response> {
    let f = start(&caller, &q, Kind::Users)?;
    Ok(respond(Kind::Users, q.format, &users_report(&s.store, &f).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_per_rfc_4180() {
        assert_eq!(csv_field(&plain("abc")), "abc");
        assert_eq!(csv_field(&plain("a,b")), "\"a,b\"");
        assert_eq!(csv_field(&plain("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(&plain("two\nlines")), "\"two\nlines\"");
        assert_eq!(csv_field(&plain("cr\rhere")), "\"cr\rhere\"");
        assert_eq!(csv_field(&plain("")), "");
        let doc = csv(&["a", "b"], &[vec![plain("1"), text("x,y")], vec![plain(""), plain("z")]]);
        assert_eq!(doc, "a,b\r\n1,\"x,y\"\r\n,z\r\n");
    }

    #[test]
    fn csv_defuses_formulas_in_user_text_only() {
        for (input, want) in [
            ("=1+1", "'=1+1"),
            ("+cmd", "'+cmd"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
            ("a=b", "a=b"),
            (" =x", " =x"),
        ] {
            assert_eq!(csv_field(&text(input)), want, "{input:?}");
        }
        // Values the service generates keep their form (a negative number stays a number).
        assert_eq!(csv_field(&plain("-2")), "-2");
    }

    #[test]
    fn percentiles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[1.0, 2.0]), Some(1.5));
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 90), Some(9.0));
        assert_eq!(nearest_rank(&v, 100), Some(10.0));
        assert_eq!(nearest_rank(&[5.0], 90), Some(5.0));
        assert_eq!(nearest_rank(&[1.0, 2.0], 90), Some(2.0));
        assert_eq!(nearest_rank(&[], 90), None);
        let s = LatencyStats::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.count, s.median_seconds, s.p90_seconds, s.max_seconds), (4, Some(2.5), Some(4.0), Some(4.0)));
    }

    #[test]
    fn the_state_pattern_names_every_state() {
        let inner = STATE_LIST_PATTERN.trim_start_matches("^(").split(')').next().unwrap_or("");
        assert_eq!(inner.split('|').collect::<Vec<_>>(), STATES.to_vec());
        assert_eq!(STATE_LIST_PATTERN.matches(inner).count(), 2);
    }

    #[test]
    fn filters_are_validated_together() {
        let q = ReportQuery {
            since: Some("yesterday".into()),
            account: Some("12".into()),
            user: Some("bob".into()),
            state: Some("active,gone".into()),
            ..Default::default()
        };
        let e = Filters::parse(&q, Kind::Grants).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let paths: Vec<&str> = e.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["since", "account", "user", "state"]);
        let q = ReportQuery {
            since: Some("2026-11-02T00:00:00Z".into()),
            until: Some("2026-11-01T00:00:00+00:00".into()),
            ..Default::default()
        };
        assert_eq!(Filters::parse(&q, Kind::Users).unwrap_err().errors[0].path, "until");
        let q = ReportQuery { state: Some("active".into()), ..Default::default() };
        assert!(Filters::parse(&q, Kind::Activity).unwrap_err().detail.contains("no state"));
        let q = ReportQuery {
            since: Some("2026-11-01T01:00:00+01:00".into()),
            user: Some("Alice@Example.com".into()),
            state: Some("expired,active,expired".into()),
            ..Default::default()
        };
        let f = Filters::parse(&q, Kind::Grants).unwrap();
        assert_eq!(f.since.as_deref(), Some("2026-11-01T00:00:00Z"));
        assert_eq!(f.user.as_deref(), Some("email:alice@example.com"));
        assert_eq!(f.states, ["expired", "active"]);
        assert_eq!(normalise_user("system:expiry").unwrap(), "system:expiry");
        assert!(normalise_user("system:").is_err());
        assert!(parse_time(" 2026-11-01T00:00:00Z").is_none());
    }
}
