//! The service proxy's cost on loopback, with call recording and per-test
//! attribution on (each connection's owner looked up off the forwarding
//! path, each call sent to a consumer that keeps it as the core does):
//! added latency per request (p50, p99) against calling the service
//! directly, and requests per second sustained through the proxy.
//! Targets: under 200 µs added at p50; 10,000 requests/s.
//! `cargo bench --bench proxy`.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use vigil::adapters::clock::Clock;
use vigil::adapters::proxy::Proxies;
use vigil::core::faults::{Calls, ProxySpec};
use vigil::core::Msg;

const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";

/// A keep-alive HTTP/1.1 service with a fixed answer, a thread per
/// connection (the service itself costs the same either way).
fn service() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            s.set_nodelay(true).unwrap();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..i + 4);
                        if s.write_all(ANSWER).is_err() {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

fn request(s: &mut TcpStream, buf: &mut [u8]) {
    s.write_all(b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n").unwrap();
    let mut got = 0;
    while got < ANSWER.len() {
        let n = s.read(&mut buf[got..]).unwrap();
        assert!(n > 0, "the connection closed");
        got += n;
    }
}

/// Per-request latencies (µs) over one keep-alive connection.
fn latencies(to: SocketAddr, n: usize) -> Vec<f64> {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; 4096];
    for _ in 0..200 {
        request(&mut s, &mut buf);
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        request(&mut s, &mut buf);
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Requests per second over `conns` keep-alive connections, each a new
/// connection every `per_conn` requests (so attribution runs too).
fn throughput(to: SocketAddr, conns: usize, per_conn: usize, secs: f64) -> f64 {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            std::thread::spawn(move || {
                let mut done = 0usize;
                let mut buf = vec![0u8; 4096];
                while Instant::now() < until {
                    let mut s = TcpStream::connect(to).unwrap();
                    s.set_nodelay(true).unwrap();
                    for _ in 0..per_conn {
                        request(&mut s, &mut buf);
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / secs
}

fn main() {
    let upstream = service();
    let listen: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let spec = ProxySpec {
        listen: listen.to_string(),
        to: upstream.to_string(),
        http: true,
        health_path: Some("/health".into()),
        stub: Vec::new(),
    };
    let proxies = Proxies::start(&[("bench".into(), spec, None)], tx, Clock::start());
    // The consumer: each call kept (bounded) as the core keeps it.
    let consumer = std::thread::spawn(move || {
        let mut calls = Calls::default();
        let (mut total, mut attributed) = (0usize, 0usize);
        while let Some(msg) = rx.blocking_recv() {
            if let Msg::ServiceCall(c) = msg {
                total += 1;
                attributed += c.caller.is_some() as usize;
                calls.push(*c, None);
            }
        }
        assert!(
            calls.recent.len() <= vigil::core::faults::CALLS_KEPT,
            "the kept calls are bounded"
        );
        (total, attributed)
    });
    let until = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(listen).is_err() {
        assert!(Instant::now() < until, "the proxy never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    let n = 20_000;
    let direct = latencies(upstream, n);
    let proxied = latencies(listen, n);
    let (d50, d99) = (pct(&direct, 0.5), pct(&direct, 0.99));
    let (p50, p99) = (pct(&proxied, 0.5), pct(&proxied, 0.99));
    println!("latency per request, one keep-alive connection, {n} requests each:");
    println!("  direct            p50 {d50:7.1} µs   p99 {d99:7.1} µs");
    println!("  through the proxy p50 {p50:7.1} µs   p99 {p99:7.1} µs");
    println!(
        "  added             p50 {:7.1} µs   p99 {:7.1} µs   (target: p50 < 200 µs)",
        p50 - d50,
        p99 - d99
    );
    for conns in [1, 4, 8] {
        let direct = throughput(upstream, conns, 100, 2.0);
        let through = throughput(listen, conns, 100, 2.0);
        println!(
            "throughput, {conns} connection(s), a new one every 100 requests: direct {direct:8.0} req/s · through the proxy {through:8.0} req/s ({:.2}×)   (target: 10,000 req/s)",
            through / direct
        );
    }
    drop(proxies);
    let (kept, attributed) = consumer.join().unwrap();
    println!("calls recorded: {kept}, of which tied to a process by the socket's owner: {attributed}");
}
