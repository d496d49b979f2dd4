//! Run history on disk: SQLite (bundled) at `target/vigil/history.sqlite`.
//! Every run with its trigger, plan, outcome and timing; every test result
//! with its state and duration; room for coverage totals per run and file.
//! The schema is versioned (`PRAGMA user_version`) and migrated forward;
//! each run is written in one transaction (WAL journal), so a crash loses at
//! most the run being written. A corrupt file, or one from a newer vigil, is
//! moved aside and a new one started — with a message, never silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::core::catalog::SuiteType;
use crate::core::history::{History, TestHistory};
use crate::core::report::{Counts, SuiteStatus, SuiteSummary};
use crate::core::run::{Outcome, Trigger};
use crate::core::testmap::TestKey;
use crate::core::TestState;

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
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How many recent runs the history is read from.
pub const HISTORY_RUNS: i64 = 100;

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

/// The history's summary after run `run_id`, for the next session to read
/// instead of replaying.
#[derive(serde::Serialize, serde::Deserialize)]
struct HistoryCache {
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
        let _ = super::keep::write_atomic(cache, &text);
    }
}

/// One finished run, as it is kept.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub started_unix: f64,
    pub trigger: Trigger,
    pub outcome: Outcome,
    pub duration_s: f64,
    pub filterset: Option<String>,
    pub reasons: Vec<String>,
    pub changed: Vec<String>,
    pub fingerprint: String,
    pub counts: Counts,
    pub results: Vec<ResultRecord>,
    pub suites: Vec<SuiteRecord>,
    /// Line and branch (count, covered), overall and per file.
    pub coverage: Option<CoverageRecord>,
    /// The coverage maps this run measured.
    pub maps: Vec<(crate::core::testmap::TestKey, crate::core::testmap::TestMap)>,
    /// Test-level selection narrowed this run.
    pub narrowed: bool,
    /// A sweep: the selection misses it found.
    pub misses: u32,
}

impl Default for RunRecord {
    fn default() -> Self {
        RunRecord {
            started_unix: 0.0,
            trigger: Trigger::Manual,
            outcome: Outcome::NoTests,
            duration_s: 0.0,
            filterset: None,
            reasons: Vec::new(),
            changed: Vec::new(),
            fingerprint: String::new(),
            counts: Counts::default(),
            results: Vec::new(),
            suites: Vec::new(),
            coverage: None,
            maps: Vec::new(),
            narrowed: false,
            misses: 0,
        }
    }
}

/// One test's result in a kept run.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRecord {
    pub test: TestKey,
    pub state: TestState,
    pub duration: Option<Duration>,
}

impl ResultRecord {
    pub fn new(binary_id: &str, name: &str, state: TestState, duration: Option<Duration>) -> Self {
        ResultRecord {
            test: (binary_id.to_owned(), name.to_owned()),
            state,
            duration,
        }
    }
}

/// One suite's result in a kept run.
#[derive(Clone, Debug, PartialEq)]
pub struct SuiteRecord {
    pub binary_id: String,
    pub suite_type: SuiteType,
    pub status: SuiteStatus,
    pub duration_s: f64,
}

