//! AWS-credential login (`POST /api/v1/auth/aws/challenge`, `POST /api/v1/auth/aws`) against a
//! real `moto_server` that checks SigV4 signatures and access keys: moto is started with
//! `INITIAL_NO_AUTH_ACTION_COUNT=N`, so the first N calls (creating the IAM users, their keys
//! and a role) go through unauthenticated and every call after them is verified — the
//! signature recomputed from the request as received, the access key looked up.
//!
//! Also: the checks that refuse a signed request before anything is forwarded (the configured
//! "STS" is then a recording receiver, which must receive nothing), migrations with a gap in
//! their versions, and the `iam-jit` binary's `--aws-auth`.

mod common;
mod support;

use axum::http::{Method, StatusCode};
use common::*;
use jit_service::awsauth::{self, AwsChallenge, AwsLoginBody};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};
use support::*;

/// Runs `$f(kind)` on SQLite and on PostgreSQL.
macro_rules! on_both {
    ($name:ident, $f:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $f(Kind::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $f(Kind::Postgres).await
            }
        }
    };
}

fn arn(kind: &str, name: &str) -> String {
    format!("arn:aws:iam::{MOTO_ACCOUNT}:{kind}/{name}")
}

/// The principals the login tests use, in a moto that checks signatures from then on.
struct AwsWorld {
    moto: Moto,
    /// IAM user `agent`: an iam-jit user of its own (`iam:<arn>`).
    agent: aws_credential_types::Credentials,
    /// IAM user `stranger`: no iam-jit user.
    stranger: aws_credential_types::Credentials,
    /// IAM user `parked`: an iam-jit user that is disabled.
    parked: aws_credential_types::Credentials,
    /// A session of role `Deployer` (assumed by `agent`), linked to `email:ops@example.com`.
    deployer_session: aws_credential_types::Credentials,
}

/// The IAM calls made before moto starts checking signatures.
const SETUP_CALLS: &str = "8";

async fn aws_world() -> AwsWorld {
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_CALLS)]);
    let iam = moto_iam(&moto, static_credentials("AKIAIOSFODNN7EXAMPLE", "not-checked-yet", None));
    let agent = moto_user_with_key(&iam, "agent").await; // 2 calls
    let stranger = moto_user_with_key(&iam, "stranger").await; // 4
    let parked = moto_user_with_key(&iam, "parked").await; // 6
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role().role_name("Deployer").assume_role_policy_document(trust).send().await.unwrap(); // 7
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    iam.put_user_policy().user_name("agent").policy_name("assume").policy_document(allow).send().await.unwrap(); // 8
                                                                                                                 // From here on moto verifies: the assume-role call is signed with agent's real key.
    let sts = moto_sts(&moto, agent.clone());
    let out = sts
        .assume_role()
        .role_arn(arn("role", "Deployer"))
        .role_session_name("ci-run-7")
        .send()
        .await
        .unwrap_or_else(|e| panic!("assume_role: {e:?}"));
    let c = out.credentials().expect("session credentials");
    let deployer_session = static_credentials(c.access_key_id(), c.secret_access_key(), Some(c.session_token()));
    // And it does verify: a key it never issued is refused.
    let bogus = moto_sts(&moto, static_credentials("AKIAIOSFODNN7EXAMPLE", "x", None));
    let err = bogus.get_caller_identity().send().await.expect_err("moto must check access keys by now");
    assert!(format!("{err:?}").contains("InvalidClientTokenId"), "{err:?}");
    AwsWorld { moto, agent, stranger, parked, deployer_session }
}

async fn challenge(app: &TestApp) -> AwsChallenge {
    let (st, v) = app.call(Method::POST, "/api/v1/auth/aws/challenge", None, None).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    serde_json::from_value(v).unwrap()
}

fn signed(ch: &AwsChallenge, creds: &aws_credential_types::Credentials) -> AwsLoginBody {
    awsauth::sign_login_request(ch, creds, SystemTime::now()).unwrap()
}

async fn login(app: &TestApp, body: &AwsLoginBody) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/v1/auth/aws", None, Some(json!(body))).await
}

/// The Signature= of a signed body, with one hex digit changed.
fn tamper_signature(body: &mut AwsLoginBody) {
    let auth = body.headers.get_mut("authorization").unwrap();
    let at = auth.find("Signature=").unwrap() + "Signature=".len();
    let c = auth.as_bytes()[at];
    let flipped = if c == b'0' { '1' } else { '0' };
    auth.replace_range(at..at + 1, &flipped.to_string());
}

