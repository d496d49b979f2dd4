//! Scenario tests: message sequences into the core, asserting states,
//! counts and effects. No process, no sleep: time is data.

use crate::common;
use vigil::core::RunId;

use common::{ms, replay_shop, shop_rules};

use std::sync::Arc;
use std::time::Duration;

use vigil::adapters::nextest_json::{StreamDecoder, StreamLine};
use vigil::core::glob::Glob;
use vigil::core::model::{Rules, XfailRule};
use vigil::core::msg::{BuildDiagnostic, ListedSuite, ListedTest, ToolExit};
use vigil::core::report::{Report, RunSummary};
use vigil::core::{update, Effect, Model, Msg, Outcome, Selection, TestEvent, TestEventKind, TestState, Trigger};

fn reports(fx: &[Effect]) -> Vec<&Report> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Emit(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

fn summary(fx: &[Effect]) -> RunSummary {
    reports(fx)
        .into_iter()
        .find_map(|r| match r {
            Report::RunFinished(s) => Some((**s).clone()),
            _ => None,
        })
        .expect("run_finished emitted")
}

fn request(model: &mut Model, selection: Selection, at: Duration) -> Vec<Effect> {
    update(
        model,
        Msg::RunRequested {
            trigger: Trigger::Manual,
            selection,
            at,
        },
    )
}

fn state(model: &Model, binary: &str, test: &str) -> TestState {
    let suite = model.catalog.suite(binary).expect("suite");
    suite.tests[suite.test_index(test).expect("test")].state
}

#[test]
fn recorded_shop_run_ends_with_every_state_and_counts() {
    let mut model = Model::new(Default::default(), shop_rules());
    let fx = replay_shop(&mut model);
    let s = summary(&fx);
    assert_eq!(s.outcome, Outcome::Failed);
    assert_eq!(
        (
            s.tests.total,
            s.tests.passed,
            s.tests.failed,
            s.tests.skipped,
            s.tests.xfail
        ),
        (9, 6, 1, 1, 1)
    );
    assert_eq!(state(&model, "orders::checkout", "refund_partial"), TestState::Failed);
    assert_eq!(
        state(&model, "orders::checkout", "rounding_known_bug"),
        TestState::Xfail
    );
    assert_eq!(state(&model, "orders::checkout", "pays_by_card"), TestState::Skipped);
    assert_eq!(state(&model, "money", "tests::slow_rounding"), TestState::Passed);
    assert!(!s.gate.passed);
    assert_eq!(s.gate.reasons, vec!["1 test failed".to_string()]);
    let failure = &s.failures[0];
    assert_eq!(failure.binary_id, "orders::checkout");
    let loc = failure.location.as_ref().unwrap();
    assert_eq!((loc.file.as_str(), loc.line), ("orders/tests/checkout.rs", 11));
    let e2e = s.suites.iter().find(|x| x.binary_id == "orders::e2e_flow").unwrap();
    assert_eq!(e2e.suite_type.as_str(), "e2e");
    let unit = s.suites.iter().find(|x| x.binary_id == "money").unwrap();
    assert_eq!(
        (unit.suite_type.as_str(), unit.status.as_str(), unit.tests),
        ("unit", "passed", 3)
    );
}

#[test]
fn every_transition_is_recorded_with_run_relative_time() {
    let mut model = Model::new(Default::default(), shop_rules());
    replay_shop(&mut model);
    let suite = model.catalog.suite("orders::checkout").unwrap();
    let t = &suite.tests[suite.test_index("refund_partial").unwrap()];
    let path: Vec<(TestState, TestState)> = t.transitions.iter().map(|tr| (tr.from, tr.to)).collect();
    assert_eq!(
        path,
        vec![
            (TestState::Pending, TestState::Running),
            (TestState::Running, TestState::Failed)
        ]
    );
    assert!(t.transitions[0].at < t.transitions[1].at);
    // exec_time from nextest wins over the gap between our timestamps.
    assert!(t.duration.unwrap() < ms(200));
    assert!(t.failure.as_ref().unwrap().message.contains("refund must keep the fee"));
}

/// One event of test `name` in run 1 of the `tiny_suite` binary.
fn test_event(model: &mut Model, name: &str, kind: TestEventKind, at: Duration) -> Vec<Effect> {
    update(
        model,
        Msg::Test {
            run: RunId(1),
            event: ev(name, kind),
            at,
        },
    )
}

/// nextest ended run `run` with `exit`.
fn exited(model: &mut Model, run: u32, exit: ToolExit, at: Duration) -> Vec<Effect> {
    update(
        model,
        Msg::RunExited {
            run: RunId(run),
            exit,
            stderr: String::new(),
            at,
        },
    )
}

fn tiny_suite(tests: &[&str]) -> Vec<ListedSuite> {
    vec![ListedSuite {
        binary_id: Arc::from("a"),
        package: "a".into(),
        binary_name: "a".into(),
        kind: "lib".into(),
        binary_path: "/tmp/a".into(),
        tests: tests
            .iter()
            .map(|t| ListedTest {
                name: t.to_string(),
                ignored: false,
                selected: true,
            })
            .collect(),
    }]
}

/// The list of run `run` arrived: `tiny_suite(tests)`.
fn listed(model: &mut Model, run: u32, tests: &[&str], at: Duration) -> Vec<Effect> {
    update(
        model,
        Msg::Listed {
            run: RunId(run),
            suites: tiny_suite(tests),
            at,
        },
    )
}

fn ev(name: &str, kind: TestEventKind) -> TestEvent {
    TestEvent {
        binary_id: Arc::from("a"),
        name: name.into(),
        kind,
    }
}

#[test]
fn results_and_the_end_that_arrive_before_the_list_wait_for_it() {
    let mut model = Model::new(Default::default(), Rules::default());
    let fx = request(&mut model, Selection::All, ms(0));
    assert!(
        matches!(
            &fx[..],
            [
                Effect::Survey { .. },
                Effect::List { run: RunId(1), .. },
                Effect::Run { run: RunId(1), .. }
            ]
        ),
        "list and run go side by side: {fx:?}"
    );
    // The run streams (and even ends) before the list is back.
    assert!(test_event(&mut model, "x", TestEventKind::Started { attempt: 1 }, ms(10)).is_empty());
    let passed = TestEventKind::Passed { exec_time: Some(ms(5)) };
    assert!(test_event(&mut model, "x", passed, ms(15)).is_empty());
    assert!(exited(&mut model, 1, ToolExit::Success, ms(20)).is_empty());
    assert!(model.active_run().is_some(), "not finished before its tests are known");
    let fx = listed(&mut model, 1, &["x", "y"], ms(25));
    let r = reports(&fx);
    assert!(
        matches!(r.first(), Some(Report::RunStarted { .. })),
        "pending shows first: {r:?}"
    );
    let s = summary(&fx);
    assert_eq!((s.tests.total, s.tests.passed, s.tests.cancelled), (2, 1, 1));
    assert_eq!(state(&model, "a", "x"), TestState::Passed);
    let x = &model.catalog.suites[0].tests[0];
    assert_eq!(x.duration, Some(ms(5)), "timed from the event, not from the list");
}

fn built(model: &mut Model, run: u32, fresh: bool, at: Duration) -> Vec<Effect> {
    update(
        model,
        Msg::Built {
            run: RunId(run),
            binaries: vec![("/tmp/a".into(), fresh)],
            success: true,
            at,
        },
    )
}

/// A model whose first full run listed `tiny_suite` and passed.
fn after_one_full_run() -> Model {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    let fx = listed(&mut model, 1, &["x"], ms(5));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::SaveList { .. })),
        "kept for later"
    );
    test_event(&mut model, "x", TestEventKind::Started { attempt: 1 }, ms(6));
    test_event(&mut model, "x", TestEventKind::Passed { exec_time: None }, ms(7));
    exited(&mut model, 1, ToolExit::Success, ms(8));
    model
}

