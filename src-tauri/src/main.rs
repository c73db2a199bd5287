//! SiteDesk, the desktop shell: command-line flags, start-up (open the store,
//! set up the demo study when nothing is configured), the IPC commands, and
//! an orderly exit. The work itself lives in `sitedesk-core`.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bindings;
mod cli;
mod commands;
mod diagnostics;
mod dto;
mod edc;
mod error;
mod state;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sitedesk_core::diagnostics::TaskRegistry;
use sitedesk_core::diagnostics::logs::LogBuffer;
use sitedesk_core::domain::demo_study;
use sitedesk_core::forms::demo_forms;
use sitedesk_core::store::{Store, StoreOptions};
use tauri::{Manager, RunEvent};

use crate::cli::Cli;
use crate::state::{AppState, os_account};

/// The app's identifier, as in `tauri.conf.json`: names its data folder.
const IDENTIFIER: &str = "org.sitedesk.desk";
/// The database file's name inside the data directory.
const DB_FILE: &str = "sitedesk.sqlite3";
/// The demo EDC's records, beside the database, in demo mode.
const DEMO_EDC_FILE: &str = "demo-edc.sqlite3";
/// How long exit waits for tasks to stop before it closes the store anyway.
/// Data safety does not depend on it: every acknowledged edit is committed.
/// Where the demo forms came from, as the Settings page shows it.
const DEMO_FORMS_SOURCE: &str = "SiteDesk demo study";

const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = match Cli::parse(std::env::args().skip(1)) {
        Ok(cli::Parsed::Run(cli)) => cli,
        Ok(cli::Parsed::Exit(text)) => {
            // `--help` and `--version` answer on standard output.
            let _ = writeln!(std::io::stdout(), "{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sitedesk: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match cli.command {
        cli::Subcommand::VerifyAudit => return verify_audit(&cli),
        cli::Subcommand::ImportDictionary => return import_dictionary(&cli),
        cli::Subcommand::Run => {}
    }
    // Standard error for IT staff, and the redacting ring buffer the
    // diagnostics panel and the support bundle read.
    let logs = LogBuffer::default();
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::EnvFilter::try_from_env("SITEDESK_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
            )
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .with(logs.layer())
            .init();
    }

    let app = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::ipc::app_info,
            commands::ipc::list_subjects,
            commands::ipc::status_counts,
            commands::ipc::get_subject,
            commands::ipc::list_edc_records,
            commands::ipc::get_record,
            commands::ipc::record_profile,
            commands::ipc::save_profile,
            commands::ipc::screen_subject,
            commands::ipc::edit_screening,
            commands::ipc::apply_action,
            commands::ipc::save_preferences,
            commands::ipc::verify_audit,
            commands::ipc::preview_dictionary,
            commands::ipc::import_dictionary,
            commands::ipc::visit_grid,
            commands::ipc::open_form,
            commands::ipc::evaluate_form,
            commands::ipc::save_form,
            commands::ipc::edc_settings,
            commands::ipc::save_edc_settings,
            commands::ipc::forget_edc_settings,
            commands::ipc::test_connection,
            commands::ipc::sync_status,
            commands::ipc::sync_now,
            commands::ipc::cancel_sync,
            commands::ipc::list_conflicts,
            commands::ipc::resolve_conflict,
            commands::ipc::save_sync_settings,
            commands::ipc::cancel_task,
            commands::ipc::recent_logs,
            commands::ipc::save_diagnostics_bundle,
            commands::ipc::diagnostics_snapshot,
        ])
        .setup(move |app| {
            let data_dir = match &cli.data_dir {
                Some(dir) => dir.clone(),
                None => app.path().app_data_dir()?,
            };
            let mut state = start(data_dir.join(DB_FILE), &cli)?;
            state.logs = logs.clone();
            tauri::async_runtime::block_on(connect_edc(&state))?;
            // Sync runs on Tauri's runtime, owned by the app's tracker.
            let _guard = tauri::async_runtime::handle().inner().enter();
            edc::start_scheduler(&state);
            app.manage(state);
            diagnostics::spawn_publisher(app.handle());
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("sitedesk: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event
            && let Some(state) = handle.try_state::<AppState>()
        {
            shutdown(&state);
        }
    });
    ExitCode::SUCCESS
}

