//! The test tree pane: only the rows on screen are drawn, so 10,000 tests
//! cost what 30 do.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::theme::{duration, Theme};
use crate::core::budget::{standing, Standing};
use crate::core::tree::{scroll_offset, Row, RowKind};
use crate::core::ui_state::Pane;
use crate::core::{Model, TestState};

pub fn render(model: &Model, rows: &[Row], selected: usize, frame: &mut Frame, area: Rect, theme: Theme) {
    let height = area.height.saturating_sub(2) as usize;
    let offset = scroll_offset(selected, model.ui.scroll, height, rows.len());
    let inner_width = area.width.saturating_sub(2) as usize;
    let current = model.current_run().map(|r| r.number);
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, row)| {
            let line = row_line(model, row, inner_width, current, theme);
            if i == selected {
                line.patch_style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    let title = if rows.is_empty() && (model.ui.failures_only || !model.ui.filter.is_empty()) {
        " Tests — nothing matches ".to_owned()
    } else {
        format!(" Tests {} ", position(selected, rows.len()))
    };
    let border = if model.ui.focus == Pane::Tree {
        theme.fg(Color::Cyan)
    } else {
        theme.dim()
    };
    let body = if model.catalog.suites.is_empty() {
        Paragraph::new(Line::from(Span::styled(
            " building and listing the tests…",
            theme.dim(),
        )))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(Block::bordered().title(title).border_style(border)), area);
}

fn position(selected: usize, total: usize) -> String {
    if total == 0 {
        String::new()
    } else {
        format!("{}/{}", selected + 1, total)
    }
}

fn row_line<'a>(
    model: &'a Model,
    row: &Row<'a>,
    width: usize,
    current: Option<crate::core::ids::RunId>,
    theme: Theme,
) -> Line<'a> {
    // A result a change has made stale is never shown as it was.
    let stale = !matches!(row.state, TestState::Running | TestState::Pending)
        && match &row.kind {
            RowKind::Test { suite, test } => model.catalog.suites[*suite].tests[*test].stale,
            RowKind::Suite { suite, .. } => model.catalog.suites[*suite].tests.iter().any(|t| t.stale),
            RowKind::Module { .. } => false,
        };
    let (glyph, glyph_style) = if stale {
        (Theme::STALE, theme.dim())
    } else {
        (Theme::glyph(row.state, model.now), theme.state(row.state))
    };
    let indent = "  ".repeat(row.depth as usize);
    let budgets = &model.rules.budgets;
    let (right, dim_row, standing) = match &row.kind {
        RowKind::Suite { suite, .. } => {
            let s = &model.catalog.suites[*suite];
            let last = s.tests.iter().filter_map(|t| t.run).max();
            let kept = last.is_some() && last != current;
            // Finished: its wall time; running: the clock since its first
            // test started, counting against the budget live.
            let took = match last {
                Some(r) if !kept => s.wall_time(r).or_else(|| {
                    let first = s
                        .tests
                        .iter()
                        .filter(|t| t.run == Some(r))
                        .filter_map(|t| t.started_at)
                        .min()?;
                    Some(model.now.saturating_sub(first))
                }),
                _ => None,
            };
            let time = match (last, took) {
                (Some(r), _) if kept => format!("kept {r}"),
                (_, Some(d)) if row.state == TestState::Running => format!("{}…", duration(d)),
                (_, Some(d)) => duration(d),
                (_, None) => String::new(),
            };
            let standing = took.zip(budgets.suite_limit(s)).map(|(d, l)| standing(d, l));
            (
                format!(" {:<11} {:>5} {:>9}", s.suite_type.as_str(), row.tests, time),
                kept,
                standing,
            )
        }
        RowKind::Module { .. } => (format!(" {:>5} {:>9}", row.tests, ""), false, None),
        RowKind::Test { suite, test } => {
            let s = &model.catalog.suites[*suite];
            let t = &s.tests[*test];
            let took = match (t.state, t.started_at, t.duration) {
                (TestState::Running, Some(start), _) => Some(model.now.saturating_sub(start)),
                (TestState::Skipped | TestState::Pending, _, _) => None,
                (_, _, d) => d,
            };
            let time = match (t.state, took) {
                (TestState::Running, Some(d)) => format!("{}…", duration(d)),
                (_, Some(d)) => duration(d),
                (_, None) => String::new(),
            };
            let standing = took
                .zip(budgets.test_limit(&s.binary_id, &t.name))
                .map(|(d, l)| standing(d, l));
            (format!(" {time:>10}"), t.run.is_some() && t.run != current, standing)
        }
    };
    // Over budget: red and ▲; near it (80 %): yellow and △. The marker says
    // it without colour.
    let (right, right_style) = match standing {
        Some(Standing::Over) => (format!("{right}▲"), theme.fg(Color::Red).add_modifier(Modifier::BOLD)),
        Some(Standing::Warning) => (format!("{right}△"), theme.fg(Color::Yellow)),
        Some(Standing::Fine) | None => (format!("{right} "), theme.dim()),
    };
    let label_room = width.saturating_sub(indent.chars().count() + 2 + right.chars().count());
    let label = truncate(row.label, label_room);
    let pad = label_room.saturating_sub(label.chars().count());
    let base = if dim_row { theme.dim() } else { Style::default() };
    Line::from(vec![
        Span::raw(indent),
        Span::styled(glyph, glyph_style),
        Span::raw(" "),
        Span::styled(label, base),
        Span::raw(" ".repeat(pad)),
        Span::styled(right, right_style),
    ])
}

/// Cuts `s` to `max` characters, marking the cut with `…`.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
