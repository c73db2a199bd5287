//! The central EDC: a client for the REDCap API (`POST {base}/api/`,
//! form-encoded, JSON answers), as `shared/docs/redcap-api.md` describes it.
//!
//! One pooled HTTP client per EDC; every call has a connect timeout and a
//! total timeout, and cancelling (dropping) a call drops its request.
//! Answers and failures become typed values: an [`EdcError`] says whether
//! trying again may help (`is_transient`) and whether an import may have
//! been applied although no answer came (`outcome_unknown`). Retrying,
//! backing off and breaking the circuit are the sync engine's decisions,
//! not this module's.
//!
//! The token is a secret ([`Token`]): it travels in the request body only,
//! and no error, log line or `Debug` output contains it.

mod error;
pub mod metrics;
#[cfg(test)]
mod tests;
mod token;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::metadata::design::Design;
use crate::metadata::{Dictionary, parse_api_json};

pub use error::{EdcError, ValueError};
pub use token::Token;

/// A flat record row as the API exports and imports it: column to value,
/// every value text (`""` for blank).
pub type FlatRow = BTreeMap<String, String>;

/// How long a call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection (a server that is down fails fast).
    pub connect: Duration,
    /// For the whole call, answer included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(60),
        }
    }
}

/// What `project` says about the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ProjectInfo {
    pub project_id: String,
    pub project_title: String,
    pub is_longitudinal: bool,
    pub has_repeating: bool,
    pub record_autonumbering: bool,
    /// `CODE, Label | CODE, Label`, as the project defines them; empty
    /// when it has none.
    pub missing_data_codes: String,
}

/// A data access group as the `dag` export gives it, with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DagInfo {
    pub data_access_group_name: String,
    pub unique_group_name: String,
    /// REDCap's number for the group; a group user's record names start
    /// with it (`12-1`).
    #[serde(deserialize_with = "number_or_text")]
    pub data_access_group_id: u32,
}

fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| serde::de::Error::custom("a group id out of range")),
        Value::String(s) => s.trim().parse().map_err(serde::de::Error::custom),
        _ => Err(serde::de::Error::custom("a group id is not a number")),
    }
}

/// Which records an export asks for; empty lists mean all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    pub records: Vec<String>,
    pub fields: Vec<String>,
    pub forms: Vec<String>,
    pub events: Vec<String>,
    /// `YYYY-MM-DD HH:MM:SS`, server time: records created or changed since.
    pub date_range_begin: Option<String>,
    pub date_range_end: Option<String>,
    /// Adds `redcap_data_access_group` to each row.
    pub data_access_groups: bool,
}

/// How an import treats blank values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// A blank leaves the stored value alone.
    Normal,
    /// A blank clears the stored value.
    Overwrite,
}

/// One entry of the project's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LogEntry {
    pub timestamp: String,
    pub username: String,
    pub action: String,
    #[serde(default)]
    pub details: String,
}

/// A server's `Date` header and when it came.
type ServerDate = (DateTime<Utc>, Instant);

/// A client for one project on one REDCap server, with one user's token.
#[derive(Clone)]
pub struct EdcClient {
    http: reqwest::Client,
    api: reqwest::Url,
    token: Token,
    metrics: std::sync::Arc<metrics::CallMetrics>,
    /// The server's clock as its last answer's `Date` header gave it, and
    /// when that answer came.
    server_clock: std::sync::Arc<std::sync::Mutex<Option<ServerDate>>>,
}

impl std::fmt::Debug for EdcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdcClient")
            .field("api", &self.api.as_str())
            .field("token", &self.token)
            .finish()
    }
}

