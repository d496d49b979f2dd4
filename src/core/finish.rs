//! Ending a run, in named steps: `settle` what never finished, `tally` the
//! results, `learn` from them against the history (flaky, slower), and
//! judge the `Gate` from plain inputs. `update::finish_run` strings them
//! together and says the summary.

use crate::core::ids::RunId;
use std::time::Duration;

use super::budget::BudgetReport;
use super::coverage::{Coverage, Ratio, Threshold};
use super::effect::Effect;
use super::history::{Flaky, Slower};
use super::model::Model;
use super::report::{
    secs, Counts, CoverageDelta, CoverageReport, FailureSummary, FileReport, Gate, Report, SuiteStatus, SuiteSummary,
    TestRef,
};
use super::run::Outcome;
use super::test_state::TestEventKind;
use super::test_state::TestState;

/// Tests of `run` that never reached an end: ignored ones are skipped, the
/// others cancelled (each transition said). Returns how many.
pub(crate) fn settle(model: &mut Model, run: RunId, run_start: Duration, at: Duration, fx: &mut Vec<Effect>) -> usize {
    let mut settled = 0;
    for suite in &mut model.catalog.suites {
        for test in suite
            .tests
            .iter_mut()
            .filter(|t| t.run == Some(run) && !t.state.is_terminal())
        {
            let kind = if test.ignored && test.state == TestState::Pending {
                TestEventKind::Ignored
            } else {
                TestEventKind::Cancelled
            };
            if let Ok(tr) = test.apply(&kind, at, run_start) {
                settled += 1;
                let report = super::report::TestTransition::of(run, &suite.binary_id, test, tr);
                fx.push(Effect::emit(Report::Test(report)));
            }
        }
    }
    settled
}

/// What a run's tests came to.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub counts: Counts,
    pub suites: Vec<SuiteSummary>,
    pub failures: Vec<FailureSummary>,
    pub xpass: Vec<TestRef>,
    /// Expected failures that passed and are marked `strict`.
    pub strict_xpass: Vec<TestRef>,
    pub budgets: BudgetReport,
}

pub(crate) fn tally(model: &Model, run: RunId) -> Tally {
    let mut t = Tally::default();
    for suite in &model.catalog.suites {
        let mut counts = Counts::default();
        for test in suite.tests.iter().filter(|t| t.run == Some(run)) {
            counts.add(test.state);
            let at = || TestRef {
                binary_id: suite.binary_id.to_string(),
                name: test.name.clone(),
            };
            match test.state {
                TestState::Failed => {
                    let f = test.failure.as_ref();
                    t.failures.push(FailureSummary {
                        binary_id: suite.binary_id.to_string(),
                        name: test.name.clone(),
                        message: f.map(|f| f.message.clone()).unwrap_or_default(),
                        location: f.and_then(|f| f.location.clone()),
                        service: super::gating::failure_notes(model, &suite.binary_id, &test.name)
                            .into_iter()
                            .next(),
                        assertion: f.and_then(|f| {
                            super::assertion::parse(&f.message).or_else(|| super::assertion::parse(&f.output))
                        }),
                    });
                }
                TestState::Xpass => {
                    let strict = model
                        .rules
                        .xfail_rule(&suite.binary_id, &test.name)
                        .is_some_and(|r| r.strict);
                    if strict {
                        t.strict_xpass.push(at());
                    }
                    t.xpass.push(at());
                }
                TestState::Pending
                | TestState::Running
                | TestState::Passed
                | TestState::Skipped
                | TestState::Xfail
                | TestState::Cancelled
                | TestState::Blocked => {}
            }
        }
        if counts.total == 0 {
            continue;
        }
        model.rules.budgets.judge(suite, run, &mut t.budgets);
        let executable = model.coverage.as_ref().map(|c| c.lines().count);
        let outcomes = model.coverage.as_ref().and_then(|c| c.branches()).map(|b| b.count);
        let reach = super::testmap::suite_reach(&model.test_maps, suite, executable, outcomes);
        t.suites.push(SuiteSummary {
            binary_id: suite.binary_id.to_string(),
            kind: suite.kind.clone(),
            suite_type: suite.suite_type,
            status: SuiteStatus::of(&counts),
            duration_s: secs(suite.wall_time(run).unwrap_or_default()),
            tests: counts.total,
            lines_reached: reach.map(|r| r.lines),
            lines_percent: reach.and_then(|r| r.lines_percent),
            branches_reached: reach.and_then(|r| r.branches),
            branches_percent: reach.and_then(|r| r.branches_percent),
            assertions: suite
                .tests
                .iter()
                .filter_map(|t| {
                    model
                        .sources
                        .get(&super::testmap::TestId::new(&*suite.binary_id, t.name.as_str()))
                })
                .fold(None, |n: Option<u64>, r| Some(n.unwrap_or(0) + r.assertions as u64)),
        });
        t.counts.merge(&counts);
    }
    t
}

