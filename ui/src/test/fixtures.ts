import type { AppInfo, SessionView, Evaluation, FieldView, OpenedForm, Subject, SubjectRow, SubjectStatus, VisitGrid } from "../ipc";

export const appInfo: AppInfo = {
  version: "0.1.0",
  actor: { account: "crc1", display_name: "Dana Lee", login: "dana" },
  settings: { display_name: "Dana Lee", language: "en", setup_chosen: true },
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
    reasons: {
      choices: [
        { code: "1", label: "Did not meet eligibility criteria" },
        { code: "99", label: "Other" },
      ],
      other: ["99"],
    },
    screening: { form: "screening_log", event: "screening_arm_1", in_dictionary: true },
    targets: { study: { value: 40, local: false }, sites: { s01: { value: 20, local: false } } },
    desk_site_id: "s01",
    desk_code: "K7Q",
  },
  desk: { desk_code: "K7Q", schema_version: 1 },
  database_path: "/tmp/sitedesk.sqlite3",
  demo: true,
  profiling: true,
};

/** The desk administrator signed in, the desk unlocked. */
export const session: SessionView = {
  first_start: false,
  user: { login: "dana", display_name: "Dana Lee", role: "admin" },
  locked: false,
  lock_after_seconds: 300,
  language: "en",
};

export const row: SubjectRow = {
  id: "S01-K7Q-0001",
  site_id: "s01",
  site_code: "S01",
  desk_code: "K7Q",
  label: "AB",
  status: "screening",
  screening_date: "2026-06-01",
  enrollment_date: null,
  updated_at: "2026-06-01T09:00:00.000Z",
};

const STATUSES: SubjectStatus[] = ["screening", "screen_failed", "enrolled", "completed", "withdrawn"];
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * `n` subjects of site S01, newest first as the backend lists them, the same
 * on every call: for long lists (the unit tests, the browser benchmark).
 */
export function subjectRows(n: number): SubjectRow[] {
  const day = (i: number) => new Date(Date.UTC(2026, 0, 1) + (i % 365) * 86_400_000).toISOString().slice(0, 10);
  return Array.from({ length: n }, (_, k) => {
    const i = n - k;
    const status = STATUSES[i % STATUSES.length] ?? "screening";
    const enrolled = status === "enrolled" || status === "completed" || status === "withdrawn";
    return {
      id: `S01-K7Q-${String(i).padStart(4, "0")}`,
      site_id: "s01",
      site_code: "S01",
      desk_code: "K7Q",
      label: LETTERS.charAt((i * 7) % 26) + LETTERS.charAt((i * 11) % 26),
      status,
      screening_date: day(i),
      enrollment_date: enrolled ? day(i + 14) : null,
      updated_at: `${day(i)}T09:00:00.000Z`,
    };
  });
}

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
  status_date: null,
  status_reason: null,
  status_reason_other: null,
  created_at: "2026-06-01T09:00:00.000Z",
  updated_at: "2026-06-01T09:00:00.000Z",
};

export const grid: VisitGrid = {
  events: [
    { name: "screening_arm_1", label: "Screening" },
    { name: "baseline_arm_1", label: "Baseline" },
  ],
  forms: [
    { name: "demographics", label: "Demographics" },
    { name: "adverse_events", label: "Adverse events" },
  ],
  cells: [
    { event: "screening_arm_1", form: "demographics", repeating: false, instances: [{ instance: 1, status: "incomplete" }], next_instance: 2 },
    { event: "baseline_arm_1", form: "adverse_events", repeating: true, instances: [], next_instance: 1 },
  ],
};

function field(name: string, over: Partial<FieldView>): FieldView {
  return {
    name,
    field_type: "text",
    label_html: name,
    section_html: null,
    note_html: null,
    choices: [],
    slider: null,
    validation: null,
    required: false,
    identifier: false,
    matrix_group: null,
    unavailable: null,
    logic_problem: null,
    inputs: [name],
    readonly: false,
    hidden: false,
    exclusive: [],
    char_limit: null,
    word_limit: null,
    ...over,
  };
}

export const openedForm: OpenedForm = {
  view: {
    record_id: "S01-K7Q-0001",
    form: "demographics",
    form_label: "Demographics",
    event: "screening_arm_1",
    event_label: "Screening",
    instance: 1,
    repeating: false,
    fields: [
      field("demo_intro", { field_type: "descriptive", label_html: "<b>Demographics.</b> Ask the participant.", inputs: [] }),
      field("smoker", { field_type: "yesno", label_html: "Does the participant smoke?" }),
      field("cigs_per_day", { label_html: "Cigarettes per day", validation: "integer" }),
      field("photo", { field_type: "file", label_html: "Photo", unavailable: "file", inputs: [] }),
    ],
    values: { smoker: "1", cigs_per_day: "10" },
    status: "incomplete",
    missing_codes: [
      { code: "UNK", label: "Unknown" },
      { code: "NASK", label: "Not asked" },
    ],
    prefilled: [],
  },
  evaluation: evaluation({ smoker: "1" }),
  sign_offs: [],
};

/** What the core answers for a form whose only logic is `[smoker] = '1'` on cigs_per_day (saved as 10). */
export function evaluation(values: { smoker: string }): Evaluation {
  const show = (name: string, visible: boolean) => ({ name, visible, calc: null, message: null });
  return {
    fields: [show("demo_intro", true), show("smoker", true), show("cigs_per_day", values.smoker === "1"), show("photo", true)],
    changes_saved: [],
    out_of_range: [],
    changed: [],
    hidden_with_values: values.smoker === "1" ? [] : ["cigs_per_day"],
  };
}
