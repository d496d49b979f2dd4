//! The interactive view's state: selection, folding, filter, focus. It lives
//! in the model and changes only in `update`; the view reads it.

use std::collections::HashMap;
use std::sync::Arc;

/// A key, as the core understands it (the terminal adapter translates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Enter,
    Esc,
    Backspace,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Tab,
    BackTab,
}

/// The views, on keys 1, 3 and 4 (2 is kept for coverage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    #[default]
    Tests,
    Coverage,
    Budgets,
    History,
    /// The services the tests need (key 5).
    Services,
    /// Which tests ran side by side, on which slot (key 6).
    Timeline,
    /// The latest audit's findings (key 7).
    Checks,
}

/// How the coverage view orders its files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CoverageSort {
    /// Lowest line coverage first.
    #[default]
    Coverage,
    /// Biggest drop first.
    Delta,
    /// Most uncovered lines first.
    Uncovered,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pane {
    #[default]
    Tree,
    Detail,
}

/// A row's identity, stable while rows reorder.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RowKey {
    Suite(Arc<str>),
    Module(Arc<str>, String),
    Test(Arc<str>, String),
}

/// CPU and memory of the running nextest process tree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    pub cpu_percent: f32,
    pub memory_bytes: u64,
    pub processes: usize,
}

#[derive(Clone, Debug, Default)]
pub struct UiState {
    pub selected: Option<RowKey>,
    /// First tree row shown (the view keeps the selection visible).
    pub scroll: usize,
    /// Folds the user chose; the rest follow the default (suites with
    /// failures open, others closed).
    pub folds: HashMap<RowKey, bool>,
    pub filter: String,
    pub filter_editing: bool,
    pub failures_only: bool,
    pub help: bool,
    pub focus: Pane,
    pub tab: Tab,
    pub coverage_sort: CoverageSort,
    /// The selected file in the coverage view (index in its order).
    pub coverage_selected: usize,
    /// The file open in the coverage view's source pane, and its text.
    pub source: Option<(String, String)>,
    /// First source line shown.
    pub source_scroll: usize,
    /// The selected source line (1-based; 0: none yet).
    pub source_line: usize,
    /// A line to select once the source it is in arrives (`o` on a test).
    pub source_goto: Option<usize>,
    pub detail_scroll: u16,
    /// Tree rows that fit on screen (from the last resize).
    pub viewport: u16,
    pub quit: bool,
    pub resources: Option<Resources>,
    /// The latest change set from the watcher (workspace-relative).
    pub last_change: Vec<String>,
    /// A short note for the status line ("change ignored", "no test selected").
    pub note: Option<String>,
    /// The selected service in the services view.
    pub service_selected: usize,
}
