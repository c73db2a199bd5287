//! The IPC commands: thin. Each one parses its raw payload into a typed
//! value, calls the core, and returns a DTO or an [`IpcError`]. No rule of
//! the domain lives here.
//!
//! The handlers take the `&Desk` so that tests can call them on a real
//! desk without a window; `crate::ipc` declares them once and registers
//! the `#[tauri::command]` wrappers the app calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;
use sitedesk_core::diagnostics::{TaskKind, TaskState};
use sitedesk_core::domain::{Action, ActionKind, ScreeningInput, Subject};
use sitedesk_core::edc::{EdcClient, EdcError, Token};
use sitedesk_core::forms::{Evaluation, FormAt, FormError, RecordValues, VisitGrid};
use sitedesk_core::i18n::{Lang, Message};
use sitedesk_core::store::{
    AuditVerification, BindOutcome, DictionaryImport, EdcRecord, Lane, Settings, StatusCount,
    StoreError, SubjectFilter, SubjectRow, SyncSettings, metadata_hash,
};

use sitedesk_core::metadata::design::Design;
use sitedesk_core::metadata::{self, Dictionary};

use crate::dto::{
    AppInfo, ApplyAction, BindProject, ConflictView, ConnectionReport, DictionaryFile,
    DictionaryPreview, EdcSettings, EditScreening, EvaluateForm, FormRef, LogQuery, OpenedForm,
    Preferences, ProbeProject, ProfileFormat, ProfileView, RecordDetail, RecordProfile,
    RefusedView, ResolveConflict, SaveEdc, SaveForm, SaveProfile, SavedForm, SetTarget,
    SubjectDetail, SubjectRef, SyncStatus, TaskRef,
};
use crate::error::{ErrorCode, IpcError};
use sitedesk_core::desk::{
    BindError, BindRequest, Desk, DiagnosticsSnapshot, EdcMode, ForgetEdcError, FormsInForce,
    ProjectSummary, TEST_TIMEOUTS,
};
use sitedesk_core::diagnostics::logs::LogLine;
use sitedesk_core::diagnostics::profile;
use sitedesk_core::store::sync::{Cell, IdCollision, Keep};

mod people;
pub use people::{
    change_password, create_administrator, list_users, lock_desk, save_user, session_status,
    sign_in, sign_off, sign_out, unlock_desk,
};

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

pub async fn app_info(desk: &Desk) -> CmdResult<AppInfo> {
    let lang = desk.lang();
    let readers = desk.store().readers();
    let err = |e| IpcError::from_store(e, lang);
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        actor: desk.actor(),
        settings: desk.prefs(),
        setup: readers.setup().await.map_err(err)?,
        desk: readers.desk().await.map_err(err)?,
        database_path: desk.store().path().display().to_string(),
        demo: desk.is_demo(),
        profiling: profile::available(),
    })
}

