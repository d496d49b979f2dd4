//! A digest of the workspace's files (path, size, modification time) as a
//! run starts: two runs with the same digest ran the same code, so a test
//! whose result flips between them is flaky.

use std::hash::{Hash, Hasher};
use std::path::Path;

use ignore::WalkBuilder;

pub fn fingerprint(root: &Path, target_dir: &Path) -> String {
    let target = target_dir.to_owned();
    let mut entries: Vec<(String, u64, u128)> = WalkBuilder::new(root)
        .hidden(false)
        .git_global(false)
        .require_git(false)
        .filter_entry(move |e| e.file_name() != ".git" && e.path() != target)
        .build()
        .flatten()
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            let mtime = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_nanos();
            Some((e.path().display().to_string(), meta.len(), mtime))
        })
        .collect();
    entries.sort();
    // SipHash with fixed keys: the same tree gives the same digest in every
    // vigil process.
    let mut h = std::hash::DefaultHasher::new();
    entries.hash(&mut h);
    format!("{:016x}", h.finish())
}
