//! The headless contract: the events `vigil run --format json` prints, one
//! JSON object a line. Later features add fields; none is ever renamed.

use crate::core::ids::RunId;
use serde::Serialize;

use super::budget::BudgetReport;
use super::catalog::SuiteType;
use super::coverage::{MissingBranch, Ratio, ThresholdVerdict};
use super::history::{Flaky, Slower};
use super::run::{Outcome, Trigger};
use super::test_state::{Location, TestCase, TestState, Transition};

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    RunStarted {
        run: RunId,
        trigger: Trigger,
        selected: Selected,
        #[serde(default)]
        reasons: Vec<String>,
        /// Files whose change started the run (workspace-relative).
        #[serde(default)]
        changed: Vec<String>,
        /// Selected binary id → why (runs started by changes).
        #[serde(default)]
        binary_reasons: std::collections::BTreeMap<String, String>,
        /// Test-level selection narrowed the run: how many tests the static
        /// tier would have run (`null`: it did not).
        #[serde(default)]
        static_tests: Option<usize>,
        /// Each selected test with a coverage map → why it runs.
        #[serde(default)]
        test_reasons: Vec<TestReason>,
        /// The faults services' proxies inject during the run.
        #[serde(default)]
        faults: Vec<super::faults::FaultLabel>,
    },
    /// A call through a service's proxy (`--calls`).
    ServiceCall(Box<CallReport>),
    /// The idle sweep starts: the tests test-level selection left out.
    SweepStarted {
        run: RunId,
        tests: usize,
        /// The changes they were left out for.
        #[serde(default)]
        changed: Vec<String>,
    },
    /// The sweep ended: `misses` are tests the maps cleared that failed.
    SweepFinished {
        run: RunId,
        tests: usize,
        #[serde(default)]
        misses: Vec<super::sweep::Miss>,
    },
    /// A change set that cannot affect any test: nothing runs.
    ChangeIgnored {
        #[serde(default)]
        changed: Vec<String>,
        /// Why they select nothing ("no build or test reads it").
        #[serde(default)]
        why: String,
    },
    Test(TestTransition),
    BuildError {
        run: RunId,
        #[serde(default)]
        message: String,
    },
    /// Something the user should know that does not stop the run (skipped
    /// unparseable output, an impossible transition).
    Warning {
        run: RunId,
        #[serde(default)]
        message: String,
    },
    RunFinished(Box<RunSummary>),
    /// `vigil check` starts: how many tests, how often, which checks.
    CheckStarted {
        tests: usize,
        runs: usize,
        parallel: usize,
        #[serde(default)]
        checks: Vec<String>,
    },
    /// `vigil check` ended: each test's record and the findings.
    CheckFinished(Box<super::check::CheckSummary>),
    /// A service changed state (`at_s`: seconds since vigil started).
    Service {
        #[serde(default)]
        name: String,
        from: super::services::Health,
        to: super::services::Health,
        at_s: f64,
        #[serde(default)]
        latency_ms: Option<f64>,
        #[serde(default)]
        error: Option<String>,
    },
}

