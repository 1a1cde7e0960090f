//! Durable provisioning and revocation jobs.
//!
//! Approving a request queues a `provision` job in the same transaction; ending a grant
//! moves it to `revoking` and queues a `revoke` job in the same transaction. A job is run by
//! whichever replica claims it: `FOR UPDATE SKIP LOCKED` on PostgreSQL (replicas pass over
//! each other's rows), the single writer on SQLite, and on both a lease that a crashed
//! replica leaves to run out, after which any replica (or the same one restarted) resumes the
//! job from the start — every provisioner step is idempotent. The job is marked done in the
//! same transaction that records the request's end state, under the request's row lock, so
//! a grant reaches `expired`/`revoked` exactly once however many replicas race for it.

use crate::audit;
use crate::db::{Backend, Write};
use crate::error::{ApiError, ApiResult};
use crate::provision::{ProvisionInput, RevokeInput, Steps};
use crate::requests;
use crate::util::{fmt_ts, parse_ts};
use crate::AppState;
use serde_json::{json, Value};
use sqlx::Row;

/// How long a claimed job is its replica's before another may take it over.
pub const LEASE_MS: i64 = 120_000;
const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone)]
pub struct Job {
    pub request_id: String,
    pub kind: String,
    /// For `revoke`: the request's end state (`expired`/`revoked`), or none for the clean-up
    /// of a request that already ended (a cancelled `provisioning_failed`).
    pub end_state: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub early: bool,
    pub attempts: i64,
}

/// Queue (or re-queue) the request's job of `kind`, due now.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue(
    w: &mut Write,
    request_id: &str,
    kind: &str,
    end_state: Option<&str>,
    actor: &str,
    reason: Option<&str>,
    early: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM grant_jobs WHERE request_id = $1 AND kind = $2")
        .bind(request_id)
        .bind(kind)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query(
        "INSERT INTO grant_jobs (request_id, kind, end_state, actor, reason, early, run_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(request_id)
    .bind(kind)
    .bind(end_state)
    .bind(actor)
    .bind(reason)
    .bind(i64::from(early))
    .bind(now)
    .bind(now)
    .execute(&mut *w.tx)
    .await?;
    Ok(())
}

fn job_from_row(r: &sqlx::any::AnyRow) -> Job {
    Job {
        request_id: r.get("request_id"),
        kind: r.get("kind"),
        end_state: r.get("end_state"),
        actor: r.get::<Option<String>, _>("actor").unwrap_or_else(|| "system:provisioner".into()),
        reason: r.get("reason"),
        early: r.get::<i64, _>("early") != 0,
        attempts: r.get("attempts"),
    }
}

const JOB_COLS: &str = "request_id, kind, end_state, actor, reason, early, attempts";

/// Claim one job (if it is not done and nobody holds it).
async fn claim_one(state: &AppState, request_id: &str, kind: &str) -> ApiResult<Option<Job>> {
    let now = state.now();
    let n = sqlx::query(
        "UPDATE grant_jobs SET lease_until = $1, lease_owner = $2, attempts = attempts + 1 WHERE request_id = $3 AND kind = $4 AND done_at IS NULL AND lease_until < $5",
    )
    .bind(now + LEASE_MS)
    .bind(&*state.replica_id)
    .bind(request_id)
    .bind(kind)
    .bind(now)
    .execute(&state.store.pool)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {JOB_COLS} FROM grant_jobs WHERE request_id = $1 AND kind = $2"
    )))
    .bind(request_id)
    .bind(kind)
    .fetch_one(&state.store.pool)
    .await?;
    Ok(Some(job_from_row(&row)))
}

/// Claim up to `limit` due jobs for this replica.
pub async fn claim_due(state: &AppState, limit: i64) -> ApiResult<Vec<Job>> {
    let now = state.now();
    let select = match state.store.backend {
        // Replicas skip the rows another is claiming instead of queueing behind it.
        Backend::Postgres => format!(
            "SELECT {JOB_COLS} FROM grant_jobs WHERE done_at IS NULL AND run_after <= $1 AND lease_until < $2 ORDER BY run_after LIMIT $3 FOR UPDATE SKIP LOCKED"
        ),
        // One writer at a time (BEGIN IMMEDIATE): the rows cannot be claimed twice.
        Backend::Sqlite => format!(
            "SELECT {JOB_COLS} FROM grant_jobs WHERE done_at IS NULL AND run_after <= $1 AND lease_until < $2 ORDER BY run_after LIMIT $3"
        ),
    };
    let mut w = state.store.write().await?;
    let jobs: Vec<Job> = sqlx::query(sqlx::AssertSqlSafe(select))
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .map(job_from_row)
        .collect();
    for j in &jobs {
        sqlx::query(
            "UPDATE grant_jobs SET lease_until = $1, lease_owner = $2, attempts = attempts + 1 WHERE request_id = $3 AND kind = $4",
        )
        .bind(now + LEASE_MS)
        .bind(&*state.replica_id)
        .bind(&j.request_id)
        .bind(&j.kind)
        .execute(&mut *w.tx)
        .await?;
    }
    w.commit().await?;
    Ok(jobs.into_iter().map(|j| Job { attempts: j.attempts + 1, ..j }).collect())
}

