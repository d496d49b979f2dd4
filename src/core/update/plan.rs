//! Planning a run as it starts: the change set placed (static tier, maps, run-time reads, manifests), the doc lane chosen, stale results marked.

use super::*;

/// Whether change sets are placed against the coverage maps first.
pub(super) fn narrows(model: &Model) -> bool {
    model.rules.selection == SelectionMode::Tests && model.coverage_on && !model.test_maps.is_empty()
}

/// What the tests read at run time, for planning.
pub(super) fn runtime(model: &Model) -> select::Evidence<'_> {
    let ran = model
        .history
        .tests
        .iter()
        .filter(|(_, h)| h.last.is_some())
        .map(|((b, n), _)| TestId(b.clone(), n.clone()));
    select::Evidence::new(&model.catalog, &model.test_maps, ran).with_manifests(&model.manifest_verdicts)
}

/// Files of a package that no test read (as recorded) and no build reads
/// select nothing; the idle sweep still runs the tests their package would
/// have run, to measure that this was safe.
pub(super) fn owe_sweep(model: &mut Model, dropped: &[PathBuf]) {
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
                .map(move |t| TestId(s.binary_id.to_string(), t.name.clone()))
        })
        .collect();
    let paths: Vec<String> = in_package.iter().map(|f| relative(&model.workspace, f)).collect();
    model.sweep.cleared(&owed, &paths);
}

pub(super) fn start_request(
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
                                // Read by a build script: what it prints may change.
                                None if !rel.ends_with(".rs")
                                    && select::build_script_input(&model.workspace, &model.inputs, f) =>
                                {
                                    Some(format!("`{rel}` is read by a build script"))
                                }
                                None if !rel.ends_with(".rs") && !embedded_only(model, texts, f, &rel) => {
                                    Some(format!("`{rel}` is read by a compilation no include of it explains"))
                                }
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
                                // No code changed: doc comments, and the
                                // doctests that read a changed file when they
                                // last ran (not those that always run: no
                                // code of theirs changed either).
                                let (mut packages, mut filters) = doc_filters(&model.workspace, &docs);
                                let doc_readers = read.iter().flat_map(|(_, r)| r).filter(|k| k.0.ends_with("::doc"));
                                for key in doc_readers {
                                    packages.push(key.0.trim_end_matches("::doc").to_owned());
                                    filters.push(doc_item(&key.1).to_owned());
                                }
                                packages.sort();
                                packages.dedup();
                                filters.sort();
                                filters.dedup();
                                doc_narrowed = Some((packages, filters));
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
    run.faults = gating::faults_now(model);
    for s in &mut model.services {
        s.calls.run.clear();
    }
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
    let from_changes = !run.changed.is_empty();
    model.runs.push(run);
    if from_changes {
        touch(model);
    }
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

/// Marks stale every test with a result that `plan` says the change can
/// affect; each is cleared when the test is enrolled in a run again, or
/// when test-level selection clears it.
pub(super) fn mark_stale(model: &mut Model, plan: &Plan) {
    let doc_lane = model.rules.doc_lane;
    for suite in &mut model.catalog.suites {
        if suite.suite_type == crate::core::catalog::SuiteType::Doc && !doc_lane {
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

/// Whether every compilation that reads `f` (not Rust source) is one whose
/// sources embed it where vigil found it (`include_str!`, `include_bytes!`):
/// then those places answer for it.
fn embedded_only(model: &Model, texts: &select_tests::Texts, f: &std::path::Path, rel: &str) -> bool {
    let Some(Ok(embedded)) = texts.include_sites.get(rel) else {
        return true;
    };
    let ws = &model.workspace;
    let including: Vec<&str> = embedded
        .by
        .iter()
        .filter_map(|p| ws.owning_package(&ws.root.join(p)).map(|(pkg, _)| pkg.name.as_str()))
        .collect();
    model.inputs.owners(f).iter().all(|(owner, _)| {
        let package = match owner {
            crate::core::inputs::Owner::Package(p) => p,
            crate::core::inputs::Owner::Binary { package, .. } => package,
        };
        including.contains(&package.as_str())
    })
}