/// The API endpoint for what a user typed: the server (`https://host/`),
/// its REDCap folder, or the API URL itself.
pub fn api_url(base: &str) -> Result<reqwest::Url, EdcError> {
    let base = base.trim();
    let mut url = reqwest::Url::parse(base).map_err(|_| EdcError::BadUrl(base.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(EdcError::BadUrl(base.to_owned()));
    }
    // The token goes in the body of every request: never to an address
    // with credentials of its own, and in clear only to this computer.
    if !url.username().is_empty() || url.password().is_some() {
        // Named without them: the error reaches logs and the screen.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        return Err(EdcError::UnsafeUrl(url.to_string()));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(EdcError::UnsafeUrl(base.to_owned()));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    let path = if path.ends_with("/api") {
        format!("{path}/")
    } else {
        format!("{path}/api/")
    };
    url.set_path(&path);
    Ok(url)
}

/// Whether an address names this computer (the demo EDC, a test server).
fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|h| {
        h.eq_ignore_ascii_case("localhost")
            || h.trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Whether two addresses are the same server (scheme, host and port): a
/// saved token is used again only there.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (api_url(a), api_url(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// The largest answer read: a whole-project export of a large study fits;
/// a server streaming without end does not fill the memory.
pub const MAX_ANSWER_BYTES: usize = 512 * 1024 * 1024;
/// The most of a server's own words kept in an error: enough to read,
/// never a page.
const MAX_SERVER_WORDS: usize = 300;
/// The longest Retry-After taken from a server: a day.
const MAX_RETRY_AFTER_SECS: u64 = 24 * 60 * 60;

impl EdcClient {
    pub fn new(base_url: &str, token: Token, timeouts: Timeouts) -> Result<EdcClient, EdcError> {
        let api = api_url(base_url)?;
        // reqwest's rustls takes the process's crypto provider; an error
        // here means one is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .user_agent(concat!("SiteDesk/", env!("CARGO_PKG_VERSION")))
            // A redirect would post the body, token included, to another
            // address, maybe from https to http.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EdcError::Transport(e.to_string()))?;
        Ok(EdcClient {
            http,
            api,
            token,
            metrics: std::sync::Arc::default(),
            server_clock: std::sync::Arc::default(),
        })
    }

    /// This client, counting its calls into `metrics` (shared with other
    /// clients) instead of its own.
    pub fn with_metrics(mut self, metrics: std::sync::Arc<metrics::CallMetrics>) -> EdcClient {
        self.metrics = metrics;
        self
    }

    /// What this client's calls have cost so far, per endpoint.
    pub fn metrics(&self) -> &metrics::CallMetrics {
        &self.metrics
    }

    /// The server's time now (UTC), from the `Date` header of its last
    /// answer, refusals included; `None` before any answer came or when
    /// its answers carry no readable date.
    pub fn server_now(&self) -> Option<DateTime<Utc>> {
        let seen = *self.server_clock.lock().unwrap_or_else(|p| p.into_inner());
        let (date, at) = seen?;
        Some(date + chrono::TimeDelta::from_std(at.elapsed()).unwrap_or_default())
    }

    /// The API endpoint this client calls.
    pub fn api(&self) -> &str {
        self.api.as_str()
    }

    /// One API call; the answer's body when the server said 200. Counted in
    /// the client's metrics, whether it succeeds or not (a call dropped
    /// by a cancel is not counted).
    async fn call(&self, content: &str, params: &[(String, String)]) -> Result<String, EdcError> {
        let endpoint = match content {
            "record" if params.iter().any(|(k, _)| k == "data") => "record import",
            "record" if params.iter().any(|(k, v)| k == "action" && v == "delete") => {
                "record delete"
            }
            "record" => "record export",
            other => other,
        };
        let sent: usize = params.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let started = std::time::Instant::now();
        let result = self.send(content, params).await;
        let received = result.as_ref().map_or(0, String::len);
        self.metrics
            .record(endpoint, started.elapsed(), result.is_ok(), sent, received);
        result
    }

    async fn send(&self, content: &str, params: &[(String, String)]) -> Result<String, EdcError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("token", self.token.expose()),
            ("content", content),
            ("format", "json"),
            ("returnFormat", "json"),
        ];
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let response = self
            .http
            .post(self.api.clone())
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if let Some(date) = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        {
            *self.server_clock.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((date.with_timezone(&Utc), Instant::now()));
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(MAX_RETRY_AFTER_SECS)));
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(MAX_SERVER_WORDS)
                .collect();
            return Err(EdcError::Redirect(to));
        }
        let body = read_capped(response).await?;
        if status.is_success() {
            return Ok(body);
        }
        Err(refusal(status.as_u16(), retry_after, &body))
    }

    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        content: &str,
        params: &[(String, String)],
    ) -> Result<T, EdcError> {
        let body = self.call(content, params).await?;
        serde_json::from_str(&body).map_err(|e| EdcError::Malformed(e.to_string()))
    }

    /// The REDCap version, such as `14.7.3`.
    pub async fn version(&self) -> Result<String, EdcError> {
        let body = self.call("version", &[]).await?;
        let v = body.trim().trim_matches('"').to_owned();
        let looks_like_version =
            !v.is_empty() && v.len() <= 20 && v.chars().all(|c| c.is_ascii_digit() || c == '.');
        if looks_like_version {
            Ok(v)
        } else {
            Err(EdcError::Malformed(
                "the version is not a version number".into(),
            ))
        }
    }

    pub async fn project(&self) -> Result<ProjectInfo, EdcError> {
        let v: Value = self.call_json("project", &[]).await?;
        let text = |k: &str| match &v[k] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let flag = |k: &str| matches!(text(k).as_str(), "1" | "true");
        if !v.is_object() || text("project_title").is_empty() {
            return Err(EdcError::Malformed(
                "the project answer has no title".into(),
            ));
        }
        Ok(ProjectInfo {
            project_id: text("project_id"),
            project_title: text("project_title"),
            is_longitudinal: flag("is_longitudinal"),
            has_repeating: flag("has_repeating_instruments_or_events"),
            record_autonumbering: flag("record_autonumbering_enabled"),
            missing_data_codes: text("missing_data_codes"),
        })
    }

    /// The data dictionary, checked as an import from a file is.
    pub async fn metadata(&self) -> Result<Dictionary, EdcError> {
        let body = self.call("metadata", &[]).await?;
        parse_api_json(&body).map_err(|e| EdcError::Malformed(e.to_string()))
    }

    /// Arms, events, the form-event mapping, repeating forms, sites and
    /// form names, checked against `dictionary`. A classic project has no
    /// arms, events or mapping: REDCap refuses those calls for it.
    pub async fn design(&self, dictionary: &Dictionary) -> Result<Design, EdcError> {
        let project = self.project().await?;
        let mut parts: BTreeMap<&str, Option<String>> = BTreeMap::new();
        if project.is_longitudinal {
            for content in ["arm", "event", "formEventMapping"] {
                parts.insert(content, Some(self.call(content, &[]).await?));
            }
        }
        let repeating = if project.has_repeating {
            Some(self.call("repeatingFormsEvents", &[]).await?)
        } else {
            None
        };
        // A site's token usually lacks the Data Access Groups right: it is
        // bound to its site, and the design then has no groups.
        let dags = match self.call("dag", &[]).await {
            Ok(d) => Some(d),
            Err(EdcError::NoRight(_)) => None,
            Err(e) => return Err(e),
        };
        let instruments = self.call("instrument", &[]).await?;
        let get = |k: &str| parts.get(k).cloned().flatten();
        Design::from_api(
            dictionary,
            get("arm").as_deref(),
            get("event").as_deref(),
            get("formEventMapping").as_deref(),
            repeating.as_deref(),
            dags.as_deref(),
        )
        .and_then(|d| d.with_instrument_labels(&instruments))
        .map(|d| d.with_missing_codes(&project.missing_data_codes))
        .map_err(|e| EdcError::Malformed(e.to_string()))
    }

    /// The project's data access groups, with their ids.
    pub async fn dags(&self) -> Result<Vec<DagInfo>, EdcError> {
        self.call_json("dag", &[]).await
    }

    /// The groups, or `None` when the token may not export them (it lacks
    /// the Data Access Groups right, as a site's token usually does).
    pub async fn dags_if_allowed(&self) -> Result<Option<Vec<DagInfo>>, EdcError> {
        match self.dags().await {
            Ok(d) => Ok(Some(d)),
            Err(EdcError::NoRight(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The record name this token would create next
    /// (`generateNextRecordName`; nothing is created).
    pub async fn next_record_name(&self) -> Result<String, EdcError> {
        let body = self.call("generateNextRecordName", &[]).await?;
        Ok(body.trim().trim_matches('"').to_owned())
    }

    /// The data access group this token is bound to, if any, among `dags`.
    /// REDCap has no "who am I" call for a token, and the user-group
    /// mapping needs the Data Access Groups right that a site's user
    /// lacks; but for a user in a group `generateNextRecordName` answers
    /// `<group id>-<n>`, and the group's id is in the `dag` export.
    pub async fn token_dag(&self, dags: &[DagInfo]) -> Result<Option<DagInfo>, EdcError> {
        if dags.is_empty() {
            return Ok(None);
        }
        let next = self.next_record_name().await?;
        Ok(dag_of_record_name(&next, dags).cloned())
    }

    /// Flat record rows.
    pub async fn export_records(&self, q: &RecordQuery) -> Result<Vec<FlatRow>, EdcError> {
        let rows: Vec<BTreeMap<String, Value>> =
            self.call_json("record", &export_params(q)).await?;
        rows.into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k, s)),
                        Value::Number(n) => Ok((k, n.to_string())),
                        Value::Null => Ok((k, String::new())),
                        other => Err(EdcError::Malformed(format!(
                            "column {k} holds {}",
                            kind(&other)
                        ))),
                    })
                    .collect()
            })
            .collect()
    }

    /// The record ids of an export (`q` names the id field among its
    /// fields), each once. An export of ids has a row per record and
    /// event, and the whole study's can be a long list: only the ids are
    /// kept, never a map per row.
    pub async fn export_record_ids(
        &self,
        q: &RecordQuery,
        id_field: &str,
    ) -> Result<BTreeSet<String>, EdcError> {
        let body = self.call("record", &export_params(q)).await?;
        let mut de = serde_json::Deserializer::from_str(&body);
        let ids = serde::de::DeserializeSeed::deserialize(ids::Ids { field: id_field }, &mut de)
            .and_then(|ids| de.end().map(|()| ids))
            .map_err(|e| EdcError::Malformed(e.to_string()))?;
        Ok(ids)
    }

    /// Imports flat rows (an upsert on record, event, repeat instrument and
    /// instance) and returns the ids of the records the server took. Record
    /// ids are always the client's: this never asks for auto-numbering.
    pub async fn import_records(
        &self,
        rows: &[FlatRow],
        overwrite: Overwrite,
    ) -> Result<Vec<String>, EdcError> {
        let data = serde_json::to_string(rows).expect("rows serialize");
        let params = [
            ("type".to_owned(), "flat".to_owned()),
            (
                "overwriteBehavior".to_owned(),
                match overwrite {
                    Overwrite::Normal => "normal",
                    Overwrite::Overwrite => "overwrite",
                }
                .to_owned(),
            ),
            ("forceAutoNumber".to_owned(), "false".to_owned()),
            ("returnContent".to_owned(), "ids".to_owned()),
            ("dateFormat".to_owned(), "YMD".to_owned()),
            ("data".to_owned(), data),
        ];
        let ids: Vec<Value> = self.call_json("record", &params).await?;
        ids.into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(EdcError::Malformed(format!(
                    "an imported id is {}",
                    kind(&other)
                ))),
            })
            .collect()
    }

    /// The newest time of a record change in the project's log (as
    /// [`log`](Self::log) with no record), by `order` (which may also
    /// normalize it), without keeping the entries: a first pull reads the
    /// whole log to learn its newest time.
    pub async fn newest_log_time(
        &self,
        begin: Option<&str>,
        order: fn(&str) -> String,
    ) -> Result<Option<String>, EdcError> {
        let mut params = vec![("logtype".to_owned(), "record".to_owned())];
        if let Some(b) = begin {
            params.push(("beginTime".to_owned(), b.to_owned()));
        }
        let body = self.call("log", &params).await?;
        let mut de = serde_json::Deserializer::from_str(&body);
        serde::de::DeserializeSeed::deserialize(ids::Newest { order }, &mut de)
            .and_then(|newest| de.end().map(|()| newest))
            .map_err(|e| EdcError::Malformed(e.to_string()))
    }

    /// Record changes (created, edited, deleted: `logtype=record`) from
    /// the project's log, optionally for one record and a time window
    /// (`YYYY-MM-DD HH:MM`). Needs the Logging right.
    pub async fn log(
        &self,
        record: Option<&str>,
        begin: Option<&str>,
        end: Option<&str>,
    ) -> Result<Vec<LogEntry>, EdcError> {
        let mut params = vec![("logtype".to_owned(), "record".to_owned())];
        for (k, v) in [("record", record), ("beginTime", begin), ("endTime", end)] {
            if let Some(v) = v {
                params.push((k.to_owned(), v.to_owned()));
            }
        }
        self.call_json("log", &params).await
    }
}

