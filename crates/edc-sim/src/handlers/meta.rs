//! The calls answered from the project alone: `version`, `project`,
//! `metadata`, `instrument`, `arm`, `event`, `formEventMapping` (a classic
//! project answers an error: how clients tell it is not longitudinal),
//! `repeatingFormsEvents`, `dag` and `exportFieldNames`, in REDCap's
//! shapes and order of keys.
//!
//! Not here: reading which call a request makes (`handlers`), anything of
//! the records (`records`, `import`).

use serde::Serialize;
use sitedesk_core::metadata::FieldType;

use crate::project::layout::ColumnKind;
use crate::project::{METADATA_COLUMNS, Project, ProjectStatus};
use crate::protocol::{Answer, ApiError, Ordered, REDCAP_VERSION, to_json};

/// A call answered from the project alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Meta {
    Version,
    Project,
    Metadata {
        fields: Vec<String>,
        forms: Vec<String>,
    },
    Instrument,
    Arm {
        arms: Vec<String>,
    },
    Event {
        arms: Vec<String>,
    },
    FormEventMapping {
        arms: Vec<String>,
    },
    RepeatingFormsEvents,
    Dag,
    ExportFieldNames {
        field: Option<String>,
    },
}

fn unknown(param: &str, values: &[String]) -> ApiError {
    ApiError::bad_request(format!(
        "The following values in the parameter \"{param}\" are not valid: {}",
        values.join(", ")
    ))
}

/// Arm numbers from `arms[]`; an unknown arm is an error.
fn arm_filter(project: &Project, arms: &[String]) -> Result<Option<Vec<u32>>, ApiError> {
    if arms.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for a in arms {
        match a.trim().parse::<u32>() {
            Ok(n) if project.design().arms.iter().any(|x| x.arm_num == n) => out.push(n),
            _ => bad.push(a.clone()),
        }
    }
    if bad.is_empty() {
        Ok(Some(out))
    } else {
        Err(unknown("arms", &bad))
    }
}

/// REDCap's answer to the arm, event and mapping calls of a classic
/// project: how a client tells that a project is not longitudinal.
fn classic(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "You cannot export {what} for classic projects (this project is not longitudinal)"
    ))
}

/// When the simulated project was created (and, in production, moved to
/// production): a fixed time, so that answers do not depend on the clock.
const CREATED: &str = "2024-01-01 00:00:00";

/// The `project` answer, in REDCap's order of keys.
#[derive(Serialize)]
struct ProjectOut<'a> {
    project_id: u32,
    project_title: &'a str,
    creation_time: &'a str,
    production_time: &'a str,
    in_production: u8,
    project_language: &'a str,
    purpose: u8,
    purpose_other: &'a str,
    project_notes: &'a str,
    custom_record_label: &'a str,
    secondary_unique_field: &'a str,
    is_longitudinal: u8,
    has_repeating_instruments_or_events: u8,
    surveys_enabled: u8,
    scheduling_enabled: u8,
    record_autonumbering_enabled: u8,
    randomization_enabled: u8,
    ddp_enabled: u8,
    project_irb_number: &'a str,
    project_grant_number: &'a str,
    project_pi_firstname: &'a str,
    project_pi_lastname: &'a str,
    display_today_now_button: u8,
    missing_data_codes: &'a str,
    external_modules: &'a str,
    bypass_branching_erase_field_prompt: u8,
}

#[derive(Serialize)]
struct ArmOut<'a> {
    arm_num: u32,
    name: &'a str,
}

#[derive(Serialize)]
struct EventOut<'a> {
    event_name: &'a str,
    arm_num: u32,
    unique_event_name: &'a str,
    custom_event_label: &'a str,
    event_id: u32,
}

#[derive(Serialize)]
struct MappingOut<'a> {
    arm_num: u32,
    unique_event_name: &'a str,
    form: &'a str,
}

#[derive(Serialize)]
struct RepeatingOut<'a> {
    event_name: &'a str,
    form_name: &'a str,
    custom_form_label: &'a str,
}

#[derive(Serialize)]
struct DagOut<'a> {
    data_access_group_name: &'a str,
    unique_group_name: &'a str,
    data_access_group_id: u32,
}

#[derive(Serialize)]
struct InstrumentOut {
    instrument_name: String,
    instrument_label: String,
}

#[derive(Serialize)]
struct FieldNameOut<'a> {
    original_field_name: &'a str,
    choice_value: &'a str,
    export_field_name: &'a str,
}