/// `sitedesk import-dictionary FILE`: makes FILE the study's forms, through
/// the writer and audited, as the Settings page does. On a new desk the
/// demo study is set up first, so the file's forms replace the demo's.
fn import_dictionary(cli: &Cli) -> ExitCode {
    let Some(dir) = cli
        .data_dir
        .clone()
        .or_else(|| cli::default_data_dir(IDENTIFIER))
    else {
        eprintln!("sitedesk: no data folder; pass --data-dir");
        return ExitCode::from(2);
    };
    let file = cli.file.clone().expect("the parser requires a file");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parsed = commands::read_dictionary(
        sitedesk_core::i18n::Lang::EN,
        &dto::DictionaryFile {
            file_name: file_name.clone(),
            text,
        },
    );
    let (dictionary, design) = match parsed {
        Ok(d) => d,
        Err(e) => {
            eprintln!("sitedesk: {}: {}", file.display(), e.message);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("sitedesk: {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let state = match start(dir.join(DB_FILE), cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    let result = tauri::async_runtime::block_on(state.store.writer().import_dictionary(
        state.actor(),
        dictionary,
        design,
        file_name,
    ));
    shutdown(&state);
    match result {
        Ok(import) => {
            let _ = writeln!(
                std::io::stdout(),
                "{}: {} (version {}, {} field changes)",
                file.display(),
                if import.changed {
                    "imported"
                } else {
                    "already in force"
                },
                &import.hash[..12],
                import.changes.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", file.display());
            ExitCode::from(1)
        }
    }
}

/// `sitedesk verify-audit`: walks the hash chain of the database file and
/// says where it first breaks. Exit status 0 intact, 1 broken, 2 error.
fn verify_audit(cli: &Cli) -> ExitCode {
    let Some(dir) = cli
        .data_dir
        .clone()
        .or_else(|| cli::default_data_dir(IDENTIFIER))
    else {
        eprintln!("sitedesk: no data folder; pass --data-dir");
        return ExitCode::from(2);
    };
    let path = dir.join(DB_FILE);
    let mut out = std::io::stdout();
    match sitedesk_core::store::verify_audit_file(&path) {
        Ok(v) => match v.broken {
            None => {
                let _ = writeln!(
                    out,
                    "{}: audit trail intact, {} rows, last hash {}",
                    path.display(),
                    v.rows_checked,
                    v.head.as_deref().unwrap_or("(empty)")
                );
                ExitCode::SUCCESS
            }
            Some(b) => {
                let _ = writeln!(
                    out,
                    "{}: audit trail BROKEN at row {}: {} ({} rows before it verified)",
                    path.display(),
                    b.audit_id,
                    b.problem.describe(),
                    v.rows_checked
                );
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}

/// Opens the store and, on a desk with nothing configured, sets up the demo
/// study with this desk at its first site.
fn start(db: PathBuf, cli: &Cli) -> Result<AppState, Box<dyn std::error::Error>> {
    let registry = TaskRegistry::new();
    let options = StoreOptions {
        desk_code: cli.desk_code.clone(),
        ..StoreOptions::default()
    };
    let store = Store::open(&db, options, &registry)?;
    tracing::info!(path = %db.display(), "database open");
    let account = os_account();
    tauri::async_runtime::block_on(async {
        let settings = store.readers().settings().await?;
        let (study, sites, criteria) = demo_study();
        let demo_id = study.id.clone();
        let desk_site = sites[0].id.clone();
        let actor = sitedesk_core::domain::Actor {
            account: account.clone(),
            display_name: settings.display_name.clone(),
        };
        if store
            .writer()
            .configure_study(actor.clone(), study, sites, criteria, desk_site)
            .await?
        {
            tracing::info!("nothing configured: set up the demo study");
        }
        let demo = store
            .readers()
            .setup()
            .await?
            .is_some_and(|s| s.study.id == demo_id);
        // The demo study's forms, unless forms were imported already.
        if demo && store.readers().dictionary().await?.is_none() {
            let (dictionary, design) = demo_forms();
            store
                .writer()
                .import_dictionary(actor, dictionary, Some(design), DEMO_FORMS_SOURCE.into())
                .await?;
        }
        let mut state = AppState::new(store.clone(), registry, account, demo, settings);
        state.edc = edc::EdcState::with_demo_database(db.with_file_name(DEMO_EDC_FILE));
        Ok(state)
    })
}

/// Chooses the EDC: the one saved in Settings, else on a demo desk the
/// built-in simulator, else none yet; and how sync runs.
async fn connect_edc(state: &AppState) -> Result<(), Box<dyn std::error::Error>> {
    let settings = state.store.readers().sync_settings().await?;
    *state
        .sync_settings
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = settings;
    state.sync.set_interval(Duration::from_secs(
        u64::from(settings.interval_minutes) * 60,
    ));
    let saved = state.store.readers().edc_connection().await?;
    match saved.and_then(|(url, token)| Some((url, sitedesk_core::edc::Token::parse(&token)?))) {
        Some((url, token)) => {
            tracing::info!(%url, "EDC from settings");
            state.edc.set_target(Some(edc::EdcTarget {
                mode: edc::EdcMode::Real,
                url,
                token,
            }));
        }
        None if state.demo => state.edc.start_demo().await?,
        None => tracing::info!("no EDC configured"),
    }
    Ok(())
}

/// Cancel every task, wait for them within a deadline, then let the writer
/// commit what is queued and stop.
fn shutdown(state: &AppState) {
    state.cancel.cancel();
    state.tracker.close();
    tauri::async_runtime::block_on(async {
        if tokio::time::timeout(SHUTDOWN_DEADLINE, state.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                live = state.tracker.len(),
                "tasks still running at exit deadline"
            );
        }
        state.edc.stop_demo().await;
        state.store.close().await;
    });
    tracing::info!("shut down");
}
