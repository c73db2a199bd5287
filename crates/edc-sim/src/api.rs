//! The REDCap API calls: which call a request's parameters make, and the
//! answers of the calls that read only the project (`version`, `project`, `metadata`,
//! `instrument`, `arm`, `event`, `formEventMapping`,
//! `repeatingFormsEvents`, `dag`, `exportFieldNames`). Record calls become
//! a [`Job`] for the store thread (`records`, `import`).
//!
//! Not here: the parameters and the error shape (`protocol`), tokens and
//! faults (`server`), SQL (`store`).

use serde::Serialize;

use crate::import::{DeleteRequest, ImportRequest, ReturnContent};
use crate::project::layout::ColumnKind;
use crate::project::{METADATA_COLUMNS, Project};
use crate::protocol::{Answer, ApiError, ApiUser, Ordered, Params, REDCAP_VERSION, Reply, to_json};
use crate::records::{ExportQuery, LogParams};
use crate::store::Store;
use sitedesk_core::metadata::FieldType;

#[cfg(test)]
mod tests;

/// A call the store thread runs.
#[derive(Debug)]
pub(crate) enum Job {
    Export(ExportQuery),
    Import(ImportRequest),
    Delete(DeleteRequest),
    Log(LogParams),
}

/// Runs a record call (on the store thread).
pub(crate) fn run_job(
    store: &mut Store,
    project: &Project,
    user: &ApiUser,
    now: chrono::NaiveDateTime,
    job: Job,
) -> Result<Reply, ApiError> {
    match job {
        Job::Export(q) => crate::records::export(store, project, user, &q),
        Job::Log(q) => crate::records::log(store, user, &q),
        Job::Import(r) => crate::import::import(store, project, user, now, r),
        Job::Delete(r) => crate::import::delete(store, project, user, now, &r),
    }
}

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

#[derive(Debug)]
pub(crate) enum Call {
    Meta(Meta),
    Job(Job),
}

/// Whether a request imports, deletes or reads, as fault conditions and
/// statistics see it (before the call is checked).
pub(crate) fn action_of(params: &Params) -> crate::faults::Action {
    use crate::faults::Action;
    match (params.get("content"), params.get("action")) {
        (_, Some("delete")) => Action::Delete,
        (_, Some("import")) => Action::Import,
        (Some("record"), _) if params.get("data").is_some() => Action::Import,
        _ => Action::Export,
    }
}

/// Reads which call a request makes; the token has been checked.
pub(crate) fn parse_call(params: &Params, project: &Project) -> Result<Call, ApiError> {
    let content = params
        .get("content")
        .ok_or_else(|| ApiError::bad_request("The parameter 'content' is missing"))?;
    if content != "version" {
        json_only(params.get("format"), "format")?;
    }
    if let Some(rf) = params.get("returnFormat") {
        json_only(Some(rf), "returnFormat")?;
    }
    let action = params.get("action").unwrap_or("export");
    let meta = |m| Ok(Call::Meta(m));
    match (content, action) {
        ("version", "export") => meta(Meta::Version),
        ("project", "export") => meta(Meta::Project),
        ("metadata", "export") => meta(Meta::Metadata {
            fields: params.list("fields"),
            forms: params.list("forms"),
        }),
        ("instrument", "export") => meta(Meta::Instrument),
        ("arm", "export") => meta(Meta::Arm {
            arms: params.list("arms"),
        }),
        ("event", "export") => meta(Meta::Event {
            arms: params.list("arms"),
        }),
        ("formEventMapping", "export") => meta(Meta::FormEventMapping {
            arms: params.list("arms"),
        }),
        ("repeatingFormsEvents", "export") => meta(Meta::RepeatingFormsEvents),
        ("dag", "export") => meta(Meta::Dag),
        ("exportFieldNames", "export") => meta(Meta::ExportFieldNames {
            field: params
                .get("field")
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        }),
        ("log", "export") => Ok(Call::Job(Job::Log(LogParams::parse(params)?))),
        ("record", "delete") => Ok(Call::Job(Job::Delete(DeleteRequest::parse(params)?))),
        ("record", "import") => Ok(Call::Job(Job::Import(parse_import(params)?))),
        ("record", "export") if params.get("data").is_some() => {
            Ok(Call::Job(Job::Import(parse_import(params)?)))
        }
        ("record", "export") => Ok(Call::Job(Job::Export(ExportQuery::parse(params, project)?))),
        (_, "export" | "import" | "delete") => Err(ApiError::bad_request(format!(
            "The value of the parameter \"content\" ({content}) is not valid, or this server does not simulate it"
        ))),
        _ => Err(ApiError::bad_request(format!(
            "The value of the parameter \"action\" ({action}) is not valid"
        ))),
    }
}

fn json_only(value: Option<&str>, param: &str) -> Result<(), ApiError> {
    match value {
        Some("json") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "This simulated REDCap server speaks JSON only: send {param}=json (not {other})"
        ))),
        None => Err(ApiError::bad_request(format!(
            "The parameter '{param}' is missing; this simulated REDCap server speaks JSON only: send {param}=json (REDCap itself would answer XML)"
        ))),
    }
}

fn parse_import(params: &Params) -> Result<ImportRequest, ApiError> {
    if let Some(t) = params.get("type")
        && t != "flat"
    {
        return Err(ApiError::bad_request(
            "This simulated REDCap server imports type=flat only",
        ));
    }
    if let Some(d) = params.get("dateFormat")
        && d != "YMD"
    {
        return Err(ApiError::bad_request(
            "This simulated REDCap server takes dateFormat=YMD only (values in stored form)",
        ));
    }
    let overwrite = match params.get("overwriteBehavior").unwrap_or("normal") {
        "normal" => false,
        "overwrite" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "The value of the parameter \"overwriteBehavior\" ({other}) is not valid: normal or overwrite"
            )));
        }
    };
    let force_auto_number = params.flag("forceAutoNumber");
    let return_content = match params.get("returnContent").unwrap_or("count") {
        "count" => ReturnContent::Count,
        "ids" => ReturnContent::Ids,
        "auto_ids" if force_auto_number => ReturnContent::AutoIds,
        "auto_ids" => {
            return Err(ApiError::bad_request(
                "returnContent=auto_ids can only be used with forceAutoNumber=true",
            ));
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "The value of the parameter \"returnContent\" ({other}) is not valid: count, ids or auto_ids"
            )));
        }
    };
    let data = params
        .get("data")
        .ok_or_else(|| ApiError::bad_request("The parameter 'data' is missing"))?;
    let rows = crate::import::parse_rows(data)?;
    Ok(ImportRequest {
        rows,
        overwrite,
        return_content,
        force_auto_number,
    })
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
                creation_time: "2024-01-01 00:00:00",
                production_time: "",
                in_production: 0,
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
