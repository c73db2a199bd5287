//! The writing record calls: `record` import and `record` delete, and the
//! loading of a project's own records into a new database.
//!
//! An import is REDCap's: every column must be the project's, every row
//! must place its record, event and instance, every value must pass the
//! checks of `rows`, and a token bound to a data access group may write
//! only its group's records; the user must have the Create Records right
//! to make a record, and the edit right on each form it sends values for,
//! and the form must not be locked for the record at the row's event; one
//! bad value refuses the whole call, with one CSV-quoted line per bad
//! value. Then it is an upsert on (record,
//! event, repeat instrument, instance): a blank leaves the stored value
//! (`overwriteBehavior=normal`) or clears it (`overwrite`); each changed
//! value is logged, with the token's user and the server's local time, so
//! that `log` and `dateRangeBegin` see it. A form that gets a value and
//! has no status gets status `0`, as REDCap sets it. Ids are assigned only
//! with `forceAutoNumber`.
//!
//! Not here: reading (`records`).

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::clock::TIMESTAMP;
use crate::handlers::access::{LOCKED_FORM, NO_CREATE_RIGHT, NO_FORM_EDIT_RIGHT};
use crate::project::Project;
use crate::project::layout::{ColumnKind, FlatRow, RowKey};
use crate::project::rows::{CheckedRow, Mode, Problem, check_row};
use crate::project::validation::DateFormat;
use crate::protocol::{ApiError, ApiUser, Params, Reply, csv_rows, json_rows, to_json};
use crate::rights::FormRight;
use crate::store::{LogEntry, Store, StoreError, Writer};

/// What an import answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReturnContent {
    /// `{"count": n}`: the number of records.
    Count,
    /// `["id", ...]`.
    Ids,
    /// `["new id,id sent", ...]` (with `forceAutoNumber`).
    AutoIds,
}

#[derive(Debug)]
pub(crate) struct ImportRequest {
    pub rows: Vec<FlatRow>,
    /// The order of the dates' parts in `rows` (`dateFormat`).
    pub dates: DateFormat,
    pub overwrite: bool,
    pub return_content: ReturnContent,
    pub force_auto_number: bool,
}

impl ImportRequest {
    /// Reads an import's parameters and its rows.
    pub fn parse(params: &Params) -> Result<ImportRequest, ApiError> {
        if let Some(t) = params.get("type")
            && t != "flat"
        {
            return Err(ApiError::bad_request(
                "This simulated REDCap server imports type=flat only",
            ));
        }
        let dates = match params.get("dateFormat") {
            None => DateFormat::Ymd,
            Some(d) => DateFormat::parse(d).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "The value of the parameter \"dateFormat\" ({d}) is not valid: YMD, MDY or DMY"
                ))
            })?,
        };
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
        let rows = parse_rows(data, params.get("format") == Some("csv"))?;
        Ok(ImportRequest {
            rows,
            dates,
            overwrite,
            return_content,
            force_auto_number,
        })
    }
}

/// Reads an import's `data`: a JSON array of flat rows, or with
/// `format=csv` a header line and a line per row.
fn parse_rows(data: &str, csv: bool) -> Result<Vec<FlatRow>, ApiError> {
    if csv {
        return csv_rows(data).map_err(|e| {
            ApiError::bad_request(format!(
                "The data being imported is not CSV with a header line: {e}"
            ))
        });
    }
    json_rows(data).map_err(|e| {
        ApiError::bad_request(format!(
            "The data being imported is not a JSON array of flat records: {e}"
        ))
    })
}

