//! Patch coverage: of the lines changed since a base, how many are
//! executable and how many a test reaches; the ones none reaches, by file.

use serde::Serialize;

use super::coverage::{Coverage, Ratio};

/// The changed lines since `base`: workspace-relative path → ranges in the
/// file as it is now (inclusive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub base: String,
    pub files: Vec<(String, Vec<[u32; 2]>)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatchReport {
    pub base: String,
    pub lines: Ratio,
    pub uncovered: Vec<UncoveredLines>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UncoveredLines {
    pub path: String,
    pub lines: Vec<[u32; 2]>,
}

/// Changed lines that llvm-cov counts as executable, and how many ran.
pub fn patch_report(cov: &Coverage, changes: &Changes) -> PatchReport {
    let (mut count, mut covered) = (0, 0);
    let mut uncovered = Vec::new();
    for (path, ranges) in &changes.files {
        let Some(f) = cov.file(path) else { continue };
        let mut missed = Vec::new();
        for r in ranges {
            for (&line, &hits) in f.lines.range(r[0]..=r[1]) {
                count += 1;
                if hits > 0 {
                    covered += 1;
                } else {
                    missed.push(line);
                }
            }
        }
        if !missed.is_empty() {
            uncovered.push(UncoveredLines {
                path: path.clone(),
                lines: super::testmap::fold(missed),
            });
        }
    }
    PatchReport {
        base: changes.base.clone(),
        lines: Ratio::new(count, covered),
        uncovered,
    }
}

/// The new-side ranges of `git diff -U0` output, per file (paths as git
/// prints them after `+++ b/`).
pub fn parse_unified_diff(text: &str) -> Vec<(String, Vec<[u32; 2]>)> {
    let mut out: Vec<(String, Vec<[u32; 2]>)> = Vec::new();
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("+++ ") {
            let path = path.strip_prefix("b/").unwrap_or(path);
            if path != "/dev/null" {
                out.push((path.to_owned(), Vec::new()));
            }
        } else if let Some(hunk) = line.strip_prefix("@@ ") {
            // @@ -a,b +c,d @@
            let Some(new) = hunk.split_whitespace().find(|w| w.starts_with('+')) else {
                continue;
            };
            let mut parts = new[1..].split(',');
            let start: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let len: u32 = parts.next().map_or(Some(1), |s| s.parse().ok()).unwrap_or(1);
            if len > 0 {
                if let Some((_, ranges)) = out.last_mut() {
                    ranges.push([start, start + len - 1]);
                }
            }
        }
    }
    out.retain(|(_, r)| !r.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::coverage::FileCoverage;

    #[test]
    fn hunks_become_new_side_ranges() {
        let diff = "diff --git a/src/a.rs b/src/a.rs\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -3 +3 @@ fn x\n-a\n+b\n@@ -10,0 +11,2 @@\n+c\n+d\n@@ -20,2 +22,0 @@\n-e\n-f\ndiff --git a/gone.rs b/gone.rs\n--- a/gone.rs\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n";
        assert_eq!(
            parse_unified_diff(diff),
            vec![("src/a.rs".to_owned(), vec![[3, 3], [11, 12]])]
        );
    }

    #[test]
    fn only_executable_changed_lines_count() {
        let cov = Coverage {
            files: vec![FileCoverage {
                path: "src/a.rs".into(),
                lines: [(3, 1), (11, 0), (12, 2), (30, 0)].into_iter().collect(),
                ..FileCoverage::default()
            }],
            branches_measured: false,
        };
        let changes = Changes {
            base: "HEAD~1".into(),
            files: vec![
                ("src/a.rs".into(), vec![[3, 3], [10, 12]]),
                ("README.md".into(), vec![[1, 5]]),
            ],
        };
        let r = patch_report(&cov, &changes);
        assert_eq!((r.lines.count, r.lines.covered), (3, 2));
        assert_eq!(
            r.uncovered,
            vec![UncoveredLines {
                path: "src/a.rs".into(),
                lines: vec![[11, 11]]
            }]
        );
    }
}
