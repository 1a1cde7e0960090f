//! Identity: users (`email:…` or `iam:arn:…`), roles, groups, API tokens, magic links and
//! browser sessions, and the [`Caller`] extractor every authenticated route takes.
//!
//! Errors follow the predecessor's documented contract: 401 with `WWW-Authenticate: Bearer`
//! for a missing, malformed, unknown, revoked or expired credential; 403 for a deleted or
//! disabled user and for a role that is too low.

use crate::audit;
use crate::db::{opt_i64, opt_str, Store, Write};
use crate::error::{ApiError, ApiResult};
use crate::util::{new_id, now_ms, secret, sha256_hex};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};

pub const TOKEN_PREFIX: &str = "iamjit_";
pub const SESSION_COOKIE: &str = "iam_jit_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const MAGIC_LINK_TTL_MS: i64 = 15 * 60 * 1000;
pub const SESSION_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Requester,
    Approver,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "requester" => Some(Role::Requester),
            "approver" => Some(Role::Approver),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct User {
    pub user_id: String,
    /// The roles this user holds (each role includes the ones below it).
    pub roles: Vec<Role>,
    #[serde(skip)]
    pub role: Role,
    pub enabled: bool,
    pub deleted: bool,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    pub principals: Vec<String>,
    pub created_at: String,
}

/// Normalise a user id: `email:` lower-cased; `iam:` ARNs of assumed-role sessions become the
/// role's ARN, and role paths are dropped (a session ARN carries no path, so both spellings
/// name one user). Returns a message naming what is wrong otherwise.
pub fn normalise_user_id(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if let Some(email) = raw.strip_prefix("email:") {
        let email = email.to_ascii_lowercase();
        let ok = email.len() <= 254
            && email.matches('@').count() == 1
            && !email.starts_with('@')
            && !email.ends_with('@')
            // A host name (`localhost` included: a deployment's own mail domain may be one).
            && email.split('@').nth(1).is_some_and(|d| {
                !d.is_empty()
                    && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                    && !d.starts_with(['.', '-'])
                    && !d.ends_with(['.', '-'])
                    && !d.contains("..")
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',');
        if !ok {
            return Err(format!("`{raw}` is not a valid e-mail user id (expected email:name@example.com)"));
        }
        return Ok(format!("email:{email}"));
    }
    if let Some(arn) = raw.strip_prefix("iam:") {
        return normalise_principal_arn(arn).map(|a| format!("iam:{a}"));
    }
    Err(format!("`{raw}` must start with `email:` (a person) or `iam:arn:` (an AWS principal)"))
}

/// An IAM user or role ARN, with assumed-role sessions mapped to their role.
pub fn normalise_principal_arn(arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let bad = || format!("`{arn}` is not an IAM user, role or assumed-role ARN");
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return Err(bad());
    }
    let (partition, service, account, resource) = (parts[1], parts[2], parts[4], parts[5]);
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let valid_name = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    };
    match service {
        "sts" => {
            let mut it = resource.split('/');
            match (it.next(), it.next(), it.next()) {
                (Some("assumed-role"), Some(role), Some(_session)) if valid_name(role) => {
                    Ok(format!("arn:{partition}:iam::{account}:role/{role}"))
                }
                _ => Err(bad()),
            }
        }
        "iam" => {
            let (kind, rest) = resource.split_once('/').ok_or_else(bad)?;
            let name = rest.rsplit('/').next().unwrap_or("");
            if !(kind == "role" || kind == "user") || !valid_name(name) {
                return Err(bad());
            }
            Ok(format!("arn:{partition}:iam::{account}:{kind}/{name}"))
        }
        _ => Err(bad()),
    }
}

fn roles_up_to(role: Role) -> Vec<Role> {
    [Role::Requester, Role::Approver, Role::Admin].into_iter().filter(|r| *r <= role).collect()
}

