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
use super::run::{DocLane, EarlyMsg, Outcome, Phase, Run, Selection, Trigger};
use super::select::{self, Plan};
use super::select_tests::{self, narrow, Narrowed, Texts};
use super::syntax::DocEdit;
use super::test_state::TestState;
use super::testmap::TestKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::RunRequested { trigger, selection, at } => {
            model.now = model.now.max(at);
            request_run(model, trigger, selection, at, &mut fx);
        }
        Msg::Build { run, diagnostic } => on_build(model, run, diagnostic, &mut fx),
        Msg::Listed { run, suites, at } => {
            model.now = model.now.max(at);
            on_listed(model, run, &suites, at, &mut fx);
        }
        Msg::ListFailed { run, exit, stderr, at } => {
            model.now = model.now.max(at);
            on_list_failed(model, run, exit, stderr, at, &mut fx);
        }
        Msg::Test { run, event, at } => {
            model.now = model.now.max(at);
            on_test(model, run, event, at, &mut fx);
        }
        Msg::Unparsed { run, line } => on_unparsed(model, run, line, &mut fx),
        Msg::RunExited { run, exit, stderr, at } => {
            model.now = model.now.max(at);
            on_run_exited(model, run, exit, stderr, at, &mut fx);
        }
        Msg::Cancel { at } => {
            model.now = model.now.max(at);
            model.queued = None;
            stop_run(model, at, &mut fx);
        }
        Msg::Tick { now } => model.now = model.now.max(now),
        Msg::Probed {
            service,
            token,
            probe,
            at,
        } => {
            model.now = model.now.max(at);
            gating::on_probed(model, &service, token, probe, at, &mut fx);
            rerun_unblocked(model, at, &mut fx);
        }
        Msg::StartFailed { service, error, at } => {
            model.now = model.now.max(at);
            gating::on_start_failed(model, &service, error, at, &mut fx);
        }
        Msg::HistoryLoaded { history, coverage } => {
            model.history = *history;
            model.history_pending = false;
            // Maps measured this session are newer than the kept ones.
            for (key, map) in std::mem::take(&mut model.history.maps) {
                model.test_maps.tests.entry(key).or_insert(map);
            }
            if model.coverage.is_none() {
                if let Some((run, c)) = coverage {
                    model.coverage = Some(*c);
                    model.kept_coverage_run = Some(run);
                }
            }
            let held = model.runs.last_mut().and_then(|r| r.held.take().map(|h| (r.number, h)));
            if let Some((run, (outcome, at))) = held {
                finish_run(model, run, outcome, at, &mut fx);
            }
        }
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
            model.now = model.now.max(at);
            on_built(model, run, &binaries, success, at, &mut fx);
        }
        Msg::Hygiene { warnings } => model.hygiene = warnings,
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
            at,
        } => {
            model.now = model.now.max(at);
            let Some(r) = model.run_mut(run) else { return fx };
            let Some(outcome) = r.collecting.take() else { return fx };
            if let Some(note) = map_note {
                r.warnings.push(note);
            }
            let changes = match patch {
                Some(Err(e)) => {
                    r.warnings.push(format!("patch coverage not measured: {e}"));
                    None
                }
                Some(Ok(changes)) => Some(changes),
                None => None,
            };
            r.measured = maps.iter().map(|(k, _)| k.clone()).collect();
            if let Err(e) = &result {
                r.warnings.push(format!("coverage not collected: {e}"));
            }
            model.patch = changes;
            model.test_maps.merge(maps);
            if let Ok(cov) = result {
                model.coverage_prev = model.coverage.take();
                model.coverage = Some(*cov);
                model.coverage_run = Some(run);
            }
            finish_run(model, run, outcome, at, &mut fx);
        }
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
            model.now = model.now.max(at);
            model.ui.note = Some(match errors.first() {
                Some(e) => format!("{accepted} snapshot(s) accepted; {e}"),
                None => format!("{accepted} snapshot(s) accepted; rerunning"),
            });
            if accepted > 0 {
                request_run(model, Trigger::Key, rerun, at, &mut fx);
            }
        }
        Msg::Doctests { run, suite, events, at } => {
            model.now = model.now.max(at);
            on_doctests(model, run, suite, events, at, &mut fx);
        }
        Msg::DoctestsDone { run, error, at } => {
            model.now = model.now.max(at);
            on_doctests_done(model, run, error, at, &mut fx);
        }
        Msg::SweepDue { token, at } => {
            model.now = model.now.max(at);
            let idle = model.settled();
            if token == model.sweep.token && idle && !model.sweep.pending.is_empty() {
                start_sweep(model, at, &mut fx);
            }
        }
        Msg::FilesChanged { paths, at } => {
            model.now = model.now.max(at);
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
        } => {
            // The change set that asked for this reload, placed once the
            // workspace is read again.
            let held = if requested { model.awaiting_reload.take() } else { None };
            if let Some(ws) = workspace {
                if let Some(h) = &held {
                    let before = Workspace {
                        manifests: h.baseline.clone(),
                        ..model.workspace.clone()
                    };
                    for f in h.files.iter().filter(|f| is_manifest(&before, f)) {
                        let verdict = super::manifest::judge(f, &before, &ws);
                        let joined = match model.manifest_verdicts.remove(f) {
                            Some(earlier) => earlier.then(verdict),
                            None => verdict,
                        };
                        model.manifest_verdicts.insert(f.clone(), joined);
                    }
                }
                model.workspace = *ws;
                fx.push(Effect::Rewatch { workspace: true });
                fx.push(Effect::IndexInputs);
            }
            if let Some(rules) = rules {
                // Services keep what is known of them across a reload;
                // new entries start unknown, removed ones are forgotten
                // (what vigil started of them is still stopped on exit).
                let mut kept = std::mem::take(&mut model.services);
                model.services = rules
                    .services
                    .iter()
                    .map(|spec| match kept.iter().position(|s| s.spec.name == spec.name) {
                        Some(i) => {
                            let mut s = kept.swap_remove(i);
                            s.spec = spec.clone();
                            s
                        }
                        None => super::services::Service::new(spec.clone()),
                    })
                    .collect();
                model.rules = rules;
                if model.watching {
                    // A service never probed starts its own chain of probes.
                    for i in 0..model.services.len() {
                        if model.services[i].token == 0 {
                            gating::probe(model, i, Duration::ZERO, &mut fx);
                        }
                    }
                }
            }
            if let Some(e) = error {
                // Whatever failed to load, nothing more is on its way.
                model.workspace.graph_pending = false;
                model.ui.note = Some(e);
            }
            if let Some(h) = held {
                // Without verdicts (the reload failed), manifests run everything.
                request_run(model, h.trigger, Selection::Changed { files: h.files }, h.at, &mut fx);
            }
        }
        Msg::Key { key, at } => {
            model.now = model.now.max(at);
            let outcome = super::keys::on_key(model, key, at);
            fx = outcome.effects;
            if let Some(next) = outcome.follow_up {
                fx.extend(update(model, next));
            }
        }
        Msg::Scroll { delta } => super::keys::move_by(model, delta),
        Msg::Resize { tree_rows } => model.ui.viewport = tree_rows,
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

