//! The only place the model changes: `update(&mut Model, Msg) -> Vec<Effect>`.

use std::time::Duration;

use super::catalog::Workspace;
use super::effect::Effect;
use super::finish;
use super::gating;
use super::history::RunPoint;
use super::model::OnChange;
use super::model::{AwaitingReload, Model};
use super::msg::{BuildDiagnostic, ListedSuite, Msg, TestEvent, TestEventKind, ToolExit};
use super::report::{secs, Gate, Report, RunSummary, Selected, TestReason, TestTransition};
use super::rules::SelectionMode;
use super::run::{DocLane, EarlyMsg, Outcome, Phase, Run, Selection, ServiceWait, Trigger};
use super::select::{self, Plan};
use super::select_tests::{self, narrow, Narrowed, Texts};
use super::syntax::DocEdit;
use super::test_state::TestState;
use super::testmap::{TestId, TestKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod client;
mod doc;
mod end;
mod events;
mod flaky;
mod idle;
mod listing;
mod plan;
mod reload;
mod request;
use client::*;
use doc::*;
use end::*;
use events::*;
use flaky::*;
use idle::*;
use listing::*;
use plan::*;
use reload::*;
use request::*;

pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    if let Some(at) = msg.at() {
        model.now = model.now.max(at);
    }
    match msg {
        Msg::RunRequested { trigger, selection, at } => {
            request_run(model, trigger, selection, at, &mut fx);
        }
        Msg::Build { run, diagnostic } => on_build(model, run, diagnostic, &mut fx),
        Msg::Listed { run, suites, at } => {
            on_listed(model, run, &suites, at, &mut fx);
        }
        Msg::ListFailed { run, exit, stderr, at } => {
            on_list_failed(model, run, exit, stderr, at, &mut fx);
        }
        Msg::Test { run, event, at } => {
            on_test(model, run, event, at, &mut fx);
        }
        Msg::Unparsed { run, line } => on_unparsed(model, run, line, &mut fx),
        Msg::RunExited { run, exit, stderr, at } => {
            on_run_exited(model, run, exit, stderr, at, &mut fx);
        }
        Msg::Cancel { at } => {
            model.queued = None;
            stop_run(model, at, &mut fx);
        }
        Msg::Tick { .. } => {}
        Msg::Probed {
            service,
            token,
            probe,
            at,
        } => {
            gating::on_probed(model, &service, token, probe, at, &mut fx);
            rerun_unblocked(model, at, &mut fx);
        }
        Msg::ServiceCall(call) => gating::on_call(model, *call, &mut fx),
        Msg::ProxyFailed { service, error } => fx.push(Effect::emit(Report::Warning {
            run: model.runs.last().map_or(crate::core::ids::RunId(0), |r| r.number),
            message: format!("the proxy of service `{service}` {error}"),
        })),
        Msg::StartFailed { service, error, at } => {
            gating::on_start_failed(model, &service, error, at, &mut fx);
        }
        Msg::HistoryLoaded { history, coverage } => on_history_loaded(model, *history, coverage, &mut fx),
        Msg::InputsIndexed { inputs } => {
            model.inputs = *inputs;
            fx.push(Effect::Rewatch { workspace: false });
        }
        Msg::Built {
            run,
            binaries,
            success,
            at,
        } => {
            on_built(model, run, &binaries, success, at, &mut fx);
        }
        Msg::Hygiene { warnings } => model.hygiene = warnings,
        Msg::TestSources { records } => model.sources = records.into_iter().collect(),
        Msg::SourceLoaded { path, text } => match text {
            Some(text) => {
                let first = model
                    .coverage
                    .as_ref()
                    .and_then(|c| c.file(&path))
                    .and_then(|f| f.uncovered_ranges().first().map(|r| r[0]))
                    .unwrap_or(1);
                let line = model.ui.source_goto.take().unwrap_or(first as usize);
                model.ui.source_scroll = line.saturating_sub(4);
                model.ui.source_line = line;
                model.ui.source = Some((path, text));
            }
            None => model.ui.note = Some(format!("could not read {path}")),
        },
        Msg::CoverageCollected {
            run,
            result,
            maps,
            map_note,
            patch,
            leaks,
            at,
        } => on_coverage_collected(
            model,
            run,
            Collected {
                result,
                maps,
                map_note,
                patch,
                leaks,
            },
            at,
            &mut fx,
        ),
        Msg::Fingerprint { run, fingerprint } => {
            if let Some(r) = model.run_mut(run) {
                r.fingerprint = fingerprint;
            }
        }
        Msg::TextsRead { texts } => on_texts_read(model, *texts, &mut fx),
        Msg::SnapshotsAccepted {
            accepted,
            errors,
            rerun,
            at,
        } => {
            model.ui.note = Some(match errors.first() {
                Some(e) => format!("{accepted} snapshot(s) accepted; {e}"),
                None => format!("{accepted} snapshot(s) accepted; rerunning"),
            });
            if accepted > 0 {
                request_run(model, Trigger::Key, rerun, at, &mut fx);
            }
        }
        Msg::Doctests { run, suite, events, at } => {
            on_doctests(model, run, suite, events, at, &mut fx);
        }
        Msg::DoctestsDone { run, error, at } => {
            on_doctests_done(model, run, error, at, &mut fx);
        }
        Msg::SweepDue { token, at } => {
            let idle = model.settled();
            if token == model.sweep.token && idle && !model.sweep.pending.is_empty() {
                start_sweep(model, at, &mut fx);
            }
        }
        Msg::FilesChanged { paths, at } => {
            // A manifest that changed again is read again before it is placed.
            for p in paths.iter().filter(|p| is_manifest(&model.workspace, p)) {
                model.manifests_stale.insert(p.clone());
            }
            model.ui.last_change = paths.iter().map(|p| relative(&model.workspace, p)).collect();
            request_run(model, Trigger::Watch, Selection::Changed { files: paths }, at, &mut fx);
        }
        Msg::Reloaded {
            workspace,
            rules,
            error,
            requested,
        } => on_reloaded(model, workspace, rules, error, requested, &mut fx),
        Msg::Key { key, at } => {
            let outcome = super::keys::on_key(model, key, at);
            fx = outcome.effects;
            if let Some(next) = outcome.follow_up {
                fx.extend(update(model, next));
            }
        }
        Msg::Scroll { delta } => super::keys::move_by(model, delta),
        Msg::Resize { tree_rows } => model.ui.viewport = tree_rows,
        Msg::Note { text } => model.ui.note = Some(text),
        Msg::Checked { result } => {
            let what = model.check.as_ref().map(|c| c.what.clone()).unwrap_or_default();
            model.ui.note = Some(match &result {
                Ok(s) if s.clean => format!("check of {what}: no finding in {} tests", s.tests.len()),
                Ok(s) => format!(
                    "check of {what}: {} finding{} (in the test's detail)",
                    s.findings.len(),
                    if s.findings.len() == 1 { "" } else { "s" }
                ),
                Err(e) => format!("check of {what} failed: {e}"),
            });
            if let Ok(s) = &result {
                // As the history keeps them: a test checked again loses
                // its earlier findings.
                let checked: std::collections::HashSet<(&str, &str)> = s
                    .tests
                    .iter()
                    .map(|t| (t.binary_id.as_str(), t.name.as_str()))
                    .collect();
                model
                    .history
                    .findings
                    .retain(|f| !checked.contains(&(f.binary_id.as_str(), f.name.as_str())));
                model.history.findings.extend(s.findings.iter().cloned());
                fx.push(Effect::emit(Report::CheckFinished(s.clone())));
            }
            model.check = Some(crate::core::model::CheckRun {
                what,
                result: Some(result),
            });
        }
        Msg::Client {
            to,
            command,
            subscribe,
            at,
        } => on_client(model, to, command, subscribe, at, &mut fx),
        // The engine's own: what it could not keep.
        Msg::Kept => {}
        Msg::Resources { sample, tests } => {
            for (binary_id, name, rss) in tests {
                if let Some(si) = model.catalog.suite_index(&binary_id) {
                    let suite = &mut model.catalog.suites[si];
                    if let Some(ti) = suite.test_index(&name) {
                        let t = &mut suite.tests[ti];
                        t.peak_memory = t.peak_memory.max(Some(rss));
                    }
                }
            }
            model.ui.resources = Some(sample);
        }
    }
    fx
}

/// A path as the user knows it: relative to the workspace root.
pub fn relative(ws: &Workspace, path: &Path) -> String {
    ws.relative(path)
}
