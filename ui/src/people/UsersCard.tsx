import { Badge, Button, Group, Modal, PasswordInput, Select, Stack, Table, TextInput } from "@mantine/core";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { Section } from "../components/Section";
import { formatTimestamp } from "../format";
import { type DeskUser, type Role, api } from "../ipc";

const ROLES: Role[] = ["crc", "supervisor", "admin"];

/** The people at this desk, for the desk administrator: add, change role or name, disable, set a password. */
export function UsersCard() {
  const { t, i18n } = useTranslation();
  const [users, setUsers] = useState<DeskUser[]>([]);
  const [editing, setEditing] = useState<DeskUser | "new" | null>(null);
  const { error, fail } = useFailure();
  const load = useCallback(async () => {
    try {
      setUsers(await api.listUsers());
    } catch (e) {
      fail(e);
    }
  }, [fail]);
  useEffect(() => {
    void load();
  }, [load]);

  const setDisabled = async (u: DeskUser, disabled: boolean) => {
    try {
      await api.saveUser({ change: { kind: "update", login: u.login, display_name: null, role: null, disabled }, password: null });
      await load();
    } catch (e) {
      fail(e);
    }
  };

  return (
    <Section title={t("people.users.title")} hint={t("people.users.hint")}>
      <Table data-testid="users-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("people.login")}</Table.Th>
            <Table.Th>{t("people.name")}</Table.Th>
            <Table.Th>{t("people.users.role")}</Table.Th>
            <Table.Th>{t("people.users.lastSignIn")}</Table.Th>
            <Table.Th>{t("people.users.failed")}</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {users.map((u) => (
            <Table.Tr key={u.login} data-testid={`user-${u.login}`}>
              <Table.Td>{u.login}</Table.Td>
              <Table.Td>
                <bdi>{u.display_name}</bdi>
              </Table.Td>
              <Table.Td>
                {t(`people.role.${u.role}`)}
                {u.disabled_at && (
                  <Badge ml="xs" color="gray" variant="light">
                    {t("people.users.disabled")}
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>{u.last_sign_in ? formatTimestamp(u.last_sign_in, i18n.language) : "—"}</Table.Td>
              <Table.Td>{u.failed_sign_ins}</Table.Td>
              <Table.Td>
                <Group gap="xs" justify="flex-end">
                  <Button size="compact-sm" variant="default" onClick={() => setEditing(u)} data-testid={`user-edit-${u.login}`}>
                    {t("people.users.edit")}
                  </Button>
                  {u.disabled_at === null && (
                    <Button size="compact-sm" variant="subtle" color="red" onClick={() => void setDisabled(u, true)}>
                      {t("people.users.disable")}
                    </Button>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group>
        <Button onClick={() => setEditing("new")} data-testid="user-add">
          {t("people.users.add")}
        </Button>
      </Group>
      <ErrorAlert error={error} />
      {editing !== null && (
        <UserModal
          user={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={async () => {
            setEditing(null);
            await load();
          }}
        />
      )}
    </Section>
  );
}

/** A new account (login, name, role, first password), or a change to one (name, role, a new password, enabling it again). */
function UserModal({ user, onClose, onSaved }: { user: DeskUser | null; onClose: () => void; onSaved: () => Promise<void> }) {
  const { t } = useTranslation();
  const [login, setLogin] = useState(user?.login ?? "");
  const [name, setName] = useState(user?.display_name ?? "");
  const [role, setRole] = useState<Role>(user?.role ?? "crc");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const { error, fail } = useFailure();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const change =
        user === null
          ? { kind: "create" as const, login, display_name: name, role }
          : {
              kind: "update" as const,
              login: user.login,
              display_name: name,
              role,
              // A disabled account comes back with a new password.
              disabled: user.disabled_at !== null && password !== "" ? false : null,
            };
      await api.saveUser({ change, password: password === "" ? null : password });
      await onSaved();
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={user === null ? t("people.users.add") : t("people.users.edit")}>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput required autoFocus={user === null} disabled={user !== null} label={t("people.login")} value={login} onChange={(e) => setLogin(e.currentTarget.value)} data-testid="user-login" />
          <TextInput required label={t("people.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} data-testid="user-name" />
          <Select
            label={t("people.users.role")}
            data={ROLES.map((r) => ({ value: r, label: t(`people.role.${r}`) }))}
            value={role}
            allowDeselect={false}
            comboboxProps={{ transitionProps: { duration: 0 } }}
            onChange={(v) => v && setRole(v as Role)}
            data-testid="user-role-select"
          />
          <PasswordInput
            required={user === null}
            label={user === null ? t("people.users.firstPassword") : t("people.users.newPassword")}
            description={user === null ? undefined : t("people.users.newPasswordHint")}
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            data-testid="user-password"
          />
          <Button type="submit" loading={busy} data-testid="user-save">
            {t("people.users.save")}
          </Button>
          <ErrorAlert error={error} />
        </Stack>
      </form>
    </Modal>
  );
}
