//! A service's proxy in the core: the faults it can inject, the calls it
//! saw and what they add up to. Pure: the proxy itself is an adapter.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::glob::Glob;
use super::testmap::TestId;

/// `[[service]] proxy = { listen, to }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySpec {
    /// `127.0.0.1:18080`: an address the config checked (loopback unless
    /// `allow_remote`); the adapter binds and connects it.
    pub listen: String,
    pub to: String,
    /// Requests are parsed as HTTP/1.1 (the service's check is HTTP);
    /// otherwise connections are forwarded as TCP.
    pub http: bool,
    /// The check's path (HTTP): what `health:degraded` answers.
    pub health_path: Option<String>,
    /// Paths answered from templates while the service cannot be reached.
    pub stub: Vec<Stub>,
}

/// `stub = { "/health" = { status = 200, body = '…' } }`: one path's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stub {
    pub path: String,
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl ProxySpec {
    /// The stub's answer for a request path (its query left aside).
    pub fn stub_for(&self, path: &str) -> Option<&Stub> {
        let bare = path.split('?').next().unwrap_or(path);
        self.stub.iter().find(|s| s.path == bare)
    }
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Each answer waits this long (± `jitter`).
    Latency { delay: Duration, jitter: Duration },
    /// Requests are answered with this status, not forwarded.
    Status(u16),
    /// The proxy stops listening: connections are refused.
    Refused,
    /// Connections are reset in mid-stream (after the answer's first bytes).
    Reset,
    /// Requests are read and never answered, until the client gives up.
    Hang,
    /// Bytes each way, per second.
    Bandwidth(u64),
    /// The health check answers `degraded` (the proxy answers the check's
    /// path so; vigil's own probe reads it so).
    HealthDegraded,
}

/// A fault and where it applies.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// HTTP paths it applies to (`None`: every path).
    pub path: Option<Glob>,
    /// The share of requests (or connections) it applies to, 0–1.
    pub probability: f64,
    /// A delay longer than the gated tests' limit is meant.
    pub allow_timeouts: bool,
}

