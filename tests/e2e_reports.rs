//! Reports for CI and for a slow suite, end to end on the `shop` fixture:
//! JUnit XML checked against the schema CI viewers read, and the Chrome
//! trace read back (overlapping tests on different slots).

mod common;

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
    assert!(
        xml.contains("<testsuites name=\"vigil\" tests=\"9\" failures=\"1\""),
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
