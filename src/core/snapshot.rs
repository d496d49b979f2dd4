//! What a new client of the engine gets before the events: the catalog
//! with each test's latest state, the latest run, coverage, services.
//! Fields are only ever added (`{"event":"snapshot",…}` on the socket).

use serde::Serialize;

use super::assertion::Assertion;
use super::catalog::SuiteType;
use super::coverage::Ratio;
use super::ids::RunId;
use super::model::Model;
use super::patch::PatchReport;
use super::report::Counts;
use super::run::{Outcome, Trigger};
use super::services::Health;
use super::test_state::{Location, TestState};

#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// The workspace's root (absolute).
    pub workspace: String,
    /// The latest run (`null`: none yet).
    pub run: Option<RunBrief>,
    /// Every known test's latest result, counted as `run_finished` counts
    /// a run's (never-run tests count as `cancelled`, as there).
    pub tests: Counts,
    pub suites: Vec<SuiteBrief>,
    /// The latest coverage (`null`: off, or not collected yet).
    pub coverage: Option<CoverageBrief>,
    pub services: Vec<ServiceBrief>,
    /// Tests the idle sweep found failing that selection had left out, not
    /// yet acknowledged.
    pub misses: usize,
    /// Whether the engine watches the tree.
    pub watching: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct RunBrief {
    pub run: RunId,
    pub trigger: Trigger,
    /// `null` while it runs.
    pub outcome: Option<Outcome>,
    pub active: bool,
    /// The latest run that ended (`null`: none has).
    pub finished: Option<RunId>,
    /// That run's outcome.
    pub finished_outcome: Option<Outcome>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct SuiteBrief {
    pub binary_id: String,
    pub package: String,
    pub kind: String,
    #[serde(rename = "type")]
    pub suite_type: SuiteType,
    /// The package's directory (absolute): where its sources are.
    pub dir: String,
    pub tests: Vec<TestBrief>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TestBrief {
    pub name: String,
    pub state: TestState,
    /// The run its state comes from (`null`: never run).
    pub run: Option<RunId>,
    /// Its result predates a change that can affect it.
    pub stale: bool,
    pub ignored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Its time budget, when one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_s: Option<f64>,
    /// A failure's message, or why it was blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assertion: Option<Assertion>,
    /// What its source says of it: `{"assertions","markers","fixtures"}`
    /// (`null`: its `fn` was not found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<super::check::SourceRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct CoverageBrief {
    pub run: Option<RunId>,
    pub lines: Ratio,
    pub branches: Option<Ratio>,
    /// Changed lines and which no test ran (`null`: no base).
    pub patch: Option<PatchReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ServiceBrief {
    pub name: String,
    pub state: Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn snapshot(model: &Model) -> Snapshot {
    let mut counts = Counts::default();
    let suites = model
        .catalog
        .suites
        .iter()
        .map(|s| {
            let dir = model
                .workspace
                .packages
                .iter()
                .find(|p| p.name == s.package)
                .map_or(model.workspace.root.clone(), |p| p.manifest_dir.clone());
            SuiteBrief {
                binary_id: s.binary_id.to_string(),
                package: s.package.clone(),
                kind: s.kind.clone(),
                suite_type: s.suite_type,
                dir: dir.display().to_string(),
                tests: s
                    .tests
                    .iter()
                    .map(|t| {
                        counts.add(t.state);
                        let failure = t.failure.as_ref().filter(|_| t.state.is_terminal());
                        TestBrief {
                            name: t.name.clone(),
                            state: t.state,
                            run: t.run,
                            stale: t.stale,
                            ignored: t.ignored,
                            duration_s: t.duration.map(|d| d.as_secs_f64()),
                            budget_s: model
                                .rules
                                .budgets
                                .test_limit(&s.binary_id, &t.name)
                                .map(|d| d.as_secs_f64()),
                            message: failure.map(|f| f.message.clone()).or_else(|| t.blocked.clone()),
                            location: failure.and_then(|f| f.location.clone()),
                            assertion: failure.and_then(|f| {
                                super::assertion::parse(&f.message).or_else(|| super::assertion::parse(&f.output))
                            }),
                            record: model
                                .sources
                                .get(&super::testmap::TestId::new(&*s.binary_id, t.name.as_str()))
                                .cloned(),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let finished = model.runs.iter().rev().find(|r| r.outcome.is_some());
    let run = model.runs.last().map(|r| RunBrief {
        run: r.number,
        trigger: r.trigger,
        outcome: r.outcome,
        active: r.outcome.is_none(),
        finished: finished.map(|f| f.number),
        finished_outcome: finished.and_then(|f| f.outcome),
    });
    let coverage = model.coverage.as_ref().map(|c| CoverageBrief {
        run: model.coverage_run,
        lines: c.lines(),
        branches: c.branches(),
        patch: model.patch.as_ref().map(|p| super::patch::patch_report(c, p)),
    });
    Snapshot {
        workspace: model.workspace.root.display().to_string(),
        run,
        tests: counts,
        suites,
        coverage,
        services: model
            .services
            .iter()
            .map(|s| ServiceBrief {
                name: s.spec.name.clone(),
                state: s.health,
                error: s.error.clone(),
            })
            .collect(),
        misses: model.sweep.misses.len(),
        watching: model.watching,
    }
}
