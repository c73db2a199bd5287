//! The SQL of every mutation. Called only by the writer thread, inside the
//! transaction it opened; each function writes the data change together
//! with its audit rows and, for study data, its outbox rows.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::read::{DictionaryImport, StudySetup, SyncSettings};
use super::read::{load_dictionary, load_setup, load_subject};
use super::record::{Now, Outbox, Target, ValueAt, put_value, record_at};
use super::screening::{
    InstrumentInForce, load_instrument, move_log, refresh_all, refresh_subject, save_instrument,
};
use super::{Result, StoreError};
use crate::domain::{
    Action, Actor, Change, DeskCode, DomainError, Field, RecordEdit, ScreeningInput, Site, Study,
    Subject, SubjectId, SubjectStatus, plan_action, plan_record_edit, plan_screening_edit,
    validate_new_screening,
};
use crate::i18n::Lang;
use crate::metadata::Dictionary;
use crate::metadata::design::Design;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The longest display name; it is shown beside every audit row.
pub const DISPLAY_NAME_MAX_CHARS: usize = 80;

/// Gives a new file its desk code; an existing file keeps the one it has.
pub(super) fn ensure_desk(conn: &Connection, code: Option<DeskCode>) -> Result<()> {
    let code = code.unwrap_or_else(DeskCode::random);
    conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('desk_code', ?1)",
        [code.as_str()],
    )?;
    Ok(())
}

pub(super) fn configure_study(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    study: &Study,
    sites: &[Site],
    desk_site_id: &str,
) -> Result<bool> {
    let exists: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM study)", [], |r| r.get(0))?;
    if exists {
        return Ok(false);
    }
    if !sites.iter().any(|s| s.id == desk_site_id) {
        return Err(StoreError::NotFound {
            entity: "site",
            id: desk_site_id.to_owned(),
        });
    }
    tx.execute(
        "INSERT INTO study(id, title, enrollment_target) VALUES (?1, ?2, ?3)",
        params![study.id, study.title, study.enrollment_target],
    )?;
    for s in sites {
        tx.execute(
            "INSERT INTO site(id, study_id, code, name) VALUES (?1, ?2, ?3, ?4)",
            params![s.id, study.id, s.code, s.name],
        )?;
    }
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('desk_site_id', ?1)",
        [desk_site_id],
    )?;
    let changes = [
        Change {
            field: "title".into(),
            old: None,
            new: Some(study.title.clone()),
        },
        Change {
            field: "desk_site_id".into(),
            old: None,
            new: Some(desk_site_id.to_owned()),
        },
    ];
    record(
        tx,
        now,
        actor,
        "study",
        &study.id,
        &changes,
        None,
        Outbox::No,
    )?;
    Ok(true)
}

/// What the desk's practice entries (the demo's records) become when the
/// desk binds to its study's project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Practice {
    /// Their values, subjects, outbox rows, bases and conflicts go; the
    /// audit keeps one row per record saying so.
    Discard,
    /// They stay, and wait in the outbox for the project's EDC.
    CarryOver,
}

/// Everything a desk's binding to its study's project sets, at once.
#[derive(Debug, Clone)]
pub struct Binding {
    pub study: Study,
    pub sites: Vec<Site>,
    pub desk_site_id: String,
    pub dictionary: Dictionary,
    pub design: Design,
    /// Where the forms came from, as Settings shows it.
    pub source: String,
    pub edc_url: String,
    pub edc_token: String,
    /// The demo study's id while the desk runs it: leaving it with
    /// practice entries needs `practice`.
    pub leaving_demo: bool,
    pub practice: Option<Practice>,
}

/// What a binding did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BindOutcome {
    /// Practice records discarded (their audit rows say so).
    pub discarded: u32,
    /// Practice records kept, waiting for the project's EDC.
    pub carried_over: u32,
}

/// The reason on each discarded practice record's audit row.
pub const DISCARDED_REASON: &str = "Practice entry discarded when the desk joined its study";

/// The records of this desk: subjects registered here and records with
/// values here, each once.
fn record_ids(tx: &Transaction<'_>) -> Result<Vec<String>> {
    let mut stmt = tx.prepare(
        "SELECT id FROM subject UNION SELECT DISTINCT record_id FROM record_value ORDER BY 1",
    )?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(ids)
}

