//! What the EDC's calls cost, per endpoint: calls, failures, latency
//! percentiles and bytes each way, for the diagnostics panel. Shared by
//! every client the app makes (`EdcClient::with_metrics`), cumulative since
//! the app started, in bounded memory (one histogram per endpoint, and
//! endpoints are REDCap's fixed set).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use ts_rs::TS;

use crate::histogram::{Percentiles, record};

/// One endpoint's figures.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct EndpointStats {
    /// REDCap's `content`, with `import` or `export` for records.
    pub endpoint: String,
    #[ts(type = "number")]
    pub calls: u64,
    /// Calls that got no 200 answer (refused, failed, timed out, cut).
    #[ts(type = "number")]
    pub failures: u64,
    /// From sending the request to the whole answer, in milliseconds.
    pub latency_ms: Percentiles,
    #[ts(type = "number")]
    pub bytes_sent: u64,
    #[ts(type = "number")]
    pub bytes_received: u64,
}

struct Endpoint {
    calls: u64,
    failures: u64,
    latency_us: Histogram<u64>,
    bytes_sent: u64,
    bytes_received: u64,
}

/// The figures of every endpoint called so far.
#[derive(Default)]
pub struct CallMetrics {
    endpoints: Mutex<BTreeMap<String, Endpoint>>,
    retries: AtomicU64,
}

impl CallMetrics {
    /// Sync is about to try a failed call again.
    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record(
        &self,
        endpoint: &str,
        took: Duration,
        ok: bool,
        bytes_sent: usize,
        bytes_received: usize,
    ) {
        let mut all = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        let e = all.entry(endpoint.to_owned()).or_insert_with(|| Endpoint {
            calls: 0,
            failures: 0,
            latency_us: Histogram::new(3).expect("3 significant figures is a valid precision"),
            bytes_sent: 0,
            bytes_received: 0,
        });
        e.calls += 1;
        if !ok {
            e.failures += 1;
        }
        record(
            &mut e.latency_us,
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1),
        );
        e.bytes_sent += bytes_sent as u64;
        e.bytes_received += bytes_received as u64;
    }

    /// Every endpoint called so far, by name.
    pub fn snapshot(&self) -> Vec<EndpointStats> {
        let all = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .map(|(name, e)| EndpointStats {
                endpoint: name.clone(),
                calls: e.calls,
                failures: e.failures,
                latency_ms: Percentiles::of(&e.latency_us, 1000.0),
                bytes_sent: e.bytes_sent,
                bytes_received: e.bytes_received,
            })
            .collect()
    }

    /// Calls, failures and retries over all endpoints.
    pub fn totals(&self) -> CallTotals {
        let all = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        let (calls, failures) = all
            .values()
            .fold((0, 0), |(c, f), e| (c + e.calls, f + e.failures));
        CallTotals {
            calls,
            failures,
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// Totals since the app started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, TS)]
pub struct CallTotals {
    #[ts(type = "number")]
    pub calls: u64,
    #[ts(type = "number")]
    pub failures: u64,
    /// Calls sync tried again after a transient failure.
    #[ts(type = "number")]
    pub retries: u64,
}
