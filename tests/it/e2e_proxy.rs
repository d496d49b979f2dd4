//! A service's proxy end to end: the `svc` fixture's `bridge` tests call
//! the real service (`service.py`) through vigil's proxy on loopback (both
//! on free ports); each call is recorded and tied to the test process that
//! made it, and each fault kind is seen from the test's side.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use super::e2e_services::{free_port, require_python, Bridge};
use crate::common::{self, events, fixture, json_lines, vigil};

/// A config whose bridge (on `port`) is reached through a proxy on
/// `listen`.
fn config(name: &str, port: u16, listen: u16) -> PathBuf {
    config_with(name, port, listen, "")
}

fn config_with(name: &str, port: u16, listen: u16, extra: &str) -> PathBuf {
    let dir = common::state_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vigil.toml");
    std::fs::write(
        &path,
        format!(
            "[coverage]\nmode = \"off\"\n\n[[service]]\nname = \"bridge\"\ncheck = \"http://127.0.0.1:{port}/health\"\n\
             needed_by = \"binary_id(svc::bridge)\"\n\
             proxy = {{ listen = \"127.0.0.1:{listen}\", to = \"127.0.0.1:{port}\" }}\n\
             faults = [\"status:503\", \"latency:300ms\"]\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// `vigil run --calls` on the bridge binary, its tests pointed at the proxy.
fn run(config: &PathBuf, listen: u16, fault: Option<&str>) -> (Output, Vec<Value>) {
    let mut cmd = vigil();
    cmd.arg("run")
        .arg(fixture("svc"))
        .args([
            "--format",
            "json",
            "--calls",
            "-E",
            "binary_id(svc::bridge)",
            "--config",
        ])
        .arg(config)
        .env("SVC_PORT", listen.to_string());
    if let Some(f) = fault {
        cmd.args(["--fault", &format!("bridge={f}")]);
    }
    let out = cmd.output().unwrap();
    let lines = json_lines(&out.stdout);
    (out, lines)
}

/// Each test's final event.
fn outcome<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    events(lines, "test")
        .into_iter()
        .rev()
        .find(|t| t["name"] == name && t["to"] != "running" && t["to"] != "pending")
        .unwrap_or_else(|| panic!("no result for {name}"))
}

fn calls(lines: &[Value]) -> Vec<&Value> {
    events(lines, "service_call")
}

fn output(t: &Value) -> String {
    format!(
        "{} {}",
        t["message"].as_str().unwrap_or(""),
        t["output"].as_str().unwrap_or("")
    )
}

#[test]
fn calls_through_the_proxy_are_recorded_and_tied_to_their_tests() {
    if !require_python() {
        return;
    }
    let (port, listen) = (free_port(), free_port());
    let _bridge = Bridge::start(port, "ok");
    let cfg = config("attributed", port, listen);
    let (out, lines) = run(&cfg, listen, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = calls(&lines);
    assert_eq!(calls.len(), 2, "{calls:?}");
    // The two tests run at once; each call is its own test's, by the
    // socket's owner (not by who happened to run then).
    for c in &calls {
        let want = match c["path"].as_str().unwrap() {
            "/echo?hi" => "echoes",
            "/hello" => "says_hello",
            other => panic!("unexpected path {other}"),
        };
        assert_eq!(c["test"]["name"], want, "{c}");
        assert_eq!(c["test"]["binary_id"], "svc::bridge");
        assert_eq!(c["attributed"], "socket");
        assert_eq!((c["method"].as_str(), c["status"].as_u64()), (Some("GET"), Some(200)));
        assert!(c["bytes_received"].as_u64().unwrap() > 0 && c["fault"].is_null());
    }
    let finished = events(&lines, "run_finished")[0];
    let summary = &finished["services"][0]["calls"];
    assert_eq!(
        (summary["calls"].as_u64(), summary["errors"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(summary["by_test"].as_array().unwrap().len(), 2);
    assert_eq!(finished["faults"], serde_json::json!([]));
}

#[test]
fn each_fault_is_seen_from_the_tests_side() {
    if !require_python() {
        return;
    }
    let (port, listen) = (free_port(), free_port());
    let _bridge = Bridge::start(port, "ok");
    let cfg = config("faults", port, listen);

    // status:503: the test reads the injected body, and the run is labelled.
    let (out, lines) = run(&cfg, listen, Some("status:503"));
    assert!(!out.status.success());
    let t = outcome(&lines, "says_hello");
    assert_eq!(t["to"], "failed");
    assert!(output(t).contains("injected by vigil: status:503"), "{}", output(t));
    let label = serde_json::json!([{"service": "bridge", "kind": "status:503"}]);
    assert_eq!(events(&lines, "run_started")[0]["faults"], label);
    let finished = events(&lines, "run_finished")[0];
    assert_eq!(finished["faults"], label);
    assert!(finished["flaky"].as_array().unwrap().is_empty());
    assert!(calls(&lines)
        .iter()
        .all(|c| c["status"] == 503 && c["fault"] == "status:503"));

    // latency: measured by the test's own duration, and by the call.
    let (out, lines) = run(&cfg, listen, Some("latency:400ms"));
    assert!(out.status.success(), "a delay within the budget passes");
    let t = outcome(&lines, "says_hello");
    assert!(t["duration_s"].as_f64().unwrap() >= 0.4, "{t}");
    assert!(calls(&lines).iter().all(|c| c["latency_ms"].as_f64().unwrap() >= 400.0));

    // reset: the test reads a reset connection.
    let (_, lines) = run(&cfg, listen, Some("reset"));
    let t = outcome(&lines, "echoes");
    assert_eq!(t["to"], "failed");
    assert!(output(t).to_lowercase().contains("reset"), "{}", output(t));
    assert!(calls(&lines).iter().all(|c| c["ended"] == "reset"));

    // refused: nothing listens while the fault holds.
    let (_, lines) = run(&cfg, listen, Some("refused"));
    let t = outcome(&lines, "echoes");
    assert_eq!(t["to"], "failed");
    assert!(output(t).to_lowercase().contains("refused"), "{}", output(t));
    assert!(calls(&lines).is_empty());

    // hang: refused without allow_timeouts; with it, the client gives up.
    let (out, _) = run(&cfg, listen, Some("hang"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds calls until the client gives up"), "{err}");
    let (_, lines) = run(&cfg, listen, Some("hang,allow_timeouts"));
    let t = outcome(&lines, "echoes");
    assert_eq!(t["to"], "failed");
    assert!(
        t["duration_s"].as_f64().unwrap() >= 2.9,
        "held until the client's 3 s timeout: {t}"
    );
    assert!(calls(&lines).iter().all(|c| c["ended"] == "hung"));

    // bandwidth: ~155 bytes at 200 B/s take most of a second.
    let (out, lines) = run(&cfg, listen, Some("bandwidth:200b"));
    assert!(out.status.success());
    assert!(calls(&lines).iter().all(|c| c["latency_ms"].as_f64().unwrap() >= 500.0));

    // A fault for a path the test does not call changes nothing.
    let (out, lines) = run(&cfg, listen, Some("status:500,path:/v2/*"));
    assert!(out.status.success());
    assert!(calls(&lines).iter().all(|c| c["status"] == 200));
}

#[test]
fn a_stub_answers_for_an_absent_service_and_says_so() {
    if !require_python() {
        return;
    }
    // Nothing listens on `port`: the real service is absent.
    let (port, listen) = (free_port(), free_port());
    let stub = "stub = { \"/health\" = { status = 200, body = '{\"status\":\"healthy\"}' }, \"/hello\" = { body = \"hello\" } }\n";
    let cfg = config_with("stubbed", port, listen, stub);
    let (_, lines) = run(&cfg, listen, None);
    let finished = events(&lines, "run_finished")[0];
    let bridge = &finished["services"][0];
    assert_eq!(
        (bridge["state"].as_str(), bridge["stub"].as_bool()),
        (Some("healthy"), Some(true)),
        "{bridge}"
    );
    assert!(
        bridge["error"].as_str().unwrap().contains("answered by its stub"),
        "{bridge}"
    );
    // The stubbed path passes; the one the stub lacks gets the proxy's 502.
    assert_eq!(outcome(&lines, "says_hello")["to"], "passed");
    let echoes = outcome(&lines, "echoes");
    assert_eq!(echoes["to"], "failed");
    assert!(output(echoes).contains("cannot reach"), "{}", output(echoes));
    let calls = calls(&lines);
    let hello = calls.iter().find(|c| c["path"] == "/hello").unwrap();
    assert_eq!(
        (hello["stub"].as_bool(), hello["status"].as_u64()),
        (Some(true), Some(200))
    );
    let echo = calls.iter().find(|c| c["path"] == "/echo?hi").unwrap();
    assert_eq!(
        (echo["status"].as_u64(), echo["ended"].as_str()),
        (Some(502), Some("unreachable"))
    );
}

#[test]
fn health_degraded_makes_the_gate_see_a_degraded_service() {
    if !require_python() {
        return;
    }
    let (port, listen) = (free_port(), free_port());
    let _bridge = Bridge::start(port, "ok");
    let cfg = config("degraded", port, listen);
    let (out, lines) = run(&cfg, listen, Some("health:degraded"));
    assert!(out.status.success(), "a degraded service runs its tests");
    let finished = events(&lines, "run_finished")[0];
    let bridge = &finished["services"][0];
    assert_eq!(bridge["state"], "degraded", "{bridge}");
    assert!(
        bridge["error"].as_str().unwrap().contains("health:degraded"),
        "{bridge}"
    );
    assert_eq!(bridge["fault"], "health:degraded");
    assert_eq!(outcome(&lines, "says_hello")["to"], "passed");
}

#[test]
fn the_faults_matrix_reports_each_test_under_each_fault() {
    if !require_python() {
        return;
    }
    let (port, listen) = (free_port(), free_port());
    let _bridge = Bridge::start(port, "ok");
    let extra = "[budgets]\ntest = \"2s\"\n";
    let dir = common::state_dir().join("matrix");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "[coverage]\nmode = \"off\"\n{extra}\n[[service]]\nname = \"bridge\"\ncheck = \"http://127.0.0.1:{port}/health\"\n\
             needed_by = \"binary_id(svc::bridge)\"\n\
             proxy = {{ listen = \"127.0.0.1:{listen}\", to = \"127.0.0.1:{port}\" }}\n\
             faults = [\"status:503,path:/hello\", \"latency:100ms\", \"hang\", \"hang,allow_timeouts\"]\n"
        ),
    )
    .unwrap();
    let out = vigil()
        .arg("run")
        .arg(fixture("svc"))
        .args(["--faults-matrix", "--format", "json", "--config"])
        .arg(&cfg)
        .env("SVC_PORT", listen.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        m["faults"],
        serde_json::json!([
            "none",
            "bridge=status:503 /hello",
            "bridge=latency:100ms",
            "bridge=hang allow_timeouts"
        ])
    );
    // A hang without allow_timeouts outlasts the 2 s budget: not run, and why.
    assert_eq!(m["refused"][0][0], "bridge=hang");
    assert!(m["refused"][0][1]
        .as_str()
        .unwrap()
        .contains("longer than the tests' time budget (2s)"));
    let row = |name: &str| -> Vec<String> {
        let r = m["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap();
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    // The client's own 3 s timeout is past the 2 s budget: the hang shows.
    assert_eq!(row("says_hello"), ["holds", "fails", "holds", "hangs"]);
    assert_eq!(row("echoes"), ["holds", "holds", "holds", "hangs"]);
    assert!(events(&json_lines(&out.stdout), "faults_matrix").len() == 1);
}
