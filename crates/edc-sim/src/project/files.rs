//! A project from files: a data dictionary CSV with, optionally,
//! `arm.csv` and `event.csv` (a longitudinal project), an
//! instrument-designation CSV (`arm_num,unique_event_name,form`), and a
//! flat raw export `data.csv`; and [`Project::from_files`], which reads
//! either these or an ODM project file from disk.
//!
//! What the CSV files leave unsaid is read from the data:
//! - which forms an event has, when events come without a designation
//!   file: a form is designated for an event when some row of that event
//!   has a value in one of the form's columns (its status included); an
//!   event without any row gets every form;
//! - repeating forms and events: a row with `redcap_repeat_instrument`
//!   makes its form repeat in its event; a row with only
//!   `redcap_repeat_instance` makes its event repeat;
//! - data access groups: each unique name in `redcap_data_access_group`
//!   becomes a group of that name.
//!
//! Not here: reading the ODM file itself (`odm`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sitedesk_core::metadata::design::{Arm, Dag, Design, Event, FormEvent, Repeating};
use sitedesk_core::metadata::{Dictionary, parse_csv};

use super::layout::{
    ColumnKind, DAG, EVENT_NAME, FlatRow, Layout, REPEAT_INSTANCE, REPEAT_INSTRUMENT,
};
use super::{MetadataRow, Project, ProjectError};

/// The files of a project given as CSV.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvFiles<'a> {
    /// The data dictionary (human headers or the API's column names).
    pub dictionary: &'a [u8],
    /// `arm_num,name`.
    pub arms: Option<&'a [u8]>,
    /// `event_name,arm_num,unique_event_name,custom_event_label,event_id`.
    pub events: Option<&'a [u8]>,
    /// `arm_num,unique_event_name,form`.
    pub mapping: Option<&'a [u8]>,
    /// A flat raw record export.
    pub data: Option<&'a [u8]>,
}

/// Paths of a project's files, for [`Project::from_files`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    /// An ODM `project.xml`, or a data dictionary CSV.
    pub project: PathBuf,
    pub data: Option<PathBuf>,
    pub events: Option<PathBuf>,
    pub arms: Option<PathBuf>,
    pub mapping: Option<PathBuf>,
}

