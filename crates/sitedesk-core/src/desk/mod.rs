//! A desk: what the app opens at start and closes at exit, without a
//! window. [`Desk::open`] claims the data folder (one SiteDesk per folder,
//! see [`crate::instance`]), opens the database (with its writer and the
//! task registry), sets up the demo study on a desk with nothing configured,
//! chooses the EDC (the one saved in Settings, else the demo EDC on a demo
//! desk), and, when asked, starts the sync scheduler and the diagnostics
//! sampler; [`Desk::shutdown`] stops all of it in order and releases the
//! folder. The shell, the command line and the tests open the same desk.
//!
//! Every task the desk starts is registered with a child of the desk's root
//! token and spawned through its tracker, so shutdown cancels and awaits
//! every one of them before the writer drains.
//!
//! Deliberately absent: Tauri, IPC payloads and words of the UI (the shell
//! maps the desk's answers), and the demo EDC's server (see [`DemoEdc`]).

mod edc;
pub mod gate;
#[cfg(test)]
mod gate_tests;
pub mod onboard;
pub mod people;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ts_rs::TS;

pub use edc::{DemoEdc, DemoFuture, EdcMode, EdcTarget, TEST_TIMEOUTS};
pub use onboard::{BindError, BindRequest, ProjectSummary, ScreeningStatus};

use people::{Access, Refusal, SessionState};

use crate::diagnostics::logs::LogBuffer;
use crate::diagnostics::metrics::{History, Sample, Sampler};
use crate::diagnostics::profile::Profile;
use crate::domain::{Actor, DeskCode, demo_study};
use crate::edc::metrics::{CallMetrics, CallTotals, EndpointStats};
use crate::edc::{EdcClient, Timeouts, Token};
use crate::forms::{LogicCache, Study, demo_forms, plain_text};
use crate::i18n::Lang;
use crate::instance::{InstanceError, InstanceLock};
use crate::store::{
    AuditEntry, AuditLabels, BindOutcome, Settings, Store, StoreError, StoreOptions,
    StoredDictionary, SyncSettings, WriterStats, encrypt_plain, is_encrypted,
};
use crate::sync::scheduler::Scheduler;
use crate::sync::{BreakerState, SyncConfig, Syncer};
use crate::tasks::{Lint, TaskKind, TaskRegistry, TaskSnapshot, TaskState};
use crate::vault::DataKey;
use edc::EdcState;

pub use crate::store::DB_FILE;
/// The demo EDC's records, beside the database, in demo mode.
pub const DEMO_EDC_FILE: &str = "demo-edc.sqlite3";
/// Where the demo forms came from, as the Settings page shows it.
const DEMO_FORMS_SOURCE: &str = "SiteDesk demo study";
/// How often the scheduler syncs until the desk's own setting is read.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// How long shutdown waits for tasks to stop before it closes the store
/// anyway. Data safety does not depend on it: every acknowledged edit is
/// committed.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);
/// How often the sampler takes the desk's vital signs (and the panel
/// refreshes): often enough to watch a sync, rarely enough to cost nothing.
pub const SAMPLE_PERIOD: Duration = Duration::from_secs(1);

/// Called with each diagnostics snapshot the sampler takes.
pub type Publish = Box<dyn Fn(DiagnosticsSnapshot) + Send + Sync>;

/// How to open a desk.
pub struct DeskOptions {
    /// The folder that holds the database (created if missing).
    pub data_dir: PathBuf,
    /// The desk code of a new database; random when `None`.
    pub desk_code: Option<DeskCode>,
    /// The operating-system account at the desk.
    pub account: String,
    /// The built-in demo EDC; a desk without one has no EDC in demo mode.
    pub demo_edc: Option<Arc<dyn DemoEdc>>,
    /// Start the sync scheduler and the diagnostics sampler (the app);
    /// the command line and most tests leave them off.
    pub background: bool,
    /// Where the sampler's snapshots go (the app: the UI's event).
    pub publish: Option<Publish>,
    /// The redacting log ring the app's subscriber writes to.
    pub logs: LogBuffer,
    /// The data key (from the vault, once someone has signed in): the
    /// database is opened encrypted, and a plain one is encrypted first.
    /// `None` opens a plain database as before.
    pub key: Option<DataKey>,
    /// The person signed in, shared with the gate that opened the desk
    /// (`gate::Gate`); a desk of its own without one (the command line).
    pub session: Option<Arc<RwLock<SessionState>>>,
    /// The data folder, already claimed by the caller (the app claims it
    /// before it makes a window); `Desk::open` claims it when `None`.
    pub lock: Option<InstanceLock>,
}

