import { AppShell, Badge, Center, Group, Loader, NavLink, Text, Title } from "@mantine/core";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { DiscardChangesDialog } from "./components/DiscardChangesDialog";
import { ErrorAlert, useFailure } from "./components/ErrorAlert";
import { AppContext } from "./context";
import { setLanguage } from "./i18n";
import { type AppInfo, type FormRef, api } from "./ipc";
import { DiagnosticsPage } from "./pages/DiagnosticsPage";
import { FormPage } from "./pages/FormPage";
import { SettingsPage } from "./pages/SettingsPage";
import { SubjectPage } from "./pages/SubjectPage";
import { SubjectsPage } from "./pages/SubjectsPage";
import { SyncPage } from "./pages/SyncPage";
import { WelcomePage } from "./pages/WelcomePage";

export type View =
  | { page: "subjects" }
  | { page: "subject"; id: string }
  | { page: "form"; at: FormRef }
  | { page: "sync" }
  | { page: "diagnostics" }
  | { page: "settings" };

export function App() {
  const { t } = useTranslation();
  const [info, setInfo] = useState<AppInfo | null>(null);
  const { error, fail } = useFailure();
  const [view, setView] = useState<View>({ page: "subjects" });
  const guard = useRef<(() => boolean) | null>(null);
  const [leaving, setLeaving] = useState<View | null>(null);
  const setLeaveGuard = useCallback((g: (() => boolean) | null) => {
    guard.current = g;
  }, []);
  const go = (next: View) => (guard.current?.() ? setLeaving(next) : setView(next));

  const refresh = useCallback(async () => {
    try {
      const next = await api.appInfo();
      setLanguage(next.settings.language);
      setInfo(next);
    } catch (e) {
      fail(e);
    }
  }, [fail]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  if (error) {
    return (
      <Center h="100vh" p="xl">
        <ErrorAlert error={error} title={t("app.startFailed")} />
      </Center>
    );
  }
  if (!info) {
    return (
      <Center h="100vh" aria-label={t("app.loading")}>
        <Loader />
      </Center>
    );
  }

  if (info.demo && !info.settings.setup_chosen) {
    return <WelcomePage onDone={refresh} />;
  }

  const nav = (page: "subjects" | "sync" | "diagnostics" | "settings") => (
    <NavLink
      component="button"
      data-testid={`nav-${page}`}
      label={t(`nav.${page}`)}
      active={view.page === page || (page === "subjects" && (view.page === "subject" || view.page === "form"))}
      onClick={() => go({ page })}
    />
  );

  return (
    <AppContext.Provider value={{ info, refresh, setLeaveGuard }}>
      <AppShell header={{ height: 52 }} navbar={{ width: 200, breakpoint: 0 }} padding="md">
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between">
            <Group gap="sm">
              <Title order={4}>{t("app.title")}</Title>
              {info.setup && <Text c="dimmed">{info.setup.study.title}</Text>}
              {info.demo && (
                <Badge variant="outline" data-testid="demo-badge">
                  {t("app.demo")}
                </Badge>
              )}
            </Group>
            <Text size="sm" c="dimmed">
              {info.actor.display_name || info.actor.account}
            </Text>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="xs">
          {nav("subjects")}
          {nav("sync")}
          {nav("diagnostics")}
          {nav("settings")}
        </AppShell.Navbar>
        <AppShell.Main>
          {view.page === "subjects" && <SubjectsPage onOpen={(id) => setView({ page: "subject", id })} />}
          {view.page === "subject" && (
            <SubjectPage
              id={view.id}
              onBack={() => setView({ page: "subjects" })}
              onOpenForm={(event, form, instance) => setView({ page: "form", at: { subject_id: view.id, event, form, instance } })}
            />
          )}
          {view.page === "form" && <FormPage at={view.at} onBack={() => setView({ page: "subject", id: view.at.subject_id })} />}
          {view.page === "sync" && <SyncPage onOpenForm={(at) => setView({ page: "form", at })} />}
          {view.page === "diagnostics" && <DiagnosticsPage />}
          {view.page === "settings" && <SettingsPage />}
        </AppShell.Main>
      </AppShell>
      <DiscardChangesDialog
        opened={leaving !== null}
        onStay={() => setLeaving(null)}
        onDiscard={() => {
          guard.current = null;
          if (leaving) setView(leaving);
          setLeaving(null);
        }}
        discardTestId="nav-discard"
      />
    </AppContext.Provider>
  );
}