/// The group a record name `<group id>-<n>` belongs to, among `dags`.
pub fn dag_of_record_name<'a>(name: &str, dags: &'a [DagInfo]) -> Option<&'a DagInfo> {
    let id = dag_id_of_record_name(name)?;
    dags.iter().find(|d| d.data_access_group_id == id)
}

/// The group number of a record name `<group id>-<n>`, as REDCap names
/// the records of a user in a group.
pub fn dag_id_of_record_name(name: &str) -> Option<u32> {
    let (id, n) = name.split_once('-')?;
    let id: u32 = id.parse().ok()?;
    n.parse::<u64>().ok()?;
    Some(id)
}

/// The parameters of a flat, raw record export.
fn export_params(q: &RecordQuery) -> Vec<(String, String)> {
    let mut params = vec![
        ("type".to_owned(), "flat".to_owned()),
        ("rawOrLabel".to_owned(), "raw".to_owned()),
    ];
    indexed(&mut params, "records", &q.records);
    indexed(&mut params, "fields", &q.fields);
    indexed(&mut params, "forms", &q.forms);
    indexed(&mut params, "events", &q.events);
    if let Some(b) = &q.date_range_begin {
        params.push(("dateRangeBegin".into(), b.clone()));
    }
    if let Some(e) = &q.date_range_end {
        params.push(("dateRangeEnd".into(), e.clone()));
    }
    if q.data_access_groups {
        params.push(("exportDataAccessGroups".into(), "true".into()));
    }
    params
}

