import { Alert, Button, Group, NumberInput, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { ErrorAlert, useFailure } from "../components/ErrorAlert";
import { FlameGraph, type FlameGraphHandle } from "../components/FlameGraph";
import { useApp } from "../context";
import { type ProfileFormat, type ProfileView, api } from "../ipc";

/** "Record CPU profile for N seconds", its flame graph (zoom, search) and saving it as SVG or pprof. */
export function ProfileCard() {
  const { t } = useTranslation();
  const { info } = useApp();
  const [seconds, setSeconds] = useState<number | string>(10);
  const [recording, setRecording] = useState(false);
  const [profile, setProfile] = useState<ProfileView | null>(null);
  const [search, setSearch] = useState("");
  const [matched, setMatched] = useState<[number, number]>([0, 0]);
  const [saved, setSaved] = useState<string | null>(null);
  const { error, fail, clear } = useFailure();
  const graph = useRef<FlameGraphHandle>(null);

  const record = async () => {
    clear();
    setSaved(null);
    setRecording(true);
    try {
      setProfile(await api.recordProfile({ seconds: Number(seconds) }));
      setSearch("");
    } catch (e) {
      fail(e);
    } finally {
      setRecording(false);
    }
  };

  const save = async (format: ProfileFormat) => {
    try {
      setSaved(await api.saveProfile({ format }));
    } catch (e) {
      fail(e);
    }
  };

  return (
    <Paper withBorder p="md">
      <Stack>
        <Title order={3}>{t("diagnostics.profile.title")}</Title>
        {!info.profiling ? (
          <Alert color="gray" data-testid="profile-unavailable">
            {t("diagnostics.profile.unavailable")}
          </Alert>
        ) : (
          <Group align="end">
            <NumberInput
              label={t("diagnostics.profile.seconds")}
              value={seconds}
              onChange={setSeconds}
              min={1}
              max={60}
              w={160}
              data-testid="profile-seconds"
            />
            <Button onClick={() => void record()} loading={recording} data-testid="profile-record">
              {t("diagnostics.profile.record")}
            </Button>
            {recording && <Text c="dimmed">{t("diagnostics.profile.recording")}</Text>}
          </Group>
        )}
        <ErrorAlert error={error} />
        {profile && (
          <>
            <Text size="sm" data-testid="profile-summary">
              {t("diagnostics.profile.summary", {
                samples: profile.samples,
                seconds: (profile.duration_ms / 1000).toFixed(1),
                hz: profile.frequency_hz,
              })}
            </Text>
            <Group align="end">
              <TextInput
                label={t("diagnostics.profile.search")}
                value={search}
                onChange={(e) => setSearch(e.currentTarget.value)}
                w={280}
                data-testid="profile-search"
              />
              <Button variant="default" onClick={() => graph.current?.resetZoom()} data-testid="profile-reset">
                {t("diagnostics.profile.resetZoom")}
              </Button>
              <Button variant="default" onClick={() => void save("svg")} data-testid="profile-save-svg">
                {t("diagnostics.profile.saveSvg")}
              </Button>
              <Button variant="default" onClick={() => void save("pprof")} data-testid="profile-save-pprof">
                {t("diagnostics.profile.savePprof")}
              </Button>
            </Group>
            {search.trim() !== "" && (
              <Text size="sm" data-testid="profile-matches">
                {t("diagnostics.profile.matches", {
                  matched: matched[0],
                  total: matched[1],
                  percent: matched[1] > 0 ? ((100 * matched[0]) / matched[1]).toFixed(1) : "0",
                })}
              </Text>
            )}
            <FlameGraph ref={graph} root={profile.root} search={search} onMatches={(m, total) => setMatched([m, total])} testId="flame-graph" />
            <Text size="xs" c="dimmed">
              {t("diagnostics.profile.hint")}
            </Text>
          </>
        )}
        {saved && (
          <Alert color="green" data-testid="profile-saved">
            {t("diagnostics.profile.saved", { path: saved })}
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}