#[test]
fn a_full_run_whose_build_changed_no_binary_uses_the_kept_listing() {
    let mut model = after_one_full_run();
    let fx = request(&mut model, Selection::All, ms(100));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::List { .. })),
        "no second list: {fx:?}"
    );
    let fx = built(&mut model, 2, true, ms(150));
    assert!(
        matches!(reports(&fx).first(), Some(Report::RunStarted { .. })),
        "the kept listing fills pending: {fx:?}"
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::List { .. })));
}

#[test]
fn a_rebuilt_binary_makes_nextest_list_again() {
    let mut model = after_one_full_run();
    request(&mut model, Selection::All, ms(100));
    let fx = built(&mut model, 2, false, ms(150));
    assert_eq!(
        fx,
        vec![Effect::List {
            run: RunId(2),
            filterset: None
        }],
        "its tests may have changed"
    );
    assert!(reports(&fx).is_empty(), "nothing is said before the list");
}

#[test]
fn a_cancel_after_the_build_lets_the_list_name_the_cancelled_tests() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    built(&mut model, 1, false, ms(50));
    test_event(&mut model, "x", TestEventKind::Started { attempt: 1 }, ms(60));
    let fx = update(&mut model, Msg::Cancel { at: ms(70) });
    assert_eq!(fx, vec![Effect::StopTests { run: RunId(1) }]);
    listed(&mut model, 1, &["x", "y"], ms(80));
    let fx = exited(&mut model, 1, ToolExit::Killed, ms(90));
    let s = summary(&fx);
    assert_eq!(s.outcome, Outcome::Cancelled);
    assert_eq!(s.tests.cancelled, 2, "both tests, by name");
}

#[test]
fn a_run_that_ends_before_the_history_is_read_waits_for_it() {
    let mut model = Model::new(Default::default(), Rules::default());
    model.history_pending = true;
    request(&mut model, Selection::All, ms(0));
    listed(&mut model, 1, &["x"], ms(5));
    test_event(&mut model, "x", TestEventKind::Started { attempt: 1 }, ms(6));
    test_event(&mut model, "x", TestEventKind::Passed { exec_time: None }, ms(7));
    update(
        &mut model,
        Msg::Fingerprint {
            run: RunId(1),
            fingerprint: "tree".into(),
        },
    );
    let fx = exited(&mut model, 1, ToolExit::Success, ms(8));
    assert!(reports(&fx).is_empty(), "held: {fx:?}");
    // The history says x failed last time on the same tree.
    let mut history = vigil::core::history::History::default();
    history.entry("a", "x").record(TestState::Failed, None, "tree");
    let fx = update(
        &mut model,
        Msg::HistoryLoaded {
            history: Box::new(history),
            coverage: None,
        },
    );
    let s = summary(&fx);
    assert_eq!(s.outcome, Outcome::Passed);
    assert_eq!(s.flaky.len(), 1, "judged against the history once it came");
}

#[test]
fn a_failed_list_stops_the_run_beside_it() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    let fx = update(
        &mut model,
        Msg::ListFailed {
            run: RunId(1),
            exit: ToolExit::ListFailed,
            stderr: "boom".into(),
            at: ms(5),
        },
    );
    assert!(fx.contains(&Effect::Cancel { run: RunId(1) }));
    assert_eq!(summary(&fx).outcome, Outcome::ListFailed);
    assert!(
        exited(&mut model, 1, ToolExit::Killed, ms(9)).is_empty(),
        "its end is ignored"
    );
}

#[test]
fn cancel_mid_run_cancels_running_and_pending_tests() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    listed(&mut model, 1, &["x", "y"], ms(5));
    test_event(&mut model, "x", TestEventKind::Started { attempt: 1 }, ms(10));
    let fx = update(&mut model, Msg::Cancel { at: ms(20) });
    assert_eq!(fx, vec![Effect::Cancel { run: RunId(1) }]);
    let fx = exited(&mut model, 1, ToolExit::Killed, ms(30));
    let s = summary(&fx);
    assert_eq!(s.outcome, Outcome::Cancelled);
    assert_eq!(s.tests.cancelled, 2);
    assert_eq!(state(&model, "a", "x"), TestState::Cancelled);
    assert_eq!(state(&model, "a", "y"), TestState::Cancelled);
    assert!(!s.gate.passed);
}

#[test]
fn request_during_run_cancels_it_and_starts_the_new_one_after() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    listed(&mut model, 1, &["x"], ms(5));
    let filter = Selection::Filter {
        expr: "test(=x)".into(),
        reasons: vec!["again".into()],
    };
    let fx = request(&mut model, filter, ms(10));
    assert_eq!(fx, vec![Effect::Cancel { run: RunId(1) }]);
    let fx = exited(&mut model, 1, ToolExit::Killed, ms(20));
    assert_eq!(summary(&fx).outcome, Outcome::Cancelled);
    assert!(fx.contains(&Effect::List {
        run: RunId(2),
        filterset: Some("test(=x)".into())
    }));
}

#[test]
fn build_failure_reports_each_diagnostic_once_after_run_started() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    let decoder = StreamDecoder::default();
    for line in common::recorded("shop_build_error.jsonl").lines() {
        if let StreamLine::Build(d) = decoder.decode(line).unwrap() {
            update(
                &mut model,
                Msg::Build {
                    run: RunId(1),
                    diagnostic: d,
                },
            );
        }
    }
    let fx = update(
        &mut model,
        Msg::ListFailed {
            run: RunId(1),
            exit: ToolExit::BuildFailed,
            stderr: "error: build failed".into(),
            at: ms(50),
        },
    );
    let kinds: Vec<&str> = reports(&fx)
        .iter()
        .map(|r| match r {
            Report::RunStarted { .. } => "run_started",
            Report::BuildError { .. } => "build_error",
            Report::RunFinished(_) => "run_finished",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["run_started", "build_error", "run_finished"]);
    let s = summary(&fx);
    assert_eq!(s.outcome, Outcome::BuildFailed);
    assert!(s.build_errors[0].contains("unclosed delimiter"));
    assert!(s.build_errors[0].contains("money/src/lib.rs:34"));
}

#[test]
fn impossible_transition_is_counted_and_ignored() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    listed(&mut model, 1, &["x"], ms(5));
    let fx = test_event(&mut model, "x", TestEventKind::Passed { exec_time: None }, ms(6));
    assert!(matches!(reports(&fx)[..], [Report::Warning { .. }]));
    assert_eq!(state(&model, "a", "x"), TestState::Pending);
    assert_eq!(model.current_run().unwrap().anomalies, 1);
}

