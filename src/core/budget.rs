//! Timing budgets: per suite type, per test, and overrides for named suites
//! or tests. A suite's time is its wall time in a run: from its first test
//! starting to its last test finishing. Over the limit is a violation; from
//! 80 % of it, a warning. Violations fail the gate only with `enforce`.

use crate::core::ids::RunId;
use std::time::Duration;

use serde::Serialize;

use super::catalog::{Suite, SuiteType};
use super::glob::Glob;
use super::test_state::TestCase;

/// From this share of a limit on, a time is worth a warning.
pub(crate) const WARN_AT: f64 = 0.8;

#[derive(Clone, Debug, PartialEq)]
pub struct Budgets {
    pub unit: Option<Duration>,
    pub integration: Option<Duration>,
    pub e2e: Option<Duration>,
    /// Any single test.
    pub test: Option<Duration>,
    pub overrides: Vec<Override>,
    pub enforce: bool,
}

impl Default for Budgets {
    /// The common team rules: unit suites 30 s, integration suites 5 min,
    /// any test 10 s; reported, not enforced.
    fn default() -> Self {
        Self {
            unit: Some(Duration::from_secs(30)),
            integration: Some(Duration::from_secs(300)),
            e2e: None,
            test: Some(Duration::from_secs(10)),
            overrides: Vec::new(),
            enforce: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub target: Target,
    /// Over a binary id (suites) or `<binary id>::<test name>` (tests).
    pub pattern: Glob,
    pub limit: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Suite,
    Test,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Verdict {
    pub kind: Target,
    pub binary_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub limit_s: f64,
    pub actual_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct BudgetReport {
    pub violations: Vec<Verdict>,
    pub warnings: Vec<Verdict>,
}

/// Where a time stands against its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    Fine,
    Warning,
    Over,
}

pub(crate) fn standing(actual: Duration, limit: Duration) -> Standing {
    if actual > limit {
        Standing::Over
    } else if actual.as_secs_f64() >= limit.as_secs_f64() * WARN_AT {
        Standing::Warning
    } else {
        Standing::Fine
    }
}

impl Budgets {
    pub(crate) fn suite_limit(&self, suite: &Suite) -> Option<Duration> {
        let by_override = self
            .overrides
            .iter()
            .find(|o| o.target == Target::Suite && o.pattern.matches(&suite.binary_id));
        by_override.map(|o| o.limit).or(match suite.suite_type {
            SuiteType::Unit | SuiteType::Doc => self.unit,
            SuiteType::Integration => self.integration,
            SuiteType::E2e => self.e2e,
        })
    }

    pub fn test_limit(&self, binary_id: &str, test: &str) -> Option<Duration> {
        if self.overrides.iter().any(|o| o.target == Target::Test) {
            let full = format!("{binary_id}::{test}");
            if let Some(o) = self
                .overrides
                .iter()
                .find(|o| o.target == Target::Test && o.pattern.matches(&full))
            {
                return Some(o.limit);
            }
        }
        self.test
    }

    /// The verdicts of one suite in `run`: the suite's wall time and each of
    /// its tests' own times.
    pub fn judge(&self, suite: &Suite, run: RunId, into: &mut BudgetReport) {
        let mut add = |kind, name: Option<&TestCase>, actual: Duration, limit: Duration| {
            let v = Verdict {
                kind,
                binary_id: suite.binary_id.to_string(),
                name: name.map(|t| t.name.clone()),
                limit_s: super::units::secs(limit),
                actual_s: super::units::secs(actual),
            };
            match standing(actual, limit) {
                Standing::Over => into.violations.push(v),
                Standing::Warning => into.warnings.push(v),
                Standing::Fine => {}
            }
        };
        if let (Some(actual), Some(limit)) = (suite.wall_time(run), self.suite_limit(suite)) {
            add(Target::Suite, None, actual, limit);
        }
        for t in suite.tests.iter().filter(|t| t.run == Some(run)) {
            if let (Some(actual), Some(limit)) = (t.duration, self.test_limit(&suite.binary_id, &t.name)) {
                add(Target::Test, Some(t), actual, limit);
            }
        }
    }
}
