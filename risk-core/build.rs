//! Build-time check of data the rules rely on: a privilege-escalation row that does not parse
//! fails the build (naming its line), instead of being dropped at run time.

#[allow(dead_code)]
#[path = "src/rules/escalation_rows.rs"]
mod escalation_rows;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&dir).join("data/privilege-escalation-paths.csv");
    println!("cargo:rerun-if-changed=data/privilege-escalation-paths.csv");
    println!("cargo:rerun-if-changed=src/rules/escalation_rows.rs");
    let data = match std::fs::read_to_string(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    if let Err(e) = escalation_rows::parse(&data) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
