//! Instrumented runs and their coverage. With coverage on, nextest builds
//! with `-C instrument-coverage` into its own target directory under
//! `target/vigil/` (the plain build cache stays warm) and every test process
//! writes its profile into a fresh directory per run. After the run the
//! profiles are merged; each test binary's latest merged profile is kept,
//! so a partial rerun never makes coverage drop for code it did not touch;
//! the report is exported over all of them with llvm-cov's own line
//! attribution (LCOV) and parsed into the core's model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::lcov;
use super::llvm::LlvmTools;
use super::profile::{self, CoverageMap};
use crate::core::coverage::Coverage;
use crate::core::testmap::{content_hash, fold, FileMap, TestKey, TestMap};
use crate::core::Workspace;

/// The file one test's profile goes to (`%p`: a retry is another process).
pub fn test_profile_name(binary_id: &str, test: &str) -> String {
    format!("t-{:016x}-%p.profraw", test_hash(binary_id, test))
}

fn test_hash(binary_id: &str, test: &str) -> u64 {
    profile::name_hash(format!("{binary_id}\0{test}").as_bytes())
}

/// The changed files' texts now, and the kept texts of the versions maps
/// were measured on (`sources/<hash>` in the coverage state).
pub(crate) fn read_texts(ws: &Workspace, files: &[PathBuf], versions: &[String]) -> crate::core::select_tests::Texts {
    /// Larger files are not source code a map can place edits in.
    const LIMIT: u64 = 4 << 20;
    let read = |p: &Path| {
        let small = std::fs::metadata(p).is_ok_and(|m| m.len() <= LIMIT);
        small.then(|| std::fs::read_to_string(p).ok()).flatten()
    };
    let sources = super::state_dir(&ws.target_dir).join("coverage").join("sources");
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
    let git = |args: &[&str]| super::git::git(root, args);
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

/// What a coverage run gave: the whole-run figures and each test's map.
pub struct Collected {
    pub coverage: Coverage,
    /// The lines changed since the base, or why they are unknown.
    pub patch: Option<Result<crate::core::patch::Changes, GitError>>,
    pub maps: Vec<(TestKey, TestMap)>,
    /// Why some or all tests have no map (said once, coverage stands).
    pub map_note: Option<String>,
    /// How long reading the per-test profiles into maps took.
    pub maps_took: std::time::Duration,
}

pub struct CoverageRig {
    pub tools: LlvmTools,
    root: PathBuf,
    /// `target/vigil/coverage`: profiles and the latest-per-binary index.
    dir: PathBuf,
    /// The instrumented build's own target directory.
    pub build_dir: PathBuf,
    ignore: String,
    pub branch: bool,
    target_dir: PathBuf,
    /// The names of the workspace's `bin` targets: tests that start them
    /// (`CARGO_BIN_EXE_…`) run code only their executables map.
    bins: Vec<String>,
    /// `CARGO_TARGET_<TRIPLE>_RUNNER` = vigil itself, which gives every
    /// test its own profile; `None` when it cannot be (the reason is in
    /// `runner_note`).
    runner: Option<(String, String)>,
    pub runner_note: Option<String>,
    /// The read tracer the runner preloads into tests, or why there is none.
    pub tracer: Result<PathBuf, String>,
    /// The git revision patch coverage is measured against.
    pub base: Option<String>,
    /// Watching without a revision: the Rust sources as the session
    /// started (path → content hash; the texts are under `sources/`).
    session: std::sync::Mutex<Option<BTreeMap<String, String>>>,
}

use crate::core::filterset::regex_escape;

impl CoverageRig {
    pub fn new(ws: &Workspace, tools: LlvmTools, branch: bool) -> Self {
        let dir = super::state_dir(&ws.target_dir).join("coverage");
        let build_dir = ws.target_dir.join("vigil").join("coverage-target");
        // Not the code under test: the registry, git deps, the toolchain,
        // build output, and every package's tests/.
        let mut parts = vec![
            r"/\.cargo/registry/".to_owned(),
            r"/\.cargo/git/".to_owned(),
            r"/rustc/".to_owned(),
            r"/\.rustup/".to_owned(),
            format!("^{}/", regex_escape(&ws.target_dir.display().to_string())),
        ];
        for p in &ws.packages {
            let dir = regex_escape(&p.manifest_dir.display().to_string());
            parts.push(format!("^{dir}/tests/"));
            // In-crate test modules in files of their own (`src/tests.rs`,
            // `src/x_tests.rs`), which cargo-llvm-cov leaves out too.
            parts.push(format!("^{dir}/(.*/)?(tests|[0-9A-Za-z_-]+[_-]tests)\\.rs$"));
        }
        let (runner, runner_note) = Self::runner(&tools, &ws.root);
        let tracer = super::reads::install(&dir);
        Self {
            tools,
            root: ws.root.clone(),
            dir,
            build_dir,
            ignore: format!("({})", parts.join("|")),
            branch,
            target_dir: ws.target_dir.clone(),
            bins: ws
                .packages
                .iter()
                .flat_map(|p| &p.targets)
                .filter(|t| t.kinds.iter().any(|k| k == "bin"))
                .map(|t| t.name.clone())
                .collect(),
            runner,
            runner_note,
            tracer,
            base: None,
            session: std::sync::Mutex::new(None),
        }
    }

    /// vigil as nextest's target runner: it names each test's profile file
    /// and execs the test (see `vigil __runner`).
    fn runner(tools: &LlvmTools, root: &Path) -> (Option<(String, String)>, Option<String>) {
        let Some(host) = &tools.host else {
            return (
                None,
                Some("per-test coverage is off: rustc did not say its host triple".into()),
            );
        };
        let key = format!("CARGO_TARGET_{}_RUNNER", host.to_uppercase().replace(['-', '.'], "_"));
        if std::env::var_os(&key).is_some() {
            return (
                None,
                Some(format!(
                    "per-test coverage is off: {key} is set, and vigil does not replace your target runner"
                )),
            );
        }
        // A runner in cargo's config files (the workspace's, its parents',
        // CARGO_HOME's) would be replaced too: leave it alone.
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
        let configs = root
            .ancestors()
            .map(|d| d.join(".cargo"))
            .chain(home)
            .flat_map(|d| [d.join("config.toml"), d.join("config")]);
        for config in configs {
            let text = std::fs::read_to_string(&config).unwrap_or_default();
            if text.lines().any(|l| l.trim_start().starts_with("runner")) {
                return (
                    None,
                    Some(format!(
                        "per-test coverage is off: {} sets a target runner, and vigil does not replace it",
                        config.display()
                    )),
                );
            }
        }
        let exe = match std::env::current_exe() {
            Ok(exe) => exe.display().to_string(),
            Err(e) => {
                return (
                    None,
                    Some(format!("per-test coverage is off: vigil cannot find itself: {e}")),
                )
            }
        };
        if exe.chars().any(char::is_whitespace) {
            // Cargo splits a runner given in the environment on spaces.
            return (
                None,
                Some(format!("per-test coverage is off: vigil's path has a space ({exe})")),
            );
        }
        (Some((key, format!("{exe} __runner"))), None)
    }

    /// Run numbers restart with every vigil process, and several may watch
    /// one workspace: names carry the process id.
    fn run_name(run: u32) -> String {
        format!("run-{}-{run}", std::process::id())
    }

    fn run_dir(&self, run: u32) -> PathBuf {
        self.dir.join(Self::run_name(run))
    }

    /// The environment nextest (and cargo under it) gets for run `run`.
    pub fn env(&self, run: u32) -> Vec<(String, String)> {
        let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        flags.push_str(" -C instrument-coverage");
        if self.branch {
            flags.push_str(" -Z coverage-options=branch");
        }
        let mut env = vec![
            ("RUSTFLAGS".to_owned(), flags.trim().to_owned()),
            ("CARGO_TARGET_DIR".to_owned(), self.build_dir.display().to_string()),
            (
                "LLVM_PROFILE_FILE".to_owned(),
                self.run_dir(run).join("%p-%m.profraw").display().to_string(),
            ),
        ];
        if let Some((key, value)) = &self.runner {
            env.push((key.clone(), value.clone()));
            env.push(("VIGIL_PROFILE_DIR".to_owned(), self.run_dir(run).display().to_string()));
            if let Ok(lib) = &self.tracer {
                use super::reads;
                env.push((reads::LIB.to_owned(), lib.display().to_string()));
                env.push((reads::DIR.to_owned(), self.run_dir(run).display().to_string()));
                env.push((reads::ROOT.to_owned(), self.root.display().to_string()));
                env.push((reads::SKIP.to_owned(), self.target_dir.display().to_string()));
            }
        }
        env
    }

    /// Where the doc lane's profiles are set aside (emptied before each).
    pub(crate) fn doc_profile_dir(&self) -> PathBuf {
        self.dir.join("doctests")
    }

    /// The doc lane's environment: the instrumented build (so the libs
    /// nextest built are reused), its profiles set aside (the figures stay
    /// nextest's, as cargo-llvm-cov's without `--doctests`).
    pub(crate) fn doc_env(&self, run: u32) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env(run)
            .into_iter()
            .filter(|(k, _)| {
                k != "LLVM_PROFILE_FILE"
                    && k != "VIGIL_PROFILE_DIR"
                    && !k.ends_with("_RUNNER")
                    && !k.starts_with("VIGIL_READS_")
            })
            .collect();
        env.push((
            "LLVM_PROFILE_FILE".to_owned(),
            self.doc_profile_dir().join("%p-%m.profraw").display().to_string(),
        ));
        // rustdoc compiles the examples: instrumented, each writes the
        // profile its own map is read from.
        env.push(("RUSTDOCFLAGS".to_owned(), "-C instrument-coverage".to_owned()));
        env
    }

    /// A shard's coverage into `dir` (`vigil run --partition … --out DIR`):
    /// run `run`'s own merged profile (`coverage.profdata`), the
    /// instrumented binaries the report was read with (`objects/`), and
    /// what `vigil merge` needs to read them (`coverage.json`).
    pub(crate) fn export_shard(&self, run: u32, dir: &Path) -> Result<(), CoverageError> {
        let write = |path: &Path, source| CoverageError::Write {
            path: path.to_owned(),
            source,
        };
        let report: serde_json::Value =
            std::fs::read_to_string(self.dir.join(format!("last-report-{}.json", std::process::id())))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .ok_or(CoverageError::NoProfile)?;
        let profile = self.dir.join(format!("{}.profdata", Self::run_name(run)));
        if !profile.exists() {
            return Err(CoverageError::NoProfile);
        }
        let objects_dir = dir.join("objects");
        std::fs::create_dir_all(&objects_dir).map_err(|e| write(&objects_dir, e))?;
        std::fs::copy(&profile, dir.join("coverage.profdata")).map_err(|e| write(&dir.join("coverage.profdata"), e))?;
        let mut names = Vec::new();
        for o in report["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str())
        {
            let from = Path::new(o);
            let Some(name) = from.file_name() else { continue };
            let to = objects_dir.join(name);
            // A hard link where the shard's directory allows it: binaries are big.
            if std::fs::hard_link(from, &to).is_err() {
                std::fs::copy(from, &to).map_err(|e| write(&to, e))?;
            }
            names.push(name.to_string_lossy().into_owned());
        }
        let meta = serde_json::json!({
            "objects": names,
            "ignore_filename_regex": self.ignore,
            "llvm_cov": self.tools.cov,
            "llvm_profdata": self.tools.profdata,
            "branch": self.branch,
            "root": self.root,
        });
        let path = dir.join("coverage.json");
        super::keep::write_atomic(&path, meta.to_string().as_bytes()).map_err(|e| write(&path, e))
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("latest.json")
    }

    /// Merges run `run`'s profiles, makes them the latest for the binaries
    /// that ran, and reports over every binary in `all` (id → path).
    pub fn collect(
        &self,
        run: u32,
        ran: &[String],
        all: &BTreeMap<String, PathBuf>,
        tests: &[TestKey],
        partial: &[String],
    ) -> Result<Collected, CoverageError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| CoverageError::Write {
            path: self.dir.clone(),
            source,
        })?;
        let raw_dir = self.run_dir(run);
        let mut maps = (Vec::new(), None);
        let mut maps_took = std::time::Duration::ZERO;
        // Each binary's mapping is read once for the tests' and the
        // doctests' maps.
        let mut mappings = Mappings::default();
        let raws: Vec<PathBuf> = std::fs::read_dir(&raw_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "profraw"))
                    .filter(|p| p.metadata().is_ok_and(|m| m.len() > 0))
                    .collect()
            })
            .unwrap_or_default();
        // A profile cut short or corrupt (a test killed as it wrote it, a
        // full disk) is left out of the merge, which would fail on it, and
        // said: the other tests' coverage stands.
        let (raws, unreadable) = readable_profiles(raws, tests);
        // binary id → (its latest profile, the binary it was read with).
        let mut index: BTreeMap<String, (String, PathBuf)> = std::fs::read_to_string(self.index_path())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if !raws.is_empty() {
            let merged = self.dir.join(format!("{}.profdata", Self::run_name(run)));
            let mut cmd = crate::adapters::process::tied(&self.tools.profdata);
            cmd.args(["merge", "-sparse", "-o"]).arg(&merged).args(&raws);
            // A binary that ran only some of its tests keeps what the others
            // measured before: its earlier profile is merged in. (A function
            // changed since has another hash, and llvm-cov credits it only
            // from the tests that ran on it.)
            let mut earlier: Vec<PathBuf> = partial
                .iter()
                .filter_map(|b| index.get(b))
                .map(|(p, _)| self.dir.join(p))
                .filter(|p| p.exists())
                .collect();
            earlier.sort();
            earlier.dedup();
            cmd.args(&earlier);
            run_tool(cmd, "llvm-profdata merge")?;
            let t0 = std::time::Instant::now();
            maps = self.test_maps(&raws, all, tests, &mut mappings);
            maps_took = t0.elapsed();
            for b in ran {
                if let Some(path) = all.get(b) {
                    index.insert(b.clone(), (format!("{}.profdata", Self::run_name(run)), path.clone()));
                }
            }
        }
        // The doc lane's own maps, also where nextest ran nothing.
        let t0 = std::time::Instant::now();
        maps.0.extend(self.doc_maps(all, tests, &mut mappings));
        maps_took += t0.elapsed();
        let _ = std::fs::remove_dir_all(&raw_dir);
        // A binary this process listed is read from its current build; one
        // it did not list (a partial run) from where it was last; one whose
        // build is gone drops out, and so, after a while, does its profile
        // (another vigil on this workspace may be about to point at it).
        for (b, entry) in index.iter_mut() {
            if let Some(path) = all.get(b) {
                entry.1 = path.clone();
            }
        }
        index.retain(|_, (_, path)| path.exists());
        let mut profiles: Vec<String> = index.values().map(|(p, _)| p.clone()).collect();
        profiles.sort();
        profiles.dedup();
        if let Ok(d) = std::fs::read_dir(&self.dir) {
            for e in d.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 600));
                let leftover = name.starts_with("merged-") || name.starts_with("last-");
                let unused = name.starts_with("run-") && name.ends_with(".profdata") && !profiles.contains(&name);
                if old && (leftover || unused) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        super::keep::write_atomic(
            &self.index_path(),
            serde_json::to_string_pretty(&index).unwrap_or_default().as_bytes(),
        )
        .map_err(|source| CoverageError::Write {
            path: self.index_path(),
            source,
        })?;
        if profiles.is_empty() {
            return Err(CoverageError::NoProfile);
        }
        let profdata = if profiles.len() == 1 {
            self.dir.join(&profiles[0])
        } else {
            let out = self.dir.join(format!("merged-{}.profdata", std::process::id()));
            let mut cmd = crate::adapters::process::tied(&self.tools.profdata);
            cmd.args(["merge", "-sparse", "-o"]).arg(&out);
            cmd.args(profiles.iter().map(|p| self.dir.join(p)));
            run_tool(cmd, "llvm-profdata merge")?;
            out
        };
        // Like cargo-llvm-cov, report over every instrumented test binary,
        // also those that ran no test: code only they link counts as
        // uncovered instead of dropping out of the figures.
        let mut objects: Vec<&PathBuf> = index.values().map(|(_, path)| path).collect();
        objects.extend(all.values().filter(|p| p.starts_with(&self.build_dir) && p.exists()));
        // And over the executables tests started: their code is counted
        // as cargo-llvm-cov counts it.
        let executables = self.executables();
        objects.extend(executables.iter());
        objects.sort();
        objects.dedup();
        let Some((first, rest)) = objects.split_first() else {
            return Err(CoverageError::NoBinary);
        };
        let mut cmd = crate::adapters::process::tied(&self.tools.cov);
        cmd.args(["export", "-format=lcov", "-instr-profile"])
            .arg(&profdata)
            .arg(first)
            .arg(format!("-ignore-filename-regex={}", self.ignore));
        for o in rest {
            cmd.arg("--object").arg(o);
        }
        let lcov_text = run_tool(cmd, "llvm-cov export")?;
        // What this report was made from, so anyone can ask llvm-cov itself.
        let inputs = serde_json::json!({
            "profdata": profdata,
            "objects": objects,
            "ignore_filename_regex": self.ignore,
            "llvm_cov": self.tools.cov,
        });
        let _ = super::keep::write_atomic(
            &self.dir.join(format!("last-report-{}.json", std::process::id())),
            inputs.to_string().as_bytes(),
        );
        let _ = super::keep::write_atomic(
            &self.dir.join(format!("last-{}.lcov", std::process::id())),
            lcov_text.as_bytes(),
        );
        // The newest report of any vigil on this workspace, for `vigil report --html`.
        let _ = super::keep::write_atomic(&self.dir.join("latest.lcov"), lcov_text.as_bytes());
        let mut cov = lcov::parse(&lcov_text, &self.root);
        cov.branches_measured = self.branch;
        Ok(Collected {
            maps_took,
            patch: match self.base.as_deref() {
                Some(b) => Some(changes_since(&self.root, b)),
                None => self.changes_since_session().map(Ok),
            },
            coverage: cov,
            maps: maps.0,
            map_note: match (maps.1.or_else(|| self.runner_note.clone()), unreadable) {
                (note, None) => note,
                (None, Some(u)) => Some(u),
                (Some(note), Some(u)) => Some(format!("{u}; {note}")),
            },
        })
    }

    /// The workspace's Rust sources (outside `target/`), relative paths.
    fn rust_sources(&self) -> Vec<String> {
        let mut out = Vec::new();
        let walk = ignore::WalkBuilder::new(&self.root).hidden(false).build();
        for e in walk.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rs")
                && !p.starts_with(&self.target_dir)
                && e.file_type().is_some_and(|t| t.is_file())
            {
                if let Ok(rel) = p.strip_prefix(&self.root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        out
    }

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
                let _ = super::keep::write_atomic(&kept, &text);
            }
            base.insert(rel, hash);
        }
        if let Ok(mut s) = self.session.lock() {
            *s = Some(base);
        }
    }

    /// The lines changed since the session's snapshot (`None`: none taken).
    fn changes_since_session(&self) -> Option<crate::core::patch::Changes> {
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

    /// Each test's own profile read natively against its binary's mapping:
    /// the lines it ran, per workspace file, with the file's content hash.
    /// The texts measured are kept (`sources/<hash>`) so that a later
    /// change can be placed against the version a map was made on.
    fn test_maps(
        &self,
        raws: &[PathBuf],
        all: &BTreeMap<String, PathBuf>,
        tests: &[TestKey],
        mappings: &mut Mappings,
    ) -> (Vec<(TestKey, TestMap)>, Option<String>) {
        let by_hash: HashMap<u64, &TestKey> = tests.iter().map(|t| (test_hash(&t.0, &t.1), t)).collect();
        // test → its profile files (a retried test has several).
        let mut files: BTreeMap<&TestKey, Vec<&PathBuf>> = BTreeMap::new();
        for p in raws {
            let name = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            let Some(hex) = name.strip_prefix("t-").and_then(|n| n.get(..16)) else {
                continue;
            };
            if let Some(t) = u64::from_str_radix(hex, 16).ok().and_then(|h| by_hash.get(&h)) {
                files.entry(*t).or_default().push(p);
            }
        }
        // test → what its processes read (one record per process).
        let mut reads: HashMap<&TestKey, Vec<String>> = HashMap::new();
        let dir = raws.first().and_then(|p| p.parent());
        for entry in dir
            .and_then(|d| std::fs::read_dir(d).ok())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(hex) = name
                .strip_suffix(".reads")
                .and_then(|n| n.strip_prefix("t-"))
                .and_then(|n| n.get(..16))
            else {
                continue;
            };
            let Some(t) = u64::from_str_radix(hex, 16).ok().and_then(|h| by_hash.get(&h)) else {
                continue;
            };
            // A record is bounded by what the test opened inside the
            // workspace; an unreadable one leaves the test untraced.
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                reads.entry(*t).or_default().push(text);
            }
        }
        let mut read_hashes = super::reads::Hashes::default();
        let Mappings { by_binary, executables } = mappings;
        let mut problems = Vec::new();
        let mut hashes: HashMap<PathBuf, Option<(String, String)>> = HashMap::new();
        let sources = self.dir.join("sources");
        let mut out = Vec::new();
        for (test, profiles) in files {
            let Some(binary) = all.get(&test.0) else { continue };
            let mapping = by_binary
                .entry(test.0.clone())
                .or_insert_with(|| match CoverageMap::read(binary) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        problems.push(e.to_string());
                        None
                    }
                });
            let Some(mapping) = mapping.as_ref() else { continue };
            let mut lines: BTreeMap<PathBuf, BTreeSet<u32>> = BTreeMap::new();
            let mut unplaced = 0;
            for p in profiles {
                let records = match std::fs::read(p)
                    .map_err(|e| e.to_string())
                    .and_then(|b| profile::parse_profraw(&b))
                {
                    Ok(records) => records,
                    Err(e) => {
                        problems.push(format!("{}: {e}", p.display()));
                        continue;
                    }
                };
                let mut rest: Vec<profile::Record> = place(mapping, &records, &mut lines);
                if !rest.is_empty() {
                    for m in executables.get_or_insert_with(|| self.executable_mappings()).iter() {
                        if rest.is_empty() {
                            break;
                        }
                        rest = place(m, &rest, &mut lines);
                    }
                }
                unplaced += rest.len();
            }
            let mut map = TestMap::default();
            for (path, set) in lines {
                let Some((rel, hash)) = self.measured_file(&path, &sources, &mut hashes) else {
                    continue;
                };
                map.files.insert(rel, FileMap { hash, lines: fold(set) });
            }
            if unplaced > 0 {
                map.partial = Some(format!(
                    "a process it started ran {unplaced} functions of a binary vigil could not read"
                ));
            }
            if let Some(texts) = reads.get(test) {
                map.reads = Some(super::reads::parse(texts, &self.root, &mut read_hashes));
            }
            out.push((test.clone(), map));
        }
        problems.sort();
        problems.dedup();
        let note = (!problems.is_empty()).then(|| format!("some tests have no coverage map: {}", problems.join("; ")));
        (out, note)
    }

    /// Each doctest's own map, from the doc lane's profiles: rustdoc wraps
    /// an example in `_doctest_main_<file>_<line>_<n>`, which names the
    /// doctest whose process wrote the profile; the workspace's functions
    /// in it are read against the package's other instrumented binaries,
    /// which link the same library build. A profile holding several
    /// examples (merged doctests, one process) is each one's map. Library
    /// code no binary maps makes the map partial (always selected).
    fn doc_maps(
        &self,
        all: &BTreeMap<String, PathBuf>,
        tests: &[TestKey],
        mappings: &mut Mappings,
    ) -> Vec<(TestKey, TestMap)> {
        let wrappers: Vec<(String, &TestKey)> = tests
            .iter()
            .filter(|t| t.0.ends_with("::doc"))
            .filter_map(|t| doc_wrapper(&t.1).map(|w| (w, t)))
            .collect();
        if wrappers.is_empty() {
            return Vec::new();
        }
        let Ok(dir) = std::fs::read_dir(self.doc_profile_dir()) else {
            return Vec::new();
        };
        let Mappings { by_binary, executables } = mappings;
        let mut found: BTreeMap<&TestKey, (BTreeMap<PathBuf, BTreeSet<u32>>, usize)> = BTreeMap::new();
        for entry in dir.flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let (Ok(names), Ok(records)) = (profile::profraw_names(&bytes), profile::parse_profraw(&bytes)) else {
                continue;
            };
            let keys: Vec<&TestKey> = wrappers
                .iter()
                .filter(|(w, _)| names.values().any(|n| n.contains(w.as_str())))
                .map(|(_, k)| *k)
                .collect();
            let Some(first) = keys.first() else { continue };
            let package = first.0.trim_end_matches("::doc").to_owned();
            // What the example's own crate (`rust_out`) defines is not
            // workspace code; the workspace's generic code it instantiates
            // is (named after the example's crate too, so it is placed in
            // no other binary: the map is then partial, never short).
            let workspace: Vec<profile::Record> = records
                .into_iter()
                .filter(|r| {
                    names
                        .get(&r.name_ref)
                        .is_none_or(|n| defining_crate(n) != Some("rust_out"))
                })
                .collect();
            let ids: Vec<&String> = all
                .keys()
                .filter(|id| **id == package || id.starts_with(&format!("{package}::")))
                .collect();
            for id in &ids {
                by_binary
                    .entry((*id).clone())
                    .or_insert_with(|| CoverageMap::read(&all[*id]).ok());
            }
            let mut lines = BTreeMap::new();
            let mut rest = workspace;
            for m in ids.iter().filter_map(|id| by_binary.get(*id).and_then(Option::as_ref)) {
                if rest.is_empty() {
                    break;
                }
                rest = place(m, &rest, &mut lines);
            }
            if !rest.is_empty() {
                for m in executables.get_or_insert_with(|| self.executable_mappings()).iter() {
                    rest = place(m, &rest, &mut lines);
                }
            }
            if !rest.is_empty() {
                // The workspace's generic code the example instantiated:
                // the same instance in one of the package's binaries.
                for id in &ids {
                    if let Some(Some(m)) = by_binary.get_mut(*id) {
                        m.index_instances(&all[*id]);
                    }
                }
                rest.retain(|r| {
                    !ids.iter()
                        .filter_map(|id| by_binary.get(*id).and_then(Option::as_ref))
                        .any(|m| {
                            let own = m.place_instances(std::slice::from_ref(r), &names);
                            !own.is_empty() && place(m, &own, &mut lines).is_empty()
                        })
                });
            }
            for k in keys {
                let slot = found.entry(k).or_default();
                for (path, set) in &lines {
                    slot.0.entry(path.clone()).or_default().extend(set);
                }
                slot.1 += rest.len();
            }
        }
        let sources = self.dir.join("sources");
        let mut hashes = HashMap::new();
        found
            .into_iter()
            .map(|(key, (lines, unplaced))| {
                let mut map = TestMap::default();
                for (path, set) in lines {
                    if let Some((rel, hash)) = self.measured_file(&path, &sources, &mut hashes) {
                        map.files.insert(rel, FileMap { hash, lines: fold(set) });
                    }
                }
                if unplaced > 0 {
                    map.partial = Some(format!(
                        "{unplaced} of the library's functions it ran are in no other test binary of its package"
                    ));
                }
                (key.clone(), map)
            })
            .collect()
    }

    /// The coverage mappings of the workspace's instrumented executables
    /// (each package's `bin` targets), those that were built.
    fn executable_mappings(&self) -> Vec<CoverageMap> {
        self.executables()
            .iter()
            .filter_map(|p| CoverageMap::read(p).ok())
            .collect()
    }

    /// The instrumented build's executables of the workspace's `bin`
    /// targets that exist (tests that run them write their profiles).
    fn executables(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .bins
            .iter()
            .map(|name| {
                self.build_dir
                    .join("debug")
                    .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
            })
            .filter(|p| p.is_file())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A workspace file's relative path and content hash (the text kept
    /// under `sources/`); `None` for code that is not the workspace's.
    fn measured_file(
        &self,
        path: &Path,
        sources: &Path,
        seen: &mut HashMap<PathBuf, Option<(String, String)>>,
    ) -> Option<(String, String)> {
        seen.entry(path.to_owned())
            .or_insert_with(|| {
                if !path.starts_with(&self.root) || path.starts_with(&self.target_dir) {
                    return None;
                }
                let text = std::fs::read(path).ok()?;
                let hash = content_hash(&text);
                let kept = sources.join(&hash);
                if !kept.exists() {
                    let _ = super::keep::write_atomic(&kept, &text);
                }
                let rel = path.strip_prefix(&self.root).ok()?.to_string_lossy().into_owned();
                Some((rel, hash))
            })
            .clone()
    }

    /// The merged profile and objects of the last report, for checking
    /// vigil's figures against `llvm-cov report`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The coverage mappings read while making maps, each once: test binaries
/// by binary id, and the workspace's executables (read when a profile
/// holds code its test binary does not: the test ran the crate's binary).
#[derive(Default)]
struct Mappings {
    by_binary: HashMap<String, Option<CoverageMap>>,
    executables: Option<Vec<CoverageMap>>,
}

/// The crate that defines a mangled function (its path's root): v0
/// (`_RNvCs…_8rust_out4main`) or legacy (`_ZN8rust_out4main17h…E`). An
/// instance of a generic function names the crate that instantiated it
/// only after its path.
fn defining_crate(symbol: &str) -> Option<&str> {
    let ident = |s: &str| -> Option<(usize, usize)> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let len: usize = s.get(..digits)?.parse().ok()?;
        Some((digits, len))
    };
    if let Some(rest) = symbol.strip_prefix("_ZN") {
        let (d, len) = ident(rest)?;
        return rest.get(d..d + len);
    }
    let rest = symbol.strip_prefix("_R")?;
    // The first crate root: `C`, an optional disambiguator `s…_`, then
    // the crate's name.
    let at = rest.find('C')?;
    let mut root = &rest[at + 1..];
    if let Some(after) = root.strip_prefix('s') {
        root = &after[after.find('_')? + 1..];
    }
    let (d, len) = ident(root)?;
    root.get(d..d + len)
}

