//! The coverage view (2): gauges against the thresholds, then the files —
//! missed thresholds first — with line and branch coverage, the change since
//! the previous run, and the lines and branch outcomes no test reaches.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::theme::Theme;
use crate::core::coverage::{judge, FileCoverage, Ratio};
use crate::core::coverage_view::{misses_threshold, ordered_files};
use crate::core::ui_state::CoverageSort;
use crate::core::Model;

fn gauge(label: &str, r: Ratio, delta: Option<f64>, min: Option<f64>, theme: Theme) -> Line<'static> {
    let width = 20;
    let filled = ((r.percent / 100.0) * width as f64).round() as usize;
    let ok = min.is_none_or(|m| r.percent >= m);
    let style = if ok {
        theme.fg(Color::Green)
    } else {
        theme.fg(Color::Red).add_modifier(Modifier::BOLD)
    };
    let mut spans = vec![
        Span::raw(format!(" {label:<9}")),
        Span::styled("█".repeat(filled.min(width)), style),
        Span::styled("░".repeat(width - filled.min(width)), theme.dim()),
        Span::styled(format!(" {:>6.2} %", r.percent), style),
        Span::raw(format!("  {}/{}", r.covered, r.count)),
    ];
    if let Some(d) = delta {
        let arrow = if d > 0.0 {
            "▲"
        } else if d < 0.0 {
            "▼"
        } else {
            "·"
        };
        spans.push(Span::raw(format!("  {arrow} {:.2}", d.abs())));
    }
    if let Some(m) = min {
        spans.push(Span::styled(format!("  min {m} {}", if ok { "✓" } else { "✗" }), style));
    }
    Line::from(spans)
}

