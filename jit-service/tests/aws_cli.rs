//! The delivery contract of provisioning, through the real binary: `iam-jit serve` (no
//! `--dev`) finds moto through the SDK's own `AWS_ENDPOINT_URL` and static credentials from
//! the environment; `iam-jit account onboard` prints a template cfn-lint accepts;
//! `POST /api/v1/accounts` registers the account; approval creates `role/iam-jit/<id>` there
//! with the boundary and the `managed-by` tag; `POST …/revoke` removes it; `teardown --plan`
//! lists what would go.

mod common;
mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{moto_iam_in, scratch_dir, venv_python, ChildGuard, Moto};

const BIN: &str = env!("CARGO_BIN_EXE_iam-jit");
const ACCT: &str = "111111111111";
const HUB: &str = "arn:aws:iam::000000000001:role/iam-jit-hub";

/// The binary with only the given environment's AWS settings (no profile files, no instance
/// metadata of the host).
fn iam_jit(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).args(args);
    for k in ["IAM_JIT_DATABASE", "IAM_JIT_API_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_IAM"] {
        c.env_remove(k);
    }
    let none = dir.join("no-such-aws-file");
    c.env("AWS_CONFIG_FILE", &none).env("AWS_SHARED_CREDENTIALS_FILE", &none).env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    iam_jit(dir, args, env).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn api(base: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{base}{path}");
    let auth = format!("Bearer {token}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        (_, b) => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(b.unwrap_or(json!({})).to_string().as_bytes()),
    };
    let mut resp = resp.unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_serve_without_dev_provisions_through_aws_endpoint_url() {
    let moto = Moto::start();
    let dir = scratch_dir("jit-aws-contract");
    let admin = stdout(&run(&dir, &["seed-admin", "--email", "admin@example.com", "--token"], &[])).trim().to_string();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = vec![
        ("AWS_ENDPOINT_URL", moto.url()),
        ("AWS_ACCESS_KEY_ID", "AKIAHUBCONTRACT".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "hub-secret".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("IAM_JIT_HUB_ROLE_ARN", HUB.to_string()),
        ("IAM_JIT_DEPLOYMENT_ID", "contract".to_string()),
    ];
    let _server = ChildGuard(
        iam_jit(&dir, &["serve", "--listen", &format!("127.0.0.1:{port}")], &env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    support::wait_for_port(port, "iam-jit serve");
    let cli_env = vec![("IAM_JIT_BASE_URL", base.clone()), ("IAM_JIT_API_TOKEN", admin.clone())];

    // The destination account's template, in both languages; the CloudFormation passes cfn-lint.
    let cfn = stdout(&run(&dir, &["account", "onboard", "--account-id", ACCT], &cli_env));
    let template: Value = serde_json::from_str(&cfn).expect("the CloudFormation is JSON");
    assert!(cfn.contains(HUB), "the provisioner role trusts the hub");
    let path = dir.join("destination.json");
    std::fs::write(&path, &cfn).unwrap();
    let lint = Command::new(venv_python().parent().unwrap().join("cfn-lint")).arg(&path).output().unwrap();
    assert_eq!(lint.status.code(), Some(0), "cfn-lint: {}", String::from_utf8_lossy(&lint.stdout));
    let tf = stdout(&run(&dir, &["account", "onboard", "--account-id", ACCT, "--format", "terraform"], &cli_env));
    assert!(tf.contains("resource \"aws_iam_role\""), "{tf}");
    // The same ExternalId in both, and again in the registration.
    let (st, preview) =
        api(&base, "POST", "/api/v1/accounts/onboarding/preview", &admin, Some(json!({"account_id": ACCT})));
    assert_eq!(st, 200, "{preview}");
    let external_id = preview["external_id"].as_str().unwrap().to_string();
    assert!(cfn.contains(&external_id) && tf.contains(&external_id));
    assert!(template.to_string().contains("sts:ExternalId"));

    let (st, v) = api(
        &base,
        "POST",
        "/api/v1/accounts",
        &admin,
        Some(json!({
            "account_id": ACCT,
            "alias": "sandbox",
            "provisioner_role_arn": format!("arn:aws:iam::{ACCT}:role/iam-jit-provisioner"),
            "permission_boundary_arn": format!("arn:aws:iam::{ACCT}:policy/iam-jit/iam-jit-boundary"),
            "regions": ["us-east-1"]
        })),
    );
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["account"]["external_id"], json!(external_id));
    let listed = stdout(&run(&dir, &["account", "list", "--format", "json"], &cli_env));
    assert!(listed.contains("sandbox"), "{listed}");

    // A requester and an approver.
    for (user, role) in [("email:dev@example.com", "requester"), ("email:boss@example.com", "approver")] {
        let (st, v) = api(&base, "POST", "/api/v1/users", &admin, Some(json!({"user_id": user, "roles": [role]})));
        assert_eq!(st, 201, "{v}");
    }
    let token_of = |user: &str| {
        let o = run(&dir, &["token", "create", "--user", user], &[]);
        stdout(&o).trim().to_string()
    };
    let dev = token_of("email:dev@example.com");
    let boss = token_of("email:boss@example.com");
    let mut body = common::role_request(ACCT, 2, common::read_policy());
    body["spec"]["accounts"][0]["regions"] = json!(["us-east-1"]);
    let (st, v) = api(&base, "POST", "/api/v1/requests", &dev, Some(body));
    assert_eq!(st, 201, "{v}");
    let id = v["request"]["metadata"]["id"].as_str().unwrap().to_string();
    let (st, v) = api(&base, "POST", &format!("/api/v1/requests/{id}/approve"), &boss, None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["request"]["status"]["state"], "active", "{v}");

    let iam = moto_iam_in(&moto, ACCT).await;
    let role = iam.get_role().role_name(&id).send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.arn(), format!("arn:aws:iam::{ACCT}:role/iam-jit/{id}"));
    assert_eq!(
        role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        Some(format!("arn:aws:iam::{ACCT}:policy/iam-jit/iam-jit-boundary").as_str())
    );
    let tags = iam.list_role_tags().role_name(&id).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "managed-by" && t.value() == "iam-jit"));

    let plan = stdout(&run(&dir, &["teardown", "--plan"], &cli_env));
    assert!(plan.contains(&id) && plan.contains(ACCT), "{plan}");
    // Teardown refuses to revoke active grants without --drain.
    let o = run(&dir, &["teardown"], &cli_env);
    assert_eq!(o.status.code(), Some(1), "{o:?}");

    let (st, v) = api(&base, "POST", &format!("/api/v1/requests/{id}/revoke"), &dev, Some(json!({"reason": "done"})));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["request"]["status"]["state"], "revoked", "{v}");
    let gone = iam.get_role().role_name(&id).send().await;
    assert!(gone.is_err(), "the role is gone");
    let listed = iam.list_roles().path_prefix("/iam-jit/").send().await.unwrap();
    assert!(listed.roles().is_empty());
    // Nothing left to drain: teardown sweeps the account and says what remains to delete.
    let done = stdout(&run(&dir, &["teardown", "--drain"], &cli_env));
    assert!(done.contains("0 orphaned role(s) deleted"), "{done}");
}
