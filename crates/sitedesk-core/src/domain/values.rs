//! Case report form values of a record: what an edit of them may look like
//! and which fields it changes. Which fields exist and what values they
//! accept is the study metadata's job; this module only keeps every edit
//! well-formed, and makes a reason mandatory when a saved value changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::screening::{REASON_MAX_CHARS, check_reason};
use super::{Change, DomainError, Field};

/// Longest record id, event name or field name. REDCap's own limit for
/// variable names is 100 characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest value: REDCap's notes fields hold up to 64 KB.
pub const VALUE_MAX_CHARS: usize = 65_535;

/// New values for some fields of one record at one event and instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RecordEdit {
    pub record_id: String,
    /// The unique event name (`baseline_arm_1`).
    pub event: String,
    /// The repeat instance, 1 for a form that does not repeat.
    pub instance: u32,
    /// Field name to new value; `None` or empty text clears the field.
    pub values: BTreeMap<String, Option<String>>,
    /// Required when a saved value changes or is cleared.
    #[serde(default)]
    pub reason: Option<String>,
    /// Fields the desk computes rather than a person types (calculations,
    /// the form status): they change without a reason, still audited.
    #[serde(default)]
    pub computed: Vec<String>,
}

fn is_name(s: &str, first_letter: bool) -> bool {
    let mut chars = s.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || (!first_letter && c.is_ascii_digit()));
    ok_first && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks the shape of an edit: names, sizes, instance.
pub fn check_record_edit(edit: &RecordEdit) -> Result<(), DomainError> {
    let id = edit.record_id.trim();
    if id.is_empty() {
        return Err(DomainError::Required {
            field: Field::RecordId,
        });
    }
    if id.chars().count() > NAME_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: Field::RecordId,
            max: NAME_MAX_CHARS,
        });
    }
    if id.chars().any(char::is_control) {
        return Err(DomainError::InvalidName {
            field: Field::RecordId,
        });
    }
    if edit.event.len() > NAME_MAX_CHARS || !is_name(&edit.event, false) {
        return Err(DomainError::InvalidName {
            field: Field::Event,
        });
    }
    if edit.instance == 0 {
        return Err(DomainError::InvalidName {
            field: Field::Instance,
        });
    }
    for (name, value) in &edit.values {
        if name.len() > NAME_MAX_CHARS || !is_name(name, true) {
            return Err(DomainError::InvalidName {
                field: Field::FieldName,
            });
        }
        if value
            .as_deref()
            .is_some_and(|v| v.chars().count() > VALUE_MAX_CHARS)
        {
            return Err(DomainError::TooLong {
                field: Field::Value,
                max: VALUE_MAX_CHARS,
            });
        }
    }
    if let Some(r) = &edit.reason {
        if r.chars().count() > REASON_MAX_CHARS {
            return Err(DomainError::TooLong {
                field: Field::Reason,
                max: REASON_MAX_CHARS,
            });
        }
        super::check_plain_text(Field::Reason, r)?;
    }
    Ok(())
}

/// The fields an edit changes, given the values saved now (`current`, by
/// field name). Unchanged fields are left out; empty text is no value.
/// Changing or clearing a saved value without a reason is refused. Returns
/// the changes and the trimmed reason.
pub fn plan_record_edit(
    current: &BTreeMap<String, String>,
    edit: &RecordEdit,
) -> Result<(Vec<Change>, Option<String>), DomainError> {
    check_record_edit(edit)?;
    let reason = match edit.reason.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => Some(check_reason(r)?),
        _ => None,
    };
    let mut changes = Vec::new();
    for (field, value) in &edit.values {
        let new = value.as_deref().filter(|v| !v.is_empty());
        let old = current.get(field).map(String::as_str);
        if old == new {
            continue;
        }
        if old.is_some() && reason.is_none() && !edit.computed.contains(field) {
            return Err(DomainError::ValueReasonRequired {
                field: field.clone(),
            });
        }
        changes.push(Change {
            field: field.clone(),
            old: old.map(str::to_owned),
            new: new.map(str::to_owned),
        });
    }
    Ok((changes, reason))
}

/// One value of one record: REDCap's flat layout.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, TS)]
pub struct Cell {
    pub record_id: String,
    pub event: String,
    pub instance: u32,
    /// The stored name (`meds___2` for a checkbox choice).
    pub field: String,
}

/// A checkbox choice the EDC reports unticked (`"0"`) is no value here.
pub fn normalize(field: &str, value: &str) -> String {
    if field.contains("___") && value == "0" {
        String::new()
    } else {
        value.to_owned()
    }
}
