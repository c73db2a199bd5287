//! SiteDesk, the desktop shell: wiring. Command-line flags, the log
//! subscriber, the data folder claimed before any window exists (one
//! SiteDesk per folder), the desk (`sitedesk_core::desk`, opened once the
//! window's runtime runs), the IPC commands, the diagnostics event, and the
//! desk's shutdown at exit. The work itself lives in `sitedesk-core`.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bindings;
mod cli;
mod commands;
mod demo_edc;
mod dto;
mod error;
mod focus;
mod ipc;
mod unlock;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use sitedesk_core::desk::gate::Gate;
use sitedesk_core::desk::{DB_FILE, Desk, DeskError, DeskOptions};
use sitedesk_core::diagnostics::logs::LogBuffer;
use sitedesk_core::i18n::Lang;
use sitedesk_core::instance::{self, InstanceError, InstanceLock};
use sitedesk_core::store::StoreError;
use tauri::{Emitter, Manager, RunEvent};

use crate::cli::Cli;

/// The app's identifier, as in `tauri.conf.json`: names its data folder.
const IDENTIFIER: &str = "org.sitedesk.desk";
/// The event the diagnostics panel listens to.
const DIAGNOSTICS_EVENT: &str = "diagnostics";

fn main() -> ExitCode {
    // Every file and folder this process creates, by any code, is its
    // user's only; set before any thread starts.
    instance::private_umask();
    // clap prints help and versions on standard output, errors on standard
    // error with exit status 2.
    let cli = Cli::from_args_and_env().unwrap_or_else(|e| e.exit());
    // The data folder, looked up once for the app and every command.
    let Some(data_dir) = cli
        .data_dir
        .clone()
        .or_else(|| cli::default_data_dir(IDENTIFIER))
    else {
        eprintln!("sitedesk: no data folder; pass --data-dir");
        return ExitCode::from(2);
    };
    match &cli.command {
        Some(cli::Command::VerifyAudit) => return verify_audit(&cli, &data_dir),
        Some(cli::Command::ImportDictionary { file }) => {
            return import_dictionary(&cli, file, data_dir);
        }
        Some(cli::Command::Restore { from }) => return restore(&cli, from, &data_dir),
        None => {}
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
    // Before any window: a second start shows none.
    let lock = match claim_for_app(&data_dir) {
        Ok(lock) => lock,
        Err(code) => return code,
    };

    let app = tauri::Builder::default()
        .invoke_handler(ipc::handler())
        .setup(move |app| {
            let handle = app.handle().clone();
            let window = app.handle().clone();
            let options = DeskOptions {
                lock: Some(lock),
                desk_code: cli.desk_code.clone(),
                demo_edc: Some(Arc::new(demo_edc::DemoSimulator::default())),
                background: true,
                publish: Some(Box::new(move |snapshot| {
                    if let Err(e) = handle.emit(DIAGNOSTICS_EVENT, snapshot) {
                        tracing::debug!(error = %e, "diagnostics event not delivered");
                    }
                })),
                logs: logs.clone(),
                ..DeskOptions::new(data_dir.clone(), cli::os_account())
            };
            // The desk opens at the first sign-in (its database is
            // encrypted under a key only a password unwraps); its tasks
            // then run on Tauri's runtime, owned by its tracker. From then
            // on a second start brings this window forward.
            let lock_after = cli.lock_seconds.map(|s| Duration::from_secs(u64::from(s)));
            let gate = Gate::new(options, lock_after, cli::system_lang());
            gate.on_open(Box::new(move |desk: &Desk| focus::listen(desk, window)));
            app.manage(Arc::new(gate));
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
            && let Some(gate) = handle.try_state::<Arc<Gate>>()
        {
            tauri::async_runtime::block_on(gate.shutdown());
        }
    });
    ExitCode::SUCCESS
}

/// Claims the data folder for the app (made private first). When another
/// SiteDesk holds it, asks that one's window to come forward and says, in
/// the system's language, that SiteDesk is already open; the app then
/// exits with status 1.
fn claim_for_app(data_dir: &Path) -> Result<InstanceLock, ExitCode> {
    let claimed = instance::private_dir(data_dir)
        .map_err(|source| InstanceError::Io {
            path: data_dir.to_owned(),
            source,
        })
        .and_then(|()| instance::claim(data_dir));
    claimed.map_err(|e| {
        if matches!(e, InstanceError::AlreadyOpen { .. }) && focus::ask_open_window(data_dir) {
            tracing::info!("the open window was asked to come forward");
        }
        eprintln!("sitedesk: {}", e.message(Lang::from_os()));
        ExitCode::FAILURE
    })
}

/// `sitedesk import-dictionary FILE`: makes FILE the study's forms, through
/// the writer and audited, as the Settings page does. On a new desk the
/// demo study is set up first, so the file's forms replace the demo's.
fn import_dictionary(cli: &Cli, file: &Path, data_dir: PathBuf) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
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
    let key = match unlock::data_key(cli, &data_dir) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", data_dir.display());
            return ExitCode::from(2);
        }
    };
    let options = DeskOptions {
        desk_code: cli.desk_code.clone(),
        key,
        ..DeskOptions::new(data_dir.clone(), cli::os_account())
    };
    let result = tauri::async_runtime::block_on(async {
        let desk = Desk::open(options).await?;
        let imported = desk
            .store()
            .writer()
            .import_dictionary(desk.actor(), dictionary, design, file_name)
            .await;
        desk.shutdown().await;
        Ok::<_, sitedesk_core::desk::DeskError>(imported)
    });
    match result {
        Ok(Ok(import)) => {
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
        Ok(Err(e)) => {
            eprintln!("sitedesk: {}: {e}", file.display());
            ExitCode::from(1)
        }
        Err(DeskError::Instance(e)) => {
            eprintln!("sitedesk: {}", e.message(Lang::from_os()));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", data_dir.display());
            ExitCode::from(2)
        }
    }
}

