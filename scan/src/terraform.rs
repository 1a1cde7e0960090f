//! Terraform HCL: `data "aws_iam_policy_document"` blocks rebuilt as policy JSON, and
//! `jsonencode({…})`, heredoc, `file()`/`templatefile()` or string JSON policies on IAM and
//! resource-policy resources — read with the module around them.
//!
//! A module is the `*.tf` files of one directory. Its `locals`, literal `variable` defaults,
//! policy documents (also in other files of the module, and chained through
//! `source_policy_documents` / `override_policy_documents`) and the policy files it reads are
//! evaluated by [`super::hcl_eval`]; what cannot be known here (resource attributes, data
//! sources, variables without a default) stays the opaque string `${<expression>}`, which the
//! engine treats as an unknown action or a specific resource, and every such policy says so
//! in its notes. A policy attribute whose whole value is unknown is listed as unresolved.

use super::hcl_eval::{opaque, Eval, Lines, Scope, Val, V};
use super::tree::{Kind, Node};
use super::{Extracted, FileError, Found, Unresolved};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;
use risk_core::PolicyType;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const OPAQUE_NOTE: &str = "dynamic Terraform values are kept as opaque `${…}` values";

/// Policy attributes of the resource types that carry policy documents.
pub(super) fn attributes(resource_type: &str) -> &'static [(&'static str, PolicyType)] {
    use PolicyType::*;
    match resource_type {
        "aws_iam_policy" | "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => {
            &[("policy", Identity)]
        }
        "aws_iam_role" => &[("assume_role_policy", Trust)],
        "aws_s3_bucket_policy"
        | "aws_sqs_queue_policy"
        | "aws_sns_topic_policy"
        | "aws_s3_bucket"
        | "aws_sqs_queue"
        | "aws_sns_topic"
        | "aws_kms_key"
        | "aws_kms_replica_key"
        | "aws_ecr_repository_policy"
        | "aws_ecr_registry_policy"
        | "aws_secretsmanager_secret_policy"
        | "aws_secretsmanager_secret"
        | "aws_s3_access_point"
        | "aws_s3control_access_point_policy"
        | "aws_s3control_bucket_policy"
        | "aws_glacier_vault"
        | "aws_backup_vault_policy"
        | "aws_efs_file_system_policy"
        | "aws_cloudwatch_event_bus_policy"
        | "aws_lambda_layer_version_permission"
        | "aws_api_gateway_rest_api_policy"
        | "aws_iot_policy" => &[("policy", Resource)],
        "aws_api_gateway_rest_api" => &[("policy", Resource)],
        "aws_vpc_endpoint" | "aws_vpc_endpoint_policy" => &[("policy", Resource)],
        "aws_cloudwatch_log_resource_policy" => &[("policy_document", Resource)],
        "aws_opensearch_domain_policy" | "aws_elasticsearch_domain_policy" => &[("access_policies", Resource)],
        "aws_opensearch_domain" | "aws_elasticsearch_domain" => &[("access_policies", Resource)],
        "aws_ecr_repository_policy_document" => &[("policy", Resource)],
        "aws_ssoadmin_permission_set_inline_policy" => &[("inline_policy", Identity)],
        "aws_iam_user_policy_attachment" | "aws_iam_role_policy_attachment" => &[],
        _ => &[],
    }
}

/// Where `file()` and `templatefile()` read from: a path as the configuration gives it,
/// relative to the module directory.
pub type FileReader = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

struct Unit {
    label: String,
    text: Arc<str>,
    lines: Arc<Lines>,
    body: Body,
}

/// The `*.tf` files of one directory, parsed once and shared by their scans.
pub struct Module {
    dir: String,
    units: Vec<Unit>,
    variables: HashMap<String, (usize, Option<Expression>)>,
    locals: HashMap<String, (usize, Expression)>,
    documents: HashMap<String, (usize, Block)>,
    /// Which resource attribute uses which policy document, for its type and notes.
    used_by: BTreeMap<String, Vec<(String, PolicyType)>>,
    reader: FileReader,
}

