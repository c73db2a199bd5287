//! The simulator's records in SQLite: record ids with their data access
//! group, stored values by (record, event, repeat instrument, instance,
//! column), the log of record edits that `log` and `dateRangeBegin`
//! read, and the forms locked for a record at an event.
//!
//! One named thread owns the connection and runs the work it is given (the
//! API's record calls) one after another, each write in one transaction
//! (an import is refused whole or applied whole); async handlers reach it
//! through a [`StoreHandle`] and never block the runtime. The database is in
//! memory, or a file that keeps its records across restarts (the
//! project's own records are loaded into a new file only).
//!
//! Not here: what a call means (`records`, `import`), and so nothing of
//! the project or the calls: this module is the SQL and its thread.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use sitedesk_core::vault::DataKey;
use tokio::sync::{mpsc, oneshot};

use crate::project::layout::RowKey;
use crate::protocol::ApiError;

/// Where the records live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Database {
    /// In memory: every start begins with the project's own records.
    #[default]
    Memory,
    /// A SQLite file, created (with the project's records) when missing.
    File(PathBuf),
    /// A SQLCipher file under the desk's data key, as the desk's own
    /// database: the demo EDC's records are study data too. A plain file
    /// is refused (`sitedesk_core::store::encrypt_plain` converts it).
    Encrypted { path: PathBuf, key: DataKey },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store thread cannot be started: {0}")]
    Thread(std::io::Error),
    /// The store thread has stopped (the server is shutting down).
    #[error("the store is closed")]
    Closed,
    #[error("the project's records cannot be loaded: {0}")]
    Seed(String),
    /// The file is encrypted and the key is missing or wrong, or a key was
    /// given for a plain file.
    #[error(transparent)]
    Key(sitedesk_core::store::StoreError),
}

/// A call that cannot read or write is the server's fault: REDCap's 500.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal(format!("The server could not read or write its data: {e}"))
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS record (
    id TEXT PRIMARY KEY,
    -- Creation order, the order exports list records in.
    seq INTEGER NOT NULL,
    -- The data access group's unique name; NULL for none.
    dag TEXT
);
CREATE TABLE IF NOT EXISTS value (
    record TEXT NOT NULL,
    event TEXT NOT NULL,
    -- '' unless the row is a repeating form's instance.
    instrument TEXT NOT NULL,
    -- 0 for a row that does not repeat.
    instance INTEGER NOT NULL,
    -- The export column: field, field___code, form_complete.
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (record, event, instrument, instance, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY,
    -- Server local time, YYYY-MM-DD HH:MM:SS.
    ts TEXT NOT NULL,
    username TEXT NOT NULL,
    -- add, edit or delete: the log call's logtype.
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    record TEXT NOT NULL,
    details TEXT NOT NULL
);
-- Forms locked for a record at an event (every instance of a repeating
-- form); an import may not change their values.
CREATE TABLE IF NOT EXISTS locked (
    record TEXT NOT NULL,
    event TEXT NOT NULL,
    form TEXT NOT NULL,
    PRIMARY KEY (record, event, form)
) WITHOUT ROWID;
-- A new record takes max(seq) + 1; without this index that is a scan of
-- every record on each creation.
CREATE UNIQUE INDEX IF NOT EXISTS record_seq ON record (seq);
CREATE INDEX IF NOT EXISTS log_ts ON log (ts);
CREATE INDEX IF NOT EXISTS log_record ON log (record);
";

/// A record id and its data access group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordInfo {
    pub id: String,
    pub dag: Option<String>,
}

/// Which records a read wants.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordQuery<'a> {
    /// Only this group's records (a token bound to a group).
    pub dag: Option<String>,
    /// Only records with a log entry at or after this time.
    pub changed_from: Option<String>,
    /// Only records with a log entry at or before this time.
    pub changed_until: Option<String>,
    /// Only these records; empty for all. Looked up one by one, so that an
    /// export of a few records costs the same whatever the project holds.
    pub ids: &'a [String],
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogEntry {
    pub ts: String,
    pub username: String,
    pub kind: &'static str,
    pub action: String,
    pub record: String,
    pub details: String,
}

/// Which log entries a `log` call wants.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogQuery {
    /// Only entries of records now in this group (REDCap shows a user in a
    /// group the log of the group's records).
    pub dag: Option<String>,
    pub record: Option<String>,
    pub user: Option<String>,
    pub kind: Option<&'static str>,
    pub begin: Option<String>,
    pub end: Option<String>,
}

/// Opens a database file, keyed when `key` is given, in WAL mode, with
/// deleted records overwritten rather than left in free pages.
fn open_file(path: &Path, key: Option<&DataKey>) -> Result<Connection, StoreError> {
    let c = Connection::open(path)?;
    sitedesk_core::store::unlock_connection(&c, path, key).map_err(StoreError::Key)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "secure_delete", true)?;
    Ok(c)
}

