//! What past runs say about each test: recent durations (for p50/p95, the
//! "slower than its history" flag and the time-left estimate) and result
//! flips between runs of an unchanged tree (flaky tests). Pure: the store
//! loads it, the core keeps it current after every run.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::test_state::TestState;

/// How many recent durations are kept per test.
pub(crate) const WINDOW: usize = 20;
/// Below this many samples a test has no history worth comparing with.
pub(crate) const MIN_SAMPLES: usize = 5;
/// "Well past its p95": this factor over it…
pub(crate) const SLOW_FACTOR: f64 = 1.5;
/// …and this much over it, so 2 ms → 4 ms is not news.
pub(crate) const NOISE_FLOOR: Duration = Duration::from_millis(50);

#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct TestHistory {
    /// Durations of recent passing runs, oldest first, at most `WINDOW`.
    pub durations: Vec<f64>,
    /// The last pass/fail result and the tree it ran on.
    pub last: Option<(bool, String)>,
    /// Times the result flipped while the tree was the same.
    pub flips: u32,
    /// Runs it took part in (with a pass/fail result).
    pub runs: u32,
}

#[derive(Clone, Debug, Default)]
pub struct History {
    pub tests: HashMap<(String, String), TestHistory>,
    /// Recent runs, oldest first, at most `RUNS_KEPT`.
    pub runs: Vec<RunPoint>,
    /// Each suite's recent wall times (seconds), oldest first, at most `WINDOW`.
    pub suites: HashMap<String, Vec<f64>>,
    /// Each test's latest coverage map, as kept (handed to the model's
    /// `test_maps` when loaded).
    pub maps: Vec<(super::testmap::TestKey, super::testmap::TestMap)>,
    /// Runs test-level selection narrowed, and selection misses the
    /// sweeps found, over the whole history.
    pub narrowed_runs: u32,
    pub selection_misses: u32,
    /// What the history holds on disk, and what `history.keep` pruned as
    /// it opened (`None`: no history kept).
    pub kept: Option<Kept>,
    /// What checks found and no check has passed since (`vigil check`, `c`).
    pub findings: Vec<super::check::Finding>,
}

/// The history's size, for the history view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kept {
    pub runs: u64,
    pub bytes: u64,
    /// `history.keep`, as the user reads it ("the last 1000 runs").
    pub keep: String,
    /// Runs removed as the history opened.
    pub pruned: u64,
}

/// How many recent runs the history view keeps.
pub(crate) const RUNS_KEPT: usize = 60;

/// One past run, for the trend lines.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct RunPoint {
    pub duration_s: f64,
    pub total: usize,
    pub failed: usize,
    /// Line coverage in percent, when measured.
    pub coverage: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Flaky {
    pub binary_id: String,
    pub name: String,
    pub flips: u32,
    pub runs: u32,
    /// Likely flaky on first sight: why (it failed though no change since
    /// its last pass reached its coverage map, then passed when rerun).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Slower {
    pub binary_id: String,
    pub name: String,
    pub duration_s: f64,
    pub p95_s: f64,
}

/// The `q` quantile (0..=1) of `values`, nearest rank.
pub(crate) fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

impl TestHistory {
    pub fn p50(&self) -> Option<f64> {
        quantile(&self.durations, 0.5)
    }

    pub fn p95(&self) -> Option<f64> {
        quantile(&self.durations, 0.95)
    }

    /// Whether `d` is well past this test's usual time.
    pub(crate) fn is_slower(&self, d: Duration) -> bool {
        if self.durations.len() < MIN_SAMPLES {
            return false;
        }
        let Some(p95) = self.p95() else { return false };
        let d = d.as_secs_f64();
        d > p95 * SLOW_FACTOR && d - p95 > NOISE_FLOOR.as_secs_f64()
    }

    /// Takes one result in; returns true if it flipped on an unchanged tree.
    pub fn record(&mut self, state: TestState, duration: Option<Duration>, fingerprint: &str) -> bool {
        let passed = match state {
            TestState::Passed | TestState::Xpass => true,
            TestState::Failed | TestState::Xfail => false,
            TestState::Pending
            | TestState::Running
            | TestState::Skipped
            | TestState::Cancelled
            | TestState::Blocked => return false,
        };
        if passed {
            if let Some(d) = duration {
                self.durations.push(d.as_secs_f64());
                if self.durations.len() > WINDOW {
                    self.durations.remove(0);
                }
            }
        }
        self.runs += 1;
        let flipped =
            matches!(&self.last, Some((was, fp)) if *was != passed && fp == fingerprint && !fingerprint.is_empty());
        if flipped {
            self.flips += 1;
        }
        self.last = Some((passed, fingerprint.to_owned()));
        flipped
    }
}

