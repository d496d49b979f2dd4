//! The one loop: messages in, `core::update`, effects out. `run_once` drives
//! it headless with a printing sink; `interactive` drives the same engine
//! with the terminal view, generic over ratatui's backend so tests can run
//! it on a `TestBackend`.

use std::io::Write;
use std::time::Duration;

use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::adapters::clock::Clock;
use crate::adapters::coverage::CoverageRig;
use crate::adapters::log::Log;
use crate::adapters::nextest::Nextest;
use crate::adapters::resources::Sampler;
use crate::adapters::store::{self, RunRecord, Store};
use crate::adapters::watcher::Watcher;
use crate::config::Mode;
use crate::config::Settings;
use crate::core::report::{Report, RunSummary};
use crate::core::{update, Effect, Model, Msg, Selection, Trigger, Workspace};
use crate::sink::Sink;
use crate::ui::{self, theme::Theme};
use std::collections::BTreeMap;
use std::sync::Arc;

/// At most ~30 frames a second, however fast events arrive.
const FRAME: Duration = Duration::from_millis(33);
/// While tests run: spinner and live clocks.
const TICK: Duration = Duration::from_millis(100);
const SAMPLE: Duration = Duration::from_secs(1);

/// The model and the adapters that carry out its effects.
pub struct Engine {
    pub model: Model,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub rx: mpsc::UnboundedReceiver<Msg>,
    pub clock: Clock,
    nextest: Nextest,
    log: Log,
    watcher: Option<Watcher>,
    debounce: Duration,
    explicit_config: Option<std::path::PathBuf>,
    store: Option<Store>,
    coverage: Option<Arc<CoverageRig>>,
    /// Why coverage is off, when it could have been on.
    pub coverage_note: Option<String>,
    /// What happened to a history that could not be used (moved aside, or
    /// none kept): for the user to see.
    pub store_note: Option<String>,
    /// When set, process effects are recorded here instead of carried out
    /// (scripted tests of the loop, replays).
    pub recorded: Option<Vec<Effect>>,
}

