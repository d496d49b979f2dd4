//! How long the run in flight has left, from each test's history: shown in
//! the header while tests run.

use crate::core::ids::RunId;
use std::time::Duration;

use super::model::Model;
use super::test_state::TestState;

/// What is left of a run: each unfinished test's usual time (p50 from
/// history; the run's own pace for tests without one, less what a running
/// test has already used), spread over the tests running side by side.
pub(crate) fn time_left(model: &Model, run: RunId, elapsed: Duration) -> Option<f64> {
    let r = model.runs.iter().find(|r| r.number == run)?;
    let total = r.selected_tests.max(r.done);
    if total == 0 || r.done >= total {
        return None;
    }
    let pace = (r.done > 0).then(|| elapsed.as_secs_f64() / r.done as f64);
    let mut left = 0.0;
    let mut running = 0usize;
    for s in &model.catalog.suites {
        for t in s.tests.iter().filter(|t| t.run == Some(run) && !t.state.is_terminal()) {
            let usual = model.history.get(&s.binary_id, &t.name).and_then(|h| h.p50());
            let used = match (t.state, t.started_at) {
                (TestState::Running, Some(start)) => {
                    running += 1;
                    model.now.saturating_sub(start).as_secs_f64()
                }
                _ => 0.0,
            };
            left += (usual.or(pace)? - used).max(0.0);
        }
    }
    Some(left / running.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::{ListedSuite, ListedTest};
    use crate::core::run::{Run, Selection, Trigger};
    use crate::core::test_state::TestEventKind;

    fn model_with(tests: &[&str]) -> Model {
        let mut model = Model::default();
        let listed = vec![ListedSuite {
            binary_id: "a".into(),
            package: "a".into(),
            binary_name: "a".into(),
            kind: "lib".into(),
            binary_path: "/t/a".into(),
            tests: tests
                .iter()
                .map(|t| ListedTest {
                    name: t.to_string(),
                    ignored: false,
                    selected: true,
                })
                .collect(),
        }];
        model.catalog.merge_listing(&listed, &[], true);
        let mut run = Run::new(RunId(1), Trigger::Manual, Selection::All, Duration::ZERO);
        run.selected_tests = tests.len();
        model.runs.push(run);
        for t in &mut model.catalog.suites[0].tests {
            t.enrol(RunId(1));
        }
        model
    }

    #[test]
    fn what_is_left_is_the_usual_time_of_what_has_not_finished() {
        let mut model = model_with(&["slow", "quick"]);
        for _ in 0..3 {
            model
                .history
                .entry("a", "slow")
                .record(TestState::Passed, Some(Duration::from_secs(10)), "f");
            model
                .history
                .entry("a", "quick")
                .record(TestState::Passed, Some(Duration::from_secs(2)), "f");
        }
        assert_eq!(
            time_left(&model, RunId(1), Duration::ZERO),
            Some(12.0),
            "nothing ran yet"
        );
        // `slow` has run for 4 s of its usual 10.
        let t = &mut model.catalog.suites[0].tests[0];
        t.apply(
            &TestEventKind::Started { attempt: 1 },
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        model.now = Duration::from_secs(5);
        assert_eq!(time_left(&model, RunId(1), Duration::from_secs(5)), Some(8.0));
    }

    #[test]
    fn tests_without_history_go_at_the_run_s_own_pace_or_say_nothing() {
        let model = model_with(&["new"]);
        assert_eq!(time_left(&model, RunId(1), Duration::from_secs(1)), None, "no pace yet");
    }
}