/// Reading what a long answer is asked for (the ids of an export's rows,
/// the newest time of the log) as it is parsed.
mod ids {
    use std::collections::BTreeSet;
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    /// The rows of an export: the set of their `field` values.
    pub(super) struct Ids<'a> {
        pub field: &'a str,
    }

    impl<'de> DeserializeSeed<'de> for Ids<'_> {
        type Value = BTreeSet<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Ids<'_> {
        type Value = BTreeSet<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of flat rows")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut ids = BTreeSet::new();
            while let Some(id) = seq.next_element_seed(RowId { field: self.field })? {
                ids.extend(id);
            }
            Ok(ids)
        }
    }

    /// The log's entries: the greatest of their times, by `order`.
    pub(super) struct Newest {
        pub order: fn(&str) -> String,
    }

    impl<'de> DeserializeSeed<'de> for Newest {
        type Value = Option<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Newest {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of log entries")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            #[derive(serde::Deserialize)]
            struct Stamp {
                timestamp: String,
            }
            let mut newest: Option<String> = None;
            while let Some(Stamp { timestamp }) = seq.next_element()? {
                let t = (self.order)(&timestamp);
                if newest.as_ref().is_none_or(|n| t > *n) {
                    newest = Some(t);
                }
            }
            Ok(newest)
        }
    }

    /// One row: its `field` value, if it has one.
    struct RowId<'a> {
        field: &'a str,
    }

    impl<'de> DeserializeSeed<'de> for RowId<'_> {
        type Value = Option<String>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for RowId<'_> {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a flat row")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut id = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == self.field {
                    id = match map.next_value::<Value>()? {
                        Value::String(s) if !s.is_empty() => Some(s),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    };
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(id)
        }
    }
}

