//! Checking one value against its field, as the EDC checks it: the text
//! validation types, min and max (also `today` and `now`), choice codes,
//! decimal places. The single source of truth: the forms ask this module,
//! they do not check on their own.
//!
//! A malformed value is refused; a well-formed value outside min/max is
//! soft (the CRC may keep it, with a reason); a validation type SiteDesk
//! does not know is stored as typed and flagged, never guessed at. Dates
//! and times are stored in ISO form whatever order the field displays.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;
use ts_rs::TS;

use super::{Field, FieldType};
use crate::i18n::{Arg, Lang, Message};

/// The order a date field shows its parts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    Ymd,
    Mdy,
    Dmy,
}

/// A text validation type SiteDesk knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    Date {
        order: DateOrder,
    },
    Datetime {
        order: DateOrder,
        seconds: bool,
    },
    /// `HH:MM`.
    Time,
    /// `HH:MM:SS`.
    TimeSeconds,
    /// `MM:SS`.
    MinutesSeconds,
    Integer,
    Number {
        /// Exactly this many decimals, when set.
        decimals: Option<u8>,
        /// A comma separates the decimals.
        comma: bool,
    },
    Email,
    Phone,
    PhoneAustralia,
    Zipcode,
    AlphaOnly,
    Mrn10d,
    MrnGeneric,
    Vmrn,
    Ssn,
    PostalAustralia,
    PostalCanada,
    PostalFrench,
    PostalGermany,
}

impl Kind {
    /// The kind of a validation type name, `None` for one SiteDesk lacks.
    pub fn parse(name: &str) -> Option<Kind> {
        let order = |s: &str| match s {
            "ymd" => Some(DateOrder::Ymd),
            "mdy" => Some(DateOrder::Mdy),
            "dmy" => Some(DateOrder::Dmy),
            _ => None,
        };
        if let Some(o) = name.strip_prefix("date_") {
            return order(o).map(|order| Kind::Date { order });
        }
        if let Some(o) = name.strip_prefix("datetime_seconds_") {
            return order(o).map(|order| Kind::Datetime {
                order,
                seconds: true,
            });
        }
        if let Some(o) = name.strip_prefix("datetime_") {
            return order(o).map(|order| Kind::Datetime {
                order,
                seconds: false,
            });
        }
        if let Some(rest) = name.strip_prefix("number") {
            let (rest, comma) = match rest.strip_suffix("_comma_decimal") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let decimals = match rest {
                "" => None,
                _ => {
                    let n = rest.strip_prefix('_')?.strip_suffix("dp")?;
                    Some(n.parse::<u8>().ok().filter(|n| (1..=4).contains(n))?)
                }
            };
            return Some(Kind::Number { decimals, comma });
        }
        Some(match name {
            "time" | "time_hh_mm" => Kind::Time,
            "time_hh_mm_ss" => Kind::TimeSeconds,
            "time_mm_ss" => Kind::MinutesSeconds,
            "integer" | "int" => Kind::Integer,
            "float" => Kind::Number {
                decimals: None,
                comma: false,
            },
            "email" => Kind::Email,
            "phone" => Kind::Phone,
            "phone_australia" => Kind::PhoneAustralia,
            "zipcode" => Kind::Zipcode,
            "alpha_only" => Kind::AlphaOnly,
            "mrn_10d" => Kind::Mrn10d,
            "mrn_generic" => Kind::MrnGeneric,
            "vmrn" => Kind::Vmrn,
            "ssn" => Kind::Ssn,
            "postalcode_australia" => Kind::PostalAustralia,
            "postalcode_canada" => Kind::PostalCanada,
            "postalcode_french" => Kind::PostalFrench,
            "postalcode_germany" => Kind::PostalGermany,
            _ => return None,
        })
    }
}

/// What a value is, for its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Store `stored` (ISO for dates and times; empty clears the field).
    Valid { stored: String },
    /// Empty, but the field is required: REDCap lets the form be saved
    /// and marks it; so does SiteDesk.
    Missing,
    /// Well-formed, outside min/max: kept only when the CRC confirms it
    /// with a reason.
    OutOfRange {
        stored: String,
        min: Option<String>,
        max: Option<String>,
    },
    /// Malformed: refused.
    Invalid { problem: Invalid },
    /// The field's validation type is one SiteDesk does not know: the
    /// value is stored as typed and the field is flagged.
    Unsupported { stored: String, validation: String },
}

