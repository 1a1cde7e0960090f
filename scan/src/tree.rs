//! A line-aware document tree shared by the JSON, YAML and HCL readers, so that every
//! infrastructure format can say on which line a policy and each of its statements start.
//!
//! `serde_json::Value` carries no positions, so JSON containers (CloudFormation JSON, plans,
//! authorization details) go through the small parser below; YAML comes from `saphyr-parser`
//! events, keeping CloudFormation's short-form tags (`!Sub`, `!Ref`, …) as [`Kind::Tagged`].

use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// A value with the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    /// For a mapping's value, the line of its key (a YAML block mapping's value starts on the
    /// line after its key); 0 elsewhere.
    pub key_line: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Num(Number),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order (duplicates kept, so [`find_duplicate`] can refuse them in a
    /// policy; lookups take the last, as JSON parsers do).
    Map(Vec<(String, Node)>),
    /// A YAML local tag such as `!Sub` (name without the `!`) on its value.
    Tagged(String, Box<Node>),
}

impl Node {
    pub fn new(line: usize, kind: Kind) -> Self {
        Node { line, key_line: 0, kind }
    }

    /// The line of the key this node is the value of, else of the node.
    pub fn key_line(&self) -> usize {
        if self.key_line > 0 {
            self.key_line
        } else {
            self.line
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    /// Plain JSON value (tags dropped, their values kept).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Num(n) => Value::Number(n.clone()),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k.clone(), v.to_value());
                }
                Value::Object(m)
            }
            Kind::Tagged(_, inner) => inner.to_value(),
        }
    }

    /// Shift every line by `by` (for documents embedded in a larger file).
    pub fn shift_lines(&mut self, by: usize) {
        self.line += by;
        if self.key_line > 0 {
            self.key_line += by;
        }
        match &mut self.kind {
            Kind::Seq(items) => items.iter_mut().for_each(|n| n.shift_lines(by)),
            Kind::Map(entries) => entries.iter_mut().for_each(|(_, n)| n.shift_lines(by)),
            Kind::Tagged(_, inner) => inner.shift_lines(by),
            _ => {}
        }
    }
}

/// A key given twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// JSON path of the key, as the core writes it: `Statement[0].Action`.
    pub path: String,
    pub key: String,
    /// Lines of the first and the second occurrence.
    pub first: usize,
    pub second: usize,
}

impl Duplicate {
    /// The core's wording (`risk_core::json`), with lines only: "has the key `Action` twice in
    /// one object, at line 4 and again at line 6; keep one (…)".
    pub fn predicate(&self) -> String {
        risk_core::json::duplicate_key_predicate(
            &self.key,
            &format!("line {}", self.first),
            &format!("line {}", self.second),
        )
    }

    /// `"Statement[0].Action has the key …"`.
    pub fn message(&self) -> String {
        format!("{} {}", self.path, self.predicate())
    }
}

/// The first key given twice in one mapping anywhere under `doc` (a policy document), in the
/// order a streaming reader meets them: a duplicate inside a value is found before the value's
/// own key is compared with the keys before it. Tags are transparent to the path.
pub fn find_duplicate(doc: &Node) -> Option<Duplicate> {
    fn walk(n: &Node, path: &str) -> Option<Duplicate> {
        match &n.kind {
            Kind::Seq(items) => items.iter().enumerate().find_map(|(i, item)| walk(item, &format!("{path}[{i}]"))),
            Kind::Map(entries) => {
                for (j, (k, v)) in entries.iter().enumerate() {
                    let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    if let Some(d) = walk(v, &here) {
                        return Some(d);
                    }
                    if let Some((_, first)) = entries[..j].iter().find(|(earlier, _)| earlier == k) {
                        return Some(Duplicate {
                            path: here,
                            key: k.clone(),
                            first: first.key_line(),
                            second: v.key_line(),
                        });
                    }
                }
                None
            }
            Kind::Tagged(_, inner) => walk(inner, path),
            _ => None,
        }
    }
    walk(doc, "")
}

/// Lines of a policy document's statements: each element of `Statement` (or the single
/// object), in order.
pub fn statement_lines(doc: &Node) -> Vec<usize> {
    match doc.get("Statement") {
        Some(Node { kind: Kind::Seq(items), .. }) => items.iter().map(|n| n.line).collect(),
        Some(n) => vec![n.line],
        None => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// Parse JSON text into a [`Node`]. On failure, the message comes from `serde_json` (it names
/// line and column), which is better than anything this small parser would say.
pub fn parse_json(text: &str) -> Result<Node, String> {
    let mut p = JsonParser { b: text.as_bytes(), i: 0, line: 1, depth: 0 };
    let parsed = p.value().and_then(|n| {
        p.ws();
        if p.i == p.b.len() {
            Ok(n)
        } else {
            Err(())
        }
    });
    parsed.map_err(|()| match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Err(e) => format!("not valid JSON: {e}"),
        Ok(_) => "not valid JSON".to_string(),
    })
}

struct JsonParser<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    depth: usize,
}

