//! What vigil itself writes, so that its watcher never takes it for a
//! change: the files named in `target/vigil/outputs` (every vigil process
//! adds the `--lcov`, `--html` and report paths it writes there), and the
//! files behind this process's stdout and stderr when they are redirected
//! into the workspace (`vigil watch --format json > out.jsonl`), recognised
//! by device and inode whatever path they are reached by.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub(crate) struct Outputs {
    registry: PathBuf,
    paths: Vec<PathBuf>,
    /// (device, inode) of stdout and stderr, when they are regular files.
    stdio: Vec<(u64, u64)>,
}

impl Outputs {
    pub fn new(target_dir: &Path) -> Self {
        let mut own = Self {
            registry: registry(target_dir),
            paths: Vec::new(),
            stdio: stdio_files(),
        };
        own.refresh();
        own
    }

    /// Reads the registry again (another vigil may have written a report).
    pub(crate) fn refresh(&mut self) {
        self.paths = std::fs::read_to_string(&self.registry)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect();
    }

    /// Whether `path` is (or lies below) something vigil writes.
    pub fn holds(&self, path: &Path) -> bool {
        if self.paths.iter().any(|p| path.starts_with(p)) {
            return true;
        }
        !self.stdio.is_empty() && std::fs::metadata(path).is_ok_and(|m| self.stdio.contains(&(m.dev(), m.ino())))
    }
}

fn registry(target_dir: &Path) -> PathBuf {
    super::state_dir(target_dir).join("outputs")
}

/// Notes that vigil writes `path` (a file or a directory of reports).
pub fn record(target_dir: &Path, path: &Path) {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let registry = registry(target_dir);
    let known = std::fs::read_to_string(&registry).unwrap_or_default();
    if known.lines().any(|l| Path::new(l) == path) {
        return;
    }
    let _ = std::fs::create_dir_all(registry.parent().unwrap_or(target_dir));
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&registry) {
        let _ = writeln!(f, "{}", path.display());
    }
}

fn stdio_files() -> Vec<(u64, u64)> {
    let fds = [
        std::io::stdout().as_fd().try_clone_to_owned(),
        std::io::stderr().as_fd().try_clone_to_owned(),
    ];
    fds.into_iter()
        .flatten()
        .filter_map(|fd| std::fs::File::from(fd).metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_outputs_are_held_with_what_lies_below_them() {
        let dir = std::env::temp_dir().join(format!("vigil-outputs-{}", std::process::id()));
        let target = dir.join("target");
        record(&target, &dir.join("cov.lcov"));
        record(&target, &dir.join("html"));
        record(&target, &dir.join("cov.lcov"));
        let own = Outputs::new(&target);
        assert_eq!(own.paths.len(), 2, "each path is kept once");
        assert!(own.holds(&dir.join("cov.lcov")));
        assert!(own.holds(&dir.join("html/index.html")));
        assert!(!own.holds(&dir.join("src/lib.rs")));
        let _ = std::fs::remove_dir_all(dir);
    }
}
