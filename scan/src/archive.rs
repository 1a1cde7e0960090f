//! A repository archive (tar, gzip-compressed tar, or zip) read into memory for scanning.
//!
//! Nothing is written to disk and nothing outside the archive is read: every entry's path
//! must stay inside it (no absolute paths, no `..`), links are never followed (a link named
//! like a scannable file is reported, others are passed over), and the archive is refused
//! once it holds more entries or more bytes than [`ArchiveLimits`] allow — measured while
//! decompressing, so a small archive that inflates to gigabytes stops early. An entry counts
//! by its declared size even when only its first bytes are read: skipping the rest of a
//! tar.gz entry decompresses it all the same.

use crate::{scannable, show_size, FileError};
use std::collections::BTreeMap;
use std::io::Read;

/// How much an archive may hold.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// Entries, in all (files, directories, links): each costs a header to decompress.
    pub max_files: usize,
    /// Bytes of one file; a larger file that `scan` would read is an error entry.
    pub max_file_bytes: u64,
    /// Bytes of all entries together, decompressed: what is read, or an entry's declared size
    /// when larger (skipping the rest of a tar.gz entry decompresses it all the same).
    pub max_total_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits { max_files: 20_000, max_file_bytes: 8 << 20, max_total_bytes: 128 << 20 }
    }
}

/// Why an archive cannot be scanned at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("not a tar, tar.gz or zip archive (send the repository as `git archive --format=tar.gz HEAD` or a zip)")]
    UnknownFormat,
    #[error("the archive cannot be read: {0}")]
    Corrupt(String),
    #[error("entry `{0}` points outside the archive (absolute path or `..`); archives must hold relative paths only")]
    UnsafePath(String),
    #[error("entry `{0}` has a name that is not UTF-8")]
    NonUtf8Name(String),
    #[error("the archive holds more than {0} entries; scan a smaller part of the repository")]
    TooManyFiles(usize),
    #[error("the archive decompresses to more than {0}; scan a smaller part of the repository")]
    TooLarge(String),
}

/// The archive's text files by path, and what was passed over with a reason.
#[derive(Debug, Default)]
pub struct Archive {
    /// Every regular UTF-8 file, by its `/`-separated path inside the archive.
    pub files: BTreeMap<String, String>,
    /// Files `scan` would read that could not be taken (links, too large, not UTF-8).
    pub errors: Vec<FileError>,
}

enum Format {
    Tar,
    TarGz,
    Zip,
}

fn format_of(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(Format::TarGz)
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Some(Format::Zip)
    } else if tar_header(bytes) {
        Some(Format::Tar)
    } else {
        None
    }
}

/// Does the archive start with a tar header? Its checksum (the byte sum of the 512-byte
/// header, the checksum field counted as spaces) must match; that holds for old (v7) headers
/// without the `ustar` magic too.
fn tar_header(bytes: &[u8]) -> bool {
    let Some(h) = bytes.get(..512) else { return false };
    let field = std::str::from_utf8(&h[148..156]).unwrap_or("");
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8) else {
        return false;
    };
    let sum: u32 = h.iter().enumerate().map(|(i, b)| if (148..156).contains(&i) { 32 } else { u32::from(*b) }).sum();
    sum == stored
}

