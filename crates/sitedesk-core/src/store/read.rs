//! Queries, run on read-only connections (and, for the writer's own
//! checks, inside its transaction: the `load_*` functions take any
//! `&Connection`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use tokio_util::sync::CancellationToken;

use super::chain::AuditVerification;
use super::cipher::unlock_connection;
use super::screening::load_instrument;
use super::{Result, StoreError};
use crate::domain::{
    Answer, Criterion, Reasons, Screening, Site, Study, Subject, SubjectId, SubjectStatus,
};
use crate::forms::SavedValue;
use crate::i18n::Lang;
use crate::metadata::design::Design;
use crate::metadata::{Dictionary, FieldChange};
use crate::vault::DataKey;

/// The study set-up of this desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct StudySetup {
    pub study: Study,
    pub sites: Vec<Site>,
    /// The screening instrument's eligibility checklist.
    pub criteria: Vec<Criterion>,
    /// The screening instrument's coded reasons for a screen failure or a
    /// withdrawal.
    pub reasons: Reasons,
    /// Where the screening log is kept; `None` until a dictionary is in
    /// force.
    pub screening: Option<ScreeningPlace>,
    /// Enrollment targets: the screening instrument's `@SITEDESK-TARGET`
    /// annotations, or this desk's own where a person changed one.
    pub targets: EnrollmentTargets,
    /// The site this desk enrolls for.
    pub desk_site_id: String,
    pub desk_code: String,
}

impl StudySetup {
    pub fn desk_site(&self) -> &Site {
        // `configure_study` refuses a desk site that is not among the sites,
        // and foreign keys keep it so.
        self.sites
            .iter()
            .find(|s| s.id == self.desk_site_id)
            .unwrap_or(&self.sites[0])
    }
}

/// An enrollment target and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct EnrollmentTarget {
    pub value: u32,
    /// Set at this desk (audited), not the study's annotation.
    pub local: bool,
}

/// The study's enrollment target and its sites', by site id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct EnrollmentTargets {
    pub study: Option<EnrollmentTarget>,
    pub sites: std::collections::BTreeMap<String, EnrollmentTarget>,
}

/// The screening instrument in force: its form and event, and whether the
/// dictionary has it (when not, the log waits at the desk, "not sent").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ScreeningPlace {
    pub form: String,
    pub event: String,
    pub in_dictionary: bool,
}

/// This desk's identity, also before a study is set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DeskInfo {
    pub desk_code: String,
    pub schema_version: u32,
}

/// The user's preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Settings {
    pub display_name: String,
    pub language: Lang,
    /// Whether the person chose how this desk starts (the demo, or the
    /// study's REDCap); until then the first start offers the choice.
    pub setup_chosen: bool,
}

/// Which subjects a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SubjectFilter {
    /// Matches the start or any part of the id or the initials.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub status: Option<SubjectStatus>,
    #[serde(default)]
    pub site_id: Option<String>,
}

/// A line of the subject list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SubjectRow {
    pub id: String,
    pub site_id: String,
    pub site_code: String,
    /// The desk that registered the subject, read from its id; `None` for
    /// an id not made by a desk (typed into the EDC).
    pub desk_code: Option<String>,
    pub label: String,
    pub status: SubjectStatus,
    pub screening_date: NaiveDate,
    pub enrollment_date: Option<NaiveDate>,
    #[ts(type = "string")]
    pub updated_at: DateTime<Utc>,
}

/// How many subjects of a site have a status. Always counted from the
/// subject rows, never kept as a counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct StatusCount {
    pub site_id: String,
    pub status: SubjectStatus,
    pub count: u32,
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AuditEntry {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    pub user_account: String,
    pub user_name: String,
    /// The person's login on the desk; none before sign-in and for the
    /// desk's own work.
    pub user_login: Option<String>,
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
    /// For a form value: the event and repeat instance.
    pub event: Option<String>,
    pub instance: Option<u32>,
    /// For a form value: what the dictionary in force calls the field and
    /// the choices of the old and new values, as plain text (filled by
    /// `Desk::record_audit`; the store knows only the names).
    pub labels: Option<AuditLabels>,
}

/// The words of an audited form value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AuditLabels {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// A record this desk holds values of but did not register: screened at
/// another desk or entered in the EDC, and pulled by sync. Its screening log
/// stays where it was registered; its forms can be read and edited here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct EdcRecord {
    pub record_id: String,
    /// Events with at least one value.
    pub events: u32,
    /// Values held.
    pub values: u32,
    /// When a value last changed at this desk (pulled or edited).
    pub updated_at: String,
}

