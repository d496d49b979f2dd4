//! Attribution cost, every file parsed: the old and new text of a changed
//! Rust file lexed, diffed token by token and placed with the parser.
//! Targets: a one-file save under 5 ms; a 1,000-file change set of
//! ~300-line files (a branch switch) under 100 ms. With
//! `VIGIL_BENCH_PAIRS` (`scripts/bench-attribution.py` sets it), also a real
//! change set: files that differ between published versions of crates;
//! `SLOWEST=1` then lists its 25 slowest files, one core, and
//! `PLACEMENTS=path` writes how each was placed (to compare two builds).
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
    published(c);
}

/// A real change set: the Rust files that differ between two published
/// versions of registry crates (`scripts/bench-attribution.py` fetches
/// them and lists the pairs, one "old<TAB>new" per line, in
/// `VIGIL_BENCH_PAIRS`), each placed as vigil places a change set.
fn published(c: &mut Criterion) {
    let Ok(list) = std::env::var("VIGIL_BENCH_PAIRS") else {
        println!("published versions: SKIPPED (run scripts/bench-attribution.py)");
        return;
    };
    let pairs: Vec<(String, String)> = std::fs::read_to_string(&list)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (std::fs::read_to_string(a).unwrap(), std::fs::read_to_string(b).unwrap()))
        .collect();
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut lines: Vec<usize> = pairs.iter().map(|(a, _)| a.lines().count()).collect();
    lines.sort_unstable();
    let placed = attribute_all(&refs);
    if let Some(out) = std::env::var_os("PLACEMENTS") {
        let list = std::fs::read_to_string(std::env::var("VIGIL_BENCH_PAIRS").unwrap()).unwrap();
        let text: String = list
            .lines()
            .zip(&placed)
            .map(|(name, a)| format!("{name}\t{a:?}\n"))
            .collect();
        std::fs::write(out, text).unwrap();
        std::process::exit(0);
    }
    if std::env::var_os("SLOWEST").is_some() {
        let mut t: Vec<(f64, usize)> = refs
            .iter()
            .enumerate()
            .map(|(i, (a, b))| {
                let s = std::time::Instant::now();
                let _ = attribute(a, b);
                (s.elapsed().as_secs_f64(), i)
            })
            .collect();
        t.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total: f64 = t.iter().map(|x| x.0).sum();
        println!("total one core {total:.2} s");
        let list = std::fs::read_to_string(std::env::var("VIGIL_BENCH_PAIRS").unwrap()).unwrap();
        let names: Vec<&str> = list.lines().collect();
        for (s, i) in t.iter().take(25) {
            println!(
                "{:8.1} ms {:6} lines {:?}",
                s * 1e3,
                refs[*i].0.lines().count(),
                names[*i]
            );
        }
        std::process::exit(0);
    }
    let (mut layout, mut code, mut stat) = (0, 0, 0);
    for a in &placed {
        match a {
            Attribution::Layout => layout += 1,
            Attribution::Code { .. } => code += 1,
            Attribution::Static(_) => stat += 1,
        }
    }
    println!(
        "published versions: {} files, lines median {} p90 {}, {:.1} MB; placed: {layout} layout, {code} code, {stat} static tier",
        pairs.len(),
        lines[lines.len() / 2],
        lines[lines.len() * 9 / 10],
        pairs.iter().map(|(a, b)| a.len() + b.len()).sum::<usize>() as f64 / 1e6
    );
    let mut group = c.benchmark_group("published versions");
    group.sample_size(10);
    group.bench_function(format!("attribute {} files", pairs.len()), |b| {
        b.iter(|| attribute_all(&refs))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
