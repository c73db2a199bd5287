// The app as it starts in the desktop shell, with Tauri's IPC replaced by
// an in-page fake (Tauri's mockIPC, as the unit tests use) that lists
// `?n=` generated subjects, and the measuring the benchmark runner
// (subjects.mjs) asks for through `window.bench`.
import { mockIPC } from "@tauri-apps/api/mocks";

import type { SubjectFilter, SubjectRow, StatusCount } from "../src/ipc";
import { appInfo, session, subjectRows } from "../src/test/fixtures";

const n = Number(new URLSearchParams(location.search).get("n") ?? "10000");
// Making up the subjects is the benchmark's work, not the page's: the page
// load figure leaves it out.
const preparing = performance.now();
const subjects = subjectRows(n);

/** What the backend's `list_subjects` answers: status and site equal, id or initials containing the search, newest first. */
function listed(filter: SubjectFilter): SubjectRow[] {
  const needle = filter.search?.trim().toLowerCase() ?? "";
  return subjects.filter(
    (s) =>
      (!filter.status || s.status === filter.status) &&
      (!filter.site_id || s.site_id === filter.site_id) &&
      (needle === "" || s.id.toLowerCase().includes(needle) || s.label.toLowerCase().includes(needle)),
  );
}

function counts(): StatusCount[] {
  const by = new Map<string, StatusCount>();
  for (const s of subjects) {
    const key = `${s.site_id}/${s.status}`;
    const c = by.get(key) ?? { site_id: s.site_id, status: s.status, count: 0 };
    c.count++;
    by.set(key, c);
  }
  return [...by.values()];
}

/** When the page last asked for the list. */
let queriedAt = 0;

// Answers arrive as JSON text, as the real IPC's do, so the page parses
// 10,000 rows as it does in the desktop shell. Writing the JSON is the
// backend's work there: the whole list is written once, before anything
// is measured.
const everyone = JSON.stringify(subjects);
const byStatus = JSON.stringify(counts());
const prepared = performance.now() - preparing;
const handlers: Record<string, (args: Record<string, unknown>) => string> = {
  // A CRC is signed in, the desk unlocked: the app opens on the subjects.
  session_status: () => JSON.stringify({ ...session, user: { login: "dana", display_name: "Dana Lee", role: "crc" } }),
  app_info: () => JSON.stringify(appInfo),
  list_subjects: (args) => {
    queriedAt = performance.now();
    const filter = args.payload as SubjectFilter;
    const all = !filter.search?.trim() && !filter.status && !filter.site_id;
    return all ? everyone : JSON.stringify(listed(filter));
  },
  status_counts: () => byStatus,
  list_edc_records: () => "[]",
  edc_settings: () => JSON.stringify({ mode: "demo", url: "http://127.0.0.1:40123/api/", token_saved: false, pending_edits: 0 }),
};
mockIPC((cmd, args) => {
  const handler = handlers[cmd];
  if (!handler) throw { code: "unavailable", message: `the benchmark does not answer ${cmd}` };
  return JSON.parse(handler((args ?? {}) as Record<string, unknown>)) as unknown;
});

/** What the subjects table must show for a measurement to end. */
type Until = { first: string } | { exactly: string[] };
type Figure = { ms: number; afterQuery: number };

function rowIds(): string[] {
  return [...document.querySelectorAll("[data-testid='subject-table'] tbody tr[data-index]")].map((r) =>
    (r.getAttribute("data-testid") ?? "").replace(/^row-/, ""),
  );
}

function holds(until: Until): boolean {
  const ids = rowIds();
  if ("first" in until) return ids[0] === until.first;
  return ids.length === until.exactly.length && ids.every((id, i) => id === until.exactly[i]);
}

/** Resolves with the time of the first paint after `until` holds: after the next frame's rendering, once the frame is out. */
function paintedWhen(until: Until, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false;
    const check = () => {
      if (done || !holds(until)) return;
      done = true;
      observer.disconnect();
      clearTimeout(timer);
      requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => resolve(performance.now());
        channel.port2.postMessage(null);
      });
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true });
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`after ${timeoutMs} ms the subjects table shows ${JSON.stringify(rowIds().slice(0, 5))}…, not ${JSON.stringify(until).slice(0, 200)}`));
    }, timeoutMs);
    check();
  });
}

/** Loading the page until the subjects table shows its first rows: navigation start is time 0. */
const loaded: Promise<Figure> = paintedWhen({ first: subjects[0]?.id ?? "" }, 30_000).then((t) => ({ ms: t - prepared, afterQuery: t - queriedAt }));
loaded.catch(() => {});
let armed: Promise<Figure> | null = null;

const bench = {
  n,
  /** The ids the list shows for `search`, newest first. */
  expected: (search: string) => listed({ search, status: null, site_id: null }).map((s) => s.id),
  load: () => loaded,
  /**
   * Starts a measurement: from the next `type` event (a click, a keystroke's
   * input) on an element inside `selector` to the paint that shows `until`.
   * The runner then produces the event and collects the figure with `result`.
   */
  arm(selector: string, type: "click" | "input", until: Until, timeoutMs: number) {
    armed = new Promise<number>((resolve) => {
      const listener = (e: Event) => {
        if (!(e.target instanceof Element) || !e.target.closest(selector)) return;
        document.removeEventListener(type, listener, true);
        resolve(e.timeStamp);
      };
      document.addEventListener(type, listener, true);
    }).then(async (start) => {
      const end = await paintedWhen(until, timeoutMs);
      return { ms: end - start, afterQuery: end - Math.max(queriedAt, start) };
    });
    // A failure surfaces through result(); keep it from being reported as unhandled meanwhile.
    armed.catch(() => {});
  },
  result: (): Promise<Figure> => armed ?? Promise.reject(new Error("nothing was armed")),
};
declare global {
  interface Window {
    bench: typeof bench;
  }
}
window.bench = bench;

await import("../src/main");