#[test]
fn unparsed_lines_warn_once_and_are_counted() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    listed(&mut model, 1, &["x"], ms(5));
    let first = update(
        &mut model,
        Msg::Unparsed {
            run: RunId(1),
            line: "garbage{".into(),
        },
    );
    let second = update(
        &mut model,
        Msg::Unparsed {
            run: RunId(1),
            line: "more".into(),
        },
    );
    assert_eq!(reports(&first).len(), 1);
    assert!(second.is_empty());
    test_event(&mut model, "x", TestEventKind::Started { attempt: 1 }, ms(6));
    test_event(&mut model, "x", TestEventKind::Passed { exec_time: None }, ms(7));
    let s = summary(&exited(&mut model, 1, ToolExit::Success, ms(8)));
    assert_eq!(s.outcome, Outcome::Passed);
    assert!(s.gate.passed, "skipped garbage does not fail the run");
    assert!(s.warnings.iter().any(|w| w.contains("2 lines")));
}

#[test]
fn strict_xpass_fails_the_gate_and_plain_xpass_is_flagged() {
    for strict in [false, true] {
        let rules = Rules {
            xfail: vec![XfailRule {
                pattern: Glob::new("a::x"),
                reason: String::new(),
                strict,
            }],
            ..Rules::default()
        };
        let mut model = Model::new(Default::default(), rules);
        request(&mut model, Selection::All, ms(0));
        listed(&mut model, 1, &["x"], ms(5));
        test_event(&mut model, "x", TestEventKind::Started { attempt: 1 }, ms(6));
        test_event(&mut model, "x", TestEventKind::Passed { exec_time: None }, ms(7));
        let s = summary(&exited(&mut model, 1, ToolExit::Success, ms(8)));
        assert_eq!(s.tests.xpass, 1);
        assert_eq!(s.xpass.len(), 1);
        assert_eq!(s.gate.passed, !strict);
    }
}

#[test]
fn empty_selection_ends_as_no_tests_once_listed() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    let mut suites = tiny_suite(&["x"]);
    suites[0].tests[0].selected = false;
    let fx = update(
        &mut model,
        Msg::Listed {
            run: RunId(1),
            suites,
            at: ms(5),
        },
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Run { .. })));
    assert_eq!(summary(&fx).outcome, Outcome::NoTests);
}

#[test]
fn tests_not_selected_keep_their_last_result() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    listed(&mut model, 1, &["x", "y"], ms(5));
    for name in ["x", "y"] {
        test_event(&mut model, name, TestEventKind::Started { attempt: 1 }, ms(6));
        test_event(&mut model, name, TestEventKind::Passed { exec_time: None }, ms(7));
    }
    exited(&mut model, 1, ToolExit::Success, ms(8));
    request(
        &mut model,
        Selection::Filter {
            expr: "test(=x)".into(),
            reasons: vec![],
        },
        ms(10),
    );
    let mut suites = tiny_suite(&["x", "y"]);
    suites[0].tests[1].selected = false;
    update(
        &mut model,
        Msg::Listed {
            run: RunId(2),
            suites,
            at: ms(11),
        },
    );
    let fx = exited(&mut model, 2, ToolExit::Killed, ms(12));
    assert_eq!(summary(&fx).tests.total, 1);
    let suite = model.catalog.suite("a").unwrap();
    let y = &suite.tests[suite.test_index("y").unwrap()];
    assert_eq!((y.state, y.run), (TestState::Passed, Some(RunId(1))));
}

#[test]
fn messages_for_an_old_run_are_ignored() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    let fx = update(
        &mut model,
        Msg::Build {
            run: RunId(7),
            diagnostic: BuildDiagnostic {
                level: "error".into(),
                rendered: "x".into(),
            },
        },
    );
    assert!(fx.is_empty());
    assert!(model.current_run().unwrap().build_errors.is_empty());
}

#[test]
fn a_filtered_listing_keeps_the_suites_it_left_out() {
    let mut model = Model::new(Default::default(), shop_rules());
    replay_shop(&mut model);
    let before = model.catalog.suites.len();
    let filter = Selection::Filter {
        expr: "binary_id(orders::checkout) & test(=refund_partial)".into(),
        reasons: vec![],
    };
    request(&mut model, filter, ms(5_000));
    let suites = vigil::adapters::nextest_json::parse_list(&common::recorded("demo_list_filtered.json")).unwrap();
    update(
        &mut model,
        Msg::Listed {
            run: RunId(2),
            suites,
            at: ms(5_100),
        },
    );
    assert_eq!(model.catalog.suites.len(), before);
    assert_eq!(
        state(&model, "money", "tests::adds"),
        TestState::Passed,
        "kept from run 1"
    );
    let run = model.current_run().unwrap();
    assert_eq!(run.selected_tests, 1);
}

fn shop_ws_model(rules: Rules) -> Model {
    let ws = vigil::adapters::workspace::parse_metadata(&common::recorded("shop_metadata.json")).unwrap();
    let mut model = Model::new(ws, rules);
    // As after a build: the index of what compilations read exists.
    model.inputs.compilations = 1;
    replay_shop(&mut model);
    model
}

fn changed(model: &mut Model, files: &[&str], at: Duration) -> Vec<Effect> {
    let paths = files
        .iter()
        .map(|f| std::path::PathBuf::from("/fixtures/shop").join(f))
        .collect();
    update(model, Msg::FilesChanged { paths, at })
}

#[test]
fn change_during_a_run_restarts_it_for_both_change_sets() {
    let mut model = shop_ws_model(shop_rules());
    let fx = changed(&mut model, &["orders/tests/e2e_flow.rs"], ms(10_000));
    assert!(matches!(
        &fx[..],
        [
            Effect::Survey { .. },
            Effect::List { run: RunId(2), .. },
            Effect::Run { run: RunId(2), .. }
        ]
    ));
    let fx = changed(&mut model, &["orders/tests/checkout.rs"], ms(10_100));
    assert_eq!(fx, vec![Effect::Cancel { run: RunId(2) }]);
    let fx = update(
        &mut model,
        Msg::ListFailed {
            run: RunId(2),
            exit: ToolExit::Killed,
            stderr: String::new(),
            at: ms(10_200),
        },
    );
    assert_eq!(summary(&fx).outcome, Outcome::Cancelled);
    let list = fx
        .iter()
        .find(|e| matches!(e, Effect::List { .. }))
        .expect("the next run starts");
    assert_eq!(
        list,
        &Effect::List {
            run: RunId(3),
            filterset: Some("binary_id(orders::checkout) | binary_id(orders::e2e_flow)".into())
        }
    );
    let run = model.current_run().unwrap();
    assert_eq!(run.trigger, Trigger::Watch);
    assert_eq!(run.changed.len(), 2, "the union of both change sets");
}

#[test]
fn a_change_that_selects_nothing_leaves_the_run_in_flight_alone() {
    let mut model = shop_ws_model(shop_rules());
    changed(&mut model, &["orders/tests/e2e_flow.rs"], ms(10_000));
    let fx = changed(&mut model, &["NOTES.md"], ms(10_100));
    assert_eq!(
        fx,
        vec![Effect::emit(Report::ChangeIgnored {
            changed: vec!["NOTES.md".into()],
            why: "no build reads it".into(),
        })],
        "reported, and no cancel"
    );
    assert!(model.queued.is_none(), "nothing waits either");
    assert!(model.active_run().is_some_and(|r| !r.cancel_requested));
}