/// Answers a call that needs only the project.
pub(crate) fn answer_meta(project: &Project, call: &Meta) -> Result<Answer, ApiError> {
    let design = project.design();
    let layout = project.layout();
    match call {
        Meta::Version => Ok(Answer::Text(REDCAP_VERSION.to_owned())),
        Meta::Project => {
            let flag = |b: bool| u8::from(b);
            Ok(to_json(&ProjectOut {
                project_id: 1,
                project_title: project.title(),
                creation_time: CREATED,
                production_time: match project.status() {
                    ProjectStatus::Production => CREATED,
                    ProjectStatus::Development => "",
                },
                in_production: flag(project.status() == ProjectStatus::Production),
                project_language: "English",
                purpose: 4,
                purpose_other: "",
                project_notes: "Served by edc-sim, SiteDesk's REDCap API simulator.",
                custom_record_label: "",
                secondary_unique_field: "",
                is_longitudinal: flag(design.is_longitudinal()),
                has_repeating_instruments_or_events: flag(!design.repeating.is_empty()),
                surveys_enabled: 0,
                scheduling_enabled: 0,
                record_autonumbering_enabled: flag(project.autonumbering()),
                randomization_enabled: 0,
                ddp_enabled: 0,
                project_irb_number: "",
                project_grant_number: "",
                project_pi_firstname: "",
                project_pi_lastname: "",
                display_today_now_button: 1,
                missing_data_codes: project.missing_data_codes(),
                external_modules: "",
                bypass_branching_erase_field_prompt: 0,
            }))
        }
        Meta::Metadata { fields, forms } => {
            let bad_fields: Vec<String> = fields
                .iter()
                .filter(|f| project.dictionary().field(f).is_none())
                .cloned()
                .collect();
            if !bad_fields.is_empty() {
                return Err(unknown("fields", &bad_fields));
            }
            let bad_forms: Vec<String> = forms
                .iter()
                .filter(|f| !layout.forms.contains(f))
                .cloned()
                .collect();
            if !bad_forms.is_empty() {
                return Err(unknown("forms", &bad_forms));
            }
            let rows: Vec<Vec<(String, String)>> = project
                .metadata()
                .iter()
                .filter(|row| {
                    (fields.is_empty() && forms.is_empty())
                        || fields.contains(&row[0])
                        || forms.contains(&row[1])
                })
                .map(|row| {
                    METADATA_COLUMNS
                        .iter()
                        .zip(row.iter())
                        .map(|(k, v)| ((*k).to_owned(), v.clone()))
                        .collect()
                })
                .collect();
            let out: Vec<Ordered<String>> = rows.iter().map(|r| Ordered(r)).collect();
            Ok(to_json(&out))
        }
        Meta::Instrument => {
            let out: Vec<InstrumentOut> = layout
                .forms
                .iter()
                .map(|f| InstrumentOut {
                    instrument_name: f.clone(),
                    instrument_label: design.form_label(f),
                })
                .collect();
            Ok(to_json(&out))
        }
        Meta::Arm { arms } => {
            if !design.is_longitudinal() {
                return Err(classic("arms"));
            }
            let filter = arm_filter(project, arms)?;
            let out: Vec<ArmOut> = design
                .arms
                .iter()
                .filter(|a| filter.as_ref().is_none_or(|f| f.contains(&a.arm_num)))
                .map(|a| ArmOut {
                    arm_num: a.arm_num,
                    name: &a.name,
                })
                .collect();
            Ok(to_json(&out))
        }
        Meta::Event { arms } => {
            if !design.is_longitudinal() {
                return Err(classic("events"));
            }
            let filter = arm_filter(project, arms)?;
            let out: Vec<EventOut> = design
                .events
                .iter()
                .enumerate()
                .filter(|(_, e)| filter.as_ref().is_none_or(|f| f.contains(&e.arm_num)))
                .map(|(i, e)| EventOut {
                    event_name: &e.event_name,
                    arm_num: e.arm_num,
                    unique_event_name: &e.unique_event_name,
                    custom_event_label: e.custom_event_label.as_deref().unwrap_or_default(),
                    event_id: project.event_id(i),
                })
                .collect();
            Ok(to_json(&out))
        }
        Meta::FormEventMapping { arms } => {
            if !design.is_longitudinal() {
                return Err(classic("form/event mappings"));
            }
            let filter = arm_filter(project, arms)?;
            let out: Vec<MappingOut> = design
                .mapping
                .iter()
                .filter(|m| filter.as_ref().is_none_or(|f| f.contains(&m.arm_num)))
                .map(|m| MappingOut {
                    arm_num: m.arm_num,
                    unique_event_name: &m.unique_event_name,
                    form: &m.form,
                })
                .collect();
            Ok(to_json(&out))
        }
        Meta::RepeatingFormsEvents => {
            let out: Vec<RepeatingOut> = design
                .repeating
                .iter()
                .map(|r| RepeatingOut {
                    event_name: &r.event_name,
                    form_name: &r.form_name,
                    custom_form_label: r.custom_form_label.as_deref().unwrap_or_default(),
                })
                .collect();
            Ok(to_json(&out))
        }
        Meta::Dag => {
            let out: Vec<DagOut> = design
                .dags
                .iter()
                .map(|d| DagOut {
                    data_access_group_name: &d.data_access_group_name,
                    unique_group_name: &d.unique_group_name,
                    data_access_group_id: project.dag_id(&d.unique_group_name).unwrap_or(0),
                })
                .collect();
            Ok(to_json(&out))
        }
        Meta::ExportFieldNames { field } => {
            if let Some(f) = field
                && project.dictionary().field(f).is_none()
            {
                return Err(unknown("field", std::slice::from_ref(f)));
            }
            let dictionary = project.dictionary();
            let out: Vec<FieldNameOut> = layout
                .columns
                .iter()
                .filter_map(|c| {
                    let (index, choice) = match &c.kind {
                        ColumnKind::RecordId => (0, ""),
                        ColumnKind::Value { field } => (*field, ""),
                        ColumnKind::Checkbox { field, code } => (*field, code.as_str()),
                        ColumnKind::Complete => return None,
                    };
                    let f = &dictionary.fields[index];
                    if f.field_type == FieldType::Descriptive
                        || field.as_ref().is_some_and(|name| *name != f.name)
                    {
                        return None;
                    }
                    Some(FieldNameOut {
                        original_field_name: &f.name,
                        choice_value: choice,
                        export_field_name: &c.name,
                    })
                })
                .collect();
            Ok(to_json(&out))
        }
    }
}
