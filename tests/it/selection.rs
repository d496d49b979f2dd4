//! Table-driven tests of affected-test selection over the `shop` fixture's
//! workspace graph and catalog: every rule, with its reasons.

use crate::common;

use std::path::PathBuf;

use vigil::core::inputs::{Inputs, Owner, Via};
use vigil::core::select::{plan, Evidence, Plan};
use vigil::core::{Model, TestState};

fn shop() -> Model {
    common::shop_model()
}

/// What a build of the fixture left: an index that names no extra input.
fn built() -> Inputs {
    let mut inputs = Inputs::default();
    inputs.compilations = 1;
    inputs
}

fn at(rel: &str) -> PathBuf {
    PathBuf::from("/fixtures/shop").join(rel)
}

fn targeted(model: &Model, files: &[&str]) -> (String, Vec<(String, String)>) {
    let changed: Vec<PathBuf> = files.iter().map(|f| at(f)).collect();
    match plan(&model.workspace, &model.catalog, &built(), &Evidence::none(), &changed) {
        Plan::Some(t) => (t.filterset, t.binaries.into_iter().collect()),
        other => panic!("expected a targeted plan for {files:?}, got {other:?}"),
    }
}

fn suite_mut<'a>(model: &'a mut Model, binary_id: &str) -> &'a mut vigil::core::Suite {
    model
        .catalog
        .suites
        .iter_mut()
        .find(|s| &*s.binary_id == binary_id)
        .unwrap()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[test]
fn every_rule_selects_what_it_should() {
    let mut model = shop();
    // Take the known failure out of the way: it is added by its own rule.
    let suite = suite_mut(&mut model, "orders::checkout");
    let i = suite.test_index("refund_partial").unwrap();
    suite.tests[i].state = TestState::Passed;

    let cases: &[(&[&str], &str)] = &[
        // A source file of a leaf crate: it and every member depending on it.
        (&["money/src/lib.rs"], "rdeps(money)"),
        // A source file of a crate nothing depends on: that crate only.
        (&["orders/src/lib.rs"], "rdeps(orders)"),
        // A build script: its package and the members depending on it.
        (&["money/build.rs"], "rdeps(money)"),
        // A file of one integration target: that binary only.
        (&["orders/tests/checkout.rs"], "binary_id(orders::checkout)"),
        (&["orders/tests/e2e_flow.rs"], "binary_id(orders::e2e_flow)"),
        // A file under tests/ of no one target: the package's test binaries.
        (&["orders/tests/common/mod.rs"], "package(orders) & kind(test)"),
        // Any other file inside a package: the package and its dependents.
        (&["money/fixtures/rates.csv"], "rdeps(money)"),
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
        ".cargo/config.toml",
        ".cargo/config",
        "rust-toolchain.toml",
        "rust-toolchain",
        ".config/nextest.toml",
        "vigil.toml",
    ] {
        match plan(&model.workspace, &model.catalog, &built(), &Evidence::none(), &[at(f)]) {
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
            plan(&model.workspace, &model.catalog, &built(), &Evidence::none(), &[at(f)]),
            Plan::Nothing {
                ignored: vec![f.to_owned()]
            },
            "{f}"
        );
    }
    assert!(matches!(
        plan(
            &model.workspace,
            &model.catalog,
            &built(),
            &Evidence::none(),
            &[PathBuf::from("/elsewhere/x.rs")]
        ),
        Plan::Nothing { .. }
    ));
}

#[test]
fn a_file_nothing_claims_runs_everything_while_nothing_is_built() {
    let model = shop();
    match plan(
        &model.workspace,
        &model.catalog,
        &Inputs::default(),
        &Evidence::none(),
        &[at("README.md")],
    ) {
        Plan::Everything { reasons, .. } => assert_eq!(
            reasons,
            vec!["`README.md` changed (nothing is built yet to tell what reads it): everything runs".to_string()]
        ),
        other => panic!("expected everything, got {other:?}"),
    }
}

