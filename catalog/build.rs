//! Build script: turns `data/catalog.json` into static Rust tables in `$OUT_DIR/catalog.rs`.
//!
//! The JSON is validated here (ordering, ASCII, indices, counts) so that the lookups in
//! `src/lib.rs` can rely on the invariants without checking them at run time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

/// The `format` of `catalog.json` this script understands; see `scripts/regenerate.py`.
const FORMAT: u64 = 1;

type Result<T> = std::result::Result<T, String>;

#[path = "src/shared.rs"]
mod shared;
use shared::{name_hash, variables_to_wildcards};

fn main() {
    println!("cargo:rerun-if-changed=data/catalog.json");
    println!("cargo:rerun-if-changed=build.rs");
    if let Err(e) = run() {
        eprintln!("error: catalog/data/catalog.json: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let manifest = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let text = std::fs::read_to_string(manifest.join("data/catalog.json")).map_err(|e| format!("cannot read: {e}"))?;
    let root: Value = serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?;
    let code = generate(&root)?;
    let out = PathBuf::from(env("OUT_DIR")?).join("catalog.rs");
    std::fs::write(&out, code).map_err(|e| format!("cannot write `{}`: {e}", out.display()))
}

fn env(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| format!("`{name}` is not set"))
}

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value> {
    v.get(key).ok_or_else(|| format!("missing field `{key}`"))
}

fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str> {
    v.as_str().ok_or_else(|| format!("{what} is not a string"))
}

fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value]> {
    v.as_array().map(Vec::as_slice).ok_or_else(|| format!("{what} is not an array"))
}

/// A fixed-length array (the compact rows of `catalog.json`).
fn row<'a>(v: &'a Value, len: usize, what: &str) -> Result<&'a [Value]> {
    let a = array(v, what)?;
    if a.len() == len {
        Ok(a)
    } else {
        Err(format!("{what} has {} items, expected {len}", a.len()))
    }
}

fn count(header: &Value, key: &str) -> Result<usize> {
    let n = field(field(header, "counts")?, key)?;
    n.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| format!("`counts.{key}` is not a count"))
}

/// Lookups compare bytes case-insensitively, so every name they touch must be ASCII
/// and already lowercase where the tables store it lowercase.
fn ascii(s: &str, what: &str) -> Result<()> {
    if s.is_ascii() {
        Ok(())
    } else {
        Err(format!("{what} `{s}` is not ASCII"))
    }
}

fn access_level(s: &str) -> Result<&'static str> {
    Ok(match s {
        "List" => "List",
        "Read" => "Read",
        "Write" => "Write",
        "Permissions management" => "PermissionsManagement",
        "Tagging" => "Tagging",
        other => return Err(format!("unknown access level `{other}`")),
    })
}

/// A pool of generated table rows: lists are appended once and shared when identical,
/// so each list becomes an (offset, length) slice of one static array.
#[derive(Default)]
struct Pool {
    rows: Vec<String>,
    seen: HashMap<Vec<String>, usize>,
}

impl Pool {
    /// Adds a list of rows (already Rust expressions) and returns the expression for the
    /// slice, using `func(offset, len)`; empty lists need no pool entry.
    fn slice(&mut self, func: &str, items: Vec<String>) -> String {
        if items.is_empty() {
            return "&[]".to_owned();
        }
        let len = items.len();
        let offset = self.offset(items);
        format!("{func}({offset},{len})")
    }

    /// Adds a list of rows and returns its offset in the pool (lists are shared).
    fn offset(&mut self, items: Vec<String>) -> usize {
        if items.is_empty() {
            return 0;
        }
        match self.seen.get(&items) {
            Some(&offset) => offset,
            None => {
                let offset = self.rows.len();
                self.rows.extend(items.iter().cloned());
                self.seen.insert(items, offset);
                offset
            }
        }
    }

    /// Emits the pool's static array and its slicing `const fn`.
    fn emit(&self, out: &mut String, table: &str, func: &str, ty: &str) {
        let _ = writeln!(
            out,
            "const fn {func}(start: usize, len: usize) -> &'static [{ty}] {{\n    \
             {table}.split_at(start).1.split_at(len).0\n}}"
        );
        // A static's references are `'static` already (clippy::redundant_static_lifetimes).
        let elem = ty.replace("&'static ", "&");
        let _ = writeln!(out, "pub(super) static {table}: [{elem}; {}] = [", self.rows.len());
        for row in &self.rows {
            let _ = writeln!(out, "{row},");
        }
        out.push_str("];\n");
    }
}

