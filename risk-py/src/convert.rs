//! Python objects to and from the engine's JSON: policies in (dict, str, bytes), results out.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use risk_core::{PolicyError, ScoreOptions};
use serde::Serialize;
use serde_json::{Map, Number, Value};

/// Largest policy accepted, the CLI's limit: text in UTF-8 bytes, a dict by its compact JSON.
pub const MAX_INPUT_BYTES: usize = risk_cli::MAX_INPUT_BYTES as usize;

/// Same nesting limit as `serde_json` applies to text, so a dict and its JSON text agree.
const MAX_DEPTH: usize = 128;

/// A policy as given, ready to hand to the engine without the GIL.
pub enum Input<'a> {
    /// JSON text borrowed from an immutable Python `str` or `bytes`.
    Text(&'a str),
    /// JSON text copied out of a mutable `bytearray`.
    Owned(String),
    /// A dict, converted to a JSON value.
    Value(Value),
}

/// Why a Python object is not a policy the engine can read.
pub enum InputError {
    /// Not JSON-shaped at all (a list as the policy, a set inside it): `TypeError`.
    Type(String),
    /// JSON-shaped but unusable (too big, not UTF-8, NaN): `PolicyError`.
    Policy(PolicyError),
}

impl InputError {
    fn policy(path: &str, message: impl Into<String>) -> Self {
        InputError::Policy(PolicyError::at(path, message))
    }
}

fn too_large() -> String {
    format!("the policy is larger than {} KiB; an IAM policy is at most a few KiB", MAX_INPUT_BYTES / 1024)
}

fn not_utf8(e: std::str::Utf8Error) -> InputError {
    InputError::policy("", format!("the policy is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()))
}

fn check_len(n: usize) -> Result<(), InputError> {
    if n > MAX_INPUT_BYTES {
        Err(InputError::policy("", too_large()))
    } else {
        Ok(())
    }
}

/// Read one policy argument: a dict (or other mapping subclass of dict), or JSON as str/bytes.
pub fn read_policy<'a>(obj: &'a Bound<'_, PyAny>) -> Result<Input<'a>, InputError> {
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_str().map_err(|e| InputError::policy("", format!("the policy is not valid text: {e}")))?;
        check_len(text.len())?;
        Ok(Input::Text(text))
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        let bytes = b.as_bytes();
        check_len(bytes.len())?;
        Ok(Input::Text(std::str::from_utf8(bytes).map_err(not_utf8)?))
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        let bytes = b.to_vec();
        check_len(bytes.len())?;
        Ok(Input::Owned(String::from_utf8(bytes).map_err(|e| not_utf8(e.utf8_error()))?))
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let value = dict_to_value(d, 1).map_err(|e| e.finish())?;
        Ok(Input::Value(value))
    } else {
        Err(InputError::Type(format!("a policy must be a dict, or JSON text as str or bytes, not {}", type_name(obj))))
    }
}

impl Input<'_> {
    /// The same input, owning its text (borrowed text is copied).
    pub fn into_owned(self) -> Input<'static> {
        match self {
            Input::Text(t) => Input::Owned(t.to_owned()),
            Input::Owned(t) => Input::Owned(t),
            Input::Value(v) => Input::Value(v),
        }
    }

    /// Score it (no Python involved: callable with the GIL released).
    pub fn score(&self, options: &ScoreOptions) -> Result<risk_core::Report, PolicyError> {
        match self {
            Input::Text(t) => risk_core::score_json(t, options),
            Input::Owned(t) => risk_core::score_json(t, options),
            Input::Value(v) => {
                check_value_size(v)?;
                risk_core::score_value(v, options)
            }
        }
    }

    /// Parse it into a JSON value (for `diff`).
    pub fn into_value(self) -> Result<Value, PolicyError> {
        match self {
            Input::Text(t) => risk_core::parse_json(t),
            Input::Owned(t) => risk_core::parse_json(&t),
            Input::Value(v) => {
                check_value_size(&v)?;
                Ok(v)
            }
        }
    }
}

