// The only module that talks to the Tauri backend. Components call these
// typed functions; every failure arrives as an `IpcError` ({code, message})
// with the message already in the user's language.
import { invoke as tauriInvoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

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

/** Calls a command; anything thrown that is not an IpcError (a bridge failure) is wrapped as one. */
async function call<T>(command: string, args?: { payload: unknown }): Promise<T> {
  try {
    return await tauriInvoke<T>(command, args);
  } catch (e) {
    if (isIpcError(e)) throw e;
    const message = typeof e === "string" ? e : e instanceof Error ? e.message : String(e);
    throw { code: "invalid_input", message } satisfies IpcError;
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
