//! The interactive view: `render(&Model, &mut Frame)` draws the model and
//! nothing else: no mutation, no I/O. Layout from 80×24 up; below 100
//! columns the tree and the detail stack.

pub mod checks;
pub mod coverage_view;
pub mod detail;
pub mod keymap;
pub mod services;
pub mod theme;
pub mod timeline;
pub mod tree_pane;
pub mod trends;

use crate::core::ids::RunId;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::core::run::Phase;
use crate::core::ui_state::Tab;
use crate::core::{Model, TestState};
use theme::{bytes, duration, Theme};

/// Rows of the screen that are not tree: header (2), status (1), borders (2).
pub const CHROME_ROWS: u16 = 5;

pub(crate) struct Areas {
    pub header: Rect,
    pub tree: Rect,
    pub detail: Rect,
    pub status: Rect,
}

pub(crate) fn areas(area: Rect) -> Areas {
    let [header, body, status] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let [tree, detail] = if area.width >= 100 {
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body)
    } else {
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(body)
    };
    Areas {
        header,
        tree,
        detail,
        status,
    }
}

/// How many tree rows fit in a terminal of this size.
pub(crate) fn tree_rows(width: u16, height: u16) -> u16 {
    areas(Rect::new(0, 0, width, height)).tree.height.saturating_sub(2)
}

pub fn render(model: &Model, frame: &mut Frame, theme: Theme) {
    let a = areas(frame.area());
    header(model, frame, a.header, theme);
    let build_failed = model.build_failed();
    if model.ui.tab == Tab::Coverage {
        coverage_view::render(model, frame, a.tree.union(a.detail), theme);
    } else if model.ui.tab == Tab::Budgets {
        trends::budgets(model, frame, a.tree.union(a.detail), theme);
    } else if model.ui.tab == Tab::History {
        trends::history(model, frame, a.tree.union(a.detail), theme);
    } else if model.ui.tab == Tab::Services {
        services::render(model, frame, a.tree.union(a.detail), theme);
    } else if model.ui.tab == Tab::Timeline {
        timeline::render(model, frame, a.tree.union(a.detail), theme);
    } else if model.ui.tab == Tab::Checks {
        checks::render(model, frame, a.tree.union(a.detail), theme);
    } else if build_failed {
        detail::build_errors(model, frame, a.tree.union(a.detail), theme);
    } else {
        let rows = crate::core::tree::rows(model);
        let selected = crate::core::tree::selected_index(&rows, model);
        tree_pane::render(model, &rows, selected, frame, a.tree, theme);
        detail::render(model, rows.get(selected), frame, a.detail, theme);
    }
    status(model, frame, a.status, theme);
    if model.ui.help {
        help(model, frame, theme);
    }
}

