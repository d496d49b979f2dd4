//! What there is to test: the workspace's packages and their dependency graph
//! (from `cargo metadata`), and the test binaries ("suites") with their tests
//! (from `nextest list`). Suites and tests are keyed by nextest's binary id
//! plus test name, the one test identity used everywhere. The workspace's
//! side is `workspace`; the suites and tests are here.

use crate::core::ids::RunId;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::glob::Glob;
use super::graph::Graph;
use super::test_state::{TestCase, TestState};

mod workspace;

pub use workspace::*;

/// How a test binary is classified for budgets and display.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteType {
    Unit,
    Integration,
    E2e,
    /// A package's doctests (`cargo test --doc`).
    Doc,
}

impl SuiteType {
    /// `unit` for lib, bin and proc-macro targets, `integration` for `tests/`
    /// targets (and benches/examples that carry tests), `e2e` when the binary
    /// id matches one of the configured patterns.
    pub(crate) fn classify(binary_id: &str, kind: &str, e2e_patterns: &[Glob]) -> Self {
        if kind == "doc" {
            return SuiteType::Doc;
        }
        if e2e_patterns.iter().any(|g| g.matches(binary_id)) {
            return SuiteType::E2e;
        }
        match kind {
            "lib" | "rlib" | "bin" | "proc-macro" | "cdylib" | "dylib" | "staticlib" => SuiteType::Unit,
            _ => SuiteType::Integration,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SuiteType::Unit => "unit",
            SuiteType::Integration => "integration",
            SuiteType::E2e => "e2e",
            SuiteType::Doc => "doc",
        }
    }

    /// The type `as_str` names.
    pub fn parse(s: &str) -> Option<Self> {
        [SuiteType::Unit, SuiteType::Integration, SuiteType::E2e, SuiteType::Doc]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// One test binary and its tests.
#[derive(Clone, Debug)]
pub struct Suite {
    pub binary_id: Arc<str>,
    pub package: String,
    pub binary_name: String,
    /// Cargo target kind as nextest reports it (`lib`, `test`, `bin`…).
    pub kind: String,
    pub suite_type: SuiteType,
    /// The built test binary.
    pub binary_path: PathBuf,
    pub tests: Vec<TestCase>,
    index: HashMap<String, usize>,
}

impl Suite {
    pub fn test_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Wall time of the suite in `run`: from its first test starting to its
    /// last test finishing (`None` before any test of it ran).
    pub(crate) fn wall_time(&self, run: RunId) -> Option<Duration> {
        let (mut first, mut last): (Option<Duration>, Option<Duration>) = (None, None);
        for test in self.tests.iter().filter(|t| t.run == Some(run)) {
            for tr in &test.transitions {
                if tr.to == TestState::Running {
                    first = Some(first.map_or(tr.at, |f| f.min(tr.at)));
                }
                if tr.to.is_terminal() && tr.from == TestState::Running {
                    last = Some(last.map_or(tr.at, |l| l.max(tr.at)));
                }
            }
        }
        Some(last?.saturating_sub(first?))
    }

    /// Adds a test the list did not name (a test that appeared in a run
    /// stream), so nothing a run reports is dropped.
    pub fn add_test(&mut self, name: &str) -> usize {
        if let Some(i) = self.test_index(name) {
            return i;
        }
        self.tests.push(TestCase::new(name, false));
        let i = self.tests.len() - 1;
        self.index.insert(name.to_owned(), i);
        i
    }
}

/// Every suite vigil knows, in nextest's order.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub suites: Vec<Suite>,
    index: HashMap<Arc<str>, usize>,
}

impl Catalog {
    pub fn suite_index(&self, binary_id: &str) -> Option<usize> {
        self.index.get(binary_id).copied()
    }

    pub fn suite(&self, binary_id: &str) -> Option<&Suite> {
        self.suite_index(binary_id).map(|i| &self.suites[i])
    }

    pub(crate) fn test_mut(&mut self, binary_id: &str, name: &str) -> Option<&mut TestCase> {
        let si = self.suite_index(binary_id)?;
        let suite = &mut self.suites[si];
        let i = suite.test_index(name)?;
        suite.tests.get_mut(i)
    }

    /// The suite a streamed result belongs to. nextest names a result
    /// `<crate>::<binary name>$<test>`, which a package's library and its
    /// binary of the same name share (`hexyl::hexyl`): of the suites with
    /// that package and binary name, the one that lists the test in the
    /// state the event moves it from (pending for a start, running for a
    /// result), else one that lists it, else the one the stream named.
    pub(crate) fn suite_for_result(&self, binary_id: &str, name: &str, starting: bool) -> Option<usize> {
        let named = self.suite_index(binary_id)?;
        let (package, binary) = (&self.suites[named].package, &self.suites[named].binary_name);
        let siblings: Vec<usize> = (0..self.suites.len())
            .filter(|&i| self.suites[i].package == *package && self.suites[i].binary_name == *binary)
            .collect();
        if siblings.len() < 2 {
            return Some(named);
        }
        let listed = |i: &usize| self.suites[*i].test_index(name).map(|t| &self.suites[*i].tests[t]);
        let from = |t: &TestCase| {
            if starting {
                t.state == TestState::Pending
            } else {
                t.state == TestState::Running
            }
        };
        siblings
            .iter()
            .find(|i| listed(i).is_some_and(from))
            .or_else(|| siblings.iter().find(|i| listed(i).is_some()))
            .copied()
            .or(Some(named))
    }

