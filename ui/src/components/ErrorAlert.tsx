import { Alert } from "@mantine/core";

import type { IpcError } from "../ipc";

/** Shows a command's error message, already in the user's language. */
export function ErrorAlert({ error }: { error: IpcError | null }) {
  if (!error) return null;
  return (
    <Alert color="red" variant="light" role="alert" data-testid="error" data-code={error.code}>
      {error.message}
    </Alert>
  );
}
