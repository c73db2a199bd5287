//! Sync with the central EDC: a run is a tree of tasks (run → jobs →
//! batches), each registered in the diagnostics registry and spawned
//! through the app's `TaskTracker`, each stopping when its
//! `CancellationToken` fires.
//!
//! A run pulls the metadata (a changed dictionary is imported as from
//! Settings), then the records changed since the last pull (through the
//! writer's bulk lane; a cell with local edits waiting is left to the
//! push), then pushes the outbox in batches with bounded concurrency.
//! Before pushing a batch it exports the EDC's current rows and compares
//! each cell three ways (base, mine, theirs, see [`decide`]); an outbox
//! entry leaves only after the EDC acknowledged its record. A call whose
//! outcome is unknown (timeout, reset) is resolved by the next attempt's
//! export, never by blindly sending again; record ids are always the
//! desk's. Transient failures are retried with full-jitter backoff, the
//! server's Retry-After honoured, behind a circuit breaker.
//!
//! The race that remains: between a batch's export and its import a
//! colleague's write to the same cell can land, and the import overwrites
//! it (the REDCap API has no conditional write). The window is one batch's
//! round trip; the colleague's value stays in the EDC's log.

pub mod decide;
pub mod retry;
pub mod scheduler;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use ts_rs::TS;

use crate::domain::Actor;
use crate::edc::{EdcClient, EdcError, Overwrite, RecordQuery};
use crate::i18n::{Lang, Message};
use crate::store::sync::{
    Cell, PendingCell, PullMark, PullResume, RefusedBy, SyncWrite, normalize,
};
use crate::store::{Store, StoreError, metadata_hash};
use crate::tasks::{TaskError as _, TaskGuard, TaskKind, TaskRegistry, TaskState};
use decide::{DAG_COLUMN, Decision, Layout, decide};
pub use retry::{Breaker, BreakerState, RetryPolicy};

/// How a run works.
#[derive(Debug, Clone, Copy)]
pub struct SyncConfig {
    /// Records per push batch.
    pub batch_records: u32,
    /// Bytes of values per push batch, about: a page of records whose
    /// values add up to more is cut into smaller batches (a record is never
    /// split; one larger than this goes alone).
    pub batch_bytes: usize,
    /// Push batches in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
    /// Transient failures in a row that open the breaker.
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    /// Pulled cells per writer transaction.
    pub apply_chunk: usize,
    /// Records per export when pulling.
    pub pull_records: u32,
}

impl Default for SyncConfig {
    fn default() -> SyncConfig {
        SyncConfig {
            batch_records: 100,
            batch_bytes: 512 * 1024,
            concurrency: 4,
            retry: RetryPolicy::default(),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            apply_chunk: 2000,
            pull_records: 200,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct RunReport {
    pub metadata_changed: bool,
    pub pulled_cells: u32,
    /// Local values changed to the EDC's.
    pub taken: u32,
    pub pushed_cells: u32,
    pub batches: u32,
    pub conflicts: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Edc(#[from] EdcError),
    #[error("the local database: {0}")]
    Store(String),
    #[error("sync was cancelled")]
    Cancelled,
    #[error("the EDC's study design does not fit: {0}")]
    Design(String),
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> SyncError {
        match e {
            StoreError::Cancelled => SyncError::Cancelled,
            other => SyncError::Store(other.to_string()),
        }
    }
}

impl crate::tasks::TaskError for SyncError {
    fn is_cancelled(&self) -> bool {
        matches!(self, SyncError::Cancelled)
    }
}

impl SyncError {
    fn retryable(&self) -> bool {
        matches!(self, SyncError::Edc(e) if e.is_transient() || e.outcome_unknown())
    }

    /// In plain words for the sync center.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        match self {
            SyncError::Edc(e) => e.msg(),
            SyncError::Store(d) => Message::new("core.sync.store").with("detail", d),
            SyncError::Cancelled => Message::new("core.sync.cancelled"),
            SyncError::Design(d) => Message::new("core.sync.design").with("detail", d),
        }
    }
}

/// Runs sync for one desk against one EDC.
#[derive(Clone)]
pub struct Syncer {
    inner: Arc<Inner>,
}

/// Where a run is, for the sync center: read while it runs.
#[derive(Default)]
pub struct Progress {
    /// 0 idle, 1 metadata, 2 pulling, 3 pushing.
    phase: AtomicU8,
    batches_total: AtomicU32,
    batches_done: AtomicU32,
    records_total: AtomicU32,
    records_done: AtomicU32,
    cells_pushed: AtomicU32,
}

/// A run's progress as the sync center shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
pub struct ProgressView {
    /// `idle`, `metadata`, `pulling`, `pushing`.
    pub phase: Phase,
    pub batches_total: u32,
    pub batches_done: u32,
    pub records_total: u32,
    pub records_done: u32,
    pub cells_pushed: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Idle,
    Metadata,
    Pulling,
    Pushing,
}

impl Progress {
    fn phase(&self, p: Phase) {
        self.phase.store(p as u8, Ordering::Relaxed);
    }

    pub fn view(&self) -> ProgressView {
        let get = |a: &AtomicU32| a.load(Ordering::Relaxed);
        ProgressView {
            phase: match self.phase.load(Ordering::Relaxed) {
                1 => Phase::Metadata,
                2 => Phase::Pulling,
                3 => Phase::Pushing,
                _ => Phase::Idle,
            },
            batches_total: get(&self.batches_total),
            batches_done: get(&self.batches_done),
            records_total: get(&self.records_total),
            records_done: get(&self.records_done),
            cells_pushed: get(&self.cells_pushed),
        }
    }
}

struct Inner {
    progress: Progress,
    store: Store,
    client: EdcClient,
    registry: TaskRegistry,
    tracker: TaskTracker,
    actor: Actor,
    config: SyncConfig,
    breaker: Breaker,
}

/// Waits for `fut` unless `cancel` fires first.
async fn or_cancel<T>(
    cancel: &CancellationToken,
    fut: impl Future<Output = T>,
) -> Result<T, SyncError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(SyncError::Cancelled),
        v = fut => Ok(v),
    }
}

