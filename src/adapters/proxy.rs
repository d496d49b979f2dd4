//! The proxy in front of a service (`[[service]] proxy`): it forwards the
//! tests' connections from `listen` to `to`, records each HTTP request (or
//! TCP connection), names the test process that opened it (the socket's
//! owner: `/proc/net/tcp` → inode → a process's fd → the `NEXTEST_*`
//! names in its environment, looked up beside the forwarding, never in its
//! way), and injects the service's current fault.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::clock::Clock;
use crate::core::faults::{Call, Caller, Ended, Fault, FaultKind, ProxySpec};
use crate::core::Msg;

/// A request or answer head longer than this is not HTTP vigil parses
/// (the rest of the connection is forwarded as bytes).
const HEAD_MAX: usize = 64 * 1024;
/// How long a `hang` holds a call when the client never gives up.
const HANG_MAX: Duration = Duration::from_secs(120);

/// The proxies of a workspace's services, while vigil runs: on a thread
/// of their own, so forwarding never waits for the engine's loop.
#[derive(Default)]
pub struct Proxies {
    faults: BTreeMap<String, watch::Sender<Option<Fault>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxies {
    /// Starts a proxy for each service that has one, each with its fault.
    pub fn start(
        services: &[(String, ProxySpec, Option<Fault>)],
        tx: mpsc::UnboundedSender<Msg>,
        clock: Clock,
    ) -> Self {
        let mut out = Proxies::default();
        let mut serving = Vec::new();
        for (name, spec, fault) in services {
            let (ftx, frx) = watch::channel(fault.clone());
            out.faults.insert(name.clone(), ftx);
            serving.push((name.clone(), spec.clone(), frx));
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("vigil-proxy".into()).spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                for (name, spec, frx) in serving {
                    tokio::spawn(serve(name, spec, frx, tx.clone(), clock));
                }
                let _ = stopped.await;
            });
            // Connections still open (a hang) go with the runtime.
            rt.shutdown_timeout(Duration::from_millis(200));
        });
        out.stop = Some(stop);
        out.thread = thread.ok();
        out
    }

    /// The fault `service`'s proxy injects from now on.
    pub fn set_fault(&self, service: &str, fault: Option<Fault>) {
        if let Some(f) = self.faults.get(service) {
            let _ = f.send(fault);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }
}

impl Drop for Proxies {
    /// The listeners close and every connection through them ends.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn refused(f: &Option<Fault>) -> bool {
    matches!(f.as_ref().map(|f| &f.kind), Some(FaultKind::Refused))
}

/// Listens (but not under `refused`), one task per connection.
async fn serve(
    name: String,
    spec: ProxySpec,
    mut fault: watch::Receiver<Option<Fault>>,
    tx: mpsc::UnboundedSender<Msg>,
    clock: Clock,
) {
    let mut said = false;
    let parsed = spec
        .listen
        .parse::<SocketAddr>()
        .and_then(|l| Ok((l, spec.to.parse::<SocketAddr>()?)));
    let Ok((listen, to)) = parsed else {
        let _ = tx.send(Msg::ProxyFailed {
            service: name,
            error: format!("has no address it can use ({} → {})", spec.listen, spec.to),
        });
        return;
    };
    loop {
        if refused(&fault.borrow_and_update()) {
            if fault.changed().await.is_err() {
                return;
            }
            continue;
        }
        let listener = match TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                if !said {
                    said = true;
                    let _ = tx.send(Msg::ProxyFailed {
                        service: name.clone(),
                        error: format!("cannot listen on {listen}: {e}"),
                    });
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((client, peer)) = accepted else { continue };
                    let _ = client.set_nodelay(true);
                    let c = Conn { name: name.clone(), spec: spec.clone(), listen, to, fault: fault.clone(), tx: tx.clone(), clock, peer };
                    tokio::spawn(c.handle(client));
                }
                changed = fault.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if refused(&fault.borrow()) {
                        break;
                    }
                }
            }
        }
    }
}

struct Conn {
    name: String,
    spec: ProxySpec,
    listen: SocketAddr,
    to: SocketAddr,
    fault: watch::Receiver<Option<Fault>>,
    tx: mpsc::UnboundedSender<Msg>,
    clock: Clock,
    peer: SocketAddr,
}

/// Who opened a connection, looked up on a blocking thread as it is
/// accepted. Calls wait for the answer in a task of their own: the
/// forwarding never does.
struct Owner {
    calls: mpsc::UnboundedSender<Call>,
    /// Set once the lookup is done.
    known: watch::Receiver<bool>,
}