impl Fault {
    /// `latency:500ms`, `status:503`, `refused`, `reset`, `hang`,
    /// `bandwidth:10kb`; then options after commas: `jitter:100ms`,
    /// `path:/v2/*`, `probability:0.5`, `allow_timeouts`.
    pub fn parse(text: &str) -> Result<Fault, String> {
        let mut parts = text.split(',').map(str::trim);
        let head = parts.next().unwrap_or("");
        let (name, value) = match head.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (head, None),
        };
        let need = |what: &str| value.ok_or_else(|| format!("{head:?}: `{name}` needs a value, like `{name}:{what}`"));
        let kind = match name {
            "latency" => FaultKind::Latency {
                delay: duration(need("500ms")?)?,
                jitter: Duration::ZERO,
            },
            "status" => {
                let v = need("503")?;
                let code: u16 = v
                    .parse()
                    .map_err(|_| format!("{head:?}: {v:?} is not an HTTP status"))?;
                if !(100..=599).contains(&code) {
                    return Err(format!("{head:?}: {code} is not an HTTP status (100–599)"));
                }
                FaultKind::Status(code)
            }
            "refused" => FaultKind::Refused,
            "reset" => FaultKind::Reset,
            "hang" => FaultKind::Hang,
            "bandwidth" => FaultKind::Bandwidth(rate(need("10kb")?)?),
            "health" if value == Some("degraded") => FaultKind::HealthDegraded,
            "health" => return Err(format!("{head:?}: the health fault is `health:degraded`")),
            other => return Err(format!(
                "{other:?} is not a fault: one of latency:DURATION, status:CODE, refused, reset, hang, bandwidth:SIZE, health:degraded"
            )),
        };
        let mut fault = Fault {
            kind,
            path: None,
            probability: 1.0,
            allow_timeouts: false,
        };
        for option in parts {
            let (key, v) = option.split_once(':').unwrap_or((option, ""));
            match key {
                "jitter" => match &mut fault.kind {
                    FaultKind::Latency { jitter, .. } => *jitter = duration(v)?,
                    _ => return Err(format!("{text:?}: `jitter` goes with `latency` only")),
                },
                "path" if !v.is_empty() => fault.path = Some(Glob::new(v)),
                "probability" => {
                    fault.probability = v
                        .parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=1.0).contains(p))
                        .ok_or_else(|| format!("{text:?}: probability {v:?} is not a number from 0 to 1"))?
                }
                "allow_timeouts" => fault.allow_timeouts = true,
                _ => {
                    return Err(format!(
                    "{text:?}: {option:?} is not an option (jitter:DURATION, path:GLOB, probability:P, allow_timeouts)"
                ))
                }
            }
        }
        Ok(fault)
    }

    /// What it is called in headers, JSON and the history: `latency:500ms`.
    pub fn label(&self) -> String {
        let mut s = match &self.kind {
            FaultKind::Latency { delay, jitter } if jitter.is_zero() => format!("latency:{}", human(*delay)),
            FaultKind::Latency { delay, jitter } => format!("latency:{}~{}", human(*delay), human(*jitter)),
            FaultKind::Status(c) => format!("status:{c}"),
            FaultKind::Refused => "refused".to_owned(),
            FaultKind::Reset => "reset".to_owned(),
            FaultKind::Hang => "hang".to_owned(),
            FaultKind::Bandwidth(b) => format!("bandwidth:{}", size(*b)),
            FaultKind::HealthDegraded => "health:degraded".to_owned(),
        };
        if let Some(p) = &self.path {
            s.push_str(&format!(" {}", p.as_str()));
        }
        if self.probability < 1.0 {
            s.push_str(&format!(" p={}", self.probability));
        }
        if self.allow_timeouts {
            s.push_str(" allow_timeouts");
        }
        s
    }

    /// The longest a call can be held back by it (`None`: without end).
    pub fn holds(&self) -> Option<Duration> {
        match &self.kind {
            FaultKind::Latency { delay, jitter } => Some(*delay + *jitter),
            FaultKind::Hang => None,
            _ => Some(Duration::ZERO),
        }
    }

    /// Why a run may not use it: the calls it holds back outlast `limit`,
    /// the gated tests' time budget or nextest's slow-timeout ("response
    /// delays must not exceed test timeout thresholds").
    pub fn refusal(&self, service: &str, limit: Duration, limit_from: &str) -> Option<String> {
        if self.allow_timeouts {
            return None;
        }
        let held = match self.holds() {
            Some(d) if d <= limit => return None,
            Some(d) => format!("holds calls up to {}", human(d)),
            None => "holds calls until the client gives up".to_owned(),
        };
        Some(format!(
            "fault `{}` on `{service}` {held}, longer than {limit_from} ({}); \
             add `,allow_timeouts` if that is what the run is for",
            self.label(),
            human(limit)
        ))
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}

/// `10kb` (kilobytes per second), `1mb`, `512b`.
fn rate(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a rate like \"10kb\" (per second)"))?;
    let per = match unit.trim_end_matches("/s") {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "kib" => 1024.0,
        "mb" | "m" => 1e6,
        "mib" => 1024.0 * 1024.0,
        _ => return Err(format!("{text:?}: the unit is one of b, kb, mb")),
    };
    let bytes = (n * per) as u64;
    if bytes == 0 {
        return Err(format!("{text:?}: a bandwidth must be more than zero"));
    }
    Ok(bytes)
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 && d >= Duration::from_secs(1) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn size(b: u64) -> String {
    if b % 1_000_000 == 0 {
        format!("{}mb", b / 1_000_000)
    } else if b % 1000 == 0 {
        format!("{}kb", b / 1000)
    } else {
        format!("{b}b")
    }
}

/// `run_started.faults[]`, `run_finished.faults[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultLabel {
    pub service: String,
    pub kind: String,
}

/// How a connection through the proxy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// Either side closed it.
    Closed,
    /// The proxy reset it (the `reset` fault).
    Reset,
    /// Held until the client gave up (the `hang` fault).
    Hung,
    /// The service could not be reached.
    Unreachable,
    /// An error on either side.
    Error,
}