/// A list parameter as one comma-joined variable, as REDCap reads it: a
/// server on PHP's default `max_input_vars` (1000) drops the variables of
/// a request beyond that, so `fields[0]`..`fields[999]` would lose fields.
/// A list whose values hold a comma (REDCap's names never do) goes
/// indexed.
fn indexed(params: &mut Vec<(String, String)>, name: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    if values.iter().any(|v| v.contains(',')) {
        for (i, v) in values.iter().enumerate() {
            params.push((format!("{name}[{i}]"), v.clone()));
        }
    } else {
        params.push((name.to_owned(), values.join(",")));
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
        Value::Bool(_) => "a boolean",
        _ => "a value of another kind",
    }
}

/// A failure before a complete answer: no connection, a timeout, or a
/// connection that broke during the answer.
fn transport(e: reqwest::Error) -> EdcError {
    if e.is_timeout() {
        return EdcError::Timeout;
    }
    // The error's own text, without its source chain's URL parameters:
    // the URL carries no token (it is in the body), but keep it short.
    let detail = if e.is_connect() {
        "no connection to the server".to_owned()
    } else if e.is_body() || e.is_decode() {
        "the connection broke during the answer".to_owned()
    } else {
        let mut s = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            s = format!("{s}: {inner}");
            source = inner.source();
        }
        s
    };
    EdcError::Transport(detail)
}

