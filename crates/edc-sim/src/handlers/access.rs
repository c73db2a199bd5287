//! Who may make which call: REDCap's rights checks before a call runs,
//! and REDCap's words when one fails. The checks inside a call (a form
//! the user may not edit, a record the user may not create, a locked
//! form, the data export right's columns) are in `import` and `records`,
//! with their words here.
//!
//! Where REDCap's own server words were found (in public clients' issue
//! threads) they are used as found; where only the API documentation's
//! "Permissions Required" sentence was found, that sentence is the
//! message, as [`crate::NO_DESIGN_RIGHT`] does; each constant says which.
//!
//! Not here: the rights themselves (`rights`).

use crate::protocol::{ApiError, ApiUser};

/// A call without the API Export right. The words of REDCap's API
/// documentation ("To use this method, you must have API Export
/// privileges in the project"), as REDCap answers a token whose user lacks
/// the right; status 403 as for a token that may not use the API.
pub const NO_EXPORT_RIGHT: &str = "You do not have API Export privileges";

/// A writing call without the API Import/Update right; the counterpart of
/// [`NO_EXPORT_RIGHT`] (REDCap's documentation: "you must have API
/// Import/Update privileges in the project"); status 403.
pub const NO_IMPORT_RIGHT: &str = "You do not have API Import/Update privileges";

/// `dag` export, or `exportDataAccessGroups=true` on a record export, by a
/// user without the Data Access Groups right (REDCap 14 and later). The
/// server's words and status 400 as REDCap answers them: reported in
/// vubiostat/redcapAPI issue #365 ("400: ERROR: Insufficient user
/// privileges: You must have 'API Export' privileges and 'Data Access
/// Groups' privileges in the project.") and OuhscBbmc/REDCapR issue #558.
/// Those clients print the body as REDCap sent it for their
/// `returnFormat`; here, as for every error, the message stands alone in
/// `{"error": ...}`.
pub const NO_DAG_RIGHT: &str = "Insufficient user privileges: You must have 'API Export' privileges and 'Data Access Groups' privileges in the project.";

/// `log` export by a user without the Logging right: the API
/// documentation's "Permissions Required" for Export Logging (REDCap 10.8
/// and later); status 400 as for the Data Access Groups right. The
/// server's own words for this one were not found.
pub const NO_LOGGING_RIGHT: &str = "To use this method, you must have API Export privileges *and* Logging privileges in the project.";

/// `record` delete by a user without the Delete Records right: the API
/// documentation's "Permissions Required" for Delete Records; status 400.
/// The server's own words for this one were not found.
pub const NO_DELETE_RIGHT: &str =
    "To use this method, you must have 'Delete Record' user privileges in the project.";

/// A record export by a user whose data export right is "No Access" for
/// every form. REDCap's documentation says only that such an export "will
/// fail and return an error" ("Note about export rights", Export Records);
/// these words are the simulator's; status 403.
pub const NO_DATA_EXPORT_RIGHT: &str = "You do not have data export privileges in this project: your Data Export Rights are 'No Access'.";

/// An import row's error for a record that does not exist, from a user
/// without the Create Records right (one CSV row, as REDCap's import
/// errors). The simulator's words; REDCap's were not found.
pub const NO_CREATE_RIGHT: &str = "This record does not exist, and you do not have privileges to create new records in this project.";

/// An import row's error for a value on a form the user may only view or
/// may not access (one CSV row per value). The simulator's words;
/// REDCap's were not found.
pub const NO_FORM_EDIT_RIGHT: &str = "You do not have data entry privileges to edit this instrument, so this value cannot be imported.";

/// An import row's error for a value on a form that is locked for the
/// record at the row's event (one CSV row per value). The simulator's
/// words after REDCap's data entry page ("This form has been locked");
/// REDCap's import words were not found.
pub const LOCKED_FORM: &str =
    "This form has been locked for this record and event, so its values cannot be changed.";

pub(crate) fn no_export() -> ApiError {
    ApiError {
        status: 403,
        message: NO_EXPORT_RIGHT.to_owned(),
    }
}

pub(crate) fn no_import() -> ApiError {
    ApiError {
        status: 403,
        message: NO_IMPORT_RIGHT.to_owned(),
    }
}

/// What a call needs beyond the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Reads: API Export.
    Export,
    /// `dag`, and a record export with `exportDataAccessGroups` by a user
    /// in no group: API Export and Data Access Groups.
    ExportDags,
    /// `log`: API Export and Logging.
    ExportLogging,
    /// A record export: API Export and a data export right other than
    /// "No Access".
    ExportRecords,
    /// Writes: API Import/Update.
    Import,
    /// `record` delete: API Import/Update and Delete Records.
    Delete,
}

/// Checks `user`'s rights for a call that needs `need`.
pub(crate) fn check(user: &ApiUser, need: Need) -> Result<(), ApiError> {
    let r = &user.rights;
    match need {
        Need::Export | Need::ExportDags | Need::ExportLogging | Need::ExportRecords
            if !r.export =>
        {
            Err(no_export())
        }
        Need::ExportDags if !r.dags => Err(ApiError::bad_request(NO_DAG_RIGHT)),
        Need::ExportLogging if !r.logging => Err(ApiError::bad_request(NO_LOGGING_RIGHT)),
        Need::ExportRecords if r.exports_nothing() => Err(ApiError {
            status: 403,
            message: NO_DATA_EXPORT_RIGHT.to_owned(),
        }),
        Need::Import | Need::Delete if !r.import => Err(no_import()),
        Need::Delete if !r.delete => Err(ApiError::bad_request(NO_DELETE_RIGHT)),
        _ => Ok(()),
    }
}
