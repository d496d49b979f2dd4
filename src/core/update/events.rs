//! Test events as nextest streams them, and the run's process ending.

use super::*;
use crate::core::ids::RunId;

pub(super) fn on_test(model: &mut Model, run: RunId, event: TestEvent, at: Duration, fx: &mut Vec<Effect>) {
    let Some(r) = model.run_mut(run) else { return };
    if r.phase.building() {
        r.early.push(EarlyMsg::Test { event, at });
        return;
    }
    if !r.phase.listed() {
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

pub(super) fn warn(model: &mut Model, run: RunId, message: String, fx: &mut Vec<Effect>) {
    if let Some(r) = model.run_mut(run) {
        r.warnings.push(message.clone());
    }
    fx.push(Effect::emit(Report::Warning { run, message }));
}

pub(super) fn on_unparsed(model: &mut Model, run: RunId, line: String, fx: &mut Vec<Effect>) {
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

pub(super) fn on_run_exited(
    model: &mut Model,
    run: RunId,
    exit: ToolExit,
    stderr: String,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let Some(r) = model.run_mut(run) else { return };
    if !r.is_active() {
        return;
    }
    if r.phase.building() {
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