/// The connection, owned by the store thread.
pub(crate) struct Store {
    conn: Connection,
}

impl Store {
    /// Opens the database; `true` with it when it is new (so it needs the
    /// project's own records).
    pub fn open(db: &Database) -> Result<(Store, bool), StoreError> {
        let conn = match db {
            Database::Memory => Connection::open_in_memory()?,
            Database::File(path) => open_file(path, None)?,
            Database::Encrypted { path, key } => open_file(path, Some(key))?,
        };
        conn.execute_batch(SCHEMA)?;
        let seeded: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'seeded'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok((Store { conn }, seeded.is_none()))
    }

    pub fn mark_seeded(&self) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('seeded', '1')",
            [],
        )?;
        Ok(())
    }

    pub fn write(&mut self) -> Result<Writer<'_>, StoreError> {
        Ok(Writer {
            tx: self.conn.transaction()?,
        })
    }

    /// The records a read may see, in creation order.
    pub fn records(&self, q: &RecordQuery) -> Result<Vec<RecordInfo>, StoreError> {
        let ranged = q.changed_from.is_some() || q.changed_until.is_some();
        if !q.ids.is_empty() {
            return self.records_by_id(q, ranged);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, dag FROM record
             WHERE (?1 IS NULL OR dag = ?1)
               AND (?2 = 0 OR id IN (SELECT record FROM log
                                     WHERE (?3 IS NULL OR ts >= ?3)
                                       AND (?4 IS NULL OR ts <= ?4)))
             ORDER BY seq",
        )?;
        let rows = stmt.query_map(
            params![q.dag, ranged, q.changed_from, q.changed_until],
            |r| {
                Ok(RecordInfo {
                    id: r.get(0)?,
                    dag: r.get(1)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn records_by_id(&self, q: &RecordQuery, ranged: bool) -> Result<Vec<RecordInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, dag, seq FROM record
             WHERE id = ?5
               AND (?1 IS NULL OR dag = ?1)
               AND (?2 = 0 OR EXISTS (SELECT 1 FROM log
                                      WHERE record = ?5
                                        AND (?3 IS NULL OR ts >= ?3)
                                        AND (?4 IS NULL OR ts <= ?4)))",
        )?;
        let mut found: Vec<(i64, RecordInfo)> = Vec::with_capacity(q.ids.len());
        let mut seen = HashSet::with_capacity(q.ids.len());
        for id in q.ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let row = stmt
                .query_row(
                    params![q.dag, ranged, q.changed_from, q.changed_until, id],
                    |r| {
                        Ok((
                            r.get(2)?,
                            RecordInfo {
                                id: r.get(0)?,
                                dag: r.get(1)?,
                            },
                        ))
                    },
                )
                .optional()?;
            found.extend(row);
        }
        found.sort_by_key(|(seq, _)| *seq);
        Ok(found.into_iter().map(|(_, r)| r).collect())
    }

    /// Every stored value of a record.
    pub fn values(&self, record: &str) -> Result<Vec<(RowKey, String, String)>, StoreError> {
        values_of(&self.conn, record)
    }

    /// Locks or unlocks a record's form at an event.
    pub fn set_lock(
        &self,
        record: &str,
        event: &str,
        form: &str,
        locked: bool,
    ) -> Result<(), StoreError> {
        if locked {
            self.conn.execute(
                "INSERT OR IGNORE INTO locked (record, event, form) VALUES (?1, ?2, ?3)",
                params![record, event, form],
            )?;
        } else {
            self.conn.execute(
                "DELETE FROM locked WHERE record = ?1 AND event = ?2 AND form = ?3",
                params![record, event, form],
            )?;
        }
        Ok(())
    }

    pub fn log(&self, q: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ts, username, kind, action, record, details FROM log
             WHERE (?1 IS NULL OR record IN (SELECT id FROM record WHERE dag = ?1))
               AND (?2 IS NULL OR record = ?2)
               AND (?3 IS NULL OR username = ?3)
               AND (?4 IS NULL OR kind = ?4)
               AND (?5 IS NULL OR ts >= ?5)
               AND (?6 IS NULL OR ts <= ?6)
             ORDER BY id DESC",
        )?;
        let rows = stmt.query_map(
            params![q.dag, q.record, q.user, q.kind, q.begin, q.end],
            |r| {
                let kind: String = r.get(2)?;
                Ok(LogEntry {
                    ts: r.get(0)?,
                    username: r.get(1)?,
                    kind: match kind.as_str() {
                        "add" => "add",
                        "delete" => "delete",
                        _ => "edit",
                    },
                    action: r.get(3)?,
                    record: r.get(4)?,
                    details: r.get(5)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn values_of(conn: &Connection, record: &str) -> Result<Vec<(RowKey, String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT event, instrument, instance, field, value FROM value WHERE record = ?1",
    )?;
    let rows = stmt.query_map([record], |r| {
        Ok((
            RowKey {
                event: r.get(0)?,
                instrument: r.get(1)?,
                instance: r.get(2)?,
            },
            r.get(3)?,
            r.get(4)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One write transaction: dropped without [`Writer::commit`], nothing of
/// it stays.
pub(crate) struct Writer<'a> {
    tx: Transaction<'a>,
}

impl Writer<'_> {
    pub fn record(&self, id: &str) -> Result<Option<RecordInfo>, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT id, dag FROM record WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(RecordInfo {
                    id: r.get(0)?,
                    dag: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Whether a record's form is locked at an event.
    pub fn locked(&self, record: &str, event: &str, form: &str) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .prepare_cached("SELECT 1 FROM locked WHERE record = ?1 AND event = ?2 AND form = ?3")?
            .exists(params![record, event, form])?)
    }

    /// Every record id, for numbering a new record.
    pub fn ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.tx.prepare_cached("SELECT id FROM record")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn create_record(&self, id: &str, dag: Option<&str>) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO record (id, seq, dag)
             VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM record), ?2)",
            params![id, dag],
        )?;
        Ok(())
    }

    pub fn set_dag(&self, id: &str, dag: Option<&str>) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE record SET dag = ?2 WHERE id = ?1", params![id, dag])?;
        Ok(())
    }

    /// The values stored in one row of a record.
    pub fn row(&self, record: &str, key: &RowKey) -> Result<HashMap<String, String>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT field, value FROM value
             WHERE record = ?1 AND event = ?2 AND instrument = ?3 AND instance = ?4",
        )?;
        let rows = stmt.query_map(
            params![record, key.event, key.instrument, key.instance],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn values(&self, record: &str) -> Result<Vec<(RowKey, String, String)>, StoreError> {
        values_of(&self.tx, record)
    }

    pub fn put(
        &self,
        record: &str,
        key: &RowKey,
        field: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO value (record, event, instrument, instance, field, value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO UPDATE SET value = excluded.value",
            params![
                record,
                key.event,
                key.instrument,
                key.instance,
                field,
                value
            ],
        )?;
        Ok(())
    }

    pub fn remove(&self, record: &str, key: &RowKey, field: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM value
             WHERE record = ?1 AND event = ?2 AND instrument = ?3 AND instance = ?4 AND field = ?5",
            params![record, key.event, key.instrument, key.instance, field],
        )?;
        Ok(())
    }

    pub fn delete_record(&self, id: &str) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM value WHERE record = ?1", [id])?;
        self.tx.execute("DELETE FROM record WHERE id = ?1", [id])?;
        self.tx
            .execute("DELETE FROM locked WHERE record = ?1", [id])?;
        Ok(())
    }

    pub fn log(&self, e: &LogEntry) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO log (ts, username, kind, action, record, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.ts, e.username, e.kind, e.action, e.record, e.details],
        )?;
        Ok(())
    }

    pub fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit()?)
    }
}

