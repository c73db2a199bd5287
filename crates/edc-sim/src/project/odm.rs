//! A project from a REDCap ODM project file (`project.xml`): the core reads
//! the file (`sitedesk_core::metadata::parse_odm_project`: dictionary,
//! design, the settings of its `GlobalVariables` and the records of its
//! `ClinicalData` as written); this module places those records in the
//! project's flat rows.
//!
//! Not here: any XML (the core's reader is the one), the project's CSV
//! files (`files`).

use std::collections::BTreeMap;

use sitedesk_core::metadata::design::CLASSIC_EVENT;
use sitedesk_core::metadata::{OdmForm, OdmProject, OdmSubject, OdmValue, parse_odm_project};

use super::layout::{DAG, EVENT_NAME, FlatRow, Layout, REPEAT_INSTANCE, REPEAT_INSTRUMENT};
use super::{Project, ProjectError};

impl Project {
    /// Reads a REDCap ODM project file, with the records of its
    /// `ClinicalData`.
    pub fn from_odm(text: &str) -> Result<Project, ProjectError> {
        let OdmProject {
            dictionary,
            design,
            title,
            autonumbering,
            missing_data_codes,
            subjects,
        } = parse_odm_project(text)?;
        let title = title.unwrap_or_else(|| "REDCap project".to_owned());
        let mut project = Project::from_parts(&title, dictionary, design);
        project.autonumbering = autonumbering;
        project.missing_data_codes = missing_data_codes;
        let rows = flat_rows(&subjects, project.layout())?;
        project.set_records("project.xml", rows)?;
        Ok(project)
    }
}

/// Pseudo-fields of the export that are no data column.
const SKIPPED: [&str; 4] = [
    "redcap_survey_identifier",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
];

/// The records as flat rows: one per record, event and repeat instance,
/// in the order the rows first appear in the record, each with the
/// record's data access group.
fn flat_rows(subjects: &[OdmSubject], layout: &Layout) -> Result<Vec<FlatRow>, ProjectError> {
    let bad = |message: String| ProjectError::Rows {
        file: "project.xml",
        problems: vec![message],
    };
    let mut out = Vec::new();
    for subject in subjects {
        let record = &subject.key;
        let mut dag: Option<String> = None;
        // Values by row, in the order rows first appear.
        let mut rows: BTreeMap<(usize, String, u32), FlatRow> = BTreeMap::new();
        let mut order: Vec<(usize, String, u32)> = Vec::new();
        let blocks: Vec<(&str, u32, &[OdmForm])> = if layout.longitudinal {
            subject
                .events
                .iter()
                .map(|e| {
                    (
                        e.unique_event_name.as_str(),
                        e.repeat_key.unwrap_or(1),
                        e.forms.as_slice(),
                    )
                })
                .collect()
        } else {
            vec![(CLASSIC_EVENT, 1, subject.forms.as_slice())]
        };
        for (event, event_repeat, forms) in blocks {
            if !layout.is_event(event) {
                return Err(bad(format!("record {record}: unknown event {event}")));
            }
            for fd in forms {
                let Some(form) = &fd.name else {
                    return Err(bad(format!("record {record}: unknown form {}", fd.oid)));
                };
                let form_repeat = fd.repeat_key.unwrap_or(1);
                let (instrument, instance) = if layout.repeating_form(event, form) {
                    (form.clone(), form_repeat)
                } else if layout.repeating_event(event) {
                    (String::new(), event_repeat)
                } else {
                    (String::new(), 0)
                };
                let key = (layout.event_index(event), instrument.clone(), instance);
                let row = rows.entry(key.clone()).or_insert_with(|| {
                    order.push(key);
                    let mut row = vec![(layout.record_id().to_owned(), record.clone())];
                    if layout.longitudinal {
                        row.push((EVENT_NAME.to_owned(), event.to_owned()));
                    }
                    if layout.has_repeating {
                        row.push((REPEAT_INSTRUMENT.to_owned(), instrument));
                        row.push((
                            REPEAT_INSTANCE.to_owned(),
                            if instance > 0 {
                                instance.to_string()
                            } else {
                                String::new()
                            },
                        ));
                    }
                    row
                });
                for item in &fd.items {
                    let name = item.oid.as_str();
                    if name == DAG {
                        dag = match &item.value {
                            OdmValue::Text(v) => v.clone(),
                            OdmValue::File(_) => None,
                        };
                        continue;
                    }
                    if name == layout.record_id()
                        || SKIPPED.contains(&name)
                        || (layout.column(name).is_none() && name.ends_with("_timestamp"))
                    {
                        continue;
                    }
                    // The API's flat export shows a stored file by its
                    // name (older exports wrote `[document]`).
                    let value = match &item.value {
                        OdmValue::Text(v) => v.clone().unwrap_or_default(),
                        OdmValue::File(name) => {
                            name.clone().unwrap_or_else(|| "[document]".to_owned())
                        }
                    };
                    row.push((name.to_owned(), value));
                }
            }
        }
        for key in order {
            let mut row = rows.remove(&key).expect("listed in order");
            if let Some(d) = &dag {
                row.push((DAG.to_owned(), d.clone()));
            }
            out.push(row);
        }
    }
    Ok(out)
}
