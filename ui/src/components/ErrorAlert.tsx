import { Alert } from "@mantine/core";
import { useCallback, useState } from "react";

import { type IpcError, toIpcError } from "../ipc";

/** Shows a command's error message, already in the user's language. */
export function ErrorAlert({ error, title }: { error: IpcError | null; title?: string }) {
  if (!error) return null;
  return (
    <Alert color="red" variant="light" role="alert" title={title} data-testid="error" data-code={error.code}>
      {error.message}
    </Alert>
  );
}

/**
 * The error a page shows in its `ErrorAlert`. `fail` takes whatever a
 * `catch` caught and shows it as `toIpcError` words it, the same on every
 * page; `clear` hides it.
 */
export function useFailure() {
  const [error, setError] = useState<IpcError | null>(null);
  const fail = useCallback((e: unknown) => setError(toIpcError(e)), []);
  const clear = useCallback(() => setError(null), []);
  return { error, fail, clear };
}
