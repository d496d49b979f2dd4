//! vigil's own log: `target/vigil/vigil.log` in the watched workspace. The
//! interactive view never prints while the terminal is raw; what is worth
//! keeping goes here.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Log {
    file: Mutex<Option<File>>,
    path: PathBuf,
}

impl Log {
    /// Opens (appending) the log under `target_dir`; a log that cannot be
    /// opened is silently off — it must never stop a run.
    pub fn open(target_dir: &Path) -> Self {
        let dir = super::state_dir(target_dir);
        let path = dir.join("vigil.log");
        let file = std::fs::create_dir_all(&dir)
            .ok()
            .and_then(|_| OpenOptions::new().create(true).append(true).open(&path).ok());
        Self {
            file: Mutex::new(file),
            path,
        }
    }

    /// A log that writes nothing.
    pub(crate) fn disabled() -> Self {
        Self {
            file: Mutex::new(None),
            path: PathBuf::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn line(&self, text: &str) {
        if let Ok(mut guard) = self.file.lock() {
            if let Some(f) = guard.as_mut() {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let _ = writeln!(f, "{secs} {text}");
            }
        }
    }
}
