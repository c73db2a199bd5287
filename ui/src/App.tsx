import { AppShell, Badge, Center, Group, Loader, NavLink, Text, Title } from "@mantine/core";
import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { DiscardChangesDialog } from "./components/DiscardChangesDialog";
import { ErrorAlert, useFailure } from "./components/ErrorAlert";
import { AppContext } from "./context";
import { setLanguage } from "./i18n";
import { type AppInfo, type FormRef, type Session, type SessionView, api } from "./ipc";
import { clearDrafts, stashAll } from "./people/drafts";
import { FirstStartPage, LockScreen, SignInPage } from "./people/GatePages";
import { useIdleLock } from "./people/idle";
import { UserMenu } from "./people/UserMenu";
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

/**
 * The way in: the first start creates the administrator, then sign-in;
 * a locked desk shows only the lock screen. The desk's pages render only
 * for a person signed in with the desk unlocked.
 */
export function App() {
  const { t } = useTranslation();
  const [session, setSession] = useState<SessionView | null>(null);
  const { error, fail } = useFailure();
  // The page stays across a lock, so the person comes back to it.
  const [view, setView] = useState<View>({ page: "subjects" });

  const show = useCallback((next: SessionView) => {
    setLanguage(next.language);
    setSession((before) => {
      // Another person (or nobody): nothing of the last one's work stays.
      if (next.user?.login !== before?.user?.login) {
        clearDrafts();
        setView({ page: "subjects" });
      }
      return next;
    });
  }, []);
  const load = useCallback(async () => {
    try {
      show(await api.sessionStatus());
    } catch (e) {
      fail(e);
    }
  }, [show, fail]);
  useEffect(() => {
    void load();
  }, [load]);

  const signedIn = session !== null && session.user !== null && !session.locked;
  const lock = useCallback(() => {
    stashAll();
    api.lockDesk().then(show, fail);
  }, [show, fail]);
  useIdleLock(signedIn, session?.lock_after_seconds ?? 300, lock);

  if (error) {
    return (
      <Center h="100vh" p="xl">
        <ErrorAlert error={error} title={t("app.startFailed")} />
      </Center>
    );
  }
  if (!session) {
    return (
      <Center h="100vh" aria-label={t("app.loading")}>
        <Loader />
      </Center>
    );
  }
  if (session.first_start) return <FirstStartPage onDone={load} />;
  if (!session.user) return <SignInPage onDone={show} />;
  if (session.locked) return <LockScreen session={session} onDone={show} />;
  return <DeskApp user={session.user} view={view} setView={setView} onSession={show} onLock={lock} />;
}

/** The desk's pages, for the person signed in. */
function DeskApp({
  user,
  view,
  setView,
  onSession,
  onLock,
}: {
  user: Session;
  view: View;
  setView: (v: View) => void;
  onSession: (s: SessionView) => void;
  onLock: () => void;
}) {
  const { t } = useTranslation();
  const [info, setInfo] = useState<AppInfo | null>(null);
  const { error, fail } = useFailure();
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
    <AppContext.Provider value={{ info, refresh, setLeaveGuard, user, lock: onLock }}>
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
            <UserMenu user={user} onSession={onSession} />
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
