//! The services view (5): each backend the tests need, its state, uptime,
//! latency, last error, and the tests it gates; `s` starts or restarts it.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::theme::{duration, Theme};
use super::trends::spark;
use crate::core::services::Service;
use crate::core::{Model, TestState};

pub fn render(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    if model.services.is_empty() {
        let text = vec![
            Line::from("No services are configured."),
            Line::from(""),
            Line::from(Span::styled(
                "Add a [[service]] entry to vigil.toml (see config.example.toml): vigil then probes it, \
                 starts it when it is down, and blocks the tests it gates instead of failing them.",
                theme.dim(),
            )),
        ];
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(" Services ")),
            area,
        );
        return;
    }
    let [list, detail] = Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(area);
    let selected = model.ui.service_selected.min(model.services.len() - 1);
    let mut lines = Vec::new();
    for (i, s) in model.services.iter().enumerate() {
        let mark = if i == selected { "›" } else { " " };
        let latency = s.latency.map(ms).unwrap_or_default();
        let mut spans = vec![
            Span::raw(format!("{mark} ")),
            Span::styled("● ", theme.health(s.health)),
            Span::styled(
                format!("{:<14}", s.spec.name),
                if i == selected {
                    theme.bold()
                } else {
                    theme.dim().remove_modifier(ratatui::style::Modifier::DIM)
                },
            ),
            Span::styled(format!("{:<12}", s.health.as_str()), theme.health(s.health)),
            Span::styled(format!("{latency:>8} "), theme.dim()),
        ];
        let samples: Vec<f64> = s.latencies.iter().map(|&v| f64::from(v)).collect();
        spans.push(Span::styled(spark(&samples, 16), theme.dim()));
        if !s.blocked.is_empty() {
            spans.push(Span::styled(
                format!("  {} blocked", s.blocked.len()),
                theme.state(TestState::Blocked),
            ));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Services · j/k select · s start/restart ")),
        list,
    );
    let s = &model.services[selected];
    frame.render_widget(
        Paragraph::new(describe(model, s, theme))
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" {} ", s.spec.name))),
        detail,
    );
}

