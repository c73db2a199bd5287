// The only module that talks to the Tauri backend. Components call these
// typed functions; every failure arrives as an `IpcError` ({code, message})
// with the message already in the user's language.
import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

import i18n from "../i18n";

import type {
  AppInfo,
  ApplyAction,
  ConflictView,
  ConnectionReport,
  EdcRecord,
  EdcSettings,
  ProfileView,
  RecordDetail,
  RecordProfile,
  ResolveConflict,
  SaveProfile,
  SyncSettings,
  SyncStatus,
  SaveEdc,
  AuditVerification,
  DictionaryFile,
  DictionaryImport,
  DictionaryPreview,
  DiagnosticsSnapshot,
  EditScreening,
  ErrorCode,
  Evaluation,
  FormInput,
  FormRef,
  OpenedForm,
  SavedForm,
  VisitGrid,
  IpcError,
  LogLine,
  LogQuery,
  Preferences,
  ScreeningInput,
  Settings,
  StatusCount,
  Subject,
  SubjectDetail,
  SubjectFilter,
  SubjectRow,
} from "./bindings";

export type * from "./bindings";

const ERROR_CODES: readonly ErrorCode[] = [
  "invalid_input",
  "validation",
  "illegal_transition",
  "not_found",
  "no_study",
  "unavailable",
  "cancelled",
  "storage",
  "no_forms",
  "no_edc",
  "edc",
];

export function isIpcError(e: unknown): e is IpcError {
  return (
    typeof e === "object" &&
    e !== null &&
    ERROR_CODES.includes((e as IpcError).code) &&
    typeof (e as IpcError).message === "string"
  );
}

/**
 * The one way anything thrown becomes what the UI shows: an `IpcError` as it
 * is; a bridge failure or a page's own exception (a string, an `Error`, an
 * object with a `message`) as `invalid_input` with that message; any other
 * value as a plain sentence in the user's language, never "[object Object]".
 * The raw value then goes to the console for whoever investigates.
 */
export function toIpcError(e: unknown): IpcError {
  if (isIpcError(e)) return e;
  const message =
    typeof e === "string"
      ? e
      : typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string"
        ? (e as { message: string }).message
        : "";
  if (message.trim() !== "") return { code: "invalid_input", message };
  console.error("unexpected failure", e);
  return { code: "invalid_input", message: i18n.t("app.unexpected") };
}

/** Calls a command; whatever it throws arrives as an `IpcError` (`toIpcError`). */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await tauriInvoke<T>(command, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  listSubjects: (filter: SubjectFilter) => call<SubjectRow[]>("list_subjects", { payload: filter }),
  statusCounts: () => call<StatusCount[]>("status_counts"),
  getSubject: (id: string) => call<SubjectDetail>("get_subject", { payload: { id } }),
  listEdcRecords: () => call<EdcRecord[]>("list_edc_records"),
  recordProfile: (payload: RecordProfile) => call<ProfileView>("record_profile", { payload }),
  saveProfile: (payload: SaveProfile) => call<string>("save_profile", { payload }),
  getRecord: (id: string) => call<RecordDetail>("get_record", { payload: { id } }),
  screenSubject: (input: ScreeningInput) => call<Subject>("screen_subject", { payload: input }),
  editScreening: (payload: EditScreening) => call<Subject>("edit_screening", { payload }),
  applyAction: (payload: ApplyAction) => call<Subject>("apply_action", { payload }),
  savePreferences: (payload: Preferences) => call<Settings>("save_preferences", { payload }),
  verifyAudit: () => call<AuditVerification>("verify_audit"),
  previewDictionary: (payload: DictionaryFile) => call<DictionaryPreview>("preview_dictionary", { payload }),
  importDictionary: (payload: DictionaryFile) => call<DictionaryImport>("import_dictionary", { payload }),
  visitGrid: (id: string) => call<VisitGrid | null>("visit_grid", { payload: { id } }),
  openForm: (at: FormRef) => call<OpenedForm>("open_form", { payload: at }),
  evaluateForm: (at: FormRef, values: Record<string, string>) =>
    call<Evaluation>("evaluate_form", { payload: { at, values } }),
  saveForm: (at: FormRef, input: FormInput) => call<SavedForm>("save_form", { payload: { at, input } }),
  edcSettings: () => call<EdcSettings>("edc_settings"),
  saveEdcSettings: (payload: SaveEdc) => call<EdcSettings>("save_edc_settings", { payload }),
  forgetEdcSettings: () => call<EdcSettings>("forget_edc_settings"),
  testConnection: () => call<ConnectionReport>("test_connection"),
  syncStatus: () => call<SyncStatus>("sync_status"),
  syncNow: () => call<null>("sync_now"),
  cancelSync: () => call<boolean>("cancel_sync"),
  listConflicts: () => call<ConflictView[]>("list_conflicts"),
  resolveConflict: (payload: ResolveConflict) => call<null>("resolve_conflict", { payload }),
  saveSyncSettings: (payload: SyncSettings) => call<SyncSettings>("save_sync_settings", { payload }),
  cancelTask: (id: number) => call<number>("cancel_task", { payload: { id } }),
  recentLogs: (payload: LogQuery) => call<LogLine[]>("recent_logs", { payload }),
  saveDiagnosticsBundle: () => call<string>("save_diagnostics_bundle"),
  diagnosticsSnapshot: () => call<DiagnosticsSnapshot>("diagnostics_snapshot"),
};

/** Subscribes to the snapshot the backend pushes about once a second. Returns the unsubscribe function. */
export function onDiagnostics(handler: (snapshot: DiagnosticsSnapshot) => void): () => void {
  const unlisten = listen<DiagnosticsSnapshot>("diagnostics", (event) => handler(event.payload));
  return () => {
    void unlisten.then((f) => f());
  };
}
