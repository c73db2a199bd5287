//! The flat-row shape of a project, as REDCap's flat export and import
//! have it: the data columns in order (the record id, then each form's
//! fields, a checkbox as one `field___code` column per choice, and the
//! form's `<form>_complete`), and which forms a row of an event or a
//! repeat instance holds.
//!
//! Not here: values (`rows` checks them, the store keeps them).

use std::collections::{HashMap, HashSet};

use sitedesk_core::metadata::design::{CLASSIC_EVENT, Design};
use sitedesk_core::metadata::{Dictionary, FieldType};

/// The columns REDCap adds to flat rows besides the data columns.
pub const EVENT_NAME: &str = "redcap_event_name";
pub const REPEAT_INSTRUMENT: &str = "redcap_repeat_instrument";
pub const REPEAT_INSTANCE: &str = "redcap_repeat_instance";
pub const DAG: &str = "redcap_data_access_group";

/// A flat row: column names and values, in the order sent.
pub(crate) type FlatRow = Vec<(String, String)>;

/// One data column of the flat rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataColumn {
    /// The export name (`weight`, `meds___2`, `vitals_complete`).
    pub name: String,
    /// The form it belongs to.
    pub form: String,
    pub kind: ColumnKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// The dictionary's first field.
    RecordId,
    /// A field of one value; the index into the dictionary's fields.
    Value { field: usize },
    /// One choice of a checkbox field: `"1"` checked, `"0"` (or nothing
    /// stored) not.
    Checkbox { field: usize, code: String },
    /// `<form>_complete`: `0`, `1` or `2`; `0` when nothing is stored.
    Complete,
}

/// The name REDCap gives a checkbox choice's column: the code in lower
/// case with every character but letters, digits and `_` written `_`
/// (`-99` gives `meds____99`).
pub fn checkbox_column(field: &str, code: &str) -> String {
    let code: String = code
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{field}___{code}")
}

/// Where a row sits in a record: its event, and its repeat instrument and
/// instance (`""` and `0` for a row that does not repeat; `""` and the
/// instance for a repeating event's row).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RowKey {
    pub event: String,
    pub instrument: String,
    pub instance: u32,
}

/// A project's columns and designations, worked out once.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub columns: Vec<DataColumn>,
    by_name: HashMap<String, usize>,
    /// Unique event names in design order (`event_1_arm_1` alone for a
    /// classic project).
    pub events: Vec<String>,
    /// Form names in dictionary order.
    pub forms: Vec<String>,
    designated: HashSet<(String, String)>,
    repeating_forms: HashSet<(String, String)>,
    repeating_events: HashSet<String>,
    pub longitudinal: bool,
    pub has_repeating: bool,
    pub has_dags: bool,
}

impl Layout {
    pub fn new(dictionary: &Dictionary, design: &Design) -> Layout {
        let mut columns = Vec::new();
        for instrument in dictionary.instruments() {
            for name in &instrument.fields {
                let (index, field) = dictionary
                    .fields
                    .iter()
                    .enumerate()
                    .find(|(_, f)| &f.name == name)
                    .expect("an instrument lists its dictionary's fields");
                let kinds: Vec<(String, ColumnKind)> = match field.field_type {
                    FieldType::Descriptive => Vec::new(),
                    _ if index == 0 => vec![(field.name.clone(), ColumnKind::RecordId)],
                    // A column per choice and per missing-data code.
                    FieldType::Checkbox => field
                        .choices
                        .iter()
                        .map(|c| &c.code)
                        .chain(design.missing_codes.iter().map(|m| &m.code))
                        .map(|code| {
                            (
                                checkbox_column(&field.name, code),
                                ColumnKind::Checkbox {
                                    field: index,
                                    code: code.clone(),
                                },
                            )
                        })
                        .collect(),
                    _ => vec![(field.name.clone(), ColumnKind::Value { field: index })],
                };
                for (name, kind) in kinds {
                    columns.push(DataColumn {
                        name,
                        form: instrument.name.clone(),
                        kind,
                    });
                }
            }
            columns.push(DataColumn {
                name: format!("{}_complete", instrument.name),
                form: instrument.name.clone(),
                kind: ColumnKind::Complete,
            });
        }
        let by_name = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        let longitudinal = design.is_longitudinal();
        let events = design.event_names();
        let forms: Vec<String> = dictionary
            .instruments()
            .into_iter()
            .map(|i| i.name)
            .collect();
        let designated = events
            .iter()
            .flat_map(|e| {
                design
                    .forms_for_event(dictionary, e)
                    .into_iter()
                    .map(move |f| (e.clone(), f))
            })
            .collect();
        let event_of = |name: &str| {
            if longitudinal {
                name.to_owned()
            } else {
                CLASSIC_EVENT.to_owned()
            }
        };
        let repeating_forms = design
            .repeating
            .iter()
            .filter(|r| !r.form_name.is_empty())
            .map(|r| (event_of(&r.event_name), r.form_name.clone()))
            .collect();
        let repeating_events = design
            .repeating
            .iter()
            .filter(|r| r.form_name.is_empty())
            .map(|r| event_of(&r.event_name))
            .collect();
        Layout {
            columns,
            by_name,
            events,
            forms,
            designated,
            repeating_forms,
            repeating_events,
            longitudinal,
            has_repeating: !design.repeating.is_empty(),
            has_dags: !design.dags.is_empty(),
        }
    }

    pub fn column(&self, name: &str) -> Option<(usize, &DataColumn)> {
        self.by_name.get(name).map(|&i| (i, &self.columns[i]))
    }

    pub fn record_id(&self) -> &str {
        &self.columns[0].name
    }

    pub fn is_event(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    pub fn event_index(&self, event: &str) -> usize {
        self.events
            .iter()
            .position(|e| e == event)
            .unwrap_or(usize::MAX)
    }

    pub fn form_index(&self, form: &str) -> usize {
        self.forms
            .iter()
            .position(|f| f == form)
            .unwrap_or(usize::MAX)
    }

    pub fn designated(&self, event: &str, form: &str) -> bool {
        self.designated
            .contains(&(event.to_owned(), form.to_owned()))
    }

    /// Whether `form` repeats by itself in `event`.
    pub fn repeating_form(&self, event: &str, form: &str) -> bool {
        self.repeating_forms
            .contains(&(event.to_owned(), form.to_owned()))
    }

    /// Whether the whole of `event` repeats.
    pub fn repeating_event(&self, event: &str) -> bool {
        self.repeating_events.contains(event)
    }

    /// Whether a row at `key` holds the columns of `form`.
    pub fn holds(&self, key: &RowKey, form: &str) -> bool {
        if !key.instrument.is_empty() {
            key.instrument == form
        } else if key.instance > 0 {
            self.designated(&key.event, form)
        } else {
            self.designated(&key.event, form) && !self.repeating_form(&key.event, form)
        }
    }

    /// The special columns rows of this project carry, in REDCap's order,
    /// after the record id.
    pub fn special_columns(&self, with_dag: bool) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.longitudinal {
            out.push(EVENT_NAME);
        }
        if self.has_repeating {
            out.push(REPEAT_INSTRUMENT);
            out.push(REPEAT_INSTANCE);
        }
        if with_dag {
            out.push(DAG);
        }
        out
    }
}
