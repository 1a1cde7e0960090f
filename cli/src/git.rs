//! Reading a base revision with the `git` command: where the repository is, which commit a
//! ref means, and the files under some paths at that commit — one `ls-tree` and one
//! `cat-file --batch` process however many files there are.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Repo {
    /// Absolute path of the work tree's top.
    pub toplevel: PathBuf,
    /// The current directory relative to the top, with a trailing `/` (or empty).
    pub prefix: String,
}

fn git(args: &[&str]) -> Result<String, String> {
    let out =
        Command::new("git").args(args).stdin(Stdio::null()).output().map_err(|e| format!("cannot run `git`: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().next().unwrap_or("git failed").trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Repo {
    /// The repository containing the current directory.
    pub fn open() -> Result<Repo, String> {
        let out = git(&["rev-parse", "--show-toplevel", "--show-prefix"])
            .map_err(|e| format!("`--base` needs a git repository: {e}"))?;
        let mut lines = out.lines();
        let toplevel = PathBuf::from(lines.next().unwrap_or("").trim());
        let prefix = lines.next().unwrap_or("").trim().to_string();
        Ok(Repo { toplevel, prefix })
    }

    /// The commit to compare with: the merge base of `rev` and `HEAD` (what a pull request
    /// changes), or `rev` itself when there is none (shallow clones, unrelated histories).
    pub fn resolve(&self, rev: &str) -> Result<String, String> {
        if rev.starts_with('-') {
            return Err(format!("bad git revision `{rev}`"));
        }
        let commit = git(&["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{rev}^{{commit}}")])
            .map_err(|_| format!("unknown git revision `{rev}` (fetch it first, e.g. `git fetch origin {rev}`)"))?
            .trim()
            .to_string();
        if commit.is_empty() {
            return Err(format!("unknown git revision `{rev}` (fetch it first, e.g. `git fetch origin {rev}`)"));
        }
        match git(&["merge-base", &commit, "HEAD"]) {
            Ok(mb) if !mb.trim().is_empty() => Ok(mb.trim().to_string()),
            _ => Ok(commit),
        }
    }

    /// A path as given on the command line, relative to the top (`/`-separated, no `./`).
    pub fn repo_path(&self, p: &Path) -> Option<String> {
        let joined: PathBuf = if p.is_absolute() {
            let top = self.toplevel.canonicalize().unwrap_or_else(|_| self.toplevel.clone());
            let abs = p.canonicalize().ok().or_else(|| Some(p.to_path_buf()))?;
            abs.strip_prefix(&top).ok()?.to_path_buf()
        } else {
            Path::new(&self.prefix).join(p)
        };
        let mut parts: Vec<String> = Vec::new();
        for c in joined.components() {
            match c {
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::ParentDir => {
                    parts.pop()?;
                }
                _ => {}
            }
        }
        Some(parts.join("/"))
    }

    /// Files under `paths` (repository-relative; empty means everything) at `commit`, keeping
    /// those `keep` accepts, as `(path, text)`. Non-UTF-8 blobs are skipped.
    pub fn read_tree(
        &self,
        commit: &str,
        paths: &[String],
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, String)>, String> {
        let top = self.toplevel.to_string_lossy().into_owned();
        let mut args: Vec<&str> = vec!["-C", &top, "ls-tree", "-r", "-z", "--full-tree", commit, "--"];
        let specs: Vec<&str> = paths.iter().map(String::as_str).filter(|p| !p.is_empty()).collect();
        if specs.len() == paths.len() {
            args.extend(specs);
        }
        let listing = git(&args)?;
        let mut wanted: Vec<(String, String)> = Vec::new();
        for rec in listing.split('\0').filter(|r| !r.is_empty()) {
            let Some((meta, path)) = rec.split_once('\t') else { continue };
            let mut m = meta.split(' ');
            let (_, kind, oid) = (m.next(), m.next(), m.next());
            if kind != Some("blob") {
                continue;
            }
            if path.split('/').any(|c| c.starts_with('.') || c == "node_modules") || !keep(path) {
                continue;
            }
            if let Some(oid) = oid {
                wanted.push((oid.to_string(), path.to_string()));
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut child = Command::new("git")
            .args(["-C", &top, "cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run `git cat-file`: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("git cat-file: no stdin")?;
        let oids: String = wanted.iter().map(|(oid, _)| format!("{oid}\n")).collect();
        // Write from a thread: git answers while we are still asking.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(oids.as_bytes());
        });
        let mut raw = Vec::new();
        child.stdout.take().ok_or("git cat-file: no stdout")?.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        let _ = writer.join();
        let _ = child.wait();
        let mut out = Vec::with_capacity(wanted.len());
        let mut pos = 0;
        for (_, path) in wanted {
            let Some(nl) = raw[pos..].iter().position(|&b| b == b'\n') else { break };
            let header = String::from_utf8_lossy(&raw[pos..pos + nl]).into_owned();
            pos += nl + 1;
            let size: usize = match header.rsplit(' ').next().and_then(|s| s.parse().ok()) {
                Some(s) if !header.ends_with("missing") => s,
                _ => continue,
            };
            let body = raw.get(pos..pos + size).ok_or("git cat-file: short read")?;
            pos += size + 1;
            if let Ok(text) = std::str::from_utf8(body) {
                out.push((path, text.to_string()));
            }
        }
        Ok(out)
    }
}
