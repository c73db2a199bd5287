//! Which EDC this desk talks to: the study's REDCap server (real mode, its
//! address and token saved in the database from Settings), or, on a desk
//! with nothing configured that runs the demo study, the built-in
//! simulator started in-process on 127.0.0.1 (demo mode).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use sitedesk_core::edc::{EdcClient, Timeouts, Token};
use sitedesk_core::sync::{SyncConfig, Syncer};
use ts_rs::TS;

/// Where the desk's EDC is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EdcMode {
    /// The built-in simulator with the demo study.
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

/// The EDC in use and, in demo mode, the simulator serving it.
#[derive(Default)]
pub struct EdcState {
    target: Arc<Mutex<Option<EdcTarget>>>,
    demo: Mutex<Option<edc_sim::RunningSim>>,
    /// Where the demo EDC keeps its records (beside the desk's database),
    /// so that what the desk pushed is still there after a restart, as on
    /// a real server; in memory when `None`.
    demo_database: Option<PathBuf>,
}

impl EdcState {
    /// An EDC state whose demo EDC keeps its records in `file`.
    pub fn with_demo_database(file: PathBuf) -> EdcState {
        EdcState {
            demo_database: Some(file),
            ..EdcState::default()
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

    /// Starts the demo simulator unless it runs, and makes it the target.
    pub async fn start_demo(&self) -> Result<(), edc_sim::SimError> {
        let running = self
            .demo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|sim| sim.api_url());
        let url = match running {
            Some(url) => url,
            None => {
                let database = match &self.demo_database {
                    Some(file) => edc_sim::Database::File(file.clone()),
                    None => edc_sim::Database::Memory,
                };
                let sim = edc_sim::Simulator::start(edc_sim::SimConfig {
                    database,
                    ..edc_sim::SimConfig::new(edc_sim::Project::demo())
                })
                .await?;
                let url = sim.api_url();
                tracing::info!(%url, "demo EDC started");
                *self.demo.lock().unwrap_or_else(|p| p.into_inner()) = Some(sim);
                url
            }
        };
        // The desk is at the demo study's first site: its token sees that
        // site's records only, as a site user's token does in REDCap.
        let token =
            Token::parse(edc_sim::DEMO_TOKEN_RIVERSIDE).expect("the demo token is well-formed");
        self.set_target(Some(EdcTarget {
            mode: EdcMode::Demo,
            url,
            token,
        }));
        Ok(())
    }

    /// Stops the demo simulator, if it runs.
    pub async fn stop_demo(&self) {
        let sim = self.demo.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sim) = sim {
            sim.shutdown().await;
            tracing::info!("demo EDC stopped");
        }
    }
}

/// How often the scheduler syncs by default.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Starts the one sync scheduler of the app. Each run uses the EDC in use
/// at that moment; the syncer (and its breaker) is kept while the EDC
/// stays the same, so a server that is down is not hammered run after run.
pub fn start_scheduler(state: &crate::state::AppState) -> bool {
    let target = state.edc.target_handle();
    let store = state.store.clone();
    let registry = state.registry.clone();
    let tracker = state.tracker.clone();
    let actor = sitedesk_core::domain::Actor {
        account: state.account.clone(),
        display_name: "EDC sync".into(),
    };
    let settings = state.sync_settings.clone();
    let metrics = state.edc_metrics.clone();
    let cached: Mutex<Option<(String, String, u32, Syncer)>> = Mutex::new(None);
    state.sync.start(
        &state.tracker,
        state.cancel.clone(),
        &state.registry,
        move || {
            let t = target.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
            let concurrency = settings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .concurrency;
            let mut cache = cached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((url, token, c, syncer)) = cache.as_ref()
                && url == &t.url
                && token == t.token.expose()
                && *c == concurrency
            {
                return Some(syncer.clone());
            }
            let client = EdcClient::new(&t.url, t.token.clone(), Timeouts::default())
                .ok()?
                .with_metrics(metrics.clone());
            let syncer = Syncer::new(
                store.clone(),
                client,
                registry.clone(),
                tracker.clone(),
                actor.clone(),
                SyncConfig {
                    concurrency: concurrency as usize,
                    ..SyncConfig::default()
                },
            );
            *cache = Some((
                t.url.clone(),
                t.token.expose().to_owned(),
                concurrency,
                syncer.clone(),
            ));
            Some(syncer)
        },
    )
}
