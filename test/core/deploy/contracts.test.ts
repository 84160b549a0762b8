import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { renderContracts } from "../../../src/cli/schema.js";
import { BotHealthSchema, CONTRACTS, DriverOutcomeSchema, LedgerEntrySchema, LedgerOutcomeSchema, readLedgerEntry } from "../../../src/core/deploy/contracts.js";
import { DriverResultSchema } from "../../../src/core/deploy/plan.js";
import { parseLedger } from "../../../src/core/insight/metrics.js";
import { REPO } from "../../helpers/variants.js";

interface Golden {
  valid: unknown[];
  invalid: { why: string; value: unknown }[];
  legacy?: { value: Record<string, unknown>; readsAs: string }[];
}
const golden = async (name: string): Promise<Golden> => JSON.parse(await readFile(join(REPO, "test/fixtures/contracts", name), "utf8")) as Golden;

test("config/contracts/ holds exactly the generated JSON Schema files, up to date (run `npm run schema` when this fails)", async () => {
  const dir = join(REPO, "config/contracts");
  const rendered = renderContracts();
  expect((await readdir(dir)).sort()).toEqual(Object.keys(rendered).sort());
  for (const [file, text] of Object.entries(rendered)) expect(await readFile(join(dir, file), "utf8"), file).toBe(text);
  expect(Object.keys(CONTRACTS).sort()).toEqual(["health.schema.json", "ledger-entry.schema.json"]);
});

test("the JSON Schema files say what the agent's tests rely on: required fields, enums, the time pattern, extra fields allowed", () => {
  const ledger = JSON.parse(renderContracts()["ledger-entry.schema.json"]!);
  expect(ledger.required).toEqual(["kind", "env", "version", "outcome", "started", "ended"]);
  expect(ledger.properties.outcome.enum).toEqual(["succeeded", "failed", "rolled_back", "rollback_failed"]);
  expect(ledger.properties.ended.pattern).toBe("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$");
  expect(ledger.additionalProperties).toBeUndefined();
  const health = JSON.parse(renderContracts()["health.schema.json"]!);
  expect(health.required).toEqual(["status", "connected", "channel", "version", "uptime"]);
  expect(health.properties.uptime).toMatchObject({ type: "number", minimum: 0 });
});

describe("golden ledger lines", () => {
  test("valid ones parse, unchanged, and an unknown field is kept out of the typed entry", async () => {
    const g = await golden("ledger-entry.json");
    expect(g.valid).toHaveLength(4);
    for (const v of g.valid) expect(LedgerEntrySchema.safeParse(v).success, JSON.stringify(v)).toBe(true);
    expect(readLedgerEntry(g.valid[3])).not.toHaveProperty("fieldFromANewerDriver");
    expect(parseLedger(g.valid.map((v) => JSON.stringify(v)).join("\n"))).toMatchObject({ corrupt: 0, entries: { length: 4 } });
  });
  test("invalid ones are refused, each for the reason it names", async () => {
    const g = await golden("ledger-entry.json");
    expect(g.invalid.map((i) => [i.why, LedgerEntrySchema.safeParse(i.value).success])).toEqual(g.invalid.map((i) => [i.why, false]));
    // The reader counts them as corrupt, except the legacy word, which it reads as today's.
    const read = parseLedger(g.invalid.map((i) => JSON.stringify(i.value)).join("\n"));
    expect(read.corrupt).toBe(g.invalid.length - 1);
    expect(read.entries.map((e) => e.outcome)).toEqual(["succeeded"]);
  });
  test('a legacy "success" line is read as "succeeded" (only by the reader, never by the schema)', async () => {
    const g = await golden("ledger-entry.json");
    for (const l of g.legacy!) {
      expect(readLedgerEntry(l.value)?.outcome).toBe(l.readsAs);
      expect(LedgerEntrySchema.safeParse(l.value).success).toBe(false);
    }
    expect(readLedgerEntry({ ...g.legacy![0]!.value, outcome: "toString" })).toBeNull();
  });
});

test("the driver's outcomes are the ledger's and two that never reach it", () => {
  expect(DriverOutcomeSchema.options).toEqual([...LedgerOutcomeSchema.options, "refused", "error"]);
  expect(DriverResultSchema.shape.outcome).toBe(DriverOutcomeSchema);
});

describe("golden health answers", () => {
  test("valid ones parse; extra fields are allowed", async () => {
    const g = await golden("health.json");
    expect(g.valid).toHaveLength(3);
    for (const v of g.valid) expect(BotHealthSchema.safeParse(v).success, JSON.stringify(v)).toBe(true);
  });
  test("invalid ones are refused", async () => {
    const g = await golden("health.json");
    expect(g.invalid.map((i) => [i.why, BotHealthSchema.safeParse(i.value).success])).toEqual(g.invalid.map((i) => [i.why, false]));
  });
});
