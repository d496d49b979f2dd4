//! Reading the history back: recent runs, each test's history replayed (or
//! its kept summary), the coverage maps, the last coverage, a run's
//! failures.

use super::*;

/// The history's summary after run `run_id`, for the next session to read
/// instead of replaying.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct HistoryCache {
    run_id: i64,
    tests: Vec<(String, String, crate::core::history::TestHistory)>,
    runs: Vec<crate::core::history::RunPoint>,
    suites: HashMap<String, Vec<f64>>,
}

/// Keeps `history` as it stands after run `run_id` (see `history_cached`).
pub fn save_history_cache(cache: &Path, run_id: i64, history: &History) {
    let c = HistoryCache {
        run_id,
        tests: history
            .tests
            .iter()
            .map(|((b, n), h)| (b.clone(), n.clone(), h.clone()))
            .collect(),
        runs: history.runs.clone(),
        suites: history.suites.clone(),
    };
    // A cache: one that could not be written is rebuilt from the history.
    if let Ok(text) = serde_json::to_vec(&c) {
        let _ = crate::adapters::keep::write_atomic(cache, &text);
    }
}

pub(super) type CoverageHead = (i64, i64, i64, Option<i64>, Option<i64>);

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub started_unix: f64,
    pub trigger: Trigger,
    pub outcome: Outcome,
    pub duration_s: f64,
    pub total: i64,
    pub passed: i64,
    pub failed: i64,
}

