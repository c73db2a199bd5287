//! The schema, as an ordered list of migrations. `PRAGMA user_version` holds
//! how many have been applied; [`migrate`] applies the rest at open, each in
//! its own transaction. A migration is never edited once released: a change
//! is a new entry at the end, and `tests.rs` checks the upgrade from every
//! earlier version.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::record::{Now, Outbox, Target, ValueAt, put_value, record_at};
use super::screening::{InstrumentInForce, refresh_subject, save_instrument};
use super::{StoreError, chain};
use crate::domain::{Actor, Change, CriterionKind};
use crate::metadata::design::Design;
use crate::metadata::screening::snippet_instrument;

/// Rust that runs after a migration's SQL, in the same transaction.
pub(super) type MigrationStep = fn(&Transaction<'_>) -> Result<(), StoreError>;

/// One step of the schema: SQL, then, where SQL cannot do it, Rust.
pub(super) struct Migration {
    pub sql: &'static str,
    /// Runs after `sql`, in the same transaction.
    pub then: Option<MigrationStep>,
}

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[
    // 1: study set-up, subjects with their screening log, audit trail, outbox.
    Migration {
        sql: V1,
        then: None,
    },
    // 2: the audit hash chain (rows written by version 1 are chained in id
    // order), and case report form values.
    Migration {
        sql: V2,
        then: Some(chain::chain_unhashed_rows),
    },
    // 3: versions of the study's data dictionary.
    Migration {
        sql: V3,
        then: None,
    },
    // 4: the study design (events, form-event mapping, repeating forms,
    // sites) kept with each dictionary version.
    Migration {
        sql: V4,
        then: None,
    },
    // 5: sync: the last value pulled from the EDC per cell, and conflicts.
    Migration {
        sql: V5,
        then: None,
    },
    // 6: the screening log moves into the screening instrument's cells;
    // the subject rows show them.
    Migration {
        sql: V6,
        then: Some(screening_log_to_cells),
    },
    // 7: records whose id the EDC already uses for another record.
    Migration {
        sql: V7,
        then: None,
    },
    // 8: values the EDC refused, held out of the push until edited.
    Migration {
        sql: V8,
        then: None,
    },
    // 9: who holds a value back: the EDC's refusal, or export rights that
    // hide the EDC's value.
    Migration {
        sql: V9,
        then: None,
    },
    // 10: the people at the desk, and the login of whoever each audit row
    // names.
    Migration {
        sql: V10,
        then: None,
    },
    // 11: review sign-offs.
    Migration {
        sql: V11,
        then: None,
    },
];

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE study (
    id                TEXT PRIMARY KEY,
    title             TEXT NOT NULL,
    enrollment_target INTEGER NOT NULL CHECK (enrollment_target >= 0)
) STRICT;

CREATE TABLE site (
    id       TEXT PRIMARY KEY,
    study_id TEXT NOT NULL REFERENCES study(id),
    code     TEXT NOT NULL UNIQUE,
    name     TEXT NOT NULL
) STRICT;

CREATE TABLE criterion (
    study_id TEXT NOT NULL REFERENCES study(id),
    id       TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('inclusion', 'exclusion')),
    text     TEXT NOT NULL,
    ordinal  INTEGER NOT NULL,
    PRIMARY KEY (study_id, id)
) STRICT;

-- The next sequence number of this desk's subject ids, per site. Only the
-- writer reads and bumps it, inside the transaction that inserts the subject.
CREATE TABLE subject_sequence (
    site_id TEXT PRIMARY KEY REFERENCES site(id),
    next    INTEGER NOT NULL CHECK (next >= 1)
) STRICT;

