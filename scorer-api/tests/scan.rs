//! `POST /api/v1/scan`: the CLI's scan fixtures sent as tar, tar.gz and zip archives answer
//! exactly what `iam-risk-score scan --format json .` prints in that directory, byte for
//! byte; and archives that try to leave themselves, follow links or inflate without bound
//! are refused or reported.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use risk_cli::{run_with, Io};
use scorer_api::{app, AppState, Config};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use tower::ServiceExt;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/fixtures/scan").canonicalize().unwrap()
}

fn router(tweak: impl FnOnce(&mut Config)) -> Router {
    let mut c = Config { log_requests: false, rate_per_minute: 0, ..Config::default() };
    tweak(&mut c);
    app(AppState::new(c))
}

async fn post(app: &Router, uri: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let req = Request::post(uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body)).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn error_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["error"]["code"].as_str().unwrap().to_string()
}

/// Every file under `dir`, by `/`-separated path relative to it, sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// The CLI, in process, run in the fixture directory on `.` with `flags`.
fn cli_scan(dir: &Path, flags: &[&str]) -> Vec<u8> {
    let before = std::env::current_dir().unwrap();
    std::env::set_current_dir(dir).unwrap();
    let mut argv: Vec<std::ffi::OsString> =
        vec!["iam-risk-score".into(), "scan".into(), "--format".into(), "json".into()];
    argv.extend(flags.iter().map(Into::into));
    argv.push(".".into());
    let (mut out, mut err, mut stdin) = (Vec::new(), Vec::new(), std::io::empty());
    let code = run_with(argv, &mut Io { stdout: &mut out, stderr: &mut err, stdin: &mut stdin, stdout_is_tty: false });
    std::env::set_current_dir(before).unwrap();
    assert!(code <= 2, "CLI exited {code}: {}", String::from_utf8_lossy(&err));
    out
}

/// The one test that changes the working directory (the CLI labels files relative to it);
/// every other test here uses absolute paths or memory only.
#[tokio::test]
async fn archives_answer_the_cli_output_byte_for_byte() {
    let dir = fixtures();
    let entries = files(&dir);
    assert!(entries.len() > 20, "the CLI's scan fixtures are expected in {}", dir.display());
    let app = router(|_| {});
    for (flags, query) in [
        (vec![], ""),
        (vec!["--no-threshold"], "?threshold=none"),
        (
            vec!["--threshold", "3", "--fail-on-category", "privilege-escalation"],
            "?threshold=3&fail_on_category=privilege-escalation",
        ),
    ] {
        let expected = cli_scan(&dir, &flags);
        let v: Value = serde_json::from_slice(&expected).unwrap();
        assert!(v["results"].as_array().unwrap().len() > 20 && !v["errors"].as_array().unwrap().is_empty(), "{v}");
        let tar = tar_of(&entries);
        for (kind, content_type, body) in [
            ("tar", "application/x-tar", tar.clone()),
            ("tar.gz", "application/gzip", gz(&tar)),
            ("zip", "application/zip", zip_of(&entries)),
            ("octet-stream", "application/octet-stream", gz(&tar)),
        ] {
            let (status, got) = post(&app, &format!("/api/v1/scan{query}"), content_type, body).await;
            assert_eq!(status, StatusCode::OK, "{kind}: {}", String::from_utf8_lossy(&got));
            if got != expected {
                let (g, e) = (String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected));
                let line = g.lines().zip(e.lines()).position(|(a, b)| a != b).unwrap_or(0);
                panic!(
                    "{kind}{query}: differs from the CLI at line {}:\n  api: {}\n  cli: {}",
                    line + 1,
                    g.lines().nth(line).unwrap_or(""),
                    e.lines().nth(line).unwrap_or("")
                );
            }
        }
    }
}

#[tokio::test]
async fn entries_leaving_the_archive_are_refused() {
    let app = router(|_| {});
    for name in ["../escape.json", "/etc/iam.json", "a/../../b.json"] {
        // tar::Builder refuses such names, so write the header's name field directly.
        let data = br#"{"Version":"2012-10-17","Statement":[]}"#;
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut raw = h.as_bytes().to_vec();
        raw.extend_from_slice(data);
        raw.resize(raw.len().div_ceil(512) * 512 + 1024, 0);
        let (status, body) = post(&app, "/api/v1/scan", "application/x-tar", raw).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {}", String::from_utf8_lossy(&body));
        assert_eq!(error_code(&body), "invalid_archive");
        assert!(String::from_utf8_lossy(&body).contains("outside the archive"), "{}", String::from_utf8_lossy(&body));
    }
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file("../../escape.json", zip::write::SimpleFileOptions::default()).unwrap();
    z.write_all(b"{}").unwrap();
    let (status, body) = post(&app, "/api/v1/scan", "application/zip", z.finish().unwrap().into_inner()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn links_are_reported_not_followed() {
    let mut b = tar::Builder::new(Vec::new());
    let admin = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(admin.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "admin.json", admin.as_slice()).unwrap();
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    b.append_link(&mut link, "secret.json", "/etc/shadow").unwrap();
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    b.append_link(&mut link, "docs/README.md", "../README.md").unwrap();
    let (status, body) = post(&router(|_| {}), "/api/v1/scan", "application/x-tar", b.into_inner().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["results"][0]["file"], "admin.json");
    // The link named like a policy is an error entry; the README link is not worth one.
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!(errors[0]["file"], "secret.json");
    assert!(errors[0]["message"].as_str().unwrap().contains("not followed"));
    assert_eq!(v["gate"]["failed"], true);
}

#[tokio::test]
async fn inflating_past_the_limit_is_refused_early() {
    // 64 MiB of zeros compress to ~64 KiB; the server allows 1 MiB decompressed here.
    let zeros = vec![0u8; 64 << 20];
    let mut h = tar::Header::new_gnu();
    h.set_size(zeros.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut h, "bomb.json", zeros.as_slice()).unwrap();
    let bomb = gz(&b.into_inner().unwrap());
    assert!(bomb.len() < 1 << 20);
    let app = router(|c| c.archive_inflated_limit = 1 << 20);
    let (status, body) = post(&app, "/api/v1/scan", "application/gzip", bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("decompresses to more than 1 MiB"));
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = router(|c| c.archive_body_limit = 1024);
    let (status, body) = post(&app, "/api/v1/scan", "application/json", b"{}".to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    assert!(String::from_utf8_lossy(&body).contains("application/gzip"));
    let (status, body) = post(&app, "/api/v1/scan", "application/gzip", b"not an archive".to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_archive"));
    assert!(String::from_utf8_lossy(&body).contains("not a tar, tar.gz or zip"));
    let (status, body) = post(&app, "/api/v1/scan", "application/gzip", vec![0x1f, 0x8b, 8, 0, 1, 2, 3]).await;
    assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_REQUEST, "invalid_archive"));
    let (status, _) = post(&app, "/api/v1/scan", "application/gzip", vec![0x1f; 4096]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let tar = tar_of(&[("p.json".into(), b"{}".to_vec())]);
    let app = router(|_| {});
    // An encoded comma separates categories as a plain one does.
    let (status, body) =
        post(&app, "/api/v1/scan?fail_on_category=full-admin%2Cdestructive", "application/x-tar", tar.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    for query in ["?threshold=0", "?threshold=eleven", "?fail_on_category=admin", "?thresold=3", "?threshold=%ZZ"] {
        let (status, body) = post(&app, &format!("/api/v1/scan{query}"), "application/x-tar", tar.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", String::from_utf8_lossy(&body));
        assert_eq!(error_code(&body), "validation_failed");
    }
}
