//! Parsing and applying a large coverage export: a 20 MB LCOV (what
//! llvm-cov writes for a big workspace) into the core's model, with the
//! report the run emits. Target: under 200 ms.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use vigil::adapters::lcov;
use vigil::core::coverage::judge;

fn big_lcov() -> String {
    let mut out = String::new();
    let mut f = 0;
    while out.len() < 20_000_000 {
        let _ = writeln!(out, "SF:/w/crate_{}/src/module_{f}.rs", f % 40);
        for line in 1..=400u32 {
            let count = if (line + f) % 7 == 0 { 0 } else { u64::from(line) * 3 };
            let _ = writeln!(out, "DA:{line},{count}");
            if line % 10 == 0 {
                let _ = writeln!(
                    out,
                    "BRDA:{line},0,0,{}",
                    if line % 20 == 0 { "-".into() } else { count.to_string() }
                );
                let _ = writeln!(out, "BRDA:{line},0,1,{count}");
            }
        }
        let _ = writeln!(out, "LF:400\nLH:343\nBRF:80\nBRH:70\nend_of_record");
        f += 1;
    }
    out
}

fn parse(c: &mut Criterion) {
    let text = big_lcov();
    eprintln!("export size: {:.1} MB", text.len() as f64 / 1e6);
    let mut group = c.benchmark_group("coverage");
    group.sample_size(10);
    group.bench_function("parse_20mb_lcov_and_report", |b| {
        b.iter(|| {
            let cov = lcov::parse(&text, Path::new("/w"));
            let files: usize = cov
                .files
                .iter()
                .map(|f| f.uncovered_ranges().len() + f.missing_branches().len())
                .sum();
            (cov.lines(), judge(&cov, &[]), files)
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
