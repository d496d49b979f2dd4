//! What vigil keeps on disk is written whole or not at all: into a
//! temporary file beside its place, then renamed over it, so a reader (the
//! next `vigil report`, another vigil) sees the old file or the new one,
//! never half of one. Writes handed off the loop are [`Writes`]: joined
//! before vigil exits, each failure said once.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Writes `bytes` to `path` atomically (creating its directory). A write
/// that fails leaves no temporary file and the old file as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
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
pub struct NotKept {
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

/// Writes in flight off the loop, each on a thread of its own at a lower
/// priority. A new write to a path waits for the one before it (the newer
/// content wins); [`Writes::settle`] waits for all.
#[derive(Default)]
pub struct Writes {
    pending: Vec<(String, PathBuf, JoinHandle<io::Result<()>>)>,
    failed: Vec<NotKept>,
}

impl Writes {
    /// Writes `bytes` to `path` off the calling thread; `what` names it
    /// for the user ("the kept run").
    pub fn spawn(&mut self, what: &str, path: PathBuf, bytes: Vec<u8>) {
        let (before, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(_, p, _)| *p == path);
        self.pending = rest;
        for job in before {
            self.join(job);
        }
        let target = path.clone();
        let spawned = std::thread::Builder::new().name("vigil-keep".into()).spawn(move || {
            // SAFETY: setpriority on the calling thread (who = 0), no
            // pointers; failure leaves the priority as it was.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, 10);
            }
            write_atomic(&target, &bytes)
        });
        match spawned {
            Ok(handle) => self.pending.push((what.to_owned(), path, handle)),
            Err(e) => self.failed.push(NotKept {
                what: what.to_owned(),
                path,
                error: format!("no thread to write it on: {e}"),
            }),
        }
    }

    fn join(&mut self, (what, path, handle): (String, PathBuf, JoinHandle<io::Result<()>>)) {
        let error = match handle.join() {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the writing thread panicked".to_owned(),
        };
        self.failed.push(NotKept { what, path, error });
    }

    /// The failures of writes that have ended, said once each (without
    /// waiting for those still in flight).
    pub fn reap(&mut self) -> Vec<NotKept> {
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|(_, _, h)| h.is_finished());
        self.pending = rest;
        for job in done {
            self.join(job);
        }
        std::mem::take(&mut self.failed)
    }

    /// Waits for every write in flight; the failures not said yet.
    pub fn settle(&mut self) -> Vec<NotKept> {
        for job in std::mem::take(&mut self.pending) {
            self.join(job);
        }
        std::mem::take(&mut self.failed)
    }
}

impl Drop for Writes {
    /// Leaving without `settle` (a panic unwinding): the writes still end
    /// before the process does.
    fn drop(&mut self) {
        for (_, _, h) in self.pending.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vigil-keep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let d = dir("atomic");
        let path = d.join("sub/kept.jsonl");
        write_atomic(&path, b"one\n").unwrap();
        write_atomic(&path, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["kept.jsonl"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_is_said_once() {
        let d = dir("failed");
        let path = d.join("kept.jsonl");
        write_atomic(&path, b"old\n").unwrap();
        // A directory where the temporary file would go cannot be a file.
        let blocker = d.join(format!(".kept.jsonl.{}.tmp", std::process::id()));
        std::fs::create_dir_all(blocker.join("x")).unwrap();
        let mut writes = Writes::default();
        writes.spawn("the kept run", path.clone(), b"new\n".to_vec());
        let failed = writes.settle();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].what, "the kept run");
        assert!(failed[0].to_string().starts_with("the kept run ("), "{}", failed[0]);
        assert!(writes.settle().is_empty(), "said once");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn writes_to_one_path_land_in_order() {
        let d = dir("order");
        let path = d.join("kept.jsonl");
        let mut writes = Writes::default();
        for i in 0..20 {
            writes.spawn("the kept run", path.clone(), format!("{i}\n").into_bytes());
        }
        assert!(writes.settle().is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "19\n");
        let _ = std::fs::remove_dir_all(&d);
    }
}
