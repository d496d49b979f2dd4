//! Writing the history: a run in one transaction, and pruning to
//! `history.keep`.

use super::*;

impl Store {
    /// Writes one run and its results in one transaction; returns its id.
    /// What a check found: each test it ran loses its earlier findings
    /// and keeps this check's (a test found racy stays marked until a
    /// check passes it).
    pub fn record_check(&mut self, summary: &crate::core::check::CheckSummary, at_unix: i64) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::Write)?;
        for t in &summary.tests {
            tx.execute(
                "DELETE FROM findings WHERE binary_id = ?1 AND name = ?2",
                params![t.binary_id, t.name],
            )
            .map_err(StoreError::Write)?;
        }
        for f in &summary.findings {
            tx.execute(
                "INSERT OR REPLACE INTO findings (binary_id, name, kind, runs, failures, evidence, checked_unix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    f.binary_id,
                    f.name,
                    f.kind.as_str(),
                    f.runs as i64,
                    f.failures as i64,
                    f.evidence,
                    at_unix
                ],
            )
            .map_err(StoreError::Write)?;
        }
        tx.commit().map_err(StoreError::Write)
    }

    pub fn record(&mut self, run: &RunRecord) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::Write)?;
        let c = &run.counts;
        tx.execute(
            "INSERT INTO runs (started_unix, trigger, outcome, duration_s, filterset, reasons, changed, fingerprint,
                               total, passed, failed, skipped, xfail, xpass, cancelled, narrowed, misses, blocked, faults)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            params![
                run.started_unix,
                run.trigger.as_str(),
                run.outcome.as_str(),
                run.duration_s,
                run.filterset,
                serde_json::to_string(&run.reasons).unwrap_or_default(),
                serde_json::to_string(&run.changed).unwrap_or_default(),
                run.fingerprint,
                c.total as i64,
                c.passed as i64,
                c.failed as i64,
                c.skipped as i64,
                c.xfail as i64,
                c.xpass as i64,
                c.cancelled as i64,
                run.narrowed,
                run.misses,
                c.blocked as i64,
                run.faults
            ],
        )
        .map_err(StoreError::Write)?;
        let run_id = tx.last_insert_rowid();
        let mut new_ids = Vec::new();
        {
            let mut insert_test = tx
                .prepare_cached("INSERT INTO tests (binary_id, name) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET name = name RETURNING id")
                .map_err(StoreError::Write)?;
            let mut insert_result = tx
                .prepare_cached("INSERT INTO results (run_id, test_id, state, duration_s) VALUES (?1, ?2, ?3, ?4)")
                .map_err(StoreError::Write)?;
            for r in &run.results {
                let id = match self.test_ids.get(&r.test) {
                    Some(id) => *id,
                    None => {
                        let id: i64 = insert_test
                            .query_row(params![r.test.0, r.test.1], |row| row.get(0))
                            .map_err(StoreError::Write)?;
                        new_ids.push((r.test.clone(), id));
                        id
                    }
                };
                insert_result
                    .execute(params![
                        run_id,
                        id,
                        r.state.as_str(),
                        r.duration.map(|d| d.as_secs_f64())
                    ])
                    .map_err(StoreError::Write)?;
            }
            let mut insert_suite = tx
                .prepare_cached(
                    "INSERT INTO suite_results (run_id, binary_id, suite_type, status, duration_s,
                        lines_reached, lines_percent, branches_reached, branches_percent, assertions)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(StoreError::Write)?;
            for x in &run.suites {
                insert_suite
                    .execute(params![
                        run_id,
                        x.binary_id,
                        x.suite_type.as_str(),
                        x.status.as_str(),
                        x.duration_s,
                        x.lines_reached.map(|n| n as i64),
                        x.lines_percent,
                        x.branches_reached.map(|n| n as i64),
                        x.branches_percent,
                        x.assertions.map(|n| n as i64),
                    ])
                    .map_err(StoreError::Write)?;
            }
            // A test's record changes with its source: written only then.
            let mut update_test = tx
                .prepare_cached(
                    "UPDATE tests SET assertions = ?2, markers = ?3, fixtures = ?4
                     WHERE id = ?1 AND (assertions IS NOT ?2 OR markers IS NOT ?3 OR fixtures IS NOT ?4)",
                )
                .map_err(StoreError::Write)?;
            let ids: HashMap<&TestKey, i64> = new_ids.iter().map(|(k, id)| (k, *id)).collect();
            for (test, record) in &run.sources {
                let Some(id) = self.test_ids.get(test).or_else(|| ids.get(test)) else {
                    continue;
                };
                update_test
                    .execute(params![
                        id,
                        record.assertions as i64,
                        record.markers.join(","),
                        record.fixtures.join(",")
                    ])
                    .map_err(StoreError::Write)?;
            }
        }
        if let Some(c) = &run.coverage {
            tx.execute(
                "INSERT INTO coverage_runs (run_id, lines_count, lines_covered, branches_count, branches_covered)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    run_id,
                    c.lines.0 as i64,
                    c.lines.1 as i64,
                    c.branches.map(|b| b.0 as i64),
                    c.branches.map(|b| b.1 as i64)
                ],
            )
            .map_err(StoreError::Write)?;
            let mut insert_file = tx
                .prepare_cached(
                    "INSERT INTO coverage_files (run_id, path, lines_count, lines_covered, branches_count, branches_covered)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(StoreError::Write)?;
            for (path, l, b) in &c.files {
                insert_file
                    .execute(params![
                        run_id,
                        path,
                        l.0 as i64,
                        l.1 as i64,
                        b.map(|b| b.0 as i64),
                        b.map(|b| b.1 as i64)
                    ])
                    .map_err(StoreError::Write)?;
            }
        }
        if !run.maps.is_empty() {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO test_maps (binary_id, name, run_id, map) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(StoreError::Write)?;
            for (TestId(binary_id, name), map) in &run.maps {
                let json = serde_json::to_string(map).unwrap_or_default();
                put.execute(params![binary_id, name, run_id, json])
                    .map_err(StoreError::Write)?;
            }
        }
        tx.commit().map_err(StoreError::Write)?;
        // Only once committed do the new ids count.
        self.test_ids.extend(new_ids);
        Ok(run_id)
    }

    /// Removes what `keep` no longer keeps: runs beyond the newest N, or
    /// older than the given days (the newest run always stays), with their
    /// results, suites and coverage, in one transaction. Returns how many
    /// runs went. Each test's latest map stays (it answers for the code as
    /// it is, whatever its run's age).
    pub fn prune(&mut self, keep: crate::config::Keep) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::Write)?;
        let newest: i64 = tx
            .query_row("SELECT COALESCE(MAX(id), 0) FROM runs", [], |r| r.get(0))
            .map_err(StoreError::Read)?;
        // Runs with an id below the cut go.
        let cut: Option<i64> = match keep {
            crate::config::Keep::Runs(n) => tx
                .query_row(
                    "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?1",
                    [n.saturating_sub(1) as i64],
                    |r| r.get(0),
                )
                .optional()
                .map_err(StoreError::Read)?,
            crate::config::Keep::Days(d) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |t| t.as_secs_f64());
                tx.query_row(
                    "SELECT MIN(id) FROM runs WHERE started_unix >= ?1",
                    [now - d * 86_400.0],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .map_err(StoreError::Read)?
                .or(Some(newest))
            }
        };
        let Some(cut) = cut.filter(|c| *c > 0) else {
            return Ok(0);
        };
        // What refers to a run goes before the run.
        for table in ["results", "suite_results", "coverage_runs", "coverage_files"] {
            tx.execute(&format!("DELETE FROM {table} WHERE run_id < ?1"), [cut])
                .map_err(StoreError::Write)?;
        }
        let gone = tx
            .execute("DELETE FROM runs WHERE id < ?1", [cut])
            .map_err(StoreError::Write)? as u64;
        if gone > 0 {
            // Tests no run remembers and no map names (renamed, removed).
            tx.execute(
                "DELETE FROM tests WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.test_id = tests.id)
                   AND NOT EXISTS (SELECT 1 FROM test_maps m WHERE m.binary_id = tests.binary_id AND m.name = tests.name)",
                [],
            )
            .map_err(StoreError::Write)?;
        }
        tx.commit().map_err(StoreError::Write)?;
        if gone > 0 {
            self.load_test_ids().map_err(StoreError::Read)?;
        }
        Ok(gone)
    }
}
