import { Divider, Group, Modal, Radio, Stack, Text, TextInput, Textarea } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { FormFooter } from "../components/FormFooter";
import { useApp } from "../context";
import { localToday } from "../format";
import { type Answer, type Subject, api } from "../ipc";

interface Props {
  /** The subject to correct; a new subject is screened when absent. */
  subject?: Subject;
  onClose: () => void;
  onSaved: (subject: Subject) => void;
}

type Answers = Partial<Record<string, Answer>>;

/**
 * The screening log of a new subject, or a correction of a saved one. Every
 * rule is checked by the core; this form only shows its answer. Enter saves
 * (it is a form), Esc cancels (the modal closes).
 */
export function ScreeningModal({ subject, onClose, onSaved }: Props) {
  const { t } = useTranslation();
  const { info } = useApp();
  const s = subject?.screening;
  const [screeningDate, setScreeningDate] = useState(s?.screening_date ?? localToday());
  const [label, setLabel] = useState(s?.label ?? "");
  const [consentDate, setConsentDate] = useState(s?.consent_date ?? "");
  const [consentVersion, setConsentVersion] = useState(s?.consent_version ?? "");
  const [answers, setAnswers] = useState<Answers>(s?.eligibility ?? {});
  const [reason, setReason] = useState("");
  const { error, fail } = useFailure();
  const [busy, setBusy] = useState(false);

  const criteria = info.setup?.criteria ?? [];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const eligibility: Record<string, Answer> = {};
    for (const [id, a] of Object.entries(answers)) if (a) eligibility[id] = a;
    const input = {
      screening_date: screeningDate,
      label,
      consent_date: consentDate || null,
      consent_version: consentVersion || null,
      eligibility,
    };
    try {
      const saved = subject
        ? await api.editScreening({ id: subject.id, input, reason: reason || null })
        : await api.screenSubject(input);
      notifications.show({ message: t("screening.saved", { id: saved.id }), color: "green" });
      onSaved(saved);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      opened
      onClose={onClose}
      size="lg"
      title={subject ? t("screening.editTitle", { id: subject.id }) : t("screening.title")}
    >
      <form onSubmit={(e) => void submit(e)} data-testid="screening-form">
        <Stack gap="sm">
          <Group grow>
            <TextInput
              data-autofocus
              data-testid="screening-date"
              label={t("screening.screeningDate")}
              placeholder={t("screening.dateHint")}
              required
              value={screeningDate}
              onChange={(e) => setScreeningDate(e.currentTarget.value)}
            />
            <TextInput
              data-testid="screening-label"
              label={t("screening.label")}
              description={t("screening.labelHint")}
              required
              maxLength={8}
              value={label}
              onChange={(e) => setLabel(e.currentTarget.value)}
            />
          </Group>
          <Group grow>
            <TextInput
              data-testid="consent-date"
              label={t("screening.consentDate")}
              placeholder={t("screening.dateHint")}
              value={consentDate}
              onChange={(e) => setConsentDate(e.currentTarget.value)}
            />
            <TextInput
              data-testid="consent-version"
              label={t("screening.consentVersion")}
              value={consentVersion}
              onChange={(e) => setConsentVersion(e.currentTarget.value)}
            />
          </Group>
          <Divider label={t("screening.eligibility")} labelPosition="left" />
          {criteria.map((c) => (
            <Radio.Group
              key={c.id}
              label={
                <Text size="sm" span>
                  <b>{c.id}</b> · {t(`screening.${c.kind}`)} · {c.text}
                </Text>
              }
              value={answers[c.id] ?? ""}
              onChange={(v) => setAnswers({ ...answers, [c.id]: v === "" ? undefined : (v as Answer) })}
            >
              <Group gap="lg" mt={4}>
                <Radio value="yes" label={t("screening.yes")} data-testid={`elig-${c.id}-yes`} />
                <Radio value="no" label={t("screening.no")} data-testid={`elig-${c.id}-no`} />
                <Radio value="" label={t("screening.unanswered")} data-testid={`elig-${c.id}-none`} />
              </Group>
            </Radio.Group>
          ))}
          {subject && (
            <Textarea
              data-testid="change-reason"
              label={t("screening.reason")}
              description={t("screening.reasonHint")}
              autosize
              minRows={2}
              value={reason}
              onChange={(e) => setReason(e.currentTarget.value)}
            />
          )}
          <ErrorAlert error={error} />
          <FormFooter onCancel={onClose} busy={busy} saveTestId="form-save" />
        </Stack>
      </form>
    </Modal>
  );
}
