//! A REDCap project as the simulator serves it: the data dictionary and
//! design (read by `sitedesk_core::metadata`, the same parsers the desk
//! uses) and the records it starts with.
//!
//! A project comes from one of:
//! - a REDCap ODM project file (`project.xml`): dictionary, design and the
//!   records of its `ClinicalData`;
//! - a data dictionary CSV with, optionally, `arm.csv` and `event.csv`
//!   (a longitudinal project), an instrument-designation CSV
//!   (`arm_num,unique_event_name,form`), and a flat raw export
//!   `data.csv`. What these files leave unsaid is read from the data:
//!   * which forms an event has, when events come without a designation
//!     file: a form is designated for an event when some row of that event
//!     has a value in one of the form's columns (its status included); an
//!     event without any row gets every form;
//!   * repeating forms and events: a row with `redcap_repeat_instrument`
//!     makes its form repeat in its event; a row with only
//!     `redcap_repeat_instance` makes its event repeat;
//!   * data access groups: each unique name in `redcap_data_access_group`
//!     becomes a group of that name;
//! - [`Project::demo`]: the desk's demo study with records of one site.
//!
//! The records are taken as the file gives them (REDCap exported them),
//! but every value is also checked as an import would be: what an import
//! would refuse is listed in [`Project::warnings`]. A row whose record,
//! event or instance cannot be placed, or a column the project lacks, is
//! an error.
//!
//! Not here: storage (the store) and the API's answers (`api`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use sitedesk_core::i18n::Lang;
use sitedesk_core::metadata::design::{
    Arm, CLASSIC_EVENT, Dag, Design, DesignError, Event, FormEvent, Repeating,
};
use sitedesk_core::metadata::{
    Dictionary, Field, FieldType, MetadataError, OdmError, parse_csv, parse_odm,
};

use crate::clock::Clock;
use crate::layout::{ColumnKind, DAG, EVENT_NAME, Layout, REPEAT_INSTANCE, REPEAT_INSTRUMENT};
use crate::rows::{FlatRow, Mode, Problem, check_row};

#[cfg(test)]
mod tests;

/// The API's data dictionary columns, in order.
pub const METADATA_COLUMNS: [&str; 18] = [
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
];

/// One data dictionary row, in [`METADATA_COLUMNS`] order.
pub type MetadataRow = [String; 18];

