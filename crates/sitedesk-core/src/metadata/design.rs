//! The study's design beyond the dictionary: arms, events, which forms each
//! event has, which forms or events repeat, and the data access groups
//! (sites), read from the REDCap API's JSON answers (`arm`, `event`,
//! `formEventMapping`, `repeatingFormsEvents`, `dag`). A classic (not
//! longitudinal) project has none of arms, events and mapping: every form
//! belongs to its one implicit event.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Dictionary;
use crate::i18n::{Arg, Lang, Message};

/// The event a classic project's rows belong to.
pub const CLASSIC_EVENT: &str = "event_1_arm_1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Arm {
    pub arm_num: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Event {
    /// What people call it ("Visit 1").
    pub event_name: String,
    pub arm_num: u32,
    /// What rows carry (`visit_1_arm_1`).
    pub unique_event_name: String,
    #[serde(default)]
    pub custom_event_label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FormEvent {
    pub arm_num: u32,
    pub unique_event_name: String,
    pub form: String,
}

/// A repeating form in an event, or (no form) a whole repeating event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Repeating {
    /// Empty in a classic project.
    pub event_name: String,
    /// Empty when the whole event repeats.
    pub form_name: String,
    #[serde(default)]
    pub custom_form_label: Option<String>,
}

/// A data access group: a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Dag {
    pub data_access_group_name: String,
    pub unique_group_name: String,
}

/// Everything about the study's shape that the forms and the visit grid
/// need besides the dictionary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Design {
    pub arms: Vec<Arm>,
    pub events: Vec<Event>,
    pub mapping: Vec<FormEvent>,
    pub repeating: Vec<Repeating>,
    pub dags: Vec<Dag>,
    /// The forms' display names (the API's `instrument` answer, or the
    /// project file's form names). Left out of the JSON when empty, so that
    /// versions stored without it keep their hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instruments: Vec<InstrumentLabel>,
    /// The project's missing-data codes (the `project` call's
    /// `missing_data_codes`), accepted in any field. Left out of the JSON
    /// when empty, as `instruments`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_codes: Vec<MissingCode>,
}

/// A missing-data code: a value any field takes, whatever its validation,
/// that says why it has no answer (`UNK`, "Unknown").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MissingCode {
    pub code: String,
    pub label: String,
}

/// Reads REDCap's `CODE, Label | CODE, Label` (also one code a line, as
/// the project settings keep them); a part without a comma is a code
/// labelled by itself.
pub fn parse_missing_codes(text: &str) -> Vec<MissingCode> {
    let mut out: Vec<MissingCode> = Vec::new();
    for part in text.split(['|', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (code, label) = part.split_once(',').unwrap_or((part, part));
        let code = code.trim();
        if code.is_empty() || out.iter().any(|c| c.code == code) {
            continue;
        }
        out.push(MissingCode {
            code: code.to_owned(),
            label: label.trim().to_owned(),
        });
    }
    out
}

/// The codes as the `project` call gives them: `UNK, Unknown | NASK, Not asked`.
pub fn format_missing_codes(codes: &[MissingCode]) -> String {
    codes
        .iter()
        .map(|c| format!("{}, {}", c.code, c.label))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// What people call a form: `adverse_events` is "Adverse Events (AE)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InstrumentLabel {
    pub instrument_name: String,
    pub instrument_label: String,
}

/// Why a design cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesignError {
    #[error("the {what} answer cannot be read: {detail}")]
    Unreadable { what: &'static str, detail: String },
    #[error("event {event} names arm {arm_num}, which does not exist")]
    UnknownArm { event: String, arm_num: u32 },
    #[error("{what} {name} appears twice")]
    Duplicate { what: &'static str, name: String },
    #[error("the form-event mapping names event {0}, which does not exist")]
    UnknownEvent(String),
    #[error("{0} is not a form of the data dictionary")]
    UnknownForm(String),
}

impl DesignError {
    /// The error in words for the import screen, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        let problem = match self {
            DesignError::Unreadable { what, detail } => {
                Message::new("core.metadata.design.unreadable")
                    .with("what", *what)
                    .with("detail", detail)
            }
            DesignError::UnknownArm { event, arm_num } => {
                Message::new("core.metadata.design.unknownArm")
                    .with("event", event)
                    .with("arm", arm_num.to_string())
            }
            DesignError::Duplicate { what, name } => {
                let what = match *what {
                    "arm" => Arg::Msg(Message::new("core.metadata.design.what.arm")),
                    "event" => Arg::Msg(Message::new("core.metadata.design.what.event")),
                    other => Arg::from(other),
                };
                Message::new("core.metadata.design.duplicate")
                    .with("what", what)
                    .with("name", name)
            }
            DesignError::UnknownEvent(e) => {
                Message::new("core.metadata.design.unknownEvent").with("event", e)
            }
            DesignError::UnknownForm(f) => {
                Message::new("core.metadata.design.unknownForm").with("form", f)
            }
        };
        Message::new("core.metadata.design.error").with("problem", problem)
    }
}