/// Who opened a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub pid: i32,
    /// nextest's names for the test the process belongs to (its own, or
    /// its parent test's, from the environment it inherited).
    pub binary_id: Option<String>,
    pub test: Option<String>,
}

/// One HTTP request, or one TCP connection, through a proxy.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub service: String,
    /// When it started (vigil's clock).
    pub at: Duration,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub latency: Duration,
    /// To the service, and back.
    pub sent: u64,
    pub received: u64,
    pub fault: Option<String>,
    pub ended: Ended,
    pub caller: Option<Caller>,
    /// Answered by the proxy's stub (the service was not there).
    pub stub: bool,
}

impl Call {
    /// An error from the test's side: a 5xx, a reset, a hang, no service.
    pub fn is_error(&self) -> bool {
        self.status.is_some_and(|s| s >= 500) || !matches!(self.ended, Ended::Closed)
    }

    /// `GET /health 200 2 ms`, `POST /v2/send 503 (injected)`, `tcp 120 B`.
    pub fn describe(&self) -> String {
        let what = match (&self.method, &self.path) {
            (Some(m), Some(p)) => format!("{m} {p}"),
            _ => format!("tcp {} B", self.sent + self.received),
        };
        let mut status = self.status.map(|s| format!(" {s}")).unwrap_or_default();
        if self.ended != Ended::Closed {
            let e = serde_json::to_value(self.ended).ok();
            status.push_str(&format!(" {}", e.as_ref().and_then(|v| v.as_str()).unwrap_or("")));
        }
        let mut s = format!("{what}{status} {} ms", self.latency.as_millis());
        if let Some(f) = &self.fault {
            s.push_str(&format!(" ({f}, injected)"));
        }
        if self.stub {
            s.push_str(" (stub)");
        }
        s
    }
}

/// `run_finished.services[].calls`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    pub calls: usize,
    pub errors: usize,
    /// Calls a fault changed.
    pub injected: usize,
    /// Calls tied to a test.
    pub attributed: usize,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub bytes: u64,
    /// Calls per test, most first.
    pub by_test: Vec<TestCalls>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCalls {
    pub binary_id: String,
    pub name: String,
    pub calls: usize,
    pub errors: usize,
}

/// `vigil run --faults-matrix`: the gated tests once per configured
/// fault (and once without), test by fault.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// `none` first, then `service=kind` per configured fault.
    pub faults: Vec<String>,
    /// Faults not run, and why (longer than the tests' limit).
    pub refused: Vec<(String, String)>,
    pub tests: Vec<MatrixRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatrixRow {
    pub binary_id: String,
    pub name: String,
    /// Per fault, in `faults`' order: `holds`, `fails`, `hangs` (past its
    /// time budget), `blocked`, `skipped`, `—` (not run).
    pub results: Vec<String>,
}

impl Matrix {
    /// One column's results: each test's final state and duration.
    pub fn add(
        &mut self,
        fault: &str,
        results: &[(String, String, String, Option<f64>)],
        limit: impl Fn(&str, &str) -> Option<f64>,
    ) {
        let col = self.faults.len();
        self.faults.push(fault.to_owned());
        for row in &mut self.tests {
            row.results.push("—".into());
        }
        for (binary_id, name, state, duration) in results {
            let verdict = match state.as_str() {
                _ if duration.zip(limit(binary_id, name)).is_some_and(|(d, l)| d > l) => "hangs",
                "passed" | "xfail" => "holds",
                "failed" | "xpass" => "fails",
                "timed_out" => "hangs",
                other => other,
            };
            let i = match self
                .tests
                .iter()
                .position(|r| r.binary_id == *binary_id && r.name == *name)
            {
                Some(i) => i,
                None => {
                    self.tests.push(MatrixRow {
                        binary_id: binary_id.clone(),
                        name: name.clone(),
                        results: vec!["—".into(); col + 1],
                    });
                    self.tests.len() - 1
                }
            };
            self.tests[i].results[col] = verdict.to_owned();
        }
    }

