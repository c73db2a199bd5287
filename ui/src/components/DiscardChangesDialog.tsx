import { Button, Group, Modal, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

/**
 * "Leave without saving?": the one question the UI asks before unsaved
 * edits are thrown away, whether the CRC leaves a form by its back link,
 * by Esc or through the navigation. Esc and the close button keep editing.
 */
export function DiscardChangesDialog({
  opened,
  onStay,
  onDiscard,
  discardTestId,
}: {
  opened: boolean;
  onStay: () => void;
  onDiscard: () => void;
  discardTestId: string;
}) {
  const { t } = useTranslation();
  return (
    <Modal opened={opened} onClose={onStay} title={t("crf.discardTitle")}>
      <Text>{t("crf.discardBody")}</Text>
      <Group justify="flex-end" mt="md">
        <Button variant="default" onClick={onStay} data-autofocus>
          {t("crf.stay")}
        </Button>
        <Button color="red" onClick={onDiscard} data-testid={discardTestId}>
          {t("crf.discard")}
        </Button>
      </Group>
    </Modal>
  );
}