/// What the history says about this run's results.
#[derive(Debug, Default)]
pub struct Learned {
    pub flaky: Vec<Flaky>,
    pub slower: Vec<Slower>,
}

/// Records every result of `run` (and each suite's wall time) in the
/// history, finding the tests slower than they used to be (before this
/// result counts) and those that flipped on an unchanged tree.
pub fn learn(model: &mut Model, run: RunId, fingerprint: &str) -> Learned {
    let mut found = Learned::default();
    // A run under an injected fault says nothing of flakiness or speed.
    if model.runs.iter().any(|r| r.number == run && !r.faults.is_empty()) {
        return found;
    }
    for suite in &model.catalog.suites {
        for test in suite.tests.iter().filter(|t| t.run == Some(run)) {
            let h = model.history.entry(&suite.binary_id, &test.name);
            if test.state == TestState::Passed && test.duration.is_some_and(|d| h.is_slower(d)) {
                found.slower.push(Slower {
                    binary_id: suite.binary_id.to_string(),
                    name: test.name.clone(),
                    duration_s: secs(test.duration.unwrap_or_default()),
                    p95_s: (h.p95().unwrap_or_default() * 1e6).round() / 1e6,
                });
            }
            h.record(test.state, test.duration, fingerprint);
            if h.flips > 0 {
                found.flaky.push(Flaky {
                    binary_id: suite.binary_id.to_string(),
                    name: test.name.clone(),
                    flips: h.flips,
                    runs: h.runs,
                    evidence: None,
                });
            }
        }
        if let Some(d) = suite.wall_time(run) {
            model.history.push_suite_time(&suite.binary_id, d.as_secs_f64());
        }
    }
    found
}

/// Everything the gate is judged on.
pub struct GateInputs<'a> {
    pub outcome: Outcome,
    pub counts: &'a Counts,
    /// The run was started by a change set (nothing to run is a pass).
    pub from_changes: bool,
    pub bad_filter: bool,
    pub coverage: Option<&'a CoverageReport>,
    /// Timing budgets are enforced, and this many were exceeded.
    pub budgets_enforced: bool,
    pub budget_violations: usize,
    pub strict_xpass: &'a [TestRef],
    /// Tests blocked by services that were down ("3 tests blocked: …").
    pub blocked: &'a [String],
}

impl Gate {
    /// Passes when nothing is wrong; otherwise every reason, in order: the
    /// outcome, coverage, budgets, strict expected failures.
    pub fn judge(i: &GateInputs) -> Gate {
        let mut reasons = Vec::new();
        match i.outcome {
            Outcome::Passed => {}
            Outcome::Failed if i.counts.failed > 0 => {
                reasons.push(format!("{} test{} failed", i.counts.failed, plural(i.counts.failed)))
            }
            Outcome::Failed => reasons.push("nextest did not finish normally".to_owned()),
            Outcome::BuildFailed => reasons.push("the build failed".to_owned()),
            Outcome::ListFailed if i.bad_filter => reasons.push("nextest refused the filterset expression".to_owned()),
            Outcome::ListFailed => reasons.push("nextest could not list the tests".to_owned()),
            // Nothing affected by a change set is a pass; an explicit
            // selection that matches nothing is a mistake worth failing on
            // (as nextest does).
            Outcome::NoTests if i.from_changes || i.counts.blocked > 0 => {}
            Outcome::NoTests => reasons.push("no tests matched the selection".to_owned()),
            Outcome::Cancelled => reasons.push("the run was cancelled".to_owned()),
        }
        reasons.extend(i.blocked.iter().cloned());
        for t in i.coverage.iter().flat_map(|c| &c.thresholds).filter(|t| !t.passed) {
            reasons.push(format!(
                "coverage: {} {:.2} % is under the {:.2} % required ({})",
                t.metric, t.actual, t.required, t.path
            ));
        }
        if i.budgets_enforced && i.budget_violations > 0 {
            let n = i.budget_violations;
            reasons.push(format!("{n} timing budget{} exceeded", plural(n)));
        }
        for t in i.strict_xpass {
            reasons.push(format!(
                "{} {} passed but is listed as a strict expected failure",
                t.binary_id, t.name
            ));
        }
        Gate {
            passed: reasons.is_empty(),
            reasons,
        }
    }
}

