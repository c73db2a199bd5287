import { Alert, Badge, Button, Group, Modal, NumberInput, Paper, Progress, SimpleGrid, Stack, Text, Textarea, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { type Column, DataTable } from "../components/DataTable";
import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { formatTimestamp } from "../format";
import { type ConflictView, type FormRef, type IdCollision, type Keep, type RefusedView, type SyncSettings, type SyncStatus, api } from "../ipc";

type Resolving = { view: ConflictView; keep: Keep };

/** The sync center: state, progress, pending edits, errors, and the conflicts a person must decide. */
export function SyncPage({ onOpenForm }: { onOpenForm: (at: FormRef) => void }) {
  const { t, i18n } = useTranslation();
  const [status, setStatus] = useState<SyncStatus | null>(null);
  const [conflicts, setConflicts] = useState<ConflictView[]>([]);
  const [held, setHeld] = useState<IdCollision[]>([]);
  const [refused, setRefused] = useState<RefusedView[]>([]);
  const { error, fail, clear } = useFailure();
  const [resolving, setResolving] = useState<Resolving | null>(null);
  // Records done at the previous refresh, for the rate.
  const last = useRef<{ at: number; records: number } | null>(null);
  const [rate, setRate] = useState<number | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [s, c, h, r] = await Promise.all([api.syncStatus(), api.listConflicts(), api.listIdCollisions(), api.listRefusedValues()]);
      const now = Date.now();
      if (s.running && last.current && now > last.current.at) {
        const done = s.progress.records_done - last.current.records;
        setRate(done >= 0 ? (done * 1000) / (now - last.current.at) : null);
      } else if (!s.running) setRate(null);
      last.current = { at: now, records: s.progress.records_done };
      setStatus(s);
      setConflicts(c);
      setHeld(h);
      setRefused(r);
    } catch (e) {
      fail(e);
    }
  }, [fail]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), 1000);
    return () => clearInterval(timer);
  }, [refresh]);

  const act = useCallback(
    async (f: () => Promise<unknown>) => {
      clear();
      try {
        await f();
        await refresh();
      } catch (e) {
        fail(e);
      }
    },
    [clear, fail, refresh],
  );

  const heldColumns = useMemo<Column<IdCollision>[]>(
    () => [
      { header: t("sync.columns.record"), accessorKey: "record_id" },
      { header: t("sync.columns.detected"), id: "at", cell: (c) => formatTimestamp(c.row.original.detected_at, i18n.language) },
      {
        header: "",
        id: "renumber",
        cell: (c) => (
          <Button
            size="xs"
            variant="light"
            data-testid={`renumber-${c.row.original.record_id}`}
            onClick={() =>
              void act(async () => {
                const id = await api.renumberRecord({ id: c.row.original.record_id });
                notifications.show({ message: t("sync.renumbered", { old: c.row.original.record_id, id }), color: "green" });
              })
            }
          >
            {t("sync.renumber")}
          </Button>
        ),
      },
    ],
    [t, i18n.language, act],
  );

  const refusedColumns = useMemo<Column<RefusedView>[]>(
    () => [
      { header: t("sync.columns.record"), id: "record", cell: (c) => c.row.original.refused.cell.record_id },
      { header: t("sync.columns.where"), id: "where", cell: (c) => c.row.original.event_label },
      { header: t("sync.columns.field"), id: "field", cell: (c) => c.row.original.label },
      { header: t("sync.columns.value"), id: "value", cell: (c) => c.row.original.refused.value || "—" },
      {
        header: t("sync.columns.words"),
        id: "words",
        // Held by the desk (export rights hide REDCap's value), or REDCap's words.
        cell: (c) => (c.row.original.refused.by === "export_rights" ? t("sync.hiddenByRights") : <bdi>{c.row.original.refused.message}</bdi>),
      },
      {
        header: "",
        id: "open",
        cell: (c) => {
          const r = c.row.original;
          return (
            <Button
              size="xs"
              variant="light"
              disabled={!r.form}
              data-testid={`refused-open-${r.refused.cell.record_id}-${r.refused.cell.field}`}
              onClick={() => onOpenForm({ subject_id: r.refused.cell.record_id, event: r.refused.cell.event, form: r.form, instance: r.refused.cell.instance })}
            >
              {t("sync.openForm")}
            </Button>
          );
        },
      },
    ],
    [t, onOpenForm],
  );

  const columns = useMemo<Column<ConflictView>[]>(
    () => [
      { header: t("sync.columns.record"), id: "record", cell: (c) => c.row.original.conflict.cell.record_id },
      { header: t("sync.columns.where"), id: "where", cell: (c) => c.row.original.event_label },
      { header: t("sync.columns.field"), id: "field", cell: (c) => c.row.original.label },
      { header: t("sync.columns.base"), id: "base", cell: (c) => c.row.original.conflict.base || "—" },
      { header: t("sync.columns.mine"), id: "mine", cell: (c) => c.row.original.conflict.mine || "—" },
      { header: t("sync.columns.theirs"), id: "theirs", cell: (c) => c.row.original.conflict.theirs || "—" },
      { header: t("sync.columns.detected"), id: "at", cell: (c) => formatTimestamp(c.row.original.conflict.detected_at, i18n.language) },
      {
        header: "",
        id: "actions",
        cell: (c) => (
          <Group gap="xs" wrap="nowrap">
            <Button size="xs" variant="light" data-testid={`keep-mine-${c.row.original.conflict.id}`} onClick={() => setResolving({ view: c.row.original, keep: { keep: "mine" } })}>
              {t("sync.keepMine")}
            </Button>
            <Button size="xs" variant="default" data-testid={`keep-theirs-${c.row.original.conflict.id}`} onClick={() => setResolving({ view: c.row.original, keep: { keep: "theirs" } })}>
              {t("sync.keepTheirs")}
            </Button>
          </Group>
        ),
      },
    ],
    [t, i18n.language],
  );

  const s = status;
  const state = !s ? null : s.mode === "none" ? "none" : s.running ? "running" : s.offline ? "offline" : s.stopped ? "stopped" : s.error ? "error" : "idle";
  const color = { none: "gray", running: "blue", offline: "gray", stopped: "red", error: "red", idle: "green" } as const;
  const p = s?.progress;
  const percent = p && p.batches_total > 0 ? (100 * p.batches_done) / p.batches_total : 0;
  const left = p && rate && rate > 0 ? Math.round((p.records_total - p.records_done) / rate) : null;

  return (
    <Stack>
      <Title order={2} data-testid="page-title">
        {t("sync.title")}
      </Title>
      <ErrorAlert error={error} />
      {s && state && (
        <Paper withBorder p="md">
          <Stack>
            <Group justify="space-between">
              <Group>
                <Badge size="lg" color={color[state]} variant="light" data-testid="sync-state" data-state={state}>
                  {t(`sync.state.${state}`)}
                </Badge>
                {s.running && p && <Text c="dimmed">{t(`sync.phase.${p.phase}`)}</Text>}
              </Group>
              <Group>
                <Button onClick={() => void act(api.syncNow)} disabled={s.mode === "none"} data-testid="sync-now">
                  {t("sync.now")}
                </Button>
                <Button variant="default" color="red" onClick={() => void act(api.cancelSync)} disabled={!s.running} data-testid="sync-cancel">
                  {t("sync.cancel")}
                </Button>
              </Group>
            </Group>
            {s.running && p && p.phase === "pushing" && (
              <Stack gap={4}>
                <Progress value={percent} animated data-testid="sync-progress" />
                <Text size="sm">{t("sync.batches", { done: p.batches_done, total: p.batches_total, records: p.records_done, recordsTotal: p.records_total })}</Text>
                {rate !== null && left !== null && <Text size="sm" c="dimmed">{t("sync.rate", { rate: rate.toFixed(1), left })}</Text>}
              </Stack>
            )}
            {s.running && p && p.phase === "pulling" && p.records_total > 0 && (
              <Stack gap={4}>
                <Progress value={(100 * p.records_done) / p.records_total} animated data-testid="sync-pull-progress" />
                <Text size="sm">{t("sync.pulled", { done: p.records_done, total: p.records_total })}</Text>
              </Stack>
            )}
            {state === "offline" && <Alert color="gray">{t("sync.offlineHint")}</Alert>}
            {state === "none" && <Alert color="gray">{t("sync.noneHint")}</Alert>}
            {s.error && (
              <Alert color="red" data-testid="sync-error">
                {s.error}
              </Alert>
            )}
            {s.breaker && s.breaker !== "closed" && <Text size="sm" c="orange">{t(`sync.breaker.${s.breaker}`)}</Text>}
            <SimpleGrid cols={{ base: 1, md: 3 }}>
              <div>
                <Text size="xs" c="dimmed">
                  {t("sync.lastSuccess")}
                </Text>
                <Text data-testid="sync-last" data-at={s.last_success_at ?? ""}>{s.last_success_at ? formatTimestamp(s.last_success_at, i18n.language) : t("sync.never")}</Text>
              </div>
              <div>
                <Text size="xs" c="dimmed">
                  {t("sync.pending")}
                </Text>
                <Text data-testid="sync-pending">{s.pending}</Text>
              </div>
              <div>
                <Text size="xs" c="dimmed">
                  {t("sync.every", { minutes: s.settings.interval_minutes })}
                </Text>
                {s.last_report && (
                  <Text size="sm" data-testid="sync-report">
                    {t("sync.lastReport", { pulled: s.last_report.pulled_cells, pushed: s.last_report.pushed_cells, conflicts: s.last_report.conflicts })}
                  </Text>
                )}
              </div>
            </SimpleGrid>
          </Stack>
        </Paper>
      )}
      {s && <SettingsCard key={`${s.settings.interval_minutes}-${s.settings.concurrency}`} initial={s.settings} onSaved={() => void refresh()} />}
      <Title order={3}>{t("sync.conflicts")}</Title>
      <Text size="sm" c="dimmed">
        {t("sync.conflictsHint")}
      </Text>
      <DataTable testId="conflict-table" data={conflicts} columns={columns} rowId={(c) => String(c.conflict.id)} empty={t("sync.noConflicts")} />
      {refused.length > 0 && (
        <>
          <Title order={3}>{t("sync.refused")}</Title>
          <Text size="sm" c="dimmed">
            {t("sync.refusedHint")}
          </Text>
          <DataTable
            testId="refused-table"
            data={refused}
            columns={refusedColumns}
            rowId={(r) => `${r.refused.cell.record_id}|${r.refused.cell.event}|${r.refused.cell.instance}|${r.refused.cell.field}`}
            empty=""
          />
        </>
      )}
      {held.length > 0 && (
        <>
          <Title order={3}>{t("sync.idTaken")}</Title>
          <Text size="sm" c="dimmed">
            {t("sync.idTakenHint")}
          </Text>
          <DataTable testId="id-taken-table" data={held} columns={heldColumns} rowId={(h) => h.record_id} empty="" />
        </>
      )}
      {resolving && (
        <ResolveModal
          resolving={resolving}
          onClose={() => setResolving(null)}
          onDone={() => {
            setResolving(null);
            notifications.show({ message: t("sync.resolved"), color: "green" });
            void refresh();
          }}
        />
      )}
    </Stack>
  );
}