pub fn render(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let mut lines = Vec::new();
    let kept = model.kept_coverage_run.filter(|_| model.coverage_run.is_none());
    let Some(cov) = model
        .coverage
        .as_ref()
        .filter(|_| model.coverage_run.is_some() || kept.is_some())
    else {
        let why = if model.coverage_on {
            " no coverage yet: it is collected when a run ends"
        } else {
            " coverage is off (see the log, or `coverage.mode` in vigil.toml)"
        };
        lines.push(Line::from(Span::styled(why, theme.dim())));
        frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Coverage ")), area);
        return;
    };
    if let Some(run) = kept {
        // Until this session's first coverage run ends: the last figures
        // kept, said to be such.
        lines.push(Line::from(Span::styled(
            format!(" from the history (run #{run}, an earlier session): this session's come when its first run ends"),
            theme.fg(Color::Yellow),
        )));
    }
    let prev = model.coverage_prev.as_ref();
    let overall = model.rules.coverage.iter().find(|t| t.path.is_none());
    lines.push(gauge(
        "lines",
        cov.lines(),
        prev.map(|p| cov.lines().percent - p.lines().percent),
        overall.and_then(|t| t.lines),
        theme,
    ));
    if let Some(b) = cov.branches() {
        let d = prev.and_then(|p| p.branches()).map(|p| b.percent - p.percent);
        lines.push(gauge("branches", b, d, overall.and_then(|t| t.branches), theme));
    }
    let verdicts = judge(cov, &model.rules.coverage);
    for v in verdicts.iter().filter(|v| !v.passed) {
        lines.push(Line::from(Span::styled(
            format!(" ✗ {} {}: {:.2} % < {:.2} %", v.path, v.metric, v.actual, v.required),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    lines.push(Line::from(""));
    let sort = match model.ui.coverage_sort {
        CoverageSort::Coverage => "coverage",
        CoverageSort::Delta => "delta",
        CoverageSort::Uncovered => "uncovered lines",
    };
    lines.push(Line::from(vec![
        Span::styled(
            format!(
                " {:<44} {:>8} {:>7} {:>9} {:>6}",
                "file", "lines", "Δ", "branches", "uncov"
            ),
            theme.bold(),
        ),
        Span::styled(format!("   sorted by {sort} (s d u)"), theme.dim()),
    ]));
    if let Some((path, text)) = &model.ui.source {
        source(model, cov.file(path), path, text, frame, area, theme);
        return;
    }
    let failing = |f: &FileCoverage| misses_threshold(model, f);
    let delta = |f: &FileCoverage| {
        prev.and_then(|p| p.file(&f.path))
            .map(|p| f.line_ratio().percent - p.line_ratio().percent)
    };
    let uncovered = |f: &FileCoverage| f.line_ratio().count - f.line_ratio().covered;
    let files: Vec<&FileCoverage> = ordered_files(model).into_iter().filter_map(|p| cov.file(p)).collect();
    for (i, f) in files.into_iter().enumerate() {
        let mark = if failing(f) { "✗" } else { " " };
        let style = if failing(f) {
            theme.fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Default::default()
        };
        let d = delta(f).map_or("·".to_owned(), |d| format!("{d:+.1}"));
        let b = if cov.branches_measured {
            format!("{:.1} %", f.branch_ratio().percent)
        } else {
            "–".to_owned()
        };
        let ranges: Vec<String> = f
            .uncovered_ranges()
            .iter()
            .take(6)
            .map(|[a, b]| if a == b { a.to_string() } else { format!("{a}–{b}") })
            .collect();
        let missing: Vec<String> = f
            .missing_branches()
            .iter()
            .take(4)
            .map(|m| format!("◆{}:{}", m.line, m.outcome))
            .collect();
        let line = Line::from(vec![
            Span::styled(
                format!(
                    "{mark}{:<44} {:>6.1} % {d:>7} {b:>9} {:>6}",
                    f.path,
                    f.line_ratio().percent,
                    uncovered(f)
                ),
                style,
            ),
            Span::styled(
                format!("  ▌{} {}", ranges.join(" "), missing.join(" ")),
                theme.fg(Color::Red),
            ),
        ]);
        lines.push(if i == model.ui.coverage_selected {
            line.patch_style(theme.selected())
        } else {
            line
        });
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " j/k select · ⏎ open the file (n/N jump between uncovered lines) · s d u sort",
        theme.dim(),
    )));
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Coverage ")), area);
}

/// The source pane: uncovered lines marked `▌` (red), branch outcomes that
/// never happened marked `◆` with which.
fn source(
    model: &Model,
    file: Option<&FileCoverage>,
    path: &str,
    text: &str,
    frame: &mut Frame,
    area: Rect,
    theme: Theme,
) {
    let maps = &model.test_maps;
    let counts = maps.counts(path);
    let mapped = !maps.is_empty();
    let cursor = model.ui.source_line;
    // The selected line's tests, at the foot of the pane.
    let reaching = maps.reaching(path, cursor as u32);
    let foot: Vec<Line> = if !mapped || cursor == 0 {
        Vec::new()
    } else if reaching.is_empty() {
        vec![Line::from(Span::styled(
            format!(" line {cursor}: no test reaches it"),
            theme.dim(),
        ))]
    } else {
        let names: Vec<String> = reaching.iter().take(4).map(|t| t.to_string()).collect();
        let more = reaching.len().saturating_sub(4);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        vec![Line::from(vec![
            Span::styled(format!(" line {cursor}: "), theme.dim()),
            Span::raw(format!(
                "{} test{} · {}{more}",
                reaching.len(),
                if reaching.len() == 1 { "" } else { "s" },
                names.join(", ")
            )),
            Span::styled("  ⏎ go to the first", theme.dim()),
        ])]
    };
    let height = (area.height.saturating_sub(2) as usize).saturating_sub(foot.len());
    let missing = file.map(|f| f.missing_branches()).unwrap_or_default();
    let mut lines: Vec<Line> = text
        .lines()
        .enumerate()
        .skip(model.ui.source_scroll)
        .take(height)
        .map(|(i, code)| {
            let n = i as u32 + 1;
            let count = file.and_then(|f| f.lines.get(&n));
            let (mark, style) = match count {
                Some(0) => ("▌", theme.fg(Color::Red)),
                Some(_) => (" ", theme.fg(Color::Green)),
                None => (" ", theme.dim()),
            };
            let mut spans = vec![Span::styled(format!("{n:>5} "), theme.dim())];
            if mapped {
                // How many tests reach the line.
                let reach = counts.get(&n).map_or(String::new(), |c| format!("{c}×"));
                spans.push(Span::styled(format!("{reach:>4} "), theme.fg(Color::Cyan)));
            }
            spans.push(Span::styled(mark, style));
            let code_style = if n as usize == cursor {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            spans.push(Span::styled(format!(" {code}"), code_style));
            let never: Vec<&str> = missing
                .iter()
                .filter(|m| m.line == n)
                .map(|m| m.outcome.as_str())
                .collect();
            if !never.is_empty() {
                spans.push(Span::styled(
                    format!("   ◆ {} never", never.join(" and ")),
                    theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
                ));
            }
            Line::from(spans)
        })
        .collect();
    lines.extend(foot);
    let title = if mapped {
        format!(" {path} — Esc back · j/k line · n/N next/previous uncovered · N× tests reach it ")
    } else {
        format!(" {path} — Esc back · j/k line · n/N next/previous uncovered ")
    };
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
}
