//! One flat row as an import (or a project's own data) sends it: which
//! record, event and repeat instance it is for, and whether each value is
//! one REDCap would take, by REDCap's own rules: a text field's value
//! against its validation type's pattern (`validation`; a date in Y-M-D,
//! after `dateFormat` has put it so), a choice against the field's codes
//! (`0`/`1` for yes/no and true/false), a slider's whole number against
//! its range; a missing-data code of the project passes in any field; a
//! calculated or file field takes no import. A value out of min/max is
//! taken: REDCap's import only warns about it. A project's own records
//! are set here too, checked row by row as an import would check them.
//!
//! Not here: what is stored (the store), who may write which record
//! (`handlers::import`).

use sitedesk_core::metadata::design::CLASSIC_EVENT;
use sitedesk_core::metadata::{Field, FieldType};

use super::layout::{
    ColumnKind, DAG, EVENT_NAME, FlatRow, REPEAT_INSTANCE, REPEAT_INSTRUMENT, RowKey,
};
use super::validation::{self, DateFormat};
use super::{Project, ProjectError};

/// REDCap's words for a value that is not in the field's format.
pub const FORMAT_MESSAGE: &str = "The value you provided could not be validated because it does not follow the expected format. Please try again.";

/// One refused value: a line of an import's error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub record: String,
    pub field: String,
    pub value: String,
    pub message: String,
}

impl Problem {
    /// The line as REDCap writes it: four CSV-quoted cells.
    pub fn csv_line(&self) -> String {
        [&self.record, &self.field, &self.value, &self.message]
            .iter()
            .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Whose row is checked: an API import is held to everything REDCap
/// checks; the project's own data (`data.csv`, the ODM file's records)
/// was exported by REDCap, so calculated and file values are taken as
/// they are and a bad value is only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Import,
    Seed,
}

/// A row whose record, event and instance are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedRow {
    pub record: String,
    pub key: RowKey,
    /// The row's `redcap_data_access_group` cell, when it has one.
    pub dag: Option<String>,
    /// The data columns the row sends besides the record id: the column's
    /// index in the layout and the value (empty for a blank).
    pub values: Vec<(usize, String)>,
}