/// Whether change sets are placed against the coverage maps first.
fn narrows(model: &Model) -> bool {
    model.rules.selection == SelectionMode::Tests && model.coverage_on && !model.test_maps.is_empty()
}

/// The texts a waiting change set needs: the changed files now, and the
/// versions the maps of its Rust files were measured on.
fn read_texts(model: &Model, fx: &mut Vec<Effect>) {
    let Some((_, files, _)) = &model.awaiting_texts else {
        return;
    };
    let mut versions: Vec<String> = files
        .iter()
        .map(|f| relative(&model.workspace, f))
        .flat_map(|p| {
            model
                .test_maps
                .tests
                .values()
                .filter_map(move |m| m.files.get(&p).map(|f| f.hash.clone()))
        })
        .collect();
    versions.sort();
    versions.dedup();
    fx.push(Effect::ReadTexts {
        files: files.clone(),
        versions,
    });
}

/// Reruns what services that came back had blocked (watching, idle).
fn rerun_unblocked(model: &mut Model, at: Duration, fx: &mut Vec<Effect>) {
    if let Some(selection) = gating::unblocked(model) {
        request_run(model, Trigger::Service, selection, at, fx);
    }
}

/// A manifest of the workspace (the root's, a local package's) or its
/// lock file, whose text was read with the workspace.
fn is_manifest(ws: &Workspace, path: &std::path::Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    (name == "Cargo.toml" || name == "Cargo.lock") && ws.manifests.contains_key(path)
}

fn request_run(model: &mut Model, trigger: Trigger, selection: Selection, at: Duration, fx: &mut Vec<Effect>) {
    // Any request means the workspace is not idle: a sweep timer set
    // before it comes back to nothing.
    model.sweep.token += 1;
    if let Selection::Changed { files } = &selection {
        // Manifests are placed by what changed in them: the workspace is
        // read again first, and the change set waits for it (a change set
        // that comes meanwhile joins it).
        let unread = files.iter().any(|f| {
            is_manifest(&model.workspace, f)
                && (model.manifests_stale.contains(f) || !model.manifest_verdicts.contains_key(f))
        });
        if let Some(held) = &mut model.awaiting_reload {
            merge_paths(&mut held.files, files);
            return;
        }
        if unread {
            for f in files {
                model.manifests_stale.remove(f);
            }
            model.awaiting_reload = Some(AwaitingReload {
                trigger,
                files: files.clone(),
                at,
                baseline: model.workspace.manifests.clone(),
            });
            fx.push(Effect::Reload);
            return;
        }
        if narrows(model) {
            // Placed against the maps once the texts are read (a few ms).
            match &mut model.awaiting_texts {
                Some((_, waiting, _)) => merge_paths(waiting, files),
                None => model.awaiting_texts = Some((trigger, files.clone(), at)),
            }
            read_texts(model, fx);
            return;
        }
    }
    start_request(model, trigger, selection, at, None, fx);
}

fn on_texts_read(model: &mut Model, texts: Texts, fx: &mut Vec<Effect>) {
    let Some((trigger, files, at)) = model.awaiting_texts.take() else {
        return;
    };
    let complete = files
        .iter()
        .all(|f| texts.current.contains_key(&relative(&model.workspace, f)));
    if !complete {
        // More changes came while these were read: read them all.
        model.awaiting_texts = Some((trigger, files, at));
        read_texts(model, fx);
        return;
    }
    start_request(model, trigger, Selection::Changed { files }, at, Some(&texts), fx);
}

/// What the tests read at run time, for planning.
fn runtime(model: &Model) -> select::Evidence<'_> {
    let ran = model
        .history
        .tests
        .iter()
        .filter(|(_, h)| h.last.is_some())
        .map(|(k, _)| k);
    select::Evidence::new(&model.catalog, &model.test_maps, ran).with_manifests(&model.manifest_verdicts)
}

/// Files of a package that no test read (as recorded) and no build reads
/// select nothing; the idle sweep still runs the tests their package would
/// have run, to measure that this was safe.
fn owe_sweep(model: &mut Model, dropped: &[PathBuf]) {
    let in_package: Vec<PathBuf> = dropped
        .iter()
        .filter(|f| model.workspace.owning_package(f).is_some())
        .cloned()
        .collect();
    if in_package.is_empty() || !model.coverage_on {
        return;
    }
    let structural = select::plan(
        &model.workspace,
        &model.catalog,
        &model.inputs,
        &select::Evidence::none(),
        &in_package,
    );
    let Plan::Some(t) = structural else { return };
    let owed: Vec<TestKey> = model
        .catalog
        .suites
        .iter()
        .filter(|s| t.holds(&s.binary_id))
        .flat_map(|s| {
            s.tests
                .iter()
                .filter(|t| !t.ignored)
                .map(move |t| (s.binary_id.to_string(), t.name.clone()))
        })
        .collect();
    let paths: Vec<String> = in_package.iter().map(|f| relative(&model.workspace, f)).collect();
    model.sweep.cleared(&owed, &paths);
}

