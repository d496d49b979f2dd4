//! Service health gates in the loop: before a run, the services its tests
//! need are probed (and started, when they have a `start` command); the
//! run's `nextest run` waits for their answers, and leaves out the tests of
//! a service that is down, which are `blocked`, not failed. While watching,
//! services are probed every `interval`, and one that comes back reruns
//! what it blocked.
//! Holding and starting runs for their services is here; what the services
//! did to a run (blocked tests, notes, the summary, reruns owed) is `verdicts`.

use crate::core::ids::RunId;
use std::time::Duration;

use super::effect::Effect;
use super::filterset::{Filter, Subject};
use super::model::Model;
use super::report::{secs, Report, ServiceSummary, TestRef};
use super::run::{DocLane, Selection, ServiceWait};
use super::services::{failure_note, Health, Probe, Service};
use super::test_state::{TestEventKind, TestState};
use super::testmap::TestId;

mod calls;
mod verdicts;
pub use calls::{fault_limit, set_fault, test_calls};
pub(crate) use calls::{faults_now, on_call};
pub(crate) use verdicts::*;

/// How often a starting service is probed.
const STARTING_POLL: Duration = Duration::from_millis(200);
/// How long after a failure a probe that finds its service down still
/// names that service on it.
const PROBE_LAG: Duration = Duration::from_secs(2);

fn index(model: &Model, name: &str) -> Option<usize> {
    model.services.iter().position(|s| s.spec.name == name)
}

/// The services a run with this filterset needs: those gating a test of
/// the catalog that the filterset selects (every service while the
/// catalog is empty, or the filterset is not one this module reads).
pub fn needed(model: &Model, filterset: Option<&str>) -> Vec<usize> {
    if model.services.is_empty() {
        return Vec::new();
    }
    let selection = match filterset.map(Filter::parse) {
        None => Some(Filter::All),
        Some(Ok(f)) => Some(f),
        Some(Err(_)) => None,
    };
    let (Some(selection), false) = (selection, model.catalog.suites.is_empty()) else {
        return (0..model.services.len()).collect();
    };
    let ws = &model.workspace;
    (0..model.services.len())
        .filter(|&i| {
            let spec = &model.services[i].spec;
            model.catalog.suites.iter().any(|s| {
                s.tests.iter().any(|t| {
                    let subject = Subject::of(s, &t.name);
                    !t.ignored && selection.matches(ws, &subject) && spec.gates(ws, &subject)
                })
            })
        })
        .collect()
}

/// Probes service `i` after `after`, starting a new chain of probes (an
/// older one's answer no longer schedules the next).
pub fn probe(model: &mut Model, i: usize, after: Duration, fx: &mut Vec<Effect>) {
    let s = &mut model.services[i];
    s.token += 1;
    fx.push(Effect::Probe {
        service: s.spec.name.clone(),
        token: s.token,
        check: s.spec.check.clone(),
        timeout: s.spec.timeout,
        after,
    });
}

/// nextest's run starts, and beside it the doc lane of a run that has one.
fn start_tests(model: &mut Model, run: RunId, filterset: Option<String>, fx: &mut Vec<Effect>) {
    fx.push(Effect::Run { run, filterset });
    let Some(r) = model.run_mut(run) else { return };
    if !r.doc_packages.is_empty() && r.doc_lane == DocLane::Idle {
        r.doc_lane = DocLane::Running;
        fx.push(Effect::Doctests {
            run,
            packages: r.doc_packages.clone(),
            filters: r.doc_filters.clone(),
        });
    }
}

/// Takes the place of `Effect::Run` as a run starts: when its tests need
/// services, they are probed first and the run waits for their answers.
pub(crate) fn hold_run(model: &mut Model, run: RunId, filterset: Option<String>, fx: &mut Vec<Effect>) {
    let needed = needed(model, filterset.as_deref());
    if needed.is_empty() {
        start_tests(model, run, filterset, fx);
        return;
    }
    let names: Vec<String> = needed.iter().map(|&i| model.services[i].spec.name.clone()).collect();
    let Some(r) = model.run_mut(run) else { return };
    r.awaiting_services = names.clone();
    r.services_needed = names;
    r.services = ServiceWait::Waiting(filterset);
    for i in needed {
        probe(model, i, Duration::ZERO, fx);
    }
}

/// Whether the run is still waiting for its services (no `nextest run`
/// has been started for it).
pub fn waiting(model: &Model, run: RunId) -> bool {
    model
        .runs
        .last()
        .is_some_and(|r| r.number == run && matches!(r.services, ServiceWait::Waiting(_)))
}

