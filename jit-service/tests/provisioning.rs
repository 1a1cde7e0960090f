//! Provisioning into AWS against a real local IAM/STS (`moto_server`, started per test):
//! destination accounts, the full lifecycle in two accounts with every document's structure
//! checked (moto does not evaluate conditions), expiry by the clock, a crash after every AWS
//! call, two replicas racing the same expiries, an unreachable destination, a foreign role of
//! the same name, and the orphan sweep.

mod common;
mod support;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use axum::http::StatusCode;
use common::*;
use jit_service::aws::AwsProvisioner;
use jit_service::identity::Role;
use jit_service::{audit, jobs, requests, AppState};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use support::Moto;

const ACCT_A: &str = "111111111111";
const ACCT_B: &str = "222222222222";
const HUB: &str = "arn:aws:iam::000000000001:role/iam-jit-hub";

async fn sdk(endpoint: &str, attempts: u32) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new("AKIAHUBTEST", "hub-secret", None, None, "test"))
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .load()
        .await
}

struct Env {
    moto: Moto,
    app: TestApp,
    aws: Arc<AwsProvisioner>,
    requester: String,
    approver: String,
}

fn aws_state(state: &mut AppState, sdk: SdkConfig) -> Arc<AwsProvisioner> {
    let aws = Arc::new(AwsProvisioner::new(sdk, state.store.clone()));
    state.provisioner = aws.clone();
    aws
}

async fn env(kind: Kind) -> Env {
    let moto = Moto::start();
    let conf = sdk(&moto.url(), 2).await;
    let mut handle = None;
    let app = TestApp::with_state(
        kind,
        |c| {
            c.hub_role_arn = Some(HUB.into());
            c.deployment_id = "test-deployment".into();
        },
        |s| handle = Some(aws_state(s, conf)),
    )
    .await;
    let requester = app.user("email:dev@example.com", Role::Requester, &[]).await;
    let approver = app.user("email:boss@example.com", Role::Approver, &[]).await;
    for a in [ACCT_A, ACCT_B] {
        let (st, v) = app.post("/api/v1/accounts", &app.admin, account_body(a)).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    Env { moto, app, aws: handle.unwrap(), requester, approver }
}

fn account_body(a: &str) -> Value {
    json!({
        "account_id": a,
        "alias": format!("acct-{a}"),
        "provisioner_role_arn": format!("arn:aws:iam::{a}:role/iam-jit-provisioner"),
        "permission_boundary_arn": format!("arn:aws:iam::{a}:policy/iam-jit/iam-jit-boundary"),
        "regions": ["us-east-1", "eu-west-1"]
    })
}

fn two_account_request(hours: u32) -> Value {
    let mut body = role_request(ACCT_A, hours, read_policy());
    body["spec"]["accounts"] = json!([
        {"account_id": ACCT_A, "regions": ["us-east-1"]},
        {"account_id": ACCT_B, "regions": ["eu-west-1"]}
    ]);
    body
}

impl Env {
    async fn submit(&self) -> String {
        self.app.submit(&self.requester, two_account_request(4)).await
    }

    async fn approve(&self, id: &str) -> (StatusCode, Value) {
        self.app.post(&format!("/api/v1/requests/{id}/approve"), &self.approver, json!({})).await
    }

    async fn active(&self) -> String {
        let id = self.submit().await;
        let (st, v) = self.approve(&id).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["request"]["status"]["state"], "active", "{v}");
        id
    }
}

/// The roles under `/iam-jit/` in `account`.
async fn roles(moto: &Moto, account: &str) -> Vec<String> {
    let iam = support::moto_iam_in(moto, account).await;
    let out = iam.list_roles().path_prefix("/iam-jit/").send().await.unwrap();
    let mut v: Vec<String> = out.roles().iter().map(|r| r.role_name().to_string()).collect();
    v.sort();
    v
}

/// A policy document as IAM returns it (URL-encoded JSON).
fn decode(doc: &str) -> Value {
    let raw = percent_encoding::percent_decode_str(doc).decode_utf8().expect("UTF-8");
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"))
}

