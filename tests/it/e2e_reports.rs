//! Reports for CI and for a slow suite, end to end on the `shop` fixture:
//! JUnit XML checked against the schema CI viewers read, and the Chrome
//! trace read back (overlapping tests on different slots).

use crate::common;

use std::process::Command;

use common::{fixture, vigil};
use serde_json::Value;

fn require_xmllint() -> bool {
    let ok = Command::new("xmllint").arg("--version").output().is_ok();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI installs libxml2-utils (.ci/run)");
        eprintln!("SKIPPED: xmllint is not installed (apt install libxml2-utils)");
    }
    ok
}

#[test]
fn junit_and_trace_of_a_real_run() {
    let dir = common::state_dir().join("reports");
    std::fs::create_dir_all(&dir).unwrap();
    let (junit, trace) = (dir.join("junit.xml"), dir.join("trace.json"));
    let out = vigil()
        .arg("run")
        .arg(fixture("shop"))
        .arg("--junit")
        .arg(&junit)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 4, "one per binary:\n{xml}");
    let totals = |a| common::xml_attr(&xml, "testsuites", a);
    assert_eq!(
        (totals("name"), totals("tests"), totals("failures")),
        (Some("vigil".into()), Some("9".into()), Some("1".into())),
        "{xml}"
    );
    let refund = xml.split("<testcase name=\"refund_partial\"").nth(1).unwrap();
    let refund = &refund[..refund.find("</testcase>").unwrap()];
    assert!(
        refund.contains("<failure message=\"") && refund.contains("refund must keep the fee"),
        "{refund}"
    );
    assert!(refund.contains("<system-out>"), "{refund}");
    assert!(
        xml.contains("<skipped message=\"expected failure: rounding favours the shop, see the fixture README\"/>"),
        "{xml}"
    );
    assert!(xml.contains("<skipped message=\"ignored\"/>"), "{xml}");
    if require_xmllint() {
        let check = Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(fixture("junit/junit.xsd"))
            .arg(&junit)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}\n{xml}",
            String::from_utf8_lossy(&check.stderr)
        );
    }

    // The trace: a complete event per test that ran, tests that overlap
    // in time never on the same slot, and some do overlap.
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let bars: Vec<(u64, u64, u64, String)> = t["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| {
            let ts = e["ts"].as_u64().unwrap();
            (
                ts,
                ts + e["dur"].as_u64().unwrap(),
                e["tid"].as_u64().unwrap(),
                e["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(bars.len(), 8, "every test that ran (not the ignored one): {bars:?}");
    let mut overlaps = 0;
    for (i, a) in bars.iter().enumerate() {
        for b in &bars[i + 1..] {
            if a.0 < b.1 && b.0 < a.1 {
                overlaps += 1;
                assert_ne!(a.2, b.2, "{} and {} overlap on one slot", a.3, b.3);
            }
        }
    }
    assert!(overlaps > 0, "nextest ran some tests side by side: {bars:?}");
    assert!(t["traceEvents"].as_array().unwrap().iter().any(|e| e["ph"] == "M"));

    // `report` writes the same from the run it kept.
    let again = dir.join("again.xml");
    let out = vigil()
        .arg("report")
        .arg(fixture("shop"))
        .arg("--junit")
        .arg(&again)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), xml);
}

fn docs_run(extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let out = vigil()
        .arg("run")
        .arg(fixture("docs"))
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), common::json_lines(&out.stdout))
}

