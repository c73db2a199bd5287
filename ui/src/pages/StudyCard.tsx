import { Button, Text } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { Section } from "../components/Section";
import { useApp } from "../context";
import { ConnectStudy } from "./ConnectStudy";

/** Settings' study: which REDCap project this desk is bound to, and binding it (again). */
export function StudyCard() {
  const { t } = useTranslation();
  const { info, refresh } = useApp();
  const [open, setOpen] = useState(false);
  return (
    <Section title={t("onboard.title")} hint={info.demo ? t("onboard.demoHint") : t("onboard.boundHint")}>
      {info.setup && (
        <Text size="sm" data-testid="study-bound">
          {info.setup.study.title} ({info.setup.study.id})
        </Text>
      )}
      {open ? (
        <ConnectStudy
          onCancel={() => setOpen(false)}
          onBound={async () => {
            setOpen(false);
            await refresh();
          }}
        />
      ) : (
        <div>
          <Button variant="default" onClick={() => setOpen(true)} data-testid="study-connect">
            {t("onboard.connect")}
          </Button>
        </div>
      )}
    </Section>
  );
}
