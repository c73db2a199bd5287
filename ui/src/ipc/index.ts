// The only module that talks to the Tauri backend. Components call these
// typed functions; every failure arrives as an `IpcError` ({code, message})
// with the message already in the user's language.
import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

import i18n from "../i18n";
import { ERROR_CODES, makeCommands } from "./bindings";
import type {
  DiagnosticsSnapshot,
  FormInput,
  FormRef,
  IpcError,
} from "./bindings";

export type * from "./bindings";

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
async function call<T>(command: string, args?: { payload: unknown }): Promise<T> {
  try {
    return await tauriInvoke<T>(command, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

/** Every command, typed from the backend's one table (generated into bindings.ts). */
export const commands = makeCommands(call);

/** The commands as the pages call them: the generated ones, with a few shorthands for payloads of one field. */
export const api = {
  ...commands,
  getSubject: (id: string) => commands.getSubject({ id }),
  getRecord: (id: string) => commands.getRecord({ id }),
  visitGrid: (id: string) => commands.visitGrid({ id }),
  openForm: (at: FormRef) => commands.openForm(at),
  evaluateForm: (at: FormRef, values: Record<string, string>) => commands.evaluateForm({ at, values }),
  saveForm: (at: FormRef, input: FormInput) => commands.saveForm({ at, input }),
  cancelTask: (id: number) => commands.cancelTask({ id }),
};

/** Subscribes to the snapshot the backend pushes about once a second. Returns the unsubscribe function. */
export function onDiagnostics(handler: (snapshot: DiagnosticsSnapshot) => void): () => void {
  const unlisten = listen<DiagnosticsSnapshot>("diagnostics", (event) => handler(event.payload));
  return () => {
    void unlisten.then((f) => f());
  };
}
