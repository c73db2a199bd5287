import {
  Alert,
  Button,
  Code,
  Group,
  Paper,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { Section } from "../components/Section";
import { DictionaryCard } from "./DictionaryCard";
import { EdcCard } from "./EdcCard";
import { StudyCard } from "./StudyCard";
import { useApp } from "../context";
import { BackupCard } from "../people/BackupCard";
import { mayDo } from "../people/roles";
import { UsersCard } from "../people/UsersCard";
import { LANGS, setLanguage } from "../i18n";
import { type AuditVerification, type Lang, api } from "../ipc";

export function SettingsPage() {
  const { t } = useTranslation();
  const { info, refresh, user } = useApp();
  const [lang, setLang] = useState<Lang>(info.settings.language);
  const { error, fail, clear } = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      // A person's name is their account's (People, below); the desk keeps
      // the one it had for what runs with nobody signed in.
      const saved = await api.savePreferences({ display_name: info.settings.display_name, language: lang });
      setLanguage(saved.language);
      clear();
      await refresh();
      notifications.show({ message: t("settings.saved"), color: "green" });
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  const site = info.setup?.sites.find((s) => s.id === info.setup?.desk_site_id);
  const about: [string, string][] = [
    [t("settings.account"), info.actor.account],
    [t("settings.study"), info.setup ? `${info.setup.study.title} (${info.setup.study.id})` : "—"],
    [t("settings.site"), site ? `${site.code} ${site.name}` : "—"],
    [t("settings.deskCode"), info.desk.desk_code],
    [t("settings.database"), info.database_path],
    [t("settings.version"), info.version],
  ];

  return (
    <Stack maw={720}>
      <Title order={2} data-testid="page-title">
        {t("settings.title")}
      </Title>
      <Paper withBorder p="md">
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <div>
              <Text size="sm" fw={500} mb={4} id="language-label">
                {t("settings.language")}
              </Text>
              <SegmentedControl
                aria-labelledby="language-label"
                data-testid="settings-language"
                value={lang}
                onChange={(v) => setLang(v as Lang)}
                data={LANGS.map((l) => ({ value: l, label: t(`language.${l}`) }))}
              />
            </div>
            <ErrorAlert error={error} />
            <Group>
              <Button type="submit" loading={busy} data-testid="settings-save">
                {t("settings.save")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
      <Title order={3}>{t("settings.about")}</Title>
      <Table withTableBorder>
        <Table.Tbody>
          {about.map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Th w={200}>{k}</Table.Th>
              <Table.Td style={{ wordBreak: "break-all" }}>{v}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {mayDo(user.role, "supervisor") && <StudyCard />}
      {mayDo(user.role, "admin") && (
        <>
          <UsersCard />
          <EdcCard key={info.setup?.study.id} />
          <DictionaryCard key={`dictionary-${info.setup?.study.id}`} />
          <BackupCard />
        </>
      )}
      <AuditCheck />
    </Stack>
  );
}

/** "Verify audit trail": the core walks the hash chain and names the first broken row. */
function AuditCheck() {
  const { t } = useTranslation();
  const [result, setResult] = useState<AuditVerification | null>(null);
  const { error, fail, clear } = useFailure();
  const [busy, setBusy] = useState(false);

  const verify = async () => {
    setBusy(true);
    setResult(null);
    try {
      setResult(await api.verifyAudit());
      clear();
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title={t("settings.audit")} hint={t("settings.auditHint")}>
      <Group>
        <Button variant="default" loading={busy} onClick={() => void verify()} data-testid="verify-audit">
          {t("settings.verify")}
        </Button>
      </Group>
      <ErrorAlert error={error} />
      {result && !result.broken && (
        <Alert color={result.value_changed || result.clock_back !== null || result.dictionary_changed ? "orange" : "green"} data-testid="audit-result">
          <Text>{t("settings.intact", { rows: result.rows_checked })}</Text>
          <Text size="sm">{t("settings.valuesChecked", { count: result.values_checked })}</Text>
          {result.value_changed && (
            <Text size="sm" data-testid="audit-value-changed">
              {t("settings.valueChanged", {
                record: result.value_changed.record_id,
                event: result.value_changed.event,
                field: result.value_changed.field,
              })}
            </Text>
          )}
          {result.clock_back !== null && <Text size="sm">{t("settings.clockBack", { id: result.clock_back })}</Text>}
          {result.dictionary_changed && <Text size="sm">{t("settings.dictionaryChanged", { hash: result.dictionary_changed.slice(0, 12) })}</Text>}
          {result.head && (
            <Text size="sm">
              {t("settings.lastHash")}: <Code style={{ wordBreak: "break-all" }}>{result.head}</Code>
            </Text>
          )}
        </Alert>
      )}
      {result?.broken && (
        <Alert color="red" data-testid="audit-result">
          {t("settings.broken", {
            id: result.broken.audit_id,
            problem: t(`settings.problem.${result.broken.problem}`),
          })}
        </Alert>
      )}
    </Section>
  );
}
