//! The one loop: messages in, `core::update`, effects out. The `Engine`
//! holds the model and the adapters that carry out its effects; `headless`
//! drives it with a printing sink, `interactive` with the terminal view
//! (generic over ratatui's backend, so tests run it on a `TestBackend`),
//! and `signals` turns Ctrl-C and SIGTERM into messages.

mod headless;
mod interactive;
pub mod merge;
mod signals;

pub use headless::{run_once, watch_headless, Finished};
pub use interactive::{osc52, Interactive};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::adapters::clock::Clock;
use crate::adapters::coverage::CoverageRig;
use crate::adapters::log::LogGuard;
use crate::adapters::nextest::Nextest;
use crate::adapters::offload::{Offload, Priority};
use crate::adapters::store::{self, Store};
use crate::adapters::watcher::Watcher;
use crate::config::Mode;
use crate::config::Settings;
use crate::core::effect::{Class, Outward};
use crate::core::report::{Report, RunSummary};
use crate::core::{update, Effect, Model, Msg, Selection, Trigger, Workspace};

/// Which adapters carry out the engine's world effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// The real ones: nextest, cargo, the history, the state directory.
    Real,
    /// None: every effect that would start a process is recorded
    /// (`Engine::recorded`), nothing is written, no history is opened
    /// (scripted tests of the loop, replays, benchmarks).
    Recording,
}

/// What the engine could not set up or write.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("failed to watch {root}: {source}")]
    Watch {
        root: std::path::PathBuf,
        source: notify::Error,
    },
    #[error("no coverage to write: coverage is off or was not collected")]
    NoCoverage,
    #[error("failed to write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The model and the adapters that carry out its effects.
pub struct Engine {
    pub model: Model,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub rx: mpsc::UnboundedReceiver<Msg>,
    pub clock: Clock,
    nextest: Nextest,
    /// The log's writer, kept while the engine runs.
    _log: LogGuard,
    watcher: Option<Watcher>,
    debounce: Duration,
    explicit_config: Option<std::path::PathBuf>,
    /// The history, shared with the thread that writes each run to it.
    store: Option<Arc<std::sync::Mutex<Store>>>,
    coverage: Option<Arc<CoverageRig>>,
    /// Why coverage is off, when it could have been on.
    pub coverage_note: Option<String>,
    /// What happened to a history that could not be used (moved aside, or
    /// none kept): for the user to see.
    pub store_note: Option<String>,
    /// With `Io::Recording`: the world effects a dry run does not carry
    /// out, in order.
    pub recorded: Option<Vec<Effect>>,
    /// The services vigil started (stopped on exit).
    services: crate::adapters::services::Services,
    /// The reports said since the last run ended, as JSON lines.
    run_lines: Vec<String>,
    /// The doc lane's `cargo test --doc` in flight: its run, how to stop
    /// it, its task.
    doc_job: Option<(
        u32,
        Option<tokio::sync::oneshot::Sender<()>>,
        tokio::task::JoinHandle<()>,
    )>,
    /// The last finished run's JSON lines (kept in the state directory as
    /// `last-run.jsonl` too): JUnit, the trace and shards are written from
    /// them.
    pub last_run: Option<String>,
    /// Work off the loop (walks, reads, the coverage merge) and what is
    /// kept (the history record, the kept run, the listing): joined before
    /// vigil exits.
    offload: Offload,
    /// What could not be kept and has not been said yet.
    not_kept: Vec<String>,
    /// How much history is kept (`history.keep`).
    keep: crate::config::Keep,
    io: Io,
}

impl Engine {
    pub fn new(workspace: Workspace, settings: Settings) -> Self {
        Self::with_io(workspace, settings, Io::Real)
    }

    /// An engine that starts no process and writes nothing: it records
    /// what it would do.
    pub fn dry(workspace: Workspace, settings: Settings) -> Self {
        Self::with_io(workspace, settings, Io::Recording)
    }

