import { Anchor, Button, Group, NativeSelect, Paper, Progress, SegmentedControl, Stack, Text, TextInput, Title } from "@mantine/core";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Column, DataTable } from "../components/DataTable";
import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { StatusBadge } from "../components/StatusBadge";
import { useApp } from "../context";
import { formatTimestamp } from "../format";
import { type EdcRecord, type StatusCount, type SubjectRow, type SubjectStatus, api } from "../ipc";
import { ScreeningModal } from "./ScreeningModal";
import { TargetModal } from "./TargetModal";

const STATUSES: SubjectStatus[] = ["screening", "screen_failed", "enrolled", "completed", "withdrawn"];
/** Statuses of subjects who were enrolled: what counts against the target. */
const EVER_ENROLLED: SubjectStatus[] = ["enrolled", "completed", "withdrawn"];

export function SubjectsPage({ onOpen }: { onOpen: (id: string) => void }) {
  const { t, i18n } = useTranslation();
  const { info } = useApp();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState<SubjectStatus | "">("");
  const [site, setSite] = useState("");
  const [rows, setRows] = useState<SubjectRow[]>([]);
  const [records, setRecords] = useState<EdcRecord[]>([]);
  const [counts, setCounts] = useState<StatusCount[]>([]);
  const { error, fail, clear } = useFailure();
  const [screening, setScreening] = useState(false);
  // Enrollment against the desk's site's target or the study's.
  const [scope, setScope] = useState<"site" | "study">("site");
  const [changingTarget, setChangingTarget] = useState(false);

  // Every keystroke asks the core at once (the query is indexed SQL); an
  // answer to an older question than the newest is dropped, so a slow one
  // never overwrites a newer list.
  const asked = useRef(0);
  const load = useCallback(async () => {
    const mine = ++asked.current;
    try {
      const filter = { search: search || null, status: status || null, site_id: site || null };
      const [list, c, fromEdc] = await Promise.all([api.listSubjects(filter), api.statusCounts(), api.listEdcRecords()]);
      if (mine !== asked.current) return;
      setRows(list);
      setCounts(c);
      const needle = search.trim().toLowerCase();
      setRecords(fromEdc.filter((r) => r.record_id.toLowerCase().includes(needle)));
      clear();
    } catch (e) {
      if (mine === asked.current) fail(e);
    }
  }, [search, status, site, fail, clear]);

  useEffect(() => {
    void load();
  }, [load]);

  const columns = useMemo<Column<SubjectRow>[]>(
    () => [
      { header: t("subjects.columns.id"), accessorKey: "id" },
      { header: t("subjects.columns.label"), accessorKey: "label" },
      { header: t("subjects.columns.site"), accessorKey: "site_code" },
      {
        header: t("subjects.columns.desk"),
        id: "desk",
        cell: (c) => {
          const desk = c.row.original.desk_code;
          if (!desk) return "—";
          return desk === info.desk.desk_code ? t("subjects.thisDesk", { desk }) : desk;
        },
      },
      {
        header: t("subjects.columns.status"),
        accessorKey: "status",
        cell: (c) => <StatusBadge status={c.row.original.status} />,
      },
      { header: t("subjects.columns.screeningDate"), accessorKey: "screening_date" },
      {
        header: t("subjects.columns.enrollmentDate"),
        accessorKey: "enrollment_date",
        cell: (c) => c.row.original.enrollment_date ?? "—",
      },
    ],
    [t, info.desk.desk_code],
  );

  const recordColumns = useMemo<Column<EdcRecord>[]>(
    () => [
      { header: t("subjects.edcColumns.id"), accessorKey: "record_id" },
      { header: t("subjects.edcColumns.events"), accessorKey: "events" },
      { header: t("subjects.edcColumns.values"), accessorKey: "values" },
      {
        header: t("subjects.edcColumns.updated"),
        accessorKey: "updated_at",
        cell: (c) => formatTimestamp(c.row.original.updated_at, i18n.language),
      },
    ],
    [t, i18n.language],
  );

  const deskSite = info.setup?.desk_site_id ?? "";
  const targets = info.setup?.targets;
  const target = scope === "site" ? targets?.sites[deskSite] : targets?.study;
  const enrolled = counts
    .filter((c) => EVER_ENROLLED.includes(c.status) && (scope === "study" || c.site_id === deskSite))
    .reduce((n, c) => n + c.count, 0);
  const sites = info.setup?.sites ?? [];

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} data-testid="page-title">
          {t("subjects.title")}
        </Title>
        <Button data-testid="screen-new" onClick={() => setScreening(true)}>
          {t("subjects.screenNew")}
        </Button>
      </Group>
      {info.setup && (
        <Paper withBorder p="sm">
          <Group justify="space-between">
            <SegmentedControl
              size="xs"
              data-testid="enrollment-scope"
              value={scope}
              onChange={(v) => setScope(v === "study" ? "study" : "site")}
              data={[
                { value: "site", label: t("subjects.scopeSite") },
                { value: "study", label: t("subjects.scopeStudy") },
              ]}
            />
            <Anchor component="button" size="sm" data-testid="change-target" onClick={() => setChangingTarget(true)}>
              {t("subjects.changeTarget")}
            </Anchor>
          </Group>
          <Text size="sm" mt="xs" data-testid="enrollment-progress">
            {target
              ? t(target.local ? "subjects.enrollmentLocal" : "subjects.enrollment", { enrolled, target: target.value })
              : t("subjects.enrollmentNoTarget", { enrolled })}
          </Text>
          {target && target.value > 0 && <Progress value={Math.min(100, (enrolled / target.value) * 100)} mt="xs" />}
          {scope === "study" && (
            <Text size="xs" c="dimmed" mt="xs">
              {t("subjects.studyScopeHint")}
            </Text>
          )}
        </Paper>
      )}
      <Group align="end">
        <TextInput
          data-testid="subject-search"
          style={{ flex: 1 }}
          placeholder={t("subjects.search")}
          aria-label={t("subjects.search")}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
        />
        <NativeSelect
          data-testid="status-filter"
          label={t("subjects.statusFilter")}
          value={status}
          onChange={(e) => setStatus(e.currentTarget.value as SubjectStatus | "")}
          data={[
            { value: "", label: t("subjects.all") },
            ...STATUSES.map((s) => ({
              value: s,
              label: `${t(`status.${s}`)} (${counts.filter((c) => c.status === s).reduce((n, c) => n + c.count, 0)})`,
            })),
          ]}
        />
        <NativeSelect
          data-testid="site-filter"
          label={t("subjects.siteFilter")}
          value={site}
          onChange={(e) => setSite(e.currentTarget.value)}
          data={[{ value: "", label: t("subjects.all") }, ...sites.map((s) => ({ value: s.id, label: `${s.code} ${s.name}` }))]}
        />
      </Group>
      <ErrorAlert error={error} />
      <DataTable
        testId="subject-table"
        data={rows}
        columns={columns}
        rowId={(r) => r.id}
        empty={t("subjects.empty")}
        onOpen={(r) => onOpen(r.id)}
      />
      {records.length > 0 && !status && !site && (
        <>
          <Title order={3} mt="md">
            {t("subjects.fromEdc")}
          </Title>
          <Text size="sm" c="dimmed">
            {t("subjects.fromEdcHint")}
          </Text>
          <DataTable
            testId="edc-record-table"
            data={records}
            columns={recordColumns}
            rowId={(r) => r.record_id}
            empty=""
            onOpen={(r) => onOpen(r.record_id)}
          />
        </>
      )}
      {changingTarget && <TargetModal siteId={scope === "site" ? deskSite : null} onClose={() => setChangingTarget(false)} />}
      {screening && (
        <ScreeningModal
          onClose={() => setScreening(false)}
          onSaved={(subject) => {
            setScreening(false);
            onOpen(subject.id);
          }}
        />
      )}
    </Stack>
  );
}
