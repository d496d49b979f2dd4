//! One frame of the live view with 10,000 tests loaded (120×35, the tree
//! expanded and scrolled to the middle). Target: under 5 ms a frame.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;
use vigil::core::RunId;

use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use vigil::core::msg::{ListedSuite, ListedTest};
use vigil::core::{update, Key, Model, Msg, RowKey, Selection, TestEvent, TestEventKind, Trigger};
use vigil::ui::{render, theme::Theme};

/// 20 binaries × 500 tests in 7 modules, half of them finished, some failed.
pub fn model_with_10k_tests() -> Model {
    let suites: Vec<ListedSuite> = (0..20)
        .map(|b| ListedSuite {
            binary_id: Arc::from(format!("crate_{b}::it_{b}")),
            package: format!("crate_{b}"),
            binary_name: format!("it_{b}"),
            kind: "test".into(),
            binary_path: format!("/bench/it_{b}").into(),
            tests: (0..500)
                .map(|t| ListedTest {
                    name: format!("mod_{}::case_{t}", t % 7),
                    ignored: false,
                    selected: true,
                })
                .collect(),
        })
        .collect();
    let mut model = Model::default();
    let at = Duration::ZERO;
    update(
        &mut model,
        Msg::RunRequested {
            trigger: Trigger::Manual,
            selection: Selection::All,
            at,
        },
    );
    update(
        &mut model,
        Msg::Listed {
            run: RunId(1),
            suites: suites.clone(),
            at,
        },
    );
    for (i, s) in suites.iter().enumerate() {
        for (j, t) in s.tests.iter().enumerate().take(250) {
            let ev = |kind| TestEvent {
                binary_id: s.binary_id.clone(),
                name: t.name.clone(),
                kind,
            };
            let at = Duration::from_millis((i * 500 + j) as u64);
            update(
                &mut model,
                Msg::Test {
                    run: RunId(1),
                    event: ev(TestEventKind::Started { attempt: 1 }),
                    at,
                },
            );
            let kind = if j % 97 == 0 {
                TestEventKind::Failed {
                    exec_time: Some(Duration::from_millis(12)),
                    failure: vigil::adapters::nextest_json::parse_failure(
                        "thread 'x' panicked at tests/it.rs:3:5:\nassertion failed",
                        None,
                    ),
                }
            } else {
                TestEventKind::Passed {
                    exec_time: Some(Duration::from_millis(3)),
                }
            };
            update(
                &mut model,
                Msg::Test {
                    run: RunId(1),
                    event: ev(kind),
                    at,
                },
            );
        }
        model.ui.folds.insert(RowKey::Suite(s.binary_id.clone()), true);
    }
    model.ui.viewport = 28;
    for _ in 0..10 {
        update(
            &mut model,
            Msg::Key {
                key: Key::PageDown,
                at: Duration::from_secs(11),
            },
        );
    }
    model
}

fn frame(c: &mut Criterion) {
    let model = model_with_10k_tests();
    assert!(vigil::core::tree::rows(&model).len() > 10_000);
    let mut terminal = Terminal::new(TestBackend::new(120, 35)).unwrap();
    let theme = Theme { colour: true };
    c.bench_function("render_frame_10k_tests_120x35", |b| {
        b.iter(|| {
            terminal.draw(|f| render(&model, f, theme)).unwrap();
        });
    });
}

criterion_group!(benches, frame);
criterion_main!(benches);
