//! `iam-risk-score scan`: the command over the `risk-scan` library (re-exported here, so
//! `crate::scan::tree`, `crate::scan::ScanRun`, `crate::scan::json`, … name the library's
//! items).

pub use risk_scan::*;

pub mod command;
