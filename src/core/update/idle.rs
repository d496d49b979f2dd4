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
