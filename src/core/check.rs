//! `vigil check`: what each test did when run many times alone, many
//! copies at once, twice in a row in one directory, with the clock
//! shifted, without the network, and with a temp dir of its own, judged
//! into findings that name the cause and carry the evidence. Pure: the
//! runs arrive as data.

use serde::Serialize;
use std::time::Duration;

use super::assertion::Assertion;

/// What a finding says is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Passes alone, fails beside copies of itself: shared outside state.
    Race,
    /// Its result changes without the network (loopback services outside
    /// the test included).
    Network,
    /// Its result changes with the wall clock shifted.
    Clock,
    /// Passes, then fails when run again in the same directory.
    State,
    /// Its result differs across runs alone, with no cause above.
    Nondeterministic,
    /// Leaves files in its temp dir.
    LeakedFiles,
    /// Leaves processes running after it exits.
    LeakedProcesses,
}

impl Kind {
    /// The kind `as_str` names.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Kind::Race,
            Kind::Network,
            Kind::Clock,
            Kind::State,
            Kind::Nondeterministic,
            Kind::LeakedFiles,
            Kind::LeakedProcesses,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Race => "race",
            Kind::Network => "network",
            Kind::Clock => "clock",
            Kind::State => "state",
            Kind::Nondeterministic => "nondeterministic",
            Kind::LeakedFiles => "leaked_files",
            Kind::LeakedProcesses => "leaked_processes",
        }
    }
}

/// One run of one test process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// Its process id (what it left behind is found by its session).
    pub pid: u32,
    pub passed: bool,
    pub duration: Duration,
    /// What it printed (for a failure's evidence).
    pub output: String,
}

/// Everything one test did under the checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Runs one after another in the test's working directory; the first
    /// two are the "twice in a row".
    pub alone: Vec<Attempt>,
    /// Runs with copies of itself at once.
    pub together: Vec<Attempt>,
    /// Runs beside other tests (not copies of itself), when runs alone
    /// were then taken one at a time to tell the two apart.
    pub beside: Vec<Attempt>,
    /// How many copies ran at once.
    pub parallel: usize,
    /// The run without the network (`None`: not checked).
    pub network: Option<Attempt>,
    /// Runs with the clock shifted, by shift (`+3y`).
    pub clock: Vec<(String, Attempt)>,
    /// What its run with a temp dir of its own left there.
    pub leaked_files: Vec<String>,
    /// Processes it left running (`sleep (pid 4711)`).
    pub leaked_processes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Finding {
    pub binary_id: String,
    pub name: String,
    pub kind: Kind,
    /// The runs the finding rests on, and how many failed.
    pub runs: usize,
    pub failures: usize,
    /// What was seen, for a person: "3 of 40 concurrent runs failed …".
    pub evidence: String,
    /// A failed assertion's two values, when the output had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub assertion: Option<Assertion>,
}

/// One test's record: every run, its pass rate and timing.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct TestRecord {
    pub binary_id: String,
    pub name: String,
    pub runs: usize,
    pub failures: usize,
    /// The first run that failed (1-based, alone runs first).
    pub first_failure: Option<usize>,
    /// Copies at once in the concurrent runs.
    pub parallel: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
    /// It failed on its first run alone: a failing test, not a finding.
    pub fails: bool,
    /// Its assertion macros, from the source (`None`: its `fn` was not
    /// found).
    #[serde(default)]
    pub assertions: Option<usize>,
    /// The attributes on its `fn` (`test`, `tokio::test`, `should_panic`,
    /// `serial`, `ignore`, `case ×3`).
    #[serde(default)]
    pub markers: Vec<String>,
    /// The rstest fixtures it takes.
    #[serde(default)]
    pub fixtures: Vec<String>,
}

/// What a test's source says of it (the seed's record): its assertion
/// macros, the attributes on its `fn`, the rstest fixtures it takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SourceRecord {
    pub assertions: usize,
    pub markers: Vec<String>,
    pub fixtures: Vec<String>,
}

impl SourceRecord {
    /// "3 assertions · markers test, serial · fixtures db".
    pub fn describe(&self) -> String {
        let n = self.assertions;
        let mut said = vec![format!("{n} assertion{}", if n == 1 { "" } else { "s" })];
        if !self.markers.is_empty() {
            said.push(format!("markers {}", self.markers.join(", ")));
        }
        if !self.fixtures.is_empty() {
            said.push(format!("fixtures {}", self.fixtures.join(", ")));
        }
        said.join(" · ")
    }
}