fn start_request(
    model: &mut Model,
    trigger: Trigger,
    selection: Selection,
    at: Duration,
    texts: Option<&Texts>,
    fx: &mut Vec<Effect>,
) {
    let mut selection = selection;
    // A change set is planned before anything else: the part of it that
    // selects nothing is reported and stops nothing.
    let mut plan = None;
    if let Selection::Changed { files } = &mut selection {
        let p = select::plan(&model.workspace, &model.catalog, &model.inputs, &runtime(model), files);
        let ignored = p.ignored().to_vec();
        if !ignored.is_empty() {
            let traced = model.test_maps.tests.values().any(|m| m.reads.is_some());
            let who = if traced {
                "no build or test reads it"
            } else {
                "no build reads it"
            };
            model.ui.note = Some(format!("change ignored ({who}): {}", ignored.join(", ")));
            fx.push(Effect::emit(Report::ChangeIgnored {
                changed: ignored.clone(),
                why: who.to_owned(),
            }));
            let (dropped, kept): (Vec<PathBuf>, Vec<PathBuf>) = std::mem::take(files)
                .into_iter()
                .partition(|f| ignored.contains(&relative(&model.workspace, f)));
            *files = kept;
            for f in &dropped {
                model.manifest_verdicts.remove(f);
            }
            owe_sweep(model, &dropped);
        }
        if files.is_empty() {
            return;
        }
        // What it can affect is stale from now until it reruns: queued
        // behind the run in flight, building, or a doctest still waiting.
        mark_stale(model, &p);
        plan = Some(p);
    }
    if let Some(active) = model.runs.last_mut().filter(|r| r.is_active()) {
        // One run at a time. A change set waits for the run (`queue`) or
        // stops it (`restart`) and is merged with what is already waiting —
        // and, on restart, with the stopped run's own changes, which were
        // never fully tested. Any other request stops the run.
        let restart = match &mut selection {
            Selection::Changed { files } => {
                if let Some((_, Selection::Changed { files: waiting })) = &model.queued {
                    merge_paths(files, waiting);
                }
                let restart = model.rules.on_change == OnChange::Restart || active.trigger == Trigger::Sweep;
                if restart && !active.changed.is_empty() {
                    merge_paths(files, &active.changed);
                    // Its manifests' changes were never fully run either.
                    for (path, verdict) in std::mem::take(&mut active.verdicts) {
                        let joined = match model.manifest_verdicts.remove(&path) {
                            Some(later) => verdict.then(later),
                            None => verdict,
                        };
                        model.manifest_verdicts.insert(path, joined);
                    }
                }
                restart
            }
            Selection::All | Selection::Filter { .. } => true,
        };
        model.queued = Some((trigger, selection));
        if restart {
            stop_run(model, at, fx);
        }
        return;
    }
    let mut changed = Vec::new();
    let mut binary_reasons = Default::default();
    let mut package_reasons = Default::default();
    let mut reasons = None;
    let mut test_reasons = BTreeMap::new();
    let mut static_tests = None;
    // Only comments and doc comments changed: the doc lane runs the
    // doctests of the documented items (packages, name filters), if any.
    let mut doc_narrowed: Option<(Vec<String>, Vec<String>)> = None;
    // Doctests the maps cleared, and doc comments changed beside code.
    let mut doc_by_maps: Option<(Vec<TestKey>, DocEdits)> = None;
    let selection = match (selection, plan) {
        (Selection::Changed { files }, Some(plan)) => match plan {
            // Every path was ignored: returned above.
            Plan::Nothing { .. } => return,
            Plan::Everything { reload, reasons: why } => {
                if reload {
                    fx.push(Effect::Reload);
                }
                changed = files;
                reasons = Some(why);
                Selection::All
            }
            Plan::Some(t) => {
                let mut t = t;
                // Each file on its own: the maps answer for the ones they
                // can; the others run their own static tier, whole.
                // Files only run-time reads reach run the tests that read them.
                let reads = runtime(model);
                let mut by_reads: Vec<(usize, String, Vec<TestKey>)> = Vec::new();
                let unplaced: Vec<(usize, String)> = match texts {
                    // No map at all: the narrowing says so once.
                    _ if model.test_maps.is_empty() => Vec::new(),
                    None => Vec::new(),
                    Some(texts) => files
                        .iter()
                        .enumerate()
                        .filter_map(|(i, f)| {
                            let rel = relative(&model.workspace, f);
                            let read = select::run_time_only(&model.workspace, &model.inputs, &reads, f);
                            if let Some(readers) = read {
                                by_reads.push((i, rel, readers));
                                return None;
                            }
                            if model.manifest_verdicts.contains_key(f) {
                                // Placed by what changed in it: its binaries, whole.
                                return Some((i, format!("`{rel}` changed what its binaries are built from")));
                            }
                            let why = match model.workspace.compile_time_code(f) {
                                Some(why) => Some(format!("`{rel}`: {why}")),
                                None => select_tests::unplaced(&rel, &model.test_maps, texts, &model.catalog),
                            };
                            why.map(|w| (i, w))
                        })
                        .collect(),
                };
                // The static tier of the files the maps cannot answer for.
                let whole_tier = (!unplaced.is_empty() && unplaced.len() < files.len())
                    .then(|| {
                        let paths: Vec<std::path::PathBuf> = unplaced.iter().map(|(i, _)| files[*i].clone()).collect();
                        match select::plan(&model.workspace, &model.catalog, &model.inputs, &runtime(model), &paths) {
                            Plan::Some(ts) => Some(ts),
                            // Everything would have been planned above; nothing: no binary.
                            Plan::Nothing { .. } | Plan::Everything { .. } => None,
                        }
                    })
                    .flatten();
                if let (Some(texts), true) = (texts, unplaced.len() < files.len() || files.is_empty()) {
                    let whys: Vec<&str> = unplaced.iter().map(|(_, w)| w.as_str()).collect();
                    let whole_why = format!("every test of its binary runs: {}", whys.join("; "));
                    let whole = |binary: &str| {
                        whole_tier
                            .as_ref()
                            .filter(|ts| ts.holds(binary))
                            .map(|_| whole_why.clone())
                    };
                    for why in &whys {
                        t.reasons
                            .push(format!("placed on its own, its binaries run whole: {why}"));
                    }
                    let rel: Vec<String> = files
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !unplaced.iter().any(|(u, _)| u == i))
                        .filter(|(i, _)| !by_reads.iter().any(|(r, _, _)| r == i))
                        .map(|(_, f)| relative(&model.workspace, f))
                        .collect();
                    let read: Vec<(String, Vec<TestKey>)> =
                        by_reads.iter().map(|(_, p, r)| (p.clone(), r.clone())).collect();
                    match narrow(&t, &model.catalog, &model.test_maps, &rel, texts, &whole, &read) {
                        Narrowed::Static(why) => t.reasons.push(format!("every test of these binaries runs: {why}")),
                        Narrowed::Tests {
                            filterset,
                            reasons,
                            static_tests: all,
                            skipped,
                            doc_cleared,
                            notes,
                            docs,
                            code_changed,
                        } => {
                            t.reasons.extend(notes);
                            let cleared = skipped.len() + doc_cleared.len();
                            // What the maps clear is not affected: its result stands.
                            for key in skipped.iter().chain(&doc_cleared) {
                                if let Some(test) = model.catalog.test_mut(&key.0, &key.1) {
                                    test.stale = false;
                                }
                            }
                            if !code_changed {
                                doc_narrowed = Some(doc_filters(&model.workspace, &docs));
                            } else if !doc_cleared.is_empty() {
                                doc_by_maps = Some((doc_cleared, docs));
                            }
                            t.reasons.push(format!(
                                "test-level selection: {} of the {all} tests these binaries hold reach the change \
                                 (coverage maps clear {cleared})",
                                all - cleared,
                            ));
                            t.filterset = filterset;
                            test_reasons = reasons;
                            static_tests = Some(all);
                            let mut placed = rel.clone();
                            placed.extend(read.iter().map(|(p, _)| p.clone()));
                            model.sweep.cleared(&skipped, &placed);
                        }
                    }
                } else if let Some((_, why)) = unplaced.first() {
                    // No file the maps can answer for: the static tier.
                    t.reasons.push(format!("every test of these binaries runs: {why}"));
                }
                changed = files;
                binary_reasons = t.binaries;
                package_reasons = t.packages;
                Selection::Filter {
                    expr: t.filterset,
                    reasons: t.reasons,
                }
            }
        },
        (other, _) => other,
    };
    let number = model.next_run_number();
    let filterset = selection.filterset();
    let (doc_packages, doc_filters) = match (doc_narrowed, doc_by_maps) {
        (Some((packages, filters)), _) if model.rules.doc_lane => (packages, filters),
        (Some(_), _) => (Vec::new(), Vec::new()),
        (None, by_maps) => {
            let packages = doc_packages(model, trigger, &selection, &binary_reasons, &package_reasons);
            match by_maps {
                Some((cleared, docs)) => doctests_by_maps(model, packages, &cleared, &docs),
                None => (packages, Vec::new()),
            }
        }
    };
    if trigger == Trigger::Key {
        model.doc_rerun.clear();
    }
    let mut run = Run::new(number, trigger, selection, at);
    // The run takes its manifests' verdicts.
    run.verdicts = changed
        .iter()
        .filter_map(|f| model.manifest_verdicts.remove_entry(f))
        .collect();
    run.doc_packages = doc_packages;
    run.doc_filters = doc_filters;
    run.changed = changed;
    run.binary_reasons = binary_reasons;
    run.package_reasons = package_reasons;
    run.test_reasons = test_reasons;
    run.static_tests = static_tests;
    if let Some(r) = reasons {
        run.reasons = r;
    }
    model.runs.push(run);
    // Sessions are long: keep a bounded history of runs in memory.
    if model.runs.len() > 64 {
        model.runs.remove(0);
    }
    // The list (for pending) and the run go side by side: the run's first
    // results wait in `early` until the list has named every test. A full
    // run with a listing kept from before starts alone; its build says
    // whether that listing still holds.
    fx.push(Effect::Survey {
        run: number,
        hygiene: model.rules.hygiene.enabled(),
    });
    let cached = filterset.is_none() && model.list_cache.is_some() && !model.shard;
    if let Some(r) = model.runs.last_mut() {
        r.provisional = cached;
    }
    if !cached {
        fx.push(Effect::List {
            run: number,
            filterset: filterset.clone(),
        });
    }
    gating::hold_run(model, number, filterset, fx);
}

