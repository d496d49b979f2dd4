//! What keys and the mouse do to the model: movement, folding, filtering.
//! A key that asks for more (a rerun) returns that request as a follow-up
//! message, which `update` applies; this module never calls `update`. The
//! view only draws the result.

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

/// What a key did besides changing the UI state.
#[derive(Debug, Default)]
pub struct KeyOutcome {
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

/// `e`: the selected failure's location (else the test's definition), the
/// selected line of a coverage source, or the build's first diagnostic.
fn edit(model: &mut Model) -> Vec<Effect> {
    use super::effect::EditTarget;
    let root = model.workspace.root.clone();
    let build_failed = model.build_failed();
    if model.ui.tab == Tab::Coverage {
        if let Some((path, _)) = &model.ui.source {
            let line = model.ui.source_line.max(1) as u32;
            return vec![Effect::Edit(EditTarget::At {
                path: root.join(path),
                line,
            })];
        }
    } else if model.ui.tab == Tab::Tests && build_failed {
        let at = model
            .current_run()
            .into_iter()
            .flat_map(|r| &r.build_errors)
            .find_map(|d| super::locate::diagnostic(&d.rendered));
        if let Some((file, line)) = at {
            return vec![Effect::Edit(EditTarget::At {
                path: root.join(file),
                line,
            })];
        }
    } else if model.ui.tab == Tab::Tests {
        if let Some((b, name)) = selected_test(model) {
            let Some(suite) = model.catalog.suite(&b) else {
                return Vec::new();
            };
            let test = suite.test_index(&name).map(|i| &suite.tests[i]);
            if let Some(l) = test.and_then(|t| t.failure.as_ref()).and_then(|f| f.location.as_ref()) {
                return vec![Effect::Edit(EditTarget::At {
                    path: root.join(&l.file),
                    line: l.line,
                })];
            }
            let dirs = model
                .workspace
                .packages
                .iter()
                .filter(|p| p.name == suite.package)
                .map(|p| p.manifest_dir.clone())
                .collect();
            let name = match suite.suite_type {
                // `src/lib.rs - Money::new (line 12)`: the example's line.
                super::catalog::SuiteType::Doc => {
                    if let Some((file, line)) = super::locate::doctest(&name) {
                        let dir = model
                            .workspace
                            .packages
                            .iter()
                            .find(|p| p.name == suite.package)
                            .map_or(root.clone(), |p| p.manifest_dir.clone());
                        return vec![Effect::Edit(EditTarget::At {
                            path: dir.join(file),
                            line,
                        })];
                    }
                    name
                }
                _ => name,
            };
            return vec![Effect::Edit(EditTarget::TestFn { dirs, name })];
        }
    }
    model.ui.note = Some("nothing to open here: select a test, a coverage line or a build error".into());
    Vec::new()
}

/// The selected test; on a suite or module row, its first failed test.
fn selected_test(model: &Model) -> Option<(std::sync::Arc<str>, String)> {
    let rows = rows(model);
    let key = rows.get(selected_index(&rows, model)).map(|r| r.key(model))?;
    let first_failed = |b: &std::sync::Arc<str>, prefix: &str| {
        model.catalog.suite(b).and_then(|s| {
            s.tests
                .iter()
                .find(|t| t.failure.is_some() && t.name.starts_with(prefix))
                .map(|t| (b.clone(), t.name.clone()))
        })
    };
    match key {
        RowKey::Test(b, n) => Some((b, n)),
        RowKey::Suite(b) => first_failed(&b, ""),
        RowKey::Module(b, m) => first_failed(&b, &format!("{m}::")),
    }
}

/// `u`: accept the selected failure's pending insta snapshot; `U`: every
/// pending snapshot of the last run. The tests rerun once they are moved.
fn accept(model: &mut Model, all: bool) -> Vec<Effect> {
    let keys: Vec<(std::sync::Arc<str>, String)> = if all {
        let run = model.current_run().map(|r| r.number);
        model
            .catalog
            .suites
            .iter()
            .flat_map(|s| {
                s.tests
                    .iter()
                    .filter(move |t| t.run == run && t.failure.is_some())
                    .map(move |t| (s.binary_id.clone(), t.name.clone()))
            })
            .collect()
    } else {
        selected_test(model).into_iter().collect()
    };
    let mut snaps = Vec::new();
    let mut terms = Vec::new();
    for (b, name) in keys {
        let Some(suite) = model.catalog.suite(&b) else { continue };
        let Some(snap) = suite
            .test_index(&name)
            .and_then(|i| suite.tests[i].failure.as_ref())
            .and_then(|f| super::insta::snapshot(&f.output))
        else {
            continue;
        };
        let dir = model
            .workspace
            .packages
            .iter()
            .find(|p| p.name == suite.package)
            .map_or(model.workspace.root.clone(), |p| p.manifest_dir.clone());
        snaps.push(dir.join(snap.file));
        terms.push(format!("(binary_id({b}) & test(={name}))"));
    }
    if snaps.is_empty() {
        model.ui.note = Some(if all {
            "no pending snapshot in the last run".into()
        } else {
            "the selected test has no pending snapshot".into()
        });
        return Vec::new();
    }
    let n = snaps.len();
    vec![Effect::AcceptSnapshots {
        snaps,
        rerun: Selection::Filter {
            expr: terms.join(" | "),
            reasons: vec![format!(
                "{n} snapshot{} accepted (key {})",
                if n == 1 { "" } else { "s" },
                if all { "U" } else { "u" }
            )],
        },
    }]
}

/// `y`: the selected failure (test, message, location, output) onto the
/// clipboard.
fn copy(model: &mut Model) -> Vec<Effect> {
    let Some((b, name)) = selected_test(model) else {
        model.ui.note = Some("select a failed test to copy it".into());
        return Vec::new();
    };
    let failure = model
        .catalog
        .suite(&b)
        .and_then(|s| s.test_index(&name).map(|i| &s.tests[i]))
        .and_then(|t| t.failure.as_ref());
    let Some(f) = failure else {
        model.ui.note = Some(format!("{b} {name} has no failure to copy"));
        return Vec::new();
    };
    let mut text = format!("{b} {name}\n");
    if let Some(l) = &f.location {
        text.push_str(&format!("at {}:{}:{}\n", l.file, l.line, l.column));
    }
    text.push_str(&f.message);
    text.push_str("\n\n");
    text.push_str(&f.output);
    model.ui.note = Some(format!("copied {b} {name} (OSC 52)"));
    vec![Effect::Copy { text }]
}

/// `s` in the services view: start (or restart) the selected service with
/// its `start` command.
fn start_selected(model: &mut Model, at: Duration) -> Vec<Effect> {
    let i = model.ui.service_selected;
    let Some(s) = model.services.get(i) else {
        model.ui.note = Some("no service is configured ([[service]] in vigil.toml)".into());
        return Vec::new();
    };
    let Some(argv) = s.spec.start.clone() else {
        model.ui.note = Some(format!("`{}` has no start command", s.spec.name));
        return Vec::new();
    };
    model.ui.note = Some(format!(
        "{} `{}`: {}",
        if s.started { "restarting" } else { "starting" },
        s.spec.name,
        argv.join(" ")
    ));
    let mut fx = Vec::new();
    super::gating::start(model, i, argv, at, &mut fx);
    fx
}

fn coverage_move(model: &mut Model, delta: isize) {
    let n = super::coverage_view::ordered_files(model).len();
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
fn next_uncovered(model: &mut Model, forward: bool) {
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
fn select_source_line(model: &mut Model, line: usize) {
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
fn jump_to_test(model: &mut Model) {
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
    let key = RowKey::Test(suite.binary_id.clone(), name.clone());
    // Open the way to it: its suite and its module.
    model.ui.folds.insert(RowKey::Suite(suite.binary_id.clone()), true);
    let (module, _) = super::tree::split_module(name);
    if !module.is_empty() {
        model
            .ui
            .folds
            .insert(RowKey::Module(suite.binary_id.clone(), module.to_owned()), true);
    }
    model.ui.selected = Some(key);
    model.ui.tab = Tab::Tests;
}

/// `o` on a test: the coverage view, on the first file the test covers, at
/// its first line.
fn open_covered(model: &mut Model) -> Vec<Effect> {
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

/// `r`: the selected test, module or suite, run again.
fn rerun_selected(model: &mut Model, at: Duration) -> KeyOutcome {
    let rows = rows(model);
    let Some(key) = rows.get(selected_index(&rows, model)).map(|r| r.key(model)) else {
        drop(rows);
        model.ui.note = Some("nothing selected to rerun".to_owned());
        return KeyOutcome::default();
    };
    drop(rows);
    let doc_suite = match &key {
        RowKey::Suite(b) | RowKey::Module(b, _) | RowKey::Test(b, _) => model
            .catalog
            .suite(b)
            .filter(|s| s.suite_type == super::catalog::SuiteType::Doc)
            .map(|s| s.package.clone()),
    };
    if let Some(package) = doc_suite {
        // Doctests run with `cargo test --doc`, not nextest (which knows
        // no such binary): nextest runs nothing, the doc lane the package.
        model.doc_rerun = vec![package.clone()];
        return follow_up(Msg::RunRequested {
            trigger: Trigger::Key,
            selection: Selection::Filter {
                expr: "none()".into(),
                reasons: vec![format!("rerun of `{package}`'s doctests (key r)")],
            },
            at,
        });
    }
    let (expr, what) = match &key {
        RowKey::Suite(b) => (format!("binary_id({b})"), b.to_string()),
        RowKey::Module(b, m) => (
            format!("binary_id({b}) & test(/^{}::/)", regex_escape(m)),
            format!("{b} {m}"),
        ),
        RowKey::Test(b, t) => (format!("binary_id({b}) & test(={t})"), format!("{b} {t}")),
    };
    follow_up(Msg::RunRequested {
        trigger: Trigger::Key,
        selection: Selection::Filter {
            expr,
            reasons: vec![format!("rerun of {what} (key r)")],
        },
        at,
    })
}
