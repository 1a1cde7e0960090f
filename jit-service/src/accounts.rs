//! Destination accounts: where granted roles are created. An admin registers each account
//! with the provisioner role the hub assumes there and the permission boundary every granted
//! role carries; the service generates the account's ExternalId (never a client).

use crate::db::Store;
use crate::error::{ApiError, ApiResult};
use crate::util::{fmt_ts, hex, random_bytes};
use serde_json::{json, Map, Value};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account_id: String,
    pub alias: String,
    pub provisioner_role_arn: String,
    pub external_id: String,
    pub permission_boundary_arn: String,
    /// Empty: any region.
    pub regions: Vec<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Account {
    pub fn to_json(&self) -> Value {
        json!({
            "account_id": self.account_id,
            "alias": self.alias,
            "provisioner_role_arn": self.provisioner_role_arn,
            "external_id": self.external_id,
            "permission_boundary_arn": self.permission_boundary_arn,
            "regions": self.regions,
            "created_by": self.created_by,
            "created_at": fmt_ts(self.created_at),
            "updated_at": fmt_ts(self.updated_at),
        })
    }
}

const COLS: &str = "account_id, alias, provisioner_role_arn, external_id, permission_boundary_arn, regions, created_by, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Account {
    Account {
        account_id: r.get("account_id"),
        alias: r.get("alias"),
        provisioner_role_arn: r.get("provisioner_role_arn"),
        external_id: r.get("external_id"),
        permission_boundary_arn: r.get("permission_boundary_arn"),
        regions: serde_json::from_str(&r.get::<String, _>("regions")).unwrap_or_default(),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

pub async fn get(store: &Store, account_id: &str) -> Result<Option<Account>, sqlx::Error> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM accounts WHERE account_id = $1")))
        .bind(account_id)
        .fetch_optional(&store.pool)
        .await?
        .as_ref()
        .map(from_row))
}

pub async fn list(store: &Store) -> Result<Vec<Account>, sqlx::Error> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLS} FROM accounts ORDER BY account_id")))
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(from_row)
        .collect())
}

