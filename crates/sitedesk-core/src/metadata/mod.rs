//! Study metadata: the REDCap data dictionary a study defines its case
//! report forms with, read from the forms REDCap gives it in: the data
//! dictionary CSV (set-up without a server), the API's `metadata` JSON, and
//! the project file (`project.xml`, CDISC ODM with REDCap extensions), which
//! also carries the design.
//! Every field keeps every column, so that the forms can apply what the
//! EDC applies; a dictionary has a version hash, and two versions can be
//! compared field by field.
//!
//! `validate` checks one value against its field as the EDC does; `logic`
//! parses and evaluates branching logic and calculations; `design` holds
//! arms, events, the form-event mapping, repeating forms and sites;
//! `screening` finds the form that holds the screening log through its
//! fields' `@SITEDESK-*` action tags; `tags` reads REDCap's own action
//! tags and says which the desk's forms apply.
//!
//! Deliberately not here: storage (the store), and forms as a CRC fills
//! them, with their sanitized labels (`crate::forms`).

pub mod design;
mod dictionary;
mod error;
pub mod logic;
mod odm;
#[cfg(test)]
mod odm_tests;
#[cfg(test)]
mod proptests;
pub mod screening;
#[cfg(test)]
mod screening_tests;
pub mod tags;
#[cfg(test)]
mod tags_tests;
#[cfg(test)]
mod tests;
pub mod validate;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use ts_rs::TS;

pub use dictionary::{parse_api_json, parse_csv};
pub use error::{MetadataError, Problem};
pub use odm::{
    OdmError, OdmEvent, OdmForm, OdmItem, OdmProject, OdmSubject, OdmValue, parse_odm,
    parse_odm_project,
};

/// A field's type, as the dictionary's `field_type` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Notes,
    Dropdown,
    Radio,
    Checkbox,
    Yesno,
    Truefalse,
    Calc,
    Slider,
    Descriptive,
    File,
    Sql,
}

impl FieldType {
    pub fn parse(s: &str) -> Option<FieldType> {
        use FieldType::*;
        Some(match s {
            "text" => Text,
            "notes" => Notes,
            "dropdown" => Dropdown,
            "radio" => Radio,
            "checkbox" => Checkbox,
            "yesno" => Yesno,
            "truefalse" => Truefalse,
            "calc" => Calc,
            "slider" => Slider,
            "descriptive" => Descriptive,
            "file" => File,
            "sql" => Sql,
            _ => return None,
        })
    }

    /// Types whose choices column lists `code, label` pairs.
    pub fn has_choices(self) -> bool {
        matches!(
            self,
            FieldType::Dropdown | FieldType::Radio | FieldType::Checkbox
        )
    }
}

/// One choice of a dropdown, radio or checkbox field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct Choice {
    /// The stored code (`1`, `a`, `-99`).
    pub code: String,
    /// The label shown; may contain HTML.
    pub label: String,
}

/// One row of the data dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct Field {
    pub name: String,
    /// The instrument (form) it belongs to.
    pub form: String,
    pub section_header: Option<String>,
    pub field_type: FieldType,
    /// May contain HTML.
    pub label: String,
    /// Dropdown, radio and checkbox choices, in order.
    pub choices: Vec<Choice>,
    /// A calc field's expression, or a slider's labels, as written.
    pub choices_text: Option<String>,
    pub note: Option<String>,
    /// Text validation type (`date_ymd`, `integer`, ...), or for a slider
    /// whether to show the number, as written.
    pub validation: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    /// Marked as identifying (PHI).
    pub identifier: bool,
    pub branching_logic: Option<String>,
    pub required: bool,
    pub custom_alignment: Option<String>,
    pub question_number: Option<String>,
    pub matrix_group: Option<String>,
    pub matrix_ranking: bool,
    pub annotation: Option<String>,
}

impl Field {
    /// Free text: a text field without validation, or notes.
    pub fn is_free_text(&self) -> bool {
        self.field_type == FieldType::Notes
            || (self.field_type == FieldType::Text
                && self.validation.as_deref().unwrap_or("").is_empty())
    }

    /// A text field validated as a date or a date and time.
    pub fn is_date(&self) -> bool {
        self.field_type == FieldType::Text
            && self
                .validation
                .as_deref()
                .is_some_and(|v| v.starts_with("date_") || v.starts_with("datetime_"))
    }
}

/// An instrument (form): its name and its fields in dictionary order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Instrument {
    pub name: String,
    pub fields: Vec<String>,
}

/// A whole data dictionary, in the order it defines its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Dictionary {
    pub fields: Vec<Field>,
}