CREATE TABLE subject (
    id                 TEXT PRIMARY KEY,
    site_id            TEXT NOT NULL REFERENCES site(id),
    status             TEXT NOT NULL CHECK (status IN
                         ('screening', 'screen_failed', 'enrolled', 'completed', 'withdrawn')),
    screening_date     TEXT NOT NULL,
    label              TEXT NOT NULL,
    consent_date       TEXT,
    consent_version    TEXT,
    enrollment_date    TEXT,
    screen_fail_reason TEXT,
    withdrawal_date    TEXT,
    withdrawal_reason  TEXT,
    completion_date    TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;
CREATE INDEX subject_site_status ON subject(site_id, status);

CREATE TABLE subject_eligibility (
    subject_id   TEXT NOT NULL REFERENCES subject(id),
    criterion_id TEXT NOT NULL,
    answer       TEXT NOT NULL CHECK (answer IN ('yes', 'no')),
    PRIMARY KEY (subject_id, criterion_id)
) STRICT;

-- Who changed what, when and why. Append-only: the triggers below refuse
-- UPDATE and DELETE, so a row once written stays as written.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    user_account TEXT NOT NULL,
    user_name    TEXT NOT NULL,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    old_value    TEXT,
    new_value    TEXT,
    reason       TEXT
) STRICT;
CREATE INDEX audit_entity ON audit(entity, entity_id, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;

-- Changes waiting to be sent to the central EDC, one row per changed field,
-- each tied to the audit row written in the same transaction.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    audit_id   INTEGER NOT NULL UNIQUE REFERENCES audit(id),
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT,
    created_at TEXT NOT NULL
) STRICT;
"#;

const V2: &str = r#"
-- Each audit row carries the SHA-256 of its own content and of the previous
-- row's hash (see store/chain.rs). Subject-level rows have no event.
ALTER TABLE audit ADD COLUMN event TEXT;
ALTER TABLE audit ADD COLUMN instance INTEGER;
ALTER TABLE audit ADD COLUMN prev_hash BLOB;
ALTER TABLE audit ADD COLUMN hash BLOB;
ALTER TABLE outbox ADD COLUMN event TEXT;
ALTER TABLE outbox ADD COLUMN instance INTEGER;

-- Case report form values, laid out as the EDC keeps them: one row per
-- record, event, field and repeat instance; an empty value has no row.
CREATE TABLE record_value (
    record_id  TEXT NOT NULL,
    event      TEXT NOT NULL,
    field      TEXT NOT NULL,
    instance   INTEGER NOT NULL CHECK (instance >= 1),
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (record_id, event, field, instance)
) STRICT, WITHOUT ROWID;
"#;

const V3: &str = r#"
-- Every data dictionary this desk has imported, as JSON, by version hash;
-- meta.dictionary_version names the one in force. Old versions stay, so
-- that values entered under them can still be read against them.
CREATE TABLE dictionary_version (
    id          INTEGER PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    source      TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    body        TEXT NOT NULL
) STRICT;
"#;

const V4: &str = r#"
-- The design that goes with the dictionary: JSON, NULL for a classic
-- project. The version hash covers both.
ALTER TABLE dictionary_version ADD COLUMN design TEXT;
"#;

const V5: &str = r#"
-- The value the EDC last had for each cell, as this desk last saw it (on a
-- pull or when a push was acknowledged): the base of the three-way
-- comparison that tells a colleague's change from ours. '' is blank.
CREATE TABLE record_base (
    record_id TEXT NOT NULL,
    event     TEXT NOT NULL,
    field     TEXT NOT NULL,
    instance  INTEGER NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (record_id, event, field, instance)
) STRICT, WITHOUT ROWID;

-- A cell changed both here and in the EDC since the base: not pushed
-- until a person decides. Resolved rows stay, as history.
CREATE TABLE sync_conflict (
    id          INTEGER PRIMARY KEY,
    record_id   TEXT NOT NULL,
    event       TEXT NOT NULL,
    instance    INTEGER NOT NULL,
    field       TEXT NOT NULL,
    base        TEXT NOT NULL,
    mine        TEXT NOT NULL,
    theirs      TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    kept        TEXT
) STRICT;
CREATE UNIQUE INDEX sync_conflict_open
    ON sync_conflict(record_id, event, instance, field) WHERE resolved_at IS NULL;