/// Deep enough for any real document, shallow enough that recursion cannot overflow the stack.
const MAX_DEPTH: usize = 256;

impl JsonParser<'_> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.i += 1;
        }
    }

    fn value(&mut self) -> Result<Node, ()> {
        self.ws();
        let line = self.line;
        let c = *self.b.get(self.i).ok_or(())?;
        let kind = match c {
            b'{' => {
                self.enter()?;
                self.i += 1;
                let mut entries = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        if self.b.get(self.i) != Some(&b'"') {
                            return Err(());
                        }
                        let key_line = self.line;
                        let k = self.string()?;
                        self.ws();
                        if self.b.get(self.i) != Some(&b':') {
                            return Err(());
                        }
                        self.i += 1;
                        let mut v = self.value()?;
                        v.key_line = key_line;
                        entries.push((k, v));
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(()),
                        }
                    }
                }
                self.depth -= 1;
                Kind::Map(entries)
            }
            b'[' => {
                self.enter()?;
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(()),
                        }
                    }
                }
                self.depth -= 1;
                Kind::Seq(items)
            }
            b'"' => Kind::Str(self.string()?),
            b't' => self.word("true", Kind::Bool(true))?,
            b'f' => self.word("false", Kind::Bool(false))?,
            b'n' => self.word("null", Kind::Null)?,
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.b.get(self.i).is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                    self.i += 1;
                }
                let s = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| ())?;
                Kind::Num(serde_json::from_str::<Number>(s).map_err(|_| ())?)
            }
            _ => return Err(()),
        };
        Ok(Node::new(line, kind))
    }

    fn enter(&mut self) -> Result<(), ()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(())
        } else {
            Ok(())
        }
    }

    fn word(&mut self, w: &str, kind: Kind) -> Result<Kind, ()> {
        if self.b[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(kind)
        } else {
            Err(())
        }
    }

    /// A string starting at the opening quote; leaves `i` after the closing one.
    fn string(&mut self) -> Result<String, ()> {
        self.i += 1;
        let start = self.i;
        // Fast path: no escapes.
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    let s = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| ())?.to_string();
                    self.i += 1;
                    return Ok(s);
                }
                b'\\' => break,
                0..=0x1f => return Err(()),
                _ => self.i += 1,
            }
        }
        let mut out: Vec<u8> = self.b[start..self.i].to_vec();
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| ());
                }
                b'\\' => {
                    self.i += 1;
                    let e = *self.b.get(self.i).ok_or(())?;
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(());
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(());
                                }
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).ok_or(())?
                            } else {
                                char::from_u32(hi).ok_or(())?
                            };
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(()),
                    }
                }
                0..=0x1f => return Err(()),
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Err(())
    }

    fn hex4(&mut self) -> Result<u32, ()> {
        let s = self.b.get(self.i..self.i + 4).ok_or(())?;
        let s = std::str::from_utf8(s).map_err(|_| ())?;
        let v = u32::from_str_radix(s, 16).map_err(|_| ())?;
        self.i += 4;
        Ok(v)
    }
}

// ---------------------------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------------------------

