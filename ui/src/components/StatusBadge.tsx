import { Badge } from "@mantine/core";
import { useTranslation } from "react-i18next";

import type { SubjectStatus } from "../ipc";

const COLOR: Record<SubjectStatus, string> = {
  screening: "yellow",
  screen_failed: "gray",
  enrolled: "green",
  completed: "blue",
  withdrawn: "red",
};

export function StatusBadge({ status, testId }: { status: SubjectStatus; testId?: string }) {
  const { t } = useTranslation();
  return (
    <Badge color={COLOR[status]} variant="light" data-testid={testId}>
      {t(`status.${status}`)}
    </Badge>
  );
}
