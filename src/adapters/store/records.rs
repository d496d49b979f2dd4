//! What a kept run is: its record (trigger, outcome, counts), each test's
//! result, each suite's, and the coverage totals, made from a finished run.

use super::*;

/// One finished run, as it is kept.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub started_unix: f64,
    pub trigger: Trigger,
    pub outcome: Outcome,
    pub duration_s: f64,
    pub filterset: Option<String>,
    pub reasons: Vec<String>,
    pub changed: Vec<String>,
    pub fingerprint: String,
    pub counts: Counts,
    pub results: Vec<ResultRecord>,
    pub suites: Vec<SuiteRecord>,
    /// Line and branch (count, covered), overall and per file.
    pub coverage: Option<CoverageRecord>,
    /// The coverage maps this run measured.
    pub maps: Vec<(crate::core::testmap::TestKey, crate::core::testmap::TestMap)>,
    /// Test-level selection narrowed this run.
    pub narrowed: bool,
    /// A sweep: the selection misses it found.
    pub misses: u32,
    /// The faults injected during the run (`service=kind; …`; empty:
    /// none). Its results count toward no flakiness and no baseline.
    pub faults: String,
    /// The records, from their sources, of the tests it ran.
    pub sources: Vec<(crate::core::testmap::TestKey, crate::core::check::SourceRecord)>,
}

impl Default for RunRecord {
    fn default() -> Self {
        RunRecord {
            started_unix: 0.0,
            trigger: Trigger::Manual,
            outcome: Outcome::NoTests,
            duration_s: 0.0,
            filterset: None,
            reasons: Vec::new(),
            changed: Vec::new(),
            fingerprint: String::new(),
            counts: Counts::default(),
            results: Vec::new(),
            suites: Vec::new(),
            coverage: None,
            maps: Vec::new(),
            narrowed: false,
            misses: 0,
            faults: String::new(),
            sources: Vec::new(),
        }
    }
}

impl RunRecord {
    /// What the history keeps of a finished run (`None` for a run the model
    /// no longer holds).
    pub fn of(model: &crate::core::Model, s: &crate::core::report::RunSummary) -> Option<Self> {
        let run = model.runs.iter().find(|r| r.number == s.run)?;
        let ws = &model.workspace;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let results: Vec<ResultRecord> = model
            .catalog
            .suites
            .iter()
            .flat_map(|suite| {
                suite
                    .tests
                    .iter()
                    .filter(|t| t.run == Some(s.run))
                    .map(|t| ResultRecord {
                        test: TestId(suite.binary_id.to_string(), t.name.clone()),
                        state: t.state,
                        duration: t.duration,
                    })
            })
            .collect();
        Some(RunRecord {
            started_unix: now - s.duration_s,
            trigger: run.trigger,
            outcome: s.outcome,
            duration_s: s.duration_s,
            filterset: run.selection.filterset(),
            reasons: run.reasons.clone(),
            changed: run.changed.iter().map(|p| ws.relative(p)).collect(),
            fingerprint: run.fingerprint.clone(),
            counts: s.tests.clone(),
            coverage: s.coverage.as_ref().map(CoverageRecord::of),
            suites: s.suites.iter().map(SuiteRecord::of).collect(),
            narrowed: run.static_tests.is_some(),
            misses: run.misses,
            faults: run
                .faults
                .iter()
                .map(|f| format!("{}={}", f.service, f.kind))
                .collect::<Vec<_>>()
                .join("; "),
            maps: run
                .measured
                .iter()
                .filter_map(|k| model.test_maps.tests.get(k).map(|m| (k.clone(), m.clone())))
                .collect(),
            sources: results
                .iter()
                .filter_map(|r| model.sources.get(&r.test).map(|s| (r.test.clone(), s.clone())))
                .collect(),
            results,
        })
    }
}

/// One test's result in a kept run.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRecord {
    pub test: TestKey,
    pub state: TestState,
    pub duration: Option<Duration>,
}

impl ResultRecord {
    pub fn new(binary_id: &str, name: &str, state: TestState, duration: Option<Duration>) -> Self {
        ResultRecord {
            test: TestId(binary_id.to_owned(), name.to_owned()),
            state,
            duration,
        }
    }
}

/// One suite's result in a kept run.
#[derive(Clone, Debug, PartialEq)]
pub struct SuiteRecord {
    pub binary_id: String,
    pub suite_type: SuiteType,
    pub status: SuiteStatus,
    pub duration_s: f64,
    pub lines_reached: Option<u64>,
    pub lines_percent: Option<f64>,
    pub branches_reached: Option<u64>,
    pub branches_percent: Option<f64>,
    pub assertions: Option<u64>,
}

impl SuiteRecord {
    pub fn of(s: &SuiteSummary) -> Self {
        SuiteRecord {
            binary_id: s.binary_id.clone(),
            suite_type: s.suite_type,
            status: s.status,
            duration_s: s.duration_s,
            lines_reached: s.lines_reached,
            lines_percent: s.lines_percent,
            branches_reached: s.branches_reached,
            branches_percent: s.branches_percent,
            assertions: s.assertions,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct CoverageRecord {
    pub lines: Tally,
    pub branches: Option<Tally>,
    /// path, lines, branches.
    pub files: Vec<(String, Tally, Option<Tally>)>,
}

impl CoverageRecord {
    /// What the history keeps of a run's coverage report.
    pub fn of(c: &crate::core::report::CoverageReport) -> Self {
        CoverageRecord {
            lines: (c.lines.count, c.lines.covered),
            branches: c.branches.map(|b| (b.count, b.covered)),
            files: c
                .files
                .iter()
                .map(|f| {
                    (
                        f.path.clone(),
                        (f.lines.count, f.lines.covered),
                        f.branches.map(|b| (b.count, b.covered)),
                    )
                })
                .collect(),
        }
    }
}

/// (count, covered).
pub(crate) type Tally = (u64, u64);
