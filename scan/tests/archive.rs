//! Archives read in memory (`read_archive`, `scan_archive`): what is taken, what is reported,
//! what refuses the archive. The API's tests post archives end to end; these pin the reader.

use risk_scan::archive::{read_archive, ArchiveError, ArchiveLimits};
use std::io::Write;

const ADMIN: &[u8] = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn zip_of(entries: &[(&str, &[u8])], link: Option<(&str, &str)>) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(data).unwrap();
    }
    if let Some((name, target)) = link {
        z.add_symlink(name, target, zip::write::SimpleFileOptions::default()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn every_text_file_is_taken_and_oddities_are_reported_by_name() {
    let big = vec![b' '; 2048];
    let tar = tar_of(&[
        ("./repo/policy.json", ADMIN),
        ("repo/README.md", b"# not scanned, but readable by file()"),
        ("repo/big.json", &big),
        ("repo/latin1.json", b"{\"Sid\": \"caf\xe9\"}"),
        ("repo/logo.png", b"\x89PNG\r\n\x1a\n\xff\xfe"),
    ]);
    let limits = ArchiveLimits { max_file_bytes: 1024, ..ArchiveLimits::default() };
    let a = read_archive(&tar, limits).unwrap();
    assert_eq!(a.files.keys().collect::<Vec<_>>(), ["repo/README.md", "repo/policy.json"]);
    let errors: Vec<(&str, &str)> = a.errors.iter().map(|e| (e.file.as_str(), e.message.as_str())).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].0, "repo/big.json");
    assert!(errors[0].1.contains("more than 1 KiB"), "{}", errors[0].1);
    assert_eq!(errors[1].0, "repo/latin1.json");
    assert!(errors[1].1.contains("not UTF-8"), "{}", errors[1].1);
}

#[test]
fn zip_links_are_reported_not_followed() {
    let zip = zip_of(&[("policy.json", ADMIN)], Some(("secret.json", "/etc/shadow")));
    let a = read_archive(&zip, ArchiveLimits::default()).unwrap();
    assert_eq!(a.files.keys().collect::<Vec<_>>(), ["policy.json"]);
    assert_eq!(a.errors.len(), 1);
    assert_eq!(a.errors[0].file, "secret.json");
    assert!(a.errors[0].message.contains("not followed"));
}

#[test]
fn too_many_files_refuse_the_archive() {
    let names: Vec<String> = (0..5).map(|i| format!("p{i}.json")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), ADMIN)).collect();
    let limits = ArchiveLimits { max_files: 4, ..ArchiveLimits::default() };
    assert_eq!(read_archive(&tar_of(&entries), limits).unwrap_err(), ArchiveError::TooManyFiles(4));
    assert_eq!(read_archive(&zip_of(&entries, None), limits).unwrap_err(), ArchiveError::TooManyFiles(4));
    let limits = ArchiveLimits { max_files: 5, ..ArchiveLimits::default() };
    assert_eq!(read_archive(&tar_of(&entries), limits).unwrap().files.len(), 5);
}

#[test]
fn truncated_archives_are_corrupt_not_partial() {
    let tar = tar_of(&[("policy.json", ADMIN), ("other.json", ADMIN)]);
    let cut = &tar[..512 + 40];
    assert!(matches!(read_archive(cut, ArchiveLimits::default()), Err(ArchiveError::Corrupt(_))));
    let zip = zip_of(&[("policy.json", ADMIN)], None);
    assert!(matches!(read_archive(&zip[..zip.len() - 10], ArchiveLimits::default()), Err(ArchiveError::Corrupt(_))));
}

#[test]
fn scan_archive_scores_what_a_directory_walk_would() {
    let tar = tar_of(&[
        ("infra/admin.json", ADMIN),
        ("infra/.hidden/admin.json", ADMIN),
        ("web/node_modules/pkg/policy.json", ADMIN),
        ("notes.txt", b"nothing"),
    ]);
    let run = risk_scan::scan_archive(
        &tar,
        ArchiveLimits::default(),
        &risk_core::ScoreOptions::default(),
        &risk_scan::ScanSettings::default(),
    )
    .unwrap();
    assert_eq!(run.entries.iter().map(|e| e.file.as_str()).collect::<Vec<_>>(), ["infra/admin.json"]);
    assert_eq!(run.files_scanned, 1);
    assert!(run.gate.failed && run.threshold == Some(risk_scan::DEFAULT_THRESHOLD));
}

/// Skipping the unread rest of a large tar.gz entry decompresses it all the same, so an entry
/// counts by its declared size: one huge file cannot cost more than the limit allows.
#[test]
fn an_entry_counts_by_its_declared_size() {
    let limits = ArchiveLimits { max_file_bytes: 1024, max_total_bytes: 4096, ..ArchiveLimits::default() };
    let big = vec![b' '; 8192];
    let gz = |tar: Vec<u8>| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    };
    let err = read_archive(&gz(tar_of(&[("huge.json", &big)])), limits).unwrap_err();
    assert_eq!(err, ArchiveError::TooLarge("4 KiB".into()));
    // A header that declares 10 GiB is refused before any of it is read.
    let mut h = tar::Header::new_gnu();
    h.set_path("bomb.json").unwrap();
    h.set_size(10 << 30);
    h.set_mode(0o644);
    h.set_cksum();
    let mut raw = h.as_bytes().to_vec();
    raw.extend_from_slice(&[0; 1024]);
    assert!(matches!(read_archive(&raw, ArchiveLimits::default()), Err(ArchiveError::TooLarge(_))));
}

/// Entries that are not kept (directories, binary files, links) still count: each costs a
/// header to read, and millions of them would cost as much as a large file.
#[test]
fn every_entry_counts_toward_the_entry_limit() {
    let png: &[u8] = b"\x89PNG\xff\xfe";
    let entries: Vec<(String, &[u8])> = (0..5).map(|i| (format!("img{i}.png"), png)).collect();
    let entries: Vec<(&str, &[u8])> = entries.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let limits = ArchiveLimits { max_files: 4, ..ArchiveLimits::default() };
    assert_eq!(read_archive(&tar_of(&entries), limits).unwrap_err(), ArchiveError::TooManyFiles(4));
}