/// Rust string literals for a JSON list of strings.
fn literals(items: &Value, what: &str) -> Result<Vec<String>> {
    array(items, what)?
        .iter()
        // Debug formatting of a str is a valid Rust string literal.
        .map(|item| string(item, what).map(|s| format!("{s:?}")))
        .collect()
}

// NOTE: The tables are flat arrays and every nested list is a `const fn` slice of a
// pool. Writing the lists inline (`resources: &[ActionResource { .. }]`) is far slower
// to type-check: a clean build of this crate took about a minute that way.
fn generate(root: &Value) -> Result<String> {
    // Condition keys are validated always but compiled in only with the `condition-keys`
    // feature: the engine does not read them, and they are ~390 KB of the WASM module.
    let with_keys = std::env::var_os("CARGO_FEATURE_CONDITION_KEYS").is_some();
    let gate = |v: Vec<String>| if with_keys { v } else { Vec::new() };
    // The fields themselves exist only with the feature (`#[cfg]` in lib.rs): an empty slice
    // still costs 8 bytes per row on wasm32, ~300 KB over every action and resource type.
    let ck_field = |slice: String| if with_keys { format!(",condition_keys:{slice}") } else { String::new() };
    // Lowercase `service:action` names in ACTION_TABLE order, for the lookup hash table.
    let mut full_lower: Vec<String> = Vec::new();
    let format = field(root, "format")?.as_u64();
    if format != Some(FORMAT) {
        return Err(format!("format {format:?} is not {FORMAT}; regenerate with catalog/scripts/regenerate.py"));
    }
    let services = array(field(root, "services")?, "`services`")?;
    if services.len() > usize::from(u16::MAX) {
        return Err("too many services for a u16 index".into());
    }

    let mut keys = Pool::default(); // &'static str condition keys
    let mut action_resources = Pool::default();
    let mut resource_types = Pool::default();
    let mut condition_keys = Pool::default();
    let mut svc_rows = Vec::with_capacity(services.len());
    let mut action_rows = Vec::new();
    let mut names = String::new();
    let mut resource_text = String::new();
    // Leading words of action names ("Get" of GetObject), numbered in order of first use.
    let mut verbs: Vec<String> = Vec::new();
    let mut verb_ids: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut n_resource_types = 0;
    let mut n_condition_keys = 0;
    let mut prev_prefix: Option<&str> = None;

    for (si, svc) in services.iter().enumerate() {
        let prefix = string(field(svc, "prefix")?, "service prefix")?;
        ascii(prefix, "service prefix")?;
        if prefix.is_empty() || prefix.contains(':') || prefix != prefix.to_ascii_lowercase() {
            return Err(format!("bad service prefix `{prefix}`"));
        }
        if prev_prefix.is_some_and(|p| p >= prefix) {
            return Err(format!("services not strictly sorted at `{prefix}`"));
        }
        prev_prefix = Some(prefix);
        let name = string(field(svc, "name")?, "service name")?;

        // Resource types: the action rows refer to them by name.
        let rtypes = array(field(svc, "resourceTypes")?, "`resourceTypes`")?;
        if rtypes.len() > usize::from(u16::MAX) {
            return Err(format!("`{prefix}` has too many resource types"));
        }
        let mut rt_names: Vec<&str> = Vec::with_capacity(rtypes.len());
        let mut rt_rows = Vec::with_capacity(rtypes.len());
        for rt in rtypes {
            let r = row(rt, 3, "resource type")?;
            let rname = string(&r[0], "resource type name")?;
            ascii(rname, "resource type name")?;
            if rt_names.contains(&rname) {
                return Err(format!("`{prefix}` repeats resource type `{rname}`"));
            }
            rt_names.push(rname);
            let arn = string(&r[1], "ARN pattern")?;
            let ck = keys.slice("keys", gate(literals(&r[2], "condition key")?));
            let (arn_service, resource_glob) = arn_globs(arn);
            let text_at = resource_text.len();
            let mut lens = Vec::with_capacity(4);
            for part in [rname, arn, arn_service.as_str(), resource_glob.as_str()] {
                lens.push(
                    u16::try_from(part.len()).map_err(|_| format!("`{prefix}` resource type `{rname}` is too long"))?,
                );
                resource_text.push_str(part);
            }
            rt_rows.push(format!("ResourceType{{text_at:{text_at},lens:{lens:?}{}}}", ck_field(ck)));
        }
        n_resource_types += rtypes.len();
        let rt_slice = resource_types.slice("resource_types", rt_rows);

        let ckeys = array(field(svc, "conditionKeys")?, "`conditionKeys`")?;
        let mut ck_rows = Vec::with_capacity(ckeys.len());
        for ck in ckeys {
            let c = row(ck, 2, "condition key")?;
            let key = string(&c[0], "condition key")?;
            let kind = string(&c[1], "condition key type")?;
            ck_rows.push(format!("ConditionKey{{key:{key:?},kind:{kind:?}}}"));
        }
        n_condition_keys += ckeys.len();
        let ck_slice = condition_keys.slice("condition_keys", gate(ck_rows));

        let actions = array(field(svc, "actions")?, "`actions`")?;
        let start = action_rows.len();
        let mut prev_lower = String::new();
        for act in actions {
            let a = row(act, 4, "action")?;
            let aname = string(&a[0], "action name")?;
            ascii(aname, "action name")?;
            let lower = aname.to_ascii_lowercase();
            if lower.contains(':') || lower.is_empty() {
                return Err(format!("bad action name `{prefix}:{aname}`"));
            }
            // The lookups binary-search a service's actions by lowercase name.
            if !prev_lower.is_empty() && prev_lower >= lower {
                return Err(format!("`{prefix}` actions not strictly sorted at `{aname}`"));
            }
            let access = access_level(string(&a[1], "access level")?)?;
            let mut res_rows = Vec::new();
            for res in array(&a[2], "action resources")? {
                let r = row(res, 3, "action resource")?;
                let rname = string(&r[0], "resource type name")?;
                let index = rt_names
                    .iter()
                    .position(|n| *n == rname)
                    .ok_or_else(|| format!("`{prefix}:{aname}` refers to unknown resource type `{rname}`"))?;
                let required =
                    r[1].as_bool().ok_or_else(|| format!("`{prefix}:{aname}` has a non-boolean `required`"))?;
                let ck = keys.slice("keys", gate(literals(&r[2], "condition key")?));
                res_rows.push(format!("ActionResource{{resource_type:{index},required:{required}{}}}", ck_field(ck)));
            }
            let (name_len, resources_len) = (u8::try_from(aname.len()), u8::try_from(res_rows.len()));
            let (Ok(name_len), Ok(resources_len)) = (name_len, resources_len) else {
                return Err(format!("`{prefix}:{aname}`: name or resource list longer than 255"));
            };
            let resources_at = action_resources.offset(res_rows);
            let ck = keys.slice("keys", gate(literals(&a[3], "condition key")?));
            // Names are stored once, in canonical case, in one string; lookups fold case on
            // both sides. Offsets, not references: see `Action` in lib.rs.
            let name_at = names.len();
            names.push_str(aname);
            // The leading word: the first character and those up to the next uppercase letter.
            let word_len = 1 + aname[1..].find(|c: char| c.is_ascii_uppercase()).unwrap_or(aname.len() - 1);
            let word = &aname[..word_len];
            let verb = match verb_ids.get(word) {
                Some(&v) => v,
                None => {
                    verbs.push(word.to_string());
                    verb_ids.insert(word.to_string(), verbs.len() - 1);
                    verbs.len() - 1
                }
            };
            action_rows.push(format!(
                "Action{{service:{si},access:AccessLevel::{access},name_len:{name_len},\
                 resources_len:{resources_len},verb:{verb},name_at:{name_at},resources_at:{resources_at}{}}}",
                ck_field(ck)
            ));
            full_lower.push(format!("{prefix}:{lower}"));
            prev_lower = lower;
        }
        let end = action_rows.len();
        svc_rows.push(format!(
            "Service{{prefix:{prefix:?},name:{name:?},actions:{start}..{end},resource_types:{rt_slice}{}}}",
            ck_field(ck_slice)
        ));
    }
    let n_actions = action_rows.len();
    if u32::try_from(names.len()).is_err() || u32::try_from(action_resources.rows.len()).is_err() {
        return Err("action names or resource lists too long for u32 offsets".into());
    }
    if u32::try_from(n_actions).is_err() {
        return Err("too many actions for a u32 index".into());
    }

    // The header's counts guard against a truncated or hand-edited file.
    for (key, actual) in [
        ("services", services.len()),
        ("actions", n_actions),
        ("resourceTypes", n_resource_types),
        ("conditionKeys", n_condition_keys),
    ] {
        let expected = count(root, key)?;
        if expected != actual {
            return Err(format!("`counts.{key}` says {expected}, found {actual}"));
        }
    }

    let mut out = String::with_capacity(8 << 20);
    out.push_str("// @generated by catalog/build.rs from catalog/data/catalog.json; do not edit.\n");
    for (name, key, doc) in [
        ("SOURCE", "source", "The npm package the catalog was generated from."),
        ("VERSION", "version", "The version of [`SOURCE`] the catalog was generated from."),
        ("UPDATED_AT", "updatedAt", "The `updatedAt` stamp of that package version."),
        ("LICENSE", "license", "The licence of the source data (SPDX)."),
    ] {
        let value = string(field(root, key)?, key)?;
        let _ = writeln!(out, "/// {doc}\npub const {name}: &str = {value:?};");
    }
    keys.emit(&mut out, "KEY_POOL", "keys", "&'static str");
    action_resources.emit(&mut out, "ACTION_RESOURCE_POOL", "action_resources", "ActionResource");
    let _ = writeln!(out, "pub(super) static ACTION_NAMES: &str = {names:?};");
    // Leading words as one string and each word's end offset (u16: a few hundred short words).
    let verb_text = verbs.concat();
    if u16::try_from(verb_text.len()).is_err() {
        return Err("leading words of action names too long for u16 offsets".into());
    }
    let mut end = 0;
    let ends: Vec<String> = verbs
        .iter()
        .map(|v| {
            end += v.len();
            end.to_string()
        })
        .collect();
    let _ = writeln!(out, "pub(super) static VERB_TEXT: &str = {verb_text:?};");
    let _ = writeln!(out, "pub(super) static VERB_ENDS: [u16; {}] = [{}];", ends.len(), ends.join(","));
    if u32::try_from(resource_text.len()).is_err() {
        return Err("resource type text too long for u32 offsets".into());
    }
    let _ = writeln!(out, "pub(super) static RESOURCE_TEXT: &str = {resource_text:?};");
    resource_types.emit(&mut out, "RESOURCE_TYPE_POOL", "resource_types", "ResourceType");
    condition_keys.emit(&mut out, "CONDITION_KEY_POOL", "condition_keys", "ConditionKey");
    let _ = writeln!(out, "pub(super) static SERVICE_TABLE: [Service; {}] = [", svc_rows.len());
    for r in &svc_rows {
        let _ = writeln!(out, "{r},");
    }
    let _ = writeln!(
        out,
        "];\npub const ACTION_COUNT: usize = {n_actions};\npub(super) static ACTION_TABLE: [Action; {n_actions}] = ["
    );
    for r in &action_rows {
        let _ = writeln!(out, "{r},");
    }
    out.push_str("];\n");
    // Open-addressing hash table over lowercase full names: slot -> action index + 1 (0 =
    // empty). Lookups hash the input with ASCII folding, so they never allocate.
    let slots = (full_lower.len() * 3 / 2).next_power_of_two();
    if full_lower.len() >= usize::from(u16::MAX) {
        return Err("too many actions for a u16 hash table".into());
    }
    let mut table = vec![0u16; slots];
    for (i, name) in full_lower.iter().enumerate() {
        let mut h = name_hash(name.as_bytes()) as usize & (slots - 1);
        while table[h] != 0 {
            h = (h + 1) & (slots - 1);
        }
        table[h] = (i + 1) as u16;
    }
    let _ = write!(out, "pub(super) static ACTION_HASH: [u16; {slots}] = [");
    for (k, v) in table.iter().enumerate() {
        if k % 32 == 0 {
            out.push('\n');
        }
        let _ = write!(out, "{v},");
    }
    out.push_str("];\n");
    Ok(out)
}

/// Split an ARN template into its service field and its resource part with every `${Var}`
/// turned into `*`, so the engine can compare policy patterns without parsing templates at
/// run time. Templates that are not ARN-shaped keep an empty service and the whole text.
fn arn_globs(arn: &str) -> (String, String) {
    match arn.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() == 5 {
                (parts[1].to_string(), variables_to_wildcards(parts[4]))
            } else {
                (String::new(), variables_to_wildcards(arn))
            }
        }
        None => (String::new(), variables_to_wildcards(arn)),
    }
}
