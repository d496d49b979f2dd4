//! The file watcher: notify (inotify on Linux) on every directory of the
//! workspace that git would track — never `target/` or `.git/`, nothing
//! `.gitignore` ignores — debounced so a save (however the editor does it)
//! or a flood (a `git checkout` touching thousands of files) becomes one
//! change set, sent as `Msg::FilesChanged`.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::WalkBuilder;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use super::clock::Clock;
use super::outputs::Outputs;
use crate::core::batching;
use crate::core::inputs::Inputs;
use crate::core::{Msg, Workspace};

struct Rules {
    root: PathBuf,
    target_dir: PathBuf,
    gitignore: Gitignore,
    /// Local packages outside the root (path dependencies): all their files.
    outside_roots: Vec<PathBuf>,
    /// Single files outside the root that a compilation reads.
    outside_files: HashSet<PathBuf>,
    /// What vigil itself writes: never a change.
    own: Outputs,
    /// The lockfile's contents when last seen (`None`: there was none).
    lockfile: Option<Vec<u8>>,
}

impl Rules {
    fn new(ws: &Workspace, gitignores: &[PathBuf]) -> Self {
        let mut builder = GitignoreBuilder::new(&ws.root);
        for g in gitignores {
            let _ = builder.add(g);
        }
        Self {
            root: ws.root.clone(),
            target_dir: ws.target_dir.clone(),
            gitignore: builder.build().unwrap_or_else(|_| Gitignore::empty()),
            lockfile: std::fs::read(ws.root.join("Cargo.lock")).ok(),
            outside_roots: outside_roots(ws),
            outside_files: HashSet::new(),
            own: Outputs::new(&ws.target_dir),
        }
    }

    /// cargo writes `Cargo.lock` itself: when it first creates one, or
    /// rewrites it unchanged, nothing changed that a test could see.
    fn lockfile_changed(&mut self, path: &Path) -> bool {
        if path != self.root.join("Cargo.lock") {
            return true;
        }
        let now = std::fs::read(path).ok();
        let before = std::mem::replace(&mut self.lockfile, now.clone());
        match (before, now) {
            (None, Some(_)) => false,
            (before, now) => before != now,
        }
    }

    /// Whether a change to `path` can matter.
    fn wanted(&self, path: &Path) -> bool {
        if path.starts_with(&self.target_dir) || path.components().any(|c| c.as_os_str() == ".git") {
            return false;
        }
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if is_editor_temp(&name) || is_test_output(&name) || self.own.holds(path) {
            return false;
        }
        if !path.starts_with(&self.root) {
            return self.outside_files.contains(path) || self.outside_roots.iter().any(|r| path.starts_with(r));
        }
        !self
            .gitignore
            .matched_path_or_any_parents(path, path.is_dir())
            .is_ignore()
    }
}

/// What tests write while they run: insta's pending snapshots (a rerun
/// would write them again, for ever) and LLVM profiles.
pub(crate) fn is_test_output(name: &str) -> bool {
    name.ends_with(".snap.new") || name.ends_with(".pending-snap") || name.ends_with(".profraw")
}

/// Swap, backup and write-then-rename files of common editors.
pub(crate) fn is_editor_temp(name: &str) -> bool {
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".swo")
        || name.ends_with(".tmp")
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || name.starts_with(".goutputstream-")
        || name.contains("___jb_")
        || name == "4913"
}

/// Cheap to clone: the clones share one watcher (a walk of the tree can
/// then run off the loop).
#[derive(Clone)]
pub(crate) struct Watcher {
    inner: Arc<Mutex<RecommendedWatcher>>,
    rules: Arc<Mutex<Rules>>,
    watched: Arc<Mutex<HashSet<PathBuf>>>,
}

impl Watcher {
    /// Starts watching `ws`; change sets go to `tx` after `debounce` of quiet.
    pub fn start(
        ws: &Workspace,
        debounce: Duration,
        tx: mpsc::UnboundedSender<Msg>,
        clock: Clock,
    ) -> notify::Result<Self> {
        let (raw_tx, raw_rx) = std_mpsc::channel();
        let inner = Arc::new(Mutex::new(notify::recommended_watcher(raw_tx)?));
        let (mut dirs, gitignores) = walk(&ws.root, &ws.target_dir);
        let rules = Rules::new(ws, &gitignores);
        for r in &rules.outside_roots {
            dirs.extend(walk(r, &ws.target_dir).0);
        }
        let rules = Arc::new(Mutex::new(rules));
        let watcher = Self {
            inner,
            rules,
            watched: Arc::new(Mutex::new(HashSet::new())),
        };
        watcher.add(&dirs);
        let (inner, rules, watched) = (watcher.inner.clone(), watcher.rules.clone(), watcher.watched.clone());
        std::thread::spawn(move || debounce_loop(raw_rx, debounce, tx, clock, inner, rules, watched));
        Ok(watcher)
    }

