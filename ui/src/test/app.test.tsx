import { MantineProvider } from "@mantine/core";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { App } from "../App";
import i18n from "../i18n";
import type { IpcError, SessionView } from "../ipc";
import { appInfo, evaluation, grid, openedForm, row, session, subject, subjectRows } from "./fixtures";

type Handler = (args: Record<string, unknown>) => unknown;

function backend(overrides: Record<string, Handler> = {}) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  const handlers: Record<string, Handler> = {
    session_status: () => session,
    app_info: () => appInfo,
    list_users: () => [],
    list_subjects: () => [row],
    list_edc_records: () => [],
    list_id_collisions: () => [],
    list_refused_values: () => [],
    status_counts: () => [{ site_id: "s01", status: "screening", count: 1 }],
    get_subject: () => ({ subject, actions: ["screen_fail", "enroll"], audit: [] }),
    visit_grid: () => null,
    recent_logs: () => [{ at: "2026-06-01T09:00:00Z", level: "INFO", target: "sitedesk", message: "database open" }],
    edc_settings: () => ({ mode: "demo", url: "http://127.0.0.1:40123/api/", token_saved: false, pending_edits: 0 }),
    diagnostics_snapshot: () => ({
      tasks: [
        {
          id: 1,
          parent: null,
          name: "SQLite writer",
          kind: "writer",
          state: "running",
          started_at: "2026-06-01T09:00:00.000Z",
          elapsed_ms: 5000,
          progress: null,
          last_error: null,
          cancellable: false,
          cancelled_ms: null,
          attempts: 0,
          retry_at: null,
        },
        {
          id: 2,
          parent: null,
          name: "Sync run",
          kind: "sync_run",
          state: "cancelling",
          started_at: "2026-06-01T09:00:00.000Z",
          elapsed_ms: 9000,
          progress: null,
          last_error: null,
          cancellable: true,
          cancelled_ms: 7000,
          attempts: 0,
          retry_at: null,
        },
        {
          id: 3,
          parent: 2,
          name: "Push batch 1/1: S01-K7Q-0001..S01-K7Q-0001",
          kind: "sync_batch",
          state: "waiting",
          started_at: "2026-06-01T09:00:00.000Z",
          elapsed_ms: 3000,
          progress: null,
          last_error: "the EDC answered 503",
          cancellable: true,
          cancelled_ms: null,
          attempts: 2,
          retry_at: "2026-06-01T09:00:04.000Z",
        },
      ],
      lints: [
        { lint: "stuck_after_cancel", task: 2, name: "Sync run", seconds: 7 },
        { lint: "writer_stalled", queued: 12, seconds: 14 },
      ],
      metrics: [
        {
          at_ms: 1780304400000,
          rss_mb: 84.5,
          cpu_percent: 3.2,
          threads: 24,
          open_files: 31,
          tokio_tasks: 12,
          tokio_workers: 2,
          tokio_global_queue: 0,
          registry_tasks: 3,
          commits_per_sec: 0,
          rows_per_sec: 0,
          interactive_p99_ms: 4.5,
          outbox: 2,
          writer_queued: 0,
          edc_calls_per_sec: 0.5,
          edc_failures_per_sec: 0,
          db_mb: 1.2,
          wal_mb: 0.4,
        },
      ],
      writer: {
        interactive: {
          queue_depth: 0,
          queue_capacity: 256,
          answered: 7,
          ack_ms: { p50: 2.1, p99: 4.5, max: 6 },
        },
        bulk: { queue_depth: 3, queue_capacity: 1024, answered: 0, ack_ms: { p50: 0, p99: 0, max: 0 } },
        commits: 7,
        failed_commands: 0,
        rows: 21,
        batch_size: { p50: 1, p99: 1, max: 1 },
        commit_ms: { p50: 1.5, p99: 3, max: 3 },
        commits_per_sec: 0,
        rows_per_sec: 0,
      },
      edc: [
        {
          endpoint: "record import",
          calls: 12,
          failures: 2,
          latency_ms: { p50: 41.5, p99: 250, max: 310 },
          bytes_sent: 48_300,
          bytes_received: 620,
        },
      ],
      edc_totals: { calls: 15, failures: 2, retries: 2 },
      breaker: "closed",
    }),
    ...overrides,
  };
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
      const h = handlers[cmd];
      if (!h) throw new Error(`unexpected command ${cmd}`);
      return h((args ?? {}) as Record<string, unknown>);
    },
    { shouldMockEvents: true },
  );
  return calls;
}

function renderApp() {
  return render(
    <MantineProvider>
      <App />
    </MantineProvider>,
  );
}

afterEach(async () => {
  cleanup();
  // Unmounting unsubscribes from events asynchronously; let that finish
  // while the mocked event plugin is still installed.
  await act(() => new Promise((resolve) => setTimeout(resolve, 0)));
  clearMocks();
  await act(() => i18n.changeLanguage("en"));
});

