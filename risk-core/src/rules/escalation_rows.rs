//! Strict parser for `data/privilege-escalation-paths.csv`, shared with `build.rs` (std only).
//!
//! NOTE: `risk-core/build.rs` includes this file with `#[path]` and runs [`parse`] on the data,
//! so a row that does not parse fails the build with its line number; the engine parses the
//! same text with the same function, so it can never drop a row that the build accepted.

use std::fmt;

/// The header the data file must start with.
pub const HEADER: &str = "id,kind,required_actions,source";

/// The values of the `kind` column.
pub const KINDS: [&str; 4] = ["self-escalation", "new-passrole", "existing-passrole", "principal-access"];

/// One data row, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// 1-based line number in the file.
    pub line: usize,
    pub id: &'a str,
    /// Index into [`KINDS`].
    pub kind: usize,
    /// `service:Action` names, in file order.
    pub actions: Vec<&'a str>,
    pub source: &'a str,
}

/// Why a line of the data file was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number.
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "privilege-escalation-paths.csv line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for RowError {}

/// Parse the whole file: the header, then one path per non-empty line. Every problem is an
/// error naming its line; nothing is skipped.
pub fn parse(data: &str) -> Result<Vec<Row<'_>>, RowError> {
    let mut lines = data.lines().enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, h)) if h.trim_end() == HEADER => {}
        Some((line, h)) => return Err(RowError { line, problem: format!("header is `{h}`, expected `{HEADER}`") }),
        None => return Err(RowError { line: 1, problem: "the file is empty".into() }),
    }
    let mut rows: Vec<Row<'_>> = Vec::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        let row = parse_row(line, text)?;
        if let Some(prev) = rows.iter().find(|r| r.id == row.id) {
            return Err(RowError { line, problem: format!("id `{}` already used on line {}", row.id, prev.line) });
        }
        rows.push(row);
    }
    Ok(rows)
}

fn parse_row(line: usize, text: &str) -> Result<Row<'_>, RowError> {
    let err = |problem: String| RowError { line, problem };
    // The source column is free text and may hold commas; the first three may not.
    let cols: Vec<&str> = text.splitn(4, ',').collect();
    if cols.len() < 4 {
        return Err(err(format!("{} columns, expected 4 ({HEADER})", cols.len())));
    }
    let (id, kind, actions, source) = (cols[0], cols[1], cols[2], cols[3].trim());
    let id_ok = id.rsplit_once('-').is_some_and(|(svc, n)| {
        !svc.is_empty()
            && svc.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && n.len() == 3
            && n.bytes().all(|c| c.is_ascii_digit())
    });
    if !id_ok {
        return Err(err(format!("id `{id}` is not of the form `service-NNN`")));
    }
    let Some(kind) = KINDS.iter().position(|k| *k == kind) else {
        return Err(err(format!("kind `{kind}` is not one of {}", KINDS.join(", "))));
    };
    let mut names = Vec::new();
    for raw in actions.split(';') {
        let name = raw.trim();
        if name.is_empty() {
            return Err(err(format!("empty action name in `{actions}`")));
        }
        let well_formed = name.split_once(':').is_some_and(|(svc, act)| {
            !svc.is_empty()
                && !act.is_empty()
                && svc.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && act.bytes().all(|c| c.is_ascii_alphanumeric())
        });
        if !well_formed {
            return Err(err(format!("action `{name}` is not of the form `service:Action` (no wildcards)")));
        }
        if names.iter().any(|n: &&str| n.eq_ignore_ascii_case(name)) {
            return Err(err(format!("action `{name}` is listed twice")));
        }
        names.push(name);
    }
    if source.is_empty() {
        return Err(err("the source column is empty".into()));
    }
    Ok(Row { line, id, kind, actions: names, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(row: &str) -> Result<Vec<Row<'_>>, RowError> {
        // Leak so the rows can borrow the text; tests only.
        let text: &'static str = Box::leak(format!("{HEADER}\n{row}\n").into_boxed_str());
        parse(text)
    }

    #[test]
    fn a_good_row_parses() {
        let rows =
            one("iam-001,self-escalation,iam:CreatePolicyVersion; iam:SetDefaultPolicyVersion ,Rhino, 2018").unwrap();
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[0].actions, ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"]);
        assert_eq!(rows[0].source, "Rhino, 2018");
    }

    #[test]
    fn each_problem_is_an_error_naming_the_line() {
        for (row, needle) in [
            ("iam-001,self-escalation,iam:CreatePolicyVersion", "3 columns"),
            ("iam-001,self-escalaton,iam:CreatePolicyVersion,x", "kind `self-escalaton`"),
            ("iam_1,self-escalation,iam:CreatePolicyVersion,x", "id `iam_1`"),
            ("iam-001,self-escalation,,x", "empty action name"),
            ("iam-001,self-escalation,iam:Create*,x", "`iam:Create*`"),
            ("iam-001,self-escalation,CreatePolicyVersion,x", "`CreatePolicyVersion`"),
            ("iam-001,self-escalation,iam:A; iam:a,x", "listed twice"),
            ("iam-001,self-escalation,iam:A,", "source column is empty"),
        ] {
            let e = one(row).unwrap_err();
            assert_eq!(e.line, 2, "{row}");
            assert!(e.to_string().contains(needle), "{row}: {e}");
            assert!(e.to_string().starts_with("privilege-escalation-paths.csv line 2: "), "{e}");
        }
    }

    #[test]
    fn header_and_duplicate_ids_are_checked() {
        assert_eq!(parse("id,kind\n").unwrap_err().line, 1);
        let e =
            parse(&format!("{HEADER}\niam-001,self-escalation,iam:A,x\n\niam-001,new-passrole,iam:B,y\n")).unwrap_err();
        assert_eq!((e.line, e.problem.as_str()), (4, "id `iam-001` already used on line 2"));
    }
}
