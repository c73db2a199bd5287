//! The HTTP server: its own accept loop over hyper (so that every
//! connection task is spawned through the simulator's `TaskTracker`, and a
//! connection can be cut on purpose), axum routes for `/api/` and the
//! admin endpoints, API tokens, and the faults carried out on a request:
//! PHP's cap on form variables, a ban, rate limit, concurrency cap, a
//! clock stepped back, latency, an injected status, a database error or a
//! hang, a slow commit, a reset or truncated answer, an import applied
//! and then dropped, and the per-record cost.
//!
//! Order of a request: keep its first `max-input-vars` variables, count
//! it, answer a banned address, check its token's rate, wait for a slot
//! under the concurrency cap, step the clock back, take the request's
//! stamp (the time REDCap logs what it does), wait the injected latency,
//! answer an injected status, database error or hang, check the token
//! and rights, wait a write's slow commit, run the call, wait the
//! per-record cost, then send the answer (or cut it).
//!
//! Not here: what a call means (`handlers`), its decisions about faults
//! (`faults`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{NaiveDateTime, TimeDelta};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::faults::{
    Action, BANNED, CallKey, DB_ERROR, FaultSet, FaultState, HANG_LIMIT, Outcome, SpecError,
};
use crate::handlers::design::import_design;
use crate::handlers::import::seed;
use crate::handlers::meta::answer_meta;
use crate::handlers::{Call, Job, action_of, authorize, parse_call, run_job};
use crate::project::{Project, ProjectStatus};
use crate::protocol::{
    Answer, ApiError, ApiUser, Format, Params, TokenError, check_token, is_token,
};
use crate::rights::Rights;
use crate::stats::{Collector, Stats};
use crate::store::{Database, StoreError, StoreHandle};

/// Why the simulator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a form cannot be locked or unlocked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the project has no form {0}")]
    UnknownForm(String),
    #[error("the project has no event {0}")]
    UnknownEvent(String),
    #[error("the project is longitudinal: name the event")]
    NoEvent,
    #[error("the server is shutting down")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything a simulator starts from.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub project: Project,
    pub tokens: Vec<ApiUser>,
    pub faults: FaultSet,
    /// Seeds the fault decisions: the same seed and the same sequence of
    /// requests give the same faults.
    pub seed: u64,
    /// Serve `/admin/stats` and `/admin/faults`.
    pub admin: bool,
    /// `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    pub database: Database,
    pub clock: Clock,
}

impl SimConfig {
    /// A project on `127.0.0.1:0` (a free port), in memory, without
    /// faults, with the demo tokens whose groups the project has (the
    /// unbound one always).
    pub fn new(project: Project) -> SimConfig {
        let tokens = crate::project::demo::demo_users()
            .into_iter()
            .filter(|u| {
                u.dag.as_ref().is_none_or(|d| {
                    project
                        .design()
                        .dags
                        .iter()
                        .any(|g| &g.unique_group_name == d)
                })
            })
            .collect();
        SimConfig {
            project,
            tokens,
            faults: FaultSet::default(),
            seed: 0,
            admin: false,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: Database::Memory,
            clock: Clock::Local,
        }
    }
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Loads the records, binds the address and starts serving.
    pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
        let mut users = HashMap::new();
        for mut u in config.tokens {
            check_token(&u.token)?;
            u.token = u.token.to_ascii_uppercase();
            if let Some(d) = &u.dag
                && config.project.dag_id(d).is_none()
            {
                return Err(TokenError::UnknownDag {
                    token: u.token,
                    dag: d.clone(),
                }
                .into());
            }
            if users.contains_key(&u.token) {
                return Err(TokenError::Duplicate(u.token).into());
            }
            users.insert(u.token.clone(), u);
        }
        let project = Arc::new(config.project);
        // Bound before the store thread starts, so that a port in use
        // leaves nothing behind.
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.bind,
            source,
        })?;
        let now = config.clock.now();
        let (store, store_thread) =
            StoreHandle::start(&config.database, |store| seed(store, &project, now))?;
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let shared = Arc::new(Shared {
            project: Mutex::new(project),
            users: Mutex::new(users),
            store: Mutex::new(Some(store)),
            capacity: Mutex::new(semaphore(config.faults.max_concurrent)),
            faults: Mutex::new(FaultState::new(config.faults, config.seed)),
            stats: Collector::default(),
            clock: Mutex::new(config.clock),
            cancel: cancel.clone(),
        });
        let router = router(shared.clone(), config.admin);
        tracker.spawn(accept_loop(
            listener,
            router,
            cancel.clone(),
            tracker.clone(),
        ));
        tracing::info!(%addr, "edc-sim listening");
        Ok(RunningSim {
            addr,
            shared,
            cancel,
            tracker,
            store_thread: Some(store_thread),
        })
    }
}

