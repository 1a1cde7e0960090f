//! The authorization matrix: every route of `api::routes()` × every kind of caller, checked
//! against a table of expected outcomes kept in this file. A route without a row fails.
//!
//! Outcomes: `U` 401 with `WWW-Authenticate: Bearer`; `F` 403; `N` 404 (a request or token the
//! caller may not see: its existence is not revealed); `C` let through but 409 for the
//! fixture's state; `A` allowed — a 2xx answer with real
//! fixtures in the path and a valid body (stricter than "not 401/403", so a call that is let
//! through but fails for another reason is noticed too).
//!
//! Every call that is expected to change something runs on a fixture of its own; the calls
//! expected to be refused (and every read) share one fixture per route, which a refusal must
//! leave as it was.

mod common;
mod support;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use jit_service::api::{self, Access};
use jit_service::approval::{ApprovalPolicy, ApproverGroup};
use jit_service::identity::{self, Role};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

/// The account the fixtures' requests name: the `ops` group approves it.
const ACCOUNT: &str = "111122223333";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Anonymous,
    /// `Authorization: Bearer not-a-token`.
    Malformed,
    /// Well-formed `iamjit_…` token that was never issued.
    Unknown,
    /// An admin's token, revoked.
    Revoked,
    /// An admin's token, past its expiry.
    Expired,
    /// A valid token of an admin that was disabled.
    Disabled,
    /// A valid token of an admin that was deleted.
    Deleted,
    /// The requester who owns the fixture.
    Owner,
    /// Another requester.
    Other,
    /// An approver whose group covers the fixture's account.
    Approver,
    /// An approver whose group covers another account only.
    Outsider,
    /// An admin in the approver group of the fixture's account.
    Admin,
}

/// The columns of [`MATRIX`], in order.
const WHO: [Who; 12] = [
    Who::Anonymous,
    Who::Malformed,
    Who::Unknown,
    Who::Revoked,
    Who::Expired,
    Who::Disabled,
    Who::Deleted,
    Who::Owner,
    Who::Other,
    Who::Approver,
    Who::Outsider,
    Who::Admin,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Unauthenticated,
    Forbidden,
    NotFound,
    Allowed,
    /// Let through, then refused for the fixture's state (409): the route's authorization
    /// passed, but nothing can be done with the fixture here.
    Conflict,
}

impl Expect {
    fn parse(c: &str) -> Expect {
        match c {
            "U" => Expect::Unauthenticated,
            "F" => Expect::Forbidden,
            "N" => Expect::NotFound,
            "A" => Expect::Allowed,
            "C" => Expect::Conflict,
            other => panic!("unknown outcome `{other}` in the matrix (use U, F, N or A)"),
        }
    }
}

/// What a route's path parameter (or query) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fx {
    None,
    /// A pending request of the owner (`{id}`).
    Pending,
    /// An active grant of the owner.
    Active,
    /// An active break-glass grant of the owner, waiting for its review.
    BreakGlass,
    /// A request of the owner in `provisioning_failed`.
    Failed,
    /// One of the owner's API tokens (`{hash}`), not the one the owner calls with.
    OwnerToken,
    /// A requester user (`{user_id}`).
    User,
    /// An approval-policy version proposed by another admin (`{version}`).
    Proposal,
    /// A webhook (`{id}`).
    Webhook,
    /// A login link (`?token=`), fresh for every call: it works once.
    MagicLink,
    /// A registered destination account (`{account_id}`).
    Account,
    /// A signed sts:GetCallerIdentity of a fresh challenge (the body), verified by moto.
    AwsLogin,
}

struct Row {
    method: Method,
    path: &'static str,
    fx: Fx,
    /// One outcome per caller, in the order of [`WHO`]; `|` separates the credential columns
    /// from the role columns for the reader and is ignored.
    expect: &'static str,
}

fn row(method: Method, path: &'static str, fx: Fx, expect: &'static str) -> Row {
    Row { method, path, fx, expect }
}

impl Row {
    fn outcomes(&self) -> Vec<Expect> {
        self.expect.split_whitespace().filter(|c| *c != "|").map(Expect::parse).collect()
    }
}

