//! AWS-credential login for agents (the approach of Vault's AWS auth method): a caller proves
//! who it is in AWS without a token to manage, by signing an `sts:GetCallerIdentity` request
//! with its own AWS credentials and handing the *signed request* (never the secret) to the
//! service, which forwards it to STS and reads the caller's ARN from the answer.
//!
//! 1. `POST /api/v1/auth/aws/challenge` gives a random challenge (stored hashed, valid
//!    [`crate::Config::aws_challenge_ttl_secs`]), the header to put it in, and the STS endpoint
//!    and region to sign for.
//! 2. The caller signs `POST <sts_url>` with body `Action=GetCallerIdentity&Version=2011-06-15`
//!    (SigV4, service `sts`), the challenge header among the signed headers, and sends method,
//!    URL, headers and body to `POST /api/v1/auth/aws`.
//! 3. Before anything leaves the service the request is checked: POST; the URL is the
//!    configured STS endpoint (no client-chosen host: no SSRF); the body is exactly a
//!    GetCallerIdentity call; `Authorization` is `AWS4-HMAC-SHA256` for service `sts` and the
//!    configured region, and signs `host`, `x-amz-date` and the challenge header; `X-Amz-Date`
//!    is within ±5 minutes. Then the challenge is consumed (single use) in a write transaction,
//!    so a signed request works at most once, and only then is the request forwarded (only its
//!    signed headers and `Authorization`, no redirects) to STS.
//! 4. STS's answer names the caller (`<Arn>`); an assumed-role session is mapped to its role
//!    ([`identity::normalise_principal_arn`]); the user is `iam:<arn>` or the user that
//!    principal is linked to. A short-lived API token is issued for it and the login audited
//!    (`auth.aws_login`; refusals after the challenge check as `auth.aws_login_failed`).
//!
//! The CLI half ([`sign_login_request`], [`login`]) signs with `aws-sigv4` using the standard
//! AWS credential chain (`aws-config`).

use crate::api::Json;
use crate::audit;
use crate::client::{Client, ClientError};
use crate::db::{opt_i64, Store};
use crate::error::{ApiError, ApiResult};
use crate::identity::{self, User};
use crate::util::{fmt_ts, now_ms, secret, sha256_hex};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// The header that carries the challenge in the signed request.
pub const CHALLENGE_HEADER: &str = "X-IAM-JIT-Challenge";
/// The only body the service forwards (parameters in either order are accepted).
pub const GET_CALLER_IDENTITY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// How far `X-Amz-Date` may be from the service's clock.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// The name of the tokens a login issues.
pub const TOKEN_NAME: &str = "aws-login";

const MAX_HEADERS: usize = 32;
const MAX_HEADER_VALUE: usize = 4096;
const MAX_URL: usize = 2048;
const MAX_STS_ANSWER: u64 = 64 * 1024;
/// Headers that describe the connection, not the request: never forwarded, refused if signed.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// A login challenge.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(examples(json!({
    "header": "X-IAM-JIT-Challenge",
    "value": "9f1c…(64 hex digits)",
    "sts_url": "https://sts.amazonaws.com/",
    "region": "us-east-1",
    "expires_at": "2026-01-01T12:02:00Z"
})))]
pub struct AwsChallenge {
    /// Put the challenge in this header of the signed request, and sign it.
    pub header: String,
    /// The challenge: valid once, until `expires_at`.
    pub value: String,
    /// Sign a `POST` to exactly this URL: the service forwards to no other.
    pub sts_url: String,
    /// Sign for this region (service `sts`).
    pub region: String,
    pub expires_at: String,
}

