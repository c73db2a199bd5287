import { Alert, Badge, Button, Group, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { Section } from "../components/Section";
import { type ConnectionReport, type EdcSettings, api } from "../ipc";

/** The central EDC: demo or the study's REDCap, its address and token, and "Test connection". */
export function EdcCard() {
  const { t } = useTranslation();
  const [settings, setSettings] = useState<EdcSettings | null>(null);
  const [url, setUrl] = useState("");
  const [token, setToken] = useState("");
  const { error, fail, clear } = useFailure();
  const [report, setReport] = useState<ConnectionReport | null>(null);
  const [busy, setBusy] = useState<"save" | "test" | "forget" | null>(null);

  const show = useCallback((s: EdcSettings) => {
    setSettings(s);
    setUrl(s.mode === "real" ? (s.url ?? "") : "");
    setToken("");
  }, []);

  useEffect(() => {
    api.edcSettings().then(show, fail);
  }, [show, fail]);

  const run = async (what: "save" | "test" | "forget", f: () => Promise<void>) => {
    setBusy(what);
    clear();
    setReport(null);
    try {
      await f();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(null);
    }
  };

  const save = (e: FormEvent) => {
    e.preventDefault();
    void run("save", async () => {
      show(await api.saveEdcSettings({ url, token: token.trim() === "" ? null : token }));
      notifications.show({ message: t("edc.saved"), color: "green" });
    });
  };

  return (
    <Section title={t("edc.title")} hint={t("edc.hint")}>
      <Stack>
        {settings && (
          <Group gap="xs">
            <Badge variant="light" color={settings.mode === "real" ? "blue" : settings.mode === "demo" ? "grape" : "gray"} data-testid="edc-mode">
              {t(`edc.mode.${settings.mode}`)}
            </Badge>
            {settings.url && (
              <Text size="sm" c="dimmed" data-testid="edc-url">
                {settings.url}
              </Text>
            )}
          </Group>
        )}
        {settings?.mode === "demo" && <Text size="sm">{t("edc.demoHint")}</Text>}
        {settings?.mode === "demo" && settings.pending_edits > 0 && (
          <Alert color="orange" variant="light" data-testid="edc-pending-demo">
            {t("edc.pendingDemo", { count: settings.pending_edits })}
          </Alert>
        )}
        <form onSubmit={save}>
          <Stack>
            <TextInput label={t("edc.url")} placeholder="https://redcap.example.org/api/" value={url} onChange={(e) => setUrl(e.currentTarget.value)} data-testid="edc-url-input" />
            <PasswordInput
              label={t("edc.token")}
              description={settings?.token_saved ? t("edc.tokenSaved") : t("edc.tokenHint")}
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
              autoComplete="off"
              data-testid="edc-token-input"
            />
            <Group>
              <Button type="submit" loading={busy === "save"} disabled={url.trim() === ""} data-testid="edc-save">
                {t("edc.save")}
              </Button>
              <Button variant="default" loading={busy === "test"} disabled={settings?.mode === "none"} onClick={() => void run("test", async () => setReport(await api.testConnection()))} data-testid="edc-test">
                {t("edc.test")}
              </Button>
              {settings?.token_saved && (
                <Button variant="subtle" color="red" loading={busy === "forget"} onClick={() => void run("forget", async () => show(await api.forgetEdcSettings()))} data-testid="edc-forget">
                  {t("edc.forget")}
                </Button>
              )}
            </Group>
          </Stack>
        </form>
        <ErrorAlert error={error} />
        {report && (
          <Alert color="green" variant="light" data-testid="edc-test-result">
            {t("edc.testOk", { title: report.project_title, version: report.version })}
          </Alert>
        )}
      </Stack>
    </Section>
  );
}