/// Binds the desk to its study's project in one step: the study, its
/// sites (replacing the ones before) and this desk's site, the practice
/// entries discarded or carried over, the dictionary and design (which
/// settle the screening instrument), the EDC, and the set-up marked as
/// chosen. Audited; nothing of it goes to the outbox.
pub(super) fn bind_study(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    b: &Binding,
) -> Result<BindOutcome> {
    if !b.sites.iter().any(|s| s.id == b.desk_site_id) {
        return Err(StoreError::NotFound {
            entity: "site",
            id: b.desk_site_id.clone(),
        });
    }
    let previous = load_setup(tx)?;
    let ids = if b.leaving_demo {
        record_ids(tx)?
    } else {
        Vec::new()
    };
    let count = ids.len() as u32;
    let practice = match (b.practice, count) {
        (_, 0) => None,
        (None, count) => return Err(StoreError::PracticeChoice { count }),
        (Some(p), _) => Some(p),
    };
    let mut outcome = BindOutcome {
        discarded: 0,
        carried_over: 0,
    };
    match practice {
        Some(Practice::Discard) => {
            for id in &ids {
                let change = Change {
                    field: "practice_entry".into(),
                    old: Some("kept".into()),
                    new: Some("discarded".into()),
                };
                record(
                    tx,
                    now,
                    actor,
                    "record",
                    id,
                    &[change],
                    Some(DISCARDED_REASON),
                    Outbox::No,
                )?;
            }
            for sql in [
                "DELETE FROM outbox",
                "DELETE FROM record_value",
                "DELETE FROM record_base",
                "DELETE FROM sync_conflict",
                "DELETE FROM subject_eligibility",
                "DELETE FROM subject",
            ] {
                tx.execute(sql, [])?;
            }
            outcome.discarded = count;
        }
        Some(Practice::CarryOver) => {
            // The screening logs go where the project keeps them, so the
            // subjects stay subjects; their other cells wait for events
            // and fields the project has (the dictionary screen flags them).
            let to = InstrumentInForce::of(&b.dictionary, &b.design)?;
            if let Some(from) = load_instrument(tx)?
                && from.instrument != to.instrument
            {
                move_log(tx, now, actor, &from.instrument, &to.instrument)?;
            }
            outcome.carried_over = count;
        }
        None => {}
    }
    // The study and sites are replaced in an order the foreign keys allow:
    // the new rows first, the subjects moved to this desk's new site, then
    // the old rows. Old codes step aside so that a new site may reuse one.
    tx.execute(
        "INSERT INTO study(id, title, enrollment_target) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET title = excluded.title,
                                       enrollment_target = excluded.enrollment_target",
        params![b.study.id, b.study.title, b.study.enrollment_target],
    )?;
    tx.execute("UPDATE site SET code = '~' || id", [])?;
    for s in &b.sites {
        tx.execute(
            "INSERT INTO site(id, study_id, code, name) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET study_id = excluded.study_id,
                                           code = excluded.code, name = excluded.name",
            params![s.id, b.study.id, s.code, s.name],
        )?;
    }
    tx.execute(
        "UPDATE subject SET site_id = ?1 WHERE site_id NOT IN (SELECT id FROM site WHERE study_id = ?2)",
        params![b.desk_site_id, b.study.id],
    )?;
    // Sequences start again from the ids present, under the new codes.
    tx.execute("DELETE FROM subject_sequence", [])?;
    tx.execute("DELETE FROM criterion WHERE study_id <> ?1", [&b.study.id])?;
    tx.execute("DELETE FROM site WHERE study_id <> ?1", [&b.study.id])?;
    tx.execute("DELETE FROM study WHERE id <> ?1", [&b.study.id])?;
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('desk_site_id', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [&b.desk_site_id],
    )?;
    tx.execute(
        "INSERT INTO settings(key, value) VALUES ('setup_chosen', 'bound')
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [],
    )?;
    let sites = b
        .sites
        .iter()
        .map(|s| format!("{} ({})", s.id, s.code))
        .collect::<Vec<_>>()
        .join(", ");
    let old = |f: fn(&StudySetup) -> String| previous.as_ref().map(f);
    let mut changes = vec![
        Change {
            field: "study_id".into(),
            old: old(|p| p.study.id.clone()),
            new: Some(b.study.id.clone()),
        },
        Change {
            field: "title".into(),
            old: old(|p| p.study.title.clone()),
            new: Some(b.study.title.clone()),
        },
        Change {
            field: "sites".into(),
            old: old(|p| {
                p.sites
                    .iter()
                    .map(|s| format!("{} ({})", s.id, s.code))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            new: Some(sites),
        },
        Change {
            field: "desk_site_id".into(),
            old: old(|p| p.desk_site_id.clone()),
            new: Some(b.desk_site_id.clone()),
        },
    ];
    if let Some(p) = practice {
        changes.push(Change {
            field: "practice_entries".into(),
            old: Some(count.to_string()),
            new: Some(match p {
                Practice::Discard => "discarded".into(),
                Practice::CarryOver => format!("{count} carried over"),
            }),
        });
    }
    changes.retain(|c| c.old != c.new);
    record(
        tx,
        now,
        actor,
        "study",
        &b.study.id,
        &changes,
        None,
        Outbox::No,
    )?;
    import_dictionary(tx, now, actor, &b.dictionary, Some(&b.design), &b.source)?;
    set_edc_connection(tx, now, actor, Some((&b.edc_url, &b.edc_token)))?;
    Ok(outcome)
}

/// Remembers that the person at the desk chose to try the demo, so the
/// first-start choice is not offered again. Audited.
pub(super) fn choose_demo(tx: &Transaction<'_>, now: &Now, actor: &Actor) -> Result<()> {
    let old: Option<String> = tx
        .query_row(
            "SELECT value FROM settings WHERE key = 'setup_chosen'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if old.is_some() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO settings(key, value) VALUES ('setup_chosen', 'demo')",
        [],
    )?;
    let change = Change {
        field: "setup_chosen".into(),
        old: None,
        new: Some("demo".into()),
    };
    record(
        tx,
        now,
        actor,
        "settings",
        "setup",
        &[change],
        None,
        Outbox::No,
    )
}

pub(super) fn screen_subject(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    input: &ScreeningInput,
) -> Result<Subject> {
    let setup = load_setup(tx)?.ok_or(StoreError::NoStudy)?;
    let screening = validate_new_screening(input, &setup.criteria, now.today)?;
    let id = next_subject_id(tx, &setup)?;
    let new = |field: &str, v: String| Change {
        field: field.into(),
        old: None,
        new: Some(v),
    };
    let mut changes = vec![
        new("status", SubjectStatus::Screening.as_str().into()),
        new("screening_date", screening.screening_date.to_string()),
        new("label", screening.label.clone()),
    ];
    if let (Some(date), Some(version)) = (screening.consent_date, &screening.consent_version) {
        changes.push(new("consent_date", date.to_string()));
        changes.push(new("consent_version", version.clone()));
    }
    for (criterion, answer) in &screening.eligibility {
        changes.push(new(
            &format!("eligibility.{criterion}"),
            answer.as_str().into(),
        ));
    }
    write_screening_log(tx, now, actor, &setup, &id, &changes, None)
}

/// The next id of this desk's subjects at its site.
fn next_subject_id(tx: &Transaction<'_>, setup: &StudySetup) -> Result<String> {
    let site = setup.desk_site();
    // Only the writer runs this, one command at a time: read and bump are
    // one step as far as any other caller can tell.
    let desk = DeskCode::parse(&setup.desk_code).ok_or_else(|| StoreError::Corrupt {
        what: "desk code",
        value: setup.desk_code.clone(),
    })?;
    // A site's sequence starts after any id of this desk already present
    // (subjects restored from a backup, records pulled back from the EDC),
    // never on top of one.
    let prefix = format!("{}-{}-", site.code, desk);
    tx.execute(
        "INSERT INTO subject_sequence(site_id, next)
         SELECT ?1, 1 + coalesce(max(CAST(substr(id, length(?2) + 1) AS INTEGER)), 0)
         FROM (SELECT id FROM subject WHERE site_id = ?1 AND substr(id, 1, length(?2)) = ?2
               UNION ALL
               SELECT DISTINCT record_id FROM record_value
               WHERE record_id >= ?2 AND record_id < ?2 || '~')
         -- WHERE: without it SQLite reads ON CONFLICT as a join's ON.
         WHERE true
         ON CONFLICT(site_id) DO NOTHING",
        params![site.id, prefix],
    )?;
    let seq: u32 = tx.query_row(
        "UPDATE subject_sequence SET next = next + 1 WHERE site_id = ?1 RETURNING next - 1",
        [&site.id],
        |r| r.get(0),
    )?;
    Ok(SubjectId::new(&site.code, &desk, seq).into_string())
}

/// The reason the audit row of a new id gives.
pub const ID_TAKEN_REASON: &str = "The EDC uses this id for another record";

/// Gives a record held because the EDC uses its id for another record
/// (`id_collision`) this desk's next id: its values, its waiting edits and
/// its subject row move to the new id, audited; the old id is left to the
/// EDC's record. Returns the new id.
pub(super) fn renumber_record(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    old: &str,
) -> Result<String> {
    let held: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM id_collision WHERE record_id = ?1 AND resolved_at IS NULL)",
        [old],
        |r| r.get(0),
    )?;
    if !held {
        return Err(StoreError::NotFound {
            entity: "id collision",
            id: old.to_owned(),
        });
    }
    let setup = load_setup(tx)?.ok_or(StoreError::NoStudy)?;
    let new = next_subject_id(tx, &setup)?;
    let site: Option<String> = tx
        .query_row("SELECT site_id FROM subject WHERE id = ?1", [old], |r| {
            r.get(0)
        })
        .optional()?;
    tx.execute(
        "UPDATE record_value SET record_id = ?2 WHERE record_id = ?1",
        params![old, new],
    )?;
    tx.execute(
        "UPDATE outbox SET entity_id = ?2 WHERE entity = 'record' AND entity_id = ?1",
        params![old, new],
    )?;
    tx.execute(
        "DELETE FROM subject_eligibility WHERE subject_id = ?1",
        [old],
    )?;
    tx.execute("DELETE FROM subject WHERE id = ?1", [old])?;
    if let Some(inst) = load_instrument(tx)? {
        let site = site.unwrap_or_else(|| setup.desk_site_id.clone());
        refresh_subject(tx, now, &inst, &new, &site)?;
    }
    tx.execute(
        "UPDATE id_collision SET resolved_at = ?2, resolved_by = ?3, new_id = ?4
         WHERE record_id = ?1",
        params![old, now.at, actor.account, new],
    )?;
    // The EDC's record of the old id was left out of earlier pulls; the
    // next pull starts from the beginning and brings it.
    super::sync::clear_cursor(tx)?;
    let field = super::read::load_dictionary(tx)?
        .map(|d| d.dictionary.record_id_field().name.clone())
        .unwrap_or_else(|| "record_id".into());
    let change = Change {
        field,
        old: Some(old.to_owned()),
        new: Some(new.clone()),
    };
    record(
        tx,
        now,
        actor,
        "record",
        &new,
        &[change],
        Some(ID_TAKEN_REASON),
        Outbox::No,
    )?;
    Ok(new)
}

