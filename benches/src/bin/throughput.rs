//! Single-core throughput of parsing vs. fully scoring the managed-policy corpus; prints one
//! JSON line for benches/compare.py.

use std::time::{Duration, Instant};

// The same allocator as the shipped CLI and Python extension.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn best_of<F: FnMut()>(rounds: usize, min_time: Duration, mut f: F) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut n = 0u32;
        loop {
            f();
            n += 1;
            if start.elapsed() >= min_time {
                break;
            }
        }
        best = best.min(start.elapsed() / n);
    }
    best
}

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(risk_benches::default_corpus);
    let corpus = match risk_benches::load_corpus(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let options = risk_core::ScoreOptions::default();
    // Everything must score: a benchmark over errors would measure the wrong thing.
    for p in &corpus {
        if let Err(e) = risk_core::score_json(&p.text, &options) {
            eprintln!("error: {} does not score: {e}", p.name);
            std::process::exit(2);
        }
    }
    let n = corpus.len() as f64;
    // `--score-only` skips the parse baseline, for profiling the engine alone.
    let score_only = std::env::args().any(|a| a == "--score-only");
    let parse = best_of(if score_only { 0 } else { 5 }, Duration::from_millis(500), || {
        for p in &corpus {
            let v: serde_json::Value = serde_json::from_str(&p.text).unwrap_or_default();
            std::hint::black_box(v);
        }
    });
    let score = best_of(5, Duration::from_millis(500), || {
        for p in &corpus {
            std::hint::black_box(risk_core::score_json(&p.text, &options).ok());
        }
    });
    println!(
        "{{\"policies\": {}, \"parse_only_per_sec\": {:.0}, \"score_per_sec\": {:.0}, \"threads\": 1}}",
        corpus.len(),
        n / parse.as_secs_f64(),
        n / score.as_secs_f64()
    );
}
