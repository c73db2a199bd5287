import { Button, Center, Group, Paper, Stack, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { api } from "../ipc";
import { ConnectStudy } from "./ConnectStudy";

/** The first start of a demo desk: try the demo, or connect to the study's REDCap. Asked once. */
export function WelcomePage({ onDone }: { onDone: () => Promise<void> }) {
  const { t } = useTranslation();
  const [connecting, setConnecting] = useState(false);
  const [busy, setBusy] = useState(false);
  const { error, fail } = useFailure();

  const tryDemo = async () => {
    setBusy(true);
    try {
      await api.chooseDemo();
      await onDone();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" p="xl">
      <Paper withBorder p="xl" maw={720} w="100%" data-testid="welcome">
        <Stack>
          <Title order={2}>{t("onboard.welcome")}</Title>
          <Text>{t("onboard.welcomeHint")}</Text>
          {connecting ? (
            <ConnectStudy onBound={onDone} onCancel={() => setConnecting(false)} />
          ) : (
            <Group>
              <Button autoFocus onClick={() => setConnecting(true)} data-testid="welcome-connect">
                {t("onboard.connect")}
              </Button>
              <Button variant="default" loading={busy} onClick={() => void tryDemo()} data-testid="welcome-demo">
                {t("onboard.tryDemo")}
              </Button>
            </Group>
          )}
          <ErrorAlert error={error} />
        </Stack>
      </Paper>
    </Center>
  );
}