CREATE INDEX outbox_cell ON outbox(entity, entity_id, event, instance, field);
"#;

const V6: &str = r#"
-- The subject row shows the screening instrument's cells (store/screening.rs):
-- one date and one coded reason for the last status change. The columns
-- version 1 had for them stay, empty: their values moved into the cells.
ALTER TABLE subject ADD COLUMN status_date TEXT;
ALTER TABLE subject ADD COLUMN status_reason TEXT;
ALTER TABLE subject ADD COLUMN status_reason_other TEXT;
"#;

const V7: &str = r#"
-- A record made at this desk whose id the EDC already uses for another
-- record (typed into REDCap, for example): never pushed, its values never
-- mixed with the EDC's, until a person gives it a new id (new_id).
CREATE TABLE id_collision (
    record_id   TEXT PRIMARY KEY,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    new_id      TEXT
) STRICT;
"#;

const V8: &str = r#"
-- A value the EDC refused on import (its own validation, a locked form, a
-- missing right), with its words: the cell's edits through `through` are
-- held out of the push, so one bad value never stalls the rest; a save of
-- the record at that event and instance after them (the form corrected)
-- sends the cell again. Cleared when the EDC takes the cell.
CREATE TABLE sync_refused (
    record_id  TEXT NOT NULL,
    event      TEXT NOT NULL,
    instance   INTEGER NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    message    TEXT NOT NULL,
    through    INTEGER NOT NULL,
    refused_at TEXT NOT NULL,
    PRIMARY KEY (record_id, event, instance, field)
) STRICT;
"#;

const V9: &str = r#"
-- A value is held back by the EDC's refusal, or by the desk itself when the
-- token's data export rights hide the EDC's value of the cell (the desk
-- never sends over a value it cannot see).
ALTER TABLE sync_refused ADD COLUMN refused_by TEXT NOT NULL DEFAULT 'edc'
    CHECK (refused_by IN ('edc', 'export_rights'));

-- Outbox ids never come back: a held value waits for an edit of its row
-- with a higher id than the edits it was refused with, and SQLite gives a
-- plain rowid table's next row the highest id left plus one, so once the
-- newest edits were sent and cleared the next edit would reuse their ids
-- and stay held.
CREATE TABLE outbox_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    audit_id   INTEGER NOT NULL UNIQUE REFERENCES audit(id),
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT,
    created_at TEXT NOT NULL,
    event      TEXT,
    instance   INTEGER
) STRICT;
INSERT INTO outbox_new(id, audit_id, entity, entity_id, field, value, created_at, event, instance)
    SELECT id, audit_id, entity, entity_id, field, value, created_at, event, instance FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_cell ON outbox(entity, entity_id, event, instance, field);
-- The ids sent and cleared before this version are not known: the next id
-- starts past every audit row's, which every outbox row had one of.
DELETE FROM sqlite_sequence WHERE name = 'outbox';
INSERT INTO sqlite_sequence(name, seq)
    SELECT 'outbox', max(coalesce((SELECT max(id) FROM outbox), 0), coalesce((SELECT max(id) FROM audit), 0));
"#;

const V10: &str = r#"
-- The person signed in to the desk, beside the computer's account
-- (`user_account`) and their name (`user_name`); none on rows written
-- before sign-in and on the desk's own (sync, migrations).
ALTER TABLE audit ADD COLUMN user_login TEXT;

-- The people at the desk. Their passwords unwrap their slot of the data
-- key, beside the database; nothing of a password is kept here.
CREATE TABLE desk_user (
    login        TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('crc', 'supervisor', 'admin')),
    created_at   TEXT NOT NULL,
    disabled_at  TEXT
) STRICT;