/// The expected outcomes. Add a row here for every new route.
#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    use Fx::*;
    let (get, post, put, patch, delete) = (Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE);
    vec![
        //                                                                        anon bad unknown revoked expired disabled deleted | owner other approver outsider admin
        row(get.clone(), "/healthz", None,                                        "A A A A A A A | A A A A A"),
        row(get.clone(), "/readyz", None,                                         "A A A A A A A | A A A A A"),
        row(get.clone(), "/metrics", None,                                        "A A A A A A A | A A A A A"),
        row(post.clone(), "/api/v1/auth/login", None,                             "A A A A A A A | A A A A A"),
        row(get.clone(), "/api/v1/auth/callback", MagicLink,                      "A A A A A A A | A A A A A"),
        row(post.clone(), "/api/v1/auth/aws/challenge", None,                     "A A A A A A A | A A A A A"),
        row(post.clone(), "/api/v1/auth/aws", AwsLogin,                           "A A A A A A A | A A A A A"),
        row(post.clone(), "/api/v1/auth/logout", None,                            "U U U U U F F | A A A A A"),
        row(get.clone(), "/api/v1/me", None,                                      "U U U U U F F | A A A A A"),
        row(get.clone(), "/api/v1/users", None,                                   "U U U U U F F | F F A A A"),
        row(post.clone(), "/api/v1/users", None,                                  "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/users/{user_id}", User,                         "U U U U U F F | F F A A A"),
        row(patch.clone(), "/api/v1/users/{user_id}", User,                       "U U U U U F F | F F F F A"),
        row(delete.clone(), "/api/v1/users/{user_id}", User,                      "U U U U U F F | F F F F A"),
        row(post.clone(), "/api/v1/users/{user_id}/principals", User,             "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/tokens", None,                                  "U U U U U F F | A A A A A"),
        row(post.clone(), "/api/v1/tokens", None,                                 "U U U U U F F | A A A A A"),
        // Only the token's own user or an admin; to anyone else the token does not exist.
        row(delete.clone(), "/api/v1/tokens/{hash}", OwnerToken,                  "U U U U U F F | A N N N A"),
        row(get.clone(), "/api/v1/requests", None,                                "U U U U U F F | A A A A A"),
        row(post.clone(), "/api/v1/requests", None,                               "U U U U U F F | A A A A A"),
        row(post.clone(), "/api/v1/requests/preview", None,                       "U U U U U F F | A A A A A"),
        // Approvers (in scope or not) see every request; another requester does not.
        row(get.clone(), "/api/v1/requests/{id}", Pending,                        "U U U U U F F | A N A A A"),
        row(patch.clone(), "/api/v1/requests/{id}", Pending,                      "U U U U U F F | A N F F F"),
        row(post.clone(), "/api/v1/requests/{id}/approve", Pending,               "U U U U U F F | F N A F A"),
        row(post.clone(), "/api/v1/requests/{id}/reject", Pending,                "U U U U U F F | F N A F A"),
        row(post.clone(), "/api/v1/requests/{id}/request-changes", Pending,       "U U U U U F F | F N A F A"),
        row(post.clone(), "/api/v1/requests/{id}/cancel", Pending,                "U U U U U F F | A N F F A"),
        row(get.clone(), "/api/v1/requests/{id}/comments", Pending,               "U U U U U F F | A N A A A"),
        row(post.clone(), "/api/v1/requests/{id}/comments", Pending,              "U U U U U F F | A N A A A"),
        row(post.clone(), "/api/v1/requests/{id}/revoke", Active,                 "U U U U U F F | A N A F A"),
        row(post.clone(), "/api/v1/requests/{id}/retry-provisioning", Failed,     "U U U U U F F | F F F F A"),
        row(post.clone(), "/api/v1/requests/{id}/extend", Active,                 "U U U U U F F | A N F F F"),
        row(post.clone(), "/api/v1/requests/{id}/review", BreakGlass,             "U U U U U F F | F N A F A"),
        row(get.clone(), "/api/v1/requests/{id}/history", Pending,                "U U U U U F F | A N A A A"),
        row(get.clone(), "/api/v1/requests/{id}/assume", Active,                  "U U U U U F F | A N A A A"),
        // Only the requester; the recording provisioner has no credentials to give (409).
        row(post.clone(), "/api/v1/requests/{id}/credentials", Active,            "U U U U U F F | C N F F F"),
        row(get.clone(), "/api/v1/requests/{id}/provisioning-calls", Active,      "U U U U U F F | A N A A A"),
        // Requesters see the accounts they may ask for (without their ExternalId).
        row(get.clone(), "/api/v1/accounts", None,                                "U U U U U F F | A A A A A"),
        row(post.clone(), "/api/v1/accounts", None,                               "U U U U U F F | F F F F A"),
        row(post.clone(), "/api/v1/accounts/onboarding/preview", None,            "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/accounts/{account_id}", Account,                "U U U U U F F | A A A A A"),
        row(delete.clone(), "/api/v1/accounts/{account_id}", Account,             "U U U U U F F | F F F F A"),
        row(post.clone(), "/api/v1/accounts/{account_id}/orphan-sweep", Account,  "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/approval-policy", None,                         "U U U U U F F | A A A A A"),
        row(put.clone(), "/api/v1/approval-policy", None,                         "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/approval-policy/versions", None,                "U U U U U F F | F F F F A"),
        row(post.clone(), "/api/v1/approval-policy/versions/{version}/approve", Proposal, "U U U U U F F | F F F F A"),
        row(post.clone(), "/api/v1/approval-policy/versions/{version}/reject", Proposal,  "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/audit/verify", None,                            "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/reports/audit-log", None,                       "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/webhooks", None,                                "U U U U U F F | F F F F A"),
        row(post.clone(), "/api/v1/webhooks", None,                               "U U U U U F F | F F F F A"),
        row(delete.clone(), "/api/v1/webhooks/{id}", Webhook,                     "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/webhooks/deliveries", None,                     "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/reports/grants", None,                          "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/reports/activity", None,                        "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/reports/approvals", None,                       "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/reports/risk-distribution", None,               "U U U U U F F | F F F F A"),
        row(get.clone(), "/api/v1/reports/users", None,                           "U U U U U F F | F F F F A"),
        row(get.clone(), "/openapi.json", None,                                   "A A A A A A A | A A A A A"),
        row(get, "/docs", None,                                                   "A A A A A A A | A A A A A"),
    ]
}

