//! Pure parsers for what nextest and cargo print: the test list JSON, the
//! `libtest-json-plus` run stream, and cargo's build messages on the same
//! stdout. Outside shapes end here; everything returned is a core type.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use nextest_metadata::{FilterMatch, NextestExitCode, RustTestSuiteStatusSummary, TestListSummary};
use serde::Deserialize;

use crate::core::msg::{BuildDiagnostic, ListedSuite, ListedTest, TestEvent, TestEventKind, ToolExit};
use crate::core::test_state::{Failure, Location};

/// One line of nextest's stdout, parsed.
#[derive(Debug, PartialEq)]
pub enum StreamLine {
    Build(BuildDiagnostic),
    Test(TestEvent),
    /// cargo built (or found up to date) a test binary.
    Artifact {
        executable: std::path::PathBuf,
        fresh: bool,
    },
    /// cargo's build is over.
    BuildFinished {
        success: bool,
    },
    /// Valid, but nothing vigil acts on (suite events, artifacts, …).
    Other,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LineError {
    /// Not JSON, or JSON of an unexpected shape.
    Malformed,
    /// A test event for a binary the list did not name.
    UnknownBinary(String),
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    exec_time: Option<f64>,
    #[serde(borrow)]
    stdout: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
    message: Option<RawCargoMessage>,
    #[serde(borrow)]
    executable: Option<Cow<'a, str>>,
    fresh: Option<bool>,
    profile: Option<RawProfile>,
    success: Option<bool>,
}

#[derive(Deserialize)]
struct RawProfile {
    #[serde(default)]
    test: bool,
}

#[derive(Deserialize)]
struct RawCargoMessage {
    level: Option<String>,
    rendered: Option<String>,
}

/// Turns stream lines into core events; knows which libtest name prefix
/// (`<package>::<binary-name>`) belongs to which nextest binary id.
#[derive(Clone, Debug, Default)]
pub struct StreamDecoder {
    binaries: HashMap<String, Arc<str>>,
}

impl StreamDecoder {
    pub fn new(suites: &[ListedSuite]) -> Self {
        let binaries = suites
            .iter()
            .map(|s| (format!("{}::{}", s.package, s.binary_name), s.binary_id.clone()))
            .collect();
        Self { binaries }
    }

    /// Learns the binary id behind a libtest name prefix from a suite's
    /// `started` event (`"nextest":{"crate","test_binary","kind"}`), so that
    /// a run streaming before its list has arrived is still understood.
    pub fn learn(&mut self, line: &str) {
        #[derive(Deserialize)]
        struct Suite<'a> {
            #[serde(borrow, rename = "type")]
            ty: Cow<'a, str>,
            #[serde(borrow)]
            nextest: Option<SuiteInfo<'a>>,
        }
        #[derive(Deserialize)]
        struct SuiteInfo<'a> {
            #[serde(borrow, rename = "crate")]
            krate: Cow<'a, str>,
            #[serde(borrow)]
            test_binary: Cow<'a, str>,
            #[serde(borrow)]
            kind: Cow<'a, str>,
        }
        if !line.starts_with("{\"type\":\"suite\"") {
            return;
        }
        let Ok(Suite {
            ty,
            nextest: Some(info),
        }) = serde_json::from_str::<Suite>(line)
        else {
            return;
        };
        if ty != "suite" {
            return;
        }
        let prefix = format!("{}::{}", info.krate, info.test_binary);
        if self.binaries.contains_key(&prefix) {
            return;
        }
        let id = binary_id(&info.krate, &info.test_binary, &info.kind);
        self.binaries.insert(prefix, Arc::from(id.as_str()));
    }

    pub fn decode(&self, line: &str) -> Result<StreamLine, LineError> {
        let raw: RawLine<'_> = serde_json::from_str(line).map_err(|_| LineError::Malformed)?;
        if let Some(reason) = raw.reason.as_deref().filter(|_| raw.ty.is_none()) {
            return Ok(match reason {
                "compiler-artifact" => match (raw.executable, raw.profile) {
                    (Some(exe), Some(RawProfile { test: true })) => StreamLine::Artifact {
                        executable: exe.as_ref().into(),
                        fresh: raw.fresh.unwrap_or(false),
                    },
                    _ => StreamLine::Other,
                },
                "build-finished" => StreamLine::BuildFinished {
                    success: raw.success.unwrap_or(false),
                },
                _ => decode_cargo(reason, raw.message),
            });
        }
        match (raw.ty.as_deref(), raw.event.as_deref()) {
            (Some("test"), Some(event)) => {
                let name = raw.name.as_deref().ok_or(LineError::Malformed)?;
                let (prefix, test, attempt) = split_test_name(name).ok_or(LineError::Malformed)?;
                let binary_id = self
                    .binaries
                    .get(prefix)
                    .cloned()
                    .ok_or_else(|| LineError::UnknownBinary(prefix.to_owned()))?;
                // Negative, NaN or absurd times are dropped, not trusted.
                let exec_time = raw.exec_time.and_then(|t| Duration::try_from_secs_f64(t).ok());
                let kind = match event {
                    "started" => TestEventKind::Started { attempt },
                    "ok" => TestEventKind::Passed { exec_time },
                    "failed" | "timeout" => TestEventKind::Failed {
                        exec_time,
                        failure: parse_failure(raw.stdout.as_deref().unwrap_or(""), raw.reason.as_deref()),
                    },
                    "ignored" => TestEventKind::Ignored,
                    _ => return Ok(StreamLine::Other),
                };
                Ok(StreamLine::Test(TestEvent {
                    binary_id,
                    name: test.to_owned(),
                    kind,
                }))
            }
            (Some(_), _) => Ok(StreamLine::Other),
            (None, _) => Err(LineError::Malformed),
        }
    }
}