/// The import error answer: one line per refused value.
fn refused(problems: &[Problem]) -> ApiError {
    ApiError::bad_request(
        problems
            .iter()
            .map(Problem::csv_line)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// What the log's details say about one row's place.
fn place(project: &Project, key: &RowKey) -> String {
    let mut out = String::new();
    if project.layout().longitudinal {
        out.push_str(&format!("[event: {}] ", key.event));
    }
    if !key.instrument.is_empty() {
        out.push_str(&format!("[instrument: {}] ", key.instrument));
    }
    if key.instance > 0 {
        out.push_str(&format!("[instance: {}] ", key.instance));
    }
    out
}

/// Writes one checked row; the details of what changed.
fn apply_row(
    w: &Writer<'_>,
    project: &Project,
    record: &str,
    row: &CheckedRow,
    overwrite: bool,
    mode: Mode,
) -> Result<Vec<String>, StoreError> {
    let layout = project.layout();
    let key = &row.key;
    let existing = w.row(record, key)?;
    let mut details = Vec::new();
    let mut forms_written: Vec<&str> = Vec::new();
    let mut statuses_sent: Vec<&str> = Vec::new();
    for (index, value) in &row.values {
        let column = &layout.columns[*index];
        let stored = existing.get(&column.name);
        match &column.kind {
            ColumnKind::RecordId => {}
            ColumnKind::Checkbox { field, code } => {
                let name = &project.dictionary().fields[*field].name;
                let checked = stored.is_some_and(|v| v == "1");
                let want = match value.as_str() {
                    "" if overwrite => Some(false),
                    "" => None,
                    "1" => Some(true),
                    _ => Some(false),
                };
                if !value.is_empty() {
                    forms_written.push(&column.form);
                }
                match want {
                    Some(true) if !checked => {
                        w.put(record, key, &column.name, "1")?;
                        details.push(format!("{name}({code}) = checked"));
                    }
                    Some(false) if stored.is_some() => {
                        w.remove(record, key, &column.name)?;
                        if checked {
                            details.push(format!("{name}({code}) = unchecked"));
                        }
                    }
                    _ => {}
                }
            }
            kind => {
                if value.is_empty() {
                    if overwrite && stored.is_some() {
                        w.remove(record, key, &column.name)?;
                        details.push(format!("{} = ''", column.name));
                    }
                    continue;
                }
                if *kind == ColumnKind::Complete {
                    statuses_sent.push(&column.form);
                } else {
                    forms_written.push(&column.form);
                }
                if stored != Some(value) {
                    w.put(record, key, &column.name, value)?;
                    details.push(format!("{} = '{}'", column.name, value));
                }
            }
        }
    }
    if mode == Mode::Import {
        for form in forms_written {
            let status = format!("{form}_complete");
            if !statuses_sent.contains(&form)
                && !existing.contains_key(&status)
                && !details
                    .iter()
                    .any(|d| d.starts_with(&format!("{status} =")))
            {
                w.put(record, key, &status, "0")?;
                details.push(format!("{status} = '0'"));
            }
        }
    }
    // A record is in each event it has data in; REDCap keeps the record id
    // in the event's row that does not repeat (or in a repeating event's
    // instance).
    let id_key = if key.instrument.is_empty() {
        key.clone()
    } else {
        RowKey {
            event: key.event.clone(),
            instrument: String::new(),
            instance: 0,
        }
    };
    let id_field = layout.record_id();
    if (id_key == *key && !existing.contains_key(id_field))
        || (id_key != *key && !w.row(record, &id_key)?.contains_key(id_field))
    {
        w.put(record, &id_key, id_field, record)?;
    }
    Ok(details)
}

/// The values of one row that the user may not change: those on a form
/// the user may only view or may not access, and those on a form locked
/// for the record at the row's event. A blank sent without `overwrite`
/// changes nothing and is let through.
fn form_problems(
    w: &Writer<'_>,
    project: &Project,
    user: &ApiUser,
    row: &CheckedRow,
    id: &str,
    overwrite: bool,
) -> Result<Vec<Problem>, StoreError> {
    let layout = project.layout();
    let mut out = Vec::new();
    let mut locked: HashMap<&str, bool> = HashMap::new();
    for (index, value) in &row.values {
        let column = &layout.columns[*index];
        if column.kind == ColumnKind::RecordId || (value.is_empty() && !overwrite) {
            continue;
        }
        let message = if user.rights.form(&column.form) != FormRight::Edit {
            Some(NO_FORM_EDIT_RIGHT)
        } else {
            let is_locked = match locked.get(column.form.as_str()) {
                Some(l) => *l,
                None => {
                    let l = w.locked(id, &row.key.event, &column.form)?;
                    locked.insert(&column.form, l);
                    l
                }
            };
            is_locked.then_some(LOCKED_FORM)
        };
        if let Some(message) = message {
            out.push(Problem {
                record: row.record.clone(),
                field: column.name.clone(),
                value: value.clone(),
                message: message.into(),
            });
        }
    }
    Ok(out)
}

/// A new record id for each distinct id sent with `forceAutoNumber`: the
/// next whole number, or for a token bound to a group, the group's id, a
/// dash and the group's next number (as REDCap numbers them).
fn auto_ids(
    w: &Writer<'_>,
    project: &Project,
    user: &ApiUser,
    sent: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let existing = w.ids()?;
    let prefix = user
        .dag
        .as_deref()
        .and_then(|d| project.dag_id(d))
        .map(|id| format!("{id}-"));
    let mut next = existing
        .iter()
        .filter_map(|id| match &prefix {
            Some(p) => id.strip_prefix(p.as_str())?.parse::<u64>().ok(),
            None => id.parse::<u64>().ok(),
        })
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = HashMap::new();
    for s in sent {
        if !out.contains_key(s) {
            out.insert(
                s.clone(),
                format!("{}{next}", prefix.as_deref().unwrap_or_default()),
            );
            next += 1;
        }
    }
    Ok(out)
}

/// The `record` import.
pub(crate) fn import(
    store: &mut Store,
    project: &Project,
    user: &ApiUser,
    now: NaiveDateTime,
    req: ImportRequest,
) -> Result<Reply, ApiError> {
    let layout = project.layout();
    let mut unknown: Vec<&str> = Vec::new();
    for row in &req.rows {
        for (c, _) in row {
            if !project.knows_column(c, layout.has_dags) && !unknown.contains(&c.as_str()) {
                unknown.push(c);
            }
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "The following fields were not found in the project as real data fields: {}",
            unknown.join(", ")
        )));
    }
    let mut problems = Vec::new();
    let checked: Vec<CheckedRow> = req
        .rows
        .iter()
        .filter_map(|row| check_row(project, row, req.dates, Mode::Import, &mut problems))
        .collect();
    if !problems.is_empty() {
        return Err(refused(&problems));
    }
    let w = store.write()?;
    let sent: Vec<String> = checked.iter().map(|r| r.record.clone()).collect();
    let renamed = if req.force_auto_number {
        auto_ids(&w, project, user, &sent)?
    } else {
        HashMap::new()
    };
    let final_id = |sent: &str| {
        renamed
            .get(sent)
            .cloned()
            .unwrap_or_else(|| sent.to_owned())
    };
    // Who may write which record, and which group a row names.
    let mut order: Vec<String> = Vec::new();
    for row in &checked {
        let id = final_id(&row.record);
        if !order.contains(&id) {
            order.push(id.clone());
            if !user.rights.create && w.record(&id)?.is_none() {
                problems.push(Problem {
                    record: row.record.clone(),
                    field: layout.record_id().to_owned(),
                    value: row.record.clone(),
                    message: NO_CREATE_RIGHT.into(),
                });
            }
            if !req.force_auto_number
                && let Some(own) = &user.dag
                && let Some(existing) = w.record(&id)?
                && existing.dag.as_ref() != Some(own)
            {
                problems.push(Problem {
                    record: row.record.clone(),
                    field: layout.record_id().to_owned(),
                    value: row.record.clone(),
                    message: "This record already exists in another data access group (or in none), which you cannot access".into(),
                });
            }
        }
        problems.extend(form_problems(&w, project, user, row, &id, req.overwrite)?);
        if let Some(dag) = row.dag.as_deref().filter(|d| !d.is_empty()) {
            let message = if project.dag_id(dag).is_none() {
                Some(
                    "This is not the unique name of one of the project's data access groups"
                        .to_owned(),
                )
            } else {
                match &user.dag {
                    Some(own) if own != dag => Some(format!(
                        "You are in data access group {own} and cannot assign a record to another group"
                    )),
                    _ => None,
                }
            };
            if let Some(message) = message {
                problems.push(Problem {
                    record: row.record.clone(),
                    field: crate::project::layout::DAG.to_owned(),
                    value: dag.to_owned(),
                    message,
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(refused(&problems));
    }
    let ts = now.format(TIMESTAMP).to_string();
    for row in &checked {
        let id = final_id(&row.record);
        let mut details = Vec::new();
        let created = match w.record(&id)? {
            None => {
                let dag = user
                    .dag
                    .clone()
                    .or_else(|| row.dag.clone().filter(|d| !d.is_empty()));
                w.create_record(&id, dag.as_deref())?;
                details.push(format!("{} = '{id}'", layout.record_id()));
                if let Some(d) = &dag {
                    details.push(format!("{} = '{d}'", crate::project::layout::DAG));
                }
                true
            }
            Some(existing) => {
                if user.dag.is_none()
                    && let Some(sent) = &row.dag
                {
                    let want = (!sent.is_empty()).then(|| sent.clone());
                    if (want.is_some() || req.overwrite) && want != existing.dag {
                        w.set_dag(&id, want.as_deref())?;
                        details.push(format!(
                            "{} = '{}'",
                            crate::project::layout::DAG,
                            want.as_deref().unwrap_or_default()
                        ));
                    }
                }
                false
            }
        };
        details.extend(apply_row(
            &w,
            project,
            &id,
            row,
            req.overwrite,
            Mode::Import,
        )?);
        if created || !details.is_empty() {
            w.log(&LogEntry {
                ts: ts.clone(),
                username: user.username.clone(),
                kind: if created { "add" } else { "edit" },
                action: format!(
                    "{} record {id} (API)",
                    if created { "Create" } else { "Update" }
                ),
                record: id.clone(),
                details: format!("{}{}", place(project, &row.key), details.join(", ")),
            })?;
        }
    }
    w.commit()?;
    let body = match req.return_content {
        ReturnContent::Count => to_json(&serde_json::json!({ "count": order.len() })),
        ReturnContent::Ids => to_json(&order),
        ReturnContent::AutoIds => {
            let mut pairs: Vec<String> = Vec::new();
            for s in &sent {
                let line = format!("{},{s}", final_id(s));
                if !pairs.contains(&line) {
                    pairs.push(line);
                }
            }
            to_json(&pairs)
        }
    };
    Ok(Reply {
        body,
        rows: req.rows.len(),
    })
}

/// A `record` delete's parameters.
#[derive(Debug, Clone)]
pub(crate) struct DeleteRequest {
    records: Vec<String>,
    instrument: Option<String>,
    event: Option<String>,
    instance: Option<u32>,
}

impl DeleteRequest {
    pub fn parse(params: &Params) -> Result<DeleteRequest, ApiError> {
        let records = params.list("records");
        if records.is_empty() {
            return Err(ApiError::bad_request("The parameter 'records' is missing"));
        }
        if params.get("arm").is_some_and(|a| !a.is_empty()) {
            return Err(ApiError::bad_request(
                "This simulated REDCap server does not delete by arm",
            ));
        }
        let text = |k: &str| {
            params
                .get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let instance = match text("repeat_instance") {
            None => None,
            Some(n) => Some(n.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "The value of the parameter \"repeat_instance\" ({n}) is not valid"
                ))
            })?),
        };
        Ok(DeleteRequest {
            records,
            instrument: text("instrument"),
            event: text("event"),
            instance,
        })
    }
}

/// The `record` delete: whole records, or with `instrument`/`event`/
/// `repeat_instance` one form's data. Answers the number of records.
pub(crate) fn delete(
    store: &mut Store,
    project: &Project,
    user: &ApiUser,
    now: NaiveDateTime,
    req: &DeleteRequest,
) -> Result<Reply, ApiError> {
    let layout = project.layout();
    if let Some(f) = &req.instrument
        && !layout.forms.contains(f)
    {
        return Err(ApiError::bad_request(format!(
            "The value of the parameter \"instrument\" ({f}) is not valid"
        )));
    }
    if let Some(e) = &req.event
        && !(layout.longitudinal && layout.is_event(e))
    {
        return Err(ApiError::bad_request(format!(
            "The value of the parameter \"event\" ({e}) is not valid"
        )));
    }
    let w = store.write()?;
    let mut missing = Vec::new();
    let mut found = Vec::new();
    for id in &req.records {
        match w.record(id)? {
            Some(r) if user.dag.is_none() || r.dag == user.dag => found.push(r),
            _ => missing.push(id.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::bad_request(format!(
            "One or more of the records provided cannot be deleted because they do not exist in the project. The following records do not exist: {}",
            missing.join(", ")
        )));
    }
    let ts = now.format(TIMESTAMP).to_string();
    let mut count = 0;
    for r in found {
        let whole = req.instrument.is_none() && req.event.is_none() && req.instance.is_none();
        let (kind, action, details) = if whole {
            w.delete_record(&r.id)?;
            (
                "delete",
                format!("Delete record {} (API)", r.id),
                format!("{} = '{}'", layout.record_id(), r.id),
            )
        } else {
            let mut removed = 0;
            for (key, field, _) in w.values(&r.id)? {
                let Some((_, column)) = layout.column(&field) else {
                    continue;
                };
                if column.kind == ColumnKind::RecordId
                    || req.instrument.as_ref().is_some_and(|f| *f != column.form)
                    || req.event.as_ref().is_some_and(|e| *e != key.event)
                    || req.instance.is_some_and(|n| n != key.instance)
                {
                    continue;
                }
                w.remove(&r.id, &key, &field)?;
                removed += 1;
            }
            if removed == 0 {
                continue;
            }
            let what = [
                req.instrument.as_ref().map(|f| format!("form {f}")),
                req.event.as_ref().map(|e| format!("event {e}")),
                req.instance.map(|n| format!("instance {n}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            (
                "edit",
                format!("Update record {} (API)", r.id),
                format!("Deleted the data of {what}"),
            )
        };
        count += 1;
        w.log(&LogEntry {
            ts: ts.clone(),
            username: user.username.clone(),
            kind,
            action,
            record: r.id.clone(),
            details,
        })?;
    }
    w.commit()?;
    Ok(Reply {
        body: to_json(&count),
        rows: 0,
    })
}

/// The user the log names for a project's own records.
pub const SEED_USER: &str = "project_setup";

/// Loads the project's own records into a new database, logged as created
/// at `now`.
pub(crate) fn seed(store: &mut Store, project: &Project, now: NaiveDateTime) -> Result<(), String> {
    let w = store.write().map_err(|e| e.to_string())?;
    let ts = now.format(TIMESTAMP).to_string();
    for row in project.records() {
        let mut problems = Vec::new();
        let Some(checked) = check_row(project, row, DateFormat::Ymd, Mode::Seed, &mut problems)
        else {
            return Err(problems
                .iter()
                .map(Problem::csv_line)
                .collect::<Vec<_>>()
                .join("\n"));
        };
        let id = checked.record.clone();
        let existing = w.record(&id).map_err(|e| e.to_string())?;
        if existing.is_none() {
            let dag = checked.dag.clone().filter(|d| !d.is_empty());
            w.create_record(&id, dag.as_deref())
                .map_err(|e| e.to_string())?;
            w.log(&LogEntry {
                ts: ts.clone(),
                username: SEED_USER.into(),
                kind: "add",
                action: format!("Create record {id}"),
                record: id.clone(),
                details: "The project's own data, loaded when the server started".into(),
            })
            .map_err(|e| e.to_string())?;
        }
        apply_row(&w, project, &id, &checked, false, Mode::Seed).map_err(|e| e.to_string())?;
    }
    w.commit().map_err(|e| e.to_string())
}
