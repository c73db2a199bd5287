//! The writer actor: a named thread that owns the only writable connection.
//!
//! Callers hold a cloneable [`WriterHandle`] and send typed [`Command`]s
//! over one of two bounded channels, the lanes: [`Lane::Interactive`] for
//! edits a person is waiting for, [`Lane::Bulk`] for sync pulls and imports.
//! The writer groups commands into one transaction (group commit): it
//! blocks for the first command, then takes whatever else is queued,
//! interactive commands first, up to [`MAX_BATCH_COMMANDS`] commands or
//! [`MAX_BATCH_TIME`] of work, runs each inside its own SAVEPOINT so that a
//! failing command rolls back alone and gets its own error, COMMITs once,
//! and only then replies to every caller. A reply therefore still means
//! "durably committed" (WAL, `synchronous=FULL`), at one fsync per batch
//! instead of one per edit.
//!
//! Commands run one at a time, in the writer's order, so a read-modify-write
//! inside a command (the subject-id sequence, a status check, the audit
//! chain's last hash) can never interleave with another: lost updates are
//! impossible by construction, not by locking discipline.
//!
//! Deliberately absent: any unbounded queue. A full bulk lane makes bulk
//! producers wait (backpressure); it never delays an interactive edit by
//! more than one batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};
use ts_rs::TS;

use super::people::{DeskUser, UserChange};
use super::read::{DictionaryImport, SyncSettings};
use super::record::Now;
use super::signoff::{SignOff, SignOffRequest};
use super::sync::{Keep, PullMark, SyncApplied, SyncWrite};
use super::write;
use super::{Result, StoreError};
use crate::domain::{Action, Actor, RecordEdit, ScreeningInput, Site, Study, Subject};
use crate::histogram::{Percentiles, record};
use crate::i18n::Lang;
use crate::metadata::Dictionary;
use crate::metadata::design::Design;
use crate::tasks::{TaskKind, TaskRegistry, TaskState};
use crate::vault::AuditMacKey;

/// Most commands in one transaction. Past a few hundred, a bigger batch
/// saves almost nothing more on fsyncs and holds replies longer.
pub const MAX_BATCH_COMMANDS: usize = 512;
/// Most work in one transaction before it commits, so that an interactive
/// edit that arrives behind bulk writes is answered within about this much
/// plus one fsync (the target is 20 ms at p99).
pub const MAX_BATCH_TIME: Duration = Duration::from_millis(4);

/// Which queue a command waits in. The writer always takes interactive
/// commands first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// A person is waiting for the answer.
    Interactive,
    /// Sync pulls, imports: many rows, nobody watching each one.
    Bulk,
}

