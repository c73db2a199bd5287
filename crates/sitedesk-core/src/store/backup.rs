//! Backups of a running desk and their restore into a new data folder.
//! A backup is a folder that is itself a data folder: the database,
//! copied page by page with SQLite's online backup while the writer goes
//! on (so it is one consistent snapshot, encrypted under the same key),
//! and the key file beside it. A restore verifies the copy's audit trail
//! and data with the key before it puts anything in place.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{DB_FILE, Readers, Result, StoreError, cipher};
use crate::vault::{DataKey, KEY_FILE};

/// Pages copied per step of the online backup: small steps let the
/// writer commit between them.
const PAGES_PER_STEP: std::ffi::c_int = 256;

impl Readers {
    /// Copies the database into `dest` (a file that must not exist),
    /// through a read connection: a consistent snapshot, taken while the
    /// app runs.
    pub async fn backup_to(&self, dest: PathBuf) -> Result<()> {
        let key = self.key.clone();
        self.read(move |src| {
            let mut out = Connection::open(&dest).map_err(|source| StoreError::Open {
                path: dest.clone(),
                source,
            })?;
            cipher::unlock_connection(&out, &dest, key.as_deref())?;
            let backup = rusqlite::backup::Backup::new(src, &mut out)?;
            backup.run_to_completion(PAGES_PER_STEP, std::time::Duration::ZERO, None)?;
            drop(backup);
            out.close().map_err(|(_, e)| StoreError::from(e))?;
            std::fs::File::open(&dest)
                .and_then(|f| f.sync_all())
                .map_err(|e| StoreError::io("flushing the backup", e))
        })
        .await
    }
}

/// Makes a backup of the desk in `data_dir` (its store open as `readers`)
/// as a new folder in `into`, named by the time; answers its path.
pub async fn make_backup(readers: &Readers, data_dir: &Path, into: &Path) -> Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let folder = into.join(format!("sitedesk-backup-{stamp}"));
    create_private_dir(&folder)?;
    readers.backup_to(folder.join(DB_FILE)).await?;
    let keys = data_dir.join(KEY_FILE);
    if keys.exists() {
        copy_private(&keys, &folder.join(KEY_FILE))?;
    }
    Ok(folder)
}

/// Why a backup was not restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0} already holds a desk: restore into a new folder")]
    NotEmpty(PathBuf),
    #[error("{0} is not a SiteDesk backup (no database in it)")]
    NotABackup(PathBuf),
    /// The copy's chain or data does not verify: it is not restored.
    #[error("the backup does not verify: {0}")]
    DoesNotVerify(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Restores the backup folder `from` into the new data folder `to`, once
/// its audit trail and data verify under `key`.
pub fn restore_backup(from: &Path, to: &Path, key: Option<&DataKey>) -> Result<(), RestoreError> {
    let db = from.join(DB_FILE);
    if !db.exists() {
        return Err(RestoreError::NotABackup(from.to_owned()));
    }
    if to.join(DB_FILE).exists() || to.join(KEY_FILE).exists() {
        return Err(RestoreError::NotEmpty(to.to_owned()));
    }
    let v = super::verify_audit_file(&db, key)?;
    let problem = if let Some(b) = &v.broken {
        Some(format!(
            "audit row {}: {}",
            b.audit_id,
            b.problem.describe()
        ))
    } else if let Some(c) = &v.value_changed {
        Some(format!(
            "the value of {} at {}, field {}, differs from its audit trail",
            c.record_id, c.event, c.field
        ))
    } else {
        v.dictionary_changed
            .as_ref()
            .map(|h| format!("the form version {h} was changed"))
    };
    if let Some(p) = problem {
        return Err(RestoreError::DoesNotVerify(p));
    }
    create_private_dir(to)?;
    let keys = from.join(KEY_FILE);
    // The database last: a folder with a key file and no database is a new
    // desk's, which the app refuses to set up over.
    if keys.exists() {
        copy_private(&keys, &to.join(KEY_FILE))?;
    }
    let partial = to.join(format!("{DB_FILE}.restoring"));
    copy_private(&db, &partial)?;
    std::fs::rename(&partial, to.join(DB_FILE))
        .map_err(|e| StoreError::io("putting the restored database in place", e))?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| StoreError::io("creating the backup folder", e))
}

/// Copies a file readable by its owner only, flushed to disk.
fn copy_private(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map_err(|e| StoreError::io("copying the backup", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::io("copying the backup", e))?;
    }
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io("flushing the backup", e))
}
