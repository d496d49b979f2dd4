//! One run: what it selected and why, its phase, and how it ended.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use super::ids::RunId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `vigil run`, or the first run of a session.
    Manual,
    /// A file change.
    Watch,
    /// A rerun asked for from the TUI.
    Key,
    /// The idle sweep: what test-level selection left out.
    Sweep,
    /// A service came back: the tests it blocked.
    Service,
    /// `vigil merge`: the shards of a partitioned run as one (history only).
    Merge,
    /// A client of the socket asked for it (`vigil send`, an editor).
    Client,
    /// Tests that failed though no change since their last pass reached
    /// them, run again: passing, they are likely flaky; failing again, a
    /// selection miss.
    Recheck,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Watch => "watch",
            Trigger::Key => "key",
            Trigger::Sweep => "sweep",
            Trigger::Service => "service",
            Trigger::Merge => "merge",
            Trigger::Client => "client",
            Trigger::Recheck => "recheck",
        }
    }

    pub(crate) const ALL: [Trigger; 8] = [
        Trigger::Manual,
        Trigger::Watch,
        Trigger::Key,
        Trigger::Sweep,
        Trigger::Service,
        Trigger::Merge,
        Trigger::Client,
        Trigger::Recheck,
    ];

    /// The trigger `as_str` names (`None`: no trigger is called that).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What a run covers, as nextest will be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    All,
    /// A nextest filterset expression (`-E` syntax).
    Filter {
        expr: String,
        reasons: Vec<String>,
    },
    /// Whatever these changed files affect; resolved into `All` or `Filter`
    /// by the selection rules when the run starts.
    Changed {
        files: Vec<PathBuf>,
    },
}

impl Selection {
    pub fn filterset(&self) -> Option<String> {
        match self {
            Selection::All | Selection::Changed { .. } => None,
            Selection::Filter { expr, .. } => Some(expr.clone()),
        }
    }

    pub fn reasons(&self) -> Vec<String> {
        match self {
            Selection::All => vec!["all tests of the workspace".to_owned()],
            Selection::Filter { reasons, .. } => reasons.clone(),
            Selection::Changed { files } => files.iter().map(|f| format!("`{}` changed", f.display())).collect(),
        }
    }
}

/// Where a run is, from its request to its end: one state, where flags
/// beside each other (collecting, held, built) used to say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `nextest list` is building and listing; `built`: the build is
    /// done (its tests are starting), the list is still to come.
    Building {
        built: bool,
    },
    /// Listed: its tests run (their results stream in).
    Running,
    /// nextest (and the doc lane) ended with this outcome; the coverage
    /// profiles are being read.
    Collecting(Outcome),
    /// Ended while the history was still being read: how, when, and
    /// whether it had been listed. It ends once the history is in.
    Held {
        outcome: Outcome,
        at: Duration,
        listed: bool,
    },
    Finished,
}

impl Phase {
    /// Not listed yet: building, or held before its list came.
    pub fn building(self) -> bool {
        matches!(self, Phase::Building { .. } | Phase::Held { listed: false, .. })
    }

    /// Listed, and not finished: its tests run or have run.
    pub fn listed(self) -> bool {
        matches!(
            self,
            Phase::Running | Phase::Collecting(_) | Phase::Held { listed: true, .. }
        )
    }
}

/// A run's services, before its `nextest run` starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ServiceWait {
    /// Nothing to wait for, or every needed service has answered (the
    /// blocked tests are known).
    #[default]
    Settled,
    /// `nextest run` waits for probes, with the filterset it will get.
    Waiting(Option<String>),
    /// Stopped while it waited: no `nextest run` was started.
    Abandoned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    BuildFailed,
    ListFailed,
    NoTests,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::BuildFailed => "build_failed",
            Outcome::ListFailed => "list_failed",
            Outcome::NoTests => "no_tests",
            Outcome::Cancelled => "cancelled",
        }
    }

    pub(crate) const ALL: [Outcome; 6] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::BuildFailed,
        Outcome::ListFailed,
        Outcome::NoTests,
        Outcome::Cancelled,
    ];

    /// The outcome `as_str` names (`None`: no outcome is called that).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// A run that measured the tree: not cancelled, built and listed.
    pub fn measured(self) -> bool {
        !matches!(self, Outcome::Cancelled | Outcome::BuildFailed | Outcome::ListFailed)
    }
}