fn describe(model: &Model, s: &Service, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut state = vec![
        Span::styled("state    ", theme.dim()),
        Span::styled(s.health.as_str().to_owned(), theme.health(s.health)),
    ];
    if let Some(since) = s.up_since() {
        state.push(Span::styled(
            format!(" · up {}", duration(model.now.saturating_sub(since))),
            theme.dim(),
        ));
    } else if let Some(c) = s.changes.last() {
        state.push(Span::styled(
            format!(" · since {} ago", duration(model.now.saturating_sub(c.at))),
            theme.dim(),
        ));
    }
    if s.starting_until.is_some() {
        state.push(Span::styled(" · starting…", theme.accent()));
    }
    if s.started {
        state.push(Span::styled(" · started by vigil (stopped on exit)", theme.dim()));
    }
    lines.push(Line::from(state));
    let latency = s.latency.map_or("—".to_owned(), ms);
    let samples: Vec<f64> = s.latencies.iter().map(|&v| f64::from(v)).collect();
    lines.push(Line::from(vec![
        Span::styled("latency  ", theme.dim()),
        Span::raw(format!("{latency}  ")),
        Span::styled(spark(&samples, 40), theme.accent()),
    ]));
    if let Some(e) = s.start_error.as_ref().or(s.error.as_ref()) {
        lines.push(Line::from(vec![
            Span::styled("error    ", theme.dim()),
            Span::styled(e.clone(), theme.health(s.health)),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled("check    ", theme.dim()),
        Span::raw(format!(
            "{} every {} (timeout {})",
            s.spec.check.describe(),
            duration(s.spec.interval),
            duration(s.spec.timeout)
        )),
    ]));
    lines.push(Line::from(vec![
        Span::styled("start    ", theme.dim()),
        Span::raw(
            s.spec
                .start
                .as_ref()
                .map_or("— (vigil does not start it)".to_owned(), |a| a.join(" ")),
        ),
    ]));
    if let Some(p) = &s.spec.proxy {
        lines.push(Line::from(vec![
            Span::styled("proxy    ", theme.dim()),
            Span::raw(format!(
                "{} → {} ({})",
                p.listen,
                p.to,
                if p.http { "HTTP" } else { "TCP" }
            )),
        ]));
        let faults: Vec<String> = s.spec.faults.iter().map(|f| f.label()).collect();
        let now = s.fault.as_ref().map(|f| f.label());
        lines.push(Line::from(vec![
            Span::styled("fault    ", theme.dim()),
            match &now {
                Some(f) => Span::styled(
                    format!("{f} (injected)"),
                    theme.fg(Color::Magenta).add_modifier(Modifier::BOLD),
                ),
                None => Span::raw("none"),
            },
            Span::styled(
                if faults.is_empty() {
                    String::new()
                } else {
                    format!(" · f cycles: {}", faults.join(", "))
                },
                theme.dim(),
            ),
        ]));
        let sum = s.calls.summary();
        let rate = if sum.calls == 0 {
            0.0
        } else {
            100.0 * sum.errors as f64 / sum.calls as f64
        };
        lines.push(Line::from(vec![
            Span::styled("calls    ", theme.dim()),
            Span::raw(format!(
                "{} this run · {:.0} % errors · {} injected · p50 {} · p99 {}",
                sum.calls,
                rate,
                sum.injected,
                sum.latency_p50_ms.map_or("—".to_owned(), |v| format!("{v:.1} ms")),
                sum.latency_p99_ms.map_or("—".to_owned(), |v| format!("{v:.1} ms")),
            )),
        ]));
        for t in sum.by_test.iter().take(8) {
            lines.push(Line::from(vec![
                Span::styled("  ", theme.dim()),
                Span::raw(format!("{}× {} {}", t.calls, t.binary_id, t.name)),
                Span::styled(
                    if t.errors > 0 {
                        format!(" ({} errors)", t.errors)
                    } else {
                        String::new()
                    },
                    theme.fg(Color::Red),
                ),
            ]));
        }
        for (c, who) in s.calls.recent.iter().rev().take(6) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:>8} ago  ", duration(model.now.saturating_sub(c.at))),
                    theme.dim(),
                ),
                Span::styled(
                    c.describe(),
                    if c.is_error() {
                        theme.fg(Color::Red)
                    } else {
                        theme.dim()
                    },
                ),
                Span::styled(
                    who.as_ref().map_or(String::new(), |t| format!(" · {}", t.1)),
                    theme.dim(),
                ),
            ]));
        }
    }
    if let (Some(m), Some(_)) = (&model.faults_matrix, &s.spec.proxy) {
        let prefix = format!("{}=", s.spec.name);
        let cols: Vec<usize> = (0..m.faults.len())
            .filter(|&i| i == 0 || m.faults[i].starts_with(&prefix))
            .collect();
        if cols.len() > 1 {
            lines.push(Line::from(Span::styled(
                "resilience (the last vigil run --faults-matrix):",
                theme.dim(),
            )));
            // A line per fault (a table of long labels would not fit).
            for &i in &cols {
                let of = |verdict: &str| -> Vec<&str> {
                    m.tests
                        .iter()
                        .filter(|r| r.results.get(i).is_some_and(|v| v == verdict))
                        .map(|r| r.name.as_str())
                        .collect()
                };
                let mut spans = vec![
                    Span::raw(format!("  {:<24}", m.faults[i].trim_start_matches(&prefix))),
                    Span::styled(format!("holds {}", of("holds").len()), theme.fg(Color::Green)),
                ];
                for (verdict, colour) in [("fails", Color::Red), ("hangs", Color::Magenta)] {
                    let names = of(verdict);
                    if !names.is_empty() {
                        spans.push(Span::styled(
                            format!(" · {verdict}: {}", names.join(", ")),
                            theme.fg(colour),
                        ));
                    }
                }
                lines.push(Line::from(spans));
            }
        }
    }
    lines.push(Line::from(vec![
        Span::styled("gates    ", theme.dim()),
        Span::raw(s.spec.needed_by.clone()),
    ]));
    let gated = s.gated(&model.workspace, &model.catalog);
    lines.push(Line::from(Span::styled(
        format!(
            "{} test{} need it:",
            gated.len(),
            if gated.len() == 1 { "" } else { "s" }
        ),
        theme.dim(),
    )));
    for crate::core::testmap::TestId(b, n) in gated.iter().take(20) {
        let state = model
            .catalog
            .suite(b)
            .and_then(|su| su.test_index(n).map(|i| su.tests[i].state))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!("  {} ", Theme::glyph(state, model.now)), theme.state(state)),
            Span::raw(format!("{b} {n}")),
        ]));
    }
    if gated.len() > 20 {
        lines.push(Line::from(Span::styled(
            format!("  … {} more", gated.len() - 20),
            theme.dim(),
        )));
    }
    if !s.changes.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled("transitions:", theme.dim())));
        for c in s.changes.iter().rev().take(8) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:>8} ago  ", duration(model.now.saturating_sub(c.at))),
                    theme.dim(),
                ),
                Span::styled(c.from.as_str().to_owned(), theme.health(c.from)),
                Span::raw(" → "),
                Span::styled(c.to.as_str().to_owned(), theme.health(c.to)),
            ]));
        }
    }
    lines
}

fn ms(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}
