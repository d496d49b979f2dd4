//! Run history on disk: SQLite (bundled) at `target/vigil/history.sqlite`.
//! Every run with its trigger, plan, outcome and timing; every test result
//! with its state and duration; room for coverage totals per run and file.
//! The schema is versioned (`PRAGMA user_version`) and migrated forward;
//! each run is written in one transaction (WAL journal), so a crash loses at
//! most the run being written. A corrupt file, or one from a newer vigil, is
//! moved aside and a new one started — with a message, never silently.
//! This file owns the schema and opening; `records` what a kept run is,
//! `write` the writing and pruning, `read` what is read back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::core::catalog::SuiteType;
use crate::core::history::{History, TestHistory};
use crate::core::report::{Counts, SuiteStatus, SuiteSummary};
use crate::core::run::{Outcome, Trigger};
use crate::core::testmap::{TestId, TestKey};
use crate::core::TestState;

mod read;
mod records;
mod write;

pub use read::*;
pub use records::*;

/// Migrations, in order: `MIGRATIONS[i]` takes the schema from version `i`
/// to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, tests, results, suites, coverage.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_unix REAL NOT NULL,
        trigger TEXT NOT NULL,
        outcome TEXT NOT NULL,
        duration_s REAL NOT NULL,
        filterset TEXT,
        reasons TEXT NOT NULL,
        changed TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        total INTEGER NOT NULL, passed INTEGER NOT NULL, failed INTEGER NOT NULL,
        skipped INTEGER NOT NULL, xfail INTEGER NOT NULL, xpass INTEGER NOT NULL,
        cancelled INTEGER NOT NULL
     );
     CREATE TABLE tests (
        id INTEGER PRIMARY KEY,
        binary_id TEXT NOT NULL,
        name TEXT NOT NULL,
        UNIQUE (binary_id, name)
     );
     CREATE TABLE results (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        test_id INTEGER NOT NULL REFERENCES tests(id),
        state TEXT NOT NULL,
        duration_s REAL,
        PRIMARY KEY (run_id, test_id)
     ) WITHOUT ROWID;
     CREATE INDEX results_by_test ON results (test_id, run_id);
     CREATE TABLE suite_results (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        binary_id TEXT NOT NULL,
        suite_type TEXT NOT NULL,
        status TEXT NOT NULL,
        duration_s REAL NOT NULL,
        PRIMARY KEY (run_id, binary_id)
     ) WITHOUT ROWID;
     CREATE TABLE coverage_runs (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id),
        lines_count INTEGER NOT NULL, lines_covered INTEGER NOT NULL,
        branches_count INTEGER, branches_covered INTEGER
     );
     CREATE TABLE coverage_files (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        path TEXT NOT NULL,
        lines_count INTEGER NOT NULL, lines_covered INTEGER NOT NULL,
        branches_count INTEGER, branches_covered INTEGER,
        PRIMARY KEY (run_id, path)
     ) WITHOUT ROWID;",
    // Every read goes by run; the per-test index only made each run's
    // write touch a page per test all over the file (45–75 ms for 1,100
    // tests after 100 runs, against 5 ms without it).
    "DROP INDEX IF EXISTS results_by_test;",
    // Each test's latest coverage map (JSON: path → content hash, lines).
    "CREATE TABLE test_maps (
        binary_id TEXT NOT NULL,
        name TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        map TEXT NOT NULL,
        PRIMARY KEY (binary_id, name)
     ) WITHOUT ROWID;",
    // Test-level selection's record: runs it narrowed, misses sweeps found.
    "ALTER TABLE runs ADD COLUMN narrowed INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN misses INTEGER NOT NULL DEFAULT 0;",
    // Typed records: a run's counts are `Counts` whole, blocked tests
    // included (counted from the run's own results for runs kept before).
    "ALTER TABLE runs ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
     UPDATE runs SET blocked =
        (SELECT COUNT(*) FROM results r WHERE r.run_id = runs.id AND r.state = 'blocked');",
    // What `vigil check` found of each test: kept until a check passes it.
    "CREATE TABLE findings (
        binary_id TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        runs INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        evidence TEXT NOT NULL,
        checked_unix INTEGER NOT NULL,
        PRIMARY KEY (binary_id, name, kind)
     ) WITHOUT ROWID;",
    // The faults a run injected through services' proxies: such runs are
    // labelled, and left out of flakiness and baselines.
    "ALTER TABLE runs ADD COLUMN faults TEXT NOT NULL DEFAULT '';",
    // The seed's record: each suite's own coverage (the union of its
    // tests' maps) and assertions; each test's assertions, markers
    // (comma-separated) and fixtures, from its source.
    "ALTER TABLE suite_results ADD COLUMN lines_reached INTEGER;
     ALTER TABLE suite_results ADD COLUMN lines_percent REAL;
     ALTER TABLE suite_results ADD COLUMN branches_reached INTEGER;
     ALTER TABLE suite_results ADD COLUMN branches_percent REAL;
     ALTER TABLE suite_results ADD COLUMN assertions INTEGER;
     ALTER TABLE tests ADD COLUMN assertions INTEGER;
     ALTER TABLE tests ADD COLUMN markers TEXT;
     ALTER TABLE tests ADD COLUMN fixtures TEXT;",
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How many recent runs the history is read from.
pub(crate) const HISTORY_RUNS: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open the history at {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("failed to write the history: {0}")]
    Write(rusqlite::Error),
    #[error("failed to read the history: {0}")]
    Read(rusqlite::Error),
    #[error("failed to move the unreadable history {path} aside: {source}")]
    MoveAside { path: PathBuf, source: std::io::Error },
    #[error("not a readable database: {0}")]
    NotDatabase(rusqlite::Error),
    #[error("it was written by a newer vigil (schema {found}, this one knows {known})")]
    Newer { found: i64, known: i64 },
    #[error("migration failed: {0}")]
    Migration(rusqlite::Error),
    #[error("not a readable history: {0}")]
    NotHistory(rusqlite::Error),
    #[error("the history's run {run} holds a {what} this vigil does not know: `{found}`")]
    Unknown {
        run: i64,
        what: &'static str,
        found: String,
    },
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    test_ids: HashMap<TestKey, i64>,
}

