//! The screening log as cells of the study's screening instrument, and the
//! `subject` rows that show them.
//!
//! The screening log (screening date, initials, consent, the eligibility
//! checklist, status, its date and reason) is stored where REDCap keeps it:
//! `record_value` cells of the instrument the dictionary tags with
//! `@SITEDESK-*` (`metadata::screening`), at the instrument's event and
//! instance 1. A screening-log edit is a cell edit like any form value's,
//! so it travels the one path to the EDC (outbox, three-way check, audit,
//! acknowledgement). The `subject` and `subject_eligibility` rows are what
//! the cells say, rewritten by [`refresh_subject`] in every transaction that
//! changes one of the cells (an edit here, a pull, a resolved conflict);
//! nothing else writes them, so lists and counts read one indexed table.
//!
//! A dictionary without the instrument gets the snippet's
//! (`metadata::screening::snippet_instrument`): the log is kept in the same
//! cells, which wait in the outbox ("not sent to REDCap") until the EDC's
//! dictionary has those fields.

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::record::{Now, Outbox, Target, ValueAt, put_value, record_at};
use super::{Result, StoreError};
use crate::domain::{
    Actor, Answer, Change, Criterion, CriterionKind, ReasonChoice, Reasons, SubjectStatus,
};
use crate::forms::plain_text;
use crate::metadata::Dictionary;
use crate::metadata::design::Design;
use crate::metadata::screening::{
    Eligibility, Role, STATUS_CODES, ScreeningError, ScreeningInstrument,
    find_screening_instrument, snippet_instrument,
};

/// The screening instrument in force at this desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InstrumentInForce {
    pub instrument: ScreeningInstrument,
    /// Whether the dictionary in force has it; when not, the desk keeps the
    /// log in the snippet's fields, and they wait until the EDC has them.
    pub in_dictionary: bool,
}

impl InstrumentInForce {
    /// Finds the instrument a dictionary tags, or falls back to the
    /// snippet's. A tagged instrument that breaks the rules is an error.
    pub fn of(
        dictionary: &Dictionary,
        design: &Design,
    ) -> std::result::Result<InstrumentInForce, ScreeningError> {
        Ok(match find_screening_instrument(dictionary, design)? {
            Some(instrument) => InstrumentInForce {
                instrument,
                in_dictionary: true,
            },
            None => InstrumentInForce {
                instrument: snippet_instrument(design),
                in_dictionary: false,
            },
        })
    }

    /// The eligibility checklist: the tagged fields, their labels as text.
    pub fn criteria(&self) -> Vec<Criterion> {
        self.instrument
            .criteria
            .iter()
            .map(|c| Criterion {
                id: c.field.clone(),
                kind: match c.kind {
                    Eligibility::Inclusion => CriterionKind::Inclusion,
                    Eligibility::Exclusion => CriterionKind::Exclusion,
                },
                text: plain_text(&c.label),
            })
            .collect()
    }