    /// How many tests are stale (see `TestCase::stale`).
    pub fn stale_count(&self) -> usize {
        self.suites.iter().flat_map(|s| &s.tests).filter(|t| t.stale).count()
    }

    /// Every test binary known: id → path.
    pub fn binaries(&self) -> std::collections::BTreeMap<String, PathBuf> {
        self.suites
            .iter()
            .filter(|s| s.suite_type != SuiteType::Doc)
            .map(|s| (s.binary_id.to_string(), s.binary_path.clone()))
            .collect()
    }

    pub(crate) fn test_count(&self) -> usize {
        self.suites.iter().map(|s| s.tests.len()).sum()
    }

    /// Merges a fresh listing: suites and tests that still exist keep their
    /// last results; new ones start pending (ignored ones skipped). A listed
    /// suite's tests are authoritative; a suite missing from the listing is
    /// dropped only when the listing was `complete` (unfiltered): a filterset
    /// leaves out whole binaries it rules out.
    pub fn merge_listing(&mut self, listed: &[ListedSuite], e2e_patterns: &[Glob], complete: bool) {
        let mut previous: HashMap<Arc<str>, Suite> = std::mem::take(&mut self.suites)
            .into_iter()
            .map(|s| (s.binary_id.clone(), s))
            .collect();
        let mut suites = Vec::with_capacity(listed.len());
        for ls in listed {
            let mut old: HashMap<String, TestCase> = previous
                .remove(&ls.binary_id)
                .map(|s| s.tests.into_iter().map(|t| (t.name.clone(), t)).collect())
                .unwrap_or_default();
            let mut tests = Vec::with_capacity(ls.tests.len());
            let mut index = HashMap::with_capacity(ls.tests.len());
            for lt in &ls.tests {
                let mut test = old
                    .remove(&lt.name)
                    .unwrap_or_else(|| TestCase::new(&lt.name, lt.ignored));
                test.ignored = lt.ignored;
                if test.ignored && test.state == TestState::Pending {
                    test.state = TestState::Skipped;
                }
                index.insert(lt.name.clone(), tests.len());
                tests.push(test);
            }
            suites.push(Suite {
                binary_id: ls.binary_id.clone(),
                package: ls.package.clone(),
                binary_name: ls.binary_name.clone(),
                kind: ls.kind.clone(),
                suite_type: SuiteType::classify(&ls.binary_id, &ls.kind, e2e_patterns),
                binary_path: ls.binary_path.clone(),
                tests,
                index,
            });
        }
        if !complete {
            suites.extend(previous.into_values());
        }
        // nextest's order (by binary id), stable across merges.
        suites.sort_by(|a, b| a.binary_id.cmp(&b.binary_id));
        self.index = suites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.binary_id.clone(), i))
            .collect();
        self.suites = suites;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListedSuite {
    pub binary_id: Arc<str>,
    pub package: String,
    pub binary_name: String,
    pub kind: String,
    /// The built test binary (to name test processes when sampling).
    pub binary_path: std::path::PathBuf,
    pub tests: Vec<ListedTest>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListedTest {
    pub name: String,
    pub ignored: bool,
    /// Will run: matched by the filter and not ignored. (Ignored tests the
    /// filter matches are reported skipped by the run stream.)
    pub selected: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_by_kind_and_pattern() {
        let e2e = [Glob::new("*e2e*")];
        assert_eq!(SuiteType::classify("money", "lib", &e2e), SuiteType::Unit);
        assert_eq!(SuiteType::classify("app::bin/app", "bin", &e2e), SuiteType::Unit);
        assert_eq!(
            SuiteType::classify("orders::checkout", "test", &e2e),
            SuiteType::Integration
        );
        assert_eq!(SuiteType::classify("orders::e2e_flow", "test", &e2e), SuiteType::E2e);
        assert_eq!(
            SuiteType::classify("orders::e2e_flow", "test", &[]),
            SuiteType::Integration
        );
    }

    #[test]
    fn proc_macros_build_dependencies_and_theirs_run_at_compile_time() {
        use super::super::graph::{DepKind, Edge, Node};
        let pkg = |name: &str, kind: &str| Package {
            name: name.into(),
            manifest_dir: PathBuf::from(format!("/ws/{name}")),
            deps: vec![],
            targets: vec![Target {
                name: name.into(),
                kinds: vec![kind.into()],
                src_path: PathBuf::from(format!("/ws/{name}/src/lib.rs")),
            }],
            ..Package::default()
        };
        let edge = |to: usize, kind: DepKind| Edge {
            to,
            kinds: vec![(kind, None)],
            rename: None,
            patched: None,
        };
        let node = |name: &str, deps: Vec<Edge>| Node {
            name: name.into(),
            version: "0.1.0".into(),
            member: true,
            dir: Some(PathBuf::from(format!("/ws/{name}"))),
            deps,
        };
        // app builds with `gen` (a build-dependency), which uses `util`;
        // app uses the proc macro `derive`; `core` is a plain dependency.
        let ws = Workspace {
            root: "/ws".into(),
            packages: vec![
                pkg("app", "lib"),
                pkg("gen", "lib"),
                pkg("util", "lib"),
                pkg("derive", "proc-macro"),
                pkg("core", "lib"),
            ],
            graph: Graph::new(vec![
                node(
                    "app",
                    vec![
                        edge(1, DepKind::Build),
                        edge(3, DepKind::Normal),
                        edge(4, DepKind::Normal),
                    ],
                ),
                node("gen", vec![edge(2, DepKind::Normal)]),
                node("util", vec![]),
                node("derive", vec![]),
                node("core", vec![]),
            ]),
            ..Workspace::default()
        };
        let why = |p: &str| ws.compile_time_code(Path::new(p));
        assert!(why("/ws/derive/src/lib.rs").unwrap().contains("proc-macro crate"));
        assert!(why("/ws/gen/src/lib.rs").unwrap().contains("`app`'s build script"));
        assert!(why("/ws/util/src/lib.rs").unwrap().contains("`app`'s build script"));
        assert_eq!(why("/ws/core/src/lib.rs"), None);
        assert_eq!(why("/ws/app/src/lib.rs"), None);
    }

    #[test]
    fn paths_beside_the_workspace_are_shown_with_dot_dot() {
        let ws = Workspace {
            root: PathBuf::from("/src/app/ws"),
            ..Workspace::default()
        };
        assert_eq!(ws.relative(Path::new("/src/app/ws/a/lib.rs")), "a/lib.rs");
        assert_eq!(ws.relative(Path::new("/src/app/shared/x.txt")), "../shared/x.txt");
        assert_eq!(ws.relative(Path::new("/etc/x.txt")), "/etc/x.txt");
    }

    #[test]
    fn a_packages_files_are_what_include_and_exclude_say() {
        let pkg = |include: &[&str], exclude: &[&str]| Package {
            name: "rg".into(),
            manifest_dir: PathBuf::from("/ws"),
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            ..Package::default()
        };
        let holds = |p: &Package, f: &str| p.holds_file(&PathBuf::from("/ws").join(f));
        // ripgrep's own: `exclude = ["HomebrewFormula", "/.github/", "/ci/", "/pkg/brew", "/benchsuite/", "/scripts/"]`.
        let rg = pkg(
            &[],
            &[
                "HomebrewFormula",
                "/.github/",
                "/ci/",
                "/pkg/brew",
                "/benchsuite/",
                "/scripts/",
            ],
        );
        assert!(!holds(&rg, ".github/workflows/ci.yml"));
        assert!(!holds(&rg, "ci/test-complete"));
        assert!(!holds(&rg, "pkg/brew/ripgrep-bin.rb"));
        assert!(holds(&rg, "pkg/windows/Manifest.xml"));
        assert!(!holds(&rg, "crates/x/HomebrewFormula"), "unanchored: any depth");
        assert!(holds(&rg, "CHANGELOG.md"));
        assert!(holds(&rg, "crates/core/main.rs"));
        assert!(holds(&rg, "ci"), "a file named `ci` is not the directory `/ci/`");
        // Globs, `**`, negation; `include` names every file and the manifest.
        let md = pkg(&[], &["*.md", "!README.md", "tests/**/snapshots"]);
        assert!(!holds(&md, "CHANGELOG.md") && !holds(&md, "docs/GUIDE.md"));
        assert!(holds(&md, "README.md"));
        assert!(!holds(&md, "tests/cli/deep/snapshots/a.snap"));
        let only = pkg(&["src/**", "/build.rs"], &["src/**"]);
        assert!(holds(&only, "src/lib.rs") && holds(&only, "build.rs") && holds(&only, "Cargo.toml"));
        assert!(!holds(&only, "CHANGELOG.md") && !holds(&only, "tests/it.rs"));
    }

    #[test]
    fn dependents_are_transitive() {
        let pkg = |name: &str, deps: &[&str]| Package {
            name: name.into(),
            manifest_dir: PathBuf::from(name),
            deps: deps.iter().map(|d| d.to_string()).collect(),
            targets: vec![],
            ..Package::default()
        };
        let ws = Workspace {
            root: PathBuf::from("/w"),
            target_dir: PathBuf::from("/w/target"),
            packages: vec![
                pkg("money", &[]),
                pkg("orders", &["money"]),
                pkg("shop", &["orders"]),
                pkg("alone", &[]),
            ],
            ..Workspace::default()
        };
        assert_eq!(ws.dependents("money"), vec!["orders".to_string(), "shop".to_string()]);
        assert!(ws.dependents("alone").is_empty());
    }
}
