//! `risk-narrative`: an optional plain-words explanation of a v1 result, shared by the scoring
//! API and the CLI's `--narrative`.
//!
//! The deterministic result is the truth; the narrative only explains it. A model (any
//! OpenAI-compatible chat-completions endpoint, feature `llm`) gets the findings as JSON data,
//! with the policy and the requester's description quoted inside it, never as instructions.
//! Its answer must be a small JSON object; it is validated, length-limited, stripped of markup
//! and links, and rejected when it contradicts the score or echoes untrusted text. Anything
//! that goes wrong falls back to [`template`], a deterministic narrative built only from rule
//! metadata and counts. [`apply`] is the only function that touches a [`Report`], and it
//! changes `llm_narrative`, `analyzer` and (appending) `suggestions` — never the score, the
//! tier or the findings.

mod cache;
pub mod intake;
mod prompt;
mod template;
mod validate;

#[cfg(feature = "llm")]
mod intake_llm;
#[cfg(feature = "llm")]
mod llm;

pub use cache::{CacheKey, TtlLru};
pub use prompt::{answer_schema, messages, Messages, PROMPT_VERSION};
pub use template::template;
pub use validate::{
    parse_answer, sanitize, Answer, Invalid, MAX_NARRATIVE_CHARS, MAX_SUGGESTIONS, MAX_SUGGESTION_CHARS,
};

#[cfg(feature = "llm")]
pub use intake_llm::INTAKE_PROMPT_VERSION;
#[cfg(feature = "llm")]
pub use llm::{Config, Narrator, Observer, ResponseFormatKind, ENV_VARS};

use risk_core::{Report, ScoreOptions};
use serde_json::Value;

/// Where a narrative came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A validated model answer (`cached`: served from the cache).
    Llm { model: String, cached: bool },
    /// The deterministic template, and why the model's answer was not used.
    Template(Fallback),
}

/// Why the template narrative was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// No model is configured (or the build has no `llm` feature).
    Disabled,
    /// The model did not answer within the timeout (including waiting for a free slot).
    Timeout,
    /// The request failed: connection, HTTP status, unreadable response.
    Error,
    /// The answer did not pass validation (schema, length, contradiction, injection echo).
    Invalid,
}

impl Fallback {
    /// Label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::Disabled => "disabled",
            Fallback::Timeout => "timeout",
            Fallback::Error => "error",
            Fallback::Invalid => "invalid",
        }
    }
}

/// A narrative ready to be applied to its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narration {
    pub text: String,
    /// Extra suggestions from the model (validated, at most [`MAX_SUGGESTIONS`]).
    pub extra_suggestions: Vec<String>,
    pub source: Source,
}

impl Narration {
    /// The deterministic narrative for `report`.
    pub fn fallback(report: &Report, why: Fallback) -> Self {
        Narration { text: template(report), extra_suggestions: Vec::new(), source: Source::Template(why) }
    }
}

/// Put a narration into its report. Only `llm_narrative`, `analyzer` and `suggestions` (extra
/// ones appended after the deterministic ones, duplicates skipped) change.
pub fn apply(report: &mut Report, n: &Narration) {
    report.llm_narrative = Some(n.text.clone());
    if let Source::Llm { model, .. } = &n.source {
        report.analyzer = format!("deterministic+llm:{model}");
        for s in &n.extra_suggestions {
            if !report.suggestions.iter().any(|d| d.eq_ignore_ascii_case(s)) {
                report.suggestions.push(s.clone());
            }
        }
    }
}

/// The untrusted strings of a request that a narrative must never repeat: the description,
/// every statement `Sid`, and any other string in the policy that reads like prose (has a
/// space and some length; ARNs, actions and condition keys have none).
pub fn untrusted_texts(policy: &Value, options: &ScoreOptions) -> Vec<String> {
    fn walk(v: &Value, key: Option<&str>, out: &mut Vec<String>) {
        match v {
            Value::String(s) if key == Some("Sid") || (s.len() >= 16 && s.contains(' ')) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, key, out)),
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, Some(k), out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(policy, None, &mut out);
    if let Some(d) = options.description.as_deref() {
        out.push(d.to_string());
    }
    out
}