/// A request to the writer. Private: callers use [`WriterHandle`]'s methods.
enum Command {
    ConfigureStudy {
        study: Study,
        sites: Vec<Site>,
        desk_site_id: String,
        actor: Actor,
        reply: oneshot::Sender<Result<bool>>,
    },
    ScreenSubject {
        input: ScreeningInput,
        actor: Actor,
        reply: oneshot::Sender<Result<Subject>>,
    },
    EditScreening {
        subject_id: String,
        input: ScreeningInput,
        reason: Option<String>,
        actor: Actor,
        reply: oneshot::Sender<Result<Subject>>,
    },
    ApplyAction {
        subject_id: String,
        action: Action,
        actor: Actor,
        reply: oneshot::Sender<Result<Subject>>,
    },
    SetPreferences {
        display_name: String,
        language: Lang,
        actor: Actor,
        reply: oneshot::Sender<Result<()>>,
    },
    SetTarget {
        site: Option<String>,
        target: Option<u32>,
        reason: String,
        actor: Actor,
        reply: oneshot::Sender<Result<()>>,
    },
    SetEdcConnection {
        connection: Option<(String, String)>,
        actor: Actor,
        reply: oneshot::Sender<Result<()>>,
    },
    SetSyncSettings {
        settings: SyncSettings,
        actor: Actor,
        reply: oneshot::Sender<Result<()>>,
    },
    SaveUser {
        change: UserChange,
        actor: Actor,
        reply: oneshot::Sender<Result<DeskUser>>,
    },
    SignOff {
        request: SignOffRequest,
        actor: Actor,
        reply: oneshot::Sender<Result<SignOff>>,
    },
    RecordSignIn {
        login: String,
        ok: bool,
        os_account: String,
        reply: oneshot::Sender<Result<()>>,
    },
    SyncApply {
        writes: Vec<SyncWrite>,
        mark: Option<PullMark>,
        actor: Actor,
        reply: oneshot::Sender<Result<SyncApplied>>,
    },
    ResolveConflict {
        id: i64,
        keep: Keep,
        reason: String,
        actor: Actor,
        reply: oneshot::Sender<Result<()>>,
    },
    RenumberRecord {
        record_id: String,
        actor: Actor,
        reply: oneshot::Sender<Result<String>>,
    },
    SetValues {
        edit: RecordEdit,
        actor: Actor,
        reply: oneshot::Sender<Result<u32>>,
    },
    ImportDictionary {
        dictionary: Box<Dictionary>,
        design: Option<Box<Design>>,
        source: String,
        actor: Actor,
        reply: oneshot::Sender<Result<DictionaryImport>>,
    },
    BindStudy {
        binding: Box<write::Binding>,
        actor: Actor,
        reply: oneshot::Sender<Result<write::BindOutcome>>,
    },
    ChooseDemo {
        actor: Actor,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Stop after the commands queued before this one.
    Close { reply: oneshot::Sender<()> },
}

/// A command with what travels along: the caller's span (entered while
/// the command runs), its lane and when it was queued.
struct Envelope {
    span: tracing::Span,
    lane: Lane,
    queued: Instant,
    command: Command,
}

/// What the writer measures. Counters are written by the writer thread
/// only; histograms are behind a mutex the writer holds for microseconds
/// once per batch.
struct Metrics {
    commits: AtomicU64,
    failed_commands: AtomicU64,
    rows: AtomicU64,
    histograms: Mutex<Histograms>,
    rate: Mutex<RateSample>,
}

struct Histograms {
    batch_size: Histogram<u64>,
    commit_us: Histogram<u64>,
    ack_us: [Histogram<u64>; 2],
    acked: [u64; 2],
}

/// The totals at the last rate computation, and the rates then.
struct RateSample {
    at: Instant,
    commits: u64,
    rows: u64,
    commits_per_sec: f64,
    rows_per_sec: f64,
}

impl Metrics {
    fn new() -> Metrics {
        // Three significant digits, auto-resizing: a few kilobytes each.
        let h = || Histogram::new(3).expect("3 significant figures is a valid precision");
        Metrics {
            commits: AtomicU64::new(0),
            failed_commands: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            histograms: Mutex::new(Histograms {
                batch_size: h(),
                commit_us: h(),
                ack_us: [h(), h()],
                acked: [0, 0],
            }),
            rate: Mutex::new(RateSample {
                at: Instant::now(),
                commits: 0,
                rows: 0,
                commits_per_sec: 0.0,
                rows_per_sec: 0.0,
            }),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// One lane's queue and how fast its commands are answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, TS)]
pub struct LaneStats {
    /// Commands waiting in the channel now.
    pub queue_depth: u32,
    pub queue_capacity: u32,
    /// Commands answered since the app started.
    #[ts(type = "number")]
    pub answered: u64,
    /// From queued to answered (after COMMIT), in milliseconds, since start.
    pub ack_ms: Percentiles,
}

/// A snapshot of the writer for the diagnostics panel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, TS)]
pub struct WriterStats {
    pub interactive: LaneStats,
    pub bulk: LaneStats,
    /// Transactions committed since the app started.
    #[ts(type = "number")]
    pub commits: u64,
    /// Commands that failed and were rolled back alone.
    #[ts(type = "number")]
    pub failed_commands: u64,
    /// Rows written (data, audit and outbox) since the app started.
    #[ts(type = "number")]
    pub rows: u64,
    /// Commands per transaction.
    pub batch_size: Percentiles,
    /// Time of COMMIT itself (the fsync), in milliseconds.
    pub commit_ms: Percentiles,
    /// Over the last second or so.
    pub commits_per_sec: f64,
    pub rows_per_sec: f64,
}

/// The answer to a queued command, sent after its batch committed.
#[must_use = "an edit is only known to be saved once its Ack resolves"]
pub struct Ack<T>(oneshot::Receiver<Result<T>>);

impl<T> Ack<T> {
    /// Waits until the command is committed (or has failed).
    pub async fn committed(self) -> Result<T> {
        self.0.await.map_err(|_| StoreError::WriterClosed)?
    }
}

/// A cloneable way to send commands to the writer.
#[derive(Clone)]
pub struct WriterHandle {
    interactive: mpsc::Sender<Envelope>,
    bulk: mpsc::Sender<Envelope>,
    metrics: Arc<Metrics>,
}

pub(super) fn spawn(
    conn: Connection,
    interactive_capacity: usize,
    bulk_capacity: usize,
    registry: &TaskRegistry,
    head_key: Option<AuditMacKey>,
) -> Result<(WriterHandle, JoinHandle<()>)> {
    let (interactive, interactive_rx) = mpsc::channel(interactive_capacity);
    let (bulk, bulk_rx) = mpsc::channel(bulk_capacity);
    let metrics = Arc::new(Metrics::new());
    let task = registry.thread("SQLite writer", TaskKind::Writer);
    let thread_metrics = metrics.clone();
    let join = std::thread::Builder::new()
        .name("sitedesk-writer".into())
        .spawn(move || {
            task.set_state(TaskState::Running);
            let lanes = Lanes {
                interactive: interactive_rx,
                bulk: bulk_rx,
                interactive_open: true,
                bulk_open: true,
            };
            run(conn, lanes, &thread_metrics, head_key.as_ref());
            task.finish(TaskState::Done);
        })
        .map_err(|e| StoreError::io("writer thread", e))?;
    Ok((
        WriterHandle {
            interactive,
            bulk,
            metrics,
        },
        join,
    ))
}

/// The two receiving ends, interactive first.
struct Lanes {
    interactive: mpsc::Receiver<Envelope>,
    bulk: mpsc::Receiver<Envelope>,
    interactive_open: bool,
    bulk_open: bool,
}

impl Lanes {
    /// Waits for the next command, interactive first; `None` once both
    /// lanes are closed and empty.
    async fn next(&mut self) -> Option<Envelope> {
        loop {
            if !self.interactive_open && !self.bulk_open {
                return None;
            }
            tokio::select! {
                biased;
                m = self.interactive.recv(), if self.interactive_open => match m {
                    Some(e) => return Some(e),
                    None => self.interactive_open = false,
                },
                m = self.bulk.recv(), if self.bulk_open => match m {
                    Some(e) => return Some(e),
                    None => self.bulk_open = false,
                },
            }
        }
    }

    /// A command that is already queued, interactive first.
    fn try_next(&mut self) -> Option<Envelope> {
        for rx in [&mut self.interactive, &mut self.bulk] {
            match rx.try_recv() {
                Ok(e) => return Some(e),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
            }
        }
        None
    }

    fn close(&mut self) {
        self.interactive.close();
        self.bulk.close();
    }
}

/// The writer loop. Ends on `Close` or when every handle has been dropped;
/// dropping `conn` then closes the file.
fn run(mut conn: Connection, mut lanes: Lanes, metrics: &Metrics, head_key: Option<&AuditMacKey>) {
    // A runtime of the writer's own, only to wait on two channels at once.
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "writer cannot start its runtime");
            return;
        }
    };
    while let Some(first) = rt.block_on(lanes.next()) {
        if let Some(reply) = run_batch(&mut conn, first, &mut lanes, metrics, head_key) {
            lanes.close();
            // Commands that raced in before `close()` took effect still get
            // their answer: they are applied, not dropped.
            while let Some(next) = lanes.try_next() {
                if let Some(again) = run_batch(&mut conn, next, &mut lanes, metrics, head_key) {
                    let _ = again.send(());
                }
            }
            let _ = reply.send(());
            return;
        }
    }
}

/// Sends a command's reply, given the batch's commit error if any.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// A command that ran inside the batch's transaction and waits for COMMIT
/// before its caller hears back.
struct Pending {
    lane: Lane,
    queued: Instant,
    /// Sends the command's own result, or the commit's error if the
    /// command succeeded but the batch did not commit.
    answer: Answer,
}

fn pending<T: Send + 'static>(
    env_lane: Lane,
    queued: Instant,
    result: Result<T>,
    reply: oneshot::Sender<Result<T>>,
) -> Pending {
    Pending {
        lane: env_lane,
        queued,
        answer: Box::new(move |commit_error| {
            let result = match (result, commit_error) {
                (Ok(_), Some(e)) => Err(StoreError::NotCommitted(e.to_owned())),
                (r, _) => r,
            };
            let _ = reply.send(result);
        }),
    }
}

