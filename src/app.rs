//! The one loop: messages in, `core::update`, effects out. The headless
//! modes drive it with a printing sink; the TUI drives the same loop.

use std::io::Write;
use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::adapters::clock::Clock;
use crate::adapters::nextest::Nextest;
use crate::config::Settings;
use crate::core::report::{Report, RunSummary};
use crate::core::{update, Effect, Model, Msg, Selection, Trigger, Workspace};
use crate::sink::Sink;

/// What `vigil run` ended with.
pub struct Finished {
    pub summary: Option<RunSummary>,
    /// nextest refused the filterset: a usage error.
    pub bad_filter: bool,
}

/// Runs once, headless, printing to `sink`; returns the last run's summary.
pub async fn run_once<W: Write>(
    workspace: Workspace,
    settings: Settings,
    selection: Selection,
    sink: &mut Sink<W>,
) -> Finished {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let clock = Clock::start();
    let root: PathBuf = workspace.root.clone();
    let mut model = Model::new(workspace, settings.rules);
    let mut nextest = Nextest::new(root, tx.clone(), clock);
    let signals = tokio::spawn(forward_signals(tx.clone(), clock));

    let _ = tx.send(Msg::RunRequested {
        trigger: Trigger::Manual,
        selection,
        at: clock.now(),
    });
    let mut summary = None;
    let mut forced = false;
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Drain what is already queued: a flood of events is one pass.
        while let Some(msg) = next.take().or_else(|| rx.try_recv().ok()) {
            if let Msg::Listed { suites, .. } = &msg {
                nextest.set_listing(suites);
            }
            if matches!(msg, Msg::Cancel { .. }) && model.active_run().is_some_and(|r| r.cancel_requested) {
                // A second Ctrl-C: stop waiting for a graceful end.
                forced = true;
                break 'outer;
            }
            for effect in update(&mut model, msg) {
                match effect {
                    Effect::List { run, filterset } => nextest.list(run, filterset.as_deref()),
                    Effect::Run { run, filterset } => nextest.run(run, filterset.as_deref()),
                    Effect::Cancel { run } => nextest.cancel(run),
                    Effect::Emit(report) => {
                        sink.emit(&report);
                        if let Report::RunFinished(s) = *report {
                            summary = Some(s);
                        }
                    }
                }
            }
            if summary.is_some() && model.active_run().is_none() {
                break 'outer;
            }
        }
    }
    if forced {
        nextest.kill_now();
    }
    nextest.shutdown().await;
    signals.abort();
    let bad_filter = model.current_run().is_some_and(|r| r.bad_filter);
    Finished { summary, bad_filter }
}

/// Ctrl-C and SIGTERM become `Msg::Cancel`.
async fn forward_signals(tx: mpsc::UnboundedSender<Msg>, clock: Clock) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if tx.send(Msg::Cancel { at: clock.now() }).is_err() {
            return;
        }
    }
}
