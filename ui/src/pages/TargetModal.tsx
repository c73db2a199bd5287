import { Modal, NumberInput, Stack, Text, TextInput } from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { FormFooter } from "../components/FormFooter";
import { useApp } from "../context";
import { api } from "../ipc";

/** Changes this desk's enrollment target for the study or one site: local
 * (the study's annotation in REDCap keeps its value), audited with a reason;
 * an empty target goes back to the study's. */
export function TargetModal({ siteId, onClose }: { siteId: string | null; onClose: () => void }) {
  const { t } = useTranslation();
  const { info, refresh } = useApp();
  const targets = info.setup?.targets;
  const current = siteId ? targets?.sites[siteId] : targets?.study;
  const [value, setValue] = useState<number | string>(current?.value ?? "");
  const [reason, setReason] = useState("");
  const { error, fail } = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.setTarget({ site_id: siteId, target: value === "" ? null : Number(value), reason });
      await refresh();
      onClose();
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={t(siteId ? "subjects.siteTargetTitle" : "subjects.studyTargetTitle")}>
      <form onSubmit={(e) => void submit(e)} data-testid="target-form">
        <Stack gap="sm">
          <Text size="sm" c="dimmed">
            {t("subjects.targetHint")}
          </Text>
          <NumberInput data-autofocus data-testid="target-value" label={t("subjects.target")} min={0} allowDecimal={false} value={value} onChange={setValue} />
          <TextInput data-testid="target-reason" label={t("subject.reason")} required value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
          <ErrorAlert error={error} />
          <FormFooter onCancel={onClose} busy={busy} saveTestId="target-save" />
        </Stack>
      </form>
    </Modal>
  );
}
