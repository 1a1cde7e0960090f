//! Find and score every IAM policy in files and directories — standalone policy JSON,
//! CloudFormation, Terraform HCL, Terraform plans and account authorization details — and,
//! against a base revision, say what a change adds.
//!
//! The library behind `iam-risk-score scan`, the Python package's `scan()` and the scoring
//! API's `POST /api/v1/scan`: each surface renders the same [`ScanRun`], and the v1 JSON
//! document is written here, once.

pub mod authdetails;
pub mod cloudformation;
pub mod hcl_eval;
pub mod json;
pub mod locate;
pub mod managed;
pub mod plan;
mod run;
pub mod terraform;
pub mod tree;

#[cfg(feature = "archive")]
pub mod archive;

#[cfg(feature = "archive")]
pub use run::scan_archive;
pub use run::{
    assemble, check_categories, label_of, scan_file, scan_paths, scan_texts, walked, ScanSettings, DEFAULT_THRESHOLD,
};

use risk_core::diff::{ActionsByService, PolicyDiff};
use risk_core::output::v1::{Finding, Report};
use risk_core::{PolicyType, ScoreOptions};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Largest policy accepted as one document (AWS's own limits are far smaller: 6 KiB managed,
/// 20 KiB resource); `score`'s inputs and standalone policy files in a scan alike.
pub const MAX_INPUT_BYTES: u64 = risk_core::MAX_POLICY_BYTES as u64;

/// Largest file `scan` reads by default (`--max-file-size` changes it). Plans and authorization
/// exports are far larger than one policy: tens of MB for a big account. A larger file is one
/// error entry, and the rest of the run goes on. See docs/scan.md, "Limits", for what a file
/// of this size costs in memory.
pub const MAX_SCAN_BYTES: u64 = 64 * 1024 * 1024;

/// `64MiB`, `200MB`, `512KiB`, `1GiB`, `1000000`: a size for `--max-file-size`. Binary
/// (KiB, MiB, GiB; K, M, G) and decimal (kB, MB, GB) units, case-insensitive; a bare number is
/// bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(format!("`{s}` is not a size: write e.g. `128MiB`, `200MB` or a number of bytes")),
    };
    let n: f64 =
        num.parse().map_err(|_| format!("`{s}` is not a size: write e.g. `128MiB`, `200MB` or a number of bytes"))?;
    let bytes = n * mult as f64;
    if bytes.is_nan() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{s}` is not a usable size: give at least one byte"));
    }
    Ok(bytes as u64)
}

/// `67108864` → `64 MiB`, for messages.
pub fn show_size(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

/// What kind of file a policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Policy,
    Cloudformation,
    Terraform,
    TerraformPlan,
    AuthorizationDetails,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Policy => "policy",
            SourceKind::Cloudformation => "cloudformation",
            SourceKind::Terraform => "terraform",
            SourceKind::TerraformPlan => "terraform-plan",
            SourceKind::AuthorizationDetails => "authorization-details",
        }
    }
}

/// A policy document found in a file, before scoring.
#[derive(Debug, Clone)]
pub struct Found {
    /// Resource address, logical id or principal path; empty for a standalone policy file.
    pub address: String,
    /// Whose permissions these are, where the format says (a role, a user's ARN).
    pub principal: Option<String>,
    /// 1-based line of the policy document.
    pub line: usize,
    /// 1-based line of each statement, where known.
    pub statement_lines: Vec<usize>,
    /// The type the context implies (a trust policy attribute, a bucket policy, …).
    pub policy_type: Option<PolicyType>,
    pub document: Value,
    /// What the reader could not resolve, and where a result comes from.
    pub notes: Vec<String>,
}

/// A file, or a policy in it, that looks like a policy but could not be read or scored.
#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    pub address: Option<String>,
    pub message: String,
    pub details: Vec<risk_core::Problem>,
}

impl FileError {
    pub fn new(line: Option<usize>, address: Option<String>, message: String) -> Self {
        FileError { file: String::new(), line, address, message, details: Vec::new() }
    }

    /// A policy document with a key given twice, at the second occurrence, worded as the core
    /// words it (`Statement[0].Action has the key `Action` twice in one object, …`).
    pub fn duplicate(d: &tree::Duplicate, address: Option<String>) -> Self {
        FileError {
            file: String::new(),
            line: Some(d.second),
            address,
            message: d.message(),
            details: vec![risk_core::Problem { path: d.path.clone(), message: d.predicate() }],
        }
    }
}

/// A policy-bearing construct that scan sees but cannot turn into a document (a policy given
/// by a variable, a module output, a file that is not in the repository, …): counted in
/// `totals.unresolved` and listed in `unresolved[]`, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unresolved {
    pub file: String,
    /// 1-based line of the construct.
    pub line: usize,
    /// Resource address or logical id (with the attribute), as for a scored policy.
    pub address: String,
    /// Why it could not be resolved, worded for the reader (what it is, what would resolve it).
    pub reason: String,
}

impl Unresolved {
    pub fn new(line: usize, address: impl Into<String>, reason: impl Into<String>) -> Self {
        Unresolved { file: String::new(), line, address: address.into(), reason: reason.into() }
    }
}

/// What a file holds.
#[derive(Default)]
pub struct Extracted {
    /// `None`: not a policy file (skipped silently).
    pub source: Option<SourceKind>,
    pub policies: Vec<Found>,
    pub errors: Vec<FileError>,
    pub unresolved: Vec<Unresolved>,
}

impl Extracted {
    fn skip() -> Self {
        Extracted::default()
    }
    fn of(source: SourceKind) -> Self {
        Extracted { source: Some(source), ..Extracted::default() }
    }
    fn failed(source: SourceKind, message: String) -> Self {
        Extracted { source: Some(source), errors: vec![FileError::new(None, None, message)], ..Extracted::default() }
    }
}

/// Extensions a directory walk looks at; files named explicitly are always read.
pub fn scannable(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".json", ".yaml", ".yml", ".template", ".tf"].iter().any(|e| lower.ends_with(e))
}

fn looks_like_policy_json(text: &str) -> bool {
    ["\"Statement\"", "\"AWSTemplateFormatVersion\"", "\"UserDetailList\"", "\"RoleDetailList\"", "\"planned_values\""]
        .iter()
        .any(|k| text.contains(k))
}

/// What reading one file may need from the files around it: the Terraform module of its
/// directory (locals, variable defaults, policy documents in other files) and the files that
/// `file()` / `templatefile()` read — from disk under the scanned paths, or from the texts of
/// a git revision.
pub struct Context {
    source: Source,
    modules: Mutex<HashMap<String, Arc<OnceLock<Arc<terraform::Module>>>>>,
}

enum Source {
    /// Each file alone.
    Alone,
    /// Files on disk; reads stay under these (canonical) directories and within the size limit.
    Disk(Vec<PathBuf>, u64),
    /// A revision's files by repository path.
    /// Files by path, and where they are for messages ("in the revision's scanned files").
    Texts(Arc<HashMap<String, String>>, &'static str),
}

impl Context {
    /// Each file read alone (no module, no file reads).
    pub fn alone() -> Self {
        Context { source: Source::Alone, modules: Mutex::new(HashMap::new()) }
    }

    /// Files on disk under `paths` (a file's directory for a file): `file()` reads nothing
    /// outside them, and no symbolic link leads out.
    pub fn disk(paths: &[PathBuf]) -> Self {
        Context::disk_limited(paths, MAX_SCAN_BYTES)
    }

    /// As [`Context::disk`], reading no file (a module's other files, a `file()`) larger than
    /// `max_bytes` (`--max-file-size`).
    pub fn disk_limited(paths: &[PathBuf], max_bytes: u64) -> Self {
        let roots = paths
            .iter()
            .filter_map(|p| {
                let dir = if p.is_dir() { p.clone() } else { p.parent().map(Path::to_path_buf).unwrap_or_default() };
                let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
                dir.canonicalize().ok()
            })
            .collect();
        Context { source: Source::Disk(roots, max_bytes), modules: Mutex::new(HashMap::new()) }
    }

    /// A revision's files (repository path → text); files are looked up by their `uri`.
    pub fn texts(files: Arc<HashMap<String, String>>) -> Self {
        Context::texts_of(files, "in the revision's scanned files")
    }

    /// Files by path from elsewhere (an archive); `place` ends the message for a file that is
    /// not there: "`x.json` is not {place}".
    pub fn texts_of(files: Arc<HashMap<String, String>>, place: &'static str) -> Self {
        Context { source: Source::Texts(files, place), modules: Mutex::new(HashMap::new()) }
    }

    /// The key a file is known by in this context.
    fn key<'a>(&self, label: &'a str, uri: &'a str) -> &'a str {
        match self.source {
            Source::Texts(..) => uri,
            _ => label,
        }
    }

    /// The Terraform module of the directory holding `key`.
    fn module(&self, key: &str) -> Option<Arc<terraform::Module>> {
        self.module_of_dir(&parent_of(key))
    }

    /// The Terraform module in directory `dir` (a local `module` source), if it is under a
    /// scanned path (on disk) or in the revision's files.
    fn module_of_dir(&self, dir: &str) -> Option<Arc<terraform::Module>> {
        if let Source::Disk(roots, _) = &self.source {
            let real = Path::new(if dir.is_empty() { "." } else { dir }).canonicalize().ok()?;
            if !roots.iter().any(|r| real.starts_with(r)) {
                return None;
            }
        }
        if matches!(self.source, Source::Alone) {
            return None;
        }
        let dir = dir.to_string();
        let cell = {
            let mut map = self.modules.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(dir.clone()).or_default().clone()
        };
        Some(cell.get_or_init(|| Arc::new(self.build_module(&dir))).clone())
    }

    fn build_module(&self, dir: &str) -> terraform::Module {
        let is_tf = |name: &str| {
            let lower = name.to_ascii_lowercase();
            lower.ends_with(".tf") || lower.ends_with(".tf.json")
        };
        // `*.tf.json` files join the module as the HCL they stand for.
        let as_hcl = |name: &str, text: String| -> Option<String> {
            let text = text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text);
            if name.to_ascii_lowercase().ends_with(".tf.json") {
                terraform::json_to_hcl(&text).ok()
            } else {
                Some(text)
            }
        };
        let mut files: Vec<(String, String)> = Vec::new();
        match &self.source {
            Source::Alone => {}
            Source::Disk(_, max) => {
                let list = std::fs::read_dir(if dir.is_empty() { "." } else { dir });
                for entry in list.into_iter().flatten().flatten() {
                    let name = entry.file_name().to_string_lossy().to_string();
                    if !is_tf(&name) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                        continue;
                    }
                    let label = join(dir, &name);
                    if let Some(text) = read(Path::new(&label), *max).ok().and_then(|t| as_hcl(&name, t)) {
                        files.push((label, text));
                    }
                }
            }
            Source::Texts(map, _) => {
                for (k, v) in map.iter() {
                    if is_tf(k) && parent_of(k) == dir {
                        if let Some(text) = as_hcl(k, v.clone()) {
                            files.push((k.clone(), text));
                        }
                    }
                }
            }
        }
        files.sort();
        let dir_owned = dir.to_string();
        let reader: terraform::FileReader = match &self.source {
            Source::Alone => Arc::new(|p: &str| Err(format!("`{p}` is not read"))),
            Source::Disk(roots, max) => {
                let (roots, max) = (roots.clone(), *max);
                Arc::new(move |p: &str| read_under(&roots, &dir_owned, p, max))
            }
            Source::Texts(map, place) => {
                let (map, place) = (map.clone(), *place);
                Arc::new(move |p: &str| {
                    let key = normalize(&resolve(&dir_owned, p));
                    map.get(&key).cloned().ok_or_else(|| format!("`{p}` is not {place}"))
                })
            }
        };
        terraform::Module::new(dir, files, reader)
    }
}

/// The directory part of a `/`-separated path ("" for none).
fn parent_of(key: &str) -> String {
    match key.rfind('/') {
        Some(i) => key[..i].to_string(),
        None => String::new(),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// A path as the configuration gives it, relative to the working directory when it starts
/// with the module's own path (`${path.module}/…`), else to the module directory.
fn resolve(dir: &str, p: &str) -> String {
    if p.starts_with('/') || dir.is_empty() || dir == "." || p.starts_with(&format!("{dir}/")) {
        p.to_string()
    } else {
        join(dir, p)
    }
}

/// `a/./b/../c` → `a/c`.
fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    parts.join("/")
}

/// Read a file `file()` names, only if it is (after links are followed) under a scanned root.
fn read_under(roots: &[PathBuf], dir: &str, p: &str, max: u64) -> Result<String, String> {
    let path = PathBuf::from(resolve(dir, p));
    let real = path.canonicalize().map_err(|e| format!("cannot open {p}: {e}"))?;
    if !roots.iter().any(|r| real.starts_with(r)) {
        return Err(format!("`{p}` is outside the scanned paths"));
    }
    read(&real, max)
}

/// Find the policies in one file's text, read alone. `name` decides only between HCL and
/// the rest.
pub fn extract(name: &str, text: &str) -> Extracted {
    extract_with(name, name, text, &Context::alone())
}

/// Find the policies in one file's text, with the files around it.
pub fn extract_with(name: &str, uri: &str, text: &str, cx: &Context) -> Extracted {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let converted;
    let (name, text) = if name.to_ascii_lowercase().ends_with(".tf.json") {
        // Terraform's JSON syntax: read as the HCL it stands for, lines kept.
        match terraform::json_to_hcl(text) {
            Ok(hcl) => {
                converted = hcl;
                (name, converted.as_str())
            }
            Err(e) if text.contains("aws_iam") || text.contains("policy") => {
                return Extracted::failed(SourceKind::Terraform, e);
            }
            Err(_) => return Extracted::skip(),
        }
    } else {
        (name, text)
    };
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tf") || lower.ends_with(".tf.json") {
        let mut ex = Extracted::of(SourceKind::Terraform);
        let key = cx.key(name, uri);
        let result = match cx.module(key) {
            Some(m) => terraform::extract_in(&m, key, text, &mut ex, &|dir| cx.module_of_dir(dir)),
            None => terraform::extract(text, &mut ex),
        };
        if let Err(e) = result {
            if text.contains("aws_iam") || text.contains("policy") {
                // In `*.tf.json` the JSON itself parsed: what failed is a `${…}` expression in
                // one of its strings (the reader converts the file to HCL to evaluate them).
                let e = if name.to_ascii_lowercase().ends_with(".tf.json") {
                    format!("a `${{…}}` expression in a string of this Terraform JSON file is {e}")
                } else {
                    e
                };
                return Extracted::failed(SourceKind::Terraform, e);
            }
            return Extracted::skip();
        }
        if ex.policies.is_empty() && ex.errors.is_empty() && ex.unresolved.is_empty() {
            return Extracted::skip();
        }
        return ex;
    }
    let start = text.trim_start();
    if start.starts_with('{') || start.starts_with('[') {
        return extract_json(text);
    }
    // YAML: only CloudFormation templates are of interest.
    if !(text.contains("AWS::") || text.contains("AWSTemplateFormatVersion")) {
        return Extracted::skip();
    }
    match tree::parse_yaml(text) {
        Ok(root) if cloudformation::is_template(&root) => container(SourceKind::Cloudformation, &root),
        Ok(_) => Extracted::skip(),
        Err(e) if text.contains("AWSTemplateFormatVersion") || text.contains("Type: AWS::") => {
            Extracted::failed(SourceKind::Cloudformation, e)
        }
        Err(_) => Extracted::skip(),
    }
}

/// The keys of a JSON text's top-level object, read without building the document (duplicates
/// kept); `Ok(None)` when the top level is not an object. A 50 MB plan or export is classified
/// without a `serde_json::Value` of it: only the line-aware tree is ever built for a container.
fn top_level_keys(text: &str) -> Result<Option<Vec<String>>, serde_json::Error> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(k);
            }
            Ok(Some(keys))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let keys = (&mut de).deserialize_any(Keys)?;
    de.end()?;
    Ok(keys)
}

fn extract_json(text: &str) -> Extracted {
    use risk_core::json::JsonErrorKind;
    // The core's strict reader, as for `iam-risk-score FILE`: a repeated key is an error.
    let refuse = |text: &str| {
        let Err(e) = risk_core::json::from_str(text) else { return Extracted::skip() };
        let message = match e.kind {
            JsonErrorKind::DuplicateKey { .. } => format!("{} {}", e.path, e.predicate()),
            _ => e.predicate().trim_start_matches("is ").to_string(),
        };
        let mut ex = Extracted::failed(SourceKind::Policy, message);
        ex.errors[0].line = Some(e.line);
        ex
    };
    let keys = match top_level_keys(text) {
        Ok(Some(keys)) => keys,
        Ok(None) => return Extracted::skip(),
        Err(_) if looks_like_policy_json(text) => return refuse(text),
        Err(_) => return Extracted::skip(),
    };
    let has = |k: &str| keys.iter().any(|x| x == k);
    if has("Statement") {
        // A standalone policy is held to the plain scorer's limit: IAM's own are 6 to 20 KiB,
        // and the engine's cost grows with the statements (about 35× the text in memory), so a
        // file of tens of MB that calls itself a policy is refused rather than scored.
        if text.len() as u64 > MAX_INPUT_BYTES {
            return Extracted::failed(
                SourceKind::Policy,
                format!(
                    "a policy document of {}, larger than the {} a policy may be (AWS's own limits are 6 to 20 KiB), is not scored",
                    show_size(text.len() as u64),
                    show_size(MAX_INPUT_BYTES)
                ),
            );
        }
        // Strict, so a key given twice anywhere in it is refused.
        let value = match risk_core::json::from_str(text) {
            Ok(v) => v,
            Err(_) => return refuse(text),
        };
        let line = text.len() - text.trim_start().len();
        let line = text[..line].matches('\n').count() + 1;
        let found = Found {
            address: String::new(),
            principal: None,
            line,
            statement_lines: crate::locate::statement_lines(text),
            policy_type: None,
            document: value,
            notes: Vec::new(),
        };
        return Extracted { policies: vec![found], ..Extracted::of(SourceKind::Policy) };
    }
    // A key given twice in a template, plan or export is left to `tree`, which refuses a
    // repeated key inside each policy document (as that document's error) and leaves the rest
    // of the file alone.
    let kind = if has("UserDetailList") || has("RoleDetailList") || has("GroupDetailList") {
        SourceKind::AuthorizationDetails
    } else if has("format_version") {
        SourceKind::TerraformPlan
    } else if has("Resources") || has("AWSTemplateFormatVersion") {
        SourceKind::Cloudformation
    } else {
        return Extracted::skip();
    };
    match tree::parse_json(text) {
        Ok(root) => container(kind, &root),
        Err(e) => Extracted::failed(kind, e),
    }
}

fn container(kind: SourceKind, root: &tree::Node) -> Extracted {
    let mut ex = Extracted::of(kind);
    match kind {
        SourceKind::Cloudformation if cloudformation::is_template(root) => cloudformation::extract(root, &mut ex),
        SourceKind::TerraformPlan if plan::is_plan(root) => plan::extract(root, &mut ex),
        SourceKind::AuthorizationDetails if authdetails::is_authdetails(root) => authdetails::extract(root, &mut ex),
        _ => return Extracted::skip(),
    }
    ex
}

/// Split an ARN on `:` outside `${…}` (CloudFormation's `${AWS::AccountId}` has colons).
fn arn_fields(s: &str) -> Option<Vec<&str>> {
    if !s.starts_with("arn:") {
        return None;
    }
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    let b = s.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 && out.len() < 5 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    (out.len() == 6).then_some(out)
}

/// In `Resource`/`NotResource` ARNs, a partition, region or account given wholly by an
/// infrastructure variable (`${AWS::AccountId}`, `${data.aws_caller_identity.me.account_id}`)
/// is read as `aws` or `*`: those fields never narrow what a statement reaches within the
/// account, and left opaque they would hide `user/*`-style breadth. IAM's own policy
/// variables (`${aws:…}`) are kept. Returns whether anything changed.
pub fn widen_arn_fields(doc: &mut Value) -> bool {
    let opaque = |f: &str| {
        let inner = f.strip_prefix("${").and_then(|r| r.strip_suffix('}')).map(str::to_ascii_lowercase);
        // IAM policy variables are `${aws:name}`; CloudFormation pseudo parameters `${AWS::Name}`.
        inner.is_some_and(|i| !i.starts_with("aws:") || i.starts_with("aws::"))
    };
    let mut changed = false;
    let fix = |v: &mut Value, changed: &mut bool| {
        if let Value::String(s) = v {
            if let Some(f) = arn_fields(s) {
                if opaque(f[1]) || opaque(f[3]) || opaque(f[4]) {
                    let part = if opaque(f[1]) { "aws" } else { f[1] };
                    let region = if opaque(f[3]) { "*" } else { f[3] };
                    let account = if opaque(f[4]) { "*" } else { f[4] };
                    *s = format!("arn:{part}:{}:{region}:{account}:{}", f[2], f[5]);
                    *changed = true;
                }
            }
        }
    };
    let statements: Vec<&mut Value> = match doc.get_mut("Statement") {
        Some(Value::Array(items)) => items.iter_mut().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    };
    for st in statements {
        for key in ["Resource", "NotResource"] {
            match st.get_mut(key) {
                Some(Value::Array(items)) => items.iter_mut().for_each(|v| fix(v, &mut changed)),
                Some(v) => fix(v, &mut changed),
                None => {}
            }
        }
    }
    changed
}

/// A scored policy.
#[derive(Debug, Clone)]
pub struct Scored {
    pub found: Found,
    pub report: Report,
}

/// One file's outcome.
pub struct FileScan {
    /// Path as shown to the user.
    pub label: String,
    /// Path relative to the repository root (SARIF, matching against the base); else the label.
    pub uri: String,
    pub source: Option<SourceKind>,
    pub policies: Vec<Scored>,
    pub errors: Vec<FileError>,
    pub unresolved: Vec<Unresolved>,
}

/// Extract and score one file's text, read alone.
pub fn scan_text(label: &str, uri: &str, text: &str, options: &ScoreOptions) -> FileScan {
    scan_text_with(label, uri, text, options, &Context::alone())
}

/// Extract and score one file's text with the files around it.
pub fn scan_text_with(label: &str, uri: &str, text: &str, options: &ScoreOptions, cx: &Context) -> FileScan {
    let mut ex = extract_with(label, uri, text, cx);
    if matches!(ex.source, Some(SourceKind::Cloudformation | SourceKind::Terraform)) {
        for f in &mut ex.policies {
            if widen_arn_fields(&mut f.document) {
                f.notes.push("ARN partition, region or account given by a variable is read as `aws` or `*`".into());
            }
        }
    }
    let mut errors = ex.errors;
    let mut policies = Vec::with_capacity(ex.policies.len());
    for found in ex.policies {
        let opts;
        let o = match (found.policy_type, options.policy_type) {
            (Some(t), None) => {
                opts = ScoreOptions { policy_type: Some(t), ..options.clone() };
                &opts
            }
            _ => options,
        };
        match risk_core::score_value(&found.document, o) {
            Ok(report) => policies.push(Scored { found, report }),
            Err(e) => errors.push(FileError {
                file: String::new(),
                line: Some(found.line),
                address: (!found.address.is_empty()).then(|| found.address.clone()),
                message: e.to_string(),
                details: e.problems().to_vec(),
            }),
        }
    }
    if ex.source == Some(SourceKind::AuthorizationDetails) {
        // Ranked: the riskiest principal first.
        policies
            .sort_by(|a, b| b.report.score.cmp(&a.report.score).then_with(|| a.found.address.cmp(&b.found.address)));
    }
    for e in &mut errors {
        e.file = label.to_string();
    }
    let mut unresolved = ex.unresolved;
    for u in &mut unresolved {
        u.file = label.to_string();
    }
    FileScan { label: label.to_string(), uri: uri.to_string(), source: ex.source, policies, errors, unresolved }
}

/// Read a file for scanning: UTF-8 of at most `max` bytes. A larger file is refused before
/// it is read (by its size on disk, then by what is actually read, for files that grow).
pub fn read(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let too_big = |size: String| {
        format!(
            "file is {size}, larger than scan's limit of {} per file; raise it with `--max-file-size` (e.g. `--max-file-size {}`) if this file is meant to be scanned",
            show_size(max),
            show_size(max.saturating_mul(4)).replace(' ', "")
        )
    };
    let on_disk = f.metadata().map(|m| m.len()).unwrap_or(0);
    if on_disk > max {
        return Err(too_big(show_size(on_disk)));
    }
    let mut buf = Vec::with_capacity(on_disk as usize);
    f.take(max + 1).read_to_end(&mut buf).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if buf.len() as u64 > max {
        return Err(too_big(format!("more than {}", show_size(max))));
    }
    String::from_utf8(buf)
        .map_err(|e| format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
}

/// Expand paths: directories are walked (hidden entries skipped, only scannable extensions);
/// files are taken as given. Sorted, deduplicated.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|_| format!("path not found: {}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out).map_err(|e| format!("{}: {e}", p.display()))?;
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&entry.path(), out)?;
        } else if ft.is_file() && scannable(&name) {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// How a policy changed against the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Modified,
    Removed,
    Unchanged,
}

/// The per-policy change, in the v1 JSON keys.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub status: Status,
    /// `null` for an added policy.
    pub old_score: Option<u8>,
    /// `null` for a removed policy.
    pub new_score: Option<u8>,
    /// New minus old; an added policy counts from an empty one, a removed one down to it.
    pub risk_delta: i16,
    pub added_actions: ActionsByService,
    pub added_actions_total: usize,
    pub removed_actions_total: usize,
    pub new_findings: Vec<Finding>,
    pub resolved_findings: Vec<Finding>,
}

impl Change {
    fn unchanged(score: u8) -> Self {
        Change {
            status: Status::Unchanged,
            old_score: Some(score),
            new_score: Some(score),
            risk_delta: 0,
            added_actions: Default::default(),
            added_actions_total: 0,
            removed_actions_total: 0,
            new_findings: Vec::new(),
            resolved_findings: Vec::new(),
        }
    }

    fn from_diff(status: Status, d: PolicyDiff) -> Self {
        Change {
            status,
            old_score: (status != Status::Added).then_some(d.old_score),
            new_score: (status != Status::Removed).then_some(d.new_score),
            risk_delta: d.risk_delta,
            added_actions: d.added_actions,
            added_actions_total: d.added_actions_total,
            removed_actions_total: d.removed_actions_total,
            new_findings: d.new_findings,
            resolved_findings: d.resolved_findings,
        }
    }

    /// Does this change widen access: a higher score or a new finding?
    pub fn increased(&self) -> bool {
        self.risk_delta > 0 || !self.new_findings.is_empty()
    }
}

/// One policy in the output.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file: String,
    pub uri: String,
    pub source: SourceKind,
    pub found: Found,
    /// The current result; `None` when the policy was removed.
    pub report: Option<Report>,
    /// Against the base (`scan --base`, `diff` of infrastructure files).
    pub change: Option<Change>,
}

impl Entry {
    /// Changed against the base, or any policy without one.
    pub fn is_relevant(&self) -> bool {
        self.change.as_ref().is_none_or(|c| matches!(c.status, Status::Added | Status::Modified))
    }

    /// The line of a finding's statement, else of the policy.
    pub fn line_of(&self, f: &Finding) -> usize {
        f.statement.and_then(|i| self.found.statement_lines.get(i)).copied().unwrap_or(self.found.line)
    }

    pub fn score(&self) -> Option<u8> {
        self.report.as_ref().map(|r| r.score)
    }
}

fn empty_policy() -> Value {
    serde_json::json!({"Version": "2012-10-17", "Statement": []})
}

fn diff_opts(options: &ScoreOptions, found: &Found) -> ScoreOptions {
    match (found.policy_type, options.policy_type) {
        (Some(t), None) => ScoreOptions { policy_type: Some(t), ..options.clone() },
        _ => options.clone(),
    }
}

/// Pair the policies of one file's two versions by address.
pub fn pair(
    file: &str,
    uri: &str,
    source: SourceKind,
    old: Vec<Scored>,
    new: Vec<Scored>,
    options: &ScoreOptions,
) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut old: Vec<Option<Scored>> = old.into_iter().map(Some).collect();
    for n in new {
        let matched = old
            .iter_mut()
            .find(|o| o.as_ref().is_some_and(|o| o.found.address == n.found.address))
            .and_then(Option::take);
        let change = match &matched {
            Some(o)
                if o.report.policy_fingerprint == n.report.policy_fingerprint
                    && o.found.policy_type == n.found.policy_type =>
            {
                Change::unchanged(n.report.score)
            }
            Some(o) => {
                match risk_core::diff::diff_values(&o.found.document, &n.found.document, &diff_opts(options, &n.found))
                {
                    Ok(d) => Change::from_diff(Status::Modified, d),
                    Err(_) => Change::unchanged(n.report.score),
                }
            }
            None => {
                match risk_core::diff::diff_values(&empty_policy(), &n.found.document, &diff_opts(options, &n.found)) {
                    Ok(d) => Change::from_diff(Status::Added, d),
                    Err(_) => Change::unchanged(n.report.score),
                }
            }
        };
        out.push(Entry {
            file: file.to_string(),
            uri: uri.to_string(),
            source,
            report: Some(n.report),
            found: n.found,
            change: Some(change),
        });
    }
    for o in old.into_iter().flatten() {
        let change =
            match risk_core::diff::diff_values(&o.found.document, &empty_policy(), &diff_opts(options, &o.found)) {
                Ok(d) => Change::from_diff(Status::Removed, d),
                Err(_) => continue,
            };
        out.push(Entry {
            file: file.to_string(),
            uri: uri.to_string(),
            source,
            report: None,
            found: o.found,
            change: Some(change),
        });
    }
    out
}

/// The whole outcome of a scan or an infrastructure diff, ready to render.
pub struct ScanRun {
    pub entries: Vec<Entry>,
    pub errors: Vec<FileError>,
    pub unresolved: Vec<Unresolved>,
    pub files_scanned: usize,
    pub files_with_policies: usize,
    /// `(ref as given, commit)` with `--base`.
    pub base: Option<(String, String)>,
    pub threshold: Option<u8>,
    pub gate: Gate,
}

impl ScanRun {
    /// A run of these entries, judged by `rules` (the gate is evaluated here).
    pub fn judged(
        entries: Vec<Entry>,
        errors: Vec<FileError>,
        unresolved: Vec<Unresolved>,
        (files_scanned, files_with_policies): (usize, usize),
        base: Option<(String, String)>,
        rules: &GateRules,
    ) -> ScanRun {
        let gate = evaluate(&entries, rules);
        ScanRun {
            entries,
            errors,
            unresolved,
            files_scanned,
            files_with_policies,
            base,
            threshold: rules.threshold,
            gate,
        }
    }

    pub fn compared(&self) -> bool {
        self.entries.iter().any(|e| e.change.is_some()) || self.base.is_some()
    }

    /// No policy, no error and nothing unresolved under any path: most likely a mistyped path
    /// or a directory that moved, which must not pass a CI gate as "no risk".
    pub fn found_nothing(&self) -> bool {
        self.entries.is_empty() && self.errors.is_empty() && self.unresolved.is_empty()
    }
}

/// Why the run fails, if it does.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Gate {
    pub failed: bool,
    pub reasons: Vec<String>,
}

/// The failing conditions chosen on the command line.
#[derive(Debug, Clone, Default)]
pub struct GateRules {
    pub threshold: Option<u8>,
    pub fail_on_increase: bool,
    pub fail_on_category: Vec<String>,
}

pub fn evaluate(entries: &[Entry], rules: &GateRules) -> Gate {
    let mut reasons = Vec::new();
    let name = |e: &Entry| {
        if e.found.address.is_empty() {
            format!("`{}`", e.file)
        } else {
            format!("`{}` in `{}`", e.found.address, e.file)
        }
    };
    for e in entries.iter().filter(|e| e.is_relevant()) {
        let Some(r) = &e.report else { continue };
        if let Some(t) = rules.threshold {
            if r.score >= t {
                reasons.push(format!("{} scores {}/10, at or above the threshold {t}", name(e), r.score));
            }
        }
        if rules.fail_on_increase {
            if let Some(c) = &e.change {
                if c.risk_delta > 0 {
                    reasons.push(format!("{} rises by {} to {}/10", name(e), c.risk_delta, r.score));
                } else if !c.new_findings.is_empty() {
                    reasons.push(format!("{} has {} new finding(s)", name(e), c.new_findings.len()));
                }
            }
        }
        let findings: &[Finding] = match &e.change {
            Some(c) => &c.new_findings,
            None => &r.findings,
        };
        for cat in &rules.fail_on_category {
            if let Some(f) = findings.iter().find(|f| &f.category == cat) {
                reasons.push(format!("{} has a {} finding: {} {}", name(e), cat, f.rule, f.name));
            }
        }
    }
    Gate { failed: !reasons.is_empty(), reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_fields_given_by_variables_widen() {
        let mut d = serde_json::json!({"Statement": [{"Resource": ["arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*",
            "arn:aws:s3:::${aws:username}/*", "arn:aws:iam::${data.aws_caller_identity.me.account_id}:role/x"]}]});
        assert!(widen_arn_fields(&mut d));
        assert_eq!(d["Statement"][0]["Resource"][0], "arn:aws:iam::*:user/*");
        assert_eq!(d["Statement"][0]["Resource"][1], "arn:aws:s3:::${aws:username}/*");
        assert_eq!(d["Statement"][0]["Resource"][2], "arn:aws:iam::*:role/x");
    }

    #[test]
    fn sizes_parse_in_binary_and_decimal_units_and_show_plainly() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("2kb"), Ok(2_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "MiB", "0", "0.1", "1TB", "-5", "1,5MB", "1e9"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(show_size(MAX_SCAN_BYTES), "64 MiB");
        assert_eq!(show_size(80 * (1 << 20) + (1 << 19)), "80.5 MiB");
        assert_eq!(show_size(2048), "2 KiB");
        assert_eq!(show_size(2100), "2.1 KiB");
        assert_eq!(show_size(12), "12 bytes");
    }

    #[test]
    fn a_container_is_classified_by_its_top_level_keys_alone() {
        assert_eq!(
            top_level_keys(r#"{"a": {"b": [1, {"c": 2}]}, "Statement": []}"#).unwrap(),
            Some(vec!["a".into(), "Statement".into()])
        );
        assert_eq!(top_level_keys("[1, 2]").unwrap(), None);
        assert_eq!(top_level_keys("\"x\"").unwrap(), None);
        assert!(top_level_keys(r#"{"a": 1} trailing"#).is_err());
        // A repeated key in a plan, outside any policy, does not refuse the file.
        let plan = r#"{"format_version": "1.2", "format_version": "1.2", "planned_values": {"root_module": {"resources": []}}}"#;
        let ex = extract("p.json", plan);
        assert_eq!((ex.source, ex.errors.len()), (Some(SourceKind::TerraformPlan), 0));
        // In a standalone policy it does.
        let ex = extract("p.json", r#"{"Statement": [], "Statement": []}"#);
        assert_eq!(ex.errors.len(), 1, "{:?}", ex.errors.iter().map(|e| &e.message).collect::<Vec<_>>());
    }

    #[test]
    fn non_policy_files_are_skipped_and_broken_ones_reported() {
        assert!(extract("package.json", r#"{"name": "x", "version": "1"}"#).source.is_none());
        assert!(extract("ci.yml", "on: push\njobs: {}\n").source.is_none());
        assert!(extract("notes.json", "{ not json").source.is_none());
        let ex = extract("p.json", "{\"Statement\": [\n{\"Effect\": \"Allow\",}]}");
        assert_eq!(ex.source, Some(SourceKind::Policy));
        assert_eq!(ex.errors.len(), 1);
        assert_eq!(ex.errors[0].line, Some(2));
        let ex = extract("t.yaml", "AWSTemplateFormatVersion: x\nResources: [\n");
        assert_eq!(ex.errors.len(), 1, "{:?}", ex.errors);
        let ex = extract("main.tf", "resource \"aws_iam_policy\" \"x\" {\n  policy = \n}\n");
        assert_eq!(ex.errors.len(), 1);
        assert!(extract("vars.tf", "variable \"x\" {}\n").source.is_none());
    }
}
