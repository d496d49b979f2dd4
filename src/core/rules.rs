//! The parts of the config the core applies: test kinds, expected
//! failures, what a change during a run does, budgets, hygiene, coverage
//! minimums.

use super::budget::Budgets;
use super::coverage::Threshold;
use super::glob::Glob;
use super::hygiene::HygieneRules;

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
    /// How a change set selects: test by test from the coverage maps, or
    /// binaries from the graph.
    pub selection: SelectionMode,
    /// Quiet time after which the idle sweep runs what test-level selection
    /// left out (`None`: never).
    pub sweep_after: Option<std::time::Duration>,
    /// Minimum patch coverage (percent of changed executable lines run).
    pub patch_coverage: Option<f64>,
    /// Backends some tests need (`[[service]]`).
    pub services: Vec<super::services::ServiceSpec>,
    /// Run the doctests of the selected packages after nextest
    /// (`lanes.doc`).
    pub doc_lane: bool,
    /// Ring the terminal's bell when a run goes from green to red or back
    /// (`notify = "bell"`).
    pub bell: bool,
    /// nextest's slow-timeout (its default profile's, `None`: nextest's
    /// default of 60 s): a fault may not hold calls longer.
    pub slow_timeout: Option<std::time::Duration>,
    /// When nextest stops a test: its slow-timeout × `terminate-after`
    /// (`None`: nextest never does). The doc lane stops an example after
    /// as long.
    pub terminate_after: Option<std::time::Duration>,
    /// Faults in effect from the start (`vigil run --fault NAME=KIND`).
    pub faults: Vec<(String, super::faults::Fault)>,
    /// `service_call` events are printed (`--calls`).
    pub emit_calls: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SelectionMode {
    /// Tests whose coverage maps reach the changed lines (once maps
    /// exist); the graph's binaries wherever a map cannot answer.
    #[default]
    Tests,
    /// The graph's binaries only.
    Binaries,
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
            selection: SelectionMode::Tests,
            sweep_after: Some(std::time::Duration::from_secs(60)),
            patch_coverage: None,
            services: Vec::new(),
            doc_lane: true,
            bell: false,
            slow_timeout: None,
            terminate_after: None,
            faults: Vec::new(),
            emit_calls: false,
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
    pub(crate) fn xfail_rule(&self, binary_id: &str, test: &str) -> Option<&XfailRule> {
        if self.xfail.is_empty() {
            return None;
        }
        let full = format!("{binary_id}::{test}");
        self.xfail.iter().find(|r| r.pattern.matches(&full))
    }
}