async fn tags_of(iam: &aws_sdk_iam::Client, name: &str) -> BTreeMap<String, String> {
    iam.list_role_tags()
        .role_name(name)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// Every document and attribute of the granted role in `account`.
async fn assert_granted_role(e: &Env, account: &str, id: &str) {
    let iam = support::moto_iam_in(&e.moto, account).await;
    let role = iam.get_role().role_name(id).send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.path(), "/iam-jit/");
    assert_eq!(role.arn(), format!("arn:aws:iam::{account}:role/iam-jit/{id}"));
    assert_eq!(
        role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        Some(format!("arn:aws:iam::{account}:policy/iam-jit/iam-jit-boundary").as_str())
    );
    let max = role.max_session_duration().unwrap();
    assert!((3600..=4 * 3600).contains(&max), "MaxSessionDuration {max} is bounded by the 4 h remaining");
    let tags = tags_of(&iam, id).await;
    assert_eq!(tags["managed-by"], "iam-jit");
    assert_eq!(tags["iam-jit:request-id"], id);
    assert_eq!(tags["iam-jit:deployment-id"], "test-deployment");
    let not_after = tags["iam-jit:not-after"].clone();
    assert!(jit_service::util::parse_ts(&not_after).is_some());

    let trust = decode(role.assume_role_policy_document().unwrap());
    let st = trust["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 1, "{trust}");
    // Pinned to the hub (the requester is an e-mail user), never `*` or an account root.
    assert_eq!(st[0]["Principal"], json!({"AWS": HUB}), "{trust}");
    assert_eq!(st[0]["Effect"], "Allow");
    assert_eq!(st[0]["Condition"]["DateLessThan"]["aws:CurrentTime"], json!(not_after));
    assert_eq!(st[0]["Condition"]["StringEquals"]["sts:SourceIdentity"], "dev@example.com");

    let names = iam.list_role_policies().role_name(id).send().await.unwrap();
    assert_eq!(names.policy_names(), ["iam-jit-grant"]);
    let doc = iam.get_role_policy().role_name(id).policy_name("iam-jit-grant").send().await.unwrap();
    let doc = decode(doc.policy_document());
    let st = doc["Statement"].as_array().unwrap();
    // The approved statements untouched, then the expiry Deny.
    assert_eq!(st[..st.len() - 1], read_policy()["Statement"].as_array().unwrap()[..]);
    let last = &st[st.len() - 1];
    assert_eq!(last["Effect"], "Deny");
    assert_eq!(last["Action"], "*");
    assert_eq!(last["Resource"], "*");
    assert_eq!(last["Condition"]["DateGreaterThan"]["aws:CurrentTime"], json!(not_after));
    let attached = iam.list_attached_role_policies().role_name(id).send().await.unwrap();
    assert!(attached.attached_policies().is_empty());
}

async fn actions(app: &TestApp, id: &str) -> Vec<(String, Value)> {
    audit::list(&app.state.store, &audit::Filter { subject: Some(id.into()), limit: 10_000, ..Default::default() })
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.data))
        .collect()
}

fn count(actions: &[(String, Value)], action: &str) -> usize {
    actions.iter().filter(|(a, _)| a == action).count()
}

/// DeleteRole steps that really deleted something, per account.
fn deletions(actions: &[(String, Value)], account: &str) -> usize {
    actions
        .iter()
        .filter(|(a, d)| {
            a == "grant.step" && d["call"] == "iam:DeleteRole" && d["outcome"] == "deleted" && d["account"] == account
        })
        .count()
}