pub(super) fn edit_screening(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    subject_id: &str,
    input: &ScreeningInput,
    reason: Option<&str>,
) -> Result<Subject> {
    let setup = load_setup(tx)?.ok_or(StoreError::NoStudy)?;
    let subject = existing_subject(tx, subject_id)?;
    let changes = plan_screening_edit(&subject, input, &setup.criteria, now.today, reason)?;
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    write_screening_log(tx, now, actor, &setup, subject_id, &changes, reason)
}

pub(super) fn apply_action(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    subject_id: &str,
    action: &Action,
) -> Result<Subject> {
    let setup = load_setup(tx)?.ok_or(StoreError::NoStudy)?;
    let subject = existing_subject(tx, subject_id)?;
    let changes = plan_action(&subject, action, &setup.criteria, &setup.reasons, now.today)?;
    // The audit row's "why" of a screen failure or a withdrawal is the
    // reason as the instrument words it.
    let reason = match action {
        Action::ScreenFail { reason, .. } | Action::Withdraw { reason, .. } => {
            let label = setup
                .reasons
                .choices
                .iter()
                .find(|c| c.code == reason.code.trim())
                .map(|c| c.label.clone())
                .unwrap_or_default();
            match reason
                .other
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty())
            {
                Some(other) if setup.reasons.other.contains(&reason.code) => {
                    Some(format!("{label}: {other}"))
                }
                _ => Some(label),
            }
        }
        Action::Enroll { .. } | Action::Complete { .. } => None,
    };
    write_screening_log(
        tx,
        now,
        actor,
        &setup,
        subject_id,
        &changes,
        reason.as_deref(),
    )
}