impl Store {
    pub fn recent_runs(&self, n: i64) -> Result<Vec<RunRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, started_unix, trigger, outcome, duration_s, total, passed, failed
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([n], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, f64>(4)?,
                    [r.get::<_, i64>(5)?, r.get(6)?, r.get(7)?],
                ))
            })
            .map_err(StoreError::Read)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, started_unix, trigger, outcome, duration_s, [total, passed, failed]) =
                row.map_err(StoreError::Read)?;
            let unknown = |what, found: String| StoreError::Unknown { run: id, what, found };
            out.push(RunRow {
                id,
                started_unix,
                trigger: Trigger::parse(&trigger).ok_or_else(|| unknown("trigger", trigger.clone()))?,
                outcome: Outcome::parse(&outcome).ok_or_else(|| unknown("outcome", outcome.clone()))?,
                duration_s,
                total,
                passed,
                failed,
            });
        }
        out.reverse();
        Ok(out)
    }

    /// The history of every test over the last `HISTORY_RUNS` runs,
    /// replayed in order through the same rules the core applies live.
    /// Rows are read as integers and borrowed text: names and fingerprints
    /// are looked up once, not per result.
    pub fn history(&self) -> Result<History, StoreError> {
        let newest: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM runs", [], |r| r.get(0))
            .map_err(StoreError::Read)?;
        let oldest = newest - HISTORY_RUNS;
        let mut fingerprints: HashMap<i64, String> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT id, fingerprint FROM runs WHERE id > ?1 AND faults = ''")
                .map_err(StoreError::Read)?;
            let rows = stmt
                .query_map([oldest], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(StoreError::Read)?;
            for row in rows {
                let (id, fp) = row.map_err(StoreError::Read)?;
                fingerprints.insert(id, fp);
            }
        }
        // The primary key (run_id, test_id) reads just the recent runs, in
        // run order: each test's results arrive oldest first.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT test_id, run_id, state, duration_s FROM results WHERE run_id > ?1 ORDER BY run_id")
            .map_err(StoreError::Read)?;
        let mut rows = stmt.query([oldest]).map_err(StoreError::Read)?;
        let mut by_id: HashMap<i64, TestHistory> = HashMap::new();
        while let Some(row) = rows.next().map_err(StoreError::Read)? {
            let test_id: i64 = row.get(0).map_err(StoreError::Read)?;
            let run_id: i64 = row.get(1).map_err(StoreError::Read)?;
            // A state this vigil does not know (the schema check keeps newer
            // histories out, so only a damaged row) is passed over.
            let Some(state) = TestState::parse(row.get_ref(2).map_err(StoreError::Read)?.as_str().unwrap_or("")) else {
                continue;
            };
            let duration: Option<f64> = row.get(3).map_err(StoreError::Read)?;
            let d = duration.and_then(|d| Duration::try_from_secs_f64(d).ok());
            // A run under an injected fault is no one's history.
            let Some(fingerprint) = fingerprints.get(&run_id) else {
                continue;
            };
            by_id.entry(test_id).or_default().record(state, d, fingerprint);
        }
        let mut history = History::default();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT binary_id, duration_s FROM suite_results WHERE run_id > ?1
                     AND run_id NOT IN (SELECT id FROM runs WHERE faults != '') ORDER BY run_id",
                )
                .map_err(StoreError::Read)?;
            let rows = stmt
                .query_map([oldest], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))
                .map_err(StoreError::Read)?;
            for row in rows {
                let (id, d) = row.map_err(StoreError::Read)?;
                history.push_suite_time(&id, d);
            }
        }
        let mut coverage: HashMap<i64, f64> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT run_id, lines_count, lines_covered FROM coverage_runs WHERE run_id > ?1")
                .map_err(StoreError::Read)?;
            let rows = stmt
                .query_map([oldest], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(StoreError::Read)?;
            for row in rows {
                let (id, count, covered) = row.map_err(StoreError::Read)?;
                coverage.insert(
                    id,
                    crate::core::coverage::Ratio::new(count as u64, covered as u64).percent,
                );
            }
        }
        for r in self.recent_runs(crate::core::history::RUNS_KEPT as i64)? {
            if !r.outcome.measured() {
                continue;
            }
            history.push_run(crate::core::history::RunPoint {
                duration_s: r.duration_s,
                total: r.total as usize,
                failed: r.failed as usize,
                coverage: coverage.get(&r.id).copied(),
            });
        }
        for (TestId(binary_id, name), id) in &self.test_ids {
            if let Some(h) = by_id.remove(id) {
                history.tests.insert((binary_id.clone(), name.clone()), h);
            }
        }
        // Tests another vigil added since this store was opened.
        for (id, h) in by_id {
            let name: Option<(String, String)> = self
                .conn
                .query_row("SELECT binary_id, name FROM tests WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(StoreError::Read)?;
            if let Some(key) = name {
                history.tests.insert(key, h);
            }
        }
        self.with_coverage_record(history)
    }

    /// What the history holds beside the replay: the coverage maps, and
    /// test-level selection's record (narrowed runs, misses found).
    pub(super) fn with_coverage_record(&self, mut history: History) -> Result<History, StoreError> {
        history.maps = self.test_maps()?;
        history.findings = self.findings()?;
        let (narrowed, misses): (i64, i64) = self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(narrowed), 0), COALESCE(SUM(misses), 0) FROM runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(StoreError::Read)?;
        history.narrowed_runs = narrowed as u32;
        history.selection_misses = misses as u32;
        Ok(history)
    }

    /// The history as `history()` replays it, from the summary the last
    /// run left in `cache` when no run was recorded since (one file read
    /// instead of replaying every result of the last 100 runs: 70–100 ms
    /// of CPU on 1,100 tests, taken from the tests while they run). Every
    /// 25th run replays, so the summary never drifts far from the replay.
    pub fn history_cached(&self, cache: &Path) -> Result<History, StoreError> {
        let newest: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM runs", [], |r| r.get(0))
            .map_err(StoreError::Read)?;
        let kept = std::fs::read(cache)
            .ok()
            .and_then(|b| serde_json::from_slice::<HistoryCache>(&b).ok())
            .filter(|c| c.run_id == newest && newest % 25 != 0);
        let Some(c) = kept else {
            return self.history();
        };
        let history = History {
            tests: c.tests.into_iter().map(|(b, n, h)| ((b, n), h)).collect(),
            runs: c.runs,
            suites: c.suites,
            ..History::default()
        };
        self.with_coverage_record(history)
    }

    /// What checks found and no check has passed since.
    pub fn findings(&self) -> Result<Vec<crate::core::check::Finding>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT binary_id, name, kind, runs, failures, evidence FROM findings ORDER BY binary_id, name, kind",
            )
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(StoreError::Read)?;
        let mut out = Vec::new();
        for row in rows {
            let (binary_id, name, kind, runs, failures, evidence) = row.map_err(StoreError::Read)?;
            // A kind this vigil does not know (a damaged row) is passed over.
            let Some(kind) = crate::core::check::Kind::parse(&kind) else {
                continue;
            };
            out.push(crate::core::check::Finding {
                binary_id,
                name,
                kind,
                runs: runs as usize,
                failures: failures as usize,
                evidence,
                assertion: None,
            });
        }
        Ok(out)
    }

    /// Every test's latest coverage map; one that does not parse (written
    /// by another version) is left out, and the test counts as unmapped.
    pub fn test_maps(&self) -> Result<Vec<(crate::core::testmap::TestKey, crate::core::testmap::TestMap)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT binary_id, name, map FROM test_maps")
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    TestId(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(StoreError::Read)?;
        let mut out = Vec::new();
        for row in rows {
            let (key, json) = row.map_err(StoreError::Read)?;
            if let Ok(map) = serde_json::from_str(&json) {
                out.push((key, map));
            }
        }
        Ok(out)
    }

    /// The latest coverage kept (for deltas across sessions), with the
    /// history's id of the run it comes from.
    pub fn last_coverage(&self) -> Result<Option<(i64, CoverageRecord)>, StoreError> {
        let head: Option<CoverageHead> = self
            .conn
            .query_row(
                "SELECT run_id, lines_count, lines_covered, branches_count, branches_covered
                 FROM coverage_runs ORDER BY run_id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(StoreError::Read)?;
        let Some((run_id, lc, lh, bc, bh)) = head else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, lines_count, lines_covered, branches_count, branches_covered
                 FROM coverage_files WHERE run_id = ?1",
            )
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([run_id], |r| {
                let b: (Option<i64>, Option<i64>) = (r.get(3)?, r.get(4)?);
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64),
                    b.0.zip(b.1).map(|(c, h)| (c as u64, h as u64)),
                ))
            })
            .map_err(StoreError::Read)?;
        Ok(Some((
            run_id,
            CoverageRecord {
                lines: (lc as u64, lh as u64),
                branches: bc.zip(bh).map(|(c, h)| (c as u64, h as u64)),
                files: rows.collect::<rusqlite::Result<_>>().map_err(StoreError::Read)?,
            },
        )))
    }

    /// Names of the tests that failed in run `id`.
    pub fn failed_in(&self, id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.binary_id, t.name FROM results r JOIN tests t ON t.id = r.test_id
                 WHERE r.run_id = ?1 AND r.state = 'failed' ORDER BY t.binary_id, t.name",
            )
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(StoreError::Read)?;
        rows.collect::<rusqlite::Result<_>>().map_err(StoreError::Read)
    }
}