/// A signed `sts:GetCallerIdentity` request, as the caller would have sent it to STS: e.g.
/// `{"method": "POST", "url": "https://sts.amazonaws.com/", "headers": {"host":
/// "sts.amazonaws.com", "content-type": "application/x-www-form-urlencoded; charset=utf-8",
/// "x-iam-jit-challenge": "…", "x-amz-date": "20260101T120000Z", "authorization":
/// "AWS4-HMAC-SHA256 Credential=AKIA…/20260101/us-east-1/sts/aws4_request,
/// SignedHeaders=content-type;host;x-amz-date;x-iam-jit-challenge, Signature=…"}, "body":
/// "Action=GetCallerIdentity&Version=2011-06-15"}` (no example to send: a signature is only
/// valid for a few minutes).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsLoginBody {
    /// `POST`.
    pub method: String,
    /// The `sts_url` of the challenge.
    pub url: String,
    /// Header name → value (names in any case, each once).
    pub headers: BTreeMap<String, String>,
    /// `Action=GetCallerIdentity&Version=2011-06-15`.
    pub body: String,
}

/// The credential an AWS-credential login issues.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AwsLoginResult {
    /// `iamjit_…`: send as `Authorization: Bearer …` until `expires_at`.
    pub token: String,
    pub token_type: String,
    /// `sha256:` of the token (how it is listed and revoked).
    pub hash: String,
    pub user_id: String,
    /// The ARN STS answered with (an assumed-role session maps to its role's user).
    pub principal_arn: String,
    pub expires_at: String,
}

// ---------------------------------------------------------------------------------------------
// Checking the signed request (no I/O)
// ---------------------------------------------------------------------------------------------

/// `scheme://host[:port]/path` with the scheme and host lower-cased, the default port dropped
/// and an empty path made `/`. No user info, query or fragment.
pub fn canonical_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let bad = |why: &str| format!("`{raw}` is not a usable STS URL: {why}");
    if raw.len() > MAX_URL {
        return Err(bad("too long"));
    }
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("expected http(s)://host[:port][/path]"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    if rest.contains(['?', '#', '@', '\\']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("no user info, query, fragment, backslash or space"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.to_ascii_lowercase();
    if !authority.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b)) {
        return Err(bad("no valid host"));
    }
    let (host, port) = if authority.starts_with('[') {
        let i = authority.find(']').ok_or_else(|| bad("no valid host"))?;
        match &authority[i + 1..] {
            "" => (&authority[..=i], None),
            rest => (&authority[..=i], Some(rest.strip_prefix(':').ok_or_else(|| bad("no valid host"))?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority.as_str(), None),
        }
    };
    if host.is_empty() || host == "[]" || (!host.starts_with('[') && host.contains([':', '[', ']'])) {
        return Err(bad("no valid host"));
    }
    let port = match port {
        None => None,
        Some(p) => {
            let n: u16 = p.parse().map_err(|_| bad("the port is not a number"))?;
            let default = (scheme == "https" && n == 443) || (scheme == "http" && n == 80);
            (!default).then_some(n)
        }
    };
    let authority = match port {
        Some(n) => format!("{host}:{n}"),
        None => host.to_string(),
    };
    if !path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)) {
        return Err(bad("the path has characters that need encoding"));
    }
    Ok(format!("{scheme}://{authority}{path}"))
}

/// The `host[:port]` of a URL from [`canonical_url`].
fn authority(canonical: &str) -> &str {
    let rest = canonical.split_once("://").map(|(_, r)| r).unwrap_or(canonical);
    rest.split('/').next().unwrap_or(rest)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The body must be exactly `Action=GetCallerIdentity&Version=2011-06-15`, in either order.
pub fn check_body(body: &str) -> Result<(), String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    if body.len() > 256 {
        return Err("the body is not a GetCallerIdentity call (too long)".into());
    }
    for pair in body.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        let (Some(k), Some(v)) = (k, v) else {
            return Err("the body is not form-encoded".into());
        };
        if seen.insert(k.clone(), v).is_some() {
            return Err(format!("the body names `{k}` twice"));
        }
    }
    let want: BTreeMap<String, String> =
        [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")].map(|(k, v)| (k.into(), v.into())).into();
    if seen != want {
        return Err(format!(
            "the body must be exactly `{GET_CALLER_IDENTITY}` (only sts:GetCallerIdentity is forwarded, with no other parameter)"
        ));
    }
    Ok(())
}

