//! End to end: `vigil watch --no-tui` with the real watcher and the real
//! nextest on a temporary copy of the `shop` fixture, grown by a third,
//! unrelated crate (`labels`) and a test that can be made slow.

use crate::common;

use common::{copy_dir, processes_left};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{fixture, vigil};
use serde_json::Value;

/// A copy of `shop` plus `labels`, in this test's own directory.
fn workspace(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("watch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    copy_dir(&fixture("shop"), &root);
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"money\", \"orders\", \"labels\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("labels/src")).unwrap();
    std::fs::write(
        root.join("labels/Cargo.toml"),
        "[package]\nname = \"labels\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("labels/src/lib.rs"),
        "pub fn label(s: &str) -> String { s.to_uppercase() }\n#[test]\nfn shouts() { assert_eq!(label(\"a\"), \"A\"); }\n",
    )
    .unwrap();
    // Slow (for as many seconds as it says) only when the test asks for it
    // through the environment.
    std::fs::write(
        root.join("orders/tests/patience.rs"),
        "#[test]\nfn waits_when_asked() {\n    if let Ok(secs) = std::env::var(\"VIGIL_FIXTURE_SLOW\") {\n        std::thread::sleep(std::time::Duration::from_secs(secs.parse().unwrap_or(60)));\n    }\n}\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(root.join("Cargo.lock"));
    root
}

/// `vigil watch --no-tui --format json` with its JSON lines on a channel.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Watch {
    /// `slow`: how many seconds the `patience` test sleeps.
    fn start(root: &Path, slow: Option<&str>) -> Self {
        let mut cmd = vigil();
        cmd.args(["watch", "--no-tui", "--format", "json"])
            .arg(root)
            .stdout(Stdio::piped());
        if let Some(secs) = slow {
            cmd.env("VIGIL_FIXTURE_SLOW", secs);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Watch {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for the first new line matching `pred`.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; seen: {:#?}", self.seen));
            self.seen.push(v.clone());
            if pred(&v) {
                return v;
            }
        }
    }

    fn finished(&mut self, run: u64) -> Value {
        self.wait_for(&format!("run {run} to finish"), |v| {
            v["event"] == "run_finished" && v["run"] == run
        })
    }

    /// Lines that arrive within `quiet`.
    fn drain(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(v) = self.lines.recv_timeout(quiet) {
            self.seen.push(v.clone());
            out.push(v);
        }
        out
    }

    fn stop(mut self) -> i32 {
        self.interrupt()
    }

    fn interrupt(&mut self) -> i32 {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Watch {
    /// A failed assertion must not leave vigil (and its nextest) running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.interrupt();
        }
    }
}

/// A change of tokens (a comment alone would rerun nothing): a new
/// item, named after the file's length so that edits never collide.
fn edit(path: &Path) {
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(&format!(
        "\n#[allow(dead_code)]\nconst WATCH_EDIT_{}: () = ();\n",
        text.len()
    ));
    std::fs::write(path, text).unwrap();
}

fn binaries(v: &Value) -> Vec<String> {
    v["selected"]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn editing_a_leaf_crate_runs_it_and_its_dependents_only() {
    let root = workspace("leaf");
    // The static tier (the graph's binaries) is what this checks: with
    // coverage maps, a comment at the end of the file would rerun nothing.
    let config = root.join("vigil.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("selection = \"binaries\"\n{text}")).unwrap();
    let mut w = Watch::start(&root, None);
    w.finished(1);
    edit(&root.join("money/src/lib.rs"));
    let started = w.wait_for("a watch run", |v| v["event"] == "run_started" && v["run"] == 2);
    assert_eq!(started["trigger"], "watch");
    assert_eq!(started["changed"], serde_json::json!(["money/src/lib.rs"]));
    let b = binaries(&started);
    assert_eq!(
        b,
        vec![
            "money",
            "orders",
            "orders::checkout",
            "orders::e2e_flow",
            "orders::patience"
        ]
    );
    assert!(!b.contains(&"labels".to_string()), "labels does not depend on money");
    assert_eq!(
        started["binary_reasons"]["orders"],
        "`money/src/lib.rs` changed; `orders` depends on `money`"
    );
    let fin = w.finished(2);
    assert!(fin["suites"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["binary_id"] != "labels"));
    w.stop();
}

#[test]
fn editing_one_integration_test_runs_only_that_binary() {
    let root = workspace("one-test");
    let mut w = Watch::start(&root, None);
    w.finished(1);
    edit(&root.join("orders/tests/e2e_flow.rs"));
    let started = w.wait_for("a watch run", |v| v["event"] == "run_started" && v["run"] == 2);
    // The test that failed last time always comes along.
    assert_eq!(binaries(&started), vec!["orders::checkout", "orders::e2e_flow"]);
    assert_eq!(started["selected"]["tests"], 2, "e2e_flow's test and the last failure");
    let fin = w.finished(2);
    let ran: Vec<&str> = fin["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["binary_id"].as_str().unwrap())
        .collect();
    assert!(ran.contains(&"orders::e2e_flow"));
    w.stop();
}

#[test]
fn a_flood_of_500_files_is_one_run() {
    let root = workspace("flood");
    let mut w = Watch::start(&root, None);
    w.finished(1);
    // Rust sources (a code generator's output): each selects its package.
    // Data files no build or test reads would select nothing at all.
    let data = root.join("labels/src/generated");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..500 {
        std::fs::write(data.join(format!("label_{i}.rs")), format!("// label {i}\n")).unwrap();
        // Like a checkout on a busy machine: the writer stalls now and then,
        // longer in all than the debounce.
        if i % 50 == 49 {
            std::thread::sleep(std::time::Duration::from_millis(40));
        }
    }
    let started = w.wait_for("the flood's run", |v| v["event"] == "run_started");
    assert_eq!(started["run"], 2);
    assert_eq!(
        binaries(&started),
        vec!["labels", "orders::checkout"],
        "labels, and the last failure"
    );
    w.finished(2);
    let later = w.drain(Duration::from_secs(3));
    assert!(
        later.iter().all(|v| v["event"] != "run_started"),
        "one change set, one run: {later:#?}"
    );
    // A file outside every package starts nothing, and says so.
    std::fs::write(root.join("NOTES.md"), "notes\n").unwrap();
    let ignored = w.wait_for("the ignored change", |v| v["event"] == "change_ignored");
    assert_eq!(ignored["changed"], serde_json::json!(["NOTES.md"]));
    w.stop();
}

#[test]
fn an_edit_during_a_run_cancels_and_restarts_it_with_both_changes() {
    let root = workspace("restart");
    let mut w = Watch::start(&root, Some("60"));
    let test_started = |v: &Value| v["event"] == "test" && v["name"] == "waits_when_asked" && v["to"] == "running";
    w.wait_for("the slow test to start", test_started);
    edit(&root.join("labels/src/lib.rs"));
    let fin = w.finished(1);
    assert_eq!(fin["outcome"], "cancelled");
    let started = w.wait_for("the restarted run", |v| v["event"] == "run_started");
    assert_eq!(
        (started["run"].as_u64(), started["trigger"].as_str()),
        (Some(2), Some("watch"))
    );
    // Never run in run 1 (cancelled), the slow test comes along.
    w.wait_for("the slow test to start again", test_started);
    edit(&root.join("money/src/lib.rs"));
    assert_eq!(w.finished(2)["outcome"], "cancelled");
    let started = w.wait_for("the third run", |v| v["event"] == "run_started");
    assert_eq!(started["run"], 3);
    assert_eq!(
        started["changed"],
        serde_json::json!(["money/src/lib.rs", "labels/src/lib.rs"]),
        "the union of both change sets"
    );
    w.wait_for("the slow test to start a third time", test_started);
    let code = w.stop();
    assert_eq!(code, 1, "stopped mid-run: the last run was cancelled");
    let left = processes_left(&root.display().to_string());
    assert!(left.is_empty(), "no process is left: {left:?}");
}

#[test]
fn a_change_that_selects_nothing_leaves_the_run_in_flight_to_finish() {
    let root = workspace("ignored-mid-run");
    let mut w = Watch::start(&root, Some("4"));
    w.wait_for("the slow test to start", |v| {
        v["event"] == "test" && v["name"] == "waits_when_asked" && v["to"] == "running"
    });
    // NOTES.md lies outside every package of this virtual workspace.
    std::fs::write(root.join("NOTES.md"), "notes\n").unwrap();
    let ignored = w.wait_for("the ignored change", |v| v["event"] == "change_ignored");
    assert_eq!(ignored["changed"], serde_json::json!(["NOTES.md"]));
    let fin = w.finished(1);
    assert_eq!(fin["outcome"], "failed", "the run ends with its own outcome: {fin}");
    assert_eq!(fin["tests"]["cancelled"], 0);
    let later = w.drain(Duration::from_secs(2));
    assert!(
        later.iter().all(|v| v["event"] != "run_started"),
        "nothing to rerun: {later:#?}"
    );
    w.stop();
}

#[test]
fn watch_output_redirected_into_a_package_settles_after_one_run() {
    let root = workspace("redirect");
    // Inside a package, so that only vigil knowing its own output keeps
    // each written line from being a change to `labels`.
    let out_path = root.join("labels/out.jsonl");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = vigil()
        .args(["watch", "--no-tui", "--format", "json"])
        .arg(&root)
        .stdout(out)
        .spawn()
        .unwrap();
    let lines = || -> Vec<Value> {
        std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while !lines().iter().any(|v| v["event"] == "run_finished") {
        assert!(Instant::now() < deadline, "run 1 did not finish: {:#?}", lines());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Long enough for any change set the writes could have caused.
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    child.wait().unwrap();
    let seen = lines();
    let runs = seen.iter().filter(|v| v["event"] == "run_started").count();
    assert_eq!(runs, 1, "one run, then quiet: {seen:#?}");
    assert!(
        seen.iter().all(|v| v["event"] != "change_ignored"),
        "its own output is not even a change: {seen:#?}"
    );
}

#[test]
fn files_outside_the_workspace_that_a_build_reads_are_watched() {
    // The `graph` fixture: `data` includes `../../outside/shared.txt`, and
    // `app` depends on `tiny`, a path dependency outside the workspace.
    let top = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("watch-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&top);
    copy_dir(&fixture("graph"), &top);
    let root = top.join("ws");
    let mut w = Watch::start(&root, None);
    assert_eq!(w.finished(1)["outcome"], "passed");
    std::fs::write(top.join("outside/shared.txt"), "hello\n").unwrap();
    let started = w.wait_for("a run for shared.txt", |v| v["event"] == "run_started" && v["run"] == 2);
    assert_eq!(binaries(&started), vec!["alias", "data"]);
    assert!(started["binary_reasons"]["data"]
        .as_str()
        .unwrap()
        .contains("(read when compiling `data`)"));
    assert_eq!(w.finished(2)["outcome"], "passed");
    edit(&top.join("outside/tiny/src/lib.rs"));
    let started = w.wait_for("a run for tiny", |v| v["event"] == "run_started" && v["run"] == 3);
    assert_eq!(binaries(&started), vec!["app", "app::locking"]);
    assert_eq!(
        started["binary_reasons"]["app"],
        "`../outside/tiny/src/lib.rs` changed; `app` depends on `tiny`"
    );
    w.finished(3);
    w.stop();
    let _ = std::fs::remove_dir_all(&top);
}

/// A watch whose reader goes away (`vigil watch --format json | head`)
/// stops at its next word, as a pipeline's writer does: the run in flight
/// cancelled, its slow test gone with it, nothing left behind.
#[test]
fn a_watch_whose_reader_left_stops_and_leaves_nothing() {
    let root = workspace("reader-left");
    let mut child = vigil()
        .args(["watch", "--no-tui", "--format", "json"])
        .arg(&root)
        .env("VIGIL_FIXTURE_SLOW", "120")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let started = loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "vigil ended early");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "test" && v["name"] == "waits_when_asked" && v["to"] == "running" {
            break v;
        }
    };
    assert_eq!(started["run"], 1);
    // The reader leaves; the next thing vigil says (the cancelled run, on
    // an edit) finds no one.
    drop(out);
    edit(&root.join("labels/src/lib.rs"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vigil still watches with nobody reading");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.code().is_some(),
        "it ended on its own, not by a signal: {status:?}"
    );
    let left = processes_left(&root.display().to_string());
    assert!(left.is_empty(), "no process is left: {left:?}");
}
