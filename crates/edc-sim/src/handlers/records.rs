//! The reading record calls: `record` export (flat rows, with the
//! `records`, `fields`, `forms` and `events` filters, `filterLogic`,
//! `dateRangeBegin`/`dateRangeEnd` over the log, the data access group
//! column, and the user's form and data export rights: columns left out,
//! dates shifted), `log` and `generateNextRecordName`.
//!
//! A row is a record's event (with its repeat instance); it holds the
//! columns of the forms designated for the event (or of its repeating
//! instrument) and leaves the others blank. In a held form a checkbox
//! choice is `"0"` or `"1"`, never blank, and `<form>_complete` is `"0"`
//! when nothing was saved, as REDCap exports them.
//!
//! Not here: writes (`import`).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sitedesk_core::metadata::logic::{self, Expr, FieldRef};
use sitedesk_core::metadata::{Choice, FieldType};

use crate::clock::{LOG_TIMESTAMP, TIMESTAMP, parse_timestamp};
use crate::project::Project;
use crate::project::layout::{
    ColumnKind, DAG, DataColumn, EVENT_NAME, Layout, REPEAT_INSTANCE, REPEAT_INSTRUMENT, RowKey,
    checkbox_column,
};
use crate::protocol::{Answer, ApiError, ApiUser, Ordered, Params, Reply, csv_table, to_json};
use crate::rights::{DataExport, FormRight, Rights};
use crate::store::{LogQuery, RecordQuery, Store};

/// A `record` export's parameters, checked.
#[derive(Debug)]
pub(crate) struct ExportQuery {
    pub records: Vec<String>,
    /// Indices of the layout's columns to export, in order.
    pub columns: Vec<usize>,
    pub events: Vec<String>,
    pub with_dag: bool,
    pub begin: Option<String>,
    pub end: Option<String>,
    pub filter: Option<Expr>,
    /// `exportBlankForGrayFormStatus`: a form status nothing was saved for
    /// is blank, not `0`.
    pub blank_gray_status: bool,
    /// `rawOrLabel=label`: choices, statuses, events, repeating
    /// instruments and groups by their labels.
    pub labels: bool,
    /// `format=csv`: a header line and a line per row.
    pub csv: bool,
    /// `rawOrLabelHeaders=label` (CSV only, as in REDCap): the header
    /// line gives the fields' labels.
    pub label_headers: bool,
}

fn flag(params: &Params, key: &str) -> bool {
    params
        .get(key)
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"))
}

fn timestamp(params: &Params, key: &str) -> Result<Option<String>, ApiError> {
    match params.get(key).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_timestamp(v)
            .map(|t| Some(t.format(TIMESTAMP).to_string()))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "The value of the parameter \"{key}\" ({v}) is not a timestamp: use YYYY-MM-DD HH:MM:SS"
                ))
            }),
    }
}

fn not_valid(param: &str, values: &[String]) -> ApiError {
    ApiError::bad_request(format!(
        "The following values in the parameter \"{param}\" are not valid: {}",
        values.join(", ")
    ))
}