impl Module {
    /// Parse `files` (label, text) of one directory; files that do not parse are left out
    /// (their own scan reports the error).
    pub fn new(dir: &str, files: Vec<(String, String)>, reader: FileReader) -> Module {
        let mut m = Module {
            dir: dir.to_string(),
            units: Vec::new(),
            variables: HashMap::new(),
            locals: HashMap::new(),
            documents: HashMap::new(),
            used_by: BTreeMap::new(),
            reader,
        };
        for (label, text) in files {
            let Ok(body) = hcl_edit::parser::parse_body(&text) else { continue };
            let lines = Arc::new(Lines::new(&text));
            m.units.push(Unit { label, text: text.as_str().into(), lines, body });
        }
        for (i, u) in m.units.iter().enumerate() {
            for block in u.body.blocks() {
                match (block.ident.as_str(), label(block, 0), label(block, 1)) {
                    ("variable", Some(name), _) => {
                        let default = block.body.get_attribute("default").map(|a| a.value.clone());
                        m.variables.insert(name.to_string(), (i, default));
                    }
                    ("locals", _, _) => {
                        for a in block.body.attributes() {
                            m.locals.insert(a.key.as_str().to_string(), (i, a.value.clone()));
                        }
                    }
                    ("data", Some("aws_iam_policy_document"), Some(name)) => {
                        m.documents.insert(name.to_string(), (i, block.clone()));
                    }
                    ("resource", Some(rtype), Some(name)) => {
                        let base = format!("{rtype}.{name}");
                        let mut uses = |e: &Expression, address: String, ptype: PolicyType| {
                            let src = e.span().and_then(|r| u.text.get(r)).unwrap_or("");
                            for doc in referenced_documents(src) {
                                m.used_by.entry(doc).or_default().push((address.clone(), ptype));
                            }
                        };
                        for (attr, ptype) in attributes(rtype) {
                            if let Some(a) = block.body.get_attribute(attr) {
                                let address =
                                    if rtype == "aws_iam_role" { format!("{base}.{attr}") } else { base.clone() };
                                uses(&a.value, address, *ptype);
                            }
                        }
                        if rtype == "aws_iam_role" {
                            for inline in block.body.get_blocks("inline_policy") {
                                if let Some(a) = inline.body.get_attribute("policy") {
                                    uses(&a.value, format!("{base}.inline_policy"), PolicyType::Identity);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        m
    }

    /// A module of one file's text alone (no other files, no file reads).
    pub fn single(label: &str, text: &str) -> Module {
        let reader: FileReader = Arc::new(|p: &str| Err(format!("`{p}` is not read when a file is scanned alone")));
        Module::new("", vec![(label.to_string(), text.to_string())], reader)
    }

    fn unit(&self, label: &str) -> Option<usize> {
        self.units.iter().position(|u| u.label == label)
    }
}

/// `data.aws_iam_policy_document.NAME` references in an expression's source.
fn referenced_documents(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("data.aws_iam_policy_document.") {
        rest = &rest[i + "data.aws_iam_policy_document.".len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn label(b: &Block, i: usize) -> Option<&str> {
    b.labels.get(i).map(|l| l.as_str())
}

/// What a cached local's value rested on when it was computed, replayed at each use.
#[derive(Debug, Clone, Default)]
struct Provenance {
    default_reads: usize,
    defaults: std::collections::BTreeSet<String>,
    chose: bool,
    opaque: bool,
}

/// A rendered policy document, its notes, and its unresolved parts (line, reason).
type Rendered = (Val, Vec<String>, Vec<(usize, String)>);

/// One instance of a block: its body, line, the iterator it binds (`dynamic`), and whether
/// it may not exist (its `for_each` depends on a choice a caller makes).
type Instance<'b> = (&'b Body, usize, Option<(String, Val)>, bool);

/// The module seen from one extraction: caches rendered documents, guards against cycles.
struct ModScope<'m> {
    m: &'m Module,
    in_progress: RefCell<Vec<String>>,
    docs: RefCell<HashMap<String, Option<Val>>>,
    locals: RefCell<HashMap<String, (Val, Provenance)>>,
    /// The inputs of a `module` call reading this module; `None` when read on its own.
    inputs: Option<HashMap<String, Val>>,
}

impl ModScope<'_> {
    fn guarded<T>(&self, key: String, f: impl FnOnce() -> Option<T>) -> Option<T> {
        if self.in_progress.borrow().contains(&key) {
            return None; // a cycle: unknown
        }
        self.in_progress.borrow_mut().push(key);
        let out = f();
        self.in_progress.borrow_mut().pop();
        out
    }

    fn in_unit<T>(&self, ev: &mut Eval<'_>, unit: usize, line: Option<usize>, f: impl FnOnce(&mut Eval<'_>) -> T) -> T {
        let u = &self.m.units[unit];
        ev.in_file(u.text.clone(), u.lines.clone(), line, f)
    }

    /// Render a policy document data source (with its chained sources) as a value.
    fn render_document(&self, ev: &mut Eval<'_>, name: &str) -> Option<Rendered> {
        let (unit, block) = self.m.documents.get(name)?;
        self.guarded(format!("doc:{name}"), || {
            let mut notes = Vec::new();
            let mut unresolved = Vec::new();
            let doc = self.in_unit(ev, *unit, None, |ev| {
                let saved = (ev.opaque, std::mem::take(&mut ev.defaults), ev.chose);
                ev.opaque = false;
                ev.chose = false;
                let d = policy_document(ev, block, &mut notes, &mut unresolved);
                assumption_notes(ev, &mut notes);
                ev.opaque |= saved.0;
                ev.defaults.extend(saved.1);
                ev.chose |= saved.2;
                d
            });
            Some((doc, notes, unresolved))
        })
    }
}

impl Scope for ModScope<'_> {
    fn variable(&self, ev: &mut Eval<'_>, name: &str, line: usize) -> Option<(Val, bool)> {
        if let Some(given) = self.inputs.as_ref().and_then(|i| i.get(name)) {
            let mut v = given.clone();
            v.relocate(line);
            return (!v.is_unknown()).then_some((v, false));
        }
        let (unit, default) = self.m.variables.get(name)?;
        let default = default.as_ref()?;
        self.guarded(format!("var:{name}"), || {
            let v = self.in_unit(ev, *unit, Some(line), |ev| ev.eval(default));
            // A default that refers to anything is not literal (Terraform refuses it anyway).
            // In a module call the default is what applies (nobody else can set it).
            (!v.has_unknown()).then_some((v, self.inputs.is_none()))
        })
    }

    fn local(&self, ev: &mut Eval<'_>, name: &str, line: usize) -> Option<Val> {
        let (unit, expr) = self.m.locals.get(name)?;
        let same_unit = ev_unit_matches(self.m, *unit, ev);
        // Evaluated once per extraction (at its own lines): a chain of locals that each use
        // the one before twice stays linear.
        let cached = self.locals.borrow().get(name).cloned();
        let (mut v, how) = match cached {
            Some(hit) => hit,
            None => {
                // What the local's value rests on is kept with it and replayed at every use:
                // a condition on `local.x` is a caller's choice if `local.x` read a default.
                let saved = (ev.default_reads, std::mem::take(&mut ev.defaults), ev.chose, ev.opaque);
                ev.chose = false;
                ev.opaque = false;
                let v =
                    self.guarded(format!("local:{name}"), || Some(self.in_unit(ev, *unit, None, |ev| ev.eval(expr))));
                let how = Provenance {
                    default_reads: ev.default_reads - saved.0,
                    defaults: std::mem::replace(&mut ev.defaults, saved.1),
                    chose: ev.chose,
                    opaque: ev.opaque,
                };
                ev.default_reads = saved.0;
                ev.chose = saved.2;
                ev.opaque = saved.3;
                let v = v?;
                self.locals.borrow_mut().insert(name.to_string(), (v.clone(), how.clone()));
                (v, how)
            }
        };
        ev.default_reads += how.default_reads;
        ev.defaults.extend(how.defaults);
        ev.chose |= how.chose;
        ev.opaque |= how.opaque;
        if !same_unit {
            v.relocate(line);
        }
        Some(v)
    }

    fn policy_document(&self, ev: &mut Eval<'_>, name: &str, line: usize) -> Option<Val> {
        if let Some(cached) = self.docs.borrow().get(name) {
            return cached.clone();
        }
        // A document whose `count` makes it certainly absent is null: `data.x.NAME[*].json`
        // is then an empty list, as in Terraform.
        if let Some((unit, block)) = self.m.documents.get(name) {
            if self.in_unit(ev, *unit, None, |ev| absent(self, ev, block)) {
                let null = Some(Val::new(line, V::Null));
                self.docs.borrow_mut().insert(name.to_string(), null.clone());
                return null;
            }
        }
        let rendered = self.render_document(ev, name);
        let out = rendered.map(|(mut doc, notes, unresolved)| {
            doc.relocate(line);
            let _ = (notes, unresolved); // reported where the document itself is scored
            let json = Val::new(line, V::Json(Box::new(doc)));
            Val::new(line, V::Obj(vec![("json".into(), json.clone()), ("minified_json".into(), json)]))
        });
        self.docs.borrow_mut().insert(name.to_string(), out.clone());
        out
    }

    fn read_file(&self, path: &str) -> Result<String, String> {
        (self.m.reader)(path)
    }

    fn module_path(&self) -> String {
        if self.m.dir.is_empty() {
            ".".into()
        } else {
            self.m.dir.clone()
        }
    }
}

/// Is the evaluator reading this unit's text now? (A local declared in the file being read
/// keeps its own lines; one from another file takes the line that uses it.)
fn ev_unit_matches(m: &Module, unit: usize, ev: &Eval<'_>) -> bool {
    ev.is_text(&m.units[unit].text)
}

/// Find every policy in a `.tf` file read alone. A syntax error is returned as `Err`.
pub fn extract(text: &str, ex: &mut Extracted) -> Result<(), String> {
    let module = Module::single("main.tf", text);
    extract_in(&module, "main.tf", text, ex, &|_| None)
}

/// Find every policy in the file `label` of `module`. When the module holds another text
/// under that label (an older version of the file), this text is read in its place.
pub fn extract_in(
    module: &Module,
    file: &str,
    text: &str,
    ex: &mut Extracted,
    modules: &dyn Fn(&str) -> Option<Arc<Module>>,
) -> Result<(), String> {
    let body = hcl_edit::parser::parse_body(text).map_err(|e| {
        let at = e.location();
        format!("not valid HCL at line {}, column {}: {}", at.line(), at.column(), e.message())
    })?;
    let owned;
    let module = match module.unit(file) {
        Some(i) if &*module.units[i].text == text => module,
        _ => {
            let mut files: Vec<(String, String)> = module
                .units
                .iter()
                .filter(|u| u.label != file)
                .map(|u| (u.label.clone(), u.text.to_string()))
                .collect();
            files.push((file.to_string(), text.to_string()));
            owned = Module::new(&module.dir, files, module.reader.clone());
            &owned
        }
    };
    let unit = module.unit(file).ok_or("the file could not be read as HCL")?;
    let _ = body;
    let scope = ModScope {
        m: module,
        in_progress: RefCell::new(Vec::new()),
        docs: RefCell::new(HashMap::new()),
        locals: RefCell::new(HashMap::new()),
        inputs: None,
    };
    let found = extract_unit(&scope, unit, ex, modules, 0);
    ex.policies.extend(found);
    Ok(())
}

/// What the evaluator had to assume for a document, as notes: unknown values kept opaque,
/// variables read at their default, unknown choices read as every branch.
fn assumption_notes(ev: &Eval<'_>, notes: &mut Vec<String>) {
    if ev.opaque {
        notes.push(OPAQUE_NOTE.to_string());
    }
    match ev.defaults.len() {
        0 => {}
        1 => notes.extend(
            ev.defaults.iter().map(|v| format!("`var.{v}` is read at its default; a caller may pass another value")),
        ),
        _ => {
            let vars: Vec<String> = ev.defaults.iter().map(|v| format!("`var.{v}`")).collect();
            notes.push(format!("{} are read at their defaults; a caller may pass other values", vars.join(", ")));
        }
    }
    if ev.chose {
        notes.push("a value chosen by an unknown condition is read as every branch may give".into());
    }
}

/// Does `count` (or `for_each`) certainly make this block absent? A literal `count = 0`
/// does; one that is 0 only at a variable's default does not when the module is read on its
/// own (a caller may set it), but does in a module call, where every input is known.
fn absent(scope: &ModScope<'_>, ev: &mut Eval<'_>, block: &Block) -> bool {
    let before = ev.default_reads;
    let zero = match (block.body.get_attribute("count"), block.body.get_attribute("for_each")) {
        (Some(c), _) => matches!(ev.eval(&c.value).v, V::Num(ref n) if n.as_f64() == Some(0.0)),
        (None, Some(f)) => match ev.eval(&f.value).v {
            V::List(items) => items.is_empty(),
            V::Obj(entries) => entries.is_empty(),
            _ => false,
        },
        _ => false,
    };
    zero && (scope.inputs.is_some() || ev.default_reads == before)
}

/// How deep module calls are followed (a module that calls a module …).
const MAX_MODULE_DEPTH: usize = 3;

/// The policies of one file of a module, as seen through `scope` (its inputs, if called).
fn extract_unit(
    scope: &ModScope<'_>,
    unit: usize,
    ex: &mut Extracted,
    modules: &dyn Fn(&str) -> Option<Arc<Module>>,
    depth: usize,
) -> Vec<Found> {
    let module = scope.m;
    let u = &module.units[unit];
    let mut ev = Eval::new(scope, u.text.clone(), u.lines.clone());
    let mut found: Vec<Found> = Vec::new();
    for block in u.body.blocks() {
        if absent(scope, &mut ev, block) {
            continue;
        }
        match (block.ident.as_str(), label(block, 0), label(block, 1)) {
            ("resource", Some(rtype), Some(name)) => {
                let base = format!("{rtype}.{name}");
                let instances = resource_instances(&mut ev, block, &base);
                for (address_base, each) in instances {
                    let bound = each.is_some();
                    if let Some(each) = each {
                        ev.bind("each", each);
                    }
                    for (attr, ptype) in attributes(rtype) {
                        let Some(a) = block.body.get_attribute(attr) else { continue };
                        let address = if rtype == "aws_iam_role" {
                            format!("{address_base}.{attr}")
                        } else {
                            address_base.clone()
                        };
                        policy_attribute(&mut ev, &a.value, address, *ptype, principal_of(rtype, name), &mut found, ex);
                    }
                    if rtype == "aws_iam_role" {
                        for inline in block.body.get_blocks("inline_policy") {
                            let Some(a) = inline.body.get_attribute("policy") else { continue };
                            let pname = inline
                                .body
                                .get_attribute("name")
                                .and_then(|n| ev.eval(&n.value).v.text())
                                .unwrap_or_default();
                            let address = format!("{address_base}.inline_policy[{pname}]");
                            policy_attribute(
                                &mut ev,
                                &a.value,
                                address,
                                PolicyType::Identity,
                                principal_of(rtype, name),
                                &mut found,
                                ex,
                            );
                        }
                    }
                    attachments(&mut ev, block, rtype, &address_base, &mut found, ex);
                    if bound {
                        ev.unbind(1);
                    }
                }
            }
            ("data", Some("aws_iam_policy_document"), Some(name)) => {
                let Some((doc, mut notes, unresolved)) = scope.render_document(&mut ev, name) else { continue };
                let address = format!("data.aws_iam_policy_document.{name}");
                for (line, reason) in unresolved {
                    ex.unresolved.push(Unresolved::new(line, address.clone(), reason));
                }
                let node = doc.to_node();
                if node.get("Statement").and_then(Node::as_seq).is_none_or(|s| s.is_empty()) {
                    if !ex.unresolved.iter().any(|u| u.address == address) {
                        ex.unresolved.push(Unresolved::new(
                            doc.line,
                            address,
                            "the document has no statement this module fixes: its statements come from \
                             values given where the module is used; scan a plan (`terraform show -json`) to score what is applied"
                                .to_string(),
                        ));
                    }
                    continue;
                }
                if let Some(users) = module.used_by.get(name) {
                    for (addr, _) in users {
                        notes.push(format!("used by `{addr}`"));
                    }
                }
                let policy_type = module.used_by.get(name).and_then(|users| {
                    let types: Vec<PolicyType> = users.iter().map(|(_, t)| *t).collect();
                    types.iter().all(|t| *t == types[0]).then(|| types[0])
                });
                if let Some(d) = super::tree::find_duplicate(&node) {
                    ex.errors.push(FileError::duplicate(&d, Some(address)));
                    continue;
                }
                found.push(Found {
                    address,
                    principal: None,
                    line: ev.line_of(block),
                    statement_lines: super::tree::statement_lines(&node),
                    policy_type,
                    document: node.to_value(),
                    notes,
                });
            }
            ("module", Some(name), _) if depth < MAX_MODULE_DEPTH => {
                instantiate(scope, &mut ev, block, name, ex, &mut found, modules, depth);
            }
            _ => {}
        }
    }
    found.sort_by_key(|f| f.line);
    found
}

/// A `module` block whose `source` is a directory of this repository: the called module's
/// policies are read with the inputs given here (an input unknown here is unknown there, an
/// input not given takes the variable's default), each reported at the `module` block as
/// `module.NAME.<address>`.
#[allow(clippy::too_many_arguments)]
fn instantiate(
    scope: &ModScope<'_>,
    ev: &mut Eval<'_>,
    block: &Block,
    name: &str,
    ex: &mut Extracted,
    found: &mut Vec<Found>,
    modules: &dyn Fn(&str) -> Option<Arc<Module>>,
    depth: usize,
) {
    let Some(source) = block.body.get_attribute("source").and_then(|a| ev.eval(&a.value).v.text()) else { return };
    if !(source.starts_with("./") || source.starts_with("../")) {
        return; // a registry or remote module: not in the repository
    }
    let dir = normalize_dir(&scope.m.dir, &source);
    let line = ev.line_of(block);
    let callee = match modules(&dir) {
        Some(m) if !m.units.is_empty() => m,
        _ => {
            ex.unresolved.push(Unresolved::new(
                line,
                format!("module.{name}"),
                format!(
                    "module source `{source}` is not read (outside the scanned paths, or no `.tf` files there): \
                     the policies it creates with these inputs are not scored; scan a directory that holds both"
                ),
            ));
            return;
        }
    };
    let mut inputs = HashMap::new();
    for a in block.body.attributes() {
        let key = a.key.as_str();
        if matches!(key, "source" | "version" | "count" | "for_each" | "providers" | "depends_on") {
            continue;
        }
        inputs.insert(key.to_string(), ev.eval(&a.value));
    }
    let inner = ModScope {
        m: &callee,
        in_progress: RefCell::new(Vec::new()),
        docs: RefCell::new(HashMap::new()),
        locals: RefCell::new(HashMap::new()),
        inputs: Some(inputs),
    };
    let mut sub = Extracted::default();
    for unit in 0..callee.units.len() {
        let mut policies = extract_unit(&inner, unit, &mut sub, modules, depth + 1);
        for f in &mut policies {
            let from = &callee.units[unit].label;
            f.notes.push(format!(
                "module `{name}` (`{source}`) read with the inputs given here; the document is in `{from}` at line {}",
                f.line
            ));
            f.address = format!("module.{name}.{}", f.address);
            f.line = line;
            f.statement_lines = Vec::new();
        }
        found.extend(policies);
    }
    for mut u in sub.unresolved {
        u.address = format!("module.{name}.{}", u.address);
        u.line = line;
        ex.unresolved.push(u);
    }
}

/// `dir` joined with a relative `source` (`../x`), normalised.
fn normalize_dir(dir: &str, source: &str) -> String {
    let joined = if dir.is_empty() || dir == "." { source.to_string() } else { format!("{dir}/{source}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    let lead = if joined.starts_with('/') { "/" } else { "" };
    format!("{lead}{}", parts.join("/"))
}

/// Managed policies attached by ARN (`aws_iam_role_policy_attachment` and its kin,
/// `aws_iam_role.managed_policy_arns`, SSO permission sets): an AWS managed policy is scored
/// as the document AWS publishes; a policy of this configuration (`aws_iam_policy.x.arn`) is
/// scored at its own address; anything else is unresolved.
fn attachments(
    ev: &mut Eval<'_>,
    block: &Block,
    rtype: &str,
    address: &str,
    found: &mut Vec<Found>,
    ex: &mut Extracted,
) {
    let (attr, principal_attr) = match rtype {
        "aws_iam_role_policy_attachment" => ("policy_arn", Some("role")),
        "aws_iam_user_policy_attachment" => ("policy_arn", Some("user")),
        "aws_iam_group_policy_attachment" => ("policy_arn", Some("group")),
        "aws_iam_policy_attachment" => ("policy_arn", None),
        "aws_ssoadmin_managed_policy_attachment" => ("managed_policy_arn", None),
        "aws_iam_role" => ("managed_policy_arns", None),
        _ => return,
    };
    let Some(a) = block.body.get_attribute(attr) else { return };
    let line = ev.line_of(&a.value);
    let principal = principal_attr.and_then(|p| block.body.get_attribute(p)).map(|p| {
        let v = ev.eval(&p.value);
        let who = v.v.text().unwrap_or_else(|| ev.src(&p.value));
        format!("{} {who}", principal_attr.unwrap_or_default())
    });
    let v = ev.eval(&a.value);
    let arns: Vec<Val> = match v.v {
        V::List(items) => items,
        V::Null => return,
        other => vec![Val::new(v.line, other)],
    };
    for arn in arns {
        let text = match &arn.v {
            V::Str(s) => s.clone(),
            V::Unknown(src) if src.starts_with("aws_iam_policy.") => continue, // scored at the policy
            V::Unknown(src) => {
                ex.unresolved.push(Unresolved::new(
                    line,
                    address.to_string(),
                    format!("the attached policy `{src}` is not known from this module; scan a plan to score it"),
                ));
                continue;
            }
            _ => continue,
        };
        // `arn:${data.aws_partition.current.partition}:iam::aws:policy/…`: any partition.
        let lookup = match text.split_once(':').and_then(|(_, rest)| rest.split_once(':')) {
            Some((part, rest)) if part.starts_with("${") => format!("arn:aws:{rest}"),
            _ => text.clone(),
        };
        match super::managed::document(&lookup) {
            Some((name, document)) => {
                let node = super::tree::parse_json(&document.to_string()).ok();
                found.push(Found {
                    address: format!("{address}[{name}]"),
                    principal: principal.clone(),
                    line,
                    statement_lines: Vec::new(),
                    policy_type: Some(PolicyType::Identity),
                    document: node.map(|n| n.to_value()).unwrap_or(document),
                    notes: vec![format!("AWS managed policy {name}, version as of {}", super::managed::CORPUS_DATE)],
                });
            }
            None if text.contains(":policy/") && !super::managed::is_aws_managed_arn(&lookup) => {
                ex.unresolved.push(Unresolved::new(
                    line,
                    address.to_string(),
                    format!("`{text}` is a customer managed policy not defined here; its document is not in this configuration"),
                ));
            }
            None => ex.unresolved.push(Unresolved::new(
                line,
                address.to_string(),
                format!(
                    "`{text}` is not an AWS managed policy known as of {} (or one for service-linked roles only)",
                    super::managed::CORPUS_DATE
                ),
            )),
        }
    }
}

/// A resource's instances: one (no `for_each`), or one per element of a known `for_each`
/// with `each` bound; an unknown `for_each` gives one instance with `each` unknown.
fn resource_instances(ev: &mut Eval<'_>, block: &Block, base: &str) -> Vec<(String, Option<Val>)> {
    let Some(fe) = block.body.get_attribute("for_each") else { return vec![(base.to_string(), None)] };
    let line = ev.line_of(&fe.value);
    let coll = ev.eval(&fe.value);
    let each = |k: Val, v: Val| Val::new(line, V::Obj(vec![("key".into(), k), ("value".into(), v)]));
    let items: Option<Vec<(Val, Val)>> = match &coll.v {
        // `for_each` over a set of strings: key and value are the element.
        V::List(items) => Some(items.iter().map(|v| (v.clone(), v.clone())).collect()),
        V::Obj(entries) => {
            Some(entries.iter().map(|(k, v)| (Val::new(v.line, V::Str(k.clone())), v.clone())).collect())
        }
        _ => None,
    };
    match items {
        Some(items) if !items.is_empty() => items
            .into_iter()
            .map(|(k, v)| {
                // A key not known here (`${k}`) is not shown as if it were one.
                let address = match k.v.text().filter(|t| !t.contains("${")) {
                    Some(key) => format!("{base}[\"{key}\"]"),
                    None => format!("{base}[*]"),
                };
                (address, Some(each(k, v)))
            })
            .collect(),
        _ => {
            let src = ev.src(&fe.value);
            vec![(
                base.to_string(),
                Some(each(Val::unknown(line, format!("{src} key")), Val::unknown(line, "each.value"))),
            )]
        }
    }
}

fn principal_of(rtype: &str, name: &str) -> Option<String> {
    match rtype {
        "aws_iam_role" => Some(format!("role {rtype}.{name}")),
        _ => None,
    }
}

/// Read a policy attribute: a document to score, a reference to a policy document data
/// source (scored there), or an unresolved value.
fn policy_attribute(
    ev: &mut Eval<'_>,
    e: &Expression,
    address: String,
    ptype: PolicyType,
    principal: Option<String>,
    out: &mut Vec<Found>,
    ex: &mut Extracted,
) {
    let line = ev.line_of(e);
    if only_document_references(ev, e) {
        // `data.aws_iam_policy_document.NAME.json` (or a choice of such and nothing): scored at
        // the data block. Anything else built from one (`replace(…)`, a variable as the
        // alternative) is read here, so no alternative is lost.
        return;
    }
    ev.opaque = false;
    ev.defaults.clear();
    ev.chose = false;
    ev.files.clear();
    ev.missing_files.clear();
    let mut notes = Vec::new();
    let doc: Node = match e {
        // A JSON heredoc or string template: rendered with JSON-aware quoting of unknowns.
        Expression::HeredocTemplate(_) | Expression::StringTemplate(_) if !single_interpolation(e) => {
            let (text, first_line) = match e {
                Expression::HeredocTemplate(h) => (ev.render(&h.template, true), line + 1),
                Expression::StringTemplate(t) => (ev.render(t, true), line),
                _ => return,
            };
            match parse_document(&text, &address, line, ex) {
                Some(mut n) => {
                    n.shift_lines(first_line - 1);
                    n
                }
                None => return,
            }
        }
        _ => {
            let v = ev.eval(e);
            match v.v {
                V::Null => return,
                V::Json(inner) => inner.to_node(),
                V::Str(text) => {
                    let mut n = match parse_document(&text, &address, line, ex) {
                        Some(n) => n,
                        None => return,
                    };
                    if matches!(e, Expression::String(_)) {
                        n
                    } else {
                        // From a file, a local or a template elsewhere: its lines are not this file's.
                        relocate_node(&mut n, line);
                        n
                    }
                }
                V::Unknown(what) => {
                    let mut reason = format!(
                        "`{what}` is not known from this module (a variable without a default, a resource \
                         attribute, a data source or a module output); scan a plan (`terraform show -json`) to score what is applied"
                    );
                    if let Some(p) = ev.missing_files.first() {
                        reason = format!("`{p}` cannot be read here (not a file in the scanned tree)");
                    }
                    ex.unresolved.push(Unresolved::new(line, address, reason));
                    return;
                }
                _ => {
                    ex.errors.push(FileError::new(
                        Some(line),
                        Some(address),
                        "policy is not a JSON document (an HCL object or list; wrap it in `jsonencode(…)`)".into(),
                    ));
                    return;
                }
            }
        }
    };
    if let Some(d) = super::tree::find_duplicate(&doc) {
        ex.errors.push(FileError::duplicate(&d, Some(address)));
        return;
    }
    if doc.get("Statement").is_none() && doc.is_map() && doc.entries().is_empty() {
        return;
    }
    for f in &ev.files {
        notes.push(format!("read from `{f}`"));
    }
    assumption_notes(ev, &mut notes);
    out.push(Found {
        address,
        principal,
        line,
        statement_lines: super::tree::statement_lines(&doc),
        policy_type: Some(ptype),
        document: doc.to_value(),
        notes,
    });
}

/// Is the expression only references to policy documents of this module, possibly chosen
/// among or absent (`data.x.d[0].json`, `c ? data.x.d[0].json : ""`, `try(data.x.d[0].json, null)`)?
fn only_document_references(ev: &Eval<'_>, e: &Expression) -> bool {
    match e {
        Expression::Traversal(_) => {
            let src = ev.src(e);
            let Some(rest) = src.strip_prefix("data.aws_iam_policy_document.") else { return false };
            let name_end =
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(rest.len());
            let tail = rest[name_end..].trim_start_matches("[0]").trim_start_matches("[*]");
            tail == ".json" || tail == ".minified_json"
        }
        Expression::Null(_) => true,
        Expression::String(s) => s.value().is_empty(),
        Expression::StringTemplate(t) => match t.iter().collect::<Vec<_>>().as_slice() {
            [hcl_edit::template::Element::Interpolation(i)] => only_document_references(ev, &i.expr),
            _ => false,
        },
        Expression::Parenthesis(p) => only_document_references(ev, p.inner()),
        Expression::Conditional(c) => {
            only_document_references(ev, &c.true_expr) && only_document_references(ev, &c.false_expr)
        }
        Expression::FuncCall(f) if matches!(f.name.name.as_str(), "try" | "one" | "coalesce") => {
            f.args.iter().all(|a| only_document_references(ev, a))
        }
        _ => false,
    }
}

fn single_interpolation(e: &Expression) -> bool {
    use hcl_edit::template::Element;
    let t = match e {
        Expression::StringTemplate(t) => t.iter().collect::<Vec<_>>(),
        Expression::HeredocTemplate(h) => h.template.iter().collect::<Vec<_>>(),
        _ => return false,
    };
    matches!(t.as_slice(), [Element::Interpolation(_)])
}

fn parse_document(text: &str, address: &str, line: usize, ex: &mut Extracted) -> Option<Node> {
    if text.trim().is_empty() {
        return None;
    }
    match super::tree::parse_json(text) {
        Ok(n) => Some(n),
        Err(msg) => {
            ex.errors.push(FileError::new(Some(line), Some(address.to_string()), format!("policy is {msg}")));
            None
        }
    }
}

fn relocate_node(n: &mut Node, line: usize) {
    n.line = line;
    if n.key_line != 0 {
        n.key_line = line;
    }
    match &mut n.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|i| relocate_node(i, line)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(_, v)| relocate_node(v, line)),
        Kind::Tagged(_, inner) => relocate_node(inner, line),
        _ => {}
    }
}

/// Append `more` to the values of a condition key (both made lists).
fn merge_values(existing: &mut Val, more: Val) {
    let line = existing.line;
    let as_list = |n: Val| match n.v {
        V::List(items) => items,
        other => vec![Val::new(n.line, other)],
    };
    let mut items = as_list(std::mem::replace(existing, Val::new(line, V::Null)));
    items.extend(as_list(more));
    *existing = Val::new(line, V::List(items));
}

/// The instances of a block, static or `dynamic`: each body with its iterator bound.
/// A `dynamic` block over an unknown collection, or over one that is empty only because a
/// variable is at its default, gives one instance with the iterator unknown: what a caller
/// may pass is read, not dropped.
fn instances<'b>(ev: &mut Eval<'_>, body: &'b Body, ident: &str, notes: &mut Vec<String>) -> Vec<Instance<'b>> {
    let mut out = Vec::new();
    for b in body.blocks() {
        match (b.ident.as_str(), label(b, 0)) {
            (i, _) if i == ident => out.push((&b.body, ev.line_of(b), None, false)),
            ("dynamic", Some(l)) if l == ident => {
                let Some(content) = b.body.get_blocks("content").next() else { continue };
                let iterator =
                    b.body.get_attribute("iterator").map(|a| ev.src(&a.value)).unwrap_or_else(|| ident.to_string());
                let line = ev.line_of(b);
                let Some(fe) = b.body.get_attribute("for_each") else { continue };
                let before = ev.default_reads;
                let chose_before = std::mem::replace(&mut ev.chose, false);
                let coll = ev.eval(&fe.value);
                let from_default = ev.default_reads > before;
                let optional = from_default || ev.chose;
                ev.chose |= chose_before;
                let iter_val = |k: Val, v: Val| Val::new(line, V::Obj(vec![("key".into(), k), ("value".into(), v)]));
                let items: Option<Vec<(Val, Val)>> = match &coll.v {
                    V::List(items) => Some(
                        items.iter().enumerate().map(|(i, v)| (Val::new(line, V::Num(i.into())), v.clone())).collect(),
                    ),
                    V::Obj(entries) => {
                        Some(entries.iter().map(|(k, v)| (Val::new(line, V::Str(k.clone())), v.clone())).collect())
                    }
                    V::Null => Some(Vec::new()),
                    _ => None,
                };
                match items {
                    Some(items) if !items.is_empty() => {
                        for (k, v) in items {
                            out.push((&content.body, line, Some((iterator.clone(), iter_val(k, v))), optional));
                        }
                    }
                    Some(_) if !from_default => {} // literally empty: no block
                    _ => {
                        let src = ev.src(&fe.value);
                        notes.push(format!(
                            "`dynamic \"{ident}\"` over `{src}` is read once with its values unknown (what a caller may pass)"
                        ));
                        ev.opaque = true;
                        let it = iter_val(
                            Val::unknown(line, format!("{iterator}.key")),
                            Val::unknown(line, format!("{iterator}.value")),
                        );
                        out.push((&content.body, line, Some((iterator, it)), true));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Rebuild the JSON policy an `aws_iam_policy_document` data source renders, with its
/// `source_policy_documents` / `override_policy_documents` merged as the provider merges them.
fn policy_document(
    ev: &mut Eval<'_>,
    block: &Block,
    notes: &mut Vec<String>,
    unresolved: &mut Vec<(usize, String)>,
) -> Val {
    let line = ev.line_of(block);
    let body = &block.body;
    let mut top: Vec<(String, Val)> = Vec::new();
    let version =
        body.get_attribute("version").and_then(|a| ev.eval(&a.value).v.text()).unwrap_or_else(|| "2012-10-17".into());
    top.push(("Version".into(), Val::new(line, V::Str(version))));
    if let Some(a) = body.get_attribute("policy_id") {
        let id = ev.eval(&a.value);
        top.push(("Id".into(), id));
    }
    let mut statements: Vec<Val> = Vec::new();
    // Sources first, in order; then this document's statements replace those with the same
    // `sid`; then the overrides replace again (or are appended).
    for attr in ["source_policy_documents", "source_json"] {
        for d in documents_of(ev, body, attr, notes, unresolved) {
            merge_statements(&mut statements, d);
        }
    }
    let mut own = Vec::new();
    for (sbody, sline, it, optional) in instances(ev, body, "statement", notes) {
        let bound = it.is_some();
        if let Some((name, v)) = it {
            ev.bind(&name, v);
        }
        match statement(ev, sbody, sline, notes) {
            // A Deny that exists only if a caller chooses so is not relied on.
            Some(st) if optional && st.get("Effect").and_then(|e| e.v.text()).as_deref() == Some("Deny") => {
                notes.push(format!(
                    "a `Deny` statement (line {sline}) that exists only by a caller's choice is not relied on"
                ));
            }
            Some(st) => own.push(st),
            None => {}
        }
        if bound {
            ev.unbind(1);
        }
    }
    merge_statements(&mut statements, own);
    for attr in ["override_policy_documents", "override_json"] {
        for d in documents_of(ev, body, attr, notes, unresolved) {
            merge_statements(&mut statements, d);
        }
    }
    top.push(("Statement".into(), Val::new(line, V::List(statements))));
    Val::new(line, V::Obj(top))
}

/// The statements of each document a merge attribute names; what cannot be read is noted and
/// listed as unresolved (part of the policy is then not scored).
fn documents_of(
    ev: &mut Eval<'_>,
    body: &Body,
    attr: &str,
    notes: &mut Vec<String>,
    unresolved: &mut Vec<(usize, String)>,
) -> Vec<Vec<Val>> {
    let Some(a) = body.get_attribute(attr) else { return Vec::new() };
    let line = ev.line_of(&a.value);
    let (before, chose_before) = (ev.default_reads, std::mem::replace(&mut ev.chose, false));
    let v = ev.eval(&a.value);
    // Which documents are merged depends on a caller's choice: their Denies may be absent.
    let by_choice = ev.chose || ev.default_reads > before;
    ev.chose |= chose_before;
    let items = match v.v {
        V::List(items) => items,
        V::Null => return Vec::new(),
        other => vec![Val::new(v.line, other)],
    };
    let mut out = Vec::new();
    for item in items {
        let doc = match item.v {
            V::Json(inner) => Some(*inner),
            V::Str(text) => super::tree::parse_json(&text).ok().map(|n| {
                let mut v = Val::from_node(&n);
                v.relocate(line);
                v
            }),
            V::Null => continue,
            _ => None,
        };
        match doc.as_ref().and_then(|d| d.get("Statement")) {
            Some(st) => {
                let mut list = match &st.v {
                    V::List(items) => items.clone(),
                    _ => vec![st.clone()],
                };
                let merged = format!("`{attr}` merged");
                if !notes.contains(&merged) {
                    notes.push(merged);
                }
                let is_deny = |s: &Val| s.get("Effect").and_then(|e| e.v.text()).as_deref() == Some("Deny");
                if by_choice && list.iter().any(is_deny) {
                    list.retain(|s| !is_deny(s));
                    let note = format!(
                        "`{attr}` is chosen by a caller's settings: the `Deny` statements of its documents are not relied on"
                    );
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
                out.push(list);
            }
            None => {
                let what = ev.src(&a.value);
                unresolved.push((line, format!("`{attr}` includes a document not known from this module (`{what}`); its statements are not scored")));
            }
        }
    }
    out
}

/// The provider's merge: a statement with a `Sid` already present replaces it, others append.
fn merge_statements(into: &mut Vec<Val>, more: Vec<Val>) {
    for st in more {
        let sid = st.get("Sid").and_then(|s| s.v.text()).filter(|s| !s.is_empty());
        match sid
            .and_then(|sid| into.iter().position(|x| x.get("Sid").and_then(|s| s.v.text()).as_deref() == Some(&sid)))
        {
            Some(i) => into[i] = st,
            None => into.push(st),
        }
    }
}

/// A list attribute (`actions`, `resources`, `identifiers`, `values`) as a list of strings,
/// `None` when unset (null). `&{aws:username}` is how the data source escapes IAM variables.
fn strings(ev: &mut Eval<'_>, e: &Expression) -> Option<Val> {
    let before = ev.default_reads;
    let v = ev.eval(e);
    let line = v.line;
    let empty = matches!(&v.v, V::List(items) if items.is_empty());
    if empty && ev.default_reads > before {
        // Empty only at a variable's default: the values a caller passes are unknown here.
        ev.opaque = true;
        return Some(Val::new(line, V::List(vec![Val::new(line, V::Str(opaque(&ev.src(e))))])));
    }
    let one = |ev: &mut Eval<'_>, x: &Val| -> Val {
        match &x.v {
            V::Unknown(src) => {
                ev.opaque = true;
                Val::new(x.line, V::Str(opaque(src)))
            }
            other => Val::new(x.line, V::Str(other.text().unwrap_or_default().replace("&{", "${"))),
        }
    };
    match &v.v {
        V::Null => None,
        V::List(items) => {
            Some(Val::new(line, V::List(items.iter().filter(|x| !x.is_null()).map(|x| one(ev, x)).collect())))
        }
        _ => Some(Val::new(line, V::List(vec![one(ev, &v)]))),
    }
}

/// Is every value in this list or principal map an unknown (`${…}` other than an IAM policy
/// variable)?
fn all_opaque(v: &Val) -> bool {
    match &v.v {
        V::List(items) => !items.is_empty() && items.iter().all(all_opaque),
        V::Obj(entries) => !entries.is_empty() && entries.iter().all(|(_, x)| all_opaque(x)),
        V::Str(t) => t.starts_with("${") && t.ends_with('}') && !t.to_ascii_lowercase().starts_with("${aws:"),
        V::Unknown(_) => true,
        _ => false,
    }
}

/// One `statement` block as a policy statement; `None` when a `Deny` cannot be relied on.
fn statement(ev: &mut Eval<'_>, body: &Body, line: usize, notes: &mut Vec<String>) -> Option<Val> {
    let chose_before = ev.chose;
    ev.chose = false;
    let mut st: Vec<(String, Val)> = Vec::new();
    if let Some(a) = body.get_attribute("sid") {
        let sid = ev.eval(&a.value);
        if let Some(s) = sid.v.text() {
            st.push(("Sid".into(), Val::new(sid.line, V::Str(s))));
        }
    }
    // An unknown or unset effect is assumed to allow: the risk is what it could grant.
    let deny = body.get_attribute("effect").and_then(|a| ev.eval(&a.value).v.text()).as_deref() == Some("Deny");
    st.push(("Effect".into(), Val::new(line, V::Str(if deny { "Deny" } else { "Allow" }.into()))));
    let mut pairs: Vec<(&str, &str, Option<Val>, Option<Val>)> = Vec::new();
    for (attr, not_attr, key, not_key) in
        [("actions", "not_actions", "Action", "NotAction"), ("resources", "not_resources", "Resource", "NotResource")]
    {
        let pos = body.get_attribute(attr).and_then(|a| strings(ev, &a.value));
        let neg = body.get_attribute(not_attr).and_then(|a| strings(ev, &a.value));
        pairs.push((key, not_key, pos, neg));
    }
    for (ident, key) in [("principals", "Principal"), ("not_principals", "NotPrincipal")] {
        let mut by_type: Vec<(String, Val)> = Vec::new();
        let mut star = false;
        let mut any = false;
        for (pb, pline, it, _) in instances(ev, body, ident, notes) {
            any = true;
            let bound = it.is_some();
            if let Some((name, v)) = it {
                ev.bind(&name, v);
            }
            let ptype =
                pb.get_attribute("type").and_then(|a| ev.eval(&a.value).v.text()).unwrap_or_else(|| "AWS".into());
            let ptype = if ptype.starts_with("${") { "AWS".to_string() } else { ptype };
            let ids = pb.get_attribute("identifiers").and_then(|a| strings(ev, &a.value));
            if bound {
                ev.unbind(1);
            }
            if ptype == "*" {
                star = true;
                continue;
            }
            let ids: Vec<Val> = match ids.map(|v| v.v) {
                Some(V::List(items)) => items,
                _ => Vec::new(),
            };
            match by_type.iter_mut().find(|(t, _)| *t == ptype) {
                Some((_, Val { v: V::List(existing), .. })) => existing.extend(ids),
                _ => by_type.push((ptype, Val::new(pline, V::List(ids)))),
            }
        }
        let value = if star {
            Some(Val::new(line, V::Str("*".into())))
        } else if !by_type.is_empty() {
            Some(Val::new(line, V::Obj(by_type)))
        } else {
            None
        };
        let _ = any;
        if key == "Principal" {
            pairs.push(("Principal", "NotPrincipal", value, None));
        } else if let Some(last) = pairs.last_mut() {
            last.3 = value;
        }
    }
    for (key, not_key, pos, neg) in pairs {
        match (pos, neg) {
            (Some(p), Some(n)) => {
                // Both set: valid only if one is null when applied. A literal one is the one used;
                // if both are unknown, the reading that reaches most: `Not…` for an Allow (all but
                // an unknown), the plain key for a Deny (which then removes nothing certain).
                let (p_open, n_open) = (all_opaque(&p), all_opaque(&n));
                let keep_not = match (p_open, n_open) {
                    (false, false) => {
                        st.push((key.into(), p));
                        st.push((not_key.into(), n));
                        continue;
                    }
                    (false, true) => false,
                    (true, false) => true,
                    (true, true) => !deny,
                };
                notes.push(format!(
                    "`{key}` and `{not_key}` are both set from values unknown here (one must be null when applied); \
                     read as `{}`, the reading that reaches further",
                    if keep_not { not_key } else { key }
                ));
                if keep_not {
                    st.push((not_key.into(), n));
                } else {
                    st.push((key.into(), p));
                }
            }
            (Some(p), None) => st.push((key.into(), p)),
            (None, Some(n)) => st.push((not_key.into(), n)),
            (None, None) => {}
        }
    }
    let mut conditions: Vec<(String, Val)> = Vec::new();
    for (cb, cline, it, optional) in instances(ev, body, "condition", notes) {
        if optional && !deny {
            // An Allow's condition only narrows: one a caller may leave out is not counted on.
            notes.push("a `condition` that exists only by a caller's choice is not counted on".into());
            continue;
        }
        let bound = it.is_some();
        if let Some((name, v)) = it {
            ev.bind(&name, v);
        }
        let test = cb.get_attribute("test").map(|a| ev.eval(&a.value));
        let variable = cb.get_attribute("variable").map(|a| ev.eval(&a.value));
        let values = cb
            .get_attribute("values")
            .and_then(|a| strings(ev, &a.value))
            .unwrap_or_else(|| Val::new(cline, V::List(Vec::new())));
        if bound {
            ev.unbind(1);
        }
        let (Some(test), Some(variable)) = (test.and_then(|t| t.v.text()), variable.and_then(|v| v.v.text())) else {
            if !deny {
                // An Allow's condition only narrows: one that may not exist is not counted on.
                notes.push("a `condition` whose test or key is unknown here is not counted on".into());
                continue;
            }
            // A Deny under a condition unknown here may not apply: it is not relied on.
            notes.push("a `Deny` statement with a condition unknown here is not relied on".into());
            ev.chose |= chose_before;
            return None;
        };
        let variable = variable.replace("&{", "${");
        // Two `condition` blocks with one test and variable: the provider renders one key with
        // the values of both (alternatives), so they are merged, not kept as two keys of
        // which the last would win.
        match conditions.iter_mut().find(|(t, _)| *t == test) {
            Some((_, Val { v: V::Obj(keys), .. })) => match keys.iter_mut().find(|(v, _)| *v == variable) {
                Some((_, existing)) => merge_values(existing, values),
                None => keys.push((variable, values)),
            },
            _ => conditions.push((test, Val::new(cline, V::Obj(vec![(variable, values)])))),
        }
    }
    if !conditions.is_empty() {
        st.push(("Condition".into(), Val::new(line, V::Obj(conditions))));
    }
    let chose = ev.chose;
    ev.chose |= chose_before;
    if deny && chose {
        notes.push("a `Deny` statement whose content depends on an unknown condition is not relied on".into());
        return None;
    }
    Some(Val::new(line, V::Obj(st)))
}

/// Blocks (not attributes) in the resources and data sources scan reads, for `*.tf.json`.
const NESTED_BLOCKS: &[&str] = &["statement", "principals", "not_principals", "condition", "inline_policy", "content"];

/// A `*.tf.json` file as the HCL it stands for, each element on the line it has in the
/// JSON (so results point into the JSON file). Strings are templates, as in Terraform.
pub fn json_to_hcl(text: &str) -> Result<String, String> {
    let root = super::tree::parse_json(text)?;
    let mut w = HclWriter { out: String::new(), line: 1 };
    let Kind::Map(top) = &root.kind else { return Err("not a Terraform JSON configuration (an object)".into()) };
    for (kind, v) in top {
        match kind.as_str() {
            "resource" | "data" => {
                for (rtype, by_name) in v.entries() {
                    for (name, body) in by_name.entries() {
                        for b in as_objects(body) {
                            w.at(b.line);
                            w.out.push_str(&format!("{kind} {} {} {{\n", hcl_str(rtype), hcl_str(name)));
                            w.line += 1;
                            w.body(b);
                            w.out.push_str("}\n");
                            w.line += 1;
                        }
                    }
                }
            }
            "variable" => {
                for (name, body) in v.entries() {
                    w.at(body.line);
                    w.out.push_str(&format!("variable {} {{\n", hcl_str(name)));
                    w.line += 1;
                    if let Some(d) = body.get("default") {
                        w.at(d.key_line());
                        w.out.push_str("default = ");
                        w.value(d);
                        w.out.push('\n');
                        w.line += 1;
                    }
                    w.out.push_str("}\n");
                    w.line += 1;
                }
            }
            "locals" => {
                for b in as_objects(v) {
                    w.at(b.line);
                    w.out.push_str("locals {\n");
                    w.line += 1;
                    for (k, x) in b.entries() {
                        w.at(x.key_line());
                        w.out.push_str(&format!("{} = ", ident(k)));
                        w.value(x);
                        w.out.push('\n');
                        w.line += 1;
                    }
                    w.out.push_str("}\n");
                    w.line += 1;
                }
            }
            _ => {}
        }
    }
    Ok(w.out)
}

fn as_objects(n: &Node) -> Vec<&Node> {
    match &n.kind {
        Kind::Seq(items) => items.iter().filter(|i| i.is_map()).collect(),
        Kind::Map(_) => vec![n],
        _ => Vec::new(),
    }
}

/// A quoted HCL string that keeps `${…}` interpolations (their expressions copied as they
/// are, on one line).
fn hcl_str(s: &str) -> String {
    let mut out = String::from("\"");
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if (c == '$' || c == '%') && chars.get(i + 1) == Some(&'{') && (i == 0 || chars[i - 1] != c) {
            // Copy the interpolation up to its closing brace (strings inside it included).
            let (mut depth, mut in_str, mut j) = (0usize, false, i + 1);
            while j < chars.len() {
                let d = chars[j];
                if in_str {
                    if d == '\\' {
                        j += 1;
                    } else if d == '"' {
                        in_str = false;
                    }
                } else if d == '"' {
                    in_str = true;
                } else if d == '{' {
                    depth += 1;
                } else if d == '}' {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                j += 1;
            }
            let end = j.min(chars.len() - 1);
            for &d in &chars[i..=end] {
                out.push(if d == '\n' || d == '\r' { ' ' } else { d });
            }
            i = end + 1;
            continue;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
        i += 1;
    }
    out.push('"');
    out
}

fn ident(k: &str) -> String {
    let ok = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        k.to_string()
    } else {
        hcl_str(k)
    }
}

struct HclWriter {
    out: String,
    line: usize,
}

impl HclWriter {
    /// Move down to `line` (never up: a value later in the JSON is never earlier here).
    fn at(&mut self, line: usize) {
        while self.line < line {
            self.out.push('\n');
            self.line += 1;
        }
    }

    fn body(&mut self, b: &Node) {
        for (k, v) in b.entries() {
            if NESTED_BLOCKS.contains(&k.as_str()) || (k == "dynamic" && v.is_map()) {
                if k == "dynamic" {
                    for (label, body) in v.entries() {
                        for d in as_objects(body) {
                            self.at(d.line);
                            self.out.push_str(&format!("dynamic {} {{\n", hcl_str(label)));
                            self.line += 1;
                            self.body(d);
                            self.out.push_str("}\n");
                            self.line += 1;
                        }
                    }
                    continue;
                }
                for nb in as_objects(v) {
                    self.at(nb.line);
                    self.out.push_str(&format!("{k} {{\n"));
                    self.line += 1;
                    self.body(nb);
                    self.out.push_str("}\n");
                    self.line += 1;
                }
                continue;
            }
            self.at(v.key_line());
            self.out.push_str(&format!("{} = ", ident(k)));
            self.value(v);
            self.out.push('\n');
            self.line += 1;
        }
    }

    fn value(&mut self, v: &Node) {
        match &v.kind {
            Kind::Null => self.out.push_str("null"),
            Kind::Bool(b) => self.out.push_str(&b.to_string()),
            Kind::Num(n) => self.out.push_str(&n.to_string()),
            Kind::Str(s) => self.out.push_str(&hcl_str(s)),
            Kind::Tagged(_, inner) => self.value(inner),
            Kind::Seq(items) => {
                self.out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.at(x.line);
                    self.value(x);
                }
                self.out.push(']');
            }
            Kind::Map(entries) => {
                self.out.push('{');
                for (i, (k, x)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.at(x.key_line());
                    self.out.push_str(&format!("{} = ", hcl_str(k)));
                    self.value(x);
                }
                self.out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<Found>, Vec<FileError>) {
        let mut ex = crate::Extracted::default();
        extract(text, &mut ex).unwrap();
        (ex.policies, ex.errors)
    }

    #[test]
    fn policy_document_data_source() {
        let text = r#"
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "Deploy"
    not_actions = ["iam:*"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.region]
    }
  }
}

resource "aws_iam_role" "app" {
  assume_role_policy = data.aws_iam_policy_document.assume.json
}
"#;
        let (out, errs) = run(text);
        assert!(errs.is_empty());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].address, "data.aws_iam_policy_document.assume");
        assert_eq!(out[0].policy_type, Some(PolicyType::Trust));
        assert_eq!(out[0].document["Statement"][0]["Principal"]["Service"][0], "ec2.amazonaws.com");
        let d = &out[1];
        assert_eq!(d.line, 12);
        assert_eq!(d.statement_lines, vec![13]);
        assert_eq!(d.document["Statement"][0]["NotAction"][0], "iam:*");
        assert_eq!(d.document["Statement"][0]["Condition"]["StringEquals"]["aws:RequestedRegion"][0], "${var.region}");
        assert!(d.notes.iter().any(|n| n.contains("opaque")));
    }

    #[test]
    fn jsonencode_and_heredoc() {
        let text = r#"resource "aws_iam_policy" "deploy" {
  name   = "deploy-${var.env}"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:PutObject", "iam:PassRole"]
        Resource = "${aws_s3_bucket.b.arn}/*"
      },
      {
        Effect   = "Allow"
        Action   = var.extra_actions
        Resource = "*"
      },
    ]
  })
}

resource "aws_s3_bucket_policy" "b" {
  bucket = aws_s3_bucket.b.id
  policy = <<-EOF
    {
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Principal": "*",
        "Action": ${jsonencode(var.actions)},
        "Resource": "${aws_s3_bucket.b.arn}/*"
      }]
    }
  EOF
}
"#;
        let (out, errs) = run(text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(out.len(), 2);
        let p = &out[0];
        assert_eq!(p.address, "aws_iam_policy.deploy");
        assert_eq!(p.line, 3);
        assert_eq!(p.statement_lines, vec![6, 11]);
        assert_eq!(p.document["Statement"][0]["Resource"], "${aws_s3_bucket.b.arn}/*");
        assert_eq!(p.document["Statement"][1]["Action"], "${var.extra_actions}");
        let b = &out[1];
        assert_eq!(b.address, "aws_s3_bucket_policy.b");
        assert_eq!(b.statement_lines, vec![25]);
        assert_eq!(b.document["Statement"][0]["Action"], "${jsonencode(var.actions)}");
        assert_eq!(b.policy_type, Some(PolicyType::Resource));
    }

    #[test]
    fn a_key_given_twice_is_refused_and_repeated_condition_blocks_merge() {
        let text = r#"resource "aws_iam_policy" "p" {
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*", "Action" = "*" }]
  })
}

data "aws_iam_policy_document" "d" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = ["vpce-1"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = "vpce-2"
    }
  }
}
"#;
        let (out, errs) = run(text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].address.as_deref(), Some("aws_iam_policy.p"));
        assert_eq!(errs[0].line, Some(3));
        assert!(errs[0].message.starts_with("Statement[0].Action has the key `Action` twice in one object, at line 3"));
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].document["Statement"][0]["Condition"]["StringEquals"]["aws:SourceVpce"],
            serde_json::json!(["vpce-1", "vpce-2"])
        );
    }
}