/// nextest's binary id for a package's target: `pkg` for its library (and
/// proc-macro), `pkg::name` for an integration test, `pkg::bin/name`,
/// `pkg::example/name`, `pkg::bench/name` for the others.
pub fn binary_id(package: &str, name: &str, kind: &str) -> String {
    match kind {
        "lib" | "rlib" | "dylib" | "cdylib" | "staticlib" | "proc-macro" => package.to_owned(),
        "test" => format!("{package}::{name}"),
        other => format!("{package}::{other}/{name}"),
    }
}

fn decode_cargo(reason: &str, message: Option<RawCargoMessage>) -> StreamLine {
    match (reason, message) {
        ("compiler-message", Some(m)) => match (m.level, m.rendered) {
            (Some(level), Some(rendered)) => StreamLine::Build(BuildDiagnostic {
                level,
                rendered: rendered.trim_end().to_owned(),
            }),
            _ => StreamLine::Other,
        },
        _ => StreamLine::Other,
    }
}

/// `orders::checkout$refund_partial#2` → (`orders::checkout`, `refund_partial`, 2).
/// Retry (`#N`) and stress (`@stress-N`) suffixes are taken off the name.
pub fn split_test_name(full: &str) -> Option<(&str, &str, u32)> {
    let (prefix, mut test) = full.split_once('$')?;
    if test.is_empty() {
        return None;
    }
    let mut attempt = 1;
    if let Some((base, n)) = test.rsplit_once('#') {
        if let Ok(n) = n.parse::<u32>() {
            test = base;
            attempt = n;
        }
    }
    if let Some((base, n)) = test.rsplit_once("@stress-") {
        if n.parse::<u32>().is_ok() {
            test = base;
        }
    }
    Some((prefix, test, attempt))
}

/// The panic message and location out of a failed test's output.
pub fn parse_failure(output: &str, reason: Option<&str>) -> Failure {
    let output = output.trim_matches('\n');
    let mut location = None;
    let mut message = String::new();
    if let Some(start) = output.find("panicked at ") {
        let rest = &output[start + "panicked at ".len()..];
        let head = rest.lines().next().unwrap_or("");
        location = parse_location(head.trim_end_matches(':'));
        // The panic text runs until the backtrace or the libtest notes.
        let panic_block: Vec<&str> = output[start..]
            .lines()
            .take_while(|l| !l.starts_with("stack backtrace:") && !l.starts_with("note: "))
            .collect();
        message = panic_block.join("\n").trim_end().to_owned();
        if let Some(thread_start) = output[..start].rfind("thread '") {
            if !output[thread_start..start].contains('\n') {
                message = format!("{}{}", &output[thread_start..start], message);
            }
        }
    }
    if message.is_empty() {
        message = output
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_owned();
    }
    if let Some(reason) = reason.filter(|r| !r.is_empty()) {
        message = if message.is_empty() {
            reason.to_owned()
        } else {
            format!("{reason}: {message}")
        };
    }
    Failure {
        message,
        output: output.to_owned(),
        location,
        output_file: None,
        output_bytes: None,
    }
}

/// `src/lib.rs:4:5` → Location.
fn parse_location(s: &str) -> Option<Location> {
    let mut parts = s.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    let file = parts.next()?.trim();
    if file.is_empty() {
        return None;
    }
    Some(Location {
        file: file.to_owned(),
        line,
        column,
    })
}

