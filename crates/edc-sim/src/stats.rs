//! Counters of what the server was asked and what it answered, for tests
//! and for `GET /admin/stats`: requests in total and per call, answers per
//! status code, faults injected per kind, and the requests being processed
//! now and at most at once.
//!
//! Not here: the decisions (`faults`). Admin requests are not counted.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every API request, whatever became of it.
    pub requests: u64,
    /// Requests per call: `record/import`, `record/export`,
    /// `record/delete`, `metadata/export`, ...
    pub by_call: BTreeMap<String, u64>,
    /// Answers per HTTP status, including the status line of an answer
    /// that was then cut (reset, truncate).
    pub by_status: BTreeMap<u16, u64>,
    /// Faults injected per kind (`status=503`, `429`, `hang`, `reset`,
    /// `truncate`, `apply-then-drop`, `db-error`, `rate`, `ban`,
    /// `latency`, `record-cost`, `slow-commit`, `clock-back`,
    /// `max-input-vars`).
    pub faults: BTreeMap<String, u64>,
    /// Requests being processed now (past the concurrency cap).
    pub in_flight: u64,
    /// The most requests ever processed at once.
    pub peak_concurrent: u64,
}

#[derive(Default)]
struct Counts {
    requests: u64,
    by_call: BTreeMap<String, u64>,
    by_status: BTreeMap<u16, u64>,
    faults: BTreeMap<String, u64>,
}

/// The live counters, shared by every request.
#[derive(Default)]
pub(crate) struct Collector {
    counts: Mutex<Counts>,
    in_flight: AtomicU64,
    peak: AtomicU64,
    /// Woken on every fault counted, for those awaiting one.
    fault_counted: Notify,
}

impl Collector {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic while counting leaves the counts usable.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn request(&self, call: &str) {
        let mut c = self.counts();
        c.requests += 1;
        *c.by_call.entry(call.to_owned()).or_default() += 1;
    }

    pub fn status(&self, status: u16) {
        *self.counts().by_status.entry(status).or_default() += 1;
    }

    pub fn fault(&self, kind: &str) {
        *self.counts().faults.entry(kind.to_owned()).or_default() += 1;
        self.fault_counted.notify_waiters();
    }

    /// Waits until at least `n` faults of `kind` have been counted.
    pub async fn fault_seen(&self, kind: &str, n: u64) {
        loop {
            let counted = self.fault_counted.notified();
            tokio::pin!(counted);
            // Registered before the count is read, so a fault counted in
            // between still wakes this.
            counted.as_mut().enable();
            if self.counts().faults.get(kind).copied().unwrap_or(0) >= n {
                return;
            }
            counted.await;
        }
    }

    /// Marks a request as being processed until the guard drops (also when
    /// its connection is cut and the handler is dropped).
    pub fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    pub fn snapshot(&self) -> Stats {
        let c = self.counts();
        Stats {
            requests: c.requests,
            by_call: c.by_call.clone(),
            by_status: c.by_status.clone(),
            faults: c.faults.clone(),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            peak_concurrent: self.peak.load(Ordering::SeqCst),
        }
    }

    /// Starts the counts over; the peak starts from the requests in flight.
    pub fn reset(&self) {
        *self.counts() = Counts::default();
        self.peak
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

pub(crate) struct InFlight<'a>(&'a Collector);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