impl Engine {
    pub fn new(workspace: Workspace, settings: Settings) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let clock = Clock::start();
        let log = Log::open(&workspace.target_dir);
        let nextest = Nextest::new(workspace.root.clone(), tx.clone(), clock);
        let (store, store_note) = if workspace.target_dir.as_os_str().is_empty() {
            (None, None)
        } else {
            match Store::open(&store::default_path(&workspace.target_dir)) {
                Ok((s, note)) => (Some(s), note),
                Err(e) => (None, Some(format!("{e}; this session keeps no history"))),
            }
        };
        let mut model = Model::new(workspace, settings.rules.clone());
        if let Some(s) = &store {
            match s.history() {
                Ok(h) => model.history = h,
                Err(e) => log.line(&format!("history not read: {e}")),
            }
            // The last coverage kept: deltas hold across sessions.
            if let Ok(Some(c)) = s.last_coverage() {
                model.coverage = Some(crate::core::coverage::Coverage {
                    branches_measured: c.branches.is_some(),
                    files: c
                        .files
                        .into_iter()
                        .map(|(path, l, b)| crate::core::coverage::FileCoverage {
                            path,
                            summary_lines: Some(l),
                            summary_branches: b,
                            ..Default::default()
                        })
                        .collect(),
                });
            }
        }
        if let Some(note) = &store_note {
            log.line(note);
        }
        let (coverage, coverage_note) = coverage_rig(&model.workspace, &settings);
        if let Some(note) = &coverage_note {
            log.line(note);
        }
        model.coverage_on = coverage.is_some();
        // Before the first plan: what the last build read (a change set
        // given on the command line is planned against it).
        model.inputs = crate::adapters::inputs::index(&model.workspace);
        model.list_cache = crate::adapters::list_cache::load(&model.workspace.target_dir, model.coverage_on);
        Self {
            model,
            store,
            store_note,
            coverage: coverage.map(Arc::new),
            coverage_note,
            tx,
            rx,
            clock,
            nextest,
            log,
            watcher: None,
            debounce: settings.debounce,
            explicit_config: settings.explicit.clone(),
            recorded: None,
        }
    }

    /// Starts watching the workspace; changes arrive as messages. The
    /// resolved dependency graph is read beside the first run.
    pub fn watch(&mut self) -> Result<(), String> {
        if self.model.workspace.graph_pending {
            self.resolve_graph();
        }
        let w = Watcher::start(&self.model.workspace, self.debounce, self.tx.clone(), self.clock)
            .map_err(|e| format!("failed to watch {}: {e}", self.model.workspace.root.display()))?;
        w.watch_inputs(&self.model.inputs);
        self.log.line(&format!("watching {} directories", w.watched_dirs()));
        self.watcher = Some(w);
        Ok(())
    }

    /// An engine that starts no process: it records what it would do.
    pub fn dry(workspace: Workspace, settings: Settings) -> Self {
        let mut engine = Self::new(Workspace::default(), settings);
        engine.model.workspace = workspace;
        engine.recorded = Some(Vec::new());
        engine
    }

    pub fn request(&self, trigger: Trigger, selection: Selection) {
        let _ = self.tx.send(Msg::RunRequested {
            trigger,
            selection,
            at: self.clock.now(),
        });
    }

    /// Applies one message; returns the effects the caller has not carried
    /// out itself (reports and quit).
    pub fn apply(&mut self, msg: Msg) -> Vec<Effect> {
        match &msg {
            Msg::Reloaded {
                workspace: Some(ws), ..
            } => {
                if let Some(w) = &self.watcher {
                    w.rewatch(ws);
                }
            }
            Msg::FilesChanged { paths, .. } => {
                self.log.line(&format!("changed: {}", paths.len()));
            }
            Msg::InputsIndexed { inputs } => {
                if let Some(w) = &self.watcher {
                    w.watch_inputs(inputs);
                }
            }
            _ => {}
        }
        let mut rest = Vec::new();
        for effect in update(&mut self.model, msg) {
            if let Some(recorded) = self.recorded.as_mut() {
                if matches!(
                    effect,
                    Effect::List { .. }
                        | Effect::Run { .. }
                        | Effect::Cancel { .. }
                        | Effect::StopTests { .. }
                        | Effect::CollectCoverage { .. }
                ) {
                    recorded.push(effect);
                    continue;
                }
                if matches!(
                    effect,
                    Effect::IndexInputs | Effect::SaveList { .. } | Effect::Survey { .. }
                ) {
                    // Nothing was built: there is nothing new to read.
                    continue;
                }
            }
            match effect {
                Effect::List { run, filterset } => {
                    self.log
                        .line(&format!("run {run}: list {}", filterset.as_deref().unwrap_or("(all)")));
                    let env = self.coverage.as_ref().map(|c| c.env(run)).unwrap_or_default();
                    self.nextest.list(run, filterset.as_deref(), &env);
                }
                Effect::Survey { run, hygiene } => self.survey(run, hygiene),
                Effect::Run { run, filterset } => {
                    let env = self.coverage.as_ref().map(|c| c.env(run)).unwrap_or_default();
                    self.nextest.run(run, filterset.as_deref(), &env);
                }
                Effect::CollectCoverage { run, ran, binaries } => self.collect_coverage(run, ran, binaries),
                Effect::SaveList { suites } => {
                    let (dir, coverage) = (self.model.workspace.target_dir.clone(), self.model.coverage_on);
                    tokio::task::spawn_blocking(move || crate::adapters::list_cache::save(&dir, coverage, &suites));
                }
                Effect::LoadSource { path } => {
                    let text = std::fs::read_to_string(self.model.workspace.root.join(&path)).ok();
                    let _ = self.tx.send(Msg::SourceLoaded { path, text });
                }
                Effect::Cancel { run } => {
                    self.log.line(&format!("run {run}: cancel"));
                    self.nextest.cancel(run);
                }
                Effect::StopTests { run } => {
                    self.log
                        .line(&format!("run {run}: stop the tests, let the list finish"));
                    self.nextest.stop_tests(run);
                }
                Effect::Reload => self.reload(),
                Effect::IndexInputs => self.index_inputs(),
                Effect::Emit(report) => {
                    if let Report::RunFinished(s) = report.as_ref() {
                        self.record(s);
                    }
                    rest.push(Effect::Emit(report));
                }
                Effect::Quit => rest.push(effect),
            }
        }
        rest
    }

    /// Merges and reads the run's coverage off the loop.
    fn collect_coverage(&self, run: u32, ran: Vec<String>, binaries: BTreeMap<String, std::path::PathBuf>) {
        let tx = self.tx.clone();
        let clock = self.clock;
        let Some(rig) = self.coverage.clone() else {
            return;
        };
        tokio::task::spawn_blocking(move || {
            let result = rig.collect(run, &ran, &binaries).map(Box::new);
            let _ = tx.send(Msg::CoverageCollected {
                run,
                result,
                at: clock.now(),
            });
        });
    }

    /// Writes the latest coverage as LCOV (`--lcov FILE`).
    pub fn write_lcov(&self, path: &std::path::Path) -> Result<(), String> {
        let Some(cov) = self
            .model
            .coverage
            .as_ref()
            .filter(|_| self.model.coverage_run.is_some())
        else {
            return Err("no coverage to write: coverage is off or was not collected".to_owned());
        };
        std::fs::write(path, crate::adapters::lcov::write(cov, &self.model.workspace.root))
            .map_err(|e| format!("failed to write {}: {e}", path.display()))
    }

    /// Keeps a finished run in the history.
    fn record(&mut self, s: &RunSummary) {
        let Some(store) = self.store.as_mut() else { return };
        let Some(run) = self.model.runs.iter().find(|r| r.number == s.run) else {
            return;
        };
        let ws = &self.model.workspace;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let c = &s.tests;
        let results = self
            .model
            .catalog
            .suites
            .iter()
            .flat_map(|suite| {
                suite
                    .tests
                    .iter()
                    .filter(|t| t.run == Some(s.run))
                    .map(|t| (suite.binary_id.to_string(), t.name.clone(), t.state, t.duration))
            })
            .collect();
        let record = RunRecord {
            started_unix: now - s.duration_s,
            trigger: run.trigger.as_str().to_owned(),
            outcome: s.outcome.as_str().to_owned(),
            duration_s: s.duration_s,
            filterset: run.selection.filterset(),
            reasons: run.reasons.clone(),
            changed: run
                .changed
                .iter()
                .map(|p| crate::core::update::relative(ws, p))
                .collect(),
            fingerprint: run.fingerprint.clone(),
            counts: [c.total, c.passed, c.failed, c.skipped, c.xfail, c.xpass, c.cancelled],
            results,
            coverage: s.coverage.as_ref().map(|c| store::CoverageRecord {
                lines: (c.lines.count, c.lines.covered),
                branches: c.branches.map(|b| (b.count, b.covered)),
                files: c
                    .files
                    .iter()
                    .map(|f| {
                        (
                            f.path.clone(),
                            (f.lines.count, f.lines.covered),
                            f.branches.map(|b| (b.count, b.covered)),
                        )
                    })
                    .collect(),
            }),
            suites: s
                .suites
                .iter()
                .map(|x| {
                    (
                        x.binary_id.clone(),
                        x.suite_type.as_str().to_owned(),
                        x.status.as_str().to_owned(),
                        x.duration_s,
                    )
                })
                .collect(),
        };
        if let Err(e) = store.record(&record) {
            self.log.line(&format!("run {}: not kept in the history: {e}", s.run));
        }
    }

    /// Fingerprints the tree (and runs the hygiene checks), off the loop.
    fn survey(&self, run: u32, hygiene: bool) {
        let ws = self.model.workspace.clone();
        let rules = self.model.rules.hygiene.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let fingerprint = crate::adapters::fingerprint::fingerprint(&ws.root, &ws.target_dir);
            let _ = tx.send(Msg::Fingerprint { run, fingerprint });
            if hygiene {
                let warnings = crate::adapters::sources::hygiene(&ws, &rules);
                let _ = tx.send(Msg::Hygiene { warnings });
            }
        });
    }

    /// Reads what the compilations read again, off the loop.
    fn index_inputs(&self) {
        let ws = self.model.workspace.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let inputs = Box::new(crate::adapters::inputs::index(&ws));
            let _ = tx.send(Msg::InputsIndexed { inputs });
        });
    }

    /// Reads cargo's resolved graph, off the loop (the config stays).
    fn resolve_graph(&self) {
        let root = self.model.workspace.root.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let (workspace, error) = match crate::adapters::workspace::discover(&root) {
                Ok(ws) => (Some(Box::new(ws)), None),
                Err(e) => (None, Some(format!("the dependency graph could not be read: {e}"))),
            };
            let _ = tx.send(Msg::Reloaded {
                workspace,
                rules: None,
                error,
            });
        });
    }

    /// Reads the workspace and config again, off the loop.
    fn reload(&self) {
        let root = self.model.workspace.root.clone();
        let explicit = self.explicit_config.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let mut error = None;
            let workspace = crate::adapters::workspace::discover(&root)
                .map_err(|e| error = Some(format!("reload failed: {e}")))
                .ok();
            let rules = Settings::load(explicit.as_deref(), &root)
                .map_err(|e| error = Some(format!("{e} (keeping the previous config)")))
                .ok()
                .map(|s| s.rules);
            let _ = tx.send(Msg::Reloaded {
                workspace: workspace.map(Box::new),
                rules,
                error,
            });
        });
    }

    /// Stops whatever runs; returns when its processes are gone.
    pub async fn shutdown(&mut self, force: bool) {
        if force {
            self.nextest.kill_now();
        }
        self.nextest.shutdown().await;
    }
}

