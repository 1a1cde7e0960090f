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
    // Per-policy distribution: each policy's best of a few repeats, so one slow moment of a
    // shared machine does not land in the p99.
    let mut per: Vec<(Duration, &str)> = corpus
        .iter()
        .map(|p| {
            let mut best = Duration::MAX;
            for _ in 0..7 {
                let t = Instant::now();
                std::hint::black_box(risk_core::score_json(&p.text, &options).ok());
                best = best.min(t.elapsed());
            }
            (best, p.name.as_str())
        })
        .collect();
    per.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |q: f64| us(per[((per.len() as f64 * q).ceil() as usize).clamp(1, per.len()) - 1].0);
    let total: f64 = per.iter().map(|p| us(p.0)).sum();
    let top50: f64 = per.iter().rev().take(50).map(|p| us(p.0)).sum();
    println!(
        "{{\"policies\": {}, \"parse_only_per_sec\": {:.0}, \"score_per_sec\": {:.0}, \"threads\": 1, \
         \"median_us\": {:.1}, \"p90_us\": {:.1}, \"p99_us\": {:.1}, \"max_us\": {:.1}, \"slowest\": \"{}\", \
         \"top50_share\": {:.3}}}",
        corpus.len(),
        n / parse.as_secs_f64(),
        n / score.as_secs_f64(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        us(per[per.len() - 1].0),
        per[per.len() - 1].1,
        top50 / total
    );
}
