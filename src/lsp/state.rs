//! What the language server knows, folded from the engine's snapshot and
//! events, and what it says from it: diagnostics per file, code lenses per
//! test function, hover text. Pure: no I/O but reading source files to
//! find where tests are defined (cached by file).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use lsp_types::{CodeLens, Command as LspCommand, Diagnostic, DiagnosticSeverity, NumberOrString, Position, Range};

use super::sites::{self, Site, Target};
use crate::core::command::TestBrief as Reached;
use crate::core::patch::PatchReport;
use crate::core::report::Report;
use crate::core::snapshot::Snapshot;
use crate::core::test_state::{Location, TestState};

/// One test as the server knows it.
#[derive(Clone, Debug, Default)]
pub struct Test {
    pub state: TestState,
    pub run: Option<u64>,
    pub stale: bool,
    pub duration_s: Option<f64>,
    pub budget_s: Option<f64>,
    /// The latest result that ended: a failure stays shown while the test
    /// reruns, said as such.
    pub failure: Option<Failure>,
    pub blocked: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Failure {
    pub message: String,
    pub location: Option<Location>,
    pub assertion: Option<(String, String)>,
    pub run: Option<u64>,
}

#[derive(Clone, Debug)]
struct Suite {
    package: String,
    dir: PathBuf,
}

/// The test functions of one file, as last parsed.
#[derive(Clone, Debug)]
struct FileSites {
    target: Target,
    package: String,
    sites: Vec<Site>,
}

#[derive(Default)]
pub struct State {
    pub root: PathBuf,
    pub tests: HashMap<(String, String), Test>,
    suites: BTreeMap<String, Suite>,
    patch: Option<PatchReport>,
    /// The latest run, and whether it is in flight.
    pub run: Option<(u64, bool)>,
    /// Per file: its test functions (from the open text, else the disk).
    files: HashMap<PathBuf, FileSites>,
    /// Per test: where its `fn` is (`None`: not found), found once.
    defined: HashMap<(String, String), Option<(PathBuf, u32)>>,
    /// Package dirs whose files have all been read into `files`.
    scanned: Vec<PathBuf>,
}

/// `12 ms`, `1.23 s`.
fn took(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

impl State {
    pub fn new(root: PathBuf) -> Self {
        State {
            root,
            ..Default::default()
        }
    }

    /// Everything the engine knows now (on connecting, and when asked).
    pub fn apply_snapshot(&mut self, snap: &Snapshot) {
        self.root = PathBuf::from(&snap.workspace);
        self.tests.clear();
        self.suites.clear();
        for s in &snap.suites {
            self.suites.insert(
                s.binary_id.clone(),
                Suite {
                    package: s.package.clone(),
                    dir: PathBuf::from(&s.dir),
                },
            );
            for t in &s.tests {
                let failure = t.location.is_some() || matches!(t.state, TestState::Failed | TestState::Xpass);
                self.tests.insert(
                    (s.binary_id.clone(), t.name.clone()),
                    Test {
                        state: t.state,
                        run: t.run.map(|r| u64::from(r.0)),
                        stale: t.stale,
                        duration_s: t.duration_s,
                        budget_s: t.budget_s,
                        failure: (failure && t.state == TestState::Failed).then(|| Failure {
                            message: t.message.clone().unwrap_or_default(),
                            location: t.location.clone(),
                            assertion: t.assertion.as_ref().map(|a| (a.left.clone(), a.right.clone())),
                            run: t.run.map(|r| u64::from(r.0)),
                        }),
                        blocked: (t.state == TestState::Blocked).then(|| t.message.clone().unwrap_or_default()),
                    },
                );
            }
        }
        self.patch = snap.coverage.as_ref().and_then(|c| c.patch.clone());
        self.run = snap.run.as_ref().map(|r| (u64::from(r.run.0), r.active));
    }

    /// One event; returns whether what the server shows may have changed.
    pub fn apply(&mut self, report: &Report) -> bool {
        match report {
            Report::Test(t) => {
                let entry = self.tests.entry((t.binary_id.clone(), t.name.clone())).or_default();
                entry.state = t.to;
                entry.run = Some(u64::from(t.run.0));
                if t.to.is_terminal() {
                    entry.stale = false;
                    entry.duration_s = t.duration_s;
                    entry.failure = (t.to == TestState::Failed).then(|| {
                        let message = t.message.clone().unwrap_or_default();
                        let assertion = crate::core::assertion::parse(&message)
                            .or_else(|| t.output.as_deref().and_then(crate::core::assertion::parse))
                            .map(|a| (a.left, a.right));
                        Failure {
                            message,
                            location: t.location.clone(),
                            assertion,
                            run: Some(u64::from(t.run.0)),
                        }
                    });
                    entry.blocked = (t.to == TestState::Blocked).then(|| t.message.clone().unwrap_or_default());
                }
                true
            }
            Report::RunStarted { run, .. } => {
                self.run = Some((u64::from(run.0), true));
                true
            }
            Report::RunFinished(s) => {
                self.run = Some((u64::from(s.run.0), false));
                if let Some(c) = &s.coverage {
                    self.patch = c.patch.clone();
                }
                true
            }
            _ => false,
        }
    }

    /// A file's text changed (opened, edited, saved): its tests are read
    /// again from it.
    pub fn set_text(&mut self, path: &Path, text: &str) {
        let Some((package, dir)) = self.package_of(path) else {
            return;
        };
        let Ok(rel) = path.strip_prefix(&dir) else { return };
        let Some((target, modules)) = sites::place(rel) else {
            return;
        };
        if let Some(sites) = sites::tests_in(text, &modules) {
            self.files.insert(path.to_owned(), FileSites { target, package, sites });
            // Where tests are defined may have moved.
            self.defined.clear();
        }
    }

    /// The package (name, directory) whose directory holds `path`, the
    /// deepest when packages nest.
    fn package_of(&self, path: &Path) -> Option<(String, PathBuf)> {
        self.suites
            .values()
            .filter(|s| path.starts_with(&s.dir))
            .max_by_key(|s| s.dir.as_os_str().len())
            .map(|s| (s.package.clone(), s.dir.clone()))
    }

    /// Reads every `.rs` file of a package's directory not read yet (to
    /// find where a test is defined).
    fn scan(&mut self, dir: &Path) {
        if self.scanned.iter().any(|d| d == dir) {
            return;
        }
        self.scanned.push(dir.to_owned());
        for p in sites::test_sources(dir) {
            if self.files.contains_key(&p) {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(&p) {
                self.set_text(&p, &text);
            }
        }
    }

    /// Where a test's `fn` is.
    pub fn definition(&mut self, binary_id: &str, name: &str) -> Option<(PathBuf, u32)> {
        let key = (binary_id.to_owned(), name.to_owned());
        if let Some(found) = self.defined.get(&key) {
            return found.clone();
        }
        let dir = self.suites.get(binary_id).map(|s| s.dir.clone())?;
        self.scan(&dir);
        let found = self.files.iter().find_map(|(path, f)| {
            if !f.target.holds(&f.package, binary_id) {
                return None;
            }
            f.sites.iter().find(|s| s.name == name).map(|s| (path.clone(), s.line))
        });
        self.defined.insert(key, found.clone());
        found
    }

    /// The file a panic location names (workspace-relative, or relative to
    /// the test's package, or absolute).
    fn located(&self, binary_id: &str, file: &str) -> PathBuf {
        let p = Path::new(file);
        if p.is_absolute() {
            return p.to_owned();
        }
        let at_root = self.root.join(p);
        if at_root.exists() {
            return at_root;
        }
        match self.suites.get(binary_id) {
            Some(s) if s.dir.join(p).exists() => s.dir.join(p),
            _ => at_root,
        }
    }

    /// Every diagnostic, by file.
    pub fn diagnostics(&mut self) -> BTreeMap<PathBuf, Vec<Diagnostic>> {
        let mut out: BTreeMap<PathBuf, Vec<Diagnostic>> = BTreeMap::new();
        // Only tests with something to say: most have none, and this runs
        // at every publish while a run streams.
        let mut keys: Vec<(String, String)> = self
            .tests
            .iter()
            .filter(|(_, t)| {
                t.failure.is_some()
                    || t.blocked.is_some()
                    || matches!((t.duration_s, t.budget_s), (Some(d), Some(b)) if d > b)
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        for key in keys {
            let Some(t) = self.tests.get(&key).cloned() else {
                continue;
            };
            let (binary_id, name) = (&key.0, &key.1);
            let short = name.rsplit("::").next().unwrap_or(name);
            let mut at_fn = Vec::new();
            let active = !t.state.is_terminal();
            let note = if t.stale {
                " (stale: a change since can affect it; it reruns)"
            } else if active {
                " (rerunning)"
            } else {
                ""
            };
            if let Some(f) = &t.failure {
                let mut message = format!("`{short}` failed ({binary_id} {name}){note}");
                // The panic's own words, not the `thread '…' panicked at` line
                // (the location is where the diagnostic is).
                let first = f
                    .message
                    .lines()
                    .find(|l| !(l.trim().is_empty() || l.starts_with("thread '") && l.contains("panicked at")))
                    .unwrap_or("");
                if !first.is_empty() {
                    message.push_str(&format!(": {first}"));
                }
                if let Some((left, right)) = &f.assertion {
                    message.push_str(&format!("\n  left: {left}\n right: {right}"));
                }
                if let Some(loc) = &f.location {
                    let path = self.located(binary_id, &loc.file);
                    out.entry(path).or_default().push(diagnostic(
                        loc.line,
                        Some(loc.column),
                        DiagnosticSeverity::ERROR,
                        "test-failed",
                        message.clone(),
                    ));
                }
                at_fn.push((DiagnosticSeverity::ERROR, "test-failed", message));
            }
            if let (Some(d), Some(b)) = (t.duration_s, t.budget_s) {
                if d > b && t.state.is_terminal() {
                    at_fn.push((
                        DiagnosticSeverity::WARNING,
                        "over-budget",
                        format!("`{short}` took {}, over its {} budget{note}", took(d), took(b)),
                    ));
                }
            }
            if let Some(why) = &t.blocked {
                at_fn.push((
                    DiagnosticSeverity::INFORMATION,
                    "test-blocked",
                    format!("`{short}` did not run: {why}"),
                ));
            }
            if at_fn.is_empty() {
                continue;
            }
            let Some((path, line)) = self.definition(binary_id, name) else {
                continue;
            };
            for (severity, code, message) in at_fn {
                out.entry(path.clone())
                    .or_default()
                    .push(diagnostic(line, None, severity, code, message));
            }
        }
        if let Some(p) = &self.patch {
            for u in &p.uncovered {
                let path = self.root.join(&u.path);
                for r in &u.lines {
                    let mut d = diagnostic(
                        r[0],
                        None,
                        DiagnosticSeverity::HINT,
                        "patch-uncovered",
                        if r[0] == r[1] {
                            format!("changed line {} is reached by no test (since {})", r[0], p.base)
                        } else {
                            format!(
                                "changed lines {}–{} are reached by no test (since {})",
                                r[0], r[1], p.base
                            )
                        },
                    );
                    d.range.end = Position::new(r[1].saturating_sub(1), 0);
                    out.entry(path.clone()).or_default().push(d);
                }
            }
        }
        out
    }

    /// A lens on every test function of the file: its state, time and run
    /// (rerun on click), and one that opens it in the live view.
    pub fn lenses(&mut self, path: &Path) -> Vec<CodeLens> {
        if !self.files.contains_key(path) {
            if let Ok(text) = std::fs::read_to_string(path) {
                self.set_text(path, &text);
            }
        }
        let Some(f) = self.files.get(path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for site in &f.sites {
            let mut found: Vec<(&String, &Test)> = self
                .tests
                .iter()
                .filter(|((b, n), _)| *n == site.name && f.target.holds(&f.package, b))
                .map(|((b, _), t)| (b, t))
                .collect();
            found.sort_by(|a, b| a.0.cmp(b.0));
            let range = Range::new(
                Position::new(site.line.saturating_sub(1), 0),
                Position::new(site.line.saturating_sub(1), 0),
            );
            if found.is_empty() {
                out.push(CodeLens {
                    range,
                    command: Some(LspCommand::new("○ not listed yet".into(), String::new(), None)),
                    data: None,
                });
                continue;
            }
            for (binary_id, t) in found {
                let args = Some(vec![binary_id.clone().into(), site.name.clone().into()]);
                out.push(CodeLens {
                    range,
                    command: Some(LspCommand::new(lens_title(t), "vigil.rerun".into(), args.clone())),
                    data: None,
                });
                out.push(CodeLens {
                    range,
                    command: Some(LspCommand::new("open in vigil".into(), "vigil.open".into(), args)),
                    data: None,
                });
            }
        }
        out
    }
}

/// What a test's lens says: `✓ 12 ms · run 14`, `✗ failed · run 14`.
pub fn lens_title(t: &Test) -> String {
    let run = t.run.map(|r| format!(" · run {r}")).unwrap_or_default();
    let time = t.duration_s.map(took).unwrap_or_default();
    let over = matches!((t.duration_s, t.budget_s), (Some(d), Some(b)) if d > b);
    let mut title = match t.state {
        TestState::Passed => format!("✓ {time}{run}"),
        TestState::Failed => format!("✗ failed{run}"),
        TestState::Running => format!("⟳ running{run}"),
        TestState::Pending if t.run.is_none() => "○ not run yet".to_owned(),
        TestState::Pending => format!("… queued{run}"),
        TestState::Skipped => format!("○ skipped{run}"),
        TestState::Xfail => format!("✓ failed as expected{run}"),
        TestState::Xpass => format!("✗ passed, expected to fail{run}"),
        TestState::Cancelled => format!("– cancelled{run}"),
        TestState::Blocked => format!("⊘ blocked{run}"),
    };
    if over && t.state.is_terminal() {
        title.push_str(" · over budget");
    }
    if t.stale {
        title = format!("stale: {title}");
    }
    title
}

/// What a hover says of the tests that reach a line (`None`: nothing to
/// say, the file is not measured).
pub fn hover_text(reached: &[Reached], measured: bool, line: u32) -> Option<String> {
    if !measured {
        return None;
    }
    if reached.is_empty() {
        return Some(format!("vigil: line {line} is reached by no test"));
    }
    let failing = reached
        .iter()
        .filter(|t| matches!(t.state, TestState::Failed | TestState::Xpass))
        .count();
    let stale = reached.iter().filter(|t| t.stale).count();
    let shown: Vec<String> = reached.iter().take(10).map(|t| format!("`{}`", t.name)).collect();
    let more = if reached.len() > 10 {
        format!(" and {} more", reached.len() - 10)
    } else {
        String::new()
    };
    let mut notes = Vec::new();
    if failing > 0 {
        notes.push(format!("{failing} failing"));
    }
    if stale > 0 {
        notes.push(format!("{stale} stale"));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    };
    Some(format!(
        "vigil: reached by {} test{}: {}{more}{notes}",
        reached.len(),
        if reached.len() == 1 { "" } else { "s" },
        shown.join(", ")
    ))
}

fn diagnostic(line: u32, column: Option<u32>, severity: DiagnosticSeverity, code: &str, message: String) -> Diagnostic {
    let l = line.saturating_sub(1);
    let c = column.map_or(0, |c| c.saturating_sub(1));
    Diagnostic {
        // Empty: the column is all vigil knows, and an end past the line's
        // end is not drawn by every client.
        range: Range::new(Position::new(l, c), Position::new(l, c)),
        severity: Some(severity),
        code: Some(NumberOrString::String(code.to_owned())),
        source: Some("vigil".into()),
        message,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::{CoverageBrief, SuiteBrief, TestBrief};

    /// A package on disk with one test file, and a snapshot of its tests.
    fn fixture(name: &str) -> (PathBuf, Snapshot) {
        let root = std::env::temp_dir().join(format!("vigil-lsp-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("p/tests")).unwrap();
        std::fs::write(
            root.join("p/tests/t.rs"),
            "#[test]\nfn slow() {}\n\n#[test]\nfn needs_db() {}\n\n#[test]\nfn broken() {\n    assert!(false);\n}\n",
        )
        .unwrap();
        let test = |name: &str, state: TestState| TestBrief {
            name: name.into(),
            state,
            run: Some(crate::core::ids::RunId(3)),
            ..Default::default()
        };
        let snap = Snapshot {
            workspace: root.display().to_string(),
            suites: vec![SuiteBrief {
                binary_id: "p::t".into(),
                package: "p".into(),
                kind: "test".into(),
                suite_type: crate::core::SuiteType::Integration,
                dir: root.join("p").display().to_string(),
                tests: vec![
                    TestBrief {
                        duration_s: Some(2.5),
                        budget_s: Some(1.0),
                        ..test("slow", TestState::Passed)
                    },
                    TestBrief {
                        message: Some("`db` is unreachable: connection refused".into()),
                        ..test("needs_db", TestState::Blocked)
                    },
                    TestBrief {
                        stale: true,
                        message: Some("thread 'broken' panicked at p/tests/t.rs:9:5:\nassertion failed: false".into()),
                        location: Some(Location {
                            file: "p/tests/t.rs".into(),
                            line: 9,
                            column: 5,
                        }),
                        ..test("broken", TestState::Failed)
                    },
                ],
            }],
            coverage: Some(CoverageBrief {
                run: None,
                lines: Default::default(),
                branches: None,
                patch: Some(PatchReport {
                    base: "HEAD".into(),
                    lines: Default::default(),
                    uncovered: vec![crate::core::patch::UncoveredLines {
                        path: "p/src/lib.rs".into(),
                        lines: vec![[4, 6]],
                    }],
                }),
            }),
            ..Default::default()
        };
        (root, snap)
    }

    #[test]
    fn budgets_blocked_tests_stale_failures_and_uncovered_changes_are_diagnostics() {
        let (root, snap) = fixture("diags");
        let mut s = State::new(root.clone());
        s.apply_snapshot(&snap);
        let all = s.diagnostics();
        let t = &all[&root.join("p/tests/t.rs")];
        let on = |line: u32, code: &str| {
            t.iter()
                .find(|d| d.range.start.line == line && d.code == Some(NumberOrString::String(code.into())))
                .unwrap_or_else(|| panic!("{code} on line {line}: {t:#?}"))
        };
        let over = on(1, "over-budget");
        assert_eq!(over.severity, Some(DiagnosticSeverity::WARNING));
        assert_eq!(over.message, "`slow` took 2.50 s, over its 1.00 s budget");
        let blocked = on(4, "test-blocked");
        assert_eq!(blocked.severity, Some(DiagnosticSeverity::INFORMATION));
        assert!(blocked.message.contains("`db` is unreachable"));
        let failed = on(8, "test-failed");
        assert!(
            failed
                .message
                .contains("(stale: a change since can affect it; it reruns)"),
            "{}",
            failed.message
        );
        assert!(
            failed.message.ends_with(": assertion failed: false"),
            "{}",
            failed.message
        );
        assert_eq!(
            on(7, "test-failed").severity,
            Some(DiagnosticSeverity::ERROR),
            "at its fn too"
        );
        let hint = &all[&root.join("p/src/lib.rs")][0];
        assert_eq!(hint.severity, Some(DiagnosticSeverity::HINT));
        assert_eq!((hint.range.start.line, hint.range.end.line), (3, 5));
        assert!(hint.message.contains("changed lines 4–6 are reached by no test"));

        // The test reruns and passes: its failure goes, with the stale mark.
        let pass = Report::Test(crate::core::report::TestTransition {
            run: crate::core::ids::RunId(4),
            binary_id: "p::t".into(),
            name: "broken".into(),
            from: TestState::Running,
            to: TestState::Passed,
            at_s: 1.0,
            duration_s: Some(0.004),
            message: None,
            location: None,
            output: None,
            output_file: None,
            output_bytes: None,
        });
        assert!(s.apply(&pass));
        let all = s.diagnostics();
        assert!(all[&root.join("p/tests/t.rs")]
            .iter()
            .all(|d| d.code != Some(NumberOrString::String("test-failed".into()))));
        let lenses = s.lenses(&root.join("p/tests/t.rs"));
        let titles: Vec<&str> = lenses
            .iter()
            .filter_map(|l| l.command.as_ref())
            .filter(|c| c.command == "vigil.rerun")
            .map(|c| c.title.as_str())
            .collect();
        assert_eq!(
            titles,
            ["✓ 2.50 s · run 3 · over budget", "⊘ blocked · run 3", "✓ 4 ms · run 4"]
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn hover_names_the_tests_and_how_many_fail() {
        let t = |name: &str, state| Reached {
            binary_id: "b".into(),
            name: name.into(),
            state,
            stale: false,
        };
        let reached = [
            t("a", TestState::Passed),
            t("b", TestState::Failed),
            t("c", TestState::Passed),
        ];
        assert_eq!(
            hover_text(&reached, true, 3).unwrap(),
            "vigil: reached by 3 tests: `a`, `b`, `c` (1 failing)"
        );
        assert_eq!(hover_text(&[], true, 3).unwrap(), "vigil: line 3 is reached by no test");
        assert_eq!(hover_text(&[], false, 3), None, "nothing said of files no map measures");
    }
}
