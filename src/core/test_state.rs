//! One test's life in a run: the state machine
//! `Pending → Running → Passed | Failed | Skipped | Xfail | Xpass | Cancelled`,
//! with every transition kept with its time.

use crate::core::ids::RunId;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestState {
    #[default]
    Pending,
    Running,
    Passed,
    Failed,
    Skipped,
    /// Failed, and listed as an expected failure.
    Xfail,
    /// Passed, though listed as an expected failure: worth a look.
    Xpass,
    Cancelled,
    /// Not run: a service it needs was down (`TestCase::blocked` says which).
    Blocked,
}

impl TestState {
    pub fn as_str(self) -> &'static str {
        match self {
            TestState::Pending => "pending",
            TestState::Running => "running",
            TestState::Passed => "passed",
            TestState::Failed => "failed",
            TestState::Skipped => "skipped",
            TestState::Xfail => "xfail",
            TestState::Xpass => "xpass",
            TestState::Cancelled => "cancelled",
            TestState::Blocked => "blocked",
        }
    }

    pub(crate) const ALL: [TestState; 9] = [
        TestState::Pending,
        TestState::Running,
        TestState::Passed,
        TestState::Failed,
        TestState::Skipped,
        TestState::Xfail,
        TestState::Xpass,
        TestState::Cancelled,
        TestState::Blocked,
    ];

    /// The state `as_str` names (`None`: no state is called that).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        match self {
            TestState::Pending | TestState::Running => false,
            TestState::Passed
            | TestState::Failed
            | TestState::Skipped
            | TestState::Xfail
            | TestState::Xpass
            | TestState::Cancelled
            | TestState::Blocked => true,
        }
    }
}

/// A state change, `at` measured from the start of its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: TestState,
    pub to: TestState,
    pub at: Duration,
}

/// Where a test panicked, parsed out of its output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The panic message (location line and text, without the backtrace).
    pub message: String,
    /// What the test printed, held to `output.max` (its head and tail,
    /// with a line saying what was cut).
    pub output: String,
    pub location: Option<Location>,
    /// Where the whole output is, when it was longer than what is held.
    pub output_file: Option<String>,
    /// How long the whole output is, when it was cut.
    pub output_bytes: Option<u64>,
}

/// A test and what vigil knows of its latest run.
#[derive(Clone, Debug, Default)]
pub struct TestCase {
    pub name: String,
    pub ignored: bool,
    /// Listed as an expected failure in the config.
    pub xfail: bool,
    pub state: TestState,
    /// The run this state comes from (`None`: never run).
    pub run: Option<RunId>,
    /// Transitions of that run.
    pub transitions: Vec<Transition>,
    /// Clock time (since app start) of the current attempt's start.
    pub started_at: Option<Duration>,
    pub duration: Option<Duration>,
    pub failure: Option<Failure>,
    /// Peak resident memory seen while it ran (sampled, so a floor).
    pub peak_memory: Option<u64>,
    /// Why it was blocked ("`bridge` is unreachable: connection refused").
    pub blocked: Option<String>,
    /// Its result predates a change the selection says can affect it, and
    /// it has not rerun yet (queued, or a doctest still waiting): shown as
    /// stale, never with its old result.
    pub stale: bool,
    /// It passed, and no change since has reached it (every change since
    /// was placed by the coverage maps and cleared it): a failure now is
    /// likely flaky, once a rerun passes.
    pub clean_since_pass: bool,
}

/// Why an event could not be applied (recorded, then ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub state: TestState,
    pub event: &'static str,
}

impl TestCase {
    pub fn new(name: &str, ignored: bool) -> Self {
        Self {
            name: name.to_owned(),
            ignored,
            state: if ignored {
                TestState::Skipped
            } else {
                TestState::Pending
            },
            ..Self::default()
        }
    }

    /// Enrols the test in a run: it becomes pending (ignored: skipped right
    /// away is left to the stream, which reports ignored tests).
    pub(crate) fn enrol(&mut self, run: RunId) {
        self.state = TestState::Pending;
        self.run = Some(run);
        self.transitions.clear();
        self.started_at = None;
        self.duration = None;
        self.failure = None;
        self.peak_memory = None;
        self.blocked = None;
        self.stale = false;
    }