/// The packages whose doctests the run runs: every package with a lib on
/// a full run (also `a`); on a change set, the packages the graph selects
/// and those whose lib's tests were selected; the package of a doctest
/// rerun with `r`; none for another filter, the sweep or a service's
/// return, nor in a shard other than the first (they run once per run).
fn doc_packages(
    model: &Model,
    trigger: Trigger,
    selection: &Selection,
    binary_reasons: &BTreeMap<String, String>,
    package_reasons: &BTreeMap<String, String>,
) -> Vec<String> {
    let other_shard = model.shard && !model.shard_docs;
    if !model.rules.doc_lane || other_shard || matches!(trigger, Trigger::Sweep | Trigger::Service) {
        return Vec::new();
    }
    if trigger == Trigger::Key && !model.doc_rerun.is_empty() {
        return model.doc_rerun.clone();
    }
    let with_lib = |name: &str| {
        model
            .workspace
            .packages
            .iter()
            .any(|p| p.name == name && p.has_target("lib"))
    };
    let mut out: Vec<String> = match selection {
        Selection::All => model.workspace.packages.iter().map(|p| p.name.clone()).collect(),
        Selection::Filter { .. } if !binary_reasons.is_empty() || !package_reasons.is_empty() => {
            // A package's doctests depend on its lib: the packages the
            // graph selects, and those whose lib's own tests were selected
            // (not a change to one integration test).
            let mut names: Vec<String> = package_reasons.keys().cloned().collect();
            for b in binary_reasons.keys() {
                if let Some(s) = model.catalog.suite(b).filter(|s| s.kind == "lib") {
                    names.push(s.package.clone());
                }
            }
            names
        }
        Selection::Filter { .. } | Selection::Changed { .. } => Vec::new(),
    };
    out.retain(|p| with_lib(p));
    out.sort();
    out.dedup();
    out
}

/// Marks stale every test with a result that `plan` says the change can
/// affect; each is cleared when the test is enrolled in a run again, or
/// when test-level selection clears it.
fn mark_stale(model: &mut Model, plan: &Plan) {
    let doc_lane = model.rules.doc_lane;
    for suite in &mut model.catalog.suites {
        if suite.suite_type == super::catalog::SuiteType::Doc && !doc_lane {
            continue;
        }
        let affected = match plan {
            Plan::Everything { .. } => true,
            Plan::Some(t) => t.holds(&suite.binary_id),
            Plan::Nothing { .. } => false,
        };
        if affected {
            for t in suite.tests.iter_mut().filter(|t| !t.ignored && t.run.is_some()) {
                t.stale = true;
            }
        }
    }
}

/// Doc comments changed: (path, the item they document).
type DocEdits = Vec<(String, DocEdit)>;

/// The doc lane narrowed by the doctests' maps: a package whose listed
/// doctests the maps all clear drops out; the others run the items of the
/// doctests that reach the change (rustdoc's names shift with the lines
/// above them, so an item's doctests are named, not each one), and the
/// items whose doc comments changed.
fn doctests_by_maps(
    model: &Model,
    packages: Vec<String>,
    cleared: &[(String, String)],
    docs: &[(String, DocEdit)],
) -> (Vec<String>, Vec<String>) {
    let (edited, mut filters) = doc_filters(&model.workspace, docs);
    // A package's doctests: as listed, and as the maps know them (a new
    // process has listed none yet).
    let known = |p: &str| -> Vec<String> {
        let id = format!("{p}::doc");
        let mut names: Vec<String> = model
            .catalog
            .suite(&id)
            .map(|s| s.tests.iter().filter(|t| !t.ignored).map(|t| t.name.clone()).collect())
            .unwrap_or_default();
        names.extend(model.test_maps.tests.keys().filter(|k| k.0 == id).map(|k| k.1.clone()));
        names.sort();
        names.dedup();
        names
    };
    let doctests: Vec<(String, Vec<String>)> = packages
        .into_iter()
        .map(|p| {
            let names = known(&p);
            (p, names)
        })
        .collect();
    if doctests.iter().any(|(_, names)| names.is_empty()) {
        // A package whose doctests were never listed: every doctest runs,
        // unfiltered.
        let mut all: Vec<String> = doctests.into_iter().map(|(p, _)| p).chain(edited).collect();
        all.sort();
        all.dedup();
        return (all, Vec::new());
    }
    let mut kept = Vec::new();
    let mut narrowed = false;
    // What must run: the doctests the maps do not clear, and whatever an
    // edited doc comment names (its examples' names hold the item).
    let mut wanted: Vec<String> = docs.iter().map(|(path, d)| format!("{path} - {}", d.item)).collect();
    let mut skipped = Vec::new();
    for (p, names) in doctests {
        let id = format!("{p}::doc");
        let mut any = false;
        for name in names {
            if cleared.iter().any(|(b, n)| *b == id && *n == name) {
                narrowed = true;
                skipped.push(doc_item(&name).to_owned());
                continue;
            }
            any = true;
            filters.push(doc_item(&name).to_owned());
            wanted.push(name);
        }
        if any || edited.contains(&p) {
            kept.push(p);
        }
    }
    if !narrowed {
        return (kept, Vec::new());
    }
    filters.sort();
    filters.dedup();
    // Filters match parts of names (an item's name is part of its
    // members'): the cleared ones are skipped by name where no wanted
    // doctest's name holds that name.
    skipped.sort();
    skipped.dedup();
    for s in skipped {
        if !wanted.iter().any(|w| w.contains(&s)) && !filters.contains(&s) {
            filters.push("--skip".to_owned());
            filters.push(s);
        }
    }
    (kept, filters)
}

