//! Pushes a diagnostics snapshot to the UI about once a second, as the
//! `diagnostics` event, so the panel needs no polling loop of its own.

use std::time::Duration;

use sitedesk_core::diagnostics::metrics::Sampler;
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
        lints: lints(state),
        writer: state.store.writer().stats(),
        metrics: state.metrics.all(),
        edc: state.edc_metrics.snapshot(),
        edc_totals: state.edc_metrics.totals(),
        breaker: state.sync.snapshot().breaker,
    }
}

/// The registry's findings about its tasks, then the history's (untracked
/// tasks piling up, a stalled writer).
fn lints(state: &AppState) -> Vec<sitedesk_core::diagnostics::Lint> {
    let mut lints = state.registry.lints();
    lints.extend(state.metrics.lints());
    lints
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
        let mut sampler = Sampler::default();
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {
                    let state = app.state::<AppState>();
                    let sample = sampler
                        .sample(&state.store, &state.registry, &state.edc_metrics)
                        .await;
                    state.metrics.push(sample);
                    let mut snap = snapshot(&state);
                    // The event carries the newest sample; the panel keeps
                    // the history it got when it opened.
                    snap.metrics = vec![sample];
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
        "lints": lints(state),
        "writer": state.store.writer().stats(),
        "metrics": state.metrics.all(),
        "edc": {
            "mode": state.edc.target().map(|t| t.mode),
            "url": state.edc.target().map(|t| t.url),
            "calls": state.edc_metrics.snapshot(),
            "totals": state.edc_metrics.totals(),
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
        // Function and thread names only; the SVG and pprof files are
        // saved apart.
        "profile": state
            .profile
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|p| serde_json::json!({
                "started_at": p.started_at,
                "duration_ms": p.duration.as_millis() as u64,
                "samples": p.samples,
                "frequency_hz": sitedesk_core::diagnostics::profile::FREQUENCY_HZ,
                "folded": p.root.folded(),
            })),
    })
}
