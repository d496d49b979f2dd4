//! The detail pane (the selected test's life and failure, or a suite's
//! summary) and the build-errors view that replaces the tree while the code
//! does not compile.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::theme::{bytes, duration, Theme};
use crate::core::budget::{standing, Standing};
use crate::core::tree::{Row, RowKind};
use crate::core::ui_state::Pane;
use crate::core::{Model, TestCase, TestState};

pub fn render(model: &Model, row: Option<&Row>, frame: &mut Frame, area: Rect, theme: Theme) {
    let (title, lines) = match row {
        None => (String::from(" Detail "), vec![]),
        Some(row) => match &row.kind {
            RowKind::Test { suite, test } => {
                let s = &model.catalog.suites[*suite];
                let t = &s.tests[*test];
                let budget = model.rules.budgets.test_limit(&s.binary_id, &t.name);
                (
                    format!(" {} › {} ", s.binary_id, t.name),
                    test_lines(model, &s.binary_id, t, budget, theme),
                )
            }
            RowKind::Suite { suite, .. } => {
                let s = &model.catalog.suites[*suite];
                let mut lines = vec![Line::from(format!(
                    "{} suite · {} target · package {}",
                    s.suite_type.as_str(),
                    s.kind,
                    s.package
                ))];
                lines.push(counts_line(s.tests.iter().map(|t| t.state), theme));
                let executable = model.coverage.as_ref().map(|c| c.lines().count);
                let outcomes = model.coverage.as_ref().and_then(|c| c.branches()).map(|b| b.count);
                if let Some(r) = crate::core::testmap::suite_reach(&model.test_maps, s, executable, outcomes) {
                    let share = r
                        .lines_percent
                        .map(|p| format!(" ({p:.1} % of the workspace's lines)"))
                        .unwrap_or_default();
                    let branches = match (r.branches, r.branches_percent) {
                        (Some(b), Some(p)) => format!(" and {b} branch outcomes ({p:.1} %)"),
                        (Some(b), None) => format!(" and {b} branch outcomes"),
                        _ => String::new(),
                    };
                    lines.push(Line::from(vec![
                        Span::styled("coverage: ", theme.dim()),
                        Span::raw(format!(
                            "its tests reach {} lines{share}{branches}, from their maps",
                            r.lines
                        )),
                    ]));
                }
                let mut records = s.tests.iter().filter_map(|t| {
                    model
                        .sources
                        .get(&crate::core::testmap::TestId::new(&*s.binary_id, t.name.as_str()))
                });
                if let Some(first) = records.next() {
                    let mut n = first.assertions;
                    let mut seen = 1;
                    for r in records {
                        n += r.assertions;
                        seen += 1;
                    }
                    lines.push(Line::from(vec![
                        Span::styled("record: ", theme.dim()),
                        Span::raw(format!(
                            "{n} assertion{} in {seen} of its {} tests' sources",
                            if n == 1 { "" } else { "s" },
                            s.tests.len()
                        )),
                    ]));
                }
                if let Some(run) = s.tests.iter().filter_map(|t| t.run).max() {
                    if let Some(d) = s.wall_time(run) {
                        lines.push(Line::from(format!("wall time {} in run {run}", duration(d))));
                    }
                    let why = model
                        .runs
                        .iter()
                        .find(|r| r.number == run)
                        .and_then(|r| r.binary_reasons.get(&*s.binary_id));
                    if let Some(why) = why {
                        lines.push(Line::from(vec![
                            Span::styled("why: ", theme.dim()),
                            Span::raw(why.clone()),
                        ]));
                    }
                }
                (format!(" {} ", s.binary_id), lines)
            }
            RowKind::Module { suite, .. } => {
                let s = &model.catalog.suites[*suite];
                let prefix = format!("{}::", row.label);
                let states = s.tests.iter().filter(|t| t.name.starts_with(&prefix)).map(|t| t.state);
                (
                    format!(" {} › {} ", s.binary_id, row.label),
                    vec![counts_line(states, theme)],
                )
            }
        },
    };
    let border = if model.ui.focus == Pane::Detail {
        theme.fg(Color::Cyan)
    } else {
        theme.dim()
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((model.ui.detail_scroll, 0))
            .block(Block::bordered().title(title).border_style(border)),
        area,
    );
}