/// A doctest's item (`Money::add` of `src/lib.rs - Money::add (line 12)`),
/// or its file for crate and module docs: a filter without spaces, which
/// rustdoc splits its test arguments at.
fn doc_item(name: &str) -> &str {
    let head = name.rsplit_once(" (line ").map_or(name, |(head, _)| head);
    head.split_once(" - ")
        .map_or(head, |(file, item)| if item.is_empty() { file } else { item })
}

/// The doc lane for changed doc comments: the packages that own the files,
/// and a name filter per documented item (rustdoc names an example
/// `src/lib.rs - Money::add (line 12)`; crate and module docs by the
/// file). Filters match parts of names, so they select a superset.
fn doc_filters(ws: &Workspace, docs: &[(String, DocEdit)]) -> (Vec<String>, Vec<String>) {
    let mut packages = Vec::new();
    let mut filters = Vec::new();
    for (path, doc) in docs {
        let abs = ws.root.join(path);
        let Some((p, true)) = ws.owning_package(&abs) else {
            continue;
        };
        if !p.has_target("lib") {
            continue;
        }
        packages.push(p.name.clone());
        // No spaces: rustdoc splits its test arguments at them.
        filters.push(if doc.item.is_empty() {
            abs.strip_prefix(&p.manifest_dir).unwrap_or(&abs).display().to_string()
        } else {
            doc.item.clone()
        });
    }
    packages.sort();
    packages.dedup();
    filters.sort();
    filters.dedup();
    (packages, filters)
}

/// Stops the run in flight, if any. One still waiting for its services
/// has no `nextest run` to stop: it ends here, cancelled.
fn stop_run(model: &mut Model, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.runs.last_mut().filter(|r| r.is_active() && !r.cancel_requested) else {
        return;
    };
    if r.deferred.take().is_none() {
        stop(r, fx);
        return;
    }
    r.cancel_requested = true;
    r.awaiting_services.clear();
    let run = r.number;
    if r.phase == Phase::Building {
        // Its list (if one runs) is stopped; it never said it started.
        emit_run_started(&model.workspace, r, fx);
        fx.push(Effect::Cancel { run });
    }
    finish_run(model, run, Outcome::Cancelled, at, fx);
}

/// Stops a run in flight. Once its build is done and only its list is still
/// to come, the list is let finish, so its tests are counted as cancelled
/// by name rather than lost.
fn stop(r: &mut Run, fx: &mut Vec<Effect>) {
    r.cancel_requested = true;
    if r.phase == Phase::Building && r.built && !r.provisional {
        fx.push(Effect::StopTests { run: r.number });
    } else {
        fx.push(Effect::Cancel { run: r.number });
    }
}

/// The run's build is done: its listing kept from before holds when every
/// test binary is the same and up to date; otherwise nextest lists.
fn on_built(model: &mut Model, run: u32, built: &[(PathBuf, bool)], success: bool, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    r.built = true;
    if r.phase != Phase::Building || !r.provisional {
        return;
    }
    r.provisional = false;
    if r.cancel_requested {
        // Stopped already: nothing will run; the listing says what would have.
        let cached = model.list_cache.clone().unwrap_or_default();
        apply_listing(model, run, &cached, at, fx);
        return;
    }
    let holds = success
        && built.iter().all(|(_, fresh)| *fresh)
        && model.list_cache.as_ref().is_some_and(|cached| {
            let mut was: Vec<&Path> = cached.iter().map(|s| s.binary_path.as_path()).collect();
            let mut now: Vec<&Path> = built.iter().map(|(p, _)| p.as_path()).collect();
            was.sort();
            was.dedup();
            now.sort();
            now.dedup();
            was == now
        });
    match model.list_cache.clone().filter(|_| holds) {
        Some(cached) => apply_listing(model, run, &cached, at, fx),
        None => fx.push(Effect::List { run, filterset: None }),
    }
}

/// Adds the paths of `more` that `into` lacks.
fn merge_paths(into: &mut Vec<PathBuf>, more: &[PathBuf]) {
    for p in more {
        if !into.contains(p) {
            into.push(p.clone());
        }
    }
}

/// A path as the user knows it: relative to the workspace root.
pub fn relative(ws: &Workspace, path: &Path) -> String {
    ws.relative(path)
}

fn on_build(model: &mut Model, run: u32, diagnostic: BuildDiagnostic, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    // cargo reports an error once per target it breaks (lib and lib test):
    // say it once.
    if diagnostic.level != "error" || r.build_errors.contains(&diagnostic) {
        return;
    }
    // While building, errors are held back until `run_started` has been said,
    // so the stream always opens with it.
    if r.phase == Phase::Running {
        fx.push(Effect::emit(Report::BuildError {
            run,
            message: diagnostic.rendered.clone(),
        }));
    }
    r.build_errors.push(diagnostic);
}

fn on_listed(model: &mut Model, run: u32, suites: &[ListedSuite], at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    if r.phase != Phase::Building {
        return;
    }
    if r.selection == Selection::All {
        model.list_cache = Some(suites.to_vec());
        fx.push(Effect::SaveList {
            suites: suites.to_vec(),
        });
    }
    apply_listing(model, run, suites, at, fx);
}

