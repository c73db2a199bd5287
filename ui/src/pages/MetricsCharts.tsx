import { LineChart } from "@mantine/charts";
import { Paper, SimpleGrid, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";

import type { Sample } from "../ipc";

type Series = { name: keyof Sample; label: string; color: string }[];

/** One chart over the last 15 minutes. */
function Chart({ title, data, series, testId }: { title: string; data: Sample[]; series: Series; testId: string }) {
  const rows = data.map((s) => ({ ...s, time: new Date(s.at_ms).toLocaleTimeString() }));
  const last = data[data.length - 1];
  return (
    <Paper withBorder p="sm" data-testid={testId}>
      <Text fw={600} size="sm">
        {title}
      </Text>
      <Text size="xs" c="dimmed" mb="xs">
        {last ? series.map((s) => `${s.label} ${Number(last[s.name]).toFixed(1)}`).join(" · ") : "—"}
      </Text>
      <LineChart
        h={140}
        data={rows}
        dataKey="time"
        series={series.map((s) => ({ name: s.name, label: s.label, color: s.color }))}
        curveType="linear"
        withDots={false}
        withLegend={false}
        tickLine="none"
        gridAxis="y"
        xAxisProps={{ hide: true }}
        lineProps={{ isAnimationActive: false }}
      />
    </Paper>
  );
}

/** The desk's vital signs over the last 15 minutes, fed by the once-a-second diagnostics event. */
export function MetricsCharts({ samples }: { samples: Sample[] }) {
  const { t } = useTranslation();
  return (
    <>
      <Title order={3}>{t("diagnostics.metrics.title")}</Title>
      <SimpleGrid cols={{ base: 1, md: 2, lg: 3 }}>
        <Chart
          title={t("diagnostics.metrics.process")}
          data={samples}
          testId="chart-process"
          series={[
            { name: "rss_mb", label: t("diagnostics.metrics.rss"), color: "blue.6" },
            { name: "cpu_percent", label: t("diagnostics.metrics.cpu"), color: "orange.6" },
          ]}
        />
        <Chart
          title={t("diagnostics.metrics.writer")}
          data={samples}
          testId="chart-writer"
          series={[
            { name: "rows_per_sec", label: t("diagnostics.metrics.rows"), color: "teal.6" },
            { name: "interactive_p99_ms", label: t("diagnostics.metrics.p99"), color: "red.6" },
          ]}
        />
        <Chart
          title={t("diagnostics.metrics.sync")}
          data={samples}
          testId="chart-sync"
          series={[
            { name: "outbox", label: t("diagnostics.metrics.outbox"), color: "grape.6" },
            { name: "wal_mb", label: t("diagnostics.metrics.wal"), color: "gray.6" },
          ]}
        />
        <Chart
          title={t("diagnostics.metrics.runtime")}
          data={samples}
          testId="chart-runtime"
          series={[
            { name: "tokio_tasks", label: t("diagnostics.metrics.tasks"), color: "cyan.6" },
            { name: "registry_tasks", label: t("diagnostics.metrics.tracked"), color: "teal.6" },
            { name: "tokio_global_queue", label: t("diagnostics.metrics.queue"), color: "orange.6" },
            { name: "tokio_workers", label: t("diagnostics.metrics.workers"), color: "gray.6" },
          ]}
        />
        <Chart
          title={t("diagnostics.metrics.edc")}
          data={samples}
          testId="chart-edc"
          series={[
            { name: "edc_calls_per_sec", label: t("diagnostics.metrics.edcCalls"), color: "indigo.6" },
            { name: "edc_failures_per_sec", label: t("diagnostics.metrics.edcFailures"), color: "red.6" },
          ]}
        />
      </SimpleGrid>
    </>
  );
}
