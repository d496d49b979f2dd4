//! The editor's side of the engine: (1) a new client's snapshot of a
//! 10,000-test catalog, over the real socket, until it is read and parsed;
//! (2) a test's failure to its diagnostic in the editor's client, through
//! the real `vigil lsp` (in-process, on an in-memory connection to the
//! "editor"), while a run streams 10,000 events a second into the engine.
//! Targets: snapshot under 100 ms; event to diagnostic p99 under 200 ms.
//! Run with `cargo bench --bench editor`.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::json;
use vigil::app::Engine;
use vigil::config::Settings;
use vigil::core::catalog::{ListedSuite, ListedTest};
use vigil::core::test_state::{Failure, Location, TestEvent, TestEventKind};
use vigil::core::{Msg, RunId, Selection, Trigger};

const SUITES: usize = 100;
const TESTS: usize = 100;
const EVENTS_PER_SECOND: u64 = 10_000;
/// One test in this many fails.
const FAILING: usize = 50;
const SNAPSHOTS: usize = 20;

/// A real (tiny) cargo workspace the server discovers; the catalog is the
/// engine's, fed as messages.
fn workspace(root: &Path) -> vigil::core::Workspace {
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"big\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(root.join("src/lib.rs"), "").unwrap();
    let lines: String = (0..TESTS).map(|t| format!("// case {t}\n")).collect();
    std::fs::write(root.join("tests/t.rs"), lines).unwrap();
    vigil::adapters::workspace::discover_members(root).unwrap()
}

fn listing() -> Vec<ListedSuite> {
    (0..SUITES)
        .map(|s| ListedSuite {
            binary_id: Arc::from(format!("crate{s}").as_str()),
            package: format!("crate{s}"),
            binary_name: format!("crate{s}"),
            kind: "lib".into(),
            binary_path: PathBuf::from(format!("/t/crate{s}")),
            tests: (0..TESTS)
                .map(|t| ListedTest {
                    name: format!("module::case_{t}"),
                    ignored: false,
                    selected: true,
                })
                .collect(),
        })
        .collect()
}

/// The events of one run: each test starts and ends; every `FAILING`th
/// (shifted by `run`, so each run fails other tests) fails at a line.
fn events(run: u32) -> Vec<(TestEvent, Option<String>)> {
    let mut out = Vec::new();
    for s in 0..SUITES {
        for t in 0..TESTS {
            let e = |kind| TestEvent {
                binary_id: Arc::from(format!("crate{s}").as_str()),
                name: format!("module::case_{t}"),
                kind,
            };
            out.push((e(TestEventKind::Started { attempt: 1 }), None));
            let fails = (s * TESTS + t + run as usize) % FAILING == 0;
            let exec_time = Some(Duration::from_millis(3));
            if fails {
                let failure = Failure {
                    message: format!(
                        "thread 'module::case_{t}' panicked at tests/t.rs:{}:5:\nrun {run} broke it",
                        t + 1
                    ),
                    output: String::new(),
                    location: Some(Location {
                        file: "tests/t.rs".into(),
                        line: t as u32 + 1,
                        column: 5,
                    }),
                    output_file: None,
                    output_bytes: None,
                };
                let key = format!("crate{s} module::case_{t}");
                out.push((e(TestEventKind::Failed { exec_time, failure }), Some(key)));
            } else {
                out.push((e(TestEventKind::Passed { exec_time }), None));
            }
        }
    }
    out
}