/// Mark the job done (inside the transaction that records its outcome).
async fn finish(w: &mut Write, job: &Job, error: Option<&str>, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE grant_jobs SET done_at = $1, last_error = $2, lease_until = 0 WHERE request_id = $3 AND kind = $4",
    )
    .bind(now)
    .bind(error)
    .bind(&job.request_id)
    .bind(&job.kind)
    .execute(&mut *w.tx)
    .await?;
    Ok(())
}

/// Retry later: 10 s, 20 s, 40 s … up to 15 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    (10_000i64 << attempts.clamp(1, 10).saturating_sub(1)).min(15 * 60_000)
}

/// Release the job for a later attempt, recording why this one failed.
async fn retry_later(state: &AppState, job: &Job, error: &str) -> ApiResult<()> {
    let now = state.now();
    sqlx::query(
        "UPDATE grant_jobs SET lease_until = 0, run_after = $1, last_error = $2 WHERE request_id = $3 AND kind = $4 AND done_at IS NULL",
    )
    .bind(now + backoff_ms(job.attempts))
    .bind(error)
    .bind(&job.request_id)
    .bind(&job.kind)
    .execute(&state.store.pool)
    .await?;
    audit::append_now(
        &state.store,
        "system:provisioner",
        &format!("request.{}_failed", job.kind),
        &job.request_id,
        json!({"error": error, "attempt": job.attempts, "retry_at": fmt_ts(now + backoff_ms(job.attempts))}),
    )
    .await?;
    Ok(())
}

/// The job's state for the request view: `{kind, attempts, last_error, retry_at}` of an
/// unfinished job.
pub async fn pending(state: &AppState, request_id: &str) -> ApiResult<Option<Value>> {
    let row = sqlx::query(
        "SELECT kind, attempts, last_error, run_after FROM grant_jobs WHERE request_id = $1 AND done_at IS NULL ORDER BY created_at DESC LIMIT 1",
    )
    .bind(request_id)
    .fetch_optional(&state.store.pool)
    .await?;
    Ok(row.map(|r| {
        json!({
            "kind": r.get::<String, _>(0),
            "attempts": r.get::<i64, _>(1),
            "last_error": r.get::<Option<String>, _>(2),
            "run_after": fmt_ts(r.get::<i64, _>(3)),
        })
    }))
}

/// Run the request's job of `kind` now if nobody holds it (the API does this right after
/// queueing one, so a grant is usually provisioned or removed before the response). Returns
/// the provisioner's error, if it failed.
pub async fn kick(state: &AppState, request_id: &str, kind: &str) -> ApiResult<Option<String>> {
    match claim_one(state, request_id, kind).await? {
        Some(job) => Ok(run(state, &job).await?.err()),
        None => Ok(None),
    }
}

/// Run every due job (the sweep). Returns how many moved their request to a new state
/// (`active`, `provisioning_failed`, `expired`, `revoked`).
pub async fn run_due(state: &AppState) -> ApiResult<usize> {
    let mut done = 0;
    loop {
        let jobs = claim_due(state, 20).await?;
        if jobs.is_empty() {
            return Ok(done);
        }
        let n = jobs.len();
        for job in jobs {
            match run(state, &job).await {
                Ok(Ok(true)) => done += 1,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(request = %job.request_id, kind = %job.kind, error = %e, "job failed; will retry")
                }
                Err(e) => tracing::warn!(request = %job.request_id, kind = %job.kind, error = %e, "job failed"),
            }
        }
        if n < 20 {
            return Ok(done);
        }
    }
}