/// The parts of an `AWS4-HMAC-SHA256` Authorization header that are checked here (the
/// signature itself is checked by STS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
}

pub fn parse_authorization(v: &str) -> Result<SigV4, String> {
    let rest = v
        .trim()
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("the Authorization header must be an AWS4-HMAC-SHA256 signature (SigV4)")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", c)) => credential = Some(c),
            Some(("SignedHeaders", s)) => signed = Some(s),
            Some(("Signature", s)) => signature = Some(s),
            _ => return Err(format!("unexpected `{}` in the Authorization header", part.trim())),
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err("the Authorization header needs Credential=, SignedHeaders= and Signature=".into());
    };
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the signature must be 64 hex digits".into());
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, "aws4_request"] = scope[..] else {
        return Err("Credential= must be ACCESS_KEY_ID/DATE/REGION/SERVICE/aws4_request".into());
    };
    if akid.is_empty() || akid.len() > 128 || !akid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("the access key id in Credential= is not valid".into());
    }
    let signed_headers: Vec<String> = signed.split(';').map(str::to_string).collect();
    if signed_headers.iter().any(|h| {
        h.is_empty() || !h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }) {
        return Err("SignedHeaders must be lower-case header names separated by `;`".into());
    }
    Ok(SigV4 {
        access_key_id: akid.into(),
        date: date.into(),
        region: region.into(),
        service: service.into(),
        signed_headers,
    })
}

/// `YYYYMMDDTHHMMSSZ` → Unix milliseconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let month = time::Month::try_from(u8::try_from(n(4..6)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(n(0..4)?).ok()?, month, u8::try_from(n(6..8)?).ok()?).ok()?;
    let t = time::Time::from_hms(
        u8::try_from(n(9..11)?).ok()?,
        u8::try_from(n(11..13)?).ok()?,
        u8::try_from(n(13..15)?).ok()?,
    )
    .ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc().unix_timestamp() * 1000)
}

/// A signed request that passed every check that needs no I/O.
#[derive(Debug, Clone)]
pub struct Checked {
    pub challenge: String,
    pub access_key_id: String,
    /// What is forwarded: the signed headers (but `host`, which the HTTP client sets from the
    /// URL, and `content-length`, which it computes) and `authorization`.
    pub forward_headers: Vec<(String, String)>,
}