impl ExportQuery {
    pub fn parse(params: &Params, project: &Project) -> Result<ExportQuery, ApiError> {
        let layout = project.layout();
        if let Some(t) = params.get("type")
            && t != "flat"
        {
            return Err(ApiError::bad_request(
                "This simulated REDCap server exports type=flat only",
            ));
        }
        let raw_or_label = |key: &str| match params.get(key).unwrap_or("raw") {
            "raw" => Ok(false),
            "label" => Ok(true),
            other => Err(ApiError::bad_request(format!(
                "The value of the parameter \"{key}\" ({other}) is not valid: raw or label"
            ))),
        };
        let labels = raw_or_label("rawOrLabel")?;
        let csv = params.get("format") == Some("csv");
        let label_headers = raw_or_label("rawOrLabelHeaders")? && csv;
        let fields = params.list("fields");
        let forms = params.list("forms");
        let events = params.list("events");
        let dictionary = project.dictionary();
        let bad: Vec<String> = fields
            .iter()
            .filter(|f| dictionary.field(f).is_none() && layout.column(f).is_none())
            .cloned()
            .collect();
        if !bad.is_empty() {
            return Err(not_valid("fields", &bad));
        }
        let bad: Vec<String> = forms
            .iter()
            .filter(|f| !layout.forms.contains(f))
            .cloned()
            .collect();
        if !bad.is_empty() {
            return Err(not_valid("forms", &bad));
        }
        if !layout.longitudinal && !events.is_empty() {
            return Err(ApiError::bad_request(
                "The parameter \"events\" is only for longitudinal projects",
            ));
        }
        let bad: Vec<String> = events
            .iter()
            .filter(|e| !layout.is_event(e))
            .cloned()
            .collect();
        if !bad.is_empty() {
            return Err(not_valid("events", &bad));
        }
        let all = fields.is_empty() && forms.is_empty();
        let columns = layout
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                all || c.kind == ColumnKind::RecordId
                    || forms.contains(&c.form)
                    || fields.contains(&c.name)
                    || match &c.kind {
                        ColumnKind::Value { field } | ColumnKind::Checkbox { field, .. } => {
                            fields.contains(&dictionary.fields[*field].name)
                        }
                        _ => false,
                    }
            })
            .map(|(i, _)| i)
            .collect();
        let filter = match params.get("filterLogic").map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(logic::parse(text).map_err(|e| {
                ApiError::bad_request(format!("The filterLogic cannot be used: {e:?}"))
            })?),
        };
        Ok(ExportQuery {
            records: params.list("records"),
            columns,
            events,
            with_dag: flag(params, "exportDataAccessGroups"),
            begin: timestamp(params, "dateRangeBegin")?,
            end: timestamp(params, "dateRangeEnd")?,
            filter,
            blank_gray_status: flag(params, "exportBlankForGrayFormStatus"),
            labels,
            csv,
            label_headers,
        })
    }
}

/// A record's stored values by row.
type Rows = BTreeMap<(usize, usize, u32), (RowKey, HashMap<String, String>)>;

/// A record's stored values by row, in export order. A row the project no
/// longer has (an instance of a form that no longer repeats in its event,
/// after a design change) is left out: its values stay stored, hidden.
fn rows_of(layout: &Layout, values: Vec<(RowKey, String, String)>) -> Rows {
    let mut rows: Rows = BTreeMap::new();
    for (key, field, value) in values {
        if !layout.is_event(&key.event)
            || (!key.instrument.is_empty() && !layout.repeating_form(&key.event, &key.instrument))
        {
            continue;
        }
        let order = (
            layout.event_index(&key.event),
            if key.instrument.is_empty() {
                0
            } else {
                layout.form_index(&key.instrument).saturating_add(1)
            },
            key.instance,
        );
        rows.entry(order)
            .or_insert_with(|| (key, HashMap::new()))
            .1
            .insert(field, value);
    }
    rows
}

/// What a row shows in a column.
fn cell(
    layout: &Layout,
    key: &RowKey,
    column: &DataColumn,
    stored: &HashMap<String, String>,
    record: &str,
    blank_gray_status: bool,
) -> String {
    if column.kind == ColumnKind::RecordId {
        return record.to_owned();
    }
    if !layout.holds(key, &column.form) {
        return String::new();
    }
    let value = stored.get(&column.name);
    match column.kind {
        ColumnKind::Checkbox { .. } => {
            if value.is_some_and(|v| v == "1") {
                "1".into()
            } else {
                "0".into()
            }
        }
        ColumnKind::Complete => match value {
            Some(v) => v.clone(),
            None if blank_gray_status => String::new(),
            None => "0".into(),
        },
        _ => value.cloned().unwrap_or_default(),
    }
}

