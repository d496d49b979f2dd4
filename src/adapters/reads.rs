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
/// Where a doctest's example keeps its coverage mapping (`%p`: its
/// process id): rustdoc deletes the executable once it has run.
pub(crate) const MAPPING: &str = "VIGIL_READS_MAPPING";
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
/// (`None`: a directory), and kept between collects by what each file
/// looked like when it was hashed (`read-hashes` in the coverage
/// directory): a file whose device, inode, size and times are as they were
/// is not read again. A file changed less than two seconds before it was
/// hashed is not kept (a later write in the same tick of the clock would
/// leave its times as they were).
#[derive(Default)]
pub struct Hashes {
    now: HashMap<PathBuf, Option<String>>,
    kept: HashMap<PathBuf, (Stamp, String)>,
    /// Where they are kept (`None`: not kept).
    file: Option<PathBuf>,
    changed: bool,
}

/// What a file looked like: device, inode, size, modified and changed
/// times (ns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp([i64; 5]);

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        #[allow(clippy::cast_possible_wrap)]
        Self([
            m.dev() as i64,
            m.ino() as i64,
            m.size() as i64,
            ns(m.mtime(), m.mtime_nsec()),
            ns(m.ctime(), m.ctime_nsec()),
        ])
    }
}

/// The name of the kept hashes in the coverage directory.
const KEPT: &str = "read-hashes";

impl Hashes {
    /// The hashes kept in `dir` (none if it holds none, or they do not read).
    pub fn kept(dir: &Path) -> Self {
        let file = dir.join(KEPT);
        let mut kept = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&file) {
            for line in text.lines() {
                let mut parts = line.splitn(7, '\t');
                let hash = parts.next().unwrap_or_default().to_owned();
                let nums: Vec<i64> = parts.by_ref().take(5).filter_map(|n| n.parse().ok()).collect();
                let (Ok(stamp), Some(path)) = (<[i64; 5]>::try_from(nums), parts.next()) else {
                    continue;
                };
                if hash.len() == 16 {
                    kept.insert(PathBuf::from(path), (Stamp(stamp), hash));
                }
            }
        }
        Self {
            kept,
            file: Some(file),
            ..Self::default()
        }
    }

    /// Writes the kept hashes back, if any changed (of the files still
    /// there: one gone since is dropped when it is next looked at).
    pub fn keep(&self) {
        let Some(file) = self.file.as_ref().filter(|_| self.changed) else {
            return;
        };
        let mut text = String::new();
        for (path, (Stamp(n), hash)) in &self.kept {
            use std::fmt::Write;
            let _ = writeln!(
                text,
                "{hash}\t{}\t{}\t{}\t{}\t{}\t{}",
                n[0],
                n[1],
                n[2],
                n[3],
                n[4],
                path.display()
            );
        }
        if let Err(e) = super::keep::write_atomic(file, text.as_bytes()) {
            tracing::warn!("the read files' hashes could not be kept: {e}");
        }
    }

    /// One look per path and collect: a directory is told by its
    /// metadata, a file kept unchanged since it was hashed is not read.
    fn of(&mut self, path: &Path) -> Option<String> {
        if let Some(known) = self.now.get(path) {
            return known.clone();
        }
        let found = match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => None,
            Ok(m) => Some(self.hash(path, &m)),
            // Gone again: nothing to hash.
            Err(_) => Some(String::new()),
        };
        self.now.insert(path.to_owned(), found.clone());
        found
    }

    fn hash(&mut self, path: &Path, m: &std::fs::Metadata) -> String {
        let stamp = Stamp::of(m);
        if let Some((s, hash)) = self.kept.get(path) {
            if *s == stamp {
                return hash.clone();
            }
        }
        let Ok(bytes) = std::fs::read(path) else {
            return String::new();
        };
        let hash = content_hash(&bytes);
        let settled = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
            .is_some_and(|now| stamp.0[4] < now - 2_000_000_000);
        if settled && self.file.is_some() {
            self.kept.insert(path.to_owned(), (stamp, hash.clone()));
            self.changed = true;
        } else if self.kept.remove(path).is_some() {
            self.changed = true;
        }
        hash
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
    fn hashes_are_kept_by_what_the_file_looks_like_and_never_trusted_once_it_changed() {
        let dir = std::env::temp_dir().join(format!("vigil-read-hashes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("case.txt");
        std::fs::write(&file, "one\n").unwrap();
        // Changed just now: hashed, not kept (another write in the same
        // tick of the clock would not show).
        let mut h = Hashes::kept(&dir);
        assert_eq!(h.of(&file), Some(content_hash(b"one\n")));
        assert!(h.kept.is_empty());
        // Kept with the stamp it has: trusted, not read (the hash says so).
        let stamp = Stamp::of(&std::fs::metadata(&file).unwrap());
        let mut h = Hashes::kept(&dir);
        h.kept.insert(file.clone(), (stamp, "00000000000000bb".into()));
        h.changed = true;
        h.keep();
        let mut h = Hashes::kept(&dir);
        assert_eq!(
            h.kept[&file],
            (stamp, "00000000000000bb".to_owned()),
            "read back as kept"
        );
        assert_eq!(h.of(&file).as_deref(), Some("00000000000000bb"));
        // Rewritten, the same size: its stamp moved, it is read again.
        std::fs::write(&file, "two\n").unwrap();
        let mut h = Hashes::kept(&dir);
        assert_eq!(h.of(&file), Some(content_hash(b"two\n")));
        // A directory, and a file gone.
        assert_eq!(h.of(&dir), None);
        assert_eq!(h.of(&dir.join("gone.txt")).as_deref(), Some(""));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_users_preload_stays_first() {
        assert_eq!(preload("/t/r.so", None), "/t/r.so");
        assert_eq!(preload("/t/r.so", Some(" ")), "/t/r.so");
        assert_eq!(preload("/t/r.so", Some("/x/asan.so")), "/x/asan.so /t/r.so");
        assert_eq!(preload("/t/r.so", Some("/x/asan.so /t/r.so")), "/x/asan.so /t/r.so");
    }
}
