//! The task registry and the guard a task holds.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

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

    /// Registers a task in state `Queued` and returns its guard.
    pub fn register(
        &self,
        name: impl Into<String>,
        kind: TaskKind,
        parent: Option<TaskId>,
    ) -> TaskGuard {
        let mut inner = self.lock();
        let id = TaskId(inner.next_id);
        inner.next_id += 1;
        inner.live.insert(
            id,
            Record {
                id,
                parent,
                name: name.into(),
                kind,
                state: TaskState::Queued,
                started_at: Utc::now(),
                started: Instant::now(),
                ended: None,
                progress: None,
                last_error: None,
            },
        );
        TaskGuard {
            registry: self.clone(),
            id,
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
    finished: bool,
}

impl TaskGuard {
    pub fn id(&self) -> TaskId {
        self.id
    }

    pub fn set_state(&self, state: TaskState) {
        debug_assert!(!state.is_finished(), "use finish() to end a task");
        self.registry.update(self.id, |r| r.state = state);
    }

    pub fn set_progress(&self, done: u64, total: u64) {
        self.registry
            .update(self.id, |r| r.progress = Some((done, total)));
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
