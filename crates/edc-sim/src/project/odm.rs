//! A project from a REDCap ODM project file (`project.xml`): the
//! dictionary and design as the core reads them, the title and settings of
//! its `GlobalVariables`, and the records of its `ClinicalData` as flat
//! rows.
//!
//! Not here: the project's CSV files (`files`).

use std::collections::{BTreeMap, HashMap};

use roxmltree::{Document, Node};
use sitedesk_core::metadata::design::CLASSIC_EVENT;
use sitedesk_core::metadata::{OdmError, parse_odm};

use super::layout::{DAG, EVENT_NAME, FlatRow, REPEAT_INSTANCE, REPEAT_INSTRUMENT};
use super::{Project, ProjectError};

impl Project {
    /// Reads a REDCap ODM project file, with the records of its
    /// `ClinicalData`.
    pub fn from_odm(text: &str) -> Result<Project, ProjectError> {
        let (dictionary, design) = parse_odm(text)?;
        let info = globals(text);
        let title = info.title.unwrap_or_else(|| "REDCap project".to_owned());
        let mut project = Project::from_parts(&title, dictionary, design);
        project.autonumbering = info.autonumbering;
        project.missing_data_codes = info.missing_data_codes;
        let rows = records(text, &project)?;
        project.set_records("project.xml", rows)?;
        Ok(project)
    }
}

/// What the `project` call tells besides the dictionary.
#[derive(Default)]
struct Globals {
    pub title: Option<String>,
    pub autonumbering: bool,
    pub missing_data_codes: String,
}

fn globals(text: &str) -> Globals {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Ok(doc) = Document::parse(text) else {
        return Globals::default();
    };
    let Some(g) = doc
        .descendants()
        .find(|n| n.has_tag_name("GlobalVariables"))
    else {
        return Globals::default();
    };
    let text_of = |name: &str| {
        g.children()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(|t| t.trim().to_owned())
    };
    Globals {
        title: text_of("StudyName").filter(|t| !t.is_empty()),
        autonumbering: text_of("RecordAutonumberingEnabled").as_deref() == Some("1"),
        missing_data_codes: text_of("MissingDataCodes").unwrap_or_default(),
    }
}

/// A REDCap attribute (`redcap:UniqueEventName`) by its local name.
fn rc<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == name && a.namespace().is_some())
        .map(|a| a.value())
}

/// An attribute's value with its line breaks: XML reads a line break
/// written into an attribute as a space, and REDCap writes values with
/// line breaks as they are, so the value is decoded from the text.
fn value_of(doc: &Document, a: &roxmltree::Attribute) -> String {
    let normalized = a.value();
    let Some(raw) = doc.input_text().get(a.range_value()) else {
        return normalized.to_owned();
    };
    if !raw.contains(['\n', '\r', '\t']) {
        return normalized.to_owned();
    }
    let decoded = decode_entities(&raw.replace("\r\n", "\n").replace('\r', "\n"));
    if decoded.replace(['\n', '\t'], " ") == normalized {
        decoded
    } else {
        normalized.to_owned()
    }
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
                    None => name
                        .strip_prefix('#')
                        .and_then(|d| d.parse().ok())
                        .and_then(char::from_u32),
                },
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Pseudo-fields of the export that are no data column.
const SKIPPED: [&str; 4] = [
    "redcap_survey_identifier",
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
];

fn records(text: &str, project: &Project) -> Result<Vec<FlatRow>, ProjectError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = Document::parse(text).map_err(|e| OdmError::Xml(e.to_string()))?;
    let layout = project.layout();
    let mut form_names: HashMap<&str, String> = HashMap::new();
    for fd in doc.descendants().filter(|n| n.has_tag_name("FormDef")) {
        let Some(oid) = fd.attribute("OID") else {
            continue;
        };
        let name = rc(fd, "FormName")
            .map(str::to_owned)
            .unwrap_or_else(|| oid.strip_prefix("Form.").unwrap_or(oid).to_owned());
        form_names.insert(oid, name);
    }
    let bad = |message: String| ProjectError::Rows {
        file: "project.xml",
        problems: vec![message],
    };
    let mut out = Vec::new();
    for subject in doc.descendants().filter(|n| n.has_tag_name("SubjectData")) {
        let record = subject
            .attribute("SubjectKey")
            .unwrap_or_default()
            .to_owned();
        let mut dag: Option<String> = None;
        // Values by row, in the order rows first appear.
        let mut rows: BTreeMap<(usize, String, u32), Vec<(String, String)>> = BTreeMap::new();
        let mut order: Vec<(usize, String, u32)> = Vec::new();
        let blocks: Vec<(String, u32, Node)> = if layout.longitudinal {
            subject
                .children()
                .filter(|n| n.has_tag_name("StudyEventData"))
                .map(|se| {
                    let event = rc(se, "UniqueEventName")
                        .map(str::to_owned)
                        .or_else(|| {
                            se.attribute("StudyEventOID")
                                .map(|o| o.strip_prefix("Event.").unwrap_or(o).to_owned())
                        })
                        .unwrap_or_default();
                    let repeat = se
                        .attribute("StudyEventRepeatKey")
                        .and_then(|k| k.parse().ok())
                        .unwrap_or(1);
                    (event, repeat, se)
                })
                .collect()
        } else {
            vec![(CLASSIC_EVENT.to_owned(), 1, subject)]
        };
        for (event, event_repeat, block) in blocks {
            if !layout.is_event(&event) {
                return Err(bad(format!("record {record}: unknown event {event}")));
            }
            for fd in block.children().filter(|n| n.has_tag_name("FormData")) {
                let oid = fd.attribute("FormOID").unwrap_or_default();
                let Some(form) = form_names.get(oid) else {
                    return Err(bad(format!("record {record}: unknown form {oid}")));
                };
                let form_repeat = fd
                    .attribute("FormRepeatKey")
                    .and_then(|k| k.parse().ok())
                    .unwrap_or(1);
                let (instrument, instance) = if layout.repeating_form(&event, form) {
                    (form.clone(), form_repeat)
                } else if layout.repeating_event(&event) {
                    (String::new(), event_repeat)
                } else {
                    (String::new(), 0)
                };
                let key = (layout.event_index(&event), instrument.clone(), instance);
                if !rows.contains_key(&key) {
                    order.push(key.clone());
                    let mut row = vec![(layout.record_id().to_owned(), record.clone())];
                    if layout.longitudinal {
                        row.push((EVENT_NAME.to_owned(), event.clone()));
                    }
                    if layout.has_repeating {
                        row.push((REPEAT_INSTRUMENT.to_owned(), instrument.clone()));
                        row.push((
                            REPEAT_INSTANCE.to_owned(),
                            if instance > 0 {
                                instance.to_string()
                            } else {
                                String::new()
                            },
                        ));
                    }
                    rows.insert(key.clone(), row);
                }
                let row = rows.get_mut(&key).expect("inserted above");
                for item in fd.descendants().filter(|n| {
                    n.has_tag_name("ItemData") || n.has_tag_name("ItemDataBase64Binary")
                }) {
                    let name = item.attribute("ItemOID").unwrap_or_default();
                    if name == DAG {
                        dag = item.attribute("Value").map(str::to_owned);
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
                    let value = if item.has_tag_name("ItemDataBase64Binary") {
                        rc(item, "DocName").unwrap_or("[document]").to_owned()
                    } else {
                        item.attributes()
                            .find(|a| a.name() == "Value" && a.namespace().is_none())
                            .map(|a| value_of(&doc, &a))
                            .unwrap_or_default()
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
