//! What every mutation of study data writes besides the data itself: one
//! audit row per changed field, chained to the row before it, and for study
//! data one outbox row tied to it; and the one way a form value's row is
//! set or removed. The lowest layer of the writer's SQL: `write.rs` and
//! `sync.rs` build on it, and it imports neither.

use chrono::{Local, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Transaction, params};

use super::{Result, chain};
use crate::domain::{Actor, Change};

/// The moment a command runs: the audit timestamp (UTC) and the desk's
/// local calendar day, against which "not in the future" is checked.
pub(super) struct Now {
    pub at: String,
    pub today: NaiveDate,
}

impl Now {
    pub fn current() -> Now {
        Now {
            at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            today: Local::now().date_naive(),
        }
    }
}

/// Whether a change is sent to the central EDC. Study data is; local set-up
/// and preferences are audited but stay at the desk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Outbox {
    Yes,
    No,
}

/// Where a change belongs: a subject-level field, or a form value of a
/// record at an event and repeat instance.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub event: Option<&'a str>,
    pub instance: Option<i64>,
}

impl<'a> Target<'a> {
    pub fn subject(entity: &'a str, entity_id: &'a str) -> Target<'a> {
        Target {
            entity,
            entity_id,
            event: None,
            instance: None,
        }
    }
}

pub(super) fn record_at(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    target: Target<'_>,
    changes: &[Change],
    reason: Option<&str>,
    outbox: Outbox,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    // Rows without a login leave `user_login` out: migrations before the
    // column existed write audit rows too.
    let mut audit = tx.prepare_cached(if actor.login.is_some() {
        "INSERT INTO audit(id, at, user_account, user_name, entity, entity_id, event, instance,
                           field, old_value, new_value, reason, prev_hash, hash, user_login)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    } else {
        "INSERT INTO audit(id, at, user_account, user_name, entity, entity_id, event, instance,
                           field, old_value, new_value, reason, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    })?;
    let mut out = tx.prepare_cached(
        "INSERT INTO outbox(audit_id, entity, entity_id, event, instance, field, value, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let (mut id, mut prev) = chain::last(tx)?;
    for c in changes {
        id += 1;
        let hash = chain::hash(
            &prev,
            &chain::AuditContent {
                id,
                at: &now.at,
                user_account: &actor.account,
                user_name: &actor.display_name,
                entity: target.entity,
                entity_id: target.entity_id,
                event: target.event,
                instance: target.instance,
                field: &c.field,
                old_value: c.old.as_deref(),
                new_value: c.new.as_deref(),
                reason,
                user_login: actor.login.as_deref(),
            },
        );
        let row = params![
            id,
            now.at,
            actor.account,
            actor.display_name,
            target.entity,
            target.entity_id,
            target.event,
            target.instance,
            c.field,
            c.old,
            c.new,
            reason,
            prev.as_slice(),
            hash.as_slice(),
        ];
        match &actor.login {
            Some(login) => {
                let mut with_login = row.to_vec();
                with_login.push(login);
                audit.execute(with_login.as_slice())?
            }
            None => audit.execute(row)?,
        };
        if outbox == Outbox::Yes {
            out.execute(params![
                id,
                target.entity,
                target.entity_id,
                target.event,
                target.instance,
                c.field,
                c.new,
                now.at
            ])?;
        }
        prev = hash;
    }
    // `meta.audit_head` moves once per transaction, before COMMIT (writer.rs).
    Ok(())
}

/// Sets a form value's row (REDCap's flat shape: record, event, stored
/// name, instance) to `value`, or removes it when `value` is `None`: an
/// empty value has no row.
pub(super) fn put_value(
    tx: &Transaction<'_>,
    now: &Now,
    at: &ValueAt<'_>,
    value: Option<&str>,
) -> Result<()> {
    match value {
        Some(v) => tx
            .prepare_cached(
                "INSERT INTO record_value(record_id, event, field, instance, value, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(record_id, event, field, instance)
                 DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute(params![
                at.record_id,
                at.event,
                at.field,
                at.instance,
                v,
                now.at
            ])?,
        None => tx
            .prepare_cached(
                "DELETE FROM record_value
                 WHERE record_id = ?1 AND event = ?2 AND field = ?3 AND instance = ?4",
            )?
            .execute(params![at.record_id, at.event, at.field, at.instance])?,
    };
    Ok(())
}

/// Where a form value is stored.
pub(super) struct ValueAt<'a> {
    pub record_id: &'a str,
    pub event: &'a str,
    pub field: &'a str,
    pub instance: i64,
}
