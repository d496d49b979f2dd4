//! The whole state of vigil: workspace, catalog with every test's latest
//! result, the runs of this session, and the rules from the config.

use std::time::Duration;

use super::budget::Budgets;
use super::catalog::{Catalog, Workspace};
use super::coverage::{Coverage, Threshold};
use super::glob::Glob;
use super::history::History;
use super::hygiene::{HygieneRules, HygieneWarning};
use super::inputs::Inputs;
use super::run::{Run, Selection, Trigger};
use super::ui_state::UiState;

/// The parts of the config the core applies.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Binary ids matching one of these are `e2e` suites.
    pub e2e_patterns: Vec<Glob>,
    pub xfail: Vec<XfailRule>,
    /// What a change during a run does.
    pub on_change: OnChange,
    pub budgets: Budgets,
    pub hygiene: HygieneRules,
    /// Coverage minimums, overall and per path.
    pub coverage: Vec<Threshold>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            e2e_patterns: vec![Glob::new("*e2e*")],
            xfail: Vec::new(),
            on_change: OnChange::Restart,
            budgets: Budgets::default(),
            hygiene: HygieneRules::default(),
            coverage: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnChange {
    /// Cancel the run and start one for both change sets.
    #[default]
    Restart,
    /// Let the run finish, then run for the changes that came meanwhile.
    Queue,
}

/// A known-broken test: its failure is expected (`xfail`), its passing is
/// flagged (`xpass`) and, when `strict`, fails the gate.
#[derive(Clone, Debug)]
pub struct XfailRule {
    /// Matched against `<binary_id>::<test name>`.
    pub pattern: Glob,
    pub reason: String,
    pub strict: bool,
}

impl Rules {
    pub fn xfail_rule(&self, binary_id: &str, test: &str) -> Option<&XfailRule> {
        if self.xfail.is_empty() {
            return None;
        }
        let full = format!("{binary_id}::{test}");
        self.xfail.iter().find(|r| r.pattern.matches(&full))
    }
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
    /// Whether runs are instrumented (usable LLVM tools were found).
    pub coverage_on: bool,
    /// The latest coverage, the run it is from, and the one before it.
    pub coverage: Option<Coverage>,
    pub coverage_run: Option<u32>,
    pub coverage_prev: Option<Coverage>,
    /// What each compilation read (dep-info, `rerun-if-changed`): for
    /// selecting by files that are not Rust sources.
    pub inputs: Inputs,
    /// The last complete listing (this session's, or kept from the last):
    /// a full run whose build changed no test binary uses it instead of a
    /// second `nextest list`.
    pub list_cache: Option<Vec<super::msg::ListedSuite>>,
}

impl Model {
    pub fn new(workspace: Workspace, rules: Rules) -> Self {
        Self {
            workspace,
            rules,
            ..Self::default()
        }
    }

    pub fn current_run(&self) -> Option<&Run> {
        self.runs.last()
    }

    pub fn active_run(&self) -> Option<&Run> {
        self.runs.last().filter(|r| r.is_active())
    }

    pub(crate) fn run_mut(&mut self, number: u32) -> Option<&mut Run> {
        self.runs.last_mut().filter(|r| r.number == number)
    }

    pub fn next_run_number(&self) -> u32 {
        self.runs.last().map_or(1, |r| r.number + 1)
    }
}