#[test]
fn files_a_compilation_read_select_what_was_built_from_them() {
    let model = shop();
    let mut inputs = built();
    // `include_str!("../../shared/rates.csv")` in money's lib, and a test
    // target's own fixture outside the workspace.
    inputs.add_file(
        PathBuf::from("/fixtures/shared/rates.csv"),
        Owner::Package("money".into()),
        Via::Compiled,
    );
    inputs.add_file(
        PathBuf::from("/data/golden.txt"),
        Owner::Binary {
            package: "orders".into(),
            binary_id: "orders::checkout".into(),
        },
        Via::Compiled,
    );
    inputs.add_dir(PathBuf::from("/fixtures/templates"), Owner::Package("orders".into()));
    let cases: &[(&str, &str, &str)] = &[
        (
            "/fixtures/shared/rates.csv",
            "rdeps(money)",
            "`../shared/rates.csv` changed (read when compiling `money`)",
        ),
        (
            "/data/golden.txt",
            "binary_id(orders::checkout)",
            "`/data/golden.txt` changed (read when compiling `orders::checkout`)",
        ),
        (
            "/fixtures/templates/mail.txt",
            "rdeps(orders)",
            "`../templates/mail.txt` changed (`orders`'s build script reruns on it)",
        ),
    ];
    for (file, filterset, reason) in cases {
        match plan(
            &model.workspace,
            &model.catalog,
            &inputs,
            &Evidence::none(),
            &[PathBuf::from(file)],
        ) {
            Plan::Some(t) => {
                assert!(t.filterset.starts_with(filterset), "{file}: {}", t.filterset);
                assert_eq!(t.reasons.first().map(String::as_str), Some(*reason), "{file}");
                assert!(t.ignored.is_empty());
            }
            other => panic!("{file}: {other:?}"),
        }
    }
}

#[test]
fn only_the_part_of_a_change_set_that_selects_is_kept() {
    let model = shop();
    match plan(
        &model.workspace,
        &model.catalog,
        &built(),
        &Evidence::none(),
        &[at("NOTES.md"), at("orders/tests/checkout.rs")],
    ) {
        Plan::Some(t) => assert_eq!(t.ignored, vec!["NOTES.md".to_string()]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_binary_whose_tests_mostly_never_ran_is_selected_whole() {
    let mut model = shop();
    let suite = suite_mut(&mut model, "money");
    for i in 0..40 {
        suite.add_test(&format!("tests::generated_{i}"));
    }
    let (filterset, binaries) = targeted(&model, &["orders/tests/e2e_flow.rs"]);
    assert!(filterset.contains("binary_id(money)"), "{filterset}");
    assert!(!filterset.contains("generated_"), "{filterset}");
    assert!(binaries
        .iter()
        .any(|(b, why)| b == "money" && why.contains("never ran")));
}

#[test]
fn last_failures_and_never_run_tests_are_always_added() {
    let mut model = shop();
    // refund_partial failed in the recorded run; add a test never run.
    let suite = suite_mut(&mut model, "money");
    suite.add_test("tests::brand_new");
    let (filterset, _) = targeted(&model, &["orders/tests/e2e_flow.rs"]);
    assert_eq!(
        filterset,
        "(binary_id(money) & test(=tests::brand_new)) | (binary_id(orders::checkout) & test(=refund_partial)) | binary_id(orders::e2e_flow)"
    );
    let t = match plan(
        &model.workspace,
        &model.catalog,
        &built(),
        &Evidence::none(),
        &[at("orders/tests/e2e_flow.rs")],
    ) {
        Plan::Some(t) => t,
        other => panic!("{other:?}"),
    };
    assert!(t
        .reasons
        .contains(&"orders::checkout refund_partial: failed last time".to_string()));
    assert!(t.reasons.contains(&"money tests::brand_new: never run".to_string()));
}
