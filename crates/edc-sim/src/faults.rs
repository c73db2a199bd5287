//! Fault injection: what can go wrong between a desk and a real REDCap
//! server (slow answers, proxies answering 5xx, rate limiters and bans,
//! connections cut mid-answer, an import that committed but whose answer
//! was lost, a slow commit stamped early, a clock that steps back, PHP's
//! cap on form variables, a database error answered as data),
//! described as a [`FaultSet`] and decided request by request from a seeded
//! random number generator, so that a failing run can be replayed.
//!
//! A fault set is written in the compact spec language of `--faults`
//! (parsed by [`FaultSet::from_str`](std::str::FromStr), printed back by
//! `Display`) or as JSON (the admin endpoint); the grammar is in the crate
//! documentation.
//!
//! Not here: carrying the faults out on a connection (`server`), counting
//! them (`stats`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

#[cfg(test)]
mod tests;

/// Every fault and limit in force. The default injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultSet {
    /// Per-request faults, tried in order for every API request.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Requests per token, answered 429 beyond it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateLimit>,
    /// At most this many API requests are processed at once; the others
    /// wait for a free slot, as at a server with a fixed number of workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// PHP's `max_input_vars`: a request with more form variables keeps
    /// only the first this many (PHP drops the rest with a warning), and
    /// the call goes on with what remains. Off unless set; real servers
    /// have PHP's default, [`PHP_MAX_INPUT_VARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_vars: Option<u32>,
    /// REDCap's rate limiter as its administrators meet it: an address
    /// that has made this many requests (counted from when the set is put
    /// in force) is banned, and every later call from it answers 429 in
    /// plain text ([`BANNED`], no `Retry-After`) until the ban is lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban: Option<u32>,
}

/// PHP's default `max_input_vars` (php.ini), the limit real REDCap servers
/// have unless their administrator raised it.
pub const PHP_MAX_INPUT_VARS: u32 = 1000;

/// The plain-text body of a banned address's 429. REDCap's rate limiter
/// bans an address "due to suspected abuse" (the words PyCap users met:
/// redcap-tools/PyCap issue #69, "IP address banned due to suspected
/// abuse"); the sentence around them is the simulator's.
pub const BANNED: &str = "Your IP address has been banned due to suspected abuse. Please contact your REDCap administrator to lift the ban.";

/// The plain-text body of a `db-error`, answered with HTTP 200: what
/// REDCap's `redcap_connect.php` prints when it cannot reach MySQL, as
/// REDCapR met it under load ("error message posing as data",
/// OuhscBbmc/REDCapR issues #79 and #81), with its placeholders filled in.
pub const DB_ERROR: &str = "The hostname (localhost) / username (redcap) / password (XXXXXX) combination could not connect to the MySQL server.\n\t\tPlease check their values.";

/// One fault and the requests it may hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(flatten)]
    pub fault: Fault,
    #[serde(flatten)]
    pub when: When,
}

/// What happens to a request a rule hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Waits before processing: `min_ms` exactly when equal to `max_ms`,
    /// else uniformly in between. Added to other latencies that hit.
    Latency { min_ms: u64, max_ms: u64 },
    /// Answers this status (5xx) without processing, as a failing proxy
    /// or server does.
    Status { code: u16 },
    /// Answers 429 with `Retry-After` in seconds, without processing.
    TooManyRequests { retry_after_s: u64 },
    /// Holds the request without an answer until the server shuts down
    /// (or [`HANG_LIMIT`] passes), then closes the connection.
    Hang,
    /// Processes the request, sends part of the answer, then resets the
    /// connection (TCP RST).
    Reset,
    /// Processes the request, announces the whole answer's
    /// `Content-Length`, sends part of it and closes the connection.
    Truncate,
    /// Processes the request (an import commits), then resets the
    /// connection before any answer is sent.
    ApplyThenDrop,
    /// Waits this long per record row imported or exported, after
    /// processing, in microseconds (`record-cost=0.1ms` is 100). Added to
    /// other record costs that hit.
    RecordCost { us: u64 },
    /// A write (record import or delete) is stamped, as REDCap stamps its
    /// log, when its request starts, and then commits this much later: a
    /// quicker write sent after it commits, and is exported, first. Added
    /// to other slow commits that hit; other calls are not delayed.
    SlowCommit { ms: u64 },
    /// The server's clock steps back this many minutes before the request
    /// is stamped, as daylight saving's end or an NTP correction moves it:
    /// later stamps repeat times already used. Once unless `next=` says
    /// more.
    ClockBack { minutes: u64 },
    /// Answers HTTP 200 with a plain-text database error ([`DB_ERROR`])
    /// instead of the answer, without processing.
    DbError,
}

