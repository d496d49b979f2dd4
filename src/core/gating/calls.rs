//! Calls through services' proxies: each tied to the test that made it
//! and kept (bounded); the faults in effect, as runs are labelled with them.

use super::*;
use crate::core::faults::{Call, Fault, FaultLabel};
use crate::core::report::CallReport;

/// The faults in effect now, as a run is labelled with them.
pub(crate) fn faults_now(model: &Model) -> Vec<FaultLabel> {
    model
        .services
        .iter()
        .filter_map(|s| {
            Some(FaultLabel {
                service: s.spec.name.clone(),
                kind: s.fault.as_ref()?.label(),
            })
        })
        .collect()
}

/// The limit a fault may hold calls for: the gated tests' tightest time
/// budget, else nextest's slow-timeout (60 s unless configured); and what
/// it is called.
pub fn fault_limit(model: &Model, service: usize) -> (Duration, String) {
    let s = &model.services[service];
    let ws = &model.workspace;
    let mut tightest: Option<Duration> = None;
    for suite in &model.catalog.suites {
        for t in &suite.tests {
            if s.spec.gates(ws, &Subject::of(suite, &t.name)) {
                if let Some(l) = model.rules.budgets.test_limit(&suite.binary_id, &t.name) {
                    tightest = Some(tightest.map_or(l, |x: Duration| x.min(l)));
                }
            }
        }
    }
    match tightest {
        Some(l) => (l, "the gated tests' time budget".to_owned()),
        None => (
            model.rules.slow_timeout.unwrap_or(Duration::from_secs(60)),
            "nextest's slow-timeout".to_owned(),
        ),
    }
}

/// Puts `fault` in effect on `service` (`None`: none), unless it would
/// hold calls longer than the gated tests may take: then why not.
pub fn set_fault(model: &mut Model, service: &str, fault: Option<Fault>, fx: &mut Vec<Effect>) -> Result<(), String> {
    let Some(i) = index(model, service) else {
        return Err(format!("no service is called `{service}`"));
    };
    if model.services[i].spec.proxy.is_none() {
        return Err(format!("service `{service}` has no proxy to inject faults with"));
    }
    if let Some(f) = &fault {
        let (limit, from) = fault_limit(model, i);
        if let Some(why) = f.refusal(service, limit, &from) {
            return Err(why);
        }
    }
    model.services[i].fault = fault.clone();
    fx.push(Effect::SetFault {
        service: service.to_owned(),
        fault,
    });
    Ok(())
}

/// A call came back from a proxy.
pub(crate) fn on_call(model: &mut Model, call: Call, fx: &mut Vec<Effect>) {
    let Some(i) = index(model, &call.service) else { return };
    let by_socket = call
        .caller
        .as_ref()
        .and_then(|c| Some(TestId(c.binary_id.clone()?, c.test.clone()?)));
    let (test, how) = match by_socket {
        Some(t) => (Some(t), Some("socket")),
        None => match running_gated(model, i).as_slice() {
            [one] => (Some(one.clone()), Some("during")),
            _ => (None, None),
        },
    };
    if model.rules.emit_calls {
        fx.push(Effect::emit(Report::ServiceCall(Box::new(CallReport {
            service: call.service.clone(),
            test: test.as_ref().map(|t| TestRef {
                binary_id: t.0.clone(),
                name: t.1.clone(),
            }),
            attributed: how.map(str::to_owned),
            method: call.method.clone(),
            path: call.path.clone(),
            status: call.status,
            latency_ms: ms(call.latency),
            bytes: call.sent + call.received,
            bytes_sent: call.sent,
            bytes_received: call.received,
            fault: call.fault.clone(),
            ended: call.ended,
            at_s: secs(call.at),
            pid: call.caller.as_ref().map(|c| c.pid),
            stub: call.stub,
        }))));
    }
    model.services[i].calls.push(call, test);
}

/// The tests service `i` gates that are running now.
fn running_gated(model: &Model, i: usize) -> Vec<TestId> {
    let s = &model.services[i];
    let mut out = Vec::new();
    for suite in &model.catalog.suites {
        for t in suite.tests.iter().filter(|t| t.state == TestState::Running) {
            if s.spec.gates(&model.workspace, &Subject::of(suite, &t.name)) {
                out.push(TestId(suite.binary_id.to_string(), t.name.clone()));
            }
        }
    }
    out
}

/// "called `bridge` 3×: GET /health 200 2 ms, POST /v2/send 503 (status:503, injected)"
pub fn test_calls(model: &Model, test: &TestId) -> Vec<String> {
    let mut out = Vec::new();
    for s in &model.services {
        let calls: Vec<&Call> = s.calls.of(test).collect();
        if calls.is_empty() {
            continue;
        }
        let shown: Vec<String> = calls.iter().rev().take(5).rev().map(|c| c.describe()).collect();
        let more = if calls.len() > 5 { ", …" } else { "" };
        out.push(format!(
            "called `{}` {}×: {}{more}",
            s.spec.name,
            calls.len(),
            shown.join(", ")
        ));
    }
    out
}