    /// Applies one event. `now` is clock time; `run_start` the clock time of
    /// the run's start, so transitions carry run-relative times.
    pub fn apply(&mut self, event: &TestEventKind, now: Duration, run_start: Duration) -> Result<Transition, Anomaly> {
        let from = self.state;
        let to = match (event, from) {
            (TestEventKind::Started { .. }, TestState::Pending) => TestState::Running,
            // A retry: nextest starts the same test again after a failure.
            (TestEventKind::Started { attempt }, s) if *attempt > 1 && s.is_terminal() => TestState::Running,
            (TestEventKind::Passed { .. }, TestState::Running) => {
                if self.xfail {
                    TestState::Xpass
                } else {
                    TestState::Passed
                }
            }
            (TestEventKind::Failed { .. }, TestState::Running) => {
                if self.xfail {
                    TestState::Xfail
                } else {
                    TestState::Failed
                }
            }
            (TestEventKind::Ignored, TestState::Pending | TestState::Running) => TestState::Skipped,
            (TestEventKind::Cancelled, TestState::Pending | TestState::Running) => TestState::Cancelled,
            (TestEventKind::Blocked { .. }, TestState::Pending) => TestState::Blocked,
            (event, state) => {
                return Err(Anomaly {
                    state,
                    event: event.name(),
                })
            }
        };
        match event {
            TestEventKind::Started { .. } => {
                self.started_at = Some(now);
                self.duration = None;
                self.failure = None;
            }
            TestEventKind::Passed { exec_time } => self.finish(*exec_time, now),
            TestEventKind::Failed { exec_time, failure } => {
                self.finish(*exec_time, now);
                self.failure = Some(failure.clone());
            }
            TestEventKind::Ignored => {}
            TestEventKind::Blocked { why } => self.blocked = Some(why.clone()),
            TestEventKind::Cancelled => {
                self.duration = self.started_at.map(|s| now.saturating_sub(s));
            }
        }
        self.state = to;
        let transition = Transition {
            from,
            to,
            at: now.saturating_sub(run_start),
        };
        self.transitions.push(transition);
        Ok(transition)
    }

    fn finish(&mut self, exec_time: Option<Duration>, now: Duration) {
        self.duration = exec_time.or_else(|| self.started_at.map(|s| now.saturating_sub(s)));
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestEvent {
    pub binary_id: Arc<str>,
    pub name: String,
    pub kind: TestEventKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TestEventKind {
    /// `attempt` is 1 for the first try, more for retries.
    Started {
        attempt: u32,
    },
    Passed {
        exec_time: Option<Duration>,
    },
    Failed {
        exec_time: Option<Duration>,
        failure: Failure,
    },
    Ignored,
    Cancelled,
    /// Not run: a service it needs is down.
    Blocked {
        why: String,
    },
}

impl TestEventKind {
    pub fn name(&self) -> &'static str {
        match self {
            TestEventKind::Started { .. } => "started",
            TestEventKind::Passed { .. } => "passed",
            TestEventKind::Failed { .. } => "failed",
            TestEventKind::Ignored => "ignored",
            TestEventKind::Cancelled => "cancelled",
            TestEventKind::Blocked { .. } => "blocked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn failed() -> TestEventKind {
        TestEventKind::Failed {
            exec_time: Some(secs(0.5)),
            failure: Failure {
                message: "boom".into(),
                output: "boom".into(),
                location: None,
                output_file: None,
                output_bytes: None,
            },
        }
    }

    #[test]
    fn pending_running_passed_records_times() {
        let mut t = TestCase::new("a", false);
        t.enrol(RunId(1));
        t.apply(&TestEventKind::Started { attempt: 1 }, secs(10.0), secs(9.0))
            .unwrap();
        let tr = t
            .apply(&TestEventKind::Passed { exec_time: None }, secs(10.25), secs(9.0))
            .unwrap();
        assert_eq!(t.state, TestState::Passed);
        assert_eq!(tr.at, secs(1.25));
        assert_eq!(t.duration, Some(secs(0.25)));
        assert_eq!(t.transitions.len(), 2);
    }

    #[test]
    fn xfail_test_failing_is_xfail_and_passing_is_xpass() {
        let mut t = TestCase::new("a", false);
        t.xfail = true;
        t.enrol(RunId(1));
        t.apply(&TestEventKind::Started { attempt: 1 }, secs(1.0), secs(0.0))
            .unwrap();
        t.apply(&failed(), secs(2.0), secs(0.0)).unwrap();
        assert_eq!(t.state, TestState::Xfail);
        t.enrol(RunId(2));
        t.apply(&TestEventKind::Started { attempt: 1 }, secs(1.0), secs(0.0))
            .unwrap();
        t.apply(&TestEventKind::Passed { exec_time: None }, secs(2.0), secs(0.0))
            .unwrap();
        assert_eq!(t.state, TestState::Xpass);
    }

    #[test]
    fn finish_without_start_is_an_anomaly_and_changes_nothing() {
        let mut t = TestCase::new("a", false);
        t.enrol(RunId(1));
        let err = t.apply(&failed(), secs(1.0), secs(0.0)).unwrap_err();
        assert_eq!(err.state, TestState::Pending);
        assert_eq!(t.state, TestState::Pending);
        assert!(t.transitions.is_empty());
    }

    #[test]
    fn retry_restarts_a_failed_test() {
        let mut t = TestCase::new("a", false);
        t.enrol(RunId(1));
        t.apply(&TestEventKind::Started { attempt: 1 }, secs(1.0), secs(0.0))
            .unwrap();
        t.apply(&failed(), secs(2.0), secs(0.0)).unwrap();
        assert!(t
            .apply(&TestEventKind::Started { attempt: 1 }, secs(3.0), secs(0.0))
            .is_err());
        t.apply(&TestEventKind::Started { attempt: 2 }, secs(3.0), secs(0.0))
            .unwrap();
        t.apply(&TestEventKind::Passed { exec_time: None }, secs(4.0), secs(0.0))
            .unwrap();
        assert_eq!(t.state, TestState::Passed);
        assert!(t.failure.is_none());
    }
}
