//! Criterion benchmark: scoring the 1,594 AWS managed policies in-process, against parsing them.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let corpus = risk_benches::load_corpus(&risk_benches::default_corpus()).expect("corpus");
    let options = risk_core::ScoreOptions::default();
    let mut g = c.benchmark_group("managed-policies");
    g.throughput(Throughput::Elements(corpus.len() as u64));
    g.bench_function("serde_json-parse", |b| {
        b.iter(|| {
            for p in &corpus {
                std::hint::black_box(serde_json::from_str::<serde_json::Value>(&p.text).ok());
            }
        })
    });
    // The strict reader every surface uses (duplicate keys are errors): compare with the above.
    g.bench_function("strict-parse", |b| {
        b.iter(|| {
            for p in &corpus {
                std::hint::black_box(risk_core::json::from_str(&p.text).ok());
            }
        })
    });
    g.bench_function("score", |b| {
        b.iter(|| {
            for p in &corpus {
                std::hint::black_box(risk_core::score_json(&p.text, &options).ok());
            }
        })
    });
    g.bench_function("score-parallel", |b| {
        use rayon::prelude::*;
        b.iter(|| {
            corpus
                .par_iter()
                .map(|p| risk_core::score_json(&p.text, &options).map(|r| r.score).unwrap_or(0) as u64)
                .sum::<u64>()
        })
    });
    g.finish();
    let admin = corpus.iter().find(|p| p.name == "AdministratorAccess").expect("AdministratorAccess");
    c.bench_function("score/AdministratorAccess", |b| b.iter(|| risk_core::score_json(&admin.text, &options).ok()));
    let typical = corpus.iter().find(|p| p.name == "AmazonS3ReadOnlyAccess").expect("AmazonS3ReadOnlyAccess");
    c.bench_function("score/AmazonS3ReadOnlyAccess", |b| {
        b.iter(|| risk_core::score_json(&typical.text, &options).ok())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
