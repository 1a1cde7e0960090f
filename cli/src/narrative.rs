//! `--narrative`: a plain-words explanation added to each scored policy. With the `llm`
//! feature and `IAM_RISK_SCORE_LLM_MODEL` set it comes from that model (validated, falling back
//! to the template on any failure); otherwise it is the deterministic template. Either way the
//! score, tier and findings are untouched.

use crate::{input, Outcome};
use risk_core::ScoreOptions;
use std::io::Write;

/// Add a narrative to every successful outcome. `texts` are the inputs' JSON texts, in the
/// order of `outcomes` (`None` where the input failed). Errors are configuration errors.
pub fn add(
    outcomes: &mut [Outcome],
    texts: &[Option<String>],
    options: &ScoreOptions,
    stderr: &mut dyn Write,
) -> Result<(), String> {
    let policies: Vec<Option<serde_json::Value>> =
        texts.iter().map(|t| t.as_deref().and_then(|t| risk_core::parse_json(t).ok())).collect();
    #[cfg(feature = "llm")]
    {
        let _ = &stderr;
        if let Some(config) = risk_narrative::Config::from_env(|k| std::env::var(k).ok())? {
            return with_model(config, outcomes, &policies, options);
        }
    }
    #[cfg(not(feature = "llm"))]
    {
        let _ = (&policies, options);
        if std::env::var_os("IAM_RISK_SCORE_LLM_MODEL").is_some_and(|v| !v.is_empty()) {
            let _ = writeln!(
                stderr,
                "warning: this build has no model support (cargo feature `llm`); using the template narrative"
            );
        }
    }
    for o in outcomes.iter_mut() {
        if let Ok(s) = &mut o.result {
            let n = risk_narrative::Narration::fallback(&s.report, risk_narrative::Fallback::Disabled);
            risk_narrative::apply(&mut s.report, &n);
        }
    }
    Ok(())
}

#[cfg(feature = "llm")]
fn with_model(
    config: risk_narrative::Config,
    outcomes: &mut [Outcome],
    policies: &[Option<serde_json::Value>],
    options: &ScoreOptions,
) -> Result<(), String> {
    use std::sync::Arc;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the narrative runtime: {e}"))?;
    let narrator = Arc::new(risk_narrative::Narrator::new(config));
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, o) in outcomes.iter().enumerate() {
            if let (Ok(s), Some(Some(policy))) = (&o.result, policies.get(i)) {
                let (n, report, policy, options) =
                    (narrator.clone(), s.report.clone(), policy.clone(), options.clone());
                // Calls run concurrently; the narrator caps how many are in flight.
                tasks.spawn(async move { (i, n.narrate(&report, &policy, &options).await) });
            }
        }
        while let Some(Ok((i, narration))) = tasks.join_next().await {
            if let Ok(s) = &mut outcomes[i].result {
                risk_narrative::apply(&mut s.report, &narration);
            }
        }
    });
    Ok(())
}

/// The JSON text of each source again (files are re-read; standard input was kept).
pub fn texts(sources: &[input::Source], stdin_text: Option<&Result<String, String>>) -> Vec<Option<String>> {
    sources
        .iter()
        .map(|s| match s {
            input::Source::Stdin => stdin_text.and_then(|t| t.as_ref().ok().cloned()),
            input::Source::File(p) => input::read_file(p).ok(),
        })
        .collect()
}