/// Why a value is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Invalid {
    /// Not in the form the validation type asks for.
    Format { kind: Kind },
    /// Not one of the field's choice codes.
    NotAChoice,
    /// Calculated, descriptive, file and sql fields take no typed value.
    NotEnterable,
}

impl Invalid {
    /// The message shown under the field.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        match self {
            Invalid::NotAChoice => Message::new("core.metadata.value.notAChoice"),
            Invalid::NotEnterable => Message::new("core.metadata.value.notEnterable"),
            Invalid::Format { kind } => {
                Message::new("core.metadata.value.format").with("example", example(*kind))
            }
        }
    }
}

/// A sample of the expected form, shown in messages: a sample value, or
/// words of the catalog where a sample needs them.
fn example(kind: Kind) -> Arg {
    use DateOrder::*;
    let words = |key| Arg::Msg(Message::new(key));
    let sample = match kind {
        Kind::Date { order: Ymd } => "2024-05-31 (Y-M-D)",
        Kind::Date { order: Mdy } => "05-31-2024 (M-D-Y)",
        Kind::Date { order: Dmy } => "31-05-2024 (D-M-Y)",
        Kind::Datetime {
            order: Ymd,
            seconds: false,
        } => "2024-05-31 13:45",
        Kind::Datetime {
            order: Mdy,
            seconds: false,
        } => "05-31-2024 13:45",
        Kind::Datetime {
            order: Dmy,
            seconds: false,
        } => "31-05-2024 13:45",
        Kind::Datetime {
            order: Ymd,
            seconds: true,
        } => "2024-05-31 13:45:08",
        Kind::Datetime {
            order: Mdy,
            seconds: true,
        } => "05-31-2024 13:45:08",
        Kind::Datetime {
            order: Dmy,
            seconds: true,
        } => "31-05-2024 13:45:08",
        Kind::Time => "13:45",
        Kind::TimeSeconds => "13:45:08",
        Kind::MinutesSeconds => "04:30 (MM:SS)",
        Kind::Integer => "42",
        Kind::Number {
            decimals: None,
            comma: false,
        } => "3.5",
        Kind::Number {
            decimals: None,
            comma: true,
        } => "3,5",
        Kind::Number {
            decimals: Some(1),
            comma: false,
        } => "3.5",
        Kind::Number {
            decimals: Some(2),
            comma: false,
        } => "3.50",
        Kind::Number {
            decimals: Some(3),
            comma: false,
        } => "3.500",
        Kind::Number {
            decimals: Some(_),
            comma: false,
        } => "3.5000",
        Kind::Number {
            decimals: Some(1),
            comma: true,
        } => "3,5",
        Kind::Number {
            decimals: Some(2),
            comma: true,
        } => "3,50",
        Kind::Number {
            decimals: Some(3),
            comma: true,
        } => "3,500",
        Kind::Number {
            decimals: Some(_),
            comma: true,
        } => "3,5000",
        Kind::Email => "name@example.org",
        Kind::Phone => "(615) 555-0123",
        Kind::PhoneAustralia => "02 9876 5432",
        Kind::Zipcode => return words("core.metadata.value.example.zipcode"),
        Kind::AlphaOnly => return words("core.metadata.value.example.alphaOnly"),
        Kind::Mrn10d => return words("core.metadata.value.example.mrn10d"),
        Kind::MrnGeneric | Kind::Vmrn => return words("core.metadata.value.example.mrnGeneric"),
        Kind::Ssn => "123-45-6789",
        Kind::PostalAustralia => "2000",
        Kind::PostalCanada => "K1A 0B1",
        Kind::PostalFrench | Kind::PostalGermany => "75001",
    };
    Arg::from(sample)
}