impl History {
    pub fn get(&self, binary_id: &str, name: &str) -> Option<&TestHistory> {
        // Keyed by owned strings; lookups are per finished test, not per frame.
        self.tests.get(&(binary_id.to_owned(), name.to_owned()))
    }

    pub fn entry(&mut self, binary_id: &str, name: &str) -> &mut TestHistory {
        self.tests.entry((binary_id.to_owned(), name.to_owned())).or_default()
    }

    pub(crate) fn push_suite_time(&mut self, binary_id: &str, seconds: f64) {
        let v = self.suites.entry(binary_id.to_owned()).or_default();
        v.push(seconds);
        if v.len() > WINDOW {
            v.remove(0);
        }
    }

    pub fn push_run(&mut self, point: RunPoint) {
        self.runs.push(point);
        if self.runs.len() > RUNS_KEPT {
            self.runs.remove(0);
        }
    }

    /// The slowest tests by p50, slowest first.
    pub fn slowest(&self, n: usize) -> Vec<(&str, &str, f64, f64)> {
        let mut v: Vec<(&str, &str, f64, f64)> = self
            .tests
            .iter()
            .filter_map(|((b, t), h)| Some((b.as_str(), t.as_str(), h.p50()?, h.p95()?)))
            .collect();
        v.sort_by(|a, b| b.2.total_cmp(&a.2).then_with(|| (a.0, a.1).cmp(&(b.0, b.1))));
        v.truncate(n);
        v
    }

    /// Tests that flipped on an unchanged tree, most flips first.
    pub fn flaky(&self) -> Vec<Flaky> {
        let mut out: Vec<Flaky> = self
            .tests
            .iter()
            .filter(|(_, h)| h.flips > 0)
            .map(|((b, n), h)| Flaky {
                binary_id: b.clone(),
                name: n.clone(),
                flips: h.flips,
                runs: h.runs,
                evidence: None,
            })
            .collect();
        // What checks found counts too: a test found racy (or dependent on
        // the clock, the network, state left behind) is flaky by evidence.
        for f in self.findings.iter().filter(|f| {
            !matches!(
                f.kind,
                super::check::Kind::LeakedFiles | super::check::Kind::LeakedProcesses
            )
        }) {
            let evidence = format!("vigil check: {} — {}", f.kind.as_str(), f.evidence);
            match out.iter_mut().find(|x| x.binary_id == f.binary_id && x.name == f.name) {
                Some(x) => {
                    x.evidence.get_or_insert(evidence);
                }
                None => out.push(Flaky {
                    binary_id: f.binary_id.clone(),
                    name: f.name.clone(),
                    flips: 0,
                    runs: f.runs as u32,
                    evidence: Some(evidence),
                }),
            }
        }
        out.sort_by(|a, b| {
            b.flips
                .cmp(&a.flips)
                .then_with(|| (&a.binary_id, &a.name).cmp(&(&b.binary_id, &b.name)))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(10.0));
        assert_eq!(quantile(&v, 0.95), Some(19.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn slower_needs_samples_factor_and_noise_floor() {
        let mut h = TestHistory::default();
        for _ in 0..4 {
            h.record(TestState::Passed, Some(Duration::from_millis(100)), "a");
        }
        assert!(!h.is_slower(Duration::from_secs(5)), "too few samples");
        h.record(TestState::Passed, Some(Duration::from_millis(100)), "a");
        assert!(h.is_slower(Duration::from_millis(400)));
        assert!(!h.is_slower(Duration::from_millis(140)), "not 1.5× p95");
        let mut tiny = TestHistory::default();
        for _ in 0..5 {
            tiny.record(TestState::Passed, Some(Duration::from_millis(2)), "a");
        }
        assert!(!tiny.is_slower(Duration::from_millis(40)), "under the noise floor");
    }

    #[test]
    fn flips_count_only_on_an_unchanged_tree() {
        let mut h = TestHistory::default();
        assert!(!h.record(TestState::Passed, None, "tree1"));
        assert!(h.record(TestState::Failed, None, "tree1"));
        assert!(
            !h.record(TestState::Passed, None, "tree2"),
            "the code changed: not flaky"
        );
        assert!(h.record(TestState::Failed, None, "tree2"));
        assert!(!h.record(TestState::Cancelled, None, "tree2"), "no result, no flip");
        assert_eq!((h.flips, h.runs), (2, 4));
    }
}
