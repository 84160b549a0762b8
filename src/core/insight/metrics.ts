/**
 * Delivery metrics from the hosts' ledgers (and git, for lead time): pure functions over plain data.
 *
 * Definitions (also in README.md, "Metrics and dashboard"). The window is [since, until): an entry
 * belongs to it when its `ended` time does. Entries after `until` are ignored entirely.
 *
 * - deploys: deploy attempts in the window (every ledger line of kind "deploy"; refusals before
 *   the lock never reach the ledger). succeeded / failed: outcome "succeeded" / anything else.
 * - frequencyPerDay: successful deploys ÷ the window's length in days.
 * - successRate: successful deploys ÷ deploys (null when there were none).
 * - rollbackRate: deploys that were rolled back ÷ deploys. A deploy was rolled back when its outcome
 *   is "rolled_back" or "rollback_failed" (the automatic rollback ran), or when the next ledger entry
 *   of the environment is a manual rollback.
 * - timeToDeploy: median and p90 of `seconds` over successful deploys.
 * - timeToRollback: median over completed rollbacks: an automatic one (outcome "rolled_back") takes
 *   the sum of its rollback phases; a successful manual rollback takes its `seconds`.
 * - timeToRestore: an incident opens at the end of an entry whose outcome is not "succeeded" (a
 *   failed deploy, a rolled-back deploy, a failed rollback) when none is open, and closes at the end
 *   of the next successful entry (deploy or rollback): the environment again runs a release someone
 *   chose, healthy. Median over the incidents opened in the window and closed by `until`. An
 *   incident still open at `until` is reported under `open` (since when, how many failures), never
 *   as a number.
 * - leadTime: median over successful deploys of (deploy `ended` − committer time of the artifact's
 *   commit, from the manifest via the ledger's `commit`). For prod this is DORA's lead time for
 *   changes. Deploys whose commit git does not know (shallow clone, no commit recorded) are counted in
 *   `unknownCommits`.
 *
 * Median: the middle value, or the mean of the two middle ones. p90: nearest rank (the value at
 * position ⌈0.9·n⌉ of the sorted samples). Seconds are rounded to 3 decimals, ratios to 4.
 */
import { z } from "zod";
import { ShipitError } from "../errors.js";
import { checkShape } from "../checks/parsers.js";
import { readLedgerEntry, type LedgerEntry, type LedgerOutcome } from "../deploy/contracts.js";
import { isoSeconds } from "../text.js";

export interface Window {
  since: string;
  until: string;
}

interface Quantiles {
  median: number | null;
  samples: number;
}

export interface EnvMetrics {
  deploys: number;
  succeeded: number;
  failed: number;
  /** Deploys rolled back, automatically or by the next entry being a manual rollback. */
  rolledBack: number;
  manualRollbacks: number;
  frequencyPerDay: number;
  successRate: number | null;
  rollbackRate: number | null;
  timeToDeploy: Quantiles & { p90: number | null };
  timeToRollback: Quantiles;
  timeToRestore: Quantiles & { open: { since: string; failures: number } | null };
  leadTime: Quantiles & { unknownCommits: number };
}

export interface MetricsReport {
  window: Window & { days: number };
  environments: Record<string, EnvMetrics>;
}

/** Commit sha → committer time (UTC ISO), as git answers it. */
export type CommitTimes = Record<string, string>;

const DAY = 86_400_000;
const ms = (iso: string) => Date.parse(iso);
/** Rounded to 3 decimals; a value too large to scale (1e308) is left as it is rather than made Infinity. */
export const secs = (n: number) => (Number.isFinite(n * 1000) ? Math.round(n * 1000) / 1000 : n);
/** A duration a ledger line can be believed on: a finite number of seconds, not negative (a hand edit or a cut line can hold anything). */
export const isDuration = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n >= 0;
/** How long a deploy's automatic rollback took: the sum of its rollback phases. */
export const rollbackSeconds = (e: LedgerEntry) => Object.values(e.rollbackPhases ?? {}).reduce((a, b) => a + b, 0);
const ratio = (n: number) => Math.round(n * 10_000) / 10_000;
const isRolledBackOutcome = (o: LedgerOutcome) => o === "rolled_back" || o === "rollback_failed";

