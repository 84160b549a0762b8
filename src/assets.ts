import { readFile } from "node:fs/promises";
import { PACK_SCRIPT } from "./core/plan.js";

/** shipit's own helper scripts, read from the module's files so they travel with it into the engine's runtime. */
export function packScript(): Promise<string> {
  return readFile(new URL(`./python/${PACK_SCRIPT}`, import.meta.url), "utf8");
}
