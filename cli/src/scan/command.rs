//! The `scan` command line, and `diff` of infrastructure files or directories: flags, the
//! git base, parallel scoring, rendering and exit codes.
//!
//! Exit codes: 0 passed; 1 a failing condition was met (a policy at or above the threshold,
//! 5 unless `--threshold`/`--no-threshold` say otherwise, `--fail-on-increase`,
//! `--fail-on-category`); 2 bad flags, nothing found under the paths (unless `--allow-empty`),
//! or a (changed) file that looks like a policy could not be read or scored — everything else
//! is still scanned and reported first.

use super::{
    assemble, check_categories, label_of, pair, scan_file, scan_text_with, Context, FileError, FileScan, GateRules,
    ScanRun, ScanSettings, Scored, SourceKind,
};
use crate::render::{self, ColorChoice};
use crate::text::visible;
use crate::{exit, Format, Io};
use clap::{Parser, ValueEnum};
use rayon::prelude::*;
use risk_core::ScoreOptions;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The threshold when none is given: the plain scorer's (`iam-risk-score FILE`), so that
/// `scan` of a file fails exactly when scoring it does (the library's default, shared with
/// Python and the API).
pub use super::DEFAULT_THRESHOLD;

const SCAN_HELP: &str =
    "Reads standalone policy JSON (identity, resource, trust), CloudFormation templates (JSON, YAML),
Terraform (*.tf), Terraform plans (`terraform show -json`) and account authorization details
(`aws iam get-account-authorization-details`). Directories are searched for *.json, *.yaml, *.yml,
*.template and *.tf; hidden directories are skipped. Other files are skipped silently.

A policy scan sees but cannot resolve (a variable, a module output, a value known only after
apply, a managed policy missing from an export) is listed as `unresolved`, never dropped.
Files larger than --max-file-size (default 64MiB) are an error each; the rest is scanned.

Exit codes: 0 passed; 1 a policy (with --base: a changed one) scores at or above the threshold
(default 5, as `iam-risk-score FILE`; --no-threshold turns it off), or a --fail-on-increase /
--fail-on-category condition was met; 2 bad flags, nothing found under the paths (no policy, no
error, nothing unresolved; --allow-empty accepts that), or a file that looks like a policy could
not be read or scored (the rest is still scanned and reported first).";

/// Find and score every IAM policy under the given paths.
#[derive(Debug, Parser)]
#[command(name = "iam-risk-score scan", after_help = SCAN_HELP)]
pub struct ScanArgs {
    /// Files or directories to scan.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Compare with this git revision (its merge base with HEAD): report what the change adds.
    #[arg(long, value_name = "GIT_REF")]
    base: Option<String>,
    /// Output format on standard output.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Also write a format to a file (repeatable), e.g. `--output sarif=results.sarif`.
    #[arg(long = "output", value_name = "FORMAT=FILE")]
    outputs: Vec<String>,
    /// Exit 1 when a policy (with --base: a changed one) scores at or above this (1-10) [default: 5].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10), conflicts_with = "no_threshold")]
    threshold: Option<u8>,
    /// No score threshold: fail only on --fail-on-increase / --fail-on-category conditions.
    #[arg(long)]
    no_threshold: bool,
    /// Exit 0 when the paths hold no policy at all (by default that is exit 2: a mistyped path).
    #[arg(long)]
    allow_empty: bool,
    /// Largest file read (e.g. 256MiB, 100MB); a larger file is an error entry [default: 64MiB].
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size)]
    max_file_size: Option<u64>,
    /// Exit 1 when a policy's score rises or a finding appears (needs --base).
    #[arg(long)]
    fail_on_increase: bool,
    /// Exit 1 on a (with --base: new) finding of this category (repeatable), e.g. privilege-escalation.
    #[arg(long = "fail-on-category", value_name = "CATEGORY")]
    fail_on_category: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Colour in human output.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
}

fn err(io: &mut Io<'_>, msg: impl std::fmt::Display) -> i32 {
    let _ = writeln!(io.stderr, "error: {msg}");
    exit::BAD_INPUT
}