/// Parse the first document of a YAML stream. Local tags (`!Ref`) become [`Kind::Tagged`];
/// plain scalars resolve as YAML 1.2's core schema (null, booleans, numbers, strings).
pub fn parse_yaml(text: &str) -> Result<Node, String> {
    use saphyr_parser::{Event, Parser, ScalarStyle};
    enum Frame {
        Seq(usize, Option<String>, usize, Vec<Node>),
        Map(usize, Option<String>, usize, MapFrame),
    }
    #[derive(Default)]
    struct MapFrame {
        entries: Vec<(String, Node)>,
        /// Entries of `<<` merge keys, kept apart: the mapping's own keys win over them.
        merged: Vec<(String, Node)>,
        /// The key read, with its line, waiting for its value.
        key: Option<(String, usize)>,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Node> = std::collections::HashMap::new();
    let mut root: Option<Node> = None;
    let local = |tag: &Option<Cow<'_, saphyr_parser::Tag>>| -> Option<String> {
        tag.as_ref().filter(|t| t.handle == "!").map(|t| t.suffix.clone())
    };
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| {
            format!("not valid YAML: {} at line {} column {}", e.info(), e.marker().line(), e.marker().col() + 1)
        })?;
        let line = span.start.line();
        let (node, anchor) = match ev {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => continue,
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::SequenceStart(anchor, tag) => {
                stack.push(Frame::Seq(line, local(&tag), anchor, Vec::new()));
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                stack.push(Frame::Map(line, local(&tag), anchor, MapFrame::default()));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(l, tag, anchor, items)) => (wrap(Node::new(l, Kind::Seq(items)), tag), anchor),
                _ => return Err("not valid YAML: unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(l, tag, anchor, mut m)) => {
                    // YAML merge keys: a key of the mapping itself overrides a merged one; this is
                    // not a duplicate in the text, so the merged entry is dropped, not kept.
                    for (k, v) in m.merged {
                        if !m.entries.iter().any(|(own, _)| *own == k) {
                            m.entries.push((k, v));
                        }
                    }
                    (wrap(Node::new(l, Kind::Map(m.entries)), tag), anchor)
                }
                _ => return Err("not valid YAML: unbalanced mapping".into()),
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => (n.clone(), 0),
                None => return Err(format!("not valid YAML: unknown alias at line {line}")),
            },
            Event::Scalar(value, style, anchor, tag) => {
                let core = tag.as_ref().filter(|t| t.handle != "!").map(|t| t.suffix.clone());
                let kind = if style != ScalarStyle::Plain || core.as_deref() == Some("str") {
                    Kind::Str(value.into_owned())
                } else {
                    resolve_plain(&value)
                };
                (wrap(Node::new(line, kind), local(&tag)), anchor)
            }
        };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                root = Some(node);
            }
            Some(Frame::Seq(_, _, _, items)) => items.push(node),
            Some(Frame::Map(_, _, _, m)) => match m.key.take() {
                None => m.key = Some((scalar_key(&node), node.line)),
                Some((k, key_line)) => {
                    // YAML merge keys (`<<: *base` or `<<: [*a, *b]`) splice the aliased mappings
                    // in; of two merged mappings, the earlier one's keys win.
                    if k == "<<" {
                        let sources: Vec<Node> = match node.kind {
                            Kind::Map(_) => vec![node],
                            Kind::Seq(items) if items.iter().all(Node::is_map) => items,
                            other => {
                                let mut n = Node::new(node.line, other);
                                n.key_line = key_line;
                                m.entries.push((k, n));
                                continue;
                            }
                        };
                        for src in sources {
                            if let Kind::Map(more) = src.kind {
                                for (mk, mv) in more {
                                    if !m.merged.iter().any(|(seen, _)| *seen == mk) {
                                        m.merged.push((mk, mv));
                                    }
                                }
                            }
                        }
                        continue;
                    }
                    let mut node = node;
                    node.key_line = key_line;
                    m.entries.push((k, node))
                }
            },
        }
    }
    Ok(root.unwrap_or(Node::new(1, Kind::Null)))
}

fn wrap(node: Node, tag: Option<String>) -> Node {
    match tag {
        Some(t) => Node::new(node.line, Kind::Tagged(t, Box::new(node))),
        None => node,
    }
}

fn scalar_key(n: &Node) -> String {
    match &n.kind {
        Kind::Str(s) => s.clone(),
        Kind::Null => String::new(),
        Kind::Bool(b) => b.to_string(),
        Kind::Num(x) => x.to_string(),
        _ => n.to_value().to_string(),
    }
}