describe("SiteDesk UI", () => {
  it("lists subjects with enrollment against the site's target or the study's", async () => {
    backend({
      status_counts: () => [
        { site_id: "s01", status: "enrolled", count: 3 },
        { site_id: "s02", status: "completed", count: 2 },
        { site_id: "s01", status: "screening", count: 4 },
      ],
    });
    renderApp();
    expect(await screen.findByText("S01-K7Q-0001")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("enrollment-progress")).toHaveTextContent("Enrolled 3 of 20"));
    fireEvent.click(screen.getByText("Whole study"));
    expect(screen.getByTestId("enrollment-progress")).toHaveTextContent("Enrolled 5 of 40");
    expect(screen.getByTestId("demo-badge")).toBeInTheDocument();
  });

  it("changes the site's target at the desk with a reason", async () => {
    const calls = backend({ set_target: () => appInfo });
    renderApp();
    fireEvent.click(await screen.findByTestId("change-target"));
    const value = await screen.findByTestId("target-value");
    fireEvent.change(value, { target: { value: "25" } });
    fireEvent.change(screen.getByTestId("target-reason"), { target: { value: "Amendment 3" } });
    fireEvent.submit(screen.getByTestId("target-form"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "set_target")).toBe(true));
    expect(calls.find((c) => c.cmd === "set_target")?.args.payload).toEqual({ site_id: "s01", target: 25, reason: "Amendment 3" });
  });

  it("lists records from the EDC apart, and opens one without a screening log", async () => {
    const notHere: IpcError = { code: "not_found", message: "No subject S01-B2C-0003." };
    backend({
      list_edc_records: () => [{ record_id: "S01-B2C-0003", events: 2, values: 9, updated_at: "2026-06-01T09:00:00.000Z" }],
      get_subject: () => {
        throw notHere;
      },
      get_record: () => ({
        record_id: "S01-B2C-0003",
        audit: [
          {
            id: 4,
            at: "2026-06-01T09:00:00.000Z",
            user_account: "crc2",
            user_name: "",
            user_login: null,
            entity: "record",
            entity_id: "S01-B2C-0003",
            field: "sbp",
            old_value: "120",
            new_value: "135",
            reason: "Repeated after rest",
            event: "baseline_arm_1",
            instance: 1,
          },
        ],
      }),
    });
    renderApp();
    const table = await screen.findByTestId("edc-record-table");
    expect(table).toHaveTextContent("S01-B2C-0003");
    expect(screen.getByTestId("subject-table")).not.toHaveTextContent("S01-B2C-0003");
    await userEvent.click(screen.getByText("S01-B2C-0003"));
    expect(await screen.findByTestId("record-from-edc")).toHaveTextContent("From the EDC");
    expect(screen.getByTestId("subject-id")).toHaveTextContent("S01-B2C-0003");
    expect(screen.getByTestId("audit-table")).toHaveTextContent("Repeated after rest");
    expect(screen.queryByTestId("action-edit")).not.toBeInTheDocument();
  });

  it("words a failure that is not the backend's error plainly, never as [object Object]", async () => {
    const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
    backend({
      list_subjects: () => {
        throw { status: 500 };
      },
    });
    renderApp();
    const alert = await screen.findByTestId("error");
    expect(alert).toHaveTextContent("Something went wrong that SiteDesk did not expect.");
    expect(alert).not.toHaveTextContent("[object Object]");
    expect(quiet).toHaveBeenCalled();
    quiet.mockRestore();
  });

  it("renders only the rows of a long list that are in view, and the keyboard walks all of it", async () => {
    const calls = backend({ list_subjects: () => subjectRows(1000) });
    renderApp();
    const first = await screen.findByTestId("row-S01-K7Q-1000");
    const table = screen.getByTestId("subject-table");
    const rendered = table.querySelectorAll("tbody tr[data-index]").length;
    expect(rendered).toBeGreaterThan(10);
    expect(rendered).toBeLessThan(60);
    expect(screen.queryByTestId("row-S01-K7Q-0001")).toBeNull();
    expect(table.querySelector("thead[data-sticky]")).not.toBeNull();

    first.focus();
    fireEvent.keyDown(first, { key: "ArrowDown" });
    expect(document.activeElement).toBe(screen.getByTestId("row-S01-K7Q-0999"));
    fireEvent.keyDown(document.activeElement as Element, { key: "End" });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId("row-S01-K7Q-0001")));
    fireEvent.keyDown(document.activeElement as Element, { key: "Enter" });
    expect(await screen.findByTestId("subject-id")).toBeInTheDocument();
    expect(calls.find((c) => c.cmd === "get_subject")?.args.payload).toEqual({ id: "S01-K7Q-0001" });
  });

  it("renders every row of a list of up to 100", async () => {
    backend({ list_subjects: () => subjectRows(100) });
    renderApp();
    await screen.findByTestId("row-S01-K7Q-0100");
    expect(screen.getByTestId("subject-table").querySelectorAll("tbody tr")).toHaveLength(100);
    expect(screen.getByTestId("row-S01-K7Q-0001")).toBeInTheDocument();
  });

  it("starts in the language saved in settings", async () => {
    backend({ app_info: () => ({ ...appInfo, settings: { ...appInfo.settings, language: "zh-CN" } }) });
    renderApp();
    expect(await screen.findByTestId("page-title")).toHaveTextContent("受试者");
    expect(screen.getByTestId("nav-settings")).toHaveTextContent("设置");
  });

  it("sends the filter to the backend", async () => {
    const calls = backend();
    renderApp();
    await screen.findByText("S01-K7Q-0001");
    fireEvent.change(screen.getByTestId("status-filter"), { target: { value: "enrolled" } });
    await waitFor(() => {
      const last = calls.filter((c) => c.cmd === "list_subjects").at(-1);
      expect(last?.args.payload).toEqual({ search: null, status: "enrolled", site_id: null });
    });
  });

  it("shows the core's message when screening is refused, and keeps the form", async () => {
    const refusal: IpcError = { code: "validation", message: "Initials may only contain letters." };
    backend({
      screen_subject: () => {
        throw refusal;
      },
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("screen-new"));
    const label = await screen.findByTestId("screening-label");
    fireEvent.change(label, { target: { value: "J S" } });
    fireEvent.submit(screen.getByTestId("screening-form"));
    expect(await screen.findByTestId("error")).toHaveTextContent("Initials may only contain letters.");
    expect(screen.getByTestId("screening-label")).toHaveValue("J S");
  });

  it("offers exactly the actions the backend allows", async () => {
    backend();
    renderApp();
    fireEvent.click(await screen.findByText("S01-K7Q-0001"));
    expect(await screen.findByTestId("action-enroll")).toBeInTheDocument();
    expect(screen.getByTestId("action-screen_fail")).toBeInTheDocument();
    expect(screen.queryByTestId("action-withdraw")).toBeNull();
  });

  it("screen fails with one of the study's coded reasons, asking the other text only for the code that wants it", async () => {
    const calls = backend({ apply_action: () => ({ ...subject, status: "screen_failed" }) });
    renderApp();
    fireEvent.click(await screen.findByText("S01-K7Q-0001"));
    fireEvent.click(await screen.findByTestId("action-screen_fail"));
    const reason = await screen.findByTestId("action-reason");
    expect(screen.queryByTestId("action-reason-other")).toBeNull();
    fireEvent.change(reason, { target: { value: "99" } });
    const other = await screen.findByTestId("action-reason-other");
    fireEvent.change(other, { target: { value: "Moved away" } });
    fireEvent.submit(screen.getByTestId("action-form"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "apply_action")).toBe(true));
    const sent = calls.find((c) => c.cmd === "apply_action")?.args.payload as Record<string, unknown>;
    expect(sent.kind).toBe("screen_fail");
    expect(sent.reason).toEqual({ code: "99", other: "Moved away" });
    expect(sent.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it("shows the writer task in the diagnostics panel", async () => {
    backend();
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-diagnostics"));
    expect(await screen.findByText("SQLite writer")).toBeInTheDocument();
    expect(screen.getByTestId("writer-commits")).toHaveTextContent("7");
    expect(screen.getByTestId("lane-interactive")).toHaveTextContent("2.10 / 4.50 / 6.00");
    expect(screen.getByTestId("lane-bulk")).toHaveTextContent("3 / 1024");
    const lints = screen.getAllByTestId("task-lint");
    expect(lints[0]).toHaveTextContent("“Sync run” is still running 7 s after it was cancelled");
    expect(lints[1]).toHaveTextContent("12 edits are waiting for the database and nothing has been saved for 14 s");
    expect(screen.getByTestId("chart-process")).toHaveTextContent("Memory MB 84.5");
    expect(screen.getByTestId("task-retry-3")).toHaveTextContent("attempt 2 failed; next at");
    expect(screen.getByTestId("edc-totals")).toHaveTextContent("15 calls, 2 failed, 2 tried again");
    expect(screen.getByTestId("edc-call-record-import")).toHaveTextContent("41.5 / 250 / 310");
    expect(screen.getByTestId("edc-call-record-import")).toHaveTextContent("47.2 kB");
    expect(screen.getByTestId("edc-breaker")).toHaveTextContent("The EDC answers normally.");
  });

  it("records a CPU profile, draws its flame graph and finds a function in it", async () => {
    const leaf = (name: string, value: number) => ({ name, value, children: [] });
    const calls = backend({
      recent_logs: () => [],
      record_profile: () => ({
        started_at: "2026-06-01T09:00:00.000Z",
        duration_ms: 2000,
        samples: 11,
        frequency_hz: 100,
        root: {
          name: "all",
          value: 11,
          children: [
            { name: "sitedesk-writer", value: 7, children: [leaf("run_batch", 5), leaf("commit", 2)] },
            { name: "tokio-runtime-worker", value: 4, children: [leaf("push_batch", 4)] },
          ],
        },
      }),
      save_profile: (args) => `/data/sitedesk-profile.${(args.payload as { format: string }).format}`,
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-diagnostics"));
    await userEvent.click(await screen.findByTestId("profile-record"));
    expect(await screen.findByTestId("profile-summary")).toHaveTextContent("11 samples in 2.0 s at 100 per second");
    expect(calls.find((c) => c.cmd === "record_profile")?.args.payload).toEqual({ seconds: 10 });
    const graph = screen.getByTestId("flame-graph");
    expect(graph.querySelectorAll("g").length).toBeGreaterThanOrEqual(6);
    expect(graph).toHaveTextContent("run_batch");
    await userEvent.type(screen.getByTestId("profile-search"), "BATCH");
    expect(await screen.findByTestId("profile-matches")).toHaveTextContent("Matching frames hold 9 of 11 samples (81.8%)");
    await userEvent.click(screen.getByTestId("profile-save-pprof"));
    expect(await screen.findByTestId("profile-saved")).toHaveTextContent("/data/sitedesk-profile.pprof");
  });

  it("shows a profiler error with its own code and the backend's words", async () => {
    const refusal = { code: "profile", message: "A CPU profile is already being recorded; wait for it to end." };
    backend({
      recent_logs: () => [],
      record_profile: () => {
        throw refusal;
      },
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-diagnostics"));
    await userEvent.click(await screen.findByTestId("profile-record"));
    const alert = await screen.findByTestId("error");
    expect(alert).toHaveAttribute("data-code", "profile");
    expect(alert).toHaveTextContent(refusal.message);
    expect(alert).not.toHaveTextContent("[object Object]");
  });

  it("reports where the audit chain breaks, in the user's words", async () => {
    backend({
      verify_audit: () => ({
        rows_checked: 2,
        head: null,
        broken: { audit_id: 3, problem: "content_changed" },
        values_checked: 0,
        value_changed: null,
        clock_back: null,
        dictionary_changed: null,
      }),
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-settings"));
    fireEvent.click(await screen.findByTestId("verify-audit"));
    expect(await screen.findByTestId("audit-result")).toHaveTextContent(
      "Broken at audit row 3: its content was changed after it was written.",
    );
  });

  it("shows an intact audit trail with its last hash", async () => {
    const head = "ab".repeat(32);
    const clean = { rows_checked: 12, head, broken: null, values_checked: 30, value_changed: null, clock_back: null, dictionary_changed: null };
    backend({ verify_audit: () => clean });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-settings"));
    fireEvent.click(await screen.findByTestId("verify-audit"));
    const result = await screen.findByTestId("audit-result");
    expect(result).toHaveTextContent("Intact: 12 rows verified.");
    expect(result).toHaveTextContent("30 form values match their last audit entry.");
    expect(result).toHaveTextContent(head);
    expect(result).not.toHaveTextContent("clock");
  });

  it("names a form value changed outside SiteDesk and a clock set back, never the value", async () => {
    backend({
      verify_audit: () => ({
        rows_checked: 12,
        head: "ab".repeat(32),
        broken: null,
        values_checked: 30,
        value_changed: { record_id: "S01-K7Q-0001", event: "baseline_arm_1", instance: 1, field: "sbp" },
        clock_back: 7,
        dictionary_changed: null,
      }),
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-settings"));
    fireEvent.click(await screen.findByTestId("verify-audit"));
    const result = await screen.findByTestId("audit-result");
    expect(screen.getByTestId("audit-value-changed")).toHaveTextContent("S01-K7Q-0001, baseline_arm_1, field sbp");
    expect(result).toHaveTextContent("Audit row 7 is stamped earlier than the row before it");
  });
});

describe("Study forms", () => {
  it("previews a dictionary file's changes and applies it", async () => {
    const preview = {
      hash: "ab".repeat(32),
      current_hash: "cd".repeat(32),
      fields: 3,
      instruments: ["visit"],
      changes: [
        { kind: "changed", field: "sex", aspects: ["label", "choices"], removed_choices: ["3"] },
        { kind: "removed", field: "smoker" },
      ],
      logic_issues: [
        { field: "bmi", column: "calculation", error: { kind: "unsupported", detail: "function stdev()" } },
      ],
      unapplied_tags: [{ field: "meds", tag: "@MAXCHECKED=2" }],
    };
    const calls = backend({
      preview_dictionary: () => preview,
      import_dictionary: () => ({ hash: preview.hash, changed: true, changes: preview.changes }),
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-settings"));
    await screen.findByTestId("dictionary-file");
    const input = document.querySelector("input[type=file]");
    expect(input).toBeTruthy();
    const file = new File(["field_name,form_name\n"], "study.csv", { type: "text/csv" });
    await userEvent.upload(input as HTMLInputElement, file);
    await waitFor(() => expect(calls.map((c) => c.cmd)).toContain("preview_dictionary"));
    const changes = await screen.findByTestId("dictionary-changes");
    expect(changes).toHaveTextContent("Changed: label, choices · choices removed: 3");
    expect(changes).toHaveTextContent("Removed (saved values are kept and flagged)");
    expect(screen.getByTestId("dictionary-logic")).toHaveTextContent("function stdev()");
    expect(screen.getByTestId("dictionary-tags")).toHaveTextContent("meds @MAXCHECKED=2");
    fireEvent.click(screen.getByTestId("dictionary-apply"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "import_dictionary")).toBe(true));
    const sent = calls.find((c) => c.cmd === "import_dictionary")?.args.payload as { file_name: string };
    expect(sent.file_name).toBe("study.csv");
  });
});

describe("Case report forms", () => {
  async function openDemographics(overrides: Record<string, Handler> = {}) {
    const calls = backend({ visit_grid: () => grid, open_form: () => openedForm, ...overrides });
    renderApp();
    fireEvent.click(await screen.findByText("S01-K7Q-0001"));
    fireEvent.click(await screen.findByTestId("grid-screening_arm_1-demographics-1"));
    await screen.findByTestId("form-title");
    return calls;
  }

  it("asks before erasing a value that branching logic hides, and undo restores the answer", async () => {
    const calls = await openDemographics({
      evaluate_form: (args) => {
        const values = (args.payload as { values: Record<string, string> }).values;
        return evaluation({ smoker: values.smoker ?? "1" });
      },
    });
    expect(screen.getByTestId("field-cigs_per_day")).toHaveValue("10");
    fireEvent.click(screen.getByTestId("choice-smoker-0"));
    expect(await screen.findByTestId("hide-undo")).toBeInTheDocument();
    fireEvent.click(screen.getByTestId("hide-undo"));
    expect(await screen.findByTestId("field-cigs_per_day")).toHaveValue("10");
    const last = calls.filter((c) => c.cmd === "evaluate_form").at(-1);
    expect((last?.args.payload as { values: Record<string, string> }).values.smoker).toBe("1");
  });

  it("asks for a reason when a saved value changes, and sends it with Ctrl+S", async () => {
    const calls = await openDemographics({
      evaluate_form: () => ({ ...evaluation({ smoker: "1" }), changed: ["cigs_per_day"], changes_saved: ["cigs_per_day"] }),
      save_form: () => ({ changed: 1 }),
    });
    fireEvent.change(screen.getByTestId("field-cigs_per_day"), { target: { value: "12" } });
    await waitFor(() => expect(calls.some((c) => c.cmd === "evaluate_form")).toBe(true));
    fireEvent.keyDown(screen.getByTestId("field-cigs_per_day"), { key: "s", ctrlKey: true });
    const reason = await screen.findByTestId("reason-input");
    expect(screen.getByTestId("reason-modal")).toHaveTextContent("Cigarettes per day");
    fireEvent.change(reason, { target: { value: "Transcription error" } });
    fireEvent.click(screen.getByTestId("reason-save"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "save_form")).toBe(true));
    const sent = calls.find((c) => c.cmd === "save_form")?.args.payload as { input: { reason: string; values: Record<string, string> } };
    expect(sent.input.reason).toBe("Transcription error");
    expect(sent.input.values).toEqual({ cigs_per_day: "12" });
  });

  it("asks before the navigation leaves a form with unsaved edits", async () => {
    await openDemographics({ evaluate_form: () => evaluation({ smoker: "1" }) });
    fireEvent.change(screen.getByTestId("field-cigs_per_day"), { target: { value: "12" } });
    fireEvent.click(screen.getByTestId("nav-subjects"));
    expect(await screen.findByTestId("nav-discard")).toBeInTheDocument();
    expect(screen.getByTestId("form-title")).toBeInTheDocument();
    fireEvent.click(screen.getByTestId("nav-discard"));
    expect(await screen.findByTestId("page-title")).toHaveTextContent("Subjects");
  });

  it("asks the same question when the form's back link leaves unsaved edits, and Keep editing stays", async () => {
    await openDemographics({ evaluate_form: () => evaluation({ smoker: "1" }) });
    fireEvent.change(screen.getByTestId("field-cigs_per_day"), { target: { value: "12" } });
    fireEvent.click(screen.getByTestId("form-back"));
    await screen.findByTestId("form-discard");
    expect(screen.getByText("Leave without saving?")).toBeInTheDocument();
    fireEvent.click(screen.getByText("Keep editing"));
    await waitFor(() => expect(screen.queryByTestId("form-discard")).toBeNull());
    expect(screen.getByTestId("field-cigs_per_day")).toHaveValue("12");
    fireEvent.click(screen.getByTestId("form-back"));
    fireEvent.click(await screen.findByTestId("form-discard"));
    expect(await screen.findByTestId("subject-id")).toHaveTextContent("S01-K7Q-0001");
  });

  it("gives a field a missing-data code from the keyboard and shows its label", async () => {
    const calls = await openDemographics({ evaluate_form: () => evaluation({ smoker: "1" }) });
    // Out of the Tab order: Tab goes field to field.
    expect(screen.getByTestId("missing-menu-cigs_per_day")).toHaveAttribute("tabindex", "-1");
    // Esc closes the menu and stays on the form.
    fireEvent.keyDown(screen.getByTestId("field-cigs_per_day"), { key: "m", code: "KeyM", altKey: true });
    fireEvent.keyDown(await screen.findByTestId("missing-cigs_per_day-UNK"), { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("missing-cigs_per_day-UNK")).toBeNull());
    expect(screen.getByTestId("form-title")).toBeInTheDocument();
    fireEvent.keyDown(screen.getByTestId("field-cigs_per_day"), { key: "m", code: "KeyM", altKey: true });
    fireEvent.click(await screen.findByTestId("missing-cigs_per_day-UNK"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "evaluate_form")).toBe(true));
    const last = calls.filter((c) => c.cmd === "evaluate_form").at(-1);
    expect((last?.args.payload as { values: Record<string, string> }).values.cigs_per_day).toBe("UNK");
    expect(await screen.findByTestId("missing-cigs_per_day")).toHaveTextContent("Unknown (UNK)");
  });

  it("does not show @HIDDEN fields and shows read-only ones with the core's value, not for typing", async () => {
    const view = {
      ...openedForm.view,
      fields: [
        ...openedForm.view.fields,
        { ...openedForm.view.fields[2]!, name: "secret", label_html: "Secret", hidden: true, inputs: [] },
        { ...openedForm.view.fields[2]!, name: "group", label_html: "Age group", readonly: true, inputs: [], validation: null },
      ],
    };
    const ev = evaluation({ smoker: "1" });
    ev.fields.push({ name: "secret", visible: true, calc: null, message: null }, { name: "group", visible: true, calc: "adult", message: null });
    await openDemographics({ open_form: () => ({ view, evaluation: ev, sign_offs: [] }), evaluate_form: () => ev });
    expect(screen.queryByTestId("field-secret")).toBeNull();
    const group = screen.getByTestId("field-group");
    expect(group).toHaveValue("adult");
    expect(group).toHaveAttribute("readonly");
    expect(screen.queryByTestId("missing-menu-group")).toBeNull();
  });

  it("renders sanitized label HTML as markup, and unavailable fields with an explanation", async () => {
    await openDemographics();
    expect(screen.getByTestId("field-demo_intro").querySelector("b")).toHaveTextContent("Demographics.");
    expect(screen.getByTestId("unavailable-photo")).toHaveTextContent("not available offline");
  });
});

describe("Central EDC", () => {
  it("shows demo mode and the result of Test connection", async () => {
    backend({
      test_connection: () => ({
        mode: "demo",
        url: "http://127.0.0.1:40123/api/",
        version: "14.7.3",
        project_title: "SiteDesk Demo Study",
        longitudinal: true,
      }),
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-settings"));
    expect(await screen.findByTestId("edc-mode")).toHaveTextContent("Demo EDC");
    expect(screen.queryByTestId("edc-pending-demo")).not.toBeInTheDocument();
    fireEvent.click(screen.getByTestId("edc-test"));
    expect(await screen.findByTestId("edc-test-result")).toHaveTextContent("Connected: SiteDesk Demo Study (REDCap 14.7.3)");
  });

  it("warns that values entered in demo mode go to the study's REDCap once it is saved", async () => {
    backend({ edc_settings: () => ({ mode: "demo", url: "http://127.0.0.1:40123/api/", token_saved: false, pending_edits: 12 }) });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-settings"));
    expect(await screen.findByTestId("edc-pending-demo")).toHaveTextContent(
      "12 values entered on this desk have not been sent yet. Saving the study's REDCap sends them there.",
    );
  });

  it("shows the backend's plain-language refusal of a token and sends no token it was not given", async () => {
    const refusal: IpcError = { code: "validation", message: "The API token is 32 characters." };
    const calls = backend({
      save_edc_settings: () => {
        throw refusal;
      },
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-settings"));
    fireEvent.change(await screen.findByTestId("edc-url-input"), { target: { value: "https://redcap.example.org" } });
    fireEvent.click(screen.getByTestId("edc-save"));
    expect(await screen.findByTestId("error")).toHaveTextContent("The API token is 32 characters.");
    const sent = calls.find((c) => c.cmd === "save_edc_settings")?.args.payload as { url: string; token: string | null };
    expect(sent).toEqual({ url: "https://redcap.example.org", token: null });
  });
});

describe("Sync center", () => {
  const status = {
    mode: "demo",
    running: false,
    offline: false,
    progress: { phase: "idle", batches_total: 0, batches_done: 0, records_total: 0, records_done: 0, cells_pushed: 0 },
    last_success_at: "2026-06-01T09:00:00Z",
    last_report: { metadata_changed: false, pulled_cells: 4, taken: 0, pushed_cells: 3, batches: 1, conflicts: 1 },
    error: null,
    stopped: false,
    breaker: "closed",
    pending: 2,
    conflicts: 1,
    settings: { interval_minutes: 15, concurrency: 2 },
  };
  const conflict = {
    conflict: {
      id: 7,
      cell: { record_id: "S01-K7Q-0001", event: "baseline_arm_1", instance: 1, field: "sbp" },
      base: "120",
      mine: "128",
      theirs: "135",
      detected_at: "2026-06-01T09:00:00Z",
    },
    label: "Systolic (mmHg)",
    event_label: "Baseline",
  };

  it("shows pending edits and resolves a conflict with a reason", async () => {
    const calls = backend({ sync_status: () => status, list_conflicts: () => [conflict], resolve_conflict: () => null, sync_now: () => null });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-sync"));
    expect(await screen.findByTestId("sync-pending")).toHaveTextContent("2");
    expect(screen.getByTestId("sync-state")).toHaveTextContent("Up to date");
    expect(screen.getByTestId("conflict-table")).toHaveTextContent("Systolic (mmHg)");
    fireEvent.click(screen.getByTestId("sync-now"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "sync_now")).toBe(true));
    fireEvent.click(screen.getByTestId("keep-mine-7"));
    fireEvent.change(await screen.findByTestId("conflict-reason"), { target: { value: "Source says 128" } });
    fireEvent.click(screen.getByTestId("conflict-resolve"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "resolve_conflict")).toBe(true));
    const sent = calls.find((c) => c.cmd === "resolve_conflict")?.args.payload;
    expect(sent).toEqual({ id: 7, keep: { keep: "mine" }, reason: "Source says 128" });
  });

  it("lists a subject whose id the EDC uses for another record and gives it a new id", async () => {
    let held = [{ record_id: "S01-K7Q-0003", detected_at: "2026-06-01T09:00:00Z" }];
    const calls = backend({
      sync_status: () => status,
      list_conflicts: () => [],
      list_id_collisions: () => held,
      renumber_record: () => {
        held = [];
        return "S01-K7Q-0004";
      },
    });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-sync"));
    expect(await screen.findByTestId("id-taken-table")).toHaveTextContent("S01-K7Q-0003");
    fireEvent.click(screen.getByTestId("renumber-S01-K7Q-0003"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "renumber_record")).toBe(true));
    expect(calls.find((c) => c.cmd === "renumber_record")?.args.payload).toEqual({ id: "S01-K7Q-0003" });
    await waitFor(() => expect(screen.queryByTestId("id-taken-table")).toBeNull());
  });

  it("lists a value REDCap refused with its words and opens its form", async () => {
    const refused = {
      refused: {
        cell: { record_id: "S01-K7Q-0001", event: "baseline_arm_1", instance: 1, field: "sbp" },
        value: "1200",
        by: "edc",
        message: "This value is locked",
        refused_at: "2026-06-01T09:00:00Z",
      },
      label: "Systolic (mmHg)",
      event_label: "Baseline",
      form: "vitals",
    };
    // A value the desk holds itself: the token cannot see REDCap's.
    const hidden = {
      ...refused,
      refused: { ...refused.refused, cell: { ...refused.refused.cell, field: "visit_notes" }, value: "fasting", by: "export_rights", message: "" },
      label: "Notes",
    };
    const calls = backend({ sync_status: () => status, list_conflicts: () => [], list_refused_values: () => [refused, hidden] });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-sync"));
    const table = await screen.findByTestId("refused-table");
    expect(table).toHaveTextContent("This value is locked");
    expect(table).toHaveTextContent("1200");
    expect(table).toHaveTextContent("data export rights hide this field");
    fireEvent.click(screen.getByTestId("refused-open-S01-K7Q-0001-sbp"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "open_form")).toBe(true));
    expect(calls.find((c) => c.cmd === "open_form")?.args.payload).toEqual({ subject_id: "S01-K7Q-0001", event: "baseline_arm_1", form: "vitals", instance: 1 });
  });

  it("says sync stopped after a ban and why", async () => {
    backend({ sync_status: () => ({ ...status, stopped: true, error: "banned: ask the REDCap administrator" }), list_conflicts: () => [] });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-sync"));
    expect(await screen.findByTestId("sync-state")).toHaveTextContent("Stopped");
    expect(screen.getByTestId("sync-error")).toHaveTextContent("administrator");
  });

  it("shows being offline calmly, not as an error", async () => {
    backend({ sync_status: () => ({ ...status, offline: true }), list_conflicts: () => [] });
    renderApp();
    fireEvent.click(await screen.findByTestId("nav-sync"));
    expect(await screen.findByTestId("sync-state")).toHaveTextContent("Offline");
    expect(screen.queryByTestId("sync-error")).toBeNull();
  });

  describe("onboarding", () => {
    const firstStart = { ...appInfo, settings: { ...appInfo.settings, setup_chosen: false } };
    const summary = {
      project_id: "42",
      title: "Heart Failure Registry",
      origin: "https://redcap.example.org",
      sites: [
        { unique_name: "north", label: "North Hospital", id: 7, code: "S7" },
        { unique_name: "south", label: "South Clinic", id: 8, code: "S8" },
      ],
      token_site: null,
      forms: ["demographics", "screening_log"],
      events: [],
      logic_issues: [],
      unapplied_tags: [{ field: "visit_date", tag: "@SETVALUE='[today]'" }],
      unsupported_validation: [{ field: "shoe", validation: "shoe_size_eu" }],
      screening: { status: "found", form: "screening_log", event: "event_1_arm_1", criteria: 4, targets: { study: 60, sites: {} } },
      practice_entries: 3,
    };

    it("offers the demo once on a first start, and remembers the choice", async () => {
      let chosen = false;
      const calls = backend({
        app_info: () => ({ ...firstStart, settings: { ...firstStart.settings, setup_chosen: chosen } }),
        choose_demo: () => {
          chosen = true;
          return { ...firstStart.settings, setup_chosen: true };
        },
      });
      renderApp();
      expect(await screen.findByTestId("welcome")).toBeInTheDocument();
      await userEvent.click(screen.getByTestId("welcome-demo"));
      expect(await screen.findByText("S01-K7Q-0001")).toBeInTheDocument();
      expect(calls.filter((c) => c.cmd === "choose_demo")).toHaveLength(1);
    });

    it("probes the study's REDCap, asks for the site and the practice entries, then binds", async () => {
      let bound = false;
      const calls = backend({
        app_info: () =>
          bound
            ? { ...appInfo, demo: false, setup: { ...appInfo.setup!, study: { id: "redcap:https://redcap.example.org#42", title: "Heart Failure Registry", enrollment_target: 60 } } }
            : firstStart,
        probe_project: () => summary,
        bind_project: () => {
          bound = true;
          return { discarded: 3, carried_over: 0 };
        },
      });
      renderApp();
      await userEvent.click(await screen.findByTestId("welcome-connect"));
      await userEvent.type(screen.getByTestId("onboard-url"), "https://redcap.example.org");
      await userEvent.type(screen.getByTestId("onboard-token"), "0123456789ABCDEF0123456789ABCDEF{Enter}");
      const card = await screen.findByTestId("onboard-summary");
      expect(card).toHaveTextContent("Heart Failure Registry");
      expect(screen.getByTestId("onboard-forms")).toHaveTextContent("2 forms");
      expect(screen.getByTestId("onboard-sites")).toHaveTextContent("S7 North Hospital");
      expect(screen.getByTestId("onboard-offline")).toHaveTextContent("shoe_size_eu");
      expect(screen.getByTestId("onboard-offline")).toHaveTextContent("action tag @SETVALUE='[today]' is not applied offline");
      expect(screen.getByTestId("onboard-screening")).toHaveTextContent("4 eligibility criteria");
      expect(screen.getByTestId("onboard-practice")).toHaveTextContent("3 practice records");
      const confirm = screen.getByTestId("onboard-confirm");
      expect(confirm).toBeDisabled();
      await userEvent.click(screen.getByTestId("onboard-site-south"));
      expect(confirm).toBeDisabled();
      await userEvent.click(screen.getByTestId("onboard-practice-discard"));
      expect(confirm).toBeEnabled();
      await userEvent.click(confirm);
      expect(await screen.findByText("S01-K7Q-0001")).toBeInTheDocument();
      const sent = calls.find((c) => c.cmd === "bind_project")?.args.payload;
      expect(sent).toEqual({ url: "https://redcap.example.org", token: "0123456789ABCDEF0123456789ABCDEF", site: "south", practice: "discard" });
      expect(screen.queryByTestId("demo-badge")).toBeNull();
      expect(JSON.stringify(calls.find((c) => c.cmd === "probe_project")?.args.payload)).toContain("redcap.example.org");
    });

    it("offers the snippet when the project has no screening instrument, from Settings", async () => {
      backend({
        probe_project: () => ({ ...summary, token_site: "north", practice_entries: 0, screening: { status: "absent", snippet: "field_name,form_name\n" } }),
      });
      renderApp();
      fireEvent.click(await screen.findByTestId("nav-settings"));
      await userEvent.click(await screen.findByTestId("study-connect"));
      await userEvent.type(screen.getByTestId("onboard-url"), "https://redcap.example.org");
      await userEvent.type(screen.getByTestId("onboard-token"), "0123456789ABCDEF0123456789ABCDEF");
      await userEvent.click(screen.getByTestId("onboard-probe"));
      expect(await screen.findByTestId("onboard-screening")).toHaveTextContent("no screening instrument");
      expect(screen.getByTestId("onboard-snippet-download")).toHaveAttribute("download", "screening_instrument.csv");
      expect(screen.getByTestId("onboard-token-site")).toHaveTextContent("North Hospital");
      expect(screen.queryByTestId("onboard-site")).toBeNull();
      expect(screen.queryByTestId("onboard-practice")).toBeNull();
      expect(screen.getByTestId("onboard-confirm")).toBeEnabled();
    });

    it("shows a refusal in the user's words", async () => {
      const refused: IpcError = { code: "edc", message: "REDCap refused the API token." };
      backend({
        app_info: () => firstStart,
        probe_project: () => {
          throw refused;
        },
      });
      renderApp();
      await userEvent.click(await screen.findByTestId("welcome-connect"));
      await userEvent.type(screen.getByTestId("onboard-url"), "https://redcap.example.org");
      await userEvent.type(screen.getByTestId("onboard-token"), "0123456789ABCDEF0123456789ABCDEF{Enter}");
      expect(await screen.findByText("REDCap refused the API token.")).toBeInTheDocument();
      expect(screen.queryByTestId("onboard-summary")).toBeNull();
    });
  });
});

describe("people at the desk", () => {
  it("creates the administrator at the first start and shows the recovery key once", async () => {
    let view: SessionView = { ...session, first_start: true, user: null };
    const calls = backend({
      session_status: () => view,
      create_administrator: () => {
        view = session;
        return { recovery_key: "ABCD-EFGH-JKMN-PQRS" };
      },
      list_users: () => [],
    });
    renderApp();
    const user = userEvent.setup();
    await user.type(await screen.findByTestId("first-login"), "dana");
    await user.type(screen.getByTestId("first-name"), "Dana Lee");
    await user.type(screen.getByTestId("first-password"), "correct horse battery");
    await user.type(screen.getByTestId("first-confirm"), "correct horse batter");
    expect(screen.getByTestId("first-submit")).toBeDisabled();
    await user.type(screen.getByTestId("first-confirm"), "y");
    await user.click(screen.getByTestId("first-submit"));
    expect(await screen.findByTestId("recovery-key")).toHaveTextContent("ABCD-EFGH-JKMN-PQRS");
    expect(calls.find((c) => c.cmd === "create_administrator")?.args).toEqual({
      payload: { login: "dana", display_name: "Dana Lee", password: "correct horse battery" },
    });
    await user.click(screen.getByTestId("recovery-done"));
    expect(await screen.findByTestId("nav-subjects")).toBeInTheDocument();
  });

  it("shows the lock screen without any subject data, and its password error", async () => {
    backend({
      session_status: () => ({ ...session, locked: true }),
      unlock_desk: () => {
        throw { code: "wrong_password", message: "Wrong login or password." } satisfies IpcError;
      },
    });
    renderApp();
    expect(await screen.findByTestId("lock-screen")).toHaveTextContent("Dana Lee");
    expect(document.body).not.toHaveTextContent(row.id);
    expect(screen.queryByTestId("nav-subjects")).toBeNull();
    const user = userEvent.setup();
    await user.type(screen.getByTestId("unlock-password"), "nope");
    await user.click(screen.getByTestId("unlock-submit"));
    expect(await screen.findByTestId("error")).toHaveTextContent("Wrong login or password.");
  });

  it("asks a signed-out desk to sign in", async () => {
    backend({ session_status: () => ({ ...session, user: null }) });
    renderApp();
    expect(await screen.findByTestId("sign-in")).toBeInTheDocument();
    expect(screen.queryByTestId("nav-subjects")).toBeNull();
  });

  it("shows a CRC no administrator's settings", async () => {
    backend({ session_status: () => ({ ...session, user: { login: "mei", display_name: "Mei Chen", role: "crc" } }) });
    renderApp();
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("nav-settings"));
    expect(await screen.findByTestId("verify-audit")).toBeInTheDocument();
    expect(screen.queryByTestId("users-table")).toBeNull();
    expect(screen.queryByTestId("edc-mode")).toBeNull();
    expect(screen.getByTestId("user-role")).toHaveTextContent("CRC");
  });

  it("locks on Ctrl+L", async () => {
    let view = session;
    const calls = backend({
      session_status: () => view,
      lock_desk: () => {
        view = { ...session, locked: true };
        return view;
      },
    });
    renderApp();
    await screen.findByTestId("nav-subjects");
    fireEvent.keyDown(window, { key: "l", ctrlKey: true });
    expect(await screen.findByTestId("lock-screen")).toBeInTheDocument();
    expect(calls.some((c) => c.cmd === "lock_desk")).toBe(true);
  });
});

describe("review sign-off", () => {
  const signOff = {
    id: 1,
    record_id: "S01-K7Q-0001",
    event: "screening_arm_1",
    instance: 1,
    form: "demographics",
    meaning: "reviewed" as const,
    signer_login: "sam",
    signer_name: "Sam Ortiz",
    signed_at: "2026-06-02T10:00:00.000Z",
    voided_at: null,
    void_reason: null,
  };

  async function openForm(opened: typeof openedForm) {
    const calls = backend({ visit_grid: () => grid, open_form: () => opened, evaluate_form: () => opened.evaluation });
    renderApp();
    fireEvent.click(await screen.findByTestId("row-S01-K7Q-0001"));
    fireEvent.click(await screen.findByTestId("grid-screening_arm_1-demographics-1"));
    await screen.findByTestId("form-title");
    return calls;
  }

  it("shows who signed the form, when and what it means, and a change asks for a reason", async () => {
    await openForm({ ...openedForm, sign_offs: [signOff] });
    const banner = screen.getByTestId("signoff-banner");
    expect(banner).toHaveTextContent("Reviewed on");
    expect(banner).toHaveTextContent("Sam Ortiz (sam)");
    expect(screen.queryByTestId("signoff-open")).toBeNull();
    // A new value on a signed form (no saved value changed) still asks.
    fireEvent.change(screen.getByTestId("field-cigs_per_day"), { target: { value: "12" } });
    await waitFor(() => expect(screen.getByTestId("field-cigs_per_day")).toHaveValue("12"));
    fireEvent.keyDown(screen.getByTestId("field-cigs_per_day"), { key: "s", ctrlKey: true });
    expect(await screen.findByTestId("reason-signed")).toHaveTextContent("saving the change voids the sign-off");
  });

  it("lets a supervisor sign with the meaning and the password", async () => {
    const calls = await openForm(openedForm);
    backend({
      visit_grid: () => grid,
      open_form: () => ({ ...openedForm, sign_offs: [signOff] }),
      evaluate_form: () => openedForm.evaluation,
      sign_off: () => signOff,
    });
    fireEvent.click(screen.getByTestId("signoff-open"));
    const user = userEvent.setup();
    await user.type(await screen.findByTestId("signoff-password"), "sam's password");
    await user.click(screen.getByTestId("signoff-submit"));
    expect(await screen.findByTestId("signoff-banner")).toHaveTextContent("Sam Ortiz");
    expect(calls.length).toBeGreaterThan(0);
  });
});
