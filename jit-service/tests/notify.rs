//! Notifications end to end: signed webhook deliveries to a real HTTP receiver (JSON and
//! Slack bodies, checked the way a subscriber checks them), retries that survive a restart of
//! the service, and mail through a real local SMTP server (aiosmtpd) to approvers and
//! requesters, including the magic-link login. Storage tests run on SQLite and PostgreSQL.

mod common;
mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use jit_service::identity::Role;
use jit_service::notify;
use jit_service::util::parse_ts;
use jit_service::AppState;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::*;

/// Run the outbox until nothing is due; returns the attempts made.
async fn deliver_all(state: &AppState) -> usize {
    let mut total = 0;
    loop {
        let n = notify::deliver_due(state, 50).await.expect("deliver_due");
        if n == 0 {
            return total;
        }
        total += n;
    }
}

async fn create_webhook(app: &TestApp, body: Value) -> Value {
    let (st, v) = app.post("/api/v1/webhooks", &app.admin, body).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v
}

/// The admin delivery log entries of one webhook (outbox rows targeting it).
async fn log_of(app: &TestApp, hook_id: &str) -> Vec<Value> {
    let (st, v) = app.get("/api/v1/webhooks/deliveries", &app.admin).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["deliveries"].as_array().unwrap().iter().filter(|d| d["target"] == hook_id).cloned().collect()
}