/// Which requests a rule hits. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct When {
    /// Only requests with this `content` (`record`, `metadata`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Only imports, exports (every read) or deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Each matching request is hit with this chance (0 to 1); always
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Only this many hits, then the rule is spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// What a request does, as fault conditions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Import,
    /// Every call that reads: records, metadata, the log, ...
    Export,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Import => "import",
            Action::Export => "export",
            Action::Delete => "delete",
        }
    }
}

/// A per-token rate limit: `requests` per `per_s` seconds, as a token
/// bucket that holds `requests` (a burst of that many passes at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub requests: u32,
    pub per_s: u64,
    /// The `Retry-After` to answer; when absent, the seconds until the
    /// bucket has a request again, rounded up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
}

/// How long a hung request is held at most when the server is not shut
/// down: longer than any client's timeout (REDCap clients use a minute or
/// a few).
pub const HANG_LIMIT: Duration = Duration::from_secs(600);

/// The `Retry-After` of a 429 fault written without one.
pub const DEFAULT_RETRY_AFTER_S: u64 = 1;

/// Why a fault spec cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "rule \"{rule}\": unknown fault \"{name}\" (known: latency, status, 429, hang, reset, truncate, apply-then-drop, record-cost, slow-commit, clock-back, db-error, rate, max-concurrent, max-input-vars, ban)"
    )]
    UnknownFault { rule: String, name: String },
    #[error("rule \"{rule}\": {what} \"{value}\" is not valid; expected {expected}")]
    BadValue {
        rule: String,
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "rule \"{rule}\": unknown condition \"{condition}\" (known: a probability, p=, content=, action=, next=, retry-after=)"
    )]
    UnknownCondition { rule: String, condition: String },
    #[error("rule \"{rule}\": {option} does not apply to {fault}")]
    NotApplicable {
        rule: String,
        option: &'static str,
        fault: &'static str,
    },
    #[error("rule \"{rule}\": {option} is given twice")]
    Repeated { rule: String, option: &'static str },
    #[error("{what} is set by two rules")]
    Twice { what: &'static str },
}

impl FromStr for FaultSet {
    type Err = SpecError;

    /// Reads the compact spec: rules separated by `;` (blank ones skipped).
    fn from_str(spec: &str) -> Result<FaultSet, SpecError> {
        let mut set = FaultSet::default();
        for text in spec.split(';').map(str::trim).filter(|t| !t.is_empty()) {
            match parse_rule(text)? {
                Item::Rule(rule) => set.rules.push(rule),
                Item::Rate(rate) => {
                    if set.rate.replace(rate).is_some() {
                        return Err(SpecError::Twice { what: "rate" });
                    }
                }
                Item::MaxConcurrent(n) => {
                    if set.max_concurrent.replace(n).is_some() {
                        return Err(SpecError::Twice {
                            what: "max-concurrent",
                        });
                    }
                }
                Item::MaxInputVars(n) => {
                    if set.max_input_vars.replace(n).is_some() {
                        return Err(SpecError::Twice {
                            what: "max-input-vars",
                        });
                    }
                }
                Item::Ban(n) => {
                    if set.ban.replace(n).is_some() {
                        return Err(SpecError::Twice { what: "ban" });
                    }
                }
            }
        }
        Ok(set)
    }
}

enum Item {
    Rule(Rule),
    Rate(RateLimit),
    MaxConcurrent(u32),
    MaxInputVars(u32),
    Ban(u32),
}

/// The conditions of one rule as written, before they are checked against
/// its fault.
#[derive(Default)]
struct Conditions {
    when: When,
    retry_after_s: Option<u64>,
}

fn parse_rule(rule: &str) -> Result<Item, SpecError> {
    let (head, rest) = match rule.find(['@', ':']) {
        Some(at) => (&rule[..at], &rule[at + 1..]),
        None => (rule, ""),
    };
    let head = head.trim();
    let conditions = if rest.trim().is_empty() {
        Conditions::default()
    } else {
        parse_conditions(rule, rest)?
    };
    let (name, value) = match head.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (head, None),
    };
    let bad = |what: &'static str, value: &str, expected: &'static str| SpecError::BadValue {
        rule: rule.to_owned(),
        what,
        value: value.to_owned(),
        expected,
    };
    let need = |expected: &'static str| value.ok_or_else(|| bad(name_of(name), "", expected));
    let no_retry_after = |fault: &'static str| match conditions.retry_after_s {
        Some(_) => Err(SpecError::NotApplicable {
            rule: rule.to_owned(),
            option: "retry-after",
            fault,
        }),
        None => Ok(()),
    };
    let no_value = |fault: &'static str| match value {
        Some(v) => Err(bad(fault, v, "no value")),
        None => Ok(()),
    };
    let fault = match name {
        "latency" => {
            no_retry_after("latency")?;
            let v = need("a delay such as 50ms or 20..200ms")?;
            let (min_ms, max_ms) = parse_delay(v)
                .ok_or_else(|| bad("latency", v, "a delay such as 50ms or 20..200ms"))?;
            Fault::Latency { min_ms, max_ms }
        }
        "record-cost" => {
            no_retry_after("record-cost")?;
            let v = need("a duration such as 2ms or 0.1ms")?;
            let us = parse_duration_us(v)
                .ok_or_else(|| bad("record-cost", v, "a duration such as 2ms or 0.1ms"))?;
            Fault::RecordCost { us }
        }
        "status" => {
            let v = need("an HTTP status 500-599 or 429")?;
            match v.parse::<u16>() {
                Ok(429) => Fault::TooManyRequests {
                    retry_after_s: conditions.retry_after_s.unwrap_or(DEFAULT_RETRY_AFTER_S),
                },
                Ok(code @ 500..=599) => {
                    no_retry_after("status")?;
                    Fault::Status { code }
                }
                _ => return Err(bad("status", v, "an HTTP status 500-599 or 429")),
            }
        }
        "429" => {
            no_value("429")?;
            Fault::TooManyRequests {
                retry_after_s: conditions.retry_after_s.unwrap_or(DEFAULT_RETRY_AFTER_S),
            }
        }
        "slow-commit" => {
            no_retry_after("slow-commit")?;
            let v = need("a duration such as 500ms or 2s")?;
            let ms = parse_duration_ms(v, None)
                .ok_or_else(|| bad("slow-commit", v, "a duration such as 500ms or 2s"))?;
            Fault::SlowCommit { ms }
        }
        "clock-back" => {
            no_retry_after("clock-back")?;
            let v = need("whole minutes, at least 1")?;
            let minutes = v
                .parse::<u64>()
                .ok()
                .filter(|m| *m >= 1)
                .ok_or_else(|| bad("clock-back", v, "whole minutes, at least 1"))?;
            // One step back, as a clock change is, unless told otherwise.
            let mut when = conditions.when;
            when.next = when.next.or(Some(1));
            return Ok(Item::Rule(Rule {
                fault: Fault::ClockBack { minutes },
                when,
            }));
        }
        "hang" | "reset" | "truncate" | "apply-then-drop" | "db-error" => {
            let (fault, label) = match name {
                "hang" => (Fault::Hang, "hang"),
                "reset" => (Fault::Reset, "reset"),
                "truncate" => (Fault::Truncate, "truncate"),
                "db-error" => (Fault::DbError, "db-error"),
                _ => (Fault::ApplyThenDrop, "apply-then-drop"),
            };
            no_value(label)?;
            no_retry_after(label)?;
            fault
        }
        "rate" => {
            let v = need("requests per time such as 10/s or 30/m")?;
            let rate = parse_rate(v)
                .ok_or_else(|| bad("rate", v, "requests per time such as 10/s or 30/m"))?;
            let When {
                content,
                action,
                probability,
                next,
            } = &conditions.when;
            for (given, option) in [
                (content.is_some(), "content"),
                (action.is_some(), "action"),
                (probability.is_some(), "a probability"),
                (next.is_some(), "next"),
            ] {
                if given {
                    return Err(SpecError::NotApplicable {
                        rule: rule.to_owned(),
                        option,
                        fault: "rate",
                    });
                }
            }
            return Ok(Item::Rate(RateLimit {
                retry_after_s: conditions.retry_after_s,
                ..rate
            }));
        }
        "max-concurrent" | "max-input-vars" | "ban" => {
            let (label, expected): (&'static str, &'static str) = match name {
                "max-concurrent" => ("max-concurrent", "a number of requests, at least 1"),
                "max-input-vars" => ("max-input-vars", "a number of form variables, at least 1"),
                _ => ("ban", "a number of requests, at least 1"),
            };
            let v = need(expected)?;
            let n = v
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(label, v, expected))?;
            if !rest.trim().is_empty() {
                return Err(SpecError::NotApplicable {
                    rule: rule.to_owned(),
                    option: "conditions",
                    fault: label,
                });
            }
            return Ok(match name {
                "max-concurrent" => Item::MaxConcurrent(n),
                "max-input-vars" => Item::MaxInputVars(n),
                _ => Item::Ban(n),
            });
        }
        other => {
            return Err(SpecError::UnknownFault {
                rule: rule.to_owned(),
                name: other.to_owned(),
            });
        }
    };
    Ok(Item::Rule(Rule {
        fault,
        when: conditions.when,
    }))
}

