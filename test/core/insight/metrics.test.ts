import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { InfraError } from "../../../src/core/errors.js";
import { buildDeployPlan, deployPaths } from "../../../src/core/deploy/plan.js";
import { resolveEnvironment } from "../../../src/core/config/environments.js";
import { computeEnvMetrics, computeMetrics, formatSeconds, ledgerFromHistory, median, parseLedger, percentile, renderMetrics, renderMetricsTable, renderPrometheus, windowOf, type EnvMetrics } from "../../../src/core/insight/metrics.js";
import { REPO } from "../../helpers/variants.js";

const dir = join(REPO, "test/fixtures/ledgers");
const ledger = (name: string) => parseLedger(readFileSync(join(dir, `${name}.jsonl`), "utf8"));
const commits = JSON.parse(readFileSync(join(dir, "commits.json"), "utf8")) as Record<string, string>;
const WEEK = { since: "2026-11-20T00:00:00Z", until: "2026-11-27T00:00:00Z" };

const EMPTY: EnvMetrics = {
  deploys: 0, succeeded: 0, failed: 0, rolledBack: 0, manualRollbacks: 0, frequencyPerDay: 0, successRate: null, rollbackRate: null,
  timeToDeploy: { median: null, p90: null, samples: 0 }, timeToRollback: { median: null, samples: 0 },
  timeToRestore: { median: null, samples: 0, open: null }, leadTime: { median: null, samples: 0, unknownCommits: 0 },
};

test.each([
  ["empty", 0, EMPTY],
  [
    "single-deploy", 0,
    { ...EMPTY, deploys: 1, succeeded: 1, frequencyPerDay: 0.1429, successRate: 1, rollbackRate: 0, timeToDeploy: { median: 65.25, p90: 65.25, samples: 1 }, leadTime: { median: 1865, samples: 1, unknownCommits: 0 } },
  ],
  [
    // 1.2.0 rolled back (health), 1.3.0 rolled back by hand, 1.3.1 failed before the switch, 1.3.2's rollback failed,
    // a manual rollback restored; one deploy before the window, one after it.
    "rollbacks", 0,
    {
      deploys: 7, succeeded: 4, failed: 3, rolledBack: 3, manualRollbacks: 2, frequencyPerDay: 0.5714, successRate: 0.5714, rollbackRate: 0.4286,
      timeToDeploy: { median: 95, p90: 120, samples: 4 }, // 80 90 100 120
      timeToRollback: { median: 20, samples: 3 }, // automatic 0.5+2.5+12 = 15, manual 20 and 30
      timeToRestore: { median: 4485, samples: 2, open: null }, // 12:03:00 → 12:32:00 = 1740 s, 08:00:45 → 10:01:15 = 7230 s
      leadTime: { median: 3680, samples: 3, unknownCommits: 1 }, // 3690, 1320, 3680; commit c… unknown to git
    },
  ],
  [
    "failed-open", 1,
    {
      deploys: 3, succeeded: 1, failed: 2, rolledBack: 1, manualRollbacks: 0, frequencyPerDay: 0.1429, successRate: 0.3333, rollbackRate: 0.3333,
      timeToDeploy: { median: 120, p90: 120, samples: 1 }, timeToRollback: { median: 18.5, samples: 1 },
      timeToRestore: { median: null, samples: 0, open: { since: "2026-11-25T10:03:30Z", failures: 2 } },
      leadTime: { median: null, samples: 0, unknownCommits: 1 },
    },
  ],
] as const)("golden ledger %s gives exact figures", (name, corrupt, expected) => {
  const l = ledger(name);
  expect(l.corrupt).toBe(corrupt);
  expect(computeEnvMetrics(l.entries, WEEK, commits)).toEqual(expected);
});

test("an incident that opened before the window is not counted; entries after the window are ignored", () => {
  const { entries } = ledger("rollbacks");
  // From 2026-11-23T08:30Z: the 1.3.1 failure (08:00:45) is outside, so its restore is not counted.
  const m = computeEnvMetrics(entries, { since: "2026-11-23T08:30:00Z", until: "2026-11-26T00:00:00Z" }, commits);
  expect(m).toMatchObject({ deploys: 1, succeeded: 0, failed: 1, rolledBack: 1, manualRollbacks: 1, timeToRestore: { median: null, samples: 0, open: null } });
  // Up to just before the manual rollback that restored it: still open since the first failure.
  expect(computeEnvMetrics(entries, { since: "2026-11-20T00:00:00Z", until: "2026-11-23T10:00:00Z" }).timeToRestore.open).toEqual({ since: "2026-11-23T08:00:45Z", failures: 2 });
});

test("median, nearest-rank p90 and durations", () => {
  expect(median([])).toBeNull();
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90)).toBe(10);
  expect(percentile([7], 90)).toBe(7);
  expect([null, 4.25, 18.5, 59.96, 65.25, 4485, 200_000].map(formatSeconds)).toEqual(["-", "4.3s", "18.5s", "60s", "1m 05s", "1h 14m", "2d 07h"]);
});

test("the agent's history answer (newest first) gives the same figures as the file", () => {
  const file = ledger("rollbacks").entries;
  const answer = { ok: true, entries: [...file].reverse(), total: file.length, corrupt: 0 };
  expect(computeEnvMetrics(ledgerFromHistory(answer).entries, WEEK, commits)).toEqual(computeEnvMetrics(file, WEEK, commits));
});

