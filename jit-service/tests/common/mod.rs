//! Shared test setup: every storage test runs on both real backends — an SQLite file and a
//! fresh database on a PostgreSQL cluster that this setup starts itself
//! (`scripts/postgres.sh start`, idempotent) unless `IAM_JIT_TEST_PG_URL` names one.
//!
//! `both!(name, |app| async move { … })` defines `name_sqlite` and `name_postgres`.
#![allow(dead_code)]

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use jit_service::{api, audit, identity, AppState, Config};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The admin URL of the test cluster (started once per test binary).
pub fn pg_admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("IAM_JIT_TEST_PG_URL") {
            return u;
        }
        let out = std::process::Command::new("bash")
            .arg(root().join("scripts/postgres.sh"))
            .arg("start")
            .output()
            .expect("cannot run scripts/postgres.sh");
        assert!(
            out.status.success(),
            "PostgreSQL could not be started for the tests (run scripts/test.sh, which installs it):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
    .clone()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}_{}", std::process::id(), jit_service::now_ms(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A fresh, empty database of `kind`; returns its URL.
pub async fn fresh_database(kind: Kind) -> String {
    match kind {
        Kind::Sqlite => {
            let dir = root().join("target/tmp/jit-tests");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{}.db", unique("t")));
            format!("sqlite://{}", path.display())
        }
        Kind::Postgres => {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let admin = pg_admin_url();
            let name = unique("t");
            let mut c = sqlx::AnyConnection::connect(&admin).await.expect("connect to the test cluster");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin).to_string();
            format!("{base}/{name}")
        }
    }
}

pub struct TestApp {
    pub kind: Kind,
    pub state: AppState,
    pub router: Router,
    pub database: String,
    /// Token of the seeded admin `email:admin@example.com`.
    pub admin: String,
}

pub fn dev_config(database: &str) -> Config {
    Config {
        database: database.to_string(),
        dev: true,
        rate_limit_per_minute: 0,
        sweep_interval_secs: 3600,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn new(kind: Kind) -> TestApp {
        Self::with_config(kind, |_| {}).await
    }

    pub async fn with_config(kind: Kind, f: impl FnOnce(&mut Config)) -> TestApp {
        Self::with_state(kind, f, |_| {}).await
    }

    /// Like [`TestApp::with_config`], and `g` may change the state (e.g. its provisioner)
    /// before the router is built.
    pub async fn with_state(kind: Kind, f: impl FnOnce(&mut Config), g: impl FnOnce(&mut AppState)) -> TestApp {
        let database = fresh_database(kind).await;
        let mut config = dev_config(&database);
        f(&mut config);
        let mut state = AppState::new(config).await.expect("app state");
        g(&mut state);
        let admin = seed(&state, "email:admin@example.com", identity::Role::Admin, &[]).await;
        let router = api::app(state.clone());
        TestApp { kind, state, router, database, admin }
    }

    /// Create a user straight in the store and return a token for it.
    pub async fn user(&self, id: &str, role: identity::Role, groups: &[&str]) -> String {
        seed(&self.state, id, role, groups).await
    }

    /// Another replica (or the same service restarted) on this database: its own state,
    /// clock and router; `g` may change the state before the router is built.
    pub async fn replica(&self, g: impl FnOnce(&mut AppState)) -> TestApp {
        let mut state = AppState::new((*self.state.config).clone()).await.expect("app state");
        g(&mut state);
        let router = api::app(state.clone());
        TestApp { kind: self.kind, state, router, database: self.database.clone(), admin: self.admin.clone() }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), 64 << 20).await.unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v)
    }

    pub async fn raw(&self, req: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(req).await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Submit a request; panics unless 201. Returns the request id.
    pub async fn submit(&self, token: &str, body: Value) -> String {
        let (st, v) = self.post("/api/v1/requests", token, body).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v["request"]["metadata"]["id"].as_str().unwrap().to_string()
    }

    pub async fn state_of(&self, id: &str) -> String {
        let (st, v) = self.get(&format!("/api/v1/requests/{id}"), &self.admin).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v["request"]["status"]["state"].as_str().unwrap().to_string()
    }

    pub async fn verify_audit(&self) -> audit::Verification {
        audit::verify(&self.state.store, self.state.audit_key()).await.unwrap()
    }
}

pub async fn seed(state: &AppState, id: &str, role: identity::Role, groups: &[&str]) -> String {
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let mut w = state.store.write().await.unwrap();
    identity::insert_user(&mut w, id, role, &groups, None).await.unwrap();
    let (token, _) = identity::create_token(&mut w, "system:test", id, "test", None).await.unwrap();
    w.commit().await.unwrap();
    token
}

pub fn read_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::cfg", "arn:aws:s3:::cfg/*"]}]})
}

/// Scores high (full administrator).
pub fn admin_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

pub fn role_request(account: &str, hours: u32, policy: Value) -> Value {
    json!({
        "apiVersion": "iam-jit.dev/v1alpha1",
        "kind": "RoleRequest",
        "metadata": {"name": "test-request"},
        "spec": {
            "description": "read the deployment configuration bucket",
            "access_type": "read-only",
            "accounts": [{"account_id": account, "regions": ["us-east-1"]}],
            "duration": {"duration_hours": hours},
            "policy": policy
        }
    })
}

/// Run one async test body on both backends.
#[macro_export]
macro_rules! both {
    ($name:ident, |$app:ident| $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::common::TestApp::new($crate::common::Kind::Sqlite).await;
                $body.await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = $crate::common::TestApp::new($crate::common::Kind::Postgres).await;
                $body.await
            }
        }
    };
}