/// The name a value error reports for a fault word.
fn name_of(name: &str) -> &'static str {
    match name {
        "latency" => "latency",
        "record-cost" => "record-cost",
        "status" => "status",
        "rate" => "rate",
        "slow-commit" => "slow-commit",
        "clock-back" => "clock-back",
        "max-input-vars" => "max-input-vars",
        "ban" => "ban",
        _ => "max-concurrent",
    }
}

fn parse_conditions(rule: &str, text: &str) -> Result<Conditions, SpecError> {
    let mut c = Conditions::default();
    let repeated = |option| SpecError::Repeated {
        rule: rule.to_owned(),
        option,
    };
    let bad = |what: &'static str, value: &str, expected: &'static str| SpecError::BadValue {
        rule: rule.to_owned(),
        what,
        value: value.to_owned(),
        expected,
    };
    for cond in text.split(':').map(str::trim) {
        let (key, value) = match cond.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => ("p", cond),
        };
        match key {
            "p" => {
                let p = parse_probability(value).ok_or_else(|| {
                    if cond.contains('=') {
                        bad(
                            "probability",
                            value,
                            "a number from 0 to 1, or a percentage",
                        )
                    } else {
                        SpecError::UnknownCondition {
                            rule: rule.to_owned(),
                            condition: cond.to_owned(),
                        }
                    }
                })?;
                if c.when.probability.replace(p).is_some() {
                    return Err(repeated("a probability"));
                }
            }
            "content" => {
                let (content, action) = match value.split_once('/') {
                    Some((c, a)) => (c, Some(a)),
                    None => (value, None),
                };
                if content.is_empty() || !content.chars().all(|ch| ch.is_ascii_alphabetic()) {
                    return Err(bad("content", value, "a content name such as record"));
                }
                if c.when.content.replace(content.to_owned()).is_some() {
                    return Err(repeated("content"));
                }
                if let Some(a) = action {
                    let a = parse_action(a)
                        .ok_or_else(|| bad("action", a, "import, export or delete"))?;
                    if c.when.action.replace(a).is_some() {
                        return Err(repeated("action"));
                    }
                }
            }
            "action" => {
                let a = parse_action(value)
                    .ok_or_else(|| bad("action", value, "import, export or delete"))?;
                if c.when.action.replace(a).is_some() {
                    return Err(repeated("action"));
                }
            }
            "next" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad("next", value, "a number of requests, at least 1"))?;
                if c.when.next.replace(n).is_some() {
                    return Err(repeated("next"));
                }
            }
            "retry-after" => {
                let s = value
                    .parse::<u64>()
                    .map_err(|_| bad("retry-after", value, "whole seconds"))?;
                if c.retry_after_s.replace(s).is_some() {
                    return Err(repeated("retry-after"));
                }
            }
            _ => {
                return Err(SpecError::UnknownCondition {
                    rule: rule.to_owned(),
                    condition: cond.to_owned(),
                });
            }
        }
    }
    Ok(c)
}