    /// Follows a reloaded workspace (members added or moved).
    pub(crate) fn rewatch(&self, ws: &Workspace) {
        let (mut dirs, gitignores) = walk(&ws.root, &ws.target_dir);
        if let Ok(mut r) = self.rules.lock() {
            let files = std::mem::take(&mut r.outside_files);
            *r = Rules::new(ws, &gitignores);
            r.outside_files = files;
            for root in &r.outside_roots {
                dirs.extend(walk(root, &ws.target_dir).0);
            }
        }
        self.add(&dirs);
    }

    /// Also watches the files outside the workspace root that a compilation
    /// reads (`include_str!("../../shared/x.txt")`, `rerun-if-changed`
    /// paths): their directories are watched, and only those files count.
    pub(crate) fn watch_inputs(&self, inputs: &Inputs) {
        let mut dirs = Vec::new();
        if let Ok(mut r) = self.rules.lock() {
            let home = cargo_home();
            for p in inputs.paths() {
                let outside = !p.starts_with(&r.root)
                    && !p.starts_with(&r.target_dir)
                    && !r.outside_roots.iter().any(|o| p.starts_with(o))
                    && !home.as_ref().is_some_and(|h| p.starts_with(h));
                if !outside || r.outside_files.contains(p) {
                    continue;
                }
                r.outside_files.insert(p.to_path_buf());
                if p.is_dir() {
                    // A `rerun-if-changed` directory: everything below it.
                    r.outside_roots.push(p.to_path_buf());
                    dirs.extend(walk(p, &r.target_dir).0);
                } else if let Some(parent) = p.parent() {
                    dirs.push(parent.to_path_buf());
                }
            }
        }
        self.add(&dirs);
    }

    pub(crate) fn watched_dirs(&self) -> usize {
        self.watched.lock().map_or(0, |w| w.len())
    }

    fn add(&self, dirs: &[PathBuf]) {
        add_watches(&self.inner, &self.watched, dirs);
    }
}

/// Path dependencies whose directories lie outside the workspace root.
fn outside_roots(ws: &Workspace) -> Vec<PathBuf> {
    ws.path_deps
        .iter()
        .map(|p| p.manifest_dir.clone())
        .filter(|d| !d.starts_with(&ws.root))
        .collect()
}

/// Where cargo keeps registry sources: never the user's own inputs.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

fn add_watches(inner: &Mutex<RecommendedWatcher>, watched: &Mutex<HashSet<PathBuf>>, dirs: &[PathBuf]) {
    let (Ok(mut w), Ok(mut seen)) = (inner.lock(), watched.lock()) else {
        return;
    };
    for d in dirs {
        if seen.insert(d.clone()) && w.watch(d, RecursiveMode::NonRecursive).is_err() {
            seen.remove(d);
        }
    }
}

/// Directories worth watching below `root` (what git would look at), and
/// the `.gitignore` files found on the way.
fn walk(root: &Path, target_dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (dirs, files) = walk_all(root, target_dir);
    let gitignores = files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == ".gitignore"))
        .collect();
    (dirs, gitignores)
}

/// Directories and files below `root` that git would look at.
fn walk_all(root: &Path, target_dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let target = target_dir.to_owned();
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .git_global(false)
        .require_git(false)
        .filter_entry(move |e| e.file_name() != ".git" && e.path() != target)
        .build();
    for entry in walker.flatten() {
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            dirs.push(entry.into_path());
        } else {
            files.push(entry.into_path());
        }
    }
    (dirs, files)
}