both!(accounts_are_registered_validated_and_required, |app| async move {
    let (st, v) = app.post("/api/v1/accounts", &app.admin, account_body(ACCT_A)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let ext = v["account"]["external_id"].as_str().unwrap().to_string();
    assert!(ext.starts_with("iamjit-") && ext.len() >= 40, "{ext}");
    // Registering again updates and keeps the ExternalId.
    let mut again = account_body(ACCT_A);
    again["alias"] = json!("renamed");
    let (st, v) = app.post("/api/v1/accounts", &app.admin, again).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["account"]["external_id"], json!(ext));
    assert_eq!(v["account"]["alias"], "renamed");
    // Another account's ExternalId differs.
    let (_, v) = app.post("/api/v1/accounts", &app.admin, account_body(ACCT_B)).await;
    assert_ne!(v["account"]["external_id"], json!(ext));

    let (st, v) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"account_id": "12345", "alias": "", "provisioner_role_arn": "arn:aws:iam::999999999999:role/x",
                   "permission_boundary_arn": "*", "regions": ["moon-1"], "external_id": "mine"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let paths: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    for p in ["external_id", "account_id", "alias", "regions[0]"] {
        assert!(paths.contains(&p), "{p} missing in {v}");
    }
    let (st, v) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"account_id": ACCT_A, "alias": "a", "provisioner_role_arn": "arn:aws:iam::999999999999:role/x",
                   "permission_boundary_arn": "arn:aws:iam::111111111111:role/not-a-policy"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("in account 999999999999"), "{v}");
    assert!(v["detail"].as_str().unwrap().contains("IAM policy ARN"), "{v}");

    // Only admins register; requesters see accounts without their ExternalId.
    let dev = app.user("email:dev@example.com", Role::Requester, &[]).await;
    let (st, _) = app.post("/api/v1/accounts", &dev, account_body(ACCT_A)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app.get("/api/v1/accounts", &dev).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["accounts"].as_array().unwrap().len(), 2);
    assert!(v["accounts"][0].get("external_id").is_none(), "{v}");
    let (_, v) = app.get(&format!("/api/v1/accounts/{ACCT_A}"), &app.admin).await;
    assert_eq!(v["account"]["external_id"], json!(ext));

    // A request's regions must be allowed in a registered account.
    let mut body = role_request(ACCT_A, 1, read_policy());
    body["spec"]["accounts"][0]["regions"] = json!(["ap-south-1"]);
    let (st, v) = app.post("/api/v1/requests", &dev, body).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["path"], "spec.accounts[0].regions[0]", "{v}");

    // Removing an account with live grants is refused; without, it goes.
    let id = app.submit(&dev, role_request(ACCT_B, 1, read_policy())).await;
    let boss = app.user("email:boss@example.com", Role::Approver, &[]).await;
    let (st, _) = app.post(&format!("/api/v1/requests/{id}/approve"), &boss, json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) =
        app.call(axum::http::Method::DELETE, &format!("/api/v1/accounts/{ACCT_B}"), Some(&app.admin), None).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, _) =
        app.call(axum::http::Method::DELETE, &format!("/api/v1/accounts/{ACCT_A}"), Some(&app.admin), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(app.verify_audit().await.ok);
});

mod aws {
    use super::*;

    async fn lifecycle(kind: Kind) {
        let e = env(kind).await;
        // With the AWS provisioner an unregistered account is refused at submission.
        let (st, v) =
            e.app.post("/api/v1/requests", &e.requester, role_request("333333333333", 1, read_policy())).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v["detail"].as_str().unwrap().contains("not registered"), "{v}");

        let id = e.active().await;
        for a in [ACCT_A, ACCT_B] {
            assert_eq!(roles(&e.moto, a).await, vec![id.clone()]);
            assert_granted_role(&e, a, &id).await;
        }
        let (st, v) = e.app.get(&format!("/api/v1/requests/{id}/assume"), &e.requester).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let r = &v["roles"][1];
        assert_eq!(r["role_arn"], format!("arn:aws:iam::{ACCT_B}:role/iam-jit/{id}"));
        assert!(r["cli"].as_str().unwrap().contains("--source-identity dev@example.com"), "{r}");
        assert!(r["env"].as_str().unwrap().contains("export AWS_SESSION_TOKEN="), "{r}");
        assert!(r["profile"].as_str().unwrap().contains("source_identity = dev@example.com"), "{r}");
        assert!(r["console_url"]
            .as_str()
            .unwrap()
            .starts_with("https://signin.aws.amazon.com/switchrole?account=222222222222"));

