//! `vigil merge DIR…`: the shards of a partitioned run as one — results,
//! gate, coverage (profiles merged before the report) and one history entry.

use std::path::{Path, PathBuf};

use crate::adapters::{coverage, lcov, store, stream};
use crate::core::model::Rules;
use crate::core::report::RunSummary;
use crate::core::run::Trigger;
use crate::core::Workspace;

/// What the merge asked for besides the summary.
pub struct MergeOutputs<'a> {
    pub junit: Option<&'a Path>,
    pub lcov: Option<&'a Path>,
}

/// What the merge came to: the merged `run_finished`, and notes for the
/// user (what was not kept, and why).
pub struct Merged {
    pub summary: RunSummary,
    pub notes: Vec<String>,
}

/// Reads the shards, merges them, judges the gate (with `rules`), and
/// keeps the result in `ws`'s history when there is one.
pub fn merge(dirs: &[PathBuf], rules: &Rules, ws: Option<&Workspace>, out: MergeOutputs) -> Result<Merged, String> {
    let mut shards = Vec::new();
    for dir in dirs {
        let path = dir.join("events.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "failed to read {}: {e}\nhint: each DIR is a shard's `vigil run --partition … --out DIR`",
                path.display()
            )
        })?;
        shards.push(stream::read(&text).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    let (merged, mut summary) = stream::merge(&shards);
    let mut notes = Vec::new();
    // Coverage: the shards' profiles merged, then one report.
    let scratch = std::env::temp_dir().join(format!("vigil-merge-{}", std::process::id()));
    let covered = coverage::merge_shards(dirs, &scratch);
    let covered = match covered {
        Ok(c) => c,
        Err(e) => {
            notes.push(format!("coverage not merged: {e}"));
            None
        }
    };
    let mut record_coverage = None;
    if let Some(cov) = covered {
        let report = crate::core::finish::coverage_report(&cov, None, &rules.coverage, None, None);
        for t in report.thresholds.iter().filter(|t| !t.passed) {
            summary.gate.reasons.push(format!(
                "coverage: {} {:.2} % is under the {:.2} % required ({})",
                t.metric, t.actual, t.required, t.path
            ));
        }
        if let Some(path) = out.lcov {
            let root = ws.map(|w| w.root.clone()).unwrap_or_default();
            let written = std::fs::write(path, lcov::write(&cov, &root));
            written.map_err(|e| format!("failed to write {}: {e}", path.display()))?;
        }
        record_coverage = Some(store::CoverageRecord::of(&report));
        summary.coverage = Some(report);
    } else if out.lcov.is_some() {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err("no coverage to write: the shards ran without it".to_owned());
    }
    let _ = std::fs::remove_dir_all(&scratch);
    summary.gate.passed = summary.gate.reasons.is_empty();
    if let Some(path) = out.junit {
        std::fs::write(path, stream::junit(&merged, rules))
            .map_err(|e| format!("failed to write {}: {e}", path.display()))?;
    }
    match ws {
        Some(ws) => {
            if let Err(e) = keep(ws, &merged, &summary, dirs.len(), record_coverage) {
                notes.push(format!("the merged run is not kept in the history: {e}"));
            }
        }
        None => notes.push("not inside a workspace: the merged run is not kept in a history".to_owned()),
    }
    Ok(Merged { summary, notes })
}

/// One history entry for the merged run.
fn keep(
    ws: &Workspace,
    merged: &stream::RunResults,
    s: &RunSummary,
    shards: usize,
    coverage: Option<store::CoverageRecord>,
) -> Result<(), String> {
    let path = store::default_path(&ws.target_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let (mut st, _) = store::Store::open(&path).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let record = store::RunRecord {
        started_unix: now - s.duration_s,
        trigger: Trigger::Merge,
        outcome: s.outcome,
        duration_s: s.duration_s,
        filterset: None,
        reasons: vec![format!("{shards} shards merged")],
        changed: Vec::new(),
        fingerprint: String::new(),
        counts: s.tests.clone(),
        results: merged
            .tests
            .iter()
            .map(|t| store::ResultRecord {
                test: crate::core::testmap::TestId(t.binary_id.clone(), t.name.clone()),
                state: t.state,
                duration: t
                    .duration_s
                    .and_then(|d| std::time::Duration::try_from_secs_f64(d).ok()),
            })
            .collect(),
        suites: s.suites.iter().map(store::SuiteRecord::of).collect(),
        coverage,
        maps: Vec::new(),
        narrowed: false,
        misses: 0,
        faults: String::new(),
        sources: Vec::new(),
    };
    st.record(&record).map(|_| ()).map_err(|e| e.to_string())
}
