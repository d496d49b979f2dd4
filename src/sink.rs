//! Headless output: the engine's reports as JSON lines (the contract) or as
//! lines for people, with colour only on a terminal and never with NO_COLOR.

use crate::core::services::Health;
use std::io::{IsTerminal, Write};

use crate::core::report::{Report, RunSummary, TestTransition};
use crate::core::test_state::TestState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Reports are buffered: test transitions go out when the loop has drained
/// what was queued (`flush`), everything else at once. A flood of results
/// is then one write, not one per line.
pub struct Sink<W: Write> {
    out: std::io::BufWriter<W>,
    format: Format,
    colour: bool,
    /// The reader went away (a broken pipe): nothing said reaches anyone.
    closed: bool,
}

impl Sink<std::io::Stdout> {
    pub fn stdout(format: Format) -> Self {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Self::new(std::io::stdout(), format, colour)
    }
}

impl<W: Write> Sink<W> {
    pub fn new(out: W, format: Format, colour: bool) -> Self {
        Self {
            out: std::io::BufWriter::with_capacity(64 * 1024, out),
            format,
            colour,
            closed: false,
        }
    }

    /// Sends what is buffered (write errors are dropped, as in `emit`).
    pub fn flush(&mut self) {
        let flushed = self.out.flush();
        self.note(flushed);
    }

