//! A run's JSON lines read back (the run kept in the state directory, a
//! shard's `events.jsonl`), and written out as JUnit XML and as a Chrome
//! trace (Perfetto, `chrome://tracing`).

use crate::core::ids::RunId;
use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit as junit;
use serde::Deserialize;
use serde_json::Value;

use crate::core::budget::BudgetReport;
use crate::core::model::Rules;
use crate::core::report::{Counts, Gate, Report, RunSummary, SuiteStatus, SuiteSummary};
use crate::core::run::Outcome;
use crate::core::test_state::{Location, TestState};
use crate::core::timeline;

/// One test's outcome in a run, from its transitions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestResult {
    pub binary_id: String,
    pub name: String,
    pub state: TestState,
    pub duration_s: Option<f64>,
    /// Run-relative start of its last attempt and its end.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    pub message: Option<String>,
    pub output: Option<String>,
    pub location: Option<Location>,
    /// Failed attempts before the last one (nextest retries): message, output.
    pub retried: Vec<(String, String)>,
}

/// A run's tests (in the order they were first seen) and its summary.
#[derive(Clone, Debug, Default)]
pub struct RunResults {
    pub tests: Vec<TestResult>,
    pub finished: Option<RunSummary>,
}

/// Reads JSON lines (the last run they hold) back into the events vigil
/// wrote. A line that is not JSON, or an event of a kind vigil writes that
/// does not read back, is an error naming the line; an event of a kind this
/// vigil does not know (written by a newer one) is passed over.
pub fn read(text: &str) -> Result<RunResults, String> {
    let mut events = Vec::new();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(l).map_err(|e| format!("line {}: not JSON ({e})", i + 1))?;
        let kind = v.get("event").and_then(Value::as_str).unwrap_or_default().to_owned();
        if !Report::KINDS.contains(&kind.as_str()) {
            continue;
        }
        let report =
            Report::deserialize(v).map_err(|e| format!("line {}: a `{kind}` event vigil cannot read ({e})", i + 1))?;
        events.push(report);
    }
    let last = events
        .iter()
        .filter_map(|r| match r {
            Report::RunStarted { run, .. } => Some(*run),
            _ => None,
        })
        .max();
    let mut out = RunResults::default();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in events {
        if last.is_some() && r.run() != last {
            continue;
        }
        match r {
            Report::RunFinished(s) => out.finished = Some(*s),
            Report::Test(v) => {
                let key = (v.binary_id.clone(), v.name.clone());
                let i = *index.entry(key).or_insert_with(|| {
                    out.tests.push(TestResult {
                        binary_id: v.binary_id.clone(),
                        name: v.name.clone(),
                        ..TestResult::default()
                    });
                    out.tests.len() - 1
                });
                let t = &mut out.tests[i];
                let at = Some(v.at_s);
                match v.to {
                    TestState::Running => {
                        if t.state == TestState::Failed {
                            // A retry: the failed attempt is kept as such.
                            t.retried.push((
                                t.message.take().unwrap_or_default(),
                                t.output.take().unwrap_or_default(),
                            ));
                        }
                        t.start_s = at;
                    }
                    TestState::Pending => {}
                    TestState::Passed
                    | TestState::Failed
                    | TestState::Skipped
                    | TestState::Xfail
                    | TestState::Xpass
                    | TestState::Cancelled
                    | TestState::Blocked => {
                        t.end_s = at;
                        t.duration_s = v.duration_s;
                        t.message = v.message;
                        t.output = v.output;
                        t.location = v.location;
                    }
                }
                t.state = v.to;
            }
            Report::RunStarted { .. }
            | Report::SweepStarted { .. }
            | Report::SweepFinished { .. }
            | Report::ChangeIgnored { .. }
            | Report::BuildError { .. }
            | Report::Warning { .. }
            | Report::Service { .. }
            | Report::CheckStarted { .. }
            | Report::ServiceCall(_)
            | Report::CheckFinished(_) => {}
        }
    }
    Ok(out)
}

