//! SQLCipher: opening a connection with the data key, telling an encrypted
//! file from a plain one, and encrypting a plain file in place.
//!
//! The key is SQLCipher's raw key (`x'<hex>'`): the data key is already
//! random, so SQLCipher's own password derivation (PBKDF2) is skipped, and
//! opening a connection costs microseconds. The settings are SQLCipher 4's
//! (`cipher_compatibility = 4`: AES-256-CBC pages with an HMAC-SHA512 each,
//! 4096-byte pages), named so that a later SQLCipher with other defaults
//! still reads the file. Without a key a connection is plain SQLite.
//!
//! Not here: where the key comes from (`vault`), and what is in the file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, params};
use zeroize::Zeroizing;

use super::{Result, StoreError};
use crate::vault::DataKey;

#[cfg(test)]
mod tests;

/// The first 16 bytes of every plain SQLite file. An encrypted file starts
/// with its random salt instead.
const PLAIN_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Keys `conn` (a connection to `path` just opened, before anything else
/// runs on it) and checks that the key opens the file. Without a key it
/// only checks that the file is readable as plain SQLite.
///
/// Errors: [`StoreError::Locked`] for an encrypted file and no key,
/// [`StoreError::WrongKey`] for another key, [`StoreError::NotEncrypted`]
/// for a key and a plain file. For every connection to a SiteDesk file,
/// also the simulator's.
pub fn unlock_connection(conn: &Connection, path: &Path, key: Option<&DataKey>) -> Result<()> {
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    if let Some(key) = key {
        // SQLCipher's own log goes to stderr and says, at ERROR, what the
        // typed error below says (a wrong key fails page 1's HMAC): off.
        let sql = Zeroizing::new(format!(
            "PRAGMA cipher_log_level = NONE; PRAGMA key = \"{}\"; PRAGMA cipher_compatibility = 4;",
            key.sqlcipher_literal().as_str()
        ));
        conn.execute_batch(&sql).map_err(open_err)?;
    }
    // SQLCipher reads nothing until asked: the first read of the schema is
    // where a wrong key shows.
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())) {
        Ok(()) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            let encrypted = is_encrypted(path)?;
            Err(match (key.is_some(), encrypted) {
                (true, true) => StoreError::WrongKey {
                    path: path.to_owned(),
                },
                (true, false) => StoreError::NotEncrypted {
                    path: path.to_owned(),
                },
                (false, true) => StoreError::Locked {
                    path: path.to_owned(),
                },
                (false, false) => open_err(e),
            })
        }
        Err(e) => Err(open_err(e)),
    }
}

/// Whether the file at `path` is encrypted: it has a full header and the
/// header is not plain SQLite's. A missing or empty file is not (SQLite
/// makes a new database of it, keyed or not).
pub fn is_encrypted(path: &Path) -> Result<bool> {
    use std::io::Read as _;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(StoreError::io("reading the database header", e)),
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::io("reading the database header", e)),
        }
    }
    Ok(read == header.len() && &header != PLAIN_HEADER)
}

/// What [`encrypt_plain`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedCopy {
    pub tables: usize,
    pub rows: u64,
}

