/**
 * The dashboard page in a real browser: Debian's chromium driven by playwright-core (which never
 * downloads a browser). The page is rendered from the golden ledgers, loaded from a file:// URL with
 * every network request recorded, and checked: the charts drew, the numbers shown are the computed
 * ones, no console error, no request but the page itself. A screenshot goes to test-output/.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { chartJsSource } from "../../src/assets.js";
import { buildDashboard, renderDashboard, type DashboardData } from "../../src/core/insight/dashboard.js";
import { metricRows, parseLedger } from "../../src/core/insight/metrics.js";
import { REPO } from "../helpers/variants.js";

const CHROMIUM = "/usr/bin/chromium";
const OUT = join(REPO, "test-output/dashboard");
const dir = join(REPO, "test/fixtures/ledgers");
const ledger = async (name: string) => parseLedger(await readFile(join(dir, `${name}.jsonl`), "utf8")).entries;

let browser: Browser;
let data: DashboardData;
let html: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the dashboard test needs Debian's chromium at ${CHROMIUM}: run \`bash .ci/browser-up.sh\` (apt-get install -y chromium), then rerun the test.`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
  await mkdir(OUT, { recursive: true });
  data = buildDashboard({
    ledgers: { test: await ledger("rollbacks"), prod: await ledger("failed-open") },
    status: { test: { current: "1.4.0-20261126T100010Z", version: "1.4.0", health: { ok: true } }, prod: undefined },
    commitTimes: JSON.parse(await readFile(join(dir, "commits.json"), "utf8")) as Record<string, string>,
    window: { since: "2026-11-20T00:00:00Z", until: "2026-11-27T00:00:00Z" },
    generated: "2026-11-27T00:00:00Z",
  });
  html = renderDashboard(data, await chartJsSource());
  await writeFile(join(OUT, "dashboard.html"), html);
});

afterAll(async () => {
  await browser?.close();
});

test("the dashboard renders offline in chromium: charts drawn, the computed numbers shown, no console error, no request", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("request", (r) => requests.push(r.url()));
  const url = pathToFileURL(join(OUT, "dashboard.html")).href;
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.documentElement.getAttribute("data-charts") === "drawn", undefined, { timeout: 10_000 });

  // The charts exist as Chart.js instances with the data, and each canvas has drawn pixels.
  const charts = await page.evaluate(() => {
    const w = window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: { data: unknown[] }[] } } | undefined } };
    return [...document.querySelectorAll("canvas")].map((c) => {
      const chart = w.Chart.getChart(c);
      const ctx = c.getContext("2d")!;
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) painted++;
      return { id: c.id, width: c.width, height: c.height, painted, points: chart ? chart.data.datasets.map((d) => d.data.length) : null };
    });
  });
  expect(charts.map((c) => c.id)).toEqual(["chart-deploy-durations", "chart-rollback-durations", "chart-outcomes"]);
  for (const c of charts) {
    expect(c.width * c.height, c.id).toBeGreaterThan(10_000);
    expect(c.painted, `${c.id} drew nothing`).toBeGreaterThan(2_000);
  }
  // Deploys per env in the window (prod 3, test 7); rollbacks (prod: 1 automatic; test: 1 automatic + 2 manual); 4 outcome kinds.
  expect(charts.map((c) => c.points)).toEqual([[3, 7], [1, 3], [7, 7, 7, 7]]);

  // Every figure on the page is the computed one, cell by cell, and the golden values read as expected.
  const shown = await page.$$eval("#metrics td[data-metric]", (tds) => tds.map((td) => [td.getAttribute("data-env"), td.getAttribute("data-metric"), td.textContent]));
  const computed = Object.entries(data.metrics.environments).flatMap(([env, m]) => metricRows(m).map(([, key, value]) => [env, key, value]));
  expect(shown.sort()).toEqual(computed.sort());
  const cell = (env: string, metric: string) => page.locator(`#metrics td[data-env="${env}"][data-metric="${metric}"]`).textContent();
  expect(await cell("test", "successRate")).toBe("57.1%");
  expect(await cell("test", "timeToRestore.median")).toBe("1h 14m");
  expect(await cell("prod", "timeToRestore.open")).toBe("since 2026-11-25T10:03:30Z (2 failed)");
  expect(await cell("test", "leadTime.median")).toBe("1h 01m (1 unknown commit)");

  // What is live: the host's answer for test, the ledger's for prod (2.1.0 rolled back to 2.0.0).
  const live = await page.$$eval("#live .card", (cards) => cards.map((c) => [c.getAttribute("data-env"), c.querySelector(".version")!.textContent, c.querySelector(".since")!.textContent, c.querySelector(".health")!.textContent]));
  expect(live).toEqual([
    ["prod", "2.0.0", "since 2026-11-25 10:03:30 UTC", "unknown"],
    ["test", "1.4.0", "since 2026-11-26 10:01:20 UTC", "healthy"],
  ]);
  // The last deployments: newest first, both envs, the one after the window left out, phases drawn.
  const rows = await page.$$eval("#recent tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 5).map((td) => td.textContent!.trim())));
  expect(rows.length).toBe(13);
  expect(rows[0]).toEqual(["2026-11-26 10:01:20 UTC", "test", "deploy", "1.4.0", "succeeded"]);
  expect(rows.map((r) => r[4])).toContain("rollback_failed");
  expect(await page.locator("#recent .bar .seg").count()).toBeGreaterThan(50);
  // A host-written cause with markup is shown as text, never run.
  expect(await page.locator("#recent .cause", { hasText: "<script>alert(1)</script>" }).count()).toBe(1);

  expect(errors).toEqual([]);
  expect(requests).toEqual([url]);
  await page.screenshot({ path: join(OUT, "dashboard.png"), fullPage: true });
  expect(existsSync(join(OUT, "dashboard.png"))).toBe(true);
  await page.close();
});

test("the page loads nothing from anywhere: no src, href, url() or import; the only URLs are in Chart.js's licence header", async () => {
  // shipit's own markup, style and script (Chart.js's source is checked for URLs below, with the rest).
  const own = html.replace(await chartJsSource(), "");
  expect(own.length).toBeLessThan(html.length - 100_000);
  expect(own.match(/<[^>]*\s(src|href|action|srcset|poster|data)\s*=[^>]*>/gi)).toBeNull();
  expect(own.match(/url\(|@import|<link|<iframe|<img|<object|<embed|fetch\(|XMLHttpRequest|WebSocket/gi)).toBeNull();
  const urls = [...html.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'<)]*/gi)].map((m) => m[0]);
  expect(urls.sort()).toEqual(["https://github.com/kurkle/color#readme", "https://www.chartjs.org"]);
  expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline'`);
});

test("an empty ledger still gives a page without errors, and the empty charts draw their axes", async () => {
  const empty = buildDashboard({ ledgers: { test: [] }, window: { since: "2026-11-20T00:00:00Z", until: "2026-11-27T00:00:00Z" }, generated: "2026-11-27T00:00:00Z" });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  await page.setContent(renderDashboard(empty, await chartJsSource()), { waitUntil: "load" });
  await page.waitForFunction(() => document.documentElement.getAttribute("data-charts") === "drawn", undefined, { timeout: 10_000 });
  expect(await page.locator("#recent").textContent()).toBe("No deployment yet.");
  expect(await page.locator('#live .card[data-env="test"] .version').textContent()).toBe("nothing live");
  expect(await page.locator('#metrics td[data-env="test"][data-metric="successRate"]').textContent()).toBe("-");
  expect(errors).toEqual([]);
  await page.close();
});