/// A field's value for logic, as REDCap's `filterLogic` reads it: in the
/// row itself, else in the event's row that does not repeat.
fn logic_value(project: &Project, rows: &Rows, key: &RowKey, record: &str, r: &FieldRef) -> String {
    let layout = project.layout();
    let name = match &r.choice {
        Some(code) => checkbox_column(&r.field, code),
        None => r.field.clone(),
    };
    let Some((_, column)) = layout.column(&name) else {
        return String::new();
    };
    let event = r.event.clone().unwrap_or_else(|| key.event.clone());
    let base = RowKey {
        event: event.clone(),
        instrument: String::new(),
        instance: 0,
    };
    let candidates: Vec<&RowKey> = if r.event.is_none() {
        vec![key, &base]
    } else {
        vec![&base]
    };
    for k in candidates {
        if !layout.holds(k, &column.form) {
            continue;
        }
        let stored = rows
            .values()
            .find(|(rk, _)| rk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        return cell(layout, k, column, &stored, record, false);
    }
    String::new()
}

/// What a record export shows of a column, by the user's form and data
/// export rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    AsStored,
    /// Left out of every row, as REDCap removes it (not blanked).
    Dropped,
    /// A date or datetime of a de-identified export: moved back by the
    /// record's shift.
    DateShifted,
}

/// By REDCap's rules: a form the user has no access to is left out; a form
/// whose data export right is "No Access" too; "Remove All Identifier
/// Fields" leaves out the fields marked `identifier = y`; "De-Identified"
/// leaves out those and the free text (text fields without validation,
/// notes) and shifts dates. The record id always stays.
fn shown(project: &Project, rights: &Rights, column: &DataColumn) -> Shown {
    let field = match &column.kind {
        ColumnKind::RecordId => return Shown::AsStored,
        ColumnKind::Value { field } | ColumnKind::Checkbox { field, .. } => {
            Some(&project.dictionary().fields[*field])
        }
        ColumnKind::Complete => None,
    };
    if rights.form(&column.form) == FormRight::None {
        return Shown::Dropped;
    }
    let level = rights.data_export_of(&column.form);
    let Some(field) = field else {
        return if level == DataExport::None {
            Shown::Dropped
        } else {
            Shown::AsStored
        };
    };
    let validation = field.validation.as_deref().unwrap_or("");
    match level {
        DataExport::Full => Shown::AsStored,
        DataExport::None => Shown::Dropped,
        DataExport::NoIdentifiers if field.identifier => Shown::Dropped,
        DataExport::NoIdentifiers => Shown::AsStored,
        DataExport::Deidentified => {
            let free_text = field.field_type == FieldType::Notes
                || (field.field_type == FieldType::Text && validation.is_empty());
            if field.identifier || free_text {
                Shown::Dropped
            } else if field.field_type == FieldType::Text
                && (validation.starts_with("date_") || validation.starts_with("datetime_"))
            {
                Shown::DateShifted
            } else {
                Shown::AsStored
            }
        }
    }
}

/// How many days a de-identified export moves a record's dates back:
/// REDCap shifts each record's dates by its own offset of 0 to 364 days
/// (the "Shift all dates by value between 0 and 364 days" export option).
/// REDCap draws it at random once per record; here it is a hash of the
/// record id (FNV-1a), so the same record always moves by the same days
/// and tests can predict it.
pub fn date_shift_days(record: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in record.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 365) as i64
}

/// A stored date (`YYYY-MM-DD`, with a time after it or not) moved back
/// by `days`; anything else (a blank, a missing-data code) as it is.
pub(crate) fn shift_date(value: &str, days: i64) -> String {
    let (date, rest) = value.split_at(value.len().min(10));
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) => format!(
            "{}{rest}",
            (d - chrono::TimeDelta::days(days)).format("%Y-%m-%d")
        ),
        Err(_) => value.to_owned(),
    }
}