async fn audit_actions(app: &TestApp) -> Vec<Value> {
    let (st, v) = app.get("/api/v1/reports/audit-log?action=auth.aws_login", &app.admin).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["records"].as_array().unwrap().clone()
}

async fn logins_through_moto(kind: Kind) {
    let aws = aws_world().await;
    let app = TestApp::with_config(kind, |c| c.sts_url = Some(aws.moto.url())).await;
    let ch = challenge(&app).await;
    assert_eq!(ch.header, "X-IAM-JIT-Challenge");
    assert_eq!(ch.sts_url, format!("{}/", aws.moto.url()));
    assert_eq!(ch.region, "us-east-1");
    assert_eq!(ch.value.len(), 64);

    // The iam-jit users: agent as itself, the role linked to an e-mail user, parked disabled.
    let agent_id = format!("iam:{}", arn("user", "agent"));
    let parked_id = format!("iam:{}", arn("user", "parked"));
    for id in [&agent_id, &parked_id] {
        let (st, v) = app.post("/api/v1/users", &app.admin, json!({"user_id": id, "roles": ["requester"]})).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    let (st, v) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{}", jit_service::client::enc(&parked_id)),
            Some(&app.admin),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) =
        app.post("/api/v1/users", &app.admin, json!({"user_id": "email:ops@example.com", "roles": ["approver"]})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = app
        .post(
            "/api/v1/users/email:ops@example.com/principals",
            &app.admin,
            json!({"principal_arn": arn("role", "Deployer")}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    // A valid login: the token authenticates the IAM user's iam-jit user, for about an hour.
    let body = signed(&ch, &aws.agent);
    let (st, v) = login(&app, &body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["user_id"], agent_id.as_str(), "{v}");
    assert_eq!(v["principal_arn"], arn("user", "agent"));
    assert_eq!(v["token_type"], "Bearer");
    let token = v["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("iamjit_"));
    let expires = jit_service::util::parse_ts(v["expires_at"].as_str().unwrap()).unwrap();
    let in_ms = expires - jit_service::now_ms();
    assert!((3_500_000..=3_600_000).contains(&in_ms), "the token lasts an hour, not {in_ms} ms");
    let (st, me) = app.get("/api/v1/me", &token).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["user_id"], agent_id.as_str());
    let id = app.submit(&token, role_request("111122223333", 1, read_policy())).await;
    let (_, r) = app.get(&format!("/api/v1/requests/{id}"), &token).await;
    assert_eq!(r["request"]["status"]["owner"], agent_id.as_str(), "{r}");

    // Replay: the same signed request again (moto would still accept its signature).
    let (st, v) = login(&app, &body).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("already used"), "{v}");

    // Forged: one hex digit of the signature changed → STS (moto) refuses it.
    let mut forged = signed(&challenge(&app).await, &aws.agent);
    tamper_signature(&mut forged);
    let (st, v) = login(&app, &forged).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["code"], "sts_refused", "{v}");
    assert!(v["detail"].as_str().unwrap().contains("SignatureDoesNotMatch"), "{v}");
    // Signed with a wrong secret for a real key: the same.
    let wrong = static_credentials(aws.agent.access_key_id(), "0000000000000000000000000000000000000000", None);
    let (st, v) = login(&app, &signed(&challenge(&app).await, &wrong)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("SignatureDoesNotMatch"), "{v}");
    // A key STS never issued.
    let unknown = static_credentials("AKIAIOSFODNN7EXAMPLE", "x", None);
    let (st, v) = login(&app, &signed(&challenge(&app).await, &unknown)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("InvalidClientTokenId"), "{v}");
    // The challenge header is covered by the signature: swapping in another (valid, unused)
    // challenge after signing breaks it at STS.
    let mut swapped = signed(&challenge(&app).await, &aws.agent);
    let other = challenge(&app).await;
    swapped.headers.insert("x-iam-jit-challenge".into(), other.value.clone());
    let (st, v) = login(&app, &swapped).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("SignatureDoesNotMatch"), "{v}");

    // Expired and unknown challenges are refused by the service itself.
    let old = challenge(&app).await;
    sqlx::query("UPDATE aws_login_challenges SET expires_at = $1 WHERE hash = $2")
        .bind(jit_service::now_ms() - 1)
        .bind(jit_service::util::sha256_hex(old.value.as_bytes()))
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let (st, v) = login(&app, &signed(&old, &aws.agent)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("expired"), "{v}");
    let made_up = AwsChallenge { value: "ab".repeat(32), ..challenge(&app).await };
    let (st, v) = login(&app, &signed(&made_up, &aws.agent)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("unknown challenge"), "{v}");

    // A valid signature of a principal that is nobody here → 401; of a disabled user → 403.
    let (st, v) = login(&app, &signed(&challenge(&app).await, &aws.stranger)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains(&arn("user", "stranger")), "{v}");
    let (st, v) = login(&app, &signed(&challenge(&app).await, &aws.parked)).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("disabled"), "{v}");

    // An assumed-role session (STS says arn:aws:sts::…:assumed-role/Deployer/ci-run-7) is the
    // role, and the role is linked to ops@example.com.
    let (st, v) = login(&app, &signed(&challenge(&app).await, &aws.deployer_session)).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["user_id"], "email:ops@example.com", "{v}");
    assert_eq!(v["principal_arn"], arn("role", "Deployer"));
    let (st, me) = app.get("/api/v1/me", v["token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["user_id"], "email:ops@example.com");

    // The token expires: an hour later it no longer authenticates.
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE hash = $2")
        .bind(jit_service::now_ms() - 1)
        .bind(jit_service::identity::token_hash(&token))
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let (st, v) = app.get("/api/v1/me", &token).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");

    // Audited: two logins, and the failures after the challenge check — never a secret.
    let records = audit_actions(&app).await;
    let ok: Vec<&Value> = records.iter().filter(|r| r["action"] == "auth.aws_login").collect();
    let failed: Vec<&Value> = records.iter().filter(|r| r["action"] == "auth.aws_login_failed").collect();
    assert_eq!(ok.len(), 2, "{records:?}");
    assert_eq!(ok[0]["data"]["arn"], arn("user", "agent"));
    assert_eq!(ok[1]["data"]["arn"], format!("arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/Deployer/ci-run-7"));
    // replay, forged, wrong secret, unknown key, swapped, expired, unknown challenge, stranger, parked
    assert_eq!(failed.len(), 9, "{failed:?}");
    let everything = json!(records).to_string();
    for secret in [aws.agent.secret_access_key(), aws.deployer_session.secret_access_key()] {
        assert!(!everything.contains(secret), "a secret key reached the audit log");
    }
    assert!(!everything.contains(aws.deployer_session.session_token().unwrap()));
    assert!(!everything.contains(&token));
    assert!(app.verify_audit().await.ok);
}

on_both!(logins_through_moto_verify_identity_once, logins_through_moto);

async fn refused_before_forwarding(kind: Kind) {
    // The configured STS is a recorder: anything forwarded shows up there.
    let sts = Receiver::start().await;
    let app = TestApp::with_config(kind, |c| c.sts_url = Some(sts.url(""))).await;
    let creds = static_credentials("AKIAEXAMPLEEXAMPLE12", "secret", None);
    let ch = challenge(&app).await;
    let good = signed(&ch, &creds);

    let mut cases: Vec<(&str, AwsLoginBody, &str)> = Vec::new();
    // Another body: AssumeRole, or extra parameters.
    for body in ["Action=AssumeRole&Version=2011-06-15", "Action=GetCallerIdentity&Version=2011-06-15&X=1"] {
        let mut b = good.clone();
        b.body = body.into();
        cases.push(("body", b, "GetCallerIdentity"));
    }
    // Another URL: signed for it, so STS there would accept it — the service never goes there.
    let elsewhere = AwsChallenge { sts_url: "http://127.0.0.1:9/".into(), ..ch.clone() };
    cases.push(("url", signed(&elsewhere, &creds), "STS endpoint"));
    let mut b = good.clone();
    b.url = "https://sts.amazonaws.com/".into();
    cases.push(("url", b, "STS endpoint"));
    // The challenge header present but not signed.
    let mut b = good.clone();
    let auth = b.headers["authorization"].replace(";x-iam-jit-challenge", "");
    assert_ne!(auth, b.headers["authorization"]);
    b.headers.insert("authorization".into(), auth);
    cases.push(("unsigned challenge", b, "must cover the `x-iam-jit-challenge` header"));
    // No challenge header at all.
    let mut b = good.clone();
    b.headers.remove("x-iam-jit-challenge");
    cases.push(("no challenge", b, "x-iam-jit-challenge"));
    // Not SigV4; another method; another region; another service; stale.
    let mut b = good.clone();
    b.headers.insert("authorization".into(), "Bearer abc".into());
    cases.push(("not sigv4", b, "AWS4-HMAC-SHA256"));
    let mut b = good.clone();
    b.method = "GET".into();
    cases.push(("method", b, "POST"));
    let mut b = good.clone();
    let a = b.headers["authorization"].replace("/us-east-1/sts/", "/eu-west-1/sts/");
    b.headers.insert("authorization".into(), a);
    cases.push(("region", b, "region"));
    let mut b = good.clone();
    let a = b.headers["authorization"].replace("/us-east-1/sts/", "/us-east-1/iam/");
    b.headers.insert("authorization".into(), a);
    cases.push(("service", b, "service"));
    let stale = awsauth::sign_login_request(&ch, &creds, SystemTime::now() - Duration::from_secs(600)).unwrap();
    cases.push(("stale", stale, "5 minutes"));
    // A signed connection header (request smuggling material).
    let mut b = good.clone();
    b.headers.insert("transfer-encoding".into(), "chunked".into());
    let a = b.headers["authorization"].replace("SignedHeaders=", "SignedHeaders=transfer-encoding;");
    b.headers.insert("authorization".into(), a);
    cases.push(("hop-by-hop", b, "transfer-encoding"));

    for (what, body, says) in cases {
        let (st, v) = login(&app, &body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{what}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(says), "{what}: expected `{says}` in {v}");
    }
    // Not a signed request at all: the body's shape.
    let (st, v) = app.call(Method::POST, "/api/v1/auth/aws", None, Some(json!({"method": "POST"}))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(sts.received().is_empty(), "a refused request was forwarded: {:?}", sts.received());

    // None of that used the challenge up: the good request is forwarded now, exactly once, as
    // signed. (The recorder answers 200 with no <Arn>: a bad gateway.)
    let (st, v) = login(&app, &good).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{v}");
    let got = sts.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].path, "/");
    assert_eq!(got[0].body, awsauth::GET_CALLER_IDENTITY);
    assert_eq!(got[0].content_type.as_deref(), Some("application/x-www-form-urlencoded; charset=utf-8"));
    let (st, v) = login(&app, &good).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(sts.received().len(), 1, "a used challenge is not forwarded again");
    // An STS error page without an AWS error code is not a credential problem: 502.
    sts.set_status(500);
    let (st, v) = login(&app, &signed(&challenge(&app).await, &creds)).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY, "{v}");
}

