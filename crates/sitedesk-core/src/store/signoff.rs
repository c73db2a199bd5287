//! Review sign-offs: a supervisor's electronic signature on a subject's
//! form, or on a whole visit, at the desk (REDCap's API cannot set its own
//! e-signatures, so they are desk evidence). Each carries the printed name,
//! the time and the meaning, as 21 CFR 11.50 asks; signing and voiding are
//! audited (entity `signoff`, the field the form's name or `visit`). A
//! change to a signed form's values voids its sign-off, with the change's
//! reason, in the same transaction as the change.

use std::collections::BTreeSet;

use rusqlite::{Connection, Transaction, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::record::{Now, Outbox, Target, record_at};
use super::{Result, StoreError};
use crate::domain::{Actor, Change, DomainError};

/// What a signature means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    Reviewed,
    Approved,
}

impl Meaning {
    pub fn as_str(self) -> &'static str {
        match self {
            Meaning::Reviewed => "reviewed",
            Meaning::Approved => "approved",
        }
    }

    fn parse(s: &str) -> Option<Meaning> {
        [Meaning::Reviewed, Meaning::Approved]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The field an audit row of a whole visit's sign-off names.
const VISIT: &str = "visit";

/// A sign-off as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SignOff {
    #[ts(type = "number")]
    pub id: i64,
    pub record_id: String,
    pub event: String,
    pub instance: u32,
    /// The form signed; `None` for the whole visit.
    pub form: Option<String>,
    pub meaning: Meaning,
    pub signer_login: String,
    /// The printed name, as it was when signing.
    pub signer_name: String,
    pub signed_at: String,
    pub voided_at: Option<String>,
    pub void_reason: Option<String>,
}

/// What a supervisor signs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct SignOffRequest {
    pub record_id: String,
    pub event: String,
    pub instance: u32,
    pub form: Option<String>,
    pub meaning: Meaning,
}

const SELECT: &str = "SELECT id, record_id, event, instance, form, meaning, signer_login,
        signer_name, signed_at, voided_at, void_reason FROM sign_off";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<SignOff> {
    let meaning: String = r.get(5)?;
    Ok(SignOff {
        id: r.get(0)?,
        record_id: r.get(1)?,
        event: r.get(2)?,
        instance: r.get(3)?,
        form: r.get(4)?,
        meaning: Meaning::parse(&meaning).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown meaning {meaning:?}").into(),
            )
        })?,
        signer_login: r.get(6)?,
        signer_name: r.get(7)?,
        signed_at: r.get(8)?,
        voided_at: r.get(9)?,
        void_reason: r.get(10)?,
    })
}

/// The sign-offs of a record at an event and instance, newest first,
/// voided ones too.
pub(super) fn of_visit(
    conn: &Connection,
    record_id: &str,
    event: &str,
    instance: u32,
) -> Result<Vec<SignOff>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE record_id = ?1 AND event = ?2 AND instance = ?3 ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map(params![record_id, event, instance], read)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Signs, audited. The signer is the person signed in (`actor`), whose
/// password the caller has just asked again. One valid sign-off per form
/// or visit: signing again while one stands is refused.
pub(super) fn sign(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    req: &SignOffRequest,
) -> Result<SignOff> {
    let Some(login) = &actor.login else {
        return Err(DomainError::SignerRequired.into());
    };
    let standing = of_visit(tx, &req.record_id, &req.event, req.instance)?
        .into_iter()
        .any(|s| s.voided_at.is_none() && s.form == req.form);
    if standing {
        return Err(DomainError::AlreadySigned.into());
    }
    tx.execute(
        "INSERT INTO sign_off(record_id, event, instance, form, meaning, signer_login,
                              signer_name, signed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            req.record_id,
            req.event,
            req.instance,
            req.form,
            req.meaning.as_str(),
            login,
            actor.display_name,
            now.at
        ],
    )?;
    let id = tx.last_insert_rowid();
    audit(
        tx,
        now,
        actor,
        &req.record_id,
        &req.event,
        req.instance,
        req.form.as_deref(),
        None,
        Some(req.meaning.as_str()),
        None,
    )?;
    tx.query_row(&format!("{SELECT} WHERE id = ?1"), [id], read)
        .map_err(StoreError::from)
}

/// Voids the valid sign-offs that a change of `forms`' values at this
/// record, event and instance breaks (the forms' own, and the visit's),
/// with the change's `reason`; refused without one. Answers how many.
#[allow(clippy::too_many_arguments)]
pub(super) fn void_covering(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    record_id: &str,
    event: &str,
    instance: u32,
    forms: &BTreeSet<String>,
    reason: Option<&str>,
) -> Result<u32> {
    let broken: Vec<SignOff> = of_visit(tx, record_id, event, instance)?
        .into_iter()
        .filter(|s| s.voided_at.is_none())
        .filter(|s| s.form.as_ref().is_none_or(|f| forms.contains(f)))
        .collect();
    if broken.is_empty() {
        return Ok(0);
    }
    let Some(reason) = reason else {
        return Err(DomainError::SignedFormReasonRequired.into());
    };
    for s in &broken {
        tx.execute(
            "UPDATE sign_off SET voided_at = ?2, void_reason = ?3, voided_by = ?4 WHERE id = ?1",
            params![s.id, now.at, reason, actor.login],
        )?;
        audit(
            tx,
            now,
            actor,
            record_id,
            event,
            instance,
            s.form.as_deref(),
            Some(s.meaning.as_str()),
            None,
            Some(reason),
        )?;
    }
    Ok(broken.len() as u32)
}

#[allow(clippy::too_many_arguments)]
fn audit(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    record_id: &str,
    event: &str,
    instance: u32,
    form: Option<&str>,
    old: Option<&str>,
    new: Option<&str>,
    reason: Option<&str>,
) -> Result<()> {
    record_at(
        tx,
        now,
        actor,
        Target {
            entity: "signoff",
            entity_id: record_id,
            event: Some(event),
            instance: Some(i64::from(instance)),
        },
        &[Change {
            field: form.unwrap_or(VISIT).to_owned(),
            old: old.map(str::to_owned),
            new: new.map(str::to_owned),
        }],
        reason,
        Outbox::No,
    )
}