fn parse_action(s: &str) -> Option<Action> {
    match s {
        "import" => Some(Action::Import),
        "export" => Some(Action::Export),
        "delete" => Some(Action::Delete),
        _ => None,
    }
}

fn parse_probability(s: &str) -> Option<f64> {
    let p = match s.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok()? / 100.0,
        None => s.parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&p).then_some(p)
}

/// `250ms`, `2s`, `1.5s`; a bare number takes `unit` when there is one.
fn parse_duration_ms(s: &str, unit: Option<&str>) -> Option<u64> {
    let s = s.trim();
    let (number, factor) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else {
        match unit? {
            "ms" => (s, 1.0),
            _ => (s, 1000.0),
        }
    };
    let n: f64 = number.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n * factor).round() as u64)
}

/// `2ms`, `0.1ms`, `100us`, `1s`, in microseconds.
fn parse_duration_us(s: &str) -> Option<u64> {
    let s = s.trim();
    let (number, factor) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1000.0)
    } else {
        (s.strip_suffix('s')?, 1_000_000.0)
    };
    let n: f64 = number.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n * factor).round() as u64)
}

/// `50ms`, or a range `20..200ms` (a bound without a unit takes the
/// other's).
fn parse_delay(s: &str) -> Option<(u64, u64)> {
    match s.split_once("..") {
        None => parse_duration_ms(s, None).map(|ms| (ms, ms)),
        Some((lo, hi)) => {
            let unit = if hi.trim().ends_with("ms") { "ms" } else { "s" };
            let lo = parse_duration_ms(lo, Some(unit))?;
            let hi = parse_duration_ms(hi, None)?;
            (lo <= hi).then_some((lo, hi))
        }
    }
}

