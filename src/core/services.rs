//! Backends the tests need (`[[service]]`): how each is checked, its health
//! over time, and which tests it gates. Pure: probes and start commands are
//! effects, their results messages.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::catalog::{Catalog, Workspace};
use super::filterset::{Filter, Subject};
use super::testmap::TestKey;

/// How a service is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// GET; healthy on 2xx, unless a JSON body's `status` says otherwise.
    Http {
        url: String,
        host: String,
        port: u16,
        path: String,
    },
    /// A TCP connection is accepted.
    Tcp { host: String, port: u16 },
    /// The command exits 0 (run as written, no shell).
    Command(Vec<String>),
}

impl Check {
    pub(crate) fn describe(&self) -> String {
        match self {
            Check::Http { url, .. } => url.clone(),
            Check::Tcp { host, port } => format!("tcp://{host}:{port}"),
            Check::Command(argv) => argv.join(" "),
        }
    }
}

/// One `[[service]]` entry, validated.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub check: Check,
    /// The filterset as written, and read.
    pub needed_by: String,
    pub filter: Filter,
    pub start: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    /// One probe's limit.
    pub timeout: Duration,
    /// Between probes while watching (and while a run is in flight).
    pub interval: Duration,
    /// How long a started service has to become healthy.
    pub start_timeout: Duration,
    /// Tests it blocks do not fail the gate.
    pub allow_blocked: bool,
    /// vigil's proxy in front of it (`None`: the tests call it directly).
    pub proxy: Option<super::faults::ProxySpec>,
    /// The faults its proxy can inject, as configured.
    pub faults: Vec<super::faults::Fault>,
}

impl ServiceSpec {
    pub fn gates(&self, ws: &Workspace, s: &Subject) -> bool {
        self.filter.matches(ws, s)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    #[default]
    Unknown,
    Healthy,
    /// Up, but says it is degraded: its tests run, with a warning.
    Degraded,
    /// Answers, but not healthy (non-2xx, `status: unhealthy`, a check
    /// command that failed): its tests are blocked.
    Unhealthy,
    /// No answer (refused, timed out, unresolvable): its tests are blocked.
    Unreachable,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
            Health::Unreachable => "unreachable",
        }
    }

    /// Its tests cannot run.
    pub fn blocks(self) -> bool {
        matches!(self, Health::Unhealthy | Health::Unreachable)
    }

    pub(crate) fn is_up(self) -> bool {
        matches!(self, Health::Healthy | Health::Degraded)
    }
}

/// What one probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub health: Health,
    pub latency: Duration,
    /// Why it is not healthy (or what the degraded service says).
    pub error: Option<String>,
    /// The service was not there: its proxy's stub answered the check.
    pub stub: bool,
}

/// A state change, at clock time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub from: Health,
    pub to: Health,
    pub at: Duration,
}

/// Latencies kept for the sparkline.
pub(crate) const LATENCIES_KEPT: usize = 40;
const CHANGES_KEPT: usize = 100;

/// A service and what vigil knows of it.
#[derive(Clone, Debug)]
pub struct Service {
    pub spec: ServiceSpec,
    pub health: Health,
    /// Every transition (the latest `CHANGES_KEPT`).
    pub changes: Vec<Change>,
    pub latency: Option<Duration>,
    /// The latest probes' latencies, in microseconds.
    pub latencies: VecDeque<u32>,
    pub error: Option<String>,
    pub last_probe: Option<Duration>,
    /// Probes come back with the token they were asked with; only the
    /// latest schedules the next one.
    pub token: u64,
    /// vigil started it this session (and stops it on exit).
    pub started: bool,
    /// Started and not yet healthy: probed often until this time.
    pub starting_until: Option<Duration>,
    /// Why the last start failed.
    pub start_error: Option<String>,
    /// The tests it blocked that have not run since.
    pub blocked: Vec<TestKey>,
    /// It came back while it had blocked tests: they rerun when idle.
    pub rerun_owed: bool,
    /// When a failure of a test it gates last asked for a probe.
    pub asked: Option<Duration>,
    /// The fault its proxy injects now.
    pub fault: Option<super::faults::Fault>,
    /// The calls through its proxy.
    pub calls: super::faults::Calls,
    /// Its latest probe was answered by its proxy's stub.
    pub stubbed: bool,
}

impl Service {
    pub fn new(spec: ServiceSpec) -> Self {
        Self {
            spec,
            health: Health::Unknown,
            changes: Vec::new(),
            latency: None,
            latencies: VecDeque::new(),
            error: None,
            last_probe: None,
            token: 0,
            started: false,
            starting_until: None,
            start_error: None,
            blocked: Vec::new(),
            rerun_owed: false,
            asked: None,
            fault: None,
            calls: Default::default(),
            stubbed: false,
        }
    }

    /// Takes a probe in; returns the transition when the state changed.
    pub fn observe(&mut self, probe: &Probe, at: Duration) -> Option<Change> {
        self.last_probe = Some(at);
        self.latency = Some(probe.latency);
        self.latencies
            .push_back(probe.latency.as_micros().min(u32::MAX as u128) as u32);
        while self.latencies.len() > LATENCIES_KEPT {
            self.latencies.pop_front();
        }
        self.error = probe.error.clone();
        self.stubbed = probe.stub;
        if probe.health.is_up() {
            self.starting_until = None;
            self.start_error = None;
        }
        if probe.health == self.health {
            return None;
        }
        let change = Change {
            from: self.health,
            to: probe.health,
            at,
        };
        self.health = probe.health;
        self.changes.push(change.clone());
        if self.changes.len() > CHANGES_KEPT {
            self.changes.remove(0);
        }
        Some(change)
    }

