//! Instrumented runs and their coverage. With coverage on, nextest builds
//! with `-C instrument-coverage` into its own target directory under
//! `target/vigil/` (the plain build cache stays warm) and every test process
//! writes its profile into a fresh directory per run. After the run the
//! profiles are merged; each test binary's latest merged profile is kept,
//! so a partial rerun never makes coverage drop for code it did not touch;
//! the report is exported over all of them with llvm-cov's own line
//! attribution (LCOV) and parsed into the core's model. This file owns the
//! rig (directories, environment, tools); `collect` reads a run, `maps`
//! gives each test its own map, `texts` what a change set is placed on.

use crate::core::ids::RunId;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::lcov;
use super::llvm::LlvmTools;
use super::profile::{self, CoverageMap};
use crate::core::coverage::Coverage;
use crate::core::filterset::regex_escape;
use crate::core::testmap::{content_hash, fold, FileMap, TestId, TestKey, TestMap};
use crate::core::Workspace;

mod collect;
mod maps;
mod texts;

pub(crate) use collect::*;
use maps::*;
pub use texts::attribute_all;
pub(crate) use texts::*;

/// The file one test's profile goes to (`%p`: a retry is another process).
pub fn test_profile_name(binary_id: &str, test: &str) -> String {
    format!("t-{:016x}-%p.profraw", test_hash(binary_id, test))
}

fn test_hash(binary_id: &str, test: &str) -> u64 {
    profile::name_hash(format!("{binary_id}\0{test}").as_bytes())
}

/// What a coverage run gave: the whole-run figures and each test's map.
pub(crate) struct Collected {
    pub coverage: Coverage,
    /// The lines changed since the base, or why they are unknown.
    pub patch: Option<Result<crate::core::patch::Changes, GitError>>,
    pub maps: Vec<(TestKey, TestMap)>,
    /// Why some or all tests have no map (said once, coverage stands).
    pub map_note: Option<String>,
    /// How long reading the per-test profiles into maps took.
    pub maps_took: std::time::Duration,
}

pub(crate) struct CoverageRig {
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
    fn run_name(run: RunId) -> String {
        format!("run-{}-{run}", std::process::id())
    }

    pub(crate) fn run_dir(&self, run: RunId) -> PathBuf {
        self.dir.join(Self::run_name(run))
    }

    /// The environment nextest (and cargo under it) gets for run `run`.
    pub fn env(&self, run: RunId) -> Vec<(String, String)> {
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
            }
        }
        env.extend(self.build_tracing());
        env
    }

    /// What the cargo that builds gets so that build scripts note what
    /// they read (the tracer preloaded, inert in every other process:
    /// cargo, rustc, nextest and the tests, which the runner traces on its
    /// own terms).
    fn build_tracing(&self) -> Vec<(String, String)> {
        use super::reads;
        let Ok(lib) = &self.tracer else {
            return Vec::new();
        };
        let existing = std::env::var("LD_PRELOAD").ok();
        vec![
            (
                "LD_PRELOAD".to_owned(),
                reads::preload(&lib.display().to_string(), existing.as_deref()),
            ),
            (reads::BUILD.to_owned(), "1".to_owned()),
            (reads::ROOT.to_owned(), self.root.display().to_string()),
            (reads::SKIP.to_owned(), self.target_dir.display().to_string()),
        ]
    }

    /// Where the doc lane's profiles are set aside (emptied before each).
    pub(crate) fn doc_profile_dir(&self) -> PathBuf {
        self.dir.join("doctests")
    }

    /// The doc lane's environment: the instrumented build (so the libs
    /// nextest built are reused), its profiles set aside (the figures stay
    /// nextest's, as cargo-llvm-cov's without `--doctests`).
    pub(crate) fn doc_env(&self, run: RunId) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env(run)
            .into_iter()
            .filter(|(k, _)| {
                k != "LLVM_PROFILE_FILE"
                    && k != "VIGIL_PROFILE_DIR"
                    && !k.ends_with("_RUNNER")
                    && !k.starts_with("VIGIL_READS_")
                    && k != "LD_PRELOAD"
            })
            .collect();
        env.push((
            "LLVM_PROFILE_FILE".to_owned(),
            self.doc_profile_dir().join("%p-%m.profraw").display().to_string(),
        ));
        // rustdoc compiles the examples: instrumented, each writes the
        // profile its own map is read from.
        env.push(("RUSTDOCFLAGS".to_owned(), "-C instrument-coverage".to_owned()));
        // What each example reads at run time: the tracer preloaded into
        // the lane, noting in rustdoc's examples (`rust_out`) alone, one
        // record per process beside its profile (`<pid>.reads`).
        if let Ok(lib) = &self.tracer {
            use super::reads;
            let existing = std::env::var("LD_PRELOAD").ok();
            env.push((
                "LD_PRELOAD".to_owned(),
                reads::preload(&lib.display().to_string(), existing.as_deref()),
            ));
            env.push((
                reads::FILE.to_owned(),
                self.doc_profile_dir().join("%p.reads").display().to_string(),
            ));
            env.push((reads::ROOT.to_owned(), self.root.display().to_string()));
            env.push((reads::SKIP.to_owned(), self.target_dir.display().to_string()));
            env.push((reads::EXE.to_owned(), "rust_out".to_owned()));
            env.push((
                reads::MAPPING.to_owned(),
                self.doc_profile_dir().join("%p.mapping").display().to_string(),
            ));
            // The lane's cargo may run a build script too.
            env.push((reads::BUILD.to_owned(), "1".to_owned()));
        }
        env
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("latest.json")
    }
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
pub(crate) enum CoverageError {
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