/// A service's `start` command could not be run.
pub(crate) fn on_start_failed(model: &mut Model, service: &str, error: String, at: Duration, fx: &mut Vec<Effect>) {
    let Some(i) = index(model, service) else { return };
    let s = &mut model.services[i];
    s.starting_until = None;
    s.start_error = Some(error.clone());
    fx.push(Effect::emit(Report::Warning {
        run: model.runs.last().map_or(RunId(0), |r| r.number),
        message: format!("service `{service}` could not be started: {error}"),
    }));
    answered(model, i, at, fx);
}

/// A probe came back.
pub(crate) fn on_probed(
    model: &mut Model,
    service: &str,
    token: u64,
    probe_result: Probe,
    at: Duration,
    fx: &mut Vec<Effect>,
) {
    let Some(i) = index(model, service) else { return };
    let was_blocking = model.services[i].health.blocks();
    let change = model.services[i].observe(&probe_result, at);
    if let Some(c) = &change {
        let s = &model.services[i];
        fx.push(Effect::emit(Report::Service {
            name: s.spec.name.clone(),
            from: c.from,
            to: c.to,
            at_s: secs(at),
            latency_ms: Some(ms(probe_result.latency)),
            error: probe_result.error.clone(),
        }));
    }
    let awaited = model
        .runs
        .last()
        .is_some_and(|r| r.is_active() && r.awaiting_services.iter().any(|n| n == service));
    let down = model.services[i].health.blocks();
    if down && awaited {
        let tried = model
            .runs
            .last()
            .is_some_and(|r| r.start_tried.iter().any(|n| n == service));
        if let (Some(argv), false, None) = (
            model.services[i].spec.start.clone(),
            tried,
            model.services[i].starting_until,
        ) {
            if let Some(r) = model.runs.last_mut() {
                r.start_tried.push(service.to_owned());
            }
            start(model, i, argv, at, fx);
            return;
        }
    }
    if let Some(until) = model.services[i].starting_until {
        if !down {
            model.services[i].starting_until = None;
        } else if at < until {
            probe(model, i, STARTING_POLL, fx);
            return;
        } else {
            let s = &mut model.services[i];
            s.starting_until = None;
            s.start_error = Some(format!(
                "not healthy {:.0} s after `{}`{}",
                s.spec.start_timeout.as_secs_f64(),
                s.spec.start.as_deref().unwrap_or_default().join(" "),
                s.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            ));
        }
    }
    if awaited {
        answered(model, i, at, fx);
    }
    let s = &model.services[i];
    if token == s.token && (model.watching || model.active_run().is_some()) {
        let interval = s.spec.interval;
        probe(model, i, interval, fx);
    }
    if was_blocking && model.services[i].health.is_up() && !model.services[i].blocked.is_empty() {
        model.services[i].rerun_owed = true;
    }
}

/// Runs the service's `start` command and polls it until it is healthy or
/// its `start_timeout` has passed.
pub fn start(model: &mut Model, i: usize, argv: Vec<String>, at: Duration, fx: &mut Vec<Effect>) {
    let s = &mut model.services[i];
    let restart = s.started;
    s.started = true;
    s.start_error = None;
    s.starting_until = Some(at + s.spec.start_timeout);
    fx.push(Effect::StartService {
        service: s.spec.name.clone(),
        argv,
        restart,
    });
    probe(model, i, STARTING_POLL, fx);
}

/// Service `i` has answered for the run waiting on it; once all have, the
/// run's tests start, without those of services that are down.
fn answered(model: &mut Model, i: usize, at: Duration, fx: &mut Vec<Effect>) {
    let name = model.services[i].spec.name.clone();
    let Some(r) = model.runs.last_mut().filter(|r| r.is_active()) else {
        return;
    };
    r.awaiting_services.retain(|n| *n != name);
    if !r.awaiting_services.is_empty() {
        return;
    }
    let ServiceWait::Waiting(filterset) = &r.services else {
        return;
    };
    let mut filterset = filterset.clone();
    r.services = ServiceWait::Settled;
    let run = r.number;
    let mut blocked = Vec::new();
    let mut warnings = Vec::new();
    for name in r.services_needed.clone() {
        let Some(s) = model.services.iter().find(|s| s.spec.name == name) else {
            continue;
        };
        if s.health.blocks() {
            let without = format!("not ({})", s.spec.needed_by);
            filterset = Some(match filterset {
                None => without,
                Some(f) => format!("({f}) & {without}"),
            });
            blocked.push(name);
        } else if s.health == Health::Degraded {
            warnings.push(format!("{}; its tests run anyway, and may fail for it", s.why()));
        }
    }
    let Some(r) = model.run_mut(run) else { return };
    r.blocked_by = blocked;
    for w in warnings {
        r.warnings.push(w.clone());
        fx.push(Effect::emit(Report::Warning { run, message: w }));
    }
    let listed = r.phase.listed();
    start_tests(model, run, filterset, fx);
    if listed {
        mark_blocked(model, run, at, fx);
    }
}