    /// The table, for a terminal.
    pub fn table(&self) -> String {
        let width = self
            .tests
            .iter()
            .map(|r| r.binary_id.len() + r.name.len() + 1)
            .max()
            .unwrap_or(4)
            .max(4);
        let mut out = format!("{:width$}", "test");
        for f in &self.faults {
            out.push_str(&format!("  {f:>w$}", w = f.len().max(6)));
        }
        out.push('\n');
        for r in &self.tests {
            out.push_str(&format!("{:width$}", format!("{} {}", r.binary_id, r.name)));
            for (f, v) in self.faults.iter().zip(&r.results) {
                out.push_str(&format!("  {v:>w$}", w = f.len().max(6)));
            }
            out.push('\n');
        }
        for (f, why) in &self.refused {
            out.push_str(&format!("not run: {f}: {why}\n"));
        }
        out
    }
}

/// The calls kept per service.
pub const CALLS_KEPT: usize = 1000;

/// A service's calls: the latest `CALLS_KEPT`, and this run's tally.
#[derive(Clone, Debug, Default)]
pub struct Calls {
    pub recent: VecDeque<(Call, Option<TestId>)>,
    /// Since the current run started.
    pub run: Vec<(u32, Option<TestId>, bool, bool, u64)>,
}

impl Calls {
    pub fn push(&mut self, call: Call, test: Option<TestId>) {
        let latency_us = call.latency.as_micros().min(u32::MAX as u128) as u32;
        self.run.push((
            latency_us,
            test.clone(),
            call.is_error(),
            call.fault.is_some(),
            call.sent + call.received,
        ));
        // The run's tally is bounded too: its latest calls.
        if self.run.len() > 100 * CALLS_KEPT {
            self.run.drain(..CALLS_KEPT);
        }
        self.recent.push_back((call, test));
        while self.recent.len() > CALLS_KEPT {
            self.recent.pop_front();
        }
    }

