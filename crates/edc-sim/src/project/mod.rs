//! A REDCap project as the simulator serves it: the data dictionary and
//! design (read by `sitedesk_core::metadata`, the same parsers the desk
//! uses), the dictionary rows the `metadata` call answers, and the records
//! it starts with.
//!
//! A project comes from one of:
//! - a REDCap ODM project file (`project.xml`): dictionary, design and the
//!   records of its `ClinicalData` (`odm`);
//! - a data dictionary CSV with, optionally, arms, events, instrument
//!   designations and a flat raw export `data.csv`, from which what the
//!   files leave unsaid is read (`files`);
//! - [`Project::demo`]: the desk's demo study with records of one site
//!   (`demo`).
//!
//! A project in development may have its design changed by the API: a new
//! data dictionary or new instrument designations make a new project
//! (`edit`).
//!
//! The records are taken as the file gives them (REDCap exported them),
//! but every value is also checked as an import would be (`rows`): what an
//! import would refuse is listed in [`Project::warnings`]. A row whose
//! record, event or instance cannot be placed, or a column the project
//! lacks, is an error.
//!
//! The files of this folder are layered like the crate: `layout` (the
//! flat-row shape of a project) and `validation` (REDCap's validation
//! types) at the bottom, then this file
//! ([`Project`] and what it answers), then `rows` (checking a row, setting
//! a project's records), then the sources (`odm`, `files`, `demo`), and
//! `edit` (a new dictionary read as `files` reads one) on top; each imports
//! only files below it.
//!
//! Not here: storage (the store) and the API's answers (`handlers`).

use std::path::PathBuf;

use sitedesk_core::i18n::Lang;
use sitedesk_core::metadata::design::{Design, DesignError, format_missing_codes};
use sitedesk_core::metadata::{Dictionary, Field, FieldType, MetadataError, OdmError};

use self::layout::{FlatRow, Layout};

pub(crate) mod demo;
pub(crate) mod edit;
pub(crate) mod files;
pub(crate) mod layout;
mod odm;
pub(crate) mod rows;
#[cfg(test)]
mod tests;
pub(crate) mod validation;

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

/// Where a project is in its life, as REDCap's project status has it.
/// Only in development may the API change its design (data dictionary,
/// instrument designations); production is how a study collects data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProjectStatus {
    Development,
    /// Every source's default: the demo study and real projects' files are
    /// studies that collect data. REDCap's ODM project file does not carry
    /// the status (a project made from one starts in development), so a
    /// file can say nothing otherwise.
    #[default]
    Production,
}

impl ProjectStatus {
    pub fn name(self) -> &'static str {
        match self {
            ProjectStatus::Development => "development",
            ProjectStatus::Production => "production",
        }
    }
}

impl std::fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ProjectStatus {
    type Err = String;

    /// `development` (or `dev`) and `production` (or `prod`), in any case.
    fn from_str(s: &str) -> Result<ProjectStatus, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(ProjectStatus::Development),
            "production" | "prod" => Ok(ProjectStatus::Production),
            other => Err(format!(
                "{other:?} is not a project status: development or production"
            )),
        }
    }
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
    status: ProjectStatus,
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
            missing_data_codes: format_missing_codes(&design.missing_codes),
            status: ProjectStatus::default(),
            records: Vec::new(),
            warnings: Vec::new(),
            layout,
            dictionary,
            design,
        }
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

    /// The project's status (production unless told otherwise).
    pub fn with_status(mut self, status: ProjectStatus) -> Project {
        self.status = status;
        self
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

    pub fn status(&self) -> ProjectStatus {
        self.status
    }

    pub fn autonumbering(&self) -> bool {
        self.autonumbering
    }

    pub fn missing_data_codes(&self) -> &str {
        &self.missing_data_codes
    }

    /// The records the project starts with, as flat rows.
    pub fn records(&self) -> &[FlatRow] {
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