/// Sends one run's events at `EVENTS_PER_SECOND`; when each failure was
/// sent, by test. Returns the rate it kept.
fn stream(
    tx: &tokio::sync::mpsc::UnboundedSender<Msg>,
    clock: vigil::adapters::clock::Clock,
    run: u32,
    sent_at: &Mutex<HashMap<String, Instant>>,
) -> f64 {
    let at = clock.now();
    tx.send(Msg::RunRequested {
        trigger: Trigger::Manual,
        selection: Selection::All,
        at,
    })
    .unwrap();
    tx.send(Msg::Listed {
        run: RunId(run),
        suites: listing(),
        at,
    })
    .unwrap();
    let per_ms = (EVENTS_PER_SECOND / 1000) as usize;
    let start = Instant::now();
    let mut sent = 0u64;
    for chunk in events(run).chunks(per_ms) {
        for (event, failing) in chunk {
            if let Some(key) = failing {
                sent_at.lock().unwrap().insert(key.clone(), Instant::now());
            }
            tx.send(Msg::Test {
                run: RunId(run),
                event: event.clone(),
                at: clock.now(),
            })
            .unwrap();
        }
        sent += chunk.len() as u64;
        let due = start + Duration::from_micros(sent * 1_000_000 / EVENTS_PER_SECOND);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    tx.send(Msg::RunExited {
        run: RunId(run),
        exit: vigil::core::msg::ToolExit::TestsFailed,
        stderr: String::new(),
        at: clock.now(),
    })
    .unwrap();
    sent as f64 / start.elapsed().as_secs_f64()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-editor");
    let state = root.join("state");
    let _ = std::fs::remove_dir_all(&state);
    // The server finds the engine's socket in the state directory.
    std::env::set_var("VIGIL_STATE_DIR", &state);
    let ws = workspace(&root);
    let socket = vigil::adapters::server::socket_path(&ws.target_dir);
    let (tx, clock, engine_thread) = {
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let (ws, socket) = (ws.clone(), socket.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                // No doc lane: a dry engine's `cargo test --doc` never ends.
                let mut settings = Settings::default();
                settings.rules.doc_lane = false;
                let mut engine = Engine::dry(ws, settings);
                engine.serve_at(&socket).unwrap();
                ready_tx.send((engine.tx.clone(), engine.clock)).unwrap();
                // The engine's loop: what arrives is applied, a flood at once.
                while let Some(first) = engine.rx.recv().await {
                    let mut next = Some(first);
                    while let Some(m) = next.take().or_else(|| engine.rx.try_recv().ok()) {
                        if matches!(m, Msg::Note { ref text } if text == "stop") {
                            engine.shutdown(true).await;
                            return;
                        }
                        engine.apply(m);
                    }
                }
            });
        });
        let (tx, clock) = ready.recv().unwrap();
        (tx, clock, thread)
    };
    let sent_at = Mutex::new(HashMap::new());
    // A first run fills the catalog: 10,000 tests with results.
    let rate = stream(&tx, clock, 1, &sent_at);
    println!("run 1: {} tests at {rate:.0} events/s", SUITES * TESTS);
    std::thread::sleep(Duration::from_millis(500));

    // (1) A new client's snapshot.
    let mut took = Vec::new();
    let mut bytes = 0;
    for _ in 0..SNAPSHOTS {
        let start = Instant::now();
        let stream = vigil::adapters::server::connect(&socket).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stream).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        took.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(v["event"], "snapshot");
        assert_eq!(v["tests"]["total"], SUITES * TESTS);
        bytes = line.len();
    }
    took.sort_by(f64::total_cmp);
    println!(
        "snapshot of {} tests ({} KiB) to a new client, connect to parsed, {SNAPSHOTS} clients: median {:.1} ms, max {:.1} ms (target < 100 ms)",
        SUITES * TESTS,
        bytes / 1024,
        pct(&took, 0.5),
        took.last().unwrap()
    );

    // (2) The language server, attached to the engine.
    let (server, editor) = Connection::memory();
    let lsp = std::thread::spawn({
        let root = root.clone();
        move || {
            vigil::lsp::serve(
                server,
                vigil::lsp::Options {
                    workspace: Some(root),
                    config: None,
                },
            )
        }
    });
    let init = Request::new(
        RequestId::from(1),
        "initialize".into(),
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    editor.sender.send(init.into()).unwrap();
    loop {
        if let Message::Response(r) = editor.receiver.recv().unwrap() {
            assert!(r.response_result.is_ok(), "{r:?}");
            break;
        }
    }
    editor
        .sender
        .send(Notification::new("initialized".into(), json!({})).into())
        .unwrap();
    // The snapshot's failures arrive first.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Message::Notification(n)) = editor.receiver.recv_timeout(Duration::from_secs(1)) {
            if std::env::var_os("DEBUG").is_some() {
                eprintln!("{}", n.params.to_string().chars().take(300).collect::<String>());
            }
            if n.method == "textDocument/publishDiagnostics" {
                break;
            }
        }
    }
    // Run 2 streams while the editor's side watches for each failure.
    sent_at.lock().unwrap().clear();
    let sent_at = Arc::new(sent_at);
    let producer = {
        let (tx, sent_at) = (tx.clone(), sent_at.clone());
        std::thread::spawn(move || stream(&tx, clock, 2, &sent_at))
    };
    let expected = events(2).iter().filter(|(_, f)| f.is_some()).count();
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < expected && Instant::now() < deadline {
        let Ok(Message::Notification(n)) = editor.receiver.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        if n.method != "textDocument/publishDiagnostics" {
            continue;
        }
        let now = Instant::now();
        if std::env::var_os("DEBUG").is_some() {
            eprintln!("{}", n.params.to_string().chars().take(400).collect::<String>());
        }
        for d in n.params["diagnostics"].as_array().into_iter().flatten() {
            let m = d["message"].as_str().unwrap_or_default();
            if !m.contains("run 2 broke it") {
                continue;
            }
            // "`case_N` failed (crateS module::case_N): …"
            if let Some(key) = m
                .split_once(" failed (")
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(k, _)| k)
            {
                seen.entry(key.to_owned()).or_insert(now);
            }
        }
    }
    let rate = producer.join().unwrap();
    let sent_at = sent_at.lock().unwrap();
    let mut latencies: Vec<f64> = seen
        .iter()
        .filter_map(|(k, at)| {
            sent_at
                .get(k)
                .map(|s| at.saturating_duration_since(*s).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "run 2: {} tests at {rate:.0} events/s, {expected} failures",
        SUITES * TESTS
    );
    println!(
        "failure → diagnostic in the editor's client, {} of {expected} seen: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 200 ms)",
        latencies.len(),
        pct(&latencies, 0.5),
        pct(&latencies, 0.9),
        pct(&latencies, 0.99),
        latencies.last().unwrap()
    );
    editor
        .sender
        .send(Request::new(RequestId::from(2), "shutdown".into(), serde_json::Value::Null).into())
        .unwrap();
    editor
        .sender
        .send(Notification::new("exit".into(), serde_json::Value::Null).into())
        .unwrap();
    lsp.join().unwrap().unwrap();
    tx.send(Msg::Note { text: "stop".into() }).unwrap();
    engine_thread.join().unwrap();
}
