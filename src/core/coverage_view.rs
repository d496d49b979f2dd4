//! What the coverage view lists, in its order: shared by the keys that move
//! through it and the view that draws it.

use super::coverage::FileCoverage;
use super::model::Model;
use super::ui_state::CoverageSort;

/// The coverage view's file order: files under a missed threshold first,
/// then by the chosen sort. Pure, so keys and the view agree on it.
pub(crate) fn ordered_files(model: &Model) -> Vec<&str> {
    let Some(cov) = model.coverage.as_ref().filter(|_| model.coverage_run.is_some()) else {
        return Vec::new();
    };
    let prev = model.coverage_prev.as_ref();
    let failing = |f: &FileCoverage| misses_threshold(model, f);
    let delta = |f: &FileCoverage| {
        prev.and_then(|p| p.file(&f.path))
            .map_or(0.0, |p| f.line_ratio().percent - p.line_ratio().percent)
    };
    let uncovered = |f: &FileCoverage| f.line_ratio().count - f.line_ratio().covered;
    let mut files: Vec<&FileCoverage> = cov.files.iter().collect();
    files.sort_by(|a, b| {
        failing(b).cmp(&failing(a)).then_with(|| match model.ui.coverage_sort {
            CoverageSort::Coverage => a.line_ratio().percent.total_cmp(&b.line_ratio().percent),
            CoverageSort::Delta => delta(a).total_cmp(&delta(b)),
            CoverageSort::Uncovered => uncovered(b).cmp(&uncovered(a)),
        })
    });
    files.into_iter().map(|f| f.path.as_str()).collect()
}

/// Whether a file falls under a per-path rule it misses.
pub(crate) fn misses_threshold(model: &Model, f: &FileCoverage) -> bool {
    model
        .rules
        .coverage
        .iter()
        .filter(|t| t.path.as_ref().is_some_and(|g| g.matches(&f.path)))
        .any(|t| {
            t.lines.is_some_and(|m| f.line_ratio().percent < m)
                || t.branches.is_some_and(|m| f.branch_ratio().percent < m)
        })
}
