//! The TypeScript types of the IPC surface, generated from the Rust types
//! into `ui/src/ipc/bindings.ts`. The test below fails when the committed
//! file is stale; run it with `UPDATE_BINDINGS=1` to rewrite the file.

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sitedesk_core::diagnostics::logs::LogLine;
    use sitedesk_core::diagnostics::metrics::Sample;
    use sitedesk_core::diagnostics::profile::FlameNode;
    use sitedesk_core::diagnostics::{Lint, TaskId, TaskKind, TaskSnapshot, TaskState};
    use sitedesk_core::domain::{
        ActionKind, Actor, Answer, Criterion, CriterionKind, Screening, ScreeningInput, Site,
        Study, Subject, SubjectStatus,
    };
    use sitedesk_core::edc::metrics::{CallTotals, EndpointStats};
    use sitedesk_core::forms::{
        CellStatus, ChoiceView, Evaluation, EventColumn, FieldMessage, FieldState, FieldView,
        FormInput, FormRow, FormStatus, FormView, GridCell, InstanceStatus, Severity, SliderView,
        Unavailable, VisitGrid,
    };
    use sitedesk_core::i18n::Lang;
    use sitedesk_core::metadata::logic::{LogicError, LogicIssue};
    use sitedesk_core::metadata::{Aspect, Choice, FieldChange, FieldType};
    use sitedesk_core::store::DictionaryImport;
    use sitedesk_core::store::sync::{Cell, Conflict, Keep};
    use sitedesk_core::store::{
        AuditEntry, AuditVerification, ChainBreak, ChainProblem, DeskInfo, EdcRecord, LaneStats,
        Percentiles, Settings, StatusCount, StudySetup, SubjectFilter, SubjectRow, SyncSettings,
        WriterStats,
    };
    use sitedesk_core::sync::{BreakerState, Phase, ProgressView, RunReport};
    use ts_rs::{Config, TS};

    use crate::dto::*;
    use crate::edc::EdcMode;
    use crate::error::{ErrorCode, IpcError};

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
            StudySetup,
            DeskInfo,
            Settings,
            SubjectFilter,
            SubjectRow,
            StatusCount,
            AuditEntry,
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
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
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