impl DeskOptions {
    /// A desk in `data_dir`, without background tasks or a demo EDC.
    pub fn new(data_dir: impl Into<PathBuf>, account: impl Into<String>) -> DeskOptions {
        DeskOptions {
            data_dir: data_dir.into(),
            desk_code: None,
            account: account.into(),
            demo_edc: None,
            background: false,
            publish: None,
            logs: LogBuffer::default(),
            key: None,
            session: None,
            lock: None,
        }
    }
}

/// Why a desk could not open.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another SiteDesk has the data folder open (or it cannot be locked).
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error("the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo EDC could not start: {0}")]
    DemoEdc(String),
    /// A task the opening ran on failed (it panicked).
    #[error("a task failed: {0}")]
    Task(String),
}

/// What the diagnostics panel shows; the sampler publishes one a second.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DiagnosticsSnapshot {
    pub tasks: Vec<TaskSnapshot>,
    /// Tasks stuck after a cancel, or without progress for too long;
    /// untracked tasks piling up; a stalled writer.
    pub lints: Vec<Lint>,
    /// The last 15 minutes, one sample a second (the event: the newest).
    pub metrics: Vec<Sample>,
    pub writer: WriterStats,
    /// Calls to the EDC since the app started, per endpoint.
    pub edc: Vec<EndpointStats>,
    pub edc_totals: CallTotals,
    /// The sync breaker: closed (calls go through), open (paused after
    /// repeated failures), half-open (one probe allowed).
    pub breaker: Option<BreakerState>,
}

/// An open desk. Shared by every command; its parts are reached through
/// methods, and it ends with [`Desk::shutdown`].
pub struct Desk {
    store: Store,
    registry: TaskRegistry,
    /// The root of the cancellation tree: desk -> sync run -> job -> batch.
    cancel: CancellationToken,
    /// Every task the desk spawns, so that shutdown can wait for them.
    tracker: TaskTracker,
    account: String,
    /// Whether the desk runs the demo study; false from the moment it
    /// binds to its study's project.
    demo: AtomicBool,
    edc: EdcState,
    sync: Scheduler,
    sync_settings: Arc<Mutex<SyncSettings>>,
    edc_metrics: Arc<CallMetrics>,
    logs: LogBuffer,
    metrics: History,
    profile: Mutex<Option<Arc<Profile>>>,
    prefs: RwLock<Settings>,
    /// The forms in force, parsed once per dictionary version.
    forms: Mutex<Option<Arc<FormsInForce>>>,
    /// The person signed in, and whether the desk is locked.
    session: Arc<RwLock<SessionState>>,
    /// The data folder's lock: held from before the database opens until
    /// shutdown has closed it.
    instance: Mutex<Option<InstanceLock>>,
}

/// The study's forms in force, parsed once per version: the dictionary and
/// design as stored, and their branching logic and calculations parsed.
pub struct FormsInForce {
    pub stored: StoredDictionary,
    logic: LogicCache,
}

impl FormsInForce {
    pub fn new(stored: StoredDictionary) -> FormsInForce {
        let logic = LogicCache::of(&stored.dictionary);
        FormsInForce { stored, logic }
    }

    /// The study the form functions work from, with the parsed logic.
    pub fn study(&self) -> Study<'_> {
        Study::new(&self.stored.dictionary, &self.stored.design).with_logic(&self.logic)
    }
}