    /// The coded reasons, and which ask for "other, specify".
    pub fn reasons(&self) -> Reasons {
        let has_other = self.instrument.field(Role::StatusReasonOther).is_some();
        Reasons {
            choices: self
                .instrument
                .reasons
                .iter()
                .map(|c| ReasonChoice {
                    code: c.code.clone(),
                    label: plain_text(&c.label),
                })
                .collect(),
            other: if has_other {
                self.instrument.other_codes.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// Turns the screening log's changes (its own names: `status`,
    /// `eligibility.<field>`, ...) into changes of the instrument's cells,
    /// with the values coded as REDCap stores them.
    pub(super) fn cells(&self, changes: &[Change]) -> Result<Vec<Change>> {
        let inst = &self.instrument;
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            let role = |role: Role| {
                inst.field(role)
                    .map(str::to_owned)
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "screening instrument field",
                        value: role.tag().to_owned(),
                    })
            };
            let (field, code): (String, fn(&str) -> Option<String>) = match c.field.as_str() {
                "status" => (role(Role::Status)?, status_code),
                "screening_date" => (role(Role::ScreeningDate)?, same),
                "label" => (role(Role::Initials)?, same),
                "consent_date" => (role(Role::ConsentDate)?, same),
                "consent_version" => (role(Role::ConsentVersion)?, same),
                "enrollment_date" => (role(Role::EnrollmentDate)?, same),
                "status_date" => (role(Role::StatusDate)?, same),
                "status_reason" => (role(Role::StatusReason)?, same),
                "status_reason_other" => match inst.field(Role::StatusReasonOther) {
                    Some(f) => (f.to_owned(), same),
                    // The domain asks for this text only for codes the
                    // instrument's own "other" field shows for.
                    None => continue,
                },
                other => match other.strip_prefix("eligibility.") {
                    Some(f) if inst.criteria.iter().any(|c| c.field == f) => {
                        (f.to_owned(), answer_code)
                    }
                    _ => {
                        return Err(StoreError::Corrupt {
                            what: "screening log field",
                            value: other.to_owned(),
                        });
                    }
                },
            };
            let encode = |v: &Option<String>| -> Result<Option<String>> {
                v.as_deref()
                    .map(|v| {
                        code(v).ok_or_else(|| StoreError::Corrupt {
                            what: "screening log value",
                            value: c.field.clone(),
                        })
                    })
                    .transpose()
            };
            out.push(Change {
                field,
                old: encode(&c.old)?,
                new: encode(&c.new)?,
            });
        }
        Ok(out)
    }
}

