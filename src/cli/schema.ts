/** Regenerate config/shipit.schema.json from the zod schema: `npm run schema` (shipit schema). */
import { writeFile } from "node:fs/promises";
import { z } from "zod";
import { UserConfigSchema } from "../core/config/config.js";

const SCHEMA_FILE = new URL("../../config/shipit.schema.json", import.meta.url);

function renderSchema(): string {
  return JSON.stringify(z.toJSONSchema(UserConfigSchema), null, 2) + "\n";
}

export async function main(): Promise<number> {
  await writeFile(SCHEMA_FILE, renderSchema());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
  return 0;
}
