//! Which tests ran side by side: each test's run on a slot, assigned the
//! way a fixed pool of test threads would have taken them (the lowest free
//! slot at its start), so overlapping tests never share one.

use crate::core::ids::RunId;
use std::time::Duration;

/// A test's span in a run, and the slot it ran on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bar<K> {
    pub key: K,
    pub start: Duration,
    pub end: Duration,
    pub slot: usize,
}

/// Assigns slots to `(key, start, end)` spans; returns them by start.
pub(crate) fn lay_out<K: Clone>(spans: &[(K, Duration, Duration)]) -> Vec<Bar<K>> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].1, spans[i].2));
    let mut free_at: Vec<Duration> = Vec::new();
    let mut out = Vec::with_capacity(spans.len());
    for i in order {
        let (key, start, end) = &spans[i];
        let slot = match free_at.iter().position(|f| f <= start) {
            Some(s) => s,
            None => {
                free_at.push(Duration::ZERO);
                free_at.len() - 1
            }
        };
        free_at[slot] = (*end).max(*start);
        out.push(Bar {
            key: key.clone(),
            start: *start,
            end: *end,
            slot,
        });
    }
    out
}

/// The spans of run `run`'s tests from the model: start of the last
/// attempt to its end (run-relative).
pub(crate) fn of_run(model: &super::Model, run: RunId) -> Vec<Bar<(std::sync::Arc<str>, String)>> {
    let mut spans = Vec::new();
    // Doctests report no times of their own: they are not on it.
    for s in model
        .catalog
        .suites
        .iter()
        .filter(|s| s.suite_type != super::SuiteType::Doc)
    {
        for t in s.tests.iter().filter(|t| t.run == Some(run)) {
            let start = t
                .transitions
                .iter()
                .rev()
                .find(|tr| tr.to == super::TestState::Running)
                .map(|tr| tr.at);
            let end = t
                .transitions
                .iter()
                .rev()
                .find(|tr| tr.to.is_terminal() && tr.from == super::TestState::Running)
                .map(|tr| tr.at);
            if let (Some(start), Some(end)) = (start, end) {
                spans.push(((s.binary_id.clone(), t.name.clone()), start, end));
            }
        }
    }
    lay_out(&spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_tests_take_different_slots_and_reuse_freed_ones() {
        let ms = Duration::from_millis;
        let bars = lay_out(&[
            ("a", ms(0), ms(100)),
            ("b", ms(10), ms(50)),
            ("c", ms(60), ms(90)),
            ("d", ms(95), ms(120)),
            ("e", ms(100), ms(110)),
        ]);
        let slot = |k: &str| bars.iter().find(|b| b.key == k).unwrap().slot;
        assert_eq!((slot("a"), slot("b"), slot("c")), (0, 1, 1), "c reuses b's slot");
        assert_eq!(slot("d"), 1);
        assert_eq!(slot("e"), 0, "a's slot is free when it ends");
    }
}