impl SuiteRecord {
    pub fn of(s: &SuiteSummary) -> Self {
        SuiteRecord {
            binary_id: s.binary_id.clone(),
            suite_type: s.suite_type,
            status: s.status,
            duration_s: s.duration_s,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct CoverageRecord {
    pub lines: Tally,
    pub branches: Option<Tally>,
    /// path, lines, branches.
    pub files: Vec<(String, Tally, Option<Tally>)>,
}

impl CoverageRecord {
    /// What the history keeps of a run's coverage report.
    pub fn of(c: &crate::core::report::CoverageReport) -> Self {
        CoverageRecord {
            lines: (c.lines.count, c.lines.covered),
            branches: c.branches.map(|b| (b.count, b.covered)),
            files: c
                .files
                .iter()
                .map(|f| {
                    (
                        f.path.clone(),
                        (f.lines.count, f.lines.covered),
                        f.branches.map(|b| (b.count, b.covered)),
                    )
                })
                .collect(),
        }
    }
}

/// (count, covered).
pub type Tally = (u64, u64);
type CoverageHead = (i64, i64, i64, Option<i64>, Option<i64>);

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

pub struct Store {
    conn: Connection,
    path: PathBuf,
    test_ids: HashMap<(String, String), i64>,
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
        let rows = stmt.query_map([], |r| Ok(((r.get(1)?, r.get(2)?), r.get(0)?)))?;
        self.test_ids = rows.collect::<rusqlite::Result<_>>()?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// Writes one run and its results in one transaction; returns its id.
    pub fn record(&mut self, run: &RunRecord) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::Write)?;
        let c = &run.counts;
        tx.execute(
            "INSERT INTO runs (started_unix, trigger, outcome, duration_s, filterset, reasons, changed, fingerprint,
                               total, passed, failed, skipped, xfail, xpass, cancelled, narrowed, misses, blocked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
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
                c.blocked as i64
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
                    "INSERT INTO suite_results (run_id, binary_id, suite_type, status, duration_s) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(StoreError::Write)?;
            for x in &run.suites {
                insert_suite
                    .execute(params![
                        run_id,
                        x.binary_id,
                        x.suite_type.as_str(),
                        x.status.as_str(),
                        x.duration_s
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
            for ((binary_id, name), map) in &run.maps {
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
                .prepare("SELECT id, fingerprint FROM runs WHERE id > ?1")
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
        let empty = String::new();
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
            by_id
                .entry(test_id)
                .or_default()
                .record(state, d, fingerprints.get(&run_id).unwrap_or(&empty));
        }
        let mut history = History::default();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT binary_id, duration_s FROM suite_results WHERE run_id > ?1 ORDER BY run_id")
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
        for ((binary_id, name), id) in &self.test_ids {
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
    fn with_coverage_record(&self, mut history: History) -> Result<History, StoreError> {
        history.maps = self.test_maps()?;
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

    /// Every test's latest coverage map; one that does not parse (written
    /// by another version) is left out, and the test counts as unmapped.
    pub fn test_maps(&self) -> Result<Vec<(crate::core::testmap::TestKey, crate::core::testmap::TestMap)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT binary_id, name, map FROM test_maps")
            .map_err(StoreError::Read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(((r.get::<_, String>(0)?, r.get::<_, String>(1)?), r.get::<_, String>(2)?))
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

impl RunRecord {
    /// What the history keeps of a finished run (`None` for a run the model
    /// no longer holds).
    pub fn of(model: &crate::core::Model, s: &crate::core::report::RunSummary) -> Option<Self> {
        let run = model.runs.iter().find(|r| r.number == s.run)?;
        let ws = &model.workspace;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let results = model
            .catalog
            .suites
            .iter()
            .flat_map(|suite| {
                suite
                    .tests
                    .iter()
                    .filter(|t| t.run == Some(s.run))
                    .map(|t| ResultRecord {
                        test: (suite.binary_id.to_string(), t.name.clone()),
                        state: t.state,
                        duration: t.duration,
                    })
            })
            .collect();
        Some(RunRecord {
            started_unix: now - s.duration_s,
            trigger: run.trigger,
            outcome: s.outcome,
            duration_s: s.duration_s,
            filterset: run.selection.filterset(),
            reasons: run.reasons.clone(),
            changed: run.changed.iter().map(|p| ws.relative(p)).collect(),
            fingerprint: run.fingerprint.clone(),
            counts: s.tests.clone(),
            results,
            coverage: s.coverage.as_ref().map(CoverageRecord::of),
            suites: s.suites.iter().map(SuiteRecord::of).collect(),
            narrowed: run.static_tests.is_some(),
            misses: run.misses,
            maps: run
                .measured
                .iter()
                .filter_map(|k| model.test_maps.tests.get(k).map(|m| (k.clone(), m.clone())))
                .collect(),
        })
    }
}

/// Where a workspace's history lives.
/// Where the history's summary is kept beside it.
pub fn cache_path(history: &Path) -> PathBuf {
    history.with_file_name("history-summary.json")
}

pub fn default_path(target_dir: &Path) -> PathBuf {
    super::state_dir(target_dir).join("history.sqlite")
}
