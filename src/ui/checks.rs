//! The checks view (7): the latest audit (`c` on a test, module or suite;
//! `vigil check`): its findings by kind and test, with their evidence, and
//! what could not be checked here.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::theme::Theme;
use crate::core::Model;

pub fn render(model: &Model, frame: &mut Frame, area: Rect, theme: Theme) {
    let block = Block::bordered().title(" Checks ");
    let Some(check) = &model.check else {
        let text = "No check yet: c on a test, module or suite audits it — races (copies at once), \
                    state left behind, the clock, the network, leaked files and processes \
                    (vigil check on the command line).";
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(block), area);
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("check of ", theme.dim()),
        Span::styled(check.what.clone(), theme.bold()),
    ])];
    match &check.result {
        None => lines.push(Line::from("running…")),
        Some(Err(e)) => lines.push(Line::from(Span::styled(format!("failed: {e}"), theme.fg(Color::Red)))),
        Some(Ok(s)) => {
            let runs: usize = s.tests.iter().map(|t| t.runs).sum();
            lines.push(Line::from(format!(
                "{} test{}, {runs} runs in {:.1} s: {}",
                s.tests.len(),
                if s.tests.len() == 1 { "" } else { "s" },
                s.duration_s,
                match s.findings.len() {
                    0 => "no finding".to_owned(),
                    1 => "1 finding".to_owned(),
                    n => format!("{n} findings"),
                }
            )));
            lines.push(Line::from(""));
            let mut findings: Vec<&crate::core::check::Finding> = s.findings.iter().collect();
            findings.sort_by(|a, b| (a.kind, &a.binary_id, &a.name).cmp(&(b.kind, &b.binary_id, &b.name)));
            for f in findings {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("{:<17}", f.kind.as_str()),
                        theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
                    ),
                    Span::styled(format!("{} ", f.binary_id), theme.dim()),
                    Span::raw(f.name.clone()),
                ]));
                lines.push(Line::from(format!("                 {}", f.evidence)));
                if let Some(a) = &f.assertion {
                    lines.push(Line::from(Span::styled(
                        format!("                 left: {}  right: {}", a.left, a.right),
                        theme.dim(),
                    )));
                }
            }
            for t in s.tests.iter().filter(|t| t.fails) {
                lines.push(Line::from(vec![
                    Span::styled(format!("{:<17}", "failing"), theme.fg(Color::Red)),
                    Span::styled(format!("{} ", t.binary_id), theme.dim()),
                    Span::raw(format!("{}: fails on its own, nothing to attribute", t.name)),
                ]));
            }
            for skipped in &s.skipped {
                lines.push(Line::from(Span::styled(format!("skipped: {skipped}"), theme.dim())));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
