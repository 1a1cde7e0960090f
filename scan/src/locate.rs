//! Line numbers of a policy's statements in its source text, for annotations and SARIF.
//!
//! A small scanner over the JSON text (already known to parse): finds the top-level
//! `Statement` value and the line where each of its elements starts.

/// 1-based line of each statement (index order); empty when it cannot tell.
pub fn statement_lines(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut line = 1;
    let mut depth = 0usize;
    // Scan to the top-level key "Statement".
    let mut expect_key = false;
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'{' => {
                depth += 1;
                expect_key = depth == 1;
            }
            b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = true,
            b'"' => {
                let (end, nl) = string_at(b, i);
                line += nl;
                // Compared as written: a key spelled with escapes (`Statem\u0065nt`) is not
                // located, and lines are then unknown (never wrong).
                let is_statement = b.get(i + 1..end.saturating_sub(1)) == Some(&b"Statement"[..]);
                i = end;
                if depth == 1 && expect_key && is_statement {
                    // Skip to the value.
                    while i < b.len() && b[i] != b':' {
                        if b[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                    while i < b.len() && b[i].is_ascii_whitespace() {
                        if b[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                    return elements(b, i, line);
                }
                expect_key = false;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Vec::new()
}

/// Returns (index after the closing quote, newlines inside) of the string starting at
/// `start`, without copying it (this runs over every string of every scanned file).
fn string_at(b: &[u8], start: usize) -> (usize, usize) {
    let mut i = start + 1;
    let mut nl = 0;
    while i < b.len() && b[i] != b'"' {
        if b[i] == b'\\' {
            i += 1;
        }
        if b.get(i) == Some(&b'\n') {
            nl += 1;
        }
        i += 1;
    }
    (i + 1, nl)
}

fn elements(b: &[u8], start: usize, mut line: usize) -> Vec<usize> {
    if start >= b.len() {
        return Vec::new();
    }
    if b[start] == b'{' {
        return vec![line];
    }
    if b[start] != b'[' {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'"' => {
                let (end, nl) = string_at(b, i);
                line += nl;
                i = end;
                continue;
            }
            b'{' | b'[' => {
                if depth == 1 && b[i] == b'{' {
                    out.push(line);
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_statement_lines() {
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"},\n    {\n      \"Effect\": \"Deny\",\n      \"Action\": \"s3:x\", \"Resource\": \"*\"\n    }\n  ]\n}\n";
        assert_eq!(statement_lines(text), vec![4, 5]);
        assert_eq!(statement_lines("{\"Statement\": {\"Effect\": \"Allow\"}}"), vec![1]);
        assert_eq!(statement_lines("{\"Id\": \"Statement\", \"Statement\": []}"), Vec::<usize>::new());
        // Escapes inside strings are skipped, not read as quotes or keys.
        let text = "{\"Sid\": \"a\\\"Statement\\\"\",\n \"Sta\\tement\": 1,\n \"Statement\": [\n {}, {}]}";
        assert_eq!(statement_lines(text), vec![4, 4]);
    }
}
