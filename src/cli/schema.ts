/**
 * Regenerate the JSON Schema files from their zod sources: `npm run schema` (shipit schema).
 * config/shipit.schema.json from the config's schema, and config/contracts/*.schema.json from the
 * host contracts (src/core/deploy/contracts.ts). test/core/deploy/contracts.test.ts fails when they are stale.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { z } from "zod";
import { UserConfigSchema } from "../core/config/config.js";
import { CONTRACTS } from "../core/deploy/contracts.js";

export const SCHEMA_FILE = new URL("../../config/shipit.schema.json", import.meta.url);
export const CONTRACTS_DIR = new URL("../../config/contracts/", import.meta.url);

function renderSchema(): string {
  return JSON.stringify(z.toJSONSchema(UserConfigSchema), null, 2) + "\n";
}

/**
 * Each contract's JSON Schema by file name. `io: "input"`: what a reader accepts, so fields this
 * version does not know are allowed (an older or newer writer may add some).
 */
export function renderContracts(): Record<string, string> {
  return Object.fromEntries(Object.entries(CONTRACTS).map(([file, schema]) => [file, JSON.stringify(z.toJSONSchema(schema, { io: "input" }), null, 2) + "\n"]));
}

export async function main(): Promise<number> {
  await writeFile(SCHEMA_FILE, renderSchema());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
  await mkdir(CONTRACTS_DIR, { recursive: true });
  for (const [file, text] of Object.entries(renderContracts())) {
    const url = new URL(file, CONTRACTS_DIR);
    await writeFile(url, text);
    console.log(`wrote ${url.pathname}`);
  }
  return 0;
}
