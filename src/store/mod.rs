//! History and model registry: one SQLite database in the user's data directory.
//!
//! WAL mode lets the GUI read while a background job writes; foreign keys are enforced;
//! every write is one transaction. A process killed at any moment leaves a consistent
//! database: rows written while running carry the writer's pid, and at the next start a
//! `running` row whose process is gone becomes `interrupted`. A model row is inserted only
//! after its bundle was completely written and renamed into place, so it never points to a
//! partial bundle.

pub mod batches;
mod calibrations;
mod comparisons;
mod investigations;
mod migrations;
mod models;
mod runs;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::SchemaVersion;

pub use batches::{BatchRecord, FinishedBatch};
pub use calibrations::{CalibrationRecord, NewCalibration};
pub use comparisons::COMPARE_KIND;
pub use investigations::{InvestigationRecord, NewInvestigation};
pub use migrations::LATEST_VERSION;
pub use models::ModelRecord;
pub use runs::{EpochRecord, NewRun, RunRecord, RunStatus};

/// The database file name inside the data directory.
pub const DB_FILE: &str = "netvigil.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("history database {}: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error(
        "history database {} has schema version {found}, newer than this NetVigil knows ({known}); \
         it was written by a newer NetVigil: upgrade, or point --data-dir elsewhere",
        path.display()
    )]
    TooNew { path: PathBuf, found: usize, known: usize },
    #[error("history database {}: migration failed: {message}", path.display())]
    Migration { path: PathBuf, message: String },
    #[error("no model named '{0}' in the registry")]
    UnknownModel(String),
    #[error("no run with id {0}")]
    UnknownRun(i64),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The user's data directory for NetVigil (XDG: `$XDG_DATA_HOME/netvigil`, usually
/// `~/.local/share/netvigil`), unless `--data-dir` overrides it.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("netvigil")
}

/// An open history database.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, migrates it, and marks runs and
    /// batches of processes that no longer exist as interrupted.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io { path: dir.to_path_buf(), source: e })?;
        let path = dir.join(DB_FILE);
        // Several processes may open a fresh history at the same moment (Spark runs one
        // `predict` per partition). rusqlite_migration reads the schema version before it
        // writes, so two of them could both see version 0 and both create the tables; an
        // exclusive lock on a file beside the database makes the others wait and then find
        // it migrated. The lock is released when `_migrating` drops.
        let _migrating = lock_for_migration(&path)?;
        let mut conn = connect(&path)?;
        migrate(&mut conn, &path)?;
        let store = Store { conn, dir: dir.to_path_buf() };
        store.recover_interrupted()?;
        Ok(store)
    }

    /// The folder holding the database and the per-flow result files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    /// Where per-flow results of scoring batches are kept (content-addressed Parquet).
    pub fn results_dir(&self) -> PathBuf {
        self.dir.join("results")
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.db_path(), source }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one immediate transaction (taking the write lock at once, so two
    /// writers queue instead of failing half-way).
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>) -> Result<T> {
        let path = self.db_path();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
        let value = f(&tx).map_err(|source| StoreError::Sqlite { path: path.clone(), source })?;
        tx.commit().map_err(|source| StoreError::Sqlite { path, source })?;
        Ok(value)
    }

    fn recover_interrupted(&self) -> Result<()> {
        for table in ["runs", "batches"] {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT id, pid FROM {table} WHERE status = 'running'"))
                .map_err(|e| self.err(e))?;
            let rows: Vec<(i64, Option<i64>)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(Iterator::collect)
                .map_err(|e| self.err(e))?;
            for (id, pid) in rows {
                if pid.is_some_and(process_alive) {
                    continue;
                }
                self.conn
                    .execute(
                        &format!(
                            "UPDATE {table} SET status = 'interrupted', \
                             finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
                             WHERE id = ?1 AND status = 'running'"
                        ),
                        params![id],
                    )
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    /// SQLite's own consistency check: `ok` when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Records a dataset (a file read for training or scoring), once per path and content.
    pub fn record_dataset(
        &mut self,
        path: &Path,
        sha256: &str,
        rows: usize,
        dialect: &str,
        report_json: &str,
    ) -> Result<i64> {
        let p = path.display().to_string();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO datasets (path, sha256, rows, dialect, report_json) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (path, sha256) DO UPDATE SET rows = excluded.rows, report_json = excluded.report_json",
                params![p, sha256, rows as i64, dialect, report_json],
            )?;
            tx.query_row("SELECT id FROM datasets WHERE path = ?1 AND sha256 = ?2", params![p, sha256], |r| r.get(0))
        })
    }

    /// Everything in the database as one JSON document (for `history export`).
    pub fn export_json(&self) -> Result<serde_json::Value> {
        let datasets = self.query_json(
            "SELECT json_object('id', id, 'path', path, 'sha256', sha256, 'rows', rows, 'dialect', dialect,
                    'report', json(report_json), 'added_at', added_at) FROM datasets ORDER BY id",
        )?;
        let runs: Vec<serde_json::Value> = self
            .runs()?
            .into_iter()
            .map(|r| {
                let epochs = self.epochs(r.id).unwrap_or_default();
                let comparison = self.comparison_rows(r.id).unwrap_or_default();
                serde_json::json!({ "run": r, "epochs": epochs, "comparison": comparison })
            })
            .collect();
        Ok(serde_json::json!({
            "schema_version": LATEST_VERSION,
            "datasets": datasets,
            "runs": runs,
            "models": self.models()?,
            "batches": self.batches()?,
            "investigations": self.investigations()?,
            "calibrations": self.calibrations()?,
        }))
    }

    fn query_json(&self, sql: &str) -> Result<Vec<serde_json::Value>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows: Vec<String> =
            stmt.query_map([], |r| r.get(0)).and_then(Iterator::collect).map_err(|e| self.err(e))?;
        Ok(rows.iter().filter_map(|s| serde_json::from_str(s).ok()).collect())
    }

    pub(crate) fn optional<T>(&self, r: rusqlite::Result<T>) -> Result<Option<T>> {
        r.optional().map_err(|e| self.err(e))
    }
}