/// Check a signed request against the configured endpoint and region at time `now`.
/// Every failure is a 400 that says what is wrong; nothing is forwarded.
pub fn check_request(b: &AwsLoginBody, sts_url: &str, region: &str, now: i64) -> Result<Checked, String> {
    if !b.method.eq_ignore_ascii_case("POST") {
        return Err(format!("method must be POST, not `{}`", b.method));
    }
    let want = canonical_url(sts_url)?;
    let url = canonical_url(&b.url).map_err(|e| format!("url: {e}"))?;
    if url != want {
        return Err(format!("url must be this service's STS endpoint `{want}` (requests are forwarded nowhere else)"));
    }
    check_body(&b.body)?;
    if b.headers.len() > MAX_HEADERS {
        return Err(format!("at most {MAX_HEADERS} headers"));
    }
    let mut headers: BTreeMap<String, &str> = BTreeMap::new();
    for (k, v) in &b.headers {
        let name = k.trim().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
            return Err(format!("`{k}` is not a header name"));
        }
        if v.len() > MAX_HEADER_VALUE || v.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0) {
            return Err(format!("header `{k}`: value too long or with a line break"));
        }
        if headers.insert(name, v.as_str()).is_some() {
            return Err(format!("header `{k}` is given twice"));
        }
    }
    let auth = headers.get("authorization").ok_or("the signed request has no Authorization header")?;
    let sig = parse_authorization(auth)?;
    if sig.service != "sts" {
        return Err(format!("the request is signed for service `{}`, not `sts`", sig.service));
    }
    if sig.region != region {
        return Err(format!(
            "the request is signed for region `{}`; this service's STS endpoint needs `{region}`",
            sig.region
        ));
    }
    let challenge_name = CHALLENGE_HEADER.to_ascii_lowercase();
    for required in ["host", "x-amz-date", challenge_name.as_str()] {
        if !sig.signed_headers.iter().any(|h| h == required) {
            return Err(format!(
                "the signature must cover the `{required}` header (SignedHeaders has no `{required}`)"
            ));
        }
    }
    for h in &sig.signed_headers {
        if HOP_BY_HOP.contains(&h.as_str()) {
            return Err(format!("`{h}` must not be signed: it describes the connection, not the request"));
        }
        if !headers.contains_key(h) {
            return Err(format!("the signed header `{h}` is missing from headers"));
        }
    }
    let host = headers["host"];
    if !host.eq_ignore_ascii_case(authority(&want)) {
        return Err(format!("the host header must be `{}`, the STS endpoint's host", authority(&want)));
    }
    if let Some(ct) = headers.get("content-type") {
        if !ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
            return Err("content-type must be application/x-www-form-urlencoded".into());
        }
    }
    let date = headers["x-amz-date"];
    let at = parse_amz_date(date).ok_or_else(|| format!("X-Amz-Date `{date}` is not YYYYMMDDTHHMMSSZ"))?;
    if (at - now).abs() > MAX_CLOCK_SKEW_MS {
        return Err(format!(
            "X-Amz-Date {date} is more than 5 minutes from the service's clock ({}); sign a fresh request",
            fmt_ts(now)
        ));
    }
    if !sig.date.starts_with(&date[..8]) || sig.date.len() != 8 {
        return Err("the credential scope's date is not the X-Amz-Date's day".into());
    }
    let challenge = headers[challenge_name.as_str()].trim().to_string();
    if challenge.len() != 64 || !challenge.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("the {CHALLENGE_HEADER} header is not a challenge from POST /api/v1/auth/aws/challenge"));
    }
    let mut forward_headers: Vec<(String, String)> = sig
        .signed_headers
        .iter()
        .filter(|h| *h != "host" && *h != "content-length")
        .map(|h| (h.clone(), headers[h.as_str()].to_string()))
        .collect();
    forward_headers.push(("authorization".into(), auth.to_string()));
    Ok(Checked { challenge, access_key_id: sig.access_key_id, forward_headers })
}

/// The text of the first `<tag>…</tag>` in an XML document.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim())
}

/// What STS's answer means: the caller's ARN, or the refusal (401 with STS's code) or failure.
pub fn read_sts_answer(status: u16, text: &str) -> Result<String, ApiError> {
    if status == 200 {
        return match xml_text(text, "Arn") {
            Some(arn) if !arn.is_empty() => Ok(arn.to_string()),
            _ => Err(ApiError::new(StatusCode::BAD_GATEWAY, "sts_error", "STS answered 200 without an <Arn>")),
        };
    }
    let code = xml_text(text, "Code").unwrap_or("");
    let message = xml_text(text, "Message").unwrap_or("");
    if (400..500).contains(&status) && !code.is_empty() {
        let mut e = ApiError::unauthenticated(format!("STS refused the signed request: {code}: {message}"));
        e.code = "sts_refused";
        return Err(e);
    }
    Err(ApiError::new(
        StatusCode::BAD_GATEWAY,
        "sts_error",
        format!("STS answered HTTP {status}{}", if code.is_empty() { String::new() } else { format!(" ({code})") }),
    ))
}

// ---------------------------------------------------------------------------------------------
// The service side
// ---------------------------------------------------------------------------------------------

fn sts_url(s: &AppState) -> String {
    let raw = s.config.sts_url.clone().unwrap_or_else(|| crate::config::default_sts_url(|k| std::env::var(k).ok()));
    canonical_url(&raw).unwrap_or(raw)
}

