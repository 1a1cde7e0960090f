//! Provisioning: the narrow seam between an approved request and the destination accounts.
//!
//! [`RecordingProvisioner`] (used by `--dev` and the tests) makes no AWS call: it stores, per
//! request, the exact IAM calls the AWS provisioner would make — role, trust pinned to the
//! authenticated requester, the approved statements untouched plus a time-bound Deny, the
//! permission boundary, tags — so the whole lifecycle runs locally and the calls can be
//! inspected (`GET /api/v1/requests/{id}/provisioning-calls`).

use crate::db::Store;
use crate::util::{fmt_ts, now_ms};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::Row;
use std::future::Future;
use std::pin::Pin;

/// What to create, per account.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionInput {
    pub request_id: String,
    pub accounts: Vec<String>,
    /// The approved policy, exactly as approved.
    pub policy: Value,
    /// The principal allowed to assume the role (authenticated, never client-supplied).
    pub trust_principal: Option<String>,
    /// The requester, for `sts:SourceIdentity` (already in the form STS accepts).
    pub source_identity: String,
    pub not_after_ms: i64,
    /// Now, by the service's clock (bounds `MaxSessionDuration`).
    pub now_ms: i64,
    pub deployment_id: String,
    /// The boundary the recording provisioner names (the AWS provisioner takes each
    /// account's own from the account registry).
    pub permission_boundary_arn: Option<String>,
    /// Only bring existing roles up to date (an extension moved `not_after`): never create a
    /// role — one that is gone was revoked, and must stay gone.
    pub update_only: bool,
}

/// What to remove.
#[derive(Debug, Clone, Serialize)]
pub struct RevokeInput {
    pub request_id: String,
    pub accounts: Vec<String>,
    pub deployment_id: String,
    /// Ended before its time: first deny every session issued until now
    /// (`aws:TokenIssueTime`), then remove the role.
    pub early: bool,
    pub now_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvisionOutput {
    /// Role ARN per account.
    pub roles: Vec<Value>,
}

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Appends one audit record per step a provisioner takes (`grant.step`), so the audit shows
/// every AWS call made for a request and its outcome.
#[derive(Debug, Clone)]
pub struct Steps {
    pub store: Store,
    pub request_id: String,
}

impl Steps {
    pub async fn record(&self, account: &str, call: &str, outcome: &str, detail: Value) -> Result<(), String> {
        crate::audit::append_now(
            &self.store,
            "system:provisioner",
            "grant.step",
            &self.request_id,
            json!({"account": account, "call": call, "outcome": outcome, "detail": detail}),
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("recording the step {call} in the audit log failed: {e}"))
    }
}

pub trait Provisioner: Send + Sync {
    fn name(&self) -> &'static str;
    /// Create (or reconcile) the role in every account. Idempotent: run again after a crash
    /// it finishes the job.
    fn provision<'a>(
        &'a self,
        input: &'a ProvisionInput,
        steps: &'a Steps,
    ) -> BoxFut<'a, Result<ProvisionOutput, String>>;
    /// Remove the role from every account. Idempotent (gone is success); a role that is not
    /// this deployment's, for this request, is never touched.
    fn revoke<'a>(&'a self, input: &'a RevokeInput, steps: &'a Steps) -> BoxFut<'a, Result<(), String>>;
    /// Temporary credentials for a granted role that trusts the hub (the requester is an
    /// e-mail user with no AWS principal of their own): the hub assumes the role with the
    /// requester's source identity and hands the session to them.
    fn credentials<'a>(
        &'a self,
        account: &'a str,
        request_id: &'a str,
        source_identity: &'a str,
        seconds: i32,
        steps: &'a Steps,
    ) -> BoxFut<'a, Result<Value, String>> {
        let _ = (account, request_id, source_identity, seconds, steps);
        let name = self.name();
        Box::pin(async move {
            Err(format!("the {name} provisioner creates no role in AWS: there are no credentials to hand out"))
        })
    }
    /// The roles this deployment manages in `account` (`role_name`, `role_arn`, `request_id`,
    /// `not_after`), for the orphan sweep.
    fn managed_roles<'a>(
        &'a self,
        account: &'a str,
        deployment_id: &'a str,
        steps: &'a Steps,
    ) -> BoxFut<'a, Result<Vec<Value>, String>> {
        let _ = (account, deployment_id, steps);
        let name = self.name();
        Box::pin(
            async move { Err(format!("the {name} provisioner creates no roles in AWS: there is nothing to sweep")) },
        )
    }
}

