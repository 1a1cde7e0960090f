//! Notifications through a durable outbox: each event is written to the `outbox` table in
//! the same transaction as the change it reports, then delivered by a worker (any replica;
//! a short lease makes one of them take each message), retried with exponential backoff, and
//! every attempt logged in `deliveries`. A restart loses nothing: undelivered rows wait.
//!
//! Webhooks: JSON (or a Slack-compatible `{"text": …}` body), signed with the subscription's
//! secret: header `X-IAM-JIT-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>` (see docs/jit.md for the verification snippet).
//! E-mail: to the requester on decisions and expiry, to eligible approvers on new requests.

use crate::approval;
use crate::db::{opt_i64, opt_str, Store, Write};
use crate::error::{ApiError, ApiResult};
use crate::identity::Role;
use crate::requests::Stored;
use crate::util::{fmt_ts, hmac_hex, new_id, now_ms};
use crate::AppState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::Row;
use std::time::{Duration, Instant};

/// Every event a webhook can subscribe to.
pub const EVENTS: &[&str] = &[
    "request.submitted",
    "request.edited",
    "request.approved",
    "request.rejected",
    "request.changes_requested",
    "request.cancelled",
    "request.commented",
    "request.active",
    "request.provisioning_failed",
    "request.expiring",
    "request.expired",
    "request.revoked",
    "request.break_glass",
    "request.extension_requested",
    "request.extended",
    "request.extension_rejected",
];

/// Events mailed to the requester.
const TO_REQUESTER: &[&str] = &[
    "request.approved",
    "request.rejected",
    "request.changes_requested",
    "request.active",
    "request.provisioning_failed",
    "request.expiring",
    "request.expired",
    "request.revoked",
    "request.extended",
    "request.extension_rejected",
];
/// Events mailed to the approvers who may decide.
const TO_APPROVERS: &[&str] =
    &["request.submitted", "request.edited", "request.break_glass", "request.extension_requested"];

pub const MAX_ATTEMPTS: i64 = 12;
pub const SIGNATURE_HEADER: &str = "X-IAM-JIT-Signature";

/// Backoff before attempt `n+1` (after `n` failures): 5 s doubling, at most 1 h.
pub fn backoff_ms(failures: i64) -> i64 {
    (5_000i64 << failures.clamp(0, 10)).min(3_600_000)
}

/// The signature header value for `body` at unix time `t`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", hmac_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes()))
}

fn payload(event: &str, s: &Stored, note: Option<&str>, base_url: &str) -> Value {
    json!({
        "event": event,
        "request": {
            "id": s.id,
            "owner": s.owner,
            "state": s.state,
            "risk_score": s.risk_score,
            "tier": s.tier,
            "accounts": s.accounts,
            "description": s.spec.get("description"),
            "expires_at": s.expires_at.map(fmt_ts),
            "break_glass_reason": s.break_glass_reason,
            "url": format!("{}/api/v1/requests/{}", base_url.trim_end_matches('/'), s.id),
        },
        "note": note,
        "sent_at": fmt_ts(now_ms()),
    })
}

/// What happened, as words after "request … by …".
fn phrase(event: &str) -> String {
    match event {
        "request.submitted" => "was submitted".into(),
        "request.edited" => "was edited".into(),
        "request.approved" => "was approved".into(),
        "request.rejected" => "was rejected".into(),
        "request.changes_requested" => "needs changes".into(),
        "request.cancelled" => "was cancelled".into(),
        "request.commented" => "has a new comment".into(),
        "request.active" => "is active".into(),
        "request.provisioning_failed" => "could not be provisioned".into(),
        "request.expiring" => "expires within 15 minutes".into(),
        "request.expired" => "has expired".into(),
        "request.revoked" => "was revoked".into(),
        "request.break_glass" => "is BREAK-GLASS access, active now".into(),
        "request.extension_requested" => "asks for an extension".into(),
        "request.extended" => "was extended".into(),
        "request.extension_rejected" => "was not extended".into(),
        other => format!("had event {}", other.trim_start_matches("request.")),
    }
}

fn summary(event: &str, s: &Stored, note: Option<&str>) -> String {
    let what = phrase(event);
    let mut line = format!(
        "iam-jit: request {} by {} {what} (risk {} / {}, accounts {})",
        s.id,
        s.owner,
        s.risk_score,
        s.tier,
        s.accounts.join(", ")
    );
    if let Some(n) = note {
        line.push_str(&format!(" — {}", n.chars().take(300).collect::<String>()));
    }
    line
}