/// `sitedesk restore FROM`: a backup into a new data folder, once it
/// verifies. Exit status 0 restored, 1 refused, 2 error.
fn restore(cli: &Cli, from: &Path, data_dir: &Path) -> ExitCode {
    let key = match unlock::data_key(cli, from) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", from.display());
            return ExitCode::from(2);
        }
    };
    match sitedesk_core::store::backup::restore_backup(from, data_dir, key.as_ref()) {
        Ok(()) => {
            let _ = writeln!(
                std::io::stdout(),
                "{}: restored into {}",
                from.display(),
                data_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e @ sitedesk_core::store::backup::RestoreError::DoesNotVerify(_)) => {
            eprintln!("sitedesk: {}: {e}", from.display());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", from.display());
            ExitCode::from(2)
        }
    }
}

/// `sitedesk verify-audit`: walks the hash chain of the database file and
/// says where it first breaks. Exit status 0 intact, 1 broken, 2 error (the
/// app or another command has the folder open, among others).
fn verify_audit(cli: &Cli, data_dir: &Path) -> ExitCode {
    let path = data_dir.join(DB_FILE);
    let mut out = std::io::stdout();
    let key = match unlock::data_key(cli, data_dir) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", data_dir.display());
            return ExitCode::from(2);
        }
    };
    match sitedesk_core::store::verify_audit_file(&path, key.as_ref()) {
        Ok(v) => match v.broken {
            None => {
                let _ = writeln!(
                    out,
                    "{}: audit trail intact, {} rows, last hash {}; {} form values match their last audit row",
                    path.display(),
                    v.rows_checked,
                    v.head.as_deref().unwrap_or("(empty)"),
                    v.values_checked
                );
                // The data no longer says what the trail says: as broken.
                let mut found = false;
                if let Some(c) = &v.value_changed {
                    found = true;
                    let _ = writeln!(
                        out,
                        "CHANGED: the value of {} at {} (instance {}), field {}, differs from its last audit row",
                        c.record_id, c.event, c.instance, c.field
                    );
                }
                if let Some(id) = v.clock_back {
                    found = true;
                    let _ = writeln!(
                        out,
                        "CLOCK: audit row {id} is stamped earlier than the row before it"
                    );
                }
                if let Some(hash) = &v.dictionary_changed {
                    found = true;
                    let _ = writeln!(
                        out,
                        "CHANGED: the stored form version {hash} no longer gives its hash"
                    );
                }
                if found {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
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
        Err(StoreError::Instance(e)) => {
            eprintln!("sitedesk: {}", e.message(Lang::from_os()));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("sitedesk: {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}