    /// Since when it has been up (`None`: it is not).
    pub(crate) fn up_since(&self) -> Option<Duration> {
        if !self.health.is_up() {
            return None;
        }
        self.changes
            .iter()
            .rev()
            .take_while(|c| c.to.is_up())
            .last()
            .map(|c| c.at)
    }

    /// The tests of the catalog it gates.
    pub fn gated(&self, ws: &Workspace, catalog: &Catalog) -> Vec<TestKey> {
        let mut out = Vec::new();
        for s in &catalog.suites {
            for t in &s.tests {
                let subject = Subject::of(s, &t.name);
                if self.spec.gates(ws, &subject) {
                    out.push(super::testmap::TestId(s.binary_id.to_string(), t.name.clone()));
                }
            }
        }
        out
    }

    /// Why its tests are blocked: "`bridge` is unreachable: connection refused".
    pub fn why(&self) -> String {
        let mut s = format!("`{}` is {}", self.spec.name, self.health.as_str());
        if let Some(e) = self.start_error.as_ref().or(self.error.as_ref()) {
            s.push_str(": ");
            s.push_str(e);
        }
        s
    }

    /// The latest move to a blocking state between `from` and `to`.
    pub(crate) fn went_down(&self, from: Duration, to: Duration) -> Option<&Change> {
        self.changes
            .iter()
            .rev()
            .find(|c| c.to.blocks() && c.at >= from && c.at <= to)
    }
}

/// What a failure of a gated test says about a service that went down
/// around it: "`bridge` went unreachable 0.4 s before this failure".
pub(crate) fn failure_note(
    service: &Service,
    run_start: Duration,
    failed_at: Duration,
    probe_lag: Duration,
) -> Option<String> {
    if let Some(c) = service.went_down(run_start, failed_at) {
        return Some(format!(
            "`{}` went {} {:.1} s before this failure",
            service.spec.name,
            c.to.as_str(),
            failed_at.saturating_sub(c.at).as_secs_f64()
        ));
    }
    // Found down by a probe soon after (the failure itself asks for one).
    let c = service.went_down(failed_at, failed_at + probe_lag)?;
    Some(format!(
        "`{}` was found {} {:.1} s after this failure",
        service.spec.name,
        c.to.as_str(),
        c.at.saturating_sub(failed_at).as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "bridge".into(),
            check: Check::Tcp {
                host: "127.0.0.1".into(),
                port: 1,
            },
            needed_by: "all()".into(),
            filter: Filter::All,
            start: None,
            stop: None,
            timeout: Duration::from_secs(2),
            interval: Duration::from_secs(5),
            start_timeout: Duration::from_secs(10),
            allow_blocked: false,
            proxy: None,
            faults: Vec::new(),
        }
    }

    fn probe(health: Health, error: Option<&str>) -> Probe {
        Probe {
            health,
            latency: Duration::from_millis(3),
            error: error.map(str::to_owned),
            stub: false,
        }
    }

    #[test]
    fn transitions_are_kept_with_their_times() {
        let mut s = Service::new(spec());
        let secs = Duration::from_secs;
        assert_eq!(
            s.observe(&probe(Health::Healthy, None), secs(1)).map(|c| c.to),
            Some(Health::Healthy)
        );
        assert_eq!(s.observe(&probe(Health::Healthy, None), secs(2)), None);
        assert_eq!(s.up_since(), Some(secs(1)));
        s.observe(&probe(Health::Degraded, Some("slow disk")), secs(3));
        assert_eq!(s.up_since(), Some(secs(1)), "degraded is still up");
        let c = s
            .observe(&probe(Health::Unreachable, Some("connection refused")), secs(4))
            .unwrap();
        assert_eq!((c.from, c.to, c.at), (Health::Degraded, Health::Unreachable, secs(4)));
        assert_eq!(s.up_since(), None);
        assert_eq!(s.why(), "`bridge` is unreachable: connection refused");
        assert_eq!(s.changes.len(), 3);
        assert_eq!(s.latencies.len(), 4);
    }

    #[test]
    fn failures_name_a_service_that_went_down_around_them() {
        let mut s = Service::new(spec());
        let ms = Duration::from_millis;
        s.observe(&probe(Health::Healthy, None), ms(0));
        s.observe(&probe(Health::Unreachable, Some("refused")), ms(1600));
        assert_eq!(
            failure_note(&s, ms(0), ms(2000), ms(500)).as_deref(),
            Some("`bridge` went unreachable 0.4 s before this failure")
        );
        assert_eq!(
            failure_note(&s, ms(0), ms(1400), ms(500)).as_deref(),
            Some("`bridge` was found unreachable 0.2 s after this failure")
        );
        assert_eq!(failure_note(&s, ms(0), ms(500), ms(500)), None);
        assert_eq!(failure_note(&s, ms(1700), ms(2000), ms(100)), None, "before the run");
    }
}
