//! End to end: `vigil check` on the `trust` fixture, whose tests each plant
//! one kind of finding (honestly: a file two tests race on, a loopback
//! service this test starts, a token that expires, a coin from the clock,
//! a marker left in the working directory, a temp file, a child process),
//! beside clean tests that must produce none.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{copy_dir, fixture, json_lines, live_processes, vigil};

/// A copy of the `trust` fixture in this test's own directory, and a temp
/// dir beside it (outside the workspace: what the tests leave there is not
/// a change): (directory, workspace, temp dir).
fn trust(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-trust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("trust");
    copy_dir(&fixture("trust"), &root);
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    (base, root, tmp)
}

#[test]
fn check_names_every_planted_kind_and_nothing_for_the_clean_tests() {
    let faketime = vigil::adapters::check::faketime().is_some();
    if !faketime {
        assert!(
            std::env::var("CI").is_err(),
            "libfaketime must be installed in CI (.ci/run installs Debian's faketime)"
        );
        eprintln!("SKIPPED: libfaketime is not installed (apt-get install faketime)");
        return;
    }
    if let Err(e) = vigil::adapters::check::namespaces() {
        assert!(std::env::var("CI").is_err(), "CI can have network namespaces: {e}");
        eprintln!("SKIPPED: {e}");
        return;
    }
    let (base, root, tmp) = trust("check");
    // The loopback service a unit test talks to, outside the test.
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = service.local_addr().unwrap().port();
    std::thread::spawn(move || for _ in service.incoming() {});

    let out = vigil()
        .args([
            "check",
            "--runs",
            "40",
            "--parallel",
            "2",
            "--strict",
            "--format",
            "json",
            "-C",
        ])
        .arg(&root)
        .env("TRUST_SERVICE_PORT", port.to_string())
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--strict fails on findings; stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = common::events(&lines, "check_started")[0];
    assert_eq!(
        (started["tests"].as_u64(), started["runs"].as_u64()),
        (Some(10), Some(40))
    );
    let finished = common::events(&lines, "check_finished")[0];
    assert_eq!(finished["skipped"], serde_json::json!([]), "every check ran");
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in finished["findings"].as_array().unwrap() {
        found
            .entry(f["name"].as_str().unwrap().to_owned())
            .or_default()
            .push(f["kind"].as_str().unwrap().to_owned());
    }
    let expect = [
        ("races_on_one_file_a", "race"),
        ("races_on_one_file_b", "race"),
        ("tests::talks_to_the_loopback_service", "network"),
        ("tests::token_is_still_valid", "clock"),
        ("leaves_state_behind", "state"),
        ("tests::coin_from_the_clock", "nondeterministic"),
        ("tests::leaves_a_temp_file", "leaked_files"),
        ("tests::leaves_a_child", "leaked_processes"),
    ];
    for (name, kind) in expect {
        assert_eq!(found.get(name), Some(&vec![kind.to_owned()]), "{name}: {found:#?}");
    }
    for clean in ["tests::clean_adds", "clean_strings"] {
        assert!(!found.contains_key(clean), "{clean} is clean: {found:#?}");
    }
    let finding = |name: &str| {
        finished["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    let race = finding("races_on_one_file_a");
    assert_eq!(race["runs"], 40);
    assert!(race["failures"].as_u64().unwrap() > 0);
    assert!(
        race["evidence"].as_str().unwrap().contains("none of 40 alone"),
        "{race}"
    );
    assert!(
        race["assertion"]["right"].as_str().unwrap().starts_with("\"a "),
        "{race}"
    );
    let clock = finding("tests::token_is_still_valid");
    assert!(clock["evidence"].as_str().unwrap().contains("+3y and -3y"), "{clock}");
    let leaked = finding("tests::leaves_a_child");
    assert!(leaked["evidence"].as_str().unwrap().contains("`sleep`"), "{leaked}");
    let state = finding("leaves_state_behind");
    assert_eq!(
        (state["runs"].as_u64(), state["failures"].as_u64()),
        (Some(40), Some(39))
    );
    // Each test's record: its runs and timing.
    let record = finished["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "tests::clean_adds")
        .unwrap();
    assert_eq!(
        (record["runs"].as_u64(), record["failures"].as_u64()),
        (Some(80), Some(0))
    );
    // The seed's record, from the source.
    assert_eq!(record["assertions"], 1);
    assert_eq!(record["markers"], serde_json::json!(["test"]));
    let coin = finished["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "tests::coin_from_the_clock")
        .unwrap();
    assert_eq!(
        (coin["assertions"].as_u64(), coin["fixtures"].as_array().map(Vec::len)),
        (Some(1), Some(0))
    );
    assert!(record["median_ms"].as_f64().unwrap() > 0.0);
    // What the tests left running was stopped; the check's own files are gone.
    let mine = format!("TMPDIR={}", tmp.display());
    let sleeping: Vec<String> = live_processes()
        .into_iter()
        .filter(|(_, dir)| {
            let cmd = std::fs::read(dir.join("cmdline")).unwrap_or_default();
            let env = std::fs::read(dir.join("environ")).unwrap_or_default();
            cmd.starts_with(b"sleep\x0030") && env.split(|b| *b == 0).any(|kv| kv == mine.as_bytes())
        })
        .map(|(pid, _)| pid.to_string())
        .collect();
    assert!(sleeping.is_empty(), "left running: {sleeping:?}");
    assert!(!common::state_dir().join("check").exists());
    // Kept in the history, per test, until a check passes it.
    let (store, _) = vigil::adapters::store::Store::open(&common::state_dir().join("history.sqlite")).unwrap();
    let kept = store.findings().unwrap();
    assert!(
        kept.iter()
            .any(|f| f.name == "races_on_one_file_a" && f.kind == vigil::core::check::Kind::Race),
        "{kept:?}"
    );
    assert_eq!(kept.len(), finished["findings"].as_array().unwrap().len());
    let _ = std::fs::remove_dir_all(&base);
}

/// In coverage mode vigil is the tests' runner, resident: a test that
/// leaves a process running is named in `run_finished.leaks`, and nothing
/// it left is running once the run is over.
#[test]
fn a_normal_run_names_the_test_that_left_a_process_running() {
    let (base, root, tmp) = trust("leak");
    if !common::require_llvm(&root) {
        return;
    }
    let out = vigil()
        .args([
            "run",
            "--format",
            "json",
            "-E",
            "test(leaves_a_child) | test(clean_adds)",
        ])
        .arg(&root)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out.stdout);
    let finished = common::events(&lines, "run_finished")[0];
    // Each suite's own reach: the union of its tests' maps, never more than
    // the workspace's covered lines.
    let covered = finished["coverage"]["lines"]["covered"].as_u64().unwrap();
    let trust = finished["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["binary_id"] == "trust")
        .unwrap();
    let reached = trust["lines_reached"].as_u64().expect("lines_reached");
    assert!(reached > 0 && reached <= covered, "{reached} of {covered}: {trust}");
    let percent = trust["lines_percent"].as_f64().unwrap();
    assert!(percent > 0.0 && percent <= 100.0, "{trust}");
    let leaks = finished["leaks"].as_array().expect("run_finished.leaks");
    assert_eq!(leaks.len(), 1, "{finished}");
    assert_eq!(leaks[0]["name"], "tests::leaves_a_child");
    assert_eq!(leaks[0]["kind"], "leaked_processes");
    assert!(
        leaks[0]["evidence"].as_str().unwrap().contains("`sleep`"),
        "{}",
        leaks[0]
    );
    // This test's own: their environment names its temp dir.
    let mine = format!("TMPDIR={}", tmp.display());
    let sleeping = live_processes()
        .into_iter()
        .filter(|(_, dir)| {
            let cmd = std::fs::read(dir.join("cmdline")).unwrap_or_default();
            let env = std::fs::read(dir.join("environ")).unwrap_or_default();
            cmd.starts_with(b"sleep\x0030") && env.split(|b| *b == 0).any(|kv| kv == mine.as_bytes())
        })
        .count();
    assert_eq!(sleeping, 0, "what the test left is stopped");
    let _ = std::fs::remove_dir_all(&base);
}

/// DeFlaker's rule on the real thing: after an edit elsewhere (placed by
/// the maps, which clear the coin), the coin test's failure is rechecked at
/// once and, passing then, judged likely flaky with its evidence.
#[test]
fn the_coins_failure_after_an_edit_elsewhere_is_judged_likely_flaky_at_once() {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    let (base, root, tmp) = trust("flaky");
    if !common::require_llvm(&root) {
        return;
    }
    let _ = std::fs::remove_dir_all(common::state_dir());
    // No idle sweep: on a loaded machine its 60 s came between a failure
    // and its recheck.
    std::fs::write(root.join("vigil.toml"), "[watch]\nsweep_after = \"off\"\n").unwrap();
    let mut child = vigil()
        .args(["watch", "--no-tui", "--format", "json"])
        .arg(&root)
        .env("TMPDIR", &tmp)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            // SAFETY: signalling our own child.
            unsafe {
                libc::kill(self.0.id() as i32, libc::SIGINT);
            }
            let _ = self.0.wait();
        }
    }
    let (tx, rx) = mpsc::channel::<serde_json::Value>();
    let out = child.stdout.take().unwrap();
    let _stop = Stop(child);
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if tx.send(v).is_err() {
                    return;
                }
            }
        }
    });
    // Quiet: no event for a while (the state test's marker reruns it once).
    let settle = |rx: &mpsc::Receiver<serde_json::Value>| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while rx.recv_timeout(Duration::from_secs(3)).is_ok() {
            assert!(Instant::now() < deadline, "never settled");
        }
    };
    // The next run's end within `limit`, with the trigger it started
    // with (every event but the tests' is printed: shown on a failure).
    let next = |rx: &mpsc::Receiver<serde_json::Value>, limit: Duration| -> Option<serde_json::Value> {
        let deadline = Instant::now() + limit;
        let mut trigger = serde_json::Value::Null;
        loop {
            let mut v = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()?;
            if v["event"] != "test" {
                eprintln!("{}", v.to_string().chars().take(300).collect::<String>());
            }
            if v["event"] == "run_started" {
                trigger = v["trigger"].clone();
            }
            if v["event"] == "run_finished" {
                v["trigger"] = trigger;
                return Some(v);
            }
        }
    };
    let finished =
        |rx: &mpsc::Receiver<serde_json::Value>| next(rx, Duration::from_secs(120)).expect("a run to finish");
    let coin = "tests::coin_from_the_clock";
    let failed_in = |run: &serde_json::Value| run["failures"].as_array().unwrap().iter().any(|f| f["name"] == coin);
    // DeFlaker's rule needs a pass before the failure: a failure after a
    // failure is rechecked by nothing.
    let mut passed_last = !failed_in(&finished(&rx));
    settle(&rx);
    // An edit elsewhere: a new test in the race binary.
    let race = root.join("tests/race.rs");
    let mut text = std::fs::read_to_string(&race).unwrap();
    text.push_str("\n#[test]\nfn added_elsewhere() {}\n");
    std::fs::write(&race, text).unwrap();
    if failed_in(&finished(&rx)) {
        passed_last = false;
    }
    settle(&rx);
    let mut sock = vigil::adapters::server::connect(&common::state_dir().join("vigil.sock")).unwrap();
    let mut verdicts = Vec::new();
    for _ in 0..40 {
        sock.write_all(format!("rerun trust {coin}\n").as_bytes()).unwrap();
        // The rerun's end: a run something else started on the way (a
        // save the fixture's tests make, a late recheck) is passed over,
        // its coin failure kept.
        let run = loop {
            let r = finished(&rx);
            if r["trigger"] == "client" {
                break r;
            }
            if failed_in(&r) {
                passed_last = false;
            }
        };
        if !failed_in(&run) {
            passed_last = true;
            continue;
        }
        if !std::mem::replace(&mut passed_last, false) {
            continue;
        }
        // Failed though nothing reached it: rechecked at once (unless
        // another run came first, whose result then judges it).
        let mut recheck = None;
        while let Some(r) = next(&rx, Duration::from_secs(60)) {
            if r["trigger"] == "recheck" {
                recheck = Some(r);
                break;
            }
        }
        let Some(recheck) = recheck else { continue };
        let flaky: Vec<&serde_json::Value> = recheck["flaky"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["name"] == coin && f["evidence"].is_string())
            .collect();
        let again = recheck["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == coin);
        passed_last = !again;
        verdicts.push((flaky.len(), again));
        assert!(
            flaky.len() == 1 || again,
            "either likely flaky or failing again: {recheck}"
        );
        if let Some(f) = flaky.first() {
            let evidence = f["evidence"].as_str().unwrap();
            assert!(
                evidence.contains("no change since its last pass reached its coverage map"),
                "{evidence}"
            );
            assert!(
                evidence.contains(&format!("passed when run again (run {})", recheck["run"])),
                "{evidence}"
            );
            break;
        }
    }
    assert!(
        verdicts.iter().any(|(flaky, _)| *flaky == 1),
        "the coin was judged likely flaky: {verdicts:?}"
    );
    let _ = std::fs::remove_dir_all(&base);
}