        // The requester is an e-mail user: the roles trust the hub, which hands out sessions.
        assert_eq!(r["brokered"], true, "{r}");
        let creds_path = format!("/api/v1/requests/{id}/credentials");
        let (st, v) = e.app.post(&creds_path, &e.requester, json!({})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "two accounts: name one: {v}");
        let (st, v) = e.app.post(&creds_path, &e.approver, json!({"account_id": ACCT_A})).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        let (st, v) = e.app.post(&creds_path, &e.requester, json!({"account_id": "999999999999"})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (st, c) = e.app.post(&creds_path, &e.requester, json!({"account_id": ACCT_B})).await;
        assert_eq!(st, StatusCode::OK, "{c}");
        assert_eq!(c["role_arn"], format!("arn:aws:iam::{ACCT_B}:role/iam-jit/{id}"));
        let session = support::moto_sts(
            &e.moto,
            support::static_credentials(
                c["access_key_id"].as_str().unwrap(),
                c["secret_access_key"].as_str().unwrap(),
                c["session_token"].as_str(),
            ),
        );
        let who = session.get_caller_identity().send().await.unwrap();
        assert_eq!(who.arn(), Some(format!("arn:aws:sts::{ACCT_B}:assumed-role/{id}/dev@example.com").as_str()));
        let issued: Vec<Value> = actions(&e.app, &id)
            .await
            .into_iter()
            .filter(|(a, _)| a == "request.credentials_issued")
            .map(|(_, d)| d)
            .collect();
        assert_eq!(issued.len(), 1);
        assert!(!issued[0].to_string().contains(c["secret_access_key"].as_str().unwrap()), "no secret in the audit");

        // Revoked early by the requester: sessions denied first, then everything removed.
        let (st, v) =
            e.app.post(&format!("/api/v1/requests/{id}/revoke"), &e.requester, json!({"reason": "done"})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["request"]["status"]["state"], "revoked", "{v}");
        for a in [ACCT_A, ACCT_B] {
            assert!(roles(&e.moto, a).await.is_empty());
        }
        let acts = actions(&e.app, &id).await;
        let seq: Vec<&str> = acts.iter().filter(|(a, _)| a.starts_with("request.")).map(|(a, _)| a.as_str()).collect();
        assert!(seq.ends_with(&["request.revoking", "request.revoked"]), "{seq:?}");
        let steps: Vec<(String, String, String)> = acts
            .iter()
            .filter(|(a, _)| a == "grant.step")
            .map(|(_, d)| {
                (
                    d["account"].as_str().unwrap().to_string(),
                    d["call"].as_str().unwrap().to_string(),
                    d["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let revoke_a: Vec<(&str, &str)> = steps
            .iter()
            .filter(|(acct, _, _)| acct == ACCT_A)
            .skip(3)
            .map(|(_, c, o)| (c.as_str(), o.as_str()))
            .collect();
        assert_eq!(
            revoke_a,
            vec![
                ("sts:AssumeRole", "assumed"),
                ("iam:PutRolePolicy", "sessions_revoked"),
                ("iam:DeleteRolePolicy", "deleted"),
                ("iam:DeleteRolePolicy", "deleted"),
                ("iam:DeleteRole", "deleted"),
            ],
            "{steps:?}"
        );
        assert_eq!(count(&acts, "request.revoked"), 1);
        let (st, _) = e.app.post(&creds_path, &e.requester, json!({"account_id": ACCT_A})).await;
        assert_eq!(st, StatusCode::CONFLICT, "no credentials after the end");
        // Revoking again is a conflict, not a second revocation.
        let (st, _) = e.app.post(&format!("/api/v1/requests/{id}/revoke"), &e.requester, json!({})).await;
        assert_eq!(st, StatusCode::CONFLICT);
        assert!(e.app.verify_audit().await.ok);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lifecycle_in_two_accounts_sqlite() {
        lifecycle(Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lifecycle_in_two_accounts_postgres() {
        lifecycle(Kind::Postgres).await
    }

    /// An approved extension moves the end in AWS too: the trust's time condition, the
    /// expiry Deny and the not-after tag, in every account.
    async fn extension(kind: Kind) {
        let e = env(kind).await;
        let id = e.active().await;
        let (st, v) = e
            .app
            .post(
                &format!("/api/v1/requests/{id}/extend"),
                &e.requester,
                json!({"hours": 2, "reason": "the migration is not finished"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let before = v["request"]["status"]["expires_at"].as_str().unwrap().to_string();
        let (st, v) = e.approve(&id).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let after = v["request"]["status"]["expires_at"].as_str().unwrap().to_string();
        let (b, a) = (jit_service::util::parse_ts(&before).unwrap(), jit_service::util::parse_ts(&after).unwrap());
        assert_eq!(a - b, 2 * 3_600_000, "{before} → {after}");
        for acct in [ACCT_A, ACCT_B] {
            // The trust, the Deny and the tag agree (checked inside) and name the new end.
            assert_granted_role(&e, acct, &id).await;
            let iam = support::moto_iam_in(&e.moto, acct).await;
            let tag = tags_of(&iam, &id).await["iam-jit:not-after"].clone();
            assert_eq!(jit_service::util::parse_ts(&tag), Some(a), "{acct}");
        }
        assert_eq!(count(&actions(&e.app, &id).await, "request.extension_applied"), 1);
        // An extension never creates a role: one that is gone (removed out of band here)
        // stays gone, and the other account's is still updated.
        let iam = support::moto_iam_in(&e.moto, ACCT_A).await;
        iam.delete_role_policy().role_name(&id).policy_name("iam-jit-grant").send().await.unwrap();
        iam.delete_role().role_name(&id).send().await.unwrap();
        let mut w = e.app.state.store.write().await.unwrap();
        jobs::enqueue(&mut w, &id, "extend", None, "test", None, false, e.app.state.now()).await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(jobs::kick(&e.app.state, &id, "extend").await.unwrap(), None);
        assert!(roles(&e.moto, ACCT_A).await.is_empty());
        assert_eq!(roles(&e.moto, ACCT_B).await, vec![id.clone()]);
        assert_eq!(count(&actions(&e.app, &id).await, "request.extension_applied"), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extension_moves_the_end_in_aws_sqlite() {
        extension(Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extension_moves_the_end_in_aws_postgres() {
        extension(Kind::Postgres).await
    }

    async fn expiry(kind: Kind) {
        let e = env(kind).await;
        let id = e.active().await;
        // Nothing is due yet.
        requests::sweep(&e.app.state).await.unwrap();
        assert_eq!(e.app.state_of(&id).await, "active");
        e.app.state.clock.advance(5 * 3_600_000);
        requests::sweep(&e.app.state).await.unwrap();
        assert_eq!(e.app.state_of(&id).await, "expired");
        for a in [ACCT_A, ACCT_B] {
            assert!(roles(&e.moto, a).await.is_empty());
        }
        let acts = actions(&e.app, &id).await;
        assert_eq!(count(&acts, "request.expired"), 1);
        // An expiry is not early: no session-revoking policy is attached first.
        assert!(!acts.iter().any(|(_, d)| d["outcome"] == "sessions_revoked"));
        requests::sweep(&e.app.state).await.unwrap();
        assert_eq!(count(&actions(&e.app, &id).await, "request.expired"), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clock_forward_expires_sqlite() {
        expiry(Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn clock_forward_expires_postgres() {
        expiry(Kind::Postgres).await
    }

    /// Crash (panic) right after the k-th AWS call of provisioning, then of revocation, for
    /// every k; the restarted service finishes each job and nothing is left behind or
    /// deleted twice.
    async fn crashes(kind: Kind) {
        let e = env(kind).await;
        // A clean run counts the calls.
        let before = e.aws.calls();
        let probe = e.active().await;
        let provision_calls = e.aws.calls() - before;
        let before = e.aws.calls();
        let (st, _) = e.app.post(&format!("/api/v1/requests/{probe}/revoke"), &e.requester, json!({})).await;
        assert_eq!(st, StatusCode::OK);
        let revoke_calls = e.aws.calls() - before;
        assert_eq!(provision_calls, 6, "AssumeRole, CreateRole, PutRolePolicy in two accounts");
        // Per account: AssumeRole, ListRoleTags, PutRolePolicy (early: sessions denied),
        // ListRolePolicies, DeleteRolePolicy ×2, ListAttachedRolePolicies, DeleteRole.
        assert_eq!(revoke_calls, 16);

        let mut live = Vec::new();
        for k in 1..=provision_calls as i64 {
            let id = e.submit().await;
            e.aws.crash_after_calls(k);
            let (st, v) = e.approve(&id).await;
            assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR, "crash after call {k}: {v}");
            assert_eq!(e.app.state_of(&id).await, "provisioning", "crash after call {k}");
            // The restart: a new replica on the same database, later than the old lease.
            let restarted = e.app.replica(|s| {
                aws_state(s, futures_sdk(&e.moto));
            });
            let restarted = restarted.await;
            restarted.state.clock.advance(jobs::LEASE_MS + 1_000);
            requests::sweep(&restarted.state).await.unwrap();
            assert_eq!(e.app.state_of(&id).await, "active", "crash after call {k}");
            for a in [ACCT_A, ACCT_B] {
                assert_granted_role(&e, a, &id).await;
            }
            let acts = actions(&e.app, &id).await;
            assert_eq!(count(&acts, "request.active"), 1, "crash after call {k}");
            assert_eq!(count(&acts, "request.provisioning_resumed"), 1, "crash after call {k}");
            live.push(id);
        }
        for a in [ACCT_A, ACCT_B] {
            let mut want = live.clone();
            want.sort();
            assert_eq!(roles(&e.moto, a).await, want, "no stray roles");
        }
        for k in 1..=revoke_calls as i64 {
            let id = if k as usize <= live.len() { live[k as usize - 1].clone() } else { e.active().await };
            e.aws.crash_after_calls(k);
            let (st, v) = e.app.post(&format!("/api/v1/requests/{id}/revoke"), &e.requester, json!({})).await;
            assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR, "crash after call {k}: {v}");
            assert_eq!(e.app.state_of(&id).await, "revoking", "crash after call {k}");
            let restarted = e.app.replica(|s| {
                aws_state(s, futures_sdk(&e.moto));
            });
            let restarted = restarted.await;
            restarted.state.clock.advance(jobs::LEASE_MS + 1_000);
            requests::sweep(&restarted.state).await.unwrap();
            assert_eq!(e.app.state_of(&id).await, "revoked", "crash after call {k}");
            let acts = actions(&e.app, &id).await;
            assert_eq!(count(&acts, "request.revoked"), 1, "crash after call {k}");
            for a in [ACCT_A, ACCT_B] {
                assert!(!roles(&e.moto, a).await.contains(&id), "crash after call {k}: role left in {a}");
                assert!(deletions(&acts, a) <= 1, "crash after call {k}: deleted twice in {a}");
            }
        }
        e.aws.crash_after_calls(0);
        for a in [ACCT_A, ACCT_B] {
            assert!(roles(&e.moto, a).await.is_empty(), "nothing orphaned in {a}");
        }
        assert!(e.app.verify_audit().await.ok);
    }

    /// A blocking-free way to build the SDK config inside a sync closure: the config is built
    /// on the runtime beforehand (moto's URL is fixed).
    fn futures_sdk(moto: &Moto) -> SdkConfig {
        let url = moto.url();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(sdk(&url, 2))
        })
        .join()
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_after_every_aws_call_sqlite() {
        crashes(Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_after_every_aws_call_postgres() {
        crashes(Kind::Postgres).await
    }

    /// Two replicas on one PostgreSQL database sweep the same due grants at once: each
    /// grant is expired exactly once and each role deleted once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_replicas_race_the_same_expiries_postgres() {
        let e = env(Kind::Postgres).await;
        let mut ids = Vec::new();
        for _ in 0..6 {
            ids.push(e.active().await);
        }
        let other = e.app.replica(|s| {
            aws_state(s, futures_sdk(&e.moto));
        });
        let other = other.await;
        e.app.state.clock.advance(5 * 3_600_000);
        other.state.clock.advance(5 * 3_600_000);
        let (a, b) = tokio::join!(requests::sweep(&e.app.state), requests::sweep(&other.state));
        a.unwrap();
        b.unwrap();
        // Anything one replica released (none expected) the next sweep finishes.
        requests::sweep(&other.state).await.unwrap();
        for id in &ids {
            assert_eq!(e.app.state_of(id).await, "expired");
            let acts = actions(&e.app, id).await;
            assert_eq!(count(&acts, "request.expired"), 1, "{id}");
            assert_eq!(count(&acts, "request.revoking"), 1, "{id}");
            for acct in [ACCT_A, ACCT_B] {
                assert_eq!(deletions(&acts, acct), 1, "{id} in {acct}");
            }
        }
        for acct in [ACCT_A, ACCT_B] {
            assert!(roles(&e.moto, acct).await.is_empty());
        }
        assert!(e.app.verify_audit().await.ok);
    }

    async fn unreachable(kind: Kind) {
        let e = env(kind).await;
        // The same service with its AWS endpoint pointing at a closed port.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = sdk(&format!("http://127.0.0.1:{closed}"), 1).await;
        let down = e.app.replica(|s| {
            aws_state(s, conf);
        });
        let down = down.await;
        let id = e.submit().await;
        let (st, v) = down.post(&format!("/api/v1/requests/{id}/approve"), &e.approver, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["request"]["status"]["state"], "provisioning_failed", "{v}");
        let reason = v["request"]["status"]["reason"].as_str().or(v["request"]["status"]["state_reason"].as_str());
        assert!(format!("{v}").contains("iam-jit-provisioner"), "the reason names what failed: {reason:?} {v}");
        // Retried once the destination is back.
        let (st, v) = e.app.post(&format!("/api/v1/requests/{id}/retry-provisioning"), &e.app.admin, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["request"]["status"]["state"], "active", "{v}");
        for a in [ACCT_A, ACCT_B] {
            assert_granted_role(&e, a, &id).await;
        }
        // A revocation while the destination is down stays `revoking` and is retried with
        // backoff until it succeeds.
        let (st, v) = down.post(&format!("/api/v1/requests/{id}/revoke"), &e.requester, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["request"]["status"]["state"], "revoking", "{v}");
        requests::sweep(&e.app.state).await.unwrap();
        assert_eq!(e.app.state_of(&id).await, "revoking", "not before the backoff");
        e.app.state.clock.advance(jobs::backoff_ms(1) + 1_000);
        requests::sweep(&e.app.state).await.unwrap();
        assert_eq!(e.app.state_of(&id).await, "revoked");
        let acts = actions(&e.app, &id).await;
        assert_eq!(count(&acts, "request.revoke_failed"), 1);
        for a in [ACCT_A, ACCT_B] {
            assert!(roles(&e.moto, a).await.is_empty());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unreachable_destination_fails_then_retries_sqlite() {
        unreachable(Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unreachable_destination_fails_then_retries_postgres() {
        unreachable(Kind::Postgres).await
    }

    async fn foreign(kind: Kind) {
        let e = env(kind).await;
        let id = e.submit().await;
        // Someone else's role of the same name already exists in account B.
        let iam = support::moto_iam_in(&e.moto, ACCT_B).await;
        let foreign_trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:role/ops"}, "Action": "sts:AssumeRole"}]});
        iam.create_role()
            .role_name(&id)
            .path("/iam-jit/")
            .assume_role_policy_document(foreign_trust.to_string())
            .tags(aws_sdk_iam::types::Tag::builder().key("owner").value("ops").build().unwrap())
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name(&id)
            .policy_name("ops")
            .policy_document(admin_policy().to_string())
            .send()
            .await
            .unwrap();
        let (st, v) = e.approve(&id).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["request"]["status"]["state"], "provisioning_failed", "{v}");
        assert!(format!("{v}").contains("left untouched"), "{v}");
        // Cancelling cleans up what this request made (account A) and nothing else.
        let (st, v) = e.app.post(&format!("/api/v1/requests/{id}/cancel"), &e.requester, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert!(roles(&e.moto, ACCT_A).await.is_empty());
        let tags = tags_of(&iam, &id).await;
        assert_eq!(tags.get("owner").map(String::as_str), Some("ops"));
        assert!(!tags.contains_key("managed-by"));
        let role = iam.get_role().role_name(&id).send().await.unwrap();
        assert_eq!(decode(role.role().unwrap().assume_role_policy_document().unwrap()), foreign_trust);
        let pol = iam.get_role_policy().role_name(&id).policy_name("ops").send().await.unwrap();
        assert_eq!(decode(pol.policy_document()), admin_policy());
        let acts = actions(&e.app, &id).await;
        assert!(acts.iter().any(|(_, d)| d["outcome"] == "foreign_role_untouched"), "{acts:?}");
        assert_eq!(count(&acts, "request.cleaned_up"), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn foreign_role_of_the_same_name_is_left_untouched_sqlite() {
        foreign(Kind::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn foreign_role_of_the_same_name_is_left_untouched_postgres() {
        foreign(Kind::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn orphan_sweep_reports_then_deletes_only_matching_roles() {
        let e = env(Kind::Sqlite).await;
        let live = e.active().await;
        let iam = support::moto_iam_in(&e.moto, ACCT_A).await;
        let trust = json!({"Version": "2012-10-17", "Statement": []}).to_string();
        let mk = |name: &'static str, tags: Vec<(&'static str, &'static str)>| {
            let iam = iam.clone();
            let trust = trust.clone();
            async move {
                let mut b = iam.create_role().role_name(name).path("/iam-jit/").assume_role_policy_document(trust);
                for (k, v) in tags {
                    b = b.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().unwrap());
                }
                b.send().await.unwrap();
            }
        };
        // A role of this deployment for a request this database never had: an orphan.
        mk(
            "req-ghost",
            vec![
                ("managed-by", "iam-jit"),
                ("iam-jit:request-id", "req-ghost"),
                ("iam-jit:deployment-id", "test-deployment"),
            ],
        )
        .await;
        // Another deployment's role, and one whose name and request tag disagree: not ours.
        mk(
            "req-other",
            vec![("managed-by", "iam-jit"), ("iam-jit:request-id", "req-other"), ("iam-jit:deployment-id", "prod")],
        )
        .await;
        mk(
            "req-mismatch",
            vec![
                ("managed-by", "iam-jit"),
                ("iam-jit:request-id", "req-x"),
                ("iam-jit:deployment-id", "test-deployment"),
            ],
        )
        .await;
        let path = format!("/api/v1/accounts/{ACCT_A}/orphan-sweep");
        let (st, v) = e.app.post(&path, &e.app.admin, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let names: Vec<&str> =
            v["orphans"].as_array().unwrap().iter().map(|o| o["role_name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["req-ghost"], "{v}");
        assert_eq!(v["orphans"][0]["reason"], "unknown request");
        assert!(v["deleted"].as_array().unwrap().is_empty());
        let mut want = vec![live.clone(), "req-ghost".into(), "req-mismatch".into(), "req-other".into()];
        want.sort();
        assert_eq!(roles(&e.moto, ACCT_A).await, want);
        let (st, v) = e.app.post(&path, &e.app.admin, json!({"delete": true})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["deleted"], json!(["req-ghost"]));
        let mut want = vec![live.clone(), "req-mismatch".into(), "req-other".into()];
        want.sort();
        assert_eq!(roles(&e.moto, ACCT_A).await, want);
        // Approvers cannot sweep.
        let (st, _) = e.app.post(&path, &e.approver, json!({})).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, v) = e.app.post(&path, &e.app.admin, json!({"delete": "yes"})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    }
}
