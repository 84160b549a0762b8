/**
 * npm run bench:ledger — a 100,000-line ledger (generated, seeded: entries, lines from a newer
 * shipit, garbage, a last line cut off mid-append) through every reader, each in its own process
 * measured by /usr/bin/time: the host agent's `history` (the whole ledger, as metrics ask for it)
 * and `status`, and `shipit metrics` and `shipit dashboard` on the file. Prints wall time, peak
 * RSS and the lines each reported skipped. Not a test: nothing asserts a time (issue #20, part 4).
 *
 *   LEDGER_LINES=100000 SHIPIT_PROP_SEED=202026 npm run bench:ledger
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { entry, garbage } from "../props/ledger-lines.js";
import { SEED } from "../props/seed.js";
import { computeMetrics, ledgerFromHistory, parseLedger } from "../../src/core/insight/metrics.js";
import { buildDashboard, renderDashboard } from "../../src/core/insight/dashboard.js";
import { REPO } from "../helpers/variants.js";

const LINES = Number(process.env["LEDGER_LINES"] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), "shipit-ledger-bench-"));
const base = join(dir, "base");
mkdirSync(base);

// Mostly entries as the driver writes them (1% lines from a newer shipit with unknown fields, 1%
// garbage of every kind the property test makes), in time order, then a last line cut off.
const entries = fc.sample(entry, { seed: SEED, numRuns: LINES - 1 });
const junk = fc.sample(garbage, { seed: SEED + 1, numRuns: Math.ceil(LINES / 100) });
const rows: string[] = [];
let skippedLines = 0;
entries.forEach((e, i) => {
  if (i % 100 === 50) {
    rows.push(junk[(i / 100) | 0]!);
    skippedLines++;
  } else rows.push(JSON.stringify(i % 100 === 7 ? { ...e, x_newField: { nested: [1, 2] }, schema: 2 } : e));
});
const text = `${rows.join("\n")}\n{"kind":"deploy","env":"test","version":"9.9.9","outcome":"succ`; // the host lost power mid-append
const lines = rows.length + 1;
skippedLines++;
writeFileSync(join(base, "ledger.jsonl"), text);
const file = join(base, "ledger.jsonl");

function measure(name: string, argv: string[], skipped: (stdout: string, stderr: string) => string): void {
  const r = spawnSync("/usr/bin/time", ["-f", "\n%e s %M KB", ...argv], { encoding: "utf8", maxBuffer: 1 << 30, cwd: REPO });
  const [secs, kb] = /\n([\d.]+) s (\d+) KB\s*$/.exec(r.stderr)!.slice(1);
  if (r.status !== 0) throw new Error(`${name} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  console.log(`${name.padEnd(34)} ${secs!.padStart(6)} s  ${(Number(kb) / 1024).toFixed(0).padStart(5)} MB peak RSS  ${skipped(r.stdout, r.stderr)}`);
}

const agent = join(REPO, "src/python/shipit_agent.py");
const shipit = join(REPO, "dagger/bin/shipit.mjs");
console.log(`ledger: ${lines} lines, ${(statSync(file).size / 1e6).toFixed(1)} MB, ${skippedLines} of them unreadable (seed ${SEED})`);
const lastJson = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!) as Record<string, unknown>;
measure("agent history --limit 1000000", ["python3", agent, "history", "--base", base, "--limit", "1000000"], (out) => {
  const a = lastJson(out) as { total: number; corrupt: number; entries: unknown[] };
  return `${a.total} entries, ${a.corrupt} lines skipped (answer ${(out.length / 1e6).toFixed(1)} MB)`;
});
measure("agent history --limit 20", ["python3", agent, "history", "--base", base, "--limit", "20"], (out) => `${(lastJson(out) as { corrupt: number }).corrupt} lines skipped`);
measure("agent status", ["python3", agent, "status", "--base", base], (out) => `ok=${String(lastJson(out)["ok"])} (status does not read the ledger)`);
const skippedOf = (err: string) => /(\d+) ledger line\(s\) could not be read/.exec(err)?.[1] ?? "0";
measure("shipit metrics --ledger (json)", ["node", shipit, "metrics", `--ledger=test=${file}`, "--since=2026-11-01T00:00:00Z", "--until=2026-12-15T00:00:00Z", "--format=json", `--git=${REPO}`], (_, err) => `${skippedOf(err)} lines skipped`);
const html = join(dir, "dashboard.html");
measure("shipit dashboard --ledger", ["node", shipit, "dashboard", `--ledger=test=${file}`, "--days=44", "--until=2026-12-15T00:00:00Z", "-o", html, `--git=${REPO}`], (_, err) => `${skippedOf(err)} lines skipped, page ${(statSync(html).size / 1e6).toFixed(1)} MB`);
// In this process, each step alone (heap after it; the figures above include tsx's start-up and git).
const W = { since: "2026-11-01T00:00:00Z", until: "2026-12-15T00:00:00Z" };
const step = <T>(name: string, f: () => T): T => {
  const t0 = performance.now();
  const out = f();
  console.log(`  in process: ${name.padEnd(26)} ${((performance.now() - t0) / 1000).toFixed(2).padStart(6)} s  heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB`);
  return out;
};
const parsed = step("parseLedger", () => parseLedger(text));
const history = spawnSync("python3", [agent, "history", "--base", base, "--limit", "1000000"], { encoding: "utf8", maxBuffer: 1 << 30 });
step("ledgerFromHistory", () => ledgerFromHistory(JSON.parse(history.stdout.trim().split("\n").at(-1)!)));
step("computeMetrics", () => computeMetrics({ test: parsed.entries }, W));
const data = step("buildDashboard", () => buildDashboard({ ledgers: { test: parsed.entries }, window: W, generated: W.until }));
step("renderDashboard", () => renderDashboard(data, ""));
console.log(`  in process: peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
rmSync(dir, { recursive: true, force: true });
