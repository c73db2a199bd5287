//! What every command shares: the store, the task registry, the root of the
//! cancellation tree and the tracker every spawned task goes through, and
//! the user's preferences.

use std::sync::{Arc, Mutex, RwLock};

use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::diagnostics::logs::LogBuffer;
use sitedesk_core::diagnostics::metrics::History;
use sitedesk_core::diagnostics::profile::Profile;
use sitedesk_core::domain::Actor;
use sitedesk_core::edc::metrics::CallMetrics;
use sitedesk_core::i18n::Lang;
use sitedesk_core::store::{Settings, Store, SyncSettings};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use sitedesk_core::sync::scheduler::Scheduler;

use crate::edc::EdcState;

pub struct AppState {
    pub store: Store,
    pub registry: TaskRegistry,
    /// The root of the cancellation tree: app -> sync run -> job -> batch.
    pub cancel: CancellationToken,
    /// Every task the app spawns, so that exit can wait for them.
    pub tracker: TaskTracker,
    /// The operating-system account at the desk.
    pub account: String,
    pub demo: bool,
    /// The EDC in use (demo simulator or the study's REDCap).
    pub edc: EdcState,
    /// The one sync scheduler.
    pub sync: Scheduler,
    /// Recent log lines, redacted, for the panel and the support bundle.
    pub logs: LogBuffer,
    /// The last 15 minutes of vital signs, for the panel's charts.
    pub metrics: History,
    /// How this desk syncs (the scheduler's task reads it at each run).
    pub sync_settings: Arc<Mutex<SyncSettings>>,
    /// What calls to the EDC cost, per endpoint, shared by every client.
    pub edc_metrics: Arc<CallMetrics>,
    /// The last CPU profile recorded, for saving and for the bundle.
    pub profile: Mutex<Option<Arc<Profile>>>,
    prefs: RwLock<Settings>,
}

impl AppState {
    pub fn new(
        store: Store,
        registry: TaskRegistry,
        account: String,
        demo: bool,
        prefs: Settings,
    ) -> AppState {
        AppState {
            store,
            registry,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            account,
            demo,
            edc: EdcState::default(),
            sync: Scheduler::new(crate::edc::SYNC_INTERVAL),
            sync_settings: Arc::new(Mutex::new(SyncSettings::default())),
            logs: LogBuffer::default(),
            metrics: History::default(),
            edc_metrics: Arc::default(),
            profile: Mutex::new(None),
            prefs: RwLock::new(prefs),
        }
    }

    pub fn prefs(&self) -> Settings {
        self.prefs.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_prefs(&self, prefs: Settings) {
        *self.prefs.write().unwrap_or_else(|p| p.into_inner()) = prefs;
    }

    /// The language messages are written in.
    pub fn lang(&self) -> Lang {
        self.prefs().language
    }

    /// Who is acting now: the account plus the display name from Settings.
    pub fn actor(&self) -> Actor {
        Actor {
            account: self.account.clone(),
            display_name: self.prefs().display_name,
        }
    }
}

/// The operating-system account running the app, looked up by user id in
/// the system's user database; the environment (`USER`) only when that
/// fails, since service managers and WebDriver sessions often leave it unset.
pub fn os_account() -> String {
    whoami::username()
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        })
        .unwrap_or_else(|| "unknown".into())
}
