//! A partial evaluator for the Terraform expressions that build IAM policies.
//!
//! Terraform is not run: values the scanner can know from the module's own text are computed
//! (literals, `local.*`, `var.*` defaults, `for` expressions over known collections,
//! `jsonencode`, `file`/`templatefile` of files in the scanned tree, the common collection and
//! string functions, `data.aws_iam_policy_document.*.json`); everything else — resource
//! attributes, data sources, variables without a default, functions not listed here — is an
//! [`V::Unknown`] carrying its source text. Policies render an unknown as the opaque string
//! `${<expression>}` and say so in their notes.
//!
//! Where a value depends on something unknown, the evaluator never picks the narrower reading:
//! a conditional whose condition is unknown yields what either branch may give (lists are
//! united, a missing branch gives way to the present one), and [`Eval::chose`] records that it
//! happened so that a `Deny` built from such a value is not relied on.

use super::tree::{Kind, Node};
use hcl_edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::template::{Directive, Element, Template};
use hcl_edit::Span;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A value with the 1-based line it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Val {
    pub line: usize,
    /// For an object's value, the line of its key; 0 elsewhere.
    pub key_line: usize,
    pub v: V,
}

#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    List(Vec<Val>),
    /// Keys in source order, duplicates kept (a document with a key twice is refused later).
    Obj(Vec<(String, Val)>),
    /// A JSON string whose value is known structurally: `jsonencode(x)` and a policy
    /// document's `.json`. Kept as the value so a policy built from it keeps its lines.
    Json(Box<Val>),
    /// Not known here; the source text of the expression.
    Unknown(String),
}

impl V {
    /// A scalar as text (what a template or a key holds).
    pub fn text(&self) -> Option<String> {
        match self {
            V::Str(s) => Some(s.clone()),
            V::Num(n) => Some(n.to_string()),
            V::Bool(b) => Some(b.to_string()),
            V::Json(inner) => Some(inner.encode()),
            _ => None,
        }
    }
}

impl Val {
    pub fn new(line: usize, v: V) -> Self {
        Val { line, key_line: 0, v }
    }

    pub fn unknown(line: usize, src: impl Into<String>) -> Self {
        Val::new(line, V::Unknown(src.into()))
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self.v, V::Unknown(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.v, V::Null)
    }

    /// Does anything in this value come from an unknown?
    pub fn has_unknown(&self) -> bool {
        match &self.v {
            V::Unknown(_) => true,
            V::List(items) => items.iter().any(Val::has_unknown),
            V::Obj(entries) => entries.iter().any(|(_, v)| v.has_unknown()),
            V::Json(inner) => inner.has_unknown(),
            _ => false,
        }
    }

    /// A member of an object (the last, if a key is repeated).
    pub fn get(&self, key: &str) -> Option<&Val> {
        match &self.v {
            V::Obj(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Set every line to `line` (a value computed in another file).
    pub fn relocate(&mut self, line: usize) {
        self.line = line;
        if self.key_line != 0 {
            self.key_line = line;
        }
        match &mut self.v {
            V::List(items) => items.iter_mut().for_each(|i| i.relocate(line)),
            V::Obj(entries) => entries.iter_mut().for_each(|(_, v)| v.relocate(line)),
            V::Json(inner) => inner.relocate(line),
            _ => {}
        }
    }

    /// The value as a JSON-like tree; unknowns become `${…}` strings, a `Json` inside a
    /// document its encoded text (as Terraform renders it).
    pub fn to_node(&self) -> Node {
        let kind = match &self.v {
            V::Null => Kind::Null,
            V::Bool(b) => Kind::Bool(*b),
            V::Num(n) => Kind::Num(n.clone()),
            V::Str(s) => Kind::Str(s.clone()),
            V::Unknown(src) => Kind::Str(opaque(src)),
            V::Json(inner) => Kind::Str(inner.encode()),
            V::List(items) => Kind::Seq(items.iter().map(Val::to_node).collect()),
            V::Obj(entries) => Kind::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let mut n = v.to_node();
                        n.key_line = v.key_line;
                        (k.clone(), n)
                    })
                    .collect(),
            ),
        };
        Node::new(self.line, kind)
    }

    /// A tree read from JSON text (a file, `jsondecode`), at the lines it has.
    pub fn from_node(n: &Node) -> Val {
        let v = match &n.kind {
            Kind::Null => V::Null,
            Kind::Bool(b) => V::Bool(*b),
            Kind::Num(x) => V::Num(x.clone()),
            Kind::Str(s) => V::Str(s.clone()),
            Kind::Seq(items) => V::List(items.iter().map(Val::from_node).collect()),
            Kind::Map(entries) => V::Obj(entries.iter().map(|(k, v)| (k.clone(), Val::from_node(v))).collect()),
            Kind::Tagged(_, inner) => return Val::from_node(inner),
        };
        Val { line: n.line, key_line: n.key_line, v }
    }

    /// `jsonencode`: compact JSON text.
    pub fn encode(&self) -> String {
        self.to_node().to_value().to_string()
    }

    /// The value as template text: `None` for what a template cannot hold.
    fn as_text(&self) -> Option<String> {
        self.v.text()
    }

