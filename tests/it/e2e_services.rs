//! Service health gates end to end: the `svc` fixture's `bridge` tests call
//! a real HTTP service on loopback (`service.py`, on a free port); vigil
//! probes it, blocks the tests it gates when it is down, starts it with
//! its `start` command and stops it on exit.

use crate::common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{events, fixture, json_lines, vigil};
use serde_json::Value;

pub(crate) fn require_python() -> bool {
    let ok = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI needs python3 (.ci/run)");
        eprintln!("SKIPPED: python3 is not installed (the fixture's service is a Python script)");
    }
    ok
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The fixture's service on `port`, started by the test (not by vigil).
pub(crate) struct Bridge(Child);

impl Bridge {
    pub(crate) fn start(port: u16, status: &str) -> Self {
        let child = Command::new("python3")
            .arg(fixture("svc").join("service.py"))
            .arg(port.to_string())
            .arg(status)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(port, true);
        Bridge(child)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

fn wait_for(port: u16, up: bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while accepts(port) != up {
        assert!(
            Instant::now() < until,
            "port {port} never became {}",
            if up { "open" } else { "closed" }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A config for this test: the bridge on `port`, gating the `bridge`
/// binary, plus `extra` keys in its entry.
fn config(name: &str, port: u16, extra: &str) -> PathBuf {
    let dir = common::state_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vigil.toml");
    std::fs::write(
        &path,
        format!(
            "[coverage]\nmode = \"off\"\n\n[[service]]\nname = \"bridge\"\ncheck = \"http://127.0.0.1:{port}/health\"\n\
             needed_by = \"binary_id(svc::bridge)\"\ninterval = \"300ms\"\n{extra}"
        ),
    )
    .unwrap();
    path
}

fn run(config: &Path, port: u16) -> (Output, Vec<Value>) {
    let out = vigil()
        .args(["run"])
        .arg(fixture("svc"))
        .args(["--format", "json", "--config"])
        .arg(config)
        .env("SVC_PORT", port.to_string())
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    (out, lines)
}

fn finished(lines: &[Value]) -> &Value {
    events(lines, "run_finished").last().copied().expect("a run_finished")
}

fn states(lines: &[Value], run: u64) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = events(lines, "test")
        .into_iter()
        .filter(|t| t["run"] == run && t["to"] != "running" && t["to"] != "pending")
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

#[test]
fn a_service_that_is_down_blocks_its_tests_and_fails_the_gate() {
    if !require_python() {
        return;
    }
    let port = free_port();
    let cfg = config("down", port, "");
    {
        let _bridge = Bridge::start(port, "ok");
        let (out, lines) = run(&cfg, port);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let f = finished(&lines);
        assert_eq!(f["tests"]["passed"], 5, "{f}");
        assert_eq!(f["services"][0]["state"], "healthy");
        assert!(f["services"][0]["latency_ms"].as_f64().is_some());
        let svc = events(&lines, "service");
        assert_eq!(
            (svc[0]["from"].as_str(), svc[0]["to"].as_str()),
            (Some("unknown"), Some("healthy"))
        );
    }
    wait_for(port, false);
    let (out, lines) = run(&cfg, port);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        states(&lines, 1),
        vec![
            ("echoes".to_owned(), "blocked".to_owned()),
            ("outlives_the_bridge".to_owned(), "passed".to_owned()),
            ("says_hello".to_owned(), "blocked".to_owned()),
            ("tests::adds".to_owned(), "passed".to_owned()),
            ("works_offline".to_owned(), "passed".to_owned()),
        ]
    );
    let f = finished(&lines);
    assert_eq!(
        (f["tests"]["blocked"].as_u64(), f["tests"]["failed"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(f["services"][0]["state"], "unreachable");
    assert_eq!(f["services"][0]["blocked"].as_array().unwrap().len(), 2);
    let reasons = f["gate"]["reasons"].to_string();
    assert!(
        reasons.contains("2 tests blocked: `bridge` is unreachable"),
        "{reasons}"
    );
    let blocked = events(&lines, "test")
        .into_iter()
        .find(|t| t["to"] == "blocked")
        .unwrap();
    assert!(blocked["message"].as_str().unwrap().contains("`bridge` is unreachable"));

    // The human output says which service blocked what; allow_blocked
    // lets the gate pass.
    let cfg = config("allowed", port, "allow_blocked = true\n");
    let out = vigil()
        .args(["run"])
        .arg(fixture("svc"))
        .arg("--config")
        .arg(&cfg)
        .env("SVC_PORT", port.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("blocked: 2 tests by `bridge` (unreachable"), "{text}");
    assert!(text.contains("2 blocked"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
}

#[test]
fn a_start_command_brings_the_service_up_and_vigil_stops_it_on_exit() {
    if !require_python() {
        return;
    }
    let port = free_port();
    let cfg = config(
        "start",
        port,
        &format!("start = [\"python3\", \"service.py\", \"{port}\"]\nstart_timeout = \"20s\"\n"),
    );
    let (out, lines) = run(&cfg, port);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(finished(&lines)["tests"]["passed"], 5);
    let svc = events(&lines, "service");
    assert!(svc.iter().any(|s| s["to"] == "unreachable"), "down before the start");
    assert_eq!(svc.last().unwrap()["to"], "healthy");
    // Stopped on exit: the port is closed and no process is left.
    assert!(!accepts(port), "the service vigil started is still up");
    let left = common::processes_left(&format!("service.py {port}"));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_degraded_service_runs_its_tests_with_a_warning() {
    if !require_python() {
        return;
    }
    let port = free_port();
    let _bridge = Bridge::start(port, "degraded");
    let (out, lines) = run(&config("degraded", port, ""), port);
    assert_eq!(out.status.code(), Some(0));
    let f = finished(&lines);
    assert_eq!(
        (f["tests"]["passed"].as_u64(), f["tests"]["blocked"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(f["services"][0]["state"], "degraded");
    let warnings = f["warnings"].to_string();
    assert!(
        warnings.contains("`bridge` is degraded: status \\\"degraded\\\": replica lag"),
        "{warnings}"
    );
}

#[test]
fn watching_reruns_exactly_the_blocked_tests_when_the_service_comes_back() {
    if !require_python() {
        return;
    }
    let port = free_port();
    let cfg = config("watch", port, "");
    let mut child = vigil()
        .args(["watch"])
        .arg(fixture("svc"))
        .args(["--no-tui", "--format", "json", "--max-runs", "2", "--config"])
        .arg(&cfg)
        .env("SVC_PORT", port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The first run blocks the bridge tests; then the service comes up.
    let stdout = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut bridge = None;
    let until = Instant::now() + Duration::from_secs(240);
    while std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0 {
        let v: Value = serde_json::from_str(&line).unwrap();
        line.clear();
        if v["event"] == "run_finished" && v["run"] == 1 {
            bridge = Some(Bridge::start(port, "ok"));
        }
        lines.push(v);
        assert!(Instant::now() < until, "watch did not finish");
    }
    assert!(child.wait().unwrap().success(), "the rerun passes, so the gate does");
    drop(bridge);
    let runs = events(&lines, "run_started");
    assert_eq!(runs.len(), 2, "{lines:?}");
    assert_eq!(runs[1]["trigger"], "service");
    assert_eq!(runs[1]["selected"]["tests"], 2);
    assert_eq!(
        states(&lines, 2),
        vec![
            ("echoes".to_owned(), "passed".to_owned()),
            ("says_hello".to_owned(), "passed".to_owned())
        ]
    );
    assert!(runs[1]["reasons"][0].as_str().unwrap().contains("`bridge` is up again"));
}

#[test]
fn a_service_that_goes_down_mid_run_is_named_on_the_failure_that_follows() {
    if !require_python() {
        return;
    }
    let port = free_port();
    let bridge = Bridge::start(port, "ok");
    let cfg = config("outage", port, "");
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace(
                "binary_id(svc::bridge)",
                "binary_id(svc::bridge) | binary_id(svc::outage)",
            )
            .replace("300ms", "200ms"),
    )
    .unwrap();
    let out = vigil()
        .args(["run"])
        .arg(fixture("svc"))
        .args(["--format", "json", "-E", "binary_id(svc::outage)", "--config"])
        .arg(&cfg)
        .env("SVC_PORT", port.to_string())
        .env("SVC_OUTAGE", "1")
        .output()
        .unwrap();
    drop(bridge);
    let lines = json_lines(&out.stdout);
    let f = finished(&lines);
    assert_eq!(f["tests"]["failed"], 1, "{f}");
    let note = f["failures"][0]["service"].as_str().unwrap_or_default();
    assert!(
        note.starts_with("`bridge` went unreachable") && note.ends_with("s before this failure"),
        "{f}"
    );
    let svc = events(&lines, "service");
    assert!(
        svc.iter().any(|s| s["from"] == "healthy" && s["to"] == "unreachable"),
        "{svc:?}"
    );
}

#[test]
fn a_remote_check_without_allow_remote_is_a_config_error() {
    let dir = common::state_dir().join("remote");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        "[[service]]\nname = \"db\"\ncheck = \"tcp://10.1.2.3:5432\"\nneeded_by = \"all()\"\n",
    )
    .unwrap();
    let out = vigil()
        .args(["run"])
        .arg(fixture("svc"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("allow_remote") && err.contains("line 3"),
        "{err}"
    );
}

/// vigil's reading of `needed_by` agrees with nextest's own on the fixture.
#[test]
fn needed_by_selects_what_nextest_selects() {
    let exprs = [
        "binary_id(svc::bridge)",
        "test(/hello|offline/)",
        "kind(test) - test(echo)",
        "package(svc) & not binary_id(svc::*)",
        "binary(offline) | test(=tests::adds)",
        "rdeps(svc) and test(~ech)",
    ];
    let ws = vigil::adapters::workspace::discover(&fixture("svc")).unwrap();
    let list = |expr: Option<&str>| -> Value {
        let mut cmd = Command::new("cargo");
        cmd.args(["nextest", "list", "--message-format", "json"])
            .current_dir(fixture("svc"));
        if let Some(e) = expr {
            cmd.args(["-E", e]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Every test, and per expression the ones nextest matches (a binary the
    // expression rules out entirely is not even listed).
    let all = list(None);
    for expr in exprs {
        let theirs = list(Some(expr));
        let filter = vigil::core::filterset::Filter::parse(expr).unwrap();
        let mut checked = 0;
        for (binary_id, suite) in all["rust-suites"].as_object().unwrap() {
            for name in suite["testcases"].as_object().unwrap().keys() {
                let matched =
                    theirs["rust-suites"][binary_id]["testcases"][name]["filter-match"]["status"] == "matches";
                let subject = vigil::core::filterset::Subject {
                    package: suite["package-name"].as_str().unwrap(),
                    binary_id,
                    binary_name: suite["binary-name"].as_str().unwrap(),
                    kind: suite["kind"].as_str().unwrap(),
                    test: name,
                };
                assert_eq!(filter.matches(&ws, &subject), matched, "{expr} on {binary_id} {name}");
                checked += 1;
            }
        }
        assert_eq!(checked, 5, "{expr}");
    }
}

/// What vigil started it stops on SIGTERM too (watching, headless).
#[test]
fn sigterm_stops_the_service_vigil_started() {
    if !require_python() {
        return;
    }
    let port = free_port();
    let cfg = config(
        "sigterm",
        port,
        &format!("start = [\"python3\", \"service.py\", \"{port}\"]\nstart_timeout = \"20s\"\n"),
    );
    let mut child = vigil()
        .args(["watch"])
        .arg(fixture("svc"))
        .args(["--no-tui", "--format", "json", "--config"])
        .arg(&cfg)
        .env("SVC_PORT", port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut passed = None;
    while std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0 {
        let v: Value = serde_json::from_str(&line).unwrap();
        line.clear();
        if v["event"] == "run_finished" {
            passed = v["tests"]["passed"].as_u64();
            break;
        }
    }
    assert_eq!(passed, Some(5));
    assert!(accepts(port), "vigil started the service");
    // SAFETY: signalling the child this test spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.code().is_some(), "vigil exits on its own: {status:?}");
    assert!(!accepts(port), "the service vigil started is still up");
    let left = common::processes_left(&format!("service.py {port}"));
    assert!(left.is_empty(), "left behind: {left:?}");
}
