//! Flaky on first sight (DeFlaker's rule): a test that fails although no
//! change since its last pass reached its coverage map — every change
//! since was placed by the maps, and cleared it — is run again at once;
//! passing, it is likely flaky, with that evidence; failing again, it is a
//! selection miss (the maps were wrong), never filed as flaky. The idle
//! sweep's failures are run again the same way before they are misses.

use super::*;
use crate::core::history::Flaky;
use crate::core::ids::RunId;

/// A change set was placed: the tests it can affect (still stale once the
/// maps cleared theirs) are no longer clean since their last pass.
pub(super) fn touch(model: &mut Model) {
    for suite in &mut model.catalog.suites {
        for t in suite.tests.iter_mut().filter(|t| t.stale) {
            t.clean_since_pass = false;
        }
    }
}

/// What a run's results say: the tests it makes suspects (to recheck), and
/// — in a recheck — the likely flaky ones.
pub(super) fn first_sight(model: &mut Model, run: RunId) -> Vec<Flaky> {
    let Some((trigger, faulted)) = model.run_mut(run).map(|r| (r.trigger, !r.faults.is_empty())) else {
        return Vec::new();
    };
    // Failures under an injected fault are the fault's, not flakiness.
    if faulted {
        return Vec::new();
    }
    let recheck = trigger == Trigger::Recheck;
    let suspects = if recheck {
        std::mem::take(&mut model.flaky_suspects)
    } else {
        Vec::new()
    };
    let mut likely = Vec::new();
    let mut misses = Vec::new();
    let mut new_suspects = Vec::new();
    for suite in &mut model.catalog.suites {
        for t in suite.tests.iter_mut().filter(|t| t.run == Some(run)) {
            let key = TestId(suite.binary_id.to_string(), t.name.clone());
            let suspected = suspects.iter().find(|(k, _)| *k == key).map(|(_, r)| *r);
            match t.state {
                TestState::Passed => {
                    if let Some(failed_in) = suspected {
                        likely.push(Flaky {
                            binary_id: key.0.clone(),
                            name: key.1.clone(),
                            flips: 1,
                            runs: 2,
                            evidence: Some(format!(
                                "failed in run {failed_in} though no change since its last pass reached its \
                                 coverage map; passed when run again (run {run})"
                            )),
                        });
                    }
                    t.clean_since_pass = true;
                }
                TestState::Failed => {
                    if suspected.is_some() {
                        misses.push(crate::core::sweep::Miss {
                            binary_id: key.0.clone(),
                            name: key.1.clone(),
                            changed: Vec::new(),
                            run,
                        });
                    } else if !recheck
                        && trigger != Trigger::Sweep
                        && t.clean_since_pass
                        && model.test_maps.tests.contains_key(&key)
                    {
                        new_suspects.push((key, run));
                    }
                    t.clean_since_pass = false;
                }
                _ => {}
            }
        }
    }
    for f in &likely {
        let h = model.history.entry(&f.binary_id, &f.name);
        h.flips += 1;
    }
    if !misses.is_empty() {
        model.ui.note = Some(format!(
            "selection miss: {} failed again, though no change reached it (x acknowledges)",
            misses.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
        model.history.selection_misses += misses.len() as u32;
        model.sweep.misses.extend(misses);
    }
    if !likely.is_empty() {
        model.ui.note = Some(format!(
            "likely flaky: {}",
            likely.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    model.flaky_suspects = new_suspects;
    likely
}

/// Runs the suspects again (nothing else waiting).
pub(super) fn recheck(model: &mut Model, at: Duration, fx: &mut Vec<Effect>) {
    if model.flaky_suspects.is_empty() {
        return;
    }
    if model.queued.is_some() {
        // Something else runs next: their next result judges them (a
        // sweep's failures stay misses).
        model.flaky_suspects.clear();
        if let Some(awaiting) = model.sweep.awaiting.take() {
            super::idle::judge_sweep(model, awaiting, None, fx);
        }
        return;
    }
    let n = model.flaky_suspects.len();
    let expr = model
        .flaky_suspects
        .iter()
        .map(|(TestId(b, name), _)| format!("(binary_id({b}) & test(={name}))"))
        .collect::<Vec<_>>()
        .join(" | ");
    let reasons = vec![format!(
        "recheck: {n} test{} failed though no change since {} last pass reached {}",
        if n == 1 { "" } else { "s" },
        if n == 1 { "its" } else { "their" },
        if n == 1 { "it" } else { "them" },
    )];
    request_run(model, Trigger::Recheck, Selection::Filter { expr, reasons }, at, fx);
}
