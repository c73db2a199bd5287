//! Latency and size histograms (HDR, 3 significant figures) and their
//! p50 / p99 / max, for every part that measures itself: the writer's
//! queues and commits, the EDC client's calls. Below both; knows neither.

use hdrhistogram::Histogram;
use serde::Serialize;
use ts_rs::TS;

/// Records `v`, growing the histogram as needed. (`saturating_record`
/// would clamp anything past the first bucket, 2 ms, to the histogram's
/// initial upper bound.)
pub fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// p50, p99 and max of a latency or size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, TS)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>, scale: f64) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: h.value_at_quantile(0.5) as f64 / scale,
            p99: h.value_at_quantile(0.99) as f64 / scale,
            max: h.max() as f64 / scale,
        }
    }
}