/// `POST /api/v1/auth/aws/challenge`.
pub async fn challenge_handler(State(s): State<AppState>) -> ApiResult<Response> {
    let value = secret("");
    let now = now_ms();
    let expires = now + s.config.aws_challenge_ttl_secs as i64 * 1000;
    let mut w = s.store.write().await?;
    // Challenges an hour past their expiry are of no use, not even for a clearer message.
    sqlx::query("DELETE FROM aws_login_challenges WHERE expires_at < $1")
        .bind(now - 3_600_000)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query("INSERT INTO aws_login_challenges (hash, created_at, expires_at) VALUES ($1, $2, $3)")
        .bind(sha256_hex(value.as_bytes()))
        .bind(now)
        .bind(expires)
        .execute(&mut *w.tx)
        .await?;
    w.commit().await?;
    let c = AwsChallenge {
        header: CHALLENGE_HEADER.into(),
        value,
        sts_url: sts_url(&s),
        region: s.config.sts_region.clone(),
        expires_at: fmt_ts(expires),
    };
    Ok((StatusCode::CREATED, axum::Json(c)).into_response())
}

/// `POST /api/v1/auth/aws`.
pub async fn login_handler(State(s): State<AppState>, Json(body): Json<AwsLoginBody>) -> ApiResult<Response> {
    Ok((StatusCode::OK, axum::Json(login_with_signed_request(&s, &body).await?)).into_response())
}

async fn audit_failure(store: &Store, subject: &str, data: Value) {
    let res = audit::append_now(store, "system:aws-login", "auth.aws_login_failed", subject, data).await;
    if let Err(e) = res {
        tracing::error!(error = %e, "could not audit a failed AWS login");
    }
}

/// Check, consume the challenge, forward to STS, find the user and issue a token.
pub async fn login_with_signed_request(s: &AppState, body: &AwsLoginBody) -> ApiResult<AwsLoginResult> {
    let now = now_ms();
    let url = sts_url(s);
    let checked = check_request(body, &url, &s.config.sts_region, now).map_err(|m| {
        tracing::info!(reason = %m, "AWS login refused before forwarding");
        ApiError::bad_request(m)
    })?;
    let akid = checked.access_key_id.clone();

    // Consume the challenge before anything is forwarded: a signed request works once.
    let hash = sha256_hex(checked.challenge.as_bytes());
    let mut w = s.store.write().await?;
    let sql = format!("SELECT expires_at, used_at FROM aws_login_challenges WHERE hash = $1{}", w.lock());
    let row = sqlx::query(AssertSqlSafe(sql)).bind(&hash).fetch_optional(&mut *w.tx).await?;
    let refusal = match &row {
        None => Some("unknown challenge: get one from POST /api/v1/auth/aws/challenge"),
        Some(r) if opt_i64(r, "used_at").is_some() => {
            Some("this challenge was already used: a signed request works once")
        }
        Some(r) if r.get::<i64, _>("expires_at") <= now => Some("this challenge has expired: get a new one"),
        Some(_) => None,
    };
    if let Some(why) = refusal {
        audit::append(
            &mut w,
            "system:aws-login",
            "auth.aws_login_failed",
            "aws-login",
            json!({"reason": why, "access_key_id": akid}),
        )
        .await?;
        w.commit().await?;
        return Err(ApiError::unauthenticated(why));
    }
    sqlx::query("UPDATE aws_login_challenges SET used_at = $1 WHERE hash = $2")
        .bind(now)
        .bind(&hash)
        .execute(&mut *w.tx)
        .await?;
    w.commit().await?;

    // Forward exactly the checked request to the configured endpoint.
    let (fwd_url, headers, fwd_body) = (url.clone(), checked.forward_headers.clone(), body.body.clone());
    let answer = tokio::task::spawn_blocking(move || forward(&fwd_url, &headers, &fwd_body))
        .await
        .map_err(|_| ApiError::internal("the STS call failed"))?;
    let (status, text) = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, sts = %url, "STS unreachable");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "sts_unreachable",
                format!("cannot reach STS at {url}"),
            ));
        }
    };
    let raw_arn = match read_sts_answer(status, &text) {
        Ok(a) => a,
        Err(e) => {
            audit_failure(
                &s.store,
                "aws-login",
                json!({"reason": e.detail, "access_key_id": akid, "sts_status": status}),
            )
            .await;
            return Err(e);
        }
    };
    let arn = match identity::normalise_principal_arn(&raw_arn) {
        Ok(a) => a,
        Err(m) => {
            audit_failure(&s.store, "aws-login", json!({"reason": m, "arn": raw_arn, "access_key_id": akid})).await;
            return Err(ApiError::forbidden(format!(
                "STS says the caller is `{raw_arn}`, which cannot be a user: {m}"
            )));
        }
    };

    let ttl = s.config.aws_login_token_ttl_secs as i64 * 1000;
    let mut w = s.store.write().await?;
    let user = match find_user(&mut w.tx, &arn).await? {
        Ok(u) => u,
        Err(e) => {
            drop(w);
            audit_failure(
                &s.store,
                &format!("iam:{arn}"),
                json!({"reason": e.detail, "arn": raw_arn, "access_key_id": akid}),
            )
            .await;
            return Err(e);
        }
    };
    let expires = now_ms() + ttl;
    let (token, info) = identity::create_token(&mut w, &user.user_id, &user.user_id, TOKEN_NAME, Some(expires)).await?;
    audit::append(
        &mut w,
        &user.user_id,
        "auth.aws_login",
        &user.user_id,
        json!({"arn": raw_arn, "principal_arn": arn, "access_key_id": akid, "token_hash": info.hash, "expires_at": fmt_ts(expires)}),
    )
    .await?;
    w.commit().await?;
    Ok(AwsLoginResult {
        token,
        token_type: "Bearer".into(),
        hash: info.hash,
        user_id: user.user_id,
        principal_arn: arn,
        expires_at: fmt_ts(expires),
    })
}

