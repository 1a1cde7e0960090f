//! Fuzz target: any bytes given to `risk_core::score_json` give a report or a clear error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use risk_core::{score_json, ScoreOptions};

fuzz_target!(|data: &[u8]| {
    // Valid UTF-8 as it is; anything else through the lossy conversion, so every input still
    // reaches the JSON parser and, when it parses, the policy parser and the rules.
    let text = String::from_utf8_lossy(data);
    let options = ScoreOptions::default();
    match score_json(&text, &options) {
        Ok(report) => {
            assert!((1..=10).contains(&report.score), "score {} out of range", report.score);
            // Deterministic: the same text gives the same report.
            assert_eq!(score_json(&text, &options).ok(), Some(report));
        }
        Err(e) => {
            assert!(!e.problems().is_empty());
            assert!(e.problems().iter().all(|p| !p.message.trim().is_empty()), "empty message: {e:?}");
        }
    }
});