impl Dictionary {
    /// The record id field: the dictionary's first field, as in REDCap.
    pub fn record_id_field(&self) -> &Field {
        // `parse_*` refuse an empty dictionary.
        &self.fields[0]
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The instruments in the order their first field appears.
    pub fn instruments(&self) -> Vec<Instrument> {
        let mut out: Vec<Instrument> = Vec::new();
        for f in &self.fields {
            match out.iter_mut().find(|i| i.name == f.form) {
                Some(i) => i.fields.push(f.name.clone()),
                None => out.push(Instrument {
                    name: f.form.clone(),
                    fields: vec![f.name.clone()],
                }),
            }
        }
        out
    }

    /// A hash of everything the dictionary says, to tell versions apart:
    /// SHA-256 over its canonical JSON, in lower-case hex.
    pub fn version_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a dictionary serializes");
        Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// What `self` changes against the version in force, `previous`
    /// (every field is new when there is none).
    pub fn changes_since(&self, previous: Option<&Dictionary>) -> Vec<FieldChange> {
        match previous {
            Some(p) => p.diff(self),
            None => Dictionary { fields: Vec::new() }.diff(self),
        }
    }

    /// What changed from `self` (the dictionary the desk has) to `new`
    /// (the one being imported), field by field, in `new`'s order and then
    /// the removed fields.
    pub fn diff(&self, new: &Dictionary) -> Vec<FieldChange> {
        let mut out = Vec::new();
        for f in &new.fields {
            match self.field(&f.name) {
                None => out.push(FieldChange::Added {
                    field: f.name.clone(),
                }),
                Some(old) => {
                    let aspects = changed_aspects(old, f);
                    let removed_choices: Vec<String> = old
                        .choices
                        .iter()
                        .filter(|c| !f.choices.iter().any(|n| n.code == c.code))
                        .map(|c| c.code.clone())
                        .collect();
                    if !aspects.is_empty() {
                        out.push(FieldChange::Changed {
                            field: f.name.clone(),
                            aspects,
                            removed_choices,
                        });
                    }
                }
            }
        }
        for f in &self.fields {
            if new.field(&f.name).is_none() {
                out.push(FieldChange::Removed {
                    field: f.name.clone(),
                });
            }
        }
        out
    }
}

/// One difference between two versions of a dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldChange {
    Added {
        field: String,
    },
    /// The field left the dictionary; values already entered for it are
    /// kept and flagged, never dropped.
    Removed {
        field: String,
    },
    Changed {
        field: String,
        aspects: Vec<Aspect>,
        /// Choice codes the new version no longer has: saved values with
        /// these codes need a look.
        removed_choices: Vec<String>,
    },
}

/// What about a field changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    Form,
    Type,
    Label,
    Choices,
    Calculation,
    Validation,
    Range,
    Required,
    Identifier,
    BranchingLogic,
    Layout,
    Annotation,
}

fn changed_aspects(old: &Field, new: &Field) -> Vec<Aspect> {
    let mut out = Vec::new();
    let mut check = |differs: bool, a: Aspect| {
        if differs {
            out.push(a);
        }
    };
    check(old.form != new.form, Aspect::Form);
    check(old.field_type != new.field_type, Aspect::Type);
    check(
        old.label != new.label || old.note != new.note,
        Aspect::Label,
    );
    check(old.choices != new.choices, Aspect::Choices);
    check(old.choices_text != new.choices_text, Aspect::Calculation);
    check(old.validation != new.validation, Aspect::Validation);
    check(old.min != new.min || old.max != new.max, Aspect::Range);
    check(old.required != new.required, Aspect::Required);
    check(old.identifier != new.identifier, Aspect::Identifier);
    check(
        old.branching_logic != new.branching_logic,
        Aspect::BranchingLogic,
    );
    check(
        old.section_header != new.section_header
            || old.custom_alignment != new.custom_alignment
            || old.question_number != new.question_number
            || old.matrix_group != new.matrix_group
            || old.matrix_ranking != new.matrix_ranking,
        Aspect::Layout,
    );
    check(old.annotation != new.annotation, Aspect::Annotation);
    out
}

/// The version hash of a dictionary with its design: the dictionary's own
/// hash for a classic project, so that it matches the one the EDC's
/// dictionary file gives.
pub fn metadata_hash(dictionary: &Dictionary, design: &design::Design) -> String {
    let dictionary_hash = dictionary.version_hash();
    if *design == design::Design::default() {
        return dictionary_hash;
    }
    let design = serde_json::to_vec(design).expect("a design serializes");
    let mut h = Sha256::new();
    h.update(dictionary_hash.as_bytes());
    h.update(&design);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
