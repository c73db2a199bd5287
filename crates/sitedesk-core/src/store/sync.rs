//! The SQL of sync: which cells wait to be pushed, what they hold here and
//! what the EDC last had (the base), and committing what a sync step
//! decided, each cell with its audit row. Deciding is `crate::sync`'s job.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use ts_rs::TS;

use super::record::{Now, Outbox, Target, ValueAt, put_value, record_at};
use super::screening::refresh_subjects;
use super::{Result, StoreError};
use crate::domain::{Actor, Change};
pub use crate::domain::{Cell, normalize};

/// A cell with local edits the EDC has not acknowledged, up to outbox row
/// `through`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCell {
    pub cell: Cell,
    pub through: i64,
    /// Every value the waiting edits set (blank as `""`): an EDC value
    /// among them may be this desk's own write whose answer was lost.
    pub sent: Vec<String>,
    /// Held for a person: an open conflict, or a value the EDC refused
    /// with no save of its form since. Listed so that a page of held cells does not
    /// end the push; never sent.
    pub held: bool,
}

/// Who holds a value back from the EDC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RefusedBy {
    /// The EDC refused it on import, in its own words.
    Edc,
    /// The token's data export rights hide the EDC's value of the cell
    /// (left out, or a date shifted): the desk cannot see what it would
    /// overwrite, so it does not send.
    ExportRights,
}

impl RefusedBy {
    /// As kept in `sync_refused.refused_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusedBy::Edc => "edc",
            RefusedBy::ExportRights => "export_rights",
        }
    }

    fn parse(s: &str) -> Option<RefusedBy> {
        [RefusedBy::Edc, RefusedBy::ExportRights]
            .into_iter()
            .find(|b| b.as_str() == s)
    }
}

/// A value held back from the EDC until a person saves its form again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RefusedValue {
    pub cell: Cell,
    pub value: String,
    pub by: RefusedBy,
    /// The EDC's words (blank when the desk held the value itself).
    pub message: String,
    pub refused_at: String,
}

/// What the desk holds for a cell: its value (`""` when blank) and the
/// base, the EDC's value when this desk last saw it (`None`: never seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCell {
    pub value: String,
    pub base: Option<String>,
}

/// A decision of sync about one cell, committed by the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncWrite {
    /// The EDC holds what the desk holds: the edits through `through` are
    /// done, the base is `server`.
    Acked {
        cell: Cell,
        server: String,
        through: i64,
    },
    /// Only the EDC changed the cell (the local edits came back to the
    /// base): take its value, drop the edits through `through`.
    TakeTheirs {
        cell: Cell,
        server: String,
        through: i64,
    },
    /// A pulled value: taken when the cell has no edits waiting (and then
    /// it is the base); with edits waiting, the push decides.
    Pulled { cell: Cell, server: String },
    /// A record this desk made, never seen in the EDC, whose id the EDC
    /// uses for another record: held whole until a person gives it a new
    /// id, so that two people never become one record.
    IdTaken { record_id: String },
    /// The EDC refused this value of the cell (edits through `through`),
    /// in these words, or the desk cannot see the EDC's value (`by`): held
    /// until a person saves the record at that event and instance again
    /// (its form corrected).
    Refused {
        cell: Cell,
        value: String,
        by: RefusedBy,
        message: String,
        through: i64,
    },
    /// Both changed, differently: held for a person.
    Conflict {
        cell: Cell,
        base: String,
        mine: String,
        theirs: String,
    },
}

/// What committing sync decisions did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncApplied {
    /// Local values changed to the EDC's.
    pub taken: u32,
    /// Outbox rows cleared.
    pub cleared: u32,
    pub conflicts: u32,
}

/// A conflict as the Conflicts view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Conflict {
    #[ts(type = "number")]
    pub id: i64,
    pub cell: Cell,
    pub base: String,
    pub mine: String,
    pub theirs: String,
    pub detected_at: String,
}

/// Which value a person keeps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, TS)]
#[serde(tag = "keep", content = "value", rename_all = "snake_case")]
pub enum Keep {
    Mine,
    Theirs,
    /// Another value, typed by the person (stored form).
    Other(String),
}

/// The reason audit rows of pulled values carry.
pub const PULLED_REASON: &str = "From the EDC";

fn value_at(cell: &Cell) -> ValueAt<'_> {
    ValueAt {
        record_id: &cell.record_id,
        event: &cell.event,
        field: &cell.field,
        instance: i64::from(cell.instance),
    }
}

