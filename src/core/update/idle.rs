//! The idle sweep: what test-level selection left out, run when nothing else is, and the misses it finds.

use super::*;
use crate::core::ids::RunId;

/// The tests a run ran are no longer owed a sweep; in a sweep, the ones
/// that failed are selection misses.
pub(super) fn settle_sweep(model: &mut Model, run: RunId, fx: &mut Vec<Effect>) {
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
            let key = TestId(suite.binary_id.to_string(), t.name.clone());
            let Some(changed) = model.sweep.ran(&key) else { continue };
            swept += 1;
            if sweep && failed {
                misses.push(crate::core::sweep::Miss {
                    binary_id: key.0,
                    name: key.1,
                    changed,
                    run,
                });
            }
        }
    }
    let rechecked = model.run_mut(run).is_some_and(|r| r.trigger == Trigger::Recheck);
    if rechecked {
        if let Some(awaiting) = model.sweep.awaiting.take() {
            judge_sweep(model, awaiting, Some(run), fx);
        }
    }
    if !sweep {
        return;
    }
    if misses.is_empty() {
        fx.push(Effect::emit(Report::SweepFinished {
            run,
            tests: swept,
            misses,
        }));
        return;
    }
    // Run again at once before they are called misses: one that passes
    // with nothing changed is flaky, not a test the maps should have run.
    for m in &misses {
        let key = TestId(m.binary_id.clone(), m.name.clone());
        if !model.flaky_suspects.iter().any(|(k, _)| *k == key) {
            model.flaky_suspects.push((key, run));
        }
    }
    model.sweep.awaiting = Some(crate::core::sweep::Awaiting {
        run,
        tests: swept,
        failed: misses,
    });
}

/// A sweep's failures judged once run again (`recheck`: the run that did;
/// `None`: none could, they stay misses): those that failed again (the
/// recheck counted them) or did not run are misses; those that passed are
/// likely flaky (the recheck's `run_finished.flaky` says so).
pub(super) fn judge_sweep(
    model: &mut Model,
    awaiting: crate::core::sweep::Awaiting,
    recheck: Option<RunId>,
    fx: &mut Vec<Effect>,
) {
    let mut misses = Vec::new();
    for m in awaiting.failed {
        let state = recheck.and_then(|r| {
            let suite = model.catalog.suite(&m.binary_id)?;
            let t = &suite.tests[suite.test_index(&m.name)?];
            (t.run == Some(r)).then_some(t.state)
        });
        match state {
            Some(TestState::Passed | TestState::Xfail) => {}
            // Failed again: the recheck counted it.
            Some(TestState::Failed | TestState::Xpass) => {
                let r = recheck.unwrap_or(m.run);
                if let Some(found) = model
                    .sweep
                    .misses
                    .iter_mut()
                    .find(|x| x.binary_id == m.binary_id && x.name == m.name && x.run == r)
                {
                    found.changed = m.changed.clone();
                }
                misses.push(m);
            }
            _ => {
                model.history.selection_misses += 1;
                model.sweep.misses.push(m.clone());
                misses.push(m);
            }
        }
    }
    if let Some(r) = model.run_mut(awaiting.run) {
        r.misses = misses.len() as u32;
    }
    if !misses.is_empty() {
        model.ui.note = Some(format!(
            "selection miss: {} (x acknowledges)",
            misses.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    fx.push(Effect::emit(Report::SweepFinished {
        run: awaiting.run,
        tests: awaiting.tests,
        misses,
    }));
}

/// Runs, at low priority, what test-level selection left out.
pub(super) fn start_sweep(model: &mut Model, at: Duration, fx: &mut Vec<Effect>) {
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