/// A running simulator. Dropping it without [`RunningSim::shutdown`]
/// stops it too, without waiting.
pub struct RunningSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    store_thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningSim {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`, what a desk calls the server's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/`, the API endpoint.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Waits until at least `n` faults of `kind` (a [`Stats::faults`] key,
    /// such as `slow-commit`) have been counted since the last
    /// [`RunningSim::reset_stats`]: a test's signal that a request has
    /// reached a fault.
    pub async fn fault_seen(&self, kind: &str, n: u64) {
        self.shared.stats.fault_seen(kind, n).await;
    }

    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    pub fn faults(&self) -> FaultSet {
        self.shared.faults().set().clone()
    }

    /// Puts `faults` in force for the requests that come next (`next=`
    /// counts start over; the random sequence goes on).
    pub fn set_faults(&self, faults: FaultSet) {
        self.shared.set_faults(faults);
    }

    /// Lifts every ban (`ban=N`), as a REDCap administrator does; the
    /// addresses lifted. Counting toward a ban starts over.
    pub fn lift_ban(&self) -> Vec<IpAddr> {
        self.shared.faults().lift_bans()
    }

    /// Moves the server's clock (for the log, `dateRangeBegin` and
    /// `today`).
    pub fn set_clock(&self, clock: Clock) {
        *lock(&self.shared.clock) = clock;
    }

    /// The server's local time now.
    pub fn now(&self) -> NaiveDateTime {
        self.shared.now()
    }

    /// The project in force now (a design import in development puts a
    /// new one in force).
    pub fn project(&self) -> Arc<Project> {
        self.shared.project()
    }

    /// Moves the project to another status, as REDCap's project setup
    /// does; the requests that come next see it.
    pub fn set_status(&self, status: ProjectStatus) {
        let mut project = lock(&self.shared.project);
        *project = Arc::new(project.as_ref().clone().with_status(status));
    }

    /// The API users, tokens in upper case.
    pub fn users(&self) -> Vec<ApiUser> {
        let mut u: Vec<ApiUser> = lock(&self.shared.users).values().cloned().collect();
        u.sort_by(|a, b| a.token.cmp(&b.token));
        u
    }

    /// Gives `token`'s user these rights, for the requests that come next
    /// (REDCap's User Rights page changed while the server runs); `false`
    /// when no user has the token.
    pub fn set_rights(&self, token: &str, rights: Rights) -> bool {
        self.shared.set_rights(token, rights).is_some()
    }

    /// Locks `record`'s `form` at `event` (every instance of it), as
    /// REDCap's lock on a data entry form does: imports that change its
    /// values are refused with [`crate::LOCKED_FORM`] rows. `event` is
    /// `None` in a classic project.
    pub async fn lock_form(
        &self,
        record: &str,
        event: Option<&str>,
        form: &str,
    ) -> Result<(), LockError> {
        self.shared.set_lock(record, event, form, true).await
    }

    /// Lifts a lock of [`RunningSim::lock_form`].
    pub async fn unlock_form(
        &self,
        record: &str,
        event: Option<&str>,
        form: &str,
    ) -> Result<(), LockError> {
        self.shared.set_lock(record, event, form, false).await
    }

    /// Stops accepting, ends hung requests, lets answers in progress
    /// finish, waits for every connection task, and stops the store thread
    /// once it has committed what it was given.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        lock(&self.shared.store).take();
        if let Some(thread) = self.store_thread.take() {
            let joined = self.tracker.spawn_blocking(move || thread.join());
            if let Ok(Err(_)) = joined.await {
                tracing::error!("the store thread panicked");
            }
        }
        tracing::info!(addr = %self.addr, "edc-sim stopped");
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn semaphore(cap: Option<u32>) -> Option<Arc<Semaphore>> {
    cap.map(|n| Arc::new(Semaphore::new(n as usize)))
}

/// A mutex that a panic elsewhere leaves usable: every value behind one
/// here is valid at all times.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What every request handler shares.
struct Shared {
    /// The project in force. A request takes it once, when its call is
    /// read, and answers from that one throughout (a record export's
    /// columns are positions in its layout); a design import replaces it
    /// under the lock, so that two imports cannot both start from the same
    /// project.
    project: Mutex<Arc<Project>>,
    /// By token, in upper case. A request takes its user's rights once,
    /// when its token is checked.
    users: Mutex<HashMap<String, ApiUser>>,
    /// `None` once the server is shutting down.
    store: Mutex<Option<StoreHandle>>,
    faults: Mutex<FaultState>,
    capacity: Mutex<Option<Arc<Semaphore>>>,
    stats: Collector,
    clock: Mutex<Clock>,
    cancel: CancellationToken,
}

impl Shared {
    fn faults(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.faults)
    }

    fn set_faults(&self, faults: FaultSet) {
        // Requests already waiting keep the old cap's semaphore.
        *lock(&self.capacity) = semaphore(faults.max_concurrent);
        self.faults().replace(faults);
    }

    fn now(&self) -> NaiveDateTime {
        lock(&self.clock).now()
    }

    async fn set_lock(
        &self,
        record: &str,
        event: Option<&str>,
        form: &str,
        locked: bool,
    ) -> Result<(), LockError> {
        let project = self.project();
        let layout = project.layout();
        if !layout.forms.iter().any(|f| f == form) {
            return Err(LockError::UnknownForm(form.to_owned()));
        }
        let event = match event.filter(|e| !e.is_empty()) {
            Some(e) if layout.is_event(e) => e.to_owned(),
            Some(e) => return Err(LockError::UnknownEvent(e.to_owned())),
            None if layout.longitudinal => return Err(LockError::NoEvent),
            None => layout.events[0].clone(),
        };
        let store = lock(&self.store).clone().ok_or(LockError::Closed)?;
        let (record, form) = (record.to_owned(), form.to_owned());
        store
            .call(move |s| s.set_lock(&record, &event, &form, locked))
            .await
            .map_err(|_| LockError::Closed)??;
        Ok(())
    }

    /// Gives `token`'s user these rights; the user, or `None` when no user
    /// has the token.
    fn set_rights(&self, token: &str, rights: Rights) -> Option<ApiUser> {
        let mut users = lock(&self.users);
        let u = users.get_mut(&token.trim().to_ascii_uppercase())?;
        u.rights = rights;
        Some(u.clone())
    }

    fn project(&self) -> Arc<Project> {
        lock(&self.project).clone()
    }

    /// Waits `d`; `false` when the server shuts down first.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.cancel.cancelled() => false,
        }
    }

    fn respond(&self, status: u16, content_type: &'static str, body: String) -> Response {
        self.stats.status(status);
        let mut r = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    }

    fn error(&self, e: &ApiError) -> Response {
        self.respond(e.status, "application/json; charset=utf-8", e.body())
    }

    fn too_many(&self, retry_after_s: u64) -> Response {
        let mut r = self.error(&ApiError {
            status: 429,
            message: format!("Too many requests: retry after {retry_after_s} seconds"),
        });
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        r
    }

    fn shutting_down(&self) -> Response {
        self.error(&ApiError {
            status: 503,
            message: "The server is shutting down".into(),
        })
    }

    /// A banned address's answer: 429 in plain text, without
    /// `Retry-After` (the ban lasts until an administrator lifts it).
    fn banned(&self) -> Response {
        self.stats.fault("ban");
        self.respond(429, "text/plain; charset=utf-8", BANNED.to_owned())
    }

    /// Checks the token and runs the call, stamped `started`; a write
    /// waits `slow_commit` before it runs.
    async fn answer(
        &self,
        params: &Params,
        started: NaiveDateTime,
        slow_commit: Duration,
    ) -> Result<(Answer, usize), ApiError> {
        let token = params.get("token").map(str::trim).unwrap_or_default();
        let user = lock(&self.users)
            .get(&token.to_ascii_uppercase())
            .filter(|_| is_token(token))
            .cloned()
            .ok_or_else(ApiError::forbidden)?;
        let project = self.project();
        let call = parse_call(params, &project)?;
        authorize(&call, &user)?;
        match call {
            Call::Meta(m) => Ok((answer_meta(&project, &m)?, 0)),
            Call::Design(call) => {
                let mut in_force = lock(&self.project);
                let (next, answer) = import_design(&in_force, &user, &call)?;
                *in_force = Arc::new(next);
                Ok((answer, 0))
            }
            Call::Job(job) => {
                let closed = || ApiError {
                    status: 503,
                    message: "The server is shutting down".into(),
                };
                if matches!(job, Job::Import(_) | Job::Delete(_)) && !slow_commit.is_zero() {
                    self.stats.fault("slow-commit");
                    if !self.pause(slow_commit).await {
                        return Err(closed());
                    }
                }
                let store = lock(&self.store).clone().ok_or_else(closed)?;
                let now = started;
                let reply = store
                    .call(move |store| run_job(store, &project, &user, now, job))
                    .await
                    .map_err(|_| closed())??;
                Ok((reply.body, reply.rows))
            }
        }
    }
}