fn target(cell: &Cell) -> Target<'_> {
    Target {
        entity: "record",
        entity_id: &cell.record_id,
        event: Some(&cell.event),
        instance: Some(i64::from(cell.instance)),
    }
}

fn local_value(tx: &Connection, cell: &Cell) -> Result<String> {
    Ok(tx
        .prepare_cached(
            "SELECT value FROM record_value
             WHERE record_id = ?1 AND event = ?2 AND field = ?3 AND instance = ?4",
        )?
        .query_row(
            params![cell.record_id, cell.event, cell.field, cell.instance],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .unwrap_or_default())
}

fn has_pending(tx: &Connection, cell: &Cell) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE entity = 'record' AND entity_id = ?1
                 AND event = ?2 AND instance = ?3 AND field = ?4)",
        )?
        .query_row(
            params![cell.record_id, cell.event, cell.instance, cell.field],
            |r| r.get(0),
        )?)
}

/// Whether a record has edits waiting and no value the EDC ever gave
/// this desk (no base): made here and never acknowledged.
fn unseen_with_edits(tx: &Connection, record_id: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE entity = 'record' AND entity_id = ?1)
                AND NOT EXISTS (SELECT 1 FROM record_base WHERE record_id = ?1)",
        )?
        .query_row([record_id], |r| r.get(0))?)
}

/// Of `records`, those the EDC never gave this desk a value of.
pub(super) fn unseen(c: &Connection, records: &[String]) -> Result<Vec<String>> {
    let mut stmt =
        c.prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM record_base WHERE record_id = ?1)")?;
    let mut out = Vec::new();
    for r in records {
        if stmt.query_row([r], |row| row.get::<_, bool>(0))? {
            out.push(r.clone());
        }
    }
    Ok(out)
}

/// A record held because the EDC uses its id for another record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct IdCollision {
    pub record_id: String,
    pub detected_at: String,
}

