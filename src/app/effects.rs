//! Carrying out the core's effects: the world's through the adapters (or
//! recorded, in a dry run), the front end's handed back; reports kept as
//! they go out.

use super::*;
use crate::core::ids::RunId;

/// What an engine that starts no process does with an effect.
pub(super) enum Dry {
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
pub(super) fn dry_run(effect: &Effect) -> Dry {
    match effect {
        Effect::List { .. }
        | Effect::Run { .. }
        | Effect::Cancel { .. }
        | Effect::StopTests { .. }
        | Effect::CollectCoverage { .. }
        | Effect::Probe { .. }
        | Effect::StartService { .. }
        | Effect::SetFault { .. }
        | Effect::Doctests { .. }
        | Effect::AcceptSnapshots { .. }
        | Effect::Check { .. }
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
        | Effect::Reply { .. }
        | Effect::Snapshot { .. }
        | Effect::Quit => Dry::Carry,
    }
}

impl Engine {
    /// Applies one message: carries out its world effects, and hands back
    /// what the front end carries out (reports, the editor, the terminal).
    pub fn apply(&mut self, msg: Msg) -> Vec<Outward> {
        let mut rest = Vec::new();
        if matches!(msg, Msg::Kept) {
            let run = self.model.runs.last().map_or(RunId(0), |r| r.number);
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
                    let session = self.coverage.as_ref().and_then(|c| c.session_base());
                    self.offload.spawn("texts", Priority::Prompt, move || {
                        let texts = crate::adapters::coverage::read_texts(&ws, &files, &versions, session.as_ref());
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
                    let proxied = self
                        .model
                        .services
                        .iter()
                        .find(|s| s.spec.name == service)
                        .and_then(|s| Some((s.spec.proxy.clone()?, s.fault.clone())));
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let mut probe = crate::adapters::services::probe(&check, timeout, &dir).await;
                        if let Some((proxy, fault)) = &proxied {
                            crate::adapters::services::through_proxy(&mut probe, &check, proxy, fault.as_ref());
                        }
                        let _ = tx.send(Msg::Probed {
                            service,
                            token,
                            probe,
                            at: clock.now(),
                        });
                    });
                }
                Effect::SetFault { service, fault } => {
                    tracing::info!(
                        "service {service}: fault {}",
                        fault.as_ref().map_or("none".to_owned(), |f| f.label())
                    );
                    self.proxies.set_fault(&service, fault);
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
                        // Emptied; there before the examples start, which
                        // open their read records as they begin.
                        let _ = std::fs::remove_dir_all(c.doc_profile_dir());
                        let _ = std::fs::create_dir_all(c.doc_profile_dir());
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
                            limit: self.model.rules.terminate_after,
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
                Effect::Reply { client, reply } => {
                    if let Some(server) = &self.server {
                        server.send(client, Arc::from(tagged("reply", &reply)), false);
                    }
                }
                Effect::Snapshot { to, subscribe } => {
                    if let Some(server) = &self.server {
                        let snapshot = crate::core::snapshot::snapshot(&self.model);
                        let line = tagged_with_id("snapshot", to.id, &snapshot);
                        server.send(to.client, Arc::from(line), subscribe);
                    }
                }
                Effect::Check { filter } => self.check(filter),
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
    pub(super) fn emit(&mut self, report: Box<Report>, rest: &mut Vec<Outward>) {
        if let Ok(line) = serde_json::to_string(&report) {
            if let Some(server) = &self.server {
                server.broadcast(&line);
            }
            self.run_lines.push(line);
        }
        let finished = match report.as_ref() {
            Report::RunFinished(s) => {
                self.record(s);
                self.keep_run();
                if s.coverage.is_some() {
                    self.keep_live_lcov();
                }
                Some(s.run)
            }
            _ => None,
        };
        rest.push(Outward::Emit(report));
        if let Some(run) = finished {
            self.say_not_kept(run, rest);
        }
    }

    /// What could not be kept, said once all of a moment's keeps have ended
    /// (a full disk fails the history record and the kept run together:
    /// one warning names them all). A keep that ends wakes the loop
    /// (`Msg::Kept`), which comes back here.
    pub(super) fn say_not_kept(&mut self, run: RunId, rest: &mut Vec<Outward>) {
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
}

/// A value as one JSON line, with its `event` name first.
pub(super) fn tagged<T: serde::Serialize>(event: &str, value: &T) -> String {
    tagged_with_id(event, None, value)
}

/// As `tagged`, with the client's `id` for the command it answers.
pub(super) fn tagged_with_id<T: serde::Serialize>(event: &str, id: Option<u64>, value: &T) -> String {
    #[derive(serde::Serialize)]
    struct Tagged<'a, T> {
        event: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        #[serde(flatten)]
        value: &'a T,
    }
    serde_json::to_string(&Tagged { event, id, value }).unwrap_or_else(|e| {
        serde_json::json!({"event": "warning", "message": format!("{event} could not be written: {e}")}).to_string()
    })
}
