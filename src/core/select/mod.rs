//! Affected-test selection: from a change set, cargo's resolved graph and
//! what each compilation read, to a run plan with a reason for every
//! selected binary. Pure: paths are data. What one file reaches is `hits`;
//! the plan built from them is here.
//!
//! Rules, for each changed path:
//! - `Cargo.toml`, `Cargo.lock`, `.cargo/config*`, `rust-toolchain*`,
//!   `.config/nextest.toml`, `vigil.toml` → everything, and the workspace
//!   and config are reloaded;
//! - a file of one integration target (`tests/x.rs`, `tests/x/…`) → that
//!   binary; another file under a member's `tests/` → its test binaries;
//! - any other file inside a local package (a member, or a path dependency
//!   outside the members) → `rdeps(package)`: the package and every member
//!   that depends on it through cargo's resolved graph (patches, renames,
//!   build-, dev- and target-specific dependencies, registry crates between);
//! - a file that a compilation read (rustc's dep-info: `include_str!`
//!   targets anywhere) or that a build script reruns on → the binaries built
//!   from it, wherever the file lies;
//! - a file that tests read at run time (their recorded reads: opened,
//!   looked for, or in a directory they listed) → the binaries of those
//!   tests; a file that is not Rust source, that no compilation reads and
//!   that no test read, selects nothing once every test's reads are
//!   recorded ("no build or test reads it"), wherever it lies;
//! - a file nothing claims → nothing, unless nothing was ever built to tell
//!   (then everything, since what reads it cannot be known).
//!
//! The run's filterset uses nextest's own `rdeps()`, so nextest's graph is
//! the source of truth for what runs; the resolved graph here explains it.
//! Tests that failed or were cancelled last time, and tests never run, are
//! always added (a whole binary when most of its tests are).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::catalog::{Catalog, Package, Workspace};
use super::inputs::{Inputs, Owner, Via};
use super::manifest::Verdict;
use super::test_state::TestState;
use super::testmap::{TestId, TestKey, TestMaps};

mod hits;

pub(crate) use hits::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing can be affected.
    Nothing {
        ignored: Vec<String>,
    },
    /// Run every test (and reload the workspace and config first when
    /// `reload`).
    Everything {
        reload: bool,
        reasons: Vec<String>,
    },
    Some(Targeted),
}

/// A selection as a nextest filterset, with why each part is in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Targeted {
    pub filterset: String,
    /// Selected binary ids (as far as the catalog knows them) → reason.
    pub binaries: BTreeMap<String, String>,
    /// Selected packages → reason: for the binaries the catalog does not
    /// know yet (a first run), named once the list arrives.
    pub packages: BTreeMap<String, String>,
    /// Run-level reasons, in order.
    pub reasons: Vec<String>,
    /// Changed paths that selected nothing (shown relative to the root).
    pub ignored: Vec<String>,
}

impl Targeted {
    /// Whether the binary is in the plan: selected itself, or a binary of a
    /// selected package (a binary id starts with its package's name).
    pub fn holds(&self, binary_id: &str) -> bool {
        self.binaries.contains_key(binary_id)
            || self
                .packages
                .contains_key(binary_id.split("::").next().unwrap_or_default())
    }
}

impl Plan {
    /// The changed paths this plan leaves out (they select nothing).
    pub fn ignored(&self) -> &[String] {
        match self {
            Plan::Nothing { ignored } => ignored,
            Plan::Everything { .. } => &[],
            Plan::Some(t) => &t.ignored,
        }
    }
}

/// What a plan knows beyond the build: what the tests read at run time,
/// and what changed manifests and lock files were found to reach.
pub struct Evidence<'a> {
    maps: Option<&'a TestMaps>,
    /// Every test known has its reads recorded: a file none of them read
    /// reaches none of them.
    traced: bool,
    /// Changed manifests, compared with what was read before them.
    manifests: Option<&'a BTreeMap<PathBuf, Verdict>>,
}

impl<'a> Evidence<'a> {
    /// Nothing is known of what tests read: only the build decides.
    pub fn none() -> Self {
        Self {
            maps: None,
            traced: false,
            manifests: None,
        }
    }

    /// With what changed manifests were found to reach.
    pub(crate) fn with_manifests(self, verdicts: &'a BTreeMap<PathBuf, Verdict>) -> Self {
        Self {
            manifests: Some(verdicts),
            ..self
        }
    }

