import {
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  List,
  PasswordInput,
  Radio,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { type Practice, type ProjectSummary, api } from "../ipc";

/**
 * Connects the desk to its study's REDCap: address and token, Probe, the
 * project's summary, the site when the token sees every site, what becomes
 * of the demo's practice entries, then Confirm. The token stays in this
 * form; nothing is written before Confirm.
 */
export function ConnectStudy({ onBound, onCancel }: { onBound: () => Promise<void>; onCancel?: () => void }) {
  const { t } = useTranslation();
  const [url, setUrl] = useState("");
  const [token, setToken] = useState("");
  const [summary, setSummary] = useState<ProjectSummary | null>(null);
  const [site, setSite] = useState<string | null>(null);
  const [practice, setPractice] = useState<Practice | null>(null);
  const [busy, setBusy] = useState<"probe" | "bind" | null>(null);
  const { error, fail, clear } = useFailure();

  const probe = async (e: FormEvent) => {
    e.preventDefault();
    setBusy("probe");
    clear();
    setSummary(null);
    try {
      const s = await api.probeProject({ url, token });
      setSummary(s);
      setSite(s.token_site ?? (s.sites.length === 1 ? (s.sites[0]?.unique_name ?? null) : null));
      setPractice(null);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(null);
    }
  };

  const needsSite = summary !== null && summary.token_site === null && summary.sites.length > 1;
  const needsPractice = summary !== null && summary.practice_entries > 0;
  const ready = summary !== null && (!needsSite || site !== null) && (!needsPractice || practice !== null);

  const bind = async (e: FormEvent) => {
    e.preventDefault();
    if (!summary) return;
    setBusy("bind");
    clear();
    try {
      const outcome = await api.bindProject({
        url,
        token,
        site: summary.sites.length === 0 ? null : site,
        practice: needsPractice ? practice : null,
      });
      const practiceNote =
        outcome.discarded > 0
          ? t("onboard.discarded", { count: outcome.discarded })
          : outcome.carried_over > 0
            ? t("onboard.carried", { count: outcome.carried_over })
            : "";
      notifications.show({ message: `${t("onboard.bound", { title: summary.title })} ${practiceNote}`.trim(), color: "green" });
      setToken("");
      await onBound();
    } catch (err) {
      fail(err);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Stack data-testid="connect-study">
      <form onSubmit={(e) => void probe(e)}>
        <Stack>
          <TextInput
            label={t("edc.url")}
            placeholder="https://redcap.example.org/api/"
            value={url}
            onChange={(e) => setUrl(e.currentTarget.value)}
            autoFocus
            data-testid="onboard-url"
          />
          <PasswordInput
            label={t("edc.token")}
            description={t("edc.tokenHint")}
            value={token}
            onChange={(e) => setToken(e.currentTarget.value)}
            autoComplete="off"
            data-testid="onboard-token"
          />
          <Group>
            <Button type="submit" loading={busy === "probe"} disabled={url.trim() === "" || token.trim() === ""} data-testid="onboard-probe">
              {t("onboard.probe")}
            </Button>
            {onCancel && (
              <Button variant="default" onClick={onCancel} data-testid="onboard-cancel">
                {t("onboard.cancel")}
              </Button>
            )}
          </Group>
        </Stack>
      </form>
      <ErrorAlert error={error} />
      {summary && (
        <form onSubmit={(e) => void bind(e)}>
          <Stack data-testid="onboard-summary">
            <Title order={4}>{summary.title}</Title>
            <Table>
              <Table.Tbody>
                <Table.Tr>
                  <Table.Th>{t("onboard.project")}</Table.Th>
                  <Table.Td>
                    {summary.project_id} · {summary.origin}
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>{t("onboard.forms")}</Table.Th>
                  <Table.Td data-testid="onboard-forms">
                    {t("onboard.formCount", { count: summary.forms.length })}: {summary.forms.join(", ")}
                  </Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>{t("onboard.events")}</Table.Th>
                  <Table.Td>{summary.events.length > 0 ? summary.events.join(", ") : t("onboard.classic")}</Table.Td>
                </Table.Tr>
                <Table.Tr>
                  <Table.Th>{t("onboard.sites")}</Table.Th>
                  <Table.Td data-testid="onboard-sites">
                    {summary.sites.length > 0 ? summary.sites.map((s) => `${s.code} ${s.label}`).join(", ") : t("onboard.noSites")}
                  </Table.Td>
                </Table.Tr>
              </Table.Tbody>
            </Table>
            {(summary.logic_issues.length > 0 || summary.unsupported_validation.length > 0 || summary.unapplied_tags.length > 0) && (
              <Alert color="yellow" title={t("onboard.offline")} data-testid="onboard-offline">
                <List size="sm">
                  {summary.logic_issues.map((i) => (
                    <List.Item key={`${i.field}-${i.column}`}>
                      <Code>{i.field}</Code> ({i.column})
                    </List.Item>
                  ))}
                  {summary.unsupported_validation.map((v) => (
                    <List.Item key={v.field}>
                      <Code>{v.field}</Code> {t("onboard.validation", { validation: v.validation })}
                    </List.Item>
                  ))}
                  {summary.unapplied_tags.map((i) => (
                    <List.Item key={`${i.field}-${i.tag}`}>
                      <Code>{i.field}</Code> {t("onboard.tag", { tag: i.tag })}
                    </List.Item>
                  ))}
                </List>
              </Alert>
            )}
            {summary.screening.status === "found" && (
              <Alert color="green" variant="light" title={t("onboard.screening.title")} data-testid="onboard-screening">
                {t("onboard.screening.found", {
                  form: summary.screening.form,
                  event: summary.screening.event,
                  count: summary.screening.criteria,
                })}
                {summary.screening.targets.study !== null && <Text size="sm">{t("onboard.screening.target", { target: summary.screening.targets.study })}</Text>}
              </Alert>
            )}
            {summary.screening.status === "absent" && (
              <Alert color="yellow" variant="light" title={t("onboard.screening.title")} data-testid="onboard-screening">
                <Stack gap="xs">
                  <Text size="sm">{t("onboard.screening.absent")}</Text>
                  <Group>
                    <CopyButton value={summary.screening.snippet}>
                      {({ copied, copy }) => (
                        <Button size="xs" variant="default" onClick={copy} data-testid="onboard-snippet-copy">
                          {copied ? t("onboard.screening.copied") : t("onboard.screening.copy")}
                        </Button>
                      )}
                    </CopyButton>
                    <Button
                      size="xs"
                      variant="default"
                      component="a"
                      href={`data:text/csv;charset=utf-8,${encodeURIComponent(summary.screening.snippet)}`}
                      download="screening_instrument.csv"
                      data-testid="onboard-snippet-download"
                    >
                      {t("onboard.screening.download")}
                    </Button>
                  </Group>
                </Stack>
              </Alert>
            )}
            {summary.screening.status === "broken" && (
              <Alert color="red" variant="light" title={t("onboard.screening.title")} data-testid="onboard-screening">
                {t("onboard.screening.broken", { message: summary.screening.message })}
              </Alert>
            )}
            {summary.token_site !== null && (
              <Group gap="xs">
                <Text size="sm">{t("onboard.tokenSite")}</Text>
                <Badge variant="light" data-testid="onboard-token-site">
                  {summary.sites.find((s) => s.unique_name === summary.token_site)?.label ?? summary.token_site}
                </Badge>
              </Group>
            )}
            {needsSite && (
              <Radio.Group label={t("onboard.pickSite")} value={site} onChange={setSite} data-testid="onboard-site">
                <Stack gap="xs" mt="xs">
                  {summary.sites.map((s) => (
                    <Radio key={s.unique_name} value={s.unique_name} label={`${s.code} ${s.label}`} data-testid={`onboard-site-${s.unique_name}`} />
                  ))}
                </Stack>
              </Radio.Group>
            )}
            {needsPractice && (
              <Radio.Group
                label={t("onboard.practice.title", { count: summary.practice_entries })}
                value={practice}
                onChange={(v) => setPractice(v as Practice)}
                data-testid="onboard-practice"
              >
                <Stack gap="xs" mt="xs">
                  <Radio value="discard" label={t("onboard.practice.discard")} data-testid="onboard-practice-discard" />
                  <Radio value="carry_over" label={t("onboard.practice.carryOver")} data-testid="onboard-practice-carry" />
                </Stack>
              </Radio.Group>
            )}
            <Group>
              <Button type="submit" loading={busy === "bind"} disabled={!ready || summary.screening.status === "broken"} data-testid="onboard-confirm">
                {t("onboard.confirm")}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Stack>
  );
}
