//! Changing a project's design as REDCap's API changes it while a project
//! is in development: a new data dictionary replaces the old one
//! (`metadata` import), new instrument designations replace the old ones
//! (`formEventMapping` import). Each gives a new [`Project`]; the one in
//! force is untouched when a change is refused.
//!
//! A new dictionary is read by the core's parsers, the row checks every
//! other source goes through, and is then held to the rules of REDCap's
//! own dictionary check (`MetaData::error_checking`) that the core does not
//! make: a form's fields follow each other; no field takes a form's status
//! name (`<form>_complete`), a reserved name, three underscores in a row or
//! a trailing underscore; only text and slider fields take a validation
//! type; a text field's minimum or maximum needs one. What REDCap repairs
//! it repairs too: the first field, the record id, becomes a text field
//! without a section header. The record id field may be renamed (REDCap
//! only warns, and the API answers no warnings); records keep their ids.
//!
//! The design follows the dictionary as REDCap's `save_metadata` has it:
//! the designations and repeating setups of removed forms go; in a
//! longitudinal project a new form is designated for no event until the
//! designations are imported (a classic project has every form in its one
//! event); a new form is called by its name with each word capitalized.
//! New designations are checked as REDCap's `Event::saveEventMapping`
//! checks them (arm, event and form must exist), and a form's repeating
//! setup in an event lasts only while the form is designated there.
//!
//! Not here: who may change the design and when (`handlers::design`); the
//! records (the store keeps every value: a removed field's values are
//! hidden from exports, and come back with the field).

use sitedesk_core::i18n::Lang;
use sitedesk_core::metadata::design::{Design, FormEvent, InstrumentLabel};
use sitedesk_core::metadata::{Dictionary, FieldType, MetadataError, parse_api_json, parse_csv};

use super::files::raw_dictionary;
use super::layout::{DAG, EVENT_NAME, FlatRow, Layout, REPEAT_INSTANCE, REPEAT_INSTRUMENT};
use super::{METADATA_COLUMNS, MetadataRow, Project};

/// Field names REDCap keeps for itself: the flat rows' own columns.
const RESERVED: [&str; 5] = [
    EVENT_NAME,
    REPEAT_INSTRUMENT,
    REPEAT_INSTANCE,
    DAG,
    "redcap_survey_identifier",
];

/// The attributes every designation needs.
const MAPPING_COLUMNS: [&str; 3] = ["arm_num", "unique_event_name", "form"];

/// Why a design change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EditError {
    /// Not a data dictionary the core's parser reads: its message names
    /// the line (a JSON field's position) and the field.
    Dictionary(MetadataError),
    /// REDCap's further rules: one line per problem.
    Refused(Vec<String>),
}

impl EditError {
    /// The error in words, as the API's error answer gives it.
    pub fn message(&self) -> String {
        match self {
            EditError::Dictionary(e) => e.message(Lang::EN),
            EditError::Refused(lines) => lines.join("\n"),
        }
    }
}

impl Project {
    /// The project with the data dictionary of a `metadata` import in JSON
    /// (the rows the `metadata` export answers).
    pub(crate) fn with_dictionary_json(&self, text: &str) -> Result<Project, EditError> {
        let dictionary = parse_api_json(text).map_err(EditError::Dictionary)?;
        let rows = json_metadata_rows(text);
        self.with_dictionary(dictionary, rows)
    }

    /// The project with the data dictionary of a `metadata` import in CSV
    /// (the API's column names or the dictionary file's headers).
    pub(crate) fn with_dictionary_csv(&self, text: &str) -> Result<Project, EditError> {
        let dictionary = parse_csv(text.as_bytes()).map_err(EditError::Dictionary)?;
        let rows =
            raw_dictionary(text.as_bytes()).map_err(|e| EditError::Refused(vec![e.to_string()]))?;
        self.with_dictionary(dictionary, rows)
    }

