//! A short history of the desk's vital signs for the panel's charts: one
//! sample a second for 15 minutes, in a ring of fixed size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use ts_rs::TS;

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
    /// Tasks the registry knows to be alive.
    pub registry_tasks: u32,
    pub commits_per_sec: f64,
    pub rows_per_sec: f64,
    pub interactive_p99_ms: f64,
    /// Edited values waiting to be sent to the EDC.
    pub outbox: u32,
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

    pub fn all(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
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
