//! What the effects start off the loop (coverage, the tree's survey, the
//! inputs, the graph, a reload), what a run keeps (the history record, the
//! kept run), and the engine's end.

use super::*;
use crate::core::ids::RunId;

impl Engine {
    /// Work for the front end off the loop (the resource sample), the
    /// engine's one way: named, at a priority, joined at exit.
    pub(crate) fn offload(&mut self, name: &str, priority: Priority, work: impl FnOnce() + Send + 'static) {
        self.offload.spawn(name, priority, work);
    }

    /// Merges and reads the run's coverage off the loop.
    pub(super) fn collect_coverage(
        &mut self,
        run: RunId,
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
            // The run has ended: what its tests left running is stopped.
            let leaks = crate::adapters::check::collect_leaks(&rig.run_dir(run));
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
                leaks,
                at: clock.now(),
            });
        });
    }

    /// Keeps the run that just ended as JSON lines (`last-run.jsonl`).
    /// Written off the loop, whole (a temporary file, then a rename), and
    /// joined before vigil exits.
    pub(super) fn keep_run(&mut self) {
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
    pub(super) fn record(&mut self, s: &RunSummary) {
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
    pub(super) fn survey(&mut self, run: RunId, hygiene: bool) {
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
            let records = crate::adapters::sources::test_records(&ws);
            let _ = tx.send(Msg::TestSources { records });
        });
    }

    /// Reads what the compilations read again, off the loop.
    pub(super) fn index_inputs(&mut self) {
        let ws = self.model.workspace.clone();
        let tx = self.tx.clone();
        self.offload.spawn("inputs", Priority::Low, move || {
            let inputs = Box::new(crate::adapters::inputs::index(&ws));
            let _ = tx.send(Msg::InputsIndexed { inputs });
        });
    }

    /// Reads cargo's resolved graph, off the loop (the config stays).
    pub(super) fn resolve_graph(&mut self) {
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
    pub(super) fn reload(&mut self) {
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

    /// Writes the latest coverage as LCOV to `coverage.live_lcov`, off
    /// the loop, so editors' coverage gutters follow every run.
    pub(super) fn keep_live_lcov(&mut self) {
        let (Some(path), Some(cov)) = (self.live_lcov.clone(), self.model.coverage.as_ref()) else {
            return;
        };
        if self.io != Io::Real {
            return;
        }
        let text = crate::adapters::lcov::write(cov, &self.model.workspace.root);
        self.offload.keep("the live LCOV file", path, text.into_bytes());
    }

    /// `vigil check FILTER` as a process of its own (it becomes the
    /// subreaper of what it starts, which the engine must not), its JSON
    /// read back as `Msg::Checked`.
    pub(super) fn check(&mut self, filter: String) {
        let tx = self.tx.clone();
        let Some(exe) = crate::adapters::process::own_exe() else {
            let _ = tx.send(Msg::Checked {
                result: Err("checks run through the vigil binary, which is not known here".into()),
            });
            return;
        };
        let mut cmd = crate::adapters::process::guarded(exe);
        cmd.args(["check", "--format", "json", "-C"])
            .arg(&self.model.workspace.root)
            .arg(&filter)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        tracing::info!("check: {filter}");
        self.check_job = Some(tokio::spawn(async move {
            let result = match cmd.output().await {
                Err(e) => Err(format!("vigil check could not start: {e}")),
                Ok(out) => String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .find(|v| v["event"] == "check_finished")
                    .and_then(|v| serde_json::from_value::<crate::core::check::CheckSummary>(v).ok())
                    .map(Box::new)
                    .ok_or_else(|| {
                        let err = String::from_utf8_lossy(&out.stderr);
                        err.lines().last().unwrap_or("it ended without a result").to_owned()
                    }),
            };
            let _ = tx.send(Msg::Checked { result });
        }));
    }

    /// Stops whatever runs; returns when its processes are gone.
    pub async fn shutdown(&mut self, force: bool) {
        if let Some(job) = self.check_job.take() {
            job.abort();
            let _ = job.await;
        }
        if let Some(mut server) = self.server.take() {
            server.shutdown();
        }
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
