//! The history store: round trips, migrations, files it cannot use (moved
//! aside, never lost), concurrent writers; and the history across several
//! real runs (trends, a flaky fixture test).

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use vigil::adapters::store::{ResultRecord, RunRecord, Store, SuiteRecord, SCHEMA_VERSION};
use vigil::core::catalog::SuiteType;
use vigil::core::report::{Counts, SuiteStatus};
use vigil::core::run::{Outcome, Trigger};
use vigil::core::TestState;

fn db(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("history.sqlite")
}

fn record(i: usize, fingerprint: &str, passed: bool, ms: u64) -> RunRecord {
    let state = if passed { TestState::Passed } else { TestState::Failed };
    RunRecord {
        started_unix: 1_700_000_000.0 + i as f64,
        trigger: Trigger::Manual,
        outcome: if passed { Outcome::Passed } else { Outcome::Failed },
        duration_s: 1.0,
        fingerprint: fingerprint.into(),
        counts: Counts {
            total: 2,
            passed: 1 + passed as usize,
            failed: !passed as usize,
            ..Counts::default()
        },
        results: vec![
            ResultRecord::new("a", "steady", TestState::Passed, Some(Duration::from_millis(ms))),
            ResultRecord::new("a", "wobbly", state, Some(Duration::from_millis(5))),
        ],
        suites: vec![SuiteRecord {
            binary_id: "a".into(),
            suite_type: SuiteType::Unit,
            status: SuiteStatus::Passed,
            duration_s: 0.5,
            lines_reached: Some(40),
            lines_percent: Some(80.0),
            branches_reached: Some(3),
            branches_percent: Some(75.0),
            assertions: Some(4),
        }],
        ..RunRecord::default()
    }
}

#[test]
fn runs_under_an_injected_fault_count_toward_no_flakiness() {
    let path = db("faulted");
    let (mut store, _) = Store::open(&path).unwrap();
    for i in 0..6 {
        let mut r = record(i, "same-tree", i % 2 == 0, 100);
        if i % 2 == 1 {
            // Every failure of `wobbly` happened under a fault.
            r.faults = "bridge=status:503".into();
        }
        store.record(&r).unwrap();
    }
    let h = store.history().unwrap();
    assert!(h.flaky().is_empty(), "fault runs made {:?} flaky", h.flaky());
    let wobbly = h.get("a", "wobbly").unwrap();
    assert_eq!(wobbly.runs, 3, "only the runs without a fault are its history");
    // The same runs without the label are flaky: the test can fail.
    let (mut plain, _) = Store::open(&db("unfaulted")).unwrap();
    for i in 0..6 {
        plain.record(&record(i, "same-tree", i % 2 == 0, 100)).unwrap();
    }
    assert_eq!(plain.history().unwrap().flaky().len(), 1);
}

/// The seed's record is kept: each suite's own coverage and assertions,
/// each test's assertions, markers and fixtures (rewritten only when the
/// source says otherwise).
#[test]
fn suites_coverage_and_tests_records_are_kept() {
    use vigil::core::check::SourceRecord;
    use vigil::core::testmap::TestId;
    let path = db("records");
    let (mut store, _) = Store::open(&path).unwrap();
    let mut r = record(0, "t", true, 10);
    let steady = |assertions: usize| SourceRecord {
        assertions,
        markers: vec!["test".into(), "serial".into()],
        fixtures: vec!["db".into()],
    };
    r.sources = vec![(TestId::new("a", "steady"), steady(2))];
    store.record(&r).unwrap();
    r.sources = vec![(TestId::new("a", "steady"), steady(3))];
    store.record(&r).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let suite: (i64, f64, i64, f64, i64) = conn
        .query_row(
            "SELECT lines_reached, lines_percent, branches_reached, branches_percent, assertions
             FROM suite_results WHERE binary_id = 'a' ORDER BY run_id DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
        )
        .unwrap();
    assert_eq!(suite, (40, 80.0, 3, 75.0, 4));
    let test: (i64, String, String) = conn
        .query_row(
            "SELECT assertions, markers, fixtures FROM tests WHERE binary_id = 'a' AND name = 'steady'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        test,
        (3, "test,serial".into(), "db".into()),
        "the newer source's record"
    );
    let wobbly: Option<i64> = conn
        .query_row(
            "SELECT assertions FROM tests WHERE binary_id = 'a' AND name = 'wobbly'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(wobbly, None, "no source read, no record");
}

#[test]
fn runs_round_trip_into_trends_and_flaky_tests() {
    let path = db("roundtrip");
    let (mut store, note) = Store::open(&path).unwrap();
    assert!(note.is_none());
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    for i in 0..10 {
        store
            .record(&record(i, "same-tree", i % 2 == 0, 100 + i as u64))
            .unwrap();
    }
    drop(store);
    let (store, _) = Store::open(&path).unwrap();
    let runs = store.recent_runs(5).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![6, 7, 8, 9, 10]);
    let h = store.history().unwrap();
    let steady = h.get("a", "steady").unwrap();
    assert_eq!(steady.durations.len(), 10);
    assert_eq!(steady.p50(), Some(0.104));
    assert_eq!(steady.p95(), Some(0.109));
    let flaky = h.flaky();
    assert_eq!(flaky.len(), 1);
    assert_eq!(
        (flaky[0].name.as_str(), flaky[0].flips, flaky[0].runs),
        ("wobbly", 9, 10)
    );
    assert_eq!(
        store.failed_in(2).unwrap(),
        vec![("a".to_string(), "wobbly".to_string())]
    );
}