fn counts_line(states: impl Iterator<Item = TestState>, theme: Theme) -> Line<'static> {
    const ORDER: [TestState; 8] = [
        TestState::Failed,
        TestState::Xpass,
        TestState::Running,
        TestState::Pending,
        TestState::Passed,
        TestState::Xfail,
        TestState::Skipped,
        TestState::Cancelled,
    ];
    let mut counts = [0usize; 8];
    let mut total = 0;
    for state in states {
        total += 1;
        if let Some(i) = ORDER.iter().position(|s| *s == state) {
            counts[i] += 1;
        }
    }
    let mut spans = vec![Span::raw(format!("{total} tests: "))];
    for (state, n) in ORDER.iter().zip(counts) {
        if n > 0 {
            spans.push(Span::styled(format!("{n} {}  ", state.as_str()), theme.state(*state)));
        }
    }
    Line::from(spans)
}

fn percent(d: std::time::Duration, limit: std::time::Duration) -> f64 {
    d.as_secs_f64() / limit.as_secs_f64().max(f64::EPSILON) * 100.0
}

fn test_lines<'a>(
    model: &'a Model,
    binary_id: &str,
    t: &'a TestCase,
    budget: Option<std::time::Duration>,
    theme: Theme,
) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let mut head = vec![Span::styled(t.state.as_str(), theme.state(t.state))];
    match (t.state, t.duration, t.started_at) {
        (TestState::Running, _, Some(start)) => {
            head.push(Span::raw(format!(" for {}", duration(model.now.saturating_sub(start)))))
        }
        (_, Some(d), _) => head.push(Span::raw(format!(" in {}", duration(d)))),
        _ => {}
    }
    if let Some(run) = t.run {
        head.push(Span::raw(format!(" · run {run}")));
    }
    if let Some(peak) = t.peak_memory {
        head.push(Span::raw(format!(" · peak {}", bytes(peak))));
    }
    if t.xfail {
        head.push(Span::styled(" · expected to fail", theme.dim()));
    }
    if let Some(limit) = budget {
        let took = match (t.state, t.started_at, t.duration) {
            (TestState::Running, Some(start), _) => Some(model.now.saturating_sub(start)),
            (_, _, d) => d,
        };
        let (text, style) = match took.map(|d| (d, standing(d, limit))) {
            Some((d, Standing::Over)) => (
                format!(" · over its {} budget ({:.0} %)", duration(limit), percent(d, limit)),
                theme.fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            Some((d, Standing::Warning)) => (
                format!(" · near its {} budget ({:.0} %)", duration(limit), percent(d, limit)),
                theme.fg(Color::Yellow),
            ),
            Some((_, Standing::Fine)) | None => (format!(" · budget {}", duration(limit)), theme.dim()),
        };
        head.push(Span::styled(text, style));
    }
    lines.push(Line::from(head));
    if let Some(h) = model.history.get(binary_id, &t.name) {
        if let (Some(p50), Some(p95)) = (h.p50(), h.p95()) {
            lines.push(Line::from(vec![
                Span::styled("history ", theme.dim()),
                Span::styled(super::trends::spark(&h.durations, 20), theme.fg(Color::Cyan)),
                Span::styled(
                    format!(
                        "  p50 {}  p95 {}  {} runs",
                        duration(std::time::Duration::from_secs_f64(p50)),
                        duration(std::time::Duration::from_secs_f64(p95)),
                        h.runs
                    ),
                    theme.dim(),
                ),
            ]));
        }
        if h.flips > 0 {
            lines.push(Line::from(Span::styled(
                format!("flaky: flipped {} times on an unchanged tree", h.flips),
                theme.fg(Color::Yellow),
            )));
        }
    }
    let key = crate::core::testmap::TestId(binary_id.to_owned(), t.name.clone());
    // Why test-level selection ran it, in the run it last ran in.
    let why = t
        .run
        .and_then(|run| model.runs.iter().find(|r| r.number == run))
        .and_then(|r| r.test_reasons.get(&key));
    if let Some(why) = why {
        lines.push(Line::from(vec![
            Span::styled("why: ", theme.dim()),
            Span::raw(why.clone()),
        ]));
    }
    if let Some(m) = model.test_maps.tests.get(&key) {
        let files = m.files.len();
        lines.push(Line::from(vec![
            Span::styled("covers ", theme.dim()),
            Span::raw(format!(
                "{} lines in {files} file{}",
                m.line_count(),
                if files == 1 { "" } else { "s" }
            )),
            Span::styled(
                format!(
                    " ({}) · o opens them",
                    m.files.keys().take(3).cloned().collect::<Vec<_>>().join(", ")
                ),
                theme.dim(),
            ),
        ]));
    }
    if !t.transitions.is_empty() {
        let mut spans = Vec::new();
        let mut prev = std::time::Duration::ZERO;
        for (i, tr) in t.transitions.iter().enumerate() {
            if i == 0 {
                spans.push(Span::styled(tr.from.as_str(), theme.state(tr.from)));
            }
            spans.push(Span::styled(
                format!(" ─ {} → ", duration(tr.at.saturating_sub(prev))),
                theme.dim(),
            ));
            spans.push(Span::styled(tr.to.as_str(), theme.state(tr.to)));
            prev = tr.at;
        }
        lines.push(Line::from(spans));
    }
    if let Some(why) = &t.blocked {
        lines.push(Line::from(vec![
            Span::styled("blocked: ", theme.state(TestState::Blocked)),
            Span::raw(why.clone()),
            Span::styled(" · 5 shows the services", theme.dim()),
        ]));
    }
    let key = crate::core::testmap::TestId(binary_id.to_string(), t.name.clone());
    for called in crate::core::gating::test_calls(model, &key) {
        lines.push(Line::from(Span::styled(called, theme.dim())));
    }
    if t.state == TestState::Failed {
        for note in crate::core::gating::failure_notes(model, binary_id, &t.name) {
            lines.push(Line::from(Span::styled(
                note,
                theme.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            )));
        }
    }
    // What earlier checks found, until a check passes it (the session's
    // latest check shows below, and is in the history too).
    let kept: Vec<&crate::core::check::Finding> = model
        .history
        .findings
        .iter()
        .filter(|f| f.binary_id == binary_id && f.name == t.name)
        .collect();
    let checked_now = matches!(
        model.check.as_ref().and_then(|c| c.result.as_ref()),
        Some(Ok(s)) if s.tests.iter().any(|r| r.binary_id == binary_id && r.name == t.name)
    );
    if !checked_now {
        for f in kept {
            lines.push(Line::from(vec![
                Span::styled("marked by a check: ", theme.dim()),
                Span::styled(
                    format!("{} ", f.kind.as_str()),
                    theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
                ),
                Span::raw(f.evidence.clone()),
            ]));
        }
    }
    // The seed's record, from its source (read as runs start; else as the
    // latest check read it).
    let checked = model
        .check
        .as_ref()
        .and_then(|c| c.result.as_ref())
        .and_then(|r| r.as_ref().ok())
        .and_then(|s| s.tests.iter().find(|r| r.binary_id == binary_id && r.name == t.name))
        .and_then(|r| {
            Some(crate::core::check::SourceRecord {
                assertions: r.assertions?,
                markers: r.markers.clone(),
                fixtures: r.fixtures.clone(),
            })
        });
    let source = model
        .sources
        .get(&crate::core::testmap::TestId::new(binary_id, t.name.as_str()))
        .cloned()
        .or(checked);
    if let Some(r) = source {
        lines.push(Line::from(vec![
            Span::styled("record: ", theme.dim()),
            Span::raw(r.describe()),
        ]));
    }
    // What the latest audit (`c`) found of it.
    if let Some(Some(Ok(summary))) = model.check.as_ref().map(|c| c.result.as_ref()) {
        let mine: Vec<&crate::core::check::Finding> = summary
            .findings
            .iter()
            .filter(|f| f.binary_id == binary_id && f.name == t.name)
            .collect();
        let record = summary
            .tests
            .iter()
            .find(|r| r.binary_id == binary_id && r.name == t.name);
        if let Some(r) = record {
            lines.push(Line::from(vec![
                Span::styled("check: ", theme.dim()),
                Span::raw(if mine.is_empty() {
                    format!(
                        "no finding in {} runs ({} copies at once), {:.1}–{:.1} ms",
                        r.runs, r.parallel, r.min_ms, r.max_ms
                    )
                } else {
                    format!("{} of {} runs failed", r.failures, r.runs)
                }),
            ]));
        }
        for f in mine {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {} ", f.kind.as_str()),
                    theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
                ),
                Span::raw(f.evidence.clone()),
            ]));
        }
    }
    if let Some(snap) = t.failure.as_ref().and_then(|f| crate::core::insta::snapshot(&f.output)) {
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("snapshot ", theme.dim()),
            Span::raw(snap.file.clone()),
            Span::styled(" · u accepts it, U every pending one", theme.dim()),
        ]));
        lines.extend(diff_lines(&snap.diff, "- old", "+ new", theme));
    } else if let Some(a) = t
        .failure
        .as_ref()
        .and_then(|f| crate::core::assertion::parse(&f.message).or_else(|| crate::core::assertion::parse(&f.output)))
    {
        lines.push(Line::from(""));
        lines.extend(assertion_diff(&a, theme));
    }
    if let Some(f) = &t.failure {
        lines.push(Line::from(""));
        if let (Some(file), Some(bytes)) = (&f.output_file, f.output_bytes) {
            lines.push(Line::from(Span::styled(
                format!(
                    "output: {} in all, its head and tail below; the whole of it: {file}",
                    crate::core::units::bytes(bytes)
                ),
                theme.fg(Color::Yellow),
            )));
        }
        let location = f.location.as_ref().map(|l| format!("{}:{}", l.file, l.line));
        for text in f.output.lines() {
            let hit = location.as_ref().is_some_and(|loc| text.contains(loc.as_str()));
            if hit {
                lines.push(Line::from(Span::styled(
                    text,
                    theme.fg(Color::Red).add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                )));
            } else {
                lines.push(Line::from(text));
            }
        }
    }
    lines
}