pub async fn get_user(conn: &mut sqlx::AnyConnection, user_id: &str) -> Result<Option<User>, sqlx::Error> {
    let Some(r) = sqlx::query("SELECT id, role, enabled, deleted, display_name, created_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let groups =
        column(conn, "SELECT group_name FROM user_groups WHERE user_id = $1 ORDER BY group_name", user_id).await?;
    let principals =
        column(conn, "SELECT principal_arn FROM user_principals WHERE user_id = $1 ORDER BY principal_arn", user_id)
            .await?;
    Ok(Some(user_from_row(&r, groups, principals)))
}

/// The first column of every row `sql` selects for `user_id`.
async fn column(conn: &mut sqlx::AnyConnection, sql: &'static str, user_id: &str) -> Result<Vec<String>, sqlx::Error> {
    Ok(sqlx::query(sql).bind(user_id).fetch_all(&mut *conn).await?.iter().map(|g| g.get::<String, _>(0)).collect())
}

fn user_from_row(r: &sqlx::any::AnyRow, groups: Vec<String>, principals: Vec<String>) -> User {
    let role = Role::parse(&r.get::<String, _>("role")).unwrap_or(Role::Requester);
    User {
        user_id: r.get("id"),
        roles: roles_up_to(role),
        role,
        enabled: r.get::<i64, _>("enabled") != 0,
        deleted: r.get::<i64, _>("deleted") != 0,
        display_name: opt_str(r, "display_name"),
        groups,
        principals,
        created_at: crate::util::fmt_ts(r.get("created_at")),
    }
}

pub async fn list_users(store: &Store) -> Result<Vec<User>, sqlx::Error> {
    load_users(&mut *store.pool.acquire().await?, Which::All).await
}

/// `(user id, value)` rows grouped by user id.
async fn pairs(
    conn: &mut sqlx::AnyConnection,
    sql: String,
) -> Result<std::collections::HashMap<String, Vec<String>>, sqlx::Error> {
    let mut map: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for r in sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await? {
        map.entry(r.get(0)).or_default().push(r.get(1));
    }
    Ok(map)
}

/// Which users [`load_users`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    All,
    /// Enabled, not deleted approvers and admins who have an e-mail address (mail recipients).
    MailableApprovers,
}

/// Many users in three queries (users, groups, principals), not three per user: listings and
/// the approver fan-out of a notification run inside hot paths.
pub async fn load_users(conn: &mut sqlx::AnyConnection, which: Which) -> Result<Vec<User>, sqlx::Error> {
    let filter = match which {
        Which::All => "1 = 1",
        Which::MailableApprovers => {
            "role IN ('approver', 'admin') AND enabled = 1 AND deleted = 0 AND id LIKE 'email:%'"
        }
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, role, enabled, deleted, display_name, created_at FROM users WHERE {filter} ORDER BY id"
    )))
    .fetch_all(&mut *conn)
    .await?;
    let mut groups = pairs(
        conn,
        format!(
        "SELECT user_id, group_name FROM user_groups WHERE user_id IN (SELECT id FROM users WHERE {filter}) ORDER BY user_id, group_name"
        ),
    )
    .await?;
    let mut principals = pairs(
        conn,
        format!(
        "SELECT user_id, principal_arn FROM user_principals WHERE user_id IN (SELECT id FROM users WHERE {filter}) ORDER BY user_id, principal_arn"
        ),
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: String = r.get("id");
            user_from_row(r, groups.remove(&id).unwrap_or_default(), principals.remove(&id).unwrap_or_default())
        })
        .collect())
}

/// Insert a user inside `w`. Fails with 409 when the id exists.
pub async fn insert_user(
    w: &mut Write,
    user_id: &str,
    role: Role,
    groups: &[String],
    display_name: Option<&str>,
) -> ApiResult<()> {
    let exists = sqlx::query("SELECT id FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *w.tx).await?;
    if exists.is_some() {
        return Err(ApiError::conflict(format!("user `{user_id}` already exists")));
    }
    let now = now_ms();
    sqlx::query("INSERT INTO users (id, role, enabled, deleted, display_name, created_at, updated_at) VALUES ($1, $2, 1, 0, $3, $4, $4)")
        .bind(user_id)
        .bind(role.as_str())
        .bind(display_name)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    set_groups(w, user_id, groups).await?;
    Ok(())
}

pub async fn set_groups(w: &mut Write, user_id: &str, groups: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM user_groups WHERE user_id = $1").bind(user_id).execute(&mut *w.tx).await?;
    let mut seen = std::collections::BTreeSet::new();
    for g in groups {
        if seen.insert(g.clone()) {
            sqlx::query("INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2)")
                .bind(user_id)
                .bind(g)
                .execute(&mut *w.tx)
                .await?;
        }
    }
    Ok(())
}

pub fn validate_group(g: &str) -> Result<(), String> {
    if g.is_empty() || g.len() > 64 || !g.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(format!("group `{g}` must be 1-64 letters, digits, `-`, `_` or `.`"));
    }
    Ok(())
}

/// Number of admins not deleted, enabled or not (`seed-admin` refuses when there is one).
pub async fn admin_count(conn: &mut sqlx::AnyConnection) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted = 0")
        .fetch_one(&mut *conn)
        .await?
        .get::<i64, _>(0))
}