pub(super) fn open_collisions(c: &Connection) -> Result<Vec<IdCollision>> {
    let mut stmt = c.prepare_cached(
        "SELECT record_id, detected_at FROM id_collision WHERE resolved_at IS NULL
         ORDER BY record_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(IdCollision {
            record_id: r.get(0)?,
            detected_at: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets the local value (audited, not sent back out) when it differs.
fn set_local(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    cell: &Cell,
    value: &str,
) -> Result<bool> {
    let old = local_value(tx, cell)?;
    if old == value {
        return Ok(false);
    }
    put_value(
        tx,
        now,
        &value_at(cell),
        Some(value).filter(|v| !v.is_empty()),
    )?;
    let change = Change {
        field: cell.field.clone(),
        old: Some(old).filter(|v| !v.is_empty()),
        new: Some(value.to_owned()).filter(|v| !v.is_empty()),
    };
    record_at(
        tx,
        now,
        actor,
        target(cell),
        &[change],
        Some(PULLED_REASON),
        Outbox::No,
    )?;
    Ok(true)
}

fn set_base(tx: &Transaction<'_>, cell: &Cell, value: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO record_base(record_id, event, field, instance, value) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(record_id, event, field, instance) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![cell.record_id, cell.event, cell.field, cell.instance, value])?;
    Ok(())
}

fn clear_outbox(tx: &Transaction<'_>, cell: &Cell, through: i64) -> Result<u32> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM outbox WHERE entity = 'record' AND entity_id = ?1 AND event = ?2
                 AND instance = ?3 AND field = ?4 AND id <= ?5",
        )?
        .execute(params![
            cell.record_id,
            cell.event,
            cell.instance,
            cell.field,
            through
        ])? as u32)
}

/// Forgets a held value of `cell`: it was sent, taken from the EDC, or
/// is now a conflict for a person.
fn clear_refused(tx: &Transaction<'_>, cell: &Cell) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM sync_refused
         WHERE record_id = ?1 AND event = ?2 AND instance = ?3 AND field = ?4",
    )?
    .execute(params![
        cell.record_id,
        cell.event,
        cell.instance,
        cell.field
    ])?;
    Ok(())
}

/// Commits sync decisions in one transaction.
pub(super) fn apply(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    writes: &[SyncWrite],
) -> Result<SyncApplied> {
    let mut done = SyncApplied::default();
    let mut changed: Vec<&Cell> = Vec::new();
    for w in writes {
        match w {
            SyncWrite::Acked {
                cell,
                server,
                through,
            } => {
                done.cleared += clear_outbox(tx, cell, *through)?;
                set_base(tx, cell, server)?;
                clear_refused(tx, cell)?;
            }
            SyncWrite::Refused {
                cell,
                value,
                by,
                message,
                through,
            } => {
                tx.prepare_cached(
                    "INSERT INTO sync_refused(record_id, event, instance, field, value, message,
                                              through, refused_at, refused_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT(record_id, event, instance, field) DO UPDATE SET
                        value = excluded.value, message = excluded.message,
                        through = excluded.through, refused_at = excluded.refused_at,
                        refused_by = excluded.refused_by",
                )?
                .execute(params![
                    cell.record_id,
                    cell.event,
                    cell.instance,
                    cell.field,
                    value,
                    message,
                    through,
                    now.at,
                    by.as_str()
                ])?;
            }
            SyncWrite::TakeTheirs {
                cell,
                server,
                through,
            } => {
                done.cleared += clear_outbox(tx, cell, *through)?;
                clear_refused(tx, cell)?;
                // An edit made since the decision stays and is pushed next.
                if !has_pending(tx, cell)? && set_local(tx, now, actor, cell, server)? {
                    done.taken += 1;
                    changed.push(cell);
                }
                set_base(tx, cell, server)?;
            }
            SyncWrite::Pulled { cell, server } => {
                // A record of this desk's that the EDC has never acknowledged
                // takes nothing from a record of the same id there: if it is
                // another person's, the push holds it (`IdTaken`); if it is
                // this desk's own import whose answer was lost, the push
                // finds its values equal.
                if has_pending(tx, cell)? || unseen_with_edits(tx, &cell.record_id)? {
                    continue;
                }
                if set_local(tx, now, actor, cell, server)? {
                    done.taken += 1;
                    changed.push(cell);
                }
                set_base(tx, cell, server)?;
            }
            SyncWrite::IdTaken { record_id } => {
                done.conflicts += tx
                    .prepare_cached(
                        "INSERT INTO id_collision(record_id, detected_at) VALUES (?1, ?2)
                         ON CONFLICT(record_id) DO NOTHING",
                    )?
                    .execute(params![record_id, now.at])? as u32;
            }
            SyncWrite::Conflict {
                cell,
                base,
                mine,
                theirs,
            } => {
                clear_refused(tx, cell)?;
                let changed = tx
                    .prepare_cached(
                        "INSERT INTO sync_conflict(record_id, event, instance, field, base, mine, theirs, detected_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT(record_id, event, instance, field) WHERE resolved_at IS NULL
                         DO UPDATE SET mine = excluded.mine, theirs = excluded.theirs",
                    )?
                    .execute(params![
                        cell.record_id,
                        cell.event,
                        cell.instance,
                        cell.field,
                        base,
                        mine,
                        theirs,
                        now.at
                    ])?;
                done.conflicts += changed as u32;
            }
        }
    }
    refresh_subjects(tx, now, changed.iter().map(|c| cell_key(c)))?;
    Ok(done)
}

fn cell_key(c: &Cell) -> (&str, &str, &str) {
    (&c.record_id, &c.event, &c.field)
}

/// Settles a conflict with the value a person keeps, and the reason. The
/// kept value is saved (audited with the reason); the EDC's value becomes
/// the base, so the next push sends the kept value when it differs.
pub(super) fn resolve(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    id: i64,
    keep: &Keep,
    reason: &str,
) -> Result<()> {
    let row: Option<(Cell, String, String)> = tx
        .query_row(
            "SELECT record_id, event, instance, field, mine, theirs FROM sync_conflict
             WHERE id = ?1 AND resolved_at IS NULL",
            [id],
            |r| {
                Ok((
                    Cell {
                        record_id: r.get(0)?,
                        event: r.get(1)?,
                        instance: r.get(2)?,
                        field: r.get(3)?,
                    },
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((cell, mine, theirs)) = row else {
        return Err(StoreError::NotFound {
            entity: "conflict",
            id: id.to_string(),
        });
    };
    let kept = match keep {
        Keep::Mine => mine,
        Keep::Theirs => theirs.clone(),
        Keep::Other(v) => v.clone(),
    };
    let old = local_value(tx, &cell)?;
    // What the EDC holds becomes the base: the next push sends `kept`
    // unless it is what the EDC holds already.
    set_base(tx, &cell, &theirs)?;
    let through: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM outbox", [], |r| r.get(0))?;
    clear_outbox(tx, &cell, through)?;
    put_value(
        tx,
        now,
        &value_at(&cell),
        Some(kept.as_str()).filter(|v| !v.is_empty()),
    )?;
    let change = Change {
        field: cell.field.clone(),
        old: Some(old).filter(|v| !v.is_empty()),
        new: Some(kept.clone()).filter(|v| !v.is_empty()),
    };
    // Audited with the reason; sent to the EDC only when it differs there.
    let outbox = if kept != theirs {
        Outbox::Yes
    } else {
        Outbox::No
    };
    // When the desk keeps its own value nothing changes here; the audit row
    // then records the EDC's value being replaced by the kept one.
    let change = if change.old == change.new {
        Change {
            field: cell.field.clone(),
            old: Some(theirs.clone()).filter(|v| !v.is_empty()),
            new: Some(kept.clone()).filter(|v| !v.is_empty()),
        }
    } else {
        change
    };
    record_at(
        tx,
        now,
        actor,
        target(&cell),
        &[change],
        Some(reason),
        outbox,
    )?;
    tx.execute(
        "UPDATE sync_conflict SET resolved_at = ?2, resolved_by = ?3, kept = ?4 WHERE id = ?1",
        params![id, now.at, actor.account, kept],
    )?;
    refresh_subjects(tx, now, [cell_key(&cell)])?;
    Ok(())
}

/// Cells with edits waiting, after `after` (a record id; `""` from the
/// start), for at most `limit` records, in record order; cells with an
/// open conflict wait for a person instead.
pub(super) fn pending(c: &Connection, after: &str, limit: u32) -> Result<Vec<PendingCell>> {
    let mut stmt = c.prepare_cached(
        "WITH records AS (
             SELECT DISTINCT entity_id FROM outbox
             WHERE entity = 'record' AND entity_id > ?1
               AND entity_id NOT IN (SELECT record_id FROM id_collision WHERE resolved_at IS NULL)
             ORDER BY entity_id LIMIT ?2
         )
         SELECT g.record_id, g.event, g.instance, g.field, g.through, g.sent,
                EXISTS (
                    SELECT 1 FROM sync_conflict s WHERE s.resolved_at IS NULL
                      AND s.record_id = g.record_id AND s.event = g.event
                      AND s.instance = g.instance AND s.field = g.field)
                -- A value the EDC refused waits until the record is
                -- edited at that event and instance again (the form saved
                -- anew); one held by export rights is looked at on every
                -- run, as rights may be granted at any time.
                OR EXISTS (
                    SELECT 1 FROM sync_refused q WHERE q.record_id = g.record_id
                      AND q.event = g.event AND q.instance = g.instance
                      AND q.field = g.field AND q.refused_by = 'edc'
                      AND q.through >= (
                          SELECT max(o2.id) FROM outbox o2 WHERE o2.entity = 'record'
                            AND o2.entity_id = g.record_id AND o2.event = g.event
                            AND o2.instance = g.instance))
         FROM (
             SELECT o.entity_id AS record_id, o.event, o.instance, o.field,
                    max(o.id) AS through, json_group_array(coalesce(o.value, '')) AS sent
             -- CROSS JOIN keeps the page of records outermost: otherwise
             -- SQLite walks the whole outbox for every page (quadratic in
             -- its size).
             FROM records r CROSS JOIN outbox o
               ON o.entity = 'record' AND o.entity_id = r.entity_id
             GROUP BY o.entity_id, o.event, o.instance, o.field
         ) g
         ORDER BY g.record_id, g.event, g.instance, g.field",
    )?;
    let rows = stmt.query_map(params![after, limit], |r| {
        Ok(PendingCell {
            cell: cell_at(r, 0)?,
            through: r.get(4)?,
            sent: {
                let json: String = r.get(5)?;
                serde_json::from_str(&json).unwrap_or_default()
            },
            held: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The cell in a row's four columns from `first`: record, event,
/// instance, field.
fn cell_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Cell> {
    Ok(Cell {
        record_id: r.get(first)?,
        event: r.get(first + 1)?,
        instance: r.get(first + 2)?,
        field: r.get(first + 3)?,
    })
}

/// The values the EDC refused, still waiting, that no save of their record
/// at that event and instance has come after.
pub(super) fn refused(c: &Connection) -> Result<Vec<RefusedValue>> {
    let mut stmt = c.prepare_cached(
        "SELECT q.record_id, q.event, q.instance, q.field, q.value, q.message, q.refused_at,
                q.refused_by
         FROM sync_refused q
         WHERE q.through >= (SELECT max(o.id) FROM outbox o WHERE o.entity = 'record'
                               AND o.entity_id = q.record_id AND o.event = q.event
                               AND o.instance = q.instance)
           AND EXISTS (SELECT 1 FROM outbox o WHERE o.entity = 'record'
                         AND o.entity_id = q.record_id AND o.event = q.event
                         AND o.instance = q.instance AND o.field = q.field)
         ORDER BY q.record_id, q.event, q.instance, q.field",
    )?;
    let rows = stmt.query_map([], |r| {
        let by: String = r.get(7)?;
        Ok(RefusedValue {
            cell: cell_at(r, 0)?,
            value: r.get(4)?,
            by: RefusedBy::parse(&by).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    7,
                    rusqlite::types::Type::Text,
                    format!("unknown refused_by {by:?}").into(),
                )
            })?,
            message: r.get(5)?,
            refused_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The local value and base of each cell.
pub(super) fn local(c: &Connection, cells: &[Cell]) -> Result<Vec<LocalCell>> {
    let mut base = c.prepare_cached(
        "SELECT value FROM record_base
         WHERE record_id = ?1 AND event = ?2 AND field = ?3 AND instance = ?4",
    )?;
    cells
        .iter()
        .map(|cell| {
            Ok(LocalCell {
                value: local_value(c, cell)?,
                base: base
                    .query_row(
                        params![cell.record_id, cell.event, cell.field, cell.instance],
                        |r| r.get(0),
                    )
                    .optional()?,
            })
        })
        .collect()
}

/// How many cells and records wait to be pushed, and how many conflicts
/// (and records whose id the EDC uses for another) wait for a person.
pub(super) fn counts(c: &Connection) -> Result<(u32, u32, u32)> {
    let (cells, records): (u32, u32) = c.query_row(
        "SELECT count(*), count(DISTINCT entity_id) FROM (SELECT entity_id FROM outbox
             WHERE entity = 'record' GROUP BY entity_id, event, instance, field)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let conflicts: u32 = c.query_row(
        "SELECT (SELECT count(*) FROM sync_conflict WHERE resolved_at IS NULL)
              + (SELECT count(*) FROM id_collision WHERE resolved_at IS NULL)",
        [],
        |r| r.get(0),
    )?;
    Ok((cells, records, conflicts))
}

pub(super) fn open_conflicts(c: &Connection) -> Result<Vec<Conflict>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, record_id, event, instance, field, base, mine, theirs, detected_at
         FROM sync_conflict WHERE resolved_at IS NULL ORDER BY record_id, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Conflict {
            id: r.get(0)?,
            cell: cell_at(r, 1)?,
            base: r.get(5)?,
            mine: r.get(6)?,
            theirs: r.get(7)?,
            detected_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Where the last pull got to: the EDC's time the next pull starts from
/// (less the overlap the sync engine keeps).
pub(super) fn cursor(c: &Connection) -> Result<Option<String>> {
    meta_text(c, "sync_cursor")
}

/// A pull stopped part-way (cancelled, offline, the app closed): what the
/// next run resumes instead of starting over.
pub(super) fn pull_resume(c: &Connection) -> Result<Option<PullResume>> {
    Ok(meta_text(c, "sync_pull_resume")?.and_then(|j| serde_json::from_str(&j).ok()))
}

fn meta_text(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?,
    )
}

pub(super) fn clear_cursor(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "DELETE FROM meta WHERE key IN ('sync_cursor', 'sync_pull_resume')",
        [],
    )?;
    Ok(())
}

/// Where a pull got to, committed in the transaction of the cells it
/// applied, so that a pull stopped anywhere resumes where its last
/// committed cells end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullMark {
    /// The pull ended: the next one starts from this server time.
    Done(String),
    /// The records up to `after` are in.
    Part(PullResume),
}

/// A pull part-way: it started from cursor `from`, will end at `next`,
/// and has every record whose id sorts at or before `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PullResume {
    pub from: Option<String>,
    pub next: Option<String>,
    pub after: String,
}

pub(super) fn set_mark(tx: &Transaction<'_>, mark: &PullMark) -> Result<()> {
    let put = |key: &str, value: &str| {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )
    };
    match mark {
        PullMark::Done(cursor) => {
            set_cursor(tx, cursor)?;
            tx.execute("DELETE FROM meta WHERE key = 'sync_pull_resume'", [])?;
        }
        PullMark::Part(resume) => {
            let json = serde_json::to_string(resume).expect("a resume point serializes");
            put("sync_pull_resume", &json)?;
        }
    }
    Ok(())
}

fn set_cursor(tx: &Transaction<'_>, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('sync_cursor', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [value],
    )?;
    Ok(())
}