/// `path` with `suffix` added to its file name (`desk.sqlite3-wal`).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Encrypts the plain database at `path` with `key`, in place, while
/// nothing else has it open (before the store opens it).
///
/// SQLCipher's `sqlcipher_export` copies it into a new encrypted file
/// beside it; the copy is checked against the original (the schema, the
/// schema version, every table's row count and rows), flushed to disk, and
/// renamed over the original. The original's write-ahead log is folded into
/// it first and removed, so that no plain log is left to be applied to the
/// encrypted file. A crash at any point leaves the plain file or the
/// encrypted one, never neither; a leftover copy is removed by the next
/// attempt.
pub fn encrypt_plain(path: &Path, key: &DataKey) -> Result<EncryptedCopy> {
    let copy_path = beside(path, ".encrypting");
    remove_if_present(&copy_path)?;
    remove_if_present(&beside(path, ".encrypting-journal"))?;
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    if !path.exists() {
        return Err(StoreError::io(
            "encrypting the database",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    // CREATE for the attached copy: ATTACH opens with the connection's flags.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    unlock_connection(&conn, path, None)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(open_err)?;

    // Everything into the main file, and the log emptied.
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(open_err)?;
    if busy != 0 {
        return Err(StoreError::io(
            "encrypting the database",
            std::io::Error::other("another connection has it open"),
        ));
    }

    let copy_name = copy_path.to_str().ok_or_else(|| {
        StoreError::io(
            "encrypting the database",
            std::io::Error::other("the data folder's path is not UTF-8"),
        )
    })?;
    conn.execute(
        "ATTACH DATABASE ?1 AS enc KEY ?2",
        params![copy_name, key.sqlcipher_literal().as_str()],
    )?;
    conn.pragma_update(Some("enc"), "cipher_compatibility", 4)?;
    conn.query_row("SELECT sqlcipher_export('enc')", [], |_| Ok(()))?;
    for pragma in ["user_version", "application_id"] {
        let value: i64 = conn.pragma_query_value(None, pragma, |r| r.get(0))?;
        conn.pragma_update(Some("enc"), pragma, value)?;
    }
    let copied = compare(&conn)?;
    conn.execute_batch("DETACH DATABASE enc")?;
    // Closing the last connection after a TRUNCATE checkpoint removes the
    // log and the shared-memory file.
    conn.close().map_err(|(_, e)| open_err(e))?;
    for suffix in ["-wal", "-shm"] {
        let leftover = beside(path, suffix);
        match std::fs::metadata(&leftover) {
            Ok(m) if m.len() > 0 && suffix == "-wal" => {
                // Written after the checkpoint: someone else has the file.
                return Err(StoreError::io(
                    "encrypting the database",
                    std::io::Error::other("its write-ahead log is not empty"),
                ));
            }
            Ok(_) => remove_if_present(&leftover)?,
            Err(_) => {}
        }
    }
    std::fs::File::open(&copy_path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io("flushing the encrypted database", e))?;
    std::fs::rename(&copy_path, path)
        .map_err(|e| StoreError::io("replacing the plain database", e))?;
    sync_dir(path)?;
    // From now on the chain's head is keyed (`chain::update_head`); the
    // chain as it stands, which just verified row for row, is signed.
    let mut encrypted = Connection::open(path).map_err(open_err)?;
    unlock_connection(&encrypted, path, Some(key))?;
    super::chain::sign_head_if_unsigned(&mut encrypted, &key.audit_mac_key())?;
    Ok(copied)
}

/// Checks the attached copy `enc` against `main`: the same schema, and for
/// every table the same number of rows and no row of the original missing
/// from the copy.
fn compare(conn: &Connection) -> Result<EncryptedCopy> {
    let schema = |db: &str| -> Result<Vec<(String, String, Option<String>)>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT type, name, sql FROM {db}.sqlite_schema ORDER BY type, name"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    let main = schema("main")?;
    if main != schema("enc")? {
        return Err(StoreError::Corrupt {
            what: "encrypted copy",
            value: "its schema differs from the original's".into(),
        });
    }
    for pragma in ["user_version", "application_id"] {
        let get = |db: &str| -> Result<i64> {
            Ok(conn.pragma_query_value(Some(db), pragma, |r| r.get(0))?)
        };
        if get("main")? != get("enc")? {
            return Err(StoreError::Corrupt {
                what: "encrypted copy",
                value: format!("its {pragma} differs from the original's"),
            });
        }
    }
    let mut copied = EncryptedCopy { tables: 0, rows: 0 };
    for (kind, table, _) in &main {
        if kind != "table" {
            continue;
        }
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        let count = |db: &str| -> Result<i64> {
            Ok(
                conn.query_row(&format!("SELECT count(*) FROM {db}.{quoted}"), [], |r| {
                    r.get(0)
                })?,
            )
        };
        let rows = count("main")?;
        let missing: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM (SELECT * FROM main.{quoted} EXCEPT SELECT * FROM enc.{quoted})"
            ),
            [],
            |r| r.get(0),
        )?;
        if rows != count("enc")? || missing != 0 {
            return Err(StoreError::Corrupt {
                what: "encrypted copy",
                value: format!("table {table} differs from the original's"),
            });
        }
        copied.tables += 1;
        copied.rows += rows.unsigned_abs();
    }
    Ok(copied)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("removing a leftover file", e)),
    }
}

/// Makes a rename in `path`'s folder durable (Unix; Windows has no folder
/// handle to flush, and its rename is journaled by NTFS).
fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("flushing the data folder", e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