/// Writes a screening-log change as cells of the screening instrument,
/// each with its audit row and outbox row, and brings the subject row up
/// to date.
fn write_screening_log(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    setup: &StudySetup,
    id: &str,
    changes: &[Change],
    reason: Option<&str>,
) -> Result<Subject> {
    let inst = load_instrument(tx)?.ok_or(StoreError::NoStudy)?;
    let cells = inst.cells(changes)?;
    let event = inst.instrument.event.as_str();
    for c in &cells {
        let at = ValueAt {
            record_id: id,
            event,
            field: &c.field,
            instance: 1,
        };
        put_value(tx, now, &at, c.new.as_deref())?;
    }
    let target = Target {
        entity: "record",
        entity_id: id,
        event: Some(event),
        instance: Some(1),
    };
    record_at(tx, now, actor, target, &cells, reason, Outbox::Yes)?;
    refresh_subject(tx, now, &inst, id, &setup.desk_site_id)?;
    existing_subject(tx, id)
}

/// Writes the fields of a record edit whose value changes, each with its
/// audit row (chained) and its outbox row. Returns how many changed.
pub(super) fn set_values(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    edit: &RecordEdit,
) -> Result<u32> {
    // plan_record_edit checks the edit's shape before anything is written.
    let record_id = edit.record_id.trim();
    let instance = i64::from(edit.instance);
    let mut current = BTreeMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT value FROM record_value
             WHERE record_id = ?1 AND event = ?2 AND field = ?3 AND instance = ?4",
        )?;
        for field in edit.values.keys() {
            let v: Option<String> = stmt
                .query_row(params![record_id, edit.event, field, instance], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(v) = v {
                current.insert(field.clone(), v);
            }
        }
    }
    let (changes, reason) = plan_record_edit(&current, edit)?;
    if !changes.is_empty() {
        // A signed form's (or visit's) sign-off does not survive a change.
        let forms: std::collections::BTreeSet<String> = match load_dictionary(tx)? {
            Some(stored) => changes
                .iter()
                .filter_map(|c| {
                    let name = c.field.split("___").next().unwrap_or(&c.field);
                    stored
                        .dictionary
                        .field(name)
                        .map(|f| f.form.clone())
                        .or_else(|| name.strip_suffix("_complete").map(str::to_owned))
                })
                .collect(),
            None => Default::default(),
        };
        super::signoff::void_covering(
            tx,
            now,
            actor,
            record_id,
            &edit.event,
            edit.instance,
            &forms,
            reason.as_deref(),
        )?;
    }
    for c in &changes {
        let at = ValueAt {
            record_id,
            event: &edit.event,
            field: &c.field,
            instance,
        };
        put_value(tx, now, &at, c.new.as_deref())?;
    }
    let target = Target {
        entity: "record",
        entity_id: record_id,
        event: Some(&edit.event),
        instance: Some(instance),
    };
    record_at(
        tx,
        now,
        actor,
        target,
        &changes,
        reason.as_deref(),
        Outbox::Yes,
    )?;
    Ok(changes.len() as u32)
}

