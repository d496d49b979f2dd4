//! Line and branch coverage as the core keeps it: per file (lines with hit
//! counts, branch outcomes, functions), totals, uncovered ranges, missing
//! branch outcomes, per-directory roll-ups, deltas against the previous run,
//! and threshold verdicts. Pure: the adapter parses llvm-cov's output into
//! these types.

use std::collections::BTreeMap;

use serde::Serialize;

use super::glob::Glob;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileCoverage {
    /// Workspace-relative path.
    pub path: String,
    /// Line → hit count, for every line with code.
    pub lines: BTreeMap<u32, u64>,
    /// (line, outcome index: 0 true / 1 false, taken count; `None`: never
    /// reached).
    pub branches: Vec<(u32, u32, Option<u64>)>,
    pub functions_found: u32,
    pub functions_hit: u32,
    /// llvm-cov's own (found, hit) totals when it gave them (LF/LH and
    /// BRF/BRH): it counts a line once per function instance on it, so its
    /// totals can exceed the number of distinct lines — and vigil reports
    /// llvm-cov's figures.
    pub summary_lines: Option<(u64, u64)>,
    pub summary_branches: Option<(u64, u64)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Ratio {
    pub count: u64,
    pub covered: u64,
    pub percent: f64,
}

impl Ratio {
    pub fn new(count: u64, covered: u64) -> Self {
        let percent = if count == 0 {
            100.0
        } else {
            covered as f64 * 100.0 / count as f64
        };
        Self {
            count,
            covered,
            percent: (percent * 100.0).round() / 100.0,
        }
    }
}

impl FileCoverage {
    pub(crate) fn line_ratio(&self) -> Ratio {
        if let Some((found, hit)) = self.summary_lines {
            return Ratio::new(found, hit);
        }
        Ratio::new(
            self.lines.len() as u64,
            self.lines.values().filter(|c| **c > 0).count() as u64,
        )
    }

    pub(crate) fn branch_ratio(&self) -> Ratio {
        if let Some((found, hit)) = self.summary_branches {
            return Ratio::new(found, hit);
        }
        let hit = self.branches.iter().filter(|b| b.2.is_some_and(|c| c > 0)).count();
        Ratio::new(self.branches.len() as u64, hit as u64)
    }

    /// Uncovered lines folded into ranges, `[from, to]` inclusive. Lines
    /// without code between two uncovered ones do not break a range.
    pub fn uncovered_ranges(&self) -> Vec<[u32; 2]> {
        let mut out: Vec<[u32; 2]> = Vec::new();
        let mut open: Option<[u32; 2]> = None;
        for (&line, &count) in &self.lines {
            if count == 0 {
                open = Some(match open {
                    Some([from, _]) => [from, line],
                    None => [line, line],
                });
            } else if let Some(r) = open.take() {
                out.push(r);
            }
        }
        out.extend(open);
        out
    }

    /// Branch outcomes that never happened: (line, "true" | "false").
    pub fn missing_branches(&self) -> Vec<MissingBranch> {
        self.branches
            .iter()
            .filter(|b| b.2.is_none_or(|c| c == 0))
            .map(|b| MissingBranch {
                line: b.0,
                outcome: if b.1 == 0 { "true" } else { "false" }.to_owned(),
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MissingBranch {
    pub line: u32,
    pub outcome: String,
}

/// Coverage of a run, over every test binary's latest profile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    pub files: Vec<FileCoverage>,
    /// Whether branch coverage was measured (a toolchain that can).
    pub branches_measured: bool,
}

impl Coverage {
    pub fn lines(&self) -> Ratio {
        let (c, h) = self
            .files
            .iter()
            .map(|f| f.line_ratio())
            .fold((0, 0), |a, r| (a.0 + r.count, a.1 + r.covered));
        Ratio::new(c, h)
    }

    pub fn functions(&self) -> Ratio {
        let (c, h) = self.files.iter().fold((0u64, 0u64), |a, f| {
            (a.0 + u64::from(f.functions_found), a.1 + u64::from(f.functions_hit))
        });
        Ratio::new(c, h)
    }

    pub fn branches(&self) -> Option<Ratio> {
        if !self.branches_measured {
            return None;
        }
        let (c, h) = self
            .files
            .iter()
            .map(|f| f.branch_ratio())
            .fold((0, 0), |a, r| (a.0 + r.count, a.1 + r.covered));
        Some(Ratio::new(c, h))
    }

    pub fn file(&self, path: &str) -> Option<&FileCoverage> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// A minimum, overall (`path = None`) or for the files a glob matches.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub path: Option<Glob>,
    pub lines: Option<f64>,
    pub branches: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ThresholdVerdict {
    /// `*` for the overall rule, else the rule's glob.
    pub path: String,
    pub metric: String,
    pub required: f64,
    pub actual: f64,
    pub passed: bool,
}

pub fn judge(coverage: &Coverage, thresholds: &[Threshold]) -> Vec<ThresholdVerdict> {
    let mut out = Vec::new();
    for t in thresholds {
        let files: Vec<&FileCoverage> = match &t.path {
            None => coverage.files.iter().collect(),
            Some(g) => coverage.files.iter().filter(|f| g.matches(&f.path)).collect(),
        };
        let sum = |r: fn(&FileCoverage) -> Ratio| {
            let (c, h) = files
                .iter()
                .map(|f| r(f))
                .fold((0, 0), |a, r| (a.0 + r.count, a.1 + r.covered));
            Ratio::new(c, h)
        };
        let path = t.path.as_ref().map_or("*".to_owned(), |g| g.as_str().to_owned());
        if let Some(required) = t.lines {
            let actual = sum(FileCoverage::line_ratio).percent;
            out.push(ThresholdVerdict {
                path: path.clone(),
                metric: "lines".to_owned(),
                required,
                actual,
                passed: actual >= required,
            });
        }
        if let (Some(required), true) = (t.branches, coverage.branches_measured) {
            let actual = sum(FileCoverage::branch_ratio).percent;
            out.push(ThresholdVerdict {
                path,
                metric: "branches".to_owned(),
                required,
                actual,
                passed: actual >= required,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, lines: &[(u32, u64)], branches: &[(u32, u32, Option<u64>)]) -> FileCoverage {
        FileCoverage {
            path: path.into(),
            lines: lines.iter().copied().collect(),
            branches: branches.to_vec(),
            ..FileCoverage::default()
        }
    }

    #[test]
    fn ranges_missing_branches_and_totals() {
        let f = file(
            "a/src/lib.rs",
            &[(1, 3), (2, 0), (4, 0), (5, 1), (9, 0)],
            &[(2, 0, Some(1)), (2, 1, None), (7, 0, Some(0)), (7, 1, Some(2))],
        );
        assert_eq!(f.uncovered_ranges(), vec![[2, 4], [9, 9]]);
        assert_eq!(f.line_ratio(), Ratio::new(5, 2));
        assert_eq!(f.branch_ratio(), Ratio::new(4, 2));
        assert_eq!(
            f.missing_branches(),
            vec![
                MissingBranch {
                    line: 2,
                    outcome: "false".to_owned()
                },
                MissingBranch {
                    line: 7,
                    outcome: "true".to_owned()
                }
            ]
        );
        assert_eq!(Ratio::new(3, 2).percent, 66.67);
    }

    #[test]
    fn thresholds_overall_and_per_path() {
        let cov = Coverage {
            files: vec![
                file("a/src/x.rs", &[(1, 1), (2, 0)], &[]),
                file("b/src/y.rs", &[(1, 1), (2, 1)], &[]),
            ],
            branches_measured: false,
        };
        let v = judge(
            &cov,
            &[
                Threshold {
                    path: None,
                    lines: Some(70.0),
                    branches: Some(50.0),
                },
                Threshold {
                    path: Some(Glob::new("a/*")),
                    lines: Some(80.0),
                    branches: None,
                },
            ],
        );
        let got: Vec<(&str, &str, f64, bool)> = v
            .iter()
            .map(|t| (t.path.as_str(), t.metric.as_str(), t.actual, t.passed))
            .collect();
        assert_eq!(
            got,
            vec![("*", "lines", 75.0, true), ("a/*", "lines", 50.0, false)],
            "no branch verdict without branch data"
        );
    }
}
