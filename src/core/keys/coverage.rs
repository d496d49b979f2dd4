//! The coverage view's keys: moving through the files, the source pane's
//! uncovered stretches, and from a line to the tests that reach it.

use super::*;

pub(super) fn coverage_move(model: &mut Model, delta: isize) {
    let n = crate::core::coverage_view::ordered_files(model).len();
    if let Some((_, text)) = &model.ui.source {
        let last = text.lines().count().max(1) as isize;
        let line = (model.ui.source_line.max(1) as isize + delta).clamp(1, last) as usize;
        select_source_line(model, line);
        return;
    }
    let i = model.ui.coverage_selected as isize + delta;
    model.ui.coverage_selected = i.clamp(0, n.saturating_sub(1) as isize) as usize;
}

/// `n` / `N`: scroll the source pane to the next / previous uncovered range.
pub(super) fn next_uncovered(model: &mut Model, forward: bool) {
    let Some((path, _)) = &model.ui.source else { return };
    let Some(f) = model.coverage.as_ref().and_then(|c| c.file(path)) else {
        return;
    };
    let here = model.ui.source_scroll + 4;
    let starts: Vec<usize> = f.uncovered_ranges().iter().map(|r| r[0] as usize).collect();
    let target = if forward {
        starts.iter().find(|s| **s > here).or(starts.first())
    } else {
        starts.iter().rev().find(|s| **s < here).or(starts.last())
    };
    if let Some(t) = target {
        select_source_line(model, *t);
    }
}

/// Selects a source line, scrolling so that it stays in view.
pub(super) fn select_source_line(model: &mut Model, line: usize) {
    let ui = &mut model.ui;
    ui.source_line = line;
    let height = (ui.viewport as usize).max(8);
    if line <= ui.source_scroll {
        ui.source_scroll = line.saturating_sub(1);
    } else if line > ui.source_scroll + height {
        ui.source_scroll = line - height;
    }
}

/// Enter on a source line: the first test that reaches it, selected in the
/// tests view.
pub(super) fn jump_to_test(model: &mut Model) {
    let Some((path, _)) = &model.ui.source else { return };
    let tests = model.test_maps.reaching(path, model.ui.source_line as u32);
    let Some(TestId(binary_id, name)) = tests.first() else {
        model.ui.note = Some(format!("no test reaches {path}:{}", model.ui.source_line));
        return;
    };
    let Some(suite) = model.catalog.suite(binary_id) else {
        model.ui.note = Some(format!("{binary_id} is not listed in this session yet"));
        return;
    };
    let (binary_id, name) = (suite.binary_id.clone(), name.clone());
    select_test(model, binary_id, name);
}

/// Selects a test in the tests view, unfolding its suite and module.
pub(crate) fn select_test(model: &mut Model, binary_id: std::sync::Arc<str>, name: String) {
    // Open the way to it: its suite and its module.
    model.ui.folds.insert(RowKey::Suite(binary_id.clone()), true);
    let (module, _) = crate::core::tree::split_module(&name);
    if !module.is_empty() {
        model
            .ui
            .folds
            .insert(RowKey::Module(binary_id.clone(), module.to_owned()), true);
    }
    model.ui.selected = Some(RowKey::Test(binary_id, name));
    model.ui.tab = Tab::Tests;
}

/// `o` on a test: the coverage view, on the first file the test covers, at
/// its first line.
pub(super) fn open_covered(model: &mut Model) -> Vec<Effect> {
    let Some(RowKey::Test(binary_id, name)) = &model.ui.selected else {
        model.ui.note = Some("o opens what a test covers: select a test".into());
        return Vec::new();
    };
    let Some(map) = model.test_maps.tests.get(&TestId(binary_id.to_string(), name.clone())) else {
        model.ui.note = Some(format!("{name} has no coverage map yet (coverage on measures it)"));
        return Vec::new();
    };
    let Some((path, f)) = map.files.iter().next() else {
        return Vec::new();
    };
    model.ui.source_goto = f.lines.first().map(|r| r[0] as usize);
    model.ui.tab = Tab::Coverage;
    vec![Effect::LoadSource { path: path.clone() }]
}
