//! The calls that change the project's design: `metadata` import (a new
//! data dictionary in place of the old) and `formEventMapping` import (new
//! instrument designations in place of the old), with `data` in JSON or
//! CSV. Each is REDCap's `API/metadata/import.php` and
//! `API/formEventMapping/import.php`: refused unless the project is in
//! development, then refused to a user without the Project Design and
//! Setup right (both with status 400, as REDCap answers them), then the
//! rows are checked (every problem one line of a 400's message) and the
//! answer is the number of fields, or of designations, now in force: a
//! bare number.
//!
//! What a new dictionary or mapping does to the project is `project::edit`;
//! this module answers whether and how. The caller puts the new project in
//! force.
//!
//! Not here: the records (a design change leaves the store alone).

use crate::project::edit::EditError;
use crate::project::{Project, ProjectStatus};
use crate::protocol::{Answer, ApiError, ApiUser, Params, csv_rows, json_rows};

/// REDCap's answer to a design change in a project that is not in
/// development (the API documentation's words for these methods).
pub const NOT_IN_DEVELOPMENT: &str = "Because of this method's destructive nature, it is only available for use for projects in Development status.";

/// REDCap's answer to a design change by a user without the right (the
/// API documentation's words for these methods).
pub const NO_DESIGN_RIGHT: &str = "To use this method, you must have API Import/Update privileges *and* Project Design/Setup privileges in the project.";

/// What a design import changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `content=metadata`: the data dictionary.
    Metadata,
    /// `content=formEventMapping`: the instrument designations.
    Mapping,
}

/// A design import's parameters.
#[derive(Debug, Clone)]
pub(crate) struct DesignImport {
    pub target: Target,
    pub data: String,
    /// `format=csv`: `data` is CSV with a header line, and the count comes
    /// back as text (REDCap answers in the request's format).
    pub csv: bool,
}

impl DesignImport {
    /// Reads the parameters; `format` (json or csv) has been checked.
    pub fn parse(target: Target, params: &Params) -> Result<DesignImport, ApiError> {
        let data = params
            .get("data")
            .ok_or_else(|| ApiError::bad_request("The parameter 'data' is missing"))?;
        Ok(DesignImport {
            target,
            data: data.to_owned(),
            csv: params.get("format") == Some("csv"),
        })
    }
}

/// Runs a design import against `project`: the project it makes and the
/// answer.
pub(crate) fn import_design(
    project: &Project,
    user: &ApiUser,
    call: &DesignImport,
) -> Result<(Project, Answer), ApiError> {
    if project.status() != ProjectStatus::Development {
        return Err(ApiError::bad_request(NOT_IN_DEVELOPMENT));
    }
    if !(user.rights.design && user.rights.import) {
        return Err(ApiError::bad_request(NO_DESIGN_RIGHT));
    }
    let refused = |e: EditError| ApiError::bad_request(e.message());
    let (next, count) = match call.target {
        Target::Metadata => {
            let next = if call.csv {
                project.with_dictionary_csv(&call.data)
            } else {
                project.with_dictionary_json(&call.data)
            }
            .map_err(refused)?;
            let count = next.dictionary().fields.len();
            (next, count)
        }
        Target::Mapping => {
            let rows = if call.csv {
                csv_rows(&call.data).map_err(|e| e.to_string())
            } else {
                json_rows(&call.data).map_err(|e| e.to_string())
            }
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "The data being imported cannot be read as {}: {e}",
                    if call.csv { "CSV" } else { "a JSON array" }
                ))
            })?;
            project.with_mapping(&rows).map_err(refused)?
        }
    };
    let answer = if call.csv {
        Answer::Text(count.to_string())
    } else {
        Answer::Json(count.to_string())
    };
    Ok((next, answer))
}