/// The wrapper rustdoc puts an example in, from the doctest's name:
/// `src/lib.rs - Money::add (line 12)` → `_doctest_main_src_lib_rs_12_`.
fn doc_wrapper(name: &str) -> Option<String> {
    let (file, _) = name.split_once(" - ")?;
    let line = name.rsplit_once("(line ")?.1.trim_end_matches(')');
    if line.is_empty() || !line.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let file: String = file
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(format!("_doctest_main_{file}_{line}_"))
}

/// `records` read against `mapping` into `lines` (by source path); the
/// records that ran and that `mapping` does not hold come back.
fn place(
    mapping: &CoverageMap,
    records: &[profile::Record],
    lines: &mut BTreeMap<PathBuf, BTreeSet<u32>>,
) -> Vec<profile::Record> {
    let mut by_file = BTreeMap::new();
    let rest = mapping.covered(records, &mut by_file).into_iter().cloned().collect();
    for (file, set) in by_file {
        if let Some(path) = mapping.files.get(file as usize) {
            lines.entry(path.clone()).or_default().extend(set);
        }
    }
    rest
}

/// The raw profiles vigil can read, and a note naming those it cannot
/// (by test, where the name says which) and why.
fn readable_profiles(raws: Vec<PathBuf>, tests: &[TestKey]) -> (Vec<PathBuf>, Option<String>) {
    let by_hash: HashMap<String, String> = tests
        .iter()
        .map(|(b, t)| (format!("t-{:016x}-", test_hash(b, t)), format!("{b} › {t}")))
        .collect();
    let mut good = Vec::with_capacity(raws.len());
    let mut bad = Vec::new();
    for raw in raws {
        let why = match std::fs::read(&raw) {
            Ok(bytes) => profile::parse_profraw(&bytes).err(),
            Err(e) => Some(e.to_string()),
        };
        match why {
            None => good.push(raw),
            Some(why) => {
                let name = raw
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let who = by_hash
                    .iter()
                    .find(|(prefix, _)| name.starts_with(prefix.as_str()))
                    .map_or_else(|| name.clone(), |(_, test)| format!("{test} ({name})"));
                bad.push(format!("{who}: {why}"));
            }
        }
    }
    let note = (!bad.is_empty()).then(|| {
        format!(
            "coverage left out {} profile{} it could not read, so those tests' lines count as not run by them: {}",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" },
            bad.join("; ")
        )
    });
    (good, note)
}

