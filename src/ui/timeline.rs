//! The timeline view (6): the current run's tests on the slots they ran on,
//! a row per slot and a bar per test across the run's time — where a slow
//! suite's time goes. Failures are red; the test selected in the tree is
//! highlighted, and named below.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::theme::{duration, Theme};
use crate::core::timeline::of_run;
use crate::core::ui_state::RowKey;
use crate::core::{Model, TestState};

pub fn render(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let Some(run) = model.runs.iter().rev().find(|r| {
        model
            .catalog
            .suites
            .iter()
            .any(|s| s.tests.iter().any(|t| t.run == Some(r.number)))
    }) else {
        frame.render_widget(
            Paragraph::new("No test has run yet.").block(Block::bordered().title(" Timeline ")),
            area,
        );
        return;
    };
    let bars = of_run(model, run.number);
    let end = bars.iter().map(|b| b.end).max().unwrap_or_default();
    let start = bars.iter().map(|b| b.start).min().unwrap_or_default();
    let span = end.saturating_sub(start).as_secs_f64().max(1e-3);
    let label = 8usize;
    let width = (area.width as usize).saturating_sub(label + 2).max(10);
    let slots = bars.iter().map(|b| b.slot + 1).max().unwrap_or(0);
    let selected = match &model.ui.selected {
        Some(RowKey::Test(b, n)) => Some((b.clone(), n.clone())),
        _ => None,
    };
    let state_of = |key: &(std::sync::Arc<str>, String)| {
        model
            .catalog
            .suite(&key.0)
            .and_then(|s| s.test_index(&key.1).map(|i| s.tests[i].state))
            .unwrap_or_default()
    };
    let mut lines = Vec::new();
    for slot in 0..slots {
        // Each column shows the bar that covers most of it.
        let mut cells: Vec<(char, ratatui::style::Style)> = vec![(' ', theme.dim()); width];
        for b in bars.iter().filter(|b| b.slot == slot) {
            let col = |t: std::time::Duration| {
                ((t.saturating_sub(start).as_secs_f64() / span) * width as f64).floor() as usize
            };
            let (from, to) = (col(b.start).min(width - 1), col(b.end).min(width - 1));
            let state = state_of(&b.key);
            let mut style = theme.state(state);
            if selected.as_ref() == Some(&b.key) {
                style = theme.fg(Color::Cyan).add_modifier(Modifier::BOLD | Modifier::REVERSED);
            }
            for (i, cell) in cells.iter_mut().enumerate().take(to + 1).skip(from) {
                let glyph = if i == from { '▐' } else { '█' };
                *cell = (glyph, style);
            }
        }
        let mut spans = vec![Span::styled(
            format!("{:>width$} ", format!("slot {slot}"), width = label),
            theme.dim(),
        )];
        spans.extend(cells.into_iter().map(|(c, s)| Span::styled(c.to_string(), s)));
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(Span::styled(
        format!(
            "{:>label$} 0{:>w$}",
            "",
            duration(end.saturating_sub(start)),
            w = width.saturating_sub(1)
        ),
        theme.dim(),
    )));
    lines.push(Line::from(""));
    let failed = bars.iter().filter(|b| state_of(&b.key) == TestState::Failed).count();
    lines.push(Line::from(Span::styled(
        format!(
            "{} tests on {slots} slots over {} · {failed} failed (red) · select a test in the tree (1) to highlight it",
            bars.len(),
            duration(end.saturating_sub(start))
        ),
        theme.dim(),
    )));
    if let Some(b) = selected.as_ref().and_then(|k| bars.iter().find(|b| &b.key == k)) {
        lines.push(Line::from(vec![
            Span::styled("selected: ", theme.dim()),
            Span::raw(format!(
                "{} {} on slot {} from {} to {}",
                b.key.0,
                b.key.1,
                b.slot,
                duration(b.start),
                duration(b.end)
            )),
        ]));
    }
    // The longest ones, where a slow run's time goes.
    let mut longest: Vec<_> = bars.iter().collect();
    longest.sort_by_key(|b| std::cmp::Reverse(b.end.saturating_sub(b.start)));
    for b in longest.iter().take(5) {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:>9}  ", duration(b.end.saturating_sub(b.start))),
                theme.dim(),
            ),
            Span::styled(format!("{} {}", b.key.0, b.key.1), theme.state(state_of(&b.key))),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(format!(" Timeline · run {} ", run.number))),
        area,
    );
}