/// How this desk syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// Minutes between scheduled runs (1 to 1440).
    pub interval_minutes: u32,
    /// Push batches in flight at once (1 to 8).
    pub concurrency: u32,
}

impl Default for SyncSettings {
    fn default() -> SyncSettings {
        SyncSettings {
            interval_minutes: 15,
            concurrency: 4,
        }
    }
}

/// The data dictionary in force on this desk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct StoredDictionary {
    pub hash: String,
    /// Where it came from: a file name, or the EDC's URL.
    pub source: String,
    #[ts(type = "string")]
    pub imported_at: String,
    pub dictionary: Dictionary,
    /// Events, form-event mapping, repeating forms, sites; empty for a
    /// classic project.
    pub design: Design,
}

/// What importing a dictionary did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DictionaryImport {
    pub hash: String,
    /// False when the same version was already in force.
    pub changed: bool,
    /// Against the version in force before (all fields at the first import).
    pub changes: Vec<FieldChange>,
}

/// Saved values of a field the dictionary in force does not define: kept,
/// and flagged for a person to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OrphanedValues {
    pub field: String,
    pub values: u32,
}

/// A small pool of read-only connections. Queries run on tokio's blocking
/// threads so that async callers never wait on SQLite.
#[derive(Clone)]
pub struct Readers {
    path: PathBuf,
    /// The file's key, for each connection opened; shared, not copied.
    pub(super) key: Option<Arc<DataKey>>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

/// The dictionary in force, if one was imported.
pub(super) fn load_dictionary(c: &Connection) -> Result<Option<StoredDictionary>> {
    let row: Option<(String, String, String, String, Option<String>)> = c
        .query_row(
            "SELECT hash, source, imported_at, body, design FROM dictionary_version
             WHERE id = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'dictionary_version')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    row.map(|(hash, source, imported_at, body, design)| {
        let corrupt = |what, e: serde_json::Error| StoreError::Corrupt {
            what,
            value: e.to_string(),
        };
        let dictionary =
            serde_json::from_str(&body).map_err(|e| corrupt("stored dictionary", e))?;
        let design = design
            .map(|d| serde_json::from_str(&d).map_err(|e| corrupt("stored design", e)))
            .transpose()?
            .unwrap_or_default();
        Ok(StoredDictionary {
            hash,
            source,
            imported_at,
            dictionary,
            design,
        })
    })
    .transpose()
}

/// Virtual-machine steps between two looks at a read's cancellation token:
/// a few microseconds of work, so a cancel takes effect at once.
const PROGRESS_STEPS: std::ffi::c_int = 4096;

fn flatten<T>(r: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    r.map_err(|e| StoreError::io("read task", e))?
}

/// Idle connections kept for reuse; more are opened when needed and closed
/// afterwards.
const MAX_IDLE: usize = 4;

impl Readers {
    pub(super) fn new(path: PathBuf, key: Option<DataKey>) -> Readers {
        Readers {
            path,
            key: key.map(Arc::new),
            idle: Arc::default(),
        }
    }

