//! Reading policy inputs: files, directories (recursively, `*.json`) and standard input, with
//! a size limit and clear errors for unreadable or non-UTF-8 input.

use std::io::Read;
use std::path::{Path, PathBuf};

pub use risk_scan::MAX_INPUT_BYTES;

pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::Stdin => "-".into(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// Expand the command-line inputs into sources, in a stable order.
pub fn collect(inputs: &[PathBuf]) -> Result<Vec<Source>, String> {
    let mut out = Vec::new();
    let mut stdin_seen = false;
    for p in inputs {
        if p.as_os_str() == "-" {
            if stdin_seen {
                return Err("`-` (standard input) given more than once".into());
            }
            stdin_seen = true;
            out.push(Source::Stdin);
        } else if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files).map_err(|e| format!("{}: {e}", p.display()))?;
            files.sort();
            out.extend(files.into_iter().map(Source::File));
        } else {
            out.push(Source::File(p.clone()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            out.push(path);
        }
    }
    Ok(())
}

fn limited(mut r: impl Read, what: &str) -> Result<String, String> {
    let mut buf = Vec::new();
    r.by_ref().take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf).map_err(|e| format!("cannot read {what}: {e}"))?;
    if buf.len() as u64 > MAX_INPUT_BYTES {
        return Err(format!(
            "{what} is larger than {} KiB; an IAM policy is at most a few KiB",
            MAX_INPUT_BYTES / 1024
        ));
    }
    String::from_utf8(buf)
        .map_err(|e| format!("{what} is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
}

/// Largest CloudTrail file `from-cloudtrail` reads: a log file holds at most a few MB, and a
/// lookup-events export of 90 days a few tens.
pub const MAX_EVENTS_BYTES: u64 = 256 * 1024 * 1024;

/// Read a CloudTrail file or standard input (`-`), refusing gzip with the command to use.
pub fn read_events(p: &Path, stdin: &mut dyn Read) -> Result<String, String> {
    let (mut buf, what) =
        (Vec::new(), if p.as_os_str() == "-" { "standard input".to_string() } else { format!("`{}`", p.display()) });
    let read = if p.as_os_str() == "-" {
        stdin.take(MAX_EVENTS_BYTES + 1).read_to_end(&mut buf)
    } else {
        let f = std::fs::File::open(p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("CloudTrail file not found: `{}`", p.display()),
            _ => format!("cannot open `{}`: {e}", p.display()),
        })?;
        f.take(MAX_EVENTS_BYTES + 1).read_to_end(&mut buf)
    };
    read.map_err(|e| format!("cannot read {what}: {e}"))?;
    if buf.len() as u64 > MAX_EVENTS_BYTES {
        return Err(format!(
            "{what} is larger than {} MiB; split it (e.g. one log file at a time)",
            MAX_EVENTS_BYTES >> 20
        ));
    }
    if buf.starts_with(&[0x1f, 0x8b]) {
        return Err(format!(
            "{what} is gzip-compressed (CloudTrail delivers `.json.gz`): decompress it first, e.g. `gunzip -c FILE.json.gz | iam-risk-score from-cloudtrail -`"
        ));
    }
    String::from_utf8(buf)
        .map_err(|e| format!("{what} is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
}

pub fn read_file(p: &Path) -> Result<String, String> {
    let f = std::fs::File::open(p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("policy file not found: `{}`", p.display()),
        _ => format!("cannot open `{}`: {e}", p.display()),
    })?;
    limited(f, "the file")
}

pub fn read_stdin(stdin: &mut dyn Read) -> Result<String, String> {
    limited(stdin, "standard input")
}

/// What to do with a YAML text given where a JSON policy is expected: `None` when the text is
/// JSON (its problems are the document's, not its format's) or not YAML at all.
pub fn yaml_hint(text: &str) -> Option<String> {
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with('{') || start.starts_with('[') || start.is_empty() {
        return None;
    }
    let root = crate::scan::tree::parse_yaml(text).ok()?;
    if !root.is_map() {
        return None;
    }
    if crate::scan::cloudformation::is_template(&root) {
        return Some(
            "this is a CloudFormation template (YAML): score the policies in it with `iam-risk-score scan FILE`".into(),
        );
    }
    if root.get("Statement").is_some() {
        return Some(
            "this is a policy written in YAML, and the scorer reads JSON policy documents: convert it first (e.g. `yq -o=json FILE > policy.json`)"
                .into(),
        );
    }
    Some("this looks like YAML, not JSON; `iam-risk-score scan PATH` reads CloudFormation YAML templates".into())
}