-- Every sign-in attempt, kept: failed ones slow the next and are shown to
-- the administrator.
CREATE TABLE sign_in_attempt (
    id         INTEGER PRIMARY KEY,
    login      TEXT NOT NULL,
    at         TEXT NOT NULL,
    ok         INTEGER NOT NULL CHECK (ok IN (0, 1)),
    os_account TEXT NOT NULL
) STRICT;
CREATE INDEX sign_in_attempt_login ON sign_in_attempt(login, id);
"#;

const V11: &str = r#"
-- A supervisor's sign-off of a subject's form (or, with no form, a whole
-- visit): the printed name, time and meaning; voided, never deleted, when
-- a signed value changes. Audited as entity 'signoff'.
CREATE TABLE sign_off (
    id           INTEGER PRIMARY KEY,
    record_id    TEXT NOT NULL,
    event        TEXT NOT NULL,
    instance     INTEGER NOT NULL CHECK (instance >= 1),
    form         TEXT,
    meaning      TEXT NOT NULL CHECK (meaning IN ('reviewed', 'approved')),
    signer_login TEXT NOT NULL,
    signer_name  TEXT NOT NULL,
    signed_at    TEXT NOT NULL,
    voided_at    TEXT,
    void_reason  TEXT,
    voided_by    TEXT
) STRICT;
CREATE INDEX sign_off_visit ON sign_off(record_id, event, instance);
"#;

/// Who the audit trail names for the cells migration 6 writes.
const MIGRATION_ACCOUNT: &str = "sitedesk";
/// The reason its audit rows give.
pub(super) const MOVED_REASON: &str = "Screening log moved into the screening instrument";

