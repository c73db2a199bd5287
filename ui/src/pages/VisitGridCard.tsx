import { ActionIcon, Badge, Group, Paper, Table, Text, Title, Tooltip } from "@mantine/core";
import { useTranslation } from "react-i18next";

import type { CellStatus, GridCell, VisitGrid } from "../ipc";

const COLOR: Record<CellStatus, string> = {
  empty: "gray",
  incomplete: "red",
  unverified: "yellow",
  complete: "green",
};

export type OpenForm = (event: string, form: string, instance: number) => void;

/** The participant matrix: forms by events, each form's status, and the instances of repeating forms. */
export function VisitGridCard({ grid, onOpen }: { grid: VisitGrid | null; onOpen: OpenForm }) {
  const { t } = useTranslation();
  if (!grid) {
    return (
      <Paper withBorder p="md">
        <Title order={3}>{t("crf.visits")}</Title>
        <Text c="dimmed" mt="xs" data-testid="no-forms">
          {t("crf.noForms")}
        </Text>
      </Paper>
    );
  }
  const cell = (event: string, form: string): GridCell | undefined =>
    grid.cells.find((c) => c.event === event && c.form === form);
  const forms = grid.forms.filter((f) => grid.cells.some((c) => c.form === f.name));
  return (
    <Paper withBorder p="md">
      <Title order={3} mb="sm">
        {t("crf.visits")}
      </Title>
      <Table withColumnBorders data-testid="visit-grid">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("crf.form")}</Table.Th>
            {grid.events.map((e) => (
              <Table.Th key={e.name}>{e.label}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {forms.map((f) => (
            <Table.Tr key={f.name}>
              <Table.Td>{f.label}</Table.Td>
              {grid.events.map((e) => {
                const c = cell(e.name, f.name);
                if (!c) return <Table.Td key={e.name} />;
                return (
                  <Table.Td key={e.name}>
                    <Group gap={4}>
                      {c.instances.map((i) => (
                        <Tooltip key={i.instance} label={t(`crf.cellStatus.${i.status}`)}>
                          <Badge
                            component="button"
                            type="button"
                            color={COLOR[i.status]}
                            variant={i.status === "empty" ? "outline" : "filled"}
                            style={{ cursor: "pointer" }}
                            data-testid={`grid-${e.name}-${f.name}-${i.instance}`}
                            data-status={i.status}
                            aria-label={`${f.label}, ${e.label}${c.repeating ? ` #${i.instance}` : ""}: ${t(`crf.cellStatus.${i.status}`)}`}
                            onClick={() => onOpen(e.name, f.name, i.instance)}
                          >
                            {c.repeating ? `#${i.instance}` : t(`crf.cellStatus.${i.status}`)}
                          </Badge>
                        </Tooltip>
                      ))}
                      {c.repeating && (
                        <Tooltip label={t("crf.addInstance", { form: f.label, event: e.label })}>
                          <ActionIcon
                            size="sm"
                            variant="light"
                            data-testid={`grid-add-${e.name}-${f.name}`}
                            aria-label={t("crf.addInstance", { form: f.label, event: e.label })}
                            onClick={() => onOpen(e.name, f.name, c.next_instance)}
                          >
                            +
                          </ActionIcon>
                        </Tooltip>
                      )}
                    </Group>
                  </Table.Td>
                );
              })}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}