/// JUnit XML (quick-junit, nextest's own writer): one `<testsuite>` per
/// binary; failures with message and output, skipped tests (ignored,
/// expected failures with their reason, blocked, cancelled), and
/// retried-then-passed tests with a `<flakyFailure>` per failed attempt, as
/// nextest writes them.
pub fn junit(results: &RunResults, rules: &Rules) -> String {
    let mut suites: BTreeMap<&str, Vec<&TestResult>> = BTreeMap::new();
    for t in &results.tests {
        suites.entry(&t.binary_id).or_default().push(t);
    }
    let mut report = junit::Report::new("vigil");
    let total = results.finished.as_ref().map_or(0.0, |f| f.duration_s);
    report.set_time(secs(total));
    for (binary_id, tests) in suites {
        let mut suite = junit::TestSuite::new(binary_id);
        suite.set_time(secs(tests.iter().filter_map(|t| t.duration_s).sum()));
        for t in tests {
            let message = t.message.as_deref().unwrap_or("");
            let retries = t.retried.iter().map(|(m, out)| {
                let mut r = junit::TestRerun::new(junit::NonSuccessKind::Failure);
                r.set_message(first_line(m))
                    .set_type("test failure")
                    .set_system_out(out.as_str());
                r
            });
            let skipped = |why: String| {
                let mut s = junit::TestCaseStatus::skipped();
                s.set_message(why);
                s
            };
            let status = match t.state {
                TestState::Failed => {
                    let mut s = junit::TestCaseStatus::non_success(junit::NonSuccessKind::Failure);
                    s.set_message(first_line(message))
                        .set_type("test failure")
                        .set_description(t.output.as_deref().unwrap_or(message))
                        .add_reruns(retries)
                        .set_rerun_kind(junit::FlakyOrRerun::Rerun);
                    s
                }
                TestState::Skipped => skipped("ignored".to_owned()),
                TestState::Xfail => {
                    let reason = rules
                        .xfail_rule(binary_id, &t.name)
                        .map(|r| r.reason.as_str())
                        .filter(|r| !r.is_empty())
                        .unwrap_or("listed as an expected failure");
                    skipped(format!("expected failure: {reason}"))
                }
                TestState::Blocked => skipped(format!("blocked: {message}")),
                TestState::Cancelled | TestState::Pending | TestState::Running => {
                    skipped("cancelled before it finished".to_owned())
                }
                TestState::Passed | TestState::Xpass => {
                    let mut s = junit::TestCaseStatus::success();
                    s.add_reruns(retries);
                    s
                }
            };
            let mut case = junit::TestCase::new(t.name.as_str(), status);
            case.set_classname(binary_id)
                .set_time(secs(t.duration_s.unwrap_or_default()));
            if t.state == TestState::Failed {
                if let Some(out) = &t.output {
                    case.set_system_out(out.as_str());
                }
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    // Serializing into memory fails only on a bug in the writer.
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- JUnit not written: {e} -->\n"))
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or_default()
}

/// The shards of a partitioned run as one: their tests together, and one
/// `run_finished` (counts, suites, failures, budgets, flaky tests,
/// warnings, services) with one gate. A shard whose partition held no test
/// does not fail it.
pub fn merge(shards: &[RunResults]) -> (RunResults, RunSummary) {
    // Each shard reports the ignored tests of its binaries as skipped: a
    // test is counted once, with the result of the shard that ran it.
    let mut merged = RunResults::default();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for s in shards {
        for t in &s.tests {
            let key = (t.binary_id.clone(), t.name.clone());
            match seen.get(&key) {
                Some(&i) if merged.tests[i].state == TestState::Skipped && t.state != TestState::Skipped => {
                    merged.tests[i] = t.clone()
                }
                Some(_) => {}
                None => {
                    seen.insert(key, merged.tests.len());
                    merged.tests.push(t.clone());
                }
            }
        }
    }
    let finished: Vec<&RunSummary> = shards.iter().filter_map(|s| s.finished.as_ref()).collect();
    let mut counts = Counts::default();
    for t in &merged.tests {
        counts.add(t.state);
    }
    // A binary split across shards is one suite: its tests summed, its
    // status the worst, its time the longest shard's.
    let mut suites: BTreeMap<String, SuiteSummary> = BTreeMap::new();
    let rank = |s: SuiteStatus| match s {
        SuiteStatus::Failed => 4,
        SuiteStatus::Cancelled => 3,
        SuiteStatus::Blocked => 2,
        SuiteStatus::Passed => 1,
        SuiteStatus::Skipped => 0,
    };
    for s in finished.iter().flat_map(|f| f.suites.iter()) {
        match suites.get_mut(&s.binary_id) {
            None => {
                suites.insert(s.binary_id.clone(), s.clone());
            }
            Some(m) => {
                m.duration_s = m.duration_s.max(s.duration_s);
                if rank(s.status) > rank(m.status) {
                    m.status = s.status;
                }
            }
        }
    }
    for (id, suite) in suites.iter_mut() {
        suite.tests = merged.tests.iter().filter(|t| &t.binary_id == id).count();
    }
    let failed = counts.failed;
    let mut reasons: Vec<String> = Vec::new();
    if failed > 0 {
        reasons.push(format!("{failed} test{} failed", if failed == 1 { "" } else { "s" }));
    }
    let ran_any = counts.total > 0;
    for r in finished.iter().flat_map(|f| f.gate.reasons.iter()) {
        // A shard's own test count, and its coverage (a part of the
        // whole, judged again once merged), are not the run's.
        let own = (r.ends_with(" failed") && r.contains(" test")) || r.starts_with("coverage:");
        let empty_shard = r == "no tests matched the selection" && ran_any;
        if !own && !empty_shard && !reasons.contains(r) {
            reasons.push(r.clone());
        }
    }
    if shards.len() != finished.len() {
        reasons.push(format!(
            "{} of {} shards did not finish a run",
            shards.len() - finished.len(),
            shards.len()
        ));
    }
    let outcome = if failed > 0 {
        Outcome::Failed
    } else {
        finished
            .iter()
            .map(|f| f.outcome)
            .find(|o| matches!(o, Outcome::BuildFailed | Outcome::ListFailed | Outcome::Cancelled))
            .unwrap_or(if ran_any { Outcome::Passed } else { Outcome::NoTests })
    };
    let summary = RunSummary {
        run: RunId(1),
        outcome,
        duration_s: finished.iter().map(|f| f.duration_s).fold(0.0, f64::max),
        tests: counts,
        suites: suites.into_values().collect(),
        failures: concat(&finished, |f| &f.failures),
        xpass: concat(&finished, |f| &f.xpass),
        build_errors: concat(&finished, |f| &f.build_errors),
        tool_error: None,
        warnings: concat(&finished, |f| &f.warnings),
        budgets: BudgetReport {
            violations: concat(&finished, |f| &f.budgets.violations),
            warnings: concat(&finished, |f| &f.budgets.warnings),
        },
        flaky: concat(&finished, |f| &f.flaky),
        slower: concat(&finished, |f| &f.slower),
        hygiene: Vec::new(),
        coverage: None,
        services: concat(&finished, |f| &f.services),
        gate: Gate {
            passed: reasons.is_empty(),
            reasons,
        },
        leaks: Vec::new(),
        faults: Vec::new(),
        shards: Some(shards.len()),
    };
    merged.finished = Some(summary.clone());
    (merged, summary)
}

/// One part of every shard's summary, shard after shard.
fn concat<T: Clone>(finished: &[&RunSummary], part: impl Fn(&RunSummary) -> &Vec<T>) -> Vec<T> {
    finished.iter().flat_map(|f| part(f).iter().cloned()).collect()
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// A Chrome trace: a thread per slot, a complete event per test.
pub fn trace(results: &RunResults) -> String {
    let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
    let spans: Vec<(usize, Duration, Duration)> = results
        .tests
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, secs(t.start_s?), secs(t.end_s?))))
        .collect();
    let bars = timeline::lay_out(&spans);
    let mut events = Vec::new();
    let slots = bars.iter().map(|b| b.slot + 1).max().unwrap_or(0);
    for slot in 0..slots {
        events.push(serde_json::json!({
            "name": "thread_name", "ph": "M", "pid": 1, "tid": slot,
            "args": {"name": format!("slot {slot}")}
        }));
    }
    for b in &bars {
        let t = &results.tests[b.key];
        events.push(serde_json::json!({
            "name": format!("{} {}", t.binary_id, t.name),
            "cat": t.state.as_str(),
            "ph": "X",
            "ts": b.start.as_micros() as u64,
            "dur": b.end.saturating_sub(b.start).as_micros() as u64,
            "pid": 1,
            "tid": b.slot,
            "args": {"binary_id": t.binary_id, "test": t.name, "state": t.state.as_str()},
        }));
    }
    serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = r#"{"event":"run_started","run":1,"trigger":"manual","selected":{"binaries":[],"tests":0}}
{"event":"run_started","run":2,"trigger":"watch","selected":{"binaries":["a"],"tests":2}}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"pending","to":"running","at_s":0.1}
{"event":"test","run":2,"binary_id":"a","name":"y","from":"pending","to":"running","at_s":0.1}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"running","to":"failed","at_s":0.2,"duration_s":0.1,"message":"boom <here>","output":"out\u001b[31m"}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"failed","to":"running","at_s":0.25}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"running","to":"passed","at_s":0.3,"duration_s":0.05}
{"event":"a_newer_event","run":2}
{"event":"test","run":2,"binary_id":"a","name":"y","from":"running","to":"failed","at_s":0.4,"duration_s":0.3,"message":"nope","output":"printed"}
{"event":"run_finished","run":2,"outcome":"failed","duration_s":0.5,"tests":{"total":2,"passed":1,"failed":1,"skipped":0,"xfail":0,"xpass":0,"cancelled":0,"blocked":0},"gate":{"passed":false,"reasons":["1 test failed"]}}
"#;

    #[test]
    fn a_stream_reads_back_into_results_with_retries() {
        let r = read(STREAM).unwrap();
        assert_eq!(r.tests.len(), 2);
        let x = &r.tests[0];
        assert_eq!(
            (x.state, x.start_s, x.end_s),
            (TestState::Passed, Some(0.25), Some(0.3))
        );
        assert_eq!(x.retried, vec![("boom <here>".to_owned(), "out\u{1b}[31m".to_owned())]);
        assert!(read("{not json").unwrap_err().contains("line 1"));
        let finished = r.finished.expect("run_finished read back");
        assert_eq!((finished.run, finished.outcome), (RunId(2), Outcome::Failed));
    }

    #[test]
    fn a_summary_without_its_outcome_is_an_error_not_a_pass() {
        let line = r#"{"event":"run_finished","run":2,"duration_s":0.5,"gate":{"passed":true,"reasons":[]}}"#;
        let err = read(line).unwrap_err();
        assert!(err.contains("line 1") && err.contains("outcome"), "{err}");
    }

    #[test]
    fn every_event_vigil_writes_reads_back_equal() {
        let text = STREAM.lines().filter(|l| !l.contains("a_newer_event"));
        for line in text {
            let r: Report = serde_json::from_str(line).unwrap();
            let again = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Report>(&again).unwrap(), r, "{line}");
            let kind = serde_json::from_str::<Value>(&again).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(Report::KINDS.contains(&kind.as_str()), "{kind} is listed");
        }
    }

    #[test]
    fn merged_shards_are_one_typed_summary() {
        let a = read(STREAM).unwrap();
        let (merged, s) = merge(&[a.clone(), a]);
        assert_eq!(merged.tests.len(), 2, "a test is counted once");
        assert_eq!((s.outcome, s.shards, s.tests.failed), (Outcome::Failed, Some(2), 1));
        assert_eq!(s.gate.reasons, vec!["1 test failed".to_owned()]);
    }

    #[test]
    fn junit_marks_failures_and_flaky_retries_and_escapes() {
        let xml = junit(&read(STREAM).unwrap(), &Rules::default());
        let suite = xml
            .lines()
            .find(|l| l.contains("<testsuite name=\"a\""))
            .unwrap_or_default();
        assert!(
            suite.contains(" tests=\"2\"") && suite.contains(" failures=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("<flakyFailure message=\"boom &lt;here&gt;\""), "{xml}");
        assert!(
            xml.contains("<failure message=\"nope\" type=\"test failure\">printed</failure>"),
            "{xml}"
        );
        assert!(!xml.contains('\u{1b}'), "control characters are dropped");
    }
}