/// `a/./b/` → `a/b`; `None` for an absolute path or one that climbs out with `..`.
fn safe_path(name: &str) -> Option<String> {
    let drive = name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) && name.get(1..2) == Some(":");
    if name.starts_with('/') || name.contains('\\') || drive {
        return None;
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

struct Reader {
    limits: ArchiveLimits,
    /// Entries seen and bytes counted so far, against the limits.
    entries: usize,
    total: u64,
    out: Archive,
}

/// What an entry is.
enum EntryKind {
    File,
    Link,
    Other,
}

impl Reader {
    /// Count `bytes` more decompressed bytes; refuse the archive past the limit.
    fn count(&mut self, bytes: u64) -> Result<(), ArchiveError> {
        self.total = self.total.saturating_add(bytes);
        if self.total > self.limits.max_total_bytes {
            return Err(ArchiveError::TooLarge(show_size(self.limits.max_total_bytes)));
        }
        Ok(())
    }

    /// One entry, of `declared` bytes as its header says.
    fn entry(&mut self, name: &str, kind: EntryKind, declared: u64, body: &mut dyn Read) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > self.limits.max_files {
            return Err(ArchiveError::TooManyFiles(self.limits.max_files));
        }
        self.count(declared)?;
        let path = safe_path(name).ok_or_else(|| ArchiveError::UnsafePath(name.to_string()))?;
        if path.is_empty() {
            return Ok(());
        }
        let base = path.rsplit('/').next().unwrap_or(&path);
        let error =
            |message: String| FileError { file: path.clone(), line: None, address: None, message, details: Vec::new() };
        match kind {
            EntryKind::Other => return Ok(()),
            EntryKind::Link => {
                if scannable(base) {
                    self.out.errors.push(error("a link; links in an archive are not followed".into()));
                }
                return Ok(());
            }
            EntryKind::File => {}
        }
        let mut buf = Vec::new();
        body.take(self.limits.max_file_bytes + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ArchiveError::Corrupt(format!("`{path}`: {e}")))?;
        // A zip entry may declare less than it holds; what was read counts then.
        self.count((buf.len() as u64).saturating_sub(declared))?;
        if buf.len() as u64 > self.limits.max_file_bytes {
            if scannable(base) {
                self.out.errors.push(error(format!(
                    "file is more than {}, larger than the scan limit per file in an archive",
                    show_size(self.limits.max_file_bytes)
                )));
            }
            return Ok(());
        }
        match String::from_utf8(buf) {
            Ok(text) => {
                self.out.files.insert(path, text);
            }
            Err(e) if scannable(base) => self
                .out
                .errors
                .push(error(format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))),
            Err(_) => {}
        }
        Ok(())
    }
}

/// Read an archive's files into memory, within `limits`.
pub fn read_archive(bytes: &[u8], limits: ArchiveLimits) -> Result<Archive, ArchiveError> {
    let mut r = Reader { limits, entries: 0, total: 0, out: Archive::default() };
    match format_of(bytes).ok_or(ArchiveError::UnknownFormat)? {
        Format::Tar => read_tar(bytes, &mut r)?,
        Format::TarGz => read_tar(flate2::read::GzDecoder::new(bytes), &mut r)?,
        Format::Zip => read_zip(bytes, &mut r)?,
    }
    Ok(r.out)
}

fn read_tar(source: impl Read, r: &mut Reader) -> Result<(), ArchiveError> {
    let corrupt = |e: std::io::Error| ArchiveError::Corrupt(e.to_string());
    let mut archive = tar::Archive::new(source);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8(raw)
            .map_err(|e| ArchiveError::NonUtf8Name(String::from_utf8_lossy(e.as_bytes()).into_owned()))?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Symlink | tar::EntryType::Link => EntryKind::Link,
            _ => EntryKind::Other,
        };
        let declared = entry.header().entry_size().map_err(corrupt)?;
        r.entry(&name, kind, declared, &mut entry)?;
    }
    Ok(())
}

fn read_zip(bytes: &[u8], r: &mut Reader) -> Result<(), ArchiveError> {
    let corrupt = |e: zip::result::ZipError| ArchiveError::Corrupt(e.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(corrupt)?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(corrupt)?;
        let name = std::str::from_utf8(file.name_raw())
            .map_err(|_| ArchiveError::NonUtf8Name(String::from_utf8_lossy(file.name_raw()).into_owned()))?
            .to_string();
        let kind = if file.is_dir() {
            EntryKind::Other
        } else if file.is_symlink() {
            EntryKind::Link
        } else {
            EntryKind::File
        };
        let declared = file.size();
        r.entry(&name, kind, declared, &mut file)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(safe_path("./a/./b.json").as_deref(), Some("a/b.json"));
        assert_eq!(safe_path("repo-1234/infra/main.tf").as_deref(), Some("repo-1234/infra/main.tf"));
        for bad in ["/etc/passwd", "../x.json", "a/../../x", "C:/x", "a\\..\\x"] {
            assert_eq!(safe_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn unknown_bytes_are_not_an_archive() {
        assert_eq!(
            read_archive(b"{\"Version\": \"2012-10-17\"}", ArchiveLimits::default()).unwrap_err(),
            ArchiveError::UnknownFormat
        );
    }
}