fn parse_outputs(specs: &[String]) -> Result<Vec<(Format, PathBuf)>, String> {
    specs
        .iter()
        .map(|s| {
            let (f, p) = s
                .split_once('=')
                .ok_or_else(|| format!("`--output {s}`: write FORMAT=FILE, e.g. sarif=results.sarif"))?;
            let f = Format::from_str(f, true).map_err(|_| format!("`--output {s}`: unknown format `{f}`"))?;
            if p.is_empty() {
                return Err(format!("`--output {s}`: missing file name"));
            }
            Ok((f, PathBuf::from(p)))
        })
        .collect()
}

/// `iam-risk-score scan …`
pub fn run(args: Vec<std::ffi::OsString>, io: &mut Io<'_>) -> i32 {
    let a = match ScanArgs::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => return crate::clap_exit(e, io),
    };
    if let Err(e) = check_categories(&a.fail_on_category) {
        return err(io, e);
    }
    if a.fail_on_increase && a.base.is_none() {
        return err(io, "`--fail-on-increase` needs `--base GIT_REF` (or use `iam-risk-score diff OLD NEW`)");
    }
    let outputs = match parse_outputs(&a.outputs) {
        Ok(o) => o,
        Err(e) => return err(io, e),
    };
    let files = match super::collect(&a.paths) {
        Ok(f) => f,
        Err(e) => return err(io, e),
    };
    let options = ScoreOptions::default();
    let repo_base = match &a.base {
        None => None,
        Some(rev) => match crate::git::Repo::open().and_then(|r| r.resolve(rev).map(|c| (r, c))) {
            Ok(x) => Some(x),
            Err(e) => return err(io, e),
        },
    };
    let keep_text = repo_base.is_some();
    let max_bytes = a.max_file_size.unwrap_or(super::MAX_SCAN_BYTES);
    let cx = Context::disk_limited(&a.paths, max_bytes);
    let threshold = if a.no_threshold { None } else { Some(a.threshold.unwrap_or(DEFAULT_THRESHOLD)) };
    let settings = ScanSettings {
        max_file_size: max_bytes,
        gate: GateRules {
            threshold,
            fail_on_increase: a.fail_on_increase,
            fail_on_category: a.fail_on_category.clone(),
        },
    };
    let scan_one = |p: &PathBuf| -> (FileScan, Option<String>) {
        let label = label_of(p);
        let uri = repo_base.as_ref().and_then(|(r, _)| r.repo_path(p)).unwrap_or_else(|| label.clone());
        scan_file(p, label, uri, &options, &cx, max_bytes, keep_text)
    };
    let scanned: Vec<(FileScan, Option<String>)> = match a.jobs {
        Some(n) if n > 0 => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => pool.install(|| files.par_iter().map(scan_one).collect()),
            Err(_) => files.par_iter().map(scan_one).collect(),
        },
        _ => files.par_iter().map(scan_one).collect(),
    };
    let run = match &repo_base {
        None => assemble(scanned.into_iter().map(|(fs, _)| fs).collect(), Vec::new(), &settings),
        Some((repo, commit)) => {
            let files_scanned = scanned.len();
            let (mut entries, mut errors, mut unresolved, mut files_with_policies) =
                (Vec::new(), Vec::new(), Vec::new(), 0);
            let specs: Vec<String> = a.paths.iter().map(|p| repo.repo_path(p).unwrap_or_default()).collect();
            let base_files = match repo.read_tree(commit, &specs, super::scannable) {
                Ok(f) => f,
                Err(e) => return err(io, format!("cannot read `{}` from git: {e}", a.base.as_deref().unwrap_or(""))),
            };
            let mut base_text: HashMap<String, String> = base_files.into_iter().collect();
            // The base's files as a whole, so a base module reads its own locals and documents.
            let base_cx = Context::texts(std::sync::Arc::new(base_text.clone()));
            for (fs, text) in scanned {
                files_with_policies += usize::from(!fs.policies.is_empty());
                let old = base_text.remove(&fs.uri);
                let source = fs.source.unwrap_or(SourceKind::Policy);
                let old_scored: Vec<Scored> = match (&old, &text) {
                    (Some(o), Some(t)) if o == t => {
                        // Unchanged file: every policy is unchanged; pre-existing errors are not this
                        // change's, and neither is what it leaves unresolved.
                        let same = fs.policies.clone();
                        entries.extend(pair(&fs.label, &fs.uri, source, same.clone(), same, &options));
                        continue;
                    }
                    (Some(o), _) => scan_text_with(&fs.label, &fs.uri, o, &options, &base_cx).policies,
                    (None, _) => Vec::new(),
                };
                errors.extend(fs.errors);
                unresolved.extend(fs.unresolved);
                entries.extend(pair(&fs.label, &fs.uri, source, old_scored, fs.policies, &options));
            }
            // Files that exist only in the base: every policy in them was removed.
            let mut gone: Vec<(String, String)> = base_text.into_iter().collect();
            gone.sort();
            for (uri, text) in gone {
                let label = uri.strip_prefix(&repo.prefix).map(str::to_string).unwrap_or_else(|| uri.clone());
                let fs = scan_text_with(&label, &uri, &text, &options, &base_cx);
                let source = fs.source.unwrap_or(SourceKind::Policy);
                entries.extend(pair(&label, &uri, source, fs.policies, Vec::new(), &options));
            }
            let base = Some((a.base.clone().unwrap_or_default(), commit.clone()));
            ScanRun::judged(entries, errors, unresolved, (files_scanned, files_with_policies), base, &settings.gate)
        }
    };
    let code = finish(&run, a.format, &outputs, a.color.on(io.stdout_is_tty), io);
    if code == exit::OK && !a.allow_empty && run.found_nothing() {
        let paths: Vec<String> = a.paths.iter().map(|p| format!("`{}`", visible(&p.display().to_string()))).collect();
        let _ = writeln!(
            io.stderr,
            "error: no IAM policy found in {} ({} file(s) looked at): check the path, or pass `--allow-empty` if nothing is expected there",
            paths.join(", "),
            run.files_scanned
        );
        return exit::BAD_INPUT;
    }
    code
}