test("a history answer of another shape is REPORT_INVALID, never an empty ledger; the host's own corrupt count is kept", () => {
  expect(() => ledgerFromHistory({ ok: true, entries: { a: 1 } }, "the host agent of prod")).toThrow(
    expect.objectContaining({ name: "InfraError", code: "REPORT_INVALID", message: "the history answer of the host agent of prod has an unexpected shape: entries: expected array, received object" }),
  );
  expect(() => ledgerFromHistory(undefined)).toThrow(new InfraError("REPORT_INVALID", "the history answer of the host agent has an unexpected shape: (root): expected object, received undefined"));
  expect(() => ledgerFromHistory({ ok: true, entries: [], corrupt: -1 })).toThrow(/corrupt: Too small/);
  const file = ledger("rollbacks").entries;
  expect(ledgerFromHistory({ ok: true, entries: [...file.slice(0, 2), { kind: "deploy" }], corrupt: 3 })).toEqual({ entries: file.slice(0, 2), corrupt: 4 });
});

test("a bad window is refused with the fix", () => {
  expect(() => windowOf(7, "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z")).toThrowErrorMatchingInlineSnapshot(`[ShipitError: the metrics window is empty: since 2026-11-21T00:00:00Z is not before until 2026-11-20T00:00:00Z]`);
  expect(() => windowOf(7, "yesterday")).toThrowErrorMatchingInlineSnapshot(`[ShipitError: the metrics window needs ISO times (got since=-, until=yesterday)]`);
  expect(windowOf(30, "2026-11-27T00:00:00Z")).toEqual({ since: "2026-10-28T00:00:00Z", until: "2026-11-27T00:00:00Z", days: 30 });
  expect(() => renderMetrics(computeMetrics({}, WEEK), "csv")).toThrowErrorMatchingInlineSnapshot(`[ShipitError: unknown metrics format "csv": use json, table or prometheus]`);
});

const BOTH = () => computeMetrics({ test: ledger("rollbacks").entries, prod: ledger("failed-open").entries }, WEEK, commits);

test("the table for humans: one row per metric, one column per environment", () => {
  expect(renderMetricsTable(BOTH())).toBe(`shipit metrics 2026-11-20T00:00:00Z → 2026-11-27T00:00:00Z (7 days)
metric                 prod                                   test
---------------------  -------------------------------------  -------------------------
deploys                3 (1 ok, 2 failed)                     7 (4 ok, 3 failed)
deploys per day        0.14                                   0.57
success rate           33.3%                                  57.1%
rollback rate          33.3%                                  42.9%
time to deploy p50     2m 00s                                 1m 35s
time to deploy p90     2m 00s                                 2m 00s
time to roll back p50  18.5s                                  20s
time to restore p50    -                                      1h 14m
open incident          since 2026-11-25T10:03:30Z (2 failed)  none
lead time p50          - (1 unknown commit)                   1h 01m (1 unknown commit)
`);
  expect(renderMetricsTable(computeMetrics({}, WEEK))).toBe("shipit metrics 2026-11-20T00:00:00Z → 2026-11-27T00:00:00Z (7 days)\nno environments\n");
});

test("JSON output round-trips the report", () => {
  const r = BOTH();
  expect(JSON.parse(renderMetrics(r, "json"))).toEqual(r);
  expect(r.window).toEqual({ ...WEEK, days: 7 });
});

test("Prometheus text: exact exposition, HELP and TYPE before samples, an env label, no sample without a value", () => {
  const text = renderPrometheus(BOTH());
  expect(text).toBe(readFileSync(join(dir, "expected.prom"), "utf8"));
  // The exposition grammar, line by line: comments are HELP/TYPE, samples are name{labels} value.
  const declared = new Set<string>();
  for (const line of text.trimEnd().split("\n")) {
    const help = /^# HELP ([a-z_:][a-z0-9_:]*) \S.*$/.exec(line);
    const type = /^# TYPE ([a-z_:][a-z0-9_:]*) gauge$/.exec(line);
    const sample = /^([a-z_:][a-z0-9_:]*)(\{env="(?:[^"\\\n]|\\["\\n])*"\})? (-?\d+(\.\d+)?)$/.exec(line);
    expect(help || type || sample, line).toBeTruthy();
    if (type) declared.add(type[1]!);
    if (sample) expect(declared.has(sample[1]!), `${sample[1]} sampled before its TYPE`).toBe(true);
  }
  expect(text).toContain('shipit_incident_open{env="prod"} 1\n');
  expect(text).toContain(`shipit_incident_open_since_timestamp_seconds{env="prod"} ${Date.parse("2026-11-25T10:03:30Z") / 1000}\n`);
  expect(text).not.toContain('shipit_restore_time_median_seconds{env="prod"}');
  expect(text).not.toMatch(/NaN|null|undefined/);
  expect(renderPrometheus(computeMetrics({ 'we"ird\\env': [] }, WEEK))).toContain('shipit_deploys{env="we\\"ird\\\\env"} 0\n');
});

test("the deploy plan records the artifact's commit in the ledger entry, so lead time can join git", () => {
  const env = resolveEnvironment("test", { test: { host: "10.0.0.5" } });
  const base = { env, run: "r1", version: "1.2.0", sha256: "ab".repeat(32), trigger: "push", agentHash: "0".repeat(64), paths: deployPaths("/tmp/x") };
  expect(buildDeployPlan({ ...base, commit: "a".repeat(40) }).ledger!.entry).toMatchObject({ commit: "a".repeat(40) });
  expect(buildDeployPlan(base).ledger!.entry).not.toHaveProperty("commit");
});