/// Checks `input` (as typed, in the field's display order) for `field`,
/// with `now` the desk's local time for `today` and `now` bounds.
pub fn check_value(field: &Field, input: &str, now: NaiveDateTime) -> Verdict {
    let input = input.trim();
    let invalid = |problem| Verdict::Invalid { problem };
    if matches!(
        field.field_type,
        FieldType::Calc | FieldType::Descriptive | FieldType::File | FieldType::Sql
    ) {
        return invalid(Invalid::NotEnterable);
    }
    if input.is_empty() {
        return if field.required {
            Verdict::Missing
        } else {
            Verdict::Valid {
                stored: String::new(),
            }
        };
    }
    match field.field_type {
        FieldType::Dropdown | FieldType::Radio | FieldType::Checkbox => {
            return if field.choices.iter().any(|c| c.code == input) {
                Verdict::Valid {
                    stored: input.to_owned(),
                }
            } else {
                invalid(Invalid::NotAChoice)
            };
        }
        FieldType::Yesno | FieldType::Truefalse => {
            return if input == "0" || input == "1" {
                Verdict::Valid {
                    stored: input.to_owned(),
                }
            } else {
                invalid(Invalid::NotAChoice)
            };
        }
        FieldType::Slider => {
            let lo = bound_number(field.min.as_deref()).unwrap_or(0.0);
            let hi = bound_number(field.max.as_deref()).unwrap_or(100.0);
            return match input.parse::<i64>() {
                Ok(v) if (lo..=hi).contains(&(v as f64)) => Verdict::Valid {
                    stored: v.to_string(),
                },
                _ => invalid(Invalid::Format {
                    kind: Kind::Integer,
                }),
            };
        }
        _ => {}
    }
    let Some(validation) = field.validation.as_deref() else {
        return Verdict::Valid {
            stored: input.to_owned(),
        };
    };
    let Some(kind) = Kind::parse(validation) else {
        return Verdict::Unsupported {
            stored: input.to_owned(),
            validation: validation.to_owned(),
        };
    };
    let Some(value) = parse(kind, input) else {
        return invalid(Invalid::Format { kind });
    };
    let stored = value.stored();
    let below = field
        .min
        .as_deref()
        .and_then(|m| bound(kind, m, now))
        .is_some_and(|m| value.lt(&m));
    let above = field
        .max
        .as_deref()
        .and_then(|m| bound(kind, m, now))
        .is_some_and(|m| m.lt(&value));
    if below || above {
        Verdict::OutOfRange {
            stored,
            min: field.min.clone(),
            max: field.max.clone(),
        }
    } else {
        Verdict::Valid { stored }
    }
}

/// A parsed value, comparable within its kind.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Date(NaiveDate),
    Datetime(NaiveDateTime, bool),
    Time(NaiveTime, bool),
    Seconds(u32),
    Number(f64, String),
    Text(String),
}

impl Value {
    fn stored(&self) -> String {
        match self {
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Datetime(d, false) => d.format("%Y-%m-%d %H:%M").to_string(),
            Value::Datetime(d, true) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            Value::Time(t, false) => t.format("%H:%M").to_string(),
            Value::Time(t, true) => t.format("%H:%M:%S").to_string(),
            Value::Seconds(s) => format!("{:02}:{:02}", s / 60, s % 60),
            Value::Number(_, text) | Value::Text(text) => text.clone(),
        }
    }

    fn lt(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Date(a), Value::Date(b)) => a < b,
            (Value::Datetime(a, _), Value::Datetime(b, _)) => a < b,
            (Value::Time(a, _), Value::Time(b, _)) => a < b,
            (Value::Seconds(a), Value::Seconds(b)) => a < b,
            (Value::Number(a, _), Value::Number(b, _)) => a < b,
            _ => false,
        }
    }
}

fn bound_number(s: Option<&str>) -> Option<f64> {
    s?.trim().replace(',', ".").parse().ok()
}