/// Print errors, render, write the extra outputs and step outputs, and choose the exit code.
fn finish(run: &ScanRun, format: Format, outputs: &[(Format, PathBuf)], color: bool, io: &mut Io<'_>) -> i32 {
    for e in &run.errors {
        let mut at = visible(&e.file).into_owned();
        if let Some(l) = e.line {
            at.push_str(&format!(":{l}"));
        }
        if let Some(addr) = &e.address {
            at.push_str(&format!(" ({})", visible(addr)));
        }
        let _ = writeln!(io.stderr, "error: {at}: {}", visible(&e.message));
    }
    // JSON and SARIF are streamed: for a large export they are several times the input.
    let emit = |f: Format, color: bool, w: &mut dyn Write| match f {
        Format::Human => w.write_all(render::human::scan(run, color).as_bytes()),
        Format::Json => super::json::write_json(run, w),
        Format::Markdown => w.write_all(render::markdown::scan(run).as_bytes()),
        Format::Sarif => crate::sarif::scan(run, w),
        Format::Github => w.write_all(render::github::scan(run).as_bytes()),
    };
    let mut code = exit::OK;
    for (f, path) in outputs {
        let written = std::fs::File::create(path).and_then(|file| {
            let mut w = std::io::BufWriter::new(file);
            emit(*f, false, &mut w)?;
            w.flush()
        });
        if let Err(e) = written {
            let _ = writeln!(io.stderr, "error: cannot write {}: {e}", path.display());
            code = exit::BAD_INPUT;
        }
    }
    let _ = emit(format, color, io.stdout);
    if format == Format::Github || outputs.iter().any(|(f, _)| *f == Format::Github) {
        if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
            let lines = render::github::step_outputs(run);
            let written = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .and_then(|mut f| f.write_all(lines.as_bytes()));
            if let Err(e) = written {
                let _ = writeln!(io.stderr, "error: cannot write GITHUB_OUTPUT: {e}");
            }
        }
    }
    if code != exit::OK || !run.errors.is_empty() {
        return exit::BAD_INPUT;
    }
    if run.gate.failed {
        let _ = io.stderr.flush();
        exit::AT_OR_ABOVE_THRESHOLD
    } else {
        exit::OK
    }
}