/// Checks one row. Problems with its record, event or instance make it
/// unusable (`None`); problems with values are reported and the row is
/// still given, its bad values included (the caller decides).
pub(crate) fn check_row(
    project: &Project,
    row: &FlatRow,
    dates: DateFormat,
    mode: Mode,
    problems: &mut Vec<Problem>,
) -> Option<CheckedRow> {
    let layout = project.layout();
    let cell = |name: &str| {
        row.iter()
            .find(|(c, _)| c == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let rid = layout.record_id();
    let record = cell(rid).unwrap_or_default();
    let before = problems.len();
    let mut problem =
        |field: &str, value: &str, message: String| add(problems, &record, field, value, message);
    if record.is_empty() {
        problem(
            rid,
            "",
            format!("The record ID field ({rid}) is missing or blank"),
        );
    }
    let event = if layout.longitudinal {
        match cell(EVENT_NAME).as_deref() {
            None | Some("") => {
                problem(
                    EVENT_NAME,
                    "",
                    "The event name is missing: rows of a longitudinal project need redcap_event_name"
                        .into(),
                );
                String::new()
            }
            Some(e) if !layout.is_event(e) => {
                problem(
                    EVENT_NAME,
                    e,
                    "This is not a valid unique event name".into(),
                );
                String::new()
            }
            Some(e) => e.to_owned(),
        }
    } else {
        CLASSIC_EVENT.to_owned()
    };
    let instrument = cell(REPEAT_INSTRUMENT).unwrap_or_default();
    let instance_text = cell(REPEAT_INSTANCE).unwrap_or_default();
    let mut instance = 0;
    if !event.is_empty() {
        let parse_instance = |text: &str| text.parse::<u32>().ok().filter(|n| *n >= 1);
        if !instrument.is_empty() {
            if !layout.repeating_form(&event, &instrument) {
                problem(
                    REPEAT_INSTRUMENT,
                    &instrument,
                    if layout.longitudinal {
                        format!("This is not a repeating instrument in event {event}")
                    } else {
                        "This is not a repeating instrument".into()
                    },
                );
            }
            match parse_instance(&instance_text) {
                Some(n) => instance = n,
                None => problem(
                    REPEAT_INSTANCE,
                    &instance_text,
                    "The repeat instance must be a whole number from 1".into(),
                ),
            }
        } else if !instance_text.is_empty() {
            if !layout.repeating_event(&event) {
                problem(
                    REPEAT_INSTANCE,
                    &instance_text,
                    "A repeat instance needs redcap_repeat_instrument, or an event that repeats"
                        .into(),
                );
            }
            match parse_instance(&instance_text) {
                Some(n) => instance = n,
                None => problem(
                    REPEAT_INSTANCE,
                    &instance_text,
                    "The repeat instance must be a whole number from 1".into(),
                ),
            }
        } else if layout.repeating_event(&event) {
            problem(
                REPEAT_INSTANCE,
                "",
                format!("Event {event} repeats: its rows need redcap_repeat_instance"),
            );
        }
    }
    if problems.len() > before {
        return None;
    }
    let mut problem =
        |field: &str, value: &str, message: String| add(problems, &record, field, value, message);
    let key = RowKey {
        event,
        instrument,
        instance,
    };
    let mut values = Vec::new();
    for (name, value) in row {
        let Some((index, column)) = layout.column(name) else {
            continue;
        };
        if column.kind == ColumnKind::RecordId {
            continue;
        }
        let v = value.trim();
        if v.is_empty() {
            // A blank is no value: it never needs the form to be held.
            if layout.holds(&key, &column.form) {
                values.push((index, String::new()));
            }
            continue;
        }
        if !layout.holds(&key, &column.form) {
            let message = if !key.instrument.is_empty() {
                format!(
                    "This field is on form {}, not on the repeating instrument {} of this row",
                    column.form, key.instrument
                )
            } else if !layout.designated(&key.event, &column.form) {
                format!(
                    "This field is on form {}, which is not designated for event {}",
                    column.form, key.event
                )
            } else {
                format!(
                    "Form {} repeats in this event: send redcap_repeat_instrument and redcap_repeat_instance",
                    column.form
                )
            };
            problem(name, value, message);
            continue;
        }
        let stored = match check_value_of(project, &column.kind, v, dates, mode) {
            Checked::Take(stored) => stored,
            Checked::Refuse(message) => {
                problem(name, value, message);
                if mode == Mode::Import {
                    continue;
                }
                None
            }
        };
        let kept = match (mode, &column.kind, stored) {
            (Mode::Seed, _, _) => value.clone(),
            (Mode::Import, _, Some(stored)) => stored,
            // A note's line breaks are content; elsewhere REDCap trims.
            (Mode::Import, ColumnKind::Value { field }, None)
                if project.dictionary().fields[*field].field_type == FieldType::Notes =>
            {
                value.clone()
            }
            (Mode::Import, _, None) => v.to_owned(),
        };
        values.push((index, kept));
    }
    Some(CheckedRow {
        record,
        key,
        dag: cell(DAG),
        values,
    })
}

fn add(problems: &mut Vec<Problem>, record: &str, field: &str, value: &str, message: String) {
    problems.push(Problem {
        record: record.to_owned(),
        field: field.to_owned(),
        value: value.to_owned(),
        message,
    });
}

/// What the check of one non-blank value decided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Checked {
    /// Taken; stored as sent (trimmed), or as the given form (a date with
    /// `-` between its parts, in Y-M-D).
    Take(Option<String>),
    /// Refused, with REDCap's words.
    Refuse(String),
}

/// Checks one non-blank value `v` of a column, by REDCap's rules.
fn check_value_of(
    project: &Project,
    kind: &ColumnKind,
    v: &str,
    dates: DateFormat,
    mode: Mode,
) -> Checked {
    let refuse = |m: String| Checked::Refuse(m);
    match kind {
        ColumnKind::RecordId => Checked::Take(None),
        ColumnKind::Complete if matches!(v, "0" | "1" | "2") => Checked::Take(None),
        ColumnKind::Complete => refuse(format!("{FORMAT_MESSAGE} (A form status is 0, 1 or 2.)")),
        ColumnKind::Checkbox { .. } if matches!(v, "0" | "1") => Checked::Take(None),
        ColumnKind::Checkbox { .. } => {
            refuse(format!("{FORMAT_MESSAGE} (A checkbox choice is 0 or 1.)"))
        }
        ColumnKind::Value { field } => {
            let f = &project.dictionary().fields[*field];
            match (f.field_type, mode) {
                (FieldType::Calc | FieldType::File | FieldType::Sql, Mode::Seed) => {
                    return Checked::Take(None);
                }
                (FieldType::Calc, Mode::Import) => {
                    return refuse(
                        "This field is a calculated field, whose value the server computes: it cannot be imported"
                            .into(),
                    );
                }
                (FieldType::File, Mode::Import) => {
                    return refuse(
                        "This is a file upload field: a file cannot be imported as record data"
                            .into(),
                    );
                }
                _ => {}
            }
            // A missing-data code is accepted whatever the validation.
            if project.design().is_missing_code(v) {
                return Checked::Take(None);
            }
            check_field_value(f, v, dates)
        }
    }
}

/// A field's value (not a missing-data code) by its type.
fn check_field_value(f: &Field, v: &str, dates: DateFormat) -> Checked {
    let not_a_choice =
        || Checked::Refuse(format!("The value is not a valid category for {}", f.name));
    match f.field_type {
        FieldType::Dropdown | FieldType::Radio | FieldType::Checkbox => {
            if f.choices.iter().any(|c| c.code == v) {
                Checked::Take(None)
            } else {
                not_a_choice()
            }
        }
        FieldType::Yesno | FieldType::Truefalse => {
            if matches!(v, "0" | "1") {
                Checked::Take(None)
            } else {
                not_a_choice()
            }
        }
        FieldType::Slider => {
            // A whole number within the slider's range (0 to 100 unless
            // min and max say otherwise).
            let bound = |b: &Option<String>, default: i64| {
                b.as_deref()
                    .and_then(|t| t.trim().parse::<i64>().ok())
                    .unwrap_or(default)
            };
            let (lo, hi) = (bound(&f.min, 0), bound(&f.max, 100));
            match v.parse::<i64>() {
                Ok(n)
                    if validation::passes("integer", v) == Some(true) && (lo..=hi).contains(&n) =>
                {
                    Checked::Take(None)
                }
                _ => Checked::Refuse(format!(
                    "{FORMAT_MESSAGE} (A slider takes a whole number from {lo} to {hi}.)"
                )),
            }
        }
        FieldType::Descriptive | FieldType::Sql => {
            Checked::Refuse("This field cannot be imported".into())
        }
        FieldType::Calc | FieldType::File | FieldType::Text | FieldType::Notes => {
            let Some(name) = f.validation.as_deref().filter(|n| !n.is_empty()) else {
                return Checked::Take(None);
            };
            let date = validation::is_date_type(name);
            let value = if date {
                validation::to_ymd(v, dates)
            } else {
                v.to_owned()
            };
            match validation::passes(validation::import_type(name), &value) {
                // A type REDCap does not ship: the value is taken as sent.
                None => Checked::Take(None),
                Some(false) => Checked::Refuse(FORMAT_MESSAGE.into()),
                Some(true) if date => {
                    let stored = validation::stored_date(&value);
                    Checked::Take((stored != v).then_some(stored))
                }
                Some(true) => Checked::Take(None),
            }
        }
    }
}

impl Project {
    /// Checks and keeps `rows` as the project's records.
    pub(crate) fn set_records(
        &mut self,
        file: &'static str,
        rows: Vec<FlatRow>,
    ) -> Result<(), ProjectError> {
        let mut unknown: Vec<String> = Vec::new();
        let with_dag = self.layout.has_dags;
        for row in &rows {
            for (c, _) in row {
                if !self.knows_column(c, with_dag) && !unknown.contains(c) {
                    unknown.push(c.clone());
                }
            }
        }
        if !unknown.is_empty() {
            return Err(ProjectError::UnknownColumns {
                file,
                columns: unknown,
            });
        }
        let mut fatal = Vec::new();
        let mut warnings = Vec::new();
        for row in &rows {
            let mut problems = Vec::new();
            let checked = check_row(self, row, DateFormat::Ymd, Mode::Seed, &mut problems);
            let lines = problems.iter().map(Problem::csv_line);
            match checked {
                None => fatal.extend(lines),
                Some(r) => {
                    warnings.extend(lines);
                    if let Some(dag) = r.dag.filter(|d| !d.is_empty())
                        && !self.design.dags.iter().any(|g| g.unique_group_name == dag)
                    {
                        fatal.push(format!(
                            "record {}: data access group {dag} does not exist",
                            r.record
                        ));
                    }
                }
            }
        }
        if !fatal.is_empty() {
            return Err(ProjectError::Rows {
                file,
                problems: fatal,
            });
        }
        self.records = rows;
        self.warnings = warnings;
        Ok(())
    }
}
