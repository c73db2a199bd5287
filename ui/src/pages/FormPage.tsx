import { Alert, Anchor, Button, Checkbox, Group, Modal, Paper, PasswordInput, SegmentedControl, Stack, Text, Textarea, Title } from "@mantine/core";
import { useHotkeys } from "@mantine/hooks";
import { type ReactNode, useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { CrfField, CrfMatrix, type Values } from "../components/CrfField";
import { DiscardChangesDialog } from "../components/DiscardChangesDialog";
import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { useApp } from "../context";
import { SafeHtml, htmlText } from "../components/SafeHtml";
import { type Draft, onStash, putDraft, takeDraft } from "../people/drafts";
import { type Evaluation, type FieldState, type FieldView, type FormRef, type FormStatus, type FormView, type Meaning, type SignOff, api } from "../ipc";
import { formatTimestamp } from "../format";
import { mayDo } from "../people/roles";

const STATUSES: FormStatus[] = ["incomplete", "unverified", "complete"];

type Pending = { hidden: FieldView[]; before: Values; after: Values };

/** The entries of `values` the CRC touched: only those go to the core, so a value changed elsewhere since the form opened is never written back. */
function pick(values: Values, touched: ReadonlySet<string>): Values {
  return Object.fromEntries(Object.entries(values).filter(([k]) => touched.has(k)));
}

/** Everything the form page shows, in one place; only `formReducer` changes it. */
type FormState = {
  view: FormView | null;
  /** What the fields hold now, and what they held when the form opened. */
  values: Values;
  loaded: Values;
  /** The stored names the CRC touched: only those go to the core. */
  touched: ReadonlySet<string>;
  /** The values the evaluation on screen was made for: what "undo" restores. */
  applied: Values;
  evaluation: Evaluation | null;
  status: FormStatus;
  notice: string | null;
  busy: boolean;
  /** An answer hid fields that hold values: the CRC erases them or undoes the answer. */
  pending: Pending | null;
  /** The reason (and range confirmation) dialog is open. */
  asking: boolean;
  /** The discard-changes dialog is open. */
  leaving: boolean;
};

type FormAction =
  | { type: "opened"; view: FormView; evaluation: Evaluation }
  | { type: "typed"; changes: Values }
  | { type: "evaluated"; evaluation: Evaluation; hidden: FieldView[]; asked: Values; before: Values }
  | { type: "hiddenResolved"; erase: boolean }
  | { type: "status"; status: FormStatus }
  | { type: "saving" }
  | { type: "saved"; notice: string }
  | { type: "saveFailed" }
  | { type: "ask"; open: boolean }
  | { type: "leave"; open: boolean }
  | { type: "restore"; draft: Draft };

const initialForm: FormState = {
  view: null,
  values: {},
  loaded: {},
  touched: new Set(),
  applied: {},
  evaluation: null,
  status: "incomplete",
  notice: null,
  busy: false,
  pending: null,
  asking: false,
  leaving: false,
};

function formReducer(state: FormState, action: FormAction): FormState {
  switch (action.type) {
    case "opened": {
      // Only what a person enters goes back to the core (calc values are the core's).
      const enterable = new Set(action.view.fields.flatMap((f) => f.inputs));
      const shown = Object.fromEntries(Object.entries(action.view.values).filter(([k]) => enterable.has(k)));
      return {
        ...state,
        view: action.view,
        values: shown,
        loaded: shown,
        applied: shown,
        // A new instance's defaults go back as entered: the time @NOW shows is the time saved.
        touched: new Set(action.view.prefilled.filter((n) => enterable.has(n))),
        evaluation: action.evaluation,
        status: action.view.status ?? "incomplete",
      };
    }
    case "typed": {
      const touched = new Set(state.touched);
      for (const name of Object.keys(action.changes)) touched.add(name);
      return { ...state, values: { ...state.values, ...action.changes }, touched, notice: null };
    }
    case "evaluated":
      return action.hidden.length > 0
        ? { ...state, evaluation: action.evaluation, pending: { hidden: action.hidden, before: action.before, after: action.asked } }
        : { ...state, evaluation: action.evaluation, applied: action.asked };
    case "hiddenResolved": {
      const { pending } = state;
      if (!pending) return state;
      if (!action.erase) return { ...state, pending: null, values: pending.before };
      const values = { ...pending.after };
      const touched = new Set(state.touched);
      for (const f of pending.hidden)
        for (const n of f.inputs) {
          values[n] = "";
          touched.add(n);
        }
      return { ...state, pending: null, values, touched };
    }
    case "status":
      return { ...state, status: action.status };
    case "restore":
      return {
        ...state,
        values: { ...state.values, ...action.draft.values },
        touched: new Set([...state.touched, ...action.draft.touched]),
        status: action.draft.status as FormStatus,
      };
    case "saving":
      return { ...state, busy: true };
    case "saved":
      return { ...state, busy: false, asking: false, notice: action.notice };
    case "saveFailed":
      return { ...state, busy: false, asking: false };
    case "ask":
      return { ...state, asking: action.open };
    case "leave":
      return { ...state, leaving: action.open };
  }
}

/**
 * A case report form, generated from the study's metadata. Every keystroke
 * asks the core what the form shows now (branching, calcs, messages); the
 * core also decides what a save writes and refuses what it must.
 */
export function FormPage({ at, onBack }: { at: FormRef; onBack: () => void }) {
  const { t, i18n } = useTranslation();
  const { setLeaveGuard, user } = useApp();
  const [form, dispatch] = useReducer(formReducer, initialForm);
  const { view, values, loaded, evaluation, status, notice, busy, pending, asking, leaving } = form;
  // Not state but the bookkeeping of calls in flight: a save decides on the
  // core's answer for what the CRC typed last, never on an older one.
  const latest = useRef<Evaluation | null>(null);
  const inflight = useRef<Promise<void> | null>(null);
  const seq = useRef(0);
  // Set when an answer hid fields with values, until the CRC decides.
  const asked = useRef(false);
  const focused = useRef(false);
  const { error, fail, clear } = useFailure();
  const first = useRef<HTMLDivElement>(null);

  // The form's (and its visit's) sign-offs, newest first.
  const [signOffs, setSignOffs] = useState<SignOff[]>([]);
  const [signing, setSigning] = useState(false);
  // Input typed before the desk locked, put back once the form is open.
  const restored = useRef(false);
  const load = useCallback(async () => {
    seq.current++;
    try {
      const opened = await api.openForm(at);
      latest.current = opened.evaluation;
      dispatch({ type: "opened", view: opened.view, evaluation: opened.evaluation });
      setSignOffs(opened.sign_offs);
      const draft = takeDraft(JSON.stringify(at));
      if (draft) {
        restored.current = true;
        dispatch({ type: "restore", draft });
      }
      clear();
    } catch (e) {
      fail(e);
    }
  }, [at, fail, clear]);

  useEffect(() => {
    void load();
  }, [load]);

  // The first field takes the focus when the form opens, not after a save.
  useEffect(() => {
    if (view && !focused.current) {
      focused.current = true;
      first.current?.querySelector<HTMLElement>("input:not([readonly]), textarea")?.focus();
    }
  }, [view]);

  // Before the desk locks, what was typed and not saved is stashed.
  const current = useRef(form);
  current.current = form;
  useEffect(
    () =>
      onStash(() => {
        const f = current.current;
        const changed = Object.keys(f.values).some((k) => (f.values[k] ?? "") !== (f.loaded[k] ?? ""));
        if (changed || f.status !== (f.view?.status ?? "incomplete"))
          putDraft(JSON.stringify(at), { values: f.values, touched: [...f.touched], status: f.status });
      }),
    [at],
  );

  const states = useMemo(() => new Map<string, FieldState>(evaluation?.fields.map((f) => [f.name, f]) ?? []), [evaluation]);

  /** Asks the core about `next`; when the answer hides fields that have values, asks the CRC first (as REDCap does). */
  const evaluate = useCallback(
    (next: Values, touched: ReadonlySet<string>, before: Values) => {
      const mine = ++seq.current;
      const run = async () => {
        try {
          const e = await api.evaluateForm(at, pick(next, touched));
          if (mine !== seq.current || !view) return;
          const shown = latest.current;
          // The core says which hidden fields hold a value; the form asks about those this answer hid.
          const hidden = view.fields.filter(
            (f) => e.hidden_with_values.includes(f.name) && (shown?.fields.find((s) => s.name === f.name)?.visible ?? true),
          );
          latest.current = e;
          if (hidden.length > 0) asked.current = true;
          dispatch({ type: "evaluated", evaluation: e, hidden, asked: next, before });
        } catch (err) {
          if (mine === seq.current) fail(err);
        }
      };
      const p = run();
      inflight.current = p;
      return p;
    },
    [at, view, fail],
  );

  // A restored draft is evaluated once the form (and `evaluate`) is ready.
  useEffect(() => {
    if (view && restored.current) {
      restored.current = false;
      void evaluate(form.values, form.touched, form.applied);
    }
  }, [view, evaluate, form.values, form.touched, form.applied]);

  const change = (changes: Values) => {
    const next = formReducer(form, { type: "typed", changes });
    dispatch({ type: "typed", changes });
    void evaluate(next.values, next.touched, form.applied);
  };

  const resolveHidden = (erase: boolean) => {
    if (!pending) return;
    const next = formReducer(form, { type: "hiddenResolved", erase });
    asked.current = false;
    dispatch({ type: "hiddenResolved", erase });
    // Erasing may hide more: "undo" then still goes back to before the answer.
    void evaluate(next.values, next.touched, pending.before);
  };

  const savedStatus = view?.status ?? null;
  const edited = Object.keys(values).some((k) => (values[k] ?? "") !== (loaded[k] ?? "")) || status !== (savedStatus ?? "incomplete");

  const save = async (reason: string | null, confirmed: string[]) => {
    dispatch({ type: "saving" });
    try {
      const r = await api.saveForm(at, { values: pick(values, form.touched), status, confirmed, reason });
      await load();
      dispatch({ type: "saved", notice: r.changed > 0 ? t("crf.saved", { count: r.changed }) : t("crf.nothingChanged") });
    } catch (e) {
      fail(e);
      dispatch({ type: "saveFailed" });
    }
  };

  const trySave = async () => {
    if (busy || !view || asked.current) return;
    await inflight.current;
    const e = latest.current;
    if (!e || asked.current) return;
    clear();
    if (e.fields.some((f) => f.visible && f.message?.severity === "error")) {
      fail({ code: "validation", message: t("crf.fixFirst") });
      return;
    }
    // A signed form's change voids its sign-off: always with a reason.
    if (e.changes_saved.length > 0 || e.out_of_range.length > 0 || (standing && edited)) dispatch({ type: "ask", open: true });
    else void save(null, []);
  };

  const back = () => (edited ? dispatch({ type: "leave", open: true }) : onBack());
  const standing = signOffs.find((s) => s.voided_at === null) ?? null;
  const lastVoided = standing ? null : (signOffs.find((s) => s.voided_at !== null) ?? null);

  // Leaving through the navigation asks too while there are unsaved edits.
  useEffect(() => {
    setLeaveGuard(edited ? () => true : null);
    return () => setLeaveGuard(null);
  }, [edited, setLeaveGuard]);

  // Ctrl+S saves from anywhere on the form, inputs included.
  useHotkeys([["mod+S", () => void trySave()]], []);
  useHotkeys([["Escape", () => !asking && !pending && !leaving && back()]]);

  const label = (name: string) => {
    const f = view?.fields.find((x) => x.name === name || x.inputs.includes(name));
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
  // `@HIDDEN` fields are never shown at the desk; branching logic hides the others as the answers go.
  const visible = (x: FieldView) => !x.hidden && (states.get(x.name)?.visible ?? true);
  const codes = view?.missing_codes ?? [];
  for (const group of groups) {
    const [f] = group;
    if (!f) continue;
    if (f.section_html) body.push(<SafeHtml key={`s-${f.name}`} html={f.section_html} component="h4" testId={`section-${f.name}`} />);
    const shown = group.filter(visible);
    if (f.matrix_group) {
      if (shown.length > 0) body.push(<CrfMatrix key={`m-${f.name}`} fields={shown} states={states} values={values} codes={codes} onChange={change} />);
    } else if (visible(f)) {
      body.push(<CrfField key={f.name} field={f} state={states.get(f.name)} values={values} codes={codes} onChange={change} />);
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
          {standing && (
            <Alert color="teal" data-testid="signoff-banner">
              <Text size="sm">
                {t("signoff.signed", {
                  meaning: t(`signoff.meaning.${standing.meaning}`),
                  at: formatTimestamp(standing.signed_at, i18n.language),
                })}{" "}
                <bdi>{standing.signer_name}</bdi> ({standing.signer_login})
              </Text>
              <Text size="xs" c="dimmed">
                {t("signoff.changeVoids")}
              </Text>
            </Alert>
          )}
          {lastVoided && (
            <Alert color="gray" data-testid="signoff-voided">
              <Text size="sm">
                {t("signoff.voided", { at: formatTimestamp(lastVoided.voided_at ?? "", i18n.language) })}{" "}
                <bdi>{lastVoided.void_reason}</bdi>
              </Text>
            </Alert>
          )}
          {!standing && !edited && mayDo(user.role, "supervisor") && (
            <Group>
              <Button variant="default" onClick={() => setSigning(true)} data-testid="signoff-open">
                {t("signoff.sign")}
              </Button>
            </Group>
          )}
          <Paper withBorder p="md" ref={first}>
            <fieldset disabled={busy} style={{ border: 0, padding: 0, margin: 0 }}>
              <Stack gap="md" className="crf">
                {body}
              </Stack>
            </fieldset>
          </Paper>
          <Paper withBorder p="md">
            <Group justify="space-between">
              <Group>
                <Text size="sm">{t("crf.status")}</Text>
                <SegmentedControl
                  value={status}
                  onChange={(v) => dispatch({ type: "status", status: v as FormStatus })}
                  data={STATUSES.map((s) => ({ value: s, label: t(`crf.cellStatus.${s}`) }))}
                  data-testid="form-status"
                />
              </Group>
              <Group>
                <Text size="xs" c="dimmed">
                  {t("crf.keys")}
                </Text>
                <Button onClick={() => void trySave()} loading={busy} data-testid="form-save">
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
      {asking && evaluation && (
        <ReasonModal evaluation={evaluation} label={label} busy={busy} signed={standing !== null} onCancel={() => dispatch({ type: "ask", open: false })} onSave={save} />
      )}
      {signing && (
        <SignOffModal
          at={at}
          onCancel={() => setSigning(false)}
          onSigned={async () => {
            setSigning(false);
            await load();
          }}
        />
      )}
      <DiscardChangesDialog opened={leaving} onStay={() => dispatch({ type: "leave", open: false })} onDiscard={onBack} discardTestId="form-discard" />
    </Stack>
  );
}

/** Asks for the reason a saved value changes, and for out-of-range values to be confirmed. */
function ReasonModal({
  evaluation,
  label,
  busy,
  signed,
  onCancel,
  onSave,
}: {
  evaluation: Evaluation;
  label: (name: string) => string;
  busy: boolean;
  /** The form is signed off: saving voids the sign-off. */
  signed: boolean;
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
        {signed && (
          <Text size="sm" c="orange" data-testid="reason-signed">
            {t("signoff.reasonVoids")}
          </Text>
        )}
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

/** A supervisor's signature on the form: its meaning, and the password again. */
function SignOffModal({ at, onCancel, onSigned }: { at: FormRef; onCancel: () => void; onSigned: () => Promise<void> }) {
  const { t } = useTranslation();
  const [meaning, setMeaning] = useState<Meaning>("reviewed");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const { error, fail, clear } = useFailure();
  const sign = async () => {
    setBusy(true);
    clear();
    try {
      await api.signOff({ subject_id: at.subject_id, event: at.event, instance: at.instance, form: at.form, meaning, password });
      await onSigned();
    } catch (e) {
      setPassword("");
      fail(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onCancel} title={t("signoff.sign")} data-testid="signoff-modal">
      <Stack>
        <Text size="sm">{t("signoff.hint")}</Text>
        <SegmentedControl
          value={meaning}
          onChange={(v) => setMeaning(v as Meaning)}
          data={(["reviewed", "approved"] as const).map((m) => ({ value: m, label: t(`signoff.meaning.${m}`) }))}
          data-testid="signoff-meaning"
        />
        <PasswordInput data-autofocus label={t("people.password")} value={password} onChange={(e) => setPassword(e.currentTarget.value)} data-testid="signoff-password" />
        <ErrorAlert error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            {t("form.cancel")}
          </Button>
          <Button onClick={() => void sign()} disabled={password === ""} loading={busy} data-testid="signoff-submit">
            {t("signoff.sign")}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
