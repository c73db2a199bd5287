//! Trying again without hammering: full-jitter exponential backoff with a
//! bounded number of attempts, the server's Retry-After honoured, and a
//! circuit breaker shared by a run's calls so that a server that is down
//! gets one probe at a time, not a storm.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngExt as _;
use serde::Serialize;
use ts_rs::TS;

use crate::edc::EdcError;

/// How a run retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// The first backoff's ceiling; doubles per attempt.
    pub base: Duration,
    /// The largest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: uniform in [0, min(cap,
    /// base·2^attempt)], or the server's Retry-After when it gave one, at
    /// most `cap` (a longer one fails the attempts and waits for the next
    /// run, which the scheduler spaces).
    pub fn backoff(&self, attempt: u32, error: &EdcError) -> Duration {
        if let EdcError::RateLimited {
            retry_after: Some(after),
        } = error
        {
            return (*after).min(self.cap);
        }
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let ms = rand::rng().random_range(0..=ceiling.as_millis() as u64);
        Duration::from_millis(ms)
    }
}

/// The breaker's state, as the diagnostics panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// The server failed repeatedly: calls fail at once until the cool-down
    /// ends.
    Open,
    /// The cool-down ended: one call probes the server.
    HalfOpen,
}

/// Opens after `threshold` transient failures in a row; after `cooldown`,
/// lets one probe through; a success closes it.
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<BreakerInner>,
}

struct BreakerInner {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold,
            cooldown,
            inner: Mutex::new(BreakerInner {
                failures: 0,
                open_until: None,
                probing: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.open_until {
            None => BreakerState::Closed,
            Some(t) if Instant::now() < t => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may go now; `Err(wait)` while open.
    pub fn admit(&self) -> Result<(), Duration> {
        let mut inner = self.lock();
        match inner.open_until {
            None => Ok(()),
            Some(t) => {
                let now = Instant::now();
                if now < t {
                    Err(t - now)
                } else if inner.probing {
                    Err(self.cooldown.min(Duration::from_secs(1)))
                } else {
                    inner.probing = true;
                    Ok(())
                }
            }
        }
    }

    pub fn success(&self) {
        let mut inner = self.lock();
        inner.failures = 0;
        inner.open_until = None;
        inner.probing = false;
    }

    pub fn failure(&self) {
        let mut inner = self.lock();
        inner.failures += 1;
        inner.probing = false;
        if inner.failures >= self.threshold {
            inner.open_until = Some(Instant::now() + self.cooldown);
        }
    }
}