/// Run a claimed job: `Ok(Ok(changed))` when it finished (`changed`: it moved the request
/// to a new state), `Ok(Err(reason))` when the provisioner failed.
pub async fn run(state: &AppState, job: &Job) -> ApiResult<Result<bool, String>> {
    match job.kind.as_str() {
        "provision" => run_provision(state, job).await,
        "revoke" => run_revoke(state, job).await,
        "extend" => run_extend(state, job).await,
        other => Err(ApiError::internal(format!("unknown job kind `{other}`"))),
    }
}

fn steps(state: &AppState, request_id: &str) -> Steps {
    Steps { store: state.store.clone(), request_id: request_id.to_string() }
}

/// What the provisioner gets for `s`: the trust principal (an `assume_by` proved at
/// submission, the owner's own IAM principal, or the hub role for e-mail users), the source
/// identity, the approved policy and the end.
async fn provision_input(
    state: &AppState,
    s: &requests::Stored,
    not_after: i64,
    now: i64,
    update_only: bool,
) -> ApiResult<ProvisionInput> {
    let owner = crate::identity::get_user(&mut *state.store.pool.acquire().await?, &s.owner).await?;
    let assume_by = s.spec.pointer("/assume_by/principal_arn").and_then(Value::as_str).map(str::to_string);
    let trust = assume_by
        .or_else(|| s.owner.strip_prefix("iam:").map(str::to_string))
        .or_else(|| state.config.hub_role_arn.clone());
    Ok(ProvisionInput {
        request_id: s.id.clone(),
        accounts: s.accounts.clone(),
        policy: s.spec.get("policy").cloned().unwrap_or(Value::Null),
        trust_principal: trust,
        source_identity: crate::provision::source_identity(
            &owner.map(|u| u.user_id).unwrap_or_else(|| s.owner.clone()),
        ),
        not_after_ms: not_after,
        now_ms: now,
        deployment_id: state.config.deployment_id.clone(),
        permission_boundary_arn: state.config.permission_boundary_arn.clone(),
        update_only,
    })
}

/// An approved extension: bring the roles' end in line with the request's new `expires_at`.
async fn run_extend(state: &AppState, job: &Job) -> ApiResult<Result<bool, String>> {
    let id = job.request_id.as_str();
    let s = requests::load(&mut *state.store.pool.acquire().await?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("request {id} not found")))?;
    let now = state.now();
    let (Some(not_after), "active") = (s.expires_at, s.state.as_str()) else {
        let mut w = state.store.write().await?;
        finish(&mut w, job, None, now).await?;
        w.commit().await?;
        return Ok(Ok(false));
    };
    let input = provision_input(state, &s, not_after, now, true).await?;
    if let Err(e) = state.provisioner.provision(&input, &steps(state, id)).await {
        retry_later(state, job, &e).await?;
        return Ok(Err(e));
    }
    let mut w = state.store.write().await?;
    audit::append(
        &mut w,
        "system:provisioner",
        "request.extension_applied",
        id,
        json!({"expires_at": fmt_ts(not_after)}),
    )
    .await?;
    finish(&mut w, job, None, now).await?;
    w.commit().await?;
    Ok(Ok(false))
}

async fn run_provision(state: &AppState, job: &Job) -> ApiResult<Result<bool, String>> {
    let id = job.request_id.as_str();
    let policy = requests::active_policy(state).await?;
    let mut w = state.store.write().await?;
    let s = requests::lock(&mut w, id).await?;
    let now = state.now();
    let not_after = match s.state.as_str() {
        "approved" => {
            // The end of the grant is fixed once, here, so a resumed job creates the same role.
            let mut not_after = now + s.duration_ms;
            if let Some(t) = s.spec.pointer("/duration/not_after").and_then(Value::as_str).and_then(parse_ts) {
                not_after = not_after.min(t.max(now + 60_000));
            }
            let cap = if s.break_glass_reason.is_some() {
                policy.break_glass.max_hours
            } else {
                policy.max_hours(&s.accounts)
            };
            not_after = not_after.min(now + i64::from(cap) * HOUR_MS);
            requests::transition(
                &mut w,
                &s,
                "system:provisioner",
                "provisioning",
                None,
                &[("expires_at", json!(not_after))],
            )
            .await?;
            w.commit().await?;
            not_after
        }
        "provisioning" => {
            drop(w);
            audit::append_now(
                &state.store,
                "system:provisioner",
                "request.provisioning_resumed",
                id,
                json!({"attempt": job.attempts}),
            )
            .await?;
            s.expires_at.unwrap_or(now + s.duration_ms)
        }
        _ => {
            finish(&mut w, job, None, now).await?;
            w.commit().await?;
            return Ok(Ok(false));
        }
    };
    let input = provision_input(state, &s, not_after, now, false).await?;
    let result = if input.trust_principal.is_none() {
        Err(format!(
            "{} has no AWS principal of its own and no hub_role_arn is configured: link a principal to the user or set hub_role_arn",
            s.owner
        ))
    } else {
        state.provisioner.provision(&input, &steps(state, id)).await
    };
    let mut w = state.store.write().await?;
    let s = requests::lock(&mut w, id).await?;
    let now = state.now();
    if s.state != "provisioning" {
        finish(&mut w, job, None, now).await?;
        w.commit().await?;
        return Ok(Ok(false));
    }
    let failed = match result {
        Ok(out) => {
            requests::transition(
                &mut w,
                &s,
                "system:provisioner",
                "active",
                None,
                &[
                    ("activated_at", json!(now)),
                    ("expires_at", json!(not_after)),
                    (
                        "grant_info",
                        json!(json!({"provisioner": state.provisioner.name(), "roles": out.roles}).to_string()),
                    ),
                ],
            )
            .await?;
            requests::notify_current(&mut w, state, id, "request.active", None).await?;
            finish(&mut w, job, None, now).await?;
            Ok(true)
        }
        Err(e) => {
            requests::transition(&mut w, &s, "system:provisioner", "provisioning_failed", Some(&e), &[]).await?;
            requests::notify_current(&mut w, state, id, "request.provisioning_failed", Some(&e)).await?;
            finish(&mut w, job, Some(&e), now).await?;
            Err(e)
        }
    };
    w.commit().await?;
    Ok(failed)
}