    /// Runs `f` on a read-only connection.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        flatten(
            tokio::task::spawn_blocking(move || {
                let conn = this.checkout()?;
                let result = f(&conn);
                this.checkin(conn);
                result
            })
            .await,
        )
    }

    /// Runs `f` on a read-only connection and stops it when `cancel` fires:
    /// SQLite's progress handler ends the running statement, and `f` gets a
    /// `keep_going` check for the work it does between statements. Either
    /// way the answer is [`StoreError::Cancelled`]. For long reads: exports,
    /// large lists, verifying the audit trail.
    pub async fn read_cancellable<T, F>(&self, cancel: CancellationToken, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &dyn Fn() -> bool) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        flatten(
            tokio::task::spawn_blocking(move || {
                let mut conn = this.checkout()?;
                // SQLite asks the token every few thousand steps of a running
                // statement and stops it when it fires. Unlike an interrupt
                // sent from outside, a cancel that lands before a statement
                // starts is not lost, and none can reach another read.
                let asked = cancel.clone();
                conn.progress_handler(PROGRESS_STEPS, Some(move || asked.is_cancelled()))?;
                let keep_going = || !cancel.is_cancelled();
                let result = if keep_going() {
                    f(&conn, &keep_going)
                } else {
                    Err(StoreError::Cancelled)
                };
                // A connection that keeps the handler is not put back.
                if conn.progress_handler(0, None::<fn() -> bool>).is_ok() {
                    this.checkin(conn);
                }
                match result {
                    Err(StoreError::Sqlite(e))
                        if e.sqlite_error_code()
                            == Some(rusqlite::ErrorCode::OperationInterrupted) =>
                    {
                        Err(StoreError::Cancelled)
                    }
                    Err(_) if cancel.is_cancelled() => Err(StoreError::Cancelled),
                    r => r,
                }
            })
            .await,
        )
    }

    /// Walks the audit trail's hash chain (see `chain.rs`); stops when
    /// `cancel` fires.
    pub async fn verify_audit(&self, cancel: CancellationToken) -> Result<AuditVerification> {
        let mac = self.key.as_ref().map(|k| k.audit_mac_key());
        self.read_cancellable(cancel, move |c, keep_going| {
            super::replay::verify(c, keep_going, mac.as_ref())
        })
        .await
    }

    fn checkout(&self) -> Result<Connection> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })?;
        unlock_connection(&conn, &self.path, self.key.as_deref())?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }

    fn checkin(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    pub async fn dictionary(&self) -> Result<Option<StoredDictionary>> {
        self.read(load_dictionary).await
    }

    /// The version hash of the dictionary in force, without reading it: a
    /// cache of the parsed dictionary checks it before each use.
    pub async fn dictionary_hash(&self) -> Result<Option<String>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT hash FROM dictionary_version
                 WHERE id = (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'dictionary_version')",
                [],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    /// Fields with saved values that the dictionary in force lacks (a
    /// checkbox value `meds___2` belongs to `meds`).
    pub async fn orphaned_values(&self) -> Result<Vec<OrphanedValues>> {
        self.read(|c| {
            let dictionary = load_dictionary(c)?.map(|d| d.dictionary);
            let mut stmt = c.prepare(
                "SELECT field, count(*) FROM record_value GROUP BY field ORDER BY field",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(OrphanedValues {
                    field: r.get(0)?,
                    values: r.get(1)?,
                })
            })?;
            let mut out = Vec::new();
            for row in rows {
                let row = row?;
                let base = row.field.split("___").next().unwrap_or(&row.field);
                let is_status = |d: &Dictionary| {
                    row.field
                        .strip_suffix("_complete")
                        .is_some_and(|form| d.instruments().iter().any(|i| i.name == form))
                };
                if dictionary
                    .as_ref()
                    .is_none_or(|d| d.field(base).is_none() && !is_status(d))
                {
                    out.push(row);
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn setup(&self) -> Result<Option<StudySetup>> {
        self.read(load_setup).await
    }

    pub async fn desk(&self) -> Result<DeskInfo> {
        self.read(|c| {
            let desk_code = meta(c, "desk_code")?.ok_or(StoreError::Corrupt {
                what: "desk code",
                value: String::new(),
            })?;
            let schema_version = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
            Ok(DeskInfo {
                desk_code,
                schema_version,
            })
        })
        .await
    }

    /// The EDC this desk syncs with, as saved: address and API token.
    pub async fn edc_connection(&self) -> Result<Option<(String, String)>> {
        self.read(|c| {
            let get = |k: &str| -> Result<Option<String>> {
                Ok(
                    c.query_row("SELECT value FROM settings WHERE key = ?1", [k], |r| {
                        r.get(0)
                    })
                    .optional()?,
                )
            };
            Ok(get("edc_url")?.zip(get("edc_token")?))
        })
        .await
    }

    pub async fn settings(&self) -> Result<Settings> {
        self.read(|c| {
            let get = |k: &str| -> Result<Option<String>> {
                Ok(
                    c.query_row("SELECT value FROM settings WHERE key = ?1", [k], |r| {
                        r.get(0)
                    })
                    .optional()?,
                )
            };
            Ok(Settings {
                display_name: get("display_name")?.unwrap_or_default(),
                language: get("language")?
                    .as_deref()
                    .and_then(Lang::from_tag)
                    .unwrap_or_default(),
                setup_chosen: get("setup_chosen")?.is_some(),
            })
        })
        .await
    }

    /// How many records this desk holds: subjects registered here and
    /// records with values here, each once.
    pub async fn record_count(&self) -> Result<u32> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM (SELECT id FROM subject UNION SELECT record_id FROM record_value)",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    pub async fn subjects(&self, filter: SubjectFilter) -> Result<Vec<SubjectRow>> {
        self.read(move |c| list_subjects(c, &filter)).await
    }

    /// The records with values here and no subject registered at this
    /// desk, by id.
    pub async fn edc_records(&self) -> Result<Vec<EdcRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT v.record_id, count(DISTINCT v.event), count(*), max(v.updated_at)
                 FROM record_value v
                 WHERE NOT EXISTS (SELECT 1 FROM subject s WHERE s.id = v.record_id)
                 GROUP BY v.record_id
                 ORDER BY v.record_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(EdcRecord {
                    record_id: r.get(0)?,
                    events: r.get(1)?,
                    values: r.get(2)?,
                    updated_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    pub async fn subject(&self, id: String) -> Result<Subject> {
        self.read(move |c| {
            load_subject(c, &id)?.ok_or(StoreError::NotFound {
                entity: "subject",
                id,
            })
        })
        .await
    }

    pub async fn status_counts(&self) -> Result<Vec<StatusCount>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT site_id, status, count(*) FROM subject GROUP BY site_id, status ORDER BY site_id, status",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
            rows.map(|row| {
                let (site_id, status, count) = row?;
                Ok(StatusCount { site_id, status: status_of(&status)?, count })
            })
            .collect()
        })
        .await
    }

    /// Cells with edits waiting to be pushed, for at most `limit` records
    /// after record id `after`.
    pub async fn pending_cells(
        &self,
        after: String,
        limit: u32,
    ) -> Result<Vec<super::sync::PendingCell>> {
        self.read(move |c| super::sync::pending(c, &after, limit))
            .await
    }

    /// The sign-offs of a record at an event and instance, newest first.
    pub async fn sign_offs(
        &self,
        record_id: String,
        event: String,
        instance: u32,
    ) -> Result<Vec<super::signoff::SignOff>> {
        self.read(move |c| super::signoff::of_visit(c, &record_id, &event, instance))
            .await
    }

    /// Every person's account on the desk.
    pub async fn users(&self) -> Result<Vec<super::people::DeskUser>> {
        self.read(super::people::users).await
    }

    /// One person's account.
    pub async fn user(&self, login: String) -> Result<Option<super::people::DeskUser>> {
        self.read(move |c| super::people::user(c, &login)).await
    }

    /// The values the EDC refused, held until edited.
    pub async fn refused_values(&self) -> Result<Vec<super::sync::RefusedValue>> {
        self.read(super::sync::refused).await
    }

    /// The local value and base of each cell.
    pub async fn local_cells(
        &self,
        cells: Vec<super::sync::Cell>,
    ) -> Result<Vec<super::sync::LocalCell>> {
        self.read(move |c| super::sync::local(c, &cells)).await
    }

    /// Edits waiting to be sent (outbox rows, of study data and settings):
    /// what the panel charts each second, so a plain count over the
    /// outbox's smallest index rather than [`sync_counts`](Self::sync_counts)'
    /// grouping by cell.
    pub async fn outbox_rows(&self) -> Result<u32> {
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?))
            .await
    }

    /// Cells and records waiting to be pushed, and open conflicts.
    pub async fn sync_counts(&self) -> Result<(u32, u32, u32)> {
        self.read(super::sync::counts).await
    }

    pub async fn conflicts(&self) -> Result<Vec<super::sync::Conflict>> {
        self.read(super::sync::open_conflicts).await
    }

    /// Records held because the EDC uses their id for another record.
    pub async fn id_collisions(&self) -> Result<Vec<super::sync::IdCollision>> {
        self.read(super::sync::open_collisions).await
    }

    /// Of `records`, those the EDC never gave this desk a value of.
    pub async fn unseen_records(&self, records: Vec<String>) -> Result<Vec<String>> {
        self.read(move |c| super::sync::unseen(c, &records)).await
    }

    pub async fn sync_settings(&self) -> Result<SyncSettings> {
        self.read(|c| {
            let get = |k: &str| -> Result<Option<u32>> {
                Ok(
                    c.query_row("SELECT value FROM settings WHERE key = ?1", [k], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()?
                    .and_then(|v| v.parse().ok()),
                )
            };
            let d = SyncSettings::default();
            Ok(SyncSettings {
                interval_minutes: get("sync_interval_minutes")?.unwrap_or(d.interval_minutes),
                concurrency: get("sync_concurrency")?.unwrap_or(d.concurrency),
            })
        })
        .await
    }

    /// Where the last pull got to.
    pub async fn sync_cursor(&self) -> Result<Option<String>> {
        self.read(super::sync::cursor).await
    }

    /// The pull stopped part-way, if one was.
    pub async fn pull_resume(&self) -> Result<Option<super::sync::PullResume>> {
        self.read(super::sync::pull_resume).await
    }

    /// Every saved form value of one record.
    pub async fn record_values(&self, record_id: String) -> Result<Vec<SavedValue>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT event, instance, field, value FROM record_value WHERE record_id = ?1",
            )?;
            let rows = stmt.query_map([record_id], |r| {
                Ok(SavedValue {
                    event: r.get(0)?,
                    instance: r.get(1)?,
                    field: r.get(2)?,
                    value: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    /// The audit trail of one subject, oldest first: the subject's own
    /// rows and those of its case report forms (its record).
    pub async fn subject_audit(&self, id: String) -> Result<Vec<AuditEntry>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, user_account, user_name, entity, entity_id, field, old_value, new_value, reason,
                        event, instance, user_login
                 FROM audit WHERE entity IN ('subject', 'record', 'signoff') AND entity_id = ?1
                 ORDER BY id",
            )?;
            let rows = stmt.query_map([id], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    user_account: r.get(2)?,
                    user_name: r.get(3)?,
                    entity: r.get(4)?,
                    entity_id: r.get(5)?,
                    field: r.get(6)?,
                    old_value: r.get(7)?,
                    new_value: r.get(8)?,
                    reason: r.get(9)?,
                    event: r.get(10)?,
                    instance: r.get(11)?,
                    user_login: r.get(12)?,
                    labels: None,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

fn meta(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?,
    )
}

pub(super) fn load_setup(c: &Connection) -> Result<Option<StudySetup>> {
    let study = c
        .query_row("SELECT id, title, enrollment_target FROM study", [], |r| {
            Ok(Study {
                id: r.get(0)?,
                title: r.get(1)?,
                enrollment_target: r.get(2)?,
            })
        })
        .optional()?;
    let Some(study) = study else { return Ok(None) };
    let mut stmt =
        c.prepare_cached("SELECT id, code, name FROM site WHERE study_id = ?1 ORDER BY code")?;
    let sites = stmt
        .query_map([&study.id], |r| {
            Ok(Site {
                id: r.get(0)?,
                code: r.get(1)?,
                name: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let instrument = load_instrument(c)?;
    let criteria = instrument
        .as_ref()
        .map(|i| i.criteria())
        .unwrap_or_default();
    let reasons = instrument.as_ref().map(|i| i.reasons()).unwrap_or_default();
    let annotated = instrument
        .as_ref()
        .map(|i| i.instrument.targets.clone())
        .unwrap_or_default();
    let screening = instrument.map(|i| ScreeningPlace {
        form: i.instrument.form,
        event: i.instrument.event,
        in_dictionary: i.in_dictionary,
    });
    let local = |key: &str| -> Result<Option<u32>> {
        let v: Option<String> = c
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(v.and_then(|v| v.parse().ok()))
    };
    let pick = |local: Option<u32>, annotated: Option<u32>| match (local, annotated) {
        (Some(value), _) => Some(EnrollmentTarget { value, local: true }),
        (None, Some(value)) => Some(EnrollmentTarget {
            value,
            local: false,
        }),
        (None, None) => None,
    };
    let mut targets = EnrollmentTargets {
        study: pick(local("target:study")?, annotated.study),
        sites: Default::default(),
    };
    for site in &sites {
        let t = pick(
            local(&format!("target:site:{}", site.id))?,
            annotated.sites.get(&site.id).copied(),
        );
        if let Some(t) = t {
            targets.sites.insert(site.id.clone(), t);
        }
    }
    // The study's target as the desk counts against it.
    let mut study = study;
    if let Some(t) = targets.study {
        study.enrollment_target = t.value;
    }
    let desk_site_id = meta(c, "desk_site_id")?.ok_or(StoreError::NoStudy)?;
    let desk_code = meta(c, "desk_code")?.unwrap_or_default();
    Ok(Some(StudySetup {
        study,
        sites,
        criteria,
        reasons,
        screening,
        targets,
        desk_site_id,
        desk_code,
    }))
}

fn status_of(s: &str) -> Result<SubjectStatus> {
    SubjectStatus::parse(s).ok_or_else(|| StoreError::Corrupt {
        what: "subject status",
        value: s.to_owned(),
    })
}

fn date_of(s: Option<String>) -> Result<Option<NaiveDate>> {
    s.map(|s| {
        s.parse().map_err(|_| StoreError::Corrupt {
            what: "date",
            value: s,
        })
    })
    .transpose()
}

pub(super) fn load_subject(c: &Connection, id: &str) -> Result<Option<Subject>> {
    let row = c
        .query_row(
            "SELECT id, site_id, status, screening_date, label, consent_date, consent_version, enrollment_date,
                    status_date, status_reason, status_reason_other, created_at, updated_at
             FROM subject WHERE id = ?1",
            [id],
            raw_subject,
        )
        .optional()?;
    let Some(raw) = row else { return Ok(None) };
    let mut stmt = c.prepare_cached(
        "SELECT criterion_id, answer FROM subject_eligibility WHERE subject_id = ?1",
    )?;
    let eligibility = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .map(|row| {
            let (criterion, answer) = row?;
            let answer = Answer::parse(&answer).ok_or(StoreError::Corrupt {
                what: "answer",
                value: answer,
            })?;
            Ok((criterion, answer))
        })
        .collect::<Result<_>>()?;
    Ok(Some(Subject {
        id: raw.id,
        site_id: raw.site_id,
        status: status_of(&raw.status)?,
        screening: Screening {
            screening_date: date_of(Some(raw.screening_date))?.unwrap_or_default(),
            label: raw.label,
            consent_date: date_of(raw.consent_date)?,
            consent_version: raw.consent_version,
            eligibility,
        },
        enrollment_date: date_of(raw.enrollment_date)?,
        status_date: date_of(raw.status_date)?,
        status_reason: raw.status_reason,
        status_reason_other: raw.status_reason_other,
        created_at: raw.created_at,
        updated_at: raw.updated_at,
    }))
}

struct RawSubject {
    id: String,
    site_id: String,
    status: String,
    screening_date: String,
    label: String,
    consent_date: Option<String>,
    consent_version: Option<String>,
    enrollment_date: Option<String>,
    status_date: Option<String>,
    status_reason: Option<String>,
    status_reason_other: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn raw_subject(r: &Row<'_>) -> rusqlite::Result<RawSubject> {
    Ok(RawSubject {
        id: r.get(0)?,
        site_id: r.get(1)?,
        status: r.get(2)?,
        screening_date: r.get(3)?,
        label: r.get(4)?,
        consent_date: r.get(5)?,
        consent_version: r.get(6)?,
        enrollment_date: r.get(7)?,
        status_date: r.get(8)?,
        status_reason: r.get(9)?,
        status_reason_other: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn list_subjects(c: &Connection, filter: &SubjectFilter) -> Result<Vec<SubjectRow>> {
    let search = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let escaped = s
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
    let mut stmt = c.prepare_cached(
        "SELECT s.id, s.site_id, site.code, s.label, s.status, s.screening_date, s.enrollment_date, s.updated_at
         FROM subject s JOIN site ON site.id = s.site_id
         WHERE (?1 IS NULL OR s.status = ?1)
           AND (?2 IS NULL OR s.site_id = ?2)
           AND (?3 IS NULL OR s.id LIKE ?3 ESCAPE '\\' OR s.label LIKE ?3 ESCAPE '\\')
         ORDER BY s.created_at DESC, s.id DESC",
    )?;
    let rows = stmt.query_map(
        params![filter.status.map(|s| s.as_str()), filter.site_id, search],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, DateTime<Utc>>(7)?,
            ))
        },
    )?;
    rows.map(|row| {
        let (id, site_id, site_code, label, status, screening_date, enrollment_date, updated_at) =
            row?;
        Ok(SubjectRow {
            desk_code: SubjectId::desk_of(&id).map(str::to_owned),
            id,
            site_id,
            site_code,
            label,
            status: status_of(&status)?,
            screening_date: date_of(Some(screening_date))?.unwrap_or_default(),
            enrollment_date: date_of(enrollment_date)?,
            updated_at,
        })
    })
    .collect()
}
