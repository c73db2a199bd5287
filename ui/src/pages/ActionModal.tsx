import { Modal, NativeSelect, Stack, TextInput } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { FormFooter } from "../components/FormFooter";
import { useApp } from "../context";
import { localToday } from "../format";
import { type ActionKind, type Subject, api } from "../ipc";

const TITLE: Record<ActionKind, string> = {
  enroll: "subject.enroll",
  screen_fail: "subject.screenFail",
  complete: "subject.complete",
  withdraw: "subject.withdraw",
};
const DATE_LABEL: Record<ActionKind, string> = {
  enroll: "subject.enrollmentDate",
  screen_fail: "subject.screenFailDate",
  complete: "subject.completionDate",
  withdraw: "subject.withdrawalDate",
};
const NEEDS_REASON: ActionKind[] = ["screen_fail", "withdraw"];

/** One lifecycle action: its date and, for a screen failure or a
 * withdrawal, a reason among the study's coded ones (with its "other,
 * specify" text where the code asks for one), checked by the core. */
export function ActionModal({
  subjectId,
  kind,
  onClose,
  onDone,
}: {
  subjectId: string;
  kind: ActionKind;
  onClose: () => void;
  onDone: (s: Subject) => void;
}) {
  const { t } = useTranslation();
  const [date, setDate] = useState(localToday());
  const { info } = useApp();
  const reasons = info.setup?.reasons ?? { choices: [], other: [] };
  const [code, setCode] = useState<string | null>(null);
  const [other, setOther] = useState("");
  const { error, fail } = useFailure();
  const [busy, setBusy] = useState(false);
  const dateLabel = DATE_LABEL[kind];
  const needsReason = NEEDS_REASON.includes(kind);
  const asksOther = code !== null && reasons.other.includes(code);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const subject = await api.applyAction({
        id: subjectId,
        kind,
        date,
        reason: needsReason ? { code: code ?? "", other: asksOther ? other : null } : null,
      });
      onDone(subject);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={`${t(TITLE[kind])} · ${subjectId}`}>
      <form onSubmit={(e) => void submit(e)} data-testid="action-form">
        <Stack gap="sm">
          <TextInput
            data-autofocus
            data-testid="action-date"
            label={t(dateLabel)}
            placeholder="YYYY-MM-DD"
            required
            value={date}
            onChange={(e) => setDate(e.currentTarget.value)}
          />
          {needsReason && (
            <NativeSelect
              data-testid="action-reason"
              label={t("subject.reason")}
              required
              data={[{ value: "", label: t("subject.chooseReason") }, ...reasons.choices.map((c) => ({ value: c.code, label: c.label }))]}
              value={code ?? ""}
              onChange={(e) => setCode(e.currentTarget.value || null)}
            />
          )}
          {needsReason && asksOther && (
            <TextInput
              data-testid="action-reason-other"
              label={t("subject.reasonOther")}
              required
              value={other}
              onChange={(e) => setOther(e.currentTarget.value)}
            />
          )}
          <ErrorAlert error={error} />
          <FormFooter onCancel={onClose} busy={busy} saveTestId="action-save" />
        </Stack>
      </form>
    </Modal>
  );
}