impl Report {
    /// Every `event` name, as serialized.
    pub(crate) const KINDS: &'static [&'static str] = &[
        "run_started",
        "sweep_started",
        "sweep_finished",
        "change_ignored",
        "test",
        "build_error",
        "warning",
        "run_finished",
        "service",
        "check_started",
        "check_finished",
        "service_call",
    ];

    /// The run an event belongs to (`None`: it belongs to none).
    pub fn run(&self) -> Option<RunId> {
        match self {
            Report::RunStarted { run, .. }
            | Report::SweepStarted { run, .. }
            | Report::SweepFinished { run, .. }
            | Report::BuildError { run, .. }
            | Report::Warning { run, .. } => Some(*run),
            Report::Test(t) => Some(t.run),
            Report::RunFinished(s) => Some(s.run),
            Report::ChangeIgnored { .. }
            | Report::Service { .. }
            | Report::CheckStarted { .. }
            | Report::CheckFinished(_)
            | Report::ServiceCall(_) => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Selected {
    pub binaries: Vec<String>,
    pub tests: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct TestTransition {
    pub run: RunId,
    pub binary_id: String,
    pub name: String,
    pub from: TestState,
    pub to: TestState,
    pub at_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// What a failed test printed (for JUnit and merged shards), held to
    /// `output.max`: its head and tail, with a line saying what was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Where the whole output is, when `output` was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
    /// The whole output's size in bytes, when `output` was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
}

impl TestTransition {
    /// What a test's transition says: its failure with the terminal state
    /// that carries one, its duration once it has ended.
    pub fn of(run: RunId, binary_id: &str, test: &TestCase, tr: Transition) -> Self {
        let terminal = tr.to.is_terminal();
        let failure = match tr.to {
            TestState::Failed | TestState::Xfail => test.failure.as_ref(),
            TestState::Blocked => None,
            TestState::Pending
            | TestState::Running
            | TestState::Passed
            | TestState::Skipped
            | TestState::Xpass
            | TestState::Cancelled => None,
        };
        TestTransition {
            run,
            binary_id: binary_id.to_owned(),
            name: test.name.clone(),
            from: tr.from,
            to: tr.to,
            at_s: secs(tr.at),
            duration_s: terminal.then(|| secs(test.duration.unwrap_or_default())),
            message: match tr.to {
                TestState::Blocked => test.blocked.clone(),
                _ => failure.map(|f| f.message.clone()),
            },
            location: failure.and_then(|f| f.location.clone()),
            output: failure.map(|f| f.output.clone()),
            output_file: failure.and_then(|f| f.output_file.clone()),
            output_bytes: failure.and_then(|f| f.output_bytes),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub xfail: usize,
    pub xpass: usize,
    pub cancelled: usize,
    /// Not run: a service they need was down.
    pub blocked: usize,
}

impl Counts {
    pub fn add(&mut self, state: TestState) {
        self.total += 1;
        match state {
            TestState::Passed => self.passed += 1,
            TestState::Failed => self.failed += 1,
            TestState::Skipped => self.skipped += 1,
            TestState::Xfail => self.xfail += 1,
            TestState::Xpass => self.xpass += 1,
            TestState::Blocked => self.blocked += 1,
            TestState::Cancelled | TestState::Pending | TestState::Running => self.cancelled += 1,
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        self.total += other.total;
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.xfail += other.xfail;
        self.xpass += other.xpass;
        self.cancelled += other.cancelled;
        self.blocked += other.blocked;
    }
}

/// How a suite's tests of one run came out, as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteStatus {
    Passed,
    Failed,
    /// Every test was skipped.
    Skipped,
    Cancelled,
    /// Some tests were blocked by a service that was down.
    Blocked,
}

impl SuiteStatus {
    /// Failed over cancelled over all-skipped over passed.
    pub fn of(c: &Counts) -> Self {
        if c.failed > 0 {
            SuiteStatus::Failed
        } else if c.cancelled > 0 {
            SuiteStatus::Cancelled
        } else if c.blocked > 0 {
            SuiteStatus::Blocked
        } else if c.skipped == c.total {
            SuiteStatus::Skipped
        } else {
            SuiteStatus::Passed
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SuiteStatus::Passed => "passed",
            SuiteStatus::Failed => "failed",
            SuiteStatus::Skipped => "skipped",
            SuiteStatus::Cancelled => "cancelled",
            SuiteStatus::Blocked => "blocked",
        }
    }

    /// The status `as_str` names.
    pub fn parse(s: &str) -> Option<Self> {
        [
            SuiteStatus::Passed,
            SuiteStatus::Failed,
            SuiteStatus::Skipped,
            SuiteStatus::Cancelled,
            SuiteStatus::Blocked,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct SuiteSummary {
    pub binary_id: String,
    /// Cargo target kind (`lib`, `test`, `bin`…).
    pub kind: String,
    #[serde(rename = "type")]
    pub suite_type: SuiteType,
    pub status: SuiteStatus,
    /// Wall time from the suite's first test starting to its last finishing.
    pub duration_s: f64,
    pub tests: usize,
    /// The lines its tests reach, from the union of their coverage maps
    /// (`null`: no map), and that share of the workspace's executable
    /// lines in percent (`null`: coverage unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_reached: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines_percent: Option<f64>,
    /// The branch outcomes its tests take, from their maps, and that share
    /// of the workspace's outcomes (`null`: branches not measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches_reached: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches_percent: Option<f64>,
    /// The assertion macros in its tests' sources, where vigil found them
    /// (`null`: it found none of its tests' sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertions: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct FailureSummary {
    pub binary_id: String,
    pub name: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A service it needs that went down around the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The two values of a failed `assert_eq!`/`assert_ne!`, when vigil
    /// could read them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion: Option<super::assertion::Assertion>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Gate {
    pub passed: bool,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct RunSummary {
    pub run: RunId,
    pub outcome: Outcome,
    pub duration_s: f64,
    #[serde(default)]
    pub tests: Counts,
    #[serde(default)]
    pub suites: Vec<SuiteSummary>,
    #[serde(default)]
    pub failures: Vec<FailureSummary>,
    /// Tests that passed though listed as expected failures.
    #[serde(default)]
    pub xpass: Vec<TestRef>,
    /// cargo's diagnostics, when the build failed.
    #[serde(default)]
    pub build_errors: Vec<String>,
    /// nextest's own error output, when listing or running failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub tool_error: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Timing budgets: limits broken (violations) and nearly broken (from
    /// 80 %, warnings).
    #[serde(default)]
    pub budgets: BudgetReport,
    /// Tests of this run whose result flipped between runs of an unchanged
    /// tree, with how often.
    #[serde(default)]
    pub flaky: Vec<Flaky>,
    /// Tests well past their own p95 duration.
    #[serde(default)]
    pub slower: Vec<Slower>,
    /// Test-hygiene warnings (naming, tests that assert nothing), when
    /// enabled in the config.
    #[serde(default)]
    pub hygiene: Vec<super::hygiene::HygieneWarning>,
    /// Line and branch coverage over every test binary's latest profile
    /// (`null` when coverage is off).
    #[serde(default)]
    pub coverage: Option<CoverageReport>,
    /// Each configured service as the run ended, with the tests it blocked.
    #[serde(default)]
    pub services: Vec<ServiceSummary>,
    pub gate: Gate,
    /// How many shards `vigil merge` merged (only in a merged run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<usize>,
    /// Processes the run's tests left running after they exited (coverage
    /// mode, where vigil is the tests' runner and their subreaper): kind
    /// `leaked_processes`, stopped when the run ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaks: Vec<super::check::Finding>,
    /// The faults services' proxies injected during the run.
    #[serde(default)]
    pub faults: Vec<super::faults::FaultLabel>,
}

/// `{"event":"service_call"}`: one HTTP request or TCP connection through
/// a service's proxy, and the test that made it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct CallReport {
    pub service: String,
    pub test: Option<TestRef>,
    /// How the test was found: `socket` (the connection's owner) or
    /// `during` (the one test of the service running then).
    pub attributed: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub latency_ms: f64,
    /// Both ways; `bytes_sent` to the service, `bytes_received` back.
    pub bytes: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub fault: Option<String>,
    pub ended: super::faults::Ended,
    /// Seconds since vigil started.
    pub at_s: f64,
    pub pid: Option<i32>,
    /// Answered by the proxy's stub.
    #[serde(default)]
    pub stub: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TestReason {
    pub binary_id: String,
    pub name: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TestRef {
    pub binary_id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct CoverageReport {
    pub lines: Ratio,
    pub branches: Option<Ratio>,
    /// Functions with at least one execution, llvm-cov's count.
    pub functions: Ratio,
    pub files: Vec<FileReport>,
    pub delta: CoverageDelta,
    pub thresholds: Vec<ThresholdVerdict>,
    /// Changed lines since the base (`--since REV`, `coverage.base`):
    /// `null` without one.
    pub patch: Option<super::patch::PatchReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct FileReport {
    pub path: String,
    pub lines: Ratio,
    pub branches: Option<Ratio>,
    pub functions: Ratio,
    pub uncovered_lines: Vec<[u32; 2]>,
    pub missing_branches: Vec<MissingBranch>,
    /// Percentage points against the previous run (`null`: new file).
    pub delta_lines_pp: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct CoverageDelta {
    /// Percentage points against the previous run's coverage (`null`: no
    /// previous run with coverage).
    pub lines_pp: Option<f64>,
    pub branches_pp: Option<f64>,
}

/// `run_finished.services[]`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    pub state: super::services::Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The tests of this run it blocked.
    pub blocked: Vec<TestRef>,
    /// Its blocked tests do not fail the gate.
    pub allow_blocked: bool,
    /// The calls through its proxy during the run (`null`: it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<super::faults::CallSummary>,
    /// The fault its proxy injected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Its proxy's stub answered for it (the service was not there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stub: bool,
}

pub use super::units::secs;