fn account_body(id: &str) -> Value {
    json!({
        "account_id": id,
        "alias": "matrix",
        "provisioner_role_arn": format!("arn:aws:iam::{id}:role/iam-jit-provisioner"),
        "permission_boundary_arn": format!("arn:aws:iam::{id}:policy/iam-jit/iam-jit-boundary"),
        "regions": ["us-east-1"]
    })
}

fn key(method: &Method, path: &str) -> String {
    format!("{method} {path}")
}

/// Routes with no row (each message says what to do), then rows naming no route.
fn coverage_problems(routes: &[(Method, &str)], rows: &[Row]) -> Vec<String> {
    let declared: BTreeSet<String> = routes.iter().map(|(m, p)| key(m, p)).collect();
    let covered: BTreeSet<String> = rows.iter().map(|r| key(&r.method, r.path)).collect();
    let mut out: Vec<String> = declared
        .difference(&covered)
        .map(|k| format!("route `{k}` has no row in the authorization matrix: add it to matrix() in tests/authz.rs"))
        .collect();
    out.extend(
        covered.difference(&declared).map(|k| format!("matrix row `{k}` names no route of api::routes(): remove it")),
    );
    if covered.len() != rows.len() {
        out.push("the matrix has two rows for one route".into());
    }
    out
}

fn declared_routes() -> Vec<(Method, &'static str)> {
    api::routes().into_iter().map(|d| (d.method, d.path)).collect()
}

