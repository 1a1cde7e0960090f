//! Remote mode (`--api URL`): POST the policy to a scoring API's `/api/v1/score`.

use crate::InputError;
use risk_core::{Report, ScoreOptions};
use std::time::Duration;

pub fn score(
    url: &str,
    key: Option<&str>,
    timeout: u64,
    text: &str,
    options: &ScoreOptions,
    narrative: bool,
) -> Result<Report, InputError> {
    let bad = |message: String| InputError { message, problems: Vec::new(), api: false };
    let api = |message: String| InputError { message, problems: Vec::new(), api: true };
    // Malformed JSON is the user's input error, found before any network call.
    let policy = risk_core::parse_json(text).map_err(|e| InputError {
        message: e.to_string(),
        problems: e.problems().to_vec(),
        api: false,
    })?;
    let mut payload = serde_json::json!({
        "policy": policy,
        "additional_sensitive_services": options.extra_sensitive_services,
        "additional_high_impact_actions": options.extra_high_impact_actions,
    });
    if let Some(t) = options.access_type {
        payload["access_type"] = t.as_str().into();
    }
    if let Some(h) = options.duration_hours {
        payload["duration_hours"] = h.into();
    }
    if let Some(d) = &options.description {
        payload["description"] = d.clone().into();
    }
    if narrative {
        // Only when asked: servers that predate the field (and the predecessor) ignore it.
        payload["narrative"] = true.into();
    }
    let endpoint = format!("{}/api/v1/score", url.trim_end_matches('/'));
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(bad(format!("--api must be an http:// or https:// URL, got `{url}`")));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(timeout.max(1))))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.post(&endpoint).header("User-Agent", concat!("iam-risk-score/", env!("CARGO_PKG_VERSION")));
    if let Some(k) = key {
        req = req.header("Authorization", &format!("Bearer {k}"));
    }
    let body = serde_json::to_vec(&payload).map_err(|e| bad(format!("cannot encode the request: {e}")))?;
    let mut resp = req
        .header("Content-Type", "application/json")
        .send(&body[..])
        .map_err(|e| api(format!("could not reach API at {endpoint}: {e}")))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| api(format!("API at {endpoint} sent an unreadable response: {e}")))?;
    if status == 400 || status == 422 {
        // The server judged the policy itself invalid: that is bad input, not an API failure.
        return Err(bad(format!("the API rejected the policy (HTTP {status}): {}", snippet(&body))));
    }
    if !(200..300).contains(&status) {
        return Err(api(format!("API returned HTTP {status}: {}", snippet(&body))));
    }
    serde_json::from_str::<Report>(&body).map_err(|e| api(format!("API response is not a v1 score result: {e}")))
}

fn snippet(s: &str) -> String {
    let t: String = s.chars().take(400).collect();
    t.replace('\n', " ")
}