fn first_line(output: &str) -> String {
    // The panic's own words: the line after "panicked at", else the first.
    let lines: Vec<&str> = output.lines().collect();
    let at = lines.iter().position(|l| l.contains("panicked at"));
    let line = at
        .and_then(|i| lines.get(i + 1))
        .or_else(|| lines.iter().find(|l| !l.trim().is_empty()))
        .copied()
        .unwrap_or("");
    line.trim().chars().take(300).collect()
}

fn failed(attempts: &[Attempt]) -> usize {
    attempts.iter().filter(|a| !a.passed).count()
}

/// Whether runs alone are the pattern of state left behind: the first
/// passes, every later one fails.
pub fn left_state(alone: &[Attempt]) -> bool {
    alone.len() >= 2 && alone[0].passed && alone[1..].iter().all(|a| !a.passed)
}

/// The findings for one test, and its record.
pub fn judge(binary_id: &str, name: &str, seen: &Observed) -> (Vec<Finding>, TestRecord) {
    let all: Vec<&Attempt> = seen.alone.iter().chain(&seen.together).chain(&seen.beside).collect();
    let mut ms: Vec<f64> = all.iter().map(|a| a.duration.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| {
        ms.get(((ms.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let fails = seen.alone.first().is_some_and(|a| !a.passed);
    let record = TestRecord {
        binary_id: binary_id.to_owned(),
        name: name.to_owned(),
        runs: all.len(),
        failures: all.iter().filter(|a| !a.passed).count(),
        first_failure: all.iter().position(|a| !a.passed).map(|i| i + 1),
        parallel: seen.parallel,
        min_ms: at(0.0),
        median_ms: at(0.5),
        max_ms: at(1.0),
        fails,
        assertions: None,
        markers: Vec::new(),
        fixtures: Vec::new(),
    };
    let mut out = Vec::new();
    let finding = |kind: Kind, runs: usize, failures: usize, evidence: String, output: Option<&str>| Finding {
        binary_id: binary_id.to_owned(),
        name: name.to_owned(),
        kind,
        runs,
        failures,
        evidence,
        assertion: output.and_then(super::assertion::parse),
    };
    let alone_failed = failed(&seen.alone);
    let first_failure = |a: &[Attempt]| a.iter().find(|x| !x.passed).map(|x| x.output.clone());
    // Leaks are findings whatever its result.
    if !seen.leaked_files.is_empty() {
        let n = seen.leaked_files.len();
        let shown: Vec<&str> = seen.leaked_files.iter().take(5).map(String::as_str).collect();
        out.push(finding(
            Kind::LeakedFiles,
            1,
            0,
            format!(
                "left {n} file{} in its temp dir: {}{}",
                if n == 1 { "" } else { "s" },
                shown.join(", "),
                if n > 5 { ", …" } else { "" }
            ),
            None,
        ));
    }
    if !seen.leaked_processes.is_empty() {
        out.push(finding(
            Kind::LeakedProcesses,
            1,
            0,
            format!(
                "left {} running after it exited (stopped when the check ended)",
                seen.leaked_processes.join(", ")
            ),
            None,
        ));
    }
    if fails && alone_failed == seen.alone.len() {
        // It fails, every time: a failing test, nothing to attribute.
        return (out, record);
    }
    let n = seen.alone.len();
    if left_state(&seen.alone) {
        let output = first_failure(&seen.alone).unwrap_or_default();
        out.push(finding(
            Kind::State,
            n,
            alone_failed,
            format!(
                "passed, then failed on every later run in the same directory ({} of {n}): {}",
                alone_failed,
                first_line(&output)
            ),
            Some(&output),
        ));
        return (out, record);
    }
    if alone_failed > 0 {
        let output = first_failure(&seen.alone).unwrap_or_default();
        out.push(finding(
            Kind::Nondeterministic,
            n,
            alone_failed,
            format!(
                "{alone_failed} of {n} runs alone failed, with nothing else changed: {}",
                first_line(&output)
            ),
            Some(&output),
        ));
        return (out, record);
    }
    // Deterministic alone: what changes its result is the cause.
    let together_failed = failed(&seen.together);
    let beside_failed = failed(&seen.beside);
    if together_failed + beside_failed > 0 {
        let output = first_failure(&seen.together)
            .or_else(|| first_failure(&seen.beside))
            .unwrap_or_default();
        let mut said = Vec::new();
        if together_failed > 0 {
            said.push(format!(
                "{together_failed} of {} concurrent runs failed ({} copies at once)",
                seen.together.len(),
                seen.parallel
            ));
        }
        if beside_failed > 0 {
            said.push(format!(
                "{beside_failed} of {} runs beside other tests failed",
                seen.beside.len()
            ));
        }
        out.push(finding(
            Kind::Race,
            seen.together.len() + seen.beside.len(),
            together_failed + beside_failed,
            format!("{}, none of {n} alone: {}", said.join("; "), first_line(&output)),
            Some(&output),
        ));
    }
    if let Some(a) = seen.network.as_ref().filter(|a| !a.passed) {
        out.push(finding(
            Kind::Network,
            1,
            1,
            format!(
                "fails without the network (a fresh network namespace, loopback up), passes with it: {}",
                first_line(&a.output)
            ),
            Some(&a.output),
        ));
    }
    let shifted: Vec<&(String, Attempt)> = seen.clock.iter().filter(|(_, a)| !a.passed).collect();
    if let Some((shift, a)) = shifted.first() {
        let shifts: Vec<&str> = shifted.iter().map(|(s, _)| s.as_str()).collect();
        out.push(finding(
            Kind::Clock,
            seen.clock.len(),
            shifted.len(),
            format!(
                "fails with the clock shifted {} ({shift}: {}), passes on today's",
                shifts.join(" and "),
                first_line(&a.output)
            ),
            Some(&a.output),
        ));
    }
    (out, record)
}

/// What `vigil check` ended with (`check_finished`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct CheckSummary {
    pub duration_s: f64,
    pub tests: Vec<TestRecord>,
    pub findings: Vec<Finding>,
    /// Checks that could not run here, and why ("network: …").
    #[serde(default)]
    pub skipped: Vec<String>,
    /// No finding.
    pub clean: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Attempt {
        Attempt {
            pid: 1,
            passed: true,
            duration: Duration::from_millis(10),
            output: String::new(),
        }
    }
    fn bad(why: &str) -> Attempt {
        Attempt {
            pid: 1,
            passed: false,
            duration: Duration::from_millis(12),
            output: format!("thread 't' panicked at src/lib.rs:3:5:\n{why}\n"),
        }
    }
    fn kinds(seen: &Observed) -> Vec<Kind> {
        judge("b", "t", seen).0.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn each_cause_is_named_and_a_clean_test_has_none() {
        let clean = Observed {
            alone: vec![ok(); 5],
            together: vec![ok(); 5],
            parallel: 2,
            network: Some(ok()),
            clock: vec![("+3y".into(), ok())],
            ..Default::default()
        };
        assert_eq!(kinds(&clean), []);
        let race = Observed {
            together: vec![ok(), bad("pid mismatch"), ok(), bad("pid mismatch")],
            ..clean.clone()
        };
        let (f, record) = judge("b", "t", &race);
        assert_eq!(f[0].kind, Kind::Race);
        assert_eq!(
            f[0].evidence,
            "2 of 4 concurrent runs failed (2 copies at once), none of 5 alone: pid mismatch"
        );
        assert_eq!((record.runs, record.failures, record.first_failure), (9, 2, Some(7)));
        let beside = Observed {
            beside: vec![ok(), bad("pid mismatch")],
            ..clean.clone()
        };
        let (f, _) = judge("b", "t", &beside);
        assert_eq!(
            f[0].evidence,
            "1 of 2 runs beside other tests failed, none of 5 alone: pid mismatch"
        );
        let state = Observed {
            alone: vec![ok(), bad("marker exists"), bad("marker exists")],
            ..clean.clone()
        };
        assert_eq!(kinds(&state), [Kind::State]);
        let coin = Observed {
            alone: vec![ok(), bad("tails"), ok(), ok()],
            together: vec![bad("tails"), ok()],
            ..clean.clone()
        };
        assert_eq!(kinds(&coin), [Kind::Nondeterministic], "no race blamed on a coin");
        let network = Observed {
            network: Some(bad("connection refused")),
            ..clean.clone()
        };
        assert_eq!(kinds(&network), [Kind::Network]);
        let clock = Observed {
            clock: vec![("+3y".into(), bad("expired")), ("-3y".into(), ok())],
            ..clean.clone()
        };
        let (f, _) = judge("b", "t", &clock);
        assert_eq!(
            f[0].evidence,
            "fails with the clock shifted +3y (+3y: expired), passes on today's"
        );
        let broken = Observed {
            alone: vec![bad("no"); 3],
            leaked_files: vec!["x.tmp".into()],
            ..clean.clone()
        };
        let (f, record) = judge("b", "t", &broken);
        assert!(record.fails);
        assert_eq!(f.iter().map(|f| f.kind).collect::<Vec<_>>(), [Kind::LeakedFiles]);
        assert_eq!(f[0].evidence, "left 1 file in its temp dir: x.tmp");
        let eq = Observed {
            together: vec![bad("assertion `left == right` failed\n  left: 1\n right: 2")],
            ..clean
        };
        let (f, _) = judge("b", "t", &eq);
        assert_eq!(
            f[0].assertion.as_ref().map(|a| (a.left.as_str(), a.right.as_str())),
            Some(("1", "2"))
        );
    }
}