/// Runs `first` and whatever else is queued in one transaction, commits,
/// then answers every caller. Returns the reply of a `Close` it met.
fn run_batch(
    conn: &mut Connection,
    first: Envelope,
    lanes: &mut Lanes,
    metrics: &Metrics,
    head_key: Option<&AuditMacKey>,
) -> Option<oneshot::Sender<()>> {
    let first = match first {
        Envelope {
            command: Command::Close { reply },
            ..
        } => return Some(reply),
        other => other,
    };
    let started = Instant::now();
    let mut done: Vec<Pending> = Vec::new();
    let mut close = None;
    let mut aborted: Option<String> = None;
    let (mut rows, mut succeeded) = (0u64, 0u64);
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // Not even BEGIN worked (the disk is gone): the command fails.
            let message = e.to_string();
            if let Some(p) = execute(Err(&message), first, &Now::current(), metrics).pending {
                (p.answer)(None);
            }
            return None;
        }
    };
    let now = Now::current();
    let mut next = Some(first);
    while let Some(env) = next.take() {
        if let Command::Close { reply } = env.command {
            close = Some(reply);
            break;
        }
        let _entered = env.span.clone().entered();
        let ran = execute(Ok(&tx), env, &now, metrics);
        done.extend(ran.pending);
        if ran.ok {
            succeeded += 1;
            rows += ran.rows;
        }
        if let Some(fatal) = ran.fatal {
            // A savepoint could not be released or rolled back, or the
            // database failed (I/O, disk full): what this transaction holds
            // can no longer be trusted, so none of it is committed.
            aborted = Some(fatal);
            break;
        }
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back on its own (disk
            // full, I/O error): nothing of this batch is saved.
            aborted = Some("the transaction was rolled back by the database".into());
            break;
        }
        if done.len() >= MAX_BATCH_COMMANDS || started.elapsed() >= MAX_BATCH_TIME {
            break;
        }
        next = lanes.try_next();
    }
    let commit_started = Instant::now();
    let outcome = match aborted {
        Some(e) => {
            drop(tx);
            Err(e)
        }
        None if succeeded == 0 => {
            // Only failed commands: their savepoints are rolled back and
            // there is nothing to commit.
            drop(tx);
            Ok(())
        }
        None => match super::chain::update_head(&tx, head_key) {
            Ok(()) => tx.commit().map_err(|e| e.to_string()),
            Err(e) => {
                drop(tx);
                Err(e.to_string())
            }
        },
    };
    let commit_time = commit_started.elapsed();
    match &outcome {
        Ok(()) if succeeded > 0 => {
            metrics.commits.fetch_add(1, Ordering::Relaxed);
            metrics.rows.fetch_add(rows, Ordering::Relaxed);
        }
        Ok(()) => {}
        Err(e) => {
            tracing::error!(error = %e, commands = done.len(), "batch not committed");
            metrics
                .failed_commands
                .fetch_add(succeeded, Ordering::Relaxed);
        }
    }
    let error = outcome.err();
    let answered = Instant::now();
    let mut h = metrics.histograms.lock().unwrap_or_else(|p| p.into_inner());
    record(&mut h.batch_size, done.len() as u64);
    if succeeded > 0 {
        record(&mut h.commit_us, micros(commit_time));
    }
    for p in done {
        let i = p.lane as usize;
        record(&mut h.ack_us[i], micros(answered.duration_since(p.queued)));
        h.acked[i] += 1;
        (p.answer)(error.as_deref());
    }
    close
}