/// Apply the text size limit to a dict through its compact JSON, without building the text.
fn check_value_size(v: &Value) -> Result<(), PolicyError> {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_INPUT_BYTES {
                return Err(std::io::Error::other("too large"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(&mut Counter(0), v).map_err(|_| PolicyError::at("", too_large()))
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "an unknown type".into())
}

/// A conversion error with the JSON path collected on the way back up (empty on success).
struct Failure {
    /// Path segments, innermost first.
    rev_path: Vec<Seg>,
    kind: Kind,
    deep: bool,
}

enum Seg {
    Key(String),
    Index(usize),
}

enum Kind {
    Type(String),
    Policy(String),
}

impl Failure {
    fn ty(message: String) -> Self {
        Failure { rev_path: Vec::new(), kind: Kind::Type(message), deep: false }
    }
    fn policy(message: String) -> Self {
        Failure { rev_path: Vec::new(), kind: Kind::Policy(message), deep: false }
    }
    fn too_deep() -> Self {
        Failure {
            rev_path: Vec::new(),
            kind: Kind::Policy(format!(
                "nests more than {MAX_DEPTH} levels deep (does a dict or list contain itself?)"
            )),
            deep: true,
        }
    }
    fn at(mut self, seg: Seg) -> Self {
        self.rev_path.push(seg);
        self
    }
    /// The path in the engine's notation, e.g. `Statement[2].Action`, at most `max` deep.
    fn path(&self, max: usize) -> String {
        let mut out = String::new();
        for seg in self.rev_path.iter().rev().take(max) {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
    fn finish(self) -> InputError {
        // A too-deep value (often a dict that contains itself) is reported where it starts.
        let path = self.path(if self.deep { 4 } else { usize::MAX });
        match self.kind {
            Kind::Type(m) if path.is_empty() => InputError::Type(format!("policy {m}")),
            Kind::Type(m) => InputError::Type(format!("policy value at `{path}` {m}")),
            Kind::Policy(m) => InputError::policy(&path, m),
        }
    }
}

fn dict_to_value(d: &Bound<'_, PyDict>, depth: usize) -> Result<Value, Failure> {
    if depth > MAX_DEPTH {
        return Err(Failure::too_deep());
    }
    let mut map = Map::new();
    for (k, v) in d.iter() {
        let key = match k.cast::<PyString>() {
            Ok(s) => s.to_str().map_err(|e| Failure::ty(format!("has a key that is not valid text: {e}")))?.to_owned(),
            Err(_) => {
                return Err(Failure::ty(format!(
                    "has a key of type {}; JSON object keys must be str (key {})",
                    type_name(&k),
                    k.repr().map(|r| r.to_string()).unwrap_or_default()
                )))
            }
        };
        match to_value(&v, depth + 1) {
            Ok(v) => {
                map.insert(key, v);
            }
            Err(e) => return Err(e.at(Seg::Key(key))),
        }
    }
    Ok(Value::Object(map))
}

fn seq_to_value<'py>(items: impl Iterator<Item = Bound<'py, PyAny>>, depth: usize) -> Result<Value, Failure> {
    if depth > MAX_DEPTH {
        return Err(Failure::too_deep());
    }
    let mut out = Vec::with_capacity(items.size_hint().0);
    for (i, item) in items.enumerate() {
        out.push(to_value(&item, depth + 1).map_err(|e| e.at(Seg::Index(i)))?);
    }
    Ok(Value::Array(out))
}

fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, Failure> {
    // Most common first: policies are mostly strings, lists and dicts.
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_str().map_err(|e| Failure::ty(format!("is not valid text: {e}")))?;
        return Ok(Value::String(s.to_owned()));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return seq_to_value(l.iter(), depth);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return dict_to_value(d, depth);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(n) = obj.extract::<i64>() {
            return Ok(Value::Number(n.into()));
        }
        if let Ok(n) = obj.extract::<u64>() {
            return Ok(Value::Number(n.into()));
        }
        // As serde_json reads an integer literal beyond 64 bits: a float, if finite.
        return match obj.extract::<f64>() {
            Ok(f) if f.is_finite() => Ok(Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
            _ => Err(Failure::policy("is a number out of range".into())),
        };
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| Failure::policy(format!("is `{}`, which is not a JSON number", f.value())));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return seq_to_value(t.iter(), depth);
    }
    Err(Failure::ty(format!(
        "is of type {}, which JSON cannot represent (use dict, list, str, int, float, bool or None)",
        type_name(obj)
    )))
}

/// Turn a serialisable result into plain Python objects (dicts, lists, str, int, bool, None).
///
/// NOTE: `pythonize` builds the objects directly from serde. Measured on the managed-policy
/// corpus it costs about 10 µs a report; serialising to JSON text and calling `json.loads`
/// costs about 25 µs more, and a hand-written serializer with cached keys was no faster.
pub fn to_py<'py, T: Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| PyTypeError::new_err(format!("cannot convert the result: {e}")))
}

/// Any JSON-shaped Python value (dict, list, str, numbers, …) as a JSON value, for arguments that
/// are data rather than a policy (a template, CloudTrail records). `what` names the argument in
/// messages: ``TypeError`` for what JSON cannot hold, ``ValueError`` for NaN and the like.
pub fn json_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    to_value(obj, 1).map_err(|f| {
        let path = f.path(if f.deep { 4 } else { usize::MAX });
        let at = if path.is_empty() { what.to_string() } else { format!("{what} value at `{path}`") };
        match f.kind {
            Kind::Type(m) => PyTypeError::new_err(format!("{at} {m}")),
            Kind::Policy(m) => pyo3::exceptions::PyValueError::new_err(format!("{at} {m}")),
        }
    })
}