fn doc_results(lines: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = common::events(lines, "test")
        .into_iter()
        .filter(|t| t["binary_id"] == "docs::doc" && t["to"] != "running" && t["to"] != "pending")
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The doc lane: `cargo test --doc` after nextest, a suite of type `doc`
/// with a passing, a failing (at its example's line) and an ignored test.
#[test]
fn doctests_run_as_a_suite_of_their_own() {
    let (code, lines) = docs_run(&[]);
    assert_eq!(code, Some(1), "the failing example fails the gate");
    assert_eq!(
        doc_results(&lines),
        vec![
            ("src/lib.rs - add (line 6)".to_owned(), "passed".to_owned()),
            ("src/lib.rs - half (line 15)".to_owned(), "failed".to_owned()),
            ("src/lib.rs - slow (line 24)".to_owned(), "skipped".to_owned()),
        ]
    );
    let f = common::events(&lines, "run_finished")[0];
    assert_eq!(
        (
            f["tests"]["total"].as_u64(),
            f["tests"]["passed"].as_u64(),
            f["tests"]["failed"].as_u64()
        ),
        (Some(4), Some(2), Some(1)),
        "{f}"
    );
    let suite = f["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["binary_id"] == "docs::doc")
        .unwrap();
    assert_eq!(
        (suite["type"].as_str(), suite["status"].as_str()),
        (Some("doc"), Some("failed"))
    );
    let failure = &f["failures"][0];
    assert_eq!(failure["location"]["file"], "src/lib.rs");
    assert_eq!(failure["location"]["line"], 15);
    assert!(failure["message"].as_str().unwrap().contains("panicked"), "{failure}");

    // A file named changed that is as its maps saw it reruns the doctest
    // that failed (each example has its own map, kept by the tracer) and
    // no other; an explicit filter runs none; `lanes.doc = false` turns
    // the lane off.
    let lib = fixture("docs").join("src/lib.rs");
    let (_, lines) = docs_run(&["--changed", lib.to_str().unwrap()]);
    assert_eq!(
        doc_results(&lines),
        [("src/lib.rs - half (line 15)".to_owned(), "failed".to_owned())]
    );
    let (_, lines) = docs_run(&["-E", "test(adds)"]);
    assert!(doc_results(&lines).is_empty());
    let cfg = common::state_dir().join("nodoc.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "[lanes]\ndoc = false\n").unwrap();
    let (code, lines) = docs_run(&["--config", cfg.to_str().unwrap()]);
    assert!(doc_results(&lines).is_empty());
    assert_eq!(code, Some(0), "only the unit test runs");
}

/// Three shards of the shop fixture (nextest's `slice:M/3`), merged, equal
/// one unsharded run in counts and failures, with one gate.
#[test]
fn three_shards_merged_equal_one_run() {
    let whole = vigil()
        .arg("run")
        .arg(fixture("shop"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    let whole = common::json_lines(&whole.stdout);
    let whole = common::events(&whole, "run_finished")[0].clone();
    let base = common::state_dir().join("shards");
    let mut dirs = Vec::new();
    for m in 1..=3 {
        let dir = base.join(format!("shard-{m}"));
        let out = vigil()
            .env("VIGIL_STATE_DIR", base.join(format!("state-{m}")))
            .arg("run")
            .arg(fixture("shop"))
            .args(["--format", "json", "--partition", &format!("slice:{m}/3"), "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        let lines = common::json_lines(&out.stdout);
        let f = common::events(&lines, "run_finished")[0];
        assert!(
            f["tests"]["total"].as_u64().unwrap() < 9,
            "a shard runs part of the suite: {f}"
        );
        dirs.push(dir);
    }
    let junit = base.join("merged.xml");
    let lcov = base.join("merged.lcov");
    let out = vigil()
        .current_dir(fixture("shop"))
        .arg("merge")
        .args(&dirs)
        .args(["--format", "json", "--junit"])
        .arg(&junit)
        .arg("--lcov")
        .arg(&lcov)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the failing test fails the merged gate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged["tests"], whole["tests"], "{merged}");
    let names = |v: &Value| {
        let mut n: Vec<String> = v["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["binary_id"], f["name"]))
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&merged), names(&whole));
    assert_eq!(merged["gate"]["reasons"], serde_json::json!(["1 test failed"]));
    assert_eq!(merged["shards"], 3);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let totals = |a| common::xml_attr(&xml, "testsuites", a);
    assert_eq!(
        (totals("name"), totals("tests"), totals("failures")),
        (Some("vigil".into()), Some("9".into()), Some("1".into())),
        "{xml}"
    );
    // Coverage: the shards' profiles merged give the unsharded figure.
    if common::require_llvm(&fixture("shop")) {
        let (a, b) = (
            merged["coverage"]["lines"]["percent"].as_f64().unwrap(),
            whole["coverage"]["lines"]["percent"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 0.01, "merged {a} % vs one run {b} %");
        assert_eq!(
            merged["coverage"]["lines"]["count"], whole["coverage"]["lines"]["count"],
            "the same executable lines"
        );
        assert!(std::fs::read_to_string(&lcov).unwrap().contains("SF:"));
    }
    // One history entry for the merged run.
    let (store, _) = vigil::adapters::store::Store::open(&common::state_dir().join("history.sqlite")).unwrap();
    let last = &store.recent_runs(1).unwrap()[0];
    assert_eq!((last.trigger.as_str(), last.total, last.failed), ("merge", 9, 1));
    // A missing shard is a clear error.
    let out = vigil().arg("merge").arg(base.join("nowhere")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("events.jsonl"));
}

/// Shards run from one `cargo nextest archive` (built once, as a CI build
/// job would) merge into the whole run too.
#[test]
fn shards_run_from_a_nextest_archive_merge_into_one_run() {
    let base = common::state_dir().join("archive");
    std::fs::create_dir_all(&base).unwrap();
    let archive = base.join("shop.tar.zst");
    let out = std::process::Command::new("cargo")
        .args(["nextest", "archive", "--workspace", "--archive-file"])
        .arg(&archive)
        .current_dir(fixture("shop"))
        .env_remove("NEXTEST_RUN_ID")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut dirs = Vec::new();
    for m in 1..=2 {
        let dir = base.join(format!("shard-{m}"));
        let out = vigil()
            .env("VIGIL_STATE_DIR", base.join(format!("state-{m}")))
            .arg("run")
            .arg(fixture("shop"))
            .args(["--partition", &format!("slice:{m}/2"), "--archive-file"])
            .arg(&archive)
            .arg("--out")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            dir.join("events.jsonl").exists(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("coverage is off when running from a nextest archive")
                || !common::require_llvm(&fixture("shop"))
        );
        dirs.push(dir);
    }
    let out = vigil()
        .current_dir(fixture("shop"))
        .arg("merge")
        .args(&dirs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("failed (2 shards): 6 passed, 1 failed, 1 skipped, 1 xfail"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// On a nightly toolchain the doc lane reads libtest's JSON, which gives
/// each doctest its own time.
#[test]
fn on_nightly_doctests_carry_their_own_times() {
    let ok = Command::new("rustup")
        .args(["run", "nightly", "rustc", "-V"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI installs nightly (.ci/run)");
        eprintln!("SKIPPED: no nightly toolchain");
        return;
    }
    let cfg = common::state_dir().join("nightly.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "[coverage]\nmode = \"off\"\n").unwrap();
    let out = vigil()
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .arg("run")
        .arg(fixture("docs"))
        .args(["--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let lines = common::json_lines(&out.stdout);
    assert_eq!(doc_results(&lines).len(), 3, "{}", String::from_utf8_lossy(&out.stdout));
    let add = common::events(&lines, "test")
        .into_iter()
        .find(|t| t["binary_id"] == "docs::doc" && t["to"] == "passed")
        .unwrap();
    assert!(add["duration_s"].as_f64().unwrap() > 0.0, "{add}");
}

/// The first shard runs the doctests, so the merged run counts them once.
#[test]
fn doctests_run_in_the_first_shard_only() {
    let base = common::state_dir().join("doc-shards");
    let mut dirs = Vec::new();
    for m in 1..=2 {
        let dir = base.join(format!("shard-{m}"));
        vigil()
            .env("VIGIL_STATE_DIR", base.join(format!("state-{m}")))
            .arg("run")
            .arg(fixture("docs"))
            .args(["--partition", &format!("hash:{m}/2"), "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(doc_results(&lines).len(), if m == 1 { 3 } else { 0 }, "shard {m}");
        dirs.push(dir);
    }
    let out = vigil()
        .current_dir(fixture("docs"))
        .arg("merge")
        .args(&dirs)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (merged["tests"]["total"].as_u64(), merged["tests"]["failed"].as_u64()),
        (Some(4), Some(1)),
        "{merged}"
    );
}

/// An example that never returns is stopped after nextest's slow-timeout ×
/// terminate-after (1 s × 2 in the fixture's `.config/nextest.toml`), as
/// nextest stops a test, in an edition 2021 crate (rustdoc runs each
/// example) and an edition 2024 one (merged examples, one runner): it fails
/// as timed out, the other examples pass, the run ends, and nothing is left
/// running or in the lane's temporary directory.
#[test]
fn an_example_that_never_returns_times_out_as_nextest_would() {
    let ws = fixture("hang");
    let mut child = vigil()
        .arg("run")
        .arg(&ws)
        .args(["--format", "json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    // The build and the run take seconds; a lane that never stops, forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`vigil run` did not end: the looping examples were never stopped");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let lines = common::json_lines(&reader.join().unwrap());
    assert_eq!(status.code(), Some(1), "the timed-out examples fail the gate");
    for p in ["old", "new"] {
        let results: Vec<(String, String)> = common::events(&lines, "test")
            .into_iter()
            .filter(|t| t["binary_id"] == format!("hang_{p}::doc") && (t["to"] == "passed" || t["to"] == "failed"))
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_owned(),
                    t["to"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            results
                .iter()
                .map(|(n, s)| (n.as_str(), s.as_str()))
                .collect::<std::collections::BTreeSet<_>>(),
            [
                (format!("{p}/src/lib.rs - one (line 14)"), "passed"),
                (format!("{p}/src/lib.rs - spin (line 3)"), "failed")
            ]
            .iter()
            .map(|(n, s)| (n.as_str(), *s))
            .collect(),
            "{p}"
        );
    }
    let f = common::events(&lines, "run_finished")[0];
    let messages: Vec<&str> = f["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{f}");
    for m in messages {
        assert!(m.starts_with("timed out: vigil stopped the example after 2 s"), "{m}");
    }
    let left = common::processes_left("fixtures/hang");
    assert!(left.is_empty(), "left running: {left:?}");
    let tmp = common::state_dir().join("doctest-tmp");
    let kept: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(kept.is_empty(), "left in {}: {kept:?}", tmp.display());
}