/**
 * Parse ledger lines (JSONL, as on the host, or the agent's `history` entries). Lines that are not
 * JSON or not ledger entries (src/core/deploy/contracts.ts) are counted, not fatal: the host's own
 * reader does the same.
 */
export function parseLedger(text: string): { entries: LedgerEntry[]; corrupt: number } {
  const entries: LedgerEntry[] = [];
  let corrupt = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      corrupt++;
      continue;
    }
    const entry = asEntry(json);
    if (entry) entries.push(entry);
    else corrupt++;
  }
  return { entries, corrupt };
}

/** One parsed line as an entry, or null when it is not one (or its `ended` is no real time). */
function asEntry(json: unknown): LedgerEntry | null {
  const entry = readLedgerEntry(json);
  return entry && !Number.isNaN(ms(entry.ended)) ? entry : null;
}

/** The agent's `history` answer: its entries (newest first) and the lines the host itself could not read. */
const HistoryAnswer = z.object({ entries: z.array(z.unknown()), corrupt: z.number().int().nonnegative().optional() });

/**
 * The ledger in the agent's `history` answer. Each entry is validated as a ledger line (a bad one
 * is counted, as in a file); an answer of another shape is the agent broken, never an empty
 * ledger: InfraError REPORT_INVALID naming `from`.
 */
export function ledgerFromHistory(answer: unknown, from = "the host agent"): { entries: LedgerEntry[]; corrupt: number } {
  const history = checkShape(HistoryAnswer, answer, `the history answer of ${from}`);
  // each entry as a line of a file would be read, without writing it out and parsing it again
  const entries = history.entries.map(asEntry).filter((e): e is LedgerEntry => e !== null);
  return { entries, corrupt: history.entries.length - entries.length + (history.corrupt ?? 0) };
}

