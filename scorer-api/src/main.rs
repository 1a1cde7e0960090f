//! `iam-risk-score-api`: configuration, JSON logs, the listener and graceful shutdown around
//! [`scorer_api::app`].

use clap::Parser;
use scorer_api::config::{Config, LogFormat, Overrides};
use scorer_api::{app, AppState};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

// Scoring allocates many small strings; mimalloc is markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The iam-risk-score HTTP scoring API.
///
/// Settings come from built-in defaults, then the config file, then IAM_RISK_SCORE_*
/// environment variables, then these flags. See docs/api.md.
#[derive(Debug, Parser)]
#[command(name = "iam-risk-score-api", version, about)]
struct Args {
    /// Address to listen on, IP:PORT (default 127.0.0.1:8080; env IAM_RISK_SCORE_LISTEN).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// TOML configuration file (env IAM_RISK_SCORE_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Check the configuration, print it (keys redacted) and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(&Overrides { listen: args.listen, config_file: args.config }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iam-risk-score-api: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        println!(
            "listen = {}\napi keys = {}\nbody limit = {} bytes\nevents body limit = {} bytes\nrequest timeout = {:?}\nbatch max = {}\nrate limit = {}/min, burst {}\ncors origins = {:?}\nplayground dir = {}\nnarrative model = {}",
            config.listen,
            config.api_keys.len(),
            config.body_limit,
            config.events_body_limit,
            config.request_timeout,
            config.batch_max,
            config.rate_per_minute,
            config.rate_burst,
            config.cors_origins,
            config.playground_dir.display(),
            config.llm.as_ref().map_or("off".to_string(), |l| format!("{} at {}", l.model, l.base_url)),
        );
        return ExitCode::SUCCESS;
    }
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("IAM_RISK_SCORE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stdout);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
}

async fn serve(config: Config) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let drain = config.request_timeout + Duration::from_secs(5);
    tracing::info!(
        addr = %addr,
        auth = !config.api_keys.is_empty(),
        rate_per_minute = config.rate_per_minute,
        narrative_model = config.llm.as_ref().map(|l| l.model.as_str()),
        version = env!("CARGO_PKG_VERSION"),
        "listening"
    );
    let state = AppState::new(config);
    let router = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let on_signal = {
        let state = state.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("shutdown signal received; draining connections");
            state.begin_shutdown();
            let _ = stop_tx.send(true);
        }
    };
    // TCP_NODELAY: answers go out in one write; waiting for the client's delayed ACK (Nagle)
    // would add up to 40 ms whenever hyper splits headers and body.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, router).with_graceful_shutdown(on_signal);
    let deadline = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        r = server => r?,
        () = deadline => tracing::warn!(drain_seconds = drain.as_secs(), "connections still open after the drain time; stopping"),
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
