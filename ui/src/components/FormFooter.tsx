import { Button, Group, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";

/** The foot of every edit form: the keyboard hint, Cancel, and the submit button. */
export function FormFooter({ onCancel, busy, saveTestId }: { onCancel: () => void; busy: boolean; saveTestId: string }) {
  const { t } = useTranslation();
  return (
    <Group justify="space-between">
      <Text size="xs" c="dimmed">
        {t("form.keys")}
      </Text>
      <Group>
        <Button variant="default" onClick={onCancel}>
          {t("form.cancel")}
        </Button>
        <Button type="submit" loading={busy} data-testid={saveTestId}>
          {t("form.save")}
        </Button>
      </Group>
    </Group>
  );
}
