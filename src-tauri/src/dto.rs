//! What commands take and return, beyond the core's own types. TypeScript
//! types for all of them are generated into `ui/src/ipc/bindings.ts`
//! (see `bindings.rs`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sitedesk_core::diagnostics::profile::FlameNode;
use sitedesk_core::domain::{ActionKind, Actor, Reason, ScreeningInput, Subject};
use sitedesk_core::forms::{Evaluation, FormInput, FormView};
use sitedesk_core::i18n::Lang;
use sitedesk_core::store::sync::{Conflict, Keep, RefusedValue};
use sitedesk_core::sync::{BreakerState, ProgressView, RunReport};

use sitedesk_core::desk::EdcMode;
use sitedesk_core::metadata::FieldChange;
use sitedesk_core::metadata::logic::LogicIssue;
use sitedesk_core::metadata::tags::TagIssue;
use sitedesk_core::store::{AuditEntry, DeskInfo, Practice, Settings, StudySetup, SyncSettings};
use ts_rs::TS;

/// Who is at the desk, what it is set up for, and how this build is doing.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppInfo {
    pub version: String,
    pub actor: Actor,
    pub settings: Settings,
    pub setup: Option<StudySetup>,
    pub desk: DeskInfo,
    /// Where the database file lives, for IT staff.
    pub database_path: String,
    /// Whether this desk runs the built-in demo study.
    pub demo: bool,
    /// Whether this platform can record CPU profiles.
    pub profiling: bool,
}

/// A subject with its audit trail and the lifecycle actions its status
/// allows (decided by the core's transition table, not by the UI).
#[derive(Debug, Clone, Serialize, TS)]
pub struct SubjectDetail {
    pub subject: Subject,
    pub actions: Vec<ActionKind>,
    pub audit: Vec<AuditEntry>,
}

/// `get_record`'s answer: a record this desk holds values of but did not
/// register, with its history here.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RecordDetail {
    pub record_id: String,
    pub audit: Vec<AuditEntry>,
}

/// `get_subject`'s payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SubjectRef {
    pub id: String,
}

/// `edit_screening`'s payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EditScreening {
    pub id: String,
    pub input: ScreeningInput,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `apply_action`'s payload: dates as `YYYY-MM-DD` text, checked by the core.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ApplyAction {
    pub id: String,
    pub kind: ActionKind,
    #[serde(default)]
    pub date: Option<String>,
    /// A screen failure's or a withdrawal's coded reason.
    #[serde(default)]
    pub reason: Option<Reason>,
}

/// `save_preferences`' payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    pub display_name: String,
    pub language: Lang,
}

/// `preview_dictionary` and `import_dictionary`'s payload: a data
/// dictionary CSV file as the UI read it.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DictionaryFile {
    pub file_name: String,
    pub text: String,
}

/// What importing a dictionary file would do, shown before it is applied.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DictionaryPreview {
    pub hash: String,
    /// The version in force now, if any.
    pub current_hash: Option<String>,
    pub fields: u32,
    pub instruments: Vec<String>,
    /// Against the version in force (every field when there is none).
    pub changes: Vec<FieldChange>,
    /// Branching logic and calculations that cannot be used offline.
    pub logic_issues: Vec<LogicIssue>,
    /// Action tags the desk's forms do not apply.
    pub unapplied_tags: Vec<TagIssue>,
}

/// One form of a subject at an event and instance.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct FormRef {
    pub subject_id: String,
    pub event: String,
    pub form: String,
    pub instance: u32,
}

/// `evaluate_form`'s payload: the values typed so far, by stored name.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EvaluateForm {
    pub at: FormRef,
    pub values: BTreeMap<String, String>,
}

/// `save_form`'s payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveForm {
    pub at: FormRef,
    pub input: FormInput,
}

/// What a save wrote.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SavedForm {
    /// Values written (each with its audit and outbox row); 0 when nothing
    /// changed.
    pub changed: u32,
}

/// `open_form`'s answer: the form and what it shows for its saved values.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OpenedForm {
    pub view: FormView,
    pub evaluation: Evaluation,
    /// The sign-offs of this form and of its visit, newest first (voided
    /// ones too: the form says what was signed and what voided it).
    pub sign_offs: Vec<sitedesk_core::store::signoff::SignOff>,
}