/// Makes `dictionary` (with `design`, or with the design in force pruned
/// to the forms that remain when there is none, as from a dictionary file)
/// the one in force, unless it already is. Returns what changed against
/// the previous one (every field is new at the first import). Values
/// entered under an earlier version are never touched.
pub(super) fn import_dictionary(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    dictionary: &Dictionary,
    design: Option<&Design>,
    source: &str,
) -> Result<DictionaryImport> {
    let current = super::read::load_dictionary(tx)?;
    let design = match design {
        Some(d) => d.clone(),
        None => current
            .as_ref()
            .map(|c| c.design.pruned_to(dictionary))
            .unwrap_or_default(),
    };
    let hash = crate::metadata::metadata_hash(dictionary, &design);
    if current.as_ref().is_some_and(|c| c.hash == hash) {
        return Ok(DictionaryImport {
            hash,
            changed: false,
            changes: Vec::new(),
        });
    }
    // A tagged screening instrument that breaks the rules refuses the
    // whole dictionary: the log must not land in the wrong fields.
    let instrument = InstrumentInForce::of(dictionary, &design)?;
    let previous = load_instrument(tx)?;
    if let Some(previous) = &previous
        && !previous.in_dictionary
        && previous.instrument != instrument.instrument
    {
        // The log kept at the desk in the snippet's cells goes where the
        // study's instrument has it, and from there to the EDC.
        let moved = move_log(tx, now, actor, &previous.instrument, &instrument.instrument)?;
        tracing::info!(moved, "screening log moved to the study's instrument");
    }
    save_instrument(tx, &instrument)?;
    if previous.as_ref() != Some(&instrument) {
        refresh_all(tx, now, &instrument)?;
    }
    let changes = dictionary.changes_since(current.as_ref().map(|c| &c.dictionary));
    let corrupt = |what, e: serde_json::Error| StoreError::Corrupt {
        what,
        value: e.to_string(),
    };
    let body = serde_json::to_string(dictionary).map_err(|e| corrupt("dictionary", e))?;
    let design_body = (design != Design::default())
        .then(|| serde_json::to_string(&design))
        .transpose()
        .map_err(|e| corrupt("design", e))?;
    tx.execute(
        "INSERT INTO dictionary_version(hash, source, imported_at, imported_by, body, design)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(hash) DO NOTHING",
        params![hash, source, now.at, actor.account, body, design_body],
    )?;
    let id: i64 = tx.query_row(
        "SELECT id FROM dictionary_version WHERE hash = ?1",
        [&hash],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('dictionary_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [id.to_string()],
    )?;
    let change = Change {
        field: "dictionary_version".into(),
        old: current.map(|c| c.hash),
        new: Some(hash.clone()),
    };
    record(
        tx,
        now,
        actor,
        "study",
        "metadata",
        &[change],
        None,
        Outbox::No,
    )?;
    Ok(DictionaryImport {
        hash,
        changed: true,
        changes,
    })
}

/// Saves (or, with `None`, forgets) the EDC this desk syncs with. The
/// token is kept in the database only; its audit rows say that it changed,
/// never what it is.
pub(super) fn set_edc_connection(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    connection: Option<(&str, &str)>,
) -> Result<()> {
    let get = |key: &str| -> Result<Option<String>> {
        Ok(tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    };
    let (old_url, old_token) = (get("edc_url")?, get("edc_token")?);
    let (url, token) = match connection {
        Some((u, t)) => (Some(u), Some(t)),
        None => (None, None),
    };
    let mut changes = Vec::new();
    if old_url.as_deref() != url {
        changes.push(Change {
            field: "edc_url".into(),
            old: old_url,
            new: url.map(str::to_owned),
        });
    }
    if old_token.as_deref() != token {
        let hidden = |t: Option<&str>, what: &str| t.map(|_| what.to_owned());
        changes.push(Change {
            field: "edc_token".into(),
            old: hidden(old_token.as_deref(), "(hidden)"),
            new: hidden(token, "(hidden, new)"),
        });
    }
    if !changes.is_empty() {
        // Another server, or another project or site on the same one: what
        // the desk last pulled from the old one says nothing about the new
        // one. Its bases would make the three-way comparison take the new
        // EDC's blanks over the desk's values; without them every
        // difference is a conflict for a person to decide, and the next
        // pull starts from the beginning of the new EDC's log. The outbox
        // stays: edits not yet acknowledged are pushed to the new EDC.
        tx.execute("DELETE FROM record_base", [])?;
        super::sync::clear_cursor(tx)?;
    }
    for (key, value) in [("edc_url", url), ("edc_token", token)] {
        match value {
            Some(v) => tx.execute(
                "INSERT INTO settings(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, v],
            )?,
            None => tx.execute("DELETE FROM settings WHERE key = ?1", [key])?,
        };
    }
    record(
        tx,
        now,
        actor,
        "settings",
        "edc",
        &changes,
        None,
        Outbox::No,
    )
}

/// Saves how this desk syncs: minutes between runs, and push batches in
/// flight at once. Audited; not sent to the EDC.
pub(super) fn set_sync_settings(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    settings: SyncSettings,
) -> Result<()> {
    if !(1..=1440).contains(&settings.interval_minutes) {
        return Err(DomainError::OutOfRange {
            field: Field::SyncInterval,
            min: 1,
            max: 1440,
        }
        .into());
    }
    if !(1..=8).contains(&settings.concurrency) {
        return Err(DomainError::OutOfRange {
            field: Field::SyncConcurrency,
            min: 1,
            max: 8,
        }
        .into());
    }
    let mut changes = Vec::new();
    for (key, value) in [
        ("sync_interval_minutes", settings.interval_minutes),
        ("sync_concurrency", settings.concurrency),
    ] {
        let value = value.to_string();
        let old: Option<String> = tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        if old.as_deref() == Some(value.as_str()) {
            continue;
        }
        tx.execute(
            "INSERT INTO settings(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value.as_str()],
        )?;
        changes.push(Change {
            field: key.into(),
            old,
            new: Some(value),
        });
    }
    record(
        tx,
        now,
        actor,
        "settings",
        "sync",
        &changes,
        None,
        Outbox::No,
    )
}

/// The largest enrollment target a desk takes: more subjects than any
/// trial enrolls, small enough that a typo of an extra digit or two stands out.
pub const TARGET_MAX: u32 = 100_000;

/// Sets this desk's own enrollment target for the study (`site` `None`) or
/// one site, or with `target` `None` goes back to the screening
/// instrument's. Audited with its reason; local: it is not sent to the EDC,
/// whose annotation keeps its value.
pub(super) fn set_target(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    site: Option<&str>,
    target: Option<u32>,
    reason: &str,
) -> Result<()> {
    let reason = crate::domain::check_reason(reason)?;
    if let Some(t) = target
        && t > TARGET_MAX
    {
        return Err(DomainError::OutOfRange {
            field: Field::Target,
            min: 0,
            max: TARGET_MAX,
        }
        .into());
    }
    if let Some(site) = site {
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM site WHERE id = ?1)",
            [site],
            |r| r.get(0),
        )?;
        if !known {
            return Err(StoreError::NotFound {
                entity: "site",
                id: site.to_owned(),
            });
        }
    }
    let key = match site {
        Some(s) => format!("target:site:{s}"),
        None => "target:study".to_owned(),
    };
    let old: Option<String> = tx
        .query_row("SELECT value FROM settings WHERE key = ?1", [&key], |r| {
            r.get(0)
        })
        .optional()?;
    let new = target.map(|t| t.to_string());
    if old == new {
        return Err(DomainError::NothingChanged.into());
    }
    match &new {
        Some(v) => tx.execute(
            "INSERT INTO settings(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [&key, v],
        )?,
        None => tx.execute("DELETE FROM settings WHERE key = ?1", [&key])?,
    };
    let change = Change {
        field: key,
        old,
        new,
    };
    record(
        tx,
        now,
        actor,
        "study",
        "target",
        &[change],
        Some(&reason),
        Outbox::No,
    )
}

