//! The registry of long-lived tasks, and the guard a task holds: the task
//! tree is the cancellation tree. A task at the top takes a child of its
//! owner's token ([`TaskRegistry::task`]); every task below it is made by
//! its parent's guard ([`TaskGuard::child`]), with a child of the parent's
//! token, so cancelling a task stops it and what is below it, and nothing
//! else. The guard records the end from the task's result
//! ([`TaskGuard::end`]) or, when dropped, `Done` (`Failed` while
//! unwinding), so a task cannot vanish without a final state. Finished
//! tasks are kept for the panel, bounded in count.
//!
//! Below the store (the writer registers here) and below everything that
//! runs tasks; knows none of them. Deliberately absent: metrics and logs
//! (`diagnostics`), and any blocking beyond a map update under the lock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};
use serde::Serialize;
use ts_rs::TS;

/// Finished tasks kept for the panel. A sync run with a few hundred batches
/// fits; older ones are forgotten first.
const DEFAULT_FINISHED_KEPT: usize = 500;

/// Identifies a task for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, TS)]
pub struct TaskId(#[ts(type = "number")] pub u64);

/// What sort of work a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// The SQLite writer thread.
    Writer,
    /// Publishes diagnostics snapshots to the UI.
    Diagnostics,
    /// Runs sync on a schedule.
    Scheduler,
    SyncRun,
    SyncJob,
    SyncBatch,
    Profiler,
    Export,
    /// Checks IT staff or a supervisor start: verifying the audit trail.
    Maintenance,
    /// The app's window: brings it forward when SiteDesk is started again
    /// on its data folder.
    Window,
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Running,
    /// Waiting for a retry, a permit or a timer.
    Waiting,
    /// Cancelled, not yet ended.
    Cancelling,
    Done,
    Failed,
    Cancelled,
}

impl TaskState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Failed | TaskState::Cancelled
        )
    }
}

/// A task as the panel shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct TaskSnapshot {
    pub id: TaskId,
    pub parent: Option<TaskId>,
    pub name: String,
    pub kind: TaskKind,
    pub state: TaskState,
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    /// Milliseconds from start to now, or to the end for a finished task.
    #[ts(type = "number")]
    pub elapsed_ms: u64,
    /// Work done and work known, when the task reports it.
    #[ts(type = "[number, number] | null")]
    pub progress: Option<(u64, u64)>,
    /// A message without patient data.
    pub last_error: Option<String>,
    /// Whether the panel can cancel it (it holds a cancellation token).
    pub cancellable: bool,
    /// Milliseconds since its token was cancelled, while it still runs.
    #[ts(type = "number | null")]
    pub cancelled_ms: Option<u64>,
    /// Failed attempts so far, for a task that retries.
    pub attempts: u32,
    /// When it tries again, while it waits to retry.
    #[ts(type = "string | null")]
    pub retry_at: Option<DateTime<Utc>>,
}

/// A plain-language finding about the tasks, for the panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "lint", rename_all = "snake_case")]
pub enum Lint {
    /// Still alive this long after its token was cancelled: a leak.
    StuckAfterCancel {
        task: TaskId,
        name: String,
        #[ts(type = "number")]
        seconds: u64,
    },
    /// Running without progress for longer than its kind should take.
    NoProgress {
        task: TaskId,
        name: String,
        #[ts(type = "number")]
        seconds: u64,
    },
    /// Tokio runs ever more tasks than the registry knows of: something
    /// spawns tasks outside it that do not end.
    TasksOutsideRegistry {
        /// How many more untracked tasks run now than at the quietest
        /// moment of the history.
        extra: u32,
        #[ts(type = "number")]
        minutes: u64,
    },
    /// Edits wait in the writer's queues and nothing has been committed.
    WriterStalled {
        queued: u32,
        #[ts(type = "number")]
        seconds: u64,
    },
}

/// How long after a cancel a task that still runs is reported as stuck.
pub const STUCK_AFTER_CANCEL: Duration = Duration::from_secs(5);

