//! The SQLite file and the only way to change it.
//!
//! - [`Store::open`] opens (or creates) the file in WAL mode with
//!   `synchronous=FULL`, foreign keys and `secure_delete` on, applies the
//!   migrations, and starts the writer thread. With a key
//!   ([`StoreOptions::key`]) every connection, the writer's and each
//!   reader's, is SQLCipher's (`cipher.rs`): the file is encrypted.
//! - Every mutation is a typed command sent to the writer through a
//!   [`WriterHandle`]; the reply comes only after COMMIT. Each one writes the
//!   data change, an audit row per changed field and, for study data, an
//!   outbox row per changed field, in one transaction.
//! - Reads go through read-only connections ([`Readers`]).
//!
//! Deliberately absent: SQL anywhere else in the codebase, and any second
//! writable connection.

pub mod backup;
mod chain;
mod cipher;
mod migrations;
mod people;
mod read;
mod record;
mod replay;
mod screening;
pub mod signoff;
pub mod sync;
#[cfg(test)]
mod tests;
mod write;
pub(crate) mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use crate::domain::{DeskCode, DomainError};
use crate::instance::InstanceError;
use crate::metadata::screening::ScreeningError;
use crate::tasks::TaskRegistry;
use crate::vault::DataKey;

pub use crate::histogram::Percentiles;
pub use crate::metadata::metadata_hash;
pub use chain::{AuditVerification, ChainBreak, ChainProblem};
pub use cipher::{EncryptedCopy, encrypt_plain, is_encrypted, unlock_connection};
pub use migrations::SCHEMA_VERSION;
pub use people::{DeskUser, UserChange};
pub use read::{
    AuditEntry, AuditLabels, DeskInfo, DictionaryImport, EdcRecord, EnrollmentTarget,
    EnrollmentTargets, OrphanedValues, Readers, ScreeningPlace, Settings, StatusCount,
    StoredDictionary, StudySetup, SubjectFilter, SubjectRow, SyncSettings,
};
pub use screening::InstrumentInForce;
pub use write::{BindOutcome, Binding, Practice};
pub use writer::{
    Ack, Lane, LaneStats, MAX_BATCH_COMMANDS, MAX_BATCH_TIME, WriterHandle, WriterStats,
};

