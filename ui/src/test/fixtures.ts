import type { AppInfo, Subject, SubjectRow } from "../ipc";

export const appInfo: AppInfo = {
  version: "0.1.0",
  actor: { account: "crc1", display_name: "Dana Lee" },
  settings: { display_name: "Dana Lee", language: "en" },
  setup: {
    study: { id: "DEMO-01", title: "SiteDesk Demo Study", enrollment_target: 40 },
    sites: [
      { id: "s01", code: "S01", name: "Riverside Clinic" },
      { id: "s02", code: "S02", name: "Hillview Hospital" },
    ],
    criteria: [
      { id: "I1", kind: "inclusion", text: "Aged 18 to 75 years" },
      { id: "E1", kind: "exclusion", text: "Pregnant or breastfeeding" },
    ],
    desk_site_id: "s01",
    desk_code: "K7Q",
  },
  desk: { desk_code: "K7Q", schema_version: 1 },
  database_path: "/tmp/sitedesk.sqlite3",
  demo: true,
};

export const row: SubjectRow = {
  id: "S01-K7Q-0001",
  site_id: "s01",
  site_code: "S01",
  label: "AB",
  status: "screening",
  screening_date: "2026-06-01",
  enrollment_date: null,
  updated_at: "2026-06-01T09:00:00.000Z",
};

export const subject: Subject = {
  id: "S01-K7Q-0001",
  site_id: "s01",
  status: "screening",
  screening: {
    screening_date: "2026-06-01",
    label: "AB",
    consent_date: null,
    consent_version: null,
    eligibility: {},
  },
  enrollment_date: null,
  screen_fail_reason: null,
  withdrawal_date: null,
  withdrawal_reason: null,
  completion_date: null,
  created_at: "2026-06-01T09:00:00.000Z",
  updated_at: "2026-06-01T09:00:00.000Z",
};
