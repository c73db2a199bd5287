//! What `verify` checks beyond the hash chain, once the chain holds: that
//! the data is what the trail says. Each form value must equal the new
//! value of its last audit row (a value changed, added or removed with a
//! SQLite shell does not); audit times must not go backwards (a clock set
//! back, or rows written elsewhere); each stored dictionary version must
//! still give its hash. Reads only, in one snapshot with the chain's walk.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::Result;
use super::chain::AuditVerification;
use crate::domain::Cell;
use crate::metadata::design::Design;
use crate::metadata::{Dictionary, metadata_hash};

/// The whole verification: the chain (with its keyed head on an
/// encrypted desk, `mac`), then, when it holds, the replay.
pub(super) fn verify(
    conn: &Connection,
    keep_going: &dyn Fn() -> bool,
    mac: Option<&crate::vault::AuditMacKey>,
) -> Result<AuditVerification> {
    // One read transaction for the chain and the data.
    let snapshot = conn.unchecked_transaction()?;
    let mut verified = super::chain::verify(&snapshot, keep_going, mac)?;
    if verified.broken.is_none() {
        check(&snapshot, keep_going, &mut verified)?;
    }
    Ok(verified)
}

/// Fills the replay's findings into `verified`.
fn check(
    conn: &Connection,
    keep_going: &dyn Fn() -> bool,
    verified: &mut AuditVerification,
) -> Result<()> {
    values(conn, keep_going, verified)?;
    verified.clock_back = conn
        .query_row(
            "SELECT id FROM (SELECT id, at, lag(at) OVER (ORDER BY id) AS before FROM audit)
             WHERE at < before ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    verified.dictionary_changed = dictionaries(conn)?;
    Ok(())
}

/// Every stored form value against the value the trail gives it, and
/// every value the trail gives against the stored ones. The trail is
/// replayed in order: a cell row sets or clears its value; a record's
/// practice entries discarded (`practice_entry`) clear all its values; a
/// record given a new id (its record id field, old id to new) moves them.
fn values(
    conn: &Connection,
    keep_going: &dyn Fn() -> bool,
    verified: &mut AuditVerification,
) -> Result<()> {
    type Key = (String, String, u32, String);
    let mut expected: HashMap<Key, String> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT entity_id, event, instance, field, old_value, new_value
         FROM audit WHERE entity = 'record' ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        n += 1;
        if n.is_multiple_of(4096) && !keep_going() {
            return Err(super::StoreError::Cancelled);
        }
        let record: String = r.get(0)?;
        let event: Option<String> = r.get(1)?;
        let field: String = r.get(3)?;
        let new: Option<String> = r.get(5)?;
        match event {
            Some(event) => {
                let instance: Option<u32> = r.get(2)?;
                let key = (record, event, instance.unwrap_or(1), field);
                match new.filter(|v| !v.is_empty()) {
                    Some(v) => expected.insert(key, v),
                    None => expected.remove(&key),
                };
            }
            None if field == "practice_entry" => {
                if new.as_deref() == Some("discarded") {
                    expected.retain(|k, _| k.0 != record);
                }
            }
            None => {
                let Some(old) = r.get::<_, Option<String>>(4)? else {
                    continue;
                };
                let moved: Vec<Key> = expected.keys().filter(|k| k.0 == old).cloned().collect();
                for k in moved {
                    if let Some(v) = expected.remove(&k) {
                        expected.insert((record.clone(), k.1, k.2, k.3), v);
                    }
                }
            }
        }
    }
    drop(rows);
    let mut changed: Option<Cell> = None;
    let mut checked = 0u64;
    let mut stmt = conn.prepare(
        "SELECT record_id, event, instance, field, value FROM record_value
         ORDER BY record_id, event, instance, field",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        checked += 1;
        if checked.is_multiple_of(4096) && !keep_going() {
            return Err(super::StoreError::Cancelled);
        }
        let key: Key = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let value: String = r.get(4)?;
        if expected.remove(&key).as_deref() != Some(value.as_str()) && changed.is_none() {
            changed = Some(cell(&key));
        }
    }
    // Values the trail gives that are not stored: removed behind its back.
    if changed.is_none()
        && let Some(key) = expected.keys().min()
    {
        changed = Some(cell(key));
    }
    checked += expected.len() as u64;
    verified.values_checked = checked;
    verified.value_changed = changed;
    Ok(())
}

fn cell((record_id, event, instance, field): &(String, String, u32, String)) -> Cell {
    Cell {
        record_id: record_id.clone(),
        event: event.clone(),
        instance: *instance,
        field: field.clone(),
    }
}

/// The hash of the first stored dictionary version whose content no
/// longer gives it.
fn dictionaries(conn: &Connection) -> Result<Option<String>> {
    let mut stmt = conn.prepare("SELECT hash, body, design FROM dictionary_version ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let hash: String = r.get(0)?;
        let body: String = r.get(1)?;
        let design: Option<String> = r.get(2)?;
        let again = serde_json::from_str::<Dictionary>(&body)
            .ok()
            .and_then(|d| {
                let design = match &design {
                    Some(text) => serde_json::from_str::<Design>(text).ok()?,
                    None => Design::default(),
                };
                Some(metadata_hash(&d, &design))
            });
        if again.as_deref() != Some(hash.as_str()) {
            return Ok(Some(hash));
        }
    }
    Ok(None)
}