/// The user an AWS principal logs in as: `iam:<arn>`, else the user it is linked to. The outer
/// error is the database's; the inner one is the refusal (401 unknown, 403 disabled/deleted).
async fn find_user(conn: &mut sqlx::AnyConnection, arn: &str) -> Result<Result<User, ApiError>, sqlx::Error> {
    let direct = identity::get_user(conn, &format!("iam:{arn}")).await?;
    let user = match direct {
        Some(u) if !u.deleted => Some(u),
        other => {
            let linked: Option<String> =
                sqlx::query("SELECT user_id FROM user_principals WHERE principal_arn = $1 ORDER BY user_id")
                    .bind(arn)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|r| r.get(0));
            match linked {
                Some(id) => identity::get_user(conn, &id).await?,
                None => other,
            }
        }
    };
    Ok(match user {
        None => Err(ApiError::unauthenticated(format!(
            "the AWS principal `{arn}` is not an iam-jit user and is linked to none: ask an admin to add `iam:{arn}` or link it to your user"
        ))),
        Some(u) if u.deleted => Err(ApiError::forbidden(format!("the user `{}` has been deleted", u.user_id))),
        Some(u) if !u.enabled => Err(ApiError::forbidden(format!(
            "the user `{}` is disabled; ask an admin to enable it",
            u.user_id
        ))),
        Some(u) => Ok(u),
    })
}

/// POST the request to STS (blocking; run it off the async threads). No redirects are followed.
fn forward(url: &str, headers: &[(String, String)], body: &str) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut req = agent.post(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let mut resp = req.send(body.as_bytes()).map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().with_config().limit(MAX_STS_ANSWER).read_to_string().map_err(|e| e.to_string())?;
    Ok((status, text))
}

// ---------------------------------------------------------------------------------------------
// The client side (the CLI's `--aws-auth`)
// ---------------------------------------------------------------------------------------------

