// The subjects list in a real browser: how long the page takes to show a
// desk's 10,000 subjects, and to show what a search finds.
//
//   npm run bench:browser              # 5 page loads, 4 visits of the list each
//   npm run bench:browser -- --short   # 1 page load, 3 visits (CI)
//
// Builds the UI with bench/index.html as its entry (the app, with Tauri's
// IPC replaced by an in-page fake that lists generated subjects), serves
// it on 127.0.0.1, and drives Debian's Chromium through playwright-core.
// Each figure runs from the user's input event (the click on Subjects, the
// search box's input) to the paint after the table shows the rows that
// answer it; the page measures it (bench/main.tsx), the runner only acts.
// A baseline of 100 subjects runs the same steps in the same browser.
// Figures are printed, never asserted: the exit status says only whether
// every step ran (a crash, or a table that never shows its rows, fails).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";
import { build } from "vite";

const short = process.argv.includes("--short");
const LOADS = short ? 1 : 5;
const VISITS = short ? 3 : 4;
const SIZES = [10_000, 100];
const TARGET_MS = { paint: 150, filter: 50 };
/** How long a step may take before the run counts as failed: far beyond any figure worth printing. */
const STEP_TIMEOUT_MS = 30_000;
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Headless Chromium as the benchmark needs it: no sandbox (it runs as root
// in CI containers), no GPU, and nothing that reaches the network.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const ui = fileURLToPath(new URL("..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "sitedesk-bench-"));
const dist = join(scratch, "dist");

async function main() {
  console.log(`Building the UI with the benchmark's entry (bench/index.html)…`);
  await build({
    root: join(ui, "bench"),
    configFile: join(ui, "vite.config.ts"),
    base: "./",
    logLevel: "warn",
    build: { outDir: dist, emptyOutDir: true },
  });
  const server = await serve(dist);
  let context = null;
  try {
    const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
    context = await chromium.launchPersistentContext(join(scratch, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
    });
    const version = context.browser()?.version() ?? "unknown version";
    // One unmeasured load first, so that neither size pays for the cold start of the browser and its cache.
    const warm = await context.newPage();
    await warm.goto(`http://127.0.0.1:${port}/?n=${SIZES[SIZES.length - 1]}`);
    await warm.evaluate(() => window.bench.load());
    await warm.close();
    const results = [];
    for (const n of SIZES) results.push(await measure(context, `http://127.0.0.1:${port}/?n=${n}`, n));
    report(results, version);
  } finally {
    await context?.close();
    server.closeAllConnections();
    server.close();
  }
}

/** Loads the page LOADS times; each load visits the list VISITS times: Settings, then Subjects, then a search. */
async function measure(context, url, n) {
  const figures = { load: [], paint: [], filter: [], afterQuery: [] };
  for (let load = 0; load < LOADS; load++) {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e));
    try {
      await page.goto(url);
      figures.load.push((await page.evaluate(() => window.bench.load())).ms);
      const first = (await page.evaluate(() => window.bench.expected("")))[0];
      for (let visit = 0; visit < VISITS; visit++) {
        await page.click("[data-testid='nav-settings']");
        await page.waitForSelector("[data-testid='settings-language']", { timeout: STEP_TIMEOUT_MS });

        await arm(page, "[data-testid='nav-subjects']", "click", { first });
        await page.click("[data-testid='nav-subjects']");
        figures.paint.push((await result(page)).ms);

        // Ten subjects: a number's first three digits, spread over the list.
        const number = Math.floor((n * (load * VISITS + visit + 1)) / (LOADS * VISITS + 1));
        const needle = `K7Q-${String(number).padStart(4, "0").slice(0, 3)}`;
        const exactly = await page.evaluate((s) => window.bench.expected(s), needle);
        await arm(page, "[data-testid='subject-search']", "input", { exactly });
        await page.fill("[data-testid='subject-search']", needle);
        const filtered = await result(page);
        figures.filter.push(filtered.ms);
        figures.afterQuery.push(filtered.afterQuery);
      }
      if (errors.length > 0) throw errors[0];
    } finally {
      await page.close();
    }
  }
  return { n, figures };
}

async function arm(page, selector, type, until) {
  await page.evaluate(([s, t, u, ms]) => window.bench.arm(s, t, u, ms), [selector, type, until, STEP_TIMEOUT_MS]);
}

async function result(page) {
  return page.evaluate(() => window.bench.result());
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (v) => v.toFixed(1);
const count = (n) => n.toLocaleString("en-US");

function report(results, version) {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  console.log();
  console.log(`Subjects list in Chromium ${version} (headless), ${availableParallelism()} CPUs (${cpu})`);
  console.log(`${LOADS} page load(s), ${VISITS} visits of the list each${short ? " (--short)" : ""}`);
  console.log();
  const rows = [
    ["subjects", "measure", "p50 ms", "max ms", "target ms", "samples"],
    ["---:", "---", "---:", "---:", "---:", "---:"],
  ];
  const measures = [
    ["paint", "first paint: click on Subjects → rows shown", TARGET_MS.paint],
    ["filter", "filter: input in the search box → rows found", TARGET_MS.filter],
    ["afterQuery", "  of which from the page asking for the list → rows", TARGET_MS.filter],
    ["load", "page load → rows shown", null],
  ];
  for (const { n, figures } of results) {
    for (const [key, label, target] of measures) {
      const values = figures[key];
      rows.push([count(n), label, ms(percentile(values, 50)), ms(Math.max(...values)), target === null ? "—" : String(target), String(values.length)]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) {
    const cells = r.map((cell, c) => (c === 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])));
    console.log(`| ${cells.join(" | ")} |`);
  }
  console.log();
  const [big, base] = results;
  for (const { n, figures } of results) {
    console.log(
      `subjects list, ${count(n)} subjects: first paint p50 ${ms(percentile(figures.paint, 50))} ms (target ${TARGET_MS.paint} ms), ` +
        `filter p50 ${ms(percentile(figures.filter, 50))} ms, ${ms(percentile(figures.afterQuery, 50))} ms from the question (target ${TARGET_MS.filter} ms)`,
    );
  }
  const ratio = (key) => (percentile(big.figures[key], 50) / percentile(base.figures[key], 50)).toFixed(2);
  console.log(
    `${count(big.n)} against ${count(base.n)} subjects, p50: first paint ${ratio("paint")}x, filter ${ratio("filter")}x, ` +
      `from the question ${ratio("afterQuery")}x, page load ${ratio("load")}x`,
  );
}

/** A static server for the built files on 127.0.0.1, on a port the system picks. */
function serve(root) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".woff2": "font/woff2" };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^[/\\]+/, "");
    const file = join(root, path === "" ? "index.html" : path);
    if (!file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

main()
  .catch((e) => {
    console.error(`bench:browser failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  })
  .finally(() => rmSync(scratch, { recursive: true, force: true }));