/// A connection's switch: a handler flips it to have its connection cut
/// (with a TCP reset when `rst`), answer or not.
#[derive(Clone)]
struct ConnCtl {
    kill: CancellationToken,
    rst: Arc<AtomicBool>,
    /// The client's address, which a ban is for.
    peer: IpAddr,
}

impl ConnCtl {
    fn cut(&self, rst: bool) {
        if rst {
            self.rst.store(true, Ordering::SeqCst);
        }
        self.kill.cancel();
    }
}

/// A body that sends `data` and then has its connection cut, never ending
/// (so hyper never finishes the message).
struct CutBody {
    data: Option<Bytes>,
    conn: ConnCtl,
    rst: bool,
}

impl hyper::body::Body for CutBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(d) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        // hyper has written the part above; the connection task drops the
        // connection (and with it this body) when the switch flips.
        self.conn.cut(self.rst);
        Poll::Pending
    }
}

fn router(shared: Arc<Shared>, admin: bool) -> Router {
    let mut r = Router::new()
        .route("/api/", post(api))
        .route("/api", post(api));
    if admin {
        r = r
            .route("/admin/stats", get(admin_stats).delete(admin_reset_stats))
            .route("/admin/faults", get(admin_faults).post(admin_set_faults))
            .route("/admin/rights", get(admin_users).post(admin_set_rights))
            .route("/admin/lock", post(admin_lock))
            .route("/admin/ban", axum::routing::delete(admin_lift_ban));
    }
    // REDCap's own limit is the PHP upload size; imports of a few
    // thousand rows fit well within this.
    r.layer(DefaultBodyLimit::max(64 << 20)).with_state(shared)
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tracker.spawn(serve_connection(
                    stream,
                    peer.ip(),
                    router.clone(),
                    cancel.clone(),
                ));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little
                // rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
    }
}

