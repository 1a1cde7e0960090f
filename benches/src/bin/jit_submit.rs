//! iam-jit submit throughput: RoleRequests submitted and scored per second, and their latency
//! percentiles, on the embedded SQLite and on PostgreSQL, side by side in one run.
//!
//! ```text
//! cargo run --release -p risk-benches --bin jit_submit -- \
//!     [--requests N] [--concurrency C] [--postgres URL] benches/corpus/aws-managed-policies.jsonl
//! ```
//!
//! Each submit goes through the whole HTTP stack in process (router, token authentication,
//! body parsing, validation, the engine's score, the insert of request, revision and audit
//! record in one transaction, the outbox); no network socket. The policies are the managed
//! policies of the corpus, cycled. Without `--postgres`, the throwaway cluster of
//! scripts/postgres.sh is started and a fresh database created in it.

use axum::body::{to_bytes, Body};
use axum::http::Request;
use jit_service::{api, identity, AppState, Config};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

struct Run {
    ok: usize,
    refused: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run(database: &str, policies: Arc<Vec<Value>>, n: usize, conc: usize) -> anyhow::Result<Run> {
    let config = Config {
        database: database.into(),
        dev: true,
        rate_limit_per_minute: 0,
        sweep_interval_secs: 3600,
        ..Config::default()
    };
    let state = AppState::new(config).await?;
    let mut w = state.store.write().await?;
    identity::insert_user(&mut w, "email:bench@example.com", identity::Role::Requester, &[], None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (token, _) = identity::create_token(&mut w, "system:bench", "email:bench@example.com", "bench", None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    w.commit().await?;
    let router = api::app(state.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (router, next, policies, token) = (router.clone(), next.clone(), policies.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut ok, mut refused) = (0, 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let body = json!({
                    "apiVersion": "iam-jit.dev/v1alpha1",
                    "kind": "RoleRequest",
                    "spec": {
                        "description": "benchmark request for the deployment pipeline",
                        "access_type": "read-write",
                        "accounts": [{"account_id": "111122223333"}],
                        "duration": {"duration_hours": 1},
                        "policy": policies[i % policies.len()],
                    }
                });
                let req = Request::post("/api/v1/requests")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .expect("request");
                let t = Instant::now();
                let resp = router.clone().oneshot(req).await.expect("router");
                let status = resp.status().as_u16();
                let _ = to_bytes(resp.into_body(), 64 << 20).await;
                lat.push(t.elapsed());
                match status {
                    201 => ok += 1,
                    422 => refused += 1,
                    other => panic!("unexpected status {other} for policy {}", i % policies.len()),
                }
            }
            (lat, ok, refused)
        }));
    }
    let mut latencies = Vec::new();
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let (l, o, r) = t.await?;
        latencies.extend(l);
        ok += o;
        refused += r;
    }
    let wall = started.elapsed();
    latencies.sort();
    state.store.pool.close().await;
    Ok(Run { ok, refused, wall, latencies })
}

fn report(name: &str, r: &Run) -> f64 {
    let total = r.ok + r.refused;
    let rate = total as f64 / r.wall.as_secs_f64();
    println!(
        "{name:<10} {total:>6} submits ({} stored, {} refused as invalid) in {:.2} s: {rate:>7.0}/s  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        r.ok,
        r.refused,
        r.wall.as_secs_f64(),
        pct(&r.latencies, 0.50),
        pct(&r.latencies, 0.99),
        pct(&r.latencies, 1.0)
    );
    rate
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let n: usize = flag("--requests").map(|v| v.parse()).transpose()?.unwrap_or(2000);
    let conc: usize = flag("--concurrency").map(|v| v.parse()).transpose()?.unwrap_or(8);
    let corpus = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[*i - 1].starts_with("--")))
        .map(|(_, a)| a.clone())
        .next()
        .unwrap_or_else(|| "benches/corpus/aws-managed-policies.jsonl".into());
    let policies: Vec<Value> = std::fs::read_to_string(&corpus)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Value>(l).map(|v| v["document"].clone()))
        .collect::<Result<_, _>>()?;
    let policies = Arc::new(policies);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/tmp");
    std::fs::create_dir_all(&dir)?;
    let sqlite = dir.join(format!("jit-bench-{}.db", std::process::id()));
    let pg_admin = match flag("--postgres") {
        Some(u) => u,
        None => {
            let out = std::process::Command::new("bash").arg(root.join("scripts/postgres.sh")).arg("start").output()?;
            anyhow::ensure!(
                out.status.success(),
                "scripts/postgres.sh start failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let name = format!("jit_bench_{}", std::process::id());
        let mut c = sqlx::AnyConnection::connect(&pg_admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut c).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await?;
        let pg = format!("{}/{name}", pg_admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&pg_admin));
        println!(
            "iam-jit submit benchmark: {n} RoleRequests, {conc} concurrent clients, {} policies ({corpus}), {} cores",
            policies.len(),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        let s = run(&format!("sqlite://{}", sqlite.display()), policies.clone(), n, conc).await?;
        let p = run(&pg, policies.clone(), n, conc).await?;
        let rs = report("sqlite", &s);
        let rp = report("postgres", &p);
        println!("postgres / sqlite throughput: {:.2}x", rp / rs);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut c).await?;
        anyhow::Ok(())
    })?;
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", sqlite.display()));
    }
    Ok(())
}