    /// A test's calls among the recent ones.
    pub fn of<'a>(&'a self, test: &'a TestId) -> impl Iterator<Item = &'a Call> + 'a {
        self.recent
            .iter()
            .filter(move |(_, t)| t.as_ref() == Some(test))
            .map(|(c, _)| c)
    }

    pub fn summary(&self) -> CallSummary {
        let mut lat: Vec<u32> = self.run.iter().map(|r| r.0).collect();
        lat.sort_unstable();
        let pct = |p: f64| -> Option<f64> {
            if lat.is_empty() {
                return None;
            }
            let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
            Some((lat[i] as f64 / 1000.0 * 1000.0).round() / 1000.0)
        };
        let mut by: std::collections::BTreeMap<&TestId, (usize, usize)> = Default::default();
        for (_, t, err, _, _) in &self.run {
            if let Some(t) = t {
                let e = by.entry(t).or_default();
                e.0 += 1;
                e.1 += *err as usize;
            }
        }
        let mut by_test: Vec<TestCalls> = by
            .into_iter()
            .map(|(t, (calls, errors))| TestCalls {
                binary_id: t.0.clone(),
                name: t.1.clone(),
                calls,
                errors,
            })
            .collect();
        by_test.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.name.cmp(&b.name)));
        CallSummary {
            calls: self.run.len(),
            errors: self.run.iter().filter(|r| r.2).count(),
            injected: self.run.iter().filter(|r| r.3).count(),
            attributed: self.run.iter().filter(|r| r.1.is_some()).count(),
            latency_p50_ms: pct(0.5),
            latency_p99_ms: pct(0.99),
            bytes: self.run.iter().map(|r| r.4).sum(),
            by_test,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_with_their_options_and_labels() {
        let f = Fault::parse("latency:500ms,jitter:100ms").unwrap();
        assert_eq!(
            f.kind,
            FaultKind::Latency {
                delay: Duration::from_millis(500),
                jitter: Duration::from_millis(100)
            }
        );
        assert_eq!(f.label(), "latency:500ms~100ms");
        let s = Fault::parse("status:503,path:/v2/*,probability:0.5").unwrap();
        assert_eq!(s.label(), "status:503 /v2/* p=0.5");
        assert_eq!(
            Fault::parse("bandwidth:10kb").unwrap().kind,
            FaultKind::Bandwidth(10_000)
        );
        assert_eq!(Fault::parse("health:degraded").unwrap().kind, FaultKind::HealthDegraded);
        assert!(Fault::parse("health:down").is_err());
        for k in ["refused", "reset", "hang"] {
            assert_eq!(Fault::parse(k).unwrap().label(), k);
        }
        assert!(Fault::parse("hang,allow_timeouts").unwrap().allow_timeouts);
        for bad in [
            "latency",
            "status:42",
            "status:abc",
            "slow",
            "reset,jitter:1s",
            "status:503,probability:2",
            "bandwidth:0kb",
            "hang,loud",
        ] {
            assert!(Fault::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn faults_longer_than_the_limit_are_refused_unless_meant() {
        let limit = Duration::from_secs(2);
        let long = Fault::parse("latency:3s").unwrap();
        let why = long.refusal("bridge", limit, "the gated tests' budget").unwrap();
        assert!(
            why.contains("holds calls up to 3s, longer than the gated tests' budget (2s)"),
            "{why}"
        );
        assert_eq!(
            Fault::parse("latency:1s,jitter:500ms")
                .unwrap()
                .refusal("b", limit, "x"),
            None
        );
        assert!(Fault::parse("hang").unwrap().refusal("b", limit, "x").is_some());
        assert_eq!(
            Fault::parse("hang,allow_timeouts").unwrap().refusal("b", limit, "x"),
            None
        );
        assert_eq!(Fault::parse("status:503").unwrap().refusal("b", limit, "x"), None);
    }

    fn call(status: Option<u16>, ended: Ended, ms: u64) -> Call {
        Call {
            service: "bridge".into(),
            at: Duration::ZERO,
            method: status.map(|_| "GET".into()),
            path: status.map(|_| "/x".into()),
            status,
            latency: Duration::from_millis(ms),
            sent: 10,
            received: 20,
            fault: (status == Some(503)).then(|| "status:503".into()),
            ended,
            caller: None,
            stub: false,
        }
    }

    #[test]
    fn the_matrix_reads_each_column_against_the_budgets() {
        let mut m = Matrix::default();
        let r = |n: &str, s: &str, d: f64| ("svc::bridge".to_owned(), n.to_owned(), s.to_owned(), Some(d));
        m.add("none", &[r("a", "passed", 0.1), r("b", "passed", 0.1)], |_, _| {
            Some(2.0)
        });
        m.add(
            "bridge=hang",
            &[r("a", "failed", 3.0), r("b", "passed", 0.5)],
            |_, _| Some(2.0),
        );
        m.add("bridge=reset", &[r("a", "failed", 0.1)], |_, _| Some(2.0));
        let rows: Vec<Vec<&str>> = m
            .tests
            .iter()
            .map(|t| t.results.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(rows, [vec!["holds", "hangs", "fails"], vec!["holds", "holds", "—"]]);
        assert!(m.table().contains("bridge=hang"));
    }

    #[test]
    fn calls_are_bounded_and_summed_per_test() {
        let mut c = Calls::default();
        let a = TestId("svc::bridge".into(), "echoes".into());
        for i in 0..CALLS_KEPT + 5 {
            c.push(call(Some(200), Ended::Closed, i as u64 % 10), Some(a.clone()));
        }
        c.push(call(Some(503), Ended::Closed, 1), None);
        c.push(call(None, Ended::Reset, 1), Some(a.clone()));
        assert_eq!(c.recent.len(), CALLS_KEPT);
        let s = c.summary();
        assert_eq!(
            (s.calls, s.errors, s.injected, s.attributed),
            (CALLS_KEPT + 7, 2, 1, CALLS_KEPT + 6)
        );
        assert_eq!(s.by_test[0].calls, CALLS_KEPT + 6);
        assert_eq!(s.by_test[0].errors, 1);
        assert_eq!(s.bytes, 30 * (CALLS_KEPT as u64 + 7));
        assert_eq!(
            call(Some(503), Ended::Closed, 2).describe(),
            "GET /x 503 2 ms (status:503, injected)"
        );
        assert_eq!(call(None, Ended::Reset, 4).describe(), "tcp 30 B reset 4 ms");
    }
}
