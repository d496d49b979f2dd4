//! The doctests lane: `cargo test --doc` for the packages a run selects
//! (nextest does not run doctests), its stable human output parsed per
//! package into a suite of type `doc` (`<package>::doc`) and its tests'
//! results, with each failure's output and its example's location. The
//! parsing is here; the process it reads is `lane`.

use crate::core::ids::RunId;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::clock::Clock;
use super::process::signal_group;
use crate::core::catalog::{ListedSuite, ListedTest, Workspace};
use crate::core::test_state::{Failure, Location, TestEvent, TestEventKind};
use crate::core::Msg;

mod lane;

pub use lane::*;

/// A package's doctests, once its block has ended.
#[derive(Clone, Debug, PartialEq)]
pub struct DocSuite {
    /// The crate name cargo prints (`Doc-tests my_crate`).
    pub krate: String,
    pub tests: Vec<DocTest>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DocTest {
    pub name: String,
    pub outcome: DocOutcome,
    /// What a failed one printed.
    pub output: String,
    /// Its own time (libtest's JSON format with `--report-time`, nightly).
    pub exec_time: Option<f64>,
    /// The whole output, when `output` is cut to the bound.
    pub whole: Option<super::bounded::Spilled>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocOutcome {
    Passed,
    Failed,
    Ignored,
}

/// Reads `cargo test --doc` output line by line; hands out each package's
/// doctests when its block ends.
#[derive(Debug, Default)]
pub struct DocParser {
    krate: Option<String>,
    results: Vec<DocTest>,
    outputs: BTreeMap<String, super::bounded::Held>,
    /// The failure whose output is being read (`---- name stdout ----`).
    reading: Option<String>,
    /// How much of an output is held (`None`: all of it).
    pub bound: Option<super::bounded::Bound>,
}

impl DocParser {
    /// A parser that holds each failure's output to `bound`.
    pub fn with_bound(bound: Option<super::bounded::Bound>) -> Self {
        Self {
            bound,
            ..Self::default()
        }
    }

    pub fn line(&mut self, line: &str) -> Option<DocSuite> {
        if let Some(k) = line.trim_start().strip_prefix("Doc-tests ") {
            *self = DocParser {
                krate: Some(k.trim().to_owned()),
                bound: self.bound.take(),
                ..DocParser::default()
            };
            return None;
        }
        self.krate.as_ref()?;
        if line.starts_with('{') {
            return self.json(line);
        }
        if let Some(rest) = line.strip_prefix("---- ") {
            if let Some(name) = rest.strip_suffix(" stdout ----") {
                self.reading = Some(name.to_owned());
                self.outputs.insert(name.to_owned(), Default::default());
                return None;
            }
        }
        if let Some(rest) = line.strip_prefix("test ") {
            for (suffix, outcome) in [
                (" ... ok", DocOutcome::Passed),
                (" ... FAILED", DocOutcome::Failed),
                (" ... ignored", DocOutcome::Ignored),
            ] {
                if let Some(name) = rest.strip_suffix(suffix) {
                    self.push(name, outcome, String::new(), None);
                    return None;
                }
            }
            if let Some(i) = rest.find(" ... ignored, ") {
                self.push(&rest[..i], DocOutcome::Ignored, String::new(), None);
                return None;
            }
        }
        if line.starts_with("test result: ") {
            return self.end();
        }
        if line == "failures:" {
            self.reading = None;
            return None;
        }
        if let Some(name) = &self.reading {
            let out = self.outputs.entry(name.clone()).or_default();
            out.push_line(self.bound.as_ref(), line);
        }
        None
    }
}

impl DocParser {
    fn push(&mut self, name: &str, outcome: DocOutcome, output: String, exec_time: Option<f64>) {
        self.results.push(DocTest {
            name: name.to_owned(),
            outcome,
            output,
            exec_time,
            whole: None,
        });
    }

    /// The block is over: its tests, with the outputs read for them.
    fn end(&mut self) -> Option<DocSuite> {
        let krate = self.krate.take()?;
        let mut outputs = std::mem::take(&mut self.outputs);
        let mut tests = std::mem::take(&mut self.results);
        for t in &mut tests {
            if let Some(out) = outputs.remove(&t.name) {
                (t.output, t.whole) = out.finish();
            }
            t.output = t.output.trim_end().to_owned();
        }
        self.reading = None;
        Some(DocSuite { krate, tests })
    }

    /// libtest's JSON lines (`-Z unstable-options --format json`).
    fn json(&mut self, line: &str) -> Option<DocSuite> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let event = v["event"].as_str().unwrap_or_default();
        match v["type"].as_str() {
            Some("test") => {
                let outcome = match event {
                    "ok" => DocOutcome::Passed,
                    "failed" => DocOutcome::Failed,
                    "ignored" => DocOutcome::Ignored,
                    _ => return None,
                };
                let name = v["name"].as_str().unwrap_or_default().to_owned();
                let output = v["stdout"].as_str().unwrap_or_default().to_owned();
                self.push(&name, outcome, output, v["exec_time"].as_f64());
                None
            }
            Some("suite") if event != "started" => self.end(),
            _ => None,
        }
    }
}

pub use crate::core::locate::doctest as location;

/// The package a crate name stands for, and its directory relative to the
/// workspace root.
fn package_of<'a>(ws: &'a Workspace, krate: &str) -> Option<(&'a str, String)> {
    let p = ws.packages.iter().find(|p| {
        p.targets
            .iter()
            .any(|t| t.kinds.iter().any(|k| k == "lib") && t.name.replace('-', "_") == krate)
            || p.name.replace('-', "_") == krate
    })?;
    let dir = ws.relative(&p.manifest_dir);
    Some((&p.name, dir))
}