/// `10/s`, `30/m`.
fn parse_rate(s: &str) -> Option<RateLimit> {
    let (n, per) = s.split_once('/')?;
    let requests = n.trim().parse::<u32>().ok().filter(|n| *n >= 1)?;
    let per_s = match per.trim() {
        "s" => 1,
        "m" => 60,
        _ => return None,
    };
    Some(RateLimit {
        requests,
        per_s,
        retry_after_s: None,
    })
}

impl fmt::Display for FaultSet {
    /// The spec this set reads back from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.rules.iter().map(Rule::to_string).collect();
        if let Some(r) = self.rate {
            let per = if r.per_s == 60 { "m" } else { "s" };
            let mut s = format!("rate={}/{per}", r.requests);
            if let Some(s2) = r.retry_after_s {
                s.push_str(&format!("@retry-after={s2}"));
            }
            parts.push(s);
        }
        if let Some(n) = self.max_concurrent {
            parts.push(format!("max-concurrent={n}"));
        }
        if let Some(n) = self.max_input_vars {
            parts.push(format!("max-input-vars={n}"));
        }
        if let Some(n) = self.ban {
            parts.push(format!("ban={n}"));
        }
        f.write_str(&parts.join("; "))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut retry_after = None;
        let head = match self.fault {
            Fault::Latency { min_ms, max_ms } if min_ms == max_ms => format!("latency={min_ms}ms"),
            Fault::Latency { min_ms, max_ms } => format!("latency={min_ms}..{max_ms}ms"),
            Fault::Status { code } => format!("status={code}"),
            Fault::TooManyRequests { retry_after_s } => {
                retry_after = Some(retry_after_s);
                "429".to_owned()
            }
            Fault::Hang => "hang".to_owned(),
            Fault::Reset => "reset".to_owned(),
            Fault::Truncate => "truncate".to_owned(),
            Fault::ApplyThenDrop => "apply-then-drop".to_owned(),
            Fault::RecordCost { us } if us % 1000 == 0 => format!("record-cost={}ms", us / 1000),
            Fault::RecordCost { us } => format!("record-cost={}us", us),
            Fault::SlowCommit { ms } => format!("slow-commit={ms}ms"),
            Fault::ClockBack { minutes } => format!("clock-back={minutes}"),
            Fault::DbError => "db-error".to_owned(),
        };
        let w = &self.when;
        let mut conds = Vec::new();
        if let Some(p) = w.probability {
            conds.push(p.to_string());
        }
        if let Some(c) = &w.content {
            conds.push(format!("content={c}"));
        }
        if let Some(a) = w.action {
            conds.push(format!("action={}", a.as_str()));
        }
        if let Some(n) = w.next {
            conds.push(format!("next={n}"));
        }
        if let Some(s) = retry_after {
            conds.push(format!("retry-after={s}"));
        }
        f.write_str(&head)?;
        for (i, c) in conds.iter().enumerate() {
            f.write_str(if i == 0 { "@" } else { ":" })?;
            f.write_str(c)?;
        }
        Ok(())
    }
}

