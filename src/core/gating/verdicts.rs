//! What a run's services did to it: the tests they blocked, notes on
//! failures beside a service that went down, the summary `run_finished`
//! carries, and the reruns a service that came back owes.

use super::*;

/// The run's pending tests that a service that is down gates become
/// `blocked` (after the listing and the services' answers, whichever is
/// last).
pub(crate) fn mark_blocked(model: &mut Model, run: RunId, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    if r.services != ServiceWait::Settled || r.blocked_by.is_empty() {
        return;
    }
    let (run_start, blocked_by) = (r.started, r.blocked_by.clone());
    let services: Vec<usize> = blocked_by.iter().filter_map(|n| index(model, n)).collect();
    // Which services gate each pending test, read first; applied after.
    let mut hits = Vec::new();
    for (si, suite) in model.catalog.suites.iter().enumerate() {
        for (ti, t) in suite.tests.iter().enumerate() {
            if t.run != Some(run) || t.state != TestState::Pending || t.ignored {
                continue;
            }
            let subject = Subject::of(suite, &t.name);
            let gating: Vec<usize> = services
                .iter()
                .copied()
                .filter(|&i| model.services[i].spec.gates(&model.workspace, &subject))
                .collect();
            if !gating.is_empty() {
                hits.push((si, ti, gating));
            }
        }
    }
    let mut done = 0;
    for (si, ti, gating) in hits {
        let why = model.services[gating[0]].why();
        let suite = &mut model.catalog.suites[si];
        let t = &mut suite.tests[ti];
        let Ok(tr) = t.apply(&TestEventKind::Blocked { why }, at, run_start) else {
            continue;
        };
        done += 1;
        let key = TestId(suite.binary_id.to_string(), t.name.clone());
        fx.push(Effect::emit(Report::Test(crate::core::report::TestTransition::of(
            run,
            &suite.binary_id,
            t,
            tr,
        ))));
        for i in gating {
            let s = &mut model.services[i];
            if !s.blocked.contains(&key) {
                s.blocked.push(key.clone());
            }
        }
    }
    if let Some(r) = model.run_mut(run) {
        r.done += done;
    }
}

/// A gated test failed: its services are probed now, so a service that
/// went down is named on the failure.
pub(crate) fn on_failure(model: &mut Model, binary_id: &str, name: &str, at: Duration, fx: &mut Vec<Effect>) {
    let Some(suite) = model.catalog.suite(binary_id) else {
        return;
    };
    let subject = Subject::of(suite, name);
    let ws = &model.workspace;
    let gating: Vec<usize> = (0..model.services.len())
        .filter(|&i| model.services[i].spec.gates(ws, &subject))
        .collect();
    for i in gating {
        let s = &mut model.services[i];
        // One probe for a burst of failures.
        if s.asked
            .is_some_and(|a| at.saturating_sub(a) < Duration::from_millis(500))
            || s.starting_until.is_some()
        {
            continue;
        }
        s.asked = Some(at);
        probe(model, i, Duration::ZERO, fx);
    }
}

/// What the services say about a failed test: the ones gating it that went
/// down around its failure.
pub(crate) fn failure_notes(model: &Model, binary_id: &str, name: &str) -> Vec<String> {
    let Some(suite) = model.catalog.suite(binary_id) else {
        return Vec::new();
    };
    let Some(t) = suite.test_index(name).map(|i| &suite.tests[i]) else {
        return Vec::new();
    };
    let (Some(run), Some(started)) = (t.run, t.started_at) else {
        return Vec::new();
    };
    let Some(run_start) = model.runs.iter().find(|r| r.number == run).map(|r| r.started) else {
        return Vec::new();
    };
    let failed_at = started + t.duration.unwrap_or_default();
    let subject = Subject::of(suite, name);
    model
        .services
        .iter()
        .filter(|s| s.spec.gates(&model.workspace, &subject))
        .filter_map(|s| failure_note(s, run_start, failed_at, PROBE_LAG))
        .collect()
}

/// Each service as the run ends, with the tests of the run it blocked; and
/// the gate's reasons for blocked tests (unless the service allows them).
pub(crate) fn summarize(model: &mut Model, run: RunId) -> (Vec<ServiceSummary>, Vec<String>) {
    let blocked_by = model
        .runs
        .iter()
        .find(|r| r.number == run)
        .map(|r| r.blocked_by.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut reasons = Vec::new();
    for s in &mut model.services {
        // Tests that ran are no longer owed a rerun.
        s.blocked.retain(|TestId(b, n)| {
            model
                .catalog
                .suite(b)
                .and_then(|su| su.test_index(n).map(|i| &su.tests[i]))
                .is_none_or(|t| t.run != Some(run) || t.state == TestState::Blocked)
        });
        let blocked: Vec<TestRef> = if blocked_by.contains(&s.spec.name) {
            blocked_tests(&model.catalog, &model.workspace, s, run)
        } else {
            Vec::new()
        };
        if !blocked.is_empty() && !s.spec.allow_blocked {
            reasons.push(format!(
                "{} test{} blocked: {}",
                blocked.len(),
                if blocked.len() == 1 { "" } else { "s" },
                s.why()
            ));
        }
        out.push(ServiceSummary {
            name: s.spec.name.clone(),
            state: s.health,
            error: s.start_error.clone().or_else(|| s.error.clone()),
            latency_ms: s.latency.map(ms),
            blocked,
            allow_blocked: s.spec.allow_blocked,
            calls: s.spec.proxy.as_ref().map(|_| s.calls.summary()),
            fault: s.fault.as_ref().map(|f| f.label()),
            stub: s.stubbed,
        });
    }
    (out, reasons)
}

pub(super) fn blocked_tests(
    catalog: &crate::core::catalog::Catalog,
    ws: &crate::core::catalog::Workspace,
    s: &Service,
    run: RunId,
) -> Vec<TestRef> {
    let mut out = Vec::new();
    for suite in &catalog.suites {
        for t in suite
            .tests
            .iter()
            .filter(|t| t.run == Some(run) && t.state == TestState::Blocked)
        {
            let subject = Subject::of(suite, &t.name);
            if s.spec.gates(ws, &subject) {
                out.push(TestRef {
                    binary_id: suite.binary_id.to_string(),
                    name: t.name.clone(),
                });
            }
        }
    }
    out
}

/// While watching and idle: the selection that reruns exactly the tests
/// that services which came back had blocked.
pub(crate) fn unblocked(model: &mut Model) -> Option<Selection> {
    let idle = model.settled();
    if !model.watching || !idle {
        return None;
    }
    let mut keys = Vec::new();
    let mut names = Vec::new();
    for s in &mut model.services {
        if s.rerun_owed && s.health.is_up() {
            s.rerun_owed = false;
            names.push(format!("`{}`", s.spec.name));
            for k in std::mem::take(&mut s.blocked) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    if keys.is_empty() {
        return None;
    }
    let expr = keys
        .iter()
        .map(|TestId(b, n)| format!("(binary_id({b}) & test(={n}))"))
        .collect::<Vec<_>>()
        .join(" | ");
    let reasons = vec![format!(
        "{} {} up again: the {} test{} it blocked",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" },
        keys.len(),
        if keys.len() == 1 { "" } else { "s" }
    )];
    Some(Selection::Filter { expr, reasons })
}

pub(super) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}