    pub(crate) fn with_io(workspace: Workspace, settings: Settings, io: Io) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let clock = Clock::start();
        let real = io == Io::Real;
        let waker = tx.clone();
        let mut offload = Offload::new(move || {
            let _ = waker.send(Msg::Kept);
        });
        let log = if real {
            crate::adapters::log::init(&workspace.target_dir)
        } else {
            LogGuard::none()
        };
        let mut nextest = Nextest::new(workspace.root.clone(), tx.clone(), clock);
        if real {
            nextest.bound = Some(crate::adapters::bounded::Bound::new(
                &crate::adapters::state_dir(&workspace.target_dir),
                settings.output_max,
            ));
        }
        let services =
            crate::adapters::services::Services::new(&workspace.root, &workspace.target_dir, tx.clone(), clock);
        let (store, store_note) = if !real {
            (None, None)
        } else {
            match Store::open(&store::default_path(&workspace.target_dir)) {
                Ok((s, note)) => (Some(s), note),
                Err(e) => (None, Some(format!("{e}; this session keeps no history"))),
            }
        };
        // Pruned as it opens: `history.keep` runs, or days, and no more.
        let mut store = store;
        let pruned = match store.as_mut().map(|s| s.prune(settings.keep)) {
            Some(Err(e)) => {
                tracing::info!("the history was not pruned: {e}");
                0
            }
            Some(Ok(n)) => n,
            None => 0,
        };
        let mut model = Model::new(workspace, settings.rules.clone());
        if store.is_some() {
            // Read beside the first run, on a connection of its own.
            model.history_pending = true;
            let (target, tx) = (model.workspace.target_dir.clone(), tx.clone());
            let keep = describe_keep(settings.keep);
            offload.spawn("history", Priority::Low, move || {
                let (history, coverage) = load_history(&store::default_path(&target), keep, pruned);
                let _ = tx.send(Msg::HistoryLoaded { history, coverage });
            });
        }
        if let Some(note) = &store_note {
            tracing::info!("{note}");
        }
        let (coverage, coverage_note) = if real {
            coverage_rig(&model.workspace, &settings)
        } else {
            (None, None)
        };
        if let Some(note) = &coverage_note {
            tracing::info!("{note}");
        }
        model.coverage_on = coverage.is_some();
        if real {
            model.list_cache = crate::adapters::list_cache::load(&model.workspace.target_dir, model.coverage_on);
        }
        Self {
            model,
            store: store.map(|s| Arc::new(std::sync::Mutex::new(s))),
            store_note,
            coverage: coverage.map(Arc::new),
            coverage_note,
            tx,
            rx,
            clock,
            nextest,
            _log: log,
            watcher: None,
            debounce: settings.debounce,
            explicit_config: settings.explicit.clone(),
            services,
            run_lines: Vec::new(),
            last_run: None,
            doc_job: None,
            offload,
            not_kept: Vec::new(),
            keep: settings.keep,
            recorded: (!real).then(Vec::new),
            io,
        }
    }

    /// Starts watching the workspace; changes arrive as messages. The
    /// resolved dependency graph is read beside the first run.
    pub fn watch(&mut self) -> Result<(), EngineError> {
        if self.model.workspace.graph_pending {
            self.resolve_graph();
        }
        let w =
            Watcher::start(&self.model.workspace, self.debounce, self.tx.clone(), self.clock).map_err(|source| {
                EngineError::Watch {
                    root: self.model.workspace.root.clone(),
                    source,
                }
            })?;
        self.index_inputs();
        if let Some(rig) = self.coverage.clone() {
            // Patch coverage in watch mode: against the tree as it is now.
            self.offload
                .spawn("session-snapshot", Priority::Low, move || rig.snapshot_session());
        }
        tracing::info!("watching {} directories", w.watched_dirs());
        self.model.watching = true;
        self.watcher = Some(w);
        Ok(())
    }

    /// Reads what the last build read, now: a change set given on the
    /// command line is planned against it. (Watching reads it beside the
    /// first run; a full run needs none.)
    pub(crate) fn index_inputs_now(&mut self) {
        self.model.inputs = crate::adapters::inputs::index(&self.model.workspace);
    }

    /// Runs one shard of a partitioned CI run: nextest's `--partition`,
    /// from an archive when given. From an archive, coverage is off: its
    /// binaries are not the instrumented build vigil made.
    pub fn shard(&mut self, partition: String, archive: Option<std::path::PathBuf>) {
        self.nextest.partition = Some(partition);
        if archive.is_some() && self.coverage.take().is_some() {
            self.coverage_note =
                Some("coverage is off when running from a nextest archive (--archive-file)".to_owned());
            self.model.coverage_on = false;
        }
        self.nextest.archive = archive;
        self.model.shard = true;
        // `slice:1/N`, `hash:1/N`: the first shard runs the doctests.
        self.model.shard_docs = partition_index(self.nextest.partition.as_deref()) == Some(1);
    }

    /// Writes the shard into `dir`: its JSON lines, and with coverage its
    /// own profile and the binaries it was read with.
    pub(crate) fn export_shard(&self, dir: &std::path::Path) -> Result<(), String> {
        let lines = self.last_run.as_deref().ok_or("the run did not finish")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        let events = dir.join("events.jsonl");
        crate::adapters::keep::write_atomic(&events, lines.as_bytes())
            .map_err(|e| format!("failed to write {}: {e}", events.display()))?;
        if let (Some(rig), Some(run)) = (&self.coverage, self.model.coverage_run) {
            rig.export_shard(run, dir)
                .map_err(|e| format!("the shard's coverage: {e}"))?;
        }
        Ok(())
    }

    pub fn request(&self, trigger: Trigger, selection: Selection) {
        let _ = self.tx.send(Msg::RunRequested {
            trigger,
            selection,
            at: self.clock.now(),
        });
    }

    /// Applies one message: carries out its world effects, and hands back
    /// what the front end carries out (reports, the editor, the terminal).
    pub fn apply(&mut self, msg: Msg) -> Vec<Outward> {
        let mut rest = Vec::new();
        if matches!(msg, Msg::Kept) {
            let run = self.model.runs.last().map_or(0, |r| r.number);
            self.say_not_kept(run, &mut rest);
        }
        for effect in update(&mut self.model, msg) {
            let effect = match effect.class() {
                Class::World(e) => e,
                Class::Outward(Outward::Emit(report)) => {
                    self.emit(report, &mut rest);
                    continue;
                }
                Class::Outward(o) => {
                    rest.push(o);
                    continue;
                }
            };
            if let Some(recorded) = self.recorded.as_mut() {
                match dry_run(&effect) {
                    Dry::Record => {
                        recorded.push(effect);
                        continue;
                    }
                    // Nothing was built: there is nothing new to read.
                    Dry::Skip => continue,
                    Dry::Carry => {}
                }
            }
            match effect {
                Effect::List { run, filterset } => {
                    tracing::info!("run {run}: list {}", filterset.as_deref().unwrap_or("(all)"));
                    let env = self.coverage.as_ref().map(|c| c.env(run)).unwrap_or_default();
                    self.nextest.list(run, filterset.as_deref(), &env);
                }
                Effect::Survey { run, hygiene } => self.survey(run, hygiene),
                Effect::Run { run, filterset } => {
                    let env = self.coverage.as_ref().map(|c| c.env(run)).unwrap_or_default();
                    // The sweep runs at low priority: the developer's next
                    // save (and everything else) comes first.
                    let sweep = self
                        .model
                        .current_run()
                        .is_some_and(|r| r.number == run && r.trigger == crate::core::Trigger::Sweep);
                    self.nextest.run(run, filterset.as_deref(), &env, sweep);
                }
                Effect::CollectCoverage {
                    run,
                    ran,
                    binaries,
                    tests,
                    partial,
                } => self.collect_coverage(run, ran, binaries, tests, partial),
                Effect::SaveList { suites } => {
                    let (dir, coverage) = (&self.model.workspace.target_dir, self.model.coverage_on);
                    if let Some((path, bytes)) = crate::adapters::list_cache::encoded(dir, coverage, &suites) {
                        self.offload.keep("the kept listing", path, bytes);
                    }
                }
                Effect::SweepTimer { token, after } => {
                    let (tx, clock) = (self.tx.clone(), self.clock);
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = tx.send(Msg::SweepDue { token, at: clock.now() });
                    });
                }
                Effect::ReadTexts { files, versions } => {
                    let (ws, tx) = (self.model.workspace.clone(), self.tx.clone());
                    self.offload.spawn("texts", Priority::Prompt, move || {
                        let texts = crate::adapters::coverage::read_texts(&ws, &files, &versions);
                        let _ = tx.send(Msg::TextsRead { texts: Box::new(texts) });
                    });
                }
                Effect::LoadSource { path } => {
                    let (file, tx) = (self.model.workspace.root.join(&path), self.tx.clone());
                    self.offload.spawn("source", Priority::Prompt, move || {
                        let text = std::fs::read_to_string(file).ok();
                        let _ = tx.send(Msg::SourceLoaded { path, text });
                    });
                }
                Effect::Rewatch { workspace } => {
                    // Walking the tree takes a while on a big workspace:
                    // off the loop (the watches only ever grow).
                    if let Some(w) = self.watcher.clone() {
                        let ws = workspace.then(|| self.model.workspace.clone());
                        let inputs = self.model.inputs.clone();
                        self.offload.spawn("rewatch", Priority::Low, move || {
                            if let Some(ws) = ws {
                                w.rewatch(&ws);
                            }
                            w.watch_inputs(&inputs);
                        });
                    }
                }
                Effect::Cancel { run } => {
                    tracing::info!("run {run}: cancel");
                    self.nextest.cancel(run);
                    if let Some((r, cancel, _)) = &mut self.doc_job {
                        if *r == run {
                            if let Some(c) = cancel.take() {
                                let _ = c.send(());
                            }
                        }
                    }
                }
                Effect::StopTests { run } => {
                    tracing::info!("run {run}: stop the tests, let the list finish");
                    self.nextest.stop_tests(run);
                }
                Effect::Probe {
                    service,
                    token,
                    check,
                    timeout,
                    after,
                } => {
                    let (tx, clock, dir) = (self.tx.clone(), self.clock, self.model.workspace.root.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let probe = crate::adapters::services::probe(&check, timeout, &dir).await;
                        let _ = tx.send(Msg::Probed {
                            service,
                            token,
                            probe,
                            at: clock.now(),
                        });
                    });
                }
                Effect::StartService { service, argv, restart } => {
                    tracing::info!("service {service}: start `{}`", argv.join(" "));
                    let stop = self
                        .model
                        .services
                        .iter()
                        .find(|s| s.spec.name == service)
                        .and_then(|s| s.spec.stop.clone());
                    self.services.start(&service, &argv, stop, restart);
                }
                Effect::Doctests { run, packages, filters } => {
                    tracing::info!(
                        "run {run}: cargo test --doc -p {} -- {}",
                        packages.join(" -p "),
                        filters.join(" ")
                    );
                    if let Some(c) = &self.coverage {
                        let _ = std::fs::remove_dir_all(c.doc_profile_dir());
                    }
                    let env = self.coverage.as_ref().map(|c| c.doc_env(run)).unwrap_or_default();
                    let (cancel, handle) = crate::adapters::doctests::spawn(
                        run,
                        self.model.workspace.clone(),
                        crate::adapters::doctests::DocJob {
                            packages,
                            filters,
                            env,
                            bound: self.nextest.bound.clone(),
                        },
                        self.tx.clone(),
                        self.clock,
                    );
                    self.doc_job = Some((run, Some(cancel), handle));
                }
                Effect::AcceptSnapshots { snaps, rerun } => {
                    let (tx, clock) = (self.tx.clone(), self.clock);
                    self.offload.spawn("snapshots", Priority::Prompt, move || {
                        let (accepted, errors) = crate::adapters::snapshots::accept(&snaps);
                        let _ = tx.send(Msg::SnapshotsAccepted {
                            accepted,
                            errors,
                            rerun,
                            at: clock.now(),
                        });
                    });
                }
                Effect::Reload => self.reload(),
                Effect::IndexInputs => self.index_inputs(),
                // Classified above: the front end's.
                Effect::Emit(_) | Effect::Quit | Effect::Edit(_) | Effect::Copy { .. } | Effect::Bell => {}
            }
        }
        rest
    }

    /// A report: kept in the run's lines (and, at a run's end, in the
    /// history and the state directory), then handed to the front end.
    fn emit(&mut self, report: Box<Report>, rest: &mut Vec<Outward>) {
        if let Ok(line) = serde_json::to_string(&report) {
            self.run_lines.push(line);
        }
        let finished = match report.as_ref() {
            Report::RunFinished(s) => {
                self.record(s);
                self.keep_run();
                Some(s.run)
            }
            _ => None,
        };
        rest.push(Outward::Emit(report));
        if let Some(run) = finished {
            self.say_not_kept(run, rest);
        }
    }

    /// Work for the front end off the loop (the resource sample), the
    /// engine's one way: named, at a priority, joined at exit.
    pub(crate) fn offload(&mut self, name: &str, priority: Priority, work: impl FnOnce() + Send + 'static) {
        self.offload.spawn(name, priority, work);
    }

    /// What could not be kept, said once all of a moment's keeps have ended
    /// (a full disk fails the history record and the kept run together:
    /// one warning names them all). A keep that ends wakes the loop
    /// (`Msg::Kept`), which comes back here.
    fn say_not_kept(&mut self, run: u32, rest: &mut Vec<Outward>) {
        if self.offload.keeping() {
            return;
        }
        self.not_kept.extend(self.offload.reap().iter().map(|f| f.to_string()));
        if let Some(message) = crate::adapters::keep::say(&std::mem::take(&mut self.not_kept)) {
            if let Some(r) = self.model.run_mut(run) {
                r.warnings.push(message.clone());
            }
            rest.push(Outward::Emit(Box::new(Report::Warning { run, message })));
        }
    }

    /// Merges and reads the run's coverage off the loop.
    fn collect_coverage(
        &mut self,
        run: u32,
        ran: Vec<String>,
        binaries: BTreeMap<String, std::path::PathBuf>,
        tests: Vec<crate::core::testmap::TestKey>,
        partial: Vec<String>,
    ) {
        let tx = self.tx.clone();
        let clock = self.clock;
        let Some(rig) = self.coverage.clone() else {
            return;
        };
        self.offload.spawn("coverage", Priority::Prompt, move || {
            // The core keeps what to tell the user, not the adapter's error type.
            let (result, maps, map_note, patch) = match rig.collect(run, &ran, &binaries, &tests, &partial) {
                Ok(c) => {
                    tracing::info!(
                        "run {run}: {} coverage maps from per-test profiles in {} ms",
                        c.maps.len(),
                        c.maps_took.as_millis()
                    );
                    let patch = c.patch.map(|p| p.map_err(|e| e.to_string()));
                    (Ok(Box::new(c.coverage)), c.maps, c.map_note, patch)
                }
                Err(e) => (Err(e.to_string()), Vec::new(), None, None),
            };
            let _ = tx.send(Msg::CoverageCollected {
                run,
                result,
                maps,
                map_note,
                patch,
                at: clock.now(),
            });
        });
    }

    /// Writes the latest coverage as LCOV (`--lcov FILE`).
    pub(crate) fn write_lcov(&self, path: &std::path::Path) -> Result<(), EngineError> {
        let Some(cov) = self
            .model
            .coverage
            .as_ref()
            .filter(|_| self.model.coverage_run.is_some())
        else {
            return Err(EngineError::NoCoverage);
        };
        std::fs::write(path, crate::adapters::lcov::write(cov, &self.model.workspace.root)).map_err(|source| {
            EngineError::Write {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Keeps the run that just ended as JSON lines (`last-run.jsonl`).
    /// Written off the loop, whole (a temporary file, then a rename), and
    /// joined before vigil exits.
    fn keep_run(&mut self) {
        let mut text = std::mem::take(&mut self.run_lines).join("\n");
        text.push('\n');
        if self.io == Io::Real {
            let path = last_run_path(&self.model.workspace.target_dir);
            self.offload.keep("the kept run", path, text.clone().into_bytes());
        }
        self.last_run = Some(text);
    }

    /// Waits for every write in flight; one warning for what could not be
    /// kept and was not said yet.
    pub fn settle_writes(&mut self) -> Option<String> {
        let failed: Vec<String> = self.offload.settle().iter().map(|f| f.to_string()).collect();
        self.not_kept.extend(failed);
        crate::adapters::keep::say(&std::mem::take(&mut self.not_kept))
    }

    /// Keeps a finished run in the history, off the loop: the record is
    /// made here (it reads the model), written on a keep's thread.
    fn record(&mut self, s: &RunSummary) {
        let (Some(store), Some(record)) = (self.store.clone(), store::RunRecord::of(&self.model, s)) else {
            return;
        };
        let (history, keep, target) = (
            self.model.history.clone(),
            self.keep,
            self.model.workspace.target_dir.clone(),
        );
        let path = store::default_path(&target);
        self.offload
            .keep_with(&format!("run {} in the history", s.run), path, move || {
                let mut store = store.lock().map_err(|_| "the history's lock was poisoned".to_owned())?;
                let id = store.record(&record).map_err(|e| e.to_string())?;
                store::save_history_cache(&store::cache_path(store.path()), id, &history);
                // Weeks of uptime: the history stays at `history.keep`.
                if let Err(e) = store.prune(keep) {
                    tracing::info!("the history was not pruned: {e}");
                }
                Ok(())
            });
    }

    /// Fingerprints the tree (and runs the hygiene checks), off the loop.
    fn survey(&mut self, run: u32, hygiene: bool) {
        let ws = self.model.workspace.clone();
        let rules = self.model.rules.hygiene.clone();
        let tx = self.tx.clone();
        self.offload.spawn("survey", Priority::Low, move || {
            let fingerprint = crate::adapters::fingerprint::fingerprint(&ws.root, &ws.target_dir);
            let _ = tx.send(Msg::Fingerprint { run, fingerprint });
            if hygiene {
                let warnings = crate::adapters::sources::hygiene(&ws, &rules);
                let _ = tx.send(Msg::Hygiene { warnings });
            }
        });
    }

    /// Reads what the compilations read again, off the loop.
    fn index_inputs(&mut self) {
        let ws = self.model.workspace.clone();
        let tx = self.tx.clone();
        self.offload.spawn("inputs", Priority::Low, move || {
            let inputs = Box::new(crate::adapters::inputs::index(&ws));
            let _ = tx.send(Msg::InputsIndexed { inputs });
        });
    }

    /// Reads cargo's resolved graph, off the loop (the config stays).
    fn resolve_graph(&mut self) {
        let root = self.model.workspace.root.clone();
        let tx = self.tx.clone();
        self.offload.spawn("graph", Priority::Low, move || {
            let (workspace, error) = match crate::adapters::workspace::discover(&root) {
                Ok(ws) => {
                    crate::adapters::workspace::keep_manifests(&ws);
                    (Some(Box::new(ws)), None)
                }
                Err(e) => (None, Some(format!("the dependency graph could not be read: {e}"))),
            };
            let _ = tx.send(Msg::Reloaded {
                workspace,
                rules: None,
                error,
                requested: false,
            });
        });
    }

    /// Reads the workspace and config again, off the loop.
    fn reload(&mut self) {
        let root = self.model.workspace.root.clone();
        let explicit = self.explicit_config.clone();
        let tx = self.tx.clone();
        self.offload.spawn("reload", Priority::Prompt, move || {
            let mut error = None;
            let workspace = crate::adapters::workspace::discover(&root)
                .map_err(|e| error = Some(format!("reload failed: {e}")))
                .ok();
            if let Some(ws) = &workspace {
                crate::adapters::workspace::keep_manifests(ws);
            }
            let rules = Settings::load(explicit.as_deref(), &root)
                .map_err(|e| error = Some(format!("{e} (keeping the previous config)")))
                .ok()
                .map(|s| s.rules);
            let _ = tx.send(Msg::Reloaded {
                workspace: workspace.map(Box::new),
                rules,
                error,
                requested: true,
            });
        });
    }

    /// Stops whatever runs; returns when its processes are gone.
    pub async fn shutdown(&mut self, force: bool) {
        if force {
            self.nextest.kill_now();
        }
        self.nextest.shutdown().await;
        if let Some((_, cancel, handle)) = self.doc_job.take() {
            drop(cancel);
            let _ = handle.await;
        }
        self.services.shutdown().await;
        // Work still off the loop only answers a loop that is ending; what
        // is kept always reaches the disk. A forced stop waits for no more.
        let failed = if force {
            self.offload.settle()
        } else {
            self.offload.join_all()
        };
        self.not_kept.extend(failed.iter().map(|f| f.to_string()));
    }
}

/// `history.keep` as the user reads it.
fn describe_keep(keep: crate::config::Keep) -> String {
    match keep {
        crate::config::Keep::Runs(n) => format!("the last {n} runs"),
        crate::config::Keep::Days(d) => format!("the last {d} days"),
    }
}

/// What an engine that starts no process does with an effect.
enum Dry {
    /// Starts a process or touches the user's files: recorded, not done.
    Record,
    /// Reads what a build left (there is none): dropped.
    Skip,
    /// Within vigil (reports, timers, reading texts): carried out.
    Carry,
}

/// Every effect, by what a dry run does with it: exhaustive, so that a new
/// effect must be placed here before it can compile (one that starts a
/// process never runs for real by being forgotten).
fn dry_run(effect: &Effect) -> Dry {
    match effect {
        Effect::List { .. }
        | Effect::Run { .. }
        | Effect::Cancel { .. }
        | Effect::StopTests { .. }
        | Effect::CollectCoverage { .. }
        | Effect::Probe { .. }
        | Effect::StartService { .. }
        | Effect::Doctests { .. }
        | Effect::AcceptSnapshots { .. }
        // Runs `cargo metadata`.
        | Effect::Reload => Dry::Record,
        Effect::IndexInputs | Effect::SaveList { .. } | Effect::Survey { .. } | Effect::Rewatch { .. } => Dry::Skip,
        Effect::Emit(_)
        | Effect::SweepTimer { .. }
        | Effect::ReadTexts { .. }
        | Effect::LoadSource { .. }
        | Effect::Edit(_)
        | Effect::Copy { .. }
        | Effect::Bell
        | Effect::Quit => Dry::Carry,
    }
}

/// M of a nextest partition `kind:M/N`.
fn partition_index(spec: Option<&str>) -> Option<u32> {
    let (_, rest) = spec?.split_once(':')?;
    rest.split_once('/')?.0.trim().parse().ok()
}

/// Where the last finished run's JSON lines are kept.
pub fn last_run_path(target_dir: &std::path::Path) -> std::path::PathBuf {
    crate::adapters::state_dir(target_dir).join("last-run.jsonl")
}

/// The history and the last coverage kept (deltas hold across sessions);
/// what cannot be read is logged and left empty.
fn load_history(
    path: &std::path::Path,
    keep: String,
    pruned: u64,
) -> (
    Box<crate::core::history::History>,
    Option<(i64, Box<crate::core::coverage::Coverage>)>,
) {
    let Ok((s, _)) = Store::open(path) else {
        return (Box::default(), None);
    };
    let mut history: crate::core::history::History = s.history_cached(&store::cache_path(path)).unwrap_or_else(|e| {
        tracing::info!("history not read: {e}");
        Default::default()
    });
    // Its size, for the history view.
    if let Ok((runs, bytes)) = s.size() {
        history.kept = Some(crate::core::history::Kept {
            runs,
            bytes,
            keep,
            pruned,
        });
    }
    let coverage = s.last_coverage().ok().flatten().map(|(run, c)| {
        let cov = Box::new(crate::core::coverage::Coverage {
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
        (run, cov)
    });
    (Box::new(history), coverage)
}

/// The coverage set-up the config and the machine allow, or why none.
fn coverage_rig(ws: &Workspace, settings: &Settings) -> (Option<CoverageRig>, Option<String>) {
    if settings.coverage == Mode::Off {
        return (None, None);
    }
    match crate::adapters::llvm::discover(&ws.root) {
        Ok(tools) => {
            let nightly = crate::adapters::process::nightly(&ws.root, &[]);
            let branch = match settings.branch {
                Mode::On => true,
                Mode::Off => false,
                Mode::Auto => nightly,
            };
            let mut rig = CoverageRig::new(ws, tools, branch);
            rig.base = settings.coverage_base.clone();
            if !settings.trace_reads {
                rig.tracer = Err("read tracing is off (`coverage.reads = false`)".into());
            }
            (Some(rig), None)
        }
        Err(why) => (None, Some(why.to_string())),
    }
}