impl Desk {
    /// Opens the desk in `options.data_dir`: the store, the demo study on
    /// a desk with nothing configured, the EDC, and the background tasks
    /// when asked. Runs inside the tokio runtime that will run the tasks.
    pub async fn open(options: DeskOptions) -> Result<Arc<Desk>, DeskError> {
        let DeskOptions {
            data_dir,
            desk_code,
            account,
            demo_edc,
            background,
            publish,
            logs,
            key,
            session,
            lock,
        } = options;
        crate::instance::private_dir(&data_dir).map_err(|source| DeskError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let instance = match lock {
            Some(lock) => {
                debug_assert_eq!(lock.dir(), data_dir, "the lock of another folder");
                lock
            }
            None => crate::instance::claim(&data_dir)?,
        };
        let db = data_dir.join(DB_FILE);
        if let Some(key) = &key
            && db.exists()
            && !is_encrypted(&db)?
        {
            // The first start with a key: the plain database becomes
            // encrypted before anything else opens it.
            let copied = encrypt_plain(&db, key)?;
            tracing::info!(
                tables = copied.tables,
                rows = copied.rows,
                "database encrypted"
            );
        }
        let registry = TaskRegistry::new();
        let store_options = StoreOptions {
            desk_code,
            key,
            ..StoreOptions::default()
        };
        let store = Store::open(&db, store_options, &registry)?;
        tracing::info!(path = %db.display(), "database open");
        let prefs = store.readers().settings().await?;
        let demo = set_up_demo(&store, &account, &prefs).await?;
        let desk = Arc::new(Desk {
            edc: EdcState::new(demo_edc, data_dir.join(DEMO_EDC_FILE)),
            store,
            registry,
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            account,
            demo: AtomicBool::new(demo),
            sync: Scheduler::new(SYNC_INTERVAL),
            sync_settings: Arc::default(),
            edc_metrics: Arc::default(),
            logs,
            metrics: History::default(),
            profile: Mutex::new(None),
            prefs: RwLock::new(prefs),
            forms: Mutex::new(None),
            session: session.unwrap_or_default(),
            instance: Mutex::new(Some(instance)),
        });
        if let Err(e) = desk.connect_edc().await {
            desk.shutdown().await;
            return Err(e);
        }
        if background {
            desk.start_scheduler();
            desk.start_sampler(publish);
        }
        Ok(desk)
    }

    /// Chooses the EDC: the one saved in Settings, else on a demo desk the
    /// demo EDC, else none yet; and how sync runs.
    async fn connect_edc(&self) -> Result<(), DeskError> {
        let settings = self.store.readers().sync_settings().await?;
        self.apply_sync_settings(settings);
        let saved = self.store.readers().edc_connection().await?;
        match saved.and_then(|(url, token)| Some((url, Token::parse(&token)?))) {
            Some((url, token)) => {
                tracing::info!(%url, "EDC from settings");
                self.edc.set_target(Some(EdcTarget {
                    mode: EdcMode::Real,
                    url,
                    token,
                }));
            }
            None if self.is_demo() => self.edc.start_demo().await.map_err(DeskError::DemoEdc)?,
            None => tracing::info!("no EDC configured"),
        }
        Ok(())
    }

    /// Moves the desk to the study's REDCap at `url` with `token`: saved
    /// (audited, clearing the old EDC's bases and cursor), then in use from
    /// the next call; the demo EDC stops.
    pub async fn use_edc(&self, actor: Actor, url: String, token: Token) -> Result<(), StoreError> {
        self.store
            .writer()
            .set_edc_connection(actor, Some((url.clone(), token.expose().to_owned())))
            .await?;
        self.edc.stop_demo().await;
        self.edc.set_target(Some(EdcTarget {
            mode: EdcMode::Real,
            url,
            token,
        }));
        Ok(())
    }

    /// Forgets the saved EDC: a demo desk goes back to the demo EDC, any
    /// other desk has none.
    pub async fn forget_edc(&self, actor: Actor) -> Result<(), ForgetEdcError> {
        self.store.writer().set_edc_connection(actor, None).await?;
        if self.is_demo() {
            self.edc
                .start_demo()
                .await
                .map_err(ForgetEdcError::DemoEdc)?;
        } else {
            self.edc.set_target(None);
        }
        Ok(())
    }

    /// Saves how this desk syncs (audited); the scheduler uses it from the
    /// next run, and a new interval reschedules without a run.
    pub async fn set_sync_settings(
        &self,
        actor: Actor,
        settings: SyncSettings,
    ) -> Result<(), StoreError> {
        self.store
            .writer()
            .set_sync_settings(actor, settings)
            .await?;
        self.apply_sync_settings(settings);
        Ok(())
    }

    fn apply_sync_settings(&self, settings: SyncSettings) {
        *self.sync_settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
        self.sync.set_interval(Duration::from_secs(
            u64::from(settings.interval_minutes) * 60,
        ));
    }

    /// Starts the one sync scheduler. Each run uses the EDC in use at that
    /// moment; the syncer (and its breaker) is kept while the EDC stays
    /// the same, so a server that is down is not hammered run after run.
    fn start_scheduler(&self) -> bool {
        let target = self.edc.target_handle();
        let store = self.store.clone();
        let registry = self.registry.clone();
        let tracker = self.tracker.clone();
        let actor = Actor {
            account: self.account.clone(),
            display_name: "EDC sync".into(),
            login: None,
        };
        let settings = self.sync_settings.clone();
        let metrics = self.edc_metrics.clone();
        let cached: Mutex<Option<(String, String, u32, Syncer)>> = Mutex::new(None);
        self.sync.start(
            &self.tracker,
            self.cancel.clone(),
            &self.registry,
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

    /// Samples the desk once a second into the 15-minute history, and
    /// hands each snapshot to `publish`.
    fn start_sampler(self: &Arc<Self>, publish: Option<Publish>) {
        let task =
            self.registry
                .service("Diagnostics sampler", TaskKind::Diagnostics, &self.cancel);
        // The task holds the desk weakly: a desk is dropped after shutdown,
        // and shutdown waits for this task, so it never outlives the desk.
        let desk = Arc::downgrade(self);
        self.tracker.spawn(async move {
            task.set_state(TaskState::Running);
            let mut tick = tokio::time::interval(SAMPLE_PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sampler = Sampler::default();
            loop {
                tokio::select! {
                    () = task.token().cancelled() => break,
                    _ = tick.tick() => {
                        let Some(desk) = desk.upgrade() else { break };
                        let sample = sampler
                            .sample(&desk.store, &desk.registry, &desk.edc_metrics)
                            .await;
                        desk.metrics.push(sample);
                        if let Some(publish) = &publish {
                            let mut snap = desk.diagnostics();
                            // The event carries the newest sample; the panel
                            // keeps the history it got when it opened.
                            snap.metrics = vec![sample];
                            publish(snap);
                        }
                    }
                }
            }
            task.finish(TaskState::Cancelled);
        });
    }

    /// Stops the desk in order: cancel every task, wait for them within
    /// [`SHUTDOWN_DEADLINE`], stop the demo EDC, let the writer commit what
    /// is queued and stop, then release the data folder for the next
    /// SiteDesk.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_DEADLINE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                live = self.tracker.len(),
                "tasks still running at the shutdown deadline"
            );
        }
        self.edc.stop_demo().await;
        self.store.close().await;
        self.instance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        tracing::info!("desk closed");
    }

    /// What the diagnostics panel shows now.
    pub fn diagnostics(&self) -> DiagnosticsSnapshot {
        DiagnosticsSnapshot {
            tasks: self.registry.snapshot(),
            lints: self.lints(),
            writer: self.store.writer().stats(),
            metrics: self.metrics.all(),
            edc: self.edc_metrics.snapshot(),
            edc_totals: self.edc_metrics.totals(),
            breaker: self.sync.snapshot().breaker,
        }
    }

    /// The registry's findings about its tasks, then the history's
    /// (untracked tasks piling up, a stalled writer).
    fn lints(&self) -> Vec<Lint> {
        let mut lints = self.registry.lints();
        lints.extend(self.metrics.lints());
        lints
    }

    /// Everything support needs to see why a desk misbehaves, as one JSON
    /// document: versions, tasks, lints, writer metrics, sync state, recent
    /// logs, the last CPU profile's stacks. No patient data (the logs are
    /// redacted, tasks carry ids and error kinds) and no token.
    pub fn bundle(&self, app_version: &str) -> serde_json::Value {
        let sync = self.sync.snapshot();
        let target = self.edc.target();
        serde_json::json!({
            "app": "SiteDesk",
            "version": app_version,
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "created_at": chrono::Utc::now().to_rfc3339(),
            "tasks": self.registry.snapshot(),
            "lints": self.lints(),
            "writer": self.store.writer().stats(),
            "metrics": self.metrics.all(),
            "edc": {
                "mode": target.as_ref().map(|t| t.mode),
                "url": target.map(|t| t.url),
                "calls": self.edc_metrics.snapshot(),
                "totals": self.edc_metrics.totals(),
            },
            "sync": {
                "running": sync.running,
                "offline": sync.offline,
                "last_success_at": sync.last_success_at,
                "last_report": sync.last_report,
                "error": sync.error.map(|e| e.to_string()),
                "breaker": sync.breaker,
            },
            "logs": self.logs.lines("TRACE", "", crate::diagnostics::logs::LOG_LINES),
            // Function and thread names only; the SVG and pprof files are
            // saved apart.
            "profile": self.last_profile().map(|p| serde_json::json!({
                "started_at": p.started_at,
                "duration_ms": p.duration.as_millis() as u64,
                "samples": p.samples,
                "frequency_hz": crate::diagnostics::profile::FREQUENCY_HZ,
                "folded": p.root.folded(),
            })),
        })
    }

    /// The forms in force (`None` before any are imported): parsed when
    /// their version is new to this desk, else the parse kept from before.
    /// One cheap read checks the version each time.
    pub async fn forms(&self) -> Result<Option<Arc<FormsInForce>>, StoreError> {
        let readers = self.store.readers();
        let Some(hash) = readers.dictionary_hash().await? else {
            return Ok(None);
        };
        let cached = self.forms.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(forms) = cached.filter(|f| f.stored.hash == hash) {
            return Ok(Some(forms));
        }
        let Some(stored) = readers.dictionary().await? else {
            return Ok(None);
        };
        let forms = Arc::new(FormsInForce::new(stored));
        *self.forms.lock().unwrap_or_else(|p| p.into_inner()) = Some(forms.clone());
        Ok(Some(forms))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A record's (or subject's) audit trail, its form values named as the
    /// dictionary in force names them: the field's label, and the label of
    /// a coded value (a status, an answer, a choice).
    pub async fn record_audit(&self, id: String) -> Result<Vec<AuditEntry>, StoreError> {
        let mut audit = self.store.readers().subject_audit(id).await?;
        let Some(forms) = self.forms().await? else {
            return Ok(audit);
        };
        let dictionary = &forms.stored.dictionary;
        for e in audit.iter_mut().filter(|e| e.entity == "record") {
            // A checkbox choice is stored as `field___code`.
            let (name, choice) = match e.field.split_once("___") {
                Some((name, code)) => (name, Some(code)),
                None => (e.field.as_str(), None),
            };
            let Some(field) = dictionary.field(name) else {
                continue;
            };
            let choice_label = |code: &str| {
                field
                    .choices
                    .iter()
                    .find(|c| c.code == code)
                    .map(|c| plain_text(&c.label))
            };
            let value = |v: &Option<String>| -> Option<String> {
                let v = v.as_deref()?;
                match (choice, field.field_type) {
                    (None, t) if t.has_choices() => choice_label(v),
                    _ => None,
                }
            };
            let mut label = plain_text(&field.label);
            if let Some(code) = choice
                && let Some(c) = choice_label(code)
            {
                label = format!("{label}: {c}");
            }
            e.labels = Some(AuditLabels {
                field: label,
                old_value: value(&e.old_value),
                new_value: value(&e.new_value),
            });
        }
        Ok(audit)
    }

    pub fn registry(&self) -> &TaskRegistry {
        &self.registry
    }

    /// The root token: a task the desk starts takes a child of it.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Whether the desk runs the demo study.
    pub fn is_demo(&self) -> bool {
        self.demo.load(Ordering::SeqCst)
    }

    /// Reads the REDCap project at `url` with `token` and says what it is,
    /// and how many practice entries binding to it would concern. Writes
    /// nothing.
    pub async fn probe_project(
        &self,
        url: &str,
        token: Token,
    ) -> Result<ProjectSummary, onboard::BindError> {
        let probed = onboard::probe(url, token, Timeouts::default()).await?;
        let mut summary = probed.summary(self.lang());
        if self.is_demo() {
            summary.practice_entries = self.store.readers().record_count().await?;
        }
        Ok(summary)
    }

    /// Binds the desk to its study's REDCap project: the project read
    /// again, then study, sites, this desk's site, forms, the practice
    /// entries' fate and the EDC in one transaction. From then on the desk
    /// is not a demo desk, and the demo EDC stops.
    pub async fn bind_project(
        &self,
        actor: Actor,
        request: BindRequest,
    ) -> Result<BindOutcome, onboard::BindError> {
        let BindRequest {
            url,
            token,
            site,
            practice,
        } = request;
        let probed = onboard::probe(&url, token.clone(), Timeouts::default()).await?;
        let binding = probed.binding(&url, &token, site.as_deref(), practice, self.is_demo())?;
        let api = binding.edc_url.clone();
        let outcome = self.store.writer().bind_study(actor, binding).await?;
        self.demo.store(false, Ordering::SeqCst);
        self.edc.stop_demo().await;
        self.edc.set_target(Some(EdcTarget {
            mode: EdcMode::Real,
            url: api,
            token,
        }));
        let mut prefs = self.prefs();
        prefs.setup_chosen = true;
        self.set_prefs(prefs);
        Ok(outcome)
    }

    /// Remembers that the person chose to try the demo: the first start's
    /// choice is not offered again.
    pub async fn choose_demo(&self, actor: Actor) -> Result<(), StoreError> {
        self.store.writer().choose_demo(actor).await?;
        let mut prefs = self.prefs();
        prefs.setup_chosen = true;
        self.set_prefs(prefs);
        Ok(())
    }

    /// The folder of the database, where saved files go.
    pub fn data_dir(&self) -> &Path {
        self.store.path().parent().unwrap_or(Path::new("."))
    }

    pub fn edc_target(&self) -> Option<EdcTarget> {
        self.edc.target()
    }

    pub fn edc_metrics(&self) -> &Arc<CallMetrics> {
        &self.edc_metrics
    }

    pub fn sync(&self) -> &Scheduler {
        &self.sync
    }

    pub fn sync_settings(&self) -> SyncSettings {
        *self.sync_settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn logs(&self) -> &LogBuffer {
        &self.logs
    }

    pub fn last_profile(&self) -> Option<Arc<Profile>> {
        self.profile
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_last_profile(&self, profile: Profile) {
        *self.profile.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(profile));
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

    /// Who is acting now: the person signed in, beside the computer's
    /// account; with nobody signed in (the command line), the account and
    /// the display name from Settings.
    pub fn actor(&self) -> Actor {
        match self.session().user {
            Some(user) => Actor {
                account: self.account.clone(),
                display_name: user.display_name,
                login: Some(user.login),
            },
            None => Actor {
                account: self.account.clone(),
                display_name: self.prefs().display_name,
                login: None,
            },
        }
    }

    /// Makes a backup of the desk while it runs (SQLite's online backup,
    /// encrypted like the database, with the key file beside it) as a new
    /// folder in `into`, by default `backups` in the data folder.
    pub async fn backup(&self, into: Option<PathBuf>) -> Result<PathBuf, StoreError> {
        let data_dir = self
            .store
            .path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let into = into.unwrap_or_else(|| data_dir.join("backups"));
        let folder =
            crate::store::backup::make_backup(self.store.readers(), &data_dir, &into).await?;
        tracing::info!("backup made");
        Ok(folder)
    }

    /// The computer's account the desk runs under.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The person signed in, and whether the desk is locked.
    pub fn session(&self) -> SessionState {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a command needing `access` may run now.
    pub fn allows(&self, access: Access) -> Result<(), Refusal> {
        self.session
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .allows(access)
    }
}

/// Why forgetting the EDC failed.
#[derive(Debug, thiserror::Error)]
pub enum ForgetEdcError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the demo EDC could not start: {0}")]
    DemoEdc(String),
}

/// On a desk with nothing configured, sets up the demo study with this
/// desk at its first site, and its forms unless forms were imported;
/// answers whether the desk runs the demo study.
async fn set_up_demo(store: &Store, account: &str, prefs: &Settings) -> Result<bool, StoreError> {
    let (study, sites) = demo_study();
    let demo_id = study.id.clone();
    let desk_site = sites[0].id.clone();
    let actor = Actor {
        account: account.to_owned(),
        display_name: prefs.display_name.clone(),
        login: None,
    };
    if store
        .writer()
        .configure_study(actor.clone(), study, sites, desk_site)
        .await?
    {
        tracing::info!("nothing configured: set up the demo study");
    }
    let demo = store
        .readers()
        .setup()
        .await?
        .is_some_and(|s| s.study.id == demo_id);
    // A demo desk gets the demo forms, and an older version of them is
    // brought up to date; forms imported from elsewhere are left alone.
    let current = store.readers().dictionary().await?;
    if demo
        && current
            .as_ref()
            .is_none_or(|c| c.source == DEMO_FORMS_SOURCE)
    {
        let (dictionary, design) = demo_forms();
        store
            .writer()
            .import_dictionary(actor, dictionary, Some(design), DEMO_FORMS_SOURCE.into())
            .await?;
    }
    Ok(demo)
}