/// A second handle on the socket, to set `SO_LINGER=0` before the last
/// close when a connection is cut with a reset.
#[cfg(unix)]
fn socket_handle(s: &TcpStream) -> Option<socket2::Socket> {
    use std::os::fd::AsFd as _;
    s.as_fd()
        .try_clone_to_owned()
        .ok()
        .map(socket2::Socket::from)
}

#[cfg(windows)]
fn socket_handle(s: &TcpStream) -> Option<socket2::Socket> {
    use std::os::windows::io::AsSocket as _;
    s.as_socket()
        .try_clone_to_owned()
        .ok()
        .map(socket2::Socket::from)
}

#[cfg(not(any(unix, windows)))]
fn socket_handle(_: &TcpStream) -> Option<socket2::Socket> {
    None
}

async fn serve_connection(
    stream: TcpStream,
    peer: IpAddr,
    router: Router,
    cancel: CancellationToken,
) {
    let ctl = ConnCtl {
        kill: CancellationToken::new(),
        rst: Arc::new(AtomicBool::new(false)),
        peer,
    };
    let socket = socket_handle(&stream);
    let service = TowerToHyperService::new(router.layer(Extension(ctl.clone())));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = ctl.kill.cancelled() => {}
        _ = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = ctl.kill.cancelled() => {}
            }
        }
    }
    if ctl.rst.load(Ordering::SeqCst)
        && let Some(s) = &socket
    {
        // The last close of the socket (this handle's or the
        // connection's, whichever drops later) now sends RST.
        let _ = s.set_linger(Some(Duration::ZERO));
    }
}