/// Number of admins who can act: enabled and not deleted. The "last admin" guards count these,
/// or the only enabled admin could disable itself while a disabled one still "counted".
pub async fn enabled_admin_count(conn: &mut sqlx::AnyConnection) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query("SELECT COUNT(*) FROM users WHERE role = 'admin' AND deleted = 0 AND enabled = 1")
        .fetch_one(&mut *conn)
        .await?
        .get::<i64, _>(0))
}

// ---------------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// `sha256:` of the token: how it is listed and revoked (the token itself is never stored).
    pub hash: String,
    pub user_id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
}

pub fn token_hash(token: &str) -> String {
    format!("sha256:{}", sha256_hex(token.as_bytes()))
}

/// Create a token inside `w`; returns `(token, info)`. The token is shown once.
pub async fn create_token(
    w: &mut Write,
    actor: &str,
    user_id: &str,
    name: &str,
    expires_at: Option<i64>,
) -> ApiResult<(String, TokenInfo)> {
    let token = secret(TOKEN_PREFIX);
    let hash = token_hash(&token);
    let now = now_ms();
    sqlx::query("INSERT INTO api_tokens (hash, user_id, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&hash)
        .bind(user_id)
        .bind(name)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *w.tx)
        .await?;
    audit::append(
        w,
        actor,
        "token.created",
        user_id,
        json!({"hash": hash, "name": name, "expires_at": expires_at.map(crate::util::fmt_ts)}),
    )
    .await?;
    let info = TokenInfo {
        hash,
        user_id: user_id.to_string(),
        name: name.to_string(),
        created_at: crate::util::fmt_ts(now),
        expires_at: expires_at.map(crate::util::fmt_ts),
        last_used_at: None,
        revoked_at: None,
        revoked_reason: None,
    };
    Ok((token, info))
}

fn token_from_row(r: &sqlx::any::AnyRow) -> TokenInfo {
    TokenInfo {
        hash: r.get("hash"),
        user_id: r.get("user_id"),
        name: r.get("name"),
        created_at: crate::util::fmt_ts(r.get("created_at")),
        expires_at: opt_i64(r, "expires_at").map(crate::util::fmt_ts),
        last_used_at: opt_i64(r, "last_used_at").map(crate::util::fmt_ts),
        revoked_at: opt_i64(r, "revoked_at").map(crate::util::fmt_ts),
        revoked_reason: opt_str(r, "revoked_reason"),
    }
}

pub async fn list_tokens(store: &Store, user_id: Option<&str>) -> Result<Vec<TokenInfo>, sqlx::Error> {
    let cols = "hash, user_id, name, created_at, expires_at, last_used_at, revoked_at, revoked_reason";
    let rows = match user_id {
        Some(u) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {cols} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, hash"
            )))
            .bind(u.to_string())
            .fetch_all(&store.pool)
            .await?
        }
        None => {
            sqlx::query(AssertSqlSafe(format!("SELECT {cols} FROM api_tokens ORDER BY user_id, created_at, hash")))
                .fetch_all(&store.pool)
                .await?
        }
    };
    Ok(rows.iter().map(token_from_row).collect())
}

pub async fn get_token(store: &Store, hash: &str) -> Result<Option<TokenInfo>, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT hash, user_id, name, created_at, expires_at, last_used_at, revoked_at, revoked_reason FROM api_tokens WHERE hash = $1",
    )
    .bind(hash)
    .fetch_optional(&store.pool)
    .await?
    .map(|r| token_from_row(&r)))
}

/// Revoke inside `w`; false when it was already revoked.
pub async fn revoke_token(w: &mut Write, actor: &str, hash: &str, reason: &str) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1, revoked_reason = $2 WHERE hash = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(reason)
    .bind(hash)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if n > 0 {
        let owner: String = sqlx::query("SELECT user_id FROM api_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_one(&mut *w.tx)
            .await?
            .get(0);
        audit::append(w, actor, "token.revoked", &owner, json!({"hash": hash, "reason": reason})).await?;
    }
    Ok(n > 0)
}