#[test]
fn only_the_selecting_part_of_a_change_set_joins_the_restart() {
    let mut model = shop_ws_model(shop_rules());
    changed(&mut model, &["orders/tests/e2e_flow.rs"], ms(10_000));
    let fx = changed(&mut model, &["NOTES.md", "orders/tests/checkout.rs"], ms(10_100));
    assert_eq!(
        fx,
        vec![
            Effect::emit(Report::ChangeIgnored {
                changed: vec!["NOTES.md".into()],
                why: "no build reads it".into(),
            }),
            Effect::Cancel { run: RunId(2) }
        ],
        "the ignored part is said before the cancel"
    );
    match &model.queued {
        Some((_, Selection::Changed { files })) => {
            assert!(files.iter().all(|f| !f.ends_with("NOTES.md")), "{files:?}");
            assert_eq!(files.len(), 2, "the new file and the stopped run's");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn queue_mode_lets_the_run_finish_then_runs_the_waiting_changes() {
    let rules = Rules {
        on_change: vigil::core::model::OnChange::Queue,
        ..shop_rules()
    };
    let mut model = shop_ws_model(rules);
    changed(&mut model, &["orders/tests/e2e_flow.rs"], ms(10_000));
    assert!(
        changed(&mut model, &["orders/tests/checkout.rs"], ms(10_100)).is_empty(),
        "no cancel"
    );
    assert!(changed(&mut model, &["money/src/lib.rs"], ms(10_150)).is_empty());
    let fx = update(
        &mut model,
        Msg::ListFailed {
            run: RunId(2),
            exit: ToolExit::BuildFailed,
            stderr: String::new(),
            at: ms(10_200),
        },
    );
    assert_eq!(summary(&fx).outcome, Outcome::BuildFailed, "run 2 ended on its own");
    assert!(fx.contains(&Effect::List {
        run: RunId(3),
        filterset: Some("binary_id(orders::checkout) | rdeps(money)".into())
    }));
}

#[test]
fn a_change_outside_every_package_is_ignored_and_said_so() {
    let mut model = shop_ws_model(shop_rules());
    let fx = changed(&mut model, &["NOTES.md"], ms(10_000));
    assert_eq!(
        reports(&fx),
        vec![&Report::ChangeIgnored {
            changed: vec!["NOTES.md".into()],
            why: "no build reads it".into(),
        }]
    );
    assert_eq!(model.current_run().unwrap().number, RunId(1), "no run started");
    assert!(model.ui.note.as_deref().unwrap().contains("NOTES.md"));
}

#[test]
fn a_manifest_change_reloads_and_runs_everything() {
    let mut model = shop_ws_model(shop_rules());
    let fx = changed(&mut model, &["money/Cargo.toml"], ms(10_000));
    assert_eq!(
        fx,
        vec![
            Effect::Reload,
            Effect::Survey {
                run: RunId(2),
                hygiene: false
            },
            // The listing kept from run 1: the build will tell if it holds.
            Effect::Run {
                run: RunId(2),
                filterset: None
            },
            // The doc lane, beside nextest.
            Effect::Doctests {
                run: RunId(2),
                packages: vec!["money".into(), "orders".into()],
                filters: vec![]
            }
        ]
    );
    assert_eq!(
        model.current_run().unwrap().reasons,
        vec!["`money/Cargo.toml` changed: everything runs".to_string()]
    );
}

#[test]
fn nothing_affected_by_a_change_set_passes_the_gate() {
    let mut model = shop_ws_model(shop_rules());
    changed(&mut model, &["orders/tests/e2e_flow.rs"], ms(10_000));
    let mut suites = vigil::adapters::nextest_json::parse_list(&common::recorded("shop_list.json")).unwrap();
    suites
        .iter_mut()
        .flat_map(|s| s.tests.iter_mut())
        .for_each(|t| t.selected = false);
    let fx = update(
        &mut model,
        Msg::Listed {
            run: RunId(2),
            suites,
            at: ms(10_100),
        },
    );
    let s = summary(&fx);
    assert_eq!(s.outcome, Outcome::NoTests);
    assert!(s.gate.passed);
}

fn timed_run(rules: Rules, tests: &[(&str, u64)]) -> RunSummary {
    let mut model = Model::new(Default::default(), rules);
    request(&mut model, Selection::All, ms(0));
    let names: Vec<&str> = tests.iter().map(|(n, _)| *n).collect();
    update(
        &mut model,
        Msg::Listed {
            run: RunId(1),
            suites: tiny_suite(&names),
            at: ms(0),
        },
    );
    let mut t = 0;
    for (name, took) in tests {
        test_event(&mut model, name, TestEventKind::Started { attempt: 1 }, ms(t));
        t += took;
        let done = TestEventKind::Passed {
            exec_time: Some(ms(*took)),
        };
        update(
            &mut model,
            Msg::Test {
                run: RunId(1),
                event: ev(name, done),
                at: ms(t),
            },
        );
    }
    summary(&exited(&mut model, 1, ToolExit::Success, ms(t)))
}

#[test]
fn budget_flags_test_over_ten_seconds_without_failing_the_gate() {
    let s = timed_run(Rules::default(), &[("quick", 100), ("slow", 12_000), ("nearly", 8_500)]);
    let v = &s.budgets.violations;
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].name.as_deref(), v[0].limit_s, v[0].actual_s),
        (Some("slow"), 10.0, 12.0)
    );
    let w: Vec<Option<&str>> = s.budgets.warnings.iter().map(|w| w.name.as_deref()).collect();
    assert_eq!(w, vec![Some("nearly")], "from 80 % of the limit on");
    assert!(s.gate.passed, "reported, not enforced by default");
}

#[test]
fn unit_suite_over_thirty_seconds_is_a_suite_violation() {
    let tests: Vec<(String, u64)> = (0..4).map(|i| (format!("t{i}"), 9_000)).collect();
    let refs: Vec<(&str, u64)> = tests.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let s = timed_run(Rules::default(), &refs);
    let suite: Vec<_> = s
        .budgets
        .violations
        .iter()
        .filter(|v| v.kind == vigil::core::budget::Target::Suite)
        .collect();
    assert_eq!(suite.len(), 1);
    assert_eq!(
        (suite[0].binary_id.as_str(), suite[0].limit_s, suite[0].actual_s),
        ("a", 30.0, 36.0)
    );
}

#[test]
fn enforced_budgets_fail_the_gate_and_overrides_win() {
    let mut rules = Rules::default();
    rules.budgets.enforce = true;
    rules.budgets.overrides.push(vigil::core::budget::Override {
        target: vigil::core::budget::Target::Test,
        pattern: Glob::new("a::slow*"),
        limit: ms(20_000),
    });
    let s = timed_run(rules.clone(), &[("slow", 12_000)]);
    assert!(s.budgets.violations.is_empty(), "the override allows 20 s");
    assert!(s.gate.passed);
    let s = timed_run(rules, &[("other", 12_000)]);
    assert_eq!(s.budgets.violations.len(), 1);
    assert!(!s.gate.passed);
    assert_eq!(s.gate.reasons, vec!["1 timing budget exceeded".to_string()]);
}