    /// `dictionary`, read from `rows` (one a field, as sent), in place of
    /// the project's.
    fn with_dictionary(
        &self,
        mut dictionary: Dictionary,
        mut rows: Vec<MetadataRow>,
    ) -> Result<Project, EditError> {
        let problems = redcap_rules(&dictionary);
        if !problems.is_empty() {
            return Err(EditError::Refused(problems));
        }
        let first = &mut dictionary.fields[0];
        rows[0][2].clear();
        first.section_header = None;
        if first.field_type != FieldType::Text {
            rows[0][3] = "text".to_owned();
            first.field_type = FieldType::Text;
            first.choices.clear();
            first.choices_text = Some(rows[0][5].trim().to_owned()).filter(|c| !c.is_empty());
        }
        let mut design = self.design.pruned_to(&dictionary);
        for instrument in dictionary.instruments() {
            if !self.layout.forms.contains(&instrument.name) {
                design.instruments.push(InstrumentLabel {
                    instrument_label: menu_name(&instrument.name),
                    instrument_name: instrument.name,
                });
            }
        }
        let mut project = self.clone();
        project.layout = Layout::new(&dictionary, &design);
        project.dictionary = dictionary;
        project.design = design;
        project.metadata = rows;
        Ok(project)
    }

    /// The project with the designations of a `formEventMapping` import
    /// (`arm_num`, `unique_event_name`, `form` a row) in place of its own,
    /// and how many designations it has now.
    pub(crate) fn with_mapping(&self, rows: &[FlatRow]) -> Result<(Project, usize), EditError> {
        if !self.design.is_longitudinal() {
            return Err(EditError::Refused(vec![
                "You cannot import form/event mappings for classic projects (this project is not longitudinal)".into(),
            ]));
        }
        let cell = |row: &FlatRow, key: &str| -> Option<String> {
            row.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_owned())
        };
        // REDCap looks at the first row for the attributes.
        if !rows
            .first()
            .is_some_and(|r| MAPPING_COLUMNS.iter().all(|k| cell(r, k).is_some()))
        {
            return Err(EditError::Refused(vec![format!(
                "The data lacks attributes every designation needs: {}",
                MAPPING_COLUMNS.join(",")
            )]));
        }
        let mut problems = Vec::new();
        let mut mapping: Vec<FormEvent> = Vec::new();
        for row in rows {
            let arm = cell(row, "arm_num").unwrap_or_default();
            match arm.parse::<u32>() {
                Err(_) => problems.push(format!(
                    "The arm number \"{arm}\" is not a whole number of 0 or more"
                )),
                Ok(n) if !self.design.arms.iter().any(|a| a.arm_num == n) => problems.push(
                    format!("The arm number \"{arm}\" is not an arm of the project"),
                ),
                Ok(_) => {}
            }
            let unique = cell(row, "unique_event_name").unwrap_or_default();
            let event = self
                .design
                .events
                .iter()
                .find(|e| e.unique_event_name == unique);
            if event.is_none() {
                problems.push(format!(
                    "The unique event name \"{unique}\" is not an event of the project"
                ));
            }
            let form = cell(row, "form").unwrap_or_default();
            if !self.layout.forms.contains(&form) {
                problems.push(format!(
                    "The instrument \"{form}\" is not an instrument of the project"
                ));
            }
            // The event decides the arm, as REDCap stores a designation by
            // its event.
            if let Some(e) = event
                && !mapping
                    .iter()
                    .any(|m| m.unique_event_name == e.unique_event_name && m.form == form)
            {
                mapping.push(FormEvent {
                    arm_num: e.arm_num,
                    unique_event_name: e.unique_event_name.clone(),
                    form,
                });
            }
        }
        if !problems.is_empty() {
            return Err(EditError::Refused(problems));
        }
        mapping.sort_by_key(|m| {
            (
                self.layout.event_index(&m.unique_event_name),
                self.layout.form_index(&m.form),
            )
        });
        let count = mapping.len();
        let mut design = Design {
            mapping,
            ..self.design.clone()
        };
        let designated = |event: &str, form: &str| {
            design
                .mapping
                .iter()
                .any(|m| m.unique_event_name == event && m.form == form)
        };
        let repeating = design
            .repeating
            .iter()
            .filter(|r| r.form_name.is_empty() || designated(&r.event_name, &r.form_name))
            .cloned()
            .collect();
        design.repeating = repeating;
        let mut project = self.clone();
        project.layout = Layout::new(&project.dictionary, &design);
        project.design = design;
        Ok((project, count))
    }
}

