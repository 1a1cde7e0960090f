//! `iam-jit`: the service (`serve`), its on-host administration (`seed-admin`, `token create
//! --user`, `audit verify`), and a client of its HTTP API for everything else.
//!
//! Exit codes: 0 success; 1 the answer is "no" (`audit verify` found a bad record); 2 bad
//! usage or input; 3 the API refused (4xx); 4 the service or database could not be reached
//! or failed (5xx).

use clap::{Args, Parser, Subcommand};
use jit_service::client::{self, Client, Format};
use jit_service::{api, audit, db, identity, worker, AppState, Config};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

#[derive(Parser)]
#[command(
    name = "iam-jit",
    version,
    about = "Just-in-time AWS access: requests scored, approved by a quorum, provisioned for a limited time, audited"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Database: a SQLite file (default `iam-jit.db` in the working directory) or `postgres://…`.
    #[arg(long, env = "IAM_JIT_DATABASE")]
    database: Option<String>,
    /// Configuration file (TOML).
    #[arg(long, env = "IAM_JIT_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// Development mode: recording provisioner (no AWS calls), login links in responses,
        /// cookies without `Secure`.
        #[arg(long)]
        dev: bool,
        /// Address and port to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "IAM_JIT_LISTEN")]
        listen: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Create the first admin (refuses when an admin exists). On the server host.
    SeedAdmin {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
        /// Also create an API token for the admin and print it on stdout.
        #[arg(long)]
        token: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Access requests (through the HTTP API).
    #[command(subcommand)]
    Request(RequestCmd),
    /// Approve a request (counts toward its quorum).
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Reject a request.
    Reject {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Send a request back to its requester with a comment.
    RequestChanges {
        id: String,
        #[arg(long)]
        comment: String,
        /// Suggested constraints as JSON (e.g. '{"resources": ["arn:aws:s3:::bucket/*"]}').
        #[arg(long)]
        suggest: Option<String>,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Reports (admin): grants, activity, approvals, risk-distribution, users.
    Report(client::ReportArgs),
    /// Destination accounts (admin): onboarding templates, registration, orphan sweep.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Take the service down cleanly: revoke every live grant, then remove the destination
    /// accounts' stacks and the hub (`--plan` only lists what would be done).
    Teardown(TeardownArgs),
    /// Log in and print a short-lived API token (for scripts): `login --aws-auth` signs an
    /// sts:GetCallerIdentity with the environment's AWS credentials.
    Login {
        #[command(flatten)]
        api: client::ApiArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TemplateFormat {
    Cloudformation,
    Terraform,
}

/// The service connection of `account onboard` (its `--format` names the template language,
/// so the API arguments are spelled out here rather than flattened).
#[derive(Args)]
struct Connection {
    #[arg(long = "base-url", env = "IAM_JIT_BASE_URL", default_value = "http://127.0.0.1:8080")]
    base_url: String,
    #[arg(long = "api-token", env = "IAM_JIT_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long = "aws-auth")]
    aws_auth: bool,
}

impl Connection {
    fn api(&self) -> client::ApiArgs {
        client::ApiArgs {
            base_url: self.base_url.clone(),
            token: self.token.clone(),
            format: Format::Json,
            aws_auth: self.aws_auth,
        }
    }
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Print the destination account's template: the provisioner role (trusting only the hub,
    /// with the account's ExternalId) and the permission boundary. Deploy it in the account,
    /// then `account add`.
    Onboard {
        #[arg(long)]
        account_id: String,
        #[arg(long, value_enum, default_value = "cloudformation")]
        format: TemplateFormat,
        #[command(flatten)]
        conn: Connection,
    },
    /// Register (or update) a destination account.
    Add {
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        alias: Option<String>,
        /// Default: the onboarding template's role, arn:aws:iam::ACCOUNT:role/iam-jit-provisioner.
        #[arg(long)]
        provisioner_role_arn: Option<String>,
        /// Default: the onboarding template's policy, arn:aws:iam::ACCOUNT:policy/iam-jit/iam-jit-boundary.
        #[arg(long)]
        permission_boundary_arn: Option<String>,
        /// A region grants may name (repeat); none = any.
        #[arg(long = "region")]
        regions: Vec<String>,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// List the registered accounts.
    List {
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Remove an account (refused while it has live grants).
    Remove {
        account_id: String,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Report this deployment's roles in the account whose request ended or is unknown;
    /// `--delete` removes them (only when name, managed-by, request and deployment tags match).
    Orphans {
        #[arg(long)]
        account_id: String,
        #[arg(long)]
        delete: bool,
        #[command(flatten)]
        api: client::ApiArgs,
    },
}

#[derive(Args)]
struct TeardownArgs {
    /// Only list what would be revoked and removed.
    #[arg(long)]
    plan: bool,
    /// Revoke the live grants even when some are still needed (without it, teardown refuses
    /// while grants are active).
    #[arg(long)]
    drain: bool,
    #[command(flatten)]
    api: client::ApiArgs,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token. With `--user`: on the server host, straight in the database (audited),
    /// for an existing user. Without: for yourself, through the API.
    Create {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// List your tokens (by hash).
    List {
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Revoke a token by its hash (`sha256:…`).
    Revoke {
        hash: String,
        #[command(flatten)]
        api: client::ApiArgs,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the whole chain; exit 1 naming the first bad record.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Sign the current head (needs `audit_key`).
    Checkpoint {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Export the log as JSON lines on stdout.
    Export {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum RequestCmd {
    /// Submit a RoleRequest (JSON file, `-` for stdin).
    Submit {
        file: PathBuf,
        /// Only score it (dry run).
        #[arg(long)]
        preview: bool,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Show a request.
    Status {
        id: String,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Credentials for an active grant whose roles trust the hub (e-mail users); text output
    /// is `export AWS_…` lines for `eval "$(iam-jit request credentials ID)"`.
    Credentials {
        id: String,
        /// Which account (needed when the grant spans several).
        #[arg(long)]
        account_id: Option<String>,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// List requests.
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        mine: bool,
        #[arg(long)]
        limit: Option<u32>,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Replace a pending request's spec (JSON file).
    Edit {
        id: String,
        file: PathBuf,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Withdraw a request.
    Cancel {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        api: client::ApiArgs,
    },
    /// Ask for more time on an active grant.
    Extend {
        id: String,
        #[arg(long)]
        hours: u32,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        api: client::ApiArgs,
    },
}

fn load_config(db: &DbArgs) -> anyhow::Result<Config> {
    let mut c = Config::load(db.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(d) = &db.database {
        c.database = d.clone();
    }
    c.validate()?;
    Ok(c)
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("iam-jit: {msg}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { dev, listen, db } => {
            let mut config = match load_config(&db) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            config.dev |= dev;
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Err(e) = config.validate() {
                return fail(2, e);
            }
            runtime().block_on(serve(config))
        }
        Command::SeedAdmin { email, token, db } => {
            let config = match load_config(&db) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            runtime().block_on(seed_admin(config, email, token))
        }
        Command::Token(TokenCmd::Create { user: Some(user), name, expires_in_days, db, .. }) => {
            let config = match load_config(&db) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            runtime().block_on(token_for_user(config, user, name, expires_in_days))
        }
        Command::Token(TokenCmd::Create { user: None, name, expires_in_days, api, .. }) => {
            client::run(&api, |c: &Client| {
                c.post("/api/v1/tokens", &json!({"name": name, "expires_in_days": expires_in_days}))
            })
        }
        Command::Token(TokenCmd::List { api }) => client::run(&api, |c| c.get("/api/v1/tokens")),
        Command::Token(TokenCmd::Revoke { hash, api }) => {
            client::run(&api, |c| c.delete(&format!("/api/v1/tokens/{}", client::enc(&hash))))
        }
        Command::Audit(AuditCmd::Verify { db, format }) => {
            let config = match load_config(&db) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            runtime().block_on(audit_verify(config, format))
        }
        Command::Audit(AuditCmd::Checkpoint { db }) => {
            let config = match load_config(&db) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            runtime().block_on(audit_checkpoint(config))
        }
        Command::Audit(AuditCmd::Export { db }) => {
            let config = match load_config(&db) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            runtime().block_on(audit_export(config))
        }
        Command::Request(cmd) => request_cmd(cmd),
        Command::Account(cmd) => account_cmd(cmd),
        Command::Teardown(args) => teardown(&args),
        Command::Approve { id, comment, api } => client::run(&api, |c| {
            c.post(&format!("/api/v1/requests/{}/approve", client::enc(&id)), &json!({"comment": comment}))
        }),
        Command::Reject { id, comment, api } => client::run(&api, |c| {
            c.post(&format!("/api/v1/requests/{}/reject", client::enc(&id)), &json!({"comment": comment}))
        }),
        Command::RequestChanges { id, comment, suggest, api } => {
            let suggested = match suggest.map(|s| serde_json::from_str::<serde_json::Value>(&s)).transpose() {
                Ok(v) => v,
                Err(e) => return fail(2, format!("--suggest is not JSON: {e}")),
            };
            client::run(&api, |c| {
                c.post(
                    &format!("/api/v1/requests/{}/request-changes", client::enc(&id)),
                    &json!({"comment": comment, "suggested_constraints": suggested}),
                )
            })
        }
        Command::Report(args) => client::report(&args),
        Command::Login { api } => {
            if !api.aws_auth {
                return fail(2, "login needs --aws-auth (people log in with an e-mail link in the browser)");
            }
            let anonymous = client::ApiArgs { aws_auth: false, token: None, ..api };
            client::run(&anonymous, jit_service::awsauth::login)
        }
    }
}

fn account_cmd(cmd: AccountCmd) -> ExitCode {
    match cmd {
        AccountCmd::Onboard { account_id, format, conn } => {
            let format = match format {
                TemplateFormat::Cloudformation => "cloudformation",
                TemplateFormat::Terraform => "terraform",
            };
            let result = Client::connect(&conn.api()).and_then(|c| {
                c.post("/api/v1/accounts/onboarding/preview", &json!({"account_id": account_id, "format": format}))
            });
            match result {
                Ok(v) => {
                    for w in v["warnings"].as_array().into_iter().flatten() {
                        eprintln!("iam-jit: warning: {}", w.as_str().unwrap_or_default());
                    }
                    let Some(text) = v[format].as_str() else {
                        return fail(4, format!("the service's answer has no {format} template"));
                    };
                    print!("{text}");
                    if !text.ends_with('\n') {
                        println!();
                    }
                    eprintln!(
                        "iam-jit: deploy this in account {account_id}, then: iam-jit account add --account-id {account_id}{}",
                        if v["registered"] == true { " (already registered)" } else { "" }
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e.exit, e.message),
            }
        }
        AccountCmd::Add { account_id, alias, provisioner_role_arn, permission_boundary_arn, regions, api } => {
            let body = json!({
                "account_id": account_id,
                "alias": alias.unwrap_or_else(|| account_id.clone()),
                "provisioner_role_arn": provisioner_role_arn
                    .unwrap_or_else(|| jit_service::onboarding::provisioner_role_arn(&account_id)),
                "permission_boundary_arn": permission_boundary_arn
                    .unwrap_or_else(|| jit_service::onboarding::boundary_policy_arn(&account_id)),
                "regions": regions,
            });
            client::run(&api, |c| c.post("/api/v1/accounts", &body))
        }
        AccountCmd::List { api } => client::run(&api, |c| c.get("/api/v1/accounts")),
        AccountCmd::Remove { account_id, api } => {
            client::run(&api, |c| c.delete(&format!("/api/v1/accounts/{}", client::enc(&account_id))))
        }
        AccountCmd::Orphans { account_id, delete, api } => client::run(&api, |c| {
            c.post(&format!("/api/v1/accounts/{}/orphan-sweep", client::enc(&account_id)), &json!({"delete": delete}))
        }),
    }
}

/// `iam-jit teardown`: the grants to revoke, the account stacks and the hub to remove — in
/// that order, so no role is left behind in an account whose provisioner role is gone.
fn teardown(args: &TeardownArgs) -> ExitCode {
    let c = match Client::connect(&args.api) {
        Ok(c) => c,
        Err(e) => return fail(e.exit, e.message),
    };
    let mut live = Vec::new();
    let mut offset = 0;
    loop {
        let page = format!(
            "/api/v1/requests?state=approved,provisioning,active,revoking,provisioning_failed&limit=200&offset={offset}"
        );
        match c.get(&page) {
            Ok(v) => {
                live.extend(v["requests"].as_array().cloned().unwrap_or_default());
                match v["next_offset"].as_i64() {
                    Some(n) => offset = n,
                    None => break,
                }
            }
            Err(e) => return fail(e.exit, e.message),
        }
    }
    let accounts = match c.get("/api/v1/accounts") {
        Ok(v) => v["accounts"].as_array().cloned().unwrap_or_default(),
        Err(e) => return fail(e.exit, e.message),
    };
    let id_of = |r: &serde_json::Value| r["metadata"]["id"].as_str().unwrap_or_default().to_string();
    let state_of = |r: &serde_json::Value| r["status"]["state"].as_str().unwrap_or_default().to_string();
    println!("1. Revoke the live grants ({}):", live.len());
    for r in &live {
        println!(
            "   {}  {}  accounts {}",
            id_of(r),
            state_of(r),
            r["spec"]["accounts"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["account_id"].as_str()).collect::<Vec<_>>().join(","))
                .unwrap_or_default()
        );
    }
    println!("2. Sweep each destination account for orphaned iam-jit roles, then delete its stack:");
    for a in &accounts {
        let id = a["account_id"].as_str().unwrap_or_default();
        println!("   iam-jit account orphans --account-id {id} --delete");
        println!(
            "   aws cloudformation delete-stack --stack-name iam-jit-onboarding   # in account {id} (or terraform destroy)"
        );
        println!("   iam-jit account remove {id}");
    }
    println!("3. Stop the service, then delete the hub's stack (deploy/hub-role.yaml) and the database.");
    if args.plan {
        return ExitCode::SUCCESS;
    }
    let active = live.iter().filter(|r| state_of(r) == "active").count();
    if active > 0 && !args.drain {
        return fail(
            1,
            format!("{active} grant(s) are active: rerun with --drain to revoke them, or --plan to only list"),
        );
    }
    let mut failed = 0;
    for r in &live {
        let id = id_of(r);
        let path = match state_of(r).as_str() {
            "active" | "provisioning_failed" => format!("/api/v1/requests/{}/revoke", client::enc(&id)),
            "approved" => format!("/api/v1/requests/{}/cancel", client::enc(&id)),
            _ => continue,
        };
        match c.post(&path, &json!({"reason": "iam-jit teardown"})) {
            Ok(v) => println!("{id}: {}", v["request"]["status"]["state"].as_str().unwrap_or("?")),
            Err(e) => {
                failed += 1;
                eprintln!("iam-jit: {id}: {}", e.message);
            }
        }
    }
    for a in &accounts {
        let id = a["account_id"].as_str().unwrap_or_default();
        match c.post(&format!("/api/v1/accounts/{id}/orphan-sweep"), &json!({"delete": true})) {
            Ok(v) => println!("account {id}: {} orphaned role(s) deleted", v["deleted"].as_array().map_or(0, Vec::len)),
            Err(e) => {
                failed += 1;
                eprintln!("iam-jit: account {id}: {}", e.message);
            }
        }
    }
    if failed > 0 {
        return fail(
            1,
            format!("{failed} step(s) failed; nothing else was removed — rerun teardown when they are fixed"),
        );
    }
    println!("Grants revoked and accounts swept. Now delete each account's stack and the hub (step 2 and 3 above).");
    ExitCode::SUCCESS
}

fn request_cmd(cmd: RequestCmd) -> ExitCode {
    match cmd {
        RequestCmd::Submit { file, preview, api } => {
            let body = match client::read_json_file(&file) {
                Ok(b) => b,
                Err(e) => return fail(2, e),
            };
            let path = if preview { "/api/v1/requests/preview" } else { "/api/v1/requests" };
            client::run(&api, |c| c.post(path, &body))
        }
        RequestCmd::Credentials { id, account_id, api } => {
            let path = format!("/api/v1/requests/{}/credentials", client::enc(&id));
            let result = Client::connect(&api).and_then(|c| c.post(&path, &json!({"account_id": account_id})));
            match result {
                Ok(v) if matches!(api.format, Format::Json) => {
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Ok(v) => {
                    let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                    println!("export AWS_ACCESS_KEY_ID={}", field("access_key_id"));
                    println!("export AWS_SECRET_ACCESS_KEY={}", field("secret_access_key"));
                    println!("export AWS_SESSION_TOKEN={}", field("session_token"));
                    eprintln!("iam-jit: {} until {}", field("role_arn"), field("expiration"));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e.exit, e.message),
            }
        }
        RequestCmd::Status { id, api } => {
            client::run(&api, |c| c.get(&format!("/api/v1/requests/{}", client::enc(&id))))
        }
        RequestCmd::List { state, mine, limit, api } => {
            let mut q = Vec::new();
            if let Some(s) = state {
                q.push(format!("state={}", client::enc(&s)));
            }
            if mine {
                q.push("mine=true".into());
            }
            if let Some(l) = limit {
                q.push(format!("limit={l}"));
            }
            let path =
                if q.is_empty() { "/api/v1/requests".to_string() } else { format!("/api/v1/requests?{}", q.join("&")) };
            client::run(&api, |c| c.get(&path))
        }
        RequestCmd::Edit { id, file, api } => {
            let body = match client::read_json_file(&file) {
                Ok(b) => b,
                Err(e) => return fail(2, e),
            };
            client::run(&api, |c| c.patch(&format!("/api/v1/requests/{}", client::enc(&id)), &body))
        }
        RequestCmd::Cancel { id, reason, api } => client::run(&api, |c| {
            c.post(&format!("/api/v1/requests/{}/cancel", client::enc(&id)), &json!({"reason": reason}))
        }),
        RequestCmd::Extend { id, hours, reason, api } => client::run(&api, |c| {
            c.post(&format!("/api/v1/requests/{}/extend", client::enc(&id)), &json!({"hours": hours, "reason": reason}))
        }),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("cannot start the async runtime")
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IAM_JIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> ExitCode {
    init_logs(config.json_logs);
    let dev = config.dev;
    let state = match AppState::new(config).await {
        Ok(s) => s,
        Err(e) => return fail(4, e),
    };
    let listener = match tokio::net::TcpListener::bind(&state.config.listen).await {
        Ok(l) => l,
        Err(e) => return fail(4, format!("cannot listen on {}: {e}", state.config.listen)),
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| state.config.listen.clone());
    if dev {
        dev_banner(&state, &addr).await;
    }
    tracing::info!(listen = %addr, backend = state.store.backend.as_str(), provisioner = state.provisioner.name(), "iam-jit serving");
    let workers = worker::spawn(&state);
    let shutting = state.shutting_down.clone();
    let app = api::app(state.clone());
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            shutting.store(true, Ordering::Relaxed);
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await;
    for w in workers {
        w.abort();
    }
    state.store.pool.close().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(4, e),
    }
}

/// In `--dev`, make the service usable at once: an admin (`admin@localhost`) and a login link.
async fn dev_banner(state: &AppState, addr: &str) {
    let admin = "email:admin@localhost";
    let res: anyhow::Result<String> = async {
        let mut w = state.store.write().await?;
        w.bootstrap_lock().await?;
        if identity::admin_count(&mut w.tx).await? == 0 {
            identity::insert_user(&mut w, admin, identity::Role::Admin, &[], Some("dev admin"))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::append(&mut w, "system:dev", "user.created", admin, json!({"role": "admin", "dev": true})).await?;
        }
        w.commit().await?;
        let link = identity::create_magic_link(&state.store, admin).await?;
        Ok(link)
    }
    .await;
    match res {
        Ok(link) => eprintln!(
            "\niam-jit --dev on http://{addr} (database: {}, provisioner: recording — no AWS calls)\n  log in as admin@localhost: http://{addr}/api/v1/auth/callback?token={link}\n  or get a token: iam-jit token create --user email:admin@localhost --database {}\n",
            db::redact(&state.config.database),
            state.config.database
        ),
        Err(e) => eprintln!("iam-jit --dev: could not prepare the dev admin: {e}"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn open(config: &Config) -> Result<db::Store, ExitCode> {
    db::Store::connect(&config.database).await.map_err(|e| fail(4, e))
}

async fn seed_admin(config: Config, email: String, token: bool) -> ExitCode {
    let uid = match identity::normalise_user_id(&format!("email:{}", email.trim().trim_start_matches("email:"))) {
        Ok(u) => u,
        Err(e) => return fail(2, e),
    };
    let store = match open(&config).await {
        Ok(s) => s,
        Err(c) => return c,
    };
    let res: Result<Option<String>, ExitCode> = async {
        let mut w = store.write().await.map_err(|e| fail(4, e))?;
        w.bootstrap_lock().await.map_err(|e| fail(4, e))?;
        let admins = identity::admin_count(&mut w.tx).await.map_err(|e| fail(4, e))?;
        if admins > 0 {
            return Err(fail(
                1,
                "an admin already exists; seed-admin only creates the first one (admins add users through the API)",
            ));
        }
        identity::insert_user(&mut w, &uid, identity::Role::Admin, &[], None).await.map_err(|e| fail(1, e))?;
        audit::append(&mut w, "system:seed-admin", "user.created", &uid, json!({"role": "admin", "via": "seed-admin"}))
            .await
            .map_err(|e| fail(4, e))?;
        let t = if token {
            Some(
                identity::create_token(&mut w, "system:seed-admin", &uid, "seed-admin", None)
                    .await
                    .map_err(|e| fail(4, e))?
                    .0,
            )
        } else {
            None
        };
        w.commit().await.map_err(|e| fail(4, e))?;
        Ok(t)
    }
    .await;
    match res {
        Ok(Some(t)) => {
            println!("{t}");
            eprintln!("iam-jit: admin {uid} created; the token above is shown once");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("iam-jit: admin {uid} created");
            ExitCode::SUCCESS
        }
        Err(c) => c,
    }
}

async fn token_for_user(config: Config, user: String, name: String, days: Option<u32>) -> ExitCode {
    let raw = if user.starts_with("email:") || user.starts_with("iam:") { user } else { format!("email:{user}") };
    let uid = match identity::normalise_user_id(&raw) {
        Ok(u) => u,
        Err(e) => return fail(2, e),
    };
    let store = match open(&config).await {
        Ok(s) => s,
        Err(c) => return c,
    };
    let res: Result<String, ExitCode> = async {
        let mut w = store.write().await.map_err(|e| fail(4, e))?;
        match identity::get_user(&mut w.tx, &uid).await.map_err(|e| fail(4, e))? {
            Some(u) if !u.deleted && u.enabled => {}
            Some(_) => return Err(fail(1, format!("user {uid} is disabled or deleted"))),
            None => return Err(fail(1, format!("no user {uid}; create it first (POST /api/v1/users or seed-admin)"))),
        }
        let expires = days.map(|d| jit_service::now_ms() + i64::from(d) * 86_400_000);
        let (t, _) =
            identity::create_token(&mut w, "system:cli", &uid, &name, expires).await.map_err(|e| fail(4, e))?;
        w.commit().await.map_err(|e| fail(4, e))?;
        Ok(t)
    }
    .await;
    match res {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(c) => c,
    }
}

async fn audit_verify(config: Config, format: Format) -> ExitCode {
    let store = match open(&config).await {
        Ok(s) => s,
        Err(c) => return c,
    };
    let key = config.audit_key.as_deref().map(str::as_bytes);
    match audit::verify(&store, key).await {
        Ok(v) => {
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
                Format::Text => match &v.first_bad {
                    None => {
                        println!(
                            "audit chain intact: {} records, head {}, {} checkpoint(s){}",
                            v.records,
                            v.head_seq,
                            v.checkpoints,
                            if v.truncation_checked { "" } else { " (no audit_key: truncation not checked)" }
                        );
                    }
                    Some(b) => println!("audit chain BROKEN at record {}: {}", b.seq, b.reason),
                },
            }
            if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(4, e),
    }
}

async fn audit_checkpoint(config: Config) -> ExitCode {
    let Some(key) = config.audit_key.clone() else {
        return fail(2, "no audit_key configured (IAM_JIT_AUDIT_KEY or audit_key in the configuration file)");
    };
    let store = match open(&config).await {
        Ok(s) => s,
        Err(c) => return c,
    };
    match audit::checkpoint(&store, key.as_bytes()).await {
        Ok(Some(seq)) => {
            println!("checkpoint signed at record {seq}");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("nothing new to checkpoint");
            ExitCode::SUCCESS
        }
        Err(e) => fail(4, e),
    }
}

async fn audit_export(config: Config) -> ExitCode {
    let store = match open(&config).await {
        Ok(s) => s,
        Err(c) => return c,
    };
    let mut after = 0;
    loop {
        let page =
            match audit::list(&store, &audit::Filter { after_seq: Some(after), limit: 5000, ..Default::default() })
                .await
            {
                Ok(p) => p,
                Err(e) => return fail(4, e),
            };
        if page.is_empty() {
            return ExitCode::SUCCESS;
        }
        for r in &page {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
            after = r.seq;
        }
    }
}