/// The suite and events of one package's doctests.
pub fn to_suite(ws: &Workspace, doc: &DocSuite) -> (ListedSuite, Vec<TestEvent>) {
    let (package, dir) = package_of(ws, &doc.krate).unwrap_or((&doc.krate, String::new()));
    let binary_id: Arc<str> = Arc::from(format!("{package}::doc"));
    let suite = ListedSuite {
        binary_id: binary_id.clone(),
        package: package.to_owned(),
        binary_name: "doc".to_owned(),
        kind: "doc".to_owned(),
        binary_path: PathBuf::new(),
        tests: doc
            .tests
            .iter()
            .map(|t| ListedTest {
                name: t.name.clone(),
                ignored: t.outcome == DocOutcome::Ignored,
                selected: true,
            })
            .collect(),
    };
    let mut events = Vec::new();
    for t in &doc.tests {
        let (name, outcome, output) = (&t.name, &t.outcome, &t.output);
        let exec_time = t.exec_time.map(std::time::Duration::from_secs_f64);
        let event = |kind| TestEvent {
            binary_id: binary_id.clone(),
            name: name.clone(),
            kind,
        };
        match outcome {
            DocOutcome::Ignored => events.push(event(TestEventKind::Ignored)),
            DocOutcome::Passed => {
                events.push(event(TestEventKind::Started { attempt: 1 }));
                events.push(event(TestEventKind::Passed { exec_time }));
            }
            DocOutcome::Failed => {
                let location = location(name).map(|(file, line)| Location {
                    file: if dir.is_empty() || dir == "." {
                        file
                    } else {
                        format!("{dir}/{file}")
                    },
                    line,
                    column: 1,
                });
                let message = output
                    .lines()
                    .find(|l| l.contains("panicked at") || l.starts_with("error"))
                    .map(|l| l.trim().to_owned())
                    .unwrap_or_else(|| output.lines().next().unwrap_or("doctest failed").to_owned());
                events.push(event(TestEventKind::Started { attempt: 1 }));
                events.push(event(TestEventKind::Failed {
                    exec_time,
                    failure: Failure {
                        message,
                        output: output.clone(),
                        location,
                        output_file: None,
                        output_bytes: None,
                    },
                }));
            }
        }
    }
    (suite, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test --doc` output as rustc 1.95 prints it (recorded).
    const OUTPUT: &str = "   Doc-tests docs_fixture

running 3 tests
test src/lib.rs - add (line 3) ... ok
test src/lib.rs - Money::new (line 12) ... FAILED
test src/lib.rs - slow (line 20) ... ignored

failures:

---- src/lib.rs - Money::new (line 12) stdout ----
Test executable failed (exit status: 101).

stderr:

thread 'main' panicked at src/lib.rs:15:1:
assertion `left == right` failed
  left: 3
 right: 4

failures:
    src/lib.rs - Money::new (line 12)

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.21s

";

    #[test]
    fn doctest_output_parses_per_package_with_failure_output() {
        let mut p = DocParser::default();
        let suites: Vec<DocSuite> = OUTPUT.lines().filter_map(|l| p.line(l)).collect();
        assert_eq!(suites.len(), 1);
        let s = &suites[0];
        assert_eq!(s.krate, "docs_fixture");
        let outcomes: Vec<(&str, DocOutcome)> = s.tests.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
        assert_eq!(
            outcomes,
            vec![
                ("src/lib.rs - add (line 3)", DocOutcome::Passed),
                ("src/lib.rs - Money::new (line 12)", DocOutcome::Failed),
                ("src/lib.rs - slow (line 20)", DocOutcome::Ignored),
            ]
        );
        assert!(s.tests[1].output.contains("left: 3"), "{}", s.tests[1].output);
        assert!(!s.tests[1].output.contains("failures:"));
        assert_eq!(
            location("src/lib.rs - Money::new (line 12)"),
            Some(("src/lib.rs".into(), 12))
        );
    }

    /// libtest's JSON on nightly (recorded from the docs fixture).
    #[test]
    fn nightly_json_gives_each_doctest_its_time() {
        let lines = [
            "   Doc-tests docs",
            r#"{ "type": "suite", "event": "started", "test_count": 2 }"#,
            r#"{ "type": "test", "event": "started", "name": "src/lib.rs - add (line 6)" }"#,
            r#"{ "type": "test", "name": "src/lib.rs - add (line 6)", "event": "ok", "exec_time": 0.21 }"#,
            r#"{ "type": "test", "name": "src/lib.rs - half (line 15)", "event": "failed", "exec_time": 0.34, "stdout": "thread 'main' panicked at src/lib.rs:5:1:\n" }"#,
            r#"{ "type": "suite", "event": "failed", "passed": 1, "failed": 1, "ignored": 0 }"#,
        ];
        let mut p = DocParser::default();
        let suites: Vec<DocSuite> = lines.iter().filter_map(|l| p.line(l)).collect();
        assert_eq!(suites.len(), 1);
        let t = &suites[0].tests;
        assert_eq!((t[0].outcome, t[0].exec_time), (DocOutcome::Passed, Some(0.21)));
        assert_eq!((t[1].outcome, t[1].exec_time), (DocOutcome::Failed, Some(0.34)));
        assert!(t[1].output.contains("panicked"));
    }
}