/// The coverage set-up the config and the machine allow, or why none.
fn coverage_rig(ws: &Workspace, settings: &Settings) -> (Option<CoverageRig>, Option<String>) {
    if settings.coverage == Mode::Off || ws.target_dir.as_os_str().is_empty() {
        return (None, None);
    }
    match crate::adapters::llvm::discover(&ws.root) {
        Ok(tools) => {
            let nightly = std::process::Command::new("rustc")
                .arg("-V")
                .current_dir(&ws.root)
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("nightly"));
            let branch = match settings.branch {
                Mode::On => true,
                Mode::Off => false,
                Mode::Auto => nightly,
            };
            (Some(CoverageRig::new(ws, tools, branch)), None)
        }
        Err(why) => (None, Some(why)),
    }
}

/// What `vigil run` ended with.
pub struct Finished {
    pub summary: Option<RunSummary>,
    /// Why `--lcov FILE` could not be written.
    pub lcov_error: Option<String>,
    /// nextest refused the filterset: a usage error.
    pub bad_filter: bool,
    /// The change set selected nothing, so no run was needed: a pass.
    pub nothing_selected: bool,
}

/// Runs once, headless, printing to `sink`; returns the run's summary.
pub async fn run_once<W: Write>(
    workspace: Workspace,
    settings: Settings,
    selection: Selection,
    sink: &mut Sink<W>,
    lcov: Option<&std::path::Path>,
) -> Finished {
    let engine = Engine::new(workspace, settings);
    engine.request(Trigger::Manual, selection);
    let (engine, mut finished) = headless(engine, sink, Some(1)).await;
    if let Some(path) = lcov {
        finished.lcov_error = engine.write_lcov(path).err();
    }
    finished
}

