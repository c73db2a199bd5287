//! The TypeScript side of the IPC surface, generated into
//! `ui/src/ipc/bindings.ts`: the types from the Rust types, the typed
//! client of every command in the table (`crate::ipc`), and the error
//! codes. The tests below fail when the committed file, or the capability
//! that grants the commands, is stale; run them with `UPDATE_BINDINGS=1`
//! to rewrite both.

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sitedesk_core::desk::gate::SessionView;
    use sitedesk_core::desk::people::Session;
    use sitedesk_core::diagnostics::logs::LogLine;
    use sitedesk_core::diagnostics::metrics::Sample;
    use sitedesk_core::diagnostics::profile::FlameNode;
    use sitedesk_core::diagnostics::{Lint, TaskId, TaskKind, TaskSnapshot, TaskState};
    use sitedesk_core::domain::{
        ActionKind, Actor, Answer, Criterion, CriterionKind, Reason, ReasonChoice, Reasons, Role,
        Screening, ScreeningInput, Site, Study, Subject, SubjectStatus,
    };
    use sitedesk_core::edc::metrics::{CallTotals, EndpointStats};
    use sitedesk_core::forms::{
        CellStatus, ChoiceView, Evaluation, EventColumn, FieldMessage, FieldState, FieldView,
        FormInput, FormRow, FormStatus, FormView, GridCell, InstanceStatus, Severity, SliderView,
        Unavailable, VisitGrid,
    };
    use sitedesk_core::i18n::Lang;
    use sitedesk_core::metadata::design::MissingCode;
    use sitedesk_core::metadata::logic::{LogicError, LogicIssue};
    use sitedesk_core::metadata::tags::TagIssue;
    use sitedesk_core::metadata::{Aspect, Choice, FieldChange, FieldType};
    use sitedesk_core::store::DictionaryImport;
    use sitedesk_core::store::signoff::{Meaning, SignOff};
    use sitedesk_core::store::sync::{Cell, Conflict, IdCollision, Keep, RefusedBy, RefusedValue};
    use sitedesk_core::store::{
        AuditEntry, AuditLabels, AuditVerification, ChainBreak, ChainProblem, DeskInfo, EdcRecord,
        EnrollmentTarget, EnrollmentTargets, LaneStats, Percentiles, ScreeningPlace, Settings,
        StatusCount, StudySetup, SubjectFilter, SubjectRow, SyncSettings, WriterStats,
    };
    use sitedesk_core::store::{DeskUser, UserChange};
    use sitedesk_core::sync::{BreakerState, Phase, ProgressView, RunReport};
    use ts_rs::{Config, TS};

    use crate::dto::*;
    use crate::error::{ErrorCode, IpcError};
    use sitedesk_core::desk::onboard::{ProjectSite, UnsupportedValidation};
    use sitedesk_core::desk::{DiagnosticsSnapshot, EdcMode, ProjectSummary, ScreeningStatus};
    use sitedesk_core::metadata::screening::Targets;
    use sitedesk_core::store::{BindOutcome, Practice};

    fn render() -> String {
        let cfg = Config::new().with_large_int("number");
        let mut out = String::from(
            "// Generated from the Rust types by `src-tauri/src/bindings.rs`; do not edit.\n\
             // Regenerate: UPDATE_BINDINGS=1 cargo test -p sitedesk bindings\n\n",
        );
        macro_rules! decl {
            ($($t:ty),* $(,)?) => {$(
                out.push_str("export ");
                out.push_str(&<$t as TS>::decl(&cfg));
                out.push_str("\n\n");
            )*};
        }
        decl!(
            Lang,
            Actor,
            Role,
            Session,
            SessionView,
            DeskUser,
            UserChange,
            FirstAdmin,
            RecoveryKeyView,
            SignIn,
            Unlock,
            SaveUser,
            ChangePassword,
            BackupRequest,
            Meaning,
            SignOff,
            SignOffForm,
            Study,
            Site,
            CriterionKind,
            Criterion,
            Answer,
            SubjectStatus,
            Screening,
            Subject,
            ScreeningInput,
            ActionKind,
            Reason,
            ReasonChoice,
            Reasons,
            ScreeningPlace,
            EnrollmentTarget,
            EnrollmentTargets,
            StudySetup,
            DeskInfo,
            Settings,
            SubjectFilter,
            SubjectRow,
            StatusCount,
            AuditLabels,
            AuditEntry,
            IdCollision,
            RefusedBy,
            RefusedValue,
            TaskId,
            TaskKind,
            TaskState,
            TaskSnapshot,
            Lint,
            TaskRef,
            LogLine,
            Sample,
            LogQuery,
            Percentiles,
            LaneStats,
            WriterStats,
            ChainProblem,
            ChainBreak,
            AuditVerification,
            FieldType,
            Choice,
            Aspect,
            FieldChange,
            LogicError,
            LogicIssue,
            TagIssue,
            MissingCode,
            DictionaryImport,
            DictionaryFile,
            FormStatus,
            ChoiceView,
            SliderView,
            Unavailable,
            FieldView,
            FormView,
            Severity,
            FieldMessage,
            FieldState,
            Evaluation,
            FormInput,
            EventColumn,
            FormRow,
            CellStatus,
            InstanceStatus,
            GridCell,
            VisitGrid,
            FormRef,
            EvaluateForm,
            SaveForm,
            SavedForm,
            OpenedForm,
            EdcMode,
            EdcSettings,
            SaveEdc,
            ConnectionReport,
            ProbeProject,
            Targets,
            ProjectSite,
            UnsupportedValidation,
            ScreeningStatus,
            ProjectSummary,
            Practice,
            BindProject,
            BindOutcome,
            Cell,
            Conflict,
            Keep,
            Phase,
            ProgressView,
            RunReport,
            BreakerState,
            SyncSettings,
            SyncStatus,
            ConflictView,
            RefusedView,
            ResolveConflict,
            DictionaryPreview,
            AppInfo,
            SubjectDetail,
            EdcRecord,
            RecordDetail,
            SubjectRef,
            EditScreening,
            ApplyAction,
            Preferences,
            SetTarget,
            EndpointStats,
            CallTotals,
            DiagnosticsSnapshot,
            FlameNode,
            RecordProfile,
            ProfileView,
            ProfileFormat,
            SaveProfile,
            ErrorCode,
            IpcError,
        );
        out.push_str(&client(&cfg));
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    /// `ERROR_CODES` and `makeCommands`: the UI's typed function for each
    /// command of the table, over the UI's own `call`.
    fn client(cfg: &Config) -> String {
        let codes: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| serde_json::to_string(c).unwrap())
            .collect();
        let mut out = format!(
            "/** Every `ErrorCode`, as the backend declares them. */\n\
             export const ERROR_CODES: readonly ErrorCode[] = [{}];\n\n\
             /** How a command is called: its name and, when it takes one, its payload. */\n\
             export type Call = <T>(command: string, args?: {{ payload: unknown }}) => Promise<T>;\n\n\
             /** One typed function per command of the backend's table. */\n\
             export function makeCommands(call: Call) {{\n  return {{\n",
            codes.join(", ")
        );
        for d in crate::ipc::declared(cfg) {
            let camel = camel_case(d.name);
            match d.payload {
                Some(p) => out.push_str(&format!(
                    "    {camel}: (payload: {p}) => call<{}>(\"{}\", {{ payload }}),\n",
                    d.answer, d.name
                )),
                None => out.push_str(&format!(
                    "    {camel}: () => call<{}>(\"{}\"),\n",
                    d.answer, d.name
                )),
            }
        }
        out.push_str("  };\n}\n");
        out
    }

    fn camel_case(snake: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in snake.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The capability of the main window: event listening, and exactly the
    /// commands of the table.
    fn capability() -> String {
        let mut permissions = vec![
            "core:event:allow-listen".to_owned(),
            "core:event:allow-unlisten".to_owned(),
        ];
        permissions.extend(
            crate::ipc::COMMANDS
                .iter()
                .map(|c| format!("allow-{}", c.replace('_', "-"))),
        );
        let doc = serde_json::json!({
            "identifier": "default",
            "description": "What the main window may call: the app's own commands and event listening, nothing else.",
            "windows": ["main"],
            "permissions": permissions,
        });
        let mut text = serde_json::to_string_pretty(&doc).unwrap();
        text.push('\n');
        text
    }

    #[test]
    fn the_capability_grants_exactly_the_declared_commands() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities/default.json");
        let fresh = capability();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let granted: std::collections::BTreeSet<&str> = committed["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        let fresh: serde_json::Value = serde_json::from_str(&fresh).unwrap();
        let declared: std::collections::BTreeSet<&str> = fresh["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        assert_eq!(
            granted, declared,
            "capabilities/default.json must grant exactly the commands of src/ipc.rs: \
             run `UPDATE_BINDINGS=1 cargo test -p sitedesk bindings`"
        );
    }

    #[test]
    fn the_uis_error_codes_equal_the_rust_enum() {
        let committed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/ipc/bindings.ts"),
        )
        .unwrap_or_default();
        let line = committed
            .lines()
            .find(|l| l.starts_with("export const ERROR_CODES"))
            .expect("bindings.ts declares ERROR_CODES");
        let listed: Vec<String> = line
            .split_once("= [")
            .and_then(|(_, rest)| rest.split(']').next())
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        let rust: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(listed, rust);
        // The union type lists the same codes: ErrorCode::ALL is complete.
        let union = <ErrorCode as TS>::decl(&Config::new());
        for code in &rust {
            assert!(union.contains(&format!("\"{code}\"")), "{code} in {union}");
        }
        assert_eq!(union.matches('"').count(), 2 * rust.len(), "{union}");
    }

    #[test]
    fn bindings_are_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/ipc/bindings.ts");
        let fresh = render();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/ipc/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p sitedesk bindings`"
        );
    }
}
