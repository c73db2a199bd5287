import { Alert, Badge, Button, Code, FileInput, Group, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Column, DataTable } from "../components/DataTable";
import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { Section } from "../components/Section";
import { type DictionaryFile, type DictionaryPreview, type FieldChange, api } from "../ipc";

/** A file's text, through FileReader, which every webview has. A failure rejects with the reader's error (`useFailure` words it). */
function readText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result ?? ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsText(file);
  });
}

/** Preview a REDCap data dictionary file against the version in force, then apply it. */
export function DictionaryCard() {
  const { t } = useTranslation();
  const [file, setFile] = useState<DictionaryFile | null>(null);
  const [preview, setPreview] = useState<DictionaryPreview | null>(null);
  const { error, fail, clear } = useFailure();
  const [busy, setBusy] = useState(false);

  const choose = async (chosen: File | null) => {
    setPreview(null);
    clear();
    setFile(null);
    if (!chosen) return;
    try {
      const next = { file_name: chosen.name, text: await readText(chosen) };
      setFile(next);
      setPreview(await api.previewDictionary(next));
    } catch (e) {
      fail(e);
    }
  };

  const apply = async () => {
    if (!file) return;
    setBusy(true);
    try {
      await api.importDictionary(file);
      notifications.show({ message: t("dictionary.applied"), color: "green" });
      setPreview(await api.previewDictionary(file));
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };



  // A first import lists every field of the dictionary: DataTable renders the rows on screen only.
  const columns = useMemo<Column<FieldChange>[]>(
    () => [
      { header: t("dictionary.columns.field"), id: "field", cell: (c) => <Code>{c.row.original.field}</Code> },
      { header: t("dictionary.columns.change"), id: "change", cell: (c) => <ChangeText change={c.row.original} /> },
    ],
    [t],
  );

  const same = preview !== null && preview.hash === preview.current_hash;

  return (
    <Section title={t("dictionary.title")} hint={t("dictionary.hint")}>
      <FileInput
        data-testid="dictionary-file"
        label={t("dictionary.choose")}
        placeholder={t("dictionary.placeholder")}
        accept=".csv,text/csv,.xml,application/xml,text/xml,.json,application/json"
        clearable
        onChange={(f) => void choose(f)}
      />
      <ErrorAlert error={error} />
      {preview && (
        <Stack data-testid="dictionary-preview">
          <Group>
            <Text>{t("dictionary.summary", { fields: preview.fields, forms: preview.instruments.length })}</Text>
            <Text size="sm" c="dimmed">
              {t("dictionary.version")}: <Code>{preview.hash.slice(0, 12)}</Code>
            </Text>
          </Group>
          {same ? (
            <Alert color="blue">{t("dictionary.same")}</Alert>
          ) : (
            <>
              <Text fw={500}>{t("dictionary.changes")}</Text>
              {preview.changes.length === 0 ? (
                <Text size="sm">{t("dictionary.noChanges")}</Text>
              ) : (
                <DataTable
                  testId="dictionary-changes"
                  data={preview.changes}
                  columns={columns}
                  rowId={(c) => `${c.kind}-${c.field}`}
                  empty=""
                />
              )}
            </>
          )}
          {preview.logic_issues.length > 0 && (
            <Alert color="yellow" title={t("dictionary.logic")} data-testid="dictionary-logic">
              {preview.logic_issues.map((i) => (
                <Text size="sm" key={`${i.field}-${i.column}`}>
                  <Code>{i.field}</Code> ({i.column}):{" "}
                  {i.error.kind === "syntax" ? i.error.detail[1] : i.error.detail}
                </Text>
              ))}
            </Alert>
          )}
          {preview.unapplied_tags.length > 0 && (
            <Alert color="yellow" title={t("dictionary.tags")} data-testid="dictionary-tags">
              {preview.unapplied_tags.map((i) => (
                <Text size="sm" key={`${i.field}-${i.tag}`}>
                  <Code>{i.field}</Code> {i.tag}
                </Text>
              ))}
            </Alert>
          )}
          {!same && (
            <Group>
              <Button loading={busy} onClick={() => void apply()} data-testid="dictionary-apply">
                {t("dictionary.apply")}
              </Button>
            </Group>
          )}
        </Stack>
      )}
    </Section>
  );
}

/** What one field change does, in words. */
function ChangeText({ change }: { change: FieldChange }) {
  const { t } = useTranslation();
  switch (change.kind) {
    case "added":
      return <Badge color="green">{t("dictionary.added")}</Badge>;
    case "removed":
      return <Badge color="orange">{t("dictionary.removed")}</Badge>;
    case "changed":
      return (
        <Text size="sm">
          {t("dictionary.changed", { aspects: change.aspects.map((a) => t(`dictionary.aspect.${a}`)).join(", ") })}
          {change.removed_choices.length > 0 && ` · ${t("dictionary.removedChoices", { codes: change.removed_choices.join(", ") })}`}
        </Text>
      );
  }
}
