//! The `iam-risk-score` binary: a thin shell around [`risk_cli::run`].

// Scoring allocates many small strings; mimalloc is markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = risk_cli::run(std::env::args_os().collect());
    std::process::exit(code);
}
