/**
 * The bot's config in its own format (`environments.<env>.runtimeConfig`): the template's paths
 * checked where the config is read, since the template is in the repository. The host agent
 * renders the same template from the release (shipit_agent.py `configure`), with the same rules.
 */
import { configIssue, type ConfigIssue } from "../errors.js";
import type { RuntimeConfig } from "./environments.js";

/** `user[1]` -> ["user", 1]; `llm.model` -> ["llm", "model"]. The grammar (JsonPath) is checked before. */
export function parseJsonPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** Where a path leaves the template: the first missing key or index, or null when it is there. */
export function missingAt(doc: unknown, path: (string | number)[]): string | null {
  let cur: unknown = doc;
  let seen = "";
  for (const seg of path) {
    const name = typeof seg === "number" ? `${seen}[${seg}]` : seen ? `${seen}.${seg}` : seg;
    if (typeof seg === "number") {
      if (!Array.isArray(cur) || seg >= cur.length) return Array.isArray(cur) ? `${name} (${seen} has ${cur.length} entries)` : `${name} (${seen || "the top"} is not a list)`;
      cur = cur[seg];
    } else {
      if (cur === null || typeof cur !== "object" || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return cur !== null && typeof cur === "object" && !Array.isArray(cur) ? name : `${name} (${seen || "the top"} is not an object)`;
      cur = (cur as Record<string, unknown>)[seg];
    }
    seen = name;
  }
  return null;
}

/**
 * Every value and secret path of a runtimeConfig must exist in its template (the bot reads the
 * keys its template has; a path shipit would add is a typo). `text` is the template's content,
 * or null when the repository has no such file.
 */
export function checkRuntimeTemplate(envName: string, rc: RuntimeConfig, text: string | null): ConfigIssue[] {
  const at = (...p: (string | number)[]) => ["environments", envName, "runtimeConfig", ...p];
  if (text === null) {
    return [configIssue({ code: "TEMPLATE_MISSING", path: at("template"), value: rc.template, problem: "is not a file in the repository", fix: "name the bot's config template, e.g. bot/rosey/config.json.dist (it must also be in build.include, so it is in the release)" })];
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return [configIssue({ code: "TEMPLATE_NOT_JSON", path: at("template"), value: rc.template, problem: `is not JSON (${(e as Error).message})`, fix: "use a JSON template (shipit renders JSON config files)" })];
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    return [configIssue({ code: "TEMPLATE_NOT_OBJECT", path: at("template"), value: rc.template, problem: "is JSON but not an object", fix: "use a template whose top level is a JSON object" })];
  }
  const issues: ConfigIssue[] = [];
  for (const [group, paths] of [["values", Object.keys(rc.values)], ["secrets", Object.keys(rc.secrets)]] as const) {
    for (const p of paths) {
      const missing = missingAt(doc, parseJsonPath(p));
      if (missing) {
        issues.push(configIssue({ code: "PATH_NOT_IN_TEMPLATE", path: at(group, p), value: group === "values" ? rc.values[p] : rc.secrets[p], problem: `is not in ${rc.template}: no ${missing}`, fix: `use a path the template has (${topKeys(doc)}), or add ${p} to the template` }));
      }
    }
  }
  return issues;
}

function topKeys(doc: object): string {
  const keys = Object.keys(doc);
  return keys.length ? `its keys: ${keys.join(", ")}` : "it is empty";
}