/// A min or max in the value's kind; `today` and `now` are the desk's.
fn bound(kind: Kind, text: &str, now: NaiveDateTime) -> Option<Value> {
    let text = text.trim();
    match kind {
        Kind::Date { .. } => match text {
            "today" | "now" => Some(Value::Date(now.date())),
            _ => parse_date(text, DateOrder::Ymd).map(Value::Date),
        },
        Kind::Datetime { seconds, .. } => match text {
            "now" => Some(Value::Datetime(now, seconds)),
            "today" => Some(Value::Datetime(
                now.date().and_hms_opt(23, 59, 59)?,
                seconds,
            )),
            _ => parse(
                Kind::Datetime {
                    order: DateOrder::Ymd,
                    seconds: text.len() > 16,
                },
                text,
            )
            .map(|v| match v {
                Value::Datetime(d, _) => Value::Datetime(d, seconds),
                other => other,
            })
            .or_else(|| {
                parse_date(text, DateOrder::Ymd)
                    .and_then(|d| Some(Value::Datetime(d.and_hms_opt(0, 0, 0)?, seconds)))
            }),
        },
        Kind::Integer | Kind::Number { .. } => {
            bound_number(Some(text)).map(|n| Value::Number(n, text.to_owned()))
        }
        Kind::Time | Kind::TimeSeconds | Kind::MinutesSeconds => parse(kind, text),
        _ => None,
    }
}