/// Parses `nextest list --message-format json` into suites with their tests
/// and what the filter selected.
pub fn parse_list(json: &str) -> Result<Vec<ListedSuite>, serde_json::Error> {
    let summary = TestListSummary::parse_json(json)?;
    Ok(summary
        .rust_suites
        .into_values()
        // A filterset that rules a binary out makes nextest skip listing it
        // (no test cases): that says nothing about its tests.
        .filter(|s| s.status == RustTestSuiteStatusSummary::LISTED)
        .map(|s| ListedSuite {
            binary_id: Arc::from(s.binary.binary_id.as_str()),
            package: s.package_name,
            binary_name: s.binary.binary_name,
            kind: s.binary.kind.as_str().to_owned(),
            binary_path: s.binary.binary_path.into_std_path_buf(),
            tests: s
                .test_cases
                .into_iter()
                .map(|(name, case)| ListedTest {
                    name: name.as_str().to_owned(),
                    ignored: case.ignored,
                    // nextest names `ignored` before the filter as a reason, so
                    // whether an ignored test falls in the selection is only
                    // known when the run reports it skipped.
                    selected: matches!(case.filter_match, FilterMatch::Matches),
                })
                .collect(),
        })
        .collect())
}

/// Whether a stdout line of `nextest list` is the list itself (the rest are
/// cargo's messages).
pub fn is_list_line(line: &str) -> bool {
    line.starts_with('{') && line.contains("\"rust-suites\"")
}

/// nextest's documented exit codes, as outcomes.
pub(crate) fn classify_exit(code: Option<i32>) -> ToolExit {
    match code {
        None => ToolExit::Killed,
        Some(NextestExitCode::OK) => ToolExit::Success,
        Some(NextestExitCode::TEST_RUN_FAILED) => ToolExit::TestsFailed,
        Some(NextestExitCode::NO_TESTS_RUN) => ToolExit::NoTests,
        Some(NextestExitCode::BUILD_FAILED) => ToolExit::BuildFailed,
        Some(NextestExitCode::TEST_LIST_CREATION_FAILED) => ToolExit::ListFailed,
        Some(NextestExitCode::INVALID_FILTERSET) => ToolExit::BadFilter,
        Some(other) => ToolExit::Other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_with_retry_and_stress_suffixes() {
        assert_eq!(
            split_test_name("money::money$tests::adds"),
            Some(("money::money", "tests::adds", 1))
        );
        assert_eq!(split_test_name("o::c$refund#3"), Some(("o::c", "refund", 3)));
        assert_eq!(split_test_name("o::c$refund@stress-12"), Some(("o::c", "refund", 1)));
        assert_eq!(split_test_name("no-dollar"), None);
        assert_eq!(split_test_name("o::c$"), None);
    }

    #[test]
    fn failure_keeps_panic_text_and_location() {
        let out = "\nthread 'refund_partial' (2184) panicked at orders/tests/checkout.rs:11:5:\nassertion `left == right` failed: fee\n  left: 50\n right: 40\nstack backtrace:\n   0: foo\n";
        let f = parse_failure(out, None);
        assert_eq!(
            f.location,
            Some(Location {
                file: "orders/tests/checkout.rs".into(),
                line: 11,
                column: 5
            })
        );
        assert!(f
            .message
            .starts_with("thread 'refund_partial' (2184) panicked at orders/tests/checkout.rs:11:5:"));
        assert!(f.message.ends_with(" right: 40"), "{}", f.message);
        assert!(!f.message.contains("backtrace"));
    }

    #[test]
    fn failure_without_panic_uses_last_line_and_reason() {
        let f = parse_failure("running 1 test\nkilled\n", Some("time-out"));
        assert_eq!(f.message, "time-out: killed");
        assert_eq!(f.location, None);
    }

    #[test]
    fn exit_codes_map_to_outcomes() {
        assert_eq!(classify_exit(Some(0)), ToolExit::Success);
        assert_eq!(classify_exit(Some(100)), ToolExit::TestsFailed);
        assert_eq!(classify_exit(Some(101)), ToolExit::BuildFailed);
        assert_eq!(classify_exit(Some(104)), ToolExit::ListFailed);
        assert_eq!(classify_exit(Some(94)), ToolExit::BadFilter);
        assert_eq!(classify_exit(Some(4)), ToolExit::NoTests);
        assert_eq!(classify_exit(None), ToolExit::Killed);
        assert_eq!(classify_exit(Some(7)), ToolExit::Other(7));
    }
}
