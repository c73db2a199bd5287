import { Anchor, Badge, Button, Group, Paper, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { useCallback, useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Column, DataTable } from "../components/DataTable";
import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { StatusBadge } from "../components/StatusBadge";
import { useApp } from "../context";
import { auditFieldName, fieldValue, formatTimestamp } from "../format";
import {
  type ActionKind,
  type AuditEntry,
  type RecordDetail,
  type SubjectDetail,
  type SubjectStatus,
  type VisitGrid,
  api,
  isIpcError,
} from "../ipc";
import { ActionModal } from "./ActionModal";
import { type OpenForm, VisitGridCard } from "./VisitGridCard";
import { ScreeningModal } from "./ScreeningModal";

const ACTION_LABEL: Record<ActionKind, string> = {
  enroll: "subject.enroll",
  screen_fail: "subject.screenFail",
  complete: "subject.complete",
  withdraw: "subject.withdraw",
};

/** What the date of the last status change is called. */
const STATUS_DATE_LABEL: Partial<Record<SubjectStatus, string>> = {
  screen_failed: "subject.screenFailDate",
  completed: "subject.completionDate",
  withdrawn: "subject.withdrawalDate",
};

export function SubjectPage({ id, onBack, onOpenForm }: { id: string; onBack: () => void; onOpenForm: OpenForm }) {
  const { t, i18n } = useTranslation();
  const { info } = useApp();
  const [detail, setDetail] = useState<SubjectDetail | null>(null);
  // A record pulled from the EDC that was not registered at this desk.
  const [record, setRecord] = useState<RecordDetail | null>(null);
  const [grid, setGrid] = useState<VisitGrid | null>(null);
  const { error, fail, clear } = useFailure();
  const [action, setAction] = useState<ActionKind | null>(null);
  const [editing, setEditing] = useState(false);

  const load = useCallback(async () => {
    try {
      const g = await api.visitGrid(id);
      try {
        setDetail(await api.getSubject(id));
        setRecord(null);
      } catch (e) {
        if (!isIpcError(e) || e.code !== "not_found") throw e;
        setRecord(await api.getRecord(id));
        setDetail(null);
      }
      setGrid(g);
      clear();
    } catch (e) {
      fail(e);
    }
  }, [id, fail, clear]);

  useEffect(() => {
    void load();
  }, [load]);

  // Esc goes back to the list when no dialog is open (a dialog takes Esc itself).
  useHotkeys([["Escape", () => !action && !editing && onBack()]]);

  const columns = useMemo<Column<AuditEntry>[]>(
    () => [
      { header: t("subject.columns.at"), accessorKey: "at", cell: (c) => formatTimestamp(c.row.original.at, i18n.language) },
      {
        header: t("subject.columns.who"),
        id: "who",
        cell: (c) => {
          const e = c.row.original;
          // The person (their login on the desk), with the computer's account beside it.
          const who = e.user_login ? `${e.user_name} (${e.user_login})` : e.user_name;
          return <bdi>{who ? `${who} · ${e.user_account}` : e.user_account}</bdi>;
        },
      },
      { header: t("subject.columns.field"), id: "field", cell: (c) => auditFieldName(t, c.row.original) },
      { header: t("subject.columns.old"), id: "old", cell: (c) => fieldValue(t, c.row.original, "old") },
      { header: t("subject.columns.new"), id: "new", cell: (c) => fieldValue(t, c.row.original, "new") },
      { header: t("subject.columns.reason"), id: "reason", cell: (c) => c.row.original.reason ?? "" },
    ],
    [t, i18n.language],
  );

  const s = detail?.subject;
  const site = info.setup?.sites.find((x) => x.id === s?.site_id);
  // A coded reason as the study words it, with its "other, specify" text.
  const reasonText = (code: string, other: string | null) => {
    const label = info.setup?.reasons.choices.find((c) => c.code === code)?.label ?? code;
    return other ? `${label}: ${other}` : label;
  };
  const notSent = info.setup?.screening?.in_dictionary === false;
  const item = (label: string, value: string | null | undefined, testId?: string) => (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text data-testid={testId}>{value || "—"}</Text>
    </div>
  );

  // The visit grid and the audit history, for a subject and for a record
  // from the EDC alike.
  const formsAndHistory = (audit: AuditEntry[]) => (
    <>
      <VisitGridCard grid={grid} onOpen={onOpenForm} />
      <Title order={3}>{t("subject.history")}</Title>
      <DataTable testId="audit-table" data={audit} columns={columns} rowId={(e) => String(e.id)} empty={t("subject.historyEmpty")} />
    </>
  );

  return (
    <Stack>
      <Anchor component="button" onClick={onBack} data-testid="back">
        ← {t("subject.back")}
      </Anchor>
      <ErrorAlert error={error} />
      {record && (
        <>
          <Group>
            <Title order={2} data-testid="subject-id">
              {record.record_id}
            </Title>
            <Badge variant="light" color="gray" data-testid="record-from-edc">
              {t("subject.fromEdc")}
            </Badge>
          </Group>
          <Text size="sm" c="dimmed">
            {t("subject.fromEdcHint")}
          </Text>
          {formsAndHistory(record.audit)}
        </>
      )}
      {s && detail && (
        <>
          <Group justify="space-between">
            <Group>
              <Title order={2} data-testid="subject-id">
                {s.id}
              </Title>
              <StatusBadge status={s.status} testId="subject-status" />
              {notSent && (
                <Badge variant="light" color="orange" data-testid="not-sent" title={t("subject.notSentHint")}>
                  {t("subject.notSent")}
                </Badge>
              )}
            </Group>
            <Group>
              <Button variant="default" data-testid="action-edit" onClick={() => setEditing(true)}>
                {t("subject.editScreening")}
              </Button>
              {detail.actions.map((k) => (
                <Button
                  key={k}
                  data-testid={`action-${k}`}
                  color={k === "enroll" || k === "complete" ? "green" : "red"}
                  variant={k === "enroll" || k === "complete" ? "filled" : "light"}
                  onClick={() => setAction(k)}
                >
                  {t(ACTION_LABEL[k])}
                </Button>
              ))}
            </Group>
          </Group>
          <Paper withBorder p="md">
            <SimpleGrid cols={{ base: 2, md: 4 }}>
              {item(t("screening.label"), s.screening.label, "subject-label")}
              {item(t("subject.site"), site ? `${site.code} ${site.name}` : s.site_id)}
              {item(t("screening.screeningDate"), s.screening.screening_date)}
              {item(t("screening.consentDate"), s.screening.consent_date)}
              {item(t("screening.consentVersion"), s.screening.consent_version)}
              {item(t("subject.enrollmentDate"), s.enrollment_date, "subject-enrollment-date")}
              {s.status_date && item(t(STATUS_DATE_LABEL[s.status] ?? "subject.statusDate"), s.status_date, "subject-status-date")}
              {s.status_reason && item(t("subject.reason"), reasonText(s.status_reason, s.status_reason_other), "subject-reason")}
            </SimpleGrid>
            {detail.actions.length === 0 && (
              <Text size="sm" c="dimmed" mt="sm">
                {t("subject.noActions")}
              </Text>
            )}
          </Paper>
          {formsAndHistory(detail.audit)}
          {action && (
            <ActionModal
              subjectId={s.id}
              kind={action}
              onClose={() => setAction(null)}
              onDone={() => {
                setAction(null);
                void load();
              }}
            />
          )}
          {editing && (
            <ScreeningModal
              subject={s}
              onClose={() => setEditing(false)}
              onSaved={() => {
                setEditing(false);
                void load();
              }}
            />
          )}
        </>
      )}
    </Stack>
  );
}
