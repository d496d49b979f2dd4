//! Headless: `vigil run` once and `vigil watch --no-tui`, printing each
//! report to a sink (JSON lines or human lines).

use crate::core::ids::RunId;
use std::io::Write;

use super::signals::forward_signals;
use super::Engine;
use crate::config::Settings;
use crate::core::effect::Outward;
use crate::core::report::{Report, RunSummary};
use crate::core::{Msg, Selection, Trigger, Workspace};
use crate::sink::Sink;

/// What `vigil run` ended with.
pub struct Finished {
    pub summary: Option<RunSummary>,
    /// Why `--lcov FILE` could not be written.
    pub lcov_error: Option<super::EngineError>,
    /// nextest refused the filterset: a usage error.
    pub bad_filter: bool,
    /// The change set selected nothing, so no run was needed: a pass.
    pub nothing_selected: bool,
    /// The run's JSON lines (for `--junit`, `--trace`, `--out`).
    pub last_run: Option<String>,
    /// Why the shard could not be written into `--out DIR`.
    pub shard_error: Option<String>,
}

/// Runs once, headless, printing to `sink`; returns the run's summary.
pub async fn run_once<W: Write>(
    workspace: Workspace,
    settings: Settings,
    selection: Selection,
    sink: &mut Sink<W>,
    lcov: Option<&std::path::Path>,
    shard: Option<(String, Option<std::path::PathBuf>, std::path::PathBuf)>,
) -> Finished {
    let mut engine = Engine::new(workspace, settings);
    let out = shard.as_ref().map(|s| s.2.clone());
    if let Some((partition, archive, _)) = shard {
        engine.shard(partition, archive);
    }
    if matches!(selection, Selection::Changed { .. }) {
        engine.index_inputs_now();
    }
    engine.request(Trigger::Manual, selection);
    let (engine, mut finished) = headless(engine, sink, Some(1)).await;
    if let Some(path) = lcov {
        finished.lcov_error = engine.write_lcov(path).err();
    }
    finished.last_run = engine.last_run.clone();
    if let Some(dir) = out {
        finished.shard_error = engine.export_shard(&dir).err();
    }
    finished
}

/// Notes about the history and coverage, said once before the first run.
fn say_notes<W: Write>(engine: &Engine, sink: &mut Sink<W>) {
    let notes = [
        &engine.store_note,
        &engine.coverage_note,
        &engine.model.workspace.resolve_error,
        &engine.serve_note,
    ];
    for note in notes.into_iter().flatten() {
        sink.emit(&Report::Warning {
            run: RunId(0),
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
) -> Result<Finished, super::EngineError> {
    let mut engine = Engine::new(workspace, settings);
    engine.watch()?;
    engine.request(Trigger::Manual, Selection::All);
    Ok(headless(engine, sink, max_runs).await.1)
}

/// An engine serving its socket: the sender that stops it, and its loop.
pub type Served = (
    tokio::sync::mpsc::UnboundedSender<Msg>,
    std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
);

/// A headless engine that watches and serves its socket, saying nothing
/// on stdout (`vigil lsp` starts one when no vigil runs): the sender that
/// stops it (`Msg::Cancel`) and the loop to drive. The socket is bound when
/// this returns.
pub fn serve_headless(workspace: Workspace, settings: Settings) -> Result<Served, super::EngineError> {
    let mut engine = Engine::new(workspace, settings);
    engine.watch()?;
    if let Some(note) = engine.serve_note.clone() {
        return Err(super::EngineError::Serve(note));
    }
    engine.request(Trigger::Manual, Selection::All);
    let tx = engine.tx.clone();
    let run = async move {
        let mut sink = Sink::new(std::io::sink(), crate::sink::Format::Json, false);
        headless(engine, &mut sink, None).await;
    };
    Ok((tx, Box::pin(run)))
}

async fn headless<W: Write>(mut engine: Engine, sink: &mut Sink<W>, max_runs: Option<u32>) -> (Engine, Finished) {
    say_notes(&engine, sink);
    let signals = tokio::spawn(forward_signals(engine.tx.clone(), engine.clock, false));
    let mut finished_runs = 0;
    let mut summary = None;
    let mut stopping = false;
    // A request was applied (other messages, such as the history, can come
    // before it).
    let mut requested = false;
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
            requested |= matches!(msg, Msg::RunRequested { .. });
            for effect in engine.apply(msg) {
                if let Outward::Emit(report) = effect {
                    sink.emit(&report);
                    if let Report::RunFinished(s) = *report {
                        summary = Some(*s);
                        finished_runs += 1;
                    }
                }
            }
            let idle = engine.model.settled();
            // A change set that selected nothing started no run: done.
            let nothing_to_run = requested && max_runs.is_some() && engine.model.runs.is_empty();
            if idle && (stopping || nothing_to_run || max_runs.is_some_and(|m| finished_runs >= m)) {
                break 'outer;
            }
        }
        // The queue is drained: what the pass said goes out in one write.
        sink.flush();
        if sink.closed() && !stopping && max_runs.is_none() {
            // Nobody reads what this watch says: it stops as Ctrl-C stops
            // it (the run cancelled, its processes gone, history kept). A
            // run (`vigil run`) goes on to its end: its verdict and its
            // history still count.
            tracing::info!("stdout closed: stopping");
            let _ = engine.tx.send(Msg::Cancel { at: engine.clock.now() });
        }
    }
    sink.flush();
    engine.shutdown(forced).await;
    signals.abort();
    // Everything kept is on disk now; what could not be is said.
    let last = engine.model.runs.last().map_or(RunId(0), |r| r.number);
    if let Some(message) = engine.settle_writes() {
        sink.emit(&Report::Warning { run: last, message });
    }
    sink.flush();
    let bad_filter = engine.model.current_run().is_some_and(|r| r.bad_filter);
    let nothing_selected = engine.model.runs.is_empty() && !stopping && !forced;
    (
        engine,
        Finished {
            summary,
            bad_filter,
            nothing_selected,
            lcov_error: None,
            last_run: None,
            shard_error: None,
        },
    )
}