/// The `record` export.
pub(crate) fn export(
    store: &Store,
    project: &Project,
    user: &ApiUser,
    q: &ExportQuery,
) -> Result<Reply, ApiError> {
    let layout = project.layout();
    let records = store.records(&RecordQuery {
        dag: user.dag.clone(),
        changed_from: q.begin.clone(),
        changed_until: q.end.clone(),
        ids: &q.records,
    })?;
    let with_dag = q.with_dag && user.dag.is_none() && layout.has_dags;
    let specials = layout.special_columns(with_dag);
    let shown: Vec<(&DataColumn, Shown)> = q
        .columns
        .iter()
        .map(|&i| &layout.columns[i])
        .map(|c| (c, shown(project, &user.rights, c)))
        .filter(|(_, s)| *s != Shown::Dropped)
        .collect();
    let columns: Vec<&DataColumn> = shown.iter().map(|(c, _)| *c).collect();
    let only_id = columns.len() == 1;
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    for record in records {
        let rows = rows_of(layout, store.values(&record.id)?);
        for (key, stored) in rows.values() {
            if !q.events.is_empty() && !q.events.contains(&key.event) {
                continue;
            }
            if !only_id
                && !columns
                    .iter()
                    .any(|c| c.kind != ColumnKind::RecordId && layout.holds(key, &c.form))
            {
                continue;
            }
            if let Some(expr) = &q.filter {
                let shown = logic::shows(expr, &|r: &FieldRef| {
                    logic_value(project, &rows, key, &record.id, r)
                })
                .map_err(|e| {
                    ApiError::bad_request(format!("The filterLogic cannot be evaluated: {e:?}"))
                })?;
                if !shown {
                    continue;
                }
            }
            let mut row: Vec<(String, String)> = Vec::with_capacity(columns.len() + specials.len());
            for (i, (c, how)) in shown.iter().enumerate() {
                let mut value = cell(layout, key, c, stored, &record.id, q.blank_gray_status);
                if *how == Shown::DateShifted {
                    value = shift_date(&value, date_shift_days(&record.id));
                }
                row.push((c.name.clone(), value));
                if i == 0 {
                    for s in &specials {
                        let v = match *s {
                            EVENT_NAME => key.event.clone(),
                            REPEAT_INSTRUMENT => key.instrument.clone(),
                            REPEAT_INSTANCE if key.instance > 0 => key.instance.to_string(),
                            DAG => record.dag.clone().unwrap_or_default(),
                            _ => String::new(),
                        };
                        row.push(((*s).to_owned(), v));
                    }
                }
            }
            out.push(row);
        }
    }
    let rows = out.len();
    if q.labels {
        for row in &mut out {
            for (name, value) in row.iter_mut() {
                *value = label_of(project, name, value);
            }
        }
    }
    let body = if q.csv {
        let mut header: Vec<String> = Vec::with_capacity(columns.len() + specials.len());
        for (i, c) in columns.iter().enumerate() {
            header.push(c.name.clone());
            if i == 0 {
                header.extend(specials.iter().map(|s| (*s).to_owned()));
            }
        }
        if q.label_headers {
            for h in &mut header {
                *h = header_label(project, h);
            }
        }
        let lines: Vec<Vec<String>> = out
            .into_iter()
            .map(|r| r.into_iter().map(|(_, v)| v).collect())
            .collect();
        Answer::Csv(csv_table(&header, &lines))
    } else {
        let body: Vec<Ordered<String>> = out.iter().map(|r| Ordered(r)).collect();
        to_json(&body)
    };
    Ok(Reply { body, rows })
}

/// A choice's label by its code, if the choices have it.
fn choice_label<'a>(choices: &'a [Choice], code: &str) -> Option<&'a str> {
    choices
        .iter()
        .find(|c| c.code == code)
        .map(|c| c.label.as_str())
}

