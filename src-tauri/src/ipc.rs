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
use sitedesk_core::desk::gate::{Gate, SessionView};
use sitedesk_core::desk::{DiagnosticsSnapshot, ProjectSummary};
use sitedesk_core::diagnostics::logs::LogLine;
use sitedesk_core::domain::{ScreeningInput, Subject};
use sitedesk_core::forms::{Evaluation, VisitGrid};
use sitedesk_core::store::signoff::SignOff;
use sitedesk_core::store::sync::IdCollision;
use sitedesk_core::store::{
    AuditVerification, BindOutcome, DeskUser, DictionaryImport, EdcRecord, Settings, StatusCount,
    SubjectFilter, SubjectRow, SyncSettings,
};
use tauri::State;

use crate::dto::{
    AppInfo, ApplyAction, BackupRequest, BindProject, ChangePassword, ConflictView,
    ConnectionReport, DictionaryFile, DictionaryPreview, EdcSettings, EditScreening, EvaluateForm,
    FirstAdmin, FormRef, LogQuery, OpenedForm, Preferences, ProbeProject, ProfileView,
    RecordDetail, RecordProfile, RecoveryKeyView, RefusedView, ResolveConflict, SaveEdc, SaveForm,
    SaveProfile, SaveUser, SavedForm, SetTarget, SignIn, SignOffForm, SubjectDetail, SubjectRef,
    SyncStatus, TaskRef, Unlock,
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

/// What each command needs of the person at the desk (see
/// [`sitedesk_core::desk::people::Access`]), as the table below names it,
/// and what the command is then given: the open desk, or the gate itself
/// for the sign-in and lock screens and the accounts.
pub mod access {
    use std::sync::Arc;

    use sitedesk_core::desk::Desk;
    use sitedesk_core::desk::gate::Gate;
    use sitedesk_core::desk::people::{Access, Refusal};
    use sitedesk_core::domain::Role;

    /// An access rule and what a command that passes it is given.
    pub trait Reach {
        type Target;
        /// The rule, for the test of every command's access.
        #[cfg(test)]
        fn access(&self) -> Access;
        fn reach(&self, gate: &Arc<Gate>) -> Result<Self::Target, Refusal>;
    }

    /// Passes with `access`, and gives the gate.
    pub struct AtGate(pub Access);
    /// Passes with a person of the role, and gives the open desk.
    pub struct AtDesk(pub Role);

    impl Reach for AtGate {
        type Target = Arc<Gate>;
        #[cfg(test)]
        fn access(&self) -> Access {
            self.0
        }
        fn reach(&self, gate: &Arc<Gate>) -> Result<Arc<Gate>, Refusal> {
            gate.allows(self.0)?;
            Ok(gate.clone())
        }
    }

    impl Reach for AtDesk {
        type Target = Arc<Desk>;
        #[cfg(test)]
        fn access(&self) -> Access {
            Access::Role(self.0)
        }
        fn reach(&self, gate: &Arc<Gate>) -> Result<Arc<Desk>, Refusal> {
            gate.desk_for(Access::Role(self.0))
        }
    }

    /// Anyone: the sign-in and lock screens' own calls.
    pub const OPEN: AtGate = AtGate(Access::Open);
    /// A person signed in, even locked: unlocking, signing out.
    pub const SIGNED_IN: AtGate = AtGate(Access::SignedIn);
    /// Any person at the desk, about their own account.
    pub const SELF: AtGate = AtGate(Access::Role(Role::Crc));
    /// An administrator, about the people at the desk.
    pub const PEOPLE: AtGate = AtGate(Access::Role(Role::Admin));
    /// A supervisor signing, their password asked again.
    pub const REVIEW: AtGate = AtGate(Access::Role(Role::Supervisor));
    pub const CRC: AtDesk = AtDesk(Role::Crc);
    pub const SUPERVISOR: AtDesk = AtDesk(Role::Supervisor);
    pub const ADMIN: AtDesk = AtDesk(Role::Admin);
}

macro_rules! surface {
    ($($name:ident($($payload:ty)?) -> $answer:ty, $access:ident;)*) => {
        /// The `#[tauri::command]` wrappers, one a command: each checks the
        /// command's access before the command runs.
        pub mod wrappers {
            use super::*;
            $(
                #[tauri::command]
                pub async fn $name(
                    gate: State<'_, Arc<Gate>>,
                    $(payload: <$payload as Payload>::Raw,)?
                ) -> Result<$answer, IpcError> {
                    use access::Reach as _;
                    let target = access::$access
                        .reach(&gate)
                        .map_err(|r| IpcError::refused(r, gate.lang()))?;
                    crate::commands::$name(&target, $({ let _: Option<$payload> = None; payload })?).await
                }
            )*
        }

        /// Every command's name, in the table's order (for the capability).
        #[cfg(test)]
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// Every command with what it needs of the person at the desk.
        #[cfg(test)]
        pub fn access_table() -> Vec<(&'static str, sitedesk_core::desk::people::Access)> {
            use access::Reach as _;
            vec![$((stringify!($name), access::$access.access())),*]
        }

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
    session_status() -> SessionView, OPEN;
    create_administrator(FirstAdmin) -> RecoveryKeyView, OPEN;
    sign_in(SignIn) -> SessionView, OPEN;
    sign_out() -> SessionView, SIGNED_IN;
    lock_desk() -> SessionView, SIGNED_IN;
    unlock_desk(Unlock) -> SessionView, SIGNED_IN;
    change_password(ChangePassword) -> (), SELF;
    list_users() -> Vec<DeskUser>, PEOPLE;
    save_user(SaveUser) -> DeskUser, PEOPLE;
    sign_off(SignOffForm) -> SignOff, REVIEW;
    app_info() -> AppInfo, CRC;
    list_subjects(SubjectFilter) -> Vec<SubjectRow>, CRC;
    status_counts() -> Vec<StatusCount>, CRC;
    get_subject(SubjectRef) -> SubjectDetail, CRC;
    list_edc_records() -> Vec<EdcRecord>, CRC;
    get_record(SubjectRef) -> RecordDetail, CRC;
    screen_subject(ScreeningInput) -> Subject, CRC;
    edit_screening(EditScreening) -> Subject, CRC;
    apply_action(ApplyAction) -> Subject, CRC;
    save_preferences(Preferences) -> Settings, CRC;
    set_target(SetTarget) -> AppInfo, SUPERVISOR;
    verify_audit() -> AuditVerification, CRC;
    preview_dictionary(DictionaryFile) -> DictionaryPreview, ADMIN;
    import_dictionary(DictionaryFile) -> DictionaryImport, ADMIN;
    visit_grid(SubjectRef) -> Option<VisitGrid>, CRC;
    open_form(FormRef) -> OpenedForm, CRC;
    evaluate_form(EvaluateForm) -> Evaluation, CRC;
    save_form(SaveForm) -> SavedForm, CRC;
    edc_settings() -> EdcSettings, ADMIN;
    save_edc_settings(SaveEdc) -> EdcSettings, ADMIN;
    forget_edc_settings() -> EdcSettings, ADMIN;
    test_connection() -> ConnectionReport, ADMIN;
    probe_project(ProbeProject) -> ProjectSummary, ADMIN;
    bind_project(BindProject) -> BindOutcome, ADMIN;
    choose_demo() -> Settings, ADMIN;
    sync_status() -> SyncStatus, CRC;
    sync_now() -> (), CRC;
    cancel_sync() -> bool, CRC;
    list_conflicts() -> Vec<ConflictView>, CRC;
    resolve_conflict(ResolveConflict) -> (), CRC;
    list_id_collisions() -> Vec<IdCollision>, CRC;
    list_refused_values() -> Vec<RefusedView>, CRC;
    renumber_record(SubjectRef) -> String, CRC;
    save_sync_settings(SyncSettings) -> SyncSettings, ADMIN;
    backup_desk(BackupRequest) -> String, ADMIN;
    cancel_task(TaskRef) -> u32, CRC;
    recent_logs(LogQuery) -> Vec<LogLine>, CRC;
    save_diagnostics_bundle() -> String, CRC;
    diagnostics_snapshot() -> DiagnosticsSnapshot, CRC;
    record_profile(RecordProfile) -> ProfileView, CRC;
    save_profile(SaveProfile) -> String, CRC;
}

#[cfg(test)]
mod tests {
    use sitedesk_core::desk::people::{Refusal, Session, SessionState};
    use sitedesk_core::domain::Role;

    /// Who may call each command, written out here rather than read from
    /// the table: a command whose access changes must change this list too.
    /// `None`: anyone, even signed out; the roles otherwise.
    fn expected(name: &str) -> Option<&'static [Role]> {
        const ANY: &[Role] = &[Role::Crc, Role::Supervisor, Role::Admin];
        const SUPERVISOR: &[Role] = &[Role::Supervisor, Role::Admin];
        const ADMIN: &[Role] = &[Role::Admin];
        match name {
            "session_status" | "create_administrator" | "sign_in" => None,
            // Signed in, even locked: checked apart below.
            "sign_out" | "lock_desk" | "unlock_desk" => Some(ANY),
            "list_users" | "save_user" => Some(ADMIN),
            "change_password" | "app_info" => Some(ANY),
            "set_target" | "sign_off" => Some(SUPERVISOR),
            "preview_dictionary"
            | "import_dictionary"
            | "edc_settings"
            | "save_edc_settings"
            | "forget_edc_settings"
            | "test_connection"
            | "probe_project"
            | "bind_project"
            | "choose_demo"
            | "save_sync_settings"
            | "backup_desk" => Some(ADMIN),
            "list_subjects"
            | "status_counts"
            | "get_subject"
            | "list_edc_records"
            | "get_record"
            | "screen_subject"
            | "edit_screening"
            | "apply_action"
            | "save_preferences"
            | "verify_audit"
            | "visit_grid"
            | "open_form"
            | "evaluate_form"
            | "save_form"
            | "sync_status"
            | "sync_now"
            | "cancel_sync"
            | "list_conflicts"
            | "resolve_conflict"
            | "list_id_collisions"
            | "list_refused_values"
            | "renumber_record"
            | "cancel_task"
            | "recent_logs"
            | "save_diagnostics_bundle"
            | "diagnostics_snapshot"
            | "record_profile"
            | "save_profile" => Some(ANY),
            other => panic!("{other}: say who may call it in this test"),
        }
    }

    fn state(role: Option<Role>, locked: bool) -> SessionState {
        SessionState {
            user: role.map(|role| Session {
                login: "p".into(),
                display_name: "P".into(),
                role,
            }),
            locked,
        }
    }

    #[test]
    fn each_command_is_open_to_exactly_its_roles() {
        for (name, access) in super::access_table() {
            let expected = expected(name);
            let signed_out = state(None, false).allows(access);
            assert_eq!(signed_out.is_ok(), expected.is_none(), "{name} signed out");
            for role in Role::ALL {
                let may = expected.is_none_or(|roles| roles.contains(&role));
                let got = state(Some(role), false).allows(access);
                assert_eq!(got.is_ok(), may, "{name} as {role:?}: {got:?}");
                if !may {
                    assert!(matches!(got, Err(Refusal::Forbidden { .. })), "{name}");
                }
                // Locked, nothing that needs a role runs.
                let locked = state(Some(role), true).allows(access);
                let on_lock_screen = matches!(name, "sign_out" | "lock_desk" | "unlock_desk");
                if expected.is_some() && !on_lock_screen {
                    assert_eq!(locked, Err(Refusal::Locked), "{name} locked as {role:?}");
                } else {
                    assert_eq!(locked, Ok(()), "{name} locked as {role:?}");
                }
            }
        }
    }
}
