//! Services at the border: probes (HTTP on a plain TCP stream, TCP connect,
//! a check command) and the `start`/`stop` commands. Commands run as the
//! config wrote them (argv, no shell added), each in its own process group
//! with its output in `target/vigil/services/<name>.log`; what vigil
//! started it stops when it exits — normally, on a signal, or unwinding
//! from a panic — and nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::clock::Clock;
use super::process::signal_group;
use crate::core::services::{Check, Health, Probe};
use crate::core::Msg;

/// How much of an HTTP answer is read.
const BODY_KEEP: usize = 64 * 1024;
/// How long `stop` commands may take on exit.
const STOP_WAIT: Duration = Duration::from_secs(20);
/// How long a started process gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// Checks a service once, within `timeout`.
pub async fn probe(check: &Check, timeout: Duration, dir: &Path) -> Probe {
    let started = Instant::now();
    let (health, error) = match tokio::time::timeout(timeout, probe_inner(check, dir)).await {
        Ok(result) => result,
        Err(_) => (
            Health::Unreachable,
            Some(format!("no answer within {}", human(timeout))),
        ),
    };
    Probe {
        health,
        latency: started.elapsed(),
        error,
        stub: false,
    }
}

/// What the tests behind a service's proxy see of its health: with the
/// service absent, its stub's answer for the check's path; under
/// `health:degraded`, degraded.
pub fn through_proxy(
    probe: &mut Probe,
    check: &Check,
    proxy: &crate::core::faults::ProxySpec,
    fault: Option<&crate::core::faults::Fault>,
) {
    let Check::Http { path, .. } = check else { return };
    if probe.health == Health::Unreachable {
        if let Some(stub) = proxy.stub_for(path) {
            let answer = format!("HTTP/1.1 {} Stub\r\n\r\n{}", stub.status, stub.body);
            let (health, error) = judge_http(answer.as_bytes());
            let absent = probe.error.take().unwrap_or_default();
            probe.health = health;
            probe.error = Some(match error {
                Some(e) => format!("{e} (answered by its stub; the service: {absent})"),
                None => format!("answered by its stub (the service: {absent})"),
            });
            probe.stub = true;
        }
    }
    if matches!(
        fault.map(|f| &f.kind),
        Some(crate::core::faults::FaultKind::HealthDegraded)
    ) && probe.health.is_up()
    {
        probe.health = Health::Degraded;
        probe.error = Some("status \"degraded\": injected by vigil (fault health:degraded)".to_owned());
    }
}

/// "connection refused", without the "(os error 111)" a user can do nothing with.
pub(crate) fn io_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

async fn probe_inner(check: &Check, dir: &Path) -> (Health, Option<String>) {
    match check {
        Check::Tcp { host, port } => match TcpStream::connect((host.as_str(), *port)).await {
            Ok(_) => (Health::Healthy, None),
            Err(e) => (Health::Unreachable, Some(io_error(&e))),
        },
        Check::Http { host, port, path, .. } => http(host, *port, path).await,
        Check::Command(argv) => command(argv, dir).await,
    }
}

