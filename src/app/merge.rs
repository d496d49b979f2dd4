//! `vigil merge DIR…`: the shards of a partitioned run as one — results,
//! gate, coverage (profiles merged before the report) and one history entry.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::adapters::{coverage, lcov, store, stream};
use crate::core::model::Rules;
use crate::core::Workspace;

/// What the merge asked for besides the summary.
pub struct MergeOutputs<'a> {
    pub junit: Option<&'a Path>,
    pub lcov: Option<&'a Path>,
}

/// What the merge came to: the merged `run_finished`, and notes for the
/// user (what was not kept, and why).
pub struct Merged {
    pub summary: Value,
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
        let gate = summary["gate"]["reasons"].as_array_mut();
        if let Some(reasons) = gate {
            for t in report.thresholds.iter().filter(|t| !t.passed) {
                reasons.push(Value::from(format!(
                    "coverage: {} {:.2} % is under the {:.2} % required ({})",
                    t.metric, t.actual, t.required, t.path
                )));
            }
        }
        if let Some(path) = out.lcov {
            let root = ws.map(|w| w.root.clone()).unwrap_or_default();
            let written = std::fs::write(path, lcov::write(&cov, &root));
            written.map_err(|e| format!("failed to write {}: {e}", path.display()))?;
        }
        record_coverage = Some(store::CoverageRecord::of(&report));
        summary["coverage"] = serde_json::to_value(&report).unwrap_or(Value::Null);
    } else if out.lcov.is_some() {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err("no coverage to write: the shards ran without it".to_owned());
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let passed = summary["gate"]["reasons"].as_array().is_some_and(|r| r.is_empty());
    summary["gate"]["passed"] = passed.into();
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
    s: &Value,
    shards: usize,
    coverage: Option<store::CoverageRecord>,
) -> Result<(), String> {
    let path = store::default_path(&ws.target_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let (mut st, _) = store::Store::open(&path).map_err(|e| e.to_string())?;
    let count = |k: &str| s["tests"][k].as_u64().unwrap_or(0) as usize;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let duration_s = s["duration_s"].as_f64().unwrap_or(0.0);
    let record = store::RunRecord {
        started_unix: now - duration_s,
        trigger: "merge".to_owned(),
        outcome: s["outcome"].as_str().unwrap_or("passed").to_owned(),
        duration_s,
        filterset: None,
        reasons: vec![format!("{shards} shards merged")],
        changed: Vec::new(),
        fingerprint: String::new(),
        counts: [
            count("total"),
            count("passed"),
            count("failed"),
            count("skipped"),
            count("xfail"),
            count("xpass"),
            count("cancelled"),
        ],
        results: merged
            .tests
            .iter()
            .map(|t| {
                (
                    t.binary_id.clone(),
                    t.name.clone(),
                    store::parse_state(&t.state),
                    t.duration_s.map(std::time::Duration::from_secs_f64),
                )
            })
            .collect(),
        suites: s["suites"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                (
                    x["binary_id"].as_str().unwrap_or_default().to_owned(),
                    x["type"].as_str().unwrap_or_default().to_owned(),
                    x["status"].as_str().unwrap_or_default().to_owned(),
                    x["duration_s"].as_f64().unwrap_or_default(),
                )
            })
            .collect(),
        coverage,
        maps: Vec::new(),
        narrowed: false,
        misses: 0,
    };
    st.record(&record).map(|_| ()).map_err(|e| e.to_string())
}
