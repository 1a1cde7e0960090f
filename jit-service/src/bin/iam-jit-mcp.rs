//! `iam-jit-mcp`: the iam-jit HTTP API as an MCP server over stdio, for AI agents (Claude
//! Desktop and other MCP clients). Configured like the CLI: `IAM_JIT_BASE_URL`,
//! `IAM_JIT_API_TOKEN`, or `--aws-auth` / `IAM_JIT_AWS_AUTH=1` to log in with the AWS
//! credentials of the environment. Logs go to stderr (stdout is the protocol).

use clap::Parser;
use jit_service::client::{ApiArgs, Format};
use jit_service::mcp::JitMcp;
use rmcp::ServiceExt;
use std::process::ExitCode;

/// The iam-jit MCP server (stdio).
#[derive(Parser, Debug)]
#[command(
    name = "iam-jit-mcp",
    version,
    about = "The iam-jit HTTP API as an MCP server over stdio: tools for AI agents to request, wait for, \
             review and approve just-in-time AWS access, acting as the user of the given token"
)]
struct Cli {
    /// The service's URL.
    #[arg(long = "base-url", env = "IAM_JIT_BASE_URL", default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// An API token (`iamjit_…`) of the user the agent acts for.
    #[arg(long = "api-token", env = "IAM_JIT_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Log in with the AWS credentials of the environment (sts:GetCallerIdentity) instead of
    /// an API token.
    #[arg(long = "aws-auth", env = "IAM_JIT_AWS_AUTH", value_parser = clap::builder::FalseyValueParser::new())]
    aws_auth: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).init();
    let cli = Cli::parse();
    if cli.token.is_none() && !cli.aws_auth {
        eprintln!("iam-jit-mcp: set IAM_JIT_API_TOKEN (an API token) or use --aws-auth / IAM_JIT_AWS_AUTH=1");
        return ExitCode::from(2);
    }
    let args = ApiArgs { base_url: cli.base_url, token: cli.token, format: Format::Json, aws_auth: cli.aws_auth };
    let server = match tokio::task::spawn_blocking(move || JitMcp::connect(&args)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            eprintln!("iam-jit-mcp: {}", e.message);
            return ExitCode::from(e.exit);
        }
        Err(e) => {
            eprintln!("iam-jit-mcp: {e}");
            return ExitCode::from(1);
        }
    };
    let service = match server.serve(rmcp::transport::stdio()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("iam-jit-mcp: cannot start the MCP session: {e}");
            return ExitCode::from(1);
        }
    };
    match service.waiting().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iam-jit-mcp: {e}");
            ExitCode::from(1)
        }
    }
}
