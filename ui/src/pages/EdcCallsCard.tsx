import { Badge, Group, Paper, Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

import type { BreakerState, CallTotals, EndpointStats } from "../ipc";

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${n} B`;
}

const BREAKER_COLOR: Record<BreakerState, string> = { closed: "green", open: "red", half_open: "orange" };

/** What each kind of call to the EDC has cost since the app started, and the sync breaker's state. */
export function EdcCallsCard({ calls, totals, breaker }: { calls: EndpointStats[]; totals: CallTotals; breaker: BreakerState | null }) {
  const { t } = useTranslation();
  return (
    <Paper withBorder p="md">
      <Group justify="space-between" mb="xs">
        <Text fw={600}>{t("diagnostics.edc.title")}</Text>
        {breaker && (
          <Group gap="xs">
            <Text size="sm" c="dimmed">
              {t("diagnostics.edc.breaker")}
            </Text>
            <Badge color={BREAKER_COLOR[breaker]} variant="light" data-testid="edc-breaker">
              {t(`sync.breaker.${breaker}`)}
            </Badge>
          </Group>
        )}
      </Group>
      <Text size="sm" mb="xs" data-testid="edc-totals">
        {t("diagnostics.edc.totals", totals)}
      </Text>
      {calls.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t("diagnostics.edc.none")}
        </Text>
      ) : (
        <Table data-testid="edc-calls">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("diagnostics.edc.endpoint")}</Table.Th>
              <Table.Th>{t("diagnostics.edc.calls")}</Table.Th>
              <Table.Th>{t("diagnostics.edc.failures")}</Table.Th>
              <Table.Th>{t("diagnostics.edc.latency")}</Table.Th>
              <Table.Th>{t("diagnostics.edc.sent")}</Table.Th>
              <Table.Th>{t("diagnostics.edc.received")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {calls.map((c) => (
              <Table.Tr key={c.endpoint} data-testid={`edc-call-${c.endpoint.replace(" ", "-")}`}>
                <Table.Td>{c.endpoint}</Table.Td>
                <Table.Td>{c.calls}</Table.Td>
                <Table.Td>{c.failures}</Table.Td>
                <Table.Td>
                  {fmt(c.latency_ms.p50)} / {fmt(c.latency_ms.p99)} / {fmt(c.latency_ms.max)}
                </Table.Td>
                <Table.Td>{bytes(c.bytes_sent)}</Table.Td>
                <Table.Td>{bytes(c.bytes_received)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Paper>
  );
}
