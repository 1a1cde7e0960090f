//! Single-core throughput of parsing vs. fully scoring the managed-policy corpus; prints one
//! JSON line for benches/compare.py.
//!
//! `--scaling [N]` instead measures how each workload scales from one thread to N (default:
//! every core): an allocation-free arithmetic loop (what the machine itself gives), serde_json
//! parse-only (allocation-heavy), and scoring. One thread and N threads alternate for several
//! rounds and the best of each is kept, so a busy moment of a shared machine does not decide
//! the ratio. This tells the engine's own limits apart from the machine's.

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

/// One unit of a workload: the unit's index.
type Work<'a> = &'a (dyn Fn(usize) + Sync);

/// Work units per second of `work(i)` over `0..units`, on a rayon pool of `threads` threads,
/// each unit given to whichever thread is free (the same split `score_many` uses).
fn rate_on(pool: &rayon::ThreadPool, units: usize, work: Work<'_>) -> f64 {
    use rayon::prelude::*;
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_millis(400) {
        pool.install(|| (0..units).into_par_iter().with_min_len(8).for_each(work));
        n += units;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn scaling(corpus: &[risk_benches::CorpusPolicy], threads: usize) {
    let options = risk_core::ScoreOptions::default();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    let many = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    // A unit of arithmetic the compiler cannot fold: ~60 µs, about one policy's scoring.
    let spin = |i: usize| {
        let mut x = i as u64 | 1;
        for _ in 0..150_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    };
    let parse = |i: usize| {
        let v: serde_json::Value = serde_json::from_str(&corpus[i].text).unwrap_or_default();
        std::hint::black_box(v);
    };
    let score = |i: usize| {
        std::hint::black_box(risk_core::score_json(&corpus[i].text, &options).ok());
    };
    let workloads: [(&str, usize, Work<'_>); 3] =
        [("spin", 2_000, &spin), ("parse", corpus.len(), &parse), ("score", corpus.len(), &score)];
    let mut fields = Vec::new();
    for (name, units, work) in workloads {
        let (mut best1, mut best_n) = (0f64, 0f64);
        for _ in 0..5 {
            best1 = best1.max(rate_on(&one, units, work));
            best_n = best_n.max(rate_on(&many, units, work));
        }
        fields.push(format!(
            "\"{name}\": {{\"one_thread_per_sec\": {best1:.0}, \"threads_per_sec\": {best_n:.0}, \"speedup\": {:.2}}}",
            best_n / best1
        ));
    }
    println!("{{\"policies\": {}, \"threads\": {threads}, {}}}", corpus.len(), fields.join(", "));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--scaling` may be followed by a thread count; anything else not starting `--` is the
    // corpus path.
    let scaling_at = args.iter().position(|a| a == "--scaling");
    let count_at = scaling_at.map(|k| k + 1).filter(|&k| args.get(k).is_some_and(|a| a.parse::<i64>().is_ok()));
    let path = args
        .iter()
        .enumerate()
        .find(|&(k, a)| !a.starts_with("--") && Some(k) != count_at)
        .map(|(_, a)| std::path::PathBuf::from(a))
        .unwrap_or_else(risk_benches::default_corpus);
    let corpus = match risk_benches::load_corpus(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if scaling_at.is_some() {
        let threads = match count_at.map(|k| &args[k]) {
            Some(n) => match n.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    eprintln!("error: --scaling takes a thread count of at least 1, not `{n}`");
                    std::process::exit(2);
                }
            },
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        scaling(&corpus, threads);
        return;
    }
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
