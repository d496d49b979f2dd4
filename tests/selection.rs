//! Table-driven tests of affected-test selection over the `shop` fixture's
//! workspace graph and catalog: every rule, with its reasons.

mod common;

use std::path::PathBuf;

use vigil::core::select::{plan, Plan};
use vigil::core::{Model, TestState};

fn shop() -> Model {
    common::shop_model()
}

fn at(rel: &str) -> PathBuf {
    PathBuf::from("/fixtures/shop").join(rel)
}

fn targeted(model: &Model, files: &[&str]) -> (String, Vec<(String, String)>) {
    let changed: Vec<PathBuf> = files.iter().map(|f| at(f)).collect();
    match plan(&model.workspace, &model.catalog, &changed) {
        Plan::Some(t) => (t.filterset, t.binaries.into_iter().collect()),
        other => panic!("expected a targeted plan for {files:?}, got {other:?}"),
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[test]
fn every_rule_selects_what_it_should() {
    let mut model = shop();
    // Take the known failure out of the way: it is added by its own rule.
    let suite = model
        .catalog
        .suites
        .iter_mut()
        .find(|s| &*s.binary_id == "orders::checkout")
        .unwrap();
    let i = suite.test_index("refund_partial").unwrap();
    suite.tests[i].state = TestState::Passed;

    let cases: &[(&[&str], &str)] = &[
        // A source file of a leaf crate: it and every member depending on it.
        (&["money/src/lib.rs"], "package(money) | package(orders)"),
        // A source file of a crate nothing depends on: that crate only.
        (&["orders/src/lib.rs"], "package(orders)"),
        // A file of one integration target: that binary only.
        (&["orders/tests/checkout.rs"], "binary_id(orders::checkout)"),
        (&["orders/tests/e2e_flow.rs"], "binary_id(orders::e2e_flow)"),
        // A file under tests/ of no one target: the package's test binaries.
        (&["orders/tests/common/mod.rs"], "package(orders) & kind(test)"),
        // Any other file inside a package: the package and its dependents.
        (&["money/fixtures/rates.csv"], "package(money) | package(orders)"),
        // Several files: the union.
        (
            &["orders/tests/checkout.rs", "orders/tests/e2e_flow.rs"],
            "binary_id(orders::checkout) | binary_id(orders::e2e_flow)",
        ),
    ];
    for (files, expected) in cases {
        let (filterset, _) = targeted(&model, files);
        assert_eq!(&filterset, expected, "for {files:?}");
    }
}

#[test]
fn every_selected_binary_says_why() {
    let model = shop();
    let (_, binaries) = targeted(&model, &["money/src/lib.rs"]);
    assert_eq!(
        binaries,
        vec![
            pair("money", "`money/src/lib.rs` changed"),
            pair("orders", "`money/src/lib.rs` changed; `orders` depends on `money`"),
            pair(
                "orders::checkout",
                "`money/src/lib.rs` changed; `orders` depends on `money`"
            ),
            pair(
                "orders::e2e_flow",
                "`money/src/lib.rs` changed; `orders` depends on `money`"
            ),
        ]
    );
}

#[test]
fn manifests_toolchain_and_configs_run_everything_and_reload() {
    let model = shop();
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "money/Cargo.toml",
        "money/build.rs",
        ".cargo/config.toml",
        ".cargo/config",
        "rust-toolchain.toml",
        "rust-toolchain",
        ".config/nextest.toml",
        "vigil.toml",
    ] {
        match plan(&model.workspace, &model.catalog, &[at(f)]) {
            Plan::Everything { reload, reasons } => {
                assert!(reload, "{f}");
                assert_eq!(reasons, vec![format!("`{f}` changed: everything runs")]);
            }
            other => panic!("{f}: expected everything, got {other:?}"),
        }
    }
}

#[test]
fn a_file_outside_every_package_runs_nothing() {
    let model = shop();
    for f in ["README.md", "docs/guide.md", ".github/workflows/ci.yml"] {
        assert_eq!(
            plan(&model.workspace, &model.catalog, &[at(f)]),
            Plan::Nothing {
                ignored: vec![f.to_owned()]
            },
            "{f}"
        );
    }
    assert!(matches!(
        plan(&model.workspace, &model.catalog, &[PathBuf::from("/elsewhere/x.rs")]),
        Plan::Nothing { .. }
    ));
}

#[test]
fn last_failures_and_never_run_tests_are_always_added() {
    let mut model = shop();
    // refund_partial failed in the recorded run; add a test never run.
    let suite = model
        .catalog
        .suites
        .iter_mut()
        .find(|s| &*s.binary_id == "money")
        .unwrap();
    suite.add_test("tests::brand_new");
    let (filterset, _) = targeted(&model, &["orders/tests/e2e_flow.rs"]);
    assert_eq!(
        filterset,
        "(binary_id(money) & test(=tests::brand_new)) | (binary_id(orders::checkout) & test(=refund_partial)) | binary_id(orders::e2e_flow)"
    );
    let t = match plan(&model.workspace, &model.catalog, &[at("orders/tests/e2e_flow.rs")]) {
        Plan::Some(t) => t,
        other => panic!("{other:?}"),
    };
    assert!(t
        .reasons
        .contains(&"orders::checkout refund_partial: failed last time".to_string()));
    assert!(t.reasons.contains(&"money tests::brand_new: never run".to_string()));
}
