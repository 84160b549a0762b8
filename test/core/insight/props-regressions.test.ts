/**
 * The shrunk cases the ledger property (test/props/ledger.props.test.ts) found, as plain tests.
 */
import { expect, test } from "vitest";
import { computeMetrics, median, parseLedger, renderMetrics } from "../../../src/core/insight/metrics.js";
import { buildDashboard } from "../../../src/core/insight/dashboard.js";

const WINDOW = { since: "2026-11-05T00:00:00Z", until: "2026-12-05T00:00:00Z" };
const line = (seconds: number, version = "1.0.0") => JSON.stringify({ kind: "deploy", env: "test", version, outcome: "succeeded", seconds, started: "2026-11-04T23:02:03Z", ended: "2026-11-05T00:00:00Z" });

test("a deploy whose seconds is 1e308 (a corrupted digit) gives finite figures, not Infinity", () => {
  const { entries } = parseLedger(`${line(1e308)}\n`);
  const m = computeMetrics({ test: entries }, WINDOW).environments["test"]!;
  expect(m.timeToDeploy).toEqual({ median: 1e308, p90: 1e308, samples: 1 });
  expect(renderMetrics(computeMetrics({ test: entries }, WINDOW), "prometheus")).not.toMatch(/Inf|NaN/);
});

test("the median of two 1e308 durations is 1e308, not Infinity", () => {
  expect(median([1e308, 1e308])).toBe(1e308);
  expect(median([1, 2])).toBe(1.5);
});

test("a negative duration is not a sample of time to deploy, nor a point of the dashboard", () => {
  const { entries } = parseLedger(`${line(-1)}\n${line(30, "1.0.1")}\n`);
  expect(computeMetrics({ test: entries }, WINDOW).environments["test"]!.timeToDeploy).toEqual({ median: 30, p90: 30, samples: 1 });
  const d = buildDashboard({ ledgers: { test: entries }, window: WINDOW, generated: WINDOW.until });
  expect(d.series.deployDurations["test"]!.map((p) => p.y)).toEqual([30]);
});

test("two rollback phases of 1e308 (their sum is Infinity) are not a rollback time", () => {
  const rb = JSON.stringify({ kind: "deploy", env: "test", version: "1", outcome: "rolled_back", rollbackPhases: { a: 1e308, b: 1e308 }, started: "2026-11-06T00:00:00Z", ended: "2026-11-06T00:01:00Z" });
  const m = computeMetrics({ test: parseLedger(rb).entries }, WINDOW).environments["test"]!;
  expect(m.timeToRollback).toEqual({ median: null, samples: 0 });
});
