import { Badge, Group, Paper, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import type { ColumnDef } from "@tanstack/react-table";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";

import { DataTable } from "../components/DataTable";
import { ErrorAlert } from "../components/ErrorAlert";
import { formatElapsed, formatTimestamp } from "../format";
import { type DiagnosticsSnapshot, type IpcError, type TaskSnapshot, type TaskState, api, onDiagnostics } from "../ipc";

const STATE_COLOR: Record<TaskState, string> = {
  queued: "gray",
  running: "green",
  waiting: "yellow",
  cancelling: "orange",
  done: "blue",
  failed: "red",
  cancelled: "gray",
};

/** Live tasks and the writer's queue, refreshed by the backend's once-a-second event. */
export function DiagnosticsPage() {
  const { t, i18n } = useTranslation();
  const [snap, setSnap] = useState<DiagnosticsSnapshot | null>(null);
  const [error, setError] = useState<IpcError | null>(null);

  useEffect(() => {
    let live = true;
    api.diagnosticsSnapshot().then(
      (s) => live && setSnap(s),
      (e: IpcError) => live && setError(e),
    );
    const stop = onDiagnostics((s) => live && setSnap(s));
    return () => {
      live = false;
      stop();
    };
  }, []);

  const columns = useMemo<ColumnDef<TaskSnapshot, unknown>[]>(
    () => [
      { header: t("diagnostics.columns.name"), accessorKey: "name" },
      { header: t("diagnostics.columns.kind"), id: "kind", cell: (c) => t(`diagnostics.kind.${c.row.original.kind}`) },
      {
        header: t("diagnostics.columns.state"),
        id: "state",
        cell: (c) => (
          <Badge color={STATE_COLOR[c.row.original.state]} variant="light">
            {t(`diagnostics.state.${c.row.original.state}`)}
          </Badge>
        ),
      },
      {
        header: t("diagnostics.columns.started"),
        id: "started",
        cell: (c) => formatTimestamp(c.row.original.started_at, i18n.language),
      },
      { header: t("diagnostics.columns.elapsed"), id: "elapsed", cell: (c) => formatElapsed(c.row.original.elapsed_ms) },
    ],
    [t, i18n.language],
  );

  const liveCount = snap?.tasks.filter((x) => !["done", "failed", "cancelled"].includes(x.state)).length ?? 0;

  return (
    <Stack>
      <Title order={2} data-testid="page-title">
        {t("diagnostics.title")}
      </Title>
      <ErrorAlert error={error} />
      {snap && (
        <>
          <Paper withBorder p="md">
            <Text fw={600} mb="xs">
              {t("diagnostics.writer")}
            </Text>
            <SimpleGrid cols={3}>
              <div>
                <Text size="xs" c="dimmed">
                  {t("diagnostics.queueDepth")}
                </Text>
                <Text data-testid="writer-queue">
                  {snap.writer.queue_depth} / {snap.writer.queue_capacity}
                </Text>
              </div>
              <div>
                <Text size="xs" c="dimmed">
                  {t("diagnostics.commits")}
                </Text>
                <Text data-testid="writer-commits">{snap.writer.commits}</Text>
              </div>
              <div>
                <Text size="xs" c="dimmed">
                  {t("diagnostics.rollbacks")}
                </Text>
                <Text data-testid="writer-rollbacks">{snap.writer.rollbacks}</Text>
              </div>
            </SimpleGrid>
          </Paper>
          <Group>
            <Title order={3}>{t("diagnostics.tasks")}</Title>
            <Text c="dimmed">{t("diagnostics.live", { count: liveCount })}</Text>
          </Group>
          <DataTable testId="task-table" data={snap.tasks} columns={columns} rowId={(x) => String(x.id)} empty="—" />
        </>
      )}
    </Stack>
  );
}