#[test]
fn every_route_has_a_row() {
    let problems = coverage_problems(&declared_routes(), &matrix());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_new_route_without_an_entry_fails() {
    let mut routes = declared_routes();
    routes.push((Method::POST, "/api/v1/requests/{id}/escalate"));
    let problems = coverage_problems(&routes, &matrix());
    assert_eq!(
        problems,
        vec![
            "route `POST /api/v1/requests/{id}/escalate` has no row in the authorization matrix: add it to matrix() in tests/authz.rs"
                .to_string()
        ]
    );
}

/// The table never grants more than the access a route declares in `routes()`.
#[test]
fn rows_agree_with_declared_access() {
    let rows = matrix();
    let defs = api::routes();
    for def in &defs {
        let k = key(&def.method, def.path);
        let Some(row) = rows.iter().find(|r| key(&r.method, r.path) == k) else { continue };
        let e = row.outcomes();
        assert_eq!(e.len(), WHO.len(), "{k}: one outcome per caller kind");
        let at = |w: Who| e[WHO.iter().position(|x| *x == w).unwrap()];
        let denied = |x: Expect| matches!(x, Expect::Forbidden | Expect::NotFound);
        if def.access == Access::Public {
            assert!(e.iter().all(|x| *x == Expect::Allowed), "{k} is public: everyone is allowed");
            continue;
        }
        for w in [Who::Anonymous, Who::Malformed, Who::Unknown, Who::Revoked, Who::Expired] {
            assert_eq!(at(w), Expect::Unauthenticated, "{k}: {w:?} must get 401");
        }
        for w in [Who::Disabled, Who::Deleted] {
            assert_eq!(at(w), Expect::Forbidden, "{k}: {w:?} must get 403");
        }
        if rank(def.access) >= rank(Access::Approver) {
            assert!(denied(at(Who::Owner)) && denied(at(Who::Other)), "{k} needs an approver: requesters are refused");
        }
        if def.access == Access::Admin {
            for w in [Who::Approver, Who::Outsider] {
                assert!(denied(at(w)), "{k} needs an admin: {w:?} is refused");
            }
        }
        if def.owner_scoped {
            assert_eq!(at(Who::Other), Expect::NotFound, "{k} is owner-scoped: another requester sees nothing");
        } else if def.access == Access::Requester {
            assert_eq!(at(Who::Owner), at(Who::Other), "{k} is not owner-scoped: every requester is treated alike");
        }
    }
}

fn rank(a: Access) -> u8 {
    match a {
        Access::Public => 0,
        Access::Requester => 1,
        Access::Approver => 2,
        Access::Admin => 3,
    }
}

// ---------------------------------------------------------------------------------------------
// Running the matrix
// ---------------------------------------------------------------------------------------------

const OWNER: &str = "email:owner@example.com";

fn policy() -> ApprovalPolicy {
    let all = || vec!["low".to_string(), "medium".to_string(), "high".to_string()];
    ApprovalPolicy {
        approver_groups: vec![
            ApproverGroup { group: "ops".into(), accounts: vec![ACCOUNT.into()], tiers: all() },
            ApproverGroup { group: "elsewhere".into(), accounts: vec!["999999999999".into()], tiers: all() },
        ],
        ..ApprovalPolicy::default()
    }
}

struct World {
    app: TestApp,
    /// The STS that `POST /api/v1/auth/aws` forwards to, and the key of an IAM user in it that
    /// is an iam-jit user.
    _moto: support::Moto,
    aws: aws_credential_types::Credentials,
    tokens: HashMap<Who, String>,
    n: AtomicU64,
}

impl World {
    async fn new(kind: Kind) -> World {
        let moto = support::Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "2")]);
        let iam = support::moto_iam(&moto, support::static_credentials("AKIAIOSFODNN7EXAMPLE", "x", None));
        let aws = support::moto_user_with_key(&iam, "matrix-agent").await;
        let app = TestApp::with_config(kind, |c| {
            c.approval_policy = Some(policy());
            c.sts_url = Some(moto.url());
        })
        .await;
        app.user(&format!("iam:arn:aws:iam::{}:user/matrix-agent", support::MOTO_ACCOUNT), Role::Requester, &[]).await;
        let mut tokens = HashMap::new();
        tokens.insert(Who::Malformed, "not-a-token".to_string());
        tokens.insert(Who::Unknown, format!("{}{}", identity::TOKEN_PREFIX, "0".repeat(64)));
        tokens.insert(Who::Owner, app.user(OWNER, Role::Requester, &[]).await);
        tokens.insert(Who::Other, app.user("email:other@example.com", Role::Requester, &[]).await);
        tokens.insert(Who::Approver, app.user("email:approver@example.com", Role::Approver, &["ops"]).await);
        tokens.insert(Who::Outsider, app.user("email:outsider@example.com", Role::Approver, &["elsewhere"]).await);
        let admin = app.user("email:admin2@example.com", Role::Admin, &["ops"]).await;
        tokens.insert(Who::Admin, admin.clone());

        // A second token of the admin, revoked through the API.
        let revoked = {
            let mut w = app.state.store.write().await.unwrap();
            let (t, _) =
                identity::create_token(&mut w, "system:test", "email:admin2@example.com", "r", None).await.unwrap();
            w.commit().await.unwrap();
            t
        };
        let (st, v) = app
            .call(Method::DELETE, &format!("/api/v1/tokens/{}", identity::token_hash(&revoked)), Some(&admin), None)
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
        tokens.insert(Who::Revoked, revoked);
        // And one that expired a second ago.
        let expired = {
            let mut w = app.state.store.write().await.unwrap();
            let (t, _) = identity::create_token(
                &mut w,
                "system:test",
                "email:admin2@example.com",
                "e",
                Some(jit_service::now_ms() - 1000),
            )
            .await
            .unwrap();
            w.commit().await.unwrap();
            t
        };
        tokens.insert(Who::Expired, expired);
        // Admins with every group, disabled and deleted by another admin: the role they held
        // must not help them.
        let disabled = app.user("email:disabled@example.com", Role::Admin, &["ops"]).await;
        let (st, v) = app
            .call(
                Method::PATCH,
                "/api/v1/users/email:disabled@example.com",
                Some(&app.admin),
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        tokens.insert(Who::Disabled, disabled);
        let deleted = app.user("email:deleted@example.com", Role::Admin, &["ops"]).await;
        let (st, v) = app.call(Method::DELETE, "/api/v1/users/email:deleted@example.com", Some(&app.admin), None).await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
        tokens.insert(Who::Deleted, deleted);
        World { app, _moto: moto, aws, tokens, n: AtomicU64::new(0) }
    }

    fn next(&self) -> u64 {
        self.n.fetch_add(1, Ordering::Relaxed)
    }

    fn token(&self, who: Who) -> &str {
        &self.tokens[&who]
    }

    async fn pending(&self) -> String {
        self.app.submit(self.token(Who::Owner), role_request(ACCOUNT, 2, read_policy())).await
    }

    async fn active(&self) -> String {
        let id = self.pending().await;
        let (st, v) =
            self.app.post(&format!("/api/v1/requests/{id}/approve"), self.token(Who::Approver), json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["request"]["status"]["state"], "active", "{v}");
        id
    }

    /// Make the value a route's path parameter (or query) names.
    async fn fixture(&self, fx: Fx) -> String {
        let app = &self.app;
        match fx {
            Fx::None => String::new(),
            Fx::Pending => self.pending().await,
            Fx::Active => self.active().await,
            Fx::BreakGlass => {
                let mut body = role_request(ACCOUNT, 1, read_policy());
                body["spec"]["break_glass"] = json!({"reason": "production is down and on-call needs to look"});
                let id = app.submit(self.token(Who::Owner), body).await;
                assert_eq!(app.state_of(&id).await, "active");
                id
            }
            Fx::Failed => {
                let id = self.pending().await;
                sqlx::query("UPDATE requests SET state = 'provisioning_failed', version = version + 1 WHERE id = $1")
                    .bind(&id)
                    .execute(&app.state.store.pool)
                    .await
                    .unwrap();
                id
            }
            Fx::OwnerToken => {
                let mut w = app.state.store.write().await.unwrap();
                let (t, _) = identity::create_token(&mut w, OWNER, OWNER, "spare", None).await.unwrap();
                w.commit().await.unwrap();
                identity::token_hash(&t)
            }
            Fx::User => {
                let id = format!("email:target-{}@example.com", self.next());
                app.user(&id, Role::Requester, &[]).await;
                id
            }
            Fx::Proposal => {
                let (st, v) =
                    app.call(Method::PUT, "/api/v1/approval-policy", Some(&app.admin), Some(json!(policy()))).await;
                assert_eq!(st, StatusCode::ACCEPTED, "{v}");
                v["proposal"]["version"].as_i64().unwrap().to_string()
            }
            Fx::Webhook => {
                let (st, v) = app
                    .post("/api/v1/webhooks", &app.admin, json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}))
                    .await;
                assert_eq!(st, StatusCode::CREATED, "{v}");
                v["id"].as_str().unwrap().to_string()
            }
            Fx::MagicLink => identity::create_magic_link(&app.state.store, OWNER).await.unwrap(),
            Fx::Account => {
                let id = format!("{:012}", 500_000_000_000u64 + self.next());
                let (st, v) = app.post("/api/v1/accounts", &app.admin, account_body(&id)).await;
                assert_eq!(st, StatusCode::CREATED, "{v}");
                id
            }
            Fx::AwsLogin => {
                let (st, v) = app.call(Method::POST, "/api/v1/auth/aws/challenge", None, None).await;
                assert_eq!(st, StatusCode::CREATED, "{v}");
                let ch = serde_json::from_value(v).unwrap();
                let signed =
                    jit_service::awsauth::sign_login_request(&ch, &self.aws, std::time::SystemTime::now()).unwrap();
                json!(signed).to_string()
            }
        }
    }

    /// A valid body for the route (fresh names where the route creates something unique).
    fn body(&self, method: &Method, path: &str) -> Option<Value> {
        let n = self.next();
        Some(match (method.as_str(), path) {
            ("POST", "/api/v1/auth/login") => json!({"email": "owner@example.com"}),
            ("POST", "/api/v1/users") => {
                json!({"user_id": format!("email:new-{n}@example.com"), "roles": ["requester"]})
            }
            ("PATCH", "/api/v1/users/{user_id}") => json!({"display_name": "Target"}),
            ("POST", "/api/v1/users/{user_id}/principals") => {
                json!({"principal_arn": format!("arn:aws:iam::{ACCOUNT}:role/linked-{n}")})
            }
            ("POST", "/api/v1/tokens") => json!({"name": "matrix"}),
            ("POST", "/api/v1/requests") | ("POST", "/api/v1/requests/preview") => {
                role_request(ACCOUNT, 2, read_policy())
            }
            ("PATCH", "/api/v1/requests/{id}") => role_request(ACCOUNT, 3, read_policy()),
            ("POST", "/api/v1/requests/{id}/reject") => json!({"comment": "not needed"}),
            ("POST", "/api/v1/requests/{id}/request-changes") => json!({"comment": "narrow the resources"}),
            ("POST", "/api/v1/requests/{id}/comments") => json!({"body": "a comment"}),
            ("POST", "/api/v1/requests/{id}/extend") => json!({"hours": 1, "reason": "the migration is not finished"}),
            ("POST", "/api/v1/requests/{id}/review") => json!({"comment": "looked at the session; fine"}),
            ("PUT", "/api/v1/approval-policy") => json!(policy()),
            ("POST", "/api/v1/accounts/onboarding/preview") => {
                json!({"account_id": format!("{:012}", 700_000_000_000u64 + n)})
            }
            ("POST", "/api/v1/accounts") => account_body(&format!("{:012}", 600_000_000_000u64 + n)),
            ("POST", "/api/v1/webhooks") => json!({"url": "http://127.0.0.1:9/hook", "events": ["request.approved"]}),
            ("POST", _) => json!({}),
            _ => return None,
        })
    }

    fn path(row: &Row, value: &str) -> String {
        match row.fx {
            Fx::None | Fx::AwsLogin => row.path.to_string(),
            Fx::MagicLink => format!("{}?token={value}", row.path),
            _ => {
                let (start, rest) = row.path.split_once('{').expect("a fixture row has a path parameter");
                let (_, end) = rest.split_once('}').unwrap();
                format!("{start}{value}{end}")
            }
        }
    }

    async fn send(
        &self,
        who: Who,
        method: &Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, String) {
        let mut req = Request::builder().method(method.clone()).uri(path);
        if who != Who::Anonymous {
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", self.token(who)));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.raw(req).await;
        let status = resp.status();
        let www = resp.headers().get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap_or("").to_string());
        let bytes = to_bytes(resp.into_body(), 16 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        (status, www, text)
    }
}