async fn api(
    State(s): State<Arc<Shared>>,
    Extension(conn): Extension<ConnCtl>,
    body: Bytes,
) -> Response {
    let mut params = match Params::parse(&body) {
        Ok(p) => p,
        Err(e) => {
            s.stats.request("(unreadable)/export");
            if s.faults().ban_check(conn.peer) {
                return s.banned();
            }
            return s.error(&e);
        }
    };
    // PHP cuts the variables before REDCap reads any of them.
    let max_input_vars = s.faults().set().max_input_vars;
    if let Some(n) = max_input_vars.map(|n| n as usize)
        && params.len() > n
    {
        s.stats.fault("max-input-vars");
        tracing::warn!(
            sent = params.len(),
            kept = n,
            "PHP Warning: Input variables exceeded {n}; the rest are dropped"
        );
        params.truncate(n);
    }
    let call = CallKey {
        content: params.get("content").unwrap_or_default().to_owned(),
        action: action_of(&params),
    };
    let label = call.label();
    s.stats.request(&label);
    if s.faults().ban_check(conn.peer) {
        return s.banned();
    }
    let token = params.get("token").unwrap_or_default().trim();
    let limited = s.faults().rate_check(token, Instant::now());
    if let Some(retry_after_s) = limited {
        s.stats.fault("rate");
        return s.too_many(retry_after_s);
    }
    let capacity = lock(&s.capacity).clone();
    let _permit = match capacity {
        None => None,
        Some(sem) => tokio::select! {
            p = sem.acquire_owned() => p.ok(),
            _ = s.cancel.cancelled() => return s.shutting_down(),
        },
    };
    let _in_flight = s.stats.enter();
    let plan = s.faults().plan(&call);
    if plan.clock_back_minutes > 0 {
        s.stats.fault("clock-back");
        let back = TimeDelta::minutes(i64::try_from(plan.clock_back_minutes).unwrap_or(i64::MAX));
        let mut clock = lock(&s.clock);
        *clock = clock.stepped_back(back);
    }
    // REDCap stamps what a request does with the time PHP started it.
    let started = s.now();
    if !plan.latency.is_zero() {
        s.stats.fault("latency");
        if !s.pause(plan.latency).await {
            return s.shutting_down();
        }
    }
    if let Some(o) = plan.outcome {
        s.stats.fault(&o.label());
    }
    match plan.outcome {
        Some(Outcome::Status(code)) => {
            let reason = StatusCode::from_u16(code)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("Server Error");
            return s.respond(
                code,
                "text/html; charset=utf-8",
                format!("<html><body><h1>{code} {reason}</h1></body></html>\n"),
            );
        }
        Some(Outcome::TooManyRequests { retry_after_s }) => return s.too_many(retry_after_s),
        Some(Outcome::DbError) => {
            return s.respond(200, "text/plain; charset=utf-8", DB_ERROR.to_owned());
        }
        Some(Outcome::Hang) => {
            s.pause(HANG_LIMIT).await;
            conn.cut(false);
            return std::future::pending().await;
        }
        _ => {}
    }
    // An import answers in `returnFormat`, an export in `format`; errors
    // come in `returnFormat`.
    let return_format = Format::of(&params, "returnFormat");
    let answer_format = match action_of(&params) {
        Action::Export => Format::of(&params, "format"),
        Action::Import | Action::Delete => return_format,
    };
    let (status, answer, rows) = match s.answer(&params, started, plan.slow_commit).await {
        Ok((answer, rows)) => (200, answer.into_format(answer_format), rows),
        Err(e) => (e.status, e.answer(return_format), 0),
    };
    let (content_type, text) = match answer {
        Answer::Json(j) => ("application/json; charset=utf-8", j),
        Answer::Text(t) => ("text/plain; charset=utf-8", t),
        Answer::Csv(c) => ("text/csv; charset=utf-8", c),
    };
    tracing::debug!(call = %label, status, rows, "answered");
    if rows > 0 && !plan.record_cost.is_zero() {
        s.stats.fault("record-cost");
        let cost = plan
            .record_cost
            .saturating_mul(u32::try_from(rows).unwrap_or(u32::MAX));
        if !s.pause(cost).await {
            return s.shutting_down();
        }
    }
    match plan.outcome {
        Some(Outcome::ApplyThenDrop) => {
            conn.cut(true);
            std::future::pending().await
        }
        Some(o @ (Outcome::Reset | Outcome::Truncate)) => {
            let mut r = s.respond(status, content_type, String::new());
            let full = Bytes::from(text);
            let part = full.slice(..full.len() / 2);
            if o == Outcome::Truncate {
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
            } else {
                r.headers_mut().remove(header::CONTENT_LENGTH);
            }
            *r.body_mut() = Body::new(CutBody {
                data: Some(part),
                conn,
                rst: o == Outcome::Reset,
            });
            r
        }
        _ => s.respond(status, content_type, text),
    }
}

