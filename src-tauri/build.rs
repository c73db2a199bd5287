//! Generates the Tauri context and the ACL permissions of the app's own
//! commands: a command missing from this list cannot be called at all, and
//! one listed here is callable only if a capability grants it.

/// Every command in `src/commands.rs`; `capabilities/default.json` grants them.
const COMMANDS: &[&str] = &[
    "app_info",
    "list_subjects",
    "status_counts",
    "get_subject",
    "list_edc_records",
    "get_record",
    "screen_subject",
    "edit_screening",
    "apply_action",
    "save_preferences",
    "verify_audit",
    "preview_dictionary",
    "import_dictionary",
    "visit_grid",
    "open_form",
    "evaluate_form",
    "save_form",
    "edc_settings",
    "save_edc_settings",
    "forget_edc_settings",
    "test_connection",
    "sync_status",
    "sync_now",
    "cancel_sync",
    "list_conflicts",
    "resolve_conflict",
    "save_sync_settings",
    "cancel_task",
    "recent_logs",
    "save_diagnostics_bundle",
    "diagnostics_snapshot",
    "record_profile",
    "save_profile",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