/// Revoke tokens unused for `inactive_ms` (never-used tokens count from creation).
pub async fn sweep_inactive_tokens(store: &Store, inactive_ms: i64) -> Result<u64, sqlx::Error> {
    let cutoff = now_ms() - inactive_ms;
    let stale: Vec<String> =
        sqlx::query("SELECT hash FROM api_tokens WHERE revoked_at IS NULL AND COALESCE(last_used_at, created_at) < $1")
            .bind(cutoff)
            .fetch_all(&store.pool)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    let mut n = 0;
    for hash in stale {
        let mut w = store.write().await?;
        if revoke_token(&mut w, "system:token-sweep", &hash, "inactive").await? {
            n += 1;
        }
        w.commit().await?;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// Magic links and sessions
// ---------------------------------------------------------------------------------------------

/// Create a single-use login link secret for `user_id` (15 minutes).
pub async fn create_magic_link(store: &Store, user_id: &str) -> Result<String, sqlx::Error> {
    let link = secret("");
    let now = now_ms();
    let mut w = store.write().await?;
    sqlx::query("INSERT INTO magic_links (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(sha256_hex(link.as_bytes()))
        .bind(user_id)
        .bind(now)
        .bind(now + MAGIC_LINK_TTL_MS)
        .execute(&mut *w.tx)
        .await?;
    audit::append(&mut w, user_id, "login.link_sent", user_id, json!({})).await?;
    w.commit().await?;
    Ok(link)
}

pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub user_id: String,
}

/// Consume a magic link (once) and open a 24 h session.
pub async fn redeem_magic_link(store: &Store, link: &str) -> ApiResult<NewSession> {
    let hash = sha256_hex(link.as_bytes());
    let now = now_ms();
    let mut w = store.write().await?;
    let sql = format!("SELECT user_id, expires_at, used_at FROM magic_links WHERE hash = $1{}", w.lock());
    let row = sqlx::query(AssertSqlSafe(sql)).bind(&hash).fetch_optional(&mut *w.tx).await?;
    let Some(row) = row else {
        return Err(ApiError::unauthenticated("this login link is not valid; ask for a new one"));
    };
    let user_id: String = row.get("user_id");
    if opt_i64(&row, "used_at").is_some() {
        return Err(ApiError::unauthenticated("this login link was already used; ask for a new one"));
    }
    if row.get::<i64, _>("expires_at") <= now {
        return Err(ApiError::unauthenticated(
            "this login link has expired (links last 15 minutes); ask for a new one",
        ));
    }
    sqlx::query("UPDATE magic_links SET used_at = $1 WHERE hash = $2")
        .bind(now)
        .bind(&hash)
        .execute(&mut *w.tx)
        .await?;
    let user = get_user(&mut w.tx, &user_id).await;
    let user = match user {
        Ok(u) => u,
        Err(e) => return Err(e.into()),
    };
    check_user_active(user.as_ref())?;
    let token = secret("");
    let csrf = secret("");
    sqlx::query("INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(sha256_hex(token.as_bytes()))
        .bind(&user_id)
        .bind(&csrf)
        .bind(now)
        .bind(now + SESSION_TTL_MS)
        .execute(&mut *w.tx)
        .await?;
    audit::append(&mut w, &user_id, "login.succeeded", &user_id, json!({"method": "magic-link"})).await?;
    w.commit().await?;
    Ok(NewSession { token, csrf, user_id })
}

pub async fn end_session(store: &Store, token: &str, user_id: &str) -> Result<(), sqlx::Error> {
    let mut w = store.write().await?;
    sqlx::query("DELETE FROM sessions WHERE hash = $1").bind(sha256_hex(token.as_bytes())).execute(&mut *w.tx).await?;
    audit::append(&mut w, user_id, "logout", user_id, json!({})).await?;
    w.commit().await
}

// ---------------------------------------------------------------------------------------------
// The caller
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Token { hash: String },
    Session { csrf: String },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub via: Via,
}

impl Caller {
    pub fn id(&self) -> &str {
        &self.user.user_id
    }
    pub fn has(&self, role: Role) -> bool {
        self.user.role >= role
    }
    /// 403 unless the caller holds `role`.
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.has(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("this needs the {} role", role.as_str())))
        }
    }
    /// The AWS principal this caller authenticated as, if any.
    pub fn principal_arn(&self) -> Option<&str> {
        self.user.user_id.strip_prefix("iam:")
    }
}

fn check_user_active(user: Option<&User>) -> ApiResult<&User> {
    match user {
        None => Err(ApiError::forbidden("this user has been deleted")),
        Some(u) if u.deleted => Err(ApiError::forbidden("this user has been deleted")),
        Some(u) if !u.enabled => Err(ApiError::forbidden("this user is disabled; ask an admin to enable it")),
        Some(u) => Ok(u),
    }
}

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
        |kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        },
    )
}

/// Authenticate a bearer token (`iamjit_…`) or a session cookie.
pub async fn authenticate(state: &AppState, parts: &Parts) -> ApiResult<Caller> {
    authenticate_with(state, parts, None).await
}

