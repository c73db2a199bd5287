import { Modal, Stack, TextInput, Textarea } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { FormFooter } from "../components/FormFooter";
import { localToday } from "../format";
import { type ActionKind, type Subject, api } from "../ipc";

const TITLE: Record<ActionKind, string> = {
  enroll: "subject.enroll",
  screen_fail: "subject.screenFail",
  complete: "subject.complete",
  withdraw: "subject.withdraw",
};
const DATE_LABEL: Partial<Record<ActionKind, string>> = {
  enroll: "subject.enrollmentDate",
  complete: "subject.completionDate",
  withdraw: "subject.withdrawalDate",
};
const NEEDS_REASON: ActionKind[] = ["screen_fail", "withdraw"];

/** One lifecycle action: its date and reason, checked by the core. */
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
  const [reason, setReason] = useState("");
  const { error, fail } = useFailure();
  const [busy, setBusy] = useState(false);
  const dateLabel = DATE_LABEL[kind];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const subject = await api.applyAction({
        id: subjectId,
        kind,
        date: dateLabel ? date : null,
        reason: NEEDS_REASON.includes(kind) ? reason : null,
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
          {dateLabel && (
            <TextInput
              data-autofocus
              data-testid="action-date"
              label={t(dateLabel)}
              placeholder="YYYY-MM-DD"
              required
              value={date}
              onChange={(e) => setDate(e.currentTarget.value)}
            />
          )}
          {NEEDS_REASON.includes(kind) && (
            <Textarea
              data-autofocus={!dateLabel}
              data-testid="action-reason"
              label={t("subject.reason")}
              required
              autosize
              minRows={2}
              value={reason}
              onChange={(e) => setReason(e.currentTarget.value)}
              onKeyDown={(e) => {
                // Enter saves here too; Shift+Enter starts a new line.
                if (e.key === "Enter" && !e.shiftKey) {
                  e.preventDefault();
                  e.currentTarget.form?.requestSubmit();
                }
              }}
            />
          )}
          <ErrorAlert error={error} />
          <FormFooter onCancel={onClose} busy={busy} saveTestId="action-save" />
        </Stack>
      </form>
    </Modal>
  );
}