impl Owner {
    fn new(peer: SocketAddr, listen: SocketAddr, tx: mpsc::UnboundedSender<Msg>) -> Self {
        let lookup = tokio::task::spawn_blocking(move || socket_owner(peer, listen));
        let (calls, mut rx) = mpsc::unbounded_channel::<Call>();
        let (known_tx, known) = watch::channel(false);
        tokio::spawn(async move {
            let caller = lookup.await.ok().flatten();
            let _ = known_tx.send(true);
            let Some(mut first) = rx.recv().await else { return };
            loop {
                first.caller = caller.clone();
                if tx.send(Msg::ServiceCall(Box::new(first))).is_err() {
                    return;
                }
                match rx.recv().await {
                    Some(c) => first = c,
                    None => return,
                }
            }
        });
        Owner { calls, known }
    }
}

/// How long a connection's close may wait for its owner to be found.
const OWNER_WAIT: Duration = Duration::from_millis(200);

impl Conn {
    async fn handle(self, client: TcpStream) {
        let owner = Owner::new(self.peer, self.listen, self.tx.clone());
        let mut known = owner.known.clone();
        // The bytes never wait for the lookup; the close does (a copy of
        // the socket is held), so a client that reads to the end cannot
        // exit, and take its socket with it, before it is found.
        let held = std::os::fd::AsFd::as_fd(&client).try_clone_to_owned().ok();
        if self.spec.http {
            self.http(client, owner).await;
        } else {
            self.tcp(client, Vec::new(), owner, Instant::now(), self.clock.now())
                .await;
        }
        if held.is_some() {
            let _ = tokio::time::timeout(OWNER_WAIT, known.wait_for(|k| *k)).await;
        }
        drop(held);
    }

    /// The fault for this call, when it applies (its path, its chance).
    fn fault_for(&self, path: Option<&str>) -> Option<Fault> {
        let f = self.fault.borrow().clone()?;
        if let (Some(glob), Some(path)) = (&f.path, path) {
            let bare = path.split('?').next().unwrap_or(path);
            if !glob.matches(bare) {
                return None;
            }
        }
        (f.probability >= 1.0 || chance() < f.probability).then_some(f)
    }

    /// Answers a request from the proxy itself (a fault, a stub, a 502)
    /// and records it; whether the connection is still good.
    async fn reply(
        &self,
        client: &mut TcpStream,
        owner: &mut Owner,
        mut call: Call,
        answer: &[u8],
        t0: Instant,
    ) -> bool {
        let ok = client.write_all(answer).await.is_ok();
        call.received = answer.len() as u64;
        call.latency = t0.elapsed();
        if !ok {
            call.ended = Ended::Error;
        }
        self.record(owner, call).await;
        ok
    }

    async fn record(&self, owner: &mut Owner, call: Call) {
        let _ = owner.calls.send(call);
    }

    fn call(&self, at: Duration) -> Call {
        Call {
            service: self.name.clone(),
            at,
            method: None,
            path: None,
            status: None,
            latency: Duration::ZERO,
            sent: 0,
            received: 0,
            fault: None,
            ended: Ended::Closed,
            caller: None,
            stub: false,
        }
    }