    fn verdict(&self, path: &Path) -> Option<&Verdict> {
        self.manifests.and_then(|m| m.get(path))
    }

    /// The tests' recorded reads. The tests known are the catalog's (not
    /// ignored), or before any listing the history's. A doctest counts
    /// once it has a map: the doc lane traces what its example reads (its
    /// build's reads are in dep-info through the library's own
    /// `include_str!`s); one never measured is left out, as before any
    /// doctest was traced.
    pub fn new(catalog: &Catalog, maps: &'a TestMaps, history: impl Iterator<Item = TestKey>) -> Self {
        // `history`: the tests that ran to a result (a skipped test has no map).
        let listed: Vec<TestKey> = catalog
            .suites
            .iter()
            .filter(|s| !s.binary_id.ends_with("::doc"))
            .flat_map(|s| s.tests.iter().filter(|t| !t.ignored).map(move |t| (s, t)))
            .map(|(s, t)| TestId(s.binary_id.to_string(), t.name.clone()))
            .collect();
        let known: Vec<TestKey> = if listed.is_empty() {
            history.filter(|k| !k.0.ends_with("::doc")).collect()
        } else {
            listed
        };
        // Doctests with a map: traced when their map holds their reads (a
        // doctest's partial map is about library code, not what it read).
        let doctests_traced = maps
            .tests
            .iter()
            .filter(|(k, _)| k.0.ends_with("::doc"))
            .all(|(_, m)| m.reads.is_some());
        Self {
            maps: Some(maps),
            traced: !known.is_empty() && maps.traced(known.iter()) && doctests_traced,
            manifests: None,
        }
    }

    fn readers(&self, rel: &str) -> Vec<TestKey> {
        self.maps.map(|m| m.readers(rel)).unwrap_or_default()
    }
}

/// The plan being built: filterset terms and reasons, stable in order.
#[derive(Default)]
struct Builder {
    /// filterset term → reason.
    terms: BTreeMap<String, String>,
    binaries: BTreeMap<String, String>,
    packages: BTreeMap<String, String>,
    reasons: Vec<String>,
    said: HashSet<String>,
    /// Packages whose dependents were already added (by an earlier path):
    /// a thousand changed files of one crate walk its graph once.
    walked: HashMap<String, bool>,
}

impl Builder {
    fn reason(&mut self, r: &str) {
        if self.said.insert(r.to_owned()) {
            self.reasons.push(r.to_owned());
        }
    }

    fn term(&mut self, term: String, why: &str) {
        self.terms.entry(term).or_insert_with(|| why.to_owned());
    }

    fn binary(&mut self, binary_id: &str, why: &str) {
        self.binaries
            .entry(binary_id.to_owned())
            .or_insert_with(|| why.to_owned());
    }

    fn package_binaries(&mut self, catalog: &Catalog, package: &str, why: &str) {
        self.packages
            .entry(package.to_owned())
            .or_insert_with(|| why.to_owned());
        for s in catalog.suites.iter().filter(|s| s.package == package) {
            self.binary(&s.binary_id, why);
        }
    }

    /// `package` (a member or a path dependency) and every member that
    /// depends on it; false when that is nothing (a path dependency that no
    /// member uses).
    fn package(&mut self, ws: &Workspace, catalog: &Catalog, package: &str, base: &str) -> bool {
        if let Some(&selects) = self.walked.get(package) {
            return selects;
        }
        let member = ws.package(package).is_some();
        let dependents: Vec<(String, String, bool)> = match ws.graph.local(package) {
            Some(i) => ws
                .graph
                .dependents(i)
                .into_iter()
                .map(|d| {
                    // A member reached only through non-members: nextest
                    // cannot name `package`, so the run names this member.
                    let entry = d.chain[1..d.chain.len() - 1].iter().all(|&n| !ws.graph.nodes[n].member);
                    (d.member, ws.graph.explain(&d.chain), entry)
                })
                .collect(),
            None => ws
                .dependents(package)
                .into_iter()
                .map(|d| {
                    let why = format!("`{d}` depends on `{package}`");
                    (d, why, false)
                })
                .collect(),
        };
        if member {
            self.term(format!("rdeps({package})"), base);
            self.package_binaries(catalog, package, base);
            self.reason(base);
        }
        let selects = member || !dependents.is_empty();
        self.walked.insert(package.to_owned(), selects);
        for (dep, explained, entry) in dependents {
            let why = format!("{base}; {explained}");
            if !member && entry {
                self.term(format!("rdeps({dep})"), &why);
            }
            self.package_binaries(catalog, &dep, &why);
            self.reason(&why);
        }
        selects
    }
}