/// Takes a listing in: every test known, the selected ones pending, then
/// what the run already said.
fn apply_listing(model: &mut Model, run: u32, suites: &[ListedSuite], at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    // The build is done: what each compilation read may have changed.
    fx.push(Effect::IndexInputs);
    let complete = r.selection == Selection::All;
    let rules = model.rules.clone();
    model.catalog.merge_listing(suites, &rules.e2e_patterns, complete);
    let mut selected_binaries = Vec::new();
    let mut selected_tests = 0;
    for ls in suites {
        let Some(si) = model.catalog.suite_index(&ls.binary_id) else {
            continue;
        };
        let suite = &mut model.catalog.suites[si];
        let mut any = false;
        for lt in &ls.tests {
            let Some(ti) = suite.test_index(&lt.name) else { continue };
            let test = &mut suite.tests[ti];
            test.xfail = rules.xfail_rule(&suite.binary_id, &test.name).is_some();
            if lt.selected {
                test.enrol(run);
                any = true;
                selected_tests += 1;
            }
        }
        if any {
            selected_binaries.push(suite.binary_id.clone());
        }
    }
    let Some(r) = model.runs.last_mut().filter(|r| r.number == run) else {
        return;
    };
    // Binaries the catalog did not know when the run was planned get their
    // package's reason.
    for b in &selected_binaries {
        if r.binary_reasons.contains_key(&**b) {
            continue;
        }
        let package = model.catalog.suite(b).map(|s| s.package.as_str()).unwrap_or_default();
        if let Some(why) = r.package_reasons.get(package) {
            r.binary_reasons.insert(b.to_string(), why.clone());
        }
    }
    if r.static_tests.is_some() {
        // Now that the listing names them: every test the static tier's
        // binaries hold (the plan counted only those it knew).
        let in_tier = |s: &&super::catalog::Suite| {
            r.binary_reasons.contains_key(&*s.binary_id) || r.package_reasons.contains_key(&s.package)
        };
        let all = model
            .catalog
            .suites
            .iter()
            .filter(in_tier)
            .map(|s| s.tests.iter().filter(|t| !t.ignored).count())
            .sum::<usize>();
        r.static_tests = Some(all.max(selected_tests));
    }
    r.selected_binaries = selected_binaries;
    r.selected_tests = selected_tests;
    emit_run_started(&model.workspace, r, fx);
    if selected_tests == 0 && r.doc_packages.is_empty() {
        finish_run(model, run, Outcome::NoTests, at, fx);
        return;
    }
    r.phase = Phase::Running;
    let early = std::mem::take(&mut r.early);
    gating::mark_blocked(model, run, at, fx);
    for early in early {
        match early {
            EarlyMsg::Test { event, at } => on_test(model, run, event, at, fx),
            EarlyMsg::Exited { exit, stderr, at } => on_run_exited(model, run, exit, stderr, at, fx),
            EarlyMsg::Doctests { suite, events, at } => on_doctests(model, run, suite, events, at, fx),
            EarlyMsg::DoctestsDone { error, at } => on_doctests_done(model, run, error, at, fx),
        }
    }
}

fn emit_run_started(ws: &Workspace, r: &Run, fx: &mut Vec<Effect>) {
    fx.push(Effect::emit(Report::RunStarted {
        run: r.number,
        trigger: r.trigger,
        selected: Selected {
            binaries: r.selected_binaries.iter().map(|b| b.to_string()).collect(),
            tests: r.selected_tests,
        },
        reasons: r.reasons.clone(),
        changed: r.changed.iter().map(|p| relative(ws, p)).collect(),
        binary_reasons: r.binary_reasons.clone(),
        static_tests: r.static_tests,
        test_reasons: r
            .test_reasons
            .iter()
            .map(|((binary_id, name), reason)| TestReason {
                binary_id: binary_id.clone(),
                name: name.clone(),
                reason: reason.clone(),
            })
            .collect(),
    }));
}

fn on_list_failed(model: &mut Model, run: u32, exit: ToolExit, stderr: String, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.runs.last_mut().filter(|r| r.number == run) else {
        return;
    };
    if r.phase != Phase::Building {
        return;
    }
    emit_run_started(&model.workspace, r, fx);
    for d in &r.build_errors {
        fx.push(Effect::emit(Report::BuildError {
            run,
            message: d.rendered.clone(),
        }));
    }
    let outcome = if r.cancel_requested || exit == ToolExit::Killed {
        Outcome::Cancelled
    } else if exit == ToolExit::BuildFailed || !r.build_errors.is_empty() {
        Outcome::BuildFailed
    } else {
        Outcome::ListFailed
    };
    if outcome != Outcome::Cancelled {
        r.tool_stderr = Some(stderr);
    }
    r.bad_filter = exit == ToolExit::BadFilter;
    if !r.cancel_requested {
        // The run beside the list has nothing to report without it.
        fx.push(Effect::Cancel { run });
    }
    finish_run(model, run, outcome, at, fx);
}

fn on_test(model: &mut Model, run: u32, event: TestEvent, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    if r.phase == Phase::Building {
        r.early.push(EarlyMsg::Test { event, at });
        return;
    }
    if r.phase != Phase::Running {
        return;
    }
    let run_start = r.started;
    let mut event = event;
    if r.cancel_requested && matches!(event.kind, TestEventKind::Failed { .. }) {
        // nextest reports the tests it stopped for us as failed.
        event.kind = TestEventKind::Cancelled;
    }
    let starting = matches!(event.kind, TestEventKind::Started { .. });
    let Some(si) = model.catalog.suite_for_result(&event.binary_id, &event.name, starting) else {
        let message = format!("result for unknown test binary `{}` ignored", event.binary_id);
        warn(model, run, message, fx);
        return;
    };
    if *model.catalog.suites[si].binary_id != *event.binary_id {
        event.binary_id = model.catalog.suites[si].binary_id.clone();
    }
    let suite = &mut model.catalog.suites[si];
    let ti = match suite.test_index(&event.name) {
        Some(ti) => ti,
        None => {
            // A test the list did not name (it appeared since): take it in.
            let ti = suite.add_test(&event.name);
            suite.tests[ti].enrol(run);
            ti
        }
    };
    let binary_id = suite.binary_id.clone();
    let test = &mut suite.tests[ti];
    if test.run != Some(run) {
        test.enrol(run);
    }
    if test.ignored && matches!(event.kind, TestEventKind::Started { .. }) {
        // nextest "starts" an ignored test just to report it ignored.
        return;
    }
    match test.apply(&event.kind, at, run_start) {
        Ok(tr) => {
            let report = TestTransition::of(run, &binary_id, test, tr);
            if tr.to == TestState::Failed && !model.services.is_empty() {
                gating::on_failure(model, &binary_id, &event.name, at, fx);
            }
            if let Some(r) = model.run_mut(run) {
                if tr.to.is_terminal() && !tr.from.is_terminal() {
                    r.done += 1;
                }
            }
            fx.push(Effect::emit(Report::Test(report)));
        }
        Err(anomaly) => {
            if let Some(r) = model.run_mut(run) {
                r.anomalies += 1;
                // Said once per run; the count is in the summary.
                if r.anomalies == 1 {
                    let message = format!(
                        "ignored a `{}` event for {binary_id} {} while it was {}",
                        anomaly.event,
                        event.name,
                        anomaly.state.as_str()
                    );
                    warn(model, run, message, fx);
                }
            }
        }
    }
}