/// What running one command left behind.
struct Ran {
    /// The caller's answer, sent after the batch commits.
    pending: Option<Pending>,
    /// Whether the command succeeded (its savepoint was released).
    ok: bool,
    /// Rows it wrote, when it succeeded.
    rows: u64,
    /// Why the whole batch must not commit, if it must not.
    fatal: Option<String>,
}

/// Runs one command inside its own SAVEPOINT of `tx`, so that its failure
/// undoes only its own writes. When there is no transaction (BEGIN failed,
/// with the given message) the command only turns into that failure.
fn execute(
    tx: std::result::Result<&Transaction<'_>, &str>,
    env: Envelope,
    now: &Now,
    metrics: &Metrics,
) -> Ran {
    let Envelope {
        lane,
        queued,
        command,
        ..
    } = env;
    macro_rules! step {
        ($reply:expr, |$tx:ident| $body:expr) => {{
            let (result, fatal, rows) = match tx {
                Ok($tx) => {
                    let before = $tx.total_changes();
                    let (result, fatal) = in_savepoint($tx, |$tx| $body);
                    let rows = $tx.total_changes() - before;
                    (result, fatal, rows)
                }
                Err(e) => (Err(StoreError::NotCommitted(e.to_owned())), None, 0),
            };
            let ok = result.is_ok();
            if !ok {
                metrics.failed_commands.fetch_add(1, Ordering::Relaxed);
            }
            Ran {
                pending: Some(pending(lane, queued, result, $reply)),
                ok,
                rows: if ok { rows } else { 0 },
                fatal,
            }
        }};
    }
    match command {
        Command::ConfigureStudy {
            study,
            sites,
            desk_site_id,
            actor,
            reply,
        } => step!(reply, |tx| write::configure_study(
            tx,
            now,
            &actor,
            &study,
            &sites,
            &desk_site_id
        )),
        Command::ScreenSubject {
            input,
            actor,
            reply,
        } => step!(reply, |tx| write::screen_subject(tx, now, &actor, &input)),
        Command::EditScreening {
            subject_id,
            input,
            reason,
            actor,
            reply,
        } => step!(reply, |tx| write::edit_screening(
            tx,
            now,
            &actor,
            &subject_id,
            &input,
            reason.as_deref()
        )),
        Command::ApplyAction {
            subject_id,
            action,
            actor,
            reply,
        } => step!(reply, |tx| write::apply_action(
            tx,
            now,
            &actor,
            &subject_id,
            &action
        )),
        Command::SetTarget {
            site,
            target,
            reason,
            actor,
            reply,
        } => step!(reply, |tx| write::set_target(
            tx,
            now,
            &actor,
            site.as_deref(),
            target,
            &reason
        )),
        Command::SetPreferences {
            display_name,
            language,
            actor,
            reply,
        } => step!(reply, |tx| write::set_preferences(
            tx,
            now,
            &actor,
            &display_name,
            language
        )),
        Command::SetEdcConnection {
            connection,
            actor,
            reply,
        } => step!(reply, |tx| write::set_edc_connection(
            tx,
            now,
            &actor,
            connection.as_ref().map(|(u, t)| (u.as_str(), t.as_str()))
        )),
        Command::SetSyncSettings {
            settings,
            actor,
            reply,
        } => step!(reply, |tx| write::set_sync_settings(
            tx, now, &actor, settings
        )),
        Command::SaveUser {
            change,
            actor,
            reply,
        } => step!(reply, |tx| super::people::save_user(
            tx, now, &actor, &change
        )),
        Command::SignOff {
            request,
            actor,
            reply,
        } => step!(reply, |tx| super::signoff::sign(tx, now, &actor, &request)),
        Command::RecordSignIn {
            login,
            ok,
            os_account,
            reply,
        } => step!(reply, |tx| super::people::record_sign_in(
            tx,
            now,
            &login,
            ok,
            &os_account
        )),
        Command::SyncApply {
            writes,
            mark,
            actor,
            reply,
        } => step!(reply, |tx| {
            let applied = super::sync::apply(tx, now, &actor, &writes)?;
            if let Some(m) = &mark {
                super::sync::set_mark(tx, m)?;
            }
            Ok(applied)
        }),
        Command::ResolveConflict {
            id,
            keep,
            reason,
            actor,
            reply,
        } => step!(reply, |tx| super::sync::resolve(
            tx, now, &actor, id, &keep, &reason
        )),
        Command::RenumberRecord {
            record_id,
            actor,
            reply,
        } => step!(reply, |tx| write::renumber_record(
            tx, now, &actor, &record_id
        )),
        Command::SetValues { edit, actor, reply } => {
            step!(reply, |tx| write::set_values(tx, now, &actor, &edit))
        }
        Command::ImportDictionary {
            dictionary,
            design,
            source,
            actor,
            reply,
        } => step!(reply, |tx| write::import_dictionary(
            tx,
            now,
            &actor,
            &dictionary,
            design.as_deref(),
            &source
        )),
        Command::BindStudy {
            binding,
            actor,
            reply,
        } => step!(reply, |tx| write::bind_study(tx, now, &actor, &binding)),
        Command::ChooseDemo { actor, reply } => {
            step!(reply, |tx| write::choose_demo(tx, now, &actor))
        }
        Command::Close { reply } => {
            let _ = reply.send(());
            Ran {
                pending: None,
                ok: false,
                rows: 0,
                fatal: None,
            }
        }
    }
}

