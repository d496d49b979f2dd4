//! What keys and the mouse do to the model: movement, folding, filtering.
//! A key that asks for more (a rerun) returns that request as a follow-up
//! message, which `update` applies; this module never calls `update`. The
//! view only draws the result. Dispatch is here (through `keymap`'s table);
//! `actions` the keys that reach outside the view, `coverage` the coverage
//! view's.

use super::effect::Effect;
use super::filterset::regex_escape;
use super::keymap::{action, Action as A};
use super::model::Model;
use super::msg::Msg;
use super::run::{Selection, Trigger};
use super::testmap::TestId;
use super::tree::{rows, scroll_offset, selected_index, RowKind};
use super::ui_state::{Key, Pane, RowKey, Tab};
use std::time::Duration;

mod actions;
mod coverage;

use actions::*;
use coverage::*;

pub(crate) use actions::accept_tests;
pub(crate) use coverage::select_test;

/// What a key did besides changing the UI state.
#[derive(Debug, Default)]
pub(crate) struct KeyOutcome {
    pub effects: Vec<Effect>,
    /// A message to apply next (a run request).
    pub follow_up: Option<Msg>,
}

impl From<Vec<Effect>> for KeyOutcome {
    fn from(effects: Vec<Effect>) -> Self {
        Self {
            effects,
            follow_up: None,
        }
    }
}

fn follow_up(msg: Msg) -> KeyOutcome {
    KeyOutcome {
        effects: Vec::new(),
        follow_up: Some(msg),
    }
}

pub(crate) fn on_key(model: &mut Model, key: Key, at: Duration) -> KeyOutcome {
    let ui = &mut model.ui;
    ui.note = None;
    if ui.filter_editing {
        match key {
            Key::Char(c) => ui.filter.push(c),
            Key::Backspace => {
                ui.filter.pop();
            }
            Key::Enter => ui.filter_editing = false,
            Key::Esc => {
                ui.filter.clear();
                ui.filter_editing = false;
            }
            Key::Ctrl('c') => return quit(model).into(),
            _ => {}
        }
        return KeyOutcome::default();
    }
    if ui.help {
        match key {
            Key::Ctrl('c') | Key::Char('q') => return quit(model).into(),
            _ => ui.help = false,
        }
        return KeyOutcome::default();
    }
    let Some(action) = action(key, ui.tab, ui.source.is_some()) else {
        return KeyOutcome::default();
    };
    match action {
        A::Quit => return quit(model).into(),
        A::Help => ui.help = true,
        A::View(tab) => ui.tab = tab,
        A::CoverageDown => coverage_move(model, 1),
        A::CoverageUp => coverage_move(model, -1),
        A::NextUncovered => next_uncovered(model, true),
        A::PreviousUncovered => next_uncovered(model, false),
        A::JumpToTest => jump_to_test(model),
        A::OpenSource => {
            let selected = ui.coverage_selected;
            if let Some(path) = super::coverage_view::ordered_files(model).get(selected) {
                return vec![Effect::LoadSource { path: path.to_string() }].into();
            }
        }
        A::CloseSource => ui.source = None,
        A::Sort(sort) => ui.coverage_sort = sort,
        A::ServiceDown => {
            ui.service_selected = (ui.service_selected + 1).min(model.services.len().saturating_sub(1));
        }
        A::ServiceUp => ui.service_selected = ui.service_selected.saturating_sub(1),
        A::StartService => return start_selected(model, at).into(),
        A::CycleFault => return cycle_fault(model).into(),
        A::Filter => ui.filter_editing = true,
        A::FailuresOnly => ui.failures_only = !ui.failures_only,
        A::Clear => {
            ui.filter.clear();
            ui.failures_only = false;
        }
        A::Focus => {
            ui.focus = match ui.focus {
                Pane::Tree => Pane::Detail,
                Pane::Detail => Pane::Tree,
            }
        }
        A::Down => move_by(model, 1),
        A::Up => move_by(model, -1),
        A::PageDown => move_by(model, page(model)),
        A::PageUp => move_by(model, -page(model)),
        A::First => move_by(model, isize::MIN / 2),
        A::Last => move_by(model, isize::MAX / 2),
        A::Fold => toggle_fold(model),
        A::Rerun => return rerun_selected(model, at),
        A::OpenCovered => return open_covered(model).into(),
        A::Edit => return edit(model).into(),
        A::Copy => return copy(model).into(),
        A::Accept => return accept(model, false).into(),
        A::AcceptAll => return accept(model, true).into(),
        A::Check => return check_selected(model, false).into(),
        A::CheckAll => return check_selected(model, true).into(),
        A::AckMisses => {
            // Selection misses, seen: the header stops showing them.
            model.ui.note = if model.sweep.misses.is_empty() {
                Some("no selection miss to acknowledge".into())
            } else {
                None
            };
            model.sweep.misses.clear();
        }
        A::RerunAll => {
            return follow_up(Msg::RunRequested {
                trigger: Trigger::Key,
                selection: Selection::All,
                at,
            })
        }
    }
    KeyOutcome::default()
}

fn quit(model: &mut Model) -> Vec<Effect> {
    model.ui.quit = true;
    vec![Effect::Quit]
}

fn page(model: &Model) -> isize {
    (model.ui.viewport.max(2) as isize) - 1
}

/// Moves the selection (tree focus) or scrolls the detail (detail focus).
pub(crate) fn move_by(model: &mut Model, delta: isize) {
    if model.ui.focus == Pane::Detail {
        let d = model.ui.detail_scroll as isize + delta;
        model.ui.detail_scroll = d.clamp(0, u16::MAX as isize) as u16;
        return;
    }
    let rows = rows(model);
    if rows.is_empty() {
        return;
    }
    let current = selected_index(&rows, model) as isize;
    let next = current.saturating_add(delta).clamp(0, rows.len() as isize - 1) as usize;
    let key = rows[next].key(model);
    let total = rows.len();
    drop(rows);
    model.ui.selected = Some(key);
    model.ui.scroll = scroll_offset(next, model.ui.scroll, model.ui.viewport as usize, total);
    model.ui.detail_scroll = 0;
}

fn toggle_fold(model: &mut Model) {
    let rows = rows(model);
    let Some(row) = rows.get(selected_index(&rows, model)) else {
        return;
    };
    let expanded = match row.kind {
        RowKind::Suite { expanded, .. } | RowKind::Module { expanded, .. } => expanded,
        RowKind::Test { .. } => return,
    };
    let key = row.key(model);
    drop(rows);
    model.ui.selected = Some(key.clone());
    model.ui.folds.insert(key, !expanded);
}
