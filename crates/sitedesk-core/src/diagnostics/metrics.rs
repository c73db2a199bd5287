//! A short history of the desk's vital signs for the panel's charts: one
//! sample a second for 15 minutes, in a ring of fixed size.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use ts_rs::TS;

use crate::edc::metrics::{CallMetrics, CallTotals};
use crate::store::Store;
use crate::tasks::{Lint, TaskRegistry};

/// Samples kept: 15 minutes at one a second.
pub const SAMPLES: usize = 900;

/// One second of the desk's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, TS)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    #[ts(type = "number")]
    pub at_ms: i64,
    pub rss_mb: f64,
    /// Of one core, since the previous sample.
    pub cpu_percent: f64,
    pub threads: u32,
    pub open_files: u32,
    /// Tokio's count of alive tasks.
    pub tokio_tasks: u32,
    /// Tokio's worker threads, and tasks waiting in its global queue (a
    /// queue that stays long means the workers cannot keep up).
    pub tokio_workers: u32,
    pub tokio_global_queue: u32,
    /// Tasks the registry knows to be alive.
    pub registry_tasks: u32,
    pub commits_per_sec: f64,
    pub rows_per_sec: f64,
    pub interactive_p99_ms: f64,
    /// Edits waiting to be sent to the EDC (outbox rows).
    pub outbox: u32,
    /// Commands waiting in the writer's two lanes.
    pub writer_queued: u32,
    /// Calls to the EDC, and those that failed, per second.
    pub edc_calls_per_sec: f64,
    pub edc_failures_per_sec: f64,
    pub db_mb: f64,
    pub wal_mb: f64,
}

/// The ring. Cheap to clone; all clones share it.
#[derive(Clone, Default)]
pub struct History {
    samples: Arc<Mutex<VecDeque<Sample>>>,
}

impl History {
    pub fn push(&self, s: Sample) {
        let mut q = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() == SAMPLES {
            q.pop_front();
        }
        q.push_back(s);
    }

    /// Findings the history shows and a single moment cannot: tasks that
    /// accumulate outside the registry, and a writer that stopped
    /// committing while edits wait.
    pub fn lints(&self) -> Vec<Lint> {
        let q = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let samples: Vec<&Sample> = q.iter().collect();
        let mut out = Vec::new();
        out.extend(tasks_outside_registry(&samples));
        out.extend(writer_stalled(&samples));
        out
    }

    pub fn all(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }
}

/// Untracked tasks (tokio's alive count less the registry's) come and go
/// with every HTTP request; their floor over a window does not. A floor
/// this much above the history's lowest means tasks that never end.
pub const UNTRACKED_GROWTH: u32 = 25;
/// The window whose floor is compared: a minute of samples.
const RECENT: usize = 60;
/// How long the history must be before the comparison means anything.
const SETTLED: usize = 2 * RECENT;
/// Seconds of waiting edits without a commit before the writer counts as
/// stalled.
pub const WRITER_STALL_SECONDS: usize = 10;

fn untracked(s: &Sample) -> u32 {
    s.tokio_tasks.saturating_sub(s.registry_tasks)
}

fn tasks_outside_registry(samples: &[&Sample]) -> Option<Lint> {
    if samples.len() < SETTLED {
        return None;
    }
    let floor = |w: &[&Sample]| w.iter().map(|s| untracked(s)).min().unwrap_or(0);
    let quietest = floor(samples);
    let recent = floor(&samples[samples.len() - RECENT..]);
    let extra = recent - quietest;
    (extra >= UNTRACKED_GROWTH).then(|| {
        let since = samples
            .iter()
            .rposition(|s| untracked(s) == quietest)
            .unwrap_or(0);
        Lint::TasksOutsideRegistry {
            extra,
            minutes: ((samples.len() - since) as u64).div_ceil(60),
        }
    })
}

fn writer_stalled(samples: &[&Sample]) -> Option<Lint> {
    let stalled = samples
        .iter()
        .rev()
        .take_while(|s| s.writer_queued > 0 && s.commits_per_sec == 0.0)
        .count();
    let last = samples.last()?;
    (stalled >= WRITER_STALL_SECONDS).then_some(Lint::WriterStalled {
        queued: last.writer_queued,
        seconds: stalled as u64,
    })
}

/// Takes the desk's samples, remembering what rates need from the one
/// before.
#[derive(Default)]
pub struct Sampler {
    last_cpu: Option<(Instant, f64)>,
    last_edc: Option<(Instant, CallTotals)>,
}

impl Sampler {
    /// One second of the desk's life: process, runtime, registry, writer,
    /// outbox, EDC calls and database file sizes. Call it on a tokio
    /// runtime (it reads the runtime's task count).
    pub async fn sample(
        &mut self,
        store: &Store,
        registry: &TaskRegistry,
        edc: &CallMetrics,
    ) -> Sample {
        let process = ProcessStats::now();
        let now = Instant::now();
        let cpu_percent = match self.last_cpu.replace((now, process.cpu_seconds)) {
            Some((then, secs)) if now > then => {
                100.0 * (process.cpu_seconds - secs).max(0.0) / (now - then).as_secs_f64()
            }
            _ => 0.0,
        };
        let calls = edc.totals();
        let (edc_calls_per_sec, edc_failures_per_sec) = match self.last_edc.replace((now, calls)) {
            Some((then, before)) if now > then => {
                let secs = (now - then).as_secs_f64();
                (
                    calls.calls.saturating_sub(before.calls) as f64 / secs,
                    calls.failures.saturating_sub(before.failures) as f64 / secs,
                )
            }
            _ => (0.0, 0.0),
        };
        let writer = store.writer().stats();
        let outbox = store.readers().outbox_rows().await.unwrap_or(0);
        let size =
            |p: &Path| std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0));
        let runtime = tokio::runtime::Handle::current().metrics();
        let db = store.path();
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Sample {
            at_ms: chrono::Utc::now().timestamp_millis(),
            rss_mb: process.rss_mb,
            cpu_percent,
            threads: process.threads,
            open_files: process.open_files,
            tokio_tasks: runtime.num_alive_tasks() as u32,
            tokio_workers: runtime.num_workers() as u32,
            tokio_global_queue: runtime.global_queue_depth() as u32,
            registry_tasks: registry.live_count() as u32,
            commits_per_sec: writer.commits_per_sec,
            rows_per_sec: writer.rows_per_sec,
            interactive_p99_ms: writer.interactive.ack_ms.p99,
            outbox,
            writer_queued: writer.interactive.queue_depth + writer.bulk.queue_depth,
            edc_calls_per_sec,
            edc_failures_per_sec,
            db_mb: size(db),
            wal_mb: size(Path::new(&wal)),
        }
    }
}

/// What the operating system says about this process (Linux; zeros
/// elsewhere).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub rss_mb: f64,
    /// User and system CPU time so far, in seconds.
    pub cpu_seconds: f64,
    pub threads: u32,
    pub open_files: u32,
}

impl ProcessStats {
    pub fn now() -> ProcessStats {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15, after the command in ().
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let ticks: f64 = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|v| v.parse::<f64>().ok())
                    .sum()
            })
            .unwrap_or(0.0);
        ProcessStats {
            rss_mb: field("VmRSS:") / 1024.0,
            // The kernel's clock tick is 100 Hz on every Linux SiteDesk runs on.
            cpu_seconds: ticks / 100.0,
            threads: field("Threads:") as u32,
            open_files: std::fs::read_dir("/proc/self/fd")
                .map(|d| d.count() as u32)
                .unwrap_or(0),
        }
    }
}