impl Syncer {
    pub fn new(
        store: Store,
        client: EdcClient,
        registry: TaskRegistry,
        tracker: TaskTracker,
        actor: Actor,
        config: SyncConfig,
    ) -> Syncer {
        Syncer {
            inner: Arc::new(Inner {
                progress: Progress::default(),
                breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
                store,
                client,
                registry,
                tracker,
                actor,
                config,
            }),
        }
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    pub fn progress(&self) -> ProgressView {
        self.inner.progress.view()
    }

    /// One run, registered at the top of the task tree with a child of
    /// `owner`'s token: cancelling `owner` stops it.
    pub async fn run(&self, owner: &CancellationToken) -> Result<RunReport, SyncError> {
        let run = self
            .inner
            .registry
            .task("Sync run", TaskKind::SyncRun, owner);
        self.run_task(run).await
    }

    /// One run as the task `run` (the scheduler's child): metadata, then
    /// records pulled, then the outbox pushed. A fatal error in one job
    /// stops the run; cancelling the run's token stops every task of it
    /// promptly, dropping requests in flight.
    pub async fn run_task(&self, run: TaskGuard) -> Result<RunReport, SyncError> {
        run.set_state(TaskState::Running);
        let result = self.run_jobs(&run).await;
        self.inner.progress.phase(Phase::Idle);
        run.end(&result);
        result
    }

    async fn run_jobs(&self, run: &TaskGuard) -> Result<RunReport, SyncError> {
        let mut report = RunReport::default();
        let p = &self.inner.progress;
        for a in [
            &p.batches_total,
            &p.batches_done,
            &p.records_total,
            &p.records_done,
            &p.cells_pushed,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        p.phase(Phase::Metadata);
        let job = job(run, "Pull study metadata");
        let changed = self.pull_metadata(job.token()).await;
        job.end(&changed);
        report.metadata_changed = changed?;
        p.phase(Phase::Pulling);
        let job = self::job(run, "Pull records");
        let pulled = self.pull_records(job.token()).await;
        job.end(&pulled);
        let (pulled, taken) = pulled?;
        report.pulled_cells = pulled;
        report.taken = taken;
        p.phase(Phase::Pushing);
        let job = self::job(run, "Push local edits");
        let pushed = self.push(&job).await;
        job.end(&pushed);
        let pushed = pushed?;
        report.pushed_cells = pushed.pushed_cells;
        report.batches = pushed.batches;
        report.taken += pushed.taken;
        report.conflicts = pushed.conflicts;
        Ok(report)
    }

    /// Calls `f` until it succeeds, a non-transient error comes, the
    /// attempts are spent, or `cancel` fires; waits with backoff (or the
    /// breaker's cool-down) between attempts.
    async fn retrying<T, F, Fut>(
        &self,
        cancel: &CancellationToken,
        task: Option<&TaskGuard>,
        f: F,
    ) -> Result<T, SyncError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SyncError>>,
    {
        let policy = self.inner.config.retry;
        let mut attempt = 0;
        loop {
            // An open breaker ends the run at once: the scheduler tries
            // again later, instead of this run waiting out the cool-down.
            if self.inner.breaker.admit().is_err() {
                return Err(SyncError::Edc(EdcError::Transport(
                    "the EDC keeps failing; sync paused".into(),
                )));
            }
            if let Some(t) = task {
                t.set_state(TaskState::Running);
            }
            match or_cancel(cancel, f()).await? {
                Ok(v) => {
                    self.inner.breaker.success();
                    return Ok(v);
                }
                Err(e) if e.retryable() => {
                    self.inner.breaker.failure();
                    attempt += 1;
                    if attempt >= policy.attempts {
                        return Err(e);
                    }
                    self.inner.client.metrics().count_retry();
                    let wait = match &e {
                        SyncError::Edc(edc) => policy.backoff(attempt, edc),
                        _ => policy.base,
                    };
                    if let Some(t) = task {
                        t.set_error(e.to_string());
                        t.waiting_to_retry(attempt, wait);
                    }
                    or_cancel(cancel, tokio::time::sleep(wait)).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn pull_metadata(&self, cancel: &CancellationToken) -> Result<bool, SyncError> {
        let client = &self.inner.client;
        let dictionary = self
            .retrying(cancel, None, || async { Ok(client.metadata().await?) })
            .await?;
        let design = self
            .retrying(cancel, None, || async {
                Ok(client.design(&dictionary).await?)
            })
            .await?;
        let hash = metadata_hash(&dictionary, &design);
        let current = self.inner.store.readers().dictionary().await?;
        if current.is_some_and(|c| c.hash == hash) {
            return Ok(false);
        }
        let writer = self.inner.store.writer();
        or_cancel(
            cancel,
            writer.import_dictionary(
                self.inner.actor.clone(),
                dictionary,
                Some(design),
                client.api().to_owned(),
            ),
        )
        .await??;
        Ok(true)
    }

    /// The dictionary and design in force, for the row layout.
    async fn study(&self) -> Result<crate::store::StoredDictionary, SyncError> {
        self.inner
            .store
            .readers()
            .dictionary()
            .await?
            .ok_or_else(|| SyncError::Design("no study forms are imported".into()))
    }

    /// Pulls the records changed since the cursor (less [`PULL_OVERLAP`]):
    /// their ids first, then a bounded export of some records at a time,
    /// each applied before the next is asked for, so memory stays the
    /// same whatever the study holds. Each export's cells commit with the
    /// point reached; a pull stopped anywhere resumes there.
    async fn pull_records(&self, cancel: &CancellationToken) -> Result<(u32, u32), SyncError> {
        let client = &self.inner.client;
        let readers = self.inner.store.readers();
        let previous = readers.sync_cursor().await?;
        let (next, after) = match readers.pull_resume().await? {
            Some(r) if r.from == previous => (r.next, Some(r.after)),
            _ => (self.next_cursor(cancel, previous.as_deref()).await?, None),
        };
        let stored = self.study().await?;
        let layout = Layout::new(&stored.dictionary, &stored.design);
        let id_field = layout.record_id_field().to_owned();
        let ids_query = RecordQuery {
            fields: vec![id_field.clone()],
            date_range_begin: previous.as_deref().map(overlapped),
            ..RecordQuery::default()
        };
        let mut ids = self
            .retrying(cancel, None, || async {
                Ok(client.export_record_ids(&ids_query, &id_field).await?)
            })
            .await?;
        if let Some(a) = &after {
            ids.retain(|id| id > a);
        }
        let progress = &self.inner.progress;
        progress
            .records_total
            .store(ids.len() as u32, Ordering::Relaxed);
        let writer = self.inner.store.writer();
        let (mut pulled, mut taken) = (0, 0);
        let ids: Vec<String> = ids.into_iter().collect();
        let per_export = self.inner.config.pull_records.max(1) as usize;
        let exports = ids.chunks(per_export).collect::<Vec<_>>();
        for (n, chunk) in exports.iter().enumerate() {
            let query = RecordQuery {
                records: chunk.to_vec(),
                ..RecordQuery::default()
            };
            let rows = self
                .retrying(cancel, None, || async {
                    Ok(client.export_records(&query).await?)
                })
                .await?;
            // A date the export shifted is not the EDC's value: never a base.
            let hidden = layout.unseen(&rows, None);
            let writes: Vec<SyncWrite> = rows
                .iter()
                .flat_map(|row| layout.cells(row))
                .filter(|(cell, _)| !hidden.contains(&cell.field))
                .map(|(cell, server)| SyncWrite::Pulled { cell, server })
                .collect();
            drop(rows);
            pulled += writes.len() as u32;
            let mark = if n + 1 == exports.len() {
                next.clone().map(PullMark::Done)
            } else {
                Some(PullMark::Part(PullResume {
                    from: previous.clone(),
                    next: next.clone(),
                    after: chunk.last().expect("chunks are not empty").clone(),
                }))
            };
            let pieces: Vec<&[SyncWrite]> = writes.chunks(self.inner.config.apply_chunk).collect();
            let last = pieces.len().saturating_sub(1);
            for (i, piece) in pieces.iter().enumerate() {
                let applied = or_cancel(
                    cancel,
                    writer.sync_apply(
                        self.inner.actor.clone(),
                        piece.to_vec(),
                        if i == last { mark.clone() } else { None },
                    ),
                )
                .await??;
                taken += applied.taken;
            }
            if pieces.is_empty()
                && let Some(mark) = mark
            {
                or_cancel(
                    cancel,
                    writer.sync_apply(self.inner.actor.clone(), Vec::new(), Some(mark)),
                )
                .await??;
            }
            progress
                .records_done
                .fetch_add(chunk.len() as u32, Ordering::Relaxed);
        }
        if exports.is_empty()
            && next != previous
            && let Some(n) = next
        {
            or_cancel(
                cancel,
                writer.sync_apply(
                    self.inner.actor.clone(),
                    Vec::new(),
                    Some(PullMark::Done(n)),
                ),
            )
            .await??;
        }
        Ok((pulled, taken))
    }

    /// Where the pull that starts now will leave the cursor: the newest
    /// time in the EDC's log since `previous` (its own clock), or, for a
    /// token without the Logging right, the server's clock now moved back
    /// by the furthest time zone behind UTC (the API speaks the server's
    /// local time, which the desk cannot learn without the log; the
    /// overlap only costs records pulled twice).
    async fn next_cursor(
        &self,
        cancel: &CancellationToken,
        previous: Option<&str>,
    ) -> Result<Option<String>, SyncError> {
        let client = &self.inner.client;
        // The log call takes its times to the minute.
        let begin = previous.map(|p| overlapped(p).chars().take(16).collect::<String>());
        let log = self
            .retrying(cancel, None, || async {
                match client.newest_log_time(begin.as_deref(), seconds).await {
                    Ok(newest) => Ok(Some(newest)),
                    Err(EdcError::NoRight(_)) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })
            .await?;
        Ok(match log {
            Some(newest) => newest.or_else(|| previous.map(str::to_owned)),
            None => {
                let now = client
                    .server_now()
                    .unwrap_or_else(|| chrono::Utc::now() - UNKNOWN_CLOCK_SLACK);
                Some(
                    (now.naive_utc() - FURTHEST_ZONE_BEHIND_UTC)
                        .format(TIMESTAMP)
                        .to_string(),
                )
            }
        })
    }
    /// Pushes the outbox in batches, at most `concurrency` at once, each a
    /// child task of `job`; the first fatal batch error cancels the job and
    /// so the other batches. A batch cancelled alone ends alone: its
    /// records stay in the outbox for the next run, the others go on.
    async fn push(&self, job: &TaskGuard) -> Result<PushTotals, SyncError> {
        let readers = self.inner.store.readers();
        let (_, records, _) = readers.sync_counts().await?;
        let per_batch = self.inner.config.batch_records.max(1);
        let total = records.div_ceil(per_batch);
        let progress = &self.inner.progress;
        progress.batches_total.store(total, Ordering::Relaxed);
        progress.records_total.store(records, Ordering::Relaxed);
        let job_cancel = job.token();
        let permits = Arc::new(Semaphore::new(self.inner.config.concurrency.max(1)));
        let stored = Arc::new(self.study().await?);
        let mut handles = Vec::new();
        let mut after = String::new();
        let mut n = 0;
        loop {
            let page = or_cancel(job_cancel, readers.pending_cells(after.clone(), per_batch))
                .await
                .and_then(|r| Ok(r?));
            let page = match page {
                Ok(p) => p,
                Err(SyncError::Cancelled) => break,
                Err(e) => {
                    job_cancel.cancel();
                    handles.push(self.inner.tracker.spawn(async move { Err(e) }));
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            after = last.cell.record_id.clone();
            let page: Vec<PendingCell> = page.into_iter().filter(|p| !p.held).collect();
            if page.is_empty() {
                continue;
            }
            for page in split_by_bytes(page, self.inner.config.batch_bytes) {
                n += 1;
                let permit = match or_cancel(job_cancel, permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => break,
                };
                handles.push(self.spawn_batch(page, n, total, permit, &stored, job));
            }
            if job_cancel.is_cancelled() {
                break;
            }
        }
        let mut totals = PushTotals::default();
        let mut first_error = None;
        for h in handles {
            match h.await {
                Ok(Ok(t)) => totals.add(&t),
                Ok(Err(SyncError::Cancelled)) => {}
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(join) => {
                    first_error.get_or_insert(SyncError::Store(join.to_string()));
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if job_cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        Ok(totals)
    }

    /// Spawns one push batch on the run's tracker, registered under the
    /// job with its records' range and a child of the job's token.
    fn spawn_batch(
        &self,
        page: Vec<PendingCell>,
        n: u32,
        total: u32,
        permit: tokio::sync::OwnedSemaphorePermit,
        stored: &Arc<crate::store::StoredDictionary>,
        job: &TaskGuard,
    ) -> tokio::task::JoinHandle<Result<PushTotals, SyncError>> {
        let this = self.clone();
        let job_cancel = job.token().clone();
        let job_id = job.id();
        let stored = stored.clone();
        let record =
            |c: Option<&PendingCell>| c.map(|c| c.cell.record_id.clone()).unwrap_or_default();
        let name = format!(
            "Push batch {n}/{}: {}..{}",
            total.max(n),
            record(page.first()),
            record(page.last())
        );
        let task = job.child(name, TaskKind::SyncBatch);
        self.inner.tracker.spawn(async move {
            let _permit = permit;
            let cancel = task.token().clone();
            let result = this
                .retrying(&cancel, Some(&task), || {
                    this.push_batch(&cancel, &stored, &page)
                })
                .await;
            match &result {
                Ok(t) => {
                    let p = &this.inner.progress;
                    let done = p.batches_done.fetch_add(1, Ordering::Relaxed) + 1;
                    let total = p.batches_total.load(Ordering::Relaxed).max(done);
                    this.inner
                        .registry
                        .set_progress(job_id, u64::from(done), u64::from(total));
                    p.records_done.fetch_add(t.records, Ordering::Relaxed);
                    p.cells_pushed.fetch_add(t.pushed_cells, Ordering::Relaxed);
                }
                Err(e) if !e.is_cancelled() => {
                    // A failed batch stops its siblings: they are the job's.
                    job_cancel.cancel();
                }
                Err(_) => {}
            }
            task.end(&result);
            result
        })
    }

    /// One attempt at one batch: export the EDC's rows, decide each cell,
    /// import what to send, then commit the decisions. Any failure leaves
    /// the outbox as it was; the next attempt starts again from the export.
    async fn push_batch(
        &self,
        cancel: &CancellationToken,
        stored: &crate::store::StoredDictionary,
        page: &[PendingCell],
    ) -> Result<PushTotals, SyncError> {
        let layout = Layout::new(&stored.dictionary, &stored.design);
        let readers = self.inner.store.readers();
        let cells: Vec<Cell> = page.iter().map(|p| p.cell.clone()).collect();
        let locals = readers.local_cells(cells.clone()).await?;
        let records: BTreeSet<String> = cells.iter().map(|c| c.record_id.clone()).collect();
        let mut fields: BTreeSet<String> = cells
            .iter()
            .filter_map(|c| layout.field_of(&c.field).map(str::to_owned))
            .collect();
        fields.insert(layout.record_id_field().to_owned());
        // Each form's status and a free text of it: they tell which
        // columns the token's export rights hide (see `Layout::probes`).
        let forms: BTreeSet<&str> = cells
            .iter()
            .filter_map(|c| layout.form_of(&c.field))
            .collect();
        fields.extend(layout.probes(&forms));
        let events: BTreeSet<String> = cells.iter().map(|c| c.event.clone()).collect();
        let query = RecordQuery {
            records: records.iter().cloned().collect(),
            fields: fields.iter().cloned().collect(),
            events: if stored.design.is_longitudinal() {
                events.into_iter().collect()
            } else {
                Vec::new()
            },
            ..RecordQuery::default()
        };
        let client = &self.inner.client;
        let rows = or_cancel(cancel, client.export_records(&query)).await??;
        let server: HashMap<Cell, String> = rows.iter().flat_map(|r| layout.cells(r)).collect();
        // Cells whose EDC value the token's export rights hide, and the
        // records the EDC has: there, a hidden value is never taken as
        // blank and sent over.
        let hidden = layout.unseen(&rows, Some(&fields));
        let in_edc: BTreeSet<&str> = rows
            .iter()
            .filter_map(|r| r.get(layout.record_id_field()).map(String::as_str))
            .collect();
        let mut refused: HashMap<Cell, (RefusedBy, String)> = HashMap::new();
        let mut writes = Vec::new();
        let mut send: Vec<(Cell, String, i64)> = Vec::new();
        let mut totals = PushTotals {
            batches: 1,
            records: records.len() as u32,
            ..PushTotals::default()
        };
        // Records this desk made that the EDC never acknowledged.
        let unseen: BTreeSet<String> = readers
            .unseen_records(records.iter().cloned().collect())
            .await?
            .into_iter()
            .collect();
        let taken = ids_taken(&layout, page, &locals, &rows, &server, &unseen, &hidden);
        writes.extend(taken.iter().map(|r| SyncWrite::IdTaken {
            record_id: r.clone(),
        }));
        for (p, local) in page.iter().zip(locals) {
            if taken.contains(&p.cell.record_id) {
                continue;
            }
            let theirs = server.get(&p.cell).cloned().unwrap_or_default();
            if layout.is_calc(&p.cell.field) {
                // The EDC computes its calculations; the desk does not send them.
                writes.push(SyncWrite::Acked {
                    cell: p.cell.clone(),
                    server: theirs,
                    through: p.through,
                });
                continue;
            }
            if !layout.pushable(&p.cell.field) {
                // A field the EDC's dictionary no longer has: it waits, and
                // the dictionary screen flags it.
                continue;
            }
            if hidden.contains(&p.cell.field) && in_edc.contains(p.cell.record_id.as_str()) {
                refused.insert(p.cell.clone(), (RefusedBy::ExportRights, String::new()));
                send.push((p.cell.clone(), local.value, p.through));
                continue;
            }
            // An EDC value this desk itself sent (an import whose answer
            // was lost) is not a colleague's change: it counts as the base.
            // Nor is the Incomplete status REDCap gives a form that got
            // data without one.
            let implicit_status =
                layout.is_status(&p.cell.field) && local.base.is_none() && theirs == "0";
            let base = if implicit_status
                || p.sent.iter().any(|v| normalize(&p.cell.field, v) == theirs)
            {
                Some(theirs.clone())
            } else {
                local.base.clone()
            };
            match decide(&local.value, base.as_deref(), &theirs) {
                Decision::Same => writes.push(SyncWrite::Acked {
                    cell: p.cell.clone(),
                    server: theirs,
                    through: p.through,
                }),
                Decision::Push(v) => send.push((p.cell.clone(), v, p.through)),
                Decision::TakeTheirs => writes.push(SyncWrite::TakeTheirs {
                    cell: p.cell.clone(),
                    server: theirs,
                    through: p.through,
                }),
                Decision::Conflict => writes.push(SyncWrite::Conflict {
                    cell: p.cell.clone(),
                    base: local.base.clone().unwrap_or_default(),
                    mine: local.value.clone(),
                    theirs,
                }),
            }
        }
        // Values the EDC refuses are held (with its words) and the rest
        // sent again: REDCap refuses a whole import for one bad value.
        // Each pass holds at least one more cell, so this ends.
        loop {
            let values: Vec<(Cell, String)> = send
                .iter()
                .filter(|(c, _, _)| !refused.contains_key(c))
                .map(|(c, v, _)| (c.clone(), v.clone()))
                .collect();
            if values.is_empty() {
                break;
            }
            let mut rows = layout.rows(&values);
            // A new record joins the desk's site: its group, when the site
            // is one of the project's groups. A token bound to that group
            // puts it there anyway; one that sees every site would leave it
            // in none.
            if let Some(dag) = self.desk_group(stored).await? {
                for row in rows.iter_mut().filter(|r| {
                    r.get(layout.record_id_field())
                        .is_some_and(|id| unseen.contains(id))
                }) {
                    row.insert(DAG_COLUMN.to_owned(), dag.clone());
                }
            }
            let ids = match or_cancel(cancel, client.import_records(&rows, Overwrite::Overwrite))
                .await?
            {
                Ok(ids) => ids,
                Err(EdcError::Validation(errors)) => {
                    let named = refused_cells(&layout, &values, &errors);
                    if named.is_empty() {
                        return Err(EdcError::Validation(errors).into());
                    }
                    refused.extend(
                        named
                            .into_iter()
                            .map(|(cell, message)| (cell, (RefusedBy::Edc, message))),
                    );
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let acknowledged: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            if let Some((missing, _)) = values
                .iter()
                .find(|(c, _)| !acknowledged.contains(c.record_id.as_str()))
            {
                return Err(SyncError::Edc(EdcError::Malformed(format!(
                    "the EDC did not acknowledge record {}",
                    missing.record_id
                ))));
            }
            break;
        }
        totals.pushed_cells = (send.len() - refused.len()) as u32;
        // A refusal holds its cell until the record is saved again at that
        // event and instance: it counts through the newest edit of that
        // row in this page (a page holds whole records).
        let mut row_through: HashMap<(&str, &str, u32), i64> = HashMap::new();
        for p in page {
            let key = (
                p.cell.record_id.as_str(),
                p.cell.event.as_str(),
                p.cell.instance,
            );
            let t = row_through.entry(key).or_insert(p.through);
            *t = (*t).max(p.through);
        }
        let row_through: HashMap<(String, String, u32), i64> = row_through
            .into_iter()
            .map(|((r, e, i), t)| ((r.to_owned(), e.to_owned(), i), t))
            .collect();
        writes.extend(send.into_iter().map(|(cell, value, through)| {
            match refused.remove(&cell) {
                Some((by, message)) => SyncWrite::Refused {
                    through: row_through
                        .get(&(cell.record_id.clone(), cell.event.clone(), cell.instance))
                        .copied()
                        .unwrap_or(through)
                        .max(through),
                    cell,
                    value,
                    by,
                    message,
                },
                None => SyncWrite::Acked {
                    cell,
                    server: value,
                    through,
                },
            }
        }));
        let applied = or_cancel(
            cancel,
            self.inner
                .store
                .writer()
                .sync_apply(self.inner.actor.clone(), writes, None),
        )
        .await??;
        totals.taken = applied.taken;
        totals.conflicts = applied.conflicts;
        Ok(totals)
    }
}

impl Syncer {
    /// The desk's site as a group of the project (`redcap_data_access_group`),
    /// if the design has groups and the site is one of them.
    async fn desk_group(
        &self,
        stored: &crate::store::StoredDictionary,
    ) -> Result<Option<String>, SyncError> {
        let Some(setup) = self.inner.store.readers().setup().await? else {
            return Ok(None);
        };
        Ok(stored
            .design
            .dags
            .iter()
            .any(|d| d.unique_group_name == setup.desk_site_id)
            .then_some(setup.desk_site_id))
    }
}

/// The cells among `values` that REDCap's error rows name (record and
/// field, a checkbox by its field), with REDCap's words.
fn refused_cells(
    layout: &Layout<'_>,
    values: &[(Cell, String)],
    errors: &[crate::edc::ValueError],
) -> HashMap<Cell, String> {
    let mut out = HashMap::new();
    for e in errors {
        for (cell, _) in values.iter().filter(|(c, _)| {
            c.record_id == e.record
                && (c.field == e.field || layout.field_of(&c.field) == Some(e.field.as_str()))
        }) {
            out.insert(cell.clone(), e.message.clone());
        }
    }
    out
}

/// The records of a batch that this desk made, that the EDC never
/// acknowledged (`unseen`), and whose id the EDC uses for another record:
/// it answers a row of that id, and none of its values is one this desk
/// holds or sent (this desk's own import whose answer was lost shows this
/// desk's values). Such a record is held whole, never merged. Cells whose
/// EDC value the token cannot see (`hidden`) tell nothing.
fn ids_taken(
    layout: &Layout<'_>,
    page: &[PendingCell],
    locals: &[crate::store::sync::LocalCell],
    rows: &[crate::edc::FlatRow],
    server: &HashMap<Cell, String>,
    unseen: &BTreeSet<String>,
    hidden: &HashSet<String>,
) -> BTreeSet<String> {
    let in_edc: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.get(layout.record_id_field()).map(String::as_str))
        .collect();
    let mut taken = BTreeSet::new();
    for record in unseen.iter().filter(|r| in_edc.contains(r.as_str())) {
        let (mut ours, mut other, mut blind) = (false, false, false);
        for (p, local) in page.iter().zip(locals) {
            if &p.cell.record_id != record
                || layout.is_calc(&p.cell.field)
                || !layout.pushable(&p.cell.field)
            {
                continue;
            }
            if hidden.contains(&p.cell.field) {
                blind = true;
                continue;
            }
            let theirs = server.get(&p.cell).map(String::as_str).unwrap_or("");
            if theirs.is_empty() {
                continue;
            }
            if theirs == local.value || p.sent.iter().any(|v| normalize(&p.cell.field, v) == theirs)
            {
                ours = true;
            } else if !(layout.is_status(&p.cell.field) && theirs == "0") {
                // The Incomplete status REDCap gives a form that got data
                // without one says nothing; any other value is not ours.
                other = true;
            }
        }
        // When some of its cells are hidden from the token, this desk's
        // own import may have written only those: blanks where the token
        // sees prove nothing then. The hidden cells are held anyway (never
        // sent over); the seen ones only fill blanks.
        if other || (!ours && !blind) {
            tracing::warn!(record = %record, "the EDC uses this record id for another record");
            taken.insert(record.clone());
        }
    }
    taken
}

/// Cuts a page of pending cells (whole records, in record order) into
/// batches whose values add up to about `max_bytes` at most, so that a page
/// of long notes does not become one oversized request. A record is never
/// split; a record larger than `max_bytes` makes a batch of its own.
fn split_by_bytes(page: Vec<PendingCell>, max_bytes: usize) -> Vec<Vec<PendingCell>> {
    let mut batches: Vec<Vec<PendingCell>> = Vec::new();
    let mut batch: Vec<PendingCell> = Vec::new();
    let mut batch_bytes = 0;
    let mut i = 0;
    while i < page.len() {
        let record = &page[i].cell.record_id;
        let end = page[i..]
            .iter()
            .position(|c| &c.cell.record_id != record)
            .map_or(page.len(), |n| i + n);
        let bytes: usize = page[i..end].iter().map(cell_bytes).sum();
        if !batch.is_empty() && batch_bytes + bytes > max_bytes {
            batches.push(std::mem::take(&mut batch));
            batch_bytes = 0;
        }
        batch.extend_from_slice(&page[i..end]);
        batch_bytes += bytes;
        i = end;
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// About what a cell adds to an import's body: its names and the value
/// last queued for it.
fn cell_bytes(c: &PendingCell) -> usize {
    let value = c.sent.last().map_or(0, String::len);
    c.cell.record_id.len() + c.cell.event.len() + c.cell.field.len() + value + 8
}

#[derive(Debug, Clone, Default)]
struct PushTotals {
    records: u32,
    pushed_cells: u32,
    batches: u32,
    taken: u32,
    conflicts: u32,
}

impl PushTotals {
    fn add(&mut self, o: &PushTotals) {
        self.records += o.records;
        self.pushed_cells += o.pushed_cells;
        self.batches += o.batches;
        self.taken += o.taken;
        self.conflicts += o.conflicts;
    }
}

/// Registers a job of `run`, running.
fn job(run: &TaskGuard, name: &str) -> TaskGuard {
    let job = run.child(name, TaskKind::SyncJob);
    job.set_state(TaskState::Running);
    job
}

/// A log time as `dateRangeBegin` takes it: with seconds.
/// How far before its cursor each pull reaches: REDCap stamps a change
/// with the time its request *started* (an import may commit many minutes
/// later, after quicker, newer changes moved the cursor past its stamp),
/// and the hour repeated when clocks go back stamps changes again with
/// times already passed. Pulling a value twice changes nothing.
pub const PULL_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::hours(2);

/// The furthest a server's local time is behind UTC (UTC−12).
const FURTHEST_ZONE_BEHIND_UTC: chrono::TimeDelta = chrono::TimeDelta::hours(12);

/// Without the server's clock, the desk's may be this far ahead of it.
const UNKNOWN_CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// REDCap's timestamp form, in the server's local time.
const TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S";

/// `cursor` less [`PULL_OVERLAP`], as `dateRangeBegin` takes it; a cursor
/// that is not a time is kept as it is.
fn overlapped(cursor: &str) -> String {
    let c = seconds(cursor);
    match chrono::NaiveDateTime::parse_from_str(&c, TIMESTAMP) {
        Ok(t) => (t - PULL_OVERLAP).format(TIMESTAMP).to_string(),
        Err(_) => c,
    }
}

fn seconds(timestamp: &str) -> String {
    let t = timestamp.trim();
    if t.len() == 16 {
        format!("{t}:00")
    } else {
        t.to_owned()
    }
}