#[test]
fn a_test_well_past_its_history_is_flagged_slower() {
    let mut rules = Rules::default();
    rules.budgets.test = None;
    let mut model = Model::new(Default::default(), rules);
    for _ in 0..5 {
        model
            .history
            .entry("a", "x")
            .record(TestState::Passed, Some(ms(100)), "tree");
    }
    request(&mut model, Selection::All, ms(0));
    listed(&mut model, 1, &["x", "y"], ms(0));
    for (name, took) in [("x", 400), ("y", 400)] {
        test_event(&mut model, name, TestEventKind::Started { attempt: 1 }, ms(0));
        let done = TestEventKind::Passed {
            exec_time: Some(ms(took)),
        };
        update(
            &mut model,
            Msg::Test {
                run: RunId(1),
                event: ev(name, done),
                at: ms(took),
            },
        );
    }
    let s = summary(&exited(&mut model, 1, ToolExit::Success, ms(500)));
    assert_eq!(s.slower.len(), 1, "y has no history to compare with");
    assert_eq!(
        (s.slower[0].name.as_str(), s.slower[0].duration_s, s.slower[0].p95_s),
        ("x", 0.4, 0.1)
    );
    assert_eq!(
        model.history.get("a", "x").unwrap().durations.len(),
        6,
        "the run joins the history"
    );
}

/// The idle sweep: only when its timer comes back to an idle workspace
/// (an older timer finds the workspace was not idle), and any save stops
/// it, even with `on_change = "queue"`; what it did not finish stays owed.
#[test]
fn the_sweep_waits_for_quiet_and_any_save_stops_it() {
    let mut model = common::shop_model();
    model.rules.on_change = vigil::core::model::OnChange::Queue;
    let key = |n: &str| vigil::core::testmap::TestId::new("x", n);
    model.sweep.cleared(&[key("a"), key("b")], &["src/lib.rs".into()]);
    let stale = model.sweep.token;
    update(
        &mut model,
        Msg::FilesChanged {
            paths: vec![],
            at: ms(1),
        },
    );
    let fx = update(
        &mut model,
        Msg::SweepDue {
            token: stale,
            at: ms(2),
        },
    );
    assert!(fx.is_empty(), "an older timer starts nothing: {fx:?}");
    let token = model.sweep.token;
    let fx = update(&mut model, Msg::SweepDue { token, at: ms(3) });
    let run = fx
        .iter()
        .find_map(|e| match e {
            Effect::Run { run, filterset } => Some((*run, filterset.clone())),
            _ => None,
        })
        .expect("the sweep runs");
    assert_eq!(run.1.as_deref(), Some("(binary_id(x) & (test(=a) | test(=b)))"));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Emit(r) if matches!(**r, Report::SweepStarted { tests: 2, .. }))));
    assert_eq!(model.current_run().unwrap().trigger, Trigger::Sweep);
    // A save: the sweep stops though changes queue behind ordinary runs.
    let lib = model.workspace.root.join("money/src/lib.rs");
    let fx = update(
        &mut model,
        Msg::FilesChanged {
            paths: vec![lib],
            at: ms(4),
        },
    );
    assert!(
        fx.iter().any(|e| matches!(e, Effect::Cancel { run: r } if *r == run.0)),
        "{fx:?}"
    );
    assert_eq!(model.sweep.pending.len(), 2, "still owed");
}

fn service(needed_by: &str) -> vigil::core::services::ServiceSpec {
    vigil::core::services::ServiceSpec {
        name: "svc".into(),
        check: vigil::core::services::Check::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
        },
        needed_by: needed_by.into(),
        filter: vigil::core::filterset::Filter::parse(needed_by).unwrap(),
        start: None,
        stop: None,
        timeout: Duration::from_secs(2),
        interval: Duration::from_secs(5),
        start_timeout: Duration::from_secs(10),
        allow_blocked: false,
        proxy: None,
        faults: Vec::new(),
    }
}

fn probed(model: &mut Model, health: vigil::core::services::Health, at: Duration) -> Vec<Effect> {
    let token = model.services[0].token;
    update(
        model,
        Msg::Probed {
            service: "svc".into(),
            token,
            probe: vigil::core::services::Probe {
                health,
                latency: ms(1),
                error: health.blocks().then(|| "connection refused".to_owned()),
                stub: false,
            },
            at,
        },
    )
}

fn run_effect(fx: &[Effect]) -> Option<(u32, Option<String>)> {
    fx.iter().find_map(|e| match e {
        Effect::Run { run, filterset } => Some((run.0, filterset.clone())),
        _ => None,
    })
}

/// A run whose tests need a service waits for its probe; the tests of a
/// service that is down are blocked (not run, not failed) and fail the
/// gate; when it comes back (watching), exactly those rerun.
#[test]
fn a_service_gates_the_run_and_its_return_reruns_what_it_blocked() {
    use vigil::core::services::Health;
    let rules = Rules {
        services: vec![service("test(/net/)")],
        ..Rules::default()
    };
    let mut model = Model::new(Default::default(), rules);
    model.watching = true;
    let fx = request(&mut model, Selection::All, ms(0));
    assert!(run_effect(&fx).is_none(), "the run waits for the probe: {fx:?}");
    assert!(
        fx.iter().any(|e| matches!(e, Effect::List { .. })),
        "the build goes on meanwhile"
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Probe { after, .. } if after.is_zero())));

    let fx = probed(&mut model, Health::Unreachable, ms(5));
    assert_eq!(run_effect(&fx), Some((1, Some("not (test(/net/))".to_owned()))));
    assert!(reports(&fx).iter().any(|r| matches!(
        r,
        Report::Service {
            from: Health::Unknown,
            to: Health::Unreachable,
            ..
        }
    )));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Probe { after, .. } if *after == Duration::from_secs(5))),
        "watching: probed again after its interval"
    );

    let fx = listed(&mut model, 1, &["net_a", "net_b", "local"], ms(10));
    assert_eq!(state(&model, "a", "net_a"), TestState::Blocked);
    assert_eq!(state(&model, "a", "net_b"), TestState::Blocked);
    assert_eq!(state(&model, "a", "local"), TestState::Pending);
    assert!(reports(&fx).iter().any(|r| matches!(
        r,
        Report::Test(t) if t.to == TestState::Blocked
            && t.message.as_deref() == Some("`svc` is unreachable: connection refused")
    )));
    test_event(&mut model, "local", TestEventKind::Started { attempt: 1 }, ms(20));
    test_event(&mut model, "local", TestEventKind::Passed { exec_time: None }, ms(30));
    let s = summary(&exited(&mut model, 1, ToolExit::Success, ms(40)));
    assert_eq!((s.tests.passed, s.tests.blocked, s.tests.failed), (1, 2, 0));
    assert_eq!(
        s.gate.reasons,
        vec!["2 tests blocked: `svc` is unreachable: connection refused"]
    );
    assert_eq!(s.services[0].blocked.len(), 2);
    assert_eq!(s.services[0].state, Health::Unreachable);

    // Back: exactly the two blocked tests run again (after a probe of
    // their own, which finds it healthy).
    let fx = probed(&mut model, Health::Healthy, ms(5000));
    let run = model.current_run().unwrap();
    assert_eq!((run.number, run.trigger), (RunId(2), Trigger::Service));
    assert_eq!(
        run.selection.filterset().as_deref(),
        Some("(binary_id(a) & test(=net_a)) | (binary_id(a) & test(=net_b))")
    );
    assert!(run_effect(&fx).is_none());
    let fx = probed(&mut model, Health::Healthy, ms(5001));
    assert_eq!(
        run_effect(&fx).map(|r| r.1),
        Some(Some(
            "(binary_id(a) & test(=net_a)) | (binary_id(a) & test(=net_b))".to_owned()
        ))
    );
}