on_both!(bad_signed_requests_are_refused_before_forwarding, refused_before_forwarding);

/// The STS endpoint follows the AWS SDKs' variables unless configured.
#[test]
fn sts_url_defaults_follow_the_sdk_variables() {
    use jit_service::config::default_sts_url;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    };
    assert_eq!(default_sts_url(env(&[])), "https://sts.amazonaws.com");
    assert_eq!(default_sts_url(env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")])), "http://127.0.0.1:5000");
    assert_eq!(
        default_sts_url(env(&[("AWS_ENDPOINT_URL", "http://a:1"), ("AWS_ENDPOINT_URL_STS", "http://b:2")])),
        "http://b:2"
    );
    let c = jit_service::Config::load(None, env(&[("AWS_ENDPOINT_URL", "http://moto:5000")])).unwrap();
    assert_eq!(c.sts_url.as_deref(), Some("http://moto:5000"));
    let c = jit_service::Config::load(
        None,
        env(&[("AWS_ENDPOINT_URL", "http://moto:5000"), ("IAM_JIT_STS_URL", "https://sts.eu-west-1.amazonaws.com")]),
    )
    .unwrap();
    assert_eq!(c.sts_url.as_deref(), Some("https://sts.eu-west-1.amazonaws.com"));
    let mut bad = jit_service::Config { sts_url: Some("ftp://x".into()), ..jit_service::Config::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("sts_url"));
    bad.sts_url = None;
    bad.aws_challenge_ttl_secs = 0;
    assert!(bad.validate().is_err());
}

/// Migration versions may have gaps: version 3 applies whether or not 2 exists, and a version
/// missing in between is applied later on its own.
async fn migrations_tolerate_gaps(kind: Kind) {
    let url = fresh_database(kind).await;
    let store = jit_service::db::Store::connect(&url).await.unwrap();
    let versions = |store: jit_service::db::Store| async move {
        let rows =
            sqlx::query("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&store.pool).await.unwrap();
        rows.iter().map(|r| sqlx::Row::get::<i64, _>(r, 0)).collect::<Vec<i64>>()
    };
    let applied = versions(store.clone()).await;
    assert!(applied.contains(&1) && applied.contains(&3), "{applied:?}");
    // As if version 3 had not been applied yet, while another (2) had been: it is applied.
    sqlx::raw_sql("DROP TABLE aws_login_challenges; DELETE FROM schema_migrations WHERE version = 3")
        .execute(&store.pool)
        .await
        .unwrap();
    if !applied.contains(&2) {
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (2, 'elsewhere', 0)")
            .execute(&store.pool)
            .await
            .unwrap();
    }
    store.pool.close().await;
    let store = jit_service::db::Store::connect(&url).await.unwrap();
    assert!(versions(store.clone()).await.contains(&3));
    sqlx::query("SELECT COUNT(*) FROM aws_login_challenges").fetch_one(&store.pool).await.unwrap();
}

on_both!(migration_versions_may_have_gaps, migrations_tolerate_gaps);

// ---------------------------------------------------------------------------------------------
// The binary: `--aws-auth` and `login --aws-auth`
// ---------------------------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_iam-jit");

fn cli(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(BIN);
    c.current_dir(dir).args(args);
    for k in [
        "IAM_JIT_DATABASE",
        "IAM_JIT_API_TOKEN",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        c.env_remove(k);
    }
    // Only the environment's credentials: no profile files or instance metadata of the host.
    let none = dir.join("no-such-aws-file");
    c.env("AWS_CONFIG_FILE", &none).env("AWS_SHARED_CREDENTIALS_FILE", &none).env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_logs_in_with_aws_credentials() {
    let aws = aws_world().await;
    let dir = scratch_dir("jit-aws-cli");
    let o = cli(&dir, &["seed-admin", "--email", "root@example.com", "--token"], &[]);
    assert!(o.status.success(), "{o:?}");
    let admin = String::from_utf8_lossy(&o.stdout).trim().to_string();
    // The server finds moto through the SDKs' own AWS_ENDPOINT_URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = ChildGuard(
        std::process::Command::new(BIN)
            .current_dir(&dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("IAM_JIT_DATABASE")
            .env_remove("AWS_ENDPOINT_URL_STS")
            .env_remove("IAM_JIT_STS_URL")
            .env("AWS_ENDPOINT_URL", aws.moto.url())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    support::wait_for_port(port, "iam-jit serve");
    let agent_id = format!("iam:{}", arn("user", "agent"));
    let resp = ureq::post(&format!("{base}/api/v1/users"))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .send(json!({"user_id": agent_id, "roles": ["requester"]}).to_string().as_bytes())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);

    // Outside --dev grants become real roles: the example's account must be registered.
    let resp = ureq::post(&format!("{base}/api/v1/accounts"))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .send(
            json!({"account_id": "111122223333", "alias": "example",
                   "provisioner_role_arn": "arn:aws:iam::111122223333:role/iam-jit-provisioner",
                   "permission_boundary_arn": "arn:aws:iam::111122223333:policy/iam-jit/iam-jit-boundary"})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let secret = aws.agent.secret_access_key().to_string();
    let env_for = |secret: &str| {
        vec![
            ("IAM_JIT_BASE_URL".to_string(), base.clone()),
            ("AWS_ACCESS_KEY_ID".to_string(), aws.agent.access_key_id().to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), secret.to_string()),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ]
    };
    let run = |args: &[&str], env: &[(String, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cli(&dir, args, &env)
    };
    let env = env_for(&secret);
    // An API command with --aws-auth: no token anywhere.
    let example = common::root().join("examples/jit-request.json");
    let o = run(&["request", "submit", example.to_str().unwrap(), "--aws-auth", "--format", "json"], &env);
    assert!(o.status.success(), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["request"]["status"]["owner"], agent_id.as_str(), "{v}");
    let o = run(&["request", "list", "--mine", "--aws-auth", "--format", "json"], &env);
    assert!(o.status.success(), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["requests"].as_array().unwrap().len(), 1, "{v}");
    // `login --aws-auth` prints a token for scripts, which then works on its own.
    let o = run(&["login", "--aws-auth"], &env);
    assert!(o.status.success(), "{o:?}");
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(token.starts_with("iamjit_") && !token.contains('\n'), "{token}");
    let mut with_token = vec![("IAM_JIT_BASE_URL".to_string(), base.clone())];
    with_token.push(("IAM_JIT_API_TOKEN".to_string(), token));
    let o = run(&["request", "list", "--format", "json"], &with_token);
    assert!(o.status.success(), "{o:?}");
    // A wrong secret: STS's refusal, exit 3 (the API said no).
    let o = run(&["request", "list", "--aws-auth"], &env_for("0000000000000000000000000000000000000000"));
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("SignatureDoesNotMatch"), "{o:?}");
    // No credentials at all: a usage problem, said as such (exit 2).
    let o = run(&["request", "list", "--aws-auth"], &with_token[..1]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("AWS credentials"), "{o:?}");
    // `login` without --aws-auth.
    let o = run(&["login"], &env);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    drop(server);
}
