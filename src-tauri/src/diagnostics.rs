//! Pushes a diagnostics snapshot to the UI about once a second, as the
//! `diagnostics` event, so the panel needs no polling loop of its own.

use std::time::Duration;

use sitedesk_core::diagnostics::{TaskKind, TaskState};
use tauri::{AppHandle, Emitter, Manager};

use crate::dto::DiagnosticsSnapshot;
use crate::state::AppState;

/// The event name the UI listens to.
pub const EVENT: &str = "diagnostics";
/// How often the panel refreshes: often enough to watch a sync, rarely
/// enough to cost nothing.
const PERIOD: Duration = Duration::from_secs(1);

pub fn snapshot(state: &AppState) -> DiagnosticsSnapshot {
    DiagnosticsSnapshot {
        tasks: state.registry.snapshot(),
        lints: state.registry.lints(),
        writer: state.store.writer().stats(),
    }
}

/// Starts the publisher as a tracked task that stops with the app's token.
pub fn spawn_publisher(app: &AppHandle) {
    let state = app.state::<AppState>();
    let task = state
        .registry
        .register("Diagnostics publisher", TaskKind::Diagnostics, None);
    let cancel = state.cancel.child_token();
    let app = app.clone();
    let fut = state.tracker.track_future(async move {
        task.set_state(TaskState::Running);
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {
                    let snap = snapshot(&app.state::<AppState>());
                    if let Err(e) = app.emit(EVENT, snap) {
                        tracing::debug!(error = %e, "diagnostics event not delivered");
                    }
                }
            }
        }
        task.finish(TaskState::Cancelled);
    });
    tauri::async_runtime::spawn(fut);
}

/// Everything support needs to see why a desk misbehaves, as one JSON
/// document: versions, tasks, lints, writer metrics, sync state, recent
/// logs. No patient data (the logs are redacted, tasks carry ids and
/// error kinds) and no token.
pub fn bundle(state: &AppState) -> serde_json::Value {
    let sync = state.sync.snapshot();
    serde_json::json!({
        "app": "SiteDesk",
        "version": env!("CARGO_PKG_VERSION"),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "created_at": chrono::Utc::now().to_rfc3339(),
        "tasks": state.registry.snapshot(),
        "lints": state.registry.lints(),
        "writer": state.store.writer().stats(),
        "edc": {
            "mode": state.edc.target().map(|t| t.mode),
            "url": state.edc.target().map(|t| t.url),
        },
        "sync": {
            "running": sync.running,
            "offline": sync.offline,
            "last_success_at": sync.last_success_at,
            "last_report": sync.last_report,
            "error": sync.error.map(|e| e.to_string()),
            "breaker": sync.breaker,
        },
        "logs": state.logs.lines("TRACE", "", sitedesk_core::diagnostics::logs::LOG_LINES),
    })
}
