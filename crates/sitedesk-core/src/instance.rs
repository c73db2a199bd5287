//! One SiteDesk per data folder, and a data folder only its user can read.
//!
//! [`claim`] takes an exclusive lock on [`LOCK_FILE`] in the data folder
//! (the operating system's file lock: `flock` on Unix, `LockFileEx` on
//! Windows) and holds it while its [`InstanceLock`] lives. A second process,
//! or a second desk in this one, gets [`InstanceError::AlreadyOpen`]: two
//! sync schedulers must never push one outbox. The system releases the
//! lock when the process ends, however it ends, so a crash leaves no stale
//! lock behind (the file stays; nothing reads its content).
//!
//! On Unix the folder is 0700 and every file SiteDesk writes in it 0600
//! ([`private_dir`], [`private_database`], [`write_private`]); the app and
//! the command line also set the process's umask to 0o077
//! ([`private_umask`]) for what other code creates. On other platforms the
//! folder inherits the user profile's access rules and these only create.
//!
//! Deliberately absent: which files the folder holds (the desk and the
//! store name them), and any wait for the lock: a second start fails at
//! once with a message a person can act on.

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::i18n::{Lang, Message};

/// The lock file's name inside the data folder.
pub const LOCK_FILE: &str = "sitedesk.lock";

/// The folder's mode on Unix: its user only.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
/// A file's mode on Unix: its user reads and writes, nobody else anything.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Why the data folder could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another SiteDesk (the app or a command) has this data folder open.
    #[error("SiteDesk is already open on the data folder {path}")]
    AlreadyOpen { path: PathBuf },
    /// The lock file could not be opened or locked.
    #[error("the data folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InstanceError {
    /// In plain words, for a person at the desk or IT staff.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        match self {
            InstanceError::AlreadyOpen { path } => {
                Message::new("core.instance.alreadyOpen").with("path", path.display().to_string())
            }
            InstanceError::Io { path, source } => Message::new("core.instance.io")
                .with("path", path.display().to_string())
                .with("detail", source.to_string()),
        }
    }
}

/// The data folder, held: no other SiteDesk opens it until this is dropped.
#[derive(Debug)]
pub struct InstanceLock {
    dir: PathBuf,
    /// Holds the lock; closing the file releases it.
    _file: File,
}

impl InstanceLock {
    /// The data folder held.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Takes the data folder `dir` for this process, or says that another
/// SiteDesk has it. The folder must exist (see [`private_dir`]).
pub fn claim(dir: &Path) -> Result<InstanceLock, InstanceError> {
    let io = |source| InstanceError::Io {
        path: dir.to_owned(),
        source,
    };
    let file = open_private(&dir.join(LOCK_FILE), false).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(InstanceLock {
            dir: dir.to_owned(),
            _file: file,
        }),
        Err(TryLockError::WouldBlock) => Err(InstanceError::AlreadyOpen {
            path: dir.to_owned(),
        }),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Creates the data folder (and missing parents) with mode 0700 on Unix,
/// and tightens an existing one. A folder this user may not change (a
/// shared one given by `--data-dir`) is left as it is, with a warning: the
/// files in it are 0600 all the same.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != DIR_MODE {
            let tightened =
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE));
            match tightened {
                Ok(()) => tracing::info!(
                    path = %dir.display(),
                    from = format_args!("{mode:o}"),
                    "data folder made private (700)"
                ),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => tracing::warn!(
                    path = %dir.display(),
                    mode = format_args!("{mode:o}"),
                    "cannot make the data folder private: not its owner"
                ),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Makes the SQLite database at `path` private before SQLite opens it:
/// creates it empty with mode 0600 when missing (SQLite takes an empty file
/// as a new database, and gives the `-wal` and `-shm` files it creates the
/// database file's mode), and makes an existing one, and any companion file
/// an earlier version left with a wider mode, 0600. Nothing on other
/// platforms but the creation.
pub fn private_database(path: &Path) -> std::io::Result<()> {
    drop(open_private(path, false)?);
    #[cfg(unix)]
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        match set_private(Path::new(&companion)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// Writes `body` to `path` (replacing a file there), readable by this user
/// only on Unix: for what SiteDesk saves beside the database (diagnostics
/// bundles, CPU profiles).
pub fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let mut file = open_private(path, true)?;
    file.write_all(body)?;
    file.sync_all()
}

/// Sets the process's umask to 0o077, so that every file and folder it
/// creates from now on, by any code, is its user's only. Call it first in
/// `main`, before any thread starts. Nothing on other platforms.
pub fn private_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Opens `path` for writing, creating it with mode 0600 on Unix, and makes
/// an existing file 0600 too (a mode given at creation does not change an
/// existing file).
fn open_private(path: &Path, truncate: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    Ok(file)
}

/// Makes the existing file at `path` 0600.
#[cfg(unix)]
fn set_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode == FILE_MODE {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
}
