//! What `verify` checks beyond the hash chain, once the chain holds: that
//! the data is what the trail says. Each form value must equal the new
//! value of its last audit row (a value changed, added or removed with a
//! SQLite shell does not); audit times must not go backwards (a clock set
//! back, or rows written elsewhere); each stored dictionary version must
//! still give its hash. Reads only, in one snapshot with the chain's walk.

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

/// Every stored form value against its last audit row, and every last
/// audit row with a value against the stored one.
fn values(
    conn: &Connection,
    keep_going: &dyn Fn() -> bool,
    verified: &mut AuditVerification,
) -> Result<()> {
    // The last audit row of each cell, in one pass over the record rows.
    let mut stmt = conn.prepare(
        "WITH last AS (
             SELECT entity_id AS record_id, event, instance, field, new_value,
                    row_number() OVER (PARTITION BY entity_id, event, instance, field
                                       ORDER BY id DESC) AS n
             FROM audit WHERE entity = 'record'
         )
         SELECT v.record_id, v.event, v.instance, v.field,
                v.value IS NOT l.new_value OR l.record_id IS NULL
         FROM record_value v
         LEFT JOIN last l ON l.n = 1 AND l.record_id = v.record_id AND l.event = v.event
                          AND l.instance = v.instance AND l.field = v.field
         UNION ALL
         SELECT l.record_id, l.event, l.instance, l.field, 1
         FROM last l
         WHERE l.n = 1 AND l.new_value IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM record_value v WHERE v.record_id = l.record_id
               AND v.event = l.event AND v.instance = l.instance AND v.field = l.field)",
    )?;
    let mut rows = stmt.query([])?;
    let mut checked = 0u64;
    while let Some(r) = rows.next()? {
        if checked % 4096 == 4095 && !keep_going() {
            return Err(super::StoreError::Cancelled);
        }
        checked += 1;
        let differs: bool = r.get(4)?;
        if differs && verified.value_changed.is_none() {
            verified.value_changed = Some(Cell {
                record_id: r.get(0)?,
                event: r.get(1)?,
                instance: r.get(2)?,
                field: r.get(3)?,
            });
        }
    }
    verified.values_checked = checked;
    Ok(())
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
