//! Making user-controlled text safe to show: every human-facing output (terminal, Markdown,
//! GitHub workflow commands, SARIF message text, standard error) passes policy content, file
//! names and addresses through here, so that a control or invisible character in a `Sid` or a
//! file name cannot reorder, hide or forge what the reviewer reads. JSON output keeps the data
//! exact (serde escapes what JSON needs) and does not use this module.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters shown as `\u{…}` escapes instead of being printed: C0 and C1 controls (and DEL),
/// the bidirectional controls (U+061C, U+200E/F, U+202A–E, U+2066–9), and the format characters
/// that print as nothing and so can hide or join text: soft hyphen, zero-width spaces and
/// joiners (U+200B–D, U+2060–4, U+FEFF), line and paragraph separators (U+2028/9), the
/// deprecated format controls (U+206A–F), Mongolian vowel separator, interlinear annotation
/// marks (U+FFF9–B), Hangul fillers and the tag characters (U+E0000–7F).
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{3164}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// `s` with every [`is_hidden`] character written as a visible Rust-style escape
/// (`\u{202e}`, `\u{a}` for a line feed). Borrowed when nothing needs escaping.
pub fn visible(s: &str) -> Cow<'_, str> {
    // Printable ASCII (0x20–0x7E) is never hidden: decided per byte, without decoding chars.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_hidden(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a Markdown table cell or list item: [`visible`], and `|` escaped so it cannot
/// end the cell.
pub fn md(s: &str) -> String {
    visible(s).replace('|', "\\|")
}

/// The message part of a GitHub workflow command (`::error …::MESSAGE`): [`visible`] first,
/// so no line break or control survives, then GitHub's own `%` escape.
pub fn gh_data(s: &str) -> String {
    visible(s).replace('%', "%25")
}

/// A property value of a workflow command (`file=…`, `title=…`): as [`gh_data`], and `:` and
/// `,`, which end a property.
pub fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_become_visible_escapes() {
        assert!(matches!(visible("Allow-s3:GetObject *"), Cow::Borrowed(_)));
        assert_eq!(visible("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(visible("x\ny\r\t\u{1b}[31m"), "x\\u{a}y\\u{d}\\u{9}\\u{1b}[31m");
        assert_eq!(visible("\u{85}\u{9b}\u{61c}\u{200e}\u{200f}"), "\\u{85}\\u{9b}\\u{61c}\\u{200e}\\u{200f}");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert_eq!(visible(&c.to_string()), format!("\\u{{{:x}}}", c as u32));
        }
        for c in ['\u{200b}', '\u{200c}', '\u{200d}', '\u{feff}', '\u{2028}', '\u{2029}', '\u{e0041}', '\u{ad}'] {
            assert!(is_hidden(c), "{:x}", c as u32);
        }
        // Ordinary non-ASCII text is kept.
        assert_eq!(visible("rôle-données 🔴 アクセス"), "rôle-données 🔴 アクセス");
    }

    #[test]
    fn markdown_and_workflow_command_escapes() {
        assert_eq!(md("a|b\nc"), "a\\|b\\u{a}c");
        assert_eq!(gh_data("50%\r\n\u{202e}"), "50%25\\u{d}\\u{a}\\u{202e}");
        assert_eq!(gh_prop("dir/a:b,c.json"), "dir/a%3Ab%2Cc.json");
    }
}