fn header(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let ws = model
        .workspace
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut left = vec![
        Span::styled(" vigil ", theme.accent()),
        Span::styled(format!(" {ws} "), theme.bold()),
    ];
    let mut right = Vec::new();
    match model.current_run() {
        None => left.push(Span::raw(" starting…")),
        Some(run) => {
            let mut what = format!(" run {} · {}", run.number, run.trigger.as_str());
            match (run.phase, run.outcome) {
                (p, _) if p.building() => what.push_str(" · building"),
                (_, _) if run.cancel_requested && run.is_active() => what.push_str(" · cancelling"),
                (Phase::Finished, Some(o)) => what.push_str(&format!(" · {}", o.as_str().replace('_', " "))),
                _ => {}
            }
            if !run.build_errors.is_empty() && !run.phase.listed() {
                let shown = last_run_with_results(model).map_or(String::from("no results yet"), |n| {
                    format!("showing results of run {n}")
                });
                left.push(Span::raw(what));
                left.push(Span::styled(
                    format!("  build failed — {shown}"),
                    theme.state(TestState::Failed),
                ));
            } else {
                left.push(Span::raw(what));
            }
            if let Some(all) = run.static_tests {
                left.push(Span::styled(
                    format!(" · {} of {all} by coverage", run.selected_tests),
                    theme.dim(),
                ));
            }
            if !run.faults.is_empty() {
                let faults: Vec<String> = run.faults.iter().map(|f| format!("{}={}", f.service, f.kind)).collect();
                left.push(Span::styled(
                    format!("  fault: {}", faults.join(", ")),
                    theme
                        .fg(ratatui::style::Color::Magenta)
                        .add_modifier(ratatui::style::Modifier::BOLD),
                ));
            }
            if !model.sweep.misses.is_empty() {
                let n = model.sweep.misses.len();
                left.push(Span::styled(
                    format!("  {n} selection miss{} (x)", if n == 1 { "" } else { "es" }),
                    theme
                        .state(TestState::Failed)
                        .add_modifier(ratatui::style::Modifier::BOLD),
                ));
            }
            let total = run.selected_tests.max(run.done);
            let width = 20usize;
            let filled = (run.done * width).checked_div(total).unwrap_or(0);
            let failed = failed_in_run(model, run.number);
            let bar_style = if failed > 0 {
                theme.state(TestState::Failed)
            } else {
                theme.state(TestState::Passed)
            };
            right.push(Span::styled("▕", theme.dim()));
            right.push(Span::styled("█".repeat(filled), bar_style));
            right.push(Span::styled(" ".repeat(width - filled), theme.dim()));
            right.push(Span::styled("▏", theme.dim()));
            right.push(Span::raw(format!(" {}/{} ", run.done, total)));
            if failed > 0 {
                right.push(Span::styled(format!(" ✗ {failed} "), theme.state(TestState::Failed)));
            }
            let stale = model.catalog.stale_count();
            if stale > 0 {
                right.push(Span::styled(format!(" {} {stale} stale ", Theme::STALE), theme.dim()));
            }
            let blocked = in_state(model, run.number, TestState::Blocked);
            if blocked > 0 {
                right.push(Span::styled(
                    format!(" ⧗ {blocked} blocked "),
                    theme.state(TestState::Blocked),
                ));
            }
            let elapsed = run.elapsed(model.now);
            right.push(Span::raw(format!(" {} ", duration(elapsed))));
            if let Some(left_s) =
                crate::core::estimate::time_left(model, run.number, elapsed).filter(|_| run.phase.listed())
            {
                right.push(Span::styled(
                    format!(" ~{} left ", duration(std::time::Duration::from_secs_f64(left_s))),
                    theme.dim(),
                ));
            }
        }
    }
    let [top, second] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let right_width: usize = right.iter().map(|s| s.width()).sum();
    let [l, r] = Layout::horizontal([Constraint::Min(10), Constraint::Length(right_width as u16)]).areas(top);
    frame.render_widget(Paragraph::new(Line::from(left)), l);
    frame.render_widget(Paragraph::new(Line::from(right)), r);

    let mut tabs = Vec::new();
    for (tab, label) in [
        (Tab::Tests, "1 Tests"),
        (Tab::Coverage, "2 Coverage"),
        (Tab::Budgets, "3 Budgets"),
        (Tab::History, "4 History"),
        (Tab::Services, "5 Services"),
        (Tab::Timeline, "6 Timeline"),
        (Tab::Checks, "7 Checks"),
    ] {
        if model.ui.tab == tab {
            tabs.push(Span::styled(format!(" [{label}] "), theme.bold()));
        } else {
            tabs.push(Span::styled(format!("  {label}  "), theme.dim()));
        }
    }
    if !model.services.is_empty() {
        // The services strip: a dot per service in its state's colour.
        tabs.push(Span::styled(" ", theme.dim()));
        for s in &model.services {
            tabs.push(Span::styled("●", theme.health(s.health)));
        }
        tabs.push(Span::raw(" "));
    }
    if !model.ui.filter.is_empty() || model.ui.filter_editing {
        tabs.push(Span::styled(format!(" filter: {} ", model.ui.filter), theme.accent()));
    }
    if model.ui.failures_only {
        tabs.push(Span::styled(" failures only ", theme.accent()));
    }
    let mut res = Vec::new();
    if let Some(r) = &model.ui.resources {
        if model.active_run().is_some() {
            res.push(Span::styled(
                format!(
                    "cpu {:.0} %  mem {}  {} processes ",
                    r.cpu_percent,
                    bytes(r.memory_bytes),
                    r.processes
                ),
                theme.dim(),
            ));
        }
    }
    let running = running_count(model);
    if running > 0 {
        res.push(Span::styled(
            format!(" {running} running "),
            theme.state(TestState::Running),
        ));
    }
    let res_width: usize = res.iter().map(|s| s.width()).sum();
    let [l, r] = Layout::horizontal([Constraint::Min(10), Constraint::Length(res_width as u16)]).areas(second);
    frame.render_widget(Paragraph::new(Line::from(tabs)), l);
    frame.render_widget(Paragraph::new(Line::from(res)), r);
}