pub fn build_errors(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let mut lines = Vec::new();
    if let Some(run) = model.current_run() {
        for d in &run.build_errors {
            for (i, text) in d.rendered.lines().enumerate() {
                let style = if i == 0 {
                    theme.state(TestState::Failed)
                } else if text.trim_start().starts_with("-->") {
                    theme.accent()
                } else {
                    Default::default()
                };
                lines.push(Line::from(Span::styled(text, style)));
            }
            lines.push(Line::from(""));
        }
        if lines.is_empty() {
            if let Some(err) = &run.tool_stderr {
                lines.extend(err.lines().map(Line::from));
            }
        }
    }
    let title = if model.current_run().is_some_and(|r| r.build_errors.is_empty()) {
        " nextest could not list the tests — its output "
    } else {
        " Build failed — cargo's diagnostics, first error first "
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((model.ui.detail_scroll, 0))
            .block(Block::bordered().title(title).border_style(theme.fg(Color::Red))),
        area,
    );
}

/// The diff of a failed assertion's values: `-` left (red), `+` right
/// (green), the differing characters reversed; without colour, `^` under
/// them instead.
pub(crate) fn assertion_diff(a: &crate::core::assertion::Assertion, theme: Theme) -> Vec<Line<'static>> {
    diff_lines(
        &crate::core::assertion::diff(&a.left, &a.right),
        "- left",
        "+ right",
        theme,
    )
}