    async fn http(&self, mut client: TcpStream, mut owner: Owner) {
        let mut cbuf: Vec<u8> = Vec::new();
        let mut upstream: Option<(TcpStream, Vec<u8>)> = None;
        loop {
            let head_end = match read_until_head(&mut client, &mut cbuf).await {
                Some(Ok(n)) => n,
                Some(Err(())) => {
                    // Not HTTP after all: the rest goes through as bytes.
                    let (at, t0) = (self.clock.now(), Instant::now());
                    return self.tcp(client, cbuf, owner, t0, at).await;
                }
                None => return,
            };
            let (at, t0) = (self.clock.now(), Instant::now());
            let head = String::from_utf8_lossy(&cbuf[..head_end]).into_owned();
            let mut first = head.lines().next().unwrap_or("").split_whitespace();
            let (method, path, version) = (
                first.next().unwrap_or("").to_owned(),
                first.next().unwrap_or("").to_owned(),
                first.next().unwrap_or("HTTP/1.1").to_owned(),
            );
            let headers = header_map(&head);
            let close = wants_close(&version, &headers);
            let framing = if headers.contains_key("transfer-encoding") {
                Framing::Chunked
            } else {
                Framing::Length(headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0))
            };
            let Some(end) = read_body(&mut client, &mut cbuf, head_end, framing).await else {
                return;
            };
            let request: Vec<u8> = cbuf.drain(..end).collect();
            let mut call = self.call(at);
            call.method = Some(method.clone());
            call.path = Some(path.clone());
            call.sent = request.len() as u64;
            let fault = self.fault_for(Some(&path));
            call.fault = fault.as_ref().map(Fault::label);
            match fault.as_ref().map(|f| &f.kind) {
                Some(FaultKind::Status(code)) => {
                    let answer = synthetic(
                        *code,
                        &format!("{{\"error\":\"injected by vigil: status:{code}\"}}"),
                        close,
                    );
                    call.status = Some(*code);
                    if !self.reply(&mut client, &mut owner, call, &answer, t0).await || close {
                        return;
                    }
                    continue;
                }
                Some(FaultKind::Hang) => {
                    hold(&mut client).await;
                    call.ended = Ended::Hung;
                    call.latency = t0.elapsed();
                    return self.record(&mut owner, call).await;
                }
                Some(FaultKind::HealthDegraded)
                    if self.spec.health_path.as_deref() == Some(path.split('?').next().unwrap_or("")) =>
                {
                    let body = "{\"status\":\"degraded\",\"message\":\"injected by vigil (fault health:degraded)\"}";
                    let answer = answer(200, "application/json", body, close, "X-Vigil-Fault: health:degraded");
                    call.status = Some(200);
                    if !self.reply(&mut client, &mut owner, call, &answer, t0).await || close {
                        return;
                    }
                    continue;
                }
                _ => {}
            }
            let rate = match fault.as_ref().map(|f| &f.kind) {
                Some(FaultKind::Bandwidth(b)) => Some(*b),
                _ => None,
            };
            if upstream.is_none() {
                match TcpStream::connect(self.to).await {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        upstream = Some((s, Vec::new()));
                    }
                    Err(_) if self.spec.stub_for(&path).is_some() => {
                        // The service is absent: its stub answers.
                        let Some(s) = self.spec.stub_for(&path).cloned() else {
                            return;
                        };
                        let answer = answer(s.status, &s.content_type, &s.body, close, "X-Vigil-Stub: 1");
                        call.status = Some(s.status);
                        call.stub = true;
                        if !self.reply(&mut client, &mut owner, call, &answer, t0).await || close {
                            return;
                        }
                        continue;
                    }
                    Err(e) => {
                        let body = format!(
                            "{{\"error\":\"vigil's proxy for `{}` cannot reach {}: {}\"}}",
                            self.name,
                            self.to,
                            super::services::io_error(&e)
                        );
                        let answer = synthetic(502, &body, true);
                        call.status = Some(502);
                        call.ended = Ended::Unreachable;
                        self.reply(&mut client, &mut owner, call, &answer, t0).await;
                        return;
                    }
                }
            }
            let Some((up, ubuf)) = upstream.as_mut() else { return };
            if send(up, &request, rate).await.is_err() {
                call.ended = Ended::Error;
                call.latency = t0.elapsed();
                return self.record(&mut owner, call).await;
            }
            let answer = match read_answer(up, ubuf, &method).await {
                Some(a) => a,
                None => {
                    call.ended = Ended::Error;
                    call.latency = t0.elapsed();
                    let _ = client
                        .write_all(&synthetic(
                            502,
                            "{\"error\":\"the service closed the connection\"}",
                            true,
                        ))
                        .await;
                    return self.record(&mut owner, call).await;
                }
            };
            call.status = answer.status;
            if let Some(FaultKind::Latency { delay, jitter }) = fault.as_ref().map(|f| &f.kind) {
                tokio::time::sleep(jittered(*delay, *jitter)).await;
            }
            if matches!(fault.as_ref().map(|f| &f.kind), Some(FaultKind::Reset)) {
                // The answer's first bytes, then a reset.
                let cut = answer.bytes.len().min((answer.head_len / 2).max(1));
                let _ = client.write_all(&answer.bytes[..cut]).await;
                reset(&client);
                call.received = cut as u64;
                call.ended = Ended::Reset;
                call.latency = t0.elapsed();
                return self.record(&mut owner, call).await;
            }
            let ok = send(&mut client, &answer.bytes, rate).await.is_ok();
            call.received = answer.bytes.len() as u64;
            call.latency = t0.elapsed();
            if !ok {
                call.ended = Ended::Error;
            }
            self.record(&mut owner, call).await;
            if close || answer.close || !ok {
                return;
            }
        }
    }

    /// Bytes both ways, faults applied per connection.
    async fn tcp(&self, mut client: TcpStream, early: Vec<u8>, mut owner: Owner, t0: Instant, at: Duration) {
        let mut call = self.call(at);
        let fault = self.fault_for(None);
        call.fault = fault.as_ref().map(Fault::label);
        let kind = fault.as_ref().map(|f| f.kind.clone());
        if let Some(FaultKind::Hang) = kind {
            hold(&mut client).await;
            call.ended = Ended::Hung;
            call.latency = t0.elapsed();
            return self.record(&mut owner, call).await;
        }
        if let Some(FaultKind::Latency { delay, jitter }) = kind {
            tokio::time::sleep(jittered(delay, jitter)).await;
        }
        let mut up = match TcpStream::connect(self.to).await {
            Ok(s) => s,
            Err(_) => {
                call.ended = Ended::Unreachable;
                call.latency = t0.elapsed();
                return self.record(&mut owner, call).await;
            }
        };
        let _ = up.set_nodelay(true);
        let rate = match kind {
            Some(FaultKind::Bandwidth(b)) => Some(b),
            _ => None,
        };
        let resets = matches!(kind, Some(FaultKind::Reset));
        if !early.is_empty() {
            if send(&mut up, &early, rate).await.is_err() {
                call.ended = Ended::Error;
                return self.record(&mut owner, call).await;
            }
            call.sent += early.len() as u64;
        }
        let (mut a, mut b) = ([0u8; 16 * 1024], [0u8; 16 * 1024]);
        let (mut client_open, mut up_open) = (true, true);
        while client_open || up_open {
            tokio::select! {
                n = client.read(&mut a), if client_open => match n {
                    Ok(0) | Err(_) => { client_open = false; let _ = up.shutdown().await; }
                    Ok(n) => {
                        call.sent += n as u64;
                        if send(&mut up, &a[..n], rate).await.is_err() { call.ended = Ended::Error; break; }
                    }
                },
                n = up.read(&mut b), if up_open => match n {
                    Ok(0) | Err(_) => { up_open = false; let _ = client.shutdown().await; }
                    Ok(n) => {
                        if resets {
                            let cut = (n / 2).max(1);
                            let _ = client.write_all(&b[..cut]).await;
                            call.received += cut as u64;
                            reset(&client);
                            call.ended = Ended::Reset;
                            break;
                        }
                        call.received += n as u64;
                        if send(&mut client, &b[..n], rate).await.is_err() { call.ended = Ended::Error; break; }
                    }
                },
            }
        }
        call.latency = t0.elapsed();
        self.record(&mut owner, call).await;
    }
}