pub(super) fn set_preferences(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    display_name: &str,
    language: Lang,
) -> Result<()> {
    let display_name = display_name.trim();
    if display_name.chars().count() > DISPLAY_NAME_MAX_CHARS {
        return Err(DomainError::TooLong {
            field: Field::DisplayName,
            max: DISPLAY_NAME_MAX_CHARS,
        }
        .into());
    }
    crate::domain::check_plain_text(Field::DisplayName, display_name)?;
    let mut changes = Vec::new();
    for (key, value) in [("display_name", display_name), ("language", language.tag())] {
        let old: Option<String> = tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        if old.as_deref() == Some(value) {
            continue;
        }
        tx.execute(
            "INSERT INTO settings(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        changes.push(Change {
            field: key.into(),
            old,
            new: Some(value.into()),
        });
    }
    record(
        tx,
        now,
        actor,
        "settings",
        &actor.account,
        &changes,
        None,
        Outbox::No,
    )
}

fn existing_subject(conn: &Connection, id: &str) -> Result<Subject> {
    load_subject(conn, id)?.ok_or_else(|| StoreError::NotFound {
        entity: "subject",
        id: id.to_owned(),
    })
}

/// Writes one audit row per change, chained to the one before it (see
/// `chain.rs`), and, for study data, one outbox row tied to it.
#[allow(clippy::too_many_arguments)]
fn record(
    tx: &Transaction<'_>,
    now: &Now,
    actor: &Actor,
    entity: &str,
    entity_id: &str,
    changes: &[Change],
    reason: Option<&str>,
    outbox: Outbox,
) -> Result<()> {
    record_at(
        tx,
        now,
        actor,
        Target::subject(entity, entity_id),
        changes,
        reason,
        outbox,
    )
}
