//! The interactive view: the engine under the terminal, drawing when the
//! model changed.

use std::io::Write;
use std::time::Duration;

use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::time::Instant;

use super::signals::forward_signals;
use super::Engine;
use crate::adapters::resources::Sampler;
use crate::core::effect::Outward;
use crate::core::report::Report;
use crate::core::{update, Msg};
use crate::ui::{self, theme::Theme};

/// At most ~30 frames a second, however fast events arrive.
const FRAME: Duration = Duration::from_millis(33);
/// While tests run: spinner and live clocks.
const TICK: Duration = Duration::from_millis(100);
const SAMPLE: Duration = Duration::from_secs(1);

/// The interactive view over the engine: draws when the model changed, at
/// most every `FRAME`; ticks only while a run is active, so an idle view
/// costs nothing.
pub struct Interactive<B: Backend> {
    pub engine: Engine,
    pub terminal: Terminal<B>,
    pub theme: Theme,
    /// Shared with the sampling thread; a sample still being taken when
    /// the next is due is let finish, not doubled.
    sampler: std::sync::Arc<std::sync::Mutex<Sampler>>,
    dirty: bool,
    last_draw: Option<Instant>,
    /// Test hook: `VIGIL_TEST_PANIC=1` makes the `!` key panic, so the
    /// end-to-end tests can check that a panic restores the terminal and
    /// leaves no process behind.
    panic_key: bool,
    /// Input (keys, wheel, resize) since the last frame: drawn at once,
    /// not at the next frame slot, so a key never waits for the frame cap.
    input: bool,
    /// When the keys handled since the last frame were pressed (clock time).
    keys_pending: Vec<Duration>,
    /// When set, each key's latency from press to its frame is kept here
    /// (the responsiveness benchmark reads it).
    pub key_latencies: Option<Vec<Duration>>,
    /// Where terminal sequences outside ratatui go (OSC 52, the bell):
    /// stdout, or a buffer in tests.
    pub out: Box<dyn std::io::Write>,
    /// The backend is the real terminal (an editor can take it over).
    pub real_terminal: bool,
    /// A location to open in the editor once the messages are handled.
    pending_edit: Option<crate::core::effect::EditTarget>,
}

impl<B: Backend> Interactive<B> {
    pub fn new(engine: Engine, terminal: Terminal<B>, theme: Theme) -> Self {
        Self {
            engine,
            terminal,
            theme,
            sampler: Default::default(),
            dirty: true,
            last_draw: None,
            panic_key: std::env::var_os("VIGIL_TEST_PANIC").is_some(),
            input: false,
            keys_pending: Vec::new(),
            key_latencies: None,
            out: Box::new(std::io::stdout()),
            real_terminal: false,
            pending_edit: None,
        }
    }

    /// Applies a message; returns true when the view should quit.
    pub fn handle(&mut self, msg: Msg) -> bool {
        if self.panic_key
            && matches!(
                msg,
                Msg::Key {
                    key: crate::core::Key::Char('!'),
                    ..
                }
            )
        {
            panic!("panic requested with VIGIL_TEST_PANIC");
        }
        self.dirty = true;
        match &msg {
            Msg::Key { at, .. } => {
                self.input = true;
                self.keys_pending.push(*at);
            }
            Msg::Scroll { .. } | Msg::Resize { .. } => self.input = true,
            _ => {}
        }
        let mut quit = false;
        for effect in self.engine.apply(msg) {
            match effect {
                Outward::Quit => quit = true,
                Outward::Emit(report) => {
                    if let Report::RunFinished(s) = *report {
                        tracing::info!(
                            "run {}: {} ({} passed, {} failed) in {:.2}s",
                            s.run,
                            s.outcome.as_str(),
                            s.tests.passed,
                            s.tests.failed,
                            s.duration_s
                        );
                    }
                }
                Outward::Copy { text } => {
                    let _ = write!(self.out, "{}", osc52(&text));
                    let _ = self.out.flush();
                }
                Outward::Bell => {
                    let _ = self.out.write_all(b"\x07");
                    let _ = self.out.flush();
                }
                Outward::Edit(target) => self.pending_edit = Some(target),
            }
        }
        quit
    }

    /// Draws now, telling the core first if the tree's height changed.
    pub fn draw(&mut self) -> std::io::Result<()> {
        let size = self.terminal.size().map_err(|e| std::io::Error::other(e.to_string()))?;
        let rows = ui::tree_rows(size.width, size.height);
        if rows != self.engine.model.ui.viewport {
            update(&mut self.engine.model, Msg::Resize { tree_rows: rows });
        }
        let (model, theme) = (&self.engine.model, self.theme);
        self.terminal
            .draw(|f| ui::render(model, f, theme))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.dirty = false;
        self.input = false;
        self.last_draw = Some(Instant::now());
        let now = self.engine.clock.now();
        let pressed = std::mem::take(&mut self.keys_pending);
        if let Some(latencies) = self.key_latencies.as_mut() {
            latencies.extend(pressed.into_iter().map(|at| now.saturating_sub(at)));
        }
        Ok(())
    }