/// Sign the GetCallerIdentity request a challenge asks for, with `creds`, at `time`.
pub fn sign_login_request(
    ch: &AwsChallenge,
    creds: &aws_credential_types::Credentials,
    time: SystemTime,
) -> Result<AwsLoginBody, String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_sigv4::sign::v4;
    if !ch.header.eq_ignore_ascii_case(CHALLENGE_HEADER) {
        return Err(format!("the service asks for the challenge in `{}`, not {CHALLENGE_HEADER}", ch.header));
    }
    let url = canonical_url(&ch.sts_url)?;
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), authority(&url).to_string()),
        ("content-type".into(), "application/x-www-form-urlencoded; charset=utf-8".into()),
        (CHALLENGE_HEADER.to_ascii_lowercase(), ch.value.clone()),
    ];
    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&ch.region)
        .name("sts")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign: {e}"))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(GET_CALLER_IDENTITY.as_bytes()),
    )
    .map_err(|e| format!("cannot sign: {e}"))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| format!("cannot sign: {e}"))?.into_parts();
    let (signed, _query) = instructions.into_parts();
    for h in signed {
        headers.push((h.name().to_string(), h.value().to_string()));
    }
    Ok(AwsLoginBody {
        method: "POST".into(),
        url,
        headers: headers.into_iter().collect(),
        body: GET_CALLER_IDENTITY.into(),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(&format!(": {x}"));
        src = x.source();
    }
    s
}

/// AWS credentials from the standard chain (environment, profile, web identity, container,
/// instance metadata). Not for use inside an async runtime.
pub fn load_aws_credentials() -> Result<aws_credential_types::Credentials, String> {
    use aws_credential_types::provider::ProvideCredentials;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(async {
        let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let provider = cfg.credentials_provider().ok_or("no AWS credential provider is configured")?;
        provider.provide_credentials().await.map_err(|e| format!("no AWS credentials found: {}", error_chain(&e)))
    })
}