fn run_tool(mut cmd: Command, what: &'static str) -> Result<String, CoverageError> {
    let out = cmd
        .output()
        .map_err(|source| CoverageError::Spawn { tool: what, source })?;
    if !out.status.success() {
        return Err(CoverageError::Tool {
            tool: what,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub use super::git::GitError;

/// Why a run's coverage could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("failed to write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("no test wrote a coverage profile")]
    NoProfile,
    #[error("no instrumented test binary to read coverage from")]
    NoBinary,
    #[error("failed to run {tool}: {source}")]
    Spawn { tool: &'static str, source: std::io::Error },
    #[error("{tool} failed: {stderr}")]
    Tool { tool: &'static str, stderr: String },
}

/// The shards' coverage as one (`vigil merge`): their profiles merged
/// (`llvm-profdata merge`), then reported over every object any shard was
/// read with — the figure a single unsharded run gives. `None`: no shard
/// has coverage.
pub(crate) fn merge_shards(dirs: &[PathBuf], out: &Path) -> Result<Option<crate::core::coverage::Coverage>, String> {
    let mut metas = Vec::new();
    for d in dirs {
        let Ok(text) = std::fs::read_to_string(d.join("coverage.json")) else {
            continue;
        };
        let meta: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", d.join("coverage.json").display()))?;
        metas.push((d.clone(), meta));
    }
    let Some((_, first)) = metas.first() else {
        return Ok(None);
    };
    if metas.len() != dirs.len() {
        return Err(format!(
            "{} of {} shards have coverage: merged, the figure would not be the whole run's",
            metas.len(),
            dirs.len()
        ));
    }
    let tool = |key: &str| PathBuf::from(first[key].as_str().unwrap_or_default());
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let merged = out.join("merged.profdata");
    let mut cmd = crate::adapters::process::tied(tool("llvm_profdata"));
    cmd.args(["merge", "-sparse", "-o"]).arg(&merged);
    for (d, _) in &metas {
        cmd.arg(d.join("coverage.profdata"));
    }
    run_tool(cmd, "llvm-profdata merge").map_err(|e| e.to_string())?;
    // Each binary once (shards of one build hold the same ones).
    let mut objects: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (d, meta) in &metas {
        for name in meta["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str())
        {
            objects
                .entry(name.to_owned())
                .or_insert_with(|| d.join("objects").join(name));
        }
    }
    let mut objects = objects.into_values();
    let Some(first_object) = objects.next() else {
        return Err("the shards name no instrumented binary".to_owned());
    };
    let mut cmd = crate::adapters::process::tied(tool("llvm_cov"));
    cmd.args(["export", "-format=lcov", "-instr-profile"])
        .arg(&merged)
        .arg(first_object)
        .arg(format!(
            "-ignore-filename-regex={}",
            first["ignore_filename_regex"].as_str().unwrap_or_default()
        ));
    for o in objects {
        cmd.arg("--object").arg(o);
    }
    let text = run_tool(cmd, "llvm-cov export").map_err(|e| e.to_string())?;
    let root = PathBuf::from(first["root"].as_str().unwrap_or_default());
    let mut cov = lcov::parse(&text, &root);
    cov.branches_measured = first["branch"].as_bool().unwrap_or(false);
    Ok(Some(cov))
}

#[cfg(test)]
mod tests {
    use super::{defining_crate, doc_wrapper};

    #[test]
    fn the_crate_that_defines_a_function_is_its_paths_root() {
        // The example's own functions (v0 and legacy).
        assert_eq!(defining_crate("_RNvCsdqsnfIJc26X_8rust_out4main"), Some("rust_out"));
        assert_eq!(
            defining_crate("_RNvNvCsdqsnfIJc26X_8rust_out4main28__doctest_main_src_lib_rs_6_0"),
            Some("rust_out")
        );
        assert_eq!(
            defining_crate("_ZN8rust_out4main17h0123456789abcdefE"),
            Some("rust_out")
        );
        // The library's function, and a generic one the example instantiated.
        assert_eq!(defining_crate("_RNvCsgSHXDb0lhI5_4docs3add"), Some("docs"));
        assert_eq!(
            defining_crate("_RINvNtCsgSHXDb0lhI5_5bytes3buf6get_u8RShECsdqsnfIJc26X_8rust_out"),
            Some("bytes")
        );
    }

    #[test]
    fn a_doctests_name_gives_rustdocs_wrapper() {
        assert_eq!(
            doc_wrapper("src/lib.rs - Money::add (line 12)").as_deref(),
            Some("_doctest_main_src_lib_rs_12_")
        );
        assert_eq!(doc_wrapper("src/lib.rs - add"), None);
    }
}