fn warn(model: &mut Model, run: u32, message: String, fx: &mut Vec<Effect>) {
    if let Some(r) = model.run_mut(run) {
        r.warnings.push(message.clone());
    }
    fx.push(Effect::emit(Report::Warning { run, message }));
}

fn on_unparsed(model: &mut Model, run: u32, line: String, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    r.unparsed_lines += 1;
    if r.unparsed_lines == 1 {
        let mut shown: String = line.chars().take(120).collect();
        if shown.len() < line.len() {
            shown.push('…');
        }
        let message = format!("skipped output from nextest that is not valid JSON: {shown}");
        warn(model, run, message, fx);
    }
}

fn on_run_exited(model: &mut Model, run: u32, exit: ToolExit, stderr: String, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    if !r.is_active() {
        return;
    }
    if r.phase == Phase::Building {
        // Ended before its list arrived: settled once it has (or by the
        // list's own failure, which is the same build's).
        if std::mem::take(&mut r.provisional) {
            // Ended before its build said anything (it failed early): the
            // list tells what happened.
            fx.push(Effect::List { run, filterset: None });
        }
        r.early.push(EarlyMsg::Exited { exit, stderr, at });
        return;
    }
    let outcome = if r.cancel_requested {
        Outcome::Cancelled
    } else {
        match exit {
            ToolExit::Success | ToolExit::TestsFailed => Outcome::Passed, // refined by counts below
            ToolExit::NoTests => Outcome::NoTests,
            ToolExit::BuildFailed => Outcome::BuildFailed,
            ToolExit::ListFailed | ToolExit::BadFilter => Outcome::ListFailed,
            ToolExit::Killed => Outcome::Cancelled,
            ToolExit::Other(code) => {
                r.warnings.push(format!("nextest exited with unexpected code {code}"));
                r.tool_stderr = Some(stderr.clone());
                Outcome::Failed
            }
        }
    };
    if matches!(outcome, Outcome::BuildFailed | Outcome::ListFailed) {
        r.tool_stderr = Some(stderr);
    }
    if r.doc_lane == DocLane::Running && matches!(outcome, Outcome::Passed | Outcome::Failed | Outcome::NoTests) {
        // The doc lane runs beside; the run goes on once it is done (a
        // build failure or a stop ends the run, and the lane with it).
        r.doc_lane = DocLane::Awaited(outcome);
        return;
    }
    let outcome = with_doctests(model, run, outcome);
    after_tests(model, run, outcome, at, fx);
}

/// Doctests ran where nextest had nothing to run: the run passed (or
/// failed) on them.
fn with_doctests(model: &mut Model, run: u32, outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::NoTests if model.run_mut(run).is_some_and(|r| r.selected_tests > 0) => Outcome::Passed,
        other => other,
    }
}

/// The doctests of `run`'s packages came back.
fn on_doctests(
    model: &mut Model,
    run: u32,
    suite: ListedSuite,
    events: Vec<TestEvent>,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let Some(r) = model.run_mut(run) else { return };
    if !r.doc_lane.running() {
        return;
    }
    if r.phase == Phase::Building {
        // Before nextest's list: taken in after it (a full listing would
        // drop the doc suite otherwise).
        r.early.push(EarlyMsg::Doctests { suite, events, at });
        return;
    }
    let rules = model.rules.clone();
    model
        .catalog
        .merge_listing(std::slice::from_ref(&suite), &rules.e2e_patterns, false);
    if let Some(si) = model.catalog.suite_index(&suite.binary_id) {
        for t in &mut model.catalog.suites[si].tests {
            t.enrol(run);
        }
    }
    if let Some(r) = model.run_mut(run) {
        r.selected_tests += suite.tests.len();
        if !r.selected_binaries.contains(&suite.binary_id) {
            r.selected_binaries.push(suite.binary_id.clone());
        }
    }
    for event in events {
        on_test(model, run, event, at, fx);
    }
}

/// `cargo test --doc` ended: the run goes on as nextest left it.
fn on_doctests_done(model: &mut Model, run: u32, error: Option<String>, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    if !r.doc_lane.running() {
        return;
    }
    if r.phase == Phase::Building {
        r.early.push(EarlyMsg::DoctestsDone { error, at });
        return;
    }
    let waiting = match std::mem::replace(&mut r.doc_lane, DocLane::Done) {
        DocLane::Awaited(outcome) => Some(outcome),
        DocLane::Idle | DocLane::Running | DocLane::Done => None,
    };
    if let Some(e) = error {
        warn(model, run, format!("doctests not run: {e}"), fx);
    }
    // nextest still running: the run ends when it does.
    let Some(outcome) = waiting else { return };
    let cancelled = model.run_mut(run).is_some_and(|r| r.cancel_requested);
    let outcome = if cancelled { Outcome::Cancelled } else { outcome };
    let outcome = with_doctests(model, run, outcome);
    after_tests(model, run, outcome, at, fx);
}

/// nextest (and the doc lane) ended: coverage is collected, or the run ends.
fn after_tests(model: &mut Model, run: u32, outcome: Outcome, at: Duration, fx: &mut Vec<Effect>) {
    let coverage_on = model.coverage_on;
    let Some(r) = model.run_mut(run) else { return };
    if coverage_on && matches!(outcome, Outcome::Passed | Outcome::Failed) {
        // The profiles are on disk now; the run ends once they are read.
        r.collecting = Some(outcome);
        let ran: Vec<String> = r.selected_binaries.iter().map(|b| b.to_string()).collect();
        let binaries = model.catalog.binaries();
        let tests = model
            .catalog
            .suites
            .iter()
            .flat_map(|s| {
                s.tests
                    .iter()
                    .filter(|t| {
                        t.run == Some(run)
                            && matches!(
                                t.state,
                                TestState::Passed | TestState::Failed | TestState::Xfail | TestState::Xpass
                            )
                    })
                    .map(|t| (s.binary_id.to_string(), t.name.clone()))
            })
            .collect();
        // A shard's profile is its own part of the run: nothing earlier is
        // merged in (the merge of the shards makes the whole).
        let shard = model.shard;
        let partial = ran
            .iter()
            .filter(|_| !shard)
            .filter(|b| {
                model
                    .catalog
                    .suite(b)
                    .is_some_and(|s| s.tests.iter().any(|t| !t.ignored && t.run != Some(run)))
            })
            .cloned()
            .collect();
        fx.push(Effect::CollectCoverage {
            run,
            ran,
            binaries,
            tests,
            partial,
        });
        return;
    }
    finish_run(model, run, outcome, at, fx);
}