/// What `rawOrLabel=label` exports for a cell of column `name`, as REDCap
/// writes it: a choice's label, `Yes`/`No`, `True`/`False`, a checked
/// checkbox choice's label and `Unchecked`, a form status's name, the
/// event's name (with its arm when the project has more than one), the
/// repeating instrument's label, the group's name, and a missing-data
/// code's label. Anything else, and a blank, as stored.
fn label_of(project: &Project, name: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let design = project.design();
    let missing = || {
        design
            .missing_codes
            .iter()
            .find(|m| m.code == value)
            .map(|m| m.label.clone())
    };
    let label = match name {
        EVENT_NAME => design
            .events
            .iter()
            .find(|e| e.unique_event_name == value)
            .map(|e| {
                if design.arms.len() > 1 {
                    let arm = design
                        .arms
                        .iter()
                        .find(|a| a.arm_num == e.arm_num)
                        .map(|a| a.name.as_str())
                        .unwrap_or_default();
                    format!("{} (Arm {}: {arm})", e.event_name, e.arm_num)
                } else {
                    e.event_name.clone()
                }
            }),
        REPEAT_INSTRUMENT => Some(design.form_label(value)),
        DAG => design
            .dags
            .iter()
            .find(|g| g.unique_group_name == value)
            .map(|g| g.data_access_group_name.clone()),
        _ => match project.layout().column(name).map(|(_, c)| &c.kind) {
            Some(ColumnKind::Complete) => match value {
                "0" => Some("Incomplete".to_owned()),
                "1" => Some("Unverified".to_owned()),
                "2" => Some("Complete".to_owned()),
                _ => None,
            },
            Some(ColumnKind::Checkbox { field, code }) => {
                let f = &project.dictionary().fields[*field];
                match value {
                    "1" => choice_label(&f.choices, code)
                        .map(str::to_owned)
                        .or_else(|| {
                            design
                                .missing_codes
                                .iter()
                                .find(|m| m.code == *code)
                                .map(|m| m.label.clone())
                        }),
                    _ => Some("Unchecked".to_owned()),
                }
            }
            Some(ColumnKind::Value { field }) => {
                let f = &project.dictionary().fields[*field];
                match f.field_type {
                    FieldType::Dropdown | FieldType::Radio => {
                        choice_label(&f.choices, value).map(str::to_owned)
                    }
                    FieldType::Yesno => match value {
                        "1" => Some("Yes".to_owned()),
                        "0" => Some("No".to_owned()),
                        _ => None,
                    },
                    FieldType::Truefalse => match value {
                        "1" => Some("True".to_owned()),
                        "0" => Some("False".to_owned()),
                        _ => None,
                    },
                    _ => None,
                }
                .or_else(missing)
            }
            Some(ColumnKind::RecordId) | None => None,
        },
    };
    label.unwrap_or_else(|| value.to_owned())
}

/// A CSV header as `rawOrLabelHeaders=label` gives it: the field's label
/// (a checkbox choice's `Label (choice=Choice label)`), `Complete?` for a
/// form status, and REDCap's words for its own columns.
fn header_label(project: &Project, name: &str) -> String {
    match name {
        EVENT_NAME => return "Event Name".to_owned(),
        REPEAT_INSTRUMENT => return "Repeat Instrument".to_owned(),
        REPEAT_INSTANCE => return "Repeat Instance".to_owned(),
        DAG => return "Data Access Group".to_owned(),
        _ => {}
    }
    let dictionary = project.dictionary();
    match project.layout().column(name).map(|(_, c)| &c.kind) {
        Some(ColumnKind::Complete) => "Complete?".to_owned(),
        Some(ColumnKind::Checkbox { field, code }) => {
            let f = &dictionary.fields[*field];
            let choice = choice_label(&f.choices, code)
                .map(str::to_owned)
                .or_else(|| {
                    project
                        .design()
                        .missing_codes
                        .iter()
                        .find(|m| m.code == *code)
                        .map(|m| m.label.clone())
                })
                .unwrap_or_else(|| code.clone());
            format!("{} (choice={choice})", f.label)
        }
        Some(ColumnKind::Value { field }) => dictionary.fields[*field].label.clone(),
        Some(ColumnKind::RecordId) => dictionary.fields[0].label.clone(),
        None => name.to_owned(),
    }
}