/// Cancelling a run that still waits for its services ends it at once:
/// there is no `nextest run` to wait for.
#[test]
fn a_run_waiting_for_its_services_is_cancelled_at_once() {
    let rules = Rules {
        services: vec![service("all()")],
        ..Rules::default()
    };
    let mut model = Model::new(Default::default(), rules);
    request(&mut model, Selection::All, ms(0));
    let fx = update(&mut model, Msg::Cancel { at: ms(3) });
    assert_eq!(summary(&fx).outcome, Outcome::Cancelled);
    assert!(model.active_run().is_none());
    // The probe's late answer starts nothing.
    let fx = probed(&mut model, vigil::core::services::Health::Healthy, ms(10));
    assert!(run_effect(&fx).is_none(), "{fx:?}");
}

/// A config reload keeps what is known of a service, and probes a new one.
#[test]
fn a_reload_keeps_service_state_and_probes_new_services() {
    use vigil::core::services::Health;
    let rules = Rules {
        services: vec![service("all()")],
        ..Rules::default()
    };
    let mut model = Model::new(Default::default(), rules.clone());
    model.watching = true;
    probed(&mut model, Health::Healthy, ms(1));
    let mut more = rules.clone();
    let mut db = service("test(db)");
    db.name = "db".into();
    more.services.push(db);
    let fx = update(
        &mut model,
        Msg::Reloaded {
            workspace: None,
            rules: Some(more),
            error: None,
            requested: true,
        },
    );
    assert_eq!(model.services.len(), 2);
    assert_eq!(model.services[0].health, Health::Healthy, "kept");
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Probe { service, .. } if service == "db")),
        "{fx:?}"
    );
}

/// A change queued behind the run in flight makes the results it can affect
/// stale (never shown with their old green) until a run enrols them again.
#[test]
fn a_queued_change_marks_what_it_can_affect_stale_until_it_reruns() {
    let rules = Rules {
        on_change: vigil::core::model::OnChange::Queue,
        ..shop_rules()
    };
    let mut model = shop_ws_model(rules);
    let stale = |m: &Model, binary: &str| -> Vec<String> {
        m.catalog
            .suite(binary)
            .unwrap()
            .tests
            .iter()
            .filter(|t| t.stale)
            .map(|t| t.name.clone())
            .collect()
    };
    assert_eq!(model.catalog.stale_count(), 0, "run 1's results stand");
    changed(&mut model, &["orders/tests/e2e_flow.rs"], ms(10_000));
    assert_eq!(
        stale(&model, "orders::e2e_flow").len(),
        1,
        "building: its old result is stale"
    );
    assert!(stale(&model, "money").is_empty());
    // Queued behind run 2: every test of `money` and its dependents.
    changed(&mut model, &["money/src/lib.rs"], ms(10_100));
    let money = model
        .catalog
        .suite("money")
        .unwrap()
        .tests
        .iter()
        .filter(|t| !t.ignored)
        .count();
    assert_eq!(stale(&model, "money").len(), money);
    // Run 2 ends; run 3 lists and enrols them: nothing is stale any more.
    update(
        &mut model,
        Msg::ListFailed {
            run: RunId(2),
            exit: ToolExit::BuildFailed,
            stderr: String::new(),
            at: ms(10_200),
        },
    );
    let suites = vigil::adapters::nextest_json::parse_list(&common::recorded("shop_list.json")).unwrap();
    update(
        &mut model,
        Msg::Listed {
            run: RunId(3),
            suites,
            at: ms(10_300),
        },
    );
    assert!(stale(&model, "money").is_empty(), "{:?}", stale(&model, "money"));
}

/// A CLI crate's library and binary share nextest's result prefix
/// (`hexyl::hexyl$…`): each result lands in the suite that lists the test
/// (the binary's were left pending, then cancelled, as if never run).
#[test]
fn a_lib_and_a_bin_of_one_name_each_get_their_own_results() {
    let mut model = Model::new(Default::default(), Rules::default());
    request(&mut model, Selection::All, ms(0));
    let suite = |id: &str, kind: &str, tests: &[&str]| ListedSuite {
        binary_id: Arc::from(id),
        package: "tool".into(),
        binary_name: "tool".into(),
        kind: kind.into(),
        binary_path: format!("/tmp/{id}").into(),
        tests: tests
            .iter()
            .map(|t| ListedTest {
                name: t.to_string(),
                ignored: false,
                selected: true,
            })
            .collect(),
    };
    update(
        &mut model,
        Msg::Listed {
            run: RunId(1),
            suites: vec![
                suite("tool", "lib", &["tests::in_lib", "tests::shared"]),
                suite("tool::bin/tool", "bin", &["tests::in_bin", "tests::shared"]),
            ],
            at: ms(10),
        },
    );
    // The decoder named one binary for the shared prefix: the library.
    let event = |name: &str, kind: TestEventKind| TestEvent {
        binary_id: Arc::from("tool"),
        name: name.into(),
        kind,
    };
    let passed = || TestEventKind::Passed { exec_time: None };
    let started = || TestEventKind::Started { attempt: 1 };
    for (name, kind, at) in [
        ("tests::in_bin", started(), 20),
        ("tests::in_bin", passed(), 21),
        ("tests::shared", started(), 22),
        ("tests::shared", started(), 23),
        ("tests::shared", passed(), 24),
        ("tests::shared", passed(), 25),
        ("tests::in_lib", started(), 26),
        ("tests::in_lib", passed(), 27),
    ] {
        update(
            &mut model,
            Msg::Test {
                run: RunId(1),
                event: event(name, kind),
                at: ms(at),
            },
        );
    }
    for (binary, name) in [
        ("tool::bin/tool", "tests::in_bin"),
        ("tool::bin/tool", "tests::shared"),
        ("tool", "tests::shared"),
        ("tool", "tests::in_lib"),
    ] {
        assert_eq!(state(&model, binary, name), TestState::Passed, "{binary} {name}");
    }
}