pub fn role_name(request_id: &str) -> String {
    request_id.to_string()
}

pub fn role_arn(account: &str, request_id: &str) -> String {
    format!("arn:aws:iam::{account}:role/iam-jit/{}", role_name(request_id))
}

/// The `sts:SourceIdentity` (and session name) for a user id: STS allows 2–64 characters of
/// `[A-Za-z0-9_+=,.@-]`, so `email:alice@example.com` becomes `alice@example.com` and an
/// `iam:` ARN its account and name (`123456789012.bob`).
pub fn source_identity(user_id: &str) -> String {
    let base = if let Some(mail) = user_id.strip_prefix("email:") {
        mail.to_string()
    } else if let Some(arn) = user_id.strip_prefix("iam:") {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let account = parts.get(4).copied().unwrap_or_default();
        let name = parts.get(5).and_then(|r| r.rsplit('/').next()).unwrap_or_default();
        format!("{account}.{name}")
    } else {
        user_id.to_string()
    };
    let mut out: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' })
        .take(64)
        .collect();
    while out.len() < 2 {
        out.push('-');
    }
    out
}

/// Refuse a trust principal that is not one IAM user or role: never `*`, never an account
/// root (`:root` or a bare account id), never a service or federated principal.
pub fn check_trust_principal(p: &str) -> Result<(), String> {
    let ok = p.starts_with("arn:")
        && p.split(':').nth(2) == Some("iam")
        && (p.split(':').nth(5).is_some_and(|r| r.starts_with("role/") || r.starts_with("user/")))
        && !p.contains('*');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{p}` cannot be trusted by a granted role: only one IAM role or user ARN (never `*` or an account root)"
        ))
    }
}

/// The trust policy: only the authenticated principal, only until `not_after`, and only with
/// `sts:SourceIdentity` naming the requester.
pub fn trust_policy(input: &ProvisionInput) -> Value {
    let principal = input.trust_principal.clone().unwrap_or_default();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "IamJitRequester",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            "Condition": {
                "DateLessThan": {"aws:CurrentTime": fmt_ts(input.not_after_ms)},
                "StringEquals": {"sts:SourceIdentity": input.source_identity}
            }
        }]
    })
}

/// The inline policy: the approved statements, unchanged, plus a Deny of everything after
/// `not_after` (belt and braces should the sweep be late).
pub fn grant_policy(input: &ProvisionInput) -> Value {
    let mut statements: Vec<Value> = match input.policy.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
        None => Vec::new(),
    };
    statements.push(json!({
        "Sid": "IamJitExpiry",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": fmt_ts(input.not_after_ms)}}
    }));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Attached first when a grant is ended early: every session issued before `now` is denied
/// everything (the `AWSRevokeOlderSessions` pattern), so credentials already handed out stop
/// working even before the role is gone.
pub fn revoke_sessions_policy(now_ms: i64) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "IamJitRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": fmt_ts(now_ms)}}
        }]
    })
}

pub const GRANT_POLICY_NAME: &str = "iam-jit-grant";
pub const REVOKE_POLICY_NAME: &str = "iam-jit-revoke-sessions";

/// `MaxSessionDuration`: the remaining time, within the 1–12 h IAM allows (the expiry Deny
/// and the trust's time condition cover a remainder under an hour).
pub fn max_session_seconds(input: &ProvisionInput) -> i64 {
    ((input.not_after_ms - input.now_ms) / 1000).clamp(3600, 43_200)
}

/// The tags every granted role carries.
pub fn tags(input: &ProvisionInput) -> Vec<(&'static str, String)> {
    vec![
        ("managed-by", "iam-jit".to_string()),
        ("iam-jit:request-id", input.request_id.clone()),
        ("iam-jit:deployment-id", input.deployment_id.clone()),
        ("iam-jit:not-after", fmt_ts(input.not_after_ms)),
    ]
}

/// The calls, in order, that provisioning one account makes.
pub fn calls_for(input: &ProvisionInput, account: &str) -> Vec<Value> {
    let name = role_name(&input.request_id);
    let tags: Vec<Value> = tags(input).into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    let mut create = json!({
        "RoleName": name,
        "Path": "/iam-jit/",
        "AssumeRolePolicyDocument": trust_policy(input),
        "MaxSessionDuration": max_session_seconds(input),
        "Tags": tags,
    });
    if let Some(b) = &input.permission_boundary_arn {
        create["PermissionsBoundary"] = json!(b);
    }
    vec![
        json!({"account": account, "service": "sts", "call": "AssumeRole", "params": {"RoleSessionName": format!("iam-jit-{}", input.request_id)}}),
        json!({"account": account, "service": "iam", "call": "CreateRole", "params": create}),
        json!({"account": account, "service": "iam", "call": "PutRolePolicy", "params": {"RoleName": name, "PolicyName": GRANT_POLICY_NAME, "PolicyDocument": grant_policy(input)}}),
    ]
}

/// Performs nothing; records every call it would make in `provisioning_calls`.
pub struct RecordingProvisioner {
    pub store: Store,
}

impl RecordingProvisioner {
    async fn record(&self, request_id: &str, calls: Vec<Value>) -> Result<(), String> {
        let mut w = self.store.write().await.map_err(|e| e.to_string())?;
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM provisioning_calls WHERE request_id = $1")
            .bind(request_id)
            .fetch_one(&mut *w.tx)
            .await
            .map_err(|e| e.to_string())?
            .get(0);
        for (i, c) in calls.into_iter().enumerate() {
            sqlx::query("INSERT INTO provisioning_calls (request_id, seq, call, created_at) VALUES ($1, $2, $3, $4)")
                .bind(request_id)
                .bind(next + 1 + i as i64)
                .bind(c.to_string())
                .bind(now_ms())
                .execute(&mut *w.tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        w.commit().await.map_err(|e| e.to_string())
    }
}

impl Provisioner for RecordingProvisioner {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn provision<'a>(
        &'a self,
        input: &'a ProvisionInput,
        _steps: &'a Steps,
    ) -> BoxFut<'a, Result<ProvisionOutput, String>> {
        Box::pin(async move {
            let mut calls = Vec::new();
            for a in &input.accounts {
                if input.update_only {
                    let name = role_name(&input.request_id);
                    calls.push(json!({"account": a, "service": "iam", "call": "UpdateAssumeRolePolicy", "params": {"RoleName": name, "PolicyDocument": trust_policy(input)}}));
                    calls.push(json!({"account": a, "service": "iam", "call": "PutRolePolicy", "params": {"RoleName": name, "PolicyName": GRANT_POLICY_NAME, "PolicyDocument": grant_policy(input)}}));
                } else {
                    calls.extend(calls_for(input, a));
                }
            }
            self.record(&input.request_id, calls).await?;
            Ok(ProvisionOutput {
                roles: input
                    .accounts
                    .iter()
                    .map(|a| json!({"account_id": a, "role_arn": role_arn(a, &input.request_id)}))
                    .collect(),
            })
        })
    }

    fn revoke<'a>(&'a self, input: &'a RevokeInput, _steps: &'a Steps) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            let name = role_name(&input.request_id);
            let mut calls = Vec::new();
            for a in &input.accounts {
                if input.early {
                    calls.push(json!({"account": a, "service": "iam", "call": "PutRolePolicy", "params": {"RoleName": name, "PolicyName": REVOKE_POLICY_NAME, "PolicyDocument": revoke_sessions_policy(input.now_ms)}}));
                    calls.push(json!({"account": a, "service": "iam", "call": "DeleteRolePolicy", "params": {"RoleName": name, "PolicyName": REVOKE_POLICY_NAME}}));
                }
                calls.push(json!({"account": a, "service": "iam", "call": "DeleteRolePolicy", "params": {"RoleName": name, "PolicyName": GRANT_POLICY_NAME}}));
                calls.push(json!({"account": a, "service": "iam", "call": "DeleteRole", "params": {"RoleName": name}}));
            }
            self.record(&input.request_id, calls).await
        })
    }

    fn managed_roles<'a>(
        &'a self,
        _account: &'a str,
        _deployment_id: &'a str,
        _steps: &'a Steps,
    ) -> BoxFut<'a, Result<Vec<Value>, String>> {
        // It creates no role anywhere, so none can be orphaned.
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Used when no provisioner is configured: every attempt fails with a message saying so.
pub struct Unconfigured;

impl Provisioner for Unconfigured {
    fn name(&self) -> &'static str {
        "none"
    }
    fn provision<'a>(
        &'a self,
        _input: &'a ProvisionInput,
        _steps: &'a Steps,
    ) -> BoxFut<'a, Result<ProvisionOutput, String>> {
        Box::pin(async {
            Err("no provisioner is configured: set `provisioner = \"aws\"` (the default outside `--dev`) or `\"recording\"` in the configuration".to_string())
        })
    }
    fn revoke<'a>(&'a self, _input: &'a RevokeInput, _steps: &'a Steps) -> BoxFut<'a, Result<(), String>> {
        // Nothing was ever created by this provisioner.
        Box::pin(async { Ok(()) })
    }
}

