import { PasswordInput } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

/** A new password typed twice: its value, and whether the two differ (the form waits until they do not). */
export function useNewPassword() {
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  return { password, setPassword, confirm, setConfirm, mismatch: confirm !== "" && confirm !== password };
}

/** The two inputs of a new password; `testid` names them `<testid>-password` and `<testid>-confirm`. */
export function NewPasswordInputs({ state, label, testid }: { state: ReturnType<typeof useNewPassword>; label: string; testid?: string }) {
  const { t } = useTranslation();
  return (
    <>
      <PasswordInput
        required
        label={label}
        value={state.password}
        onChange={(e) => state.setPassword(e.currentTarget.value)}
        data-testid={testid && `${testid}-password`}
      />
      <PasswordInput
        required
        label={t("people.passwordAgain")}
        value={state.confirm}
        error={state.mismatch ? t("people.mismatch") : undefined}
        onChange={(e) => state.setConfirm(e.currentTarget.value)}
        data-testid={testid && `${testid}-confirm`}
      />
    </>
  );
}