    /// The loop: until a quit key (or signal) and the run has stopped.
    pub async fn run(&mut self) -> std::io::Result<()> {
        let signals = tokio::spawn(forward_signals(self.engine.tx.clone(), self.engine.clock, true));
        let mut next_tick = Instant::now() + TICK;
        let mut next_sample = Instant::now() + SAMPLE;
        self.draw()?;
        loop {
            let active = self.engine.model.active_run().is_some();
            let draw_at = self.dirty.then(|| self.last_draw.map_or(Instant::now(), |t| t + FRAME));
            let wake = [draw_at, active.then_some(next_tick)].into_iter().flatten().min();
            let msg = tokio::select! {
                m = self.engine.rx.recv() => m,
                _ = sleep_until(wake) => None,
            };
            let mut quit = false;
            if let Some(first) = msg {
                let mut next = Some(first);
                while let Some(m) = next.take().or_else(|| self.engine.rx.try_recv().ok()) {
                    quit |= self.handle(m);
                }
            }
            let now = Instant::now();
            if active && now >= next_tick {
                next_tick = now + TICK;
                self.handle(Msg::Tick {
                    now: self.engine.clock.now(),
                });
                if now >= next_sample {
                    next_sample = now + SAMPLE;
                    self.sample();
                }
            }
            if quit {
                break;
            }
            if let Some(target) = self.pending_edit.take() {
                self.edit(target)?;
            }
            if self.dirty && (self.input || self.last_draw.is_none_or(|t| now >= t + FRAME)) {
                self.draw()?;
            }
        }
        signals.abort();
        self.engine.shutdown(false).await;
        Ok(())
    }

    /// A note for the status line, through the core like any message.
    fn note(&mut self, text: String) {
        update(&mut self.engine.model, Msg::Note { text });
    }

    /// Opens `target` in the user's editor. A terminal editor gets the
    /// terminal: the view leaves the alternate screen, the key reader
    /// pauses, vigil waits, then comes back as it was. A GUI editor is
    /// started and left to run.
    pub fn edit(&mut self, target: crate::core::effect::EditTarget) -> std::io::Result<()> {
        use crate::adapters::editor;
        use crate::core::effect::EditTarget;
        let (path, line) = match target {
            EditTarget::At { path, line } => (path, Some(line)),
            EditTarget::TestFn { dirs, name } => match editor::find_test(&dirs, &name) {
                Some((p, l)) => (p, Some(l)),
                None => {
                    self.note(format!("the definition of `{name}` was not found"));
                    self.dirty = true;
                    return Ok(());
                }
            },
        };
        let Some(cmd) = editor::from_env().and_then(|e| editor::command(&e, &path, line)) else {
            self.note("set $VISUAL or $EDITOR to open files from vigil".into());
            self.dirty = true;
            return Ok(());
        };
        tracing::info!("edit: {} {}", cmd.program, cmd.args.join(" "));
        if !cmd.wait {
            let child = std::process::Command::new(&cmd.program)
                .args(&cmd.args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            self.note(match child {
                // Reaped when it ends, so it never lingers as a zombie.
                Ok(mut c) => {
                    // Detached on purpose: a GUI editor is the user's, and
                    // may outlive vigil; this thread only reaps it.
                    std::thread::spawn(move || c.wait());
                    format!("opened {} in {}", path.display(), cmd.program)
                }
                Err(e) => format!("failed to run {}: {e}", cmd.program),
            });
            self.dirty = true;
            return Ok(());
        }
        if !self.real_terminal {
            self.note("a terminal editor needs the real terminal".into());
            return Ok(());
        }
        use ratatui::crossterm::event::{DisableMouseCapture, EnableMouseCapture};
        use ratatui::crossterm::terminal::{
            disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
        };
        crate::adapters::terminal::pause(true);
        let mut stdout = std::io::stdout();
        let _ = ratatui::crossterm::execute!(stdout, DisableMouseCapture, LeaveAlternateScreen);
        let _ = disable_raw_mode();
        let status = crate::adapters::process::tied_with(&cmd.program, libc::SIGHUP)
            .args(&cmd.args)
            .status();
        let _ = enable_raw_mode();
        let _ = ratatui::crossterm::execute!(stdout, EnterAlternateScreen, EnableMouseCapture);
        crate::adapters::terminal::pause(false);
        self.note(match status {
            Ok(s) if s.success() => format!("back from {}", cmd.program),
            Ok(s) => format!("{} exited with {s}", cmd.program),
            Err(e) => format!("failed to run {}: {e}", cmd.program),
        });
        self.terminal
            .clear()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.dirty = true;
        self.draw()
    }

    fn sample(&mut self) {
        if let Some(pid) = self.engine.nextest.pid() {
            let binaries = self
                .engine
                .model
                .catalog
                .suites
                .iter()
                .map(|s| (s.binary_path.clone(), s.binary_id.clone()))
                .collect();
            let (sampler, tx) = (self.sampler.clone(), self.engine.tx.clone());
            // Reading /proc for every process takes milliseconds: off the loop.
            self.engine
                .offload("sample", crate::adapters::offload::Priority::Low, move || {
                    let Ok(mut sampler) = sampler.try_lock() else { return };
                    sampler.set_binaries(binaries);
                    let (sample, tests) = sampler.sample(pid);
                    let _ = tx.send(Msg::Resources { sample, tests });
                });
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// OSC 52: put `text` on the clipboard of the terminal (and of tmux with
/// `set-clipboard on`, and over SSH).
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foob"), "Zm9vYg==");
        assert_eq!(super::osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