fn last_run_with_results(model: &Model) -> Option<crate::core::ids::RunId> {
    model
        .runs
        .iter()
        .rev()
        .find(|r| r.build_errors.is_empty() && r.done > 0)
        .map(|r| r.number)
}

fn failed_in_run(model: &Model, run: RunId) -> usize {
    model
        .catalog
        .suites
        .iter()
        .flat_map(|s| &s.tests)
        .filter(|t| t.run == Some(run) && t.state == TestState::Failed)
        .count()
}

fn running_count(model: &Model) -> usize {
    model
        .catalog
        .suites
        .iter()
        .flat_map(|s| &s.tests)
        .filter(|t| t.state == TestState::Running)
        .count()
}

fn status(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let ui = &model.ui;
    let left = if ui.filter_editing {
        Line::from(vec![
            Span::styled(" / ", theme.accent()),
            Span::raw(ui.filter.clone()),
            Span::styled("▏", theme.accent()),
            Span::styled("   Enter keep · Esc clear", theme.dim()),
        ])
    } else if let Some(note) = &ui.note {
        Line::from(Span::styled(format!(" {note}"), theme.fg(Color::Yellow)))
    } else if let Some(run) = model.current_run() {
        let mut spans = Vec::new();
        if !model.ui.last_change.is_empty() {
            let first = &model.ui.last_change[0];
            let more = model.ui.last_change.len() - 1;
            let text = if more > 0 {
                format!("{first} (+{more})")
            } else {
                first.clone()
            };
            spans.push(Span::styled(" changed: ", theme.dim()));
            spans.push(Span::raw(text));
            spans.push(Span::raw(" ·"));
        }
        spans.push(Span::styled(" why: ", theme.dim()));
        spans.push(Span::raw(run.reasons.join("; ")));
        if !run.warnings.is_empty() {
            spans.push(Span::styled(
                format!("  ⚠ {}", run.warnings[0]),
                theme.fg(Color::Yellow),
            ));
        }
        Line::from(spans)
    } else {
        Line::from("")
    };
    let hints = if area.width >= 100 {
        "j/k ⏎ / f r a Tab ? q "
    } else {
        "? help "
    };
    let [l, r] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(hints.chars().count() as u16)]).areas(area);
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(Span::styled(hints, theme.dim())), r);
}

fn help(model: &Model, frame: &mut Frame, theme: Theme) {
    let area = frame.area();
    // insta's keys only where insta is used.
    let insta = crate::core::insta::used(&model.workspace)
        || model.catalog.suites.iter().flat_map(|s| &s.tests).any(|t| {
            t.failure
                .as_ref()
                .is_some_and(|f| f.output.contains("Snapshot Summary"))
        });
    let bindings: Vec<&keymap::Binding> = keymap::KEYMAP
        .iter()
        .chain(keymap::INSTA_KEYMAP.iter().filter(|_| insta))
        .collect();
    let width = area.width.min(116);
    // Each binding's rows once wrapped to the box.
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = bindings
        .iter()
        .map(|b| (23 + b.action.chars().count()).div_ceil(inner))
        .sum();
    let height = (rows as u16 + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let lines: Vec<Line> = bindings
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<22}", b.keys), theme.accent()),
                Span::raw(b.action),
            ])
        })
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(" keys ")
                .title_bottom(Line::from(" any key closes ").style(theme.dim()))
                .border_style(theme.fg(Color::Cyan).add_modifier(Modifier::BOLD)),
        ),
        rect,
    );
}

/// Tests of `run` in `state`.
fn in_state(model: &Model, run: RunId, state: TestState) -> usize {
    model
        .catalog
        .suites
        .iter()
        .flat_map(|s| &s.tests)
        .filter(|t| t.run == Some(run) && t.state == state)
        .count()
}