/// A diff under a header naming its sides.
fn diff_lines(d: &[crate::core::assertion::DiffLine], old: &str, new: &str, theme: Theme) -> Vec<Line<'static>> {
    use crate::core::assertion::{plain, DiffLine};
    let d = d.to_vec();
    let mut lines = vec![Line::from(vec![
        Span::styled(old.to_owned(), theme.fg(Color::Red)),
        Span::styled(" / ", theme.dim()),
        Span::styled(new.to_owned(), theme.fg(Color::Green)),
    ])];
    if !theme.colour {
        lines.extend(plain(&d).into_iter().map(Line::from));
        return lines;
    }
    for l in d {
        match l {
            DiffLine::Same(t) => lines.push(Line::from(Span::styled(format!("  {t}"), theme.dim()))),
            DiffLine::Fold(n) => lines.push(Line::from(Span::styled(
                format!("  … {n} identical line{} …", if n == 1 { "" } else { "s" }),
                theme.dim(),
            ))),
            DiffLine::Left { text, span } => lines.push(marked("- ", &text, span, Color::Red, theme)),
            DiffLine::Right { text, span } => lines.push(marked("+ ", &text, span, Color::Green, theme)),
        }
    }
    lines
}

/// A changed line, the span where it differs reversed.
fn marked(mark: &str, text: &str, span: Option<(usize, usize)>, colour: Color, theme: Theme) -> Line<'static> {
    let style = theme.fg(colour);
    let chars: Vec<char> = text.chars().collect();
    let (s, e) = span.unwrap_or((0, 0));
    let (s, e) = (s.min(chars.len()), e.min(chars.len()));
    let part = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    Line::from(vec![
        Span::styled(mark.to_owned(), style.add_modifier(Modifier::BOLD)),
        Span::styled(part(0, s), style),
        Span::styled(part(s, e), style.add_modifier(Modifier::REVERSED | Modifier::BOLD)),
        Span::styled(part(e, chars.len()), style),
    ])
}