async fn insert(w: &mut Write, kind: &str, target: &str, event: &str, body: &str) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query("INSERT INTO outbox (id, kind, target, event, body, status, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)")
        .bind(new_id("ob-"))
        .bind(kind)
        .bind(target)
        .bind(event)
        .bind(body)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    Ok(())
}

/// Queue `event` about `s` for every subscribed webhook and every mail recipient.
pub async fn enqueue(
    w: &mut Write,
    state: &AppState,
    event: &str,
    s: &Stored,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    let body = payload(event, s, note, &state.config.public_url);
    let hooks = sqlx::query("SELECT id, events, format FROM webhooks WHERE enabled = 1").fetch_all(&mut *w.tx).await?;
    for h in hooks {
        let events: Vec<String> = serde_json::from_str(&h.get::<String, _>("events")).unwrap_or_default();
        if !events.iter().any(|e| e == "*" || e == event) {
            continue;
        }
        let text = if h.get::<String, _>("format") == "slack" {
            json!({"text": summary(event, s, note)}).to_string()
        } else {
            body.to_string()
        };
        insert(w, "webhook", &h.get::<String, _>("id"), event, &text).await?;
    }
    if state.config.smtp.is_none() {
        return Ok(());
    }
    let mut to: Vec<String> = Vec::new();
    if TO_REQUESTER.contains(&event) {
        if let Some(addr) = s.owner.strip_prefix("email:") {
            to.push(addr.to_string());
        }
    }
    if TO_APPROVERS.contains(&event) {
        let (_, policy) = approval::active(&mut w.tx).await?;
        for u in crate::identity::load_users(&mut w.tx, crate::identity::Which::MailableApprovers).await? {
            if u.user_id != s.owner && u.role >= Role::Approver && policy.may_approve(&u, &s.tier, &s.accounts) {
                to.push(u.user_id.trim_start_matches("email:").to_string());
            }
        }
    }
    let subject = summary(event, s, None);
    let text = format!(
        "{}\n\nDescription: {}\nDetails: {}/api/v1/requests/{}\n",
        summary(event, s, note),
        s.spec.get("description").and_then(Value::as_str).unwrap_or(""),
        state.config.public_url.trim_end_matches('/'),
        s.id
    );
    for addr in to {
        let mail = json!({"subject": subject, "text": text}).to_string();
        insert(w, "email", &addr, event, &mail).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Webhook subscriptions (admin)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub format: Option<String>,
    /// Optional: the signing secret (otherwise one is generated and shown once).
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub format: String,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: String,
}

pub async fn create_webhook(state: &AppState, actor: &str, new: NewWebhook) -> ApiResult<(Webhook, String)> {
    let url = new.url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.len() > 2048
        || url.contains(char::is_whitespace)
    {
        return Err(ApiError::field("url", "must be an http(s) URL"));
    }
    if new.events.is_empty() {
        return Err(ApiError::field(
            "events",
            format!("list the events to receive, or [\"*\"]; events: {}", EVENTS.join(", ")),
        ));
    }
    for e in &new.events {
        if e != "*" && !EVENTS.contains(&e.as_str()) {
            return Err(ApiError::field("events", format!("unknown event `{e}`; one of {}", EVENTS.join(", "))));
        }
    }
    let format = new.format.unwrap_or_else(|| "json".into());
    if format != "json" && format != "slack" {
        return Err(ApiError::field("format", "must be \"json\" or \"slack\""));
    }
    let secret = match new.secret {
        Some(s) if s.len() >= 16 && s.len() <= 256 => s,
        Some(_) => return Err(ApiError::field("secret", "must be 16-256 characters")),
        None => crate::util::secret("whsec_"),
    };
    let id = new_id("wh-");
    let now = now_ms();
    let mut w = state.store.write().await?;
    sqlx::query("INSERT INTO webhooks (id, url, secret, events, format, enabled, created_by, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7)")
        .bind(&id)
        .bind(url)
        .bind(&secret)
        .bind(json!(new.events).to_string())
        .bind(&format)
        .bind(actor)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    crate::audit::append(
        &mut w,
        actor,
        "webhook.created",
        &id,
        json!({"url": url, "events": new.events, "format": format}),
    )
    .await?;
    w.commit().await?;
    Ok((
        Webhook {
            id,
            url: url.into(),
            events: new.events,
            format,
            enabled: true,
            created_by: actor.into(),
            created_at: fmt_ts(now),
        },
        secret,
    ))
}

pub async fn list_webhooks(store: &Store) -> Result<Vec<Webhook>, sqlx::Error> {
    Ok(sqlx::query("SELECT id, url, events, format, enabled, created_by, created_at FROM webhooks ORDER BY created_at")
        .fetch_all(&store.pool)
        .await?
        .iter()
        .map(|r| Webhook {
            id: r.get("id"),
            url: r.get("url"),
            events: serde_json::from_str(&r.get::<String, _>("events")).unwrap_or_default(),
            format: r.get("format"),
            enabled: r.get::<i64, _>("enabled") != 0,
            created_by: r.get("created_by"),
            created_at: fmt_ts(r.get("created_at")),
        })
        .collect())
}

pub async fn delete_webhook(state: &AppState, actor: &str, id: &str) -> ApiResult<()> {
    let mut w = state.store.write().await?;
    let n = sqlx::query("UPDATE webhooks SET enabled = 0 WHERE id = $1 AND enabled = 1")
        .bind(id)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found(format!("no active webhook `{id}`")));
    }
    crate::audit::append(&mut w, actor, "webhook.disabled", id, json!({})).await?;
    w.commit().await?;
    Ok(())
}

