import { Alert, Badge, Button, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Column, DataTable } from "../components/DataTable";
import { LogsCard } from "./LogsCard";
import { EdcCallsCard } from "./EdcCallsCard";
import { MetricsCharts } from "./MetricsCharts";
import { ProfileCard } from "./ProfileCard";
import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { formatElapsed, formatTimestamp } from "../format";
import {
  type DiagnosticsSnapshot,
  type Sample,
  type LaneStats,
  type Percentiles,
  type TaskSnapshot,
  type TaskState,
  type WriterStats,
  api,
  onDiagnostics,
} from "../ipc";

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
  const [samples, setSamples] = useState<Sample[]>([]);
  const { error, fail } = useFailure();

  useEffect(() => {
    let live = true;
    api.diagnosticsSnapshot().then(
      (s) => {
        if (!live) return;
        setSnap(s);
        setSamples(s.metrics);
      },
      (e: unknown) => {
        if (live) fail(e);
      },
    );
    // Each event brings the newest sample; the history stays 15 minutes long.
    const stop = onDiagnostics((s) => {
      if (!live) return;
      setSnap(s);
      setSamples((prev) => [...prev, ...s.metrics].slice(-900));
    });
    return () => {
      live = false;
      stop();
    };
  }, [fail]);

  const columns = useMemo<Column<TaskSnapshot>[]>(
    () => [
      { header: t("diagnostics.columns.name"), accessorKey: "name" },
      { header: t("diagnostics.columns.kind"), id: "kind", cell: (c) => t(`diagnostics.kind.${c.row.original.kind}`) },
      {
        header: t("diagnostics.columns.state"),
        id: "state",
        cell: (c) => {
          const task = c.row.original;
          return (
            <Group gap="xs" wrap="nowrap">
              <Badge color={STATE_COLOR[task.state]} variant="light">
                {t(`diagnostics.state.${task.state}`)}
              </Badge>
              {task.retry_at && (
                <Text size="xs" c="dimmed" data-testid={`task-retry-${task.id}`}>
                  {t("diagnostics.retry", {
                    attempt: task.attempts,
                    at: new Date(task.retry_at).toLocaleTimeString(i18n.language),
                  })}
                </Text>
              )}
            </Group>
          );
        },
      },
      {
        header: t("diagnostics.columns.started"),
        id: "started",
        cell: (c) => formatTimestamp(c.row.original.started_at, i18n.language),
      },
      { header: t("diagnostics.columns.elapsed"), id: "elapsed", cell: (c) => formatElapsed(c.row.original.elapsed_ms) },
      {
        header: t("diagnostics.columns.progress"),
        id: "progress",
        cell: (c) => {
          const p = c.row.original.progress;
          return p ? `${p[0]} / ${p[1]}` : "";
        },
      },
      {
        header: "",
        id: "cancel",
        cell: (c) =>
          c.row.original.cancellable && c.row.original.cancelled_ms === null ? (
            <Button
              size="compact-xs"
              variant="subtle"
              color="red"
              data-testid={`cancel-task-${c.row.original.id}`}
              onClick={() => void api.cancelTask(c.row.original.id).catch(fail)}
            >
              {t("diagnostics.cancel")}
            </Button>
          ) : null,
      },
    ],
    [t, i18n.language, fail],
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
          {snap.lints.map((l, i) => (
            <Alert key={`${l.lint}-${i}`} color="orange" data-testid="task-lint">
              {t(`diagnostics.lint.${l.lint}`, { ...l })}
            </Alert>
          ))}
          <WriterPanel writer={snap.writer} />
          <MetricsCharts samples={samples} />
          <EdcCallsCard calls={snap.edc} totals={snap.edc_totals} breaker={snap.breaker} />
          <Group>
            <Title order={3}>{t("diagnostics.tasks")}</Title>
            <Text c="dimmed">{t("diagnostics.live", { count: liveCount })}</Text>
          </Group>
          <DataTable testId="task-table" data={snap.tasks} columns={columns} rowId={(x) => String(x.id)} empty="—" />
          <ProfileCard />
          <LogsCard />
        </>
      )}
    </Stack>
  );
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const triple = (p: Percentiles) => `${fmt(p.p50)} / ${fmt(p.p99)} / ${fmt(p.max)}`;

function Figure({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text data-testid={testId}>{value}</Text>
    </div>
  );
}

/** The writer's lanes, throughput and latencies, as the backend measures them. */
function WriterPanel({ writer }: { writer: WriterStats }) {
  const { t } = useTranslation();
  const lanes: ["interactive" | "bulk", LaneStats][] = [
    ["interactive", writer.interactive],
    ["bulk", writer.bulk],
  ];
  return (
    <Paper withBorder p="md">
      <Text fw={600} mb="xs">
        {t("diagnostics.writer")}
      </Text>
      <SimpleGrid cols={3} mb="sm">
        <Figure label={t("diagnostics.commits")} value={String(writer.commits)} testId="writer-commits" />
        <Figure label={t("diagnostics.rows")} value={String(writer.rows)} testId="writer-rows" />
        <Figure
          label={t("diagnostics.failedCommands")}
          value={String(writer.failed_commands)}
          testId="writer-failed"
        />
        <Figure label={t("diagnostics.batchSize")} value={triple(writer.batch_size)} testId="writer-batch" />
        <Figure label={t("diagnostics.commitTime")} value={triple(writer.commit_ms)} testId="writer-commit-ms" />
        <Figure
          label=" "
          value={t("diagnostics.perSecond", {
            commits: fmt(writer.commits_per_sec),
            rows: fmt(writer.rows_per_sec),
          })}
          testId="writer-rates"
        />
      </SimpleGrid>
      <Table data-testid="writer-lanes">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("diagnostics.lane")}</Table.Th>
            <Table.Th>{t("diagnostics.queueDepth")}</Table.Th>
            <Table.Th>{t("diagnostics.answered")}</Table.Th>
            <Table.Th>{t("diagnostics.ackLatency")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {lanes.map(([name, lane]) => (
            <Table.Tr key={name} data-testid={`lane-${name}`}>
              <Table.Td>{t(`diagnostics.lanes.${name}`)}</Table.Td>
              <Table.Td>
                {lane.queue_depth} / {lane.queue_capacity}
              </Table.Td>
              <Table.Td>{lane.answered}</Table.Td>
              <Table.Td>{triple(lane.ack_ms)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}