/// The database's file name in a data folder.
pub const DB_FILE: &str = "sitedesk.sqlite3";

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The writer thread has stopped (the app is shutting down, or it
    /// failed); nothing was written.
    #[error("the database writer has stopped")]
    WriterClosed,
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: String },
    #[error("no study is set up on this desk")]
    NoStudy,
    /// Leaving the demo with practice entries needs a choice: discard them
    /// or carry them over.
    #[error("the desk holds {count} practice records: discard them or carry them over")]
    PracticeChoice { count: u32 },
    /// A dictionary whose screening instrument breaks the tag rules.
    #[error(transparent)]
    Screening(#[from] ScreeningError),
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The file is encrypted and no key was given: someone must sign in
    /// (or give the recovery key) first.
    #[error("the database at {path} is encrypted: it opens only with its key")]
    Locked { path: PathBuf },
    /// The key given is not the file's.
    #[error("the key given does not open the database at {path}")]
    WrongKey { path: PathBuf },
    /// A key was given for a plain file: it must be encrypted first
    /// ([`encrypt_plain`]).
    #[error("the database at {path} is not encrypted")]
    NotEncrypted { path: PathBuf },
    #[error("schema migration {version} failed: {source}")]
    Migration {
        version: u32,
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer SiteDesk (schema {found}, this app knows {supported})"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    /// A stored value that the code cannot interpret: the file was changed
    /// outside SiteDesk or is damaged.
    #[error("stored {what} is not valid: {value}")]
    Corrupt { what: &'static str, value: String },
    /// The command ran, but its transaction could not be committed (or not
    /// even begun); nothing of it was saved.
    #[error("the change was not saved: {0}")]
    NotCommitted(String),
    /// A read was stopped by its cancellation token.
    #[error("the read was cancelled")]
    Cancelled,
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data folder is held by another SiteDesk (or could not be
    /// locked), so the file was not opened.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// The operating system refused something the store needs that is not
    /// the database itself: a file beside it, a thread, a task. Nothing is
    /// wrong with what is saved.
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// An I/O failure of `what`, with its cause.
    pub fn io(what: &'static str, source: impl Into<std::io::Error>) -> StoreError {
        StoreError::Io {
            what,
            source: source.into(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl crate::tasks::TaskError for StoreError {
    fn is_cancelled(&self) -> bool {
        matches!(self, StoreError::Cancelled)
    }
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The desk code to use if the file is new; a random one otherwise.
    /// Ignored for an existing file, whose subject ids already use its code.
    pub desk_code: Option<DeskCode>,
    /// Capacity of the writer's interactive lane; callers wait when it is
    /// full.
    pub queue_capacity: usize,
    /// Capacity of the bulk lane. Small: a bulk producer that outruns the
    /// disk should wait, not fill memory.
    pub bulk_queue_capacity: usize,
    /// The data key of an encrypted file (SQLCipher), or `None` for a plain
    /// one. A new file is created encrypted when a key is given. Opening
    /// with the wrong key, or without one, is an error
    /// ([`StoreError::WrongKey`], [`StoreError::Locked`]), as is a key for
    /// a plain file ([`StoreError::NotEncrypted`]).
    pub key: Option<DataKey>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            desk_code: None,
            // Enough for every open window and background task to have a
            // few edits in flight; more only hides a stuck writer.
            queue_capacity: 256,
            // A few batches' worth of bulk commands (see MAX_BATCH_COMMANDS).
            bulk_queue_capacity: 1024,
            key: None,
        }
    }
}

/// An open store: the writer handle and the read connections.
#[derive(Clone)]
pub struct Store {
    writer: WriterHandle,
    readers: Readers,
    path: PathBuf,
    join: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Store {
    /// Opens or creates the database file at `path` and starts its writer,
    /// registered in `registry`.
    pub fn open(path: &Path, options: StoreOptions, registry: &TaskRegistry) -> Result<Store> {
        let mut conn = open_writable(path, options.key.as_ref())?;
        migrations::migrate(&mut conn)?;
        write::ensure_desk(&conn, options.desk_code)?;
        let head_key = options.key.as_ref().map(DataKey::audit_mac_key);
        if let Some(k) = &head_key {
            chain::sign_head_if_unsigned(&mut conn, k)?;
        }
        let (writer, join) = writer::spawn(
            conn,
            options.queue_capacity,
            options.bulk_queue_capacity,
            registry,
            head_key,
        )?;
        Ok(Store {
            writer,
            readers: Readers::new(path.to_owned(), options.key),
            path: path.to_owned(),
            join: Arc::new(Mutex::new(Some(join))),
        })
    }

    pub fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    pub fn readers(&self) -> &Readers {
        &self.readers
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the writer after every command queued before this call has
    /// been committed and answered, and waits for its thread. Commands sent
    /// afterwards get [`StoreError::WriterClosed`]. Calling it twice is fine.
    pub async fn close(&self) {
        self.writer.close().await;
        let join = self.join.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(join) = join {
            // The thread has answered `Close`; joining only waits for the
            // connection to drop (a WAL checkpoint at most).
            let _ = tokio::task::spawn_blocking(move || join.join()).await;
        }
    }
}

/// Verifies the audit chain of the database at `path` without starting a
/// writer or changing the file: for IT staff, while the app is closed. It
/// holds the folder's lock while it reads ([`crate::instance::claim`]), so
/// it refuses with [`InstanceError::AlreadyOpen`] while a desk has the
/// folder open (in this process too). A file that an older SiteDesk wrote
/// must be opened by the app once first, which chains its rows. An
/// encrypted file needs its `key`.
pub fn verify_audit_file(path: &Path, key: Option<&DataKey>) -> Result<AuditVerification> {
    let err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let _held = crate::instance::claim(folder)?;
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    cipher::unlock_connection(&conn, path, key)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            what: "schema version for verification",
            value: format!(
                "{version} (this app verifies {SCHEMA_VERSION}; open the file with the app first)"
            ),
        });
    }
    let mac = key.map(DataKey::audit_mac_key);
    replay::verify(&conn, &|| true, mac.as_ref())
}

/// The one place that opens a writable connection.
fn open_writable(path: &Path, key: Option<&DataKey>) -> Result<Connection> {
    let err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        let _ = crate::instance::private_dir(dir);
    }
    crate::instance::private_database(path)
        .map_err(|e| StoreError::io("making the database file private", e))?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    // First, so that what follows waits for a lock another connection
    // holds for a moment (a migration, see `migrate_to`) instead of failing.
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    cipher::unlock_connection(&conn, path, key)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt {
            what: "journal mode",
            value: mode,
        });
    }
    // FULL: a commit is on disk before the writer replies, also across a
    // power cut, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(err)?;
    // Deleted rows (a forgotten EDC token, a discarded practice record)
    // are overwritten with zeros, not left in free pages.
    conn.pragma_update(None, "secure_delete", true)
        .map_err(err)?;
    Ok(conn)
}
