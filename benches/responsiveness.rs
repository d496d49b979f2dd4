//! Key press to redrawn frame while a run streams 10,000 events a second
//! into a 10,000-test catalog, and the fingerprint walk and hygiene scan of
//! a 20,000-file workspace run beside the loop (as they do when runs start).
//! The real interactive loop (`app::Interactive::run`) on a test backend;
//! a key every 25 ms. Prints the latency percentiles; target: p99 < 16 ms.
//! Run with `cargo bench --bench responsiveness`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vigil::app::{Engine, Interactive};
use vigil::config::Settings;
use vigil::core::catalog::{ListedSuite, ListedTest, Package, Target, Workspace};
use vigil::core::hygiene::HygieneRules;
use vigil::core::test_state::{TestEvent, TestEventKind};
use vigil::core::{Key, Msg, RunId, Selection, Trigger};
use vigil::ui::theme::Theme;

const SUITES: usize = 100;
const TESTS: usize = 100;
const FILES: usize = 20_000;
const EVENTS_PER_SECOND: u64 = 10_000;
const RUNS: u32 = 3;

fn workspace(root: &Path) -> Workspace {
    let src = root.join("big/src");
    if !src.join("gen/199/f99.rs").exists() {
        for d in 0..FILES / 100 {
            let dir = src.join(format!("gen/{d}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..100 {
                std::fs::write(
                    dir.join(format!("f{f}.rs")),
                    format!("#[test]\nfn t{f}() {{ assert_eq!({f}, {f}); }}\n"),
                )
                .unwrap();
            }
        }
        std::fs::write(src.join("lib.rs"), "").unwrap();
    }
    Workspace {
        root: root.to_path_buf(),
        target_dir: root.join("target"),
        packages: vec![Package {
            name: "big".into(),
            manifest_dir: root.join("big"),
            deps: Vec::new(),
            targets: vec![Target {
                name: "big".into(),
                kinds: vec!["lib".into()],
                src_path: src.join("lib.rs"),
            }],
            ..Package::default()
        }],
        ..Workspace::default()
    }
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

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-responsiveness");
    let ws = workspace(&root);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let latencies = runtime.block_on(async move {
        let engine = Engine::dry(ws.clone(), Settings::default());
        let (tx, clock) = (engine.tx.clone(), engine.clock);
        let terminal = Terminal::new(TestBackend::new(120, 35)).unwrap();
        let mut view = Interactive::new(engine, terminal, Theme { colour: true });
        view.key_latencies = Some(Vec::new());
        // Beside the loop: the tree walks a run start does, over and over.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let walker = {
            let (ws, stop) = (ws.clone(), stop.clone());
            let rules = HygieneRules {
                require_assertion: true,
                ..HygieneRules::default()
            };
            std::thread::spawn(move || {
                let mut walks = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    vigil::adapters::fingerprint::fingerprint(&ws.root, &ws.target_dir);
                    vigil::adapters::sources::hygiene(&ws, &rules);
                    walks += 1;
                }
                walks
            })
        };
        // The run stream: 10,000 events a second, in 1 ms slices.
        let producer = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let per_ms = (EVENTS_PER_SECOND / 1000) as usize;
                let mut sent = 0u64;
                let start = Instant::now();
                for run in 1..=RUNS {
                    let at = clock.now();
                    let _ = tx.send(Msg::RunRequested {
                        trigger: Trigger::Manual,
                        selection: Selection::All,
                        at,
                    });
                    let _ = tx.send(Msg::Listed {
                        run: RunId(run),
                        suites: listing(),
                        at,
                    });
                    let events = (0..SUITES).flat_map(|s| (0..TESTS).map(move |t| (s, t))).flat_map(|(s, t)| {
                        let e = |kind| TestEvent {
                            binary_id: Arc::from(format!("crate{s}").as_str()),
                            name: format!("module::case_{t}"),
                            kind,
                        };
                        [
                            e(TestEventKind::Started { attempt: 1 }),
                            e(TestEventKind::Passed {
                                exec_time: Some(Duration::from_millis(3)),
                            }),
                        ]
                    });
                    let events: Vec<TestEvent> = events.collect();
                    for chunk in events.chunks(per_ms) {
                        for event in chunk {
                            let _ = tx.send(Msg::Test {
                                run: RunId(run),
                                event: event.clone(),
                                at: clock.now(),
                            });
                        }
                        sent += chunk.len() as u64;
                        let due = start + Duration::from_micros(sent * 1_000_000 / EVENTS_PER_SECOND);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let _ = tx.send(Msg::RunExited {
                        run: RunId(run),
                        exit: vigil::core::msg::ToolExit::Success,
                        stderr: String::new(),
                        at: clock.now(),
                    });
                }
                sent as f64 / start.elapsed().as_secs_f64()
            })
        };
        // A key every 25 ms while the stream lasts, then quit.
        let keys = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while !producer.is_finished() {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    let key = if n % 2 == 0 { Key::Char('j') } else { Key::Char('k') };
                    let _ = tx.send(Msg::Key { key, at: clock.now() });
                    n += 1;
                }
                let rate = producer.await.unwrap_or_default();
                let _ = tx.send(Msg::Key {
                    key: Key::Char('q'),
                    at: clock.now(),
                });
                rate
            })
        };
        view.run().await.unwrap();
        let rate = keys.await.unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let walks = walker.join().unwrap();
        println!(
            "stream: {rate:.0} events/s over {RUNS} runs of {} tests; {walks} fingerprint+hygiene walks of {FILES} files beside the loop",
            SUITES * TESTS
        );
        view.key_latencies.take().unwrap_or_default()
    });
    let mut ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "key press → redrawn frame, {} keys: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < 16 ms)",
        ms.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        ms.last().copied().unwrap_or_default()
    );
}
