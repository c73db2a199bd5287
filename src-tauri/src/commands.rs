//! The IPC commands: thin. Each one parses its raw payload into a typed
//! value, calls the core, and returns a DTO or an [`IpcError`]. No rule of
//! the domain lives here.
//!
//! The handlers take `&AppState` so that tests can call them on a real
//! store without a window; [`ipc`] holds the `#[tauri::command]` wrappers
//! the app registers, one line each.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use sitedesk_core::diagnostics::{TaskKind, TaskState};
use sitedesk_core::domain::{Action, ActionKind, ScreeningInput, Subject};
use sitedesk_core::edc::{EdcClient, EdcError, Token};
use sitedesk_core::forms::{Evaluation, FormAt, FormError, RecordValues, Study, VisitGrid};
use sitedesk_core::i18n::{Lang, Message};
use sitedesk_core::store::{
    AuditVerification, DictionaryImport, EdcRecord, Lane, Settings, StatusCount, StoreError,
    StoredDictionary, SubjectFilter, SubjectRow, SyncSettings, metadata_hash,
};

use sitedesk_core::metadata::design::Design;
use sitedesk_core::metadata::{self, Dictionary};

use crate::dto::{
    AppInfo, ApplyAction, ConflictView, ConnectionReport, DiagnosticsSnapshot, DictionaryFile,
    DictionaryPreview, EdcSettings, EditScreening, EvaluateForm, FormRef, LogQuery, OpenedForm,
    Preferences, ProfileFormat, ProfileView, RecordDetail, RecordProfile, ResolveConflict, SaveEdc,
    SaveForm, SaveProfile, SavedForm, SubjectDetail, SubjectRef, SyncStatus, TaskRef,
};
use crate::edc::{EdcMode, EdcTarget, TEST_TIMEOUTS};
use crate::error::{ErrorCode, IpcError};
use crate::state::AppState;
use sitedesk_core::diagnostics::logs::LogLine;
use sitedesk_core::diagnostics::profile;
use sitedesk_core::store::sync::Keep;

type CmdResult<T> = Result<T, IpcError>;

/// Longest subject id accepted; real ids are about 12 characters.
const ID_MAX_CHARS: usize = 40;
/// Longest search text accepted.
const SEARCH_MAX_CHARS: usize = 100;

/// Every payload is a JSON object with exactly the fields of its type: an
/// array (which serde would read as a struct), a misspelt or an extra field
/// is refused rather than guessed at.
fn parse<T: DeserializeOwned>(lang: Lang, payload: Value) -> CmdResult<T> {
    if !payload.is_object() {
        return Err(IpcError::invalid_input(
            lang,
            "the payload is not an object",
        ));
    }
    serde_json::from_value(payload).map_err(|e| IpcError::invalid_input(lang, e))
}

fn check_id(lang: Lang, id: &str) -> CmdResult<()> {
    let ok = !id.is_empty()
        && id.chars().count() <= ID_MAX_CHARS
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(IpcError::invalid_input(lang, "malformed subject id"))
    }
}

pub async fn app_info(state: &AppState) -> CmdResult<AppInfo> {
    let lang = state.lang();
    let readers = state.store.readers();
    let err = |e| IpcError::from_store(e, lang);
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        actor: state.actor(),
        settings: state.prefs(),
        setup: readers.setup().await.map_err(err)?,
        desk: readers.desk().await.map_err(err)?,
        database_path: state.store.path().display().to_string(),
        demo: state.demo,
        profiling: profile::available(),
    })
}

