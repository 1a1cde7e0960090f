//! The approval policy: who may approve what (groups scoped by account and risk tier), how
//! many approvals each tier needs, self-approval (off unless a tier opts in), duration caps,
//! pending-request expiry, break-glass limits and the opt-in auto-approval evaluator.
//!
//! The policy is a versioned document in the database. An admin proposes a new version; it
//! takes effect only when a *second* admin approves it. Every step is audited.

use crate::audit;
use crate::db::{opt_i64, opt_str, Store, Write};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::identity::{Role, User};
use crate::util::{fmt_ts, now_ms};
use risk_core::Report;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;

pub const TIERS: [&str; 3] = ["low", "medium", "high"];
/// Services the evaluator never auto-approves unless `auto_approval.allow_sensitive` names them.
pub const SENSITIVE_SERVICES: [&str; 5] = ["iam", "organizations", "sts", "kms", "secretsmanager"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierRule {
    /// Distinct approvers needed (N of the M eligible).
    pub quorum: u32,
    /// May the requester's own approval count? Off by default; audited when used.
    #[serde(default)]
    pub allow_self_approval: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproverGroup {
    pub group: String,
    /// Account ids this group may approve for; `["*"]` for all.
    pub accounts: Vec<String>,
    /// Risk tiers (`low`, `medium`, `high`) this group may approve.
    pub tiers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Durations {
    pub default_max_hours: u32,
    /// Per-account maximum (hours), overriding the default.
    #[serde(default)]
    pub accounts: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlass {
    pub enabled: bool,
    /// Grants are capped to this many hours.
    pub max_hours: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoApproval {
    pub enabled: bool,
    /// Only record what the evaluator would have done; approve nothing.
    pub shadow: bool,
    /// Highest score approved (inclusive).
    pub max_score: u8,
    /// Only read-only requests (`access_type: read-only` and no write/permissions grants).
    pub read_only: bool,
    pub max_hours: u32,
    /// Accounts eligible; empty means none.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Services eligible; empty means any service not in the sensitive list.
    #[serde(default)]
    pub services: Vec<String>,
    /// Sensitive services (iam, organizations, sts, kms, secretsmanager) allowed anyway.
    #[serde(default)]
    pub allow_sensitive: Vec<String>,
    /// Auto-approvals per user per hour.
    pub hourly_quota: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPolicy {
    pub tiers: BTreeMap<String, TierRule>,
    /// Empty: every approver and admin may approve everything.
    #[serde(default)]
    pub approver_groups: Vec<ApproverGroup>,
    pub durations: Durations,
    /// Pending (or needs-changes) requests expire after this many hours.
    pub pending_expiry_hours: u32,
    pub break_glass: BreakGlass,
    pub auto_approval: AutoApproval,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        let tier = |quorum| TierRule { quorum, allow_self_approval: false };
        ApprovalPolicy {
            tiers: [("low".into(), tier(1)), ("medium".into(), tier(1)), ("high".into(), tier(2))]
                .into_iter()
                .collect(),
            approver_groups: Vec::new(),
            durations: Durations { default_max_hours: 24, accounts: BTreeMap::new() },
            pending_expiry_hours: 72,
            break_glass: BreakGlass { enabled: true, max_hours: 1 },
            auto_approval: AutoApproval {
                enabled: false,
                shadow: true,
                max_score: 3,
                read_only: true,
                max_hours: 1,
                accounts: Vec::new(),
                services: Vec::new(),
                allow_sensitive: Vec::new(),
                hourly_quota: 5,
            },
        }
    }
}

fn account_ok(a: &str) -> bool {
    a == "*" || (a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

impl ApprovalPolicy {
    /// Every problem, with its path.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut e = |path: String, message: String| errs.push(FieldError { path, message });
        for t in TIERS {
            match self.tiers.get(t) {
                None => e(format!("tiers.{t}"), "missing: every tier (low, medium, high) needs a rule".into()),
                Some(r) if r.quorum == 0 || r.quorum > 10 => e(format!("tiers.{t}.quorum"), "must be 1-10".into()),
                _ => {}
            }
        }
        for k in self.tiers.keys() {
            if !TIERS.contains(&k.as_str()) {
                e(format!("tiers.{k}"), "unknown tier (use low, medium, high)".into());
            }
        }
        for (i, g) in self.approver_groups.iter().enumerate() {
            if let Err(m) = crate::identity::validate_group(&g.group) {
                e(format!("approver_groups[{i}].group"), m);
            }
            if g.accounts.is_empty() {
                e(format!("approver_groups[{i}].accounts"), "list account ids, or \"*\"".into());
            }
            for a in &g.accounts {
                if !account_ok(a) {
                    e(format!("approver_groups[{i}].accounts"), format!("`{a}` is not a 12-digit account id or \"*\""));
                }
            }
            if g.tiers.is_empty() {
                e(format!("approver_groups[{i}].tiers"), "list the tiers this group approves".into());
            }
            for t in &g.tiers {
                if !TIERS.contains(&t.as_str()) {
                    e(format!("approver_groups[{i}].tiers"), format!("unknown tier `{t}` (use low, medium, high)"));
                }
            }
        }
        if self.durations.default_max_hours == 0 || self.durations.default_max_hours > 8760 {
            e("durations.default_max_hours".into(), "must be 1-8760".into());
        }
        for (a, h) in &self.durations.accounts {
            if !account_ok(a) || a == "*" {
                e(format!("durations.accounts.{a}"), "not a 12-digit account id".into());
            }
            if *h == 0 || *h > 8760 {
                e(format!("durations.accounts.{a}"), "must be 1-8760 hours".into());
            }
        }
        if self.pending_expiry_hours == 0 || self.pending_expiry_hours > 8760 {
            e("pending_expiry_hours".into(), "must be 1-8760".into());
        }
        if self.break_glass.max_hours == 0 || self.break_glass.max_hours > 24 {
            e("break_glass.max_hours".into(), "must be 1-24 (break-glass grants stay short)".into());
        }
        let a = &self.auto_approval;
        if a.max_score == 0 || a.max_score > 10 {
            e("auto_approval.max_score".into(), "must be 1-10".into());
        }
        if a.max_hours == 0 || a.max_hours > 24 {
            e("auto_approval.max_hours".into(), "must be 1-24".into());
        }
        for acct in &a.accounts {
            if !account_ok(acct) {
                e("auto_approval.accounts".into(), format!("`{acct}` is not a 12-digit account id or \"*\""));
            }
        }
        for s in &a.allow_sensitive {
            if !SENSITIVE_SERVICES.contains(&s.as_str()) {
                e(
                    "auto_approval.allow_sensitive".into(),
                    format!("`{s}` is not one of {}", SENSITIVE_SERVICES.join(", ")),
                );
            }
        }
        errs
    }

    pub fn tier_rule(&self, tier: &str) -> TierRule {
        self.tiers.get(tier).cloned().unwrap_or(TierRule { quorum: 2, allow_self_approval: false })
    }

    /// Longest grant (hours) for a request touching `accounts`: the smallest cap among them.
    pub fn max_hours(&self, accounts: &[String]) -> u32 {
        accounts
            .iter()
            .map(|a| *self.durations.accounts.get(a).unwrap_or(&self.durations.default_max_hours))
            .min()
            .unwrap_or(self.durations.default_max_hours)
    }

    /// Whether `user` may approve a request of `tier` touching `accounts` (ignoring ownership).
    pub fn may_approve(&self, user: &User, tier: &str, accounts: &[String]) -> bool {
        if user.role < Role::Approver || !user.enabled || user.deleted {
            return false;
        }
        if self.approver_groups.is_empty() {
            return true;
        }
        accounts.iter().all(|acct| {
            self.approver_groups.iter().any(|g| {
                user.groups.contains(&g.group)
                    && g.tiers.iter().any(|t| t == tier)
                    && g.accounts.iter().any(|a| a == "*" || a == acct)
            })
        })
    }

    /// The evaluator's verdict: `Ok(())` to approve, or the reasons it would not.
    pub fn evaluate(
        &self,
        report: &Report,
        access_type: &str,
        hours: f64,
        accounts: &[String],
        used_this_hour: u32,
    ) -> Result<(), Vec<String>> {
        let a = &self.auto_approval;
        let mut why = Vec::new();
        if report.score > a.max_score {
            why.push(format!("score {} is above {}", report.score, a.max_score));
        }
        if a.read_only {
            if access_type != "read-only" {
                why.push("not a read-only request".into());
            }
            for (svc, acc) in &report.access_summary.by_service {
                let writes: Vec<&String> =
                    acc.access_levels.keys().filter(|l| !matches!(l.as_str(), "List" | "Read")).collect();
                if !writes.is_empty() {
                    why.push(format!(
                        "grants {} access on {svc}",
                        writes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("/")
                    ));
                }
            }
        }
        if hours > f64::from(a.max_hours) {
            why.push(format!("{hours:.1} h is longer than {} h", a.max_hours));
        }
        for acct in accounts {
            if !a.accounts.iter().any(|x| x == "*" || x == acct) {
                why.push(format!("account {acct} is not on the auto-approval list"));
            }
        }
        for svc in report.access_summary.by_service.keys() {
            if SENSITIVE_SERVICES.contains(&svc.as_str()) && !a.allow_sensitive.contains(svc) {
                why.push(format!("{svc} is a sensitive service"));
            } else if !a.services.is_empty() && !a.services.contains(svc) {
                why.push(format!("{svc} is not on the auto-approval service list"));
            }
        }
        if report.access_summary.by_service.is_empty() {
            why.push("the policy grants nothing the evaluator can check".into());
        }
        if used_this_hour >= a.hourly_quota {
            why.push(format!("hourly quota of {} auto-approvals used", a.hourly_quota));
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(why)
        }
    }
}

/// One stored version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyVersion {
    pub version: i64,
    pub status: String,
    pub policy: ApprovalPolicy,
    pub proposed_by: String,
    pub proposed_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

fn version_from_row(r: &sqlx::any::AnyRow) -> PolicyVersion {
    let doc: String = r.get("doc");
    PolicyVersion {
        version: r.get("version"),
        status: r.get("status"),
        policy: serde_json::from_str(&doc).unwrap_or_default(),
        proposed_by: r.get("proposed_by"),
        proposed_at: fmt_ts(r.get("proposed_at")),
        decided_by: opt_str(r, "decided_by"),
        decided_at: opt_i64(r, "decided_at").map(fmt_ts),
    }
}

const COLS: &str = "version, doc, status, proposed_by, proposed_at, decided_by, decided_at";

/// The active policy (the built-in default when none was ever stored).
pub async fn active(conn: &mut sqlx::AnyConnection) -> Result<(i64, ApprovalPolicy), sqlx::Error> {
    let r = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLS} FROM approval_policies WHERE status = 'active' ORDER BY version DESC LIMIT 1"
    )))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match r {
        Some(r) => {
            let v = version_from_row(&r);
            (v.version, v.policy)
        }
        None => (0, ApprovalPolicy::default()),
    })
}

pub async fn history(store: &Store) -> Result<Vec<PolicyVersion>, sqlx::Error> {
    Ok(sqlx::query(AssertSqlSafe(format!("SELECT {COLS} FROM approval_policies ORDER BY version DESC")))
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(version_from_row)
        .collect())
}

/// Store `policy` as a proposal. With `activate` (the bootstrap from the configuration file
/// when no policy exists yet) it becomes active at once.
pub async fn propose(w: &mut Write, actor: &str, policy: &ApprovalPolicy, activate: bool) -> ApiResult<PolicyVersion> {
    let errs = policy.validate();
    if !errs.is_empty() {
        return Err(ApiError::invalid("the approval policy is not valid", errs));
    }
    let next: i64 =
        sqlx::query("SELECT COALESCE(MAX(version), 0) FROM approval_policies").fetch_one(&mut *w.tx).await?.get(0);
    let version = next + 1;
    let now = now_ms();
    let doc = serde_json::to_string(policy).map_err(|e| ApiError::internal(e.to_string()))?;
    let status = if activate { "active" } else { "proposed" };
    if activate {
        sqlx::query("UPDATE approval_policies SET status = 'superseded' WHERE status = 'active'")
            .execute(&mut *w.tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO approval_policies (version, doc, status, proposed_by, proposed_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(version)
    .bind(&doc)
    .bind(status)
    .bind(actor)
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    audit::append(
        w,
        actor,
        if activate { "approval_policy.bootstrapped" } else { "approval_policy.proposed" },
        &format!("approval-policy/{version}"),
        json!({"version": version, "policy": policy}),
    )
    .await?;
    Ok(PolicyVersion {
        version,
        status: status.into(),
        policy: policy.clone(),
        proposed_by: actor.into(),
        proposed_at: fmt_ts(now),
        decided_by: None,
        decided_at: None,
    })
}

/// A second admin approves (or rejects) a proposal.
pub async fn decide(store: &Store, actor: &User, version: i64, approve: bool) -> ApiResult<PolicyVersion> {
    let mut w = store.write().await?;
    let sql = format!("SELECT {COLS} FROM approval_policies WHERE version = $1{}", w.lock());
    let r = sqlx::query(AssertSqlSafe(sql)).bind(version).fetch_optional(&mut *w.tx).await?;
    let Some(r) = r else {
        return Err(ApiError::not_found(format!("no approval-policy version {version}")));
    };
    let v = version_from_row(&r);
    if v.status != "proposed" {
        return Err(ApiError::conflict(format!("version {version} is {}, not a pending proposal", v.status)));
    }
    if v.proposed_by == actor.user_id {
        return Err(ApiError::forbidden("a policy change needs a second admin: you proposed this version"));
    }
    let now = now_ms();
    if approve {
        sqlx::query("UPDATE approval_policies SET status = 'superseded' WHERE status = 'active'")
            .execute(&mut *w.tx)
            .await?;
    }
    let status = if approve { "active" } else { "rejected" };
    sqlx::query("UPDATE approval_policies SET status = $1, decided_by = $2, decided_at = $3 WHERE version = $4")
        .bind(status)
        .bind(&actor.user_id)
        .bind(now)
        .bind(version)
        .execute(&mut *w.tx)
        .await?;
    audit::append(
        &mut w,
        &actor.user_id,
        if approve { "approval_policy.activated" } else { "approval_policy.rejected" },
        &format!("approval-policy/{version}"),
        json!({"version": version, "proposed_by": v.proposed_by}),
    )
    .await?;
    w.commit().await?;
    Ok(PolicyVersion {
        status: status.into(),
        decided_by: Some(actor.user_id.clone()),
        decided_at: Some(fmt_ts(now)),
        ..v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_valid() {
        assert!(ApprovalPolicy::default().validate().is_empty());
    }

    #[test]
    fn invalid_policies_name_each_problem() {
        let mut p = ApprovalPolicy::default();
        p.tiers.remove("high");
        p.tiers.insert("critical".into(), TierRule { quorum: 0, allow_self_approval: false });
        p.approver_groups.push(ApproverGroup {
            group: "ops team".into(),
            accounts: vec!["12".into()],
            tiers: vec!["urgent".into()],
        });
        let paths: Vec<String> = p.validate().into_iter().map(|e| e.path).collect();
        for want in [
            "tiers.high",
            "tiers.critical",
            "approver_groups[0].group",
            "approver_groups[0].accounts",
            "approver_groups[0].tiers",
        ] {
            assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
        }
    }
}