/// The outbox with its delivery attempts (admin view).
pub async fn deliveries(store: &Store, limit: i64) -> Result<Value, sqlx::Error> {
    let rows = sqlx::query("SELECT id, kind, target, event, status, attempts, next_attempt_at, last_error, created_at, delivered_at FROM outbox ORDER BY created_at DESC LIMIT $1")
        .bind(limit.clamp(1, 1000))
        .fetch_all(&store.pool)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = r.get("id");
        let attempts = sqlx::query("SELECT attempt, status_code, error, duration_ms, created_at FROM deliveries WHERE outbox_id = $1 ORDER BY attempt")
            .bind(&id)
            .fetch_all(&store.pool)
            .await?
            .iter()
            .map(|d| {
                json!({
                    "attempt": d.get::<i64, _>("attempt"),
                    "status_code": opt_i64(d, "status_code"),
                    "error": opt_str(d, "error"),
                    "duration_ms": d.get::<i64, _>("duration_ms"),
                    "at": fmt_ts(d.get("created_at")),
                })
            })
            .collect::<Vec<_>>();
        out.push(json!({
            "id": id,
            "kind": r.get::<String, _>("kind"),
            "target": r.get::<String, _>("target"),
            "event": r.get::<String, _>("event"),
            "status": r.get::<String, _>("status"),
            "attempts": r.get::<i64, _>("attempts"),
            "next_attempt_at": fmt_ts(r.get("next_attempt_at")),
            "last_error": opt_str(&r, "last_error"),
            "created_at": fmt_ts(r.get("created_at")),
            "delivered_at": opt_i64(&r, "delivered_at").map(fmt_ts),
            "log": attempts,
        }));
    }
    Ok(json!({"deliveries": out}))
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// SMTP settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    /// `none` (a local relay), `starttls` or `tls`.
    #[serde(default = "default_tls")]
    pub tls: String,
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

fn default_tls() -> String {
    "starttls".into()
}

async fn send_mail(smtp: &Smtp, to: &str, body: &str) -> Result<(), String> {
    use lettre::message::{header::ContentType, Mailbox};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let from: Mailbox = smtp.from.parse().map_err(|e| format!("bad from address `{}`: {e}", smtp.from))?;
    let to: Mailbox = to.parse().map_err(|e| format!("bad address `{to}`: {e}"))?;
    let msg = Message::builder()
        .from(from)
        .to(to)
        .subject(v["subject"].as_str().unwrap_or("iam-jit"))
        .header(ContentType::TEXT_PLAIN)
        .body(v["text"].as_str().unwrap_or("").to_string())
        .map_err(|e| e.to_string())?;
    let mut builder = match smtp.tls.as_str() {
        "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(|e| e.to_string())?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(|e| e.to_string())?,
    }
    .port(smtp.port)
    .timeout(Some(Duration::from_secs(15)));
    if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    builder.build().send(msg).await.map(|_| ()).map_err(|e| e.to_string())
}

