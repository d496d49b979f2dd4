//! The texts a change set is placed against: the changed files now, the
//! versions the maps were measured on, and the lines changed since a
//! revision or since the session began (patch coverage).

use super::*;

/// The changed files' texts now, and the kept texts of the versions maps
/// were measured on (`sources/<hash>` in the coverage state).
pub(crate) fn read_texts(ws: &Workspace, files: &[PathBuf], versions: &[String]) -> crate::core::select_tests::Texts {
    /// Larger files are not source code a map can place edits in.
    const LIMIT: u64 = 4 << 20;
    let read = |p: &Path| {
        let small = std::fs::metadata(p).is_ok_and(|m| m.len() <= LIMIT);
        small.then(|| std::fs::read_to_string(p).ok()).flatten()
    };
    let sources = crate::adapters::state_dir(&ws.target_dir)
        .join("coverage")
        .join("sources");
    crate::core::select_tests::Texts {
        current: files.iter().map(|f| (ws.relative(f), read(f))).collect(),
        versions: versions
            .iter()
            .filter_map(|h| read(&sources.join(h)).map(|t| (h.clone(), t)))
            .collect(),
    }
}

/// The lines changed since git revision `base` in the workspace at
/// `root`: `git diff -U0` against the working tree, and every line of the
/// files git does not track yet.
pub(crate) fn changes_since(root: &Path, base: &str) -> Result<crate::core::patch::Changes, GitError> {
    let git = |args: &[&str]| crate::adapters::git::git(root, args);
    let diff = git(&[
        "diff",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--relative",
        base,
        "--",
        ".",
    ])?;
    let mut files = crate::core::patch::parse_unified_diff(&diff);
    // New Rust sources (coverage knows nothing else), not build output.
    let untracked = git(&["ls-files", "--others", "--exclude-standard", "--", "."])?;
    for path in untracked
        .lines()
        .filter(|p| p.ends_with(".rs") && !p.starts_with("target/"))
    {
        let n = std::fs::read_to_string(root.join(path)).map_or(0, |t| t.lines().count() as u32);
        if n > 0 {
            files.push((path.to_owned(), vec![[1, n]]));
        }
    }
    Ok(crate::core::patch::Changes {
        base: base.to_owned(),
        files,
    })
}

impl CoverageRig {
    /// Keeps the Rust sources as the session starts: patch coverage in watch
    /// mode without `coverage.base` is measured against them.
    pub(crate) fn snapshot_session(&self) {
        if self.base.is_some() {
            return;
        }
        let sources = self.dir.join("sources");
        let _ = std::fs::create_dir_all(&sources);
        let mut base = BTreeMap::new();
        for rel in self.rust_sources() {
            let Ok(text) = std::fs::read(self.root.join(&rel)) else {
                continue;
            };
            let hash = content_hash(&text);
            let kept = sources.join(&hash);
            if !kept.exists() {
                // Named by its hash: never half a file under that name.
                let _ = crate::adapters::keep::write_atomic(&kept, &text);
            }
            base.insert(rel, hash);
        }
        if let Ok(mut s) = self.session.lock() {
            *s = Some(base);
        }
    }

    /// The lines changed since the session's snapshot (`None`: none taken).
    pub(super) fn changes_since_session(&self) -> Option<crate::core::patch::Changes> {
        let base = self.session.lock().ok()?.clone()?;
        let sources = self.dir.join("sources");
        let mut files = Vec::new();
        for rel in self.rust_sources() {
            let Ok(now) = std::fs::read_to_string(self.root.join(&rel)) else {
                continue;
            };
            let old = match base.get(&rel) {
                Some(h) if *h == content_hash(now.as_bytes()) => continue,
                Some(h) => std::fs::read_to_string(sources.join(h)).unwrap_or_default(),
                None => String::new(),
            };
            let ranges = crate::core::patch::changed_lines(&old, &now);
            if !ranges.is_empty() {
                files.push((rel, ranges));
            }
        }
        Some(crate::core::patch::Changes {
            base: "the session's start".into(),
            files,
        })
    }
}