export function median(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : s[mid - 1]! / 2 + s[mid]! / 2; // halves first: two huge values do not overflow
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

const round = (v: number | null) => (v === null ? null : secs(v));

function commitTime(commit: string | null | undefined, times: CommitTimes): number | null {
  if (!commit || !/^[0-9a-f]{7,64}$/i.test(commit)) return null;
  const c = commit.toLowerCase();
  if (times[c]) return ms(times[c]);
  const hits = Object.keys(times).filter((k) => k.startsWith(c) || c.startsWith(k));
  return hits.length === 1 ? ms(times[hits[0]!]!) : null;
}

/** Entries oldest first by end time (the ledger is append-only, so ties keep their order). */
export function chronological(entries: LedgerEntry[]): LedgerEntry[] {
  return entries
    .map((e, i) => ({ e, i, t: ms(e.ended) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.e);
}

/** One environment's figures over the window. `entries` may be in any order and may include entries outside the window. */
export function computeEnvMetrics(entries: LedgerEntry[], window: Window, commitTimes: CommitTimes = {}): EnvMetrics {
  const since = ms(window.since);
  const until = ms(window.until);
  const all = chronological(entries).filter((e) => ms(e.ended) < until);
  const inWindow = (e: LedgerEntry) => ms(e.ended) >= since;
  const days = (until - since) / DAY;

  const deploys = all.filter((e) => e.kind === "deploy" && inWindow(e));
  const ok = deploys.filter((e) => e.outcome === "succeeded");
  const manual = all.filter((e) => e.kind === "rollback" && inWindow(e));

  let rolledBack = 0;
  // by position, not all.indexOf(d): a 100,000-line ledger would take minutes
  all.forEach((d, i) => {
    if (d.kind === "deploy" && inWindow(d) && (isRolledBackOutcome(d.outcome) || all[i + 1]?.kind === "rollback")) rolledBack++;
  });

  const deployTimes = ok.map((e) => e.seconds).filter(isDuration);
  const rollbackTimes = [
    ...deploys.filter((e) => e.outcome === "rolled_back").map(rollbackSeconds),
    ...manual.filter((e) => e.outcome === "succeeded").map((e) => e.seconds),
  ].filter(isDuration);

  const restores: number[] = [];
  let open: { since: string; at: number; failures: number } | null = null;
  for (const e of all) {
    if (e.outcome === "succeeded") {
      if (open && open.at >= since) restores.push((ms(e.ended) - open.at) / 1000);
      open = null;
    } else if (open) open.failures++;
    else open = { since: e.ended, at: ms(e.ended), failures: 1 };
  }
  const stillOpen = open && open.at >= since ? { since: open.since, failures: open.failures } : null;

  const leads: number[] = [];
  let unknownCommits = 0;
  const seen = new Map<string, number | null>(); // one lookup per commit: a prefix search walks every commit git knows
  for (const d of ok) {
    const key = d.commit ?? "";
    const t = seen.has(key) ? seen.get(key)! : commitTime(d.commit, commitTimes);
    seen.set(key, t);
    if (t === null) unknownCommits++;
    else leads.push((ms(d.ended) - t) / 1000);
  }

  return {
    deploys: deploys.length,
    succeeded: ok.length,
    failed: deploys.length - ok.length,
    rolledBack,
    manualRollbacks: manual.length,
    frequencyPerDay: days > 0 ? ratio(ok.length / days) : 0,
    successRate: deploys.length ? ratio(ok.length / deploys.length) : null,
    rollbackRate: deploys.length ? ratio(rolledBack / deploys.length) : null,
    timeToDeploy: { median: round(median(deployTimes)), p90: round(percentile(deployTimes, 90)), samples: deployTimes.length },
    timeToRollback: { median: round(median(rollbackTimes)), samples: rollbackTimes.length },
    timeToRestore: { median: round(median(restores)), samples: restores.length, open: stillOpen },
    leadTime: { median: round(median(leads)), samples: leads.length, unknownCommits },
  };
}

/** The window ending at `until` (default now) and reaching back `days` days. */
export function windowOf(days: number, until: string, since?: string): Window & { days: number } {
  const end = ms(until);
  const start = since ? ms(since) : end - days * DAY;
  if (Number.isNaN(end) || Number.isNaN(start)) throw new ShipitError("BAD_ARGUMENT", `the metrics window needs ISO times (got since=${since ?? "-"}, until=${until})`);
  if (start >= end) throw new ShipitError("BAD_ARGUMENT", `the metrics window is empty: since ${isoSeconds(start)} is not before until ${isoSeconds(end)}`);
  return { since: isoSeconds(start), until: isoSeconds(end), days: ratio((end - start) / DAY) };
}

/** Every environment's figures; `ledgers` maps env name → its entries. */
export function computeMetrics(ledgers: Record<string, LedgerEntry[]>, window: Window, commitTimes: CommitTimes = {}): MetricsReport {
  const w = windowOf(0, window.until, window.since);
  const environments: Record<string, EnvMetrics> = {};
  for (const env of Object.keys(ledgers).sort()) environments[env] = computeEnvMetrics(ledgers[env]!, w, commitTimes);
  return { window: w, environments };
}

// ---- renderers ----------------------------------------------------------------------------------

export function renderMetricsJson(report: MetricsReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** A duration in seconds (75, 4000, 200000) → "1m 15s", "1h 06m", "2d 07h"; null → "-". */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return "-";
  if (seconds < 60) return `${Number(seconds.toFixed(1))}s`;
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < DAY / 1000) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad(Math.floor((s % 86400) / 3600))}h`;
}

function formatPercent(r: number | null): string {
  return r === null ? "-" : `${(r * 100).toFixed(1)}%`;
}

/** The figures a human reads, metric per row and one column per environment. */
export function metricRows(m: EnvMetrics): [label: string, key: string, value: string][] {
  return [
    ["deploys", "deploys", `${m.deploys} (${m.succeeded} ok, ${m.failed} failed)`],
    ["deploys per day", "frequencyPerDay", m.frequencyPerDay.toFixed(2)],
    ["success rate", "successRate", formatPercent(m.successRate)],
    ["rollback rate", "rollbackRate", formatPercent(m.rollbackRate)],
    ["time to deploy p50", "timeToDeploy.median", formatSeconds(m.timeToDeploy.median)],
    ["time to deploy p90", "timeToDeploy.p90", formatSeconds(m.timeToDeploy.p90)],
    ["time to roll back p50", "timeToRollback.median", formatSeconds(m.timeToRollback.median)],
    ["time to restore p50", "timeToRestore.median", formatSeconds(m.timeToRestore.median)],
    ["open incident", "timeToRestore.open", m.timeToRestore.open ? `since ${m.timeToRestore.open.since} (${m.timeToRestore.open.failures} failed)` : "none"],
    ["lead time p50", "leadTime.median", formatSeconds(m.leadTime.median) + (m.leadTime.unknownCommits ? ` (${m.leadTime.unknownCommits} unknown commit${m.leadTime.unknownCommits > 1 ? "s" : ""})` : "")],
  ];
}

export function renderMetricsTable(report: MetricsReport): string {
  const envs = Object.keys(report.environments);
  const head = `shipit metrics ${report.window.since} → ${report.window.until} (${formatDays(report.window.days)} days)`;
  if (!envs.length) return `${head}\nno environments\n`;
  const rows = metricRows(report.environments[envs[0]!]!).map(([label], i) => [label, ...envs.map((e) => metricRows(report.environments[e]!)[i]![2])]);
  const table = [["metric", ...envs], ...rows];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join("  ");
  return [head, line(table[0]!), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}

const labelValue = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * Prometheus text exposition (version 0.0.4): one gauge family per figure, an `env` label, HELP and
 * TYPE before the samples. Figures with no value (no samples) are left out rather than sent as NaN,
 * so an alert on them does not fire on an empty window.
 */
export function renderPrometheus(report: MetricsReport): string {
  const families: [name: string, help: string, value: (m: EnvMetrics) => number | null][] = [
    ["shipit_deploys", "Deploy attempts in the window.", (m) => m.deploys],
    ["shipit_deploys_succeeded", "Successful deploys in the window.", (m) => m.succeeded],
    ["shipit_deploys_failed", "Failed deploys (including rolled back) in the window.", (m) => m.failed],
    ["shipit_deploys_rolled_back", "Deploys rolled back (automatically or by the next manual rollback) in the window.", (m) => m.rolledBack],
    ["shipit_rollbacks_manual", "Manual rollbacks in the window.", (m) => m.manualRollbacks],
    ["shipit_deploy_frequency_per_day", "Successful deploys per day over the window.", (m) => m.frequencyPerDay],
    ["shipit_deploy_success_ratio", "Successful deploys / deploy attempts.", (m) => m.successRate],
    ["shipit_deploy_rollback_ratio", "Rolled-back deploys / deploy attempts.", (m) => m.rollbackRate],
    ["shipit_deploy_duration_median_seconds", "Median time to deploy (successful deploys).", (m) => m.timeToDeploy.median],
    ["shipit_deploy_duration_p90_seconds", "90th percentile time to deploy (successful deploys, nearest rank).", (m) => m.timeToDeploy.p90],
    ["shipit_rollback_duration_median_seconds", "Median time to roll back (completed rollbacks).", (m) => m.timeToRollback.median],
    ["shipit_restore_time_median_seconds", "Median time from a failed entry to the next successful one.", (m) => m.timeToRestore.median],
    ["shipit_incident_open", "1 while the last failure has not been followed by a successful deploy or rollback.", (m) => (m.timeToRestore.open ? 1 : 0)],
    ["shipit_incident_open_since_timestamp_seconds", "Unix time of the open incident's first failure.", (m) => (m.timeToRestore.open ? ms(m.timeToRestore.open.since) / 1000 : null)],
    ["shipit_lead_time_median_seconds", "Median time from the deployed commit to the deploy's end (successful deploys).", (m) => m.leadTime.median],
  ];
  const out: string[] = [];
  for (const [name, help, value] of families) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [env, m] of Object.entries(report.environments)) {
      const v = value(m);
      if (v !== null) out.push(`${name}{env="${labelValue(env)}"} ${v}`);
    }
  }
  out.push("# HELP shipit_metrics_window_seconds Length of the window the figures cover.", "# TYPE shipit_metrics_window_seconds gauge", `shipit_metrics_window_seconds ${(ms(report.window.until) - ms(report.window.since)) / 1000}`);
  return out.join("\n") + "\n";
}

export function renderMetrics(report: MetricsReport, format: string): string {
  if (format === "json") return renderMetricsJson(report);
  if (format === "table") return renderMetricsTable(report);
  if (format === "prometheus") return renderPrometheus(report);
  throw new ShipitError("BAD_ARGUMENT", `unknown metrics format "${format}": use json, table or prometheus`);
}

/** A window's length for people: whole days as they are, others to one decimal (11.9, not 11.9057). */
export function formatDays(days: number): string {
  return Number.isInteger(days) ? String(days) : days.toFixed(1);
}