/// Reads from the client until a blank line ends a head: its end, `Err`
/// when what came is not an HTTP request, `None` when the client left.
async fn read_until_head(client: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Result<usize, ()>> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            let looks = buf[..i]
                .split(|&b| b == b' ')
                .next()
                .is_some_and(|m| !m.is_empty() && m.iter().all(|c| c.is_ascii_uppercase()));
            return Some(if looks { Ok(i + 4) } else { Err(()) });
        }
        if buf.len() > HEAD_MAX {
            return Some(Err(()));
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) if buf.is_empty() => return None,
            Ok(0) | Err(_) => return Some(Err(())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[derive(Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    /// Until the service closes the connection.
    Close,
}

/// Reads a whole body after the head: where the message ends in `buf`.
async fn read_body(s: &mut TcpStream, buf: &mut Vec<u8>, head_end: usize, framing: Framing) -> Option<usize> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match framing {
            Framing::Length(n) if buf.len() >= head_end + n => return Some(head_end + n),
            Framing::Chunked => {
                if let Some(end) = chunked_end(&buf[head_end..]) {
                    return Some(head_end + end);
                }
            }
            _ => {}
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return matches!(framing, Framing::Close).then_some(buf.len()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Where a chunked body ends (after its last chunk and trailers), once
/// all of it is in `body`.
fn chunked_end(body: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line_end = at + find(&body[at..], b"\r\n")?;
        let size_text = std::str::from_utf8(&body[at..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailers, then a blank line.
            loop {
                let end = at + find(&body[at..], b"\r\n")?;
                if end == at {
                    return Some(end + 2);
                }
                at = end + 2;
            }
        }
        if body.len() < at + size + 2 {
            return None;
        }
        at += size + 2;
    }
}

struct Answer {
    bytes: Vec<u8>,
    head_len: usize,
    status: Option<u16>,
    close: bool,
}

/// The service's whole answer to one request.
async fn read_answer(up: &mut TcpStream, buf: &mut Vec<u8>, method: &str) -> Option<Answer> {
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > HEAD_MAX {
            return None;
        }
        match up.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let version = first.next().unwrap_or("HTTP/1.1").to_owned();
    let status: Option<u16> = first.next().and_then(|c| c.parse().ok());
    let headers = header_map(&head);
    let bodiless = method == "HEAD" || status.is_some_and(|s| (100..200).contains(&s) || s == 204 || s == 304);
    let framing = if bodiless {
        Framing::Length(0)
    } else if headers.contains_key("transfer-encoding") {
        Framing::Chunked
    } else if let Some(n) = headers.get("content-length").and_then(|v| v.parse().ok()) {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    let end = read_body(up, buf, head_end, framing).await?;
    Some(Answer {
        bytes: buf.drain(..end).collect(),
        head_len: head_end,
        status,
        close: matches!(framing, Framing::Close) || wants_close(&version, &headers),
    })
}

fn header_map(head: &str) -> BTreeMap<String, String> {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn wants_close(version: &str, headers: &BTreeMap<String, String>) -> bool {
    match headers.get("connection").map(|v| v.to_ascii_lowercase()) {
        Some(v) if v.contains("close") => true,
        Some(v) if v.contains("keep-alive") => false,
        _ => version != "HTTP/1.1",
    }
}

/// An answer of the proxy's own; `mark` is a header that says whose.
fn answer(code: u16, content_type: &str, body: &str, close: bool, mark: &str) -> Vec<u8> {
    let reason = match code {
        200..=299 => "OK",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected",
    };
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{mark}\r\n{}\r\n{body}",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

/// A JSON answer a status fault (or the proxy) makes.
fn synthetic(code: u16, body: &str, close: bool) -> Vec<u8> {
    answer(
        code,
        "application/json",
        body,
        close,
        &format!("X-Vigil-Fault: status:{code}"),
    )
}

/// Writes `bytes`, at most `rate` bytes a second when given.
async fn send(s: &mut TcpStream, bytes: &[u8], rate: Option<u64>) -> std::io::Result<()> {
    let Some(rate) = rate else {
        return s.write_all(bytes).await;
    };
    // Slices of a twentieth of a second.
    let slice = ((rate / 20).max(1)) as usize;
    for part in bytes.chunks(slice) {
        s.write_all(part).await?;
        tokio::time::sleep(Duration::from_secs_f64(part.len() as f64 / rate as f64)).await;
    }
    Ok(())
}

/// Holds a connection until the client gives up (or `HANG_MAX`).
async fn hold(client: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(HANG_MAX, async {
        loop {
            match client.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// Closes with a reset (RST), not a FIN: the peer reads ECONNRESET.
fn reset(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a `linger` of the size given.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn jittered(delay: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return delay;
    }
    let j = jitter.as_secs_f64() * (2.0 * chance() - 1.0);
    Duration::from_secs_f64((delay.as_secs_f64() + j).max(0.0))
}

/// A number in [0, 1): xorshift, seeded per thread from the clock.
fn chance() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0x9e37_79b9, |d| d.as_nanos() as u64) | 1
        );
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `/proc/net/tcp`'s spelling of an address: `0100007F:1F90`.
fn proc_addr(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(v4) => format!("{:08X}:{:04X}", u32::from_le_bytes(v4.ip().octets()), v4.port()),
        SocketAddr::V6(v6) => {
            let o = v6.ip().octets();
            let words: String = o
                .chunks(4)
                .map(|w| format!("{:08X}", u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
                .collect();
            format!("{words}:{:04X}", v6.port())
        }
    }
}

/// The process that holds the client end of a connection from `peer` to
/// `listen`, and the test it belongs to.
pub(crate) fn socket_owner(peer: SocketAddr, listen: SocketAddr) -> Option<Caller> {
    let inode = diag_inode(peer, listen).or_else(|| proc_inode(peer, listen))?;
    let wanted = format!("socket:[{inode}]");
    // vigil's own processes: the tests run below it (the kernel's child
    // lists, not a walk of all of /proc).
    let me = std::process::id() as i32;
    let mut candidates = vec![me];
    let mut i = 0;
    while i < candidates.len() && candidates.len() < 100_000 {
        candidates.extend(children_of(candidates[i]));
        i += 1;
    }
    let pid = candidates.into_iter().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|d| {
            d.flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str()))
        })
    })?;
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let var = |name: &str| {
        environ.split(|&b| b == 0).find_map(|kv| {
            let kv = std::str::from_utf8(kv).ok()?;
            kv.strip_prefix(name)?.strip_prefix('=').map(str::to_owned)
        })
    };
    Some(Caller {
        pid,
        binary_id: var("NEXTEST_BINARY_ID"),
        test: var("NEXTEST_TEST_NAME"),
    })
}

/// The inode of the socket from `local` to `remote`, asked of the kernel
/// by its four-tuple (netlink `sock_diag`): one answer, however many
/// sockets the machine holds (`/proc/net/tcp` lists every one of them,
/// TIME_WAIT included: milliseconds on a busy machine).
fn diag_inode(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;
    let mut req = [0u8; 16 + 56];
    req[0..4].copy_from_slice(&72u32.to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    let (family, src, dst): (u8, [u8; 16], [u8; 16]) = match (local, remote) {
        (SocketAddr::V4(l), SocketAddr::V4(r)) => {
            let (mut s, mut d) = ([0u8; 16], [0u8; 16]);
            s[..4].copy_from_slice(&l.ip().octets());
            d[..4].copy_from_slice(&r.ip().octets());
            (libc::AF_INET as u8, s, d)
        }
        (SocketAddr::V6(l), SocketAddr::V6(r)) => (libc::AF_INET6 as u8, l.ip().octets(), r.ip().octets()),
        _ => return None,
    };
    let body = &mut req[16..];
    body[0] = family;
    body[1] = libc::IPPROTO_TCP as u8;
    body[4..8].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
    body[8..10].copy_from_slice(&local.port().to_be_bytes());
    body[10..12].copy_from_slice(&remote.port().to_be_bytes());
    body[12..28].copy_from_slice(&src);
    body[28..44].copy_from_slice(&dst);
    body[48..56].copy_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
                                              // SAFETY: a socket this function owns and closes; buffers of the
                                              // lengths given.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        );
        if fd < 0 {
            return None;
        }
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as u16;
        let sent = libc::sendto(
            fd,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        );
        let mut answer = [0u8; 1024];
        let n = if sent < 0 {
            -1
        } else {
            libc::recv(fd, answer.as_mut_ptr().cast(), answer.len(), 0)
        };
        libc::close(fd);
        if n < 88 || u16::from_ne_bytes([answer[4], answer[5]]) == NLMSG_ERROR {
            return None;
        }
        let inode = u32::from_ne_bytes([answer[84], answer[85], answer[86], answer[87]]);
        (inode != 0).then_some(u64::from(inode))
    }
}

/// The same from `/proc/net/tcp`, where netlink is not to be had.
fn proc_inode(peer: SocketAddr, listen: SocketAddr) -> Option<u64> {
    let table = if peer.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let text = std::fs::read_to_string(table).ok()?;
    let (local, remote) = (proc_addr(peer), proc_addr(listen));
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 9 && f[1] == local && f[2] == remote)
            .then(|| f[9].parse().ok())
            .flatten()
    })
}

/// A process's children, from each of its threads' lists.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_end_after_their_last_chunk() {
        assert_eq!(chunked_end(b"5\r\nhello\r\n0\r\n\r\n"), Some(15));
        assert_eq!(chunked_end(b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\nrest"), Some(23));
        assert_eq!(chunked_end(b"5\r\nhel"), None);
        assert_eq!(chunked_end(b"5\r\nhello\r\n"), None);
    }

    #[test]
    fn proc_net_tcp_spells_loopback_little_endian() {
        assert_eq!(proc_addr("127.0.0.1:8080".parse().unwrap()), "0100007F:1F90");
        assert_eq!(
            proc_addr("[::1]:80".parse().unwrap()),
            "00000000000000000000000001000000:0050"
        );
    }

    #[test]
    fn a_connection_of_this_process_is_owned_by_it() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (local, remote) = (c.local_addr().unwrap(), l.local_addr().unwrap());
        let by_diag = diag_inode(local, remote).expect("sock_diag answers for a live socket");
        assert_eq!(
            Some(by_diag),
            proc_inode(local, remote),
            "both lookups name the same socket"
        );
        let _accepted = l.accept().unwrap();
        let other = diag_inode(remote, local).expect("the accepted end is found too");
        assert_ne!(other, by_diag, "the other end is another socket");
        let owner = socket_owner(local, remote).expect("its owner is found");
        assert_eq!(owner.pid, std::process::id() as i32);
    }
}
