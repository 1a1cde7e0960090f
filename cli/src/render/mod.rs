//! Every rendering of results for people, for every command: the terminal ([`human`]: the
//! scorer, `diff`, `scan`, `from-cloudtrail`'s summary), Markdown ([`markdown`]: pull-request
//! comments and job summaries) and GitHub workflow commands ([`github`]), plus `rules`,
//! `explain` and `catalog` ([`docs`]) and the scorer's JSON.
//!
//! What the commands share is here once: colour ([`Paint`], [`ColorChoice`]), a score's tier
//! colour, signed deltas, "and N more", the top finding; Markdown cells, annotations and
//! terminal text escape user-controlled text through [`crate::text`], in `markdown`, `github`
//! and `human` alone. SARIF has its one writer in [`crate::sarif`]; a scan's JSON is
//! [`crate::scan::json`].

mod docs;
pub mod github;
pub mod human;
pub mod markdown;

pub use docs::{catalog, explanation, rules};
pub use human::{activity_summary, written_score_line};

use crate::{Format, Outcome};
use risk_core::output::v1::Report;

/// `--color`: colour in human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Colour on? `auto`: standard output is a terminal and `NO_COLOR` is unset or empty.
    pub fn on(self, stdout_is_tty: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// ANSI colour for the terminal, or plain text when off.
pub(crate) struct Paint {
    on: bool,
}

impl Paint {
    pub(crate) fn new(on: bool) -> Self {
        Paint { on }
    }

    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub(crate) fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }

    pub(crate) fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }

    /// Green.
    pub(crate) fn pass(&self, s: &str) -> String {
        self.wrap("32", s)
    }

    /// Red.
    pub(crate) fn fail(&self, s: &str) -> String {
        self.wrap("31", s)
    }

    /// Bold red: an error, a failed gate.
    pub(crate) fn alarm(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }

    /// In the colour of a tier (`low`, `medium`, anything else as `high`).
    pub(crate) fn tier(&self, tier: &str, s: &str) -> String {
        let code = match tier {
            "low" => "1;32",
            "medium" => "1;33",
            _ => "1;31",
        };
        self.wrap(code, s)
    }

    /// In the colour of a score's tier.
    pub(crate) fn score(&self, score: u8, s: &str) -> String {
        self.tier(risk_core::score::tier(score), s)
    }
}

/// A change of score with its sign: `+3`, `0`, `-2`.
pub(crate) fn delta(d: i16) -> String {
    if d > 0 {
        format!("+{d}")
    } else {
        d.to_string()
    }
}

/// ` and N more` when only `shown` of `total` items were listed, else nothing.
pub(crate) fn and_more(total: usize, shown: usize) -> String {
    if total > shown {
        format!(" and {} more", total - shown)
    } else {
        String::new()
    }
}

/// `RULE name` of a report's first (highest) finding, or `—`.
pub(crate) fn top_finding(r: &Report) -> String {
    r.findings.first().map(|f| format!("{} {}", f.rule, f.name)).unwrap_or_else(|| "—".into())
}

/// A run's largest score as `N/10`, or `none` when nothing was scored.
pub(crate) fn max_score(totals: &serde_json::Value, none: &str) -> String {
    totals["max_score"].as_u64().map(|s| format!("{s}/10")).unwrap_or_else(|| none.into())
}

/// ` against REF (COMMIT)` for a scan with a base, the ref as `quoted` shows it; else nothing.
pub(crate) fn against(run: &crate::scan::ScanRun, quoted: impl Fn(&str) -> String) -> String {
    run.base.as_ref().map(|(r, c)| format!(" against {} ({})", quoted(r), &c[..c.len().min(12)])).unwrap_or_default()
}

/// A scan's largest per-policy change of score, signed.
pub(crate) fn max_delta(totals: &serde_json::Value) -> String {
    delta(totals["max_risk_delta"].as_i64().unwrap_or(0) as i16)
}

/// The scorer's JSON: the v1 report of one policy, or a list of `{file, result|error}`.
pub fn json(outcomes: &[Outcome], single: bool) -> String {
    // Reports serialize in declaration order, the one v1 key order every surface shares.
    #[derive(serde::Serialize)]
    struct Item<'a> {
        file: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<&'a risk_core::Report>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<serde_json::Value>,
    }
    let mut s = if single {
        match &outcomes[0].result {
            Ok(s) => serde_json::to_string_pretty(&s.report),
            Err(e) => serde_json::to_string_pretty(&error_value(e)),
        }
    } else {
        let items: Vec<Item<'_>> = outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(s) => Item { file: &o.label, result: Some(&s.report), error: None },
                Err(e) => Item { file: &o.label, result: None, error: Some(error_value(e)["error"].clone()) },
            })
            .collect();
        serde_json::to_string_pretty(&items)
    }
    .unwrap_or_default();
    s.push('\n');
    s
}

fn error_value(e: &crate::InputError) -> serde_json::Value {
    serde_json::json!({"error": {"message": e.message, "details": e.problems}})
}

/// `diff OLD NEW` of two policy documents: JSON, Markdown, or else the terminal text.
pub fn diff(d: &risk_core::diff::PolicyDiff, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(d).unwrap_or_default() + "\n",
        Format::Markdown => markdown::diff(d),
        _ => human::diff(d),
    }
}
