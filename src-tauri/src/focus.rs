//! A second start brings the open window forward. The app that holds the
//! data folder (`sitedesk_core::instance`) listens on a Unix socket in it,
//! [`SOCKET_FILE`]; a second start on the folder, refused by the lock,
//! connects, writes `focus`, and the first unminimizes, shows and focuses
//! its main window, then answers `ok`. Only the folder's user reaches the
//! socket: the folder is 0700.
//!
//! Deliberately absent: any other request (the socket carries no data and
//! changes nothing), and a listener on other platforms, where a second
//! start only says that SiteDesk is open.

#[cfg(unix)]
pub use unix::{ask_open_window, listen};

/// The socket's name inside the data folder.
pub const SOCKET_FILE: &str = "sitedesk.sock";
/// The main window's label, as in `tauri.conf.json`.
#[cfg(unix)]
const MAIN_WINDOW: &str = "main";
/// What a second start writes, and what the first answers once its window
/// was asked to come forward.
#[cfg(unix)]
const REQUEST: &str = "focus";
#[cfg(unix)]
const ANSWER: &str = "ok";
/// How long either side waits for the other: the request is a few bytes
/// over a local socket, so a longer wait means a peer that is not a
/// SiteDesk, or one that hangs.
#[cfg(unix)]
const PEER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks the SiteDesk that holds `data_dir` to bring its window forward;
/// `false` where the platform has no way to.
#[cfg(not(unix))]
pub fn ask_open_window(_data_dir: &std::path::Path) -> bool {
    false
}

/// Nothing listens on this platform.
#[cfg(not(unix))]
pub fn listen<R: tauri::Runtime>(_desk: &sitedesk_core::desk::Desk, _app: tauri::AppHandle<R>) {}

#[cfg(unix)]
mod unix {
    use std::io::{BufRead as _, Read as _, Write as _};
    use std::path::Path;

    use sitedesk_core::desk::Desk;
    use sitedesk_core::tasks::{TaskKind, TaskState};
    use tauri::{AppHandle, Manager as _, Runtime};
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};

    use super::{ANSWER, MAIN_WINDOW, PEER_TIMEOUT, REQUEST, SOCKET_FILE};

    /// The longest line either side reads: the words above and a newline.
    const MAX_LINE: u64 = 16;

    /// Asks the SiteDesk that holds `data_dir` to bring its window forward,
    /// and answers whether it said it did. A folder held by a command (which
    /// has no window) or by an app that cannot listen answers `false`.
    pub fn ask_open_window(data_dir: &Path) -> bool {
        let ask = || -> std::io::Result<bool> {
            let mut stream = std::os::unix::net::UnixStream::connect(data_dir.join(SOCKET_FILE))?;
            stream.set_read_timeout(Some(PEER_TIMEOUT))?;
            stream.set_write_timeout(Some(PEER_TIMEOUT))?;
            writeln!(stream, "{REQUEST}")?;
            let mut answer = String::new();
            std::io::BufReader::new(stream.take(MAX_LINE)).read_line(&mut answer)?;
            Ok(answer.trim_end() == ANSWER)
        };
        ask().unwrap_or_else(|e| {
            tracing::debug!(error = %e, "no open window answered");
            false
        })
    }

    /// Listens on the data folder's socket for as long as the desk runs, as
    /// one of its registered tasks; without a socket (a path too long for
    /// one, say), a second start only says that SiteDesk is open. Runs
    /// inside the desk's runtime.
    pub fn listen<R: Runtime>(desk: &Desk, app: AppHandle<R>) {
        let path = desk.data_dir().join(SOCKET_FILE);
        // The folder's lock is this process's: a socket left there is one a
        // crashed app did not remove.
        let _ = std::fs::remove_file(&path);
        let listener = match tokio::net::UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e,
                    "cannot listen for a second start; it will not bring this window forward");
                return;
            }
        };
        let task = desk.registry().service(
            "Bring the window forward on a second start",
            TaskKind::Window,
            desk.cancel_token(),
        );
        desk.tracker().spawn(async move {
            task.set_state(TaskState::Running);
            loop {
                tokio::select! {
                    () = task.token().cancelled() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            if let Err(e) = answer(stream, &app).await {
                                tracing::debug!(error = %e, "a focus request went unanswered");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "focus socket"),
                    },
                }
            }
            drop(listener);
            let _ = std::fs::remove_file(&path);
            task.finish(TaskState::Cancelled);
        });
    }

    /// Reads one request and, if it is `focus`, brings the main window
    /// forward and says so.
    async fn answer<R: Runtime>(
        stream: tokio::net::UnixStream,
        app: &AppHandle<R>,
    ) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let mut reader = tokio::io::BufReader::new(read.take(MAX_LINE));
        tokio::time::timeout(PEER_TIMEOUT, reader.read_line(&mut line))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if line.trim_end() != REQUEST {
            return Ok(());
        }
        if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
            // Each may be refused by the window manager (focus stealing
            // prevention); what it allows is done.
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
        }
        tracing::info!("a second start asked for this window: brought forward");
        tokio::time::timeout(
            PEER_TIMEOUT,
            write.write_all(format!("{ANSWER}\n").as_bytes()),
        )
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
    }
}
