/**
 * The delivery dashboard: one self-contained HTML page (pure). The chart library's source comes in
 * as a string and is inlined, the data as escaped JSON; a Content-Security-Policy forbids every
 * network request, so the page opens offline and can be attached to a run.
 *
 * Everything from the hosts (versions, release names, causes) is escaped: a ledger is written by
 * whoever can deploy, and must not be able to script the page of whoever reads it.
 */
import { z } from "zod";
import { chronological, computeMetrics, isDuration, formatDays, rollbackSeconds, secs, formatSeconds, metricRows, type CommitTimes, type MetricsReport, type Window } from "./metrics.js";
import type { LedgerEntry, LedgerOutcome } from "../deploy/contracts.js";

/** The verdict on an environment's live release: its health probe answered healthy, failed, or was not asked. */
export type LiveHealth = "healthy" | "unhealthy" | "unknown";

interface LiveRelease {
  env: string;
  version: string | null;
  release: string | null;
  /** When this release last became live (from the ledger), or null when the ledger does not say. */
  since: string | null;
  health: LiveHealth;
  /** Why: the health probe's answer, or what the ledger says when the host was not asked. */
  detail: string;
}

interface RecentEntry {
  env: string;
  kind: "deploy" | "rollback";
  version: string;
  outcome: LedgerOutcome;
  started: string;
  ended: string;
  seconds: number | null;
  phases: Record<string, number>;
  rollbackPhases: Record<string, number>;
  trigger: string | null;
  commit: string | null;
  cause: string | null;
}

interface Point {
  /** Unix ms of the entry's end. */
  x: number;
  y: number;
  version: string;
  outcome: LedgerOutcome;
}

export interface DashboardData {
  title: string;
  generated: string;
  window: MetricsReport["window"];
  live: LiveRelease[];
  recent: RecentEntry[];
  series: {
    deployDurations: Record<string, Point[]>;
    rollbackDurations: Record<string, Point[]>;
    outcomesPerDay: { days: string[]; succeeded: number[]; failed: number[]; rolledBack: number[]; rollbacks: number[] };
  };
  metrics: MetricsReport;
}

/** The agent's `status` answer, as far as the dashboard reads it (other fields are let through). */
export const HostStatusSchema = z.looseObject({
  current: z.string().nullable().optional(),
  version: z.string().nullable().optional(),
  health: z.object({ ok: z.boolean(), code: z.string().optional(), message: z.string().optional() }).optional(),
});
export type HostStatus = z.infer<typeof HostStatusSchema>;

interface DashboardInput {
  ledgers: Record<string, LedgerEntry[]>;
  /** Per env, the host's status answer; absent when working from ledger files. */
  status?: Record<string, HostStatus | undefined>;
  commitTimes?: CommitTimes;
  window: Window;
  generated: string;
  title?: string;
  recentLimit?: number;
}

const RELEASE_SUFFIX = /-\d{8}T\d{6}Z$/;
const versionOfRelease = (release: string) => release.replace(RELEASE_SUFFIX, "");

/** What the ledger says is live: the last entry that changed `current` and left a healthy release. */
export function liveFromLedger(env: string, entries: LedgerEntry[]): LiveRelease {
  const versions = new Map<string, string>();
  let live: LiveRelease = { env, version: null, release: null, since: null, health: "unknown", detail: "no deploy in the ledger" };
  for (const e of chronological(entries)) {
    if (e.release && e.kind === "deploy") versions.set(e.release, e.version);
    const versionOf = (r: string) => versions.get(r) ?? versionOfRelease(r);
    if (e.outcome === "succeeded" && e.release) {
      live = { env, version: versionOf(e.release), release: e.release, since: e.ended, health: "unknown", detail: `ledger: ${e.kind} succeeded` };
    } else if (e.outcome === "rolled_back" && e.kind === "deploy" && e.previous) {
      live = { env, version: versionOf(e.previous), release: e.previous, since: e.ended, health: "unknown", detail: `ledger: ${e.version} was rolled back` };
    } else if (e.outcome === "rollback_failed") {
      live = { env, version: null, release: null, since: null, health: "unhealthy", detail: `ledger: ${e.kind} of ${e.version} failed and its rollback failed too` };
    }
  }
  return live;
}