    /// Whether the reader went away: a watch whose output nobody reads
    /// stops, as a pipeline's writer does when its reader leaves.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn note(&mut self, result: std::io::Result<()>) {
        if result.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.closed = true;
        }
    }

    /// Writes one report. A closed stdout (a pipe whose reader left) is not
    /// worth failing a run for, so write errors are dropped (a broken pipe
    /// is noted: `closed`).
    pub fn emit(&mut self, report: &Report) {
        let written = match self.format {
            Format::Json => serde_json::to_writer(&mut self.out, report)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(self.out)),
            Format::Human => self.human(report),
        };
        self.note(written);
        if !matches!(report, Report::Test(_)) {
            self.flush();
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn human(&mut self, report: &Report) -> std::io::Result<()> {
        match report {
            Report::RunStarted {
                run,
                selected,
                reasons,
                trigger,
                changed,
                static_tests,
                faults,
                ..
            } => {
                let tier = static_tests
                    .map(|n| format!(" (the graph's binaries hold {n})"))
                    .unwrap_or_default();
                let head = format!(
                    "run {run} ({}) · {} tests in {} binaries{tier}",
                    trigger.as_str(),
                    selected.tests,
                    selected.binaries.len()
                );
                writeln!(self.out, "{}", self.paint("1", &head))?;
                if !changed.is_empty() {
                    writeln!(self.out, "  changed: {}", changed.join(", "))?;
                }
                for r in reasons {
                    writeln!(self.out, "  why: {r}")?;
                }
                for f in faults {
                    let line = format!("  fault: `{}` {} (injected by its proxy)", f.service, f.kind);
                    writeln!(self.out, "{}", self.paint("35", &line))?;
                }
                Ok(())
            }
            Report::SweepStarted { run, tests, changed } => writeln!(
                self.out,
                "{}",
                self.paint(
                    "2",
                    &format!("sweep (run {run}): {tests} tests left out for {}", changed.join(", "))
                )
            ),
            Report::SweepFinished { run, tests, misses } => {
                if misses.is_empty() {
                    return writeln!(self.out, "sweep (run {run}): {tests} tests, no selection miss");
                }
                let head = format!(
                    "sweep (run {run}): {} selection miss(es) in {tests} tests",
                    misses.len()
                );
                writeln!(self.out, "{}", self.paint("1;31", &head))?;
                for m in misses {
                    writeln!(
                        self.out,
                        "  {} {} passed as left out, fails now (left out for {})",
                        m.binary_id,
                        m.name,
                        m.changed.join(", ")
                    )?;
                }
                Ok(())
            }
            Report::ChangeIgnored { changed, why } => {
                writeln!(self.out, "change ignored ({why}): {}", changed.join(", "))
            }
            Report::Test(t) if t.to.is_terminal() => self.human_test(t),
            Report::Test(_) => Ok(()),
            Report::BuildError { message, .. } => {
                writeln!(self.out, "{}", self.paint("31;1", "build error"))?;
                writeln!(self.out, "{}", indent(message, "  "))
            }
            Report::Warning { message, .. } => writeln!(self.out, "{} {message}", self.paint("33", "warning:")),
            Report::RunFinished(s) => self.human_summary(s),
            Report::ServiceCall(c) => {
                let who = c
                    .test
                    .as_ref()
                    .map_or("no test".to_owned(), |t| format!("{} {}", t.binary_id, t.name));
                let what = match (&c.method, &c.path) {
                    (Some(m), Some(p)) => format!("{m} {p}"),
                    _ => "tcp".to_owned(),
                };
                let status = c.status.map(|s| format!(" {s}")).unwrap_or_default();
                let fault = c
                    .fault
                    .as_deref()
                    .map(|f| format!(" ({f}, injected)"))
                    .unwrap_or_default();
                writeln!(
                    self.out,
                    "call {}: {what}{status} {:.1} ms {} B by {who}{fault}",
                    c.service, c.latency_ms, c.bytes
                )
            }
            Report::Service {
                name, from, to, error, ..
            } => {
                let code = match to {
                    Health::Healthy => "32",
                    Health::Degraded => "33",
                    Health::Unknown => "2",
                    Health::Unhealthy | Health::Unreachable => "31",
                };
                let why = error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                writeln!(
                    self.out,
                    "service {name}: {} → {}{why}",
                    from.as_str(),
                    self.paint(code, to.as_str())
                )
            }
            Report::CheckStarted {
                tests,
                runs,
                parallel,
                checks,
            } => writeln!(
                self.out,
                "check: {tests} test{}, {runs} runs each alone and {runs} with {parallel} copies at once; {}",
                if *tests == 1 { "" } else { "s" },
                checks.join(", ")
            ),
            Report::CheckFinished(c) => self.human_check(c),
        }
    }

    fn human_check(&mut self, c: &crate::core::check::CheckSummary) -> std::io::Result<()> {
        for f in &c.findings {
            writeln!(
                self.out,
                "  {} {}  {}  {}",
                self.paint("33;1", &format!("{:<16}", f.kind.as_str())),
                f.binary_id,
                f.name,
                f.evidence
            )?;
            if let Some(a) = &f.assertion {
                writeln!(self.out, "      left: {}\n     right: {}", a.left, a.right)?;
            }
        }
        for t in c.tests.iter().filter(|t| t.fails) {
            writeln!(
                self.out,
                "  {} {}  {}  fails on its own: nothing to attribute",
                self.paint("31", &format!("{:<16}", "failing")),
                t.binary_id,
                t.name
            )?;
        }
        for s in &c.skipped {
            writeln!(self.out, "{} {s}", self.paint("33", "skipped:"))?;
        }
        let runs: usize = c.tests.iter().map(|t| t.runs).sum();
        let verdict = if c.clean {
            self.paint("32;1", "no finding")
        } else {
            self.paint(
                "33;1",
                &format!(
                    "{} finding{}",
                    c.findings.len(),
                    if c.findings.len() == 1 { "" } else { "s" }
                ),
            )
        };
        writeln!(
            self.out,
            "check: {verdict} in {} test{} ({runs} runs, {:.1}s)",
            c.tests.len(),
            if c.tests.len() == 1 { "" } else { "s" },
            c.duration_s
        )
    }

    fn human_test(&mut self, t: &TestTransition) -> std::io::Result<()> {
        let (label, code) = match t.to {
            TestState::Passed => ("PASS ", "32"),
            TestState::Failed => ("FAIL ", "31;1"),
            TestState::Skipped => ("SKIP ", "2"),
            TestState::Xfail => ("XFAIL", "2"),
            TestState::Xpass => ("XPASS", "33;1"),
            TestState::Cancelled => ("CANCL", "33"),
            TestState::Blocked => ("BLOCK", "35"),
            TestState::Pending | TestState::Running => ("     ", "0"),
        };
        let time = match (t.to, t.duration_s) {
            (TestState::Skipped | TestState::Cancelled | TestState::Blocked, _) | (_, None) => String::from("        "),
            (_, Some(d)) => format!("{d:>7.3}s"),
        };
        writeln!(
            self.out,
            "  {} {time}  {}  {}",
            self.paint(code, label),
            t.binary_id,
            t.name
        )?;
        if matches!(t.to, TestState::Failed | TestState::Blocked) {
            if let Some(m) = &t.message {
                writeln!(self.out, "{}", indent(m, "        "))?;
            }
        }
        Ok(())
    }

    fn human_summary(&mut self, s: &RunSummary) -> std::io::Result<()> {
        if let Some(err) = &s.tool_error {
            if !err.trim().is_empty() {
                writeln!(self.out, "{}", self.paint("31;1", "nextest said:"))?;
                writeln!(self.out, "{}", indent(err.trim_end(), "  "))?;
            }
        }
        if !s.failures.is_empty() {
            writeln!(self.out, "{}", self.paint("1", "failures:"))?;
            for f in &s.failures {
                let at = f
                    .location
                    .as_ref()
                    .map(|l| format!("  ({}:{})", l.file, l.line))
                    .unwrap_or_default();
                writeln!(self.out, "  {}  {}{at}", f.binary_id, f.name)?;
                if let Some(note) = &f.service {
                    writeln!(self.out, "    {note}")?;
                }
            }
        }
        for svc in s.services.iter().filter(|svc| !svc.blocked.is_empty()) {
            let why = svc.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
            writeln!(
                self.out,
                "{} {} test{} by `{}` ({}{why}){}",
                self.paint("35;1", "blocked:"),
                svc.blocked.len(),
                if svc.blocked.len() == 1 { "" } else { "s" },
                svc.name,
                svc.state.as_str(),
                if svc.allow_blocked { ", allowed" } else { "" }
            )?;
            for t in &svc.blocked {
                writeln!(self.out, "  {}  {}", t.binary_id, t.name)?;
            }
        }
        for x in &s.xpass {
            writeln!(
                self.out,
                "{} {} {} passed but is listed as an expected failure",
                self.paint("33;1", "xpass:"),
                x.binary_id,
                x.name
            )?;
        }
        for w in &s.warnings {
            writeln!(self.out, "{} {w}", self.paint("33", "warning:"))?;
        }
        if let Some(c) = &s.coverage {
            let delta = c.delta.lines_pp.map_or(String::new(), |d| format!(" ({d:+.2} pp)"));
            let branches = c.branches.map_or(String::new(), |b| {
                format!(", branches {:.2} % ({}/{})", b.percent, b.covered, b.count)
            });
            writeln!(
                self.out,
                "coverage: lines {:.2} % ({}/{}){delta}{branches}",
                c.lines.percent, c.lines.covered, c.lines.count
            )?;
            if let Some(p) = &c.patch {
                writeln!(
                    self.out,
                    "patch coverage since {}: {:.2} % of {} changed executable lines",
                    p.base, p.lines.percent, p.lines.count
                )?;
                for u in &p.uncovered {
                    let ranges: Vec<String> = u
                        .lines
                        .iter()
                        .map(|r| {
                            if r[0] == r[1] {
                                r[0].to_string()
                            } else {
                                format!("{}–{}", r[0], r[1])
                            }
                        })
                        .collect();
                    writeln!(self.out, "  not reached: {} {}", u.path, ranges.join(", "))?;
                }
            }
            for t in c.thresholds.iter().filter(|t| !t.passed) {
                writeln!(
                    self.out,
                    "{} {} {} {:.2} % < {:.2} %",
                    self.paint("31", "coverage below threshold:"),
                    t.path,
                    t.metric,
                    t.actual,
                    t.required
                )?;
            }
        }
        for h in &s.hygiene {
            writeln!(
                self.out,
                "{} {}:{} {}: {}",
                self.paint("33", "hygiene:"),
                h.file,
                h.line,
                h.test,
                h.problem
            )?;
        }
        for (label, code, list) in [
            ("over budget:", "31", &s.budgets.violations),
            ("near budget:", "33", &s.budgets.warnings),
        ] {
            for v in list {
                let what = match &v.name {
                    Some(n) => format!("{} {n}", v.binary_id),
                    None => format!("{} (suite)", v.binary_id),
                };
                writeln!(
                    self.out,
                    "{} {what} {:.2}s / {}s",
                    self.paint(code, label),
                    v.actual_s,
                    v.limit_s
                )?;
            }
        }
        let c = &s.tests;
        let mut counts = format!("{} passed, {} failed", c.passed, c.failed);
        for (n, label) in [
            (c.skipped, "skipped"),
            (c.xfail, "xfail"),
            (c.xpass, "xpass"),
            (c.cancelled, "cancelled"),
            (c.blocked, "blocked"),
        ] {
            if n > 0 {
                counts.push_str(&format!(", {n} {label}"));
            }
        }
        let code = if s.gate.passed { "32;1" } else { "31;1" };
        let shards = s.shards.map(|n| format!(" ({n} shards)")).unwrap_or_default();
        writeln!(
            self.out,
            "{}{shards}: {counts} in {:.2}s",
            self.paint(code, s.outcome.as_str()),
            s.duration_s
        )?;
        if s.gate.passed {
            writeln!(self.out, "gate: {}", self.paint("32", "passed"))
        } else {
            writeln!(
                self.out,
                "gate: {} ({})",
                self.paint("31;1", "failed"),
                s.gate.reasons.join("; ")
            )
        }
    }
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
