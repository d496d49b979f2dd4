//! The test tree as rows: suites, folding into module paths and tests.
//! Failures and running suites come first; the rows are derived from the
//! model on demand (never stored), so they cannot go stale.

use std::cmp::Ordering;

use super::catalog::Suite;
use super::model::Model;
use super::test_state::TestState;
use super::ui_state::RowKey;

#[derive(Clone, Debug, PartialEq)]
pub enum RowKind {
    Suite { suite: usize, expanded: bool },
    Module { suite: usize, expanded: bool },
    Test { suite: usize, test: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub key: RowKey,
    pub kind: RowKind,
    pub depth: u8,
    /// What the row summarises: the worst state below it.
    pub state: TestState,
    /// Tests below it (1 for a test).
    pub tests: usize,
    /// For modules: the module path; for tests: the name without it.
    pub label: String,
}

/// Rank for "where the eye goes first": lower sorts earlier.
pub fn attention(state: TestState) -> u8 {
    match state {
        TestState::Failed => 0,
        TestState::Xpass => 1,
        TestState::Running => 2,
        TestState::Cancelled => 3,
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

fn split_module(name: &str) -> (&str, &str) {
    name.rsplit_once("::").unwrap_or(("", name))
}

pub fn rows(model: &Model) -> Vec<Row> {
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

    let mut out = Vec::new();
    for (si, state, mut tests) in suites {
        let suite = &model.catalog.suites[si];
        let key = RowKey::Suite(suite.binary_id.clone());
        let default_open = filtering || matches!(state, TestState::Failed | TestState::Xpass);
        let expanded = ui.folds.get(&key).copied().unwrap_or(default_open);
        out.push(Row {
            key,
            kind: RowKind::Suite { suite: si, expanded },
            depth: 0,
            state,
            tests: tests.len(),
            label: suite.binary_id.to_string(),
        });
        if !expanded {
            continue;
        }
        tests.sort_by(|&a, &b| {
            let (ta, tb) = (&suite.tests[a], &suite.tests[b]);
            let (ma, la) = split_module(&ta.name);
            let (mb, lb) = split_module(&tb.name);
            ma.cmp(mb)
                .then_with(|| attention(ta.state).min(3).cmp(&attention(tb.state).min(3)))
                .then_with(|| la.cmp(lb))
        });
        let mut i = 0;
        while i < tests.len() {
            let (module, _) = split_module(&suite.tests[tests[i]].name);
            let end = tests[i..]
                .iter()
                .position(|&t| split_module(&suite.tests[t].name).0 != module)
                .map_or(tests.len(), |p| i + p);
            let group = &tests[i..end];
            let mut depth = 1;
            let mut open = true;
            if !module.is_empty() {
                let key = RowKey::Module(suite.binary_id.clone(), module.to_owned());
                let state = group
                    .iter()
                    .fold(TestState::Passed, |acc, &t| worst(acc, suite.tests[t].state));
                open = ui.folds.get(&key).copied().unwrap_or(true);
                out.push(Row {
                    key,
                    kind: RowKind::Module {
                        suite: si,
                        expanded: open,
                    },
                    depth: 1,
                    state,
                    tests: group.len(),
                    label: module.to_owned(),
                });
                depth = 2;
            }
            if open {
                for &t in group {
                    let test = &suite.tests[t];
                    out.push(Row {
                        key: RowKey::Test(suite.binary_id.clone(), test.name.clone()),
                        kind: RowKind::Test { suite: si, test: t },
                        depth,
                        state: test.state,
                        tests: 1,
                        label: split_module(&test.name).1.to_owned(),
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
        .and_then(|k| rows.iter().position(|r| &r.key == k))
        .unwrap_or(0)
}

/// The first row shown so that the selection stays in view.
pub fn scroll_offset(selected: usize, scroll: usize, height: usize, total: usize) -> usize {
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