fn connect(path: &Path) -> Result<Connection> {
    let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    // FULL: a committed transaction survives power loss too, not only a killed process.
    conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
    Ok(conn)
}

/// Takes the exclusive lock on `netvigil.db.lock`, waiting while another process holds it.
fn lock_for_migration(db: &Path) -> Result<std::fs::File> {
    let lock_path = db.with_extension("db.lock");
    let io = |source| StoreError::Io { path: lock_path.clone(), source };
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io)?;
    file.lock().map_err(io)?;
    Ok(file)
}

/// Brings the schema to the latest version: refuses a newer database, and copies an older
/// one to `netvigil.db.v<N>.bak` before changing it.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let migrations = migrations::migrations();
    let mig_err =
        |e: rusqlite_migration::Error| StoreError::Migration { path: path.to_path_buf(), message: e.to_string() };
    let version = match migrations.current_version(conn).map_err(mig_err)? {
        SchemaVersion::NoneSet => 0,
        SchemaVersion::Inside(v) => v.get(),
        SchemaVersion::Outside(v) => {
            return Err(StoreError::TooNew { path: path.to_path_buf(), found: v.get(), known: LATEST_VERSION });
        }
    };
    if version > 0 && version < LATEST_VERSION {
        let backup = path.with_extension(format!("db.v{version}.bak"));
        let _ = std::fs::remove_file(&backup);
        conn.execute("VACUUM INTO ?1", params![backup.display().to_string()])
            .map_err(|source| StoreError::Sqlite { path: path.to_path_buf(), source })?;
    }
    migrations.to_latest(conn).map_err(mig_err)
}

/// Applies migrations up to `version` only: for tests of the upgrade path.
pub fn create_at_version(path: &Path, version: usize) -> Result<()> {
    let mut conn = connect(path)?;
    migrations::migrations()
        .to_version(&mut conn, version)
        .map_err(|e| StoreError::Migration { path: path.to_path_buf(), message: e.to_string() })
}

/// Whether a process with this pid still runs (Linux: /proc; elsewhere assumed gone, which
/// only ever marks a still-running job of another process as interrupted early).
fn process_alive(pid: i64) -> bool {
    pid > 0 && Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

fn is_zombie(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// The current process id, stored with running jobs.
pub(crate) fn own_pid() -> i64 {
    i64::from(std::process::id())
}
