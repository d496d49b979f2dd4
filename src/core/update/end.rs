//! A run's end: held for coverage, the doc lane and the history, then judged and reported.

use super::*;
use crate::core::ids::RunId;

/// nextest (and the doc lane) ended: coverage is collected, or the run ends.
pub(super) fn after_tests(model: &mut Model, run: RunId, outcome: Outcome, at: Duration, fx: &mut Vec<Effect>) {
    let coverage_on = model.coverage_on;
    let Some(r) = model.run_mut(run) else { return };
    if coverage_on && matches!(outcome, Outcome::Passed | Outcome::Failed) {
        // The profiles are on disk now; the run ends once they are read.
        r.phase = Phase::Collecting(outcome);
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
                    .map(|t| TestId(s.binary_id.to_string(), t.name.clone()))
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
pub(super) fn finish_run(model: &mut Model, run: RunId, outcome: Outcome, at: Duration, fx: &mut Vec<Effect>) {
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
        let listed = r.phase.listed();
        r.phase = Phase::Held { outcome, at, listed };
        return;
    }
    let (run_start, fingerprint) = (r.started, r.fingerprint.clone());
    let settled = finish::settle(model, run, run_start, at, fx);
    let tally = finish::tally(model, run);
    let mut learned = finish::learn(model, run, &fingerprint);
    learned.flaky.extend(first_sight(model, run));
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
    let leaks = r.leaks.clone();
    let faults = r.faults.clone();
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
        leaks,
        faults,
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
    if outcome != Outcome::Cancelled {
        recheck(model, at, fx);
    } else {
        model.flaky_suspects.clear();
    }
    if model
        .runs
        .last()
        .is_some_and(|r| r.trigger == Trigger::Recheck && r.is_active())
    {
        // The recheck runs first; what was waiting follows it.
    } else if let Some((trigger, selection)) = model.queued.take() {
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

/// The history read beside the first run: its maps (older than this
/// session's), the last coverage kept, and a run end it held back.
pub(super) fn on_history_loaded(
    model: &mut Model,
    history: crate::core::history::History,
    coverage: Option<(i64, Box<crate::core::coverage::Coverage>)>,
    fx: &mut Vec<Effect>,
) {
    model.history = history;
    model.history_pending = false;
    // Maps measured this session are newer than the kept ones; a run not
    // yet recorded need not write one that is as it was kept.
    for (key, map) in std::mem::take(&mut model.history.maps) {
        match model.test_maps.tests.get(&key) {
            Some(now) if *now == map => {
                for r in model.runs.iter_mut().filter(|r| !matches!(r.phase, Phase::Finished)) {
                    r.measured.retain(|k| *k != key);
                }
            }
            Some(_) => {}
            None => {
                model.test_maps.tests.insert(key, map);
            }
        }
    }
    if model.coverage.is_none() {
        if let Some((run, c)) = coverage {
            model.coverage = Some(*c);
            model.kept_coverage_run = Some(run);
        }
    }
    let held = model.runs.last_mut().and_then(|r| match r.phase {
        Phase::Held { outcome, at, listed } => {
            // As it was before it was held; finishing ends it.
            r.phase = if listed {
                Phase::Running
            } else {
                Phase::Building { built: true }
            };
            Some((r.number, (outcome, at)))
        }
        _ => None,
    });
    if let Some((run, (outcome, at))) = held {
        finish_run(model, run, outcome, at, fx);
    }
}

/// What `Msg::CoverageCollected` brings.
pub(super) struct Collected {
    pub result: Result<Box<crate::core::coverage::Coverage>, String>,
    pub maps: Vec<(TestKey, crate::core::testmap::TestMap)>,
    pub map_note: Option<String>,
    pub patch: Option<Result<crate::core::patch::Changes, String>>,
    pub leaks: Vec<crate::core::check::Finding>,
}

/// A run's coverage, read: its maps merged, then the run ends.
pub(super) fn on_coverage_collected(model: &mut Model, run: RunId, c: Collected, at: Duration, fx: &mut Vec<Effect>) {
    let Collected {
        result,
        maps,
        map_note,
        patch,
        leaks,
    } = c;
    // A test that failed keeps its map marked: it is selected until it
    // passes, also by a later vigil that knows it only by its map.
    let mut maps = maps;
    for (key, map) in &mut maps {
        map.failed = model
            .catalog
            .suite(&key.0)
            .and_then(|s| s.tests.iter().find(|t| t.name == key.1))
            .is_some_and(|t| t.run == Some(run) && matches!(t.state, TestState::Failed | TestState::Xpass));
    }
    // The history keeps only maps that changed (most of a rerun's are as
    // they were): writing them again costs the run's end.
    let changed: Vec<TestKey> = maps
        .iter()
        .filter(|(k, m)| model.test_maps.tests.get(k) != Some(m))
        .map(|(k, _)| k.clone())
        .collect();
    let Some(r) = model.run_mut(run) else { return };
    let Phase::Collecting(outcome) = r.phase else { return };
    if !leaks.is_empty() {
        r.warnings.push(format!(
            "{} test{} left processes running (stopped): {}",
            leaks.len(),
            if leaks.len() == 1 { "" } else { "s" },
            leaks.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    r.leaks = leaks;
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
    r.measured = changed;
    let faulted = !r.faults.is_empty();
    if let Err(e) = &result {
        r.warnings.push(format!("coverage not collected: {e}"));
    }
    model.patch = changes;
    model.test_maps.merge(maps);
    if let Ok(cov) = result {
        // A run under an injected fault is no baseline: the next run's
        // deltas are against the last run without one.
        let outgoing = model.coverage.take();
        if !model.coverage_faulted {
            model.coverage_prev = outgoing;
        }
        model.coverage_faulted = faulted;
        model.coverage = Some(*cov);
        model.coverage_run = Some(run);
    }
    finish_run(model, run, outcome, at, fx);
}
