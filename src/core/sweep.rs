//! The idle sweep: what test-level selection left out, run when nothing
//! has changed for a while, to measure whether leaving it out was safe. A
//! test the maps cleared that then fails is a *selection miss*.

use crate::core::ids::RunId;
use std::collections::BTreeMap;

use super::testmap::{TestId, TestKey};

/// A test the maps cleared that failed when the sweep ran it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Miss {
    pub binary_id: String,
    pub name: String,
    /// The changes it was cleared for (workspace-relative).
    pub changed: Vec<String>,
    /// The sweep run that found it.
    pub run: RunId,
}

#[derive(Clone, Debug, Default)]
pub struct Sweep {
    /// Cleared tests no run has run since → the changes that cleared them.
    pub pending: BTreeMap<TestKey, Vec<String>>,
    /// Misses not yet acknowledged (the header shows them in red).
    pub misses: Vec<Miss>,
    /// Bumped by every change and run: a timer that comes back with an
    /// older one finds the workspace was not idle.
    pub token: u64,
    /// A sweep whose failures are being run again before they are called
    /// misses (a test that passes at once, nothing changed, is flaky).
    pub awaiting: Option<Awaiting>,
}

/// A finished sweep's verdict, held for the recheck of its failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Awaiting {
    /// The sweep run.
    pub run: RunId,
    /// How many tests it ran.
    pub tests: usize,
    /// What failed in it, each with the changes it was cleared for.
    pub failed: Vec<Miss>,
}

impl Sweep {
    /// Tests cleared by a narrowed run, for `changed`.
    pub fn cleared(&mut self, tests: &[TestKey], changed: &[String]) {
        for t in tests {
            let why = self.pending.entry(t.clone()).or_default();
            for c in changed {
                if !why.contains(c) {
                    why.push(c.clone());
                }
            }
        }
    }

    /// A test ran (in any run): it is no longer owed a sweep.
    pub fn ran(&mut self, test: &TestKey) -> Option<Vec<String>> {
        self.pending.remove(test)
    }

    /// The filterset of the tests a sweep runs.
    pub fn filterset(&self) -> String {
        let mut by_binary: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for TestId(b, n) in self.pending.keys() {
            by_binary.entry(b).or_default().push(format!("test(={n})"));
        }
        by_binary
            .into_iter()
            .map(|(b, t)| format!("(binary_id({b}) & ({}))", t.join(" | ")))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// Misses per 100 narrowed runs (`None` before any).
pub(crate) fn miss_rate(narrowed_runs: u32, misses: u32) -> Option<f64> {
    (narrowed_runs > 0).then(|| (misses as f64 * 100.0 / narrowed_runs as f64 * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleared_tests_wait_for_a_sweep_until_they_run() {
        let mut s = Sweep::default();
        let t = |n: &str| TestId::new("app", n);
        s.cleared(&[t("a"), t("b")], &["src/x.rs".into()]);
        s.cleared(&[t("a")], &["src/y.rs".into()]);
        assert_eq!(s.pending[&t("a")], vec!["src/x.rs", "src/y.rs"]);
        assert_eq!(s.filterset(), "(binary_id(app) & (test(=a) | test(=b)))");
        assert!(s.ran(&t("b")).is_some());
        assert_eq!(s.filterset(), "(binary_id(app) & (test(=a)))");
        assert_eq!(miss_rate(2, 1), Some(50.0));
        assert_eq!(miss_rate(0, 0), None);
    }
}