impl Store {
    /// Opens (or creates) the history at `path`; the note says what was
    /// done with a file that could not be used.
    pub fn open(path: &Path) -> Result<(Self, Option<String>), StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match Self::try_open(path) {
            Ok(store) => Ok((store, None)),
            Err(why) => {
                let aside = aside_name(path);
                for suffix in ["", "-wal", "-shm"] {
                    let from = PathBuf::from(format!("{}{suffix}", path.display()));
                    if from.exists() {
                        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                        std::fs::rename(&from, &to).map_err(|source| StoreError::MoveAside {
                            path: from.clone(),
                            source,
                        })?;
                    }
                }
                let store = Self::try_open(path)?;
                let note = format!(
                    "the history at {} could not be used ({why}); it was moved to {} and a new one started",
                    path.display(),
                    aside.display()
                );
                Ok((store, Some(note)))
            }
        }
    }

    fn try_open(path: &Path) -> Result<Self, StoreError> {
        let open = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(open)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(StoreError::NotDatabase)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(StoreError::NotDatabase)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open)?;
        // The write-ahead log is part of the database: closing need not fold
        // it back (two fsyncs at the end of every `vigil run`); SQLite
        // checkpoints by itself once the log grows past 1,000 pages.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open)?;
        let mut store = Self {
            conn,
            path: path.to_owned(),
            test_ids: HashMap::new(),
        };
        store.migrate(version).map_err(StoreError::Migration)?;
        store.load_test_ids().map_err(StoreError::NotHistory)?;
        Ok(store)
    }

    fn migrate(&mut self, from: i64) -> rusqlite::Result<()> {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another vigil may have migrated meanwhile.
            let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn load_test_ids(&mut self) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare("SELECT id, binary_id, name FROM tests")?;
        let rows = stmt.query_map([], |r| Ok((TestId(r.get(1)?, r.get(2)?), r.get(0)?)))?;
        self.test_ids = rows.collect::<rusqlite::Result<_>>()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many runs the history holds, and its size on disk (the
    /// database with its write-ahead log).
    pub fn size(&self) -> Result<(u64, u64), StoreError> {
        let runs: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
            .map_err(StoreError::Read)?;
        let bytes = ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", self.path.display())).ok())
            .map(|m| m.len())
            .sum();
        Ok((runs as u64, bytes))
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .optional()
            .map(|v| v.unwrap_or(0))
            .map_err(StoreError::Read)
    }
}

fn aside_name(path: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from(format!("{}.unreadable-{stamp}", path.display()))
}

/// Where a workspace's history lives.
/// Where the history's summary is kept beside it.
pub fn cache_path(history: &Path) -> PathBuf {
    history.with_file_name("history-summary.json")
}

pub fn default_path(target_dir: &Path) -> PathBuf {
    super::state_dir(target_dir).join("history.sqlite")
}
