//! Strict JSON reading for every surface: duplicate keys are errors, and every parse failure
//! becomes one message, worded here once.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"Action": "s3:GetObject",
//! "Action": "*"}` would be scored as `*` while a reviewer reads `s3:GetObject`. The reader
//! below builds the same `Value` through its own visitor and fails when the key's map entry is
//! already taken (the one lookup an insert makes anyway); only then does a small scanner find where both
//! occurrences are, for the message.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// serde_json's nesting limit, which this reader inherits.
pub const MAX_DEPTH: usize = 128;

/// Why JSON text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// Not JSON (a stray character, a missing comma, trailing text…).
    Syntax,
    /// The text ends in the middle of a value.
    Eof,
    /// Deeper than [`MAX_DEPTH`] arrays and objects.
    TooDeep,
    /// The same key twice in one object.
    DuplicateKey {
        key: String,
        /// 1-based line and column of the first occurrence.
        first: (usize, usize),
    },
}

/// A JSON read failure with its position (1-based line and column; for a duplicate key, of the
/// second occurrence) and, for a duplicate key, the JSON path of the key (`Statement[0].Action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub kind: JsonErrorKind,
    pub line: usize,
    pub column: usize,
    /// JSON path of the offending key; empty unless `kind` is `DuplicateKey`.
    pub path: String,
    /// serde_json's description of a syntax error, without its position.
    detail: String,
}

impl JsonError {
    /// What is wrong, as the predicate of a sentence whose subject the caller supplies ("the
    /// policy …", "the request body …"), so every surface words the same failure the same way.
    pub fn predicate(&self) -> String {
        let (l, c) = (self.line, self.column);
        match &self.kind {
            JsonErrorKind::Syntax => format!("is not valid JSON: {} at line {l} column {c}", self.detail),
            JsonErrorKind::Eof => format!("ends unexpectedly at line {l} column {c}"),
            JsonErrorKind::TooDeep => {
                format!("nests more than {MAX_DEPTH} levels deep (recursion limit exceeded at line {l} column {c})")
            }
            JsonErrorKind::DuplicateKey { key, first: (fl, fc) } => {
                duplicate_key_predicate(key, &format!("line {fl} column {fc}"), &format!("line {l} column {c}"))
            }
        }
    }

    /// The same failure as a policy problem: duplicate keys at their JSON path, other failures
    /// for the whole document ("the policy is not valid JSON: …").
    pub fn to_policy_error(&self) -> crate::PolicyError {
        match self.kind {
            JsonErrorKind::DuplicateKey { .. } => crate::PolicyError::at(&self.path, self.predicate()),
            _ => crate::PolicyError::at("", format!("the policy {}", self.predicate())),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "the document {}", self.predicate())
        } else {
            write!(f, "{} {}", self.path, self.predicate())
        }
    }
}

impl std::error::Error for JsonError {}

/// The predicate for a key given twice in one object, with both positions as written by the
/// caller ("line 4 column 25", or "line 4" where only lines are known), so that readers other
/// than this one (`scan`'s CloudFormation, YAML and HCL readers) word a duplicate the same way.
pub fn duplicate_key_predicate(key: &str, first: &str, second: &str) -> String {
    format!(
        "has the key `{key}` twice in one object, at {first} and again at {second}; \
         keep one (JSON readers silently use the last, so the document would not say what it seems to)"
    )
}

/// Parse JSON text into a `Value`, rejecting duplicate keys.
pub fn from_str(text: &str) -> Result<Value, JsonError> {
    from_slice(text.as_bytes())
}

/// Parse JSON bytes (UTF-8) into a `Value`, rejecting duplicate keys.
pub fn from_slice(bytes: &[u8]) -> Result<Value, JsonError> {
    let state = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = ValueSeed { dup: &state }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    result.map_err(|e| match state.into_inner() {
        Some(dup) => duplicate_error(bytes, dup, &e),
        None => serde_error(&e),
    })
}