/// The doc lane runs beside nextest: its results may come before nextest's
/// list (held, then taken in), and it may end first (the run ends with
/// nextest); a build failure stops it.
#[test]
fn the_doc_lane_runs_beside_nextest_and_the_run_waits_for_both() {
    let ws = vigil::adapters::workspace::parse_metadata(&common::recorded("shop_metadata.json")).unwrap();
    let mut model = Model::new(ws, shop_rules());
    let fx = request(&mut model, Selection::All, ms(0));
    assert!(
        matches!(
            &fx[..],
            [
                Effect::Survey { .. },
                Effect::List { run: RunId(1), .. },
                Effect::Run { run: RunId(1), .. },
                Effect::Doctests { run: RunId(1), .. }
            ]
        ),
        "{fx:?}"
    );
    let doc = ListedSuite {
        binary_id: Arc::from("money::doc"),
        package: "money".into(),
        binary_name: "doc".into(),
        kind: "doc".into(),
        binary_path: "".into(),
        tests: vec![ListedTest {
            name: "src/lib.rs - Money::add (line 3)".into(),
            ignored: false,
            selected: true,
        }],
    };
    let event = |kind| TestEvent {
        binary_id: Arc::from("money::doc"),
        name: "src/lib.rs - Money::add (line 3)".into(),
        kind,
    };
    // Before the list: held.
    update(
        &mut model,
        Msg::Doctests {
            run: RunId(1),
            suite: doc,
            events: vec![
                event(TestEventKind::Started { attempt: 1 }),
                event(TestEventKind::Passed { exec_time: None }),
            ],
            at: ms(50),
        },
    );
    update(
        &mut model,
        Msg::DoctestsDone {
            run: RunId(1),
            error: None,
            at: ms(60),
        },
    );
    assert!(model.catalog.suite("money::doc").is_none(), "held until nextest's list");
    let suites = vigil::adapters::nextest_json::parse_list(&common::recorded("shop_list.json")).unwrap();
    update(
        &mut model,
        Msg::Listed {
            run: RunId(1),
            suites,
            at: ms(100),
        },
    );
    assert_eq!(
        state(&model, "money::doc", "src/lib.rs - Money::add (line 3)"),
        TestState::Passed
    );
    // The lane is done: nextest's end ends the run.
    let fx = update(
        &mut model,
        Msg::RunExited {
            run: RunId(1),
            exit: ToolExit::Success,
            stderr: String::new(),
            at: ms(200),
        },
    );
    let s = summary(&fx);
    assert!(s.suites.iter().any(|x| x.binary_id == "money::doc"), "{:?}", s.suites);

    // A build failure stops the lane beside it.
    let fx = request(&mut model, Selection::All, ms(1_000));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::Doctests { run: RunId(2), .. })),
        "{fx:?}"
    );
    let mut fx = update(
        &mut model,
        Msg::ListFailed {
            run: RunId(2),
            exit: ToolExit::BuildFailed,
            stderr: String::new(),
            at: ms(1_100),
        },
    );
    fx.extend(update(
        &mut model,
        Msg::RunExited {
            run: RunId(2),
            exit: ToolExit::BuildFailed,
            stderr: String::new(),
            at: ms(1_200),
        },
    ));
    let run = model.runs.iter().find(|r| r.number == RunId(2)).unwrap();
    assert!(!run.is_active(), "the run ended on the build failure");
    assert_eq!(
        fx.iter()
            .filter(|e| matches!(e, Effect::Cancel { run: RunId(2) }))
            .count(),
        1,
        "the doc lane is stopped, once: {fx:?}"
    );
}

/// A client's command, as the socket hands it to the core.
fn client(model: &mut Model, words: &[&str], at: Duration) -> Vec<Effect> {
    let command = vigil::core::command::Command::parse(words).unwrap();
    let to = vigil::core::command::To {
        client: vigil::core::ids::ClientId(7),
        id: Some(1),
    };
    update(
        model,
        Msg::Client {
            to,
            command,
            subscribe: false,
            at,
        },
    )
}

fn replies(fx: &[Effect]) -> Vec<&vigil::core::command::Reply> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Reply { client, reply } => {
                assert_eq!(client.0, 7, "answered to the client that asked");
                Some(reply)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn client_commands_do_what_their_keys_do_and_are_answered() {
    let mut model = common::shop_model();
    // The snapshot goes to the client that connected.
    let to = vigil::core::command::To {
        client: vigil::core::ids::ClientId(3),
        id: None,
    };
    let fx = update(
        &mut model,
        Msg::Client {
            to,
            command: vigil::core::command::Command::Snapshot,
            subscribe: true,
            at: ms(5_000),
        },
    );
    assert_eq!(fx, [Effect::Snapshot { to, subscribe: true }]);
    let snap = vigil::core::snapshot::snapshot(&model);
    assert_eq!((snap.tests.failed, snap.tests.passed), (1, 6));
    let refund = snap
        .suites
        .iter()
        .flat_map(|s| s.tests.iter())
        .find(|t| t.name == "refund_partial")
        .unwrap();
    assert_eq!(refund.assertion.as_ref().map(|a| a.left.as_str()), Some("50"));

    let fx = client(&mut model, &["rerun-failed"], ms(5_010));
    assert_eq!(replies(&fx)[0].message, "rerunning 1 failed test");
    let run = model.runs.last().unwrap();
    assert_eq!(run.trigger, Trigger::Client);
    assert_eq!(
        run.selection.filterset().as_deref(),
        Some("(binary_id(orders::checkout) & test(=refund_partial))")
    );
    // Cancel stops it; the engine goes on.
    let fx = client(&mut model, &["cancel"], ms(5_020));
    assert_eq!(
        replies(&fx)[0].message,
        format!("cancelling run {}", run_number(&model))
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::Cancel { .. })));
    assert!(!model.ui.quit);

    let fx = client(&mut model, &["rerun", "money", "no_such_test"], ms(5_030));
    let r = replies(&fx)[0];
    assert!(!r.ok && r.message.contains("no test `money no_such_test`"), "{r:?}");
    let fx = client(&mut model, &["rerun", "nowhere", "adds"], ms(5_030));
    assert!(replies(&fx)[0].message.contains("no test binary `nowhere`"));
    let fx = client(&mut model, &["open", "orders::checkout", "refund_partial"], ms(5_040));
    assert!(replies(&fx)[0].ok);
    assert_eq!(
        model.ui.selected,
        Some(vigil::core::RowKey::Test(
            "orders::checkout".into(),
            "refund_partial".into()
        ))
    );
    let fx = client(
        &mut model,
        &["accept-snapshot", "orders::checkout", "refund_partial"],
        ms(5_045),
    );
    let r = replies(&fx)[0];
    assert!(!r.ok && r.message.ends_with("has no pending snapshot"), "{r:?}");
    assert!(!fx.iter().any(|e| matches!(e, Effect::AcceptSnapshots { .. })));
    let fx = client(&mut model, &["ack-misses"], ms(5_050));
    assert_eq!(replies(&fx)[0].message, "no selection miss to acknowledge");
    // No maps yet: the file is not measured.
    let fx = client(&mut model, &["reached", "orders/src/lib.rs", "4"], ms(5_060));
    let r = replies(&fx)[0];
    assert_eq!((r.measured, r.tests.as_ref().map(Vec::len)), (Some(false), Some(0)));
}

fn run_number(model: &Model) -> RunId {
    model.runs.last().unwrap().number
}

