//! The IPC surface, declared once: one line a command, with the type of its
//! payload (none, or the one JSON object it takes) and of its answer. From
//! this table come
//! - the `#[tauri::command]` wrappers and the handler the app registers
//!   ([`handler`]), each forwarding to the function of the same name in
//!   `commands`;
//! - the ACL: `build.rs` reads the names from this file and declares a
//!   permission for each; `capabilities/default.json` grants exactly them
//!   (a test checks it, and rewrites it with `UPDATE_BINDINGS=1`);
//! - the UI's typed client in `ui/src/ipc/bindings.ts` (`makeCommands`),
//!   generated with the types by `bindings.rs`, and its `ERROR_CODES`.
//!
//! Deliberately absent: any logic; the commands live in `commands`.

use std::sync::Arc;

use serde_json::Value;
use sitedesk_core::desk::{Desk, DiagnosticsSnapshot, ProjectSummary};
use sitedesk_core::diagnostics::logs::LogLine;
use sitedesk_core::domain::{ScreeningInput, Subject};
use sitedesk_core::forms::{Evaluation, VisitGrid};
use sitedesk_core::store::sync::IdCollision;
use sitedesk_core::store::{
    AuditVerification, BindOutcome, DictionaryImport, EdcRecord, Settings, StatusCount,
    SubjectFilter, SubjectRow, SyncSettings,
};
use tauri::State;

use crate::dto::{
    AppInfo, ApplyAction, BindProject, ConflictView, ConnectionReport, DictionaryFile,
    DictionaryPreview, EdcSettings, EditScreening, EvaluateForm, FormRef, LogQuery, OpenedForm,
    Preferences, ProbeProject, ProfileView, RecordDetail, RecordProfile, RefusedView,
    ResolveConflict, SaveEdc, SaveForm, SaveProfile, SavedForm, SetTarget, SubjectDetail,
    SubjectRef, SyncStatus, TaskRef,
};
use crate::error::IpcError;

/// A payload's type names the JSON object a command takes; the wrapper
/// receives it raw, and the command parses it strictly.
pub trait Payload {
    type Raw;
}

impl<T> Payload for T {
    type Raw = Value;
}

/// One command of the table, as the UI's client names it and types it.
#[cfg(test)]
pub struct Declared {
    pub name: &'static str,
    /// The payload's TypeScript type, when the command takes one.
    pub payload: Option<String>,
    /// The answer's TypeScript type.
    pub answer: String,
}

macro_rules! surface {
    ($($name:ident($($payload:ty)?) -> $answer:ty;)*) => {
        /// The `#[tauri::command]` wrappers, one a command.
        pub mod wrappers {
            use super::*;
            $(
                #[tauri::command]
                pub async fn $name(
                    desk: State<'_, Arc<Desk>>,
                    $(payload: <$payload as Payload>::Raw,)?
                ) -> Result<$answer, IpcError> {
                    crate::commands::$name(&desk, $({ let _: Option<$payload> = None; payload })?).await
                }
            )*
        }

        /// Every command's name, in the table's order (for the capability).
        #[cfg(test)]
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// The handler the app registers: every command of the table.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$(wrappers::$name),*]
        }

        /// The table with TypeScript types, for the UI's client.
        #[cfg(test)]
        pub fn declared(cfg: &ts_rs::Config) -> Vec<Declared> {
            use ts_rs::TS;
            vec![$(Declared {
                name: stringify!($name),
                payload: None$(.or(Some(<$payload as TS>::name(cfg))))?,
                answer: <$answer as TS>::name(cfg),
            }),*]
        }
    };
}

surface! {
    app_info() -> AppInfo;
    list_subjects(SubjectFilter) -> Vec<SubjectRow>;
    status_counts() -> Vec<StatusCount>;
    get_subject(SubjectRef) -> SubjectDetail;
    list_edc_records() -> Vec<EdcRecord>;
    get_record(SubjectRef) -> RecordDetail;
    screen_subject(ScreeningInput) -> Subject;
    edit_screening(EditScreening) -> Subject;
    apply_action(ApplyAction) -> Subject;
    save_preferences(Preferences) -> Settings;
    set_target(SetTarget) -> AppInfo;
    verify_audit() -> AuditVerification;
    preview_dictionary(DictionaryFile) -> DictionaryPreview;
    import_dictionary(DictionaryFile) -> DictionaryImport;
    visit_grid(SubjectRef) -> Option<VisitGrid>;
    open_form(FormRef) -> OpenedForm;
    evaluate_form(EvaluateForm) -> Evaluation;
    save_form(SaveForm) -> SavedForm;
    edc_settings() -> EdcSettings;
    save_edc_settings(SaveEdc) -> EdcSettings;
    forget_edc_settings() -> EdcSettings;
    test_connection() -> ConnectionReport;
    probe_project(ProbeProject) -> ProjectSummary;
    bind_project(BindProject) -> BindOutcome;
    choose_demo() -> Settings;
    sync_status() -> SyncStatus;
    sync_now() -> ();
    cancel_sync() -> bool;
    list_conflicts() -> Vec<ConflictView>;
    resolve_conflict(ResolveConflict) -> ();
    list_id_collisions() -> Vec<IdCollision>;
    list_refused_values() -> Vec<RefusedView>;
    renumber_record(SubjectRef) -> String;
    save_sync_settings(SyncSettings) -> SyncSettings;
    cancel_task(TaskRef) -> u32;
    recent_logs(LogQuery) -> Vec<LogLine>;
    save_diagnostics_bundle() -> String;
    diagnostics_snapshot() -> DiagnosticsSnapshot;
    record_profile(RecordProfile) -> ProfileView;
    save_profile(SaveProfile) -> String;
}