/// A `log` call's parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogParams {
    /// `None`: every record entry; `Some(None)`: a log type with no
    /// record entries (the answer is empty).
    kind: Option<Option<&'static str>>,
    user: Option<String>,
    record: Option<String>,
    dag: Option<String>,
    begin: Option<String>,
    end: Option<String>,
}

impl LogParams {
    pub fn parse(params: &Params) -> Result<LogParams, ApiError> {
        let kind = match params.get("logtype").map(str::trim).unwrap_or("") {
            "" | "record" => None,
            "record_add" => Some(Some("add")),
            "record_edit" => Some(Some("edit")),
            "record_delete" => Some(Some("delete")),
            "export" | "manage" | "user" | "lock_record" | "page_view" => Some(None),
            other => {
                return Err(ApiError::bad_request(format!(
                    "The value of the parameter \"logtype\" ({other}) is not valid"
                )));
            }
        };
        let text = |k: &str| {
            params
                .get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(LogParams {
            kind,
            user: text("user"),
            record: text("record"),
            dag: text("dag"),
            begin: timestamp(params, "beginTime")?,
            end: timestamp(params, "endTime")?,
        })
    }
}

#[derive(Serialize)]
struct LogOut {
    timestamp: String,
    username: String,
    action: String,
    details: String,
}

/// A stored stamp (`YYYY-MM-DD HH:MM:SS`) as the log export gives it, to
/// the minute.
fn to_the_minute(ts: &str) -> String {
    parse_timestamp(ts)
        .map(|t| t.format(LOG_TIMESTAMP).to_string())
        .unwrap_or_else(|| ts.to_owned())
}

/// The `log` call: record edits, newest first, each stamped to the minute
/// (as REDCap's log export gives them); a token bound to a group
/// sees its group's entries only.
pub(crate) fn log(store: &Store, user: &ApiUser, q: &LogParams) -> Result<Reply, ApiError> {
    if q.kind == Some(None) {
        return Ok(Reply {
            body: to_json::<[LogOut]>(&[]),
            rows: 0,
        });
    }
    let entries = store.log(&LogQuery {
        dag: user.dag.clone().or_else(|| q.dag.clone()),
        record: q.record.clone(),
        user: q.user.clone(),
        kind: q.kind.flatten(),
        begin: q.begin.clone(),
        end: q.end.clone(),
    })?;
    let out: Vec<LogOut> = entries
        .into_iter()
        .map(|e| LogOut {
            timestamp: to_the_minute(&e.ts),
            username: e.username,
            action: e.action,
            details: e.details,
        })
        .collect();
    Ok(Reply {
        body: to_json(&out),
        rows: 0,
    })
}

/// `generateNextRecordName`, by REDCap's rule: one more than the largest
/// numeric record name; for a user in a data access group, names are
/// `<group id>-<n>` and `n` counts within the group's prefix. REDCap
/// answers this way whether or not autonumbering is on, and creates
/// nothing: a client learns its token's group from the prefix.
pub(crate) fn next_record_name(
    store: &Store,
    project: &Project,
    user: &ApiUser,
) -> Result<Reply, ApiError> {
    let prefix = match &user.dag {
        Some(dag) => format!("{}-", project.dag_id(dag).unwrap_or(0)),
        None => String::new(),
    };
    // Every record of the project counts, seen by the user or not: the
    // name must not collide with one in another group.
    let records = store.records(&RecordQuery::default())?;
    let last = records
        .iter()
        .filter_map(|r| r.id.strip_prefix(prefix.as_str()))
        .filter_map(|n| n.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    Ok(Reply {
        body: crate::protocol::Answer::Text(format!("{prefix}{}", last + 1)),
        rows: 0,
    })
}
