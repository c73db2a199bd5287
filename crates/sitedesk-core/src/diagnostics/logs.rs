//! Recent log lines for the panel and the support bundle: a tracing layer
//! that keeps the last lines in a bounded ring buffer.
//!
//! Patient data must never be logged. SiteDesk's own code logs ids,
//! counts and error kinds only; this layer enforces it for everything that
//! reaches it: an event keeps its message and the fields on an allowlist
//! of names that carry no patient data, every other field is replaced by
//! `[redacted]`, and a line is cut at a bounded length. Other libraries'
//! messages are kept only at warning level and above.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use ts_rs::TS;

/// Lines kept.
pub const LOG_LINES: usize = 2000;
/// Longest message kept, in characters.
const MESSAGE_MAX: usize = 500;

/// Field names whose values are never patient data: ids, counts, sizes,
/// durations, versions, error kinds, paths of the app's own files.
const ALLOWED_FIELDS: &[&str] = &[
    "error",
    "path",
    "version",
    "url",
    "count",
    "records",
    "rows",
    "batch",
    "task",
    "id",
    "code",
    "status",
    "kind",
    "elapsed_ms",
    "live",
    "attempt",
    "lane",
    "commits",
    "cells",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct LogLine {
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    pub target: String,
    pub message: String,
}

/// The ring buffer. Cheap to clone; all clones share one buffer.
#[derive(Clone)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
    capacity: usize,
}

impl Default for LogBuffer {
    fn default() -> LogBuffer {
        LogBuffer::new(LOG_LINES)
    }
}

fn rank(level: &str) -> u8 {
    match level {
        "ERROR" => 5,
        "WARN" => 4,
        "INFO" => 3,
        "DEBUG" => 2,
        _ => 1,
    }
}

impl LogBuffer {
    pub fn new(capacity: usize) -> LogBuffer {
        LogBuffer {
            lines: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(4096)))),
            capacity: capacity.max(1),
        }
    }

    fn push(&self, line: LogLine) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The memory the kept lines hold: their strings and the ring itself.
    pub fn heap_bytes(&self) -> usize {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.capacity() * std::mem::size_of::<LogLine>()
            + lines
                .iter()
                .map(|l| l.level.capacity() + l.target.capacity() + l.message.capacity())
                .sum::<usize>()
    }

    pub fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest `limit` lines at `min_level` or above whose text
    /// contains `search` (any case), oldest first.
    pub fn lines(&self, min_level: &str, search: &str, limit: usize) -> Vec<LogLine> {
        let search = search.to_lowercase();
        let min = rank(min_level);
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<LogLine> = lines
            .iter()
            .rev()
            .filter(|l| rank(&l.level) >= min)
            .filter(|l| {
                search.is_empty()
                    || l.message.to_lowercase().contains(&search)
                    || l.target.to_lowercase().contains(&search)
            })
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// The layer that fills this buffer.
    pub fn layer(&self) -> RingLayer {
        RingLayer {
            buffer: self.clone(),
        }
    }
}

/// A tracing layer writing redacted lines into a [`LogBuffer`].
pub struct RingLayer {
    buffer: LogBuffer,
}

struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else if ALLOWED_FIELDS.contains(&field.name()) {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        } else {
            let _ = write!(self.rest, " {}=[redacted]", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else if ALLOWED_FIELDS.contains(&field.name()) {
            let _ = write!(self.rest, " {}={value}", field.name());
        } else {
            let _ = write!(self.rest, " {}=[redacted]", field.name());
        }
    }
}

/// SiteDesk's own crates, whose messages are written not to carry values.
const OWN_TARGETS: &[&str] = &["sitedesk", "sitedesk_core", "edc_sim"];

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // Other libraries' debug and trace messages may quote what they
        // carry (request bodies, SQL parameters): only their warnings and
        // errors are kept.
        let meta = event.metadata();
        let own = OWN_TARGETS
            .iter()
            .any(|t| meta.target() == *t || meta.target().starts_with(&format!("{t}::")));
        if !own && *meta.level() > Level::WARN {
            return;
        }
        let mut fields = Fields {
            message: String::new(),
            rest: String::new(),
        };
        event.record(&mut fields);
        let mut message = fields.message + &fields.rest;
        if message.chars().count() > MESSAGE_MAX {
            message = message.chars().take(MESSAGE_MAX).collect::<String>() + "…";
        }
        let level = *event.metadata().level();
        self.buffer.push(LogLine {
            at: Utc::now(),
            level: match level {
                Level::ERROR => "ERROR",
                Level::WARN => "WARN",
                Level::INFO => "INFO",
                Level::DEBUG => "DEBUG",
                Level::TRACE => "TRACE",
            }
            .into(),
            target: event.metadata().target().to_owned(),
            message,
        });
    }
}