fn parse_date(s: &str, order: DateOrder) -> Option<NaiveDate> {
    let parts: Vec<&str> = s.split(['-', '/']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (y, m, d) = match order {
        DateOrder::Ymd => (a, b, c),
        DateOrder::Mdy => (c, a, b),
        DateOrder::Dmy => (c, b, a),
    };
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Parses what a person typed: the field's own order, or ISO.
fn date_either(s: &str, order: DateOrder) -> Option<NaiveDate> {
    parse_date(s, order).or_else(|| {
        // ISO is always accepted: it is what the EDC sends back.
        (s.len() == 10 && s.as_bytes()[4] == b'-')
            .then(|| parse_date(s, DateOrder::Ymd))
            .flatten()
    })
}

fn parse_time(s: &str, seconds: bool) -> Option<NaiveTime> {
    let parts: Vec<&str> = s.split(':').collect();
    let two = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    match (parts.as_slice(), seconds) {
        ([h, m], false) if two(h) && two(m) => {
            NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
        }
        ([h, m, s], true) if two(h) && two(m) && two(s) => {
            NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, s.parse().ok()?)
        }
        _ => None,
    }
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

fn digits_only(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn parse(kind: Kind, s: &str) -> Option<Value> {
    let text = || Some(Value::Text(s.to_owned()));
    match kind {
        Kind::Date { order } => date_either(s, order).map(Value::Date),
        Kind::Datetime { order, seconds } => {
            let (date, time) = s.split_once(' ')?;
            let date = date_either(date, order)?;
            let time = parse_time(time.trim(), seconds)?;
            Some(Value::Datetime(date.and_time(time), seconds))
        }
        Kind::Time => parse_time(s, false).map(|t| Value::Time(t, false)),
        Kind::TimeSeconds => parse_time(s, true).map(|t| Value::Time(t, true)),
        Kind::MinutesSeconds => {
            let (m, sec) = s.split_once(':')?;
            let two = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
            if !two(m) || !two(sec) {
                return None;
            }
            let (m, sec): (u32, u32) = (m.parse().ok()?, sec.parse().ok()?);
            (sec < 60).then_some(Value::Seconds(m * 60 + sec))
        }
        Kind::Integer => {
            let body = s.strip_prefix(['-', '+']).unwrap_or(s);
            (all(body, |c| c.is_ascii_digit()))
                .then(|| {
                    s.parse::<f64>()
                        .ok()
                        .map(|n| Value::Number(n, s.to_owned()))
                })
                .flatten()
        }
        Kind::Number { decimals, comma } => {
            let sep = if comma { ',' } else { '.' };
            let body = s.strip_prefix(['-', '+']).unwrap_or(s);
            let (int, frac) = match body.split_once(sep) {
                Some((i, f)) => (i, Some(f)),
                None => (body, None),
            };
            // REDCap's `number` also takes a bare fraction (`.34`); the
            // fixed-decimals types want a digit before the separator.
            let int_ok = all(int, |c| c.is_ascii_digit())
                || (int.is_empty() && decimals.is_none() && frac.is_some_and(|f| !f.is_empty()));
            let frac_ok = frac.is_none_or(|f| all(f, |c| c.is_ascii_digit()));
            let places_ok = match decimals {
                None => true,
                Some(n) => frac.map(str::len) == Some(usize::from(n)),
            };
            if !(int_ok && frac_ok && places_ok) {
                return None;
            }
            let n: f64 = s.replace(',', ".").parse().ok()?;
            Some(Value::Number(n, s.to_owned()))
        }
        Kind::Email => {
            let (user, domain) = s.split_once('@')?;
            let ok = !user.is_empty()
                && !user.contains(char::is_whitespace)
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && all(domain, |c| {
                    c.is_ascii_alphanumeric() || c == '.' || c == '-'
                });
            ok.then(text).flatten()
        }
        Kind::Phone => {
            // North American numbers, as REDCap's `phone`: 10 digits, area
            // code and exchange not starting with 0 or 1.
            let d = digits_only(s);
            let d = d.strip_prefix('1').filter(|r| r.len() == 10).unwrap_or(&d);
            let shape = all(s, |c| c.is_ascii_digit() || " ()-.+".contains(c));
            let ok = shape
                && d.len() == 10
                && !d.starts_with(['0', '1'])
                && !d[3..].starts_with(['0', '1']);
            ok.then(text).flatten()
        }
        Kind::PhoneAustralia => {
            let d = digits_only(s);
            let ok = all(s, |c| c.is_ascii_digit() || " ()-".contains(c))
                && d.len() == 10
                && d.starts_with('0');
            ok.then(text).flatten()
        }
        Kind::Zipcode => {
            let ok = match s.split_once('-') {
                Some((a, b)) => {
                    a.len() == 5
                        && b.len() == 4
                        && all(a, |c| c.is_ascii_digit())
                        && all(b, |c| c.is_ascii_digit())
                }
                None => s.len() == 5 && all(s, |c| c.is_ascii_digit()),
            };
            ok.then(text).flatten()
        }
        Kind::AlphaOnly => all(s, char::is_alphabetic).then(text).flatten(),
        Kind::Mrn10d => (s.len() == 10 && all(s, |c| c.is_ascii_digit()))
            .then(text)
            .flatten(),
        Kind::MrnGeneric | Kind::Vmrn => all(s, |c| c.is_ascii_alphanumeric() || c == '-')
            .then(text)
            .flatten(),
        Kind::Ssn => {
            let p: Vec<&str> = s.split('-').collect();
            let ok = matches!(p.as_slice(), [a, b, c] if a.len() == 3 && b.len() == 2 && c.len() == 4)
                && all(&s.replace('-', ""), |c| c.is_ascii_digit());
            ok.then(text).flatten()
        }
        Kind::PostalAustralia => (s.len() == 4 && all(s, |c| c.is_ascii_digit()))
            .then(text)
            .flatten(),
        Kind::PostalFrench | Kind::PostalGermany => (s.len() == 5
            && all(s, |c| c.is_ascii_digit()))
        .then(text)
        .flatten(),
        Kind::PostalCanada => {
            let c: Vec<char> = s
                .to_ascii_uppercase()
                .chars()
                .filter(|c| *c != ' ')
                .collect();
            let ok = c.len() == 6
                && c.iter().enumerate().all(|(i, ch)| {
                    if i % 2 == 0 {
                        ch.is_ascii_uppercase()
                    } else {
                        ch.is_ascii_digit()
                    }
                });
            ok.then(text).flatten()
        }
    }
}

/// A stored value as the field shows it: dates in the field's order.
pub fn display(field: &Field, stored: &str) -> String {
    let kind = field.validation.as_deref().and_then(Kind::parse);
    let reorder = |d: NaiveDate, order| match order {
        DateOrder::Ymd => d.format("%Y-%m-%d").to_string(),
        DateOrder::Mdy => d.format("%m-%d-%Y").to_string(),
        DateOrder::Dmy => d.format("%d-%m-%Y").to_string(),
    };
    match kind {
        Some(Kind::Date { order }) => parse_date(stored, DateOrder::Ymd)
            .map(|d| reorder(d, order))
            .unwrap_or_else(|| stored.to_owned()),
        Some(Kind::Datetime { order, .. }) => match stored.split_once(' ') {
            Some((date, time)) => parse_date(date, DateOrder::Ymd)
                .map(|d| format!("{} {time}", reorder(d, order)))
                .unwrap_or_else(|| stored.to_owned()),
            None => stored.to_owned(),
        },
        _ => stored.to_owned(),
    }
}
