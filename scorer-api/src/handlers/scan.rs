//! `POST /api/v1/scan`: a repository sent as an archive (tar, tar.gz or zip) → every IAM
//! policy in it found and scored, answered with the v1 scan document that
//! `iam-risk-score scan --format json` prints for the same files, byte for byte.
//!
//! The archive is read in memory by `risk_scan::archive` (no file is written, no path may
//! leave the archive, links are not followed, its decompressed size and file count are
//! capped) and scanned with `risk_scan::scan_texts`, as the CLI scans a directory.

use crate::error::{self, AppError};
use crate::request::{self, ArchiveBody};
use crate::respond::{blocking, json_bytes, unprocessable};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use risk_scan::archive::{ArchiveError, ArchiveLimits};
use risk_scan::{GateRules, ScanSettings};

/// Find and score every IAM policy in a repository archive.
///
/// Send the repository as the body: `git archive --format=tar.gz HEAD` with `Content-Type:
/// application/gzip`, a tar (`application/x-tar`) or a zip (`application/zip`). Every file a
/// directory walk of `iam-risk-score scan` would read is scanned — standalone policy JSON,
/// CloudFormation and SAM templates, Terraform (with its modules and `file()` reads inside the
/// archive), plans and authorization exports — and the answer is the CLI's `scan --format json`
/// document. Query: `threshold=N` (1–10, default 5) or `threshold=none`, and
/// `fail_on_category=a,b` (repeatable); the `gate` in the answer says whether the run fails.
///
/// Refused: an entry whose path is absolute or contains `..` (400), a body that is no such
/// archive (400), more than 20,000 entries or more than `archive_inflated_limit` bytes once
/// decompressed (413). Links are never followed: one named like a scannable file is an entry
/// in `errors`, as is a file that is too large or not UTF-8.
#[utoipa::path(
    post,
    path = "/api/v1/scan",
    tag = "scoring",
    params(
        ("threshold" = Option<String>, Query, description = "1–10, or `none`; default 5"),
        ("fail_on_category" = Option<String>, Query, description = "Categories that fail the run, comma-separated or repeated"),
    ),
    request_body(content = crate::schema::Archive, content_type = "application/octet-stream",
        description = "The repository as tar.gz, tar or zip bytes. Sent as `application/octet-stream`, the \
format is read from the bytes; `application/gzip`, `application/x-gzip`, `application/x-tar`, `application/zip` \
and `application/x-zip-compressed` are accepted too."),
    responses(
        (status = 200, description = "The v1 scan document (`iam-risk-score scan --format json`; docs/scan.md)",
            body = Object),
        (status = 400, description = "Not an archive, unreadable, or an entry path leaving the archive", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body, decompressed size or file count over the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not sent as an archive type", body = error::ErrorBody),
        (status = 422, description = "A query parameter is unknown or invalid", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn scan(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    ArchiveBody(bytes, permit): ArchiveBody,
) -> Result<Response, AppError> {
    let settings = settings(uri.query())?;
    let limits = ArchiveLimits { max_total_bytes: s.config.archive_inflated_limit as u64, ..ArchiveLimits::default() };
    let run = blocking("scan", move || {
        // Held until the work ends, even if the request timed out meanwhile.
        let _permit = permit;
        risk_scan::scan_archive(&bytes, limits, &risk_core::ScoreOptions::default(), &settings)
    })
    .await?
    .map_err(|e| match e {
        ArchiveError::TooManyFiles(_) | ArchiveError::TooLarge(_) => AppError::ArchiveTooLarge(e.to_string()),
        other => AppError::InvalidArchive(other.to_string()),
    })?;
    for e in &run.entries {
        if let Some(r) = &e.report {
            s.metrics.scores.observe(f64::from(r.score));
        }
    }
    let body = risk_scan::json::to_json(&run).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a scan");
        AppError::Internal
    })?;
    Ok(json_bytes(StatusCode::OK, body))
}

/// `threshold` and `fail_on_category` from the query; anything else is a 422, so that a
/// misspelt parameter never silently changes the gate.
fn settings(query: Option<&str>) -> Result<ScanSettings, AppError> {
    let shown = |s: &str| s.chars().take(40).collect::<String>();
    let mut threshold = None;
    let mut categories = Vec::new();
    for (k, v) in request::query_pairs(query, &["threshold", "fail_on_category"])? {
        if k == "fail_on_category" {
            categories.extend(v.split(',').filter(|c| !c.is_empty()).map(str::to_string));
            continue;
        }
        if threshold.is_some() {
            return Err(unprocessable("threshold".into(), "given more than once".into()));
        }
        threshold = Some(match v.as_str() {
            "none" => None,
            n => match n.parse::<u8>() {
                Ok(t @ 1..=10) => Some(t),
                _ => {
                    return Err(unprocessable(
                        "threshold".into(),
                        format!("must be 1 to 10 or `none`, got `{}`", shown(&v)),
                    ))
                }
            },
        });
    }
    risk_scan::check_categories(&categories).map_err(|m| unprocessable("fail_on_category".into(), m))?;
    Ok(ScanSettings {
        gate: GateRules {
            threshold: threshold.unwrap_or(Some(risk_scan::DEFAULT_THRESHOLD)),
            fail_on_increase: false,
            fail_on_category: categories,
        },
        ..ScanSettings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::settings;

    #[test]
    fn query_sets_the_gate_and_refuses_the_unknown() {
        let s = settings(None).unwrap();
        assert_eq!(s.gate.threshold, Some(5));
        let s = settings(Some("threshold=none&fail_on_category=full-admin,privilege-escalation")).unwrap();
        assert_eq!(s.gate.threshold, None);
        assert_eq!(s.gate.fail_on_category, ["full-admin", "privilege-escalation"]);
        // Encoded commas (what `curl --data-urlencode` and browsers send), and repetition.
        let s =
            settings(Some("fail_on_category=full-admin%2Cdestructive&fail_on_category=privilege-escalation")).unwrap();
        assert_eq!(s.gate.fail_on_category, ["full-admin", "destructive", "privilege-escalation"]);
        assert_eq!(settings(Some("threshold=3")).unwrap().gate.threshold, Some(3));
        for bad in [
            "threshold=0",
            "threshold=11",
            "threshold=x",
            "threshold=3&threshold=4",
            "thresold=3",
            "fail_on_category=admin",
        ] {
            assert!(settings(Some(bad)).is_err(), "{bad}");
        }
    }
}