/// Runs `f` between `SAVEPOINT` and `RELEASE`; on error, rolls back to the
/// savepoint so that the rest of the batch is untouched. The second value
/// says why the batch must not commit: a savepoint statement failed (the
/// command's writes may be half there), or the database itself failed.
fn in_savepoint<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> (Result<T>, Option<String>) {
    // Cached statements: parsing these anew for every command costs more
    // than running them.
    let run = |sql: &str| -> Result<()> {
        tx.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    if let Err(e) = run("SAVEPOINT command") {
        let why = e.to_string();
        return (Err(e), Some(why));
    }
    match f(tx) {
        Ok(v) => match run("RELEASE command") {
            Ok(()) => (Ok(v), None),
            Err(e) => {
                let why = e.to_string();
                (Err(e), Some(why))
            }
        },
        Err(e) => {
            tracing::debug!(error = %e, "command rolled back");
            let mut fatal = database_failed(&e).then(|| e.to_string());
            if !tx.is_autocommit()
                && let Err(undo) = run("ROLLBACK TO command").and_then(|()| run("RELEASE command"))
            {
                fatal.get_or_insert(undo.to_string());
            }
            (Err(e), fatal)
        }
    }
}

/// Errors after which SQLite may have undone only the failing statement and
/// the transaction cannot be trusted to hold what the batch wrote.
fn database_failed(e: &StoreError) -> bool {
    use rusqlite::ErrorCode::*;
    let StoreError::Sqlite(e) = e else {
        return false;
    };
    matches!(
        e.sqlite_error_code(),
        Some(DiskFull | SystemIoFailure | OutOfMemory | DatabaseCorrupt | NotADatabase | ReadOnly)
    )
}

impl WriterHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command) -> Result<T> {
        self.call_in(Lane::Interactive, make).await
    }

    async fn call_in<T>(
        &self,
        lane: Lane,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        self.enqueue(lane, make).await?.committed().await
    }

    /// Queues a command and returns once it is queued, not once it is
    /// committed: the caller may queue more and wait for the [`Ack`]s later.
    async fn enqueue<T>(
        &self,
        lane: Lane,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<Ack<T>> {
        let (reply, rx) = oneshot::channel();
        let envelope = Envelope {
            span: tracing::Span::current(),
            lane,
            queued: Instant::now(),
            command: make(reply),
        };
        let tx = match lane {
            Lane::Interactive => &self.interactive,
            Lane::Bulk => &self.bulk,
        };
        // A full lane makes the caller wait here: that is the backpressure.
        tx.send(envelope)
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        Ok(Ack(rx))
    }

    /// Sets up the study, its sites and this desk's site, if no study is
    /// set up yet. Returns whether it did. The eligibility criteria are the
    /// screening instrument's.
    pub async fn configure_study(
        &self,
        actor: Actor,
        study: Study,
        sites: Vec<Site>,
        desk_site_id: String,
    ) -> Result<bool> {
        self.call(|reply| Command::ConfigureStudy {
            study,
            sites,
            desk_site_id,
            actor,
            reply,
        })
        .await
    }

    /// Registers a new subject in screening at this desk's site, with a
    /// freshly assigned id.
    pub async fn screen_subject(&self, actor: Actor, input: ScreeningInput) -> Result<Subject> {
        self.call(|reply| Command::ScreenSubject {
            input,
            actor,
            reply,
        })
        .await
    }

    /// Corrects a subject's screening log; `reason` is required when a saved
    /// value changes.
    pub async fn edit_screening(
        &self,
        actor: Actor,
        subject_id: String,
        input: ScreeningInput,
        reason: Option<String>,
    ) -> Result<Subject> {
        self.call(|reply| Command::EditScreening {
            subject_id,
            input,
            reason,
            actor,
            reply,
        })
        .await
    }

    /// Moves a subject through the enrollment lifecycle.
    pub async fn apply_action(
        &self,
        actor: Actor,
        subject_id: String,
        action: Action,
    ) -> Result<Subject> {
        self.call(|reply| Command::ApplyAction {
            subject_id,
            action,
            actor,
            reply,
        })
        .await
    }

    /// Sets this desk's enrollment target for the study or a site (`None`:
    /// the screening instrument's again), audited with `reason`.
    pub async fn set_target(
        &self,
        actor: Actor,
        site: Option<String>,
        target: Option<u32>,
        reason: String,
    ) -> Result<()> {
        self.call(|reply| Command::SetTarget {
            site,
            target,
            reason,
            actor,
            reply,
        })
        .await
    }

    /// Saves the user's display name and language.
    pub async fn set_preferences(
        &self,
        actor: Actor,
        display_name: String,
        language: Lang,
    ) -> Result<()> {
        self.call(|reply| Command::SetPreferences {
            display_name,
            language,
            actor,
            reply,
        })
        .await
    }

    /// Saves the EDC's address and API token (`None` forgets them). The
    /// caller checks their shape; the audit trail records that they
    /// changed, never the token.
    pub async fn set_edc_connection(
        &self,
        actor: Actor,
        connection: Option<(String, String)>,
    ) -> Result<()> {
        self.call(|reply| Command::SetEdcConnection {
            connection,
            actor,
            reply,
        })
        .await
    }

    /// Saves how this desk syncs (interval, batches in flight).
    pub async fn set_sync_settings(&self, actor: Actor, settings: SyncSettings) -> Result<()> {
        self.call(|reply| Command::SetSyncSettings {
            settings,
            actor,
            reply,
        })
        .await
    }

    /// Creates or changes a person's account, audited.
    pub async fn save_user(&self, actor: Actor, change: UserChange) -> Result<DeskUser> {
        self.call(|reply| Command::SaveUser {
            change,
            actor,
            reply,
        })
        .await
    }

    /// Signs off a form or a visit as the person signed in (`actor`),
    /// audited; the caller has asked their password again.
    pub async fn sign_off(&self, actor: Actor, request: SignOffRequest) -> Result<SignOff> {
        self.call(|reply| Command::SignOff {
            request,
            actor,
            reply,
        })
        .await
    }

    /// Records a sign-in attempt.
    pub async fn record_sign_in(&self, login: String, ok: bool, os_account: String) -> Result<()> {
        self.call(|reply| Command::RecordSignIn {
            login,
            ok,
            os_account,
            reply,
        })
        .await
    }

    /// Commits what a sync step decided (through the bulk lane: a person's
    /// edits go first), and records where the pull got to when given.
    pub async fn sync_apply(
        &self,
        actor: Actor,
        writes: Vec<SyncWrite>,
        mark: Option<PullMark>,
    ) -> Result<SyncApplied> {
        self.call_in(Lane::Bulk, |reply| Command::SyncApply {
            writes,
            mark,
            actor,
            reply,
        })
        .await
    }

    /// Settles a conflict with the value a person keeps, and why.
    pub async fn resolve_conflict(
        &self,
        actor: Actor,
        id: i64,
        keep: Keep,
        reason: String,
    ) -> Result<()> {
        let reason = crate::domain::check_reason(reason.trim())?;
        self.call(|reply| Command::ResolveConflict {
            id,
            keep,
            reason,
            actor,
            reply,
        })
        .await
    }

    /// Gives a record the EDC uses the id of for another record this desk's
    /// next id (audited); returns it.
    pub async fn renumber_record(&self, actor: Actor, record_id: String) -> Result<String> {
        self.call(|reply| Command::RenumberRecord {
            record_id,
            actor,
            reply,
        })
        .await
    }

    /// Saves form values of one record, through `lane`: only the fields
    /// whose value changes are written, each with its audit and outbox row.
    /// Returns how many fields changed.
    pub async fn set_values(&self, lane: Lane, actor: Actor, edit: RecordEdit) -> Result<u32> {
        self.call_in(lane, |reply| Command::SetValues { edit, actor, reply })
            .await
    }

    /// Queues a record edit, waiting only while `lane` is full, and returns
    /// the [`Ack`] that resolves once the edit is committed. For producers
    /// that stream many edits (sync pulls, imports) without waiting for each.
    pub async fn queue_values(
        &self,
        lane: Lane,
        actor: Actor,
        edit: RecordEdit,
    ) -> Result<Ack<u32>> {
        self.enqueue(lane, |reply| Command::SetValues { edit, actor, reply })
            .await
    }

    /// Makes `dictionary` the study's data dictionary, unless that version
    /// is already in force, and says what changed. `source` names where it
    /// came from (a file, the EDC).
    pub async fn import_dictionary(
        &self,
        actor: Actor,
        dictionary: Dictionary,
        design: Option<Design>,
        source: String,
    ) -> Result<DictionaryImport> {
        self.call(|reply| Command::ImportDictionary {
            dictionary: Box::new(dictionary),
            design: design.map(Box::new),
            source,
            actor,
            reply,
        })
        .await
    }

    /// Binds the desk to its study's project: study, sites, this desk's
    /// site, forms, EDC and the practice entries' fate, in one transaction.
    pub async fn bind_study(
        &self,
        actor: Actor,
        binding: write::Binding,
    ) -> Result<write::BindOutcome> {
        self.call(|reply| Command::BindStudy {
            binding: Box::new(binding),
            actor,
            reply,
        })
        .await
    }

    /// Remembers that the person chose to try the demo.
    pub async fn choose_demo(&self, actor: Actor) -> Result<()> {
        self.call(|reply| Command::ChooseDemo { actor, reply })
            .await
    }

    /// Asks the writer to stop once the commands queued so far are done.
    pub(super) async fn close(&self) {
        let (reply, rx) = oneshot::channel();
        let envelope = Envelope {
            span: tracing::Span::current(),
            lane: Lane::Interactive,
            queued: Instant::now(),
            command: Command::Close { reply },
        };
        if self.interactive.send(envelope).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// The writer's queues, throughput and latencies. Rates are over the
    /// time since the previous call that was at least a second ago.
    pub fn stats(&self) -> WriterStats {
        let m = &self.metrics;
        let commits = m.commits.load(Ordering::Relaxed);
        let rows = m.rows.load(Ordering::Relaxed);
        let (commits_per_sec, rows_per_sec) = {
            let mut r = m.rate.lock().unwrap_or_else(|p| p.into_inner());
            let elapsed = r.at.elapsed().as_secs_f64();
            if elapsed >= 1.0 {
                r.commits_per_sec = (commits - r.commits) as f64 / elapsed;
                r.rows_per_sec = (rows - r.rows) as f64 / elapsed;
                r.at = Instant::now();
                r.commits = commits;
                r.rows = rows;
            }
            (r.commits_per_sec, r.rows_per_sec)
        };
        let h = m.histograms.lock().unwrap_or_else(|p| p.into_inner());
        let lane = |tx: &mpsc::Sender<Envelope>, i: usize| LaneStats {
            queue_depth: (tx.max_capacity() - tx.capacity()) as u32,
            queue_capacity: tx.max_capacity() as u32,
            answered: h.acked[i],
            ack_ms: Percentiles::of(&h.ack_us[i], 1000.0),
        };
        WriterStats {
            interactive: lane(&self.interactive, Lane::Interactive as usize),
            bulk: lane(&self.bulk, Lane::Bulk as usize),
            commits,
            failed_commands: m.failed_commands.load(Ordering::Relaxed),
            rows,
            batch_size: Percentiles::of(&h.batch_size, 1.0),
            commit_ms: Percentiles::of(&h.commit_us, 1000.0),
            commits_per_sec,
            rows_per_sec,
        }
    }
}
