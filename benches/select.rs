//! Planning a 1,000-file change set (a checkout, a rename across crates) on
//! a 60-member workspace tied through registry crates and a `[patch]`, with
//! 3,000 listed tests and an index of 5,000 recorded inputs: cargo's graph
//! walk, the dep-info lookup and the filterset. Target: under 20 ms.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use vigil::core::catalog::{Catalog, Package, Target, Workspace};
use vigil::core::graph::{DepKind, Edge, Graph, Node};
use vigil::core::inputs::{Inputs, Owner, Via};
use vigil::core::msg::{ListedSuite, ListedTest};
use vigil::core::select::{plan, Evidence, Plan};

const MEMBERS: usize = 60;
const REGISTRY: usize = 200;

fn root() -> PathBuf {
    PathBuf::from("/w")
}

fn edge(to: usize, kind: DepKind) -> Edge {
    Edge {
        to,
        kinds: vec![(kind, None)],
        rename: None,
        patched: None,
    }
}

fn workspace() -> Workspace {
    let mut nodes = Vec::new();
    // Members 0..60: each depends on the two before it; every fifth one's
    // tests reach member 0 through a registry crate.
    for m in 0..MEMBERS {
        let mut deps: Vec<Edge> = (m.saturating_sub(2)..m).map(|d| edge(d, DepKind::Normal)).collect();
        if m % 5 == 4 {
            deps.push(edge(MEMBERS + m, DepKind::Dev));
        }
        nodes.push(Node {
            name: format!("crate{m}"),
            version: "0.1.0".into(),
            member: true,
            dir: Some(root().join(format!("crate{m}"))),
            deps,
        });
    }
    for r in 0..REGISTRY {
        let mut patched = edge(0, DepKind::Normal);
        patched.patched = Some("[patch.crates-io]".into());
        nodes.push(Node {
            name: format!("reg{r}"),
            version: "1.0.0".into(),
            member: false,
            dir: None,
            deps: if r < MEMBERS { vec![patched] } else { vec![] },
        });
    }
    let packages = (0..MEMBERS)
        .map(|m| Package {
            name: format!("crate{m}"),
            manifest_dir: root().join(format!("crate{m}")),
            deps: Vec::new(),
            targets: vec![
                Target {
                    name: format!("crate{m}"),
                    kinds: vec!["lib".into()],
                    src_path: root().join(format!("crate{m}/src/lib.rs")),
                },
                Target {
                    name: "it".into(),
                    kinds: vec!["test".into()],
                    src_path: root().join(format!("crate{m}/tests/it.rs")),
                },
            ],
            ..Package::default()
        })
        .collect();
    Workspace {
        root: root(),
        target_dir: root().join("target"),
        packages,
        graph: Graph::new(nodes),
        ..Workspace::default()
    }
}

fn catalog() -> Catalog {
    let listed: Vec<ListedSuite> = (0..MEMBERS)
        .flat_map(|m| {
            ["lib", "test"].into_iter().map(move |kind| {
                let id = if kind == "lib" {
                    format!("crate{m}")
                } else {
                    format!("crate{m}::it")
                };
                ListedSuite {
                    binary_id: Arc::from(id.as_str()),
                    package: format!("crate{m}"),
                    binary_name: id.clone(),
                    kind: kind.into(),
                    binary_path: PathBuf::from("/w/target/debug/deps/x"),
                    tests: (0..25)
                        .map(|t| ListedTest {
                            name: format!("case_{t}"),
                            ignored: false,
                            selected: true,
                        })
                        .collect(),
                }
            })
        })
        .collect();
    let mut catalog = Catalog::default();
    catalog.merge_listing(&listed, &[], true);
    catalog
}

fn inputs() -> Inputs {
    let mut inputs = Inputs::default();
    inputs.compilations = 2 * MEMBERS;
    for m in 0..MEMBERS {
        for f in 0..80 {
            inputs.add_file(
                root().join(format!("crate{m}/src/m{f}.rs")),
                Owner::Package(format!("crate{m}")),
                Via::Compiled,
            );
        }
        inputs.add_file(
            root().join(format!("shared/data{m}.txt")),
            Owner::Package(format!("crate{m}")),
            Via::Compiled,
        );
    }
    inputs
}

fn bench(c: &mut Criterion) {
    let (ws, catalog, inputs) = (workspace(), catalog(), inputs());
    // 1,000 paths: sources of every member, shared data, tests, and files
    // nothing reads.
    let changed: Vec<PathBuf> = (0..1000)
        .map(|i| match i % 4 {
            0 => root().join(format!("crate{}/src/m{}.rs", i % MEMBERS, i % 80)),
            1 => root().join(format!("shared/data{}.txt", i % MEMBERS)),
            2 => root().join(format!("crate{}/tests/it.rs", i % MEMBERS)),
            _ => root().join(format!("docs/page{i}.md")),
        })
        .collect();
    match plan(&ws, &catalog, &inputs, &Evidence::none(), &changed) {
        Plan::Some(t) => assert_eq!(t.ignored.len(), 250),
        other => panic!("{other:?}"),
    }
    c.bench_function("plan 1,000 changed files", |b| {
        b.iter(|| plan(&ws, &catalog, &inputs, &Evidence::none(), &changed))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