pub async fn list_subjects(state: &AppState, payload: Value) -> CmdResult<Vec<SubjectRow>> {
    let lang = state.lang();
    let filter: SubjectFilter = parse(lang, payload)?;
    if filter
        .search
        .as_ref()
        .is_some_and(|s| s.chars().count() > SEARCH_MAX_CHARS)
    {
        return Err(IpcError::invalid_input(lang, "search text too long"));
    }
    state
        .store
        .readers()
        .subjects(filter)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn status_counts(state: &AppState) -> CmdResult<Vec<StatusCount>> {
    let lang = state.lang();
    state
        .store
        .readers()
        .status_counts()
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn get_subject(state: &AppState, payload: Value) -> CmdResult<SubjectDetail> {
    let lang = state.lang();
    let SubjectRef { id } = parse(lang, payload)?;
    check_id(lang, &id)?;
    let readers = state.store.readers();
    let err = |e| IpcError::from_store(e, lang);
    let subject = readers.subject(id.clone()).await.map_err(err)?;
    let audit = readers.subject_audit(id).await.map_err(err)?;
    let actions = ActionKind::ALL
        .into_iter()
        .filter(|k| k.target(subject.status).is_some())
        .collect();
    Ok(SubjectDetail {
        subject,
        actions,
        audit,
    })
}

/// Records pulled from the EDC that were not registered at this desk.
pub async fn list_edc_records(state: &AppState) -> CmdResult<Vec<EdcRecord>> {
    let lang = state.lang();
    state
        .store
        .readers()
        .edc_records()
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// A record known from the EDC, with its history at this desk.
pub async fn get_record(state: &AppState, payload: Value) -> CmdResult<RecordDetail> {
    let lang = state.lang();
    let SubjectRef { id } = parse(lang, payload)?;
    check_id(lang, &id)?;
    let readers = state.store.readers();
    let err = |e| IpcError::from_store(e, lang);
    if readers
        .record_values(id.clone())
        .await
        .map_err(err)?
        .is_empty()
    {
        return Err(IpcError::from_store(
            StoreError::NotFound {
                entity: "record",
                id,
            },
            lang,
        ));
    }
    let audit = readers.subject_audit(id.clone()).await.map_err(err)?;
    Ok(RecordDetail {
        record_id: id,
        audit,
    })
}

pub async fn screen_subject(state: &AppState, payload: Value) -> CmdResult<Subject> {
    let lang = state.lang();
    let input: ScreeningInput = parse(lang, payload)?;
    state
        .store
        .writer()
        .screen_subject(state.actor(), input)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn edit_screening(state: &AppState, payload: Value) -> CmdResult<Subject> {
    let lang = state.lang();
    let EditScreening { id, input, reason } = parse(lang, payload)?;
    check_id(lang, &id)?;
    state
        .store
        .writer()
        .edit_screening(state.actor(), id, input, reason)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn apply_action(state: &AppState, payload: Value) -> CmdResult<Subject> {
    let lang = state.lang();
    let ApplyAction {
        id,
        kind,
        date,
        reason,
    } = parse(lang, payload)?;
    check_id(lang, &id)?;
    let action = Action::parse(kind, date.as_deref(), reason.as_deref())
        .map_err(|e| IpcError::from_store(e.into(), lang))?;
    state
        .store
        .writer()
        .apply_action(state.actor(), id, action)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn save_preferences(state: &AppState, payload: Value) -> CmdResult<Settings> {
    let lang = state.lang();
    let Preferences {
        display_name,
        language,
    } = parse(lang, payload)?;
    let store = &state.store;
    store
        .writer()
        .set_preferences(state.actor(), display_name, language)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let saved = store
        .readers()
        .settings()
        .await
        .map_err(|e| IpcError::from_store(e, language))?;
    state.set_prefs(saved.clone());
    Ok(saved)
}

/// Walks the audit trail's hash chain, as a task in the diagnostics panel
/// that stops with the app.
pub async fn verify_audit(state: &AppState) -> CmdResult<AuditVerification> {
    let lang = state.lang();
    let task = state
        .registry
        .register("Verify audit trail", TaskKind::Maintenance, None);
    task.set_state(TaskState::Running);
    let result = state
        .store
        .readers()
        .verify_audit(state.cancel.child_token())
        .await;
    let end = match &result {
        Ok(v) => {
            if let Some(b) = &v.broken {
                tracing::warn!(audit_id = b.audit_id, problem = ?b.problem, "audit chain broken");
                task.set_error(format!("broken at row {}", b.audit_id));
            }
            TaskState::Done
        }
        Err(StoreError::Cancelled) => TaskState::Cancelled,
        Err(e) => {
            task.set_error(e.to_string());
            TaskState::Failed
        }
    };
    task.finish(end);
    result.map_err(|e| IpcError::from_store(e, lang))
}

/// The largest dictionary file accepted: real ones are tens of kilobytes.
const DICTIONARY_MAX_BYTES: usize = 5 * 1024 * 1024;

/// Reads a dictionary file by its kind: the API's metadata JSON (`.json`),
/// an ODM project export with its design (`.xml`), or else a data
/// dictionary CSV.
pub(crate) fn read_dictionary(
    lang: Lang,
    file: &DictionaryFile,
) -> CmdResult<(Dictionary, Option<Design>)> {
    if file.text.len() > DICTIONARY_MAX_BYTES || file.file_name.chars().count() > 255 {
        return Err(IpcError::invalid_input(
            lang,
            "the dictionary file is too large",
        ));
    }
    let name = file.file_name.to_ascii_lowercase();
    let invalid = |e: metadata::MetadataError| IpcError::validation(e.message(lang));
    if name.ends_with(".json") {
        Ok((metadata::parse_api_json(&file.text).map_err(invalid)?, None))
    } else if name.ends_with(".xml") {
        let (dictionary, design) =
            metadata::parse_odm(&file.text).map_err(|e| IpcError::validation(e.message(lang)))?;
        Ok((dictionary, Some(design)))
    } else {
        Ok((
            metadata::parse_csv(file.text.as_bytes()).map_err(invalid)?,
            None,
        ))
    }
}

/// Reads a data dictionary file and says what importing it would change.
pub async fn preview_dictionary(state: &AppState, payload: Value) -> CmdResult<DictionaryPreview> {
    let lang = state.lang();
    let file: DictionaryFile = parse(lang, payload)?;
    let (dictionary, design) = read_dictionary(lang, &file)?;
    let current = state
        .store
        .readers()
        .dictionary()
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let design = design.unwrap_or_else(|| {
        current
            .as_ref()
            .map(|c| c.design.pruned_to(&dictionary))
            .unwrap_or_default()
    });
    Ok(DictionaryPreview {
        hash: metadata_hash(&dictionary, &design),
        current_hash: current.as_ref().map(|c| c.hash.clone()),
        fields: dictionary.fields.len() as u32,
        instruments: dictionary
            .instruments()
            .into_iter()
            .map(|i| i.name)
            .collect(),
        changes: dictionary.changes_since(current.as_ref().map(|c| &c.dictionary)),
        logic_issues: metadata::logic::check_dictionary(&dictionary),
    })
}

/// Makes a data dictionary file the study's dictionary.
pub async fn import_dictionary(state: &AppState, payload: Value) -> CmdResult<DictionaryImport> {
    let lang = state.lang();
    let file: DictionaryFile = parse(lang, payload)?;
    let (dictionary, design) = read_dictionary(lang, &file)?;
    state
        .store
        .writer()
        .import_dictionary(state.actor(), dictionary, design, file.file_name)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// The dictionary and design in force, and the subject's saved values;
/// refuses a subject that does not exist.
async fn form_context(
    state: &AppState,
    lang: Lang,
    subject_id: &str,
) -> CmdResult<(StoredDictionary, RecordValues)> {
    check_id(lang, subject_id)?;
    let readers = state.store.readers();
    let err = |e| IpcError::from_store(e, lang);
    let saved = readers
        .record_values(subject_id.to_owned())
        .await
        .map_err(err)?;
    if saved.is_empty() {
        // A record pulled from the EDC has values; one without any must be
        // a subject registered here.
        readers.subject(subject_id.to_owned()).await.map_err(err)?;
    }
    let stored = readers
        .dictionary()
        .await
        .map_err(err)?
        .ok_or_else(|| IpcError::from_form(FormError::NoDictionary, lang))?;
    Ok((stored, RecordValues::new(saved)))
}

fn form_at(f: &FormRef) -> FormAt<'_> {
    FormAt {
        record_id: &f.subject_id,
        event: &f.event,
        form: &f.form,
        instance: f.instance,
    }
}

/// The desk's local time, against which `today` and `now` bounds apply.
fn local_now() -> chrono::NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// A subject's visit grid; `None` when no study forms are imported yet.
pub async fn visit_grid(state: &AppState, payload: Value) -> CmdResult<Option<VisitGrid>> {
    let lang = state.lang();
    let SubjectRef { id } = parse(lang, payload)?;
    match form_context(state, lang, &id).await {
        Ok((stored, saved)) => {
            let study = Study {
                dictionary: &stored.dictionary,
                design: &stored.design,
            };
            Ok(Some(study.visit_grid(&saved)))
        }
        Err(e) if e.code == ErrorCode::NoForms => Ok(None),
        Err(e) => Err(e),
    }
}

/// A form ready to fill, with its saved values and what it shows for them.
pub async fn open_form(state: &AppState, payload: Value) -> CmdResult<OpenedForm> {
    let lang = state.lang();
    let at: FormRef = parse(lang, payload)?;
    let (stored, saved) = form_context(state, lang, &at.subject_id).await?;
    let study = Study {
        dictionary: &stored.dictionary,
        design: &stored.design,
    };
    let err = |e| IpcError::from_form(e, lang);
    let view = study.form_view(&form_at(&at), &saved, lang).map_err(err)?;
    let evaluation = study
        .evaluate(&form_at(&at), &saved, &BTreeMap::new(), local_now(), lang)
        .map_err(err)?;
    Ok(OpenedForm { view, evaluation })
}

/// What the form shows for the values typed so far: branching, calcs,
/// messages, and whether saving needs a reason.
pub async fn evaluate_form(state: &AppState, payload: Value) -> CmdResult<Evaluation> {
    let lang = state.lang();
    let EvaluateForm { at, values } = parse(lang, payload)?;
    let (stored, saved) = form_context(state, lang, &at.subject_id).await?;
    Study {
        dictionary: &stored.dictionary,
        design: &stored.design,
    }
    .evaluate(&form_at(&at), &saved, &values, local_now(), lang)
    .map_err(|e| IpcError::from_form(e, lang))
}

/// Saves a form through the writer: only changed values, each with its
/// audit and outbox row; a changed saved value needs a reason.
pub async fn save_form(state: &AppState, payload: Value) -> CmdResult<SavedForm> {
    let lang = state.lang();
    let SaveForm { at, input } = parse(lang, payload)?;
    let (stored, saved) = form_context(state, lang, &at.subject_id).await?;
    let edit = Study {
        dictionary: &stored.dictionary,
        design: &stored.design,
    }
    .plan_save(&form_at(&at), &saved, &input, local_now(), lang)
    .map_err(|e| IpcError::from_form(e, lang))?;
    let changed = state
        .store
        .writer()
        .set_values(Lane::Interactive, state.actor(), edit)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    Ok(SavedForm { changed })
}

/// The EDC connection as Settings shows it.
pub async fn edc_settings(state: &AppState) -> CmdResult<EdcSettings> {
    let lang = state.lang();
    let saved = state
        .store
        .readers()
        .edc_connection()
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let (pending_edits, _, _) = state
        .store
        .readers()
        .sync_counts()
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let target = state.edc.target();
    Ok(EdcSettings {
        mode: target.as_ref().map_or(EdcMode::None, |t| t.mode),
        url: target.map(|t| t.url),
        token_saved: saved.is_some(),
        pending_edits,
    })
}

/// Saves the study's REDCap address and token; from then on the desk talks
/// to it, not to the demo EDC. Nothing is sent: "Test connection" does that.
pub async fn save_edc_settings(state: &AppState, payload: Value) -> CmdResult<EdcSettings> {
    let lang = state.lang();
    let SaveEdc { url, token } = parse(lang, payload)?;
    if url.chars().count() > 500 {
        return Err(IpcError::invalid_input(lang, "address too long"));
    }
    let api =
        sitedesk_core::edc::api_url(&url).map_err(|e| IpcError::validation(e.message(lang)))?;
    let token = match token.filter(|t| !t.trim().is_empty()) {
        Some(t) => Token::parse(&t)
            .ok_or_else(|| IpcError::validation(Message::new("shell.tokenFormat").render(lang)))?,
        None => state
            .store
            .readers()
            .edc_connection()
            .await
            .map_err(|e| IpcError::from_store(e, lang))?
            .and_then(|(_, t)| Token::parse(&t))
            .ok_or_else(|| IpcError::validation(Message::new("shell.tokenMissing").render(lang)))?,
    };
    state
        .store
        .writer()
        .set_edc_connection(
            state.actor(),
            Some((api.to_string(), token.expose().to_owned())),
        )
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    state.edc.stop_demo().await;
    state.edc.set_target(Some(EdcTarget {
        mode: EdcMode::Real,
        url: api.to_string(),
        token,
    }));
    edc_settings(state).await
}

/// Forgets the saved EDC: a demo desk goes back to the demo EDC.
pub async fn forget_edc_settings(state: &AppState) -> CmdResult<EdcSettings> {
    let lang = state.lang();
    state
        .store
        .writer()
        .set_edc_connection(state.actor(), None)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    if state.demo {
        state
            .edc
            .start_demo()
            .await
            .map_err(|e| IpcError::from_edc(&EdcError::Transport(e.to_string()), lang))?;
    } else {
        state.edc.set_target(None);
    }
    edc_settings(state).await
}

/// Asks the EDC for its version and the project's title.
pub async fn test_connection(state: &AppState) -> CmdResult<ConnectionReport> {
    let lang = state.lang();
    let target = state.edc.target().ok_or_else(|| IpcError::no_edc(lang))?;
    let err = |e: EdcError| IpcError::from_edc(&e, lang);
    let client = EdcClient::new(&target.url, target.token.clone(), TEST_TIMEOUTS)
        .map_err(err)?
        .with_metrics(state.edc_metrics.clone());
    let version = client.version().await.map_err(err)?;
    let project = client.project().await.map_err(err)?;
    Ok(ConnectionReport {
        mode: target.mode,
        url: client.api().to_owned(),
        version,
        project_title: project.project_title,
        longitudinal: project.is_longitudinal,
    })
}

/// What sync is doing, for the sync center.
pub async fn sync_status(state: &AppState) -> CmdResult<SyncStatus> {
    let lang = state.lang();
    let (pending, _, conflicts) = state
        .store
        .readers()
        .sync_counts()
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let s = state.sync.snapshot();
    Ok(SyncStatus {
        mode: state.edc.target().map_or(EdcMode::None, |t| t.mode),
        running: s.running,
        offline: s.offline,
        progress: s.progress,
        last_success_at: s.last_success_at.map(|t| t.to_rfc3339()),
        last_report: s.last_report,
        error: s.error.map(|e| e.message(lang)),
        breaker: s.breaker,
        pending,
        conflicts,
        settings: *state
            .sync_settings
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    })
}

/// Saves how this desk syncs; the scheduler uses it from the next run.
pub async fn save_sync_settings(state: &AppState, payload: Value) -> CmdResult<SyncSettings> {
    let lang = state.lang();
    let settings: SyncSettings = parse(lang, payload)?;
    state
        .store
        .writer()
        .set_sync_settings(state.actor(), settings)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    *state
        .sync_settings
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = settings;
    state.sync.set_interval(std::time::Duration::from_secs(
        u64::from(settings.interval_minutes) * 60,
    ));
    Ok(settings)
}

/// Starts a run now (after the one running, if any).
pub async fn sync_now(state: &AppState) -> CmdResult<()> {
    if state.edc.target().is_none() {
        return Err(IpcError::no_edc(state.lang()));
    }
    state.sync.sync_now();
    Ok(())
}

/// Cancels the run in progress; says whether one was running.
pub async fn cancel_sync(state: &AppState) -> CmdResult<bool> {
    Ok(state.sync.cancel())
}

/// The conflicts waiting for a person, with their fields' labels.
pub async fn list_conflicts(state: &AppState) -> CmdResult<Vec<ConflictView>> {
    let lang = state.lang();
    let readers = state.store.readers();
    let err = |e| IpcError::from_store(e, lang);
    let conflicts = readers.conflicts().await.map_err(err)?;
    let stored = readers.dictionary().await.map_err(err)?;
    Ok(conflicts
        .into_iter()
        .map(|c| {
            let base = c.cell.field.split("___").next().unwrap_or(&c.cell.field);
            let (label, event_label) = match &stored {
                Some(s) => (
                    s.dictionary
                        .field(base)
                        .map(|f| sitedesk_core::forms::plain_text(&f.label))
                        .unwrap_or_else(|| c.cell.field.clone()),
                    s.design
                        .events
                        .iter()
                        .find(|e| e.unique_event_name == c.cell.event)
                        .map(|e| e.event_name.clone())
                        .unwrap_or_else(|| c.cell.event.clone()),
                ),
                None => (c.cell.field.clone(), c.cell.event.clone()),
            };
            ConflictView {
                conflict: c,
                label,
                event_label,
            }
        })
        .collect())
}

/// Settles a conflict with the value kept and the reason, audited.
pub async fn resolve_conflict(state: &AppState, payload: Value) -> CmdResult<()> {
    let lang = state.lang();
    let ResolveConflict { id, keep, reason } = parse(lang, payload)?;
    if let Keep::Other(v) = &keep
        && v.chars().count() > sitedesk_core::domain::VALUE_MAX_CHARS
    {
        return Err(IpcError::invalid_input(lang, "value too long"));
    }
    state
        .store
        .writer()
        .resolve_conflict(state.actor(), id, keep, reason)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// Cancels a task and every task below it, from the diagnostics panel;
/// answers how many were cancelled.
pub async fn cancel_task(state: &AppState, payload: Value) -> CmdResult<u32> {
    let TaskRef { id } = parse(state.lang(), payload)?;
    Ok(state
        .registry
        .cancel_subtree(sitedesk_core::diagnostics::TaskId(id)) as u32)
}

/// Recent log lines, redacted, newest last.
pub async fn recent_logs(state: &AppState, payload: Value) -> CmdResult<Vec<LogLine>> {
    let lang = state.lang();
    let LogQuery { level, search } = parse(lang, payload)?;
    if search.chars().count() > SEARCH_MAX_CHARS {
        return Err(IpcError::invalid_input(lang, "search text too long"));
    }
    Ok(state.logs.lines(&level, &search, 500))
}

/// Samples the whole app for `seconds`, as a registered task the panel can
/// cancel, keeps the profile for saving and for the bundle, and returns its
/// flame graph.
pub async fn record_profile(state: &AppState, payload: Value) -> CmdResult<ProfileView> {
    let lang = state.lang();
    let RecordProfile { seconds } = parse(lang, payload)?;
    if !(1..=profile::MAX_SECONDS).contains(&seconds) {
        return Err(IpcError::invalid_input(
            lang,
            format!("seconds must be 1 to {}", profile::MAX_SECONDS),
        ));
    }
    let cancel = state.cancel.child_token();
    let task = state.registry.register_cancellable(
        format!("CPU profile ({seconds} s)"),
        TaskKind::Profiler,
        None,
        Some(cancel.clone()),
    );
    let recording = state.tracker.spawn(async move {
        task.set_state(TaskState::Running);
        let result =
            profile::record(std::time::Duration::from_secs(u64::from(seconds)), &cancel).await;
        match &result {
            Ok(_) => task.finish(TaskState::Done),
            Err(profile::ProfileError::Cancelled) => task.finish(TaskState::Cancelled),
            Err(e) => {
                task.set_error(e.to_string());
                task.finish(TaskState::Failed);
            }
        }
        result
    });
    let recorded = recording
        .await
        .map_err(|e| IpcError::from_profile(&profile::ProfileError::Failed(e.to_string()), lang))?
        .map_err(|e| IpcError::from_profile(&e, lang))?;
    tracing::info!(
        samples = recorded.samples,
        ms = recorded.duration.as_millis() as u64,
        "CPU profile recorded"
    );
    let view = ProfileView {
        started_at: recorded.started_at,
        duration_ms: recorded.duration.as_millis() as u64,
        samples: recorded.samples,
        frequency_hz: profile::FREQUENCY_HZ,
        root: recorded.root.clone(),
    };
    *state.profile.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(recorded));
    Ok(view)
}

/// Writes the last profile next to the database, as an SVG flame graph or
/// in pprof's format, and says where.
pub async fn save_profile(state: &AppState, payload: Value) -> CmdResult<String> {
    let lang = state.lang();
    let SaveProfile { format } = parse(lang, payload)?;
    let recorded = state
        .profile
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(|| IpcError {
            code: ErrorCode::NotFound,
            message: Message::new("shell.noProfile").render(lang),
        })?;
    let (extension, body) = match format {
        ProfileFormat::Svg => ("svg", &recorded.svg),
        ProfileFormat::Pprof => ("pb", &recorded.pprof),
    };
    let name = format!(
        "sitedesk-profile-{}.{extension}",
        recorded.started_at.format("%Y%m%d-%H%M%S")
    );
    write_beside_database(state, &name, body, "CPU profile", lang)
}

/// Writes `body` as `name` in the database's folder and returns the path.
fn write_beside_database(
    state: &AppState,
    name: &str,
    body: &[u8],
    what: &'static str,
    lang: Lang,
) -> CmdResult<String> {
    let dir = state
        .store
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let path = dir.join(name);
    std::fs::write(&path, body).map_err(|e| {
        IpcError::from_store(
            StoreError::Corrupt {
                what,
                value: e.to_string(),
            },
            lang,
        )
    })?;
    Ok(path.display().to_string())
}

/// Writes the diagnostics bundle next to the database and says where.
pub async fn save_diagnostics_bundle(state: &AppState) -> CmdResult<String> {
    let lang = state.lang();
    let name = format!(
        "sitedesk-diagnostics-{}.json",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    let body = serde_json::to_vec_pretty(&crate::diagnostics::bundle(state))
        .map_err(|e| IpcError::invalid_input(lang, e))?;
    write_beside_database(state, &name, &body, "diagnostics bundle", lang)
}

pub async fn diagnostics_snapshot(state: &AppState) -> CmdResult<DiagnosticsSnapshot> {
    Ok(crate::diagnostics::snapshot(state))
}

/// The commands as Tauri registers them: each forwards to the handler of
/// the same name.
pub mod ipc {
    use serde_json::Value;
    use sitedesk_core::domain::Subject;
    use sitedesk_core::store::{
        AuditVerification, DictionaryImport, EdcRecord, Settings, StatusCount, SubjectRow,
        SyncSettings,
    };
    use tauri::State;

    use super::CmdResult;
    use crate::dto::{
        AppInfo, ConflictView, ConnectionReport, DiagnosticsSnapshot, DictionaryPreview,
        EdcSettings, OpenedForm, ProfileView, RecordDetail, SavedForm, SubjectDetail, SyncStatus,
    };
    use crate::state::AppState;
    use sitedesk_core::forms::{Evaluation, VisitGrid};

    macro_rules! forward {
        ($($name:ident($($payload:ident)?) -> $out:ty;)*) => {$(
            #[tauri::command]
            pub async fn $name(state: State<'_, AppState>, $($payload: Value)?) -> CmdResult<$out> {
                super::$name(&state, $($payload)?).await
            }
        )*};
    }

    forward! {
        app_info() -> AppInfo;
        list_subjects(payload) -> Vec<SubjectRow>;
        status_counts() -> Vec<StatusCount>;
        get_subject(payload) -> SubjectDetail;
        list_edc_records() -> Vec<EdcRecord>;
        get_record(payload) -> RecordDetail;
        record_profile(payload) -> ProfileView;
        save_profile(payload) -> String;
        screen_subject(payload) -> Subject;
        edit_screening(payload) -> Subject;
        apply_action(payload) -> Subject;
        save_preferences(payload) -> Settings;
        verify_audit() -> AuditVerification;
        preview_dictionary(payload) -> DictionaryPreview;
        import_dictionary(payload) -> DictionaryImport;
        visit_grid(payload) -> Option<VisitGrid>;
        open_form(payload) -> OpenedForm;
        evaluate_form(payload) -> Evaluation;
        save_form(payload) -> SavedForm;
        edc_settings() -> EdcSettings;
        save_edc_settings(payload) -> EdcSettings;
        forget_edc_settings() -> EdcSettings;
        test_connection() -> ConnectionReport;
        sync_status() -> SyncStatus;
        sync_now() -> ();
        cancel_sync() -> bool;
        list_conflicts() -> Vec<ConflictView>;
        resolve_conflict(payload) -> ();
        save_sync_settings(payload) -> SyncSettings;
        cancel_task(payload) -> u32;
        recent_logs(payload) -> Vec<sitedesk_core::diagnostics::logs::LogLine>;
        save_diagnostics_bundle() -> String;
        diagnostics_snapshot() -> DiagnosticsSnapshot;
    }
}

#[cfg(test)]
mod tests;
