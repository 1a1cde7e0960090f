//! Helpers shared by the integration tests: reading a folder of JSON cases.

use serde_json::Value;
use std::path::PathBuf;

/// Every `*.json` file in `risk-core/<dir>`, sorted by name, as (file name, parsed value).
pub fn json_cases(dir: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().expect("file name").to_string_lossy().into_owned(), v)
        })
        .collect()
}
