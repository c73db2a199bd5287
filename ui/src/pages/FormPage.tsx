import { Alert, Anchor, Button, Checkbox, Group, Modal, Paper, SegmentedControl, Stack, Text, Textarea, Title } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { CrfField, CrfMatrix, type Values } from "../components/CrfField";
import { ErrorAlert } from "../components/ErrorAlert";
import { SafeHtml, htmlText } from "../components/SafeHtml";
import { type Evaluation, type FieldState, type FieldView, type FormRef, type FormStatus, type FormView, type IpcError, api } from "../ipc";

const STATUSES: FormStatus[] = ["incomplete", "unverified", "complete"];

/** The stored names of a field's values. */
function storedNames(f: FieldView): string[] {
  if (f.field_type === "checkbox") return f.choices.map((c) => `${f.name}___${c.code}`);
  if (["descriptive", "calc", "file", "sql"].includes(f.field_type)) return [];
  return [f.name];
}

type Pending = { hidden: FieldView[]; before: Values; after: Values };

/**
 * A case report form, generated from the study's metadata. Every keystroke
 * asks the core what the form shows now (branching, calcs, messages); the
 * core also decides what a save writes and refuses what it must.
 */
export function FormPage({ at, onBack }: { at: FormRef; onBack: () => void }) {
  const { t } = useTranslation();
  const [view, setView] = useState<FormView | null>(null);
  const [values, setValues] = useState<Values>({});
  const [evaluation, setEvaluation] = useState<Evaluation | null>(null);
  const [status, setStatus] = useState<FormStatus>("incomplete");
  const [error, setError] = useState<IpcError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);
  const [asking, setAsking] = useState(false);
  const [leaving, setLeaving] = useState(false);
  const seq = useRef(0);
  const first = useRef<HTMLDivElement>(null);

  const load = useCallback(async () => {
    try {
      const opened = await api.openForm(at);
      setView(opened.view);
      // Only what a person enters goes back to the core (calc values are the core's).
      const enterable = new Set(opened.view.fields.flatMap(storedNames));
      setValues(Object.fromEntries(Object.entries(opened.view.values).filter(([k]) => enterable.has(k))));
      setEvaluation(opened.evaluation);
      setStatus(opened.view.status ?? "incomplete");
      setError(null);
    } catch (e) {
      setError(e as IpcError);
    }
  }, [at]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (view) first.current?.querySelector<HTMLElement>("input:not([readonly]), textarea")?.focus();
  }, [view]);

  const states = useMemo(() => new Map<string, FieldState>(evaluation?.fields.map((f) => [f.name, f]) ?? []), [evaluation]);

  /** Asks the core about `next`; when the answer hides fields that have values, asks the CRC first (as REDCap does). */
  const evaluate = useCallback(
    async (next: Values, before: Values) => {
      const mine = ++seq.current;
      try {
        const e = await api.evaluateForm(at, next);
        if (mine !== seq.current || !view) return;
        const hidden = view.fields.filter((f) => {
          const wasVisible = states.get(f.name)?.visible ?? true;
          const nowVisible = e.fields.find((s) => s.name === f.name)?.visible ?? true;
          return wasVisible && !nowVisible && storedNames(f).some((n) => (next[n] ?? "") !== "");
        });
        setEvaluation(e);
        if (hidden.length > 0) setPending({ hidden, before, after: next });
      } catch (err) {
        if (mine === seq.current) setError(err as IpcError);
      }
    },
    [at, view, states],
  );

  const change = (name: string, value: string) => {
    const next = { ...values, [name]: value };
    const before = values;
    setValues(next);
    setNotice(null);
    void evaluate(next, before);
  };

  const resolveHidden = (erase: boolean) => {
    if (!pending) return;
    let next: Values;
    if (erase) {
      next = { ...pending.after };
      for (const f of pending.hidden) for (const n of storedNames(f)) next[n] = "";
    } else {
      next = pending.before;
    }
    setPending(null);
    setValues(next);
    void evaluate(next, next);
  };

  const hasErrors = evaluation?.fields.some((f) => f.visible && f.message?.severity === "error") ?? false;
  const savedStatus = view?.status ?? null;
  const dirty = (evaluation?.changed.length ?? 0) > 0 || status !== (savedStatus ?? "incomplete") || savedStatus === null;
  const needsReason = (evaluation?.changes_saved.length ?? 0) > 0 || (evaluation?.out_of_range.length ?? 0) > 0;

  const save = async (reason: string | null, confirmed: string[]) => {
    setBusy(true);
    try {
      const r = await api.saveForm(at, { values, status, confirmed, reason });
      setAsking(false);
      await load();
      setNotice(r.changed > 0 ? t("crf.saved", { count: r.changed }) : t("crf.nothingChanged"));
    } catch (e) {
      setError(e as IpcError);
      setAsking(false);
    } finally {
      setBusy(false);
    }
  };

  const trySave = () => {
    if (busy || !view || pending) return;
    setError(null);
    if (hasErrors) {
      setError({ code: "validation", message: t("crf.fixFirst") });
      return;
    }
    if (needsReason) setAsking(true);
    else void save(null, []);
  };

  const back = () => (dirty && (evaluation?.changed.length ?? 0) > 0 ? setLeaving(true) : onBack());

  // Ctrl+S saves from anywhere on the form, inputs included.
  useHotkeys([["mod+S", trySave]], []);
  useHotkeys([["Escape", () => !asking && !pending && !leaving && back()]]);

  const label = (name: string) => {
    const f = view?.fields.find((x) => x.name === name || storedNames(x).includes(name));
    return f ? htmlText(f.label_html) : name;
  };

  // Fields in order; a run of fields with one matrix group renders as one grid.
  const body: ReactNode[] = [];
  const groups: FieldView[][] = [];
  for (const f of view?.fields ?? []) {
    const last = groups[groups.length - 1];
    if (f.matrix_group && last?.[0]?.matrix_group === f.matrix_group) last.push(f);
    else groups.push([f]);
  }
  const visible = (x: FieldView) => states.get(x.name)?.visible ?? true;
  for (const group of groups) {
    const [f] = group;
    if (!f) continue;
    if (f.section_html) body.push(<SafeHtml key={`s-${f.name}`} html={f.section_html} component="h4" testId={`section-${f.name}`} />);
    const shown = group.filter(visible);
    if (f.matrix_group) {
      if (shown.length > 0) body.push(<CrfMatrix key={`m-${f.name}`} fields={shown} states={states} values={values} onChange={change} />);
    } else if (visible(f)) {
      body.push(<CrfField key={f.name} field={f} state={states.get(f.name)} values={values} onChange={change} />);
    }
  }

  return (
    <Stack>
      <Anchor component="button" onClick={back} data-testid="form-back">
        ← {t("crf.back", { id: at.subject_id })}
      </Anchor>
      <ErrorAlert error={error} />
      {view && (
        <>
          <Group justify="space-between">
            <Title order={2} data-testid="form-title">
              {view.form_label}
            </Title>
            <Text c="dimmed">
              {at.subject_id} · {view.event_label}
              {view.repeating ? ` · ${t("crf.instance", { n: view.instance })}` : ""}
            </Text>
          </Group>
          <Paper withBorder p="md" ref={first}>
            <Stack gap="md" className="crf">
              {body}
            </Stack>
          </Paper>
          <Paper withBorder p="md">
            <Group justify="space-between">
              <Group>
                <Text size="sm">{t("crf.status")}</Text>
                <SegmentedControl
                  value={status}
                  onChange={(v) => setStatus(v as FormStatus)}
                  data={STATUSES.map((s) => ({ value: s, label: t(`crf.cellStatus.${s}`) }))}
                  data-testid="form-status"
                />
              </Group>
              <Group>
                <Text size="xs" c="dimmed">
                  {t("crf.keys")}
                </Text>
                <Button onClick={trySave} loading={busy} data-testid="form-save">
                  {t("form.save")}
                </Button>
              </Group>
            </Group>
            {notice && (
              <Alert color="green" variant="light" mt="sm" data-testid="form-saved">
                {notice}
              </Alert>
            )}
          </Paper>
        </>
      )}
      <Modal opened={pending !== null} onClose={() => resolveHidden(false)} title={t("crf.hideTitle")} data-testid="hide-modal">
        <Text>{t("crf.hideBody", { fields: pending?.hidden.map((f) => htmlText(f.label_html)).join(", ") ?? "" })}</Text>
        <Group justify="flex-end" mt="md">
          <Button variant="default" onClick={() => resolveHidden(false)} data-testid="hide-undo">
            {t("crf.undo")}
          </Button>
          <Button color="red" onClick={() => resolveHidden(true)} data-testid="hide-erase">
            {t("crf.erase")}
          </Button>
        </Group>
      </Modal>
      {asking && evaluation && <ReasonModal evaluation={evaluation} label={label} busy={busy} onCancel={() => setAsking(false)} onSave={save} />}
      <Modal opened={leaving} onClose={() => setLeaving(false)} title={t("crf.discardTitle")}>
        <Text>{t("crf.discardBody")}</Text>
        <Group justify="flex-end" mt="md">
          <Button variant="default" onClick={() => setLeaving(false)}>
            {t("crf.stay")}
          </Button>
          <Button color="red" onClick={onBack} data-testid="form-discard">
            {t("crf.discard")}
          </Button>
        </Group>
      </Modal>
    </Stack>
  );
}

