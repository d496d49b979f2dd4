//! A run's JSON lines read back (the run kept in the state directory, a
//! shard's `events.jsonl`), and written out as JUnit XML and as a Chrome
//! trace (Perfetto, `chrome://tracing`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::core::model::Rules;
use crate::core::timeline;

/// One test's outcome in a run, from its transitions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestResult {
    pub binary_id: String,
    pub name: String,
    pub state: String,
    pub duration_s: Option<f64>,
    /// Run-relative start of its last attempt and its end.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    pub message: Option<String>,
    pub output: Option<String>,
    pub location: Option<String>,
    /// Failed attempts before the last one (nextest retries): message, output.
    pub retried: Vec<(String, String)>,
}

/// A run's tests (in the order they were first seen) and its summary.
#[derive(Clone, Debug, Default)]
pub struct RunResults {
    pub tests: Vec<TestResult>,
    pub finished: Option<Value>,
    pub started: Option<Value>,
}

/// Reads JSON lines (the last run they hold); a line that is not JSON is an
/// error naming it.
pub fn read(text: &str) -> Result<RunResults, String> {
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        lines.push(serde_json::from_str::<Value>(l).map_err(|e| format!("line {}: not JSON ({e})", i + 1))?);
    }
    let last = lines
        .iter()
        .filter(|v| v["event"] == "run_started")
        .filter_map(|v| v["run"].as_u64())
        .max();
    let mut out = RunResults::default();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    for v in &lines {
        if last.is_some() && v.get("run").and_then(Value::as_u64) != last && v["event"] != "service" {
            continue;
        }
        match v["event"].as_str() {
            Some("run_started") => out.started = Some(v.clone()),
            Some("run_finished") => out.finished = Some(v.clone()),
            Some("test") => {
                let key = (str_of(v, "binary_id"), str_of(v, "name"));
                let i = *index.entry(key.clone()).or_insert_with(|| {
                    out.tests.push(TestResult {
                        binary_id: key.0.clone(),
                        name: key.1.clone(),
                        ..TestResult::default()
                    });
                    out.tests.len() - 1
                });
                let t = &mut out.tests[i];
                let to = str_of(v, "to");
                let at = v["at_s"].as_f64();
                if to == "running" {
                    if t.state == "failed" {
                        // A retry: the failed attempt is kept as such.
                        t.retried.push((
                            t.message.take().unwrap_or_default(),
                            t.output.take().unwrap_or_default(),
                        ));
                    }
                    t.start_s = at;
                } else if to != "pending" {
                    t.end_s = at;
                    t.duration_s = v["duration_s"].as_f64();
                    t.message = v["message"].as_str().map(str::to_owned);
                    t.output = v["output"].as_str().map(str::to_owned);
                    t.location = v["location"]["file"]
                        .as_str()
                        .map(|f| format!("{f}:{}", v["location"]["line"]));
                }
                t.state = to;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters (ANSI colours).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>` per binary; failures with message and
/// output, skipped tests (ignored, expected failures with their reason,
/// blocked, cancelled), and retried-then-passed tests with a
/// `<flakyFailure>` per failed attempt, as nextest writes them.
pub fn junit(results: &RunResults, rules: &Rules) -> String {
    let mut suites: BTreeMap<&str, Vec<&TestResult>> = BTreeMap::new();
    for t in &results.tests {
        suites.entry(&t.binary_id).or_default().push(t);
    }
    let count = |ts: &[&TestResult], states: &[&str]| ts.iter().filter(|t| states.contains(&t.state.as_str())).count();
    const SKIPPED: &[&str] = &["skipped", "xfail", "blocked", "cancelled"];
    let all: Vec<&TestResult> = results.tests.iter().collect();
    let total_time = results
        .finished
        .as_ref()
        .and_then(|f| f["duration_s"].as_f64())
        .unwrap_or_default();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"vigil\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{total_time:.3}\">",
        all.len(),
        count(&all, &["failed"]),
        count(&all, SKIPPED)
    );
    for (binary_id, tests) in &suites {
        let time: f64 = tests.iter().filter_map(|t| t.duration_s).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">",
            escape(binary_id),
            tests.len(),
            count(tests, &["failed"]),
            count(tests, SKIPPED)
        );
        for t in tests {
            let _ = write!(
                x,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                escape(&t.name),
                escape(binary_id),
                t.duration_s.unwrap_or_default()
            );
            let mut body = String::new();
            let message = t.message.as_deref().unwrap_or("");
            match t.state.as_str() {
                "failed" => {
                    let _ = writeln!(
                        body,
                        "      <failure message=\"{}\" type=\"test failure\">{}</failure>",
                        escape(first_line(message)),
                        escape(t.output.as_deref().unwrap_or(message))
                    );
                }
                "skipped" => body.push_str("      <skipped message=\"ignored\"/>\n"),
                "xfail" => {
                    let reason = rules
                        .xfail_rule(binary_id, &t.name)
                        .map(|r| r.reason.as_str())
                        .filter(|r| !r.is_empty())
                        .unwrap_or("listed as an expected failure");
                    let _ = writeln!(
                        body,
                        "      <skipped message=\"expected failure: {}\"/>",
                        escape(reason)
                    );
                }
                "blocked" => {
                    let _ = writeln!(body, "      <skipped message=\"blocked: {}\"/>", escape(message));
                }
                "cancelled" | "pending" | "running" => {
                    body.push_str("      <skipped message=\"cancelled before it finished\"/>\n")
                }
                _ => {}
            }
            for (m, out) in &t.retried {
                let kind = if t.state == "failed" {
                    "rerunFailure"
                } else {
                    "flakyFailure"
                };
                let _ = writeln!(
                    body,
                    "      <{kind} message=\"{}\" type=\"test failure\"><system-out>{}</system-out></{kind}>",
                    escape(first_line(m)),
                    escape(out)
                );
            }
            if t.state == "failed" {
                if let Some(out) = &t.output {
                    let _ = writeln!(body, "      <system-out>{}</system-out>", escape(out));
                }
            }
            if body.is_empty() {
                x.push_str("/>\n");
            } else {
                x.push_str(">\n");
                x.push_str(&body);
                x.push_str("    </testcase>\n");
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// The shards of a partitioned run as one: their tests together, and one
/// `run_finished` (counts, suites, failures, budgets, flaky tests,
/// warnings, services) with one gate. A shard whose partition held no test
/// does not fail it.
pub fn merge(shards: &[RunResults]) -> (RunResults, Value) {
    // Each shard reports the ignored tests of its binaries as skipped: a
    // test is counted once, with the result of the shard that ran it.
    let mut merged = RunResults::default();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for s in shards {
        for t in &s.tests {
            let key = (t.binary_id.clone(), t.name.clone());
            match seen.get(&key) {
                Some(&i) if merged.tests[i].state == "skipped" && t.state != "skipped" => merged.tests[i] = t.clone(),
                Some(_) => {}
                None => {
                    seen.insert(key, merged.tests.len());
                    merged.tests.push(t.clone());
                }
            }
        }
    }
    let finished: Vec<&Value> = shards.iter().filter_map(|s| s.finished.as_ref()).collect();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for key in [
        "total",
        "passed",
        "failed",
        "skipped",
        "xfail",
        "xpass",
        "cancelled",
        "blocked",
    ] {
        counts.insert(key, 0);
    }
    for t in &merged.tests {
        *counts.get_mut("total").unwrap_or(&mut 0) += 1;
        let state = match t.state.as_str() {
            "pending" | "running" => "cancelled",
            s => s,
        };
        if let Some(c) = counts.get_mut(state) {
            *c += 1;
        }
    }
    let concat = |path: &[&str]| -> Vec<Value> {
        finished
            .iter()
            .flat_map(|f| {
                let mut v = *f;
                for p in path {
                    v = &v[*p];
                }
                v.as_array().cloned().unwrap_or_default()
            })
            .collect()
    };
    // A binary split across shards is one suite: its tests summed, its
    // status the worst, its time the longest shard's.
    let mut suites: BTreeMap<String, Value> = BTreeMap::new();
    let rank = |s: &str| match s {
        "failed" => 4,
        "cancelled" => 3,
        "blocked" => 2,
        "passed" => 1,
        _ => 0,
    };
    for s in concat(&["suites"]) {
        let id = s["binary_id"].as_str().unwrap_or_default().to_owned();
        match suites.get_mut(&id) {
            None => {
                suites.insert(id, s);
            }
            Some(m) => {
                let tests = m["tests"].as_u64().unwrap_or(0) + s["tests"].as_u64().unwrap_or(0);
                m["tests"] = tests.into();
                let d = m["duration_s"]
                    .as_f64()
                    .unwrap_or(0.0)
                    .max(s["duration_s"].as_f64().unwrap_or(0.0));
                m["duration_s"] = d.into();
                let (a, b) = (m["status"].as_str().unwrap_or(""), s["status"].as_str().unwrap_or(""));
                if rank(b) > rank(a) {
                    m["status"] = b.into();
                }
            }
        }
    }
    for (id, suite) in suites.iter_mut() {
        suite["tests"] = merged.tests.iter().filter(|t| &t.binary_id == id).count().into();
    }
    let failed = counts["failed"];
    let mut reasons: Vec<String> = Vec::new();
    if failed > 0 {
        reasons.push(format!("{failed} test{} failed", if failed == 1 { "" } else { "s" }));
    }
    let ran_any = counts["total"] > 0;
    for f in &finished {
        for r in f["gate"]["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            // A shard's own test count, and its coverage (a part of the
            // whole, judged again once merged), are not the run's.
            let own = (r.ends_with(" failed") && r.contains(" test")) || r.starts_with("coverage:");
            let empty_shard = r == "no tests matched the selection" && ran_any;
            if !own && !empty_shard && !reasons.iter().any(|x| x == r) {
                reasons.push(r.to_owned());
            }
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
        "failed".to_owned()
    } else {
        finished
            .iter()
            .filter_map(|f| f["outcome"].as_str())
            .find(|o| matches!(*o, "build_failed" | "list_failed" | "cancelled"))
            .unwrap_or(if ran_any { "passed" } else { "no_tests" })
            .to_owned()
    };
    let duration = finished
        .iter()
        .filter_map(|f| f["duration_s"].as_f64())
        .fold(0.0, f64::max);
    let summary = serde_json::json!({
        "event": "run_finished",
        "run": 1,
        "outcome": outcome,
        "duration_s": duration,
        "shards": shards.len(),
        "tests": counts,
        "suites": suites.into_values().collect::<Vec<_>>(),
        "failures": concat(&["failures"]),
        "xpass": concat(&["xpass"]),
        "build_errors": concat(&["build_errors"]),
        "warnings": concat(&["warnings"]),
        "budgets": {"violations": concat(&["budgets", "violations"]), "warnings": concat(&["budgets", "warnings"])},
        "flaky": concat(&["flaky"]),
        "slower": concat(&["slower"]),
        "hygiene": [],
        "coverage": Value::Null,
        "services": concat(&["services"]),
        "gate": {"passed": reasons.is_empty(), "reasons": reasons},
    });
    merged.finished = Some(summary.clone());
    (merged, summary)
}

/// The merged run in the human format's summary lines.
pub fn human(summary: &Value) -> String {
    let mut out = String::new();
    let failures = summary["failures"].as_array().cloned().unwrap_or_default();
    if !failures.is_empty() {
        out.push_str("failures:\n");
        for f in &failures {
            let _ = writeln!(out, "  {}  {}", str_of(f, "binary_id"), str_of(f, "name"));
        }
    }
    for w in summary["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let _ = writeln!(out, "warning: {w}");
    }
    let lines = &summary["coverage"]["lines"];
    if let Some(p) = lines["percent"].as_f64() {
        let _ = writeln!(
            out,
            "coverage: lines {p:.2} % ({}/{})",
            lines["covered"], lines["count"]
        );
    }
    let c = &summary["tests"];
    let mut counts = format!("{} passed, {} failed", c["passed"], c["failed"]);
    for key in ["skipped", "xfail", "xpass", "cancelled", "blocked"] {
        if c[key].as_u64().unwrap_or(0) > 0 {
            let _ = write!(counts, ", {} {key}", c[key]);
        }
    }
    let _ = writeln!(
        out,
        "{} ({} shards): {counts} in {:.2}s",
        str_of(summary, "outcome"),
        summary["shards"],
        summary["duration_s"].as_f64().unwrap_or_default()
    );
    if summary["gate"]["passed"].as_bool() == Some(true) {
        out.push_str("gate: passed\n");
    } else {
        let reasons: Vec<&str> = summary["gate"]["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let _ = writeln!(out, "gate: failed ({})", reasons.join("; "));
    }
    out
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
            "cat": t.state,
            "ph": "X",
            "ts": b.start.as_micros() as u64,
            "dur": b.end.saturating_sub(b.start).as_micros() as u64,
            "pid": 1,
            "tid": b.slot,
            "args": {"binary_id": t.binary_id, "test": t.name, "state": t.state},
        }));
    }
    serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = r#"{"event":"run_started","run":2}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"pending","to":"running","at_s":0.1}
{"event":"test","run":2,"binary_id":"a","name":"y","from":"pending","to":"running","at_s":0.1}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"running","to":"failed","at_s":0.2,"duration_s":0.1,"message":"boom <here>","output":"out\u001b[31m"}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"failed","to":"running","at_s":0.25}
{"event":"test","run":2,"binary_id":"a","name":"x","from":"running","to":"passed","at_s":0.3,"duration_s":0.05}
{"event":"test","run":2,"binary_id":"a","name":"y","from":"running","to":"failed","at_s":0.4,"duration_s":0.3,"message":"nope","output":"printed"}
{"event":"run_finished","run":2,"duration_s":0.5}
"#;

    #[test]
    fn a_stream_reads_back_into_results_with_retries() {
        let r = read(STREAM).unwrap();
        assert_eq!(r.tests.len(), 2);
        let x = &r.tests[0];
        assert_eq!(
            (x.state.as_str(), x.start_s, x.end_s),
            ("passed", Some(0.25), Some(0.3))
        );
        assert_eq!(x.retried, vec![("boom <here>".to_owned(), "out\u{1b}[31m".to_owned())]);
        assert!(read("{not json").unwrap_err().contains("line 1"));
    }

    #[test]
    fn junit_marks_failures_and_flaky_retries_and_escapes() {
        let xml = junit(&read(STREAM).unwrap(), &Rules::default());
        assert!(
            xml.contains("<testsuite name=\"a\" tests=\"2\" failures=\"1\""),
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
