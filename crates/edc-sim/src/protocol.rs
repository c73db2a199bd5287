//! The REDCap API's words, below everything that answers a call: the
//! form-encoded parameters of one POST (indexed lists `records[0]=..`),
//! an error answer (a status and `{"error":"message"}`), an answer's body
//! and JSON with its keys in order, and who is calling: an [`ApiUser`],
//! a token (32 hexadecimal digits) with its user name, data access group
//! and [`Rights`], and the token spec that names them.
//!
//! Not here: which call a request makes and what it answers (`handlers`),
//! checking a token against the server's users (`server`).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Serialize};

use crate::rights::{RIGHT_WORDS, Rights};

#[cfg(test)]
mod tests;

/// The REDCap version the simulator answers `version` with: the one the
/// API facts were written against. A macro as well as a constant, so that
/// the binary's `--version` text can be one constant string.
macro_rules! redcap_version {
    () => {
        "14.7.3"
    };
}
pub(crate) use redcap_version;

/// The REDCap version the simulator answers `version` with.
pub const REDCAP_VERSION: &str = redcap_version!();

/// REDCap's answer to a missing, malformed or unknown token.
pub const NO_PERMISSION: &str = "You do not have permissions to use the API";

/// An error answer: HTTP status and REDCap's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            message: message.into(),
        }
    }

    pub fn forbidden() -> ApiError {
        ApiError {
            status: 403,
            message: NO_PERMISSION.to_owned(),
        }
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 500,
            message: message.into(),
        }
    }

    /// `{"error":"..."}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.message }).to_string()
    }

    /// The error in `format`: `{"error":"..."}`, or with `returnFormat=csv`
    /// the message alone, as text.
    pub fn answer(&self, format: Format) -> Answer {
        match format {
            Format::Json => Answer::Json(self.body()),
            Format::Csv => Answer::Text(self.message.clone()),
        }
    }
}

/// An answer's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Json(String),
    Text(String),
    Csv(String),
}

/// The two formats the simulator answers in (`format`, `returnFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Csv,
}

impl Format {
    /// The format `param` names; JSON unless it says `csv` (the calls have
    /// checked it is one of the two).
    pub fn of(params: &Params, param: &str) -> Format {
        match params.get(param) {
            Some("csv") => Format::Csv,
            _ => Format::Json,
        }
    }
}

impl Answer {
    /// The answer in `format`: a JSON answer becomes CSV (see
    /// [`json_to_csv`]); text stays text.
    pub fn into_format(self, format: Format) -> Answer {
        match (self, format) {
            (Answer::Json(j), Format::Csv) => Answer::Csv(json_to_csv(&j)),
            (other, _) => other,
        }
    }
}

/// One CSV cell as PHP's `fputcsv` writes it, which REDCap's CSV answers
/// come from: in double quotes (doubled inside) when it holds a comma, a
/// quote, a line break, a tab or a space; as it is otherwise.
pub(crate) fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r', '\t', ' ']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// A header line and a line per row, each line ending in `\n`.
pub(crate) fn csv_table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for line in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = line.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A JSON answer as CSV: an array of objects is a header line (the first
/// object's keys, in order) and a line per object; one object is a header
/// and one line, except an object of one key (`{"count": 2}`), which is
/// its value; an array of values is a value per line; a value is its text.
pub(crate) fn json_to_csv(json: &str) -> String {
    let value: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(_) => return json.to_owned(),
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let table = |rows: Vec<Vec<(String, String)>>| {
        let header: Vec<String> = rows
            .first()
            .map(|r| r.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        let lines: Vec<Vec<String>> = rows
            .into_iter()
            .map(|r| r.into_iter().map(|(_, v)| v).collect())
            .collect();
        if header.is_empty() {
            String::new()
        } else {
            csv_table(&header, &lines)
        }
    };
    match &value {
        serde_json::Value::Object(o) if o.len() == 1 => {
            o.values().next().map(text).unwrap_or_default()
        }
        serde_json::Value::Object(_) => json_rows(&format!("[{json}]"))
            .map(table)
            .unwrap_or_default(),
        serde_json::Value::Array(items) if items.iter().all(|i| i.is_object()) => {
            json_rows(json).map(table).unwrap_or_default()
        }
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| format!("{}\n", csv_cell(&text(i))))
            .collect(),
        other => text(other),
    }
}

/// A record call's answer, with the number of record rows it imported or
/// exported (for the per-record processing cost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub body: Answer,
    pub rows: usize,
}

/// The parameters of one request, in the order sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Reads a form-encoded body.
    pub fn parse(body: &[u8]) -> Result<Params, ApiError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(Params)
            .map_err(|e| ApiError::bad_request(format!("The request body cannot be read: {e}")))
    }

    /// How many form variables the request has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Keeps the first `n` form variables, as PHP keeps `max_input_vars`.
    pub fn truncate(&mut self, n: usize) {
        self.0.truncate(n);
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A list: `key[0]=a&key[1]=b` (in index order), `key[]=a`, or
    /// `key=a,b`.
    pub fn list(&self, key: &str) -> Vec<String> {
        let mut indexed: Vec<(u64, usize, String)> = Vec::new();
        let mut plain = Vec::new();
        for (pos, (k, v)) in self.0.iter().enumerate() {
            if k == key {
                plain.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            } else if let Some(inner) = k
                .strip_prefix(key)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
            {
                let index = if inner.is_empty() {
                    u64::MAX
                } else {
                    match inner.parse() {
                        Ok(i) => i,
                        Err(_) => continue,
                    }
                };
                indexed.push((index, pos, v.clone()));
            }
        }
        indexed.sort_by_key(|(i, pos, _)| (*i, *pos));
        plain.extend(indexed.into_iter().map(|(_, _, v)| v));
        plain
    }

    /// A yes/no option: `true`, `1` or `yes` (in any case) is yes.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    }
}

