import { Button, Menu, Modal, PasswordInput, Stack, Text } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { type Session, type SessionView, api } from "../ipc";
import { NewPasswordInputs, useNewPassword } from "./NewPassword";

/** The person signed in, in the header: lock, switch user, change password. */
export function UserMenu({ user, onSession }: { user: Session; onSession: (view: SessionView) => void }) {
  const { t } = useTranslation();
  const [changing, setChanging] = useState(false);
  const { error, fail } = useFailure();
  const act = async (call: () => Promise<SessionView>) => {
    try {
      onSession(await call());
    } catch (e) {
      fail(e);
    }
  };
  return (
    <>
      {/* No opening animation: an item is where it is drawn from the first frame. */}
      <Menu position="bottom-end" transitionProps={{ duration: 0 }}>
        <Menu.Target>
          <Button variant="subtle" size="compact-sm" data-testid="user-menu">
            <bdi>{user.display_name}</bdi>
            <Text span c="dimmed" size="xs" ml={6} data-testid="user-role">
              {t(`people.role.${user.role}`)}
            </Text>
          </Button>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Item onClick={() => void act(() => api.lockDesk())} data-testid="menu-lock">
            {t("people.menu.lock")}
          </Menu.Item>
          <Menu.Item onClick={() => void act(() => api.signOut())} data-testid="menu-switch">
            {t("people.menu.switch")}
          </Menu.Item>
          <Menu.Item onClick={() => setChanging(true)} data-testid="menu-password">
            {t("people.menu.changePassword")}
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
      <ErrorAlert error={error} />
      {changing && <ChangePasswordModal onClose={() => setChanging(false)} />}
    </>
  );
}

function ChangePasswordModal({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const [old, setOld] = useState("");
  const chosen = useNewPassword();
  const { password: next, mismatch } = chosen;
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const { error, fail } = useFailure();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (mismatch) return;
    setBusy(true);
    try {
      await api.changePassword({ old_password: old, new_password: next });
      setDone(true);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={t("people.menu.changePassword")}>
      {done ? (
        <Stack>
          <Text data-testid="password-changed">{t("people.passwordChanged")}</Text>
          <Button onClick={onClose}>{t("people.close")}</Button>
        </Stack>
      ) : (
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <PasswordInput autoFocus required label={t("people.currentPassword")} value={old} onChange={(e) => setOld(e.currentTarget.value)} />
            <NewPasswordInputs state={chosen} label={t("people.newPassword")} />
            <Button type="submit" loading={busy} disabled={mismatch}>
              {t("people.menu.changePassword")}
            </Button>
            <ErrorAlert error={error} />
          </Stack>
        </form>
      )}
    </Modal>
  );
}
