//! The interactive view: the engine under the terminal, drawing when the
//! model changed.

use std::time::Duration;

use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::time::Instant;

use super::signals::forward_signals;
use super::Engine;
use crate::adapters::resources::Sampler;
use crate::core::report::Report;
use crate::core::{update, Effect, Msg};
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
    sampler: Sampler,
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
}

impl<B: Backend> Interactive<B> {
    pub fn new(engine: Engine, terminal: Terminal<B>, theme: Theme) -> Self {
        Self {
            engine,
            terminal,
            theme,
            sampler: Sampler::new(),
            dirty: true,
            last_draw: None,
            panic_key: std::env::var_os("VIGIL_TEST_PANIC").is_some(),
            input: false,
            keys_pending: Vec::new(),
            key_latencies: None,
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
                Effect::Quit => quit = true,
                Effect::Emit(report) => {
                    if let Report::RunFinished(s) = *report {
                        self.engine.log.line(&format!(
                            "run {}: {} ({} passed, {} failed) in {:.2}s",
                            s.run,
                            s.outcome.as_str(),
                            s.tests.passed,
                            s.tests.failed,
                            s.duration_s
                        ));
                    }
                }
                Effect::List { .. }
                | Effect::Run { .. }
                | Effect::Cancel { .. }
                | Effect::StopTests { .. }
                | Effect::Reload
                | Effect::IndexInputs
                | Effect::Rewatch { .. }
                | Effect::SaveList { .. }
                | Effect::Survey { .. }
                | Effect::LoadSource { .. }
                | Effect::ReadTexts { .. }
                | Effect::SweepTimer { .. }
                | Effect::Probe { .. }
                | Effect::Doctests { .. }
                | Effect::StartService { .. }
                | Effect::CollectCoverage { .. } => {}
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
            if self.dirty && (self.input || self.last_draw.is_none_or(|t| now >= t + FRAME)) {
                self.draw()?;
            }
        }
        signals.abort();
        self.engine.shutdown(false).await;
        Ok(())
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
            self.sampler.set_binaries(binaries);
            let (sample, tests) = self.sampler.sample(pid);
            self.handle(Msg::Resources { sample, tests });
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
