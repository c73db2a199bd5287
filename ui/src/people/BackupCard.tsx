import { Alert, Button, Code, Group, Text, TextInput } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { Section } from "../components/Section";
import { api } from "../ipc";

/** A backup of the desk while it runs, for the desk administrator; restoring is for IT, from the command line. */
export function BackupCard() {
  const { t } = useTranslation();
  const [folder, setFolder] = useState("");
  const [made, setMade] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { error, fail, clear } = useFailure();
  const backup = async () => {
    setBusy(true);
    setMade(null);
    try {
      setMade(await api.backupDesk({ folder: folder.trim() === "" ? null : folder.trim() }));
      clear();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title={t("backup.title")} hint={t("backup.hint")}>
      <TextInput label={t("backup.folder")} description={t("backup.folderHint")} value={folder} onChange={(e) => setFolder(e.currentTarget.value)} data-testid="backup-folder" />
      <Group>
        <Button variant="default" loading={busy} onClick={() => void backup()} data-testid="backup-make">
          {t("backup.make")}
        </Button>
      </Group>
      <ErrorAlert error={error} />
      {made && (
        <Alert color="green" data-testid="backup-result">
          <Text size="sm">{t("backup.made")}</Text>
          <Code style={{ wordBreak: "break-all" }}>{made}</Code>
          <Text size="sm" mt="xs">
            {t("backup.restoreHint")}
          </Text>
        </Alert>
      )}
    </Section>
  );
}