/// Why a project cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{}", .0.message(Lang::EN))]
    Odm(#[from] OdmError),
    #[error("{}", .0.message(Lang::EN))]
    Dictionary(#[from] MetadataError),
    #[error("{}", .0.message(Lang::EN))]
    Design(#[from] DesignError),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Csv { file: &'static str, message: String },
    #[error("{file}: columns the project does not have: {}", .columns.join(", "))]
    UnknownColumns {
        file: &'static str,
        columns: Vec<String>,
    },
    #[error("{file}: rows that cannot be placed:\n{}", .problems.join("\n"))]
    Rows {
        file: &'static str,
        problems: Vec<String>,
    },
}

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

/// A project: what the API's metadata calls describe and the records it
/// starts with.
#[derive(Debug, Clone)]
pub struct Project {
    title: String,
    dictionary: Dictionary,
    design: Design,
    metadata: Vec<MetadataRow>,
    /// `event_id` of each of `design.events`.
    event_ids: Vec<u32>,
    /// `data_access_group_id` of each of `design.dags`.
    dag_ids: Vec<u32>,
    autonumbering: bool,
    missing_data_codes: String,
    records: Vec<FlatRow>,
    warnings: Vec<String>,
    layout: Layout,
}

impl Project {
    pub(crate) fn from_parts(title: &str, dictionary: Dictionary, design: Design) -> Project {
        let metadata = dictionary.fields.iter().map(metadata_row).collect();
        let layout = Layout::new(&dictionary, &design);
        Project {
            title: title.to_owned(),
            event_ids: (1..).take(design.events.len()).collect(),
            dag_ids: (1..).take(design.dags.len()).collect(),
            metadata,
            autonumbering: false,
            missing_data_codes: String::new(),
            records: Vec::new(),
            warnings: Vec::new(),
            layout,
            dictionary,
            design,
        }
    }

    /// Reads a REDCap ODM project file, with the records of its
    /// `ClinicalData`.
    pub fn from_odm(text: &str) -> Result<Project, ProjectError> {
        let (dictionary, design) = parse_odm(text)?;
        let info = odm::globals(text);
        let title = info.title.unwrap_or_else(|| "REDCap project".to_owned());
        let mut project = Project::from_parts(&title, dictionary, design);
        project.autonumbering = info.autonumbering;
        project.missing_data_codes = info.missing_data_codes;
        let rows = odm::records(text, &project)?;
        project.set_records("project.xml", rows)?;
        Ok(project)
    }

    /// Builds a project from its CSV files (see the module documentation
    /// for what is read from the data).
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

    /// The desk's demo study (`sitedesk_core::forms::demo_forms`) with its
    /// two sites and a few records entered at Hillview Hospital, so that a
    /// new desk has something to sync at once.
    pub fn demo() -> Project {
        crate::demo::project()
    }

    /// Replaces the records with those of a flat raw export.
    pub fn with_data_csv(mut self, data: &[u8]) -> Result<Project, ProjectError> {
        let table = read_csv(data, "data.csv")?;
        self.set_records("data.csv", table.into_rows())?;
        Ok(self)
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Project {
        self.title = title.into();
        self
    }

    /// Whether `forceAutoNumber` is the project's way (the `project`
    /// call's `record_autonumbering_enabled`).
    pub fn with_autonumbering(mut self, on: bool) -> Project {
        self.autonumbering = on;
        self
    }

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
        let now = Clock::Local.now();
        let mut fatal = Vec::new();
        let mut warnings = Vec::new();
        for row in &rows {
            let mut problems = Vec::new();
            let checked = check_row(self, row, now, Mode::Seed, &mut problems);
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

    /// Whether an import or data file may name column `name`.
    pub(crate) fn knows_column(&self, name: &str, with_dag: bool) -> bool {
        self.layout.column(name).is_some() || self.layout.special_columns(with_dag).contains(&name)
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn dictionary(&self) -> &Dictionary {
        &self.dictionary
    }

    pub fn design(&self) -> &Design {
        &self.design
    }

    /// The data dictionary as the `metadata` call answers it: as a
    /// dictionary CSV gave it, or as REDCap writes the fields of an ODM
    /// file (choices `1, One | 2, Two`).
    pub fn metadata(&self) -> &[MetadataRow] {
        &self.metadata
    }

    pub fn autonumbering(&self) -> bool {
        self.autonumbering
    }

    pub fn missing_data_codes(&self) -> &str {
        &self.missing_data_codes
    }

    /// The records the project starts with, as flat rows.
    pub fn records(&self) -> &[Vec<(String, String)>] {
        &self.records
    }

    /// Values of the project's own data that an import would refuse, as
    /// import error lines (`"record","field","value","message"`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn event_id(&self, index: usize) -> u32 {
        self.event_ids[index]
    }

    pub fn dag_id(&self, unique_group_name: &str) -> Option<u32> {
        self.design
            .dags
            .iter()
            .position(|d| d.unique_group_name == unique_group_name)
            .map(|i| self.dag_ids[i])
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }
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

/// The `field_type` column's word for a type.
pub(crate) fn type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Text => "text",
        FieldType::Notes => "notes",
        FieldType::Dropdown => "dropdown",
        FieldType::Radio => "radio",
        FieldType::Checkbox => "checkbox",
        FieldType::Yesno => "yesno",
        FieldType::Truefalse => "truefalse",
        FieldType::Calc => "calc",
        FieldType::Slider => "slider",
        FieldType::Descriptive => "descriptive",
        FieldType::File => "file",
        FieldType::Sql => "sql",
    }
}

/// A field as a row of the API's data dictionary.
pub(crate) fn metadata_row(f: &Field) -> MetadataRow {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let flag = |b: bool| if b { "y".to_owned() } else { String::new() };
    let choices = if f.field_type.has_choices() {
        f.choices
            .iter()
            .map(|c| format!("{}, {}", c.code, c.label))
            .collect::<Vec<_>>()
            .join(" | ")
    } else {
        opt(&f.choices_text)
    };
    [
        f.name.clone(),
        f.form.clone(),
        opt(&f.section_header),
        type_name(f.field_type).to_owned(),
        f.label.clone(),
        choices,
        opt(&f.note),
        opt(&f.validation),
        opt(&f.min),
        opt(&f.max),
        flag(f.identifier),
        opt(&f.branching_logic),
        flag(f.required),
        opt(&f.custom_alignment),
        opt(&f.question_number),
        opt(&f.matrix_group),
        flag(f.matrix_ranking),
        opt(&f.annotation),
    ]
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
fn raw_dictionary(bytes: &[u8]) -> Result<Vec<MetadataRow>, ProjectError> {
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

/// The records of an ODM file's `ClinicalData`, as flat rows.
mod odm {
    use super::*;
    use roxmltree::{Document, Node};

    /// What the `project` call tells besides the dictionary.
    #[derive(Default)]
    pub(super) struct Globals {
        pub title: Option<String>,
        pub autonumbering: bool,
        pub missing_data_codes: String,
    }

    pub(super) fn globals(text: &str) -> Globals {
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

    pub(super) fn records(text: &str, project: &Project) -> Result<Vec<FlatRow>, ProjectError> {
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
}