#[derive(Clone, Debug)]
pub struct Run {
    pub number: RunId,
    pub trigger: Trigger,
    pub selection: Selection,
    /// Why the run runs what it runs.
    pub reasons: Vec<String>,
    /// The change set that started it (watch, `--changed`, `--since`).
    pub changed: Vec<PathBuf>,
    /// What its changed manifests reach (given back if it is stopped).
    pub verdicts: BTreeMap<PathBuf, super::manifest::Verdict>,
    /// Selected binary id → why, when the selection came from changes.
    pub binary_reasons: BTreeMap<String, String>,
    /// Why each selected package is in, for binaries named only by the list.
    pub package_reasons: BTreeMap<String, String>,
    /// A digest of the workspace's files when the run started: two runs
    /// with the same one ran the same code.
    pub fingerprint: String,
    /// Clock time of the request.
    pub started: Duration,
    pub finished: Option<Duration>,
    pub phase: Phase,
    pub outcome: Option<Outcome>,
    pub cancel_requested: bool,
    /// nextest refused the filterset expression.
    pub bad_filter: bool,
    pub build_errors: Vec<BuildDiagnostic>,
    /// What nextest wrote to stderr when it failed (list or run).
    pub tool_stderr: Option<String>,
    pub selected_binaries: Vec<Arc<str>>,
    pub selected_tests: usize,
    /// Tests finished so far (any terminal state).
    pub done: usize,
    pub unparsed_lines: usize,
    pub anomalies: usize,
    pub warnings: Vec<String>,
    /// Budget verdicts and slower-than-history tests, once finished.
    pub budgets: super::budget::BudgetReport,
    pub slower: Vec<super::history::Slower>,
    /// What the run stream said before the list arrived (list and run go
    /// side by side): applied, in order, once the tests are known.
    pub early: Vec<EarlyMsg>,
    /// Started on the cached listing, without a `nextest list`: the build
    /// decides whether the cache still holds.
    pub provisional: bool,
    /// Tests whose coverage maps this run measured anew (not as they were
    /// already known): the ones its history record keeps.
    pub measured: Vec<super::testmap::TestKey>,
    /// Test-level selection: each selected test with a map → why.
    pub test_reasons: BTreeMap<super::testmap::TestKey, String>,
    /// Test-level selection narrowed the run: how many tests the static
    /// tier (binaries by the graph) would have run.
    pub static_tests: Option<usize>,
    /// A sweep: how many tests the maps had cleared failed.
    pub misses: u32,
    /// What its tests left running (from the runner's records).
    pub leaks: Vec<super::check::Finding>,
    /// The faults services' proxies inject during this run: its failures
    /// are not flaky, and it is no baseline.
    pub faults: Vec<super::faults::FaultLabel>,
    /// Services probed before the tests start (names); the run's
    /// `nextest run` waits (`services`) until each has answered.
    pub awaiting_services: Vec<String>,
    pub services: ServiceWait,
    /// Services this run needs (names), and those down that block tests.
    pub services_needed: Vec<String>,
    pub blocked_by: Vec<String>,
    /// Services vigil tried to start for this run (once each).
    pub start_tried: Vec<String>,
    /// Packages whose doctests run beside nextest (the doc lane).
    pub doc_packages: Vec<String>,
    /// Name filters for the doc lane (empty: every doctest of
    /// `doc_packages`).
    pub doc_filters: Vec<String>,
    /// Where the doc lane is.
    pub doc_lane: DocLane,
}

/// The doc lane of a run: started beside nextest's run (both are builds,
/// then processes: on 2 cores, beside was 1.33x faster than after on
/// semver), done when `cargo test --doc` ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DocLane {
    #[default]
    Idle,
    Running,
    /// nextest has ended with this outcome; the doctests are still running.
    Awaited(Outcome),
    Done,
}

impl DocLane {
    /// `cargo test --doc` is in flight.
    pub fn running(self) -> bool {
        matches!(self, DocLane::Running | DocLane::Awaited(_))
    }
}

/// A run-stream message held back until the list has arrived.
#[derive(Clone, Debug)]
pub enum EarlyMsg {
    Test {
        event: super::test_state::TestEvent,
        at: Duration,
    },
    Exited {
        exit: ToolExit,
        stderr: String,
        at: Duration,
    },
    /// The doc lane's results, and its end.
    Doctests {
        suite: super::catalog::ListedSuite,
        events: Vec<super::test_state::TestEvent>,
        at: Duration,
    },
    DoctestsDone {
        error: Option<String>,
        at: Duration,
    },
}

impl Run {
    pub fn new(number: RunId, trigger: Trigger, selection: Selection, at: Duration) -> Self {
        Self {
            number,
            trigger,
            reasons: selection.reasons(),
            selection,
            changed: Vec::new(),
            verdicts: BTreeMap::new(),
            binary_reasons: BTreeMap::new(),
            package_reasons: BTreeMap::new(),
            fingerprint: String::new(),
            started: at,
            finished: None,
            phase: Phase::Building { built: false },
            outcome: None,
            cancel_requested: false,
            bad_filter: false,
            build_errors: Vec::new(),
            tool_stderr: None,
            selected_binaries: Vec::new(),
            selected_tests: 0,
            done: 0,
            unparsed_lines: 0,
            anomalies: 0,
            warnings: Vec::new(),
            budgets: Default::default(),
            slower: Vec::new(),
            awaiting_services: Vec::new(),
            services: ServiceWait::Settled,
            services_needed: Vec::new(),
            blocked_by: Vec::new(),
            start_tried: Vec::new(),
            doc_packages: Vec::new(),
            doc_filters: Vec::new(),
            doc_lane: DocLane::Idle,
            early: Vec::new(),
            provisional: false,
            measured: Vec::new(),
            test_reasons: BTreeMap::new(),
            static_tests: None,
            misses: 0,
            leaks: Vec::new(),
            faults: Vec::new(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.phase != Phase::Finished
    }

    pub fn elapsed(&self, now: Duration) -> Duration {
        self.finished.unwrap_or(now).saturating_sub(self.started)
    }
}

/// How a nextest process ended, classified by the adapter from nextest's
/// documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolExit {
    Success,
    TestsFailed,
    NoTests,
    BuildFailed,
    ListFailed,
    BadFilter,
    /// Killed by a signal (no exit code).
    Killed,
    Other(i32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildDiagnostic {
    /// `error`, `warning`, …
    pub level: String,
    /// cargo's rendered text, colourless.
    pub rendered: String,
}
