//! The one background scheduler: a sync run at start, every interval, on
//! "Sync now", and, while the EDC cannot be reached, a quiet retry every
//! half minute so that sync resumes by itself when the network comes
//! back. Starting it twice is a no-op; one run at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{BreakerState, ProgressView, RunReport, SyncError, Syncer};
use crate::edc::EdcError;
use crate::tasks::{TaskGuard, TaskKind, TaskRegistry, TaskState};

/// How often an offline desk tries again.
pub const OFFLINE_RETRY: Duration = Duration::from_secs(30);

/// What the sync center shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub running: bool,
    /// The EDC could not be reached at the last try: a state, not an error.
    pub offline: bool,
    pub progress: ProgressView,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_report: Option<RunReport>,
    /// The last run's failure, other than being offline or cancelled.
    pub error: Option<SyncError>,
    /// The EDC banned this computer's address: no run starts by itself
    /// until "Sync now" (after the administrator lifted the ban).
    pub stopped: bool,
    pub breaker: Option<BreakerState>,
    pub interval: Duration,
}

#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    started: AtomicBool,
    /// "Sync now": run after the current run, or at once.
    trigger: Notify,
    /// The interval changed: recompute the wait, but do not run for it.
    rescheduled: Notify,
    state: Mutex<State>,
    /// Runs finished so far, whatever their outcome: a signal to await.
    finished: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    interval: Duration,
    current: Option<(Syncer, CancellationToken)>,
    last: Option<Syncer>,
    running: bool,
    offline: bool,
    last_success_at: Option<DateTime<Utc>>,
    last_report: Option<RunReport>,
    error: Option<SyncError>,
    stopped: bool,
}

/// How long the loop waits before the next run by itself: `None` when only
/// a person may start one (the EDC banned this computer's address).
fn next_wait(s: &State) -> Option<Duration> {
    if s.stopped {
        None
    } else if s.offline {
        Some(OFFLINE_RETRY.min(s.interval))
    } else {
        Some(s.interval)
    }
}

/// Counts a finished run once its state is recorded (the guard drops after
/// the state's lock, declared before it).
struct FinishedOnDrop<'a>(&'a tokio::sync::watch::Sender<u64>);

impl Drop for FinishedOnDrop<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n += 1);
    }
}

/// Whether an error means "no network" rather than "something is wrong".
fn is_offline(e: &SyncError) -> bool {
    matches!(
        e,
        SyncError::Edc(EdcError::Transport(_) | EdcError::Timeout)
    )
}

impl Scheduler {
    pub fn new(interval: Duration) -> Scheduler {
        Scheduler {
            inner: Arc::new(Inner {
                started: AtomicBool::new(false),
                trigger: Notify::new(),
                rescheduled: Notify::new(),
                finished: tokio::sync::watch::Sender::new(0),
                state: Mutex::new(State {
                    interval,
                    ..State::default()
                }),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_interval(&self, interval: Duration) {
        self.state().interval = interval;
        // The loop picks the new interval up at once, without a run for it.
        self.inner.rescheduled.notify_one();
    }

    /// Starts the loop, unless it runs already (then returns false). `make`
    /// builds the syncer for the EDC in use at each run; `None` when no
    /// EDC is set up.
    pub fn start<F>(
        &self,
        tracker: &TaskTracker,
        app: CancellationToken,
        registry: &TaskRegistry,
        make: F,
    ) -> bool
    where
        F: Fn() -> Option<Syncer> + Send + Sync + 'static,
    {
        if self.inner.started.swap(true, Ordering::SeqCst) {
            return false;
        }
        let task = registry.service("Sync scheduler", TaskKind::Scheduler, &app);
        task.set_state(TaskState::Running);
        let this = self.clone();
        tracker.spawn(async move {
            'runs: loop {
                this.run_once(&task, &make).await;
                task.set_state(TaskState::Waiting);
                loop {
                    let wait = next_wait(&this.state());
                    // After a ban, every call keeps it: only a person
                    // (once the administrator lifted it) starts a run.
                    let timer = async {
                        match wait {
                            Some(w) => tokio::time::sleep(w).await,
                            None => std::future::pending::<()>().await,
                        }
                    };
                    tokio::select! {
                        _ = task.token().cancelled() => break 'runs,
                        _ = this.inner.trigger.notified() => break,
                        _ = this.inner.rescheduled.notified() => {}
                        _ = timer => break,
                    }
                }
                task.set_state(TaskState::Running);
            }
            task.finish(TaskState::Cancelled);
        });
        true
    }

    /// One run, as a child task of the scheduler's.
    async fn run_once<F>(&self, scheduler: &TaskGuard, make: &F)
    where
        F: Fn() -> Option<Syncer>,
    {
        let Some(syncer) = make() else { return };
        if scheduler.token().is_cancelled() {
            return;
        }
        let run = scheduler.child("Sync run", TaskKind::SyncRun);
        {
            let mut s = self.state();
            s.current = Some((syncer.clone(), run.token().clone()));
            s.last = Some(syncer.clone());
            s.running = true;
        }
        let result = syncer.run_task(run).await;
        let _finished = FinishedOnDrop(&self.inner.finished);
        let mut s = self.state();
        s.current = None;
        s.running = false;
        s.stopped = matches!(result, Err(SyncError::Edc(EdcError::Banned(_))));
        match result {
            Ok(report) => {
                s.offline = false;
                s.error = None;
                s.last_success_at = Some(Utc::now());
                s.last_report = Some(report);
            }
            Err(SyncError::Cancelled) => {}
            Err(e) if is_offline(&e) => {
                s.offline = true;
                s.error = None;
            }
            Err(e) => {
                s.offline = false;
                s.error = Some(e);
            }
        }
    }

    /// The number of runs finished so far (whatever their outcome), to
    /// await the next one's end.
    pub fn finished_runs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.finished.subscribe()
    }

    /// Asks for a run now (after the one running, if any).
    pub fn sync_now(&self) {
        self.inner.trigger.notify_one();
    }

    /// Cancels the run in progress, if any.
    pub fn cancel(&self) -> bool {
        match &self.state().current {
            Some((_, c)) => {
                c.cancel();
                true
            }
            None => false,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.state();
        let syncer = s.current.as_ref().map(|(sy, _)| sy).or(s.last.as_ref());
        Snapshot {
            running: s.running,
            offline: s.offline,
            progress: s
                .current
                .as_ref()
                .map(|(sy, _)| sy.progress())
                .unwrap_or_default(),
            last_success_at: s.last_success_at,
            last_report: s.last_report.clone(),
            error: s.error.clone(),
            stopped: s.stopped,
            breaker: syncer.map(Syncer::breaker_state),
            interval: s.interval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_waits_for_a_person_offline_retries_sooner() {
        let mut s = State {
            interval: Duration::from_secs(900),
            ..State::default()
        };
        assert_eq!(next_wait(&s), Some(Duration::from_secs(900)));
        s.offline = true;
        assert_eq!(next_wait(&s), Some(OFFLINE_RETRY));
        s.offline = false;
        s.stopped = true;
        assert_eq!(next_wait(&s), None, "no run starts by itself after a ban");
    }
}