/** The host's answer wins over the ledger; the ledger still says since when that release is live. */
function liveOf(env: string, entries: LedgerEntry[], status: HostStatus | undefined): LiveRelease {
  const fromLedger = liveFromLedger(env, entries);
  if (!status) return fromLedger;
  const release = status.current ?? null;
  let since: string | null = null;
  for (const e of chronological(entries)) {
    if ((e.outcome === "succeeded" && e.release === release) || (e.outcome === "rolled_back" && e.previous === release)) since = e.ended;
  }
  const h = status.health;
  return {
    env,
    version: status.version ?? (release ? versionOfRelease(release) : null),
    release,
    since: release ? since : null,
    health: !h ? "unknown" : h.ok ? "healthy" : "unhealthy",
    detail: !h ? "no health URL" : h.ok ? "running and connected" : `${h.code ?? "unhealthy"}: ${h.message ?? ""}`.trim(),
  };
}

export function buildDashboard(input: DashboardInput): DashboardData {
  const metrics = computeMetrics(input.ledgers, input.window, input.commitTimes ?? {});
  const w = metrics.window;
  const since = Date.parse(w.since);
  const until = Date.parse(w.until);
  const envs = Object.keys(input.ledgers).sort();
  const all = envs.flatMap((env) => input.ledgers[env]!.map((e) => ({ ...e, env })));
  const ordered = chronological(all);
  const inWindow = ordered.filter((e) => Date.parse(e.ended) >= since && Date.parse(e.ended) < until);

  const recent: RecentEntry[] = ordered
    .filter((e) => Date.parse(e.ended) < until)
    .slice(-(input.recentLimit ?? 20))
    .reverse()
    .map((e) => ({
      env: e.env,
      kind: e.kind,
      version: e.version,
      outcome: e.outcome,
      started: e.started,
      ended: e.ended,
      seconds: e.seconds ?? null,
      phases: e.phases ?? {},
      rollbackPhases: e.rollbackPhases ?? {},
      trigger: e.trigger ?? null,
      commit: e.commit ?? null,
      cause: e.cause ? `${e.cause.phase}${e.cause.code ? ` ${e.cause.code}` : ""}${e.cause.message ? `: ${e.cause.message}` : ""}` : null,
    }));

  const deployDurations: Record<string, Point[]> = {};
  const rollbackDurations: Record<string, Point[]> = {};
  for (const env of envs) {
    deployDurations[env] = [];
    rollbackDurations[env] = [];
  }
  for (const e of inWindow) {
    const p = (y: number): Point => ({ x: Date.parse(e.ended), y: secs(y), version: e.version, outcome: e.outcome });
    const rolledBackIn = rollbackSeconds(e);
    if (e.kind === "deploy" && isDuration(e.seconds)) deployDurations[e.env]!.push(p(e.seconds));
    if (e.kind === "deploy" && e.outcome === "rolled_back" && isDuration(rolledBackIn)) rollbackDurations[e.env]!.push(p(rolledBackIn));
    if (e.kind === "rollback" && e.outcome === "succeeded" && isDuration(e.seconds)) rollbackDurations[e.env]!.push(p(e.seconds));
  }

  const days: string[] = [];
  for (let t = Date.UTC(new Date(since).getUTCFullYear(), new Date(since).getUTCMonth(), new Date(since).getUTCDate()); t < until; t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const perDay = () => days.map(() => 0);
  const outcomes = { days, succeeded: perDay(), failed: perDay(), rolledBack: perDay(), rollbacks: perDay() };
  for (const e of inWindow) {
    const i = days.indexOf(e.ended.slice(0, 10));
    if (i < 0) continue;
    if (e.kind === "rollback") outcomes.rollbacks[i]!++;
    else if (e.outcome === "succeeded") outcomes.succeeded[i]!++;
    else if (e.outcome === "rolled_back" || e.outcome === "rollback_failed") outcomes.rolledBack[i]!++;
    else outcomes.failed[i]!++;
  }

  return {
    title: input.title ?? "shipit: deployments",
    generated: input.generated,
    window: w,
    live: envs.map((env) => liveOf(env, input.ledgers[env]!, input.status?.[env])),
    recent,
    series: { deployDurations, rollbackDurations, outcomesPerDay: outcomes },
    metrics,
  };
}

// ---- HTML ---------------------------------------------------------------------------------------

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** JSON that is safe inside a <script> element: no `<` (so no `</script>` or `<!--`), no line separators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** A library's source inside a <script> element: `</script` would end it early. */
function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const OUTCOME_CLASS: Record<LedgerOutcome, string> = { succeeded: "ok", failed: "bad", rolled_back: "warn", rollback_failed: "bad" };
const fmtTime = (iso: string | null) => (iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : "-");

function phaseBar(phases: Record<string, number>, rollback: Record<string, number>): string {
  const parts = [...Object.entries(phases).map(([k, v]) => [k, v, ""] as const), ...Object.entries(rollback).map(([k, v]) => [k, v, " rb"] as const)];
  const total = parts.reduce((a, [, v]) => a + v, 0);
  if (!total) return "";
  const segs = parts
    .filter(([, v]) => v > 0)
    .map(([k, v, cls]) => `<span class="seg${cls}" style="width:${((v / total) * 100).toFixed(2)}%" title="${escapeHtml(`${k} ${v}s`)}"></span>`)
    .join("");
  const text = parts.map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(formatSeconds(v))}`).join(" · ");
  return `<div class="bar">${segs}</div><div class="phases">${text}</div>`;
}

function liveCards(live: LiveRelease[]): string {
  if (!live.length) return `<p class="empty">No environment.</p>`;
  return live
    .map(
      (l) => `<div class="card" data-env="${escapeHtml(l.env)}">
  <div class="env">${escapeHtml(l.env)}</div>
  <div class="version" data-field="version">${escapeHtml(l.version ?? "nothing live")}</div>
  <div class="since" data-field="since">${l.since ? `since ${escapeHtml(fmtTime(l.since))}` : "since: unknown"}</div>
  <div class="health ${l.health}" data-field="health">${escapeHtml(l.health)}</div>
  <div class="detail">${escapeHtml(l.detail)}</div>
</div>`,
    )
    .join("\n");
}

function metricsTable(m: MetricsReport): string {
  const envs = Object.keys(m.environments);
  if (!envs.length) return `<p class="empty">No environment.</p>`;
  const rows = metricRows(m.environments[envs[0]!]!).map(([label, key], i) => {
    const cells = envs.map((e) => `<td data-env="${escapeHtml(e)}" data-metric="${key}">${escapeHtml(metricRows(m.environments[e]!)[i]![2])}</td>`).join("");
    return `<tr><th scope="row">${escapeHtml(label)}</th>${cells}</tr>`;
  });
  return `<table id="metrics"><thead><tr><th>metric</th>${envs.map((e) => `<th>${escapeHtml(e)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function recentTable(recent: RecentEntry[]): string {
  if (!recent.length) return `<p class="empty" id="recent">No deployment yet.</p>`;
  const rows = recent.map(
    (r) => `<tr data-outcome="${escapeHtml(r.outcome)}">
  <td>${escapeHtml(fmtTime(r.ended))}</td><td>${escapeHtml(r.env)}</td><td>${escapeHtml(r.kind)}</td><td>${escapeHtml(r.version)}</td>
  <td><span class="badge ${OUTCOME_CLASS[r.outcome] ?? "bad"}">${escapeHtml(r.outcome)}</span></td>
  <td>${escapeHtml(formatSeconds(r.seconds))}</td>
  <td>${phaseBar(r.phases, r.rollbackPhases)}${r.cause ? `<div class="cause">${escapeHtml(r.cause)}</div>` : ""}</td>
</tr>`,
  );
  return `<table id="recent"><thead><tr><th>ended</th><th>env</th><th>kind</th><th>version</th><th>outcome</th><th>took</th><th>phases</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

const STYLE = `
:root{--fg:#1d2430;--muted:#5b6576;--bg:#f6f7f9;--card:#fff;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--line:#d8dde5}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:16px 24px;background:#1d2430;color:#fff}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9d1dc}
main{padding:16px 24px;display:grid;gap:20px}section h2{font-size:16px;margin:0 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:220px}
.card .env{font-weight:600;text-transform:uppercase;color:var(--muted);font-size:12px}.card .version{font-size:22px;font-weight:600}
.card .since,.card .detail{color:var(--muted);font-size:12px}.health{display:inline-block;margin:6px 0 2px;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;background:var(--muted)}
.health.healthy{background:var(--ok)}.health.unhealthy{background:var(--bad)}
table{border-collapse:collapse;background:var(--card);border:1px solid var(--line);width:100%}th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:#eef1f5;font-size:12px;color:var(--muted)}#metrics{width:auto}#recent td{white-space:nowrap}#recent td:last-child{white-space:normal}
.badge{padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
.bar{display:flex;height:8px;width:260px;background:#eef1f5;border-radius:4px;overflow:hidden}.seg{background:#4f7fd9;border-right:1px solid #fff}.seg.rb{background:#d9894f}
.phases{font-size:11px;color:var(--muted)}.cause{font-size:12px;color:var(--bad)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:12px}.chart{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px;height:300px}
.empty{color:var(--muted)}
`;

/** Draws the charts from the embedded data; a failure shows on the page instead of failing silently. */
const CHART_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById("shipit-data").textContent);
  var palette = ["#4f7fd9", "#d9894f", "#3aa675", "#a65fd9", "#d94f6b", "#7a8597"];
  var day = function (ms) { return new Date(ms).toISOString().slice(5, 16).replace("T", " "); };
  function series(byEnv) {
    return Object.keys(byEnv).map(function (env, i) {
      return { label: env, data: byEnv[env], borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], showLine: true, pointRadius: 4, tension: 0 };
    });
  }
  function line(id, byEnv, title) {
    return new Chart(document.getElementById(id), {
      type: "scatter",
      data: { datasets: series(byEnv) },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { title: { display: true, text: title }, tooltip: { callbacks: { label: function (c) { return c.dataset.label + " " + c.raw.version + " (" + c.raw.outcome + "): " + c.raw.y + " s"; } } } },
        scales: { x: { type: "linear", min: Date.parse(data.window.since), max: Date.parse(data.window.until), ticks: { callback: day, stepSize: 86400000 * Math.max(1, Math.ceil(data.window.days / 7)) } }, y: { beginAtZero: true, title: { display: true, text: "seconds" } } }
      }
    });
  }
  var o = data.series.outcomesPerDay;
  window.shipitCharts = {
    deployDurations: line("chart-deploy-durations", data.series.deployDurations, "Time to deploy"),
    rollbackDurations: line("chart-rollback-durations", data.series.rollbackDurations, "Time to roll back"),
    outcomes: new Chart(document.getElementById("chart-outcomes"), {
      type: "bar",
      data: { labels: o.days, datasets: [
        { label: "succeeded", data: o.succeeded, backgroundColor: "#1a7f37" },
        { label: "failed", data: o.failed, backgroundColor: "#cf222e" },
        { label: "rolled back", data: o.rolledBack, backgroundColor: "#9a6700" },
        { label: "manual rollbacks", data: o.rollbacks, backgroundColor: "#7a8597" }
      ] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { title: { display: true, text: "Outcomes per day (UTC)" } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
    })
  };
  document.documentElement.setAttribute("data-charts", "drawn");
})();
`;

/** The page. `chartJs` is the Chart.js UMD bundle's source (it defines the global `Chart`). */
export function renderDashboard(data: DashboardData, chartJs: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(data.title)}</h1><p>generated ${escapeHtml(fmtTime(data.generated))} · window ${escapeHtml(fmtTime(data.window.since))} → ${escapeHtml(fmtTime(data.window.until))} (${escapeHtml(formatDays(data.window.days))} days)</p></header>
<main>
<section><h2>Live</h2><div class="cards" id="live">${liveCards(data.live)}</div></section>
<section><h2>Delivery metrics</h2>${metricsTable(data.metrics)}</section>
<section><h2>Over time</h2><div class="charts">
<div class="chart"><canvas id="chart-deploy-durations" aria-label="Time to deploy"></canvas></div>
<div class="chart"><canvas id="chart-rollback-durations" aria-label="Time to roll back"></canvas></div>
<div class="chart"><canvas id="chart-outcomes" aria-label="Outcomes per day"></canvas></div>
</div></section>
<section><h2>Last ${data.recent.length} deployments</h2>${recentTable(data.recent)}</section>
</main>
<script type="application/json" id="shipit-data">${scriptJson(data)}</script>
<script>${inlineScript(chartJs)}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}