pub async fn list_subjects(desk: &Desk, payload: Value) -> CmdResult<Vec<SubjectRow>> {
    let lang = desk.lang();
    let filter: SubjectFilter = parse(lang, payload)?;
    if filter
        .search
        .as_ref()
        .is_some_and(|s| s.chars().count() > SEARCH_MAX_CHARS)
    {
        return Err(IpcError::invalid_input(lang, "search text too long"));
    }
    desk.store()
        .readers()
        .subjects(filter)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn status_counts(desk: &Desk) -> CmdResult<Vec<StatusCount>> {
    let lang = desk.lang();
    desk.store()
        .readers()
        .status_counts()
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn get_subject(desk: &Desk, payload: Value) -> CmdResult<SubjectDetail> {
    let lang = desk.lang();
    let SubjectRef { id } = parse(lang, payload)?;
    check_id(lang, &id)?;
    let readers = desk.store().readers();
    let err = |e| IpcError::from_store(e, lang);
    let subject = readers.subject(id.clone()).await.map_err(err)?;
    let audit = desk.record_audit(id).await.map_err(err)?;
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
pub async fn list_edc_records(desk: &Desk) -> CmdResult<Vec<EdcRecord>> {
    let lang = desk.lang();
    desk.store()
        .readers()
        .edc_records()
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// A record known from the EDC, with its history at this desk.
pub async fn get_record(desk: &Desk, payload: Value) -> CmdResult<RecordDetail> {
    let lang = desk.lang();
    let SubjectRef { id } = parse(lang, payload)?;
    check_id(lang, &id)?;
    let readers = desk.store().readers();
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
    let audit = desk.record_audit(id.clone()).await.map_err(err)?;
    Ok(RecordDetail {
        record_id: id,
        audit,
    })
}

pub async fn screen_subject(desk: &Desk, payload: Value) -> CmdResult<Subject> {
    let lang = desk.lang();
    let input: ScreeningInput = parse(lang, payload)?;
    desk.store()
        .writer()
        .screen_subject(desk.actor(), input)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn edit_screening(desk: &Desk, payload: Value) -> CmdResult<Subject> {
    let lang = desk.lang();
    let EditScreening { id, input, reason } = parse(lang, payload)?;
    check_id(lang, &id)?;
    desk.store()
        .writer()
        .edit_screening(desk.actor(), id, input, reason)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn apply_action(desk: &Desk, payload: Value) -> CmdResult<Subject> {
    let lang = desk.lang();
    let ApplyAction {
        id,
        kind,
        date,
        reason,
    } = parse(lang, payload)?;
    check_id(lang, &id)?;
    let action = Action::parse(kind, date.as_deref(), reason)
        .map_err(|e| IpcError::from_store(e.into(), lang))?;
    desk.store()
        .writer()
        .apply_action(desk.actor(), id, action)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

pub async fn save_preferences(desk: &Desk, payload: Value) -> CmdResult<Settings> {
    let lang = desk.lang();
    let Preferences {
        display_name,
        language,
    } = parse(lang, payload)?;
    let store = &desk.store();
    store
        .writer()
        .set_preferences(desk.actor(), display_name, language)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let saved = store
        .readers()
        .settings()
        .await
        .map_err(|e| IpcError::from_store(e, language))?;
    desk.set_prefs(saved.clone());
    Ok(saved)
}

/// Sets this desk's enrollment target for the study or a site (audited,
/// local); answers the app's information with the targets in force.
pub async fn set_target(desk: &Desk, payload: Value) -> CmdResult<AppInfo> {
    let lang = desk.lang();
    let SetTarget {
        site_id,
        target,
        reason,
    } = parse(lang, payload)?;
    desk.store()
        .writer()
        .set_target(desk.actor(), site_id, target, reason)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    app_info(desk).await
}

/// Walks the audit trail's hash chain, as a task in the diagnostics panel
/// that stops with the app.
pub async fn verify_audit(desk: &Desk) -> CmdResult<AuditVerification> {
    let lang = desk.lang();
    let task = desk.registry().task(
        "Verify audit trail",
        TaskKind::Maintenance,
        desk.cancel_token(),
    );
    task.set_state(TaskState::Running);
    let result = desk
        .store()
        .readers()
        .verify_audit(task.token().clone())
        .await;
    if let Ok(AuditVerification {
        broken: Some(b), ..
    }) = &result
    {
        tracing::warn!(audit_id = b.audit_id, problem = ?b.problem, "audit chain broken");
        task.set_error(format!("broken at row {}", b.audit_id));
    }
    task.end(&result);
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
pub async fn preview_dictionary(desk: &Desk, payload: Value) -> CmdResult<DictionaryPreview> {
    let lang = desk.lang();
    let file: DictionaryFile = parse(lang, payload)?;
    let (dictionary, design) = read_dictionary(lang, &file)?;
    let current = desk
        .store()
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
        unapplied_tags: metadata::tags::unapplied_tags(&dictionary),
    })
}

/// Makes a data dictionary file the study's dictionary.
pub async fn import_dictionary(desk: &Desk, payload: Value) -> CmdResult<DictionaryImport> {
    let lang = desk.lang();
    let file: DictionaryFile = parse(lang, payload)?;
    let (dictionary, design) = read_dictionary(lang, &file)?;
    desk.store()
        .writer()
        .import_dictionary(desk.actor(), dictionary, design, file.file_name)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// The dictionary and design in force, and the subject's saved values;
/// refuses a subject that does not exist.
async fn form_context(
    desk: &Desk,
    lang: Lang,
    subject_id: &str,
) -> CmdResult<(Arc<FormsInForce>, RecordValues)> {
    check_id(lang, subject_id)?;
    let readers = desk.store().readers();
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
    let forms = desk
        .forms()
        .await
        .map_err(err)?
        .ok_or_else(|| IpcError::from_form(FormError::NoDictionary, lang))?;
    Ok((forms, RecordValues::new(saved)))
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
pub async fn visit_grid(desk: &Desk, payload: Value) -> CmdResult<Option<VisitGrid>> {
    let lang = desk.lang();
    let SubjectRef { id } = parse(lang, payload)?;
    match form_context(desk, lang, &id).await {
        Ok((stored, saved)) => {
            let study = stored.study();
            Ok(Some(study.visit_grid(&saved)))
        }
        Err(e) if e.code == ErrorCode::NoForms => Ok(None),
        Err(e) => Err(e),
    }
}

/// A form ready to fill, with its saved values and what it shows for them.
pub async fn open_form(desk: &Desk, payload: Value) -> CmdResult<OpenedForm> {
    let lang = desk.lang();
    let at: FormRef = parse(lang, payload)?;
    let (stored, saved) = form_context(desk, lang, &at.subject_id).await?;
    let study = stored.study();
    let err = |e| IpcError::from_form(e, lang);
    let view = study
        .form_view(&form_at(&at), &saved, local_now(), lang)
        .map_err(err)?;
    let evaluation = study
        .evaluate(&form_at(&at), &saved, &BTreeMap::new(), local_now(), lang)
        .map_err(err)?;
    let sign_offs = desk
        .store()
        .readers()
        .sign_offs(at.subject_id.clone(), at.event.clone(), at.instance)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?
        .into_iter()
        .filter(|s| s.form.as_ref().is_none_or(|f| *f == at.form))
        .collect();
    Ok(OpenedForm {
        view,
        evaluation,
        sign_offs,
    })
}

/// What the form shows for the values typed so far: branching, calcs,
/// messages, and whether saving needs a reason.
pub async fn evaluate_form(desk: &Desk, payload: Value) -> CmdResult<Evaluation> {
    let lang = desk.lang();
    let EvaluateForm { at, values } = parse(lang, payload)?;
    let (stored, saved) = form_context(desk, lang, &at.subject_id).await?;
    stored
        .study()
        .evaluate(&form_at(&at), &saved, &values, local_now(), lang)
        .map_err(|e| IpcError::from_form(e, lang))
}

/// Saves a form through the writer: only changed values, each with its
/// audit and outbox row; a changed saved value needs a reason.
pub async fn save_form(desk: &Desk, payload: Value) -> CmdResult<SavedForm> {
    let lang = desk.lang();
    let SaveForm { at, input } = parse(lang, payload)?;
    let (stored, saved) = form_context(desk, lang, &at.subject_id).await?;
    let edit = stored
        .study()
        .plan_save(&form_at(&at), &saved, &input, local_now(), lang)
        .map_err(|e| IpcError::from_form(e, lang))?;
    let changed = desk
        .store()
        .writer()
        .set_values(Lane::Interactive, desk.actor(), edit)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    Ok(SavedForm { changed })
}

/// The EDC connection as Settings shows it.
pub async fn edc_settings(desk: &Desk) -> CmdResult<EdcSettings> {
    let lang = desk.lang();
    let saved = desk
        .store()
        .readers()
        .edc_connection()
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let (pending_edits, _, _) = desk
        .store()
        .readers()
        .sync_counts()
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let target = desk.edc_target();
    Ok(EdcSettings {
        mode: target.as_ref().map_or(EdcMode::None, |t| t.mode),
        url: target.map(|t| t.url),
        token_saved: saved.is_some(),
        pending_edits,
    })
}

/// Saves the study's REDCap address and token; from then on the desk talks
/// to it, not to the demo EDC. Nothing is sent: "Test connection" does that.
pub async fn save_edc_settings(desk: &Desk, payload: Value) -> CmdResult<EdcSettings> {
    let lang = desk.lang();
    let SaveEdc { url, token } = parse(lang, payload)?;
    if url.chars().count() > 500 {
        return Err(IpcError::invalid_input(lang, "address too long"));
    }
    let api =
        sitedesk_core::edc::api_url(&url).map_err(|e| IpcError::validation(e.message(lang)))?;
    let token = match token.filter(|t| !t.trim().is_empty()) {
        Some(t) => Token::parse(&t)
            .ok_or_else(|| IpcError::validation(Message::new("shell.tokenFormat").render(lang)))?,
        None => {
            let saved = desk
                .store()
                .readers()
                .edc_connection()
                .await
                .map_err(|e| IpcError::from_store(e, lang))?;
            // The saved token goes only to the server it was saved for:
            // another scheme, host or port needs it typed again.
            if let Some((saved_url, _)) = &saved
                && !sitedesk_core::edc::same_origin(saved_url, api.as_str())
            {
                return Err(IpcError::validation(
                    Message::new("shell.tokenForNewServer").render(lang),
                ));
            }
            saved.and_then(|(_, t)| Token::parse(&t)).ok_or_else(|| {
                IpcError::validation(Message::new("shell.tokenMissing").render(lang))
            })?
        }
    };
    desk.use_edc(desk.actor(), api.to_string(), token)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    edc_settings(desk).await
}

/// Forgets the saved EDC: a demo desk goes back to the demo EDC.
pub async fn forget_edc_settings(desk: &Desk) -> CmdResult<EdcSettings> {
    let lang = desk.lang();
    desk.forget_edc(desk.actor()).await.map_err(|e| match e {
        ForgetEdcError::Store(e) => IpcError::from_store(e, lang),
        ForgetEdcError::DemoEdc(e) => IpcError::from_edc(&EdcError::Transport(e), lang),
    })?;
    edc_settings(desk).await
}

/// The longest address accepted.
const URL_MAX_CHARS: usize = 500;
/// The longest site (a data access group's unique name) accepted; REDCap's
/// are shorter.
const SITE_MAX_CHARS: usize = 100;

/// The address and token of a probe or binding, checked before any call.
fn edc_address(lang: Lang, url: &str, token: &str) -> CmdResult<(String, Token)> {
    if url.chars().count() > URL_MAX_CHARS {
        return Err(IpcError::invalid_input(lang, "address too long"));
    }
    sitedesk_core::edc::api_url(url).map_err(|e| IpcError::validation(e.message(lang)))?;
    if token.trim().is_empty() {
        return Err(IpcError::validation(
            Message::new("shell.tokenMissing").render(lang),
        ));
    }
    let token = Token::parse(token)
        .ok_or_else(|| IpcError::validation(Message::new("shell.tokenFormat").render(lang)))?;
    Ok((url.trim().to_owned(), token))
}

fn from_bind(e: BindError, lang: Lang) -> IpcError {
    match e {
        BindError::Edc(e) => IpcError::from_edc(&e, lang),
        BindError::Store(e) => IpcError::from_store(e, lang),
        other => IpcError::validation(other.message(lang)),
    }
}

/// Reads the study's REDCap project and says what binding to it would
/// set up. Writes nothing; the token is not in the answer.
pub async fn probe_project(desk: &Desk, payload: Value) -> CmdResult<ProjectSummary> {
    let lang = desk.lang();
    let ProbeProject { url, token } = parse(lang, payload)?;
    let (url, token) = edc_address(lang, &url, &token)?;
    desk.probe_project(&url, token)
        .await
        .map_err(|e| from_bind(e, lang))
}

/// Binds the desk to its study's REDCap project: study, sites, this desk's
/// site, forms and EDC, and the demo's practice entries discarded or
/// carried over, in one step.
pub async fn bind_project(desk: &Desk, payload: Value) -> CmdResult<BindOutcome> {
    let lang = desk.lang();
    let BindProject {
        url,
        token,
        site,
        practice,
    } = parse(lang, payload)?;
    let (url, token) = edc_address(lang, &url, &token)?;
    if let Some(site) = &site {
        let ok = !site.is_empty()
            && site.chars().count() <= SITE_MAX_CHARS
            && site
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(IpcError::invalid_input(lang, "malformed site"));
        }
    }
    desk.bind_project(
        desk.actor(),
        BindRequest {
            url,
            token,
            site,
            practice,
        },
    )
    .await
    .map_err(|e| from_bind(e, lang))
}

/// Remembers that the person chose to try the demo.
pub async fn choose_demo(desk: &Desk) -> CmdResult<Settings> {
    let lang = desk.lang();
    desk.choose_demo(desk.actor())
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    Ok(desk.prefs())
}

/// Asks the EDC for its version and the project's title.
pub async fn test_connection(desk: &Desk) -> CmdResult<ConnectionReport> {
    let lang = desk.lang();
    let target = desk.edc_target().ok_or_else(|| IpcError::no_edc(lang))?;
    let err = |e: EdcError| IpcError::from_edc(&e, lang);
    let client = EdcClient::new(&target.url, target.token.clone(), TEST_TIMEOUTS)
        .map_err(err)?
        .with_metrics(desk.edc_metrics().clone());
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
pub async fn sync_status(desk: &Desk) -> CmdResult<SyncStatus> {
    let lang = desk.lang();
    let (pending, _, conflicts) = desk
        .store()
        .readers()
        .sync_counts()
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    let s = desk.sync().snapshot();
    Ok(SyncStatus {
        mode: desk.edc_target().map_or(EdcMode::None, |t| t.mode),
        running: s.running,
        offline: s.offline,
        progress: s.progress,
        last_success_at: s.last_success_at.map(|t| t.to_rfc3339()),
        last_report: s.last_report,
        error: s.error.map(|e| e.message(lang)),
        stopped: s.stopped,
        breaker: s.breaker,
        pending,
        conflicts,
        settings: desk.sync_settings(),
    })
}

/// Saves how this desk syncs; the scheduler uses it from the next run.
pub async fn save_sync_settings(desk: &Desk, payload: Value) -> CmdResult<SyncSettings> {
    let lang = desk.lang();
    let settings: SyncSettings = parse(lang, payload)?;
    desk.set_sync_settings(desk.actor(), settings)
        .await
        .map_err(|e| IpcError::from_store(e, lang))?;
    Ok(settings)
}

/// Starts a run now (after the one running, if any).
pub async fn sync_now(desk: &Desk) -> CmdResult<()> {
    if desk.edc_target().is_none() {
        return Err(IpcError::no_edc(desk.lang()));
    }
    desk.sync().sync_now();
    Ok(())
}

/// Cancels the run in progress; says whether one was running.
pub async fn cancel_sync(desk: &Desk) -> CmdResult<bool> {
    Ok(desk.sync().cancel())
}

/// The conflicts waiting for a person, with their fields' labels.
pub async fn list_conflicts(desk: &Desk) -> CmdResult<Vec<ConflictView>> {
    let lang = desk.lang();
    let readers = desk.store().readers();
    let err = |e| IpcError::from_store(e, lang);
    let conflicts = readers.conflicts().await.map_err(err)?;
    let stored = readers.dictionary().await.map_err(err)?;
    Ok(conflicts
        .into_iter()
        .map(|c| {
            let (label, event_label, _) = cell_labels(stored.as_ref(), &c.cell, lang);
            ConflictView {
                conflict: c,
                label,
                event_label,
            }
        })
        .collect())
}

/// A cell's field label (plain text), its event's label and its form, from
/// the dictionary in force (the names themselves without one).
fn cell_labels(
    stored: Option<&sitedesk_core::store::StoredDictionary>,
    cell: &Cell,
    lang: Lang,
) -> (String, String, String) {
    let base = cell.field.split("___").next().unwrap_or(&cell.field);
    let Some(s) = stored else {
        return (cell.field.clone(), cell.event.clone(), String::new());
    };
    let field = s.dictionary.field(base);
    // A form's status, `<form>_complete`, is no dictionary row.
    let status_of = || {
        cell.field
            .strip_suffix("_complete")
            .filter(|form| s.dictionary.fields.iter().any(|f| f.form == *form))
    };
    let label = match (field, status_of()) {
        (Some(f), _) => sitedesk_core::forms::plain_text(&f.label),
        (None, Some(form)) => format!(
            "{}: {}",
            s.design.form_label(form),
            sitedesk_core::i18n::tr(lang, "crf.status", &[])
        ),
        (None, None) => cell.field.clone(),
    };
    // A classic project's one event is no visit.
    let event_label = if s.design.is_longitudinal() {
        s.design
            .events
            .iter()
            .find(|e| e.unique_event_name == cell.event)
            .map(|e| e.event_name.clone())
            .unwrap_or_else(|| cell.event.clone())
    } else {
        String::new()
    };
    let form = field
        .map(|f| f.form.clone())
        .or_else(|| status_of().map(str::to_owned))
        .unwrap_or_default();
    (label, event_label, form)
}

/// The values the EDC refused, held until a person edits them, with the
/// field's label and form to open.
pub async fn list_refused_values(desk: &Desk) -> CmdResult<Vec<RefusedView>> {
    let lang = desk.lang();
    let readers = desk.store().readers();
    let err = |e| IpcError::from_store(e, lang);
    let refused = readers.refused_values().await.map_err(err)?;
    let stored = readers.dictionary().await.map_err(err)?;
    Ok(refused
        .into_iter()
        .map(|r| {
            let (label, event_label, form) = cell_labels(stored.as_ref(), &r.cell, lang);
            RefusedView {
                refused: r,
                label,
                event_label,
                form,
            }
        })
        .collect())
}

/// Settles a conflict with the value kept and the reason, audited.
pub async fn resolve_conflict(desk: &Desk, payload: Value) -> CmdResult<()> {
    let lang = desk.lang();
    let ResolveConflict { id, keep, reason } = parse(lang, payload)?;
    if let Keep::Other(v) = &keep
        && v.chars().count() > sitedesk_core::domain::VALUE_MAX_CHARS
    {
        return Err(IpcError::invalid_input(lang, "value too long"));
    }
    desk.store()
        .writer()
        .resolve_conflict(desk.actor(), id, keep, reason)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// Records held because the EDC uses their id for another record.
pub async fn list_id_collisions(desk: &Desk) -> CmdResult<Vec<IdCollision>> {
    let lang = desk.lang();
    desk.store()
        .readers()
        .id_collisions()
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// Gives a held record this desk's next id (audited); answers the new id.
pub async fn renumber_record(desk: &Desk, payload: Value) -> CmdResult<String> {
    let lang = desk.lang();
    let SubjectRef { id } = parse(lang, payload)?;
    check_id(lang, &id)?;
    desk.store()
        .writer()
        .renumber_record(desk.actor(), id)
        .await
        .map_err(|e| IpcError::from_store(e, lang))
}

/// Cancels a task and every task below it, from the diagnostics panel;
/// answers how many were cancelled.
pub async fn cancel_task(desk: &Desk, payload: Value) -> CmdResult<u32> {
    let TaskRef { id } = parse(desk.lang(), payload)?;
    Ok(desk
        .registry()
        .cancel_subtree(sitedesk_core::diagnostics::TaskId(id)) as u32)
}

/// Recent log lines, redacted, newest last.
pub async fn recent_logs(desk: &Desk, payload: Value) -> CmdResult<Vec<LogLine>> {
    let lang = desk.lang();
    let LogQuery { level, search } = parse(lang, payload)?;
    if search.chars().count() > SEARCH_MAX_CHARS {
        return Err(IpcError::invalid_input(lang, "search text too long"));
    }
    Ok(desk.logs().lines(&level, &search, 500))
}

/// Samples the whole app for `seconds`, as a registered task the panel can
/// cancel, keeps the profile for saving and for the bundle, and returns its
/// flame graph.
pub async fn record_profile(desk: &Desk, payload: Value) -> CmdResult<ProfileView> {
    let lang = desk.lang();
    let RecordProfile { seconds } = parse(lang, payload)?;
    if !(1..=profile::MAX_SECONDS).contains(&seconds) {
        return Err(IpcError::invalid_input(
            lang,
            format!("seconds must be 1 to {}", profile::MAX_SECONDS),
        ));
    }
    let task = desk.registry().task(
        format!("CPU profile ({seconds} s)"),
        TaskKind::Profiler,
        desk.cancel_token(),
    );
    let recording = desk.tracker().spawn(async move {
        task.set_state(TaskState::Running);
        let result = profile::record(
            std::time::Duration::from_secs(u64::from(seconds)),
            task.token(),
        )
        .await;
        task.end(&result);
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
    desk.set_last_profile(recorded);
    Ok(view)
}

/// Writes the last profile next to the database, as an SVG flame graph or
/// in pprof's format, and says where.
pub async fn save_profile(desk: &Desk, payload: Value) -> CmdResult<String> {
    let lang = desk.lang();
    let SaveProfile { format } = parse(lang, payload)?;
    let recorded = desk.last_profile().ok_or_else(|| IpcError {
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
    write_beside_database(desk, &name, body, "CPU profile", lang)
}

/// Writes `body` as `name` in the database's folder and returns the path.
fn write_beside_database(
    desk: &Desk,
    name: &str,
    body: &[u8],
    what: &'static str,
    lang: Lang,
) -> CmdResult<String> {
    let dir = desk
        .store()
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let path = dir.join(name);
    // Bundles and profiles name the study's setup and its code: its
    // user's only, as the database is.
    sitedesk_core::instance::write_private(&path, body)
        .map_err(|e| IpcError::from_store(StoreError::io(what, e), lang))?;
    Ok(path.display().to_string())
}

/// Writes the diagnostics bundle next to the database and says where.
pub async fn save_diagnostics_bundle(desk: &Desk) -> CmdResult<String> {
    let lang = desk.lang();
    let name = format!(
        "sitedesk-diagnostics-{}.json",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    let body = serde_json::to_vec_pretty(&desk.bundle(env!("CARGO_PKG_VERSION")))
        .map_err(|e| IpcError::invalid_input(lang, e))?;
    write_beside_database(desk, &name, &body, "diagnostics bundle", lang)
}

pub async fn diagnostics_snapshot(desk: &Desk) -> CmdResult<DiagnosticsSnapshot> {
    Ok(desk.diagnostics())
}

/// Makes a backup of the desk while it runs; answers the backup's folder.
pub async fn backup_desk(desk: &Desk, payload: Value) -> CmdResult<String> {
    let lang = desk.lang();
    let p: crate::dto::BackupRequest = parse(lang, payload)?;
    let folder = match p.folder.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => {
            let path = std::path::PathBuf::from(f);
            if !path.is_absolute() {
                return Err(IpcError::invalid_input(
                    lang,
                    "the folder is not an absolute path",
                ));
            }
            Some(path)
        }
        _ => None,
    };
    desk.backup(folder)
        .await
        .map(|p| p.display().to_string())
        .map_err(|e| IpcError::from_store(e, lang))
}

#[cfg(test)]
mod tests;