/// The EDC connection as Settings shows it. The token itself never leaves
/// the backend.
#[derive(Debug, Clone, Serialize, TS)]
pub struct EdcSettings {
    pub mode: EdcMode,
    /// The API address in use (the simulator's in demo mode).
    pub url: Option<String>,
    /// Whether a token is saved for a real EDC.
    pub token_saved: bool,
    /// Edited values waiting to be sent: in demo mode, what saving a real
    /// EDC would send to it.
    pub pending_edits: u32,
}

/// `save_edc_settings`' payload: the address, and a new token or `None` to
/// keep the saved one.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveEdc {
    pub url: String,
    #[serde(default)]
    pub token: Option<String>,
}

/// The study's REDCap to look at before binding: its address and a token.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ProbeProject {
    pub url: String,
    pub token: String,
}

/// Binds the desk to the project at `url`: the site picked when the token
/// sees every site, and what becomes of the demo's practice entries.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct BindProject {
    pub url: String,
    pub token: String,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub practice: Option<Practice>,
}

/// What "Test connection" found.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConnectionReport {
    pub mode: EdcMode,
    pub url: String,
    pub version: String,
    pub project_title: String,
    pub longitudinal: bool,
}

/// The sync center: what sync is doing and has done.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncStatus {
    pub mode: EdcMode,
    pub running: bool,
    /// The EDC could not be reached at the last try; sync resumes by itself.
    pub offline: bool,
    pub progress: ProgressView,
    pub last_success_at: Option<String>,
    pub last_report: Option<RunReport>,
    /// The last run's failure in plain words (not being offline).
    pub error: Option<String>,
    /// Sync stopped until a person starts it (the EDC banned this
    /// computer's address).
    pub stopped: bool,
    pub breaker: Option<BreakerState>,
    /// Edited values waiting to be sent.
    pub pending: u32,
    pub conflicts: u32,
    pub settings: SyncSettings,
}

/// A conflict with what the Conflicts view needs to show it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConflictView {
    pub conflict: Conflict,
    /// The field's label, as plain text.
    pub label: String,
    pub event_label: String,
}

/// A value the EDC refused, with what the sync center needs to show it and
/// open its form.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RefusedView {
    pub refused: RefusedValue,
    /// The field's label, as plain text.
    pub label: String,
    pub event_label: String,
    /// The form that holds the field (blank when the dictionary lacks it).
    pub form: String,
}

/// `resolve_conflict`'s payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ResolveConflict {
    #[ts(type = "number")]
    pub id: i64,
    pub keep: Keep,
    pub reason: String,
}

/// `set_target`'s payload: the study's target (`site_id` absent) or a
/// site's; `target` absent goes back to the study's annotation.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SetTarget {
    #[serde(default)]
    pub site_id: Option<String>,
    #[serde(default)]
    pub target: Option<u32>,
    pub reason: String,
}

/// `cancel_task`'s payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    #[ts(type = "number")]
    pub id: u64,
}

/// `recent_logs`' payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`: this level and above.
    pub level: String,
    #[serde(default)]
    pub search: String,
}

/// `record_profile`'s payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RecordProfile {
    /// 1 to 60.
    pub seconds: u32,
}

/// A recorded CPU profile, as the panel's flame graph shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ProfileView {
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    #[ts(type = "number")]
    pub duration_ms: u64,
    #[ts(type = "number")]
    pub samples: u64,
    pub frequency_hz: i32,
    pub root: FlameNode,
}

/// The file formats a profile is saved in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ProfileFormat {
    /// A flame graph that opens in a browser.
    Svg,
    /// Google's pprof protobuf, for `go tool pprof` and similar tools.
    Pprof,
}

/// `save_profile`'s payload.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveProfile {
    pub format: ProfileFormat,
}

/// The first start: the desk administrator's account.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct FirstAdmin {
    pub login: String,
    pub display_name: String,
    pub password: String,
}

/// The recovery key, shown once at the first start, to be written down.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RecoveryKeyView {
    pub recovery_key: String,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub login: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Unlock {
    pub password: String,
}

/// An administrator's change to an account, with a first or new password.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SaveUser {
    pub change: sitedesk_core::store::UserChange,
    pub password: Option<String>,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub old_password: String,
    pub new_password: String,
}

/// Where to put a backup: a folder, or the data folder's `backups`.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    pub folder: Option<String>,
}

/// A supervisor's sign-off of a form (or, with no form, the whole visit),
/// with their password asked again.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct SignOffForm {
    pub subject_id: String,
    pub event: String,
    pub instance: u32,
    pub form: Option<String>,
    pub meaning: sitedesk_core::store::signoff::Meaning,
    pub password: String,
}
