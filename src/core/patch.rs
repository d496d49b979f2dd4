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

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct PatchReport {
    pub base: String,
    pub lines: Ratio,
    pub uncovered: Vec<UncoveredLines>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct UncoveredLines {
    pub path: String,
    pub lines: Vec<[u32; 2]>,
}

/// Changed lines that llvm-cov counts as executable, and how many ran.
pub(crate) fn patch_report(cov: &Coverage, changes: &Changes) -> PatchReport {
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

/// The lines of `new` that are not in `old`, as inclusive ranges: a
/// longest-common-subsequence diff between the texts' common start and end
/// (a middle too large to compare line by line counts as changed).
pub(crate) fn changed_lines(old: &str, new: &str) -> Vec<[u32; 2]> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (prefix, suffix) = super::testmap::common_ends(&a, &b);
    let (a, b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut added = Vec::new();
    if a.is_empty() || b.len() * a.len() > 4_000_000 {
        added.extend(0..b.len());
    } else {
        // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
        let w = b.len() + 1;
        let mut lcs = vec![0u32; (a.len() + 1) * w];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i * w + j] = if a[i] == b[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while j < b.len() {
            if i < a.len() && a[i] == b[j] {
                i += 1;
                j += 1;
            } else if i < a.len() && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1] {
                i += 1;
            } else {
                added.push(j);
                j += 1;
            }
        }
    }
    // An insertion whose first line equals the line after it can sit one
    // line lower just as well: slide it down, as git's diff does, so that
    // a new function claims its own closing brace, not the one before it.
    let all: Vec<&str> = new.lines().collect();
    let mut ranges: Vec<[usize; 2]> = super::testmap::fold(added.into_iter().map(|j| (prefix + j) as u32))
        .into_iter()
        .map(|r| [r[0] as usize, r[1] as usize])
        .collect();
    for k in 0..ranges.len() {
        let limit = ranges.get(k + 1).map_or(all.len(), |n| n[0]);
        let r = &mut ranges[k];
        while r[1] + 1 < limit && all[r[0]] == all[r[1] + 1] {
            r[0] += 1;
            r[1] += 1;
        }
    }
    ranges.into_iter().map(|r| [r[0] as u32 + 1, r[1] as u32 + 1]).collect()
}

/// The new-side ranges of `git diff -U0` output, per file (paths as git
/// prints them after `+++ b/`).
pub(crate) fn parse_unified_diff(text: &str) -> Vec<(String, Vec<[u32; 2]>)> {
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
    fn separate_edits_are_separate_ranges() {
        let old = "a\nb\nc\nd\ne\nf\n";
        let new = "a\nB\nc\nd\nx\ny\ne\nf\n";
        assert_eq!(changed_lines(old, new), vec![[2, 2], [5, 6]]);
        assert_eq!(changed_lines(old, old), Vec::<[u32; 2]>::new());
        assert_eq!(changed_lines("", "a\nb\n"), vec![[1, 2]]);
        // A function added after another: its own closing brace is new.
        let old = "fn a() {\n}\n\nfn z() {\n}\n";
        let new = "fn a() {\n}\n\nfn b() {\n}\n\nfn z() {\n}\n";
        assert_eq!(changed_lines(old, new), vec![[4, 6]]);
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