/// The typed error for a non-2xx answer.
/// Reads an answer's body up to [`MAX_ANSWER_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<String, EdcError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(EdcError::Malformed(format!(
                "the answer is larger than {} MB",
                MAX_ANSWER_BYTES / (1024 * 1024)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| EdcError::Malformed("the answer is not UTF-8 text".into()))
}

fn refusal(status: u16, retry_after: Option<Duration>, body: &str) -> EdcError {
    let message: String = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
        .chars()
        .take(MAX_SERVER_WORDS)
        .collect();
    let lower = message.to_ascii_lowercase();
    let json = serde_json::from_str::<Value>(body).is_ok();
    match status {
        // REDCap's own limiter answers JSON; its ban is plain text and
        // never says when to come back.
        429 if retry_after.is_none() && !json && !message.trim().is_empty() => {
            EdcError::Banned(message)
        }
        429 => EdcError::RateLimited { retry_after },
        400 | 401 | 403 if lower.contains("privilege") => EdcError::NoRight(message),
        401 | 403 if lower.contains("permission") || lower.contains("token") => EdcError::BadToken,
        401 | 403 if retry_after.is_some() => EdcError::RateLimited { retry_after },
        401 | 403 => EdcError::Forbidden(message),
        400..=499 => {
            if let Some(rows) = error::value_errors(&message) {
                EdcError::Validation(rows)
            } else if let Some(fields) = error::unknown_fields(&message) {
                EdcError::UnknownFields(fields)
            } else {
                EdcError::Refused(message)
            }
        }
        _ => EdcError::Server { status, message },
    }
}