/// The plan for a change set: what cargo's graph, each compilation's
/// inputs and (`runtime`) what each test read at run time say it reaches.
pub fn plan(ws: &Workspace, catalog: &Catalog, inputs: &Inputs, runtime: &Evidence, changed: &[PathBuf]) -> Plan {
    let mut everything = Vec::new();
    // A manifest already read again (its verdict is known) needs no reload.
    let mut reload = false;
    let mut ignored = Vec::new();
    let mut b = Builder::default();
    for path in changed {
        let shown = ws.relative(path);
        let found = hits(ws, inputs, runtime, path);
        let mut selected = false;
        for (hit, why) in &found {
            let base = format!("`{shown}` changed{why}");
            selected |= match hit {
                Hit::Everything => {
                    everything.push(format!("{base}: everything runs"));
                    reload |= runtime.verdict(path).is_none();
                    true
                }
                Hit::Binary { binary_id } => {
                    // A package's doctests are the doc lane's, not a
                    // binary nextest knows: nothing of nextest's for them.
                    let term = if binary_id.ends_with("::doc") {
                        "none()".to_owned()
                    } else {
                        format!("binary_id({binary_id})")
                    };
                    b.term(term, &base);
                    b.binary(binary_id, &base);
                    b.reason(&base);
                    true
                }
                Hit::PackageTests(package) => {
                    let why = format!("{base} (shared by `{package}`'s tests)");
                    b.term(format!("package({package}) & kind(test)"), &why);
                    for s in catalog
                        .suites
                        .iter()
                        .filter(|s| s.package == *package && s.kind == "test")
                    {
                        b.binary(&s.binary_id, &why);
                    }
                    b.reason(&why);
                    true
                }
                Hit::Package(package) => b.package(ws, catalog, package, &base),
            };
        }
        if !selected {
            ignored.push(shown);
        }
    }
    if !everything.is_empty() {
        return Plan::Everything {
            reload,
            reasons: everything,
        };
    }
    if b.terms.is_empty() {
        return Plan::Nothing { ignored };
    }
    always_added(catalog, &mut b);
    Plan::Some(Targeted {
        filterset: b.terms.keys().cloned().collect::<Vec<_>>().join(" | "),
        binaries: b.binaries,
        packages: b.packages,
        reasons: b.reasons,
        ignored,
    })
}

/// What failed last time and what never ran comes along: test by test, or
/// the whole binary when most of its tests would be named.
fn always_added(catalog: &Catalog, b: &mut Builder) {
    for suite in &catalog.suites {
        if b.binaries.contains_key(&*suite.binary_id) {
            continue;
        }
        let mut added = Vec::new();
        for t in &suite.tests {
            let why = match (t.state, t.run) {
                (TestState::Failed | TestState::Xpass, _) => "failed last time",
                // A stopped run left no result: as good as never run.
                (TestState::Cancelled, _) => "cancelled last time",
                (_, None) if !t.ignored => "never run",
                _ => continue,
            };
            added.push((t.name.as_str(), why));
        }
        if added.is_empty() {
            continue;
        }
        let runnable = suite.tests.iter().filter(|t| !t.ignored).count();
        if added.len() > 1 && added.len() * 2 > runnable {
            // 700 `test(=…)` terms would say no more than this one.
            let why = format!(
                "{} of its {runnable} tests failed, were cancelled or never ran",
                added.len()
            );
            b.term(format!("binary_id({})", suite.binary_id), &why);
            b.binary(&suite.binary_id, &why);
            b.reason(&format!("{}: {why}", suite.binary_id));
            continue;
        }
        for (name, why) in added {
            b.term(format!("(binary_id({}) & test(={name}))", suite.binary_id), why);
            b.reason(&format!("{} {name}: {why}", suite.binary_id));
        }
    }
}