/// The request a fault decision is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallKey {
    /// The `content` parameter as sent (empty when missing).
    pub content: String,
    pub action: Action,
}

impl CallKey {
    /// How the statistics name the call: `record/import`, `metadata/export`.
    pub fn label(&self) -> String {
        let content = if self.content.is_empty() {
            "(none)"
        } else {
            &self.content
        };
        format!("{content}/{}", self.action.as_str())
    }
}

/// What the faults do to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub latency: Duration,
    pub record_cost: Duration,
    /// How long a write waits, after its stamp, before it runs and
    /// commits.
    pub slow_commit: Duration,
    /// Minutes the clock steps back before the request is stamped.
    pub clock_back_minutes: u64,
    pub outcome: Option<Outcome>,
}

/// The one fault (at most) that changes how a request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Status(u16),
    TooManyRequests { retry_after_s: u64 },
    Hang,
    Reset,
    Truncate,
    ApplyThenDrop,
    DbError,
}

impl Outcome {
    /// The name the statistics count it under.
    pub fn label(self) -> String {
        match self {
            Outcome::Status(code) => format!("status={code}"),
            Outcome::TooManyRequests { .. } => "429".to_owned(),
            Outcome::Hang => "hang".to_owned(),
            Outcome::Reset => "reset".to_owned(),
            Outcome::Truncate => "truncate".to_owned(),
            Outcome::ApplyThenDrop => "apply-then-drop".to_owned(),
            Outcome::DbError => "db-error".to_owned(),
        }
    }
}

/// A token's rate-limit bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// At most this many tokens' buckets are kept; beyond it they start over
/// (only a client sending made-up tokens gets there).
const MAX_BUCKETS: usize = 10_000;

/// The fault set in force with its running state: how many hits each
/// `next=` rule has left, the random number generator, the rate buckets.
pub(crate) struct FaultState {
    set: FaultSet,
    remaining: Vec<Option<u64>>,
    rng: StdRng,
    buckets: HashMap<String, Bucket>,
    /// Requests per address while `ban` is set.
    requests_by_ip: HashMap<IpAddr, u32>,
    /// Banned addresses: they stay banned until lifted, whatever fault
    /// set is put in force, as a REDCap administrator must lift a ban.
    banned: HashSet<IpAddr>,
}

impl FaultState {
    pub fn new(set: FaultSet, seed: u64) -> FaultState {
        let remaining = set.rules.iter().map(|r| r.when.next).collect();
        FaultState {
            set,
            remaining,
            rng: StdRng::seed_from_u64(seed),
            buckets: HashMap::new(),
            requests_by_ip: HashMap::new(),
            banned: HashSet::new(),
        }
    }

    pub fn set(&self) -> &FaultSet {
        &self.set
    }