/// The run's coverage against the one before it and the thresholds.
pub(crate) fn coverage_report(
    cov: &Coverage,
    prev: Option<&Coverage>,
    thresholds: &[Threshold],
    changes: Option<&super::patch::Changes>,
    patch_minimum: Option<f64>,
) -> CoverageReport {
    let patch = changes.map(|c| super::patch::patch_report(cov, c));
    let mut verdicts = super::coverage::judge(cov, thresholds);
    if let (Some(required), Some(p)) = (patch_minimum, &patch) {
        verdicts.push(super::coverage::ThresholdVerdict {
            path: format!("changes since {}", p.base),
            metric: "patch lines".to_owned(),
            required,
            actual: p.lines.percent,
            passed: p.lines.percent >= required,
        });
    }
    let pp = |now: f64, before: f64| ((now - before) * 100.0).round() / 100.0;
    CoverageReport {
        lines: cov.lines(),
        branches: cov.branches(),
        functions: cov.functions(),
        files: cov
            .files
            .iter()
            .map(|f| FileReport {
                path: f.path.clone(),
                lines: f.line_ratio(),
                branches: cov.branches_measured.then(|| f.branch_ratio()),
                functions: Ratio::new(f.functions_found.into(), f.functions_hit.into()),
                uncovered_lines: f.uncovered_ranges(),
                missing_branches: f.missing_branches(),
                delta_lines_pp: prev
                    .and_then(|p| p.file(&f.path))
                    .map(|p| pp(f.line_ratio().percent, p.line_ratio().percent)),
            })
            .collect(),
        delta: CoverageDelta {
            lines_pp: prev.map(|p| pp(cov.lines().percent, p.lines().percent)),
            branches_pp: prev
                .and_then(|p| p.branches())
                .zip(cov.branches())
                .map(|(b, n)| pp(n.percent, b.percent)),
        },
        thresholds: verdicts,
        patch,
    }
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(outcome: Outcome, counts: &Counts) -> GateInputs<'_> {
        GateInputs {
            outcome,
            counts,
            from_changes: false,
            bad_filter: false,
            coverage: None,
            budgets_enforced: false,
            budget_violations: 0,
            strict_xpass: &[],
            blocked: &[],
        }
    }

    #[test]
    fn the_gate_names_every_reason_in_order() {
        let counts = Counts {
            total: 3,
            failed: 2,
            ..Counts::default()
        };
        let strict = [TestRef {
            binary_id: "a".into(),
            name: "x".into(),
        }];
        let gate = Gate::judge(&GateInputs {
            budgets_enforced: true,
            budget_violations: 1,
            strict_xpass: &strict,
            ..inputs(Outcome::Failed, &counts)
        });
        assert!(!gate.passed);
        assert_eq!(
            gate.reasons,
            vec![
                "2 tests failed".to_string(),
                "1 timing budget exceeded".to_string(),
                "a x passed but is listed as a strict expected failure".to_string(),
            ]
        );
    }

    #[test]
    fn nothing_to_run_passes_only_when_changes_asked_for_it() {
        let counts = Counts::default();
        assert!(
            Gate::judge(&GateInputs {
                from_changes: true,
                ..inputs(Outcome::NoTests, &counts)
            })
            .passed
        );
        assert!(!Gate::judge(&inputs(Outcome::NoTests, &counts)).passed);
        assert!(
            Gate::judge(&GateInputs {
                budget_violations: 3,
                ..inputs(Outcome::Passed, &counts)
            })
            .passed,
            "budgets gate only when enforced"
        );
    }
}