#[test]
fn a_changed_tree_between_runs_is_not_flakiness() {
    let path = db("changed");
    let (mut store, _) = Store::open(&path).unwrap();
    for i in 0..6 {
        store.record(&record(i, &format!("tree-{i}"), i % 2 == 0, 100)).unwrap();
    }
    assert!(store.history().unwrap().flaky().is_empty());
}

#[test]
fn a_corrupt_file_is_moved_aside_and_a_new_history_started() {
    let path = db("corrupt");
    std::fs::write(&path, b"this is not a database, it is a shopping list\n".repeat(100)).unwrap();
    let (mut store, note) = Store::open(&path).unwrap();
    let note = note.expect("the user is told");
    assert!(note.contains("moved to") && note.contains("new one started"), "{note}");
    store.record(&record(0, "t", true, 1)).unwrap();
    let aside: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".unreadable-"))
        .collect();
    assert_eq!(aside.len(), 1);
    let kept = std::fs::read(aside[0].path()).unwrap();
    assert!(kept.starts_with(b"this is not a database"), "nothing is lost");
}

#[test]
fn a_history_from_a_newer_vigil_is_moved_aside_not_touched() {
    let path = db("future");
    write_future_schema(&path);
    let (store, note) = Store::open(&path).unwrap();
    assert!(note.unwrap().contains("newer vigil"));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

/// Makes a SQLite file with a future schema version, through vigil's own
/// store (to avoid a second SQLite dependency in the tests): open, then
/// raise user_version with the sqlite3 file format's header field.
fn write_future_schema(path: &PathBuf) {
    let (store, _) = Store::open(path).unwrap();
    drop(store);
    // SQLite keeps user_version big-endian at byte offset 60 of the header.
    let mut bytes = std::fs::read(path).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
    let _ = std::fs::remove_file(format!("{}-wal", path.display()));
    let _ = std::fs::remove_file(format!("{}-shm", path.display()));
}

#[test]
fn reopening_migrates_nothing_and_keeps_every_run() {
    let path = db("reopen");
    for i in 0..3 {
        let (mut store, note) = Store::open(&path).unwrap();
        assert!(note.is_none());
        store.record(&record(i, "t", true, 10)).unwrap();
    }
    let (store, _) = Store::open(&path).unwrap();
    assert_eq!(store.recent_runs(10).unwrap().len(), 3);
}

#[test]
fn concurrent_writers_lose_nothing() {
    let path = db("concurrent");
    Store::open(&path).unwrap();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let (mut store, _) = Store::open(&path).unwrap();
                for i in 0..40 {
                    store.record(&record(w * 100 + i, "t", true, 10)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let (store, _) = Store::open(&path).unwrap();
    assert_eq!(store.recent_runs(1000).unwrap().len(), 80);
    assert_eq!(store.history().unwrap().get("a", "steady").unwrap().runs, 80);
}

#[test]
fn history_across_real_runs_finds_the_flaky_fixture_test() {
    let dir = common::fixture("flaky");
    // A clean slate for this fixture's history and marker.
    let _ = std::fs::remove_file(dir.join("target/flip-marker"));
    let _ = std::fs::remove_dir_all(common::state_dir());
    let mut last = serde_json::Value::Null;
    for _ in 0..4 {
        let out = common::vigil()
            .args(["run", "--format", "json"])
            .arg(&dir)
            .output()
            .unwrap();
        last = common::json_lines(&out.stdout).pop().unwrap();
    }
    let flaky = last["flaky"].as_array().unwrap();
    assert_eq!(flaky.len(), 1, "{last}");
    assert_eq!(flaky[0]["name"], "fails_every_other_run");
    assert_eq!(flaky[0]["flips"], 3);
    let out = common::vigil()
        .args(["report", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 4);
    assert_eq!(report["flaky"][0]["name"], "fails_every_other_run");
    let steady = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "steady")
        .unwrap();
    assert!(steady["p50_s"].as_f64().unwrap() > 0.0 && steady["p95_s"].is_number());
    assert_eq!(steady["samples"], 4);
}

#[test]
fn coverage_totals_are_kept_per_run_and_per_file() {
    let path = db("coverage");
    let (mut store, _) = Store::open(&path).unwrap();
    let mut r = record(0, "t", true, 10);
    r.coverage = Some(vigil::adapters::store::CoverageRecord {
        lines: (10, 7),
        branches: Some((4, 3)),
        files: vec![("a/src/lib.rs".into(), (10, 7), Some((4, 3)))],
    });
    store.record(&r).unwrap();
    store.record(&record(1, "t", true, 10)).unwrap();
    let (_, last) = store.last_coverage().unwrap().expect("kept");
    assert_eq!((last.lines, last.branches), ((10, 7), Some((4, 3))));
    assert_eq!(last.files, vec![("a/src/lib.rs".to_string(), (10, 7), Some((4, 3)))]);
    let runs = store.history().unwrap().runs;
    assert_eq!(
        runs.iter().map(|r| r.coverage).collect::<Vec<_>>(),
        vec![Some(70.0), None]
    );
}

/// The summary a run leaves beside the history is read instead of the
/// replay while no run was recorded since, and gives the same history; a
/// run recorded since (by anyone) makes the next read replay.
#[test]
fn the_kept_summary_stands_in_for_the_replay_until_a_run_is_recorded() {
    use vigil::adapters::store::{cache_path, save_history_cache};
    let path = db("summary");
    let (mut store, _) = Store::open(&path).unwrap();
    let mut last = 0;
    for i in 0..7 {
        last = store.record(&record(i, "tree", i % 3 != 0, 100 + i as u64)).unwrap();
    }
    let replayed = store.history().unwrap();
    let cache = cache_path(&path);
    save_history_cache(&cache, last, &replayed);
    let kept = store.history_cached(&cache).unwrap();
    assert_eq!(kept.tests, replayed.tests);
    assert_eq!(kept.runs, replayed.runs);
    assert_eq!(kept.suites, replayed.suites);
    // A summary that says something else proves it is the one read…
    let mut altered = replayed.clone();
    altered.tests.clear();
    save_history_cache(&cache, last, &altered);
    assert!(store.history_cached(&cache).unwrap().tests.is_empty());
    // …until a run is recorded after it: then the replay answers.
    store.record(&record(7, "tree", true, 107)).unwrap();
    assert_eq!(store.history_cached(&cache).unwrap().tests.len(), 2);
    // A summary that does not parse is as good as none.
    std::fs::write(&cache, "{not json").unwrap();
    assert_eq!(store.history_cached(&cache).unwrap().tests.len(), 2);
}

#[test]
fn pruning_keeps_the_newest_runs_their_results_and_every_map() {
    let path = db("prune-runs");
    let (mut store, _) = Store::open(&path).unwrap();
    for i in 0..10 {
        store.record(&record(i, "tree", true, 100 + i as u64)).unwrap();
    }
    assert_eq!(store.prune(vigil::config::Keep::Runs(4)).unwrap(), 6);
    assert_eq!(
        store.prune(vigil::config::Keep::Runs(4)).unwrap(),
        0,
        "nothing more to prune"
    );
    let runs = store.recent_runs(100).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![7, 8, 9, 10]);
    let h = store.history().unwrap();
    assert_eq!(
        h.get("a", "steady").unwrap().durations.len(),
        4,
        "results went with their runs"
    );
    assert_eq!(store.size().unwrap().0, 4);
    // The next run is recorded as before (its tests' ids still hold).
    store.record(&record(11, "tree", true, 50)).unwrap();
    assert_eq!(store.history().unwrap().get("a", "steady").unwrap().durations.len(), 5);
}

#[test]
fn pruning_by_age_keeps_recent_runs_and_always_the_newest() {
    let path = db("prune-age");
    let (mut store, _) = Store::open(&path).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for (i, days_ago) in [200.0, 100.0, 50.0, 1.0].into_iter().enumerate() {
        let mut r = record(i, "tree", true, 10);
        r.started_unix = now - days_ago * 86_400.0;
        store.record(&r).unwrap();
    }
    assert_eq!(store.prune(vigil::config::Keep::Days(90.0)).unwrap(), 2);
    assert_eq!(store.recent_runs(10).unwrap().len(), 2);
    // Everything older than a day: the newest run stays all the same.
    assert_eq!(store.prune(vigil::config::Keep::Days(0.5)).unwrap(), 1);
    assert_eq!(
        store.recent_runs(10).unwrap().iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![4]
    );
}

/// A history kept before records were typed (schema 4: no `blocked`
/// column) is carried over: its runs read back typed, its blocked tests
/// are counted from its own results, nothing is moved aside.
#[test]
fn a_history_from_before_typed_records_is_migrated_not_moved_aside() {
    let path = db("schema4");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &vigil::adapters::store::MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute_batch(
            "INSERT INTO runs (started_unix, trigger, outcome, duration_s, reasons, changed, fingerprint,
                               total, passed, failed, skipped, xfail, xpass, cancelled)
             VALUES (1.0, 'merge', 'failed', 2.5, '[]', '[]', 'fp', 3, 1, 1, 0, 0, 0, 1);
             INSERT INTO tests (id, binary_id, name) VALUES (1, 'a', 'x'), (2, 'a', 'y'), (3, 'a', 'z');
             INSERT INTO results VALUES (1, 1, 'passed', 0.1), (1, 2, 'failed', 0.2), (1, 3, 'blocked', NULL);",
        )
        .unwrap();
    }
    let (mut store, note) = Store::open(&path).unwrap();
    assert!(note.is_none(), "carried over, not moved aside: {note:?}");
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let runs = store.recent_runs(5).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].trigger, runs[0].outcome), (Trigger::Merge, Outcome::Failed));
    let h = store.history().unwrap();
    assert_eq!(h.get("a", "y").unwrap().last, Some((false, "fp".to_owned())));
    store.record(&record(1, "fp", true, 10)).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let blocked: Vec<i64> = conn
        .prepare("SELECT blocked FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(blocked, vec![1, 0], "the old run's blocked test is counted");
}