    /// Puts `set` in force: `next=` counts and rate buckets start over; the
    /// random sequence goes on.
    pub fn replace(&mut self, set: FaultSet) {
        self.remaining = set.rules.iter().map(|r| r.when.next).collect();
        self.buckets.clear();
        self.requests_by_ip.clear();
        self.set = set;
    }

    /// Counts a request from `ip`; `true` when the address is banned
    /// (now, by this request, or before).
    pub fn ban_check(&mut self, ip: IpAddr) -> bool {
        if self.banned.contains(&ip) {
            return true;
        }
        let Some(limit) = self.set.ban else {
            return false;
        };
        if self.requests_by_ip.len() >= MAX_BUCKETS && !self.requests_by_ip.contains_key(&ip) {
            self.requests_by_ip.clear();
        }
        let n = self.requests_by_ip.entry(ip).or_default();
        *n += 1;
        if *n > limit {
            self.banned.insert(ip);
            return true;
        }
        false
    }

    /// Lifts every ban, and starts the counts over; the addresses lifted.
    pub fn lift_bans(&mut self) -> Vec<IpAddr> {
        self.requests_by_ip.clear();
        let mut lifted: Vec<IpAddr> = self.banned.drain().collect();
        lifted.sort();
        lifted
    }

    /// Decides what the rules do to a request. A rule that matches rolls
    /// its probability; the first answer-changing fault that fires wins,
    /// and later answer-changing rules are not tried (so their `next=`
    /// counts are not spent); latencies and record costs add up.
    pub fn plan(&mut self, call: &CallKey) -> Plan {
        let mut plan = Plan::default();
        for (i, rule) in self.set.rules.iter().enumerate() {
            let w = &rule.when;
            if w.content.as_ref().is_some_and(|c| *c != call.content)
                || w.action.is_some_and(|a| a != call.action)
                || self.remaining[i] == Some(0)
            {
                continue;
            }
            let changes_answer = !matches!(
                rule.fault,
                Fault::Latency { .. }
                    | Fault::RecordCost { .. }
                    | Fault::SlowCommit { .. }
                    | Fault::ClockBack { .. }
            );
            if changes_answer && plan.outcome.is_some() {
                continue;
            }
            if let Some(p) = w.probability
                && !self.rng.random_bool(p)
            {
                continue;
            }
            if let Some(n) = &mut self.remaining[i] {
                *n -= 1;
            }
            match rule.fault {
                Fault::Latency { min_ms, max_ms } => {
                    let ms = if min_ms == max_ms {
                        min_ms
                    } else {
                        self.rng.random_range(min_ms..=max_ms)
                    };
                    plan.latency += Duration::from_millis(ms);
                }
                Fault::RecordCost { us } => plan.record_cost += Duration::from_micros(us),
                Fault::Status { code } => plan.outcome = Some(Outcome::Status(code)),
                Fault::TooManyRequests { retry_after_s } => {
                    plan.outcome = Some(Outcome::TooManyRequests { retry_after_s })
                }
                Fault::Hang => plan.outcome = Some(Outcome::Hang),
                Fault::Reset => plan.outcome = Some(Outcome::Reset),
                Fault::Truncate => plan.outcome = Some(Outcome::Truncate),
                Fault::ApplyThenDrop => plan.outcome = Some(Outcome::ApplyThenDrop),
                Fault::SlowCommit { ms } => plan.slow_commit += Duration::from_millis(ms),
                Fault::ClockBack { minutes } => plan.clock_back_minutes += minutes,
                Fault::DbError => plan.outcome = Some(Outcome::DbError),
            }
        }
        plan
    }

    /// Takes one request from `token`'s bucket; `Some(retry_after_s)` when
    /// it is empty.
    pub fn rate_check(&mut self, token: &str, now: Instant) -> Option<u64> {
        let limit = self.set.rate?;
        let capacity = f64::from(limit.requests);
        let per_second = capacity / limit.per_s as f64;
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(token) {
            self.buckets.clear();
        }
        let bucket = self.buckets.entry(token.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return None;
        }
        let wait = (1.0 - bucket.tokens) / per_second;
        Some(
            limit
                .retry_after_s
                .unwrap_or_else(|| (wait.ceil() as u64).max(1)),
        )
    }
}