/// Run `run` of suite `a` (x and y; `only`: the ones it selects), each
/// selected test passing or failing as `results` says.
fn run_of_a(model: &mut Model, run: u32, only: &[&str], results: &[(&str, bool)], at: u64) -> Vec<Effect> {
    let mut suites = tiny_suite(&["x", "y"]);
    for t in &mut suites[0].tests {
        t.selected = only.contains(&t.name.as_str());
    }
    update(
        model,
        Msg::Listed {
            run: RunId(run),
            suites,
            at: ms(at),
        },
    );
    let mut t = at;
    for (name, passed) in results {
        t += 1;
        update(
            model,
            Msg::Test {
                run: RunId(run),
                event: ev(name, TestEventKind::Started { attempt: 1 }),
                at: ms(t),
            },
        );
        let kind = if *passed {
            TestEventKind::Passed { exec_time: Some(ms(1)) }
        } else {
            TestEventKind::Failed {
                exec_time: Some(ms(1)),
                failure: vigil::core::test_state::Failure {
                    message: "it broke".into(),
                    output: String::new(),
                    location: None,
                    output_file: None,
                    output_bytes: None,
                },
            }
        };
        update(
            model,
            Msg::Test {
                run: RunId(run),
                event: ev(name, kind),
                at: ms(t + 1),
            },
        );
    }
    let failed = results.iter().any(|(_, p)| !p);
    exited(
        model,
        run,
        if failed {
            ToolExit::TestsFailed
        } else {
            ToolExit::Success
        },
        ms(t + 2),
    )
}

fn with_maps() -> Model {
    let mut model = Model::new(Default::default(), Rules::default());
    for t in ["x", "y"] {
        model
            .test_maps
            .tests
            .insert(vigil::core::testmap::TestId::new("a", t), Default::default());
    }
    model
}

#[test]
fn a_failure_no_change_reached_is_rechecked_and_likely_flaky_when_it_passes() {
    let mut model = with_maps();
    request(&mut model, Selection::All, ms(0));
    run_of_a(&mut model, 1, &["x", "y"], &[("x", true), ("y", true)], 10);
    // Nothing changed since; a full run, and x fails.
    request(&mut model, Selection::All, ms(100));
    let fx = run_of_a(&mut model, 2, &["x", "y"], &[("x", false), ("y", true)], 110);
    assert!(summary(&fx).flaky.is_empty(), "not judged before the recheck");
    let recheck = model.runs.last().unwrap();
    assert_eq!((recheck.number, recheck.trigger), (RunId(3), Trigger::Recheck));
    assert_eq!(
        recheck.selection.filterset().as_deref(),
        Some("(binary_id(a) & test(=x))")
    );
    let fx = run_of_a(&mut model, 3, &["x"], &[("x", true)], 210);
    let flaky = summary(&fx).flaky;
    assert_eq!(flaky.len(), 1, "{flaky:?}");
    assert_eq!((flaky[0].name.as_str(), flaky[0].flips), ("x", 1));
    assert_eq!(
        flaky[0].evidence.as_deref(),
        Some(
            "failed in run 2 though no change since its last pass reached its coverage map; \
             passed when run again (run 3)"
        )
    );
    assert!(model.sweep.misses.is_empty());
    assert_eq!(model.history.flaky()[0].name, "x", "it counts toward flakiness");
}

#[test]
fn a_recheck_that_fails_again_is_a_selection_miss_and_a_touched_test_is_not_suspected() {
    let mut model = with_maps();
    request(&mut model, Selection::All, ms(0));
    run_of_a(&mut model, 1, &["x", "y"], &[("x", true), ("y", true)], 10);
    request(&mut model, Selection::All, ms(100));
    run_of_a(&mut model, 2, &["x", "y"], &[("x", false), ("y", true)], 110);
    let fx = run_of_a(&mut model, 3, &["x"], &[("x", false)], 210);
    assert!(summary(&fx).flaky.is_empty(), "a failure that repeats is never flaky");
    assert_eq!(model.sweep.misses.len(), 1);
    assert_eq!(model.sweep.misses[0].name, "x");
    assert!(model.runs.last().unwrap().trigger != Trigger::Recheck || model.runs.len() == 3);
    // y passed; a change reaches it (a plan that leaves it stale); then it
    // fails: not clean since its pass, so no recheck.
    for t in &mut model.catalog.suites[0].tests {
        t.stale = t.name == "y";
    }
    for t in &mut model.catalog.suites[0].tests {
        if t.stale {
            t.clean_since_pass = false;
        }
    }
    request(&mut model, Selection::All, ms(300));
    run_of_a(&mut model, 4, &["x", "y"], &[("x", false), ("y", false)], 310);
    assert_eq!(model.runs.len(), 4, "no recheck: x failed last time, y was touched");
}

/// The idle sweep's failures are run again at once before they are
/// called misses: one that passes (nothing changed) is likely flaky, with
/// its evidence, and the sweep reports no miss; one that fails again is a
/// miss, with the change it was left out for.
#[test]
fn a_sweep_failure_is_run_again_before_it_is_a_miss() {
    for passes_again in [true, false] {
        let mut model = with_maps();
        request(&mut model, Selection::All, ms(0));
        run_of_a(&mut model, 1, &["x", "y"], &[("x", true), ("y", true)], 10);
        model
            .sweep
            .cleared(&[vigil::core::testmap::TestId::new("a", "x")], &["src/lib.rs".into()]);
        let token = model.sweep.token;
        update(&mut model, Msg::SweepDue { token, at: ms(100) });
        assert_eq!(model.current_run().unwrap().trigger, Trigger::Sweep);
        let verdict = |fx: &[Effect]| {
            fx.iter().find_map(|e| match e {
                Effect::Emit(r) => match &**r {
                    Report::SweepFinished { run, tests, misses } => Some((*run, *tests, misses.clone())),
                    _ => None,
                },
                _ => None,
            })
        };
        let fx = run_of_a(&mut model, 2, &["x"], &[("x", false)], 110);
        assert_eq!(verdict(&fx), None, "judged once run again");
        let recheck = model.runs.last().unwrap();
        assert_eq!((recheck.number, recheck.trigger), (RunId(3), Trigger::Recheck));
        let fx = run_of_a(&mut model, 3, &["x"], &[("x", passes_again)], 210);
        let (run, tests, misses) = verdict(&fx).expect("the sweep's verdict");
        assert_eq!((run, tests), (RunId(2), 1));
        if passes_again {
            assert!(misses.is_empty(), "{misses:?}");
            assert!(model.sweep.misses.is_empty());
            let flaky = summary(&fx).flaky;
            assert_eq!(flaky.len(), 1, "{flaky:?}");
            assert!(flaky[0]
                .evidence
                .as_deref()
                .unwrap()
                .contains("passed when run again (run 3)"));
            assert_eq!(model.history.selection_misses, 0);
        } else {
            assert_eq!(misses.len(), 1);
            assert_eq!(
                (misses[0].name.as_str(), misses[0].changed.clone()),
                ("x", vec!["src/lib.rs".to_owned()])
            );
            assert_eq!(model.sweep.misses.len(), 1, "{:?}", model.sweep.misses);
            assert_eq!(model.sweep.misses[0].changed, vec!["src/lib.rs".to_owned()]);
            assert_eq!(model.history.selection_misses, 1);
            assert!(summary(&fx).flaky.is_empty());
        }
    }
}
