//! The one loop: messages in, `core::update`, effects out. The `Engine`
//! holds the model and the adapters that carry out its effects; `headless`
//! drives it with a printing sink, `interactive` with the terminal view
//! (generic over ratatui's backend, so tests run it on a `TestBackend`),
//! and `signals` turns Ctrl-C and SIGTERM into messages. The engine's own
//! rooms: `effects` (carrying out what the core asks), `work` (what leaves
//! the loop, what a run keeps), `setup` (what it reads as it starts).

pub mod check;
mod effects;
mod headless;
mod interactive;
pub mod merge;
mod setup;
mod signals;
mod work;

pub use headless::{run_once, serve_headless, watch_headless, Finished, Served};
pub use interactive::{osc52, Interactive};

use crate::core::ids::RunId;
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

use setup::*;

/// Which adapters carry out the engine's world effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Io {
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
    #[error("{0}")]
    Serve(String),
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
    /// The proxies in front of services (`[[service]] proxy`).
    proxies: crate::adapters::proxy::Proxies,
    /// The reports said since the last run ended, as JSON lines.
    run_lines: Vec<String>,
    /// The doc lane's `cargo test --doc` in flight: its run, how to stop
    /// it, its task.
    doc_job: Option<(
        RunId,
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
    /// The socket editors and `vigil send` reach this engine on (watching).
    server: Option<crate::adapters::server::Server>,
    /// Why no client can reach this engine, when it was to listen.
    pub serve_note: Option<String>,
    /// The LCOV file kept current after every coverage run.
    live_lcov: Option<std::path::PathBuf>,
    /// The audit the live view asked for (`vigil check`, a process of its
    /// own), stopped with vigil.
    check_job: Option<tokio::task::JoinHandle<()>>,
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
        let proxied: Vec<_> = model
            .services
            .iter()
            .filter_map(|s| Some((s.spec.name.clone(), s.spec.proxy.clone()?, s.fault.clone())))
            .collect();
        if real {
            let kept = crate::adapters::state_dir(&model.workspace.target_dir).join("faults-matrix.json");
            model.faults_matrix = std::fs::read(kept).ok().and_then(|b| serde_json::from_slice(&b).ok());
        }
        let proxies = if real && !proxied.is_empty() {
            crate::adapters::proxy::Proxies::start(&proxied, tx.clone(), clock)
        } else {
            Default::default()
        };
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
        let (model_root, model_target) = (model.workspace.root.clone(), model.workspace.target_dir.clone());
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
            proxies,
            run_lines: Vec::new(),
            last_run: None,
            doc_job: None,
            offload,
            not_kept: Vec::new(),
            keep: settings.keep,
            recorded: (!real).then(Vec::new),
            io,
            server: None,
            serve_note: None,
            live_lcov: settings.live_lcov.path(&model_root, &model_target),
            check_job: None,
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
        self.serve();
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

    /// Listens on the socket in the state directory, so editors and `vigil
    /// send` reach this engine; why not, when it cannot (said, not fatal).
    pub(crate) fn serve(&mut self) {
        if self.io != Io::Real || self.server.is_some() {
            return;
        }
        let path = crate::adapters::server::socket_path(&self.model.workspace.target_dir);
        match crate::adapters::server::Server::start(&path, self.tx.clone(), self.clock) {
            Ok(s) => self.server = Some(s),
            Err(e) => {
                tracing::info!("{e}");
                self.serve_note = Some(e);
            }
        }
    }

    /// Listens at `path`, whatever the engine's adapters (benchmarks and
    /// tests serve a dry engine's model to real clients).
    pub fn serve_at(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.server = Some(crate::adapters::server::Server::start(
            path,
            self.tx.clone(),
            self.clock,
        )?);
        Ok(())
    }

    /// Where this engine listens (`None`: it does not).
    pub fn socket(&self) -> Option<&std::path::Path> {
        self.server.as_ref().map(|s| s.path())
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
}

/// Where the last finished run's JSON lines are kept.
pub fn last_run_path(target_dir: &std::path::Path) -> std::path::PathBuf {
    crate::adapters::state_dir(target_dir).join("last-run.jsonl")
}
