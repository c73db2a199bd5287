import { Button, Center, Code, Paper, PasswordInput, Stack, Text, TextInput, Title } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { type SessionView, api } from "../ipc";
import { NewPasswordInputs, useNewPassword } from "./NewPassword";

/** A centred card, the frame of every screen before the desk opens. */
function GateCard({ testid, title, children }: { testid: string; title: string; children: React.ReactNode }) {
  return (
    <Center mih="100vh" p="xl">
      <Paper withBorder p="xl" maw={480} w="100%" data-testid={testid}>
        <Stack>
          <Title order={2}>{title}</Title>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}

/** The first start: the desk administrator's account, then the recovery key, shown once. */
export function FirstStartPage({ onDone }: { onDone: () => Promise<void> }) {
  const { t } = useTranslation();
  const [login, setLogin] = useState("");
  const [name, setName] = useState("");
  const chosen = useNewPassword();
  const { password, mismatch } = chosen;
  const [busy, setBusy] = useState(false);
  const [recovery, setRecovery] = useState<string | null>(null);
  const { error, fail } = useFailure();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (mismatch) return;
    setBusy(true);
    try {
      const r = await api.createAdministrator({ login, display_name: name, password });
      setRecovery(r.recovery_key);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  if (recovery !== null) {
    return (
      <GateCard testid="recovery" title={t("people.recovery.title")}>
        <Text>{t("people.recovery.intro")}</Text>
        <Code block fz="lg" data-testid="recovery-key">
          {recovery}
        </Code>
        <Button autoFocus onClick={() => void onDone()} data-testid="recovery-done">
          {t("people.recovery.done")}
        </Button>
      </GateCard>
    );
  }
  return (
    <GateCard testid="first-start" title={t("people.firstStart.title")}>
      <Text>{t("people.firstStart.intro")}</Text>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput autoFocus required label={t("people.login")} value={login} onChange={(e) => setLogin(e.currentTarget.value)} data-testid="first-login" />
          <TextInput required label={t("people.name")} description={t("people.nameHint")} value={name} onChange={(e) => setName(e.currentTarget.value)} data-testid="first-name" />
          <NewPasswordInputs state={chosen} label={t("people.password")} testid="first" />
          <Button type="submit" loading={busy} disabled={mismatch} data-testid="first-submit">
            {t("people.firstStart.submit")}
          </Button>
        </Stack>
      </form>
      <ErrorAlert error={error} />
    </GateCard>
  );
}

/** Sign-in: a login and a password. */
export function SignInPage({ onDone }: { onDone: (view: SessionView) => void }) {
  const { t } = useTranslation();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const { error, fail, clear } = useFailure();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    clear();
    try {
      onDone(await api.signIn({ login, password }));
    } catch (err) {
      setPassword("");
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <GateCard testid="sign-in" title={t("people.signIn.title")}>
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput autoFocus required label={t("people.login")} value={login} onChange={(e) => setLogin(e.currentTarget.value)} data-testid="sign-in-login" />
          <PasswordInput required label={t("people.password")} value={password} onChange={(e) => setPassword(e.currentTarget.value)} data-testid="sign-in-password" />
          <Button type="submit" loading={busy} data-testid="sign-in-submit">
            {t("people.signIn.submit")}
          </Button>
        </Stack>
      </form>
      <ErrorAlert error={error} />
    </GateCard>
  );
}

/** The lock screen: the person's name and a password, nothing of the study's data. */
export function LockScreen({ session, onDone }: { session: SessionView; onDone: (view: SessionView) => void }) {
  const { t } = useTranslation();
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const { error, fail, clear } = useFailure();

  const unlock = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    clear();
    try {
      onDone(await api.unlockDesk({ password }));
    } catch (err) {
      setPassword("");
      fail(err);
    } finally {
      setBusy(false);
    }
  };
  const switchUser = async () => {
    try {
      onDone(await api.signOut());
    } catch (err) {
      fail(err);
    }
  };

  return (
    <GateCard testid="lock-screen" title={t("people.lock.title")}>
      <Text>
        {t("people.lock.lockedFor")} <bdi>{session.user?.display_name}</bdi>
      </Text>
      <form onSubmit={(e) => void unlock(e)}>
        <Stack>
          <PasswordInput autoFocus required label={t("people.password")} value={password} onChange={(e) => setPassword(e.currentTarget.value)} data-testid="unlock-password" />
          <Button type="submit" loading={busy} data-testid="unlock-submit">
            {t("people.lock.unlock")}
          </Button>
          <Button variant="default" onClick={() => void switchUser()} data-testid="switch-user">
            {t("people.menu.switch")}
          </Button>
        </Stack>
      </form>
      <ErrorAlert error={error} />
    </GateCard>
  );
}