async fn send_webhook(url: String, secret: String, body: String) -> Result<u16, (Option<u16>, String)> {
    tokio::task::spawn_blocking(move || {
        let t = now_ms() / 1000;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        let resp = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("User-Agent", concat!("iam-jit/", env!("CARGO_PKG_VERSION")))
            .header(SIGNATURE_HEADER, &signature(&secret, t, &body))
            .send(body.as_bytes());
        match resp {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err((Some(r.status().as_u16()), format!("HTTP {}", r.status().as_u16()))),
            Err(e) => Err((None, e.to_string())),
        }
    })
    .await
    .unwrap_or_else(|e| Err((None, e.to_string())))
}

/// Deliver up to `batch` due messages; returns how many were attempted.
pub async fn deliver_due(state: &AppState, batch: i64) -> ApiResult<usize> {
    let now = now_ms();
    let due: Vec<String> = sqlx::query("SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND locked_until < $1 ORDER BY next_attempt_at LIMIT $2")
        .bind(now)
        .bind(batch)
        .fetch_all(&state.store.pool)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut n = 0;
    for id in due {
        // Lease: one replica takes the message for 60 s. The message must still be due: the
        // list above may be stale, and another replica may have tried it since (and scheduled
        // the next attempt after its backoff).
        let claimed = sqlx::query(
            "UPDATE outbox SET locked_until = $1 WHERE id = $2 AND status = 'pending' AND locked_until < $3 AND next_attempt_at <= $3",
        )
        .bind(now_ms() + 60_000)
        .bind(&id)
        .bind(now_ms())
        .execute(&state.store.pool)
        .await?
        .rows_affected();
        if claimed == 0 {
            continue;
        }
        let r = sqlx::query("SELECT kind, target, body, attempts FROM outbox WHERE id = $1")
            .bind(&id)
            .fetch_one(&state.store.pool)
            .await?;
        let (kind, target, body, attempts): (String, String, String, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let started = Instant::now();
        // Errors that no retry can fix end the message at once.
        let mut permanent = false;
        let result: Result<Option<u16>, (Option<u16>, String)> = match kind.as_str() {
            "webhook" => {
                let hook = sqlx::query("SELECT url, secret, enabled FROM webhooks WHERE id = $1")
                    .bind(&target)
                    .fetch_optional(&state.store.pool)
                    .await?;
                match hook {
                    Some(h) if h.get::<i64, _>("enabled") != 0 => {
                        send_webhook(h.get("url"), h.get("secret"), body).await.map(Some)
                    }
                    _ => {
                        permanent = true;
                        Err((None, "the webhook was disabled or deleted; not retried".to_string()))
                    }
                }
            }
            "email" => match &state.config.smtp {
                Some(smtp) => send_mail(smtp, &target, &body).await.map(|_| None).map_err(|e| (None, e)),
                None => Err((None, "SMTP is not configured".to_string())),
            },
            other => {
                permanent = true;
                Err((None, format!("unknown outbox kind `{other}`")))
            }
        };
        let took = started.elapsed().as_millis() as i64;
        let attempt = attempts + 1;
        let (code, err) = match &result {
            Ok(c) => (*c, None),
            Err((c, e)) => (*c, Some(e.clone())),
        };
        let mut w = state.store.write().await?;
        sqlx::query("INSERT INTO deliveries (id, outbox_id, attempt, status_code, error, duration_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(new_id("dl-"))
            .bind(&id)
            .bind(attempt)
            .bind(code.map(i64::from))
            .bind(err.clone())
            .bind(took)
            .bind(now_ms())
            .execute(&mut *w.tx)
            .await?;
        match err {
            None => {
                sqlx::query("UPDATE outbox SET status = 'delivered', attempts = $1, delivered_at = $2, last_error = NULL, locked_until = 0 WHERE id = $3")
                    .bind(attempt)
                    .bind(now_ms())
                    .bind(&id)
                    .execute(&mut *w.tx)
                    .await?;
            }
            Some(e) => {
                let status = if permanent || attempt >= MAX_ATTEMPTS { "failed" } else { "pending" };
                sqlx::query("UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, locked_until = 0 WHERE id = $5")
                    .bind(status)
                    .bind(attempt)
                    .bind(now_ms() + backoff_ms(attempts))
                    .bind(&e)
                    .bind(&id)
                    .execute(&mut *w.tx)
                    .await?;
            }
        }
        w.commit().await?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(20), 3_600_000);
    }

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        let sig = signature("whsec_test", 1700000000, "{\"a\":1}");
        assert_eq!(sig, format!("t=1700000000,v1={}", hmac_hex(b"whsec_test", b"1700000000.{\"a\":1}")));
    }
}
