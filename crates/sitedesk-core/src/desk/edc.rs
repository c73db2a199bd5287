//! Which EDC a desk talks to: the study's REDCap server (its address and
//! token saved in the database from Settings), or, on a desk that runs the
//! demo study with nothing saved, the built-in demo EDC, a REDCap-compatible
//! server that the shell provides ([`DemoEdc`]) and that runs in-process on
//! 127.0.0.1. Also the one sync scheduler's choice of syncer per run.
//!
//! Deliberately absent: the demo server itself (the core cannot depend on
//! the simulator, which depends on the core), and any word of the UI.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use crate::edc::{Timeouts, Token};

/// Where the desk's EDC is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EdcMode {
    /// The built-in demo EDC with the demo study.
    Demo,
    /// A REDCap server entered in Settings.
    Real,
    /// Nothing configured (a real study without a server entered yet).
    None,
}

/// The EDC in use: its mode, API address and token.
#[derive(Clone)]
pub struct EdcTarget {
    pub mode: EdcMode,
    pub url: String,
    pub token: Token,
}

/// Time allowed for "Test connection": a person is waiting.
pub const TEST_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    total: Duration::from_secs(15),
};

/// A future a [`DemoEdc`] returns.
pub type DemoFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The built-in demo EDC, as the shell provides it: started on demand,
/// keeping its records in a file beside the desk's database (so that what
/// the desk pushed is still there after a restart, as on a real server),
/// stopped when the desk leaves it.
pub trait DemoEdc: Send + Sync {
    /// Starts the server unless it runs; answers its API address and the
    /// token of this desk's site.
    fn start(&self, database: PathBuf) -> DemoFuture<'_, Result<(String, Token), String>>;
    /// Stops the server, if it runs.
    fn stop(&self) -> DemoFuture<'_, ()>;
}

/// The EDC in use and the demo EDC behind it in demo mode.
pub(super) struct EdcState {
    target: Arc<Mutex<Option<EdcTarget>>>,
    demo: Option<Arc<dyn DemoEdc>>,
    demo_database: PathBuf,
}

impl EdcState {
    pub fn new(demo: Option<Arc<dyn DemoEdc>>, demo_database: PathBuf) -> EdcState {
        EdcState {
            target: Arc::default(),
            demo,
            demo_database,
        }
    }

    pub fn target(&self) -> Option<EdcTarget> {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A handle on the target that outlives a borrow of the state, for the
    /// sync scheduler's task.
    pub fn target_handle(&self) -> Arc<Mutex<Option<EdcTarget>>> {
        self.target.clone()
    }

    pub fn set_target(&self, target: Option<EdcTarget>) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = target;
    }

    /// Starts the demo EDC unless it runs, and makes it the target. A desk
    /// opened without one (a command-line tool, a test) has no EDC then.
    pub async fn start_demo(&self) -> Result<(), String> {
        let Some(demo) = &self.demo else {
            self.set_target(None);
            return Ok(());
        };
        crate::instance::private_database(&self.demo_database)
            .map_err(|e| format!("{}: {e}", self.demo_database.display()))?;
        let (url, token) = demo.start(self.demo_database.clone()).await?;
        tracing::info!(%url, "demo EDC in use");
        self.set_target(Some(EdcTarget {
            mode: EdcMode::Demo,
            url,
            token,
        }));
        Ok(())
    }

    pub async fn stop_demo(&self) {
        if let Some(demo) = &self.demo {
            demo.stop().await;
        }
    }
}