/// Turn a serde_json error into a [`JsonError`] (for callers that parse with serde_json
/// directly, e.g. into a typed struct).
pub fn serde_error(e: &serde_json::Error) -> JsonError {
    let kind = match e.classify() {
        serde_json::error::Category::Eof => JsonErrorKind::Eof,
        _ if e.to_string().starts_with("recursion limit exceeded") => JsonErrorKind::TooDeep,
        _ => JsonErrorKind::Syntax,
    };
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let detail = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    JsonError { kind, line: e.line(), column: e.column(), path: String::new(), detail }
}

/// A duplicate found while reading: the key and the path to its object, innermost first.
struct Dup {
    key: String,
    rev_path: Vec<Seg>,
}

enum Seg {
    Key(String),
    Index(usize),
}

struct ValueSeed<'s> {
    dup: &'s RefCell<Option<Dup>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element_seed(ValueSeed { dup: self.dup }) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => return Ok(Value::Array(out)),
                Err(e) => {
                    if let Some(d) = self.dup.borrow_mut().as_mut() {
                        d.rev_path.push(Seg::Index(out.len()));
                    }
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match map.next_value_seed(ValueSeed { dup: self.dup }) {
                // One lookup, as a plain insert would do: a duplicate is found for free.
                Ok(v) => match out.entry(key) {
                    serde_json::map::Entry::Vacant(slot) => {
                        slot.insert(v);
                    }
                    serde_json::map::Entry::Occupied(taken) => {
                        *self.dup.borrow_mut() = Some(Dup { key: taken.key().clone(), rev_path: Vec::new() });
                        return Err(de::Error::custom("duplicate key"));
                    }
                },
                Err(e) => {
                    if let Some(d) = self.dup.borrow_mut().as_mut() {
                        d.rev_path.push(Seg::Key(key));
                    }
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Build the duplicate-key error: find both occurrences of the key in its object by scanning
/// the text again (only on this error path).
fn duplicate_error(bytes: &[u8], dup: Dup, e: &serde_json::Error) -> JsonError {
    let mut path = String::new();
    for seg in dup.rev_path.iter().rev() {
        match seg {
            Seg::Key(k) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Seg::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    let object_path: Vec<&Seg> = dup.rev_path.iter().rev().collect();
    let found = Scanner { b: bytes, i: 0 }.find_key(&object_path, &dup.key);
    let (first, second) = match found.as_slice() {
        [a, b, ..] => (position(bytes, *a), position(bytes, *b)),
        // Cannot happen for text serde_json read this far; fall back to serde's position.
        _ => ((e.line(), e.column()), (e.line(), e.column())),
    };
    let full = if path.is_empty() { dup.key.clone() } else { format!("{path}.{}", dup.key) };
    JsonError {
        kind: JsonErrorKind::DuplicateKey { key: dup.key, first },
        line: second.0,
        column: second.1,
        path: full,
        detail: String::new(),
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// A minimal scanner over JSON that serde_json has already read up to the duplicate.
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// Read a string starting at `self.i` (the opening quote); returns it decoded.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return serde_json::from_slice(&self.b[start..self.i]).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// Skip one value; iterative, so depth cannot overflow the stack.
    fn skip(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                    continue;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.i += 1;
                }
                b',' | b':' if depth > 0 => {
                    self.i += 1;
                    continue;
                }
                b',' | b':' => return None,
                _ => {
                    while self.i < self.b.len()
                        && !matches!(self.b[self.i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                    {
                        self.i += 1;
                    }
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }

    /// Byte offsets of each occurrence of `key` in the object at `path`.
    fn find_key(mut self, path: &[&Seg], key: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let _ = self.find_key_inner(path, key, &mut out);
        out
    }

    fn find_key_inner(&mut self, path: &[&Seg], key: &str, out: &mut Vec<usize>) -> Option<()> {
        match path.first() {
            None => {
                self.expect(b'{')?;
                while self.peek()? == b'"' {
                    let at = self.i;
                    let k = self.string()?;
                    self.expect(b':')?;
                    if k == key {
                        out.push(at);
                        if out.len() == 2 {
                            return Some(());
                        }
                    }
                    self.skip()?;
                    if self.peek()? == b',' {
                        self.i += 1;
                    }
                }
                Some(())
            }
            Some(Seg::Key(want)) => {
                self.expect(b'{')?;
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let k = self.string()?;
                    self.expect(b':')?;
                    if &k == want {
                        return self.find_key_inner(&path[1..], key, out);
                    }
                    self.skip()?;
                    if self.peek()? == b',' {
                        self.i += 1;
                    }
                }
            }
            Some(Seg::Index(want)) => {
                self.expect(b'[')?;
                for _ in 0..*want {
                    self.skip()?;
                    self.expect(b',')?;
                }
                self.find_key_inner(&path[1..], key, out)
            }
        }
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_as_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, 1e400, "x\u0041", true, null, {"b": {}}], "c": 18446744073709551615}"#;
        // 1e400 is out of range for both readers.
        assert!(from_str(text).is_err() && serde_json::from_str::<Value>(text).is_err());
        let text =
            r#"{"a": [1, -2, 3.5, 0.9565758222131459, "x\u0041", true, null, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(from_str(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn duplicate_statement_key_names_both_positions_and_the_path() {
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\",\n     \"Resource\": \"*\", \"Action\": \"*\"}\n  ]\n}";
        let e = from_str(text).unwrap_err();
        assert_eq!(e.path, "Statement[0].Action");
        assert_eq!(e.kind, JsonErrorKind::DuplicateKey { key: "Action".into(), first: (4, 25) });
        assert_eq!((e.line, e.column), (5, 23));
        assert_eq!(
            e.to_policy_error().to_string(),
            "Statement[0].Action has the key `Action` twice in one object, at line 4 column 25 and again at line 5 \
             column 23; keep one (JSON readers silently use the last, so the document would not say what it seems to)"
        );
    }

    #[test]
    fn duplicates_at_the_top_and_in_conditions() {
        let e = from_str(r#"{"Version": "2012-10-17", "Version": "2008-10-17"}"#).unwrap_err();
        assert_eq!(e.path, "Version");
        assert_eq!(e.kind, JsonErrorKind::DuplicateKey { key: "Version".into(), first: (1, 2) });
        assert_eq!((e.line, e.column), (1, 27));
        let text = r#"{"Statement": [{"Sid": "a"}, {"Condition": {"StringEquals": {"aws:x": "1"}, "StringEquals": {"aws:x": "2"}}}]}"#;
        assert_eq!(from_str(text).unwrap_err().path, "Statement[1].Condition.StringEquals");
        let text = r#"{"Statement": {"Condition": {"StringEquals": {"aws:x": "1", "aws:x": ["2", {"k": [1, 2]}]}}}}"#;
        assert_eq!(from_str(text).unwrap_err().path, "Statement.Condition.StringEquals.aws:x");
        // Escapes are compared decoded: `\u0041ction` is `Action`.
        let e = from_str(r#"{"Action": 1, "\u0041ction": 2}"#).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::DuplicateKey { key: "Action".into(), first: (1, 2) });
        // Keys differing in case are different JSON keys.
        assert!(from_str(r#"{"Action": 1, "action": 2}"#).is_ok());
    }

    #[test]
    fn other_failures_have_one_wording() {
        let e = from_str("{\"a\": ").unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::Eof);
        assert_eq!(e.to_policy_error().to_string(), "the policy ends unexpectedly at line 1 column 6");
        let e = from_str("{\"a\" 1}").unwrap_err();
        assert_eq!(e.to_policy_error().to_string(), "the policy is not valid JSON: expected `:` at line 1 column 6");
        let e = from_str(&"[".repeat(200)).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::TooDeep);
        assert_eq!(
            e.to_policy_error().to_string(),
            "the policy nests more than 128 levels deep (recursion limit exceeded at line 1 column 128)"
        );
        let e = from_str("{} x").unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::Syntax);
    }
}
