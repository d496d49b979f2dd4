//! Parsing + applying a stream of 100,000 nextest events: the engine's hot
//! path during a big run. Target: at least 200,000 events per second.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;
use vigil::core::RunId;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vigil::adapters::nextest_json::{StreamDecoder, StreamLine};
use vigil::core::model::Rules;
use vigil::core::msg::{ListedSuite, ListedTest};
use vigil::core::{update, Model, Msg, Selection, Trigger};

const BINARIES: usize = 100;
const TESTS_PER_BINARY: usize = 500;

fn suites() -> Vec<ListedSuite> {
    (0..BINARIES)
        .map(|b| ListedSuite {
            binary_id: Arc::from(format!("crate_{b}::integration_{b}")),
            package: format!("crate_{b}"),
            binary_name: format!("integration_{b}"),
            kind: "test".into(),
            binary_path: format!("/bench/integration_{b}").into(),
            tests: (0..TESTS_PER_BINARY)
                .map(|t| ListedTest {
                    name: format!("module_{}::case_{t}", t % 10),
                    ignored: false,
                    selected: true,
                })
                .collect(),
        })
        .collect()
}

/// A started and a finished line per test, one in fifty failing.
fn stream() -> Vec<String> {
    let mut lines = Vec::with_capacity(BINARIES * TESTS_PER_BINARY * 2);
    for b in 0..BINARIES {
        for t in 0..TESTS_PER_BINARY {
            let name = format!("crate_{b}::integration_{b}$module_{}::case_{t}", t % 10);
            lines.push(format!(r#"{{"type":"test","event":"started","name":"{name}"}}"#));
            if t % 50 == 0 {
                lines.push(format!(
                    r#"{{"type":"test","event":"failed","name":"{name}","exec_time":0.012,"stdout":"\nthread 'case' panicked at tests/it.rs:{t}:5:\nassertion failed: ok\nnote: run with `RUST_BACKTRACE=1`\n"}}"#
                ));
            } else {
                lines.push(format!(
                    r#"{{"type":"test","event":"ok","name":"{name}","exec_time":0.003}}"#
                ));
            }
        }
    }
    lines
}

fn listed_model(suites: &[ListedSuite]) -> Model {
    let mut model = Model::new(Default::default(), Rules::default());
    update(
        &mut model,
        Msg::RunRequested {
            trigger: Trigger::Manual,
            selection: Selection::All,
            at: Duration::ZERO,
        },
    );
    update(
        &mut model,
        Msg::Listed {
            run: RunId(1),
            suites: suites.to_vec(),
            at: Duration::ZERO,
        },
    );
    model
}

fn parse_and_apply(c: &mut Criterion) {
    let suites = suites();
    let lines = stream();
    let decoder = StreamDecoder::new(&suites);
    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(10);
    group.bench_function("parse_and_apply_100k_events", |b| {
        b.iter_batched(
            || listed_model(&suites),
            |mut model| {
                for (i, line) in lines.iter().enumerate() {
                    if let Ok(StreamLine::Test(event)) = decoder.decode(line) {
                        let at = Duration::from_micros(i as u64);
                        let effects = update(
                            &mut model,
                            Msg::Test {
                                run: RunId(1),
                                event,
                                at,
                            },
                        );
                        std::hint::black_box(effects);
                    }
                }
                model
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("parse_only_100k_events", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(decoder.decode(line).ok());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse_and_apply);
criterion_main!(benches);
