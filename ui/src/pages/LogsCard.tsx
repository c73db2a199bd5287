import { Alert, Button, Group, Paper, Select, Stack, TextInput, Title } from "@mantine/core";
import { useCallback, useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Column, DataTable } from "../components/DataTable";
import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { formatTimestamp } from "../format";
import { type LogLine, api } from "../ipc";

const LEVELS = ["ERROR", "WARN", "INFO", "DEBUG"];

/** Recent log lines (redacted by the backend), with a level filter and search, and the support bundle. */
export function LogsCard() {
  const { t, i18n } = useTranslation();
  const [level, setLevel] = useState("INFO");
  const [search, setSearch] = useState("");
  const [lines, setLines] = useState<LogLine[]>([]);
  const { error, fail, clear } = useFailure();
  const [saved, setSaved] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setLines(await api.recentLogs({ level, search }));
      clear();
    } catch (e) {
      fail(e);
    }
  }, [level, search, fail, clear]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [load]);

  const columns = useMemo<Column<LogLine>[]>(
    () => [
      { header: t("diagnostics.logs.at"), id: "at", cell: (c) => formatTimestamp(c.row.original.at, i18n.language) },
      { header: t("diagnostics.logs.level"), accessorKey: "level" },
      { header: t("diagnostics.logs.target"), accessorKey: "target" },
      { header: t("diagnostics.logs.message"), accessorKey: "message" },
    ],
    [t, i18n.language],
  );

  const bundle = async () => {
    try {
      setSaved(await api.saveDiagnosticsBundle());
    } catch (e) {
      fail(e);
    }
  };

  return (
    <Paper withBorder p="md">
      <Stack>
        <Group justify="space-between">
          <Title order={3}>{t("diagnostics.logs.title")}</Title>
          <Button variant="default" onClick={() => void bundle()} data-testid="save-bundle">
            {t("diagnostics.logs.bundle")}
          </Button>
        </Group>
        {saved && (
          <Alert color="green" data-testid="bundle-saved">
            {t("diagnostics.logs.bundleSaved", { path: saved })}
          </Alert>
        )}
        <Group>
          <Select label={t("diagnostics.logs.level")} data={LEVELS} value={level} onChange={(v) => setLevel(v ?? "INFO")} w={140} allowDeselect={false} data-testid="log-level" />
          <TextInput label={t("diagnostics.logs.search")} value={search} onChange={(e) => setSearch(e.currentTarget.value)} data-testid="log-search" />
        </Group>
        <ErrorAlert error={error} />
        <DataTable testId="log-table" data={[...lines].reverse().slice(0, 200)} columns={columns} rowId={(l) => `${l.at}-${l.target}-${l.message}`} empty={t("diagnostics.logs.empty")} />
      </Stack>
    </Paper>
  );
}