fn debounce_loop(
    raw: std_mpsc::Receiver<notify::Result<notify::Event>>,
    debounce: Duration,
    tx: mpsc::UnboundedSender<Msg>,
    clock: Clock,
    inner: Arc<Mutex<RecommendedWatcher>>,
    rules: Arc<Mutex<Rules>>,
    watched: Arc<Mutex<HashSet<PathBuf>>>,
) {
    loop {
        let Ok(first) = raw.recv() else { return };
        let mut batch = Batch::default();
        batch.collect(first);
        // New directories (a `mkdir`, a checkout) are watched at once, and
        // what was written into them before their watch began joins this
        // change set; the batch then goes on collecting their later files.
        let follow = |batch: &mut Batch| {
            let dirs = std::mem::take(&mut batch.new_dirs);
            if dirs.is_empty() {
                return;
            }
            batch.grew_dirs = true;
            let Ok(r) = rules.lock() else { return };
            let mut fresh = Vec::new();
            for d in dirs.into_iter().filter(|d| r.wanted(d)) {
                let (dirs, files) = walk_all(&d, &r.target_dir);
                fresh.extend(dirs);
                batch.paths.extend(files);
            }
            drop(r);
            add_watches(&inner, &watched, &fresh);
        };
        follow(&mut batch);
        let started = Instant::now();
        loop {
            let quiet = batching::quiet(batch.paths.len(), batch.open.len(), batch.grew_dirs, debounce);
            match raw.recv_timeout(quiet) {
                Ok(ev) => {
                    batch.collect(ev);
                    follow(&mut batch);
                    if started.elapsed() > batching::MAX_WAIT {
                        break;
                    }
                }
                Err(std_mpsc::RecvTimeoutError::Timeout) => break,
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let Ok(mut r) = rules.lock() else { return };
        r.own.refresh();
        let paths: Vec<PathBuf> = batch
            .paths
            .into_iter()
            .filter(|p| !batch.created.contains(p) || p.exists())
            .filter(|p| r.wanted(p) && !p.is_dir() && r.lockfile_changed(p))
            .collect();
        drop(r);
        if !paths.is_empty() && tx.send(Msg::FilesChanged { paths, at: clock.now() }).is_err() {
            return;
        }
    }
}

/// One change set in the making.
#[derive(Default)]
struct Batch {
    paths: BTreeSet<PathBuf>,
    /// Files written to and not yet closed: the save is still going on.
    open: HashSet<PathBuf>,
    /// Files created in this batch: gone again by its end, they were an
    /// editor's (or `sed -i`'s) temporary file, not a change.
    created: HashSet<PathBuf>,
    new_dirs: Vec<PathBuf>,
    /// Directories appeared: a checkout or a generator, treated as a flood.
    grew_dirs: bool,
}

impl Batch {
    fn collect(&mut self, ev: notify::Result<notify::Event>) {
        use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
        let Ok(ev) = ev else { return };
        for p in ev.paths {
            match ev.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                    self.open.remove(&p);
                    self.paths.insert(p);
                }
                EventKind::Access(_) => {}
                EventKind::Create(CreateKind::Folder) => {
                    self.new_dirs.push(p.clone());
                    self.paths.insert(p);
                }
                EventKind::Create(_) if p.is_dir() => {
                    self.new_dirs.push(p.clone());
                    self.paths.insert(p);
                }
                EventKind::Create(_) => {
                    self.created.insert(p.clone());
                    self.open.insert(p.clone());
                    self.paths.insert(p);
                }
                EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
                    self.open.insert(p.clone());
                    self.paths.insert(p);
                }
                EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any | EventKind::Other => {
                    self.open.remove(&p);
                    self.paths.insert(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, ModifyKind, RenameMode};

    fn ev(kind: EventKind, path: &str) -> notify::Result<notify::Event> {
        Ok(notify::Event::new(kind).add_path(PathBuf::from(path)))
    }

    #[test]
    fn a_save_is_complete_once_closed_or_renamed_into_place() {
        let mut b = Batch::default();
        b.collect(ev(EventKind::Modify(ModifyKind::Data(DataChange::Any)), "/w/a.rs"));
        assert!(!b.open.is_empty(), "still being written");
        b.collect(ev(EventKind::Access(AccessKind::Close(AccessMode::Write)), "/w/a.rs"));
        assert!(b.open.is_empty());
        b.collect(ev(EventKind::Create(CreateKind::File), "/w/.a.rs.tmp"));
        b.collect(ev(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), "/w/a.rs"));
        assert_eq!(b.paths.len(), 2);
        b.collect(ev(EventKind::Access(AccessKind::Open(AccessMode::Any)), "/w/b.rs"));
        assert_eq!(b.paths.len(), 2, "reading a file is not a change");
        assert!(
            b.created.contains(Path::new("/w/.a.rs.tmp")),
            "dropped at flush if gone by then"
        );
    }

    #[test]
    fn editor_temp_files_are_not_changes() {
        for name in [
            "main.rs~",
            ".main.rs.swp",
            "4913",
            ".#main.rs",
            "#main.rs#",
            "main.rs___jb_tmp___",
        ] {
            assert!(is_editor_temp(name), "{name}");
        }
        assert!(!is_editor_temp("main.rs"));
    }

    #[test]
    fn what_tests_write_is_not_a_change() {
        assert!(is_test_output("snaps__tests__greets.snap.new"));
        assert!(is_test_output(".lib.rs.pending-snap"));
        assert!(is_test_output("default_123.profraw"));
        assert!(
            !is_test_output("snaps__tests__greets.snap"),
            "an accepted snapshot is an input"
        );
    }
}
