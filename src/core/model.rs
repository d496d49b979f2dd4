//! The whole state of vigil: workspace, catalog with every test's latest
//! result, the runs of this session, and the rules from the config (`rules`).

use crate::core::ids::RunId;
use std::time::Duration;

use super::catalog::{Catalog, Workspace};
use super::coverage::Coverage;
use super::history::History;
use super::hygiene::HygieneWarning;
use super::inputs::Inputs;
use super::run::{Run, Selection, Trigger};
use super::ui_state::UiState;

pub use super::rules::{OnChange, Rules, XfailRule};

/// A change set waiting for the reload its manifests asked for.
#[derive(Clone, Debug)]
pub struct AwaitingReload {
    pub trigger: Trigger,
    pub files: Vec<std::path::PathBuf>,
    pub at: Duration,
    /// The manifests' texts as read before the change.
    pub baseline: std::collections::BTreeMap<std::path::PathBuf, String>,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    pub workspace: Workspace,
    pub rules: Rules,
    pub catalog: Catalog,
    /// Runs of this session, oldest first; the last is the current one.
    pub runs: Vec<Run>,
    /// A run asked for while another was in flight: starts when that one ends.
    pub queued: Option<(Trigger, Selection)>,
    /// Latest clock reading (from ticks and timestamped messages).
    pub now: Duration,
    pub ui: UiState,
    /// What past runs say about each test (loaded from the store, kept
    /// current after every run).
    pub history: History,
    /// The latest test-hygiene findings (when enabled).
    pub hygiene: Vec<HygieneWarning>,
    /// Each test's record from its source, by test (read at each run's
    /// start).
    pub sources: std::collections::HashMap<super::testmap::TestKey, super::check::SourceRecord>,
    /// Whether runs are instrumented (usable LLVM tools were found).
    pub coverage_on: bool,
    /// The latest coverage, the run it is from, and the one before it.
    pub coverage: Option<Coverage>,
    pub coverage_run: Option<RunId>,
    /// The coverage shown comes from the history (run id there), until this
    /// session's first coverage run ends.
    pub kept_coverage_run: Option<i64>,
    pub coverage_prev: Option<Coverage>,
    /// `coverage` came from a run under an injected fault.
    pub coverage_faulted: bool,
    /// What each compilation read (dep-info, `rerun-if-changed`): for
    /// selecting by files that are not Rust sources.
    pub inputs: Inputs,
    /// The last complete listing (this session's, or kept from the last):
    /// a full run whose build changed no test binary uses it instead of a
    /// second `nextest list`.
    pub list_cache: Option<Vec<super::catalog::ListedSuite>>,
    /// The history is being read: a run that ends before it arrives waits
    /// for it (flaky and slower tests are judged against it).
    pub history_pending: bool,
    /// Each test's latest coverage map (measured, or from the history).
    pub test_maps: super::testmap::TestMaps,
    /// A change set waiting for the texts it needs to be placed against
    /// the maps (test-level selection).
    pub awaiting_texts: Option<(Trigger, Vec<std::path::PathBuf>, Duration)>,
    /// A change set with manifests or the lock file in it, waiting for the
    /// workspace to be read again: then each is compared with `baseline`
    /// (the texts read before) and placed by what changed.
    pub awaiting_reload: Option<AwaitingReload>,
    /// What changed manifests reach, until a run takes them (a run that
    /// is stopped gives its own back).
    pub manifest_verdicts: std::collections::BTreeMap<std::path::PathBuf, super::manifest::Verdict>,
    /// Manifests changed again since they were last read.
    pub manifests_stale: std::collections::BTreeSet<std::path::PathBuf>,
    /// What test-level selection left out, and what the sweep found.
    pub sweep: super::sweep::Sweep,
    /// The lines changed since the patch-coverage base, as of the latest
    /// coverage (`None`: no base).
    pub patch: Option<super::patch::Changes>,
    /// The backends some tests need (`[[service]]`), in config order.
    pub services: Vec<super::services::Service>,
    /// The last `vigil run --faults-matrix`, for the services view.
    pub faults_matrix: Option<super::faults::Matrix>,
    /// Watching for changes (services are then probed all the time, and a
    /// service that comes back reruns what it blocked).
    pub watching: bool,
    /// Whether the last finished run passed its gate (the bell rings when
    /// that flips).
    pub last_green: Option<bool>,
    /// Packages whose doctests the next rerun from a key runs (`r` on a
    /// doc suite or doctest).
    pub doc_rerun: Vec<String>,
    /// Tests that failed though no change since their last pass reached
    /// them, with the run they failed in: rerun next (`Trigger::Recheck`).
    pub flaky_suspects: Vec<(super::testmap::TestKey, crate::core::ids::RunId)>,
    /// The latest audit (`c`): what it covered, and its findings once done.
    pub check: Option<CheckRun>,
    /// One shard of a partitioned CI run (`--partition`): no kept listing.
    pub shard: bool,
    /// This shard runs the doctests (the first one does, so the merge
    /// counts them once).
    pub shard_docs: bool,
}

impl Model {
    /// No run in flight, and no request waiting to start one (queued,
    /// reading texts, or waiting for the workspace to be read again).
    pub(crate) fn settled(&self) -> bool {
        self.active_run().is_none()
            && self.queued.is_none()
            && self.awaiting_texts.is_none()
            && self.awaiting_reload.is_none()
    }

    pub fn new(workspace: Workspace, rules: Rules) -> Self {
        let services = rules
            .services
            .iter()
            .cloned()
            .map(|spec| {
                let mut s = super::services::Service::new(spec);
                s.fault = rules
                    .faults
                    .iter()
                    .find(|(name, _)| *name == s.spec.name)
                    .map(|(_, f)| f.clone());
                s
            })
            .collect();
        Self {
            workspace,
            rules,
            services,
            ..Self::default()
        }
    }

    pub fn current_run(&self) -> Option<&Run> {
        self.runs.last()
    }

    pub fn active_run(&self) -> Option<&Run> {
        self.runs.last().filter(|r| r.is_active())
    }

    pub(crate) fn run_mut(&mut self, number: RunId) -> Option<&mut Run> {
        self.runs.last_mut().filter(|r| r.number == number)
    }

    /// The current run's build (or listing) failed: its diagnostics stand
    /// in for the tree.
    pub fn build_failed(&self) -> bool {
        self.current_run().is_some_and(|r| {
            (!r.build_errors.is_empty() && !r.phase.listed()) || r.outcome == Some(super::run::Outcome::ListFailed)
        })
    }

    pub(crate) fn next_run_number(&self) -> RunId {
        RunId(self.runs.last().map_or(1, |r| r.number.0 + 1))
    }
}

/// An audit asked for in the live view.
#[derive(Clone, Debug, Default)]
pub struct CheckRun {
    /// What it audits ("orders::checkout refund_partial").
    pub what: String,
    /// `None` while it runs.
    pub result: Option<Result<Box<super::check::CheckSummary>, String>>,
}
