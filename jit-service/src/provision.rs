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
    /// The requester, for `sts:SourceIdentity`.
    pub source_identity: String,
    pub not_after_ms: i64,
    pub deployment_id: String,
    pub permission_boundary_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProvisionOutput {
    /// Role ARN per account.
    pub roles: Vec<Value>,
}

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Provisioner: Send + Sync {
    fn name(&self) -> &'static str;
    /// Create (or reconcile) the role in every account. Idempotent.
    fn provision<'a>(&'a self, input: &'a ProvisionInput) -> BoxFut<'a, Result<ProvisionOutput, String>>;
    /// Remove the role from every account. Idempotent (gone is success).
    fn revoke<'a>(&'a self, request_id: &'a str, accounts: &'a [String]) -> BoxFut<'a, Result<(), String>>;
}

pub fn role_name(request_id: &str) -> String {
    request_id.to_string()
}

pub fn role_arn(account: &str, request_id: &str) -> String {
    format!("arn:aws:iam::{account}:role/iam-jit/{}", role_name(request_id))
}

/// The trust policy: only the authenticated principal, only until `not_after`, and only with
/// `sts:SourceIdentity` naming the requester.
pub fn trust_policy(input: &ProvisionInput) -> Value {
    let principal = input.trust_principal.clone().unwrap_or_default();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
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

/// The calls, in order, that provisioning one account makes.
pub fn calls_for(input: &ProvisionInput, account: &str) -> Vec<Value> {
    let name = role_name(&input.request_id);
    let remaining_s = ((input.not_after_ms - now_ms()) / 1000).clamp(3600, 43_200);
    let tags = json!([
        {"Key": "managed-by", "Value": "iam-jit"},
        {"Key": "iam-jit:request-id", "Value": input.request_id},
        {"Key": "iam-jit:deployment-id", "Value": input.deployment_id},
        {"Key": "iam-jit:not-after", "Value": fmt_ts(input.not_after_ms)},
    ]);
    let mut create = json!({
        "RoleName": name,
        "Path": "/iam-jit/",
        "AssumeRolePolicyDocument": trust_policy(input),
        "MaxSessionDuration": remaining_s,
        "Tags": tags,
    });
    if let Some(b) = &input.permission_boundary_arn {
        create["PermissionsBoundary"] = json!(b);
    }
    vec![
        json!({"account": account, "service": "sts", "call": "AssumeRole", "params": {"RoleSessionName": format!("iam-jit-{}", input.request_id)}}),
        json!({"account": account, "service": "iam", "call": "CreateRole", "params": create}),
        json!({"account": account, "service": "iam", "call": "PutRolePolicy", "params": {"RoleName": name, "PolicyName": "iam-jit-grant", "PolicyDocument": grant_policy(input)}}),
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

    fn provision<'a>(&'a self, input: &'a ProvisionInput) -> BoxFut<'a, Result<ProvisionOutput, String>> {
        Box::pin(async move {
            let mut calls = Vec::new();
            for a in &input.accounts {
                calls.extend(calls_for(input, a));
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

    fn revoke<'a>(&'a self, request_id: &'a str, accounts: &'a [String]) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            let name = role_name(request_id);
            let mut calls = Vec::new();
            for a in accounts {
                calls.push(json!({"account": a, "service": "iam", "call": "DeleteRolePolicy", "params": {"RoleName": name, "PolicyName": "iam-jit-grant"}}));
                calls.push(json!({"account": a, "service": "iam", "call": "DeleteRole", "params": {"RoleName": name}}));
            }
            self.record(request_id, calls).await
        })
    }
}

/// Used when no provisioner is configured: every attempt fails with a message saying so.
pub struct Unconfigured;

impl Provisioner for Unconfigured {
    fn name(&self) -> &'static str {
        "none"
    }
    fn provision<'a>(&'a self, _input: &'a ProvisionInput) -> BoxFut<'a, Result<ProvisionOutput, String>> {
        Box::pin(async {
            Err("no provisioner is configured: start with `--dev` or set `provisioner = \"recording\"` in the configuration".to_string())
        })
    }
    fn revoke<'a>(&'a self, _id: &'a str, _accounts: &'a [String]) -> BoxFut<'a, Result<(), String>> {
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