/// The rows of a `metadata` import in JSON that the core has read: each
/// column's value as sent, by the API's column names.
fn json_metadata_rows(text: &str) -> Vec<MetadataRow> {
    let items: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(text).unwrap_or_default();
    items
        .iter()
        .map(|item| {
            std::array::from_fn(|i| match item.get(METADATA_COLUMNS[i]) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            })
        })
        .collect()
}

/// What REDCap calls a form made by a dictionary upload: its name with
/// `_` as spaces and each word capitalized (`adverse_events` is "Adverse
/// Events").
fn menu_name(form: &str) -> String {
    form.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The rules of REDCap's dictionary check that the core's parser does not
/// make, one line per problem, naming the field and the cell (column
/// letter, and the row as in the dictionary file: the first field is row
/// 2).
fn redcap_rules(dictionary: &Dictionary) -> Vec<String> {
    let forms: Vec<String> = dictionary
        .instruments()
        .into_iter()
        .map(|i| i.name)
        .collect();
    let cell = |column: char, index: usize| format!("{column}{}", index + 2);
    let mut out = Vec::new();
    for (i, f) in dictionary.fields.iter().enumerate() {
        let name = &f.name;
        let a = cell('A', i);
        if name.contains("___") {
            out.push(format!(
                "Field {name} ({a}): a field name may not hold three underscores in a row, which REDCap keeps for checkbox columns"
            ));
        }
        if name.ends_with('_') {
            out.push(format!(
                "Field {name} ({a}): a field name may not end with an underscore"
            ));
        }
        let pseudo = forms.iter().any(|form| {
            *name == format!("{form}_timestamp") || *name == format!("{form}_return_code")
        });
        if RESERVED.contains(&name.as_str()) || pseudo {
            out.push(format!(
                "Field {name} ({a}): the name is reserved by REDCap"
            ));
        }
        if let Some(form) = name.strip_suffix("_complete")
            && forms.iter().any(|f| f == form)
        {
            out.push(format!(
                "Field {name} ({a}): the name is that of form {form}'s status, which REDCap adds itself"
            ));
        }
        let takes_validation = |v: &str| match f.field_type {
            FieldType::Text | FieldType::Slider => true,
            FieldType::Dropdown | FieldType::Sql => v == "autocomplete",
            FieldType::File => v == "signature",
            _ => false,
        };
        match &f.validation {
            Some(v) if !takes_validation(v) => out.push(format!(
                "Field {name} ({}): only text and slider fields take a validation type ({v})",
                cell('H', i)
            )),
            None if f.field_type == FieldType::Text && (f.min.is_some() || f.max.is_some()) => out
                .push(format!(
                    "Field {name} ({}): a minimum or maximum needs a validation type",
                    cell('I', i)
                )),
            _ => {}
        }
    }
    let mut previous: Option<&str> = None;
    let mut started: Vec<&str> = Vec::new();
    for (i, f) in dictionary.fields.iter().enumerate() {
        if previous == Some(f.form.as_str()) {
            continue;
        }
        previous = Some(&f.form);
        if started.contains(&f.form.as_str()) {
            out.push(format!(
                "Form {} ({}): a form's fields must follow each other, and this form starts again at field {}",
                f.form,
                cell('B', i),
                f.name
            ));
        } else {
            started.push(&f.form);
        }
    }
    out
}