/// Work for the store thread: a closure over the connection that sends
/// its own answer.
type Work = Box<dyn FnOnce(&mut Store) + Send>;

/// What the store thread is asked to do.
enum Command {
    Run {
        work: Work,
        /// The caller's span, entered while the work runs.
        span: tracing::Span,
    },
}

/// The way to the store thread; the thread stops when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) struct StoreHandle {
    tx: mpsc::Sender<Command>,
}

/// How many calls may wait for the store thread; beyond it callers wait
/// to queue, so nothing buffers without limit.
const QUEUE: usize = 64;

impl StoreHandle {
    /// Opens the database, runs `seed` on a new one (to load the
    /// project's own records) and marks it seeded, and starts the thread,
    /// which stops when the last handle is dropped.
    pub fn start(
        db: &Database,
        seed: impl FnOnce(&mut Store) -> Result<(), String>,
    ) -> Result<(StoreHandle, std::thread::JoinHandle<()>), StoreError> {
        let (mut store, new) = Store::open(db)?;
        if new {
            seed(&mut store).map_err(StoreError::Seed)?;
            store.mark_seeded()?;
        }
        let (tx, mut rx) = mpsc::channel::<Command>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("edc-sim-store".into())
            .spawn(move || {
                while let Some(Command::Run { work, span }) = rx.blocking_recv() {
                    let _entered = span.enter();
                    work(&mut store);
                }
            })
            .map_err(StoreError::Thread)?;
        Ok((StoreHandle { tx }, thread))
    }

    /// Runs `f` on the store thread, after the calls queued before it.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |store| {
            // The caller may have gone (its connection was cut).
            let _ = reply.send(f(store));
        });
        self.tx
            .send(Command::Run {
                work,
                span: tracing::Span::current(),
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)
    }
}
