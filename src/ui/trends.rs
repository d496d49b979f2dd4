//! The budgets view (3) and the history view (4): where time goes against
//! the budgets, and what recent runs say — trend lines, flaky and slowest
//! tests.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::theme::{duration, Theme};
use crate::core::budget::{standing, Standing, Target, Verdict};
use crate::core::run::Phase;
use crate::core::Model;

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `values` (the last `width` of them), scaled to their max.
pub(crate) fn spark(values: &[f64], width: usize) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let max = shown.iter().copied().fold(0.0_f64, f64::max);
    shown
        .iter()
        .map(|v| {
            if max <= 0.0 {
                BLOCKS[0]
            } else {
                BLOCKS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

fn bar(fraction: f64, width: usize) -> String {
    let filled = (fraction.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), " ".repeat(width - filled))
}

fn secs(s: f64) -> String {
    duration(std::time::Duration::from_secs_f64(s.max(0.0)))
}

fn verdict_line(v: &Verdict, marker: &str, model: &Model, theme: Theme, over: bool) -> Line<'static> {
    let what = match (&v.kind, &v.name) {
        (Target::Test, Some(n)) => format!("{} › {n}", v.binary_id),
        _ => format!("{} (suite)", v.binary_id),
    };
    let style = if over {
        theme.fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        theme.fg(Color::Yellow)
    };
    let mut spans = vec![
        Span::styled(format!(" {marker} "), style),
        Span::raw(format!("{what:<56} ")),
        Span::styled(format!("{:>9} / {:<9}", secs(v.actual_s), secs(v.limit_s)), style),
    ];
    if let Some(h) = v.name.as_ref().and_then(|n| model.history.get(&v.binary_id, n)) {
        if let (Some(p50), Some(p95)) = (h.p50(), h.p95()) {
            spans.push(Span::styled(
                format!(" p50 {} p95 {} ", secs(p50), secs(p95)),
                theme.dim(),
            ));
            spans.push(Span::raw(spark(&h.durations, 12)));
        }
    }
    Line::from(spans)
}

pub fn budgets(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let mut lines = Vec::new();
    let run = model
        .runs
        .iter()
        .rev()
        .find(|r| r.phase == Phase::Finished || r.phase.listed());
    match run {
        None => lines.push(Line::from(Span::styled(" no run yet", theme.dim()))),
        Some(r) => {
            lines.push(Line::from(Span::styled(
                format!(" suites in run {} against their budgets", r.number),
                theme.bold(),
            )));
            let mut rows: Vec<(String, &'static str, std::time::Duration, Option<std::time::Duration>)> = model
                .catalog
                .suites
                .iter()
                .filter_map(|s| {
                    let took = s.wall_time(r.number)?;
                    Some((
                        s.binary_id.to_string(),
                        s.suite_type.as_str(),
                        took,
                        model.rules.budgets.suite_limit(s),
                    ))
                })
                .collect();
            rows.sort_by(|a, b| {
                let share = |x: &(String, &str, std::time::Duration, Option<std::time::Duration>)| {
                    x.3.map_or(0.0, |l| x.2.as_secs_f64() / l.as_secs_f64().max(f64::EPSILON))
                };
                share(b).total_cmp(&share(a))
            });
            for (id, kind, took, limit) in rows {
                let (frac, limit_text, style, marker) = match limit {
                    Some(l) => {
                        let frac = took.as_secs_f64() / l.as_secs_f64().max(f64::EPSILON);
                        let (style, marker) = match standing(took, l) {
                            Standing::Over => (theme.fg(Color::Red).add_modifier(Modifier::BOLD), " ▲"),
                            Standing::Warning => (theme.fg(Color::Yellow), " △"),
                            Standing::Fine => (theme.fg(Color::Green), ""),
                        };
                        (frac, format!("{} / {}", duration(took), duration(l)), style, marker)
                    }
                    None => (0.0, format!("{} / no budget", duration(took)), theme.dim(), ""),
                };
                let trend = model.history.suites.get(&id).map_or(String::new(), |v| spark(v, 12));
                lines.push(Line::from(vec![
                    Span::styled(format!(" {trend:<12}"), theme.fg(Color::Cyan)),
                    Span::raw(format!(" {id:<32} {kind:<11} ")),
                    Span::styled(bar(frac, 20), style),
                    Span::raw(format!(" {limit_text}")),
                    Span::styled(
                        format!(
                            "{}{marker}",
                            if frac > 0.0 {
                                format!("  {:.0} %", frac * 100.0)
                            } else {
                                String::new()
                            }
                        ),
                        style,
                    ),
                ]));
            }
            let over: Vec<&Verdict> = r.budgets.violations.iter().filter(|v| v.kind == Target::Test).collect();
            let near: Vec<&Verdict> = r.budgets.warnings.iter().filter(|v| v.kind == Target::Test).collect();
            lines.push(Line::from(""));
            let test_budget = model.rules.budgets.test.map_or("none".to_owned(), duration);
            lines.push(Line::from(Span::styled(
                format!(" tests over their budget (default {test_budget})"),
                theme.bold(),
            )));
            if over.is_empty() {
                lines.push(Line::from(Span::styled("   none", theme.dim())));
            }
            lines.extend(over.iter().map(|v| verdict_line(v, "▲", model, theme, true)));
            if !near.is_empty() {
                lines.push(Line::from(Span::styled(
                    " near their budget (80 % and more)",
                    theme.bold(),
                )));
                lines.extend(near.iter().map(|v| verdict_line(v, "△", model, theme, false)));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(" slower than their own history", theme.bold())));
            if r.slower.is_empty() {
                lines.push(Line::from(Span::styled("   none", theme.dim())));
            }
            for s in &r.slower {
                let h = model.history.get(&s.binary_id, &s.name);
                lines.push(Line::from(vec![
                    Span::styled(" ⚠ ", theme.fg(Color::Yellow)),
                    Span::raw(format!(
                        "{:<56} {:>9}",
                        format!("{} › {}", s.binary_id, s.name),
                        secs(s.duration_s)
                    )),
                    Span::styled(format!("  p95 {}  ", secs(s.p95_s)), theme.dim()),
                    Span::raw(h.map_or(String::new(), |h| spark(&h.durations, 12))),
                ]));
            }
            if model.rules.budgets.enforce {
                lines.push(Line::from(""));
                lines.push(Line::from(Span::styled(
                    " budgets are enforced: a violation fails the gate",
                    theme.dim(),
                )));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Budgets ")), area);
}

pub fn history(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let h = &model.history;
    let width = (area.width as usize).saturating_sub(40).clamp(10, 60);
    let mut lines = vec![Line::from(Span::styled(
        format!(" the last {} runs", h.runs.len()),
        theme.bold(),
    ))];
    let series: [(&str, Vec<f64>, String); 3] = [
        (
            "total time",
            h.runs.iter().map(|r| r.duration_s).collect(),
            h.runs.last().map_or(String::new(), |r| secs(r.duration_s)),
        ),
        (
            "tests run",
            h.runs.iter().map(|r| r.total as f64).collect(),
            h.runs.last().map_or(String::new(), |r| r.total.to_string()),
        ),
        (
            "tests failed",
            h.runs.iter().map(|r| r.failed as f64).collect(),
            h.runs.last().map_or(String::new(), |r| r.failed.to_string()),
        ),
    ];
    let mut series = series.to_vec();
    let covered: Vec<f64> = h.runs.iter().filter_map(|r| r.coverage).collect();
    if let Some(last) = covered.last() {
        series.push(("line coverage", covered.clone(), format!("{last:.2} %")));
    }
    for (label, values, last) in series {
        lines.push(Line::from(vec![
            Span::raw(format!(" {label:<14}")),
            Span::styled(spark(&values, width), theme.fg(Color::Cyan)),
            Span::raw(format!("  {last}")),
        ]));
    }
    lines.push(Line::from(""));
    // Kept runs plus this session's (recorded as they finish).
    let (narrowed, misses) = (h.narrowed_runs, h.selection_misses);
    let rate = crate::core::sweep::miss_rate(narrowed, misses);
    lines.push(Line::from(vec![
        Span::styled(" test-level selection: ", theme.bold()),
        match rate {
            None => Span::styled("no run narrowed by coverage maps yet", theme.dim()),
            Some(r) => Span::styled(
                format!("{narrowed} runs narrowed by coverage maps, {misses} misses found by sweeps ({r} per 100)"),
                if misses > 0 {
                    theme.state(crate::core::TestState::Failed)
                } else {
                    theme.fg(Color::Green)
                },
            ),
        },
    ]));
    lines.push(Line::from(""));
    let flaky = h.flaky();
    lines.push(Line::from(Span::styled(
        " flaky: results that flipped on an unchanged tree",
        theme.bold(),
    )));
    if flaky.is_empty() {
        lines.push(Line::from(Span::styled("   none seen", theme.dim())));
    }
    for f in flaky.iter().take(8) {
        lines.push(Line::from(vec![
            Span::styled(" ⚠ ", theme.fg(Color::Yellow)),
            Span::raw(format!(
                "{:<60} {} flips in {} runs",
                format!("{} › {}", f.binary_id, f.name),
                f.flips,
                f.runs
            )),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " slowest tests (p50 / p95 of recent passing runs)",
        theme.bold(),
    )));
    for (b, t, p50, p95) in h.slowest(12) {
        let d = h.get(b, t).map_or(String::new(), |x| spark(&x.durations, 12));
        lines.push(Line::from(vec![
            Span::raw(format!(
                "   {:<60} {:>9} / {:<9} ",
                format!("{b} › {t}"),
                secs(p50),
                secs(p95)
            )),
            Span::styled(d, theme.fg(Color::Cyan)),
        ]));
    }
    let title = match &h.kept {
        Some(k) => format!(
            " History · {} runs kept ({}) · {}{} ",
            k.runs,
            k.keep,
            crate::core::units::bytes(k.bytes),
            if k.pruned > 0 {
                format!(" · {} older pruned", k.pruned)
            } else {
                String::new()
            }
        ),
        None => " History ".to_owned(),
    };
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
}