fn resolve_plain(s: &str) -> Kind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        _ => {}
    }
    let b = s.as_bytes();
    let numeric_start = b[0].is_ascii_digit() || (b.len() > 1 && matches!(b[0], b'-' | b'+') && b[1].is_ascii_digit());
    if numeric_start {
        // NOTE: leading zeros ("0123", account ids) stay strings so they are not mangled.
        let body = s.trim_start_matches(['-', '+']);
        if !(body.len() > 1 && body.starts_with('0') && !body.starts_with("0.")) {
            if let Ok(i) = s.parse::<i64>() {
                return Kind::Num(Number::from(i));
            }
            if s.contains(['.', 'e', 'E']) {
                if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
                    return Kind::Num(n);
                }
            }
        }
    }
    Kind::Str(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_and_values() {
        let text = "{\n  \"a\": [\n    {\"b\": \"x\\u00e9\\n\"},\n    2.5\n  ],\n  \"c\": null\n}";
        let n = parse_json(text).unwrap();
        assert_eq!(n.line, 1);
        let a = n.get("a").unwrap();
        assert_eq!(a.line, 2);
        assert_eq!(a.as_seq().unwrap()[0].line, 3);
        assert_eq!(a.as_seq().unwrap()[1].line, 4);
        assert_eq!(n.to_value(), serde_json::from_str::<Value>(text).unwrap());
        assert!(parse_json("{\"a\": }").unwrap_err().contains("line 1"));
        assert!(parse_json(&"[".repeat(1000)).is_err());
    }

    #[test]
    fn yaml_tags_and_lines() {
        let text = "Resources:\n  R:\n    Type: AWS::IAM::Policy\n    Properties:\n      Arn: !GetAtt Role.Arn\n      List: !Join\n        - ''\n        - [a, !Ref B]\n      Account: 012345\n      N: 12\n";
        let n = parse_yaml(text).unwrap();
        let p = n.get("Resources").unwrap().get("R").unwrap().get("Properties").unwrap();
        assert_eq!(p.line, 5);
        assert_eq!(
            p.get("Arn").unwrap().kind,
            Kind::Tagged("GetAtt".into(), Box::new(Node::new(5, Kind::Str("Role.Arn".into()))))
        );
        assert!(matches!(&p.get("List").unwrap().kind, Kind::Tagged(t, _) if t == "Join"));
        assert_eq!(p.get("Account").unwrap().kind, Kind::Str("012345".into()));
        assert_eq!(p.get("N").unwrap().kind, Kind::Num(12.into()));
        assert!(parse_yaml("a: [b\n").is_err());
    }

    #[test]
    fn duplicates_are_found_with_their_path_and_key_lines() {
        let text = "{\"Statement\": [{\"Sid\": \"a\"},\n {\"Principal\": {\"AWS\": \"x\",\n  \"AWS\": \"*\"}}]}";
        let d = find_duplicate(&parse_json(text).unwrap()).unwrap();
        assert_eq!(d, Duplicate { path: "Statement[1].Principal.AWS".into(), key: "AWS".into(), first: 2, second: 3 });
        assert!(d.message().starts_with(
            "Statement[1].Principal.AWS has the key `AWS` twice in one object, at line 2 and again at line 3; keep one"
        ));
        // Inside the second value first, as a streaming reader meets it.
        let d = find_duplicate(&parse_json(r#"{"A": 1, "A": {"b": 1, "b": 2}}"#).unwrap()).unwrap();
        assert_eq!(d.path, "A.b");
        assert!(find_duplicate(&parse_json(r#"{"A": 1, "a": 2, "B": [{"A": 1}, {"A": 2}]}"#).unwrap()).is_none());
        // YAML: the key's line, not its block value's (which starts on the next line).
        let yaml = "Statement:\n  - Condition:\n      Bool:\n        aws:SecureTransport: true\n      Bool:\n        aws:MultiFactorAuthPresent: true\n";
        let d = find_duplicate(&parse_yaml(yaml).unwrap()).unwrap();
        assert_eq!((d.path.as_str(), d.first, d.second), ("Statement[0].Condition.Bool", 3, 5));
        // Through a tag.
        let d = find_duplicate(&parse_yaml("R: !Sub\n  - x\n  - {a: 1, a: 2}\n").unwrap()).unwrap();
        assert_eq!(d.path, "R[1].a");
    }

    #[test]
    fn yaml_merge_keys_are_not_duplicates_and_own_keys_win() {
        let yaml = "base: &b {Effect: Allow, Action: '*', Resource: '*'}\nother: &o {Action: x, Sid: o}\ns:\n  Action: s3:GetObject\n  <<: [*b, *o]\n";
        let root = parse_yaml(yaml).unwrap();
        let s = root.get("s").unwrap();
        assert!(find_duplicate(s).is_none());
        assert_eq!(s.get("Action").unwrap().as_str(), Some("s3:GetObject"), "the mapping's own key wins");
        assert_eq!(s.get("Effect").unwrap().as_str(), Some("Allow"));
        assert_eq!(s.get("Sid").unwrap().as_str(), Some("o"));
        assert_eq!(s.entries().len(), 4);
        // Of two merged mappings, the earlier one's keys win.
        let yaml = "a: &a {Action: one}\nb: &b {Action: two}\ns:\n  <<: [*a, *b]\n";
        assert_eq!(parse_yaml(yaml).unwrap().get("s").unwrap().get("Action").unwrap().as_str(), Some("one"));
    }
}