/// Notes about the history and coverage, said once before the first run.
fn say_store_note<W: Write>(engine: &Engine, sink: &mut Sink<W>) {
    let notes = [
        &engine.store_note,
        &engine.coverage_note,
        &engine.model.workspace.resolve_error,
    ];
    for note in notes.into_iter().flatten() {
        sink.emit(&Report::Warning {
            run: 0,
            message: note.clone(),
        });
    }
}

/// Watches headless: runs everything, then what each change affects,
/// printing to `sink`; stops after `max_runs` runs (if given) or Ctrl-C.
pub async fn watch_headless<W: Write>(
    workspace: Workspace,
    settings: Settings,
    sink: &mut Sink<W>,
    max_runs: Option<u32>,
) -> Result<Finished, String> {
    let mut engine = Engine::new(workspace, settings);
    engine.watch()?;
    engine.request(Trigger::Manual, Selection::All);
    Ok(headless(engine, sink, max_runs).await.1)
}

async fn headless<W: Write>(mut engine: Engine, sink: &mut Sink<W>, max_runs: Option<u32>) -> (Engine, Finished) {
    say_store_note(&engine, sink);
    let signals = tokio::spawn(forward_signals(engine.tx.clone(), engine.clock, false));
    let mut finished_runs = 0;
    let mut summary = None;
    let mut stopping = false;
    let mut forced = false;
    'outer: while let Some(first) = engine.rx.recv().await {
        let mut next = Some(first);
        // Drain what is already queued: a flood of events is one pass.
        while let Some(msg) = next.take().or_else(|| engine.rx.try_recv().ok()) {
            if matches!(msg, Msg::Cancel { .. }) && engine.model.active_run().is_none_or(|r| r.cancel_requested) {
                // A second Ctrl-C: stop waiting for a graceful end.
                forced = true;
                break 'outer;
            }
            stopping |= matches!(msg, Msg::Cancel { .. });
            for effect in engine.apply(msg) {
                if let Effect::Emit(report) = effect {
                    sink.emit(&report);
                    if let Report::RunFinished(s) = *report {
                        summary = Some(*s);
                        finished_runs += 1;
                    }
                }
            }
            let idle = engine.model.active_run().is_none() && engine.model.queued.is_none();
            // A change set that selected nothing started no run: done.
            let nothing_to_run = max_runs.is_some() && engine.model.runs.is_empty();
            if idle && (stopping || nothing_to_run || max_runs.is_some_and(|m| finished_runs >= m)) {
                break 'outer;
            }
        }
    }
    engine.shutdown(forced).await;
    signals.abort();
    let bad_filter = engine.model.current_run().is_some_and(|r| r.bad_filter);
    let nothing_selected = engine.model.runs.is_empty() && !stopping && !forced;
    (
        engine,
        Finished {
            summary,
            bad_filter,
            nothing_selected,
            lcov_error: None,
        },
    )
}

/// Ctrl-C and SIGTERM become `Msg::Cancel` (headless) or a quit key (in the
/// interactive view, where Ctrl-C arrives as a key anyway).
async fn forward_signals(tx: mpsc::UnboundedSender<Msg>, clock: Clock, interactive: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    loop {
        // SIGHUP: the terminal went away; stop as cleanly as for Ctrl-C.
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let at = clock.now();
        let msg = if interactive {
            Msg::Key {
                key: crate::core::Key::Ctrl('c'),
                at,
            }
        } else {
            Msg::Cancel { at }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

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
                | Effect::SaveList { .. }
                | Effect::Survey { .. }
                | Effect::LoadSource { .. }
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
        self.last_draw = Some(Instant::now());
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
            if self.dirty && self.last_draw.is_none_or(|t| now >= t + FRAME) {
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
