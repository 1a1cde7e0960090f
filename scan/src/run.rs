//! Running a scan without a base revision: the files under some paths on disk, or the files
//! of an archive, read and scored in parallel and gathered into a [`ScanRun`]. The CLI's
//! `scan PATH…`, Python's `scan(path)` and the API's `POST /api/v1/scan` all come through
//! here, so the same files give the same JSON on every surface.

use crate::{
    collect, read, scan_text_with, scannable, Context, Entry, FileError, FileScan, GateRules, ScanRun, SourceKind,
    MAX_SCAN_BYTES,
};
use rayon::prelude::*;
use risk_core::ScoreOptions;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The score at or above which a policy fails the run unless told otherwise.
pub const DEFAULT_THRESHOLD: u8 = 5;

/// How a scan reads and judges.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Largest file read (`--max-file-size`); a larger one is an error entry.
    pub max_file_size: u64,
    /// When the run fails.
    pub gate: GateRules,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            max_file_size: MAX_SCAN_BYTES,
            gate: GateRules { threshold: Some(DEFAULT_THRESHOLD), ..GateRules::default() },
        }
    }
}

/// `--fail-on-category` / `fail_on_category` values must be category names.
pub fn check_categories(cats: &[String]) -> Result<(), String> {
    let known: Vec<&str> = risk_core::rules::Category::ALL.iter().map(|c| c.as_str()).collect();
    for c in cats {
        if !known.contains(&c.as_str()) {
            return Err(format!("unknown category `{c}`; use one of {}", known.join(", ")));
        }
    }
    Ok(())
}

/// A path as results show it: as given, without a leading `./`.
pub fn label_of(p: &Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// Read and scan one file from disk; with `keep_text`, also return its text (to compare with
/// a base revision). A file that cannot be read is one error entry.
pub fn scan_file(
    path: &Path,
    label: String,
    uri: String,
    options: &ScoreOptions,
    cx: &Context,
    max_bytes: u64,
    keep_text: bool,
) -> (FileScan, Option<String>) {
    match read(path, max_bytes) {
        Ok(text) => {
            let fs = scan_text_with(&label, &uri, &text, options, cx);
            (fs, keep_text.then_some(text))
        }
        Err(message) => {
            let e = FileError { file: label.clone(), line: None, address: None, message, details: Vec::new() };
            (FileScan { label, uri, source: None, policies: Vec::new(), errors: vec![e], unresolved: Vec::new() }, None)
        }
    }
}

/// Gather scanned files, in order, into a run (every policy current, none compared).
pub fn assemble(scanned: Vec<FileScan>, extra_errors: Vec<FileError>, settings: &ScanSettings) -> ScanRun {
    let files_scanned = scanned.len() + extra_errors.len();
    let mut entries = Vec::new();
    let mut errors = extra_errors;
    let mut unresolved = Vec::new();
    let mut files_with_policies = 0;
    for fs in scanned {
        files_with_policies += usize::from(!fs.policies.is_empty());
        errors.extend(fs.errors);
        unresolved.extend(fs.unresolved);
        let source = fs.source.unwrap_or(SourceKind::Policy);
        for s in fs.policies {
            entries.push(Entry {
                file: fs.label.clone(),
                uri: fs.uri.clone(),
                source,
                found: s.found,
                report: Some(s.report),
                change: None,
            });
        }
    }
    // Errors in file order (path order, as the directory walk), whichever step found them;
    // the sort is stable, so one file's errors stay in their order.
    errors.sort_by(|a, b| Path::new(&a.file).cmp(Path::new(&b.file)));
    ScanRun::judged(entries, errors, unresolved, (files_scanned, files_with_policies), None, &settings.gate)
}

/// Scan files and directories on disk, as `iam-risk-score scan PATH…` does: directories are
/// walked (hidden entries and `node_modules` skipped), results are labelled by the path as
/// given, and Terraform modules and `file()` reads stay under `paths`. Uses rayon's current
/// thread pool.
pub fn scan_paths(paths: &[PathBuf], options: &ScoreOptions, settings: &ScanSettings) -> Result<ScanRun, String> {
    let files = collect(paths)?;
    let cx = Context::disk_limited(paths, settings.max_file_size);
    let scanned: Vec<FileScan> = files
        .par_iter()
        .map(|p| {
            let label = label_of(p);
            scan_file(p, label.clone(), label, options, &cx, settings.max_file_size, false).0
        })
        .collect();
    Ok(assemble(scanned, Vec::new(), settings))
}

/// Would a directory walk on disk scan this `/`-separated path? Not when any part is hidden
/// or `node_modules`, or the name is not a scannable kind.
pub fn walked(path: &str) -> bool {
    let mut parts = path.split('/').peekable();
    while let Some(part) = parts.next() {
        if part.starts_with('.') || (parts.peek().is_some() && part == "node_modules") {
            return false;
        }
        if parts.peek().is_none() {
            return scannable(part);
        }
    }
    false
}

/// Scan files given as texts by `/`-separated path (an archive's contents): the files a
/// directory walk would scan are scanned, labelled by their path, and every file is there
/// for Terraform modules and `file()` to read. `errors` are files that could not be taken
/// (links, too large, not UTF-8) and count as scanned.
pub fn scan_texts(
    files: BTreeMap<String, String>,
    errors: Vec<FileError>,
    options: &ScoreOptions,
    settings: &ScanSettings,
) -> ScanRun {
    let files: Arc<HashMap<String, String>> = Arc::new(files.into_iter().collect());
    let mut names: Vec<&String> = files.keys().filter(|k| walked(k)).collect();
    names.sort_by(|a, b| Path::new(a.as_str()).cmp(Path::new(b.as_str())));
    let cx = Context::texts_of(files.clone(), "in the archive");
    let scanned: Vec<FileScan> =
        names.par_iter().map(|name| scan_text_with(name, name, &files[*name], options, &cx)).collect();
    assemble(scanned, errors, settings)
}

/// Scan a repository archive (tar, tar.gz or zip) held in memory: [`crate::archive::read_archive`]
/// within `limits`, then [`scan_texts`].
#[cfg(feature = "archive")]
pub fn scan_archive(
    bytes: &[u8],
    limits: crate::archive::ArchiveLimits,
    options: &ScoreOptions,
    settings: &ScanSettings,
) -> Result<ScanRun, crate::archive::ArchiveError> {
    let archive = crate::archive::read_archive(bytes, limits)?;
    Ok(scan_texts(archive.files, archive.errors, options, settings))
}

#[cfg(test)]
mod tests {
    use super::walked;

    #[test]
    fn walked_matches_the_directory_walk() {
        assert!(walked("infra/main.tf") && walked("policy.json") && walked("a/b/template.yaml"));
        assert!(!walked(".github/workflows/ci.yml") && !walked("web/node_modules/x/policy.json"));
        assert!(!walked("README.md") && !walked("infra/.terraform/modules/x/main.tf"));
        assert!(walked("node_modules.json"), "only a directory named node_modules is skipped");
    }
}