impl Project {
    /// Builds a project from its CSV files (see the module documentation
    /// of `files` for what is read from the data).
    pub fn from_csv(files: CsvFiles<'_>) -> Result<Project, ProjectError> {
        let dictionary = parse_csv(files.dictionary)?;
        let metadata = raw_dictionary(files.dictionary)?;
        let data = files.data.map(|d| read_csv(d, "data.csv")).transpose()?;
        let events = files
            .events
            .map(read_events)
            .transpose()?
            .unwrap_or_default();
        let mut arms = files.arms.map(read_arms).transpose()?.unwrap_or_default();
        if !events.is_empty() && arms.is_empty() {
            for e in &events {
                if !arms.iter().any(|a: &Arm| a.arm_num == e.0.arm_num) {
                    arms.push(Arm {
                        arm_num: e.0.arm_num,
                        name: format!("Arm {}", e.0.arm_num),
                    });
                }
            }
        }
        let longitudinal = !events.is_empty();
        let forms: Vec<String> = dictionary
            .instruments()
            .into_iter()
            .map(|i| i.name)
            .collect();
        let mapping = match files.mapping {
            Some(m) => read_mapping(m)?,
            None if longitudinal => infer_mapping(&dictionary, &events, &forms, data.as_ref()),
            None => Vec::new(),
        };
        let (repeating, dags) = match &data {
            Some(table) => infer_repeating_and_dags(table, longitudinal),
            None => (Vec::new(), Vec::new()),
        };
        // The design goes through the checks of an API import: every
        // reference must resolve against the dictionary and the rest.
        fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
            serde_json::to_string(v).expect("design parts serialize")
        }
        let event_list: Vec<&Event> = events.iter().map(|(e, _)| e).collect();
        let design = Design::from_api(
            &dictionary,
            longitudinal.then(|| json(&arms)).as_deref(),
            longitudinal.then(|| json(&event_list)).as_deref(),
            longitudinal.then(|| json(&mapping)).as_deref(),
            Some(json(&repeating).as_str()),
            Some(json(&dags).as_str()),
        )?;
        let mut project = Project::from_parts("REDCap project", dictionary, design);
        project.metadata = metadata;
        let given_ids: Vec<u32> = events.iter().filter_map(|(_, id)| *id).collect();
        if given_ids.len() == events.len() {
            project.event_ids = given_ids;
        }
        if let Some(table) = data {
            let rows = table.into_rows();
            project.set_records("data.csv", rows)?;
        }
        Ok(project)
    }

    /// Reads a project from files: `project` is an ODM file (`.xml`) or a
    /// data dictionary CSV; `data` replaces the ODM file's records or
    /// gives the CSV project's.
    pub fn from_files(files: &ProjectFiles) -> Result<Project, ProjectError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| ProjectError::Read {
                path: p.to_owned(),
                source,
            })
        };
        let project_bytes = read(&files.project)?;
        let data = files.data.as_deref().map(read).transpose()?;
        let is_xml = files
            .project
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        let mut project = if is_xml {
            let text = String::from_utf8_lossy(&project_bytes);
            let project = Project::from_odm(&text)?;
            match &data {
                Some(d) => project.with_data_csv(d)?,
                None => project,
            }
        } else {
            let arms = files.arms.as_deref().map(read).transpose()?;
            let events = files.events.as_deref().map(read).transpose()?;
            let mapping = files.mapping.as_deref().map(read).transpose()?;
            Project::from_csv(CsvFiles {
                dictionary: &project_bytes,
                arms: arms.as_deref(),
                events: events.as_deref(),
                mapping: mapping.as_deref(),
                data: data.as_deref(),
            })?
        };
        if !is_xml && let Some(stem) = files.project.file_stem() {
            project.title = stem.to_string_lossy().into_owned();
        }
        Ok(project)
    }

    /// Replaces the records with those of a flat raw export.
    pub fn with_data_csv(mut self, data: &[u8]) -> Result<Project, ProjectError> {
        let table = read_csv(data, "data.csv")?;
        self.set_records("data.csv", table.into_rows())?;
        Ok(self)
    }
}

/// A CSV file's header and rows.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn get<'a>(&self, row: &'a [String], column: &str) -> Option<&'a str> {
        self.header
            .iter()
            .position(|h| h == column)
            .map(|i| row[i].as_str())
    }

    fn into_rows(self) -> Vec<FlatRow> {
        let header = self.header;
        self.rows
            .into_iter()
            .map(|r| header.iter().cloned().zip(r).collect())
            .collect()
    }
}

fn read_csv(bytes: &[u8], file: &'static str) -> Result<Table, ProjectError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let err = |e: csv::Error| ProjectError::Csv {
        file,
        message: e.to_string(),
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(err)?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(err)?;
        if record.iter().all(|c| c.is_empty()) {
            continue;
        }
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(Table { header, rows })
}

/// The dictionary's cells as written (the core's parser trims them and
/// normalizes choices; the `metadata` call gives what was uploaded).
pub(crate) fn raw_dictionary(bytes: &[u8]) -> Result<Vec<MetadataRow>, ProjectError> {
    let table = read_csv(bytes, "dictionary")?;
    Ok(table
        .rows
        .into_iter()
        .filter(|r| r.iter().any(|c| !c.trim().is_empty()))
        .map(|r| std::array::from_fn(|i| r.get(i).cloned().unwrap_or_default()))
        .collect())
}

fn csv_error(file: &'static str, message: String) -> ProjectError {
    ProjectError::Csv { file, message }
}