/// Serializes `(key, value)` pairs as a JSON object in their order.
pub(crate) struct Ordered<'a, V>(pub &'a [(String, V)]);

impl<V: Serialize> Serialize for Ordered<'_, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A JSON object read with its keys in the order sent (an import's error
/// lines follow it); a number is taken as its text, `null` as blank.
struct OrderedObject(Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OrderedObject, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of column names and values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Null => String::new(),
                        other => {
                            return Err(serde::de::Error::custom(format!(
                                "the value of {k} is not text: {other}"
                            )));
                        }
                    };
                    out.push((k, v));
                }
                Ok(OrderedObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads an import's `data` in JSON: an array of objects whose values are
/// text, each as `(key, value)` pairs in the order sent.
pub(crate) fn json_rows(data: &str) -> Result<Vec<Vec<(String, String)>>, serde_json::Error> {
    serde_json::from_str::<Vec<OrderedObject>>(data)
        .map(|rows| rows.into_iter().map(|r| r.0).collect())
}

/// Reads an import's `data` in CSV: a header line, then rows, each as
/// `(header, value)` pairs; blank lines are skipped.
pub(crate) fn csv_rows(data: &str) -> Result<Vec<Vec<(String, String)>>, csv::Error> {
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(data.as_bytes());
    let header: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        out.push(
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(out)
}

pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Answer {
    Answer::Json(serde_json::to_string(value).expect("answers serialize"))
}

/// A user of the API: a token (32 hexadecimal digits), the user name the
/// log records, optionally the data access group the user is in, and the
/// user's [`Rights`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUser {
    pub token: String,
    pub username: String,
    /// A group's unique name: the user sees and writes that group's
    /// records only.
    pub dag: Option<String>,
    /// What the user may do; a user saved before rights existed has the
    /// default (everything but design).
    #[serde(default)]
    pub rights: Rights,
}

impl ApiUser {
    /// A user with the default rights (everything but design).
    pub fn new(token: &str, username: &str, dag: Option<&str>) -> ApiUser {
        ApiUser {
            token: token.to_owned(),
            username: username.to_owned(),
            dag: dag.map(str::to_owned),
            rights: Rights::default(),
        }
    }

    /// The same user with or without the Project Design and Setup right.
    pub fn with_design(mut self, design: bool) -> ApiUser {
        self.rights.design = design;
        self
    }

    /// The same user with these rights.
    pub fn with_rights(mut self, rights: Rights) -> ApiUser {
        self.rights = rights;
        self
    }

    /// Reads `HEX[:user[:dag[:rights]]]`, the binary's `--token`; the user
    /// name defaults to `api_user`, and `rights` is a comma-separated list
    /// of words applied in order over the default rights (everything but
    /// design): `design`; `site` (start over from
    /// [`Rights::site_coordinator`]); `-logging`, `-dags`, `-import`,
    /// `-export`, `-create`, `-delete`, `-design`;
    /// `export=full|deidentified|no-identifiers|none`;
    /// `form:NAME=edit|view|none`; `export:NAME=full|...`. So
    /// `HEX:dm::design` is a user in no group with the design right, and
    /// `HEX:crc:s01:site` a site coordinator of group `s01`.
    pub fn parse_spec(spec: &str) -> Result<ApiUser, TokenError> {
        let mut parts = spec.splitn(4, ':');
        let token = parts.next().unwrap_or_default().trim();
        let user = parts
            .next()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or("api_user");
        let dag = parts.next().map(str::trim).filter(|d| !d.is_empty());
        let u = ApiUser::new(token, user, dag);
        check_token(&u.token)?;
        let rights = Rights::parse_words(parts.next().unwrap_or_default()).map_err(|right| {
            TokenError::UnknownRight {
                token: u.token.clone(),
                right,
            }
        })?;
        Ok(u.with_rights(rights))
    }
}

/// Why a token cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token {0:?} is not 32 hexadecimal digits")]
    Malformed(String),
    #[error("token {token}: the project has no data access group {dag}")]
    UnknownDag { token: String, dag: String },
    #[error("token {0} is given twice")]
    Duplicate(String),
    #[error("token {token}: {right:?} is not a right the simulator knows (it knows {RIGHT_WORDS})")]
    UnknownRight { token: String, right: String },
}

/// Whether `t` has a token's form: 32 hexadecimal digits.
pub(crate) fn is_token(t: &str) -> bool {
    t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(crate) fn check_token(t: &str) -> Result<(), TokenError> {
    if is_token(t) {
        Ok(())
    } else {
        Err(TokenError::Malformed(t.to_owned()))
    }
}
