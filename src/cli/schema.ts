/** Regenerate config/shipit.schema.json from the zod schema: `npm run schema`. */
import { writeFile } from "node:fs/promises";
import { z } from "zod";
import { UserConfigSchema } from "../core/config.js";

const target = new URL("../../config/shipit.schema.json", import.meta.url);
await writeFile(target, JSON.stringify(z.toJSONSchema(UserConfigSchema), null, 2) + "\n");
console.log(`wrote ${target.pathname}`);
