//! Attribution cost, every file parsed: the old and new text of a changed
//! Rust file lexed, diffed token by token and placed with the parser.
//! Targets: a one-file save under 5 ms; a 1,000-file change set of
//! ~300-line files (a branch switch) under 100 ms.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use vigil::adapters::coverage::attribute_all;
use vigil::core::syntax::{attribute, Attribution};

/// A ~300-line module: a table, a type with methods, free functions.
fn source(seed: usize) -> String {
    let mut s = String::from("//! A module of the benchmark.\n\nuse std::collections::HashMap;\n\n");
    s.push_str("static TABLE: [u8; 8] = [\n    1, 2, 3, 4,\n    5, 6, 7, 8,\n];\n\n");
    s.push_str("#[derive(Debug, Clone)]\npub struct Item {\n    pub name: String,\n    pub count: u32,\n}\n\n");
    s.push_str("impl Item {\n");
    for i in 0..10 {
        s.push_str(&format!(
            "    /// Method {i}.\n    pub fn m{i}(&self, n: u32) -> u32 {{\n        let mut total = self.count + n;\n        for k in 0..{seed} {{\n            total = total.wrapping_add(k * {i});\n        }}\n        if total > 100 {{\n            total -= 1;\n        }}\n        total\n    }}\n\n"
        ));
    }
    s.push_str("}\n\n");
    for i in 0..15 {
        s.push_str(&format!(
            "pub fn f{i}(map: &HashMap<String, u32>, key: &str) -> u32 {{\n    let v = map.get(key).copied().unwrap_or({i});\n    let t = TABLE[{i} % 8] as u32;\n    match v {{\n        0 => t,\n        1..=9 => v * t,\n        _ => v + t + {seed},\n    }}\n}}\n\n"
        ));
    }
    s
}

fn bench(c: &mut Criterion) {
    let old = source(3);
    let new = old.replace(
        "total = total.wrapping_add(k * 4);",
        "total = total.wrapping_add(k * 5);",
    );
    assert!(matches!(attribute(&old, &new), Attribution::Code { .. }));
    println!("one file: {} lines", old.lines().count());
    c.bench_function("attribute one 300-line file", |b| b.iter(|| attribute(&old, &new)));
    let pairs: Vec<(String, String)> = (0..1000)
        .map(|i| {
            let a = source(i);
            let b = a.replace("v + t +", "v + t + 1 +");
            (a, b)
        })
        .collect();
    let mut group = c.benchmark_group("branch switch");
    group.sample_size(10);
    // As vigil places a change set (off the loop, as the texts are read):
    // each file on its own, the files shared among the cores.
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    group.bench_function("attribute 1000 files", |b| b.iter(|| attribute_all(&refs)));
    group.bench_function("attribute 1000 files, one core", |b| {
        b.iter(|| pairs.iter().map(|(a, b)| attribute(a, b)).collect::<Vec<_>>())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
