//! What vigil keeps on disk is written whole or not at all: into a
//! temporary file beside its place, then renamed over it, so a reader (the
//! next `vigil report`, another vigil) sees the old file or the new one,
//! never half of one. Writes leave the loop through `offload::Offload`:
//! joined before vigil exits, each failure said once.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (creating its directory). A write
/// that fails leaves no temporary file and the old file as it was.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Per process: two vigils on one workspace never share a temporary.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// One write that failed: what it was, where, and why.
///
/// Said together with the others of its moment by [`say`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotKept {
    pub what: String,
    pub path: PathBuf,
    pub error: String,
}

impl std::fmt::Display for NotKept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.what, self.path.display(), self.error)
    }
}

/// One warning for everything that could not be kept at one moment (a
/// full disk fails them all: one line, not one per file).
pub fn say(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| {
        format!(
            "vigil could not keep {}; the results above stand, but free space (or fix the state directory) to keep the next run",
            items.join("; ")
        )
    })
}
