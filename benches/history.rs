//! The history with 1,000 runs × 1,000 tests: time to record one more run,
//! and time to compute the trends the view shows (per-test p50/p95, flips)
//! from the store. Targets: under 50 ms and under 100 ms.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use vigil::adapters::store::{ResultRecord, RunRecord, Store, SuiteRecord};
use vigil::core::catalog::SuiteType;
use vigil::core::report::{Counts, SuiteStatus};
use vigil::core::run::{Outcome, Trigger};
use vigil::core::TestState;

fn run(i: usize) -> RunRecord {
    RunRecord {
        started_unix: 1_700_000_000.0 + i as f64,
        trigger: Trigger::Watch,
        outcome: Outcome::Passed,
        duration_s: 12.0,
        fingerprint: format!("{:016x}", i / 3),
        counts: Counts {
            total: 1000,
            passed: 1000,
            ..Counts::default()
        },
        results: (0..1000)
            .map(|t| {
                let state = if (t + i) % 97 == 0 {
                    TestState::Failed
                } else {
                    TestState::Passed
                };
                let d = Duration::from_micros(1_000 + ((t * 7919 + i * 31) % 5_000) as u64);
                ResultRecord::new(
                    &format!("crate_{}::it", t / 100),
                    &format!("module::case_{t}"),
                    state,
                    Some(d),
                )
            })
            .collect(),
        suites: (0..10)
            .map(|s| SuiteRecord {
                binary_id: format!("crate_{s}::it"),
                suite_type: SuiteType::Integration,
                status: SuiteStatus::Passed,
                duration_s: 1.2,
                lines_reached: Some(400),
                lines_percent: Some(12.5),
                branches_reached: None,
                branches_percent: None,
                assertions: Some(300),
            })
            .collect(),
        ..RunRecord::default()
    }
}

fn history(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-history/history.sqlite");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let (mut store, _) = Store::open(&path).unwrap();
    for i in 0..1000 {
        store.record(&run(i)).unwrap();
    }
    let mut i = 1000;
    let mut group = c.benchmark_group("history_1000_runs_x_1000_tests");
    group.sample_size(20);
    group.bench_function("record_one_run", |b| {
        b.iter(|| {
            i += 1;
            store.record(&run(i)).unwrap()
        })
    });
    group.bench_function("compute_trends", |b| b.iter(|| store.history().unwrap().tests.len()));
    group.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
