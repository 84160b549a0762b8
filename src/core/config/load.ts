import type { ResolvedConfig, SourceView } from "./config.js";
import { resolveConfig } from "./config.js";
import { ConfigError, configIssue } from "../errors.js";

const CONFIG_FILE = "shipit.json";

/**
 * Find and resolve the config: an explicit file's text wins, else `shipit.json` at the source root,
 * else the defaults alone.
 */
export async function loadConfig(view: SourceView, explicit?: { text: string; origin: string }): Promise<ResolvedConfig> {
  if (explicit) return resolveConfig(explicit.text, explicit.origin, view);
  const text = await view.read(CONFIG_FILE);
  if (text === null && (await view.kind(CONFIG_FILE)) === "dir") {
    throw new ConfigError(CONFIG_FILE, [configIssue({ code: "IS_A_DIRECTORY", path: [], key: "(file)", problem: "is a directory", fix: "make shipit.json a JSON file" })]);
  }
  return resolveConfig(text, text === null ? "defaults (no shipit.json)" : CONFIG_FILE, view);
}
