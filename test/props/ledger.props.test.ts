/**
 * Property (issue #20, part 4): a ledger of any mix of entries, lines from a newer shipit, garbage,
 * blank lines, CRLF ends and a last line cut off mid-append is read by metrics and the dashboard
 * without an exception: every entry kept, every other non-blank line counted as skipped, every
 * figure a finite number or null, the page's scripts only its own (values from the ledger are
 * escaped). The host agent's own reader (history) has its property in test/agent/test_props_ledger.py.
 */
import fc from "fast-check";
import { expect, test } from "vitest";
import { buildDashboard, renderDashboard } from "../../src/core/insight/dashboard.js";
import { computeMetrics, ledgerFromHistory, parseLedger, renderMetrics } from "../../src/core/insight/metrics.js";
import { ledger } from "./ledger-lines.js";
import { props } from "./seed.js";

const WINDOW = { since: "2026-11-05T00:00:00Z", until: "2026-12-05T00:00:00Z" };
const CHART = "/* chart.js */";
const SCRIPTS = (html: string) => html.match(/<script/gi)?.length ?? 0;
const EMPTY_PAGE_SCRIPTS = SCRIPTS(renderDashboard(buildDashboard({ ledgers: { prod: [], test: [] }, window: WINDOW, generated: WINDOW.until }), CHART));

function numbers(v: unknown, out: number[] = []): number[] {
  if (typeof v === "number") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => numbers(x, out));
  else if (v && typeof v === "object") Object.values(v).forEach((x) => numbers(x, out));
  return out;
}

test("600 generated ledgers: every entry kept, every other line counted, metrics and the dashboard answer", () => {
  let lines = 0;
  let skipped = 0;
  fc.assert(
    fc.property(ledger, ledger, ({ text, entries, skipped: want }, prod) => {
      const parsed = parseLedger(text);
      expect([parsed.entries.length, parsed.corrupt]).toEqual([entries, want]);
      // the agent's history answer carries the same entries as JSON and the host's own count
      const fromHost = ledgerFromHistory({ entries: parsed.entries, corrupt: parsed.corrupt });
      expect([fromHost.entries.length, fromHost.corrupt]).toEqual([entries, want]);
      const ledgers = { test: parsed.entries, prod: parseLedger(prod.text).entries };
      const report = computeMetrics(ledgers, WINDOW);
      const bad = numbers(report).find((n) => !Number.isFinite(n));
      if (bad !== undefined) throw new Error(`a metrics figure is ${bad}`);
      for (const format of ["json", "table", "prometheus"]) expect(renderMetrics(report, format)).not.toMatch(/NaN|Infinity/);
      const data = buildDashboard({ ledgers, window: WINDOW, generated: WINDOW.until });
      const badPoint = numbers(data).find((n) => !Number.isFinite(n));
      if (badPoint !== undefined) throw new Error(`a dashboard number is ${badPoint}`);
      const html = renderDashboard(data, CHART);
      expect(SCRIPTS(html)).toBe(EMPTY_PAGE_SCRIPTS);
      lines += text.split("\n").length + prod.text.split("\n").length;
      skipped += want + prod.skipped;
    }),
    props(600),
  );
  console.log(`ledger property: 600 cases (1,200 ledgers, ${lines} lines, ${skipped} of them skipped as unreadable)`);
});