fn statuses(entry: &Value) -> Vec<Option<i64>> {
    entry["log"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64()).collect()
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

both!(webhooks_deliver_signed_json_and_slack_bodies_for_subscribed_events, |app| async move {
    let rx = Receiver::start().await;
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;

    let secret = "whsec_test_0123456789abcdef";
    let json_hook = create_webhook(
        &app,
        json!({"url": rx.url("/json"), "events": ["request.submitted", "request.approved"], "secret": secret}),
    )
    .await;
    assert_eq!(json_hook["secret"], secret);
    assert_eq!(json_hook["format"], "json");
    let slack_hook = create_webhook(&app, json!({"url": rx.url("/slack"), "events": ["*"], "format": "slack"})).await;
    let slack_secret = slack_hook["secret"].as_str().unwrap().to_string();
    assert!(slack_secret.starts_with("whsec_") && slack_secret.len() >= 32, "{slack_secret}");
    create_webhook(&app, json!({"url": rx.url("/rejections"), "events": ["request.rejected"]})).await;
    // Only admins subscribe, and only to events that exist.
    let (st, _) = app.post("/api/v1/webhooks", &bob, json!({"url": rx.url("/x"), "events": ["*"]})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) =
        app.post("/api/v1/webhooks", &app.admin, json!({"url": rx.url("/x"), "events": ["request.nope"]})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let id = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    let (st, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &bob, json!({"comment": "fine"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "active");

    // submitted + approved to the JSON hook; submitted, approved, active to Slack; nothing to
    // the hook that only wants rejections.
    assert_eq!(deliver_all(&app.state).await, 5);
    let now = now_s();
    let json_got = rx.on("/json");
    let slack_got = rx.on("/slack");
    assert_eq!(json_got.len(), 2, "{json_got:?}");
    assert_eq!(slack_got.len(), 3, "{slack_got:?}");
    assert!(rx.on("/rejections").is_empty());

    for (got, key, other) in [(&json_got, secret, slack_secret.as_str()), (&slack_got, slack_secret.as_str(), secret)] {
        for r in got.iter() {
            assert_eq!(r.content_type.as_deref(), Some("application/json"));
            assert!(r.user_agent.as_deref().unwrap_or("").starts_with("iam-jit/"), "{r:?}");
            let sig = r.signature.as_deref().expect("signed");
            verify_signature(key, sig, r.body.as_bytes(), now).unwrap_or_else(|e| panic!("{e}: {r:?}"));
            // Another webhook's secret, a changed body, a stale or future timestamp: refused.
            assert!(verify_signature(other, sig, r.body.as_bytes(), now).is_err());
            let tampered = r.body.replacen(&id, &id.replace("req-", "req-0"), 1);
            assert!(verify_signature(key, sig, tampered.as_bytes(), now).is_err());
            assert!(verify_signature(key, sig, r.body.as_bytes(), now + TOLERANCE_S + 60).is_err());
            assert!(verify_signature(key, sig, r.body.as_bytes(), now - TOLERANCE_S - 60).is_err());
        }
    }

    let events: BTreeSet<String> = json_got.iter().map(|r| r.json()["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(events, BTreeSet::from(["request.submitted".to_string(), "request.approved".to_string()]));
    for r in &json_got {
        let v = r.json();
        assert_eq!(v["request"]["id"], id.as_str());
        assert_eq!(v["request"]["owner"], "email:alice@example.com");
        assert!(v["request"]["url"].as_str().unwrap().ends_with(&format!("/api/v1/requests/{id}")), "{v}");
        let expected_state = if v["event"] == "request.submitted" { "pending" } else { "approved" };
        assert_eq!(v["request"]["state"], expected_state, "{v}");
        if v["event"] == "request.approved" {
            assert_eq!(v["note"], "fine");
        }
    }
    let mut texts = Vec::new();
    for r in &slack_got {
        let v = r.json();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["text"], "a Slack body is {{\"text\": …}} only: {v}");
        let text = v["text"].as_str().unwrap().to_string();
        assert!(text.contains(&id) && text.contains("email:alice@example.com"), "{text}");
        texts.push(text);
    }
    for what in ["was submitted", "was approved", "is active"] {
        assert_eq!(texts.iter().filter(|t| t.contains(what)).count(), 1, "{what}: {texts:?}");
    }

    // The admin log shows one successful attempt each, and nothing is sent twice.
    for hook in [&json_hook, &slack_hook] {
        for entry in log_of(&app, hook["id"].as_str().unwrap()).await {
            assert_eq!(entry["status"], "delivered", "{entry}");
            assert_eq!(entry["attempts"], 1, "{entry}");
            assert_eq!(statuses(&entry), vec![Some(200)], "{entry}");
        }
    }
    assert_eq!(deliver_all(&app.state).await, 0);
    assert_eq!(rx.received().len(), 5);
});

both!(failed_webhook_deliveries_back_off_and_survive_a_restart_exactly_once, |app| async move {
    let flaky = Receiver::start().await;
    flaky.set_status(500);
    // A receiver that is down: a port nothing listens on (until after the restart).
    let down_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (flaky_secret, down_secret) = ("whsec_flaky_0123456789abcdef", "whsec_down_0123456789abcdef");
    let flaky_hook = create_webhook(
        &app,
        json!({"url": flaky.url("/hook"), "events": ["request.submitted"], "secret": flaky_secret}),
    )
    .await;
    let down_hook = create_webhook(
        &app,
        json!({"url": format!("http://127.0.0.1:{down_port}/hook"), "events": ["request.submitted"], "secret": down_secret}),
    )
    .await;
    let (flaky_id, down_id) =
        (flaky_hook["id"].as_str().unwrap().to_string(), down_hook["id"].as_str().unwrap().to_string());
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;

    let t0 = jit_service::now_ms();
    assert_eq!(notify::deliver_due(&app.state, 50).await.unwrap(), 2);
    let t1 = jit_service::now_ms();
    assert_eq!(flaky.received().len(), 1);
    assert_eq!(flaky.received()[0].answered, 500);

    // Each failure is logged and scheduled after the first backoff step.
    let flaky_entry = log_of(&app, &flaky_id).await.remove(0);
    let down_entry = log_of(&app, &down_id).await.remove(0);
    for (entry, code) in [(&flaky_entry, Some(500)), (&down_entry, None)] {
        assert_eq!(entry["status"], "pending", "{entry}");
        assert_eq!(entry["attempts"], 1, "{entry}");
        assert_eq!(statuses(entry), vec![code], "{entry}");
        assert!(!entry["log"][0]["error"].as_str().unwrap_or("").is_empty(), "{entry}");
        assert!(entry["last_error"].is_string(), "{entry}");
        let next = parse_ts(entry["next_attempt_at"].as_str().unwrap()).unwrap();
        assert!(
            next >= t0 + notify::backoff_ms(0) && next <= t1 + notify::backoff_ms(0) + 1000,
            "next attempt {next} is not one backoff ({} ms) after {t0}..{t1}",
            notify::backoff_ms(0)
        );
    }
    assert_eq!(flaky_entry["last_error"], "HTTP 500");
    let due = [&flaky_entry, &down_entry]
        .iter()
        .map(|e| parse_ts(e["next_attempt_at"].as_str().unwrap()).unwrap())
        .max()
        .unwrap();
    // Not due yet: nothing is sent before the backoff ends.
    assert_eq!(notify::deliver_due(&app.state, 50).await.unwrap(), 0);
    assert_eq!(flaky.received().len(), 1);

    // Stop the service; the receivers recover; a new service starts on the same database.
    let TestApp { kind, state, router, database, admin } = app;
    drop(router);
    state.store.pool.close().await;
    drop(state);
    flaky.set_status(200);
    let back = Receiver::bind(&format!("127.0.0.1:{down_port}")).await;
    let state = AppState::new(dev_config(&database)).await.expect("restart");
    let app = TestApp { kind, router: jit_service::api::app(state.clone()), state, database, admin };

    let wait = due + 50 - jit_service::now_ms();
    if wait > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    }
    assert_eq!(deliver_all(&app.state).await, 2);
    assert_eq!(deliver_all(&app.state).await, 0);

    let got = flaky.received();
    assert_eq!(got.len(), 2, "one failed attempt, one delivery: {got:?}");
    assert_eq!((got[0].answered, got[1].answered), (500, 200));
    assert_eq!(got[0].body, got[1].body, "a retry sends the same message");
    assert_eq!(got[1].json()["request"]["id"], id.as_str());
    let now = now_s();
    verify_signature(flaky_secret, got[1].signature.as_deref().unwrap(), got[1].body.as_bytes(), now).unwrap();
    let got = back.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].json()["event"], "request.submitted");
    verify_signature(down_secret, got[0].signature.as_deref().unwrap(), got[0].body.as_bytes(), now).unwrap();

    for (hook, first) in [(&flaky_id, Some(500)), (&down_id, None)] {
        let entries = log_of(&app, hook).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        let e = &entries[0];
        assert_eq!(e["status"], "delivered", "{e}");
        assert_eq!(e["attempts"], 2, "{e}");
        assert_eq!(statuses(e), vec![first, Some(200)], "{e}");
        assert!(e["delivered_at"].is_string() && e["last_error"].is_null(), "{e}");
    }
});

/// The Python and shell snippets of docs/jit.md accept a real delivery and refuse a changed one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_signature_checks_work_on_a_real_delivery() {
    let doc = std::fs::read_to_string(root().join("docs/jit.md")).unwrap();
    let section = doc.split("## Verifying webhook signatures").nth(1).expect("docs/jit.md: the section is missing");
    let block = |lang: &str| -> String {
        let start =
            section.find(&format!("```{lang}\n")).unwrap_or_else(|| panic!("no ```{lang} block")) + lang.len() + 4;
        let len = section[start..].find("```").unwrap();
        section[start..start + len].to_string()
    };
    let (python, shell) = (block("python"), block("sh"));
    assert!(
        std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success()),
        "the documented shell check needs `openssl` on the PATH"
    );
    // The example header in the text is a real signature.
    assert!(section.contains(&format!(
        "X-IAM-JIT-Signature: {}",
        notify::signature("whsec_example", 1764547200, r#"{"event":"request.approved"}"#)
    )));

    let app = TestApp::new(Kind::Sqlite).await;
    let rx = Receiver::start().await;
    let secret = "whsec_docs_0123456789abcdef";
    create_webhook(&app, json!({"url": rx.url("/"), "events": ["request.submitted"], "secret": secret})).await;
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    assert_eq!(deliver_all(&app.state).await, 1);
    let got = rx.received().remove(0);
    let header = got.signature.clone().unwrap();

    let dir = scratch_dir("jit-docs");
    std::fs::write(dir.join("check.py"), format!("{python}\nimport os, sys\nsys.exit(0 if verify(os.environ['SECRET'], os.environ['HEADER'], open('body.json', 'rb').read()) else 1)\n")).unwrap();
    std::fs::write(dir.join("check.sh"), &shell).unwrap();
    let run = |body: &str, secret: &str| -> (bool, bool) {
        std::fs::write(dir.join("body.json"), body).unwrap();
        let status = |mut c: std::process::Command| {
            c.current_dir(&dir).env("SECRET", secret).env("HEADER", &header).output().unwrap().status.success()
        };
        let mut py = std::process::Command::new(venv_python());
        py.arg("check.py");
        let mut sh = std::process::Command::new("sh");
        sh.arg("check.sh");
        (status(py), status(sh))
    };
    assert_eq!(run(&got.body, secret), (true, true), "the documented checks refuse a genuine delivery");
    assert_eq!(run(&got.body.replacen("pending", "active!", 1), secret), (false, false));
    assert_eq!(run(&got.body, "whsec_wrong_0123456789abcdef"), (false, false));
}

// ---------------------------------------------------------------------------------------------
// Mail
// ---------------------------------------------------------------------------------------------

async fn mail_app(kind: Kind, sink: &SmtpSink) -> TestApp {
    TestApp::with_config(kind, |c| {
        // Not --dev: login links go by mail only.
        c.dev = false;
        c.provisioner = "recording".into();
        c.hub_role_arn = Some(jit_service::DEV_HUB_ROLE_ARN.into());
        c.public_url = "https://iam-jit.example.com".into();
        c.smtp = Some(sink.config());
    })
    .await
}

fn recipients(mails: &[Mail]) -> Vec<String> {
    let mut r: Vec<String> = mails.iter().flat_map(|m| m.rcpt_tos.clone()).collect();
    r.sort();
    r
}

/// One message to `to` whose subject names request `id` and says `what`.
fn assert_one(mails: &[Mail], to: &str, id: &str, what: &str) -> Mail {
    assert_eq!(mails.len(), 1, "expected one mail ({what}), got {mails:#?}");
    let m = mails[0].clone();
    assert_eq!(m.rcpt_tos, vec![to.to_string()], "{m:#?}");
    assert!(m.to.contains(to), "{m:#?}");
    assert!(
        m.subject.contains(id) && m.subject.contains(what),
        "subject `{}` should name {id} and `{what}`",
        m.subject
    );
    assert!(m.text.contains(&format!("https://iam-jit.example.com/api/v1/requests/{id}")), "{m:#?}");
    m
}

async fn set_expiry(app: &TestApp, id: &str, at_ms: i64) {
    sqlx::query("UPDATE requests SET expires_at = $1 WHERE id = $2")
        .bind(at_ms)
        .bind(id)
        .execute(&app.state.store.pool)
        .await
        .unwrap();
}

async fn mail_to_approvers_and_requester(kind: Kind) {
    let mut sink = SmtpSink::start();
    let app = mail_app(kind, &sink).await;
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let carol = app.user("email:carol@example.com", Role::Approver, &[]).await;
    // An approver without an address is skipped, not an error.
    app.user("iam:arn:aws:iam::111122223333:role/Reviewer", Role::Approver, &[]).await;

    // A new request: every approver who may decide is told, the requester is not.
    let r1 = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    deliver_all(&app.state).await;
    let mails = sink.take_new();
    assert_eq!(recipients(&mails), vec!["admin@example.com", "bob@example.com", "carol@example.com"], "{mails:#?}");
    for m in &mails {
        assert!(m.subject.contains(&r1) && m.subject.contains("was submitted"), "{m:#?}");
        assert!(m.from.contains("iam-jit@example.com"), "{m:#?}");
        assert!(m.text.contains("read the deployment configuration bucket"), "{m:#?}");
    }

    // Approved (then active): the requester hears of both.
    let (st, v) = app.post(&format!("/api/v1/requests/{r1}/approve"), &bob, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    deliver_all(&app.state).await;
    let mut mails = sink.take_new();
    mails.sort_by_key(|m| m.subject.contains("is active"));
    assert_one(&mails[..1], "alice@example.com", &r1, "was approved");
    assert_one(&mails[1..], "alice@example.com", &r1, "is active");

    // Rejected, with the approver's reason.
    let r2 = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    deliver_all(&app.state).await;
    assert_eq!(sink.take_new().len(), 3);
    let (st, v) =
        app.post(&format!("/api/v1/requests/{r2}/reject"), &carol, json!({"comment": "not for production data"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    deliver_all(&app.state).await;
    let m = assert_one(&sink.take_new(), "alice@example.com", &r2, "was rejected");
    assert!(m.text.contains("not for production data"), "{m:#?}");

    // Changes requested, with what to change.
    let r3 = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    deliver_all(&app.state).await;
    assert_eq!(sink.take_new().len(), 3);
    let (st, v) = app
        .post(
            &format!("/api/v1/requests/{r3}/request-changes"),
            &bob,
            json!({"comment": "narrow it to the cfg/app prefix"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    deliver_all(&app.state).await;
    let m = assert_one(&sink.take_new(), "alice@example.com", &r3, "needs changes");
    assert!(m.text.contains("narrow it to the cfg/app prefix"), "{m:#?}");

    // Expiring soon: warned once, however often the sweep runs.
    set_expiry(&app, &r1, jit_service::now_ms() + 5 * 60_000).await;
    jit_service::requests::sweep(&app.state).await.unwrap();
    jit_service::requests::sweep(&app.state).await.unwrap();
    deliver_all(&app.state).await;
    assert_one(&sink.take_new(), "alice@example.com", &r1, "expires within 15 minutes");

    // Expired: the sweep ends the grant and tells the requester.
    set_expiry(&app, &r1, jit_service::now_ms() - 1000).await;
    assert_eq!(jit_service::requests::sweep(&app.state).await.unwrap(), 1);
    assert_eq!(app.state_of(&r1).await, "expired");
    deliver_all(&app.state).await;
    assert_one(&sink.take_new(), "alice@example.com", &r1, "has expired");

    // Every mail went out at the first attempt.
    let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'email' AND status <> 'delivered'")
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0);
    assert!(app.verify_audit().await.ok);
}

async fn magic_link_by_mail_logs_in_once(kind: Kind) {
    let mut sink = SmtpSink::start();
    let app = mail_app(kind, &sink).await;
    app.user("email:alice@example.com", Role::Requester, &[]).await;

    let login = |email: &str| app.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": email})));
    let (st, v) = login("Alice@Example.com").await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert!(v.get("login_url").is_none(), "outside --dev the link is only mailed: {v}");
    // An unknown address gets the same answer and no mail.
    let (st, v2) = login("nobody@example.com").await;
    assert_eq!((st, &v2["detail"]), (StatusCode::ACCEPTED, &v["detail"]));

    deliver_all(&app.state).await;
    let mails = sink.take_new();
    assert_eq!(recipients(&mails), vec!["alice@example.com"], "{mails:#?}");
    let m = &mails[0];
    assert!(m.subject.contains("login link"), "{m:#?}");
    let prefix = "https://iam-jit.example.com/api/v1/auth/callback?token=";
    let at = m.text.find(prefix).unwrap_or_else(|| panic!("no login link in {m:#?}")) + prefix.len();
    let token: String = m.text[at..].chars().take_while(char::is_ascii_hexdigit).collect();
    assert_eq!(token.len(), 64, "{m:#?}");
    let callback = format!("/api/v1/auth/callback?token={token}");

    let resp = app.raw(Request::get(&callback).body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let resp = app.raw(Request::get("/api/v1/me").header(header::COOKIE, &session).body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(me["user_id"], "email:alice@example.com");

    // The link works once.
    let (st, v) = app.call(Method::GET, &callback, None, None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_to_approvers_and_requester_sqlite() {
    mail_to_approvers_and_requester(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_to_approvers_and_requester_postgres() {
    mail_to_approvers_and_requester(Kind::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_link_by_mail_logs_in_once_sqlite() {
    magic_link_by_mail_logs_in_once(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_link_by_mail_logs_in_once_postgres() {
    magic_link_by_mail_logs_in_once(Kind::Postgres).await
}
