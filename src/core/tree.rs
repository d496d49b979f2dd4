//! The test tree as rows: suites, folding into module paths and tests.
//! Failures and running suites come first; the rows are derived from the
//! model on demand (never stored), so they cannot go stale.

use std::cmp::Ordering;

use super::catalog::Suite;
use super::model::Model;
use super::test_state::TestState;
use super::ui_state::RowKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Suite { suite: usize, expanded: bool },
    Module { suite: usize, expanded: bool },
    Test { suite: usize, test: usize },
}

/// One line of the tree. Borrows its label from the model: building the
/// rows of 10,000 tests allocates almost nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row<'a> {
    pub kind: RowKind,
    pub depth: u8,
    /// What the row summarises: the worst state below it.
    pub state: TestState,
    /// Tests below it (1 for a test).
    pub tests: usize,
    /// Suites: the binary id; modules: the module path; tests: the name
    /// without its module.
    pub label: &'a str,
}

impl Row<'_> {
    pub fn key(&self, model: &Model) -> RowKey {
        match self.kind {
            RowKind::Suite { suite, .. } => RowKey::Suite(model.catalog.suites[suite].binary_id.clone()),
            RowKind::Module { suite, .. } => {
                RowKey::Module(model.catalog.suites[suite].binary_id.clone(), self.label.to_owned())
            }
            RowKind::Test { suite, test } => {
                let s = &model.catalog.suites[suite];
                RowKey::Test(s.binary_id.clone(), s.tests[test].name.clone())
            }
        }
    }

    /// Whether this row is the one `key` names (no allocation).
    pub fn is(&self, key: &RowKey, model: &Model) -> bool {
        match (self.kind, key) {
            (RowKind::Suite { suite, .. }, RowKey::Suite(b)) => model.catalog.suites[suite].binary_id == *b,
            (RowKind::Module { suite, .. }, RowKey::Module(b, m)) => {
                model.catalog.suites[suite].binary_id == *b && self.label == m
            }
            (RowKind::Test { suite, test }, RowKey::Test(b, n)) => {
                let s = &model.catalog.suites[suite];
                s.binary_id == *b && s.tests[test].name == *n
            }
            _ => false,
        }
    }
}

/// Rank for "where the eye goes first": lower sorts earlier.
pub(crate) fn attention(state: TestState) -> u8 {
    match state {
        TestState::Failed => 0,
        TestState::Xpass => 1,
        TestState::Running => 2,
        TestState::Cancelled | TestState::Blocked => 3,
        TestState::Pending => 4,
        TestState::Passed | TestState::Xfail | TestState::Skipped => 5,
    }
}

/// The state that stands for a group: the one that needs attention most.
fn worst(a: TestState, b: TestState) -> TestState {
    if attention(b) < attention(a) {
        b
    } else {
        a
    }
}

pub(crate) fn split_module(name: &str) -> (&str, &str) {
    name.rsplit_once("::").unwrap_or(("", name))
}

pub fn rows(model: &Model) -> Vec<Row<'_>> {
    let ui = &model.ui;
    let needle = ui.filter.to_lowercase();
    let filtering = !needle.is_empty() || ui.failures_only;
    let visible = |suite: &Suite, i: usize| -> bool {
        let t = &suite.tests[i];
        if ui.failures_only && !matches!(t.state, TestState::Failed | TestState::Xpass) {
            return false;
        }
        needle.is_empty() || t.name.to_lowercase().contains(&needle) || suite.binary_id.to_lowercase().contains(&needle)
    };
    let mut suites: Vec<(usize, TestState, Vec<usize>)> = model
        .catalog
        .suites
        .iter()
        .enumerate()
        .filter_map(|(si, s)| {
            let tests: Vec<usize> = (0..s.tests.len()).filter(|&i| visible(s, i)).collect();
            if tests.is_empty() {
                return None;
            }
            let state = tests
                .iter()
                .fold(TestState::Passed, |acc, &i| worst(acc, s.tests[i].state));
            Some((si, state, tests))
        })
        .collect();
    suites.sort_by_key(|(si, state, _)| (attention(*state).min(3), *si));

    let fold = |key: RowKey, default: bool| -> bool {
        if ui.folds.is_empty() {
            default
        } else {
            ui.folds.get(&key).copied().unwrap_or(default)
        }
    };
    let mut out = Vec::with_capacity(model.catalog.test_count() + 2 * suites.len());
    for (si, state, tests) in suites {
        let suite = &model.catalog.suites[si];
        let default_open = filtering || matches!(state, TestState::Failed | TestState::Xpass);
        let expanded = fold(RowKey::Suite(suite.binary_id.clone()), default_open);
        out.push(Row {
            kind: RowKind::Suite { suite: si, expanded },
            depth: 0,
            state,
            tests: tests.len(),
            label: &suite.binary_id,
        });
        if !expanded {
            continue;
        }
        // (module, attention, leaf, index): failures and running tests
        // first within their module, the rest by name.
        let mut order: Vec<(&str, u8, &str, usize)> = tests
            .iter()
            .map(|&t| {
                let test = &suite.tests[t];
                let (module, leaf) = split_module(&test.name);
                (module, attention(test.state).min(3), leaf, t)
            })
            .collect();
        order.sort_unstable();
        let mut i = 0;
        while i < order.len() {
            let module = order[i].0;
            let end = order[i..]
                .iter()
                .position(|o| o.0 != module)
                .map_or(order.len(), |p| i + p);
            let group = &order[i..end];
            let mut depth = 1;
            let mut open = true;
            if !module.is_empty() {
                let state = group
                    .iter()
                    .fold(TestState::Passed, |acc, o| worst(acc, suite.tests[o.3].state));
                open = if ui.folds.is_empty() {
                    true
                } else {
                    fold(RowKey::Module(suite.binary_id.clone(), module.to_owned()), true)
                };
                out.push(Row {
                    kind: RowKind::Module {
                        suite: si,
                        expanded: open,
                    },
                    depth: 1,
                    state,
                    tests: group.len(),
                    label: module,
                });
                depth = 2;
            }
            if open {
                for &(_, _, leaf, t) in group {
                    out.push(Row {
                        kind: RowKind::Test { suite: si, test: t },
                        depth,
                        state: suite.tests[t].state,
                        tests: 1,
                        label: leaf,
                    });
                }
            }
            i = end;
        }
    }
    out
}

/// Index of the selected row (the first row when nothing, or something
/// gone, is selected).
pub fn selected_index(rows: &[Row], model: &Model) -> usize {
    model
        .ui
        .selected
        .as_ref()
        .and_then(|k| rows.iter().position(|r| r.is(k, model)))
        .unwrap_or(0)
}

/// The first row shown so that the selection stays in view.
pub(crate) fn scroll_offset(selected: usize, scroll: usize, height: usize, total: usize) -> usize {
    if height == 0 {
        return 0;
    }
    let max = total.saturating_sub(height);
    let offset = match selected.cmp(&scroll) {
        Ordering::Less => selected,
        Ordering::Equal | Ordering::Greater if selected >= scroll + height => selected + 1 - height,
        Ordering::Equal | Ordering::Greater => scroll,
    };
    offset.min(max)
}