    fn items(&self) -> Option<Vec<(Val, Val)>> {
        match &self.v {
            V::List(items) => {
                Some(items.iter().enumerate().map(|(i, v)| (Val::new(v.line, V::Num(i.into())), v.clone())).collect())
            }
            V::Obj(entries) => {
                let mut sorted: Vec<&(String, Val)> = entries.iter().collect();
                // Terraform iterates maps in key order.
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                Some(sorted.into_iter().map(|(k, v)| (Val::new(v.line, V::Str(k.clone())), v.clone())).collect())
            }
            V::Null => Some(Vec::new()),
            _ => None,
        }
    }
}

/// How an unknown appears in a rendered policy.
pub fn opaque(src: &str) -> String {
    format!("${{{src}}}")
}

/// Byte offset → 1-based line.
pub struct Lines(Vec<usize>);

impl Lines {
    pub fn new(text: &str) -> Self {
        Lines(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect())
    }
    pub fn at(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// What an evaluation needs from the module around it.
pub trait Scope {
    /// `var.NAME`: the value a module call gives (`false`), else the default, evaluated, if
    /// the variable declares a literal one (`true`).
    fn variable(&self, ev: &mut Eval<'_>, name: &str, line: usize) -> Option<(Val, bool)>;
    /// `local.NAME`.
    fn local(&self, ev: &mut Eval<'_>, name: &str, line: usize) -> Option<Val>;
    /// `data.aws_iam_policy_document.NAME`: an object with `json` and `minified_json`.
    fn policy_document(&self, ev: &mut Eval<'_>, name: &str, line: usize) -> Option<Val>;
    /// A file's text, by the path the configuration gives (relative to the module).
    fn read_file(&self, path: &str) -> Result<String, String>;
    /// `path.module`, `path.root`.
    fn module_path(&self) -> String;
}

/// The evaluator: the current source text and bindings, and what it had to assume.
pub struct Eval<'s> {
    pub scope: &'s dyn Scope,
    text: Arc<str>,
    lines: Arc<Lines>,
    /// Every line of a value read from another file is this one.
    fixed_line: Option<usize>,
    bindings: Vec<(String, Val)>,
    /// In `templatefile`: only the given variables are visible.
    template_only: bool,
    /// An unknown was rendered into a policy value.
    pub opaque: bool,
    /// Variables read at their declared default.
    pub defaults: BTreeSet<String>,
    /// How many times a variable was read at its default (to tell whether a value depends on one).
    pub default_reads: usize,
    /// A value is the union of the branches of a conditional whose condition is unknown.
    pub chose: bool,
    /// Files read by `file` / `templatefile`, and those that could not be.
    pub files: Vec<String>,
    pub missing_files: Vec<String>,
    depth: usize,
}

const MAX_DEPTH: usize = 64;
/// Largest collection or text a computation may build; beyond it the value is unknown (a
/// hostile configuration cannot make the scanner exhaust memory).
const MAX_ITEMS: usize = 100_000;
const MAX_TEXT: usize = 8 * 1024 * 1024;

fn size(v: &Val) -> usize {
    match &v.v {
        V::List(items) => 1 + items.iter().map(size).sum::<usize>(),
        V::Obj(entries) => 1 + entries.iter().map(|(k, x)| 1 + k.len() / 64 + size(x)).sum::<usize>(),
        V::Json(inner) => size(inner),
        V::Str(s) | V::Unknown(s) => 1 + s.len() / 64,
        _ => 1,
    }
}

impl<'s> Eval<'s> {
    pub fn new(scope: &'s dyn Scope, text: Arc<str>, lines: Arc<Lines>) -> Self {
        Eval {
            scope,
            text,
            lines,
            fixed_line: None,
            bindings: Vec::new(),
            template_only: false,
            opaque: false,
            defaults: BTreeSet::new(),
            default_reads: 0,
            chose: false,
            files: Vec::new(),
            missing_files: Vec::new(),
            depth: 0,
        }
    }

    /// Evaluate in another file's text (a local or variable declared there); lines become `line`.
    pub fn in_file<T>(
        &mut self,
        text: Arc<str>,
        lines: Arc<Lines>,
        line: Option<usize>,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let saved_text = std::mem::replace(&mut self.text, text);
        let saved_lines = std::mem::replace(&mut self.lines, lines);
        let fixed = line.or(self.fixed_line);
        let saved_fixed = std::mem::replace(&mut self.fixed_line, fixed);
        // A local or variable sees the module, not the iterators around its use.
        let saved_bindings = std::mem::take(&mut self.bindings);
        let saved_tpl = std::mem::replace(&mut self.template_only, false);
        let out = f(self);
        self.text = saved_text;
        self.lines = saved_lines;
        self.fixed_line = saved_fixed;
        self.bindings = saved_bindings;
        self.template_only = saved_tpl;
        out
    }

    /// Is this the text being read?
    pub fn is_text(&self, text: &Arc<str>) -> bool {
        Arc::ptr_eq(&self.text, text)
    }

    pub fn line_of(&self, s: &impl Span) -> usize {
        if let Some(l) = self.fixed_line {
            return l;
        }
        s.span().map(|r| self.lines.at(r.start)).unwrap_or(1)
    }

    /// Source text of an expression, on one line.
    pub fn src(&self, s: &impl Span) -> String {
        let raw = s.span().and_then(|r| self.text.get(r)).unwrap_or("…");
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    pub fn bind(&mut self, name: &str, v: Val) {
        self.bindings.push((name.to_string(), v));
    }

    pub fn unbind(&mut self, n: usize) {
        let keep = self.bindings.len().saturating_sub(n);
        self.bindings.truncate(keep);
    }

    fn lookup(&self, name: &str) -> Option<&Val> {
        self.bindings.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn eval(&mut self, e: &Expression) -> Val {
        if self.depth > MAX_DEPTH {
            return Val::unknown(self.line_of(e), self.src(e));
        }
        self.depth += 1;
        let v = self.eval_inner(e);
        self.depth -= 1;
        let big = match &v.v {
            V::List(_) | V::Obj(_) | V::Json(_) => size(&v) > MAX_ITEMS,
            V::Str(s) => s.len() > MAX_TEXT,
            _ => false,
        };
        if big {
            return Val::unknown(self.line_of(e), self.src(e));
        }
        v
    }

    fn eval_inner(&mut self, e: &Expression) -> Val {
        let line = self.line_of(e);
        let unknown = |this: &Self| Val::unknown(line, this.src(e));
        match e {
            Expression::Null(_) => Val::new(line, V::Null),
            Expression::Bool(b) => Val::new(line, V::Bool(*b.value())),
            Expression::Number(n) => match serde_json::from_str::<serde_json::Number>(&n.value().to_string()) {
                Ok(x) => Val::new(line, V::Num(x)),
                Err(_) => Val::new(line, V::Str(n.value().to_string())),
            },
            Expression::String(s) => Val::new(line, V::Str(s.value().to_string())),
            Expression::Array(a) => Val::new(line, V::List(a.iter().map(|x| self.eval(x)).collect())),
            Expression::Object(o) => {
                let mut entries = Vec::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(id) => id.as_str().to_string(),
                        ObjectKey::Expression(x) => {
                            let kv = self.eval(x);
                            match kv.as_text() {
                                Some(t) => t,
                                None => {
                                    self.opaque = true;
                                    opaque(&self.src(x))
                                }
                            }
                        }
                    };
                    let mut val = self.eval(v.expr());
                    val.key_line = self.line_of(k);
                    entries.push((key, val));
                }
                Val::new(line, V::Obj(entries))
            }
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::StringTemplate(t) => self.template_value(t, line),
            Expression::HeredocTemplate(h) => self.template_value(&h.template, line),
            Expression::Variable(v) => match self.lookup(v.as_str()) {
                Some(x) => {
                    let mut x = x.clone();
                    x.relocate(line);
                    x
                }
                None => unknown(self),
            },
            Expression::Traversal(t) => self.traversal(e, &t.expr, &t.operators, line),
            Expression::FuncCall(f) => self.call(e, f, line),
            Expression::Conditional(c) => {
                let before = self.default_reads;
                let cond = self.eval(&c.cond_expr);
                // A condition known only through a variable's default is a caller's choice:
                // read as either branch, like an unknown one.
                let settled = self.default_reads == before;
                match cond.v {
                    V::Bool(true) if settled => self.eval(&c.true_expr),
                    V::Bool(false) if settled => self.eval(&c.false_expr),
                    _ => {
                        let (a, b) = (self.eval(&c.true_expr), self.eval(&c.false_expr));
                        let src = self.src(e);
                        self.either(a, b, line, src)
                    }
                }
            }
            Expression::UnaryOp(u) => {
                let x = self.eval(&u.expr);
                match (u.operator.value(), &x.v) {
                    (UnaryOperator::Not, V::Bool(b)) => Val::new(line, V::Bool(!b)),
                    (UnaryOperator::Neg, V::Num(n)) => match n.as_f64() {
                        Some(f) => serde_json::Number::from_f64(-f).map(|n| Val::new(line, V::Num(n))).unwrap_or(x),
                        None => unknown(self),
                    },
                    _ => unknown(self),
                }
            }
            Expression::BinaryOp(b) => {
                let (l, r) = (self.eval(&b.lhs_expr), self.eval(&b.rhs_expr));
                self.binary(*b.operator.value(), l, r).map(|v| Val::new(line, v)).unwrap_or_else(|| unknown(self))
            }
            Expression::ForExpr(f) => self.for_expr(e, f, line),
        }
    }

    /// What an unknown condition's two branches may give: one value if they agree or one is
    /// absent, the union of two lists; otherwise unknown.
    fn either(&mut self, a: Val, b: Val, line: usize, src: String) -> Val {
        let empty = |v: &Val| match &v.v {
            V::Null => true,
            V::List(items) => items.is_empty(),
            V::Obj(entries) => entries.is_empty(),
            V::Str(s) => s.is_empty(),
            _ => false,
        };
        if a == b {
            return a;
        }
        if empty(&b) && !a.is_unknown() {
            self.chose = true;
            return a;
        }
        if empty(&a) && !b.is_unknown() {
            self.chose = true;
            return b;
        }
        if empty(&b) {
            return a;
        }
        if empty(&a) {
            return b;
        }
        match (a.v, b.v) {
            (V::List(mut x), V::List(y)) => {
                self.chose = true;
                for item in y {
                    if !x.contains(&item) {
                        x.push(item);
                    }
                }
                Val::new(line, V::List(x))
            }
            _ => Val::unknown(line, src),
        }
    }

    fn binary(&self, op: BinaryOperator, l: Val, r: Val) -> Option<V> {
        use BinaryOperator::*;
        if l.has_unknown() || r.has_unknown() {
            // `x && false` and `x || true` are known whatever `x` is.
            return match (op, &l.v, &r.v) {
                (And, _, V::Bool(false)) | (And, V::Bool(false), _) => Some(V::Bool(false)),
                (Or, _, V::Bool(true)) | (Or, V::Bool(true), _) => Some(V::Bool(true)),
                _ => None,
            };
        }
        let num = |v: &Val| match &v.v {
            V::Num(n) => n.as_f64(),
            V::Str(s) => s.parse::<f64>().ok(),
            _ => None,
        };
        let eq = |a: &Val, b: &Val| {
            let mut a = a.clone();
            let mut b = b.clone();
            a.relocate(0);
            b.relocate(0);
            a.v == b.v
        };
        Some(match op {
            Eq => V::Bool(eq(&l, &r)),
            NotEq => V::Bool(!eq(&l, &r)),
            And | Or => match (&l.v, &r.v) {
                (V::Bool(a), V::Bool(b)) => V::Bool(if op == And { *a && *b } else { *a || *b }),
                _ => return None,
            },
            _ => {
                let (a, b) = (num(&l)?, num(&r)?);
                let n = |f: f64| serde_json::Number::from_f64(f).map(V::Num);
                match op {
                    Less => V::Bool(a < b),
                    LessEq => V::Bool(a <= b),
                    Greater => V::Bool(a > b),
                    GreaterEq => V::Bool(a >= b),
                    Plus => n(a + b)?,
                    Minus => n(a - b)?,
                    Mul => n(a * b)?,
                    Div if b != 0.0 => n(a / b)?,
                    Mod if b != 0.0 => n(a % b)?,
                    _ => return None,
                }
            }
        })
    }

    fn traversal(
        &mut self,
        whole: &Expression,
        root: &Expression,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        line: usize,
    ) -> Val {
        let unknown = |this: &Self| Val::unknown(line, this.src(whole));
        let attr = |i: usize| match ops.get(i).map(|o| o.value()) {
            Some(TraversalOperator::GetAttr(id)) => Some(id.as_str().to_string()),
            _ => None,
        };
        // Roots that name module objects: how many operators they consume.
        let (mut cur, used) = match root {
            Expression::Variable(v) if self.lookup(v.as_str()).is_some() => {
                let mut x = self.lookup(v.as_str()).cloned().unwrap_or_else(|| unknown(self));
                x.relocate(line);
                (x, 0)
            }
            Expression::Variable(v) if !self.template_only => match (v.as_str(), attr(0)) {
                ("var", Some(name)) => match self.scope.variable(self, &name, line) {
                    Some((x, is_default)) => {
                        if is_default {
                            self.defaults.insert(name);
                            self.default_reads += 1;
                        }
                        (x, 1)
                    }
                    None => return unknown(self),
                },
                ("local", Some(name)) => match self.scope.local(self, &name, line) {
                    Some(x) => (x, 1),
                    None => return unknown(self),
                },
                ("path", Some(p)) if p == "module" || p == "root" || p == "cwd" => {
                    (Val::new(line, V::Str(self.scope.module_path())), 1)
                }
                ("data", Some(kind)) if kind == "aws_iam_policy_document" => match attr(1) {
                    Some(name) => match self.scope.policy_document(self, &name, line) {
                        Some(doc) => {
                            // `data.x.NAME[0].json` (with `count`) and `data.x.NAME.json` alike.
                            let mut i = 2;
                            let next = ops.get(i).map(|o| o.value());
                            let splat =
                                matches!(next, Some(TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_)));
                            if doc.is_null() {
                                // Certainly absent (`count` 0): only a splat reads it (as empty).
                                if !splat {
                                    return unknown(self);
                                }
                            } else if matches!(
                                next,
                                Some(TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_))
                            ) {
                                i += 1;
                            }
                            (doc, i)
                        }
                        None => return unknown(self),
                    },
                    None => return unknown(self),
                },
                _ => return unknown(self),
            },
            Expression::Variable(_) => return unknown(self),
            other => (self.eval(other), 0),
        };
        for (n, op) in ops[used..].iter().enumerate() {
            if cur.is_unknown() {
                return unknown(self);
            }
            if matches!(op.value(), TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_)) {
                // `x[*].a`: the rest applied to each element; a single value is a list of one,
                // null an empty list.
                let items = match cur.v {
                    V::List(items) => items,
                    V::Null => Vec::new(),
                    _ => vec![cur],
                };
                let rest = &ops[used + n + 1..];
                let mut out = Vec::new();
                for item in items {
                    match self.apply(item, rest, line) {
                        Some(v) => out.push(v),
                        None => return unknown(self),
                    }
                }
                return Val::new(line, V::List(out));
            }
            cur = match op.value() {
                TraversalOperator::GetAttr(id) => match &cur.v {
                    // An optional attribute the object does not set is null.
                    V::Obj(_) => cur.get(id.as_str()).cloned().unwrap_or_else(|| Val::new(line, V::Null)),
                    V::Null => return unknown(self),
                    _ => return unknown(self),
                },
                TraversalOperator::Index(ix) => {
                    let k = self.eval(ix);
                    match (&cur.v, &k.v) {
                        (V::List(items), V::Num(n)) => match n.as_u64().and_then(|i| items.get(i as usize)) {
                            Some(x) => x.clone(),
                            None => return unknown(self),
                        },
                        (V::Obj(_), V::Str(s)) => match cur.get(s) {
                            Some(x) => x.clone(),
                            None => return unknown(self),
                        },
                        _ => return unknown(self),
                    }
                }
                TraversalOperator::LegacyIndex(i) => match &cur.v {
                    V::List(items) => match items.get(*i.value() as usize) {
                        Some(x) => x.clone(),
                        None => return unknown(self),
                    },
                    _ => return unknown(self),
                },
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => return unknown(self), // handled above
            };
        }
        cur
    }

    /// Attribute and index operators applied to a known value (after a splat); `None` where
    /// the result is not known.
    fn apply(&mut self, mut cur: Val, ops: &[hcl_edit::Decorated<TraversalOperator>], line: usize) -> Option<Val> {
        for op in ops {
            cur = match (op.value(), &cur.v) {
                (TraversalOperator::GetAttr(id), V::Obj(_)) => {
                    cur.get(id.as_str()).cloned().unwrap_or_else(|| Val::new(line, V::Null))
                }
                (TraversalOperator::Index(ix), V::List(items)) => {
                    let items = items.clone();
                    match self.eval(ix).v {
                        V::Num(n) => items.get(n.as_u64()? as usize)?.clone(),
                        _ => return None,
                    }
                }
                (TraversalOperator::LegacyIndex(i), V::List(items)) => items.get(*i.value() as usize)?.clone(),
                _ => return None,
            };
        }
        Some(cur)
    }

    fn for_expr(&mut self, whole: &Expression, f: &hcl_edit::expr::ForExpr, line: usize) -> Val {
        let coll = self.eval(&f.intro.collection_expr);
        let key_var = f.intro.key_var.as_ref().map(|k| k.as_str().to_string());
        let value_var = f.intro.value_var.as_str().to_string();
        let items = match coll.items() {
            Some(items) => items,
            None => {
                // Unknown collection: one element whose variables are unknown (what any element
                // may give), so the projection's literal parts are still read.
                self.opaque = true;
                let src = self.src(&f.intro.collection_expr);
                vec![(Val::unknown(line, format!("{src} key")), Val::unknown(line, format!("{src} element")))]
            }
        };
        let mut list = Vec::new();
        let mut obj = Vec::new();
        for (k, v) in items {
            let mut bound = 1;
            if let Some(kv) = &key_var {
                self.bind(kv, k.clone());
                bound += 1;
            }
            self.bind(&value_var, v.clone());
            let keep = match &f.cond {
                Some(c) => match self.eval(&c.expr).v {
                    V::Bool(b) => b,
                    // Unknown filter: the element may be kept.
                    _ => {
                        self.chose = true;
                        true
                    }
                },
                None => true,
            };
            if keep {
                let value = self.eval(&f.value_expr);
                match &f.key_expr {
                    Some(ke) => {
                        let key = self.eval(ke);
                        let key = match key.as_text() {
                            Some(t) => t,
                            None => {
                                self.opaque = true;
                                opaque(&self.src(ke))
                            }
                        };
                        obj.push((key, value));
                    }
                    None => list.push(value),
                }
            }
            self.unbind(bound);
        }
        let _ = whole;
        if f.key_expr.is_some() {
            Val::new(line, V::Obj(obj))
        } else {
            Val::new(line, V::List(list))
        }
    }

    /// A string template as a value: `"${x}"` alone is `x` itself, as in Terraform.
    fn template_value(&mut self, t: &Template, line: usize) -> Val {
        let els: Vec<&Element> = t.iter().collect();
        if let [Element::Interpolation(i)] = els.as_slice() {
            return self.eval(&i.expr);
        }
        Val::new(line, V::Str(self.render(t, false)))
    }

    /// Render a template to text. With `json`, an unknown interpolated outside a JSON string
    /// is quoted so that `"Action": ${jsonencode(var.actions)}` still parses, and a known
    /// string inside a JSON string is escaped.
    pub fn render(&mut self, t: &Template, json: bool) -> String {
        let mut out = String::new();
        let mut in_string = false;
        self.render_into(t, json, &mut out, &mut in_string);
        out
    }

    fn render_into(&mut self, t: &Template, json: bool, out: &mut String, in_string: &mut bool) {
        for el in t.iter() {
            match el {
                Element::Literal(s) => {
                    if json {
                        let mut escaped = false;
                        for c in s.chars() {
                            if escaped {
                                escaped = false;
                            } else if c == '\\' && *in_string {
                                escaped = true;
                            } else if c == '"' {
                                *in_string = !*in_string;
                            }
                        }
                    }
                    out.push_str(s);
                }
                Element::Interpolation(i) => {
                    let v = self.eval(&i.expr);
                    match v.as_text() {
                        Some(text) if json && *in_string => {
                            let quoted = serde_json::Value::String(text).to_string();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                        Some(text) => out.push_str(&text),
                        None => {
                            self.opaque = true;
                            let o = match &v.v {
                                V::Unknown(src) => opaque(src),
                                _ => opaque(&self.src(&i.expr)),
                            };
                            if json && !*in_string {
                                out.push('"');
                                out.push_str(&o.replace('"', "'"));
                                out.push('"');
                            } else {
                                out.push_str(&o.replace('"', "'"));
                            }
                        }
                    }
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(ifd) => match self.eval(&ifd.if_expr.cond_expr).v {
                        V::Bool(true) => self.render_into(&ifd.if_expr.template, json, out, in_string),
                        V::Bool(false) => {
                            if let Some(e) = &ifd.else_expr {
                                self.render_into(&e.template, json, out, in_string)
                            }
                        }
                        _ => {
                            self.opaque = true;
                            self.chose = true;
                            self.render_into(&ifd.if_expr.template, json, out, in_string)
                        }
                    },
                    Directive::For(fd) => {
                        let coll = self.eval(&fd.for_expr.collection_expr);
                        let items = match coll.items() {
                            Some(items) => items,
                            None => {
                                self.opaque = true;
                                let src = self.src(&fd.for_expr.collection_expr);
                                vec![(Val::unknown(0, format!("{src} key")), Val::unknown(0, format!("{src} element")))]
                            }
                        };
                        for (k, v) in items {
                            if out.len() > MAX_TEXT {
                                self.opaque = true;
                                break;
                            }
                            let mut bound = 1;
                            if let Some(kv) = &fd.for_expr.key_var {
                                self.bind(kv.as_str(), k);
                                bound += 1;
                            }
                            self.bind(fd.for_expr.value_var.as_str(), v);
                            self.render_into(&fd.for_expr.template, json, out, in_string);
                            self.unbind(bound);
                        }
                    }
                },
            }
        }
    }

    fn call(&mut self, whole: &Expression, f: &hcl_edit::expr::FuncCall, line: usize) -> Val {
        let name = f.name.name.as_str();
        let unknown = |this: &Self| Val::unknown(line, this.src(whole));
        if !f.name.namespace.is_empty() {
            return unknown(self);
        }
        let args: Vec<&Expression> = f.args.iter().collect();
        // Functions whose arguments are read lazily.
        match name {
            "try" | "can" => {
                for a in &args {
                    let v = self.eval(a);
                    if name == "can" {
                        return if v.is_unknown() { unknown(self) } else { Val::new(line, V::Bool(true)) };
                    }
                    if !v.is_null() {
                        return v;
                    }
                }
                return Val::new(line, V::Null);
            }
            "templatefile" if args.len() == 2 => return self.templatefile(whole, args[0], args[1], line),
            _ => {}
        }
        let vals: Vec<Val> = args.iter().map(|a| self.eval(a)).collect();
        let text = |i: usize| vals.get(i).and_then(Val::as_text);
        let out = match (name, vals.as_slice()) {
            ("jsonencode", [v]) if !v.is_unknown() => V::Json(Box::new(v.clone())),
            ("jsondecode", [v]) => match v.as_text().map(|t| super::tree::parse_json(&t)) {
                Some(Ok(n)) => {
                    let mut x = Val::from_node(&n);
                    x.relocate(line);
                    return x;
                }
                _ => return unknown(self),
            },
            ("file", [_]) => match text(0) {
                Some(p) if !p.contains("${") => match self.scope.read_file(&p) {
                    Ok(t) => {
                        self.files.push(p);
                        V::Str(t)
                    }
                    Err(_) => {
                        self.missing_files.push(p);
                        return unknown(self);
                    }
                },
                _ => return unknown(self),
            },
            ("concat", _) => {
                let mut out = Vec::new();
                for v in &vals {
                    match &v.v {
                        V::List(items) => out.extend(items.iter().cloned()),
                        _ => return unknown(self),
                    }
                }
                V::List(out)
            }
            ("flatten", [v]) => {
                fn flat(v: &Val, out: &mut Vec<Val>) -> bool {
                    match &v.v {
                        V::List(items) => items.iter().all(|i| flat(i, out)),
                        V::Unknown(_) => false,
                        _ => {
                            out.push(v.clone());
                            true
                        }
                    }
                }
                let mut out = Vec::new();
                if !flat(v, &mut out) {
                    return unknown(self);
                }
                V::List(out)
            }
            ("distinct" | "toset" | "compact", [v]) => match &v.v {
                V::List(items) => {
                    let mut out: Vec<Val> = Vec::new();
                    for i in items {
                        if name == "compact" && (i.is_null() || i.as_text().is_some_and(|t| t.is_empty())) {
                            continue;
                        }
                        if !out.iter().any(|o| o.v == i.v) {
                            out.push(i.clone());
                        }
                    }
                    V::List(out)
                }
                _ => return unknown(self),
            },
            ("tolist" | "tomap" | "tostring" | "sensitive" | "nonsensitive", [v]) => return v.clone(),
            ("merge", _) => {
                let mut out: Vec<(String, Val)> = Vec::new();
                for v in &vals {
                    match &v.v {
                        V::Obj(entries) => {
                            for (k, x) in entries {
                                out.retain(|(ok, _)| ok != k);
                                out.push((k.clone(), x.clone()));
                            }
                        }
                        V::Null => {}
                        _ => return unknown(self),
                    }
                }
                V::Obj(out)
            }
            ("coalesce", _) => {
                for v in &vals {
                    if v.is_unknown() {
                        return unknown(self);
                    }
                    if !v.is_null() && v.as_text().is_none_or(|t| !t.is_empty()) {
                        return v.clone();
                    }
                }
                return unknown(self);
            }
            ("coalescelist", _) => {
                for v in &vals {
                    match &v.v {
                        V::List(items) if !items.is_empty() => return v.clone(),
                        V::List(_) => {}
                        _ => return unknown(self),
                    }
                }
                V::List(Vec::new())
            }
            ("lookup", [m, _, ..]) => match (&m.v, text(1)) {
                (V::Obj(_), Some(k)) => match m.get(&k) {
                    Some(x) => return x.clone(),
                    None => match vals.get(2) {
                        Some(d) => return d.clone(),
                        None => return unknown(self),
                    },
                },
                _ => return unknown(self),
            },
            ("element", [l, i]) => match (&l.v, &i.v) {
                (V::List(items), V::Num(n)) if !items.is_empty() => match n.as_u64() {
                    Some(i) => return items[i as usize % items.len()].clone(),
                    None => return unknown(self),
                },
                _ => return unknown(self),
            },
            ("length", [v]) => match &v.v {
                V::List(items) => V::Num(items.len().into()),
                V::Obj(entries) => V::Num(entries.len().into()),
                V::Str(s) => V::Num(s.chars().count().into()),
                _ => return unknown(self),
            },
            ("keys" | "values", [v]) => match v.items() {
                Some(items) if matches!(v.v, V::Obj(_)) => {
                    V::List(items.into_iter().map(|(k, x)| if name == "keys" { k } else { x }).collect())
                }
                _ => return unknown(self),
            },
            ("contains", [l, x]) => match &l.v {
                V::List(items) if !x.has_unknown() && !l.has_unknown() => V::Bool(items.iter().any(|i| i.v == x.v)),
                _ => return unknown(self),
            },
            ("join", [_, l]) => match (text(0), &l.v) {
                (Some(sep), V::List(items)) => match items.iter().map(Val::as_text).collect::<Option<Vec<_>>>() {
                    Some(parts) => V::Str(parts.join(&sep)),
                    None => return unknown(self),
                },
                _ => return unknown(self),
            },
            ("split", [_, _]) => match (text(0), text(1)) {
                (Some(sep), Some(s)) if !sep.is_empty() => {
                    V::List(s.split(sep.as_str()).map(|p| Val::new(line, V::Str(p.to_string()))).collect())
                }
                _ => return unknown(self),
            },
            ("lower" | "upper" | "trimspace", [_]) => match text(0) {
                Some(s) => V::Str(match name {
                    "lower" => s.to_lowercase(),
                    "upper" => s.to_uppercase(),
                    _ => s.trim().to_string(),
                }),
                None => return unknown(self),
            },
            ("trimprefix" | "trimsuffix", [_, _]) => match (text(0), text(1)) {
                (Some(s), Some(p)) => V::Str(if name == "trimprefix" {
                    s.strip_prefix(p.as_str()).unwrap_or(&s).to_string()
                } else {
                    s.strip_suffix(p.as_str()).unwrap_or(&s).to_string()
                }),
                _ => return unknown(self),
            },
            // Only the plain-substring form (`/re/` patterns are left unknown).
            ("replace", [_, _, to_val]) => match (text(0), text(1), text(2)) {
                (Some(s), Some(from), Some(to))
                    if !(from.starts_with('/') && from.ends_with('/') && from.len() > 1) =>
                {
                    V::Str(s.replace(from.as_str(), &to))
                }
                // A placeholder replaced by a value known only at apply (terraform-aws-s3-bucket's
                // `_S3_BUCKET_ARN_`): the text is known but that part, which stays opaque.
                (Some(s), Some(from), None)
                    if to_val.is_unknown() && !(from.starts_with('/') && from.ends_with('/') && from.len() > 1) =>
                {
                    let V::Unknown(src) = &to_val.v else { return unknown(self) };
                    self.opaque = true;
                    V::Str(s.replace(from.as_str(), &opaque(&src.replace(['"', '\\'], "'"))))
                }
                _ => return unknown(self),
            },
            ("format", [_, ..]) => match text(0) {
                Some(fmt) => match format(&fmt, &vals[1..]) {
                    Some(s) => V::Str(s),
                    None => return unknown(self),
                },
                None => return unknown(self),
            },
            _ => return unknown(self),
        };
        Val::new(line, out)
    }

    fn templatefile(&mut self, whole: &Expression, path: &Expression, vars: &Expression, line: usize) -> Val {
        let unknown = |this: &Self| Val::unknown(line, this.src(whole));
        let p = self.eval(path);
        let Some(p) = p.as_text().filter(|p| !p.contains("${")) else { return unknown(self) };
        let body = match self.scope.read_file(&p) {
            Ok(t) => t,
            Err(_) => {
                self.missing_files.push(p);
                return unknown(self);
            }
        };
        let Ok(template) = hcl_edit::parser::parse_template(&body) else { return unknown(self) };
        self.files.push(p);
        let vars = self.eval(vars);
        let bindings: Vec<(String, Val)> = match vars.v {
            V::Obj(entries) => entries,
            _ => return unknown(self),
        };
        let json = body.trim_start().starts_with('{') || body.trim_start().starts_with('[');
        let text: Arc<str> = body.as_str().into();
        let lines = Arc::new(Lines::new(&body));
        self.in_file(text, lines, Some(line), |ev| {
            ev.template_only = true;
            for (k, v) in &bindings {
                ev.bind(k, v.clone());
            }
            let out = ev.render(&template, json);
            Val::new(line, V::Str(out))
        })
    }
}

/// Terraform's `format` for the verbs policies use (`%s`, `%d`, `%v`, `%%`).
fn format(fmt: &str, args: &[Val]) -> Option<String> {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            's' | 'd' | 'v' => out.push_str(&it.next()?.as_text()?),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with no variables, locals or documents.
    struct Empty;

    impl Scope for Empty {
        fn variable(&self, _: &mut Eval<'_>, _: &str, _: usize) -> Option<(Val, bool)> {
            None
        }
        fn local(&self, _: &mut Eval<'_>, _: &str, _: usize) -> Option<Val> {
            None
        }
        fn policy_document(&self, _: &mut Eval<'_>, _: &str, _: usize) -> Option<Val> {
            None
        }
        fn read_file(&self, p: &str) -> Result<String, String> {
            Err(p.to_string())
        }
        fn module_path(&self) -> String {
            ".".into()
        }
    }

    fn eval(src: &str) -> (serde_json::Value, bool) {
        let e = hcl_edit::parser::parse_expr(src).expect("an expression");
        let scope = Empty;
        let mut ev = Eval::new(&scope, src.into(), Arc::new(Lines::new(src)));
        let v = ev.eval(&e);
        (v.to_node().to_value(), ev.chose)
    }

    #[test]
    fn known_values_are_computed() {
        assert_eq!(eval(r#"format("arn:aws:s3:::%s/*", "b")"#).0, "arn:aws:s3:::b/*");
        assert_eq!(eval(r#"[for s in ["a", "b", "c"] : upper(s) if s != "b"]"#).0, serde_json::json!(["A", "C"]));
        assert_eq!(eval(r#"{for k, v in {x = 1, y = 2} : v => k}"#).0, serde_json::json!({"1": "x", "2": "y"}));
        assert_eq!(eval(r#"[{a = 1}, {a = 2}][*].a"#).0, serde_json::json!([1, 2]));
        assert_eq!(eval(r#"merge({a = 1, b = 2}, {b = 3})"#).0, serde_json::json!({"a": 1, "b": 3}));
        assert_eq!(eval(r#"compact(flatten([["a", ""], ["b"]]))"#).0, serde_json::json!(["a", "b"]));
        assert_eq!(eval(r#"jsonencode({Action = "s3:*"})"#).0, r#"{"Action":"s3:*"}"#);
        assert_eq!(eval(r#"length([1, 2]) > 1 ? "two" : "one""#).0, "two");
    }

    #[test]
    fn unknowns_stay_opaque_and_choices_give_either_branch() {
        assert_eq!(eval("aws_s3_bucket.b.arn").0, "${aws_s3_bucket.b.arn}");
        assert_eq!(eval(r#""${aws_s3_bucket.b.arn}/*""#).0, "${aws_s3_bucket.b.arn}/*");
        let (v, chose) = eval(r#"var.prod ? ["s3:GetObject"] : ["iam:*"]"#);
        assert_eq!(v, serde_json::json!(["s3:GetObject", "iam:*"]));
        assert!(chose);
        let (v, chose) = eval(r#"var.on ? ["s3:GetObject"] : []"#);
        assert_eq!(v, serde_json::json!(["s3:GetObject"]), "the empty branch gives way");
        assert!(chose);
        // `x && false` is known whatever `x` is.
        assert_eq!(eval("var.x && false").0, false);
        assert_eq!(eval(r#"replace("arn:_ID_", "_ID_", aws_s3_bucket.b.id)"#).0, "arn:${aws_s3_bucket.b.id}");
    }
}