/// The mismatch, if any, between an answer and the expected outcome.
fn check(expect: Expect, status: StatusCode, www: Option<&str>) -> Option<String> {
    let ok = match expect {
        Expect::Unauthenticated => status == StatusCode::UNAUTHORIZED && www == Some("Bearer"),
        Expect::Forbidden => status == StatusCode::FORBIDDEN && www.is_none(),
        Expect::NotFound => status == StatusCode::NOT_FOUND,
        Expect::Allowed => status.is_success(),
        Expect::Conflict => status == StatusCode::CONFLICT,
    };
    (!ok).then(|| format!("expected {expect:?}, got {} (WWW-Authenticate: {www:?})", status.as_u16()))
}

async fn run_matrix(kind: Kind) {
    let started = std::time::Instant::now();
    let problems = coverage_problems(&declared_routes(), &matrix());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let world = World::new(kind).await;
    let mut failures = Vec::new();
    let mut calls = 0;
    for row in matrix() {
        let outcomes = row.outcomes();
        assert_eq!(outcomes.len(), WHO.len(), "{} {}: one outcome per caller kind", row.method, row.path);
        // One fixture for the reads and the refusals of this route, made on first use.
        let mut shared: Option<String> = None;
        for (who, expect) in WHO.iter().zip(&outcomes) {
            let fresh = matches!(row.fx, Fx::MagicLink | Fx::AwsLogin)
                || (*expect == Expect::Allowed && row.method != Method::GET);
            let value = if fresh {
                world.fixture(row.fx).await
            } else {
                if shared.is_none() {
                    shared = Some(world.fixture(row.fx).await);
                }
                shared.clone().unwrap()
            };
            let path = World::path(&row, &value);
            let body = match row.fx {
                Fx::AwsLogin => Some(serde_json::from_str(&value).unwrap()),
                _ => world.body(&row.method, row.path),
            };
            let (status, www, text) = world.send(*who, &row.method, &path, body).await;
            calls += 1;
            if let Some(why) = check(*expect, status, www.as_deref()) {
                failures.push(format!("{} {} as {who:?}: {why}: {text}", row.method, row.path));
            }
        }
        // A refusal leaves the shared request as it was.
        if let (Some(id), Fx::Pending | Fx::Active) = (&shared, row.fx) {
            let want = if row.fx == Fx::Pending { "pending" } else { "active" };
            if row.method != Method::GET {
                assert_eq!(
                    world.app.state_of(id).await,
                    want,
                    "{} {}: a refused call changed the request",
                    row.method,
                    row.path
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} calls did not match the matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(calls, api::routes().len() * WHO.len());
    let v = world.app.verify_audit().await;
    assert!(v.ok, "{v:?}");
    eprintln!("{kind:?}: {calls} calls in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_sqlite() {
    run_matrix(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_postgres() {
    run_matrix(Kind::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// Scoping inside allowed routes
// ---------------------------------------------------------------------------------------------

/// Lists, token management and the "last admin" guard keep to the caller's own things.
async fn scoping(kind: Kind) {
    let app = TestApp::new(kind).await;
    let owner = app.user(OWNER, Role::Requester, &[]).await;
    let other = app.user("email:other@example.com", Role::Requester, &[]).await;
    let id = app.submit(&owner, role_request(ACCOUNT, 2, read_policy())).await;
    // Another requester's list holds none of the owner's requests, even when asking for them.
    for q in ["", "?owner=email:owner@example.com", "?mine=false", "?state=pending"] {
        let (st, v) = app.get(&format!("/api/v1/requests{q}"), &other).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["requests"].as_array().unwrap().len(), 0, "{q}: {v}");
    }
    let (st, v) = app.get("/api/v1/requests", &owner).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["requests"][0]["metadata"]["id"], id.as_str(), "{v}");
    // Tokens: a requester lists and creates only their own.
    let (st, _) = app.get("/api/v1/tokens?user=email:owner@example.com", &other).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app.get("/api/v1/tokens?user=*", &other).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app.post("/api/v1/tokens", &other, json!({"name": "x", "user_id": OWNER})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app.get("/api/v1/tokens", &other).await;
    assert_eq!(st, StatusCode::OK);
    assert!(v["tokens"].as_array().unwrap().iter().all(|t| t["user_id"] == "email:other@example.com"), "{v}");
    // A revoked token stops working at once.
    let (st, v) = app.post("/api/v1/tokens", &other, json!({"name": "spare"})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let spare = v["token"].as_str().unwrap().to_string();
    let (st, _) = app.get("/api/v1/me", &spare).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) =
        app.call(Method::DELETE, &format!("/api/v1/tokens/{}", v["hash"].as_str().unwrap()), Some(&other), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _) = app.get("/api/v1/me", &spare).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoping_sqlite() {
    scoping(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoping_postgres() {
    scoping(Kind::Postgres).await;
}

/// The last *enabled* admin can be neither disabled, demoted nor deleted: a disabled admin
/// does not count, or the deployment could be left with no admin able to log in.
async fn last_enabled_admin(kind: Kind) {
    let app = TestApp::new(kind).await;
    let me = "/api/v1/users/email:admin@example.com";
    let b = app.user("email:b@example.com", Role::Admin, &[]).await;
    let (st, v) = app
        .call(Method::PATCH, "/api/v1/users/email:b@example.com", Some(&app.admin), Some(json!({"enabled": false})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _) = app.get("/api/v1/me", &b).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    for (method, body) in [
        (Method::PATCH, Some(json!({"enabled": false}))),
        (Method::PATCH, Some(json!({"roles": ["approver"]}))),
        (Method::DELETE, None),
    ] {
        let (st, v) = app.call(method.clone(), me, Some(&app.admin), body.clone()).await;
        assert_eq!(st, StatusCode::CONFLICT, "{method} {body:?}: {v}");
    }
    let (st, v) = app.get("/api/v1/me", &app.admin).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The disabled admin itself may still be demoted or deleted while another admin is enabled.
    let (st, v) = app
        .call(
            Method::PATCH,
            "/api/v1/users/email:b@example.com",
            Some(&app.admin),
            Some(json!({"roles": ["requester"]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = app.call(Method::DELETE, "/api/v1/users/email:b@example.com", Some(&app.admin), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_enabled_admin_sqlite() {
    last_enabled_admin(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_enabled_admin_postgres() {
    last_enabled_admin(Kind::Postgres).await;
}

/// Browser sessions: the cookie authenticates, every unsafe method also needs the session's
/// CSRF token, a disabled user's session is refused (403), and after logout the cookie is a
/// credential that no longer authenticates (401).
async fn sessions(kind: Kind) {
    let app = TestApp::new(kind).await;
    let owner = app.user(OWNER, Role::Requester, &[]).await;
    let link = identity::create_magic_link(&app.state.store, OWNER).await.unwrap();
    let resp = app.raw(Request::get(format!("/api/v1/auth/callback?token={link}")).body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let body: Value = serde_json::from_slice(&to_bytes(resp.into_body(), 1 << 20).await.unwrap()).unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    // The link works once.
    let resp = app.raw(Request::get(format!("/api/v1/auth/callback?token={link}")).body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let send = |method: Method, path: &str, csrf: Option<&str>, body: Option<Value>| {
        let mut req = Request::builder().method(method).uri(path).header(header::COOKIE, &cookie);
        if let Some(c) = csrf {
            req = req.header(identity::CSRF_HEADER, c);
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let app = &app;
        async move {
            let resp = app.raw(req).await;
            (resp.status(), resp.headers().get(header::WWW_AUTHENTICATE).cloned())
        }
    };
    assert_eq!(send(Method::GET, "/api/v1/me", None, None).await.0, StatusCode::OK);
    let submit = || Some(role_request(ACCOUNT, 2, read_policy()));
    assert_eq!(send(Method::POST, "/api/v1/requests", None, submit()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(Method::POST, "/api/v1/requests", Some("wrong"), submit()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(Method::POST, "/api/v1/requests", Some(&csrf), submit()).await.0, StatusCode::CREATED);
    // Disabled: refused while disabled, accepted again once enabled.
    let patch = |enabled: bool| {
        app.call(
            Method::PATCH,
            "/api/v1/users/email:owner@example.com",
            Some(&app.admin),
            Some(json!({"enabled": enabled})),
        )
    };
    assert_eq!(patch(false).await.0, StatusCode::OK);
    assert_eq!(send(Method::GET, "/api/v1/me", None, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/me", &owner).await.0, StatusCode::FORBIDDEN);
    assert_eq!(patch(true).await.0, StatusCode::OK);
    assert_eq!(send(Method::GET, "/api/v1/me", None, None).await.0, StatusCode::OK);
    // Logout needs the CSRF token too, then ends the session.
    assert_eq!(send(Method::POST, "/api/v1/auth/logout", None, None).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(Method::POST, "/api/v1/auth/logout", Some(&csrf), None).await.0, StatusCode::OK);
    let (st, www) = send(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(www.as_ref().and_then(|v| v.to_str().ok()), Some("Bearer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_sqlite() {
    sessions(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_postgres() {
    sessions(Kind::Postgres).await;
}