/// How long a task of a kind may run without progress before the panel
/// says so; `None` for tasks that live as long as the app.
fn progress_bound(kind: TaskKind) -> Option<Duration> {
    match kind {
        TaskKind::SyncBatch => Some(Duration::from_secs(120)),
        TaskKind::SyncJob | TaskKind::SyncRun => Some(Duration::from_secs(600)),
        TaskKind::Maintenance | TaskKind::Export | TaskKind::Profiler => {
            Some(Duration::from_secs(600))
        }
        TaskKind::Writer | TaskKind::Diagnostics | TaskKind::Scheduler | TaskKind::Window => None,
    }
}

struct Record {
    id: TaskId,
    parent: Option<TaskId>,
    name: String,
    kind: TaskKind,
    state: TaskState,
    started_at: DateTime<Utc>,
    started: Instant,
    ended: Option<Instant>,
    progress: Option<(u64, u64)>,
    last_error: Option<String>,
    cancel: Option<CancellationToken>,
    cancelled_at: Option<Instant>,
    /// The last sign of life: start, a progress report or a state change.
    moved: Instant,
    attempts: u32,
    retry_at: Option<DateTime<Utc>>,
}

impl Record {
    fn snapshot(&self, now: Instant) -> TaskSnapshot {
        let end = self.ended.unwrap_or(now);
        TaskSnapshot {
            id: self.id,
            parent: self.parent,
            name: self.name.clone(),
            kind: self.kind,
            state: self.state,
            started_at: self.started_at,
            elapsed_ms: end.saturating_duration_since(self.started).as_millis() as u64,
            progress: self.progress,
            last_error: self.last_error.clone(),
            cancellable: self.cancel.is_some() && self.ended.is_none(),
            cancelled_ms: self
                .cancelled_at
                .filter(|_| self.ended.is_none())
                .map(|t| now.saturating_duration_since(t).as_millis() as u64),
            attempts: self.attempts,
            retry_at: self.retry_at.filter(|_| self.state == TaskState::Waiting),
        }
    }
}

struct Inner {
    next_id: u64,
    live: BTreeMap<TaskId, Record>,
    finished: VecDeque<Record>,
    finished_kept: usize,
}

/// The registry. Cheap to clone; all clones share one table.
#[derive(Clone)]
pub struct TaskRegistry {
    inner: Arc<Mutex<Inner>>,
}

impl Default for TaskRegistry {
    fn default() -> Self {
        TaskRegistry::with_finished_kept(DEFAULT_FINISHED_KEPT)
    }
}

impl TaskRegistry {
    pub fn new() -> TaskRegistry {
        TaskRegistry::default()
    }