/// [`authenticate`] for an HTML form post (the web UI): the session's CSRF token may come as
/// the form field `form_csrf` where the JSON API takes the `X-CSRF-Token` header (a plain HTML
/// form cannot set headers). Either must match; the JSON API never passes a form value.
pub async fn authenticate_with(state: &AppState, parts: &Parts, form_csrf: Option<&str>) -> ApiResult<Caller> {
    let now = now_ms();
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let auth =
            auth.to_str().map_err(|_| ApiError::unauthenticated("the Authorization header is not valid text"))?;
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthenticated("use `Authorization: Bearer iamjit_…`"))?
            .trim();
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Err(ApiError::unauthenticated("invalid API token (tokens start with `iamjit_`)"));
        }
        let hash = token_hash(token);
        let row = sqlx::query("SELECT user_id, expires_at, last_used_at, revoked_at FROM api_tokens WHERE hash = $1")
            .bind(&hash)
            .fetch_optional(&state.store.pool)
            .await?;
        let Some(row) = row else {
            return Err(ApiError::unauthenticated("unknown API token"));
        };
        if opt_i64(&row, "revoked_at").is_some() {
            return Err(ApiError::unauthenticated("this API token has been revoked"));
        }
        if opt_i64(&row, "expires_at").is_some_and(|e| e <= now) {
            return Err(ApiError::unauthenticated("this API token has expired"));
        }
        let user_id: String = row.get("user_id");
        let user = get_user(&mut *state.store.pool.acquire().await?, &user_id).await?;
        let user = check_user_active(user.as_ref())?.clone();
        // Last-used time, at most once a minute per token (no write per request).
        if opt_i64(&row, "last_used_at").is_none_or(|t| now - t > 60_000) {
            let _ = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(&state.store.pool)
                .await;
        }
        return Ok(Caller { user, via: Via::Token { hash } });
    }
    if let Some(session) = cookie(parts, SESSION_COOKIE) {
        let row = sqlx::query("SELECT user_id, csrf, expires_at FROM sessions WHERE hash = $1")
            .bind(sha256_hex(session.as_bytes()))
            .fetch_optional(&state.store.pool)
            .await?;
        let Some(row) = row else {
            return Err(ApiError::unauthenticated("your session has ended; log in again"));
        };
        if row.get::<i64, _>("expires_at") <= now {
            return Err(ApiError::unauthenticated("your session has expired; log in again"));
        }
        let user = get_user(&mut *state.store.pool.acquire().await?, &row.get::<String, _>("user_id")).await?;
        let user = check_user_active(user.as_ref())?.clone();
        let csrf: String = row.get("csrf");
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).or(form_csrf).unwrap_or("");
            if !crate::util::ct_eq(sent, &csrf) {
                return Err(ApiError::forbidden(
                    "missing or wrong CSRF token: send the session's token in the X-CSRF-Token header",
                ));
            }
        }
        return Ok(Caller { user, via: Via::Session { csrf } });
    }
    Err(ApiError::unauthenticated("authentication required: send `Authorization: Bearer iamjit_…` or log in"))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let c = authenticate(state, parts).await?;
        parts.extensions.insert(c.clone());
        Ok(c)
    }
}

/// A fresh opaque id for comments and deliveries.
pub fn comment_id() -> String {
    new_id("c-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_normalise() {
        assert_eq!(normalise_user_id("email:Alice@Example.COM").unwrap(), "email:alice@example.com");
        assert_eq!(normalise_user_id("email:admin@localhost").unwrap(), "email:admin@localhost");
        assert_eq!(
            normalise_user_id("iam:arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-7").unwrap(),
            "iam:arn:aws:iam::123456789012:role/Deployer"
        );
        assert_eq!(
            normalise_user_id("iam:arn:aws:iam::123456789012:role/team/Deployer").unwrap(),
            "iam:arn:aws:iam::123456789012:role/Deployer"
        );
        assert_eq!(
            normalise_user_id("iam:arn:aws-us-gov:iam::123456789012:user/bob").unwrap(),
            "iam:arn:aws-us-gov:iam::123456789012:user/bob"
        );
        for bad in [
            "alice@example.com",
            "email:alice",
            "email:a@",
            "email:a@-b",
            "email:a@b..c",
            "iam:arn:aws:iam::12:role/x",
            "iam:arn:aws:s3:::bucket",
            "email:a b@c.d",
        ] {
            assert!(normalise_user_id(bad).is_err(), "{bad}");
        }
    }
}
