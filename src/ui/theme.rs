//! Colours and glyphs. A colour only repeats what the glyph says, so the
//! view reads the same with NO_COLOR.

use std::time::Duration;

use ratatui::style::{Color, Modifier, Style};

use crate::core::TestState;

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub colour: bool,
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

impl Theme {
    pub fn from_env() -> Self {
        Self {
            colour: std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub fn fg(&self, color: Color) -> Style {
        if self.colour {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub fn state(&self, state: TestState) -> Style {
        match state {
            TestState::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            TestState::Passed => self.fg(Color::Green),
            TestState::Running => self.fg(Color::Yellow),
            TestState::Xpass => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
            TestState::Cancelled => self.fg(Color::Yellow),
            TestState::Blocked => self.fg(Color::Magenta),
            TestState::Pending | TestState::Skipped | TestState::Xfail => {
                self.fg(Color::DarkGray).add_modifier(Modifier::DIM)
            }
        }
    }

    /// A result a change has made stale (not rerun yet).
    pub(crate) const STALE: &'static str = "◌";

    pub(crate) fn glyph(state: TestState, now: Duration) -> &'static str {
        match state {
            TestState::Pending => "·",
            TestState::Running => SPINNER[(now.as_millis() / 100 % 10) as usize],
            TestState::Passed => "✓",
            TestState::Failed => "✗",
            TestState::Skipped => "○",
            TestState::Xfail => "x",
            TestState::Xpass => "!",
            TestState::Cancelled => "⊘",
            TestState::Blocked => "⧗",
        }
    }

    /// A service's state: green healthy, yellow degraded, red down, grey unknown.
    pub fn health(&self, h: crate::core::services::Health) -> Style {
        use crate::core::services::Health;
        match h {
            Health::Healthy => self.fg(Color::Green),
            Health::Degraded => self.fg(Color::Yellow),
            Health::Unhealthy | Health::Unreachable => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Health::Unknown => self.fg(Color::DarkGray),
        }
    }

    pub(crate) fn dim(&self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }

    pub(crate) fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        if self.colour {
            Style::default().bg(Color::Rgb(40, 44, 52)).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    pub(crate) fn accent(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}

/// `0.08 s`, `12.1 s`, `4 m 41 s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{} m {:02} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// `412 MB`, `3.1 MB`.
pub fn bytes(b: u64) -> String {
    let mb = b as f64 / 1_000_000.0;
    if mb >= 100.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}
