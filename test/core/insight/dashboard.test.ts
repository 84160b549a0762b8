import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { buildDashboard, escapeHtml, liveFromLedger, renderDashboard, scriptJson } from "../../../src/core/insight/dashboard.js";
import { parseLedger } from "../../../src/core/insight/metrics.js";
import type { LedgerEntry } from "../../../src/core/deploy/contracts.js";
import { REPO } from "../../helpers/variants.js";

const dir = join(REPO, "test/fixtures/ledgers");
const ledger = (name: string) => parseLedger(readFileSync(join(dir, `${name}.jsonl`), "utf8")).entries;
const WEEK = { since: "2026-11-20T00:00:00Z", until: "2026-11-27T00:00:00Z" };

test("what is live, from the ledger alone: the last entry that left a release running", () => {
  expect(liveFromLedger("test", [])).toEqual({ env: "test", version: null, release: null, since: null, health: "unknown", detail: "no deploy in the ledger" });
  const rb = ledger("rollbacks");
  expect(liveFromLedger("test", rb)).toMatchObject({ version: "1.5.0", since: "2026-11-27T01:01:00Z", health: "unknown" });
  // A manual rollback to "previous" names the release; its version comes from the deploy that installed it.
  expect(liveFromLedger("test", rb.slice(0, 6))).toMatchObject({ version: "1.2.1", release: "1.2.1-20261121T123010Z", since: "2026-11-22T16:00:20Z", detail: "ledger: rollback succeeded" });
  // A failed deploy before the switch changes nothing; a failed rollback leaves the state unknown, flagged.
  expect(liveFromLedger("test", rb.slice(0, 7))).toMatchObject({ version: "1.2.1" });
  expect(liveFromLedger("test", rb.slice(0, 8))).toMatchObject({ version: null, health: "unhealthy", detail: "ledger: deploy of 1.3.2 failed and its rollback failed too" });
  expect(liveFromLedger("prod", ledger("failed-open"))).toMatchObject({ version: "2.0.0", since: "2026-11-25T10:03:30Z", detail: "ledger: 2.1.0 was rolled back" });
});

test("the host's status wins over the ledger, which still says since when", () => {
  const d = buildDashboard({
    ledgers: { test: ledger("rollbacks"), prod: ledger("failed-open") },
    status: { test: { current: "1.1.0-20261120T090010Z", version: "1.1.0", health: { ok: false, code: "HEALTH_NOT_CONNECTED", message: "not connected" } }, prod: { current: "2.0.0-20261124T100010Z", version: "2.0.0" } },
    window: WEEK,
    generated: "2026-11-27T00:00:00Z",
  });
  expect(d.live).toEqual([
    { env: "prod", version: "2.0.0", release: "2.0.0-20261124T100010Z", since: "2026-11-25T10:03:30Z", health: "unknown", detail: "no health URL" },
    { env: "test", version: "1.1.0", release: "1.1.0-20261120T090010Z", since: "2026-11-23T10:01:15Z", health: "unhealthy", detail: "HEALTH_NOT_CONNECTED: not connected" },
  ]);
  expect(d.series.outcomesPerDay).toEqual({
    days: ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"],
    succeeded: [1, 1, 1, 0, 1, 0, 1],
    failed: [0, 0, 0, 1, 0, 1, 0],
    rolledBack: [0, 1, 0, 1, 0, 1, 0],
    rollbacks: [0, 0, 1, 1, 0, 0, 0],
  });
  expect(d.series.rollbackDurations["test"]!.map((p) => p.y)).toEqual([15, 20, 30]);
  expect(d.recent.map((r) => r.version).slice(0, 3)).toEqual(["1.4.0", "2.1.1", "2.1.0"]);
});

test("the last 20 deployments, newest first, across environments", () => {
  const many: LedgerEntry[] = Array.from({ length: 25 }, (_, i) => ({
    kind: "deploy", env: "test", version: `1.0.${i}`, outcome: "succeeded", started: `2026-11-2${Math.floor(i / 5)}T1${i % 5}:00:00Z`, ended: `2026-11-2${Math.floor(i / 5)}T1${i % 5}:01:00Z`, seconds: 60, phases: { install: 50, health: 10 },
  }));
  const d = buildDashboard({ ledgers: { test: many }, window: WEEK, generated: "2026-11-27T00:00:00Z" });
  expect(d.recent.map((r) => r.version)).toEqual(Array.from({ length: 20 }, (_, i) => `1.0.${24 - i}`));
});

test("host-written text is escaped in the markup and in the embedded JSON", () => {
  expect(escapeHtml(`<img src=x onerror="a('b')">&`)).toBe("&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
  expect(scriptJson({ v: "</script><!-- \u2028" })).toBe('{"v":"\\u003c/script>\\u003c!-- \\u2028"}');
  const evil: LedgerEntry = { kind: "deploy", env: "test", version: '1.0.0"><script>alert(1)</script>', outcome: "failed", started: "2026-11-26T10:00:00Z", ended: "2026-11-26T10:01:00Z", seconds: 60, cause: { phase: "install", message: "</script><script>alert(2)</script>" } };
  const html = renderDashboard(buildDashboard({ ledgers: { test: [evil] }, window: WEEK, generated: "2026-11-27T00:00:00Z" }), "/* chart.js */");
  expect(html.match(/<script/g)).toHaveLength(3); // the data, the library, the charts: nothing from the ledger
  expect(html).toContain("1.0.0&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  expect(html).toContain("&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;");
});

test("a library containing </script> cannot end its element early", () => {
  const html = renderDashboard(buildDashboard({ ledgers: {}, window: WEEK, generated: "2026-11-27T00:00:00Z" }), 'var s = "</script><script>x()";');
  expect(html).toContain('var s = "<\\/script><script>x()";');
  expect(html.match(/<\/script>/g)).toHaveLength(3);
});