async fn run_revoke(state: &AppState, job: &Job) -> ApiResult<Result<bool, String>> {
    let id = job.request_id.as_str();
    let s = requests::load(&mut *state.store.pool.acquire().await?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("request {id} not found")))?;
    if job.end_state.is_some() && s.state != "revoking" {
        let mut w = state.store.write().await?;
        finish(&mut w, job, None, state.now()).await?;
        w.commit().await?;
        return Ok(Ok(false));
    }
    let input = RevokeInput {
        request_id: id.to_string(),
        accounts: s.accounts.clone(),
        deployment_id: state.config.deployment_id.clone(),
        early: job.early,
        now_ms: state.now(),
    };
    if let Err(e) = state.provisioner.revoke(&input, &steps(state, id)).await {
        retry_later(state, job, &e).await?;
        return Ok(Err(e));
    }
    let mut w = state.store.write().await?;
    let s = requests::lock(&mut w, id).await?;
    let now = state.now();
    let mut changed = false;
    if let Some(to) = job.end_state.as_deref() {
        // Under the row lock: only the first to get here records the end.
        if s.state == "revoking" {
            changed = true;
            requests::transition(
                &mut w,
                &s,
                &job.actor,
                to,
                job.reason.as_deref(),
                &[("ended_at", json!(now)), ("extension", Value::Null)],
            )
            .await?;
            requests::notify_current(&mut w, state, id, &format!("request.{to}"), job.reason.as_deref()).await?;
        }
    } else {
        audit::append(&mut w, "system:provisioner", "request.cleaned_up", id, json!({"accounts": s.accounts})).await?;
    }
    finish(&mut w, job, None, now).await?;
    w.commit().await?;
    Ok(Ok(changed))
}

/// Move an active (or failed) grant to `revoking` and queue the job that removes its roles.
/// Returns false when the request is no longer in a state that can be ended.
pub async fn begin_revoke(
    state: &AppState,
    id: &str,
    actor: &str,
    to: &str,
    reason: Option<&str>,
    early: bool,
) -> ApiResult<bool> {
    let mut w = state.store.write().await?;
    let s = requests::lock(&mut w, id).await?;
    if !matches!(s.state.as_str(), "active" | "provisioning_failed") {
        return Ok(false);
    }
    let now = state.now();
    if to == "expired" && s.expires_at.is_none_or(|t| t > now) {
        return Ok(false);
    }
    requests::transition(&mut w, &s, actor, "revoking", reason, &[]).await?;
    enqueue(&mut w, id, "revoke", Some(to), actor, reason, early, now).await?;
    w.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_fifteen_minutes() {
        let b: Vec<i64> = (1..=9).map(super::backoff_ms).collect();
        assert_eq!(&b[..5], &[10_000, 20_000, 40_000, 80_000, 160_000]);
        assert!(b.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(super::backoff_ms(50), 15 * 60_000);
        assert_eq!(super::backoff_ms(0), 10_000);
    }
}