/** How this desk syncs: minutes between runs and batches sent at once. */
function SettingsCard({ initial, onSaved }: { initial: SyncSettings; onSaved: () => void }) {
  const { t } = useTranslation();
  const [interval, setInterval_] = useState<number | string>(initial.interval_minutes);
  const [concurrency, setConcurrency] = useState<number | string>(initial.concurrency);
  const { error, fail, clear } = useFailure();
  const save = async () => {
    try {
      await api.saveSyncSettings({ interval_minutes: Number(interval), concurrency: Number(concurrency) });
      clear();
      notifications.show({ message: t("sync.settingsSaved"), color: "green" });
      onSaved();
    } catch (e) {
      fail(e);
    }
  };
  return (
    <Paper withBorder p="md">
      <Group align="flex-end">
        <NumberInput label={t("sync.interval")} value={interval} onChange={setInterval_} min={1} max={1440} w={200} data-testid="sync-interval" />
        <NumberInput label={t("sync.concurrency")} value={concurrency} onChange={setConcurrency} min={1} max={8} w={200} data-testid="sync-concurrency" />
        <Button variant="default" onClick={() => void save()} data-testid="sync-settings-save">
          {t("form.save")}
        </Button>
      </Group>
      <ErrorAlert error={error} />
    </Paper>
  );
}

function ResolveModal({ resolving, onClose, onDone }: { resolving: Resolving; onClose: () => void; onDone: () => void }) {
  const { t } = useTranslation();
  const [reason, setReason] = useState("");
  const { error, fail } = useFailure();
  const [busy, setBusy] = useState(false);
  const c = resolving.view.conflict;
  const value = resolving.keep.keep === "mine" ? c.mine : c.theirs;
  const submit = async () => {
    if (reason.trim() === "") return;
    setBusy(true);
    try {
      await api.resolveConflict({ id: c.id, keep: resolving.keep, reason });
      onDone();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={t("sync.resolveTitle")}>
      <Stack>
        <Text>
          {resolving.view.label} · {c.cell.record_id}
        </Text>
        <Text fw={600}>{t("sync.keeping", { value: value || "—" })}</Text>
        <Textarea
          label={t("sync.reason")}
          description={t("sync.reasonHint")}
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          data-autofocus
          data-testid="conflict-reason"
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            {t("form.cancel")}
          </Button>
          <Button onClick={() => void submit()} loading={busy} disabled={reason.trim() === ""} data-testid="conflict-resolve">
            {t("form.save")}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