/// Reads one API answer; a value that is a number in one REDCap version and
/// text in another (`arm_num`) is accepted either way.
fn read<T: serde::de::DeserializeOwned>(
    what: &'static str,
    json: &str,
) -> Result<Vec<T>, DesignError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| DesignError::Unreadable {
            what,
            detail: e.to_string(),
        })?;
    let normalized = normalize(value);
    serde_json::from_value(normalized).map_err(|e| DesignError::Unreadable {
        what,
        detail: e.to_string(),
    })
}

/// `"1"` to `1` for numeric keys, `""` to null for optional labels.
fn normalize(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("arm_num", Value::String(s)) => s
                            .trim()
                            .parse::<u32>()
                            .map(Value::from)
                            .unwrap_or(Value::String(s)),
                        ("custom_event_label" | "custom_form_label", Value::String(s))
                            if s.is_empty() =>
                        {
                            Value::Null
                        }
                        (_, v) => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

impl Design {
    /// Builds a design from the API's answers; `None` for the answers a
    /// classic project does not give. Checks that every reference resolves
    /// against the others and against `dictionary`.
    pub fn from_api(
        dictionary: &Dictionary,
        arms: Option<&str>,
        events: Option<&str>,
        mapping: Option<&str>,
        repeating: Option<&str>,
        dags: Option<&str>,
    ) -> Result<Design, DesignError> {
        let design = Design {
            instruments: Vec::new(),
            missing_codes: Vec::new(),
            arms: arms
                .map(|j| read("arm", j))
                .transpose()?
                .unwrap_or_default(),
            events: events
                .map(|j| read("event", j))
                .transpose()?
                .unwrap_or_default(),
            mapping: mapping
                .map(|j| read("formEventMapping", j))
                .transpose()?
                .unwrap_or_default(),
            repeating: repeating
                .map(|j| read("repeatingFormsEvents", j))
                .transpose()?
                .unwrap_or_default(),
            dags: dags
                .map(|j| read("dag", j))
                .transpose()?
                .unwrap_or_default(),
        };
        design.check(dictionary)?;
        Ok(design)
    }

    /// Checks that every reference resolves against the others and against
    /// `dictionary`.
    pub(super) fn check(&self, dictionary: &Dictionary) -> Result<(), DesignError> {
        let forms: Vec<String> = dictionary
            .instruments()
            .into_iter()
            .map(|i| i.name)
            .collect();
        let mut seen = std::collections::HashSet::new();
        for a in &self.arms {
            if !seen.insert(format!("arm {}", a.arm_num)) {
                return Err(DesignError::Duplicate {
                    what: "arm",
                    name: a.arm_num.to_string(),
                });
            }
        }
        for e in &self.events {
            if !self.arms.iter().any(|a| a.arm_num == e.arm_num) {
                return Err(DesignError::UnknownArm {
                    event: e.unique_event_name.clone(),
                    arm_num: e.arm_num,
                });
            }
            if !seen.insert(format!("event {}", e.unique_event_name)) {
                return Err(DesignError::Duplicate {
                    what: "event",
                    name: e.unique_event_name.clone(),
                });
            }
        }
        for m in &self.mapping {
            if !self
                .events
                .iter()
                .any(|e| e.unique_event_name == m.unique_event_name)
            {
                return Err(DesignError::UnknownEvent(m.unique_event_name.clone()));
            }
            if !forms.contains(&m.form) {
                return Err(DesignError::UnknownForm(m.form.clone()));
            }
        }
        for r in &self.repeating {
            if !r.form_name.is_empty() && !forms.contains(&r.form_name) {
                return Err(DesignError::UnknownForm(r.form_name.clone()));
            }
            if self.is_longitudinal()
                && !self
                    .events
                    .iter()
                    .any(|e| e.unique_event_name == r.event_name)
            {
                return Err(DesignError::UnknownEvent(r.event_name.clone()));
            }
        }
        Ok(())
    }

    pub fn is_longitudinal(&self) -> bool {
        !self.events.is_empty()
    }

    /// The events rows can belong to, in order.
    pub fn event_names(&self) -> Vec<String> {
        if self.is_longitudinal() {
            self.events
                .iter()
                .map(|e| e.unique_event_name.clone())
                .collect()
        } else {
            vec![CLASSIC_EVENT.to_owned()]
        }
    }

    /// The forms designated for an event, in dictionary order (every form in
    /// a classic project).
    pub fn forms_for_event(&self, dictionary: &Dictionary, event: &str) -> Vec<String> {
        dictionary
            .instruments()
            .into_iter()
            .map(|i| i.name)
            .filter(|f| {
                !self.is_longitudinal()
                    || self
                        .mapping
                        .iter()
                        .any(|m| m.unique_event_name == event && &m.form == f)
            })
            .collect()
    }

    /// Whether `form` repeats in `event` (by itself, or with its whole event).
    pub fn repeats(&self, event: &str, form: &str) -> bool {
        self.repeating.iter().any(|r| {
            let event_matches = !self.is_longitudinal() || r.event_name == event;
            event_matches && (r.form_name.is_empty() || r.form_name == form)
        })
    }

    /// This design without the mapping and repeating entries of forms that
    /// `dictionary` no longer has: what stays in force when a new
    /// dictionary file (which carries no design) is imported.
    pub fn pruned_to(&self, dictionary: &Dictionary) -> Design {
        let forms: Vec<String> = dictionary
            .instruments()
            .into_iter()
            .map(|i| i.name)
            .collect();
        let mut out = self.clone();
        out.mapping.retain(|m| forms.contains(&m.form));
        out.repeating
            .retain(|r| r.form_name.is_empty() || forms.contains(&r.form_name));
        out.instruments
            .retain(|i| forms.contains(&i.instrument_name));
        out
    }

    /// The design with the project's missing-data codes, as the `project`
    /// call gives them.
    pub fn with_missing_codes(mut self, text: &str) -> Design {
        self.missing_codes = parse_missing_codes(text);
        self
    }

    /// Whether `value` is one of the project's missing-data codes.
    pub fn is_missing_code(&self, value: &str) -> bool {
        !value.is_empty() && self.missing_codes.iter().any(|c| c.code == value)
    }

    /// Whether `event` repeats as a whole (all its forms share instances).
    pub fn event_repeats(&self, event: &str) -> bool {
        self.repeating
            .iter()
            .any(|r| r.form_name.is_empty() && (!self.is_longitudinal() || r.event_name == event))
    }

    /// Takes the forms' display names from the API's `instrument` answer.
    pub fn with_instrument_labels(mut self, json: &str) -> Result<Design, DesignError> {
        self.instruments = read("instrument", json)?;
        Ok(self)
    }

    /// A form's display name: its label, or its name made readable
    /// (`adverse_events` as "Adverse events").
    pub fn form_label(&self, form: &str) -> String {
        if let Some(l) = self
            .instruments
            .iter()
            .find(|i| i.instrument_name == form && !i.instrument_label.trim().is_empty())
        {
            return l.instrument_label.clone();
        }
        let spaced = form.replace('_', " ");
        let mut chars = spaced.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }
}