async fn admin_stats(State(s): State<Arc<Shared>>) -> Json<Stats> {
    Json(s.stats.snapshot())
}

async fn admin_reset_stats(State(s): State<Arc<Shared>>) -> StatusCode {
    s.stats.reset();
    StatusCode::NO_CONTENT
}

/// The fault set as the admin endpoint shows it: the spec and the JSON.
#[derive(Serialize)]
struct FaultsOut {
    spec: String,
    #[serde(flatten)]
    faults: FaultSet,
}

fn faults_out(set: FaultSet) -> Json<FaultsOut> {
    Json(FaultsOut {
        spec: set.to_string(),
        faults: set,
    })
}

async fn admin_faults(State(s): State<Arc<Shared>>) -> Json<FaultsOut> {
    faults_out(s.faults().set().clone())
}

/// Replaces the fault set with the body: `{"spec": "..."}` or a fault
/// set's JSON (checked by writing it as a spec and reading it back).
async fn admin_set_faults(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let bad = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("the body is not JSON: {e}")),
    };
    let parsed: Result<FaultSet, String> = match value.get("spec").and_then(|v| v.as_str()) {
        Some(spec) => spec.parse().map_err(|e: SpecError| e.to_string()),
        None => serde_json::from_value::<FaultSet>(value)
            .map_err(|e| e.to_string())
            .and_then(|set| {
                set.to_string()
                    .parse()
                    .map_err(|e: SpecError| e.to_string())
            }),
    };
    match parsed {
        Ok(set) => {
            s.set_faults(set.clone());
            faults_out(set).into_response()
        }
        Err(e) => bad(e),
    }
}

async fn admin_users(State(s): State<Arc<Shared>>) -> Json<Vec<ApiUser>> {
    let mut u: Vec<ApiUser> = lock(&s.users).values().cloned().collect();
    u.sort_by(|a, b| a.token.cmp(&b.token));
    Json(u)
}

/// Gives a token's user new rights: `{"token": HEX, "rights": {...}}` (the
/// rights' JSON; a field left out takes the default's value) or
/// `{"token": HEX, "spec": "site,-create"}` (a token spec's words).
/// Answers the user.
async fn admin_set_rights(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let bad = |status: StatusCode, message: String| {
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let Some(token) = value.get("token").and_then(|t| t.as_str()) else {
        return bad(StatusCode::BAD_REQUEST, "the body names no token".into());
    };
    let rights = match (value.get("spec"), value.get("rights")) {
        (Some(spec), None) => match spec.as_str().map(Rights::parse_words) {
            Some(Ok(r)) => r,
            Some(Err(word)) => {
                return bad(
                    StatusCode::BAD_REQUEST,
                    TokenError::UnknownRight {
                        token: token.to_owned(),
                        right: word,
                    }
                    .to_string(),
                );
            }
            None => return bad(StatusCode::BAD_REQUEST, "spec is not text".into()),
        },
        (None, Some(rights)) => match serde_json::from_value::<Rights>(rights.clone()) {
            Ok(r) => r,
            Err(e) => return bad(StatusCode::BAD_REQUEST, format!("rights: {e}")),
        },
        _ => {
            return bad(
                StatusCode::BAD_REQUEST,
                "give the rights as \"spec\" (words) or \"rights\" (JSON), one of them".into(),
            );
        }
    };
    match s.set_rights(token, rights) {
        Some(u) => Json(u).into_response(),
        None => bad(StatusCode::NOT_FOUND, format!("no user has token {token}")),
    }
}

/// What `POST /admin/lock` takes.
#[derive(serde::Deserialize)]
struct LockIn {
    record: String,
    #[serde(default)]
    event: Option<String>,
    form: String,
    /// `false` unlocks.
    #[serde(default = "yes")]
    locked: bool,
}

fn yes() -> bool {
    true
}

/// Locks (or with `"locked": false` unlocks) a record's form at an event:
/// `{"record": "1", "event": "baseline_arm_1", "form": "vitals"}`.
async fn admin_lock(State(s): State<Arc<Shared>>, Json(body): Json<LockIn>) -> Response {
    match s
        .set_lock(&body.record, body.event.as_deref(), &body.form, body.locked)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// Lifts every ban: `{"lifted": ["127.0.0.1"]}`.
async fn admin_lift_ban(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "lifted": s.faults().lift_bans() }))
}
