import { Paper, Stack, Text, Title } from "@mantine/core";
import type { ReactNode } from "react";

/** A titled panel of the Settings page with a line that says what it is for. */
export function Section({ title, hint, children }: { title: string; hint: string; children: ReactNode }) {
  return (
    <>
      <Title order={3}>{title}</Title>
      <Paper withBorder p="md">
        <Stack>
          <Text size="sm" c="dimmed">
            {hint}
          </Text>
          {children}
        </Stack>
      </Paper>
    </>
  );
}