/// Migration 6: each subject's screening log becomes cells of the
/// screening instrument (the dictionary's, else the snippet's), each with
/// its audit row and outbox row, and the outbox rows of the old subject
/// fields, which sync never sent, are replaced by them. A free-text reason
/// becomes the "other, specify" text of the first code that asks for one.
fn screening_log_to_cells(tx: &Transaction<'_>) -> Result<(), StoreError> {
    // Without a dictionary (none was imported yet) the log goes into the
    // snippet's cells of a classic project; importing the study's forms
    // moves it where they have it.
    let (dictionary, design) = match super::read::load_dictionary(tx)? {
        Some(stored) => (Some(stored.dictionary), stored.design),
        None => (None, Design::default()),
    };
    let snippet = || InstrumentInForce {
        instrument: snippet_instrument(&design),
        in_dictionary: false,
    };
    let inst = match &dictionary {
        // A tagged instrument this version refuses: the log keeps the
        // snippet's fields until the dictionary is mended.
        Some(d) => InstrumentInForce::of(d, &design).unwrap_or_else(|_| snippet()),
        None => snippet(),
    };
    save_instrument(tx, &inst)?;
    // Criteria were ids of the set-up; the instrument's are fields, matched
    // by kind and order.
    let mut old_criteria: Vec<(String, String)> = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT id, kind FROM criterion ORDER BY ordinal")?;
        for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
            old_criteria.push(row?);
        }
    }
    let criterion_field = |id: &str| -> Option<String> {
        let (_, kind) = old_criteria.iter().find(|(c, _)| c == id)?;
        let nth = old_criteria
            .iter()
            .filter(|(_, k)| k == kind)
            .position(|(c, _)| c == id)?;
        let want = if kind == "inclusion" {
            CriterionKind::Inclusion
        } else {
            CriterionKind::Exclusion
        };
        inst.criteria()
            .into_iter()
            .filter(|c| c.kind == want)
            .nth(nth)
            .map(|c| c.id)
    };
    let other_code = inst.reasons().other.first().cloned();
    let now = Now::current();
    let actor = Actor {
        account: MIGRATION_ACCOUNT.into(),
        display_name: String::new(),
        login: None,
    };
    let subjects: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, site_id FROM subject ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, site_id) in subjects {
        // The columns version 5 kept, in this order.
        let [
            status,
            screening_date,
            label,
            consent_date,
            consent_version,
            enrollment_date,
            screen_fail_reason,
            withdrawal_date,
            withdrawal_reason,
            completion_date,
        ]: [Option<String>; 10] = tx.query_row(
            "SELECT status, screening_date, label, consent_date, consent_version, enrollment_date,
                    screen_fail_reason, withdrawal_date, withdrawal_reason, completion_date
             FROM subject WHERE id = ?1",
            [&id],
            |r| {
                let mut v: [Option<String>; 10] = Default::default();
                for (i, slot) in v.iter_mut().enumerate() {
                    *slot = r.get(i)?;
                }
                Ok(v)
            },
        )?;
        let set = |field: &str, v: Option<String>| {
            v.map(|v| Change {
                field: field.to_owned(),
                old: None,
                new: Some(v),
            })
        };
        let reason_text = screen_fail_reason.or(withdrawal_reason);
        let (reason, other) = match (&reason_text, &other_code) {
            (Some(text), Some(code)) => (Some(code.clone()), Some(text.clone())),
            _ => (None, None),
        };
        let mut changes: Vec<Change> = [
            set("status", status),
            set("screening_date", screening_date),
            set("label", label),
            set("consent_date", consent_date),
            set("consent_version", consent_version),
            set("enrollment_date", enrollment_date),
            set("status_date", completion_date.or(withdrawal_date)),
            set("status_reason", reason),
            set("status_reason_other", other),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut stmt = tx.prepare(
            "SELECT criterion_id, answer FROM subject_eligibility WHERE subject_id = ?1",
        )?;
        let answers: Vec<(String, String)> = stmt
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (criterion, answer) in answers {
            if let Some(field) = criterion_field(&criterion) {
                changes.extend(set(&format!("eligibility.{field}"), Some(answer)));
            }
        }
        let cells = inst.cells(&changes)?;
        for c in &cells {
            let at = ValueAt {
                record_id: &id,
                event: &inst.instrument.event,
                field: &c.field,
                instance: 1,
            };
            put_value(tx, &now, &at, c.new.as_deref())?;
        }
        let target = Target {
            entity: "record",
            entity_id: &id,
            event: Some(&inst.instrument.event),
            instance: Some(1),
        };
        record_at(
            tx,
            &now,
            &actor,
            target,
            &cells,
            Some(MOVED_REASON),
            Outbox::Yes,
        )?;
        tx.execute(
            "UPDATE subject SET screen_fail_reason = NULL, withdrawal_date = NULL,
                    withdrawal_reason = NULL, completion_date = NULL WHERE id = ?1",
            [&id],
        )?;
        refresh_subject(tx, &now, &inst, &id, &site_id)?;
    }
    tx.execute("DELETE FROM outbox WHERE entity = 'subject'", [])?;
    chain::update_head(tx, None)?;
    Ok(())
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Applies the migrations the file lacks. A file from a newer SiteDesk is
/// refused rather than guessed at.
pub(super) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Applies migrations up to `target`; tests use it to build every earlier
/// version. Answers the version the file had.
///
/// Each step runs under `BEGIN IMMEDIATE` and reads the version again
/// inside its transaction: two processes opening a new file at once (which
/// the data folder's lock prevents for the app, but not for a store opened
/// directly) take turns, and the second finds the work done. A deferred
/// transaction would read the version before taking the write lock, so
/// both could apply the same step.
pub(super) fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32, StoreError> {
    let found = schema_version(conn)?;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&tx)?;
        if version >= target {
            // Nothing to do; the empty transaction rolls back on drop.
            return Ok(found);
        }
        let step = &MIGRATIONS[version as usize];
        tx.execute_batch(step.sql)
            .map_err(|source| StoreError::Migration {
                version: version + 1,
                source,
            })?;
        if let Some(then) = step.then {
            then(&tx)?;
        }
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "applied schema migration");
    }
}

/// The schema version of the file (`PRAGMA user_version`); a version newer
/// than this app knows is refused.
fn schema_version(conn: &Connection) -> Result<u32, StoreError> {
    let found: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}
