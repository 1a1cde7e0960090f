//! Profile helper: score one corpus policy many times (`one NAME [ROUNDS]`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "AWSSupportServiceRolePolicy".into());
    let rounds: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let corpus = risk_benches::load_corpus(&risk_benches::default_corpus()).unwrap_or_default();
    let opts = risk_core::ScoreOptions::default();
    if name == "--all" {
        // Every policy once per round, for instruction-count profiles (valgrind --tool=callgrind).
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            for p in &corpus {
                std::hint::black_box(risk_core::score_json(&p.text, &opts).ok());
            }
        }
        println!("corpus: {:.1} us per policy", t.elapsed().as_secs_f64() / (rounds * corpus.len()) as f64 * 1e6);
        return;
    }
    let Some(p) = corpus.iter().find(|p| p.name == name) else {
        eprintln!("no policy named {name}");
        std::process::exit(2);
    };
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(risk_core::score_json(&p.text, &opts).ok());
    }
    println!("{name}: {:.1} us per score", t.elapsed().as_secs_f64() / rounds as f64 * 1e6);
}