/** Asks for the reason a saved value changes, and for out-of-range values to be confirmed. */
function ReasonModal({
  evaluation,
  label,
  busy,
  onCancel,
  onSave,
}: {
  evaluation: Evaluation;
  label: (name: string) => string;
  busy: boolean;
  onCancel: () => void;
  onSave: (reason: string, confirmed: string[]) => void;
}) {
  const { t } = useTranslation();
  const [reason, setReason] = useState("");
  const [confirmed, setConfirmed] = useState(false);
  const range = evaluation.out_of_range;
  const changed = [...new Set(evaluation.changes_saved.map(label))];
  const ok = reason.trim() !== "" && (range.length === 0 || confirmed);
  const submit = () => ok && onSave(reason.trim(), confirmed ? range : []);
  return (
    <Modal opened onClose={onCancel} title={t("crf.reasonTitle")} data-testid="reason-modal">
      <Stack>
        {changed.length > 0 && <Text size="sm">{t("crf.reasonChanged", { fields: changed.join(", ") })}</Text>}
        {range.length > 0 && (
          <>
            <Text size="sm" c="orange">
              {t("crf.reasonRange", { fields: range.map(label).join(", ") })}
            </Text>
            <Checkbox label={t("crf.confirmRange")} checked={confirmed} onChange={(e) => setConfirmed(e.currentTarget.checked)} data-testid="reason-confirm" />
          </>
        )}
        <Textarea
          label={t("crf.reason")}
          description={t("crf.reasonHint")}
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          data-autofocus
          autosize
          minRows={2}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              submit();
            }
          }}
          data-testid="reason-input"
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            {t("form.cancel")}
          </Button>
          <Button onClick={submit} disabled={!ok} loading={busy} data-testid="reason-save">
            {t("form.save")}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