fn read_arms(bytes: &[u8]) -> Result<Vec<Arm>, ProjectError> {
    let t = read_csv(bytes, "arm.csv")?;
    t.rows
        .iter()
        .map(|r| {
            let num = t.get(r, "arm_num").unwrap_or_default();
            Ok(Arm {
                arm_num: num.trim().parse().map_err(|_| {
                    csv_error("arm.csv", format!("arm_num {num:?} is not a number"))
                })?,
                name: t.get(r, "name").unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// Events with their `event_id` when the file has one.
fn read_events(bytes: &[u8]) -> Result<Vec<(Event, Option<u32>)>, ProjectError> {
    let t = read_csv(bytes, "event.csv")?;
    t.rows
        .iter()
        .map(|r| {
            let num = t.get(r, "arm_num").unwrap_or_default();
            let unique = t.get(r, "unique_event_name").unwrap_or_default().trim();
            if unique.is_empty() {
                return Err(csv_error(
                    "event.csv",
                    "an event has no unique_event_name".into(),
                ));
            }
            Ok((
                Event {
                    event_name: t.get(r, "event_name").unwrap_or(unique).to_owned(),
                    arm_num: num.trim().parse().map_err(|_| {
                        csv_error("event.csv", format!("arm_num {num:?} is not a number"))
                    })?,
                    unique_event_name: unique.to_owned(),
                    custom_event_label: t
                        .get(r, "custom_event_label")
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                },
                t.get(r, "event_id").and_then(|id| id.trim().parse().ok()),
            ))
        })
        .collect()
}

fn read_mapping(bytes: &[u8]) -> Result<Vec<FormEvent>, ProjectError> {
    let t = read_csv(bytes, "instrument designation file")?;
    t.rows
        .iter()
        .map(|r| {
            let num = t.get(r, "arm_num").unwrap_or_default();
            Ok(FormEvent {
                arm_num: num.trim().parse().map_err(|_| {
                    csv_error(
                        "instrument designation file",
                        format!("arm_num {num:?} is not a number"),
                    )
                })?,
                unique_event_name: t.get(r, "unique_event_name").unwrap_or_default().to_owned(),
                form: t.get(r, "form").unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// Which forms each event has, read from the data: those with a value in
/// some row of the event; every form for an event without rows.
fn infer_mapping(
    dictionary: &Dictionary,
    events: &[(Event, Option<u32>)],
    forms: &[String],
    data: Option<&Table>,
) -> Vec<FormEvent> {
    let layout = Layout::new(dictionary, &Design::default());
    let mut with_rows: HashSet<&str> = HashSet::new();
    let mut with_data: HashSet<(&str, &str)> = HashSet::new();
    if let Some(t) = data {
        for r in &t.rows {
            let Some(event) = t.get(r, EVENT_NAME) else {
                continue;
            };
            with_rows.insert(event);
            for (h, v) in t.header.iter().zip(r) {
                if let Some((_, c)) = layout.column(h)
                    && c.kind != ColumnKind::RecordId
                    && !v.is_empty()
                {
                    with_data.insert((event, c.form.as_str()));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (e, _) in events {
        for f in forms {
            let event = e.unique_event_name.as_str();
            let designated = !with_rows.contains(event) || with_data.contains(&(event, f.as_str()));
            if designated {
                out.push(FormEvent {
                    arm_num: e.arm_num,
                    unique_event_name: e.unique_event_name.clone(),
                    form: f.clone(),
                });
            }
        }
    }
    out
}

/// Repeating forms and events, and data access groups, read from the data.
fn infer_repeating_and_dags(table: &Table, longitudinal: bool) -> (Vec<Repeating>, Vec<Dag>) {
    let mut repeating: Vec<Repeating> = Vec::new();
    let mut dags: Vec<Dag> = Vec::new();
    for r in &table.rows {
        let event = if longitudinal {
            table.get(r, EVENT_NAME).unwrap_or_default().to_owned()
        } else {
            String::new()
        };
        let instrument = table.get(r, REPEAT_INSTRUMENT).unwrap_or_default().trim();
        let instance = table.get(r, REPEAT_INSTANCE).unwrap_or_default().trim();
        let entry = if !instrument.is_empty() {
            Some(instrument.to_owned())
        } else if !instance.is_empty() {
            Some(String::new())
        } else {
            None
        };
        if let Some(form_name) = entry
            && !repeating
                .iter()
                .any(|x| x.event_name == event && x.form_name == form_name)
        {
            repeating.push(Repeating {
                event_name: event,
                form_name,
                custom_form_label: None,
            });
        }
        if let Some(dag) = table.get(r, DAG).map(str::trim).filter(|d| !d.is_empty())
            && !dags.iter().any(|d| d.unique_group_name == dag)
        {
            dags.push(Dag {
                data_access_group_name: dag.to_owned(),
                unique_group_name: dag.to_owned(),
            });
        }
    }
    (repeating, dags)
}
