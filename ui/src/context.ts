import { createContext, useContext } from "react";

import type { AppInfo, Session } from "./ipc";

export interface AppContextValue {
  info: AppInfo;
  /** Reloads AppInfo after something it shows has changed (settings). */
  refresh: () => Promise<void>;
  /** A page with unsaved edits registers a guard; navigating away then asks first. */
  setLeaveGuard: (guard: (() => boolean) | null) => void;
  /** The person signed in. */
  user: Session;
  /** Locks the desk now (unsaved form input is kept for the same person). */
  lock: () => void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error("useApp outside AppContext");
  return ctx;
}
