//! The server's clock: REDCap stamps its log, and reads `dateRangeBegin`,
//! `beginTime` and the `today`/`now` bounds of validation, in the server's
//! local time. Tests move this clock instead of sleeping.
//!
//! Not here: the monotonic time of latency, hangs and rate limits, which
//! is tokio's.

use chrono::{Local, NaiveDateTime, SubsecRound as _, TimeDelta};

/// Where the server's "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The machine's local time.
    #[default]
    Local,
    /// The machine's local time moved by this much.
    Offset(TimeDelta),
    /// Always this instant, until it is changed.
    Fixed(NaiveDateTime),
}

impl Clock {
    /// The current local time, to the second (REDCap's log has no
    /// fractions, and a range boundary must compare equal to a stamp).
    pub fn now(&self) -> NaiveDateTime {
        let t = match self {
            Clock::Local => Local::now().naive_local(),
            Clock::Offset(d) => Local::now().naive_local() + *d,
            Clock::Fixed(t) => *t,
        };
        t.trunc_subsecs(0)
    }
}

impl Clock {
    /// The same clock stepped back by `d`, as daylight saving's end or an
    /// NTP correction steps a server's clock: the times just used come
    /// again.
    pub fn stepped_back(self, d: TimeDelta) -> Clock {
        match self {
            Clock::Local => Clock::Offset(-d),
            Clock::Offset(o) => Clock::Offset(o - d),
            Clock::Fixed(t) => Clock::Fixed(t - d),
        }
    }
}

/// REDCap's timestamp form: `YYYY-MM-DD HH:MM:SS`.
pub const TIMESTAMP: &str = "%Y-%m-%d %H:%M:%S";

/// The `log` export's time form: REDCap gives its log's times to the
/// minute (`YYYY-MM-DD HH:MM`), while it keeps them, and filters
/// `dateRangeBegin` on them, to the second.
pub const LOG_TIMESTAMP: &str = "%Y-%m-%d %H:%M";

/// Reads `YYYY-MM-DD HH:MM:SS`, or `YYYY-MM-DD HH:MM` (the log call's
/// `beginTime` form), or a bare date (midnight).
pub fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    NaiveDateTime::parse_from_str(t, TIMESTAMP)
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}