/// Ends a run: tests that never finished are settled, the results tallied
/// and learnt from, the gate judged, and `run_finished` said. Starts a
/// queued run.
fn finish_run(model: &mut Model, run: u32, outcome: Outcome, at: Duration, fx: &mut Vec<Effect>) {
    let pending = model.history_pending;
    let Some(r) = model.run_mut(run) else { return };
    if r.doc_lane.running() {
        // Ended without it (a build or list failure, a stop): the lane
        // goes too (a cancel already said stops both).
        r.doc_lane = DocLane::Done;
        if !r.cancel_requested && !fx.contains(&Effect::Cancel { run }) {
            fx.push(Effect::Cancel { run });
        }
    }
    if pending {
        r.held = Some((outcome, at));
        return;
    }
    let (run_start, fingerprint) = (r.started, r.fingerprint.clone());
    let settled = finish::settle(model, run, run_start, at, fx);
    let tally = finish::tally(model, run);
    let learned = finish::learn(model, run, &fingerprint);
    let outcome = match outcome {
        Outcome::Passed if tally.counts.failed > 0 => Outcome::Failed,
        other => other,
    };
    let coverage = model
        .coverage
        .as_ref()
        .filter(|_| model.coverage_run == Some(run))
        .map(|c| {
            finish::coverage_report(
                c,
                model.coverage_prev.as_ref(),
                &model.rules.coverage,
                model.patch.as_ref(),
                model.rules.patch_coverage,
            )
        });
    let enforce = model.rules.budgets.enforce;
    let (services, blocked) = gating::summarize(model, run);
    let Some(r) = model.run_mut(run) else { return };
    r.done += settled;
    let gate = Gate::judge(&finish::GateInputs {
        outcome,
        counts: &tally.counts,
        from_changes: !r.changed.is_empty(),
        bad_filter: r.bad_filter,
        coverage: coverage.as_ref(),
        budgets_enforced: enforce,
        budget_violations: tally.budgets.violations.len(),
        strict_xpass: &tally.strict_xpass,
        blocked: &blocked,
    });
    if r.unparsed_lines > 1 {
        r.warnings.push(format!(
            "{} lines of nextest output were not valid JSON and were skipped",
            r.unparsed_lines
        ));
    }
    if r.anomalies > 1 {
        r.warnings
            .push(format!("{} impossible test transitions were ignored", r.anomalies));
    }
    r.phase = Phase::Finished;
    r.outcome = Some(outcome);
    r.budgets = tally.budgets.clone();
    r.slower = learned.slower.clone();
    r.finished = Some(at);
    let summary = RunSummary {
        run,
        outcome,
        duration_s: secs(at.saturating_sub(r.started)),
        tests: tally.counts.clone(),
        suites: tally.suites,
        failures: tally.failures,
        xpass: tally.xpass,
        build_errors: r.build_errors.iter().map(|d| d.rendered.clone()).collect(),
        tool_error: r.tool_stderr.clone(),
        warnings: r.warnings.clone(),
        budgets: tally.budgets,
        flaky: learned.flaky,
        slower: learned.slower,
        hygiene: model.hygiene.clone(),
        coverage,
        services,
        gate,
        shards: None,
    };
    if !matches!(outcome, Outcome::Cancelled | Outcome::BuildFailed | Outcome::ListFailed) {
        model.history.push_run(RunPoint {
            duration_s: summary.duration_s,
            total: tally.counts.total,
            failed: tally.counts.failed,
            coverage: summary.coverage.as_ref().map(|c| c.lines.percent),
        });
    }
    if outcome != Outcome::Cancelled {
        let green = summary.gate.passed;
        if model.rules.bell && model.last_green.is_some_and(|was| was != green) {
            fx.push(Effect::Bell);
        }
        model.last_green = Some(green);
    }
    fx.push(Effect::emit(Report::RunFinished(Box::new(summary))));
    settle_sweep(model, run, fx);
    if let Some((trigger, selection)) = model.queued.take() {
        request_run(model, trigger, selection, at, fx);
    } else if !model.sweep.pending.is_empty() && outcome != Outcome::Cancelled {
        if let Some(after) = model.rules.sweep_after {
            model.sweep.token += 1;
            fx.push(Effect::SweepTimer {
                token: model.sweep.token,
                after,
            });
        }
    }
    rerun_unblocked(model, at, fx);
}

/// The tests a run ran are no longer owed a sweep; in a sweep, the ones
/// that failed are selection misses.
fn settle_sweep(model: &mut Model, run: u32, fx: &mut Vec<Effect>) {
    let sweep = model
        .runs
        .last()
        .is_some_and(|r| r.number == run && r.trigger == Trigger::Sweep);
    if model
        .runs
        .last()
        .is_some_and(|r| r.number == run && r.static_tests.is_some())
    {
        model.history.narrowed_runs += 1;
    }
    let mut misses = Vec::new();
    let mut swept = 0;
    for suite in &model.catalog.suites {
        for t in suite.tests.iter().filter(|t| t.run == Some(run)) {
            let failed = matches!(t.state, TestState::Failed | TestState::Xpass);
            if !(failed || matches!(t.state, TestState::Passed | TestState::Xfail)) {
                continue;
            }
            let key = (suite.binary_id.to_string(), t.name.clone());
            let Some(changed) = model.sweep.ran(&key) else { continue };
            swept += 1;
            if sweep && failed {
                misses.push(super::sweep::Miss {
                    binary_id: key.0,
                    name: key.1,
                    changed,
                    run,
                });
            }
        }
    }
    if !sweep {
        return;
    }
    model.history.selection_misses += misses.len() as u32;
    if let Some(r) = model.run_mut(run) {
        r.misses = misses.len() as u32;
    }
    model.sweep.misses.extend(misses.iter().cloned());
    if !misses.is_empty() {
        model.ui.note = Some(format!(
            "selection miss: {} (x acknowledges)",
            misses.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    fx.push(Effect::emit(Report::SweepFinished {
        run,
        tests: swept,
        misses,
    }));
}

/// Runs, at low priority, what test-level selection left out.
fn start_sweep(model: &mut Model, at: Duration, fx: &mut Vec<Effect>) {
    let mut changed: Vec<String> = model.sweep.pending.values().flatten().cloned().collect();
    changed.sort();
    changed.dedup();
    let tests = model.sweep.pending.len();
    let expr = model.sweep.filterset();
    let number = model.next_run_number();
    fx.push(Effect::emit(Report::SweepStarted {
        run: number,
        tests,
        changed: changed.clone(),
    }));
    let reasons = vec![format!(
        "sweep: the {tests} test{} test-level selection left out for {} (nothing changed for a while)",
        if tests == 1 { "" } else { "s" },
        changed.join(", ")
    )];
    start_request(model, Trigger::Sweep, Selection::Filter { expr, reasons }, at, None, fx);
}
