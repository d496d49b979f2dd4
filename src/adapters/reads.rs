//! What each test read at run time: the tracer `vigil __runner` preloads
//! into test processes (`reads.c`, built by `build.rs`) appends one line per
//! path a process opened, looked at, looked for or listed; read here into
//! the test's map, with the content hash of each file as it is once the
//! test has run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::core::inputs::normalize;
use crate::core::testmap::{content_hash, Reads};

/// The tracer as built with vigil (empty: it could not be built).
const TRACER: &[u8] = include_bytes!(env!("VIGIL_READS_SO"));

/// The environment keys `vigil __runner` reads.
pub const LIB: &str = "VIGIL_READS_LIB";
pub const DIR: &str = "VIGIL_READS_DIR";
pub const FILE: &str = "VIGIL_READS_FILE";
/// The record a process's lines belong to, in a file many share.
pub const TAG: &str = "VIGIL_READS_TAG";
/// The file a run's tests share (each line tagged with its record).
pub const SHARED: &str = "reads.log";
pub(crate) const ROOT: &str = "VIGIL_READS_ROOT";
pub(crate) const SKIP: &str = "VIGIL_READS_SKIP";
/// Only a process whose executable has this name notes its reads.
pub(crate) const EXE: &str = "VIGIL_READS_EXE";
/// Set for the cargo that builds: build scripts note what they read
/// (`vigil-reads` beside cargo's `output` of each run), and so do the
/// processes they start.
pub const BUILD: &str = "VIGIL_READS_BUILD";
/// A traced build script's record, set for the processes it starts.
pub const FOLLOW: &str = "VIGIL_READS_FOLLOW";
/// A build script run's record, in cargo's directory of that run.
pub(crate) const BUILD_RECORD: &str = "vigil-reads";

/// Puts the tracer in `dir` (once per build of vigil), or says why tracing
/// is off.
pub fn install(dir: &Path) -> Result<PathBuf, String> {
    if !cfg!(target_os = "linux") {
        return Err("read tracing is off: it needs Linux (LD_PRELOAD)".into());
    }
    if TRACER.is_empty() {
        return Err("read tracing is off: vigil was built without a C compiler for its tracer".into());
    }
    let path = dir.join(format!("reads-{}.so", &content_hash(TRACER)[..16]));
    if path.metadata().is_ok_and(|m| m.len() == TRACER.len() as u64) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)
        .and_then(|_| super::keep::write_atomic(&path, TRACER))
        .map_err(|e| format!("read tracing is off: cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The `LD_PRELOAD` a test process gets: whatever the user preloads
/// (a sanitizer's runtime wants to come first), then the tracer.
pub fn preload(lib: &str, existing: Option<&str>) -> String {
    match existing.map(str::trim).filter(|e| !e.is_empty()) {
        // Already there (the build's environment carries it to nextest).
        Some(e) if e.split([' ', ':']).any(|l| l == lib) => e.to_owned(),
        Some(e) => format!("{e} {lib}"),
        None => lib.to_owned(),
    }
}

/// Content hashes of the files read, shared by every test of one collect
/// (`None`: a directory).
#[derive(Default)]
pub struct Hashes(HashMap<PathBuf, Option<String>>);

impl Hashes {
    /// One read per path and collect: a directory is told by the read's
    /// error, not by a `stat` of its own.
    fn of(&mut self, path: &Path) -> Option<String> {
        self.0
            .entry(path.to_owned())
            .or_insert_with(|| match std::fs::read(path) {
                Ok(bytes) => Some(content_hash(&bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => None,
                // Gone again: nothing to hash.
                Err(_) => Some(String::new()),
            })
            .clone()
    }
}

/// One test's records (a retried test has one per process) as its reads,
/// relative to `root`. Lines it cannot read are left out.
pub fn parse(texts: &[String], root: &Path, hashes: &mut Hashes) -> Reads {
    let mut reads = Reads::default();
    for text in texts {
        for line in text.lines() {
            let Some((kind, path)) = line.split_once(' ') else {
                continue;
            };
            let abs = normalize(Path::new(path));
            let Ok(rel) = abs.strip_prefix(root) else { continue };
            let rel = rel.to_string_lossy().into_owned();
            if rel.is_empty() {
                continue;
            }
            match kind {
                "d" => {
                    reads.dirs.insert(rel);
                }
                "r" | "s" => {
                    if let Some(hash) = hashes.of(&abs) {
                        reads.files.insert(rel, hash);
                    }
                }
                "m" => {
                    reads.files.entry(rel).or_default();
                }
                _ => {}
            }
        }
    }
    reads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_reads_relative_to_the_root() {
        let root = std::env::temp_dir().join(format!("vigil-reads-{}", std::process::id()));
        std::fs::create_dir_all(root.join("data/cases")).unwrap();
        std::fs::write(root.join("data/x.json"), "{}").unwrap();
        let r = root.display();
        let text = format!(
            "r {r}/data/x.json\ns {r}/data/cases\nd {r}/data/cases\nm {r}/data/y.json\nr /usr/lib/x\nbad\nm {r}/data/./z/../x.json\n"
        );
        let reads = parse(&[text], &root, &mut Hashes::default());
        assert_eq!(reads.files["data/x.json"], content_hash(b"{}"));
        assert_eq!(reads.files["data/y.json"], "");
        assert_eq!(reads.files.len(), 2, "{reads:?}");
        assert!(reads.dirs.contains("data/cases"));
        assert!(reads.names("data/cases/new.txt"));
        assert!(!reads.names("data/other.txt"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_users_preload_stays_first() {
        assert_eq!(preload("/t/r.so", None), "/t/r.so");
        assert_eq!(preload("/t/r.so", Some(" ")), "/t/r.so");
        assert_eq!(preload("/t/r.so", Some("/x/asan.so")), "/x/asan.so /t/r.so");
        assert_eq!(preload("/t/r.so", Some("/x/asan.so /t/r.so")), "/x/asan.so /t/r.so");
    }
}
