//! End to end: the real `vigil run` binary driving the real `cargo nextest`
//! on the fixture workspaces, checking the JSON contract and exit codes.
//! Fixtures build into their own `target/`, shared by every test here.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{events, fixture, json_lines, vigil};
use serde_json::Value;

fn run_json(dir: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let out = vigil()
        .arg("run")
        .arg(dir)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("vigil runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "nothing on stderr in json mode: {stderr}");
    (out.status.code().expect("exit code"), json_lines(&out.stdout))
}

#[test]
fn run_json_contract_on_shop() {
    let (code, lines) = run_json(&fixture("shop"), &[]);
    assert_eq!(code, 1, "a failing test fails the gate");
    assert_eq!(lines[0]["event"], "run_started");
    assert_eq!(lines[0]["run"], 1);
    assert_eq!(lines[0]["trigger"], "manual");
    assert_eq!(
        lines[0]["selected"]["binaries"],
        serde_json::json!(["money", "orders", "orders::checkout", "orders::e2e_flow"])
    );
    assert_eq!(lines[0]["selected"]["tests"], 8);

    let tests = events(&lines, "test");
    let path_of = |name: &str| -> Vec<(String, String)> {
        tests
            .iter()
            .filter(|t| t["name"] == name)
            .map(|t| {
                (
                    t["from"].as_str().unwrap().to_owned(),
                    t["to"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pr = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        path_of("refund_partial"),
        vec![pr("pending", "running"), pr("running", "failed")]
    );
    assert_eq!(
        path_of("rounding_known_bug"),
        vec![pr("pending", "running"), pr("running", "xfail")]
    );
    assert_eq!(path_of("pays_by_card"), vec![pr("pending", "skipped")]);
    assert_eq!(
        path_of("tests::slow_rounding"),
        vec![pr("pending", "running"), pr("running", "passed")]
    );
    let mut last_at = 0.0;
    for t in &tests {
        let at = t["at_s"].as_f64().unwrap();
        assert!(at >= last_at, "transition times never go back");
        last_at = at;
        assert_eq!(t["duration_s"].is_number(), t["to"] != "running", "{t}");
    }
    let failed = tests.iter().find(|t| t["to"] == "failed").unwrap();
    assert!(failed["message"].as_str().unwrap().contains("refund must keep the fee"));
    assert_eq!(failed["location"]["file"], "orders/tests/checkout.rs");
    assert_eq!(failed["location"]["line"], 11);
    let slow = tests
        .iter()
        .find(|t| t["name"] == "tests::slow_rounding" && t["to"] == "passed")
        .unwrap();
    assert!(slow["duration_s"].as_f64().unwrap() >= 1.0);

    let fin = lines.last().unwrap();
    assert_eq!(fin["event"], "run_finished");
    assert_eq!(fin["outcome"], "failed");
    assert_eq!(fin["services"], serde_json::json!([]), "no service configured");
    assert_eq!(
        fin["failures"][0]["assertion"],
        serde_json::json!({"left": "50", "right": "40"}),
        "the assert_eq! values, parsed"
    );
    assert_eq!(
        fin["tests"],
        serde_json::json!({"total":9,"passed":6,"failed":1,"skipped":1,"xfail":1,"xpass":0,"cancelled":0,"blocked":0})
    );
    let suite = |id: &str| {
        fin["suites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["binary_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(suite("money")["type"], "unit");
    assert_eq!(suite("money")["kind"], "lib");
    assert!(suite("money")["duration_s"].as_f64().unwrap() >= 1.0);
    assert_eq!(suite("orders::checkout")["type"], "integration");
    assert_eq!(suite("orders::checkout")["status"], "failed");
    assert_eq!(suite("orders::e2e_flow")["type"], "e2e");
    assert_eq!(fin["failures"][0]["name"], "refund_partial");
    assert_eq!(fin["gate"]["passed"], false);
    assert_eq!(fin["gate"]["reasons"], serde_json::json!(["1 test failed"]));
}

/// vigil's own log (tracing, to `vigil.log` in the state directory) says
/// what the run did.
#[test]
fn the_log_says_what_the_run_did() {
    let (code, _) = run_json(&fixture("shop"), &["--filter", "package(money)"]);
    assert_eq!(code, 0);
    let log = std::fs::read_to_string(common::state_dir().join("vigil.log")).unwrap_or_default();
    assert!(log.contains("run 1: list package(money)"), "the log:\n{log}");
}

#[test]
fn filter_runs_only_what_it_selects_and_passes() {
    let (code, lines) = run_json(&fixture("shop"), &["--filter", "package(money) & not test(slow)"]);
    assert_eq!(code, 0);
    assert_eq!(lines[0]["selected"]["binaries"], serde_json::json!(["money"]));
    assert_eq!(lines[0]["selected"]["tests"], 2);
    assert!(events(&lines, "test").iter().all(|t| t["binary_id"] == "money"));
    let fin = lines.last().unwrap();
    assert_eq!(fin["outcome"], "passed");
    assert_eq!(fin["gate"]["passed"], true);
}

#[test]
fn run_from_a_subdirectory_finds_the_workspace() {
    let (code, lines) = run_json(
        &fixture("shop").join("money/src"),
        &["-E", "package(money) & not test(slow)"],
    );
    assert_eq!(code, 0);
    assert_eq!(lines.last().unwrap()["tests"]["passed"], 2);
}

#[test]
fn bad_filterset_is_a_usage_error() {
    let (code, lines) = run_json(&fixture("shop"), &["--filter", "packge(money"]);
    assert_eq!(code, 2);
    let fin = lines.last().unwrap();
    assert_eq!(fin["outcome"], "list_failed");
    assert!(fin["tool_error"].as_str().unwrap().contains("filterset"), "{fin}");
}

#[test]
fn filter_matching_nothing_is_no_tests() {
    let (code, lines) = run_json(&fixture("shop"), &["--filter", "test(=no_such_test)"]);
    assert_eq!(code, 1);
    assert_eq!(lines.last().unwrap()["outcome"], "no_tests");
}

#[test]
fn human_format_prints_results_and_a_gate_line() {
    let out = vigil().args(["run"]).arg(fixture("shop")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL"), "{text}");
    assert!(text.contains("orders::checkout  refund_partial"), "{text}");
    assert!(text.contains("XFAIL"), "{text}");
    assert!(
        text.contains("failed: 6 passed, 1 failed, 1 skipped, 1 xfail"),
        "{text}"
    );
    assert!(text.contains("gate: failed (1 test failed)"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
}

#[test]
fn build_errors_are_reported_with_cargo_diagnostics() {
    let (code, lines) = run_json(&fixture("broken"), &[]);
    assert_eq!(code, 1);
    let errors = events(&lines, "build_error");
    assert_eq!(errors.len(), 1, "one diagnostic, said once: {errors:?}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("mismatched types") && message.contains("src/lib.rs:4"),
        "{message}"
    );
    let fin = lines.last().unwrap();
    assert_eq!(fin["outcome"], "build_failed");
    assert_eq!(fin["gate"]["reasons"], serde_json::json!(["the build failed"]));
}

#[test]
fn custom_harness_that_breaks_listing_is_shown_clearly() {
    let (code, lines) = run_json(&fixture("harness"), &[]);
    assert_eq!(code, 1);
    let fin = lines.last().unwrap();
    assert_eq!(fin["outcome"], "list_failed");
    let err = fin["tool_error"].as_str().unwrap();
    assert!(err.contains("`--format` requires `-Zunstable-options`"), "{err}");
    assert!(err.contains("custom"), "names the binary: {err}");
}

#[test]
fn outside_a_workspace_says_what_to_do() {
    // Not under CARGO_TARGET_TMPDIR: that is inside vigil's own workspace.
    let dir = std::env::temp_dir().join(format!("vigil-not-a-workspace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = vigil().arg("run").arg(&dir).output().unwrap();
    let plain = vigil().current_dir(&dir).output().unwrap();
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(plain.status.code(), Some(2), "plain `vigil` outside a workspace");
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(
        err.contains("is not inside a Cargo workspace") && err.contains("vigil --demo"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not inside a Cargo workspace"), "{err}");
    assert!(err.contains("vigil --demo"), "{err}");
}

#[test]
fn invalid_config_names_key_and_line() {
    let cfg = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-vigil.toml");
    std::fs::write(&cfg, "[suites]\ne2e = [\"*e2e*\"]\ncolour = true\n").unwrap();
    let out = vigil()
        .arg("run")
        .arg(fixture("shop"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("colour"), "{err}");
}

/// A `cargo` that forwards everything but `nextest`, which it answers with
/// `nextest_reply` (a shell snippet).
fn fake_cargo(name: &str, nextest_reply: &str) -> PathBuf {
    let real = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let script = format!("#!/bin/sh\nif [ \"$1\" = nextest ]; then\n{nextest_reply}\nfi\nexec \"{real}\" \"$@\"\n");
    std::fs::write(&path, script).unwrap();
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    path
}

#[test]
fn missing_nextest_says_how_to_install_it() {
    let cargo = fake_cargo(
        "cargo-without-nextest",
        "echo 'error: no such command: `nextest`' >&2; exit 101",
    );
    let out = vigil()
        .env("CARGO", cargo)
        .arg("run")
        .arg(fixture("shop"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo-nextest is not installed"), "{err}");
    assert!(err.contains("cargo install cargo-nextest --locked"), "{err}");
}

#[test]
fn too_old_nextest_is_refused_with_the_version() {
    let cargo = fake_cargo(
        "cargo-old-nextest",
        "echo 'cargo-nextest 0.9.50 (abc 2023-01-01)'; exit 0",
    );
    let out = vigil()
        .env("CARGO", cargo)
        .arg("run")
        .arg(fixture("shop"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cargo-nextest 0.9.50 is too old") && err.contains("0.9.66"),
        "{err}"
    );
}

/// Pids of live processes with `needle` as one of their arguments.
fn processes_matching(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie && cmdline.split(|b| *b == 0).any(|arg| arg == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

fn cancel_with(signal: i32, test: &str) {
    let child = vigil()
        .arg("run")
        .arg(fixture("sleepy"))
        .args(["--format", "json", "-E", &format!("test(={test})")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the test is running: its process exists.
    let needle = test;
    let deadline = Instant::now() + Duration::from_secs(120);
    while processes_matching(needle).is_empty() {
        assert!(Instant::now() < deadline, "the sleepy test never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a cancelled run fails the gate");
    let lines = json_lines(&out.stdout);
    let fin = lines.last().unwrap();
    assert_eq!(fin["outcome"], "cancelled");
    assert_eq!(fin["tests"]["cancelled"], 1);
    let t = events(&lines, "test");
    assert_eq!(t.last().unwrap()["to"], "cancelled");
    assert!(processes_matching(needle).is_empty(), "no test process outlives vigil");
}

#[test]
fn sigterm_cancels_the_run_and_leaves_no_process() {
    cancel_with(libc::SIGTERM, "sleeps_for_sigterm");
}

#[test]
fn ctrl_c_cancels_the_run_and_leaves_no_process() {
    cancel_with(libc::SIGINT, "sleeps_for_sigint");
}

#[test]
fn slow_test_breaks_a_small_budget_override_and_enforce_fails_the_gate() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let cfg = |enforce: bool| {
        let path = dir.join(format!("budget-{enforce}.toml"));
        std::fs::write(
            &path,
            format!("[budgets]\nenforce = {enforce}\n[[budgets.override]]\ntest = \"money::tests::slow_*\"\nlimit = \"500ms\"\n"),
        )
        .unwrap();
        path
    };
    let money = ["-E", "package(money)"];
    let (code, lines) = run_json(
        &fixture("shop"),
        &[&money[..], &["--config", cfg(false).to_str().unwrap()]].concat(),
    );
    assert_eq!(code, 0, "reported, not enforced");
    let fin = lines.last().unwrap();
    let v = &fin["budgets"]["violations"];
    assert_eq!(v.as_array().unwrap().len(), 1, "{fin}");
    assert_eq!(v[0]["kind"], "test");
    assert_eq!(v[0]["binary_id"], "money");
    assert_eq!(v[0]["name"], "tests::slow_rounding");
    assert_eq!(v[0]["limit_s"], 0.5);
    assert!(v[0]["actual_s"].as_f64().unwrap() >= 1.0);
    let (code, lines) = run_json(
        &fixture("shop"),
        &[&money[..], &["--config", cfg(true).to_str().unwrap()]].concat(),
    );
    assert_eq!(code, 1, "enforced");
    assert_eq!(
        lines.last().unwrap()["gate"]["reasons"],
        serde_json::json!(["1 timing budget exceeded"])
    );
}

#[test]
fn hygiene_checks_report_tests_that_assert_nothing_with_file_and_line() {
    let cfg = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hygiene.toml");
    std::fs::write(&cfg, "[hygiene]\nrequire_assertion = true\nname_pattern = \"*_*\"\n").unwrap();
    let (code, lines) = run_json(
        &fixture("shop"),
        &["-E", "package(money)", "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(code, 0, "warnings, not failures");
    let h = lines.last().unwrap()["hygiene"].as_array().unwrap().clone();
    let got: Vec<(String, u64, String)> = h
        .iter()
        .map(|w| {
            (
                w["file"].as_str().unwrap().to_owned(),
                w["line"].as_u64().unwrap(),
                w["test"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("money/src/lib.rs".to_string(), 19, "adds".to_string()),
            ("orders/tests/checkout.rs".to_string(), 16, "pays_by_card".to_string()),
        ],
        "{h:?}"
    );
    assert!(h[1]["problem"].as_str().unwrap().contains("asserts nothing"));
}

#[test]
fn since_names_untracked_files_right_when_the_workspace_is_a_subdirectory_of_its_repository() {
    let repo = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("since-subdir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&repo);
    let ws = repo.join("ws");
    common::copy_dir(&fixture("shop"), &ws);
    let git = |args: &[&str]| common::git(&repo, args);
    git(&["init", "-q"]);
    std::fs::write(repo.join(".gitignore"), "target/\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "shop"]);
    // Untracked, inside `money`: `git ls-files` run from `ws/` names it
    // `money/rates.csv`, relative to `ws/`, not to the repository top.
    std::fs::write(ws.join("money/rates.csv"), "eur,1\n").unwrap();
    let (code, lines) = run_json(&ws, &["--since", "HEAD"]);
    assert_eq!(lines[0]["event"], "run_started", "{lines:#?}");
    assert_eq!(lines[0]["changed"], serde_json::json!(["money/rates.csv"]));
    assert_eq!(lines[0]["reasons"][0], "`money/rates.csv` changed");
    assert_eq!(
        code, 1,
        "orders depends on money, and orders::checkout has a known failure"
    );
    let _ = std::fs::remove_dir_all(&repo);
}

#[test]
fn a_state_directory_keeps_one_session_apart_from_another_over_the_same_build() {
    let shop = fixture("shop");
    let other = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("state-other-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&other);
    let (_, lines) = run_json(&shop, &["-E", "package(money) & not test(slow)"]);
    assert_eq!(lines.last().unwrap()["event"], "run_finished");
    let report = |state: &std::path::Path| {
        vigil()
            .env("VIGIL_STATE_DIR", state)
            .args(["report", "--format", "json"])
            .arg(&shop)
            .output()
            .unwrap()
    };
    let mine = report(&common::state_dir());
    assert_eq!(mine.status.code(), Some(0), "{}", String::from_utf8_lossy(&mine.stderr));
    let theirs = report(&other);
    assert_eq!(
        theirs.status.code(),
        Some(2),
        "another state directory has no history yet"
    );
    assert!(String::from_utf8_lossy(&theirs.stderr).contains("no history yet"));
    assert!(!other.join("history.sqlite").exists());
}
