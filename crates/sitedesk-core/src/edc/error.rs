//! What can go wrong talking to the EDC, as typed errors the sync engine
//! decides on (retry, stop, show) and that the UI shows in plain words.
//! No variant carries the token or any request body.

use std::time::Duration;

use serde::Serialize;
use ts_rs::TS;

use crate::i18n::{Arg, Lang, Message};

/// One value the server refused on import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ValueError {
    pub record: String,
    pub field: String,
    pub value: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdcError {
    /// The URL is not an http(s) URL.
    #[error("the EDC address is not a web address: {0}")]
    BadUrl(String),
    /// An address the token must not be sent to: plain `http://` to another
    /// computer, or a user name or password inside the address.
    #[error("the EDC address is not safe for the token: {0}")]
    UnsafeUrl(String),
    /// The server answered with a redirect, which is never followed: the
    /// request's body carries the token.
    #[error("the EDC answered with a redirect")]
    Redirect(String),
    /// The server does not know the token (or it was revoked).
    #[error("the EDC refused the API token")]
    BadToken,
    /// The token is known but may not do this. (`Display`, which logs and
    /// task errors use, leaves out the server's words: they may quote
    /// values; `message` shows them to the user.)
    #[error("the EDC refused the request (forbidden)")]
    Forbidden(String),
    /// The token lacks a right the call needs (REDCap's "Insufficient user
    /// privileges: You must have ... privileges"), in the server's words.
    /// Expected of a site's token for some calls (`dag`, `log`): the
    /// caller decides whether it can do without.
    #[error("the EDC token lacks a right for this call")]
    NoRight(String),
    /// The server has banned this computer's address (REDCap's rate
    /// limiter: a plain-text 429 without Retry-After, until an
    /// administrator lifts it). Retrying does not help and prolongs it.
    #[error("the EDC has banned this computer's address")]
    Banned(String),
    /// An import was refused: one row per bad value.
    #[error("the EDC refused {} values", .0.len())]
    Validation(Vec<ValueError>),
    /// An import named fields the project does not have.
    #[error("the EDC does not know {} of the fields sent", .0.len())]
    UnknownFields(Vec<String>),
    /// Any other refusal of the request (HTTP 4xx), in the server's words.
    #[error("the EDC refused the request")]
    Refused(String),
    /// Too many requests; `retry_after` when the server said how long to wait.
    #[error("the EDC asks to slow down")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx.
    #[error("the EDC had an error (HTTP {status})")]
    Server { status: u16, message: String },
    /// No connection, or the connection broke before an answer came.
    #[error("the EDC could not be reached: {0}")]
    Transport(String),
    /// No complete answer within the time allowed.
    #[error("the EDC did not answer in time")]
    Timeout,
    /// An answer that is not what the API returns.
    #[error("the EDC's answer could not be read")]
    Malformed(String),
}

impl EdcError {
    /// Whether trying again later may succeed: the request may not have
    /// reached the server, or the server may recover.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            EdcError::RateLimited { .. }
                | EdcError::Server { .. }
                | EdcError::Transport(_)
                | EdcError::Timeout
        )
    }

    /// Whether the request may have been applied although no answer came:
    /// an import that timed out or lost its connection must be checked by
    /// exporting, never simply sent again with new ids.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            EdcError::Transport(_) | EdcError::Timeout | EdcError::Malformed(_)
        )
    }

    /// The error in plain words for the user, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        match self {
            EdcError::BadUrl(u) => Message::new("core.edc.badUrl").with("url", u),
            EdcError::UnsafeUrl(u) => Message::new("core.edc.unsafeUrl").with("url", u),
            EdcError::Redirect(to) => Message::new("core.edc.redirect").with("location", to),
            EdcError::BadToken => Message::new("core.edc.badToken"),
            EdcError::Forbidden(m) => Message::new("core.edc.forbidden").with("detail", m),
            EdcError::NoRight(m) => Message::new("core.edc.noRight").with("detail", m),
            EdcError::Banned(m) => Message::new("core.edc.banned").with("detail", m),
            EdcError::Validation(rows) => {
                let shown = rows.iter().take(5).map(|r| {
                    Message::new("core.edc.valueError")
                        .with("record", &r.record)
                        .with("field", &r.field)
                        .with("value", &r.value)
                        .with("message", &r.message)
                });
                Message::new("core.edc.validation")
                    .count(rows.len())
                    .with("values", Arg::list(shown, "core.edc.valueErrorSeparator"))
            }
            EdcError::UnknownFields(f) => Message::new("core.edc.unknownFields")
                .with("fields", Arg::list(f, "core.list.comma")),
            EdcError::Refused(m) => Message::new("core.edc.refused").with("detail", m),
            EdcError::RateLimited {
                retry_after: Some(d),
            } => Message::new("core.edc.rateLimitedFor")
                .with("seconds", d.as_secs().max(1).to_string()),
            EdcError::RateLimited { retry_after: None } => Message::new("core.edc.rateLimited"),
            EdcError::Server { status, .. } => {
                Message::new("core.edc.server").with("status", status.to_string())
            }
            EdcError::Transport(d) => Message::new("core.edc.transport").with("detail", d),
            EdcError::Timeout => Message::new("core.edc.timeout"),
            EdcError::Malformed(d) => Message::new("core.edc.malformed").with("detail", d),
        }
    }
}

/// Reads REDCap's per-value import errors: one CSV-quoted row per value,
/// `"record","field","value","message"`. `None` when the message is not
/// made of such rows.
pub(super) fn value_errors(message: &str) -> Option<Vec<ValueError>> {
    let mut rows = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(message.trim().as_bytes());
    for record in reader.records() {
        let record = record.ok()?;
        if record.len() != 4 {
            return None;
        }
        rows.push(ValueError {
            record: record[0].to_owned(),
            field: record[1].to_owned(),
            value: record[2].to_owned(),
            message: record[3].to_owned(),
        });
    }
    (!rows.is_empty()).then_some(rows)
}

/// Reads the fields REDCap names when an import has unknown ones ("The
/// following fields were not found in the project as real data fields:
/// a, b").
pub(super) fn unknown_fields(message: &str) -> Option<Vec<String>> {
    let lower = message.to_ascii_lowercase();
    if !(lower.contains("field") && (lower.contains("not found") || lower.contains("do not exist")))
    {
        return None;
    }
    let (_, list) = message.rsplit_once(':')?;
    let fields: Vec<String> = list
        .split(',')
        .map(|f| f.trim().trim_matches(['"', '\'', '.']).to_owned())
        .filter(|f| !f.is_empty())
        .collect();
    (!fields.is_empty()).then_some(fields)
}