/// `diff OLD NEW` where either side is a directory or an infrastructure file (CloudFormation,
/// Terraform, a plan, an authorization export): policies are paired by file and address.
/// `None` when both are plain policy documents, which `diff` handles itself.
#[allow(clippy::too_many_arguments)]
pub fn diff_infra(
    old: &Path,
    new: &Path,
    format: Format,
    rules: &GateRules,
    options: &ScoreOptions,
    io: &mut Io<'_>,
) -> Option<i32> {
    if old.as_os_str() == "-" || new.as_os_str() == "-" {
        return None;
    }
    let (old_dir, new_dir) = (old.is_dir(), new.is_dir());
    // (relative key, label, old text, new text)
    let mut pairs: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let mut errors = Vec::new();
    let read = |p: &Path, errors: &mut Vec<FileError>| match super::read(p, super::MAX_SCAN_BYTES) {
        Ok(t) => Some(t),
        Err(message) => {
            errors.push(FileError { file: label_of(p), line: None, address: None, message, details: Vec::new() });
            None
        }
    };
    if old_dir || new_dir {
        if !(old_dir && new_dir) {
            let _ = writeln!(io.stderr, "error: compare a directory with a directory, or a file with a file");
            return Some(exit::BAD_INPUT);
        }
        let list = |root: &Path| -> Result<Vec<String>, String> {
            Ok(super::collect(&[root.to_path_buf()])?
                .into_iter()
                .filter_map(|p| p.strip_prefix(root).ok().map(|r| r.to_string_lossy().replace('\\', "/")))
                .collect())
        };
        let (ol, nl) = match (list(old), list(new)) {
            (Ok(o), Ok(n)) => (o, n),
            (Err(e), _) | (_, Err(e)) => {
                let _ = writeln!(io.stderr, "error: {e}");
                return Some(exit::BAD_INPUT);
            }
        };
        let mut keys: Vec<String> = ol.iter().chain(nl.iter()).cloned().collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let o = if ol.contains(&k) { read(&old.join(&k), &mut errors) } else { None };
            let n = if nl.contains(&k) { read(&new.join(&k), &mut errors) } else { None };
            pairs.push((k, o, n));
        }
    } else {
        let (Ok(o), Ok(n)) = (super::read(old, super::MAX_SCAN_BYTES), super::read(new, super::MAX_SCAN_BYTES)) else {
            return None;
        };
        let (eo, en) = (super::extract(&label_of(old), &o), super::extract(&label_of(new), &n));
        let plain = |s: Option<SourceKind>| matches!(s, None | Some(SourceKind::Policy));
        if plain(eo.source) && plain(en.source) {
            return None;
        }
        pairs.push((String::new(), Some(o), Some(n)));
    }
    let mut entries = Vec::new();
    let mut unresolved = Vec::new();
    let mut files_with_policies = 0;
    let files_scanned = pairs.len();
    let cx = Context::disk(&[old.to_path_buf(), new.to_path_buf()]);
    for (key, o, n) in pairs {
        let (old_label, new_label) = if key.is_empty() {
            (label_of(old), label_of(new))
        } else {
            (label_of(&old.join(&key)), label_of(&new.join(&key)))
        };
        let unchanged = o.is_some() && o == n;
        let os = o.map(|t| scan_text_with(&old_label, &old_label, &t, options, &cx));
        let ns = n.map(|t| scan_text_with(&new_label, &new_label, &t, options, &cx));
        let label = if ns.is_some() { new_label } else { old_label };
        let source =
            ns.as_ref().and_then(|s| s.source).or(os.as_ref().and_then(|s| s.source)).unwrap_or(SourceKind::Policy);
        if let Some(ns) = &ns {
            // As with `scan --base`: what an unchanged file leaves unread or unresolved is not
            // this change's.
            if !unchanged {
                errors.extend(ns.errors.iter().cloned());
                unresolved.extend(ns.unresolved.iter().cloned());
            }
            files_with_policies += usize::from(!ns.policies.is_empty());
        }
        let old_p = os.map(|s| s.policies).unwrap_or_default();
        let new_p = ns.map(|s| s.policies).unwrap_or_default();
        entries.extend(pair(&label, &label, source, old_p, new_p, options));
    }
    let run = ScanRun::judged(entries, errors, unresolved, (files_scanned, files_with_policies), None, rules);
    Some(finish(&run, format, &[], false, io))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs() {
        let o = parse_outputs(&["sarif=a.sarif".into(), "MARKDOWN=b.md".into()]).unwrap();
        assert_eq!(o[0], (Format::Sarif, PathBuf::from("a.sarif")));
        assert_eq!(o[1].0, Format::Markdown);
        assert!(parse_outputs(&["sarif".into()]).is_err());
        assert!(parse_outputs(&["xml=a".into()]).is_err());
        assert!(check_categories(&["privilege-escalation".into()]).is_ok());
        assert!(check_categories(&["escalation".into()]).unwrap_err().contains("privilege-escalation"));
    }
}
