//! The build and the listing: diagnostics, built binaries, the tests nextest lists, and a listing that failed.

use super::*;
use crate::core::ids::RunId;

/// The run's build is done: its listing kept from before holds when every
/// test binary is the same and up to date; otherwise nextest lists.
pub(super) fn on_built(
    model: &mut Model,
    run: RunId,
    built: &[(PathBuf, bool)],
    success: bool,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let Some(r) = model.run_mut(run) else { return };
    if let Phase::Building { built } = &mut r.phase {
        *built = true;
    }
    if !r.phase.building() || !r.provisional {
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

pub(super) fn on_build(model: &mut Model, run: RunId, diagnostic: BuildDiagnostic, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    // cargo reports an error once per target it breaks (lib and lib test):
    // say it once.
    if diagnostic.level != "error" || r.build_errors.contains(&diagnostic) {
        return;
    }
    // While building, errors are held back until `run_started` has been said,
    // so the stream always opens with it.
    if r.phase.listed() {
        fx.push(Effect::emit(Report::BuildError {
            run,
            message: diagnostic.rendered.clone(),
        }));
    }
    r.build_errors.push(diagnostic);
}

pub(super) fn on_listed(model: &mut Model, run: RunId, suites: &[ListedSuite], at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    if !r.phase.building() {
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
pub(super) fn apply_listing(model: &mut Model, run: RunId, suites: &[ListedSuite], at: Duration, fx: &mut Vec<Effect>) {
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
        let in_tier = |s: &&crate::core::catalog::Suite| {
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

pub(super) fn emit_run_started(ws: &Workspace, r: &Run, fx: &mut Vec<Effect>) {
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
        faults: r.faults.clone(),
        test_reasons: r
            .test_reasons
            .iter()
            .map(|(TestId(binary_id, name), reason)| TestReason {
                binary_id: binary_id.clone(),
                name: name.clone(),
                reason: reason.clone(),
            })
            .collect(),
    }));
}

pub(super) fn on_list_failed(
    model: &mut Model,
    run: RunId,
    exit: ToolExit,
    stderr: String,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let Some(r) = model.runs.last_mut().filter(|r| r.number == run) else {
        return;
    };
    if !r.phase.building() {
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