fn same(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn status_code(v: &str) -> Option<String> {
    let status = SubjectStatus::parse(v)?;
    let i = SubjectStatus::ALL.iter().position(|s| *s == status)?;
    Some(STATUS_CODES[i].to_owned())
}

fn answer_code(v: &str) -> Option<String> {
    Some(
        match Answer::parse(v)? {
            Answer::Yes => "1",
            Answer::No => "0",
        }
        .to_owned(),
    )
}

fn status_of_code(code: &str) -> Option<SubjectStatus> {
    let i = STATUS_CODES.iter().position(|c| *c == code)?;
    Some(SubjectStatus::ALL[i])
}

/// The instrument in force, as the last dictionary import settled it.
pub(super) fn load_instrument(c: &Connection) -> Result<Option<InstrumentInForce>> {
    let json: Option<String> = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'screening_instrument'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    json.map(|j| {
        serde_json::from_str(&j).map_err(|e| StoreError::Corrupt {
            what: "screening instrument",
            value: e.to_string(),
        })
    })
    .transpose()
}

/// Settles the instrument for a dictionary being put in force.
pub(super) fn save_instrument(tx: &Transaction<'_>, inst: &InstrumentInForce) -> Result<()> {
    let json = serde_json::to_string(inst).map_err(|e| StoreError::Corrupt {
        what: "screening instrument",
        value: e.to_string(),
    })?;
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('screening_instrument', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [json],
    )?;
    Ok(())
}

/// Rewrites the `subject` row of `record_id` from the instrument's cells:
/// a record whose cells hold a screening date and initials is a subject,
/// at `site_id` if it is new here (it keeps the site it has); one without
/// is none. Values that are not what the instrument allows (a status code
/// typed into the EDC that SiteDesk does not know, a malformed date) leave
/// the record out of the list rather than guess.
pub(super) fn refresh_subject(
    tx: &Transaction<'_>,
    now: &Now,
    inst: &InstrumentInForce,
    record_id: &str,
    site_id: &str,
) -> Result<()> {
    let i = &inst.instrument;
    let mut stmt = tx.prepare_cached(
        "SELECT field, value FROM record_value
         WHERE record_id = ?1 AND event = ?2 AND instance = 1",
    )?;
    let mut cells = std::collections::HashMap::new();
    for row in stmt.query_map(params![record_id, i.event], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (f, v) = row?;
        cells.insert(f, v);
    }
    let get = |role: Role| i.field(role).and_then(|f| cells.get(f)).map(String::as_str);
    let date = |role: Role| -> Option<Option<NaiveDate>> {
        match get(role) {
            None => Some(None),
            Some(v) => v.parse().ok().map(Some),
        }
    };
    let subject = (|| {
        let screening_date = date(Role::ScreeningDate)??;
        let label = get(Role::Initials)?.to_owned();
        let status = match get(Role::Status) {
            None => SubjectStatus::Screening,
            Some(code) => status_of_code(code)?,
        };
        Some((
            screening_date,
            label,
            status,
            date(Role::ConsentDate)?,
            date(Role::EnrollmentDate)?,
            date(Role::StatusDate)?,
        ))
    })();
    let Some((screening_date, label, status, consent_date, enrollment_date, status_date)) = subject
    else {
        tx.execute(
            "DELETE FROM subject_eligibility WHERE subject_id = ?1",
            [record_id],
        )?;
        tx.execute("DELETE FROM subject WHERE id = ?1", [record_id])?;
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO subject(id, site_id, status, screening_date, label, consent_date,
                             consent_version, enrollment_date, status_date, status_reason,
                             status_reason_other, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
         ON CONFLICT(id) DO UPDATE SET
             status = excluded.status, screening_date = excluded.screening_date,
             label = excluded.label, consent_date = excluded.consent_date,
             consent_version = excluded.consent_version,
             enrollment_date = excluded.enrollment_date, status_date = excluded.status_date,
             status_reason = excluded.status_reason,
             status_reason_other = excluded.status_reason_other,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        record_id,
        site_id,
        status.as_str(),
        screening_date.to_string(),
        label,
        consent_date.map(|d| d.to_string()),
        get(Role::ConsentVersion),
        enrollment_date.map(|d| d.to_string()),
        status_date.map(|d| d.to_string()),
        get(Role::StatusReason),
        get(Role::StatusReasonOther),
        now.at,
    ])?;
    tx.execute(
        "DELETE FROM subject_eligibility WHERE subject_id = ?1",
        [record_id],
    )?;
    let mut put = tx.prepare_cached(
        "INSERT INTO subject_eligibility(subject_id, criterion_id, answer) VALUES (?1, ?2, ?3)",
    )?;
    for c in &i.criteria {
        let answer = match cells.get(&c.field).map(String::as_str) {
            Some("1") => Answer::Yes,
            Some("0") => Answer::No,
            _ => continue,
        };
        put.execute(params![record_id, c.field, answer.as_str()])?;
    }
    Ok(())
}

/// Whether a stored field name is one of the instrument's, at its event:
/// a change to it changes what the subject list shows.
fn is_screening_cell(inst: &InstrumentInForce, event: &str, field: &str) -> bool {
    let i = &inst.instrument;
    event == i.event
        && (Role::ALL.iter().any(|r| i.field(*r) == Some(field))
            || i.criteria.iter().any(|c| c.field == field))
}

/// Brings the subject rows of `records` up to date after sync changed
/// some of their cells; a pulled record that is new here joins the desk's
/// site. Nothing to do before a study and its instrument are set up.
pub(super) fn refresh_subjects<'a>(
    tx: &Transaction<'_>,
    now: &Now,
    changed: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> Result<()> {
    let Some(inst) = load_instrument(tx)? else {
        return Ok(());
    };
    let site: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'desk_site_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(site) = site else { return Ok(()) };
    let records: std::collections::BTreeSet<&str> = changed
        .into_iter()
        .filter(|(_, event, field)| is_screening_cell(&inst, event, field))
        .map(|(record, _, _)| record)
        .collect();
    for record in records {
        refresh_subject(tx, now, &inst, record, &site)?;
    }
    Ok(())
}

/// The reason the audit rows of a moved screening log give.
pub const MOVED_WITH_INSTRUMENT: &str = "Screening log moved to the study's screening instrument";

/// Moves every subject's screening log from the cells of `from`, an
/// instrument the EDC did not have (the snippet's, kept at the desk), to
/// the cells of `to`, the dictionary's: each role to its field, the
/// criteria by kind and order. The new cells are edits waiting for the EDC
/// (audited, in the outbox); the old ones, which never left the desk, are
/// cleared (audited) with their waiting edits. Returns how many cells moved.
pub(super) fn move_log(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    from: &ScreeningInstrument,
    to: &ScreeningInstrument,
) -> Result<u32> {
    let mut pairs: Vec<(&str, &str)> = Role::ALL
        .iter()
        .filter_map(|r| Some((from.field(*r)?, to.field(*r)?)))
        .collect();
    for kind in [Eligibility::Inclusion, Eligibility::Exclusion] {
        let of = |i: &'_ ScreeningInstrument| -> Vec<String> {
            i.criteria
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.field.clone())
                .collect()
        };
        let (old, new) = (of(from), of(to));
        for (o, n) in old.iter().zip(new.iter()) {
            let o = from
                .criteria
                .iter()
                .find(|c| &c.field == o)
                .map(|c| c.field.as_str());
            let n = to
                .criteria
                .iter()
                .find(|c| &c.field == n)
                .map(|c| c.field.as_str());
            if let (Some(o), Some(n)) = (o, n) {
                pairs.push((o, n));
            }
        }
    }
    let pairs: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(o, n)| from.event != to.event || o != n)
        .collect();
    let subjects: Vec<String> = {
        let mut stmt = tx.prepare("SELECT id FROM subject ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut moved = 0;
    for id in &subjects {
        let mut cleared = Vec::new();
        let mut set = Vec::new();
        for (old, new) in &pairs {
            let value: Option<String> = tx
                .prepare_cached(
                    "SELECT value FROM record_value
                     WHERE record_id = ?1 AND event = ?2 AND field = ?3 AND instance = 1",
                )?
                .query_row(params![id, from.event, old], |r| r.get(0))
                .optional()?;
            let Some(value) = value else { continue };
            let old_at = ValueAt {
                record_id: id,
                event: &from.event,
                field: old,
                instance: 1,
            };
            put_value(tx, now, &old_at, None)?;
            tx.prepare_cached(
                "DELETE FROM outbox WHERE entity = 'record' AND entity_id = ?1 AND event = ?2
                     AND instance = 1 AND field = ?3",
            )?
            .execute(params![id, from.event, old])?;
            cleared.push(Change {
                field: (*old).to_owned(),
                old: Some(value.clone()),
                new: None,
            });
            let new_at = ValueAt {
                record_id: id,
                event: &to.event,
                field: new,
                instance: 1,
            };
            put_value(tx, now, &new_at, Some(&value))?;
            set.push(Change {
                field: (*new).to_owned(),
                old: None,
                new: Some(value),
            });
        }
        let at = |event| Target {
            entity: "record",
            entity_id: id,
            event: Some(event),
            instance: Some(1),
        };
        let reason = Some(MOVED_WITH_INSTRUMENT);
        record_at(
            tx,
            now,
            actor,
            at(&from.event),
            &cleared,
            reason,
            Outbox::No,
        )?;
        record_at(tx, now, actor, at(&to.event), &set, reason, Outbox::Yes)?;
        moved += set.len() as u32;
    }
    Ok(moved)
}

/// Rewrites every subject row from the instrument's cells.
pub(super) fn refresh_all(tx: &Transaction<'_>, now: &Now, inst: &InstrumentInForce) -> Result<()> {
    let subjects: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, site_id FROM subject ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, site) in subjects {
        refresh_subject(tx, now, inst, &id, &site)?;
    }
    Ok(())
}