async fn http(host: &str, port: u16, path: &str) -> (Health, Option<String>) {
    let mut stream = match TcpStream::connect((host, port)).await {
        Ok(s) => s,
        Err(e) => return (Health::Unreachable, Some(io_error(&e))),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: vigil\r\nAccept: application/json, */*\r\nConnection: close\r\n\r\n"
    );
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        return (Health::Unreachable, Some(io_error(&e)));
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&chunk[..n]);
                if answer.len() >= BODY_KEEP || complete(&answer) {
                    break;
                }
            }
            Err(e) if answer.is_empty() => return (Health::Unreachable, Some(io_error(&e))),
            Err(_) => break,
        }
    }
    judge_http(&answer)
}

/// Whether an answer with a `Content-Length` has all of its body.
fn complete(answer: &[u8]) -> bool {
    let Some(end) = find(answer, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|len| answer.len() >= end + 4 + len)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An HTTP answer's health: 2xx is healthy unless a JSON body's `status`
/// says `degraded`/`warn` or `unhealthy`/`fail`/`down`; anything else is
/// unhealthy.
pub(crate) fn judge_http(answer: &[u8]) -> (Health, Option<String>) {
    let text = String::from_utf8_lossy(answer);
    let Some(status_line) = text.lines().next().filter(|l| l.starts_with("HTTP/")) else {
        return (Health::Unhealthy, Some("the answer is not HTTP".to_owned()));
    };
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (&text[..i], &text[i + 4..]),
        None => (&*text, ""),
    };
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    let said = serde_json::from_str::<serde_json::Value>(body.trim())
        .ok()
        .and_then(|v| {
            let status = v.get("status")?.as_str()?.to_owned();
            let detail = ["message", "reason", "details", "output"]
                .iter()
                .find_map(|k| v.get(*k).and_then(|d| d.as_str()).map(str::to_owned));
            Some((status, detail))
        });
    let described = |what: &str| match &said {
        Some((_, Some(detail))) => format!("{what}: {detail}"),
        _ => what.to_owned(),
    };
    if !(200..300).contains(&code) {
        let reason = status_line.splitn(3, ' ').nth(2).unwrap_or("").trim();
        return (
            Health::Unhealthy,
            Some(described(format!("HTTP {code} {reason}").trim())),
        );
    }
    match said.as_ref().map(|(s, _)| s.to_ascii_lowercase()) {
        Some(s) if s == "degraded" || s == "warn" || s == "warning" => {
            (Health::Degraded, Some(described(&format!("status {s:?}"))))
        }
        Some(s) if ["unhealthy", "fail", "down", "error", "out_of_service"].contains(&s.as_str()) => {
            (Health::Unhealthy, Some(described(&format!("status {s:?}"))))
        }
        _ => (Health::Healthy, None),
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            out.push_str(&after[..n.min(after.len())]);
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

async fn command(argv: &[String], dir: &Path) -> (Health, Option<String>) {
    let mut cmd = super::process::guarded(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let out = match cmd.output().await {
        Ok(o) => o,
        Err(e) => return (Health::Unhealthy, Some(format!("failed to run `{}`: {e}", argv[0]))),
    };
    if out.status.success() {
        return (Health::Healthy, None);
    }
    let said = [&out.stderr, &out.stdout]
        .iter()
        .map(|b| {
            String::from_utf8_lossy(b)
                .trim()
                .lines()
                .last()
                .unwrap_or("")
                .to_owned()
        })
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let code = out.status.code().map_or("a signal".to_owned(), |c| format!("code {c}"));
    (
        Health::Unhealthy,
        Some(if said.is_empty() {
            format!("`{}` exited with {code}", argv[0])
        } else {
            format!("`{}` exited with {code}: {said}", argv[0])
        }),
    )
}

/// A `start` command vigil ran, while it may still run.
struct Started {
    pid: Arc<AtomicI32>,
    /// Ends the task that owns the process (it stops the group).
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

/// The services vigil started, and how to stop them.
pub struct Services {
    dir: PathBuf,
    logs: PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    clock: Clock,
    started: BTreeMap<String, Started>,
    /// Each started service's `stop` command, run once on exit.
    stops: BTreeMap<String, Vec<String>>,
    stopped: bool,
}

impl Services {
    pub fn new(dir: &Path, target_dir: &Path, tx: mpsc::UnboundedSender<Msg>, clock: Clock) -> Self {
        Self {
            dir: dir.to_owned(),
            logs: super::state_dir(target_dir).join("services"),
            tx,
            clock,
            started: BTreeMap::new(),
            stops: BTreeMap::new(),
            stopped: false,
        }
    }

    /// Where a service's start command writes.
    pub(crate) fn log_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{}.log", sanitize(name)))
    }

    /// Runs `argv` for `name` (stopping what vigil started of it before,
    /// when `restart`). A command that fails to start, or exits with an
    /// error, is reported; one that keeps running is the service itself,
    /// and one that exits 0 has handed it over (a daemon, a container).
    pub fn start(&mut self, name: &str, argv: &[String], stop: Option<Vec<String>>, restart: bool) {
        let old = if restart { self.started.remove(name) } else { None };
        if let Some(stop) = stop {
            self.stops.insert(name.to_owned(), stop);
        }
        let _ = std::fs::create_dir_all(&self.logs);
        let log = self.log_path(name);
        let (tx, clock, service, dir) = (self.tx.clone(), self.clock, name.to_owned(), self.dir.clone());
        let argv = argv.to_vec();
        let pid = Arc::new(AtomicI32::new(0));
        let pid_slot = pid.clone();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            if let Some(old) = old {
                end(old).await;
            }
            let failed = |error: String| {
                let _ = tx.send(Msg::StartFailed {
                    service: service.clone(),
                    error,
                    at: clock.now(),
                });
            };
            let files = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .and_then(|f| Ok((f.try_clone()?, f)));
            let (out, err) = match files {
                Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
                Err(_) => (Stdio::null(), Stdio::null()),
            };
            let mut cmd = super::process::guarded(&argv[0]);
            cmd.args(&argv[1..])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .kill_on_drop(true)
                .process_group(0);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => return failed(format!("failed to run `{}`: {e}", argv[0])),
            };
            let pid = child.id().map_or(0, |p| p as i32);
            pid_slot.store(pid, Ordering::SeqCst);
            tokio::select! {
                status = child.wait() => {
                    if let Ok(status) = status {
                        if !status.success() {
                            failed(format!("`{}` exited with {status} (its output: {})", argv.join(" "), log.display()));
                        }
                    }
                }
                _ = stop_rx => {
                    signal_group(pid, libc::SIGTERM);
                    if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
                        signal_group(pid, libc::SIGKILL);
                        let _ = child.wait().await;
                    }
                }
            }
            // Whatever the command left in its group goes with it.
            signal_group(pid, libc::SIGKILL);
        });
        self.started.insert(
            name.to_owned(),
            Started {
                pid,
                stop: Some(stop_tx),
                done,
            },
        );
    }

    /// Stops what vigil started: each `stop` command, then the processes
    /// still running.
    pub async fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for (name, argv) in std::mem::take(&mut self.stops) {
            let mut cmd = super::process::guarded(&argv[0]);
            cmd.args(&argv[1..])
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .process_group(0);
            let ran = match cmd.spawn() {
                Ok(mut c) => tokio::time::timeout(STOP_WAIT, c.wait()).await.is_ok(),
                Err(_) => false,
            };
            if !ran {
                eprintln!("vigil: the stop command of service `{name}` failed or timed out");
            }
        }
        for (_, s) in std::mem::take(&mut self.started) {
            end(s).await;
        }
    }
}

async fn end(mut s: Started) {
    if let Some(stop) = s.stop.take() {
        let _ = stop.send(());
    }
    let _ = (&mut s.done).await;
}

impl Drop for Services {
    /// Unwinding (a panic) or leaving without `shutdown`: the same, without
    /// the runtime.
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        for argv in self.stops.values() {
            let child = super::process::guarded_std(&argv[0])
                .args(&argv[1..])
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            if let Ok(mut c) = child {
                let until = Instant::now() + STOP_WAIT;
                while Instant::now() < until && matches!(c.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        for s in self.started.values() {
            let pid = s.pid.load(Ordering::SeqCst);
            let tree = super::process::descendants(pid);
            signal_group(pid, libc::SIGKILL);
            for pid in tree {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_answers_are_judged_by_code_and_status() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";
        assert_eq!(judge_http(ok), (Health::Healthy, None));
        let plain = b"HTTP/1.0 204 No Content\r\n\r\n";
        assert_eq!(judge_http(plain).0, Health::Healthy);
        let degraded = b"HTTP/1.1 200 OK\r\n\r\n{\"status\":\"degraded\",\"message\":\"replica lag\"}";
        assert_eq!(
            judge_http(degraded),
            (Health::Degraded, Some("status \"degraded\": replica lag".into()))
        );
        let down = b"HTTP/1.1 503 Service Unavailable\r\n\r\n{\"status\":\"DOWN\"}";
        assert_eq!(
            judge_http(down),
            (Health::Unhealthy, Some("HTTP 503 Service Unavailable".into()))
        );
        let unhealthy = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n{\"status\":\"unhealthy\r\n2\r\n\"}\r\n0\r\n\r\n";
        assert_eq!(judge_http(unhealthy).0, Health::Unhealthy);
        assert_eq!(judge_http(b"SSH-2.0-OpenSSH").0, Health::Unhealthy);
    }

    #[test]
    fn a_content_length_says_when_the_answer_is_whole() {
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\n"));
    }
}