/// The recorded calls of one request.
pub async fn recorded_calls(store: &Store, request_id: &str) -> Result<Vec<Value>, sqlx::Error> {
    Ok(sqlx::query("SELECT call FROM provisioning_calls WHERE request_id = $1 ORDER BY seq")
        .bind(request_id)
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>(0)).unwrap_or(Value::Null))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_identity_is_what_sts_accepts() {
        assert_eq!(source_identity("email:alice@example.com"), "alice@example.com");
        assert_eq!(source_identity("iam:arn:aws:iam::123456789012:role/team/deployer"), "123456789012.deployer");
        assert_eq!(source_identity("iam:arn:aws:iam::123456789012:user/bob"), "123456789012.bob");
        let long = format!("email:{}@example.com", "a".repeat(80));
        let s = source_identity(&long);
        assert_eq!(s.len(), 64);
        for id in ["email:x y!#$%&*()[]{}@example.com", "email:", "strange/id:with:colons"] {
            let s = source_identity(id);
            assert!((2..=64).contains(&s.len()), "{s}");
            assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)), "{s}");
        }
    }

    #[test]
    fn only_one_iam_role_or_user_is_trusted() {
        check_trust_principal("arn:aws:iam::123456789012:role/hub").unwrap();
        check_trust_principal("arn:aws:iam::123456789012:user/agent").unwrap();
        for bad in [
            "*",
            "arn:aws:iam::123456789012:root",
            "123456789012",
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:sts::123456789012:assumed-role/x/y",
            "arn:aws:iam::123456789012:group/admins",
            "",
        ] {
            let e = check_trust_principal(bad).unwrap_err();
            assert!(e.contains("never `*`"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_grant_keeps_the_approved_statements_and_adds_the_expiry_deny() {
        let input = ProvisionInput {
            request_id: "req-1".into(),
            accounts: vec!["111111111111".into()],
            policy: json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}),
            trust_principal: Some("arn:aws:iam::000000000001:role/hub".into()),
            source_identity: "alice@example.com".into(),
            not_after_ms: 1_800_000_000_000,
            now_ms: 1_800_000_000_000 - 30 * 60_000,
            deployment_id: "d".into(),
            permission_boundary_arn: None,
            update_only: false,
        };
        let g = grant_policy(&input);
        assert_eq!(g["Statement"][0], input.policy["Statement"]);
        assert_eq!(g["Statement"][1]["Condition"]["DateGreaterThan"]["aws:CurrentTime"], fmt_ts(input.not_after_ms));
        // Under an hour left: IAM's minimum; the time conditions cut it short.
        assert_eq!(max_session_seconds(&input), 3600);
        let t = trust_policy(&input);
        assert_eq!(t["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::000000000001:role/hub");
        let r = revoke_sessions_policy(input.now_ms);
        assert_eq!(r["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"], fmt_ts(input.now_ms));
    }
}
