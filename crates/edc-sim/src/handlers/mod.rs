//! The API's calls: which call a request's parameters make ([`Call`]),
//! and running it. A call that reads only the project is answered at once
//! (`meta`); a call that changes the project's design makes a new project
//! (`design`); a record call becomes a [`Job`] that runs on the store
//! thread (`records` reads, `import` writes). Each call's parameters are
//! checked by the module that answers it.
//!
//! The files below this one import nothing of it: `meta`, `design`,
//! `records` and `import` stand beside each other on the protocol, the
//! project and the store, and `access` (the rights a call needs, and
//! REDCap's words for a refusal) below them: [`authorize`] checks a call
//! before it runs, `import` and `records` take its words for the checks
//! inside a call.
//!
//! Not here: the parameters and the error shape (`protocol`), tokens and
//! faults (`server`), SQL (`store`).

use crate::faults::Action;
use crate::project::Project;
use crate::protocol::{ApiError, ApiUser, Params, Reply};
use crate::store::Store;

use self::access::Need;
use self::design::{DesignImport, Target};
use self::import::{DeleteRequest, ImportRequest};
use self::meta::Meta;
use self::records::{ExportQuery, LogParams};

pub(crate) mod access;
pub(crate) mod design;
pub(crate) mod import;
pub(crate) mod meta;
pub(crate) mod records;
#[cfg(test)]
mod tests;

/// A call the store thread runs.
#[derive(Debug)]
pub(crate) enum Job {
    Export(ExportQuery),
    Import(ImportRequest),
    Delete(DeleteRequest),
    Log(LogParams),
    /// `generateNextRecordName`: the next record name this user would
    /// create, prefixed with the group's id for a user in a group.
    NextRecordName,
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
        Job::Export(q) => records::export(store, project, user, &q),
        Job::Log(q) => records::log(store, user, &q),
        Job::Import(r) => import::import(store, project, user, now, r),
        Job::Delete(r) => import::delete(store, project, user, now, &r),
        Job::NextRecordName => records::next_record_name(store, project, user),
    }
}

#[derive(Debug)]
pub(crate) enum Call {
    Meta(Meta),
    /// Changes the project's design: the caller runs it against the
    /// project in force and puts the project it makes in force.
    Design(DesignImport),
    Job(Job),
}

/// Whether a request imports, deletes or reads, as fault conditions and
/// statistics see it (before the call is checked). As REDCap decides it,
/// a call that sends `data` imports (`version` aside).
pub(crate) fn action_of(params: &Params) -> Action {
    match (params.get("content"), params.get("action")) {
        (_, Some("delete")) => Action::Delete,
        (_, Some("import")) => Action::Import,
        (Some(content), _) if content != "version" && params.get("data").is_some() => {
            Action::Import
        }
        _ => Action::Export,
    }
}

/// Checks that `user` has the rights `call` needs (REDCap checks them
/// before it reads anything). A design import checks its own, after the
/// project's status, as REDCap does.
pub(crate) fn authorize(call: &Call, user: &ApiUser) -> Result<(), ApiError> {
    let need = match call {
        Call::Design(_) => return Ok(()),
        Call::Meta(Meta::Dag) => Need::ExportDags,
        Call::Meta(_) | Call::Job(Job::NextRecordName) => Need::Export,
        Call::Job(Job::Log(_)) => Need::ExportLogging,
        Call::Job(Job::Export(q)) => {
            // A user in a group has `exportDataAccessGroups` ignored, so
            // it asks nothing of the right.
            if q.with_dag && user.dag.is_none() {
                access::check(user, Need::ExportDags)?;
            }
            Need::ExportRecords
        }
        Call::Job(Job::Import(_)) => Need::Import,
        Call::Job(Job::Delete(_)) => Need::Delete,
    };
    access::check(user, need)
}

/// Reads which call a request makes; the token has been checked.
pub(crate) fn parse_call(params: &Params, project: &Project) -> Result<Call, ApiError> {
    let content = params
        .get("content")
        .ok_or_else(|| ApiError::bad_request("The parameter 'content' is missing"))?;
    let action = params.get("action").unwrap_or("export");
    // A design import sends `data`, whatever its `action` says (REDCap
    // decides so); it may come in CSV, as clients in R send it.
    let design = match content {
        "metadata" => Some(Target::Metadata),
        "formEventMapping" => Some(Target::Mapping),
        _ => None,
    }
    .filter(|_| params.get("data").is_some() && matches!(action, "export" | "import"));
    if content != "version" {
        check_format(params.get("format"), "format")?;
    }
    if let Some(rf) = params.get("returnFormat") {
        check_format(Some(rf), "returnFormat")?;
    }
    if let Some(target) = design {
        return Ok(Call::Design(DesignImport::parse(target, params)?));
    }
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
        ("generateNextRecordName", "export") => Ok(Call::Job(Job::NextRecordName)),
        ("record", "delete") => Ok(Call::Job(Job::Delete(DeleteRequest::parse(params)?))),
        ("record", "import") => Ok(Call::Job(Job::Import(ImportRequest::parse(params)?))),
        ("record", "export") if params.get("data").is_some() => {
            Ok(Call::Job(Job::Import(ImportRequest::parse(params)?)))
        }
        ("record", "export") => Ok(Call::Job(Job::Export(ExportQuery::parse(params, project)?))),
        ("metadata" | "formEventMapping", "import") => {
            Err(ApiError::bad_request("The parameter 'data' is missing"))
        }
        (c, a) if SIMULATED.iter().any(|(sc, _)| *sc == c) => Err(ApiError::bad_request(format!(
            "The action '{a}' of content '{c}' is not simulated by edc-sim"
        ))),
        (c, _) => Err(ApiError::bad_request(format!(
            "The content '{c}' is not simulated by edc-sim"
        ))),
    }
}

/// The calls the simulator answers: `content` and its `action`s (a design
/// import is `metadata` or `formEventMapping` with `data`). Any other
/// content or action is refused as not simulated, never guessed at.
pub(crate) const SIMULATED: &[(&str, &[&str])] = &[
    ("version", &["export"]),
    ("project", &["export"]),
    ("metadata", &["export", "import"]),
    ("instrument", &["export"]),
    ("arm", &["export"]),
    ("event", &["export"]),
    ("formEventMapping", &["export", "import"]),
    ("repeatingFormsEvents", &["export"]),
    ("dag", &["export"]),
    ("exportFieldNames", &["export"]),
    ("log", &["export"]),
    ("generateNextRecordName", &["export"]),
    ("record", &["export", "import", "delete"]),
];

/// Checks `format` or `returnFormat`: JSON or CSV. REDCap's XML (its
/// default when the parameter is missing) and ODM are not simulated.
fn check_format(value: Option<&str>, param: &str) -> Result<(), ApiError> {
    match value {
        Some("json" | "csv") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "The {param} '{other}' is not simulated by edc-sim: send {param}=json or {param}=csv"
        ))),
        None => Err(ApiError::bad_request(format!(
            "The parameter '{param}' is missing; REDCap would answer XML, which is not simulated by edc-sim: send {param}=json or {param}=csv"
        ))),
    }
}
