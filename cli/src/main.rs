//! The `iam-risk-score` binary: a thin shell around [`risk_cli::run`].

fn main() {
    let code = risk_cli::run(std::env::args_os().collect());
    std::process::exit(code);
}