/// A new ExternalId: 160 random bits, hex (unguessable; the provisioner role's trust demands it).
pub fn new_external_id() -> String {
    format!("iamjit-{}", hex(&random_bytes(20)))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:aws:iam::<account>:<kind>/…` in exactly `account`.
fn check_iam_arn(errors: &mut Vec<(String, String)>, field: &str, arn: &str, account: &str, kind: &str) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[5].starts_with(&format!("{kind}/"))
        && parts[5].len() > kind.len() + 1
        && !arn.contains('*');
    if !ok {
        errors.push((
            field.into(),
            format!("must be an IAM {kind} ARN (arn:aws:iam::{account}:{kind}/NAME), not `{arn}`"),
        ));
    } else if parts[4] != account {
        errors.push((
            field.into(),
            format!("`{arn}` is in account {}, not in the account being registered ({account})", parts[4]),
        ));
    }
}

/// The registration body, checked: every problem at once, each naming its field.
pub fn parse(body: &Value) -> ApiResult<Account> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let mut errors: Vec<(String, String)> = Vec::new();
    const KNOWN: [&str; 5] = ["account_id", "alias", "provisioner_role_arn", "permission_boundary_arn", "regions"];
    for k in obj.keys() {
        if !KNOWN.contains(&k.as_str()) {
            let hint = if k == "external_id" {
                " (the service generates the ExternalId; it is never supplied)".to_string()
            } else {
                format!(" (known: {})", KNOWN.join(", "))
            };
            errors.push((k.clone(), format!("unknown field{hint}")));
        }
    }
    let text = |errors: &mut Vec<(String, String)>, obj: &Map<String, Value>, k: &str| -> String {
        match obj.get(k) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::String(_)) | None => {
                errors.push((k.into(), "is required".into()));
                String::new()
            }
            Some(_) => {
                errors.push((k.into(), "must be a string".into()));
                String::new()
            }
        }
    };
    let account_id = text(&mut errors, obj, "account_id");
    if !account_id.is_empty() && !is_account_id(&account_id) {
        errors.push(("account_id".into(), format!("must be 12 digits, not `{account_id}`")));
    }
    let alias = text(&mut errors, obj, "alias");
    if alias.chars().count() > 64 || alias.chars().any(char::is_control) {
        errors.push(("alias".into(), "must be at most 64 printable characters".into()));
    }
    let provisioner_role_arn = text(&mut errors, obj, "provisioner_role_arn");
    let permission_boundary_arn = text(&mut errors, obj, "permission_boundary_arn");
    if is_account_id(&account_id) {
        if !provisioner_role_arn.is_empty() {
            check_iam_arn(&mut errors, "provisioner_role_arn", &provisioner_role_arn, &account_id, "role");
        }
        if !permission_boundary_arn.is_empty() {
            check_iam_arn(&mut errors, "permission_boundary_arn", &permission_boundary_arn, &account_id, "policy");
        }
    }
    let mut regions = Vec::new();
    match obj.get("regions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for (i, r) in a.iter().enumerate() {
                match r.as_str() {
                    Some(r) if crate::requests::valid_region(r) => {
                        if !regions.iter().any(|x| x == r) {
                            regions.push(r.to_string())
                        }
                    }
                    _ => {
                        errors.push((format!("regions[{i}]"), format!("`{r}` is not a region name such as us-east-1")))
                    }
                }
            }
        }
        Some(_) => errors.push(("regions".into(), "must be a list of region names".into())),
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(
            format!(
                "the account cannot be registered: {}",
                errors.iter().map(|(p, m)| format!("{p}: {m}")).collect::<Vec<_>>().join("; ")
            ),
            errors.into_iter().map(|(path, message)| crate::error::FieldError { path, message }).collect(),
        ));
    }
    Ok(Account {
        account_id,
        alias,
        provisioner_role_arn,
        external_id: new_external_id(),
        permission_boundary_arn,
        regions,
        created_by: String::new(),
        created_at: 0,
        updated_at: 0,
    })
}

/// The account's ExternalId: the one its onboarding template was generated with, or a new one.
pub async fn external_id_for(w: &mut crate::db::Write, account_id: &str, now: i64) -> Result<String, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT external_id FROM account_external_ids WHERE account_id = $1{}",
        w.lock()
    )))
    .bind(account_id)
    .fetch_optional(&mut *w.tx)
    .await?;
    if let Some(r) = row {
        return Ok(r.get(0));
    }
    let id = new_external_id();
    sqlx::query("INSERT INTO account_external_ids (account_id, external_id, created_at) VALUES ($1, $2, $3)")
        .bind(account_id)
        .bind(&id)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    Ok(id)
}

/// `POST /accounts/onboarding/preview`: the destination-account templates (CloudFormation
/// and/or Terraform) with the account's ExternalId, and what to register once deployed.
pub async fn onboarding_preview(
    state: &crate::AppState,
    actor: &str,
    account_id: &str,
    format: Option<&str>,
) -> ApiResult<Value> {
    use crate::onboarding;
    let want_cfn = matches!(format, None | Some("cloudformation"));
    let want_tf = matches!(format, None | Some("terraform"));
    if !want_cfn && !want_tf {
        return Err(ApiError::field("format", "must be \"cloudformation\" or \"terraform\" (or absent for both)"));
    }
    let hub = state.config.hub_role_arn.clone().ok_or_else(|| {
        ApiError::conflict("hub_role_arn is not configured: the provisioner role trusts the hub's role, so set hub_role_arn (IAM_JIT_HUB_ROLE_ARN) first")
    })?;
    let mut w = state.store.write().await?;
    let external_id = external_id_for(&mut w, account_id, state.now()).await?;
    let o = onboarding::Onboarding {
        account_id: account_id.to_string(),
        hub_role_arn: hub,
        external_id: external_id.clone(),
        deployment_id: state.config.deployment_id.clone(),
        sts_allow_list: Vec::new(),
    };
    onboarding::validate(&o).map_err(|m| {
        ApiError::new(axum::http::StatusCode::CONFLICT, "conflict", format!("the onboarding cannot be generated: {m}"))
    })?;
    crate::audit::append(&mut w, actor, "account.onboarding_generated", account_id, json!({"format": format})).await?;
    w.commit().await?;
    let role = onboarding::provisioner_role_arn(account_id);
    let boundary = onboarding::boundary_policy_arn(account_id);
    let mut warnings = Vec::new();
    let registered = get(&state.store, account_id).await?;
    if let Some(a) = &registered {
        if a.provisioner_role_arn != role {
            warnings.push(format!(
                "the account is registered with provisioner role {}, but this template creates {role}",
                a.provisioner_role_arn
            ));
        }
        if a.permission_boundary_arn != boundary {
            warnings.push(format!(
                "the account is registered with boundary {}, but this template creates {boundary}",
                a.permission_boundary_arn
            ));
        }
    }
    let mut out = json!({
        "account_id": account_id,
        "external_id": external_id,
        "registered": registered.is_some(),
        "provisioner_role_arn": role,
        "permission_boundary_arn": boundary,
        "register": {"account_id": account_id, "alias": account_id, "provisioner_role_arn": role, "permission_boundary_arn": boundary, "regions": []},
        "warnings": warnings,
    });
    if want_cfn {
        out["cloudformation"] = json!(onboarding::cloudformation(&o));
    }
    if want_tf {
        out["terraform"] = json!(onboarding::terraform(&o));
    }
    Ok(out)
}

/// Register (201) or update (200; the ExternalId is kept) an account.
pub async fn upsert(w: &mut crate::db::Write, actor: &str, mut a: Account, now: i64) -> ApiResult<(bool, Account)> {
    let existing = sqlx::query("SELECT external_id, created_by, created_at FROM accounts WHERE account_id = $1")
        .bind(&a.account_id)
        .fetch_optional(&mut *w.tx)
        .await?;
    a.updated_at = now;
    let created = existing.is_none();
    if let Some(r) = existing {
        a.external_id = r.get(0);
        a.created_by = r.get(1);
        a.created_at = r.get(2);
        sqlx::query("UPDATE accounts SET alias = $1, provisioner_role_arn = $2, permission_boundary_arn = $3, regions = $4, updated_at = $5 WHERE account_id = $6")
            .bind(&a.alias)
            .bind(&a.provisioner_role_arn)
            .bind(&a.permission_boundary_arn)
            .bind(json!(a.regions).to_string())
            .bind(now)
            .bind(&a.account_id)
            .execute(&mut *w.tx)
            .await?;
    } else {
        a.external_id = external_id_for(w, &a.account_id, now).await?;
        a.created_by = actor.to_string();
        a.created_at = now;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO accounts ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )))
        .bind(&a.account_id)
        .bind(&a.alias)
        .bind(&a.provisioner_role_arn)
        .bind(&a.external_id)
        .bind(&a.permission_boundary_arn)
        .bind(json!(a.regions).to_string())
        .bind(&a.created_by)
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&mut *w.tx)
        .await?;
    }
    let mut detail = a.to_json();
    // The ExternalId is a shared secret of sorts: the audit names the account, not the value.
    detail.as_object_mut().map(|o| o.remove("external_id"));
    crate::audit::append(
        w,
        actor,
        if created { "account.registered" } else { "account.updated" },
        &a.account_id,
        detail,
    )
    .await?;
    Ok((created, a))
}

/// Requests for the account that still hold (or may still create) a role there.
pub async fn live_requests(store: &Store, account_id: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, accounts FROM requests WHERE state IN ('approved', 'provisioning', 'active', 'revoking', 'provisioning_failed')",
    )
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .iter()
        .filter(|r| {
            serde_json::from_str::<Vec<String>>(&r.get::<String, _>(1))
                .unwrap_or_default()
                .iter()
                .any(|a| a == account_id)
        })
        .map(|r| r.get(0))
        .collect())
}

/// The account as a caller may see it: the ExternalId only for admins.
pub fn view(a: &Account, admin: bool) -> Value {
    let mut v = a.to_json();
    if !admin {
        v.as_object_mut().map(|o| o.remove("external_id"));
    }
    v
}

/// Check a request's accounts against the registry: each must be registered (when the
/// provisioner creates real roles) and its regions allowed. Returns field errors.
pub async fn check_request_accounts(
    store: &Store,
    require_registered: bool,
    spec_accounts: &Value,
) -> Result<Vec<crate::error::FieldError>, sqlx::Error> {
    let mut errors = Vec::new();
    let Some(list) = spec_accounts.as_array() else { return Ok(errors) };
    for (i, a) in list.iter().enumerate() {
        let id = a.get("account_id").and_then(Value::as_str).unwrap_or_default();
        match get(store, id).await? {
            None if require_registered => errors.push(crate::error::FieldError {
                path: format!("spec.accounts[{i}].account_id"),
                message: format!(
                    "account {id} is not registered with this service (an admin registers it: POST /api/v1/accounts)"
                ),
            }),
            None => {}
            Some(acct) if !acct.regions.is_empty() => {
                for (j, r) in a.get("regions").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let r = r.as_str().unwrap_or_default();
                    if !acct.regions.iter().any(|x| x == r) {
                        errors.push(crate::error::FieldError {
                            path: format!("spec.accounts[{i}].regions[{j}]"),
                            message: format!(
                                "{r} is not allowed in account {id} (allowed: {})",
                                acct.regions.join(", ")
                            ),
                        });
                    }
                }
            }
            Some(_) => {}
        }
    }
    Ok(errors)
}

/// The orphan sweep of one account: roles of this deployment under `/iam-jit/` whose request
/// has ended or is unknown here. With `delete`, each is removed — only when its name, its
/// `managed-by` tag, its request tag and its deployment tag all match (the provisioner's
/// revoke checks them again before touching anything).
pub async fn orphan_sweep(state: &crate::AppState, actor: &str, account_id: &str, delete: bool) -> ApiResult<Value> {
    use crate::provision::{RevokeInput, Steps};
    if get(&state.store, account_id).await?.is_none() {
        return Err(ApiError::not_found(format!("account {account_id} is not registered")));
    }
    let steps = Steps { store: state.store.clone(), request_id: format!("orphan-sweep:{account_id}") };
    let roles = state
        .provisioner
        .managed_roles(account_id, &state.config.deployment_id, &steps)
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_GATEWAY, "provisioner", e))?;
    let mut orphans = Vec::new();
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for r in roles {
        let name = r["role_name"].as_str().unwrap_or_default().to_string();
        let request_id = r["request_id"].as_str().unwrap_or_default().to_string();
        if name != request_id {
            // Tagged for another request than its name says: not something this service made.
            continue;
        }
        let st: Option<String> = sqlx::query("SELECT state FROM requests WHERE id = $1")
            .bind(&request_id)
            .fetch_optional(&state.store.pool)
            .await?
            .map(|row| row.get(0));
        let reason = match st.as_deref() {
            None => "unknown request",
            Some(s) if crate::requests::TERMINAL.contains(&s) => "request ended",
            Some(_) => continue,
        };
        let mut o = r.clone();
        o["reason"] = json!(reason);
        o["request_state"] = json!(st);
        if delete {
            let input = RevokeInput {
                request_id: request_id.clone(),
                accounts: vec![account_id.to_string()],
                deployment_id: state.config.deployment_id.clone(),
                early: true,
                now_ms: state.now(),
            };
            let steps = Steps { store: state.store.clone(), request_id: request_id.clone() };
            match state.provisioner.revoke(&input, &steps).await {
                Ok(()) => deleted.push(json!(name)),
                Err(e) => errors.push(json!({"role_name": name, "error": e})),
            }
        }
        orphans.push(o);
    }
    crate::audit::append_now(
        &state.store,
        actor,
        "account.orphan_sweep",
        account_id,
        json!({"orphans": orphans, "deleted": deleted, "errors": errors, "delete": delete}),
    )
    .await?;
    Ok(json!({"account_id": account_id, "orphans": orphans, "deleted": deleted, "errors": errors}))
}