/// Log in with the AWS credentials of the environment: a challenge, a signed
/// GetCallerIdentity, the token. `c` must not carry a token.
pub fn login(c: &Client) -> Result<Value, ClientError> {
    let ch = c.post("/api/v1/auth/aws/challenge", &json!({}))?;
    let ch: AwsChallenge = serde_json::from_value(ch)
        .map_err(|e| ClientError { exit: 4, message: format!("unexpected challenge answer: {e}") })?;
    let creds = load_aws_credentials().map_err(|m| ClientError { exit: 2, message: format!("--aws-auth: {m}") })?;
    let body = sign_login_request(&ch, &creds, SystemTime::now())
        .map_err(|m| ClientError { exit: 2, message: format!("--aws-auth: {m}") })?;
    c.post("/api/v1/auth/aws", &json!(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_canonicalise() {
        assert_eq!(canonical_url("https://STS.amazonaws.com").unwrap(), "https://sts.amazonaws.com/");
        assert_eq!(canonical_url("https://sts.amazonaws.com:443/").unwrap(), "https://sts.amazonaws.com/");
        assert_eq!(canonical_url("http://127.0.0.1:5000").unwrap(), "http://127.0.0.1:5000/");
        assert_eq!(canonical_url("http://[::1]:5000/x").unwrap(), "http://[::1]:5000/x");
        for bad in [
            "ftp://x",
            "sts.amazonaws.com",
            "https://user@sts.amazonaws.com/",
            "https://sts.amazonaws.com/?Action=x",
            "https://evil.example#@sts.amazonaws.com",
            "https://:443/",
            "https://sts.amazonaws.com:99999/",
            "https://sts.amazonaws.com/a b",
        ] {
            assert!(canonical_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_get_caller_identity_bodies() {
        assert!(check_body("Action=GetCallerIdentity&Version=2011-06-15").is_ok());
        assert!(check_body("Version=2011-06-15&Action=GetCallerIdentity").is_ok());
        assert!(check_body("Action=Get%43allerIdentity&Version=2011-06-15").is_ok());
        for bad in [
            "",
            "Action=GetCallerIdentity",
            "Action=AssumeRole&Version=2011-06-15",
            "Action=GetCallerIdentity&Version=2011-06-15&RoleArn=x",
            "Action=GetCallerIdentity&Action=GetCallerIdentity&Version=2011-06-15",
            "Action=GetCallerIdentity&Version=2011-06-15&",
            "Action=GetCallerIdentity%&Version=2011-06-15",
        ] {
            assert!(check_body(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn authorization_headers_parse() {
        let a = parse_authorization(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date;x-iam-jit-challenge, Signature={}",
            "a".repeat(64)
        ))
        .unwrap();
        assert_eq!(a.access_key_id, "AKIAEXAMPLE");
        assert_eq!((a.region.as_str(), a.service.as_str(), a.date.as_str()), ("us-east-1", "sts", "20260101"));
        assert_eq!(a.signed_headers, ["host", "x-amz-date", "x-iam-jit-challenge"]);
        for bad in [
            "Bearer x",
            "AWS4-HMAC-SHA256 Credential=A/2026/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=zz",
            "AWS4-HMAC-SHA256 Credential=A/2026/us-east-1/sts, SignedHeaders=host, Signature=",
        ] {
            assert!(parse_authorization(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amz_dates_parse() {
        assert_eq!(parse_amz_date("19700101T000001Z"), Some(1000));
        assert_eq!(parse_amz_date("20260101T120000Z"), crate::util::parse_ts("2026-01-01T12:00:00Z"));
        for bad in ["2026-01-01T12:00:00Z", "20261301T000000Z", "20260101T250000Z", "20260101T12000Z", "２026"] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn sts_answers_are_read() {
        let ok = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/a</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(read_sts_answer(200, ok).unwrap(), "arn:aws:iam::123456789012:user/a");
        let e = read_sts_answer(
            403,
            "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>nope</Message></Error></ErrorResponse>",
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.detail.contains("SignatureDoesNotMatch"), "{}", e.detail);
        assert_eq!(read_sts_answer(500, "oops").unwrap_err().status, StatusCode::BAD_GATEWAY);
        assert_eq!(read_sts_answer(200, "<x/>").unwrap_err().status, StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn a_signed_request_passes_the_checks_and_tampering_does_not() {
        let ch = AwsChallenge {
            header: CHALLENGE_HEADER.into(),
            value: "ab".repeat(32),
            sts_url: "http://127.0.0.1:5000".into(),
            region: "us-east-1".into(),
            expires_at: String::new(),
        };
        let creds = aws_credential_types::Credentials::new("AKIAEXAMPLE", "secret", Some("tok".into()), None, "test");
        let now = SystemTime::now();
        let now_ms = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let b = sign_login_request(&ch, &creds, now).unwrap();
        let c = check_request(&b, "http://127.0.0.1:5000/", "us-east-1", now_ms).unwrap();
        assert_eq!(c.challenge, ch.value);
        assert_eq!(c.access_key_id, "AKIAEXAMPLE");
        let names: Vec<&str> = c.forward_headers.iter().map(|(k, _)| k.as_str()).collect();
        assert!(names.contains(&"x-amz-security-token") && names.contains(&"authorization"), "{names:?}");
        assert!(!names.contains(&"host"));
        // Other endpoint, region, clock, method or body: refused.
        assert!(check_request(&b, "http://127.0.0.1:5001/", "us-east-1", now_ms).is_err());
        assert!(check_request(&b, "http://127.0.0.1:5000/", "eu-west-1", now_ms).is_err());
        assert!(check_request(&b, "http://127.0.0.1:5000/", "us-east-1", now_ms + 6 * 60_000).is_err());
        let mut m = b.clone();
        m.method = "GET".into();
        assert!(check_request(&m, "http://127.0.0.1:5000/", "us-east-1", now_ms).is_err());
        let mut m = b.clone();
        m.headers.insert("Host".into(), "127.0.0.1:5000".into());
        assert!(check_request(&m, "http://127.0.0.1:5000/", "us-east-1", now_ms).unwrap_err().contains("twice"));
        let mut m = b.clone();
        m.headers.remove("x-iam-jit-challenge");
        assert!(check_request(&m, "http://127.0.0.1:5000/", "us-east-1", now_ms).is_err());
    }
}