/// A value the history does not know is an error naming it, never a guess.
#[test]
fn an_unknown_outcome_in_the_history_is_named_not_taken_for_another() {
    let path = db("unknown");
    let (mut store, _) = Store::open(&path).unwrap();
    store.record(&record(0, "fp", true, 10)).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE runs SET outcome = 'exploded'", []).unwrap();
    drop(conn);
    let (store, _) = Store::open(&path).unwrap();
    let err = store.recent_runs(5).unwrap_err().to_string();
    assert!(err.contains("outcome") && err.contains("exploded"), "{err}");
}

#[test]
fn check_findings_stay_until_a_check_passes_the_test_and_count_as_flaky() {
    use vigil::core::check::{CheckSummary, Finding, Kind, TestRecord};
    let path = db("findings");
    let record = |name: &str| TestRecord {
        binary_id: "b".into(),
        name: name.into(),
        runs: 40,
        failures: 0,
        first_failure: None,
        parallel: 2,
        min_ms: 1.0,
        median_ms: 1.0,
        max_ms: 1.0,
        fails: false,
        assertions: None,
        markers: vec![],
        fixtures: vec![],
    };
    let race = Finding {
        binary_id: "b".into(),
        name: "racy".into(),
        kind: Kind::Race,
        runs: 20,
        failures: 3,
        evidence: "3 of 20 concurrent runs failed".into(),
        assertion: None,
    };
    let (mut store, _) = Store::open(&path).unwrap();
    let first = CheckSummary {
        tests: vec![record("racy"), record("calm")],
        findings: vec![race.clone()],
        ..Default::default()
    };
    store.record_check(&first, 1).unwrap();
    // A later check of another test leaves the finding alone.
    let other = CheckSummary {
        tests: vec![record("calm")],
        clean: true,
        ..Default::default()
    };
    store.record_check(&other, 2).unwrap();
    drop(store);
    let (store, _) = Store::open(&path).unwrap();
    let history = store.history().unwrap();
    assert_eq!(history.findings, vec![race]);
    let flaky = history.flaky();
    assert_eq!(flaky.len(), 1);
    assert_eq!(
        flaky[0].evidence.as_deref(),
        Some("vigil check: race — 3 of 20 concurrent runs failed")
    );
    // A check that passes it clears it.
    drop(store);
    let (mut store, _) = Store::open(&path).unwrap();
    let passed = CheckSummary {
        tests: vec![record("racy")],
        clean: true,
        ..Default::default()
    };
    store.record_check(&passed, 3).unwrap();
    assert!(store.findings().unwrap().is_empty());
}
