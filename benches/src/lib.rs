//! Shared helpers for the benchmarks: loading the AWS managed-policy corpus.

use std::path::Path;

/// One policy of the corpus: its name and the document as compact JSON text.
pub struct CorpusPolicy {
    pub name: String,
    pub text: String,
}

/// Load `benches/corpus/aws-managed-policies.jsonl` (or another JSON-lines file of
/// `{"name": ..., "document": {...}}`) as JSON texts, the form a scorer receives.
pub fn load_corpus(path: &Path) -> Result<Vec<CorpusPolicy>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let name = v.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string();
        let doc = v.get("document").ok_or_else(|| format!("{}:{}: no `document`", path.display(), i + 1))?;
        out.push(CorpusPolicy { name, text: serde_json::to_string(doc).map_err(|e| e.to_string())? });
    }
    Ok(out)
}

/// The default corpus path, relative to the workspace root.
pub fn default_corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/aws-managed-policies.jsonl")
}