    /// A registry that keeps at most `kept` finished tasks.
    pub fn with_finished_kept(kept: usize) -> TaskRegistry {
        TaskRegistry {
            inner: Arc::new(Mutex::new(Inner {
                next_id: 1,
                live: BTreeMap::new(),
                finished: VecDeque::new(),
                finished_kept: kept,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps half
        // updated (every update is a single insert or field write), so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a task at the top of a tree, in state `Queued`. Its token
    /// is a new child of `parent` (the app's root token, or the token of
    /// whatever owns the task outside the registry), so the task stops with
    /// its owner, and the panel can cancel it and its subtree alone.
    pub fn task(
        &self,
        name: impl Into<String>,
        kind: TaskKind,
        parent: &CancellationToken,
    ) -> TaskGuard {
        self.insert(name.into(), kind, None, parent.child_token(), true)
    }

    /// Registers a task that lives as long as its owner and that the panel
    /// does not offer to cancel (the scheduler, the diagnostics publisher):
    /// its token is a child of `parent`, so it still stops with the app.
    pub fn service(
        &self,
        name: impl Into<String>,
        kind: TaskKind,
        parent: &CancellationToken,
    ) -> TaskGuard {
        self.insert(name.into(), kind, None, parent.child_token(), false)
    }

    /// Registers a thread that no token stops: the SQLite writer, which
    /// ends when its last handle drops, after committing what is queued.
    pub fn thread(&self, name: impl Into<String>, kind: TaskKind) -> TaskGuard {
        self.insert(name.into(), kind, None, CancellationToken::new(), false)
    }

    fn insert(
        &self,
        name: String,
        kind: TaskKind,
        parent: Option<TaskId>,
        token: CancellationToken,
        cancellable: bool,
    ) -> TaskGuard {
        let mut inner = self.lock();
        let id = TaskId(inner.next_id);
        inner.next_id += 1;
        inner.live.insert(
            id,
            Record {
                id,
                parent,
                name,
                kind,
                state: TaskState::Queued,
                started_at: Utc::now(),
                started: Instant::now(),
                ended: None,
                progress: None,
                last_error: None,
                cancel: cancellable.then(|| token.clone()),
                cancelled_at: None,
                attempts: 0,
                retry_at: None,
                moved: Instant::now(),
            },
        );
        TaskGuard {
            registry: self.clone(),
            id,
            token,
            finished: false,
        }
    }

    /// Every live task, then the finished ones, newest first.
    pub fn snapshot(&self) -> Vec<TaskSnapshot> {
        let now = Instant::now();
        let inner = self.lock();
        inner
            .live
            .values()
            .map(|r| r.snapshot(now))
            .chain(inner.finished.iter().rev().map(|r| r.snapshot(now)))
            .collect()
    }

    /// How many tasks have not finished.
    pub fn live_count(&self) -> usize {
        self.lock().live.len()
    }

    /// Cancels a live task and every live task below it; returns how many
    /// were cancelled. Tasks without a token are marked, not stopped: their
    /// parent's token is what stops them.
    pub fn cancel_subtree(&self, root: TaskId) -> usize {
        let mut inner = self.lock();
        let mut ids = vec![root];
        let mut i = 0;
        while i < ids.len() {
            let parent = ids[i];
            ids.extend(
                inner
                    .live
                    .values()
                    .filter(|r| r.parent == Some(parent))
                    .map(|r| r.id),
            );
            i += 1;
        }
        let now = Instant::now();
        let mut n = 0;
        for id in ids {
            if let Some(r) = inner.live.get_mut(&id) {
                if let Some(c) = &r.cancel {
                    c.cancel();
                }
                if r.cancelled_at.is_none() {
                    r.cancelled_at = Some(now);
                    r.state = TaskState::Cancelling;
                    n += 1;
                }
            }
        }
        n
    }

    /// Findings about the live tasks: stuck after a cancel, or without
    /// progress for longer than their kind should take. A task whose own
    /// token fired counts as cancelled even when the panel did not do it.
    pub fn lints(&self) -> Vec<Lint> {
        self.lints_after(STUCK_AFTER_CANCEL)
    }

    /// [`lints`](Self::lints) with another grace period after a cancel.
    pub fn lints_after(&self, stuck_after: Duration) -> Vec<Lint> {
        let now = Instant::now();
        let mut inner = self.lock();
        for r in inner.live.values_mut() {
            if r.cancelled_at.is_none() && r.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                r.cancelled_at = Some(now);
            }
        }
        let mut out = Vec::new();
        for r in inner.live.values() {
            if let Some(t) = r.cancelled_at {
                let since = now.saturating_duration_since(t);
                if since >= stuck_after {
                    out.push(Lint::StuckAfterCancel {
                        task: r.id,
                        name: r.name.clone(),
                        seconds: since.as_secs(),
                    });
                }
                continue;
            }
            if let Some(bound) = progress_bound(r.kind) {
                let still = now.saturating_duration_since(r.moved);
                if still >= bound && matches!(r.state, TaskState::Running | TaskState::Queued) {
                    out.push(Lint::NoProgress {
                        task: r.id,
                        name: r.name.clone(),
                        seconds: still.as_secs(),
                    });
                }
            }
        }
        out
    }

    /// Reports progress of a task whose guard another task holds (a job
    /// whose batches finish on their own tasks).
    pub fn set_progress(&self, id: TaskId, done: u64, total: u64) {
        self.update(id, |r| {
            r.progress = Some((done, total));
            r.moved = Instant::now();
        });
    }

    fn update(&self, id: TaskId, f: impl FnOnce(&mut Record)) {
        if let Some(r) = self.lock().live.get_mut(&id) {
            f(r);
        }
    }

    fn end(&self, id: TaskId, state: TaskState) {
        let mut inner = self.lock();
        if let Some(mut r) = inner.live.remove(&id) {
            r.state = state;
            r.ended = Some(Instant::now());
            inner.finished.push_back(r);
            while inner.finished.len() > inner.finished_kept {
                inner.finished.pop_front();
            }
        }
    }
}

/// Held by a running task. Dropping it ends the task: `Done` normally,
/// `Failed` when the thread is unwinding from a panic.
pub struct TaskGuard {
    registry: TaskRegistry,
    id: TaskId,
    /// This task's own token: a child of its parent's, never shared with
    /// another task.
    token: CancellationToken,
    finished: bool,
}

/// An error a task can end with: it says whether it means "cancelled", and
/// its `Display` is what the panel shows (no patient data, by the
/// invariant of every error type that implements this).
pub trait TaskError: std::fmt::Display {
    fn is_cancelled(&self) -> bool;
}

impl TaskGuard {
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The token that stops this task; it fires when the task, one of its
    /// ancestors or the app is cancelled.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Registers a task below this one, with a child of this task's token:
    /// cancelling this task stops it, cancelling it stops only itself and
    /// what is below it.
    pub fn child(&self, name: impl Into<String>, kind: TaskKind) -> TaskGuard {
        self.registry.insert(
            name.into(),
            kind,
            Some(self.id),
            self.token.child_token(),
            true,
        )
    }

    /// Ends the task with the state its result says: `Done`, `Cancelled`
    /// for an error that means so, `Failed` (with the error) otherwise.
    pub fn end<T, E: TaskError>(self, result: &Result<T, E>) {
        let state = match result {
            Ok(_) => TaskState::Done,
            Err(e) if e.is_cancelled() => TaskState::Cancelled,
            Err(e) => {
                self.set_error(e.to_string());
                TaskState::Failed
            }
        };
        self.finish(state);
    }

    pub fn set_state(&self, state: TaskState) {
        debug_assert!(!state.is_finished(), "use finish() to end a task");
        self.registry.update(self.id, |r| {
            // A cancelled task stays "cancelling" until it ends.
            if r.cancelled_at.is_none() {
                r.state = state;
                r.moved = Instant::now();
            }
        });
    }

    pub fn set_progress(&self, done: u64, total: u64) {
        self.registry.update(self.id, |r| {
            r.progress = Some((done, total));
            r.moved = Instant::now();
        });
    }

    /// Attempt `attempt` failed; the task waits `wait` and tries again.
    pub fn waiting_to_retry(&self, attempt: u32, wait: std::time::Duration) {
        let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        self.registry.update(self.id, |r| {
            r.attempts = attempt;
            r.retry_at = Some(at);
            if r.cancelled_at.is_none() {
                r.state = TaskState::Waiting;
                r.moved = Instant::now();
            }
        });
    }

    /// Records an error message. Callers pass text without patient data.
    pub fn set_error(&self, message: impl Into<String>) {
        let message = message.into();
        self.registry
            .update(self.id, |r| r.last_error = Some(message));
    }

    /// Ends the task with a final state.
    pub fn finish(mut self, state: TaskState) {
        self.finished = true;
        self.registry.end(self.id, state);
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if !self.finished {
            let state = if std::thread::panicking() {
                TaskState::Failed
            } else {
                TaskState::Done
            };
            self.registry.end(self.id, state);
        }
    }
}

#[cfg(test)]
mod tests;
