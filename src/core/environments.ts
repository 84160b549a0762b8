import { z } from "zod";
import defaultsJson from "../../config/environments.json" with { type: "json" };
import { ConfigError, type ConfigIssue } from "./errors.js";

const EnvName = z.string().regex(/^[a-z][a-z0-9-]*$/, "must be lower-case letters, digits and '-'");

/** The bot's runtime config, rendered to shared/config.json on the host (secrets are added there as files). */
export const RuntimeSchema = z.strictObject({
  channel: z.string().min(1).describe("CyTube channel the bot joins"),
  bot_name: z.string().min(1).describe("The bot's CyTube user name"),
  server: z.string().min(1).describe("CyTube server, e.g. cytu.be"),
  log_level: z.enum(["DEBUG", "INFO", "WARNING", "ERROR"]).describe("Bot log level"),
  db_path: z.string().min(1).describe("Database file, relative to the release (data/ is shared between releases)"),
  health_port: z.number().int().min(1).max(65535).describe("Port of the bot's status server on the host's loopback"),
});

export const EnvironmentSchema = z.strictObject({
  host: z.string().describe("SSH host of the bot's machine"),
  port: z.number().int().min(1).max(65535).describe("SSH port"),
  user: z.string().min(1).describe("SSH user"),
  basePath: z.string().startsWith("/", "must be an absolute path").describe("Where releases/, current and shared/ live on the host"),
  unit: z.string().regex(/^[A-Za-z0-9@._-]+\.service$/, "must be a systemd unit name ending in .service").describe("systemd unit of the bot"),
  python: z.string().min(1).describe("Python on the host that creates the release virtualenv"),
  healthUrl: z.url({ protocol: /^https?$/ }).describe("The bot's /api/health on the host's loopback"),
  url: z.string().describe("Where people see this environment (for GitHub deployments)"),
  runtime: RuntimeSchema,
  secrets: z.strictObject({
    botPassword: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "must be a secret name such as CYTUBEBOT_TEST_PASSWORD"),
    smokePassword: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "must be a secret name such as CYTUBE_SMOKE_PASSWORD").describe("Name of the secret holding the smoke account's CyTube password"),
  }),
  smoke: z.strictObject({
    account: z.string().min(1).describe("CyTube account the chat smoke test logs in as (not the bot's)"),
    command: z.string().min(1).describe("Chat command the smoke account says in the channel"),
    expect: z.string().min(1).describe("Text the bot's answer must contain"),
    timeoutSec: z.number().positive().describe("How long the smoke waits, from socketconfig to the bot's answer"),
  }),
  keepReleases: z.number().int().min(2, "must keep at least the live release and the one before it").describe("Releases kept on the host"),
  healthTimeoutSec: z.number().positive().describe("How long a deploy waits for the bot to be running and connected"),
  lockWaitSec: z.number().min(0).describe("How long a deploy waits for another deploy of the same environment"),
});
export type Environment = z.infer<typeof EnvironmentSchema> & { name: string };

/** What shipit.json may say about environments: overrides of the defaults, or whole new ones. */
export const UserEnvironmentsSchema = z.record(EnvName, z.any());

const DEFAULTS = z.record(EnvName, EnvironmentSchema).parse(defaultsJson);

export function environmentNames(user: Record<string, unknown> | undefined): string[] {
  return [...new Set([...Object.keys(DEFAULTS), ...Object.keys(user ?? {})])];
}

/**
 * The named environment: defaults from config/environments.json deep-merged with shipit.json's
 * `environments.<name>`, validated whole. Errors name the key and the fix, before any host is touched.
 */
export function resolveEnvironment(name: string, user: Record<string, unknown> | undefined, origin = "shipit.json"): Environment {
  const known = environmentNames(user);
  if (!known.includes(name)) {
    throw new ConfigError(origin, [{ key: "--env", value: name, problem: "is not a configured environment", fix: `use one of ${known.join(", ")}, or add environments.${name} to shipit.json` }]);
  }
  const merged = deepMerge(DEFAULTS[name] ?? {}, (user?.[name] as object | undefined) ?? {});
  const parsed = EnvironmentSchema.safeParse(merged);
  const issues: ConfigIssue[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const key = `environments.${name}.${i.path.map(String).join(".")}`;
      issues.push({ key, value: getIn(merged, i.path), problem: i.message.replace(/^Invalid input: /, ""), fix: i.code === "unrecognized_keys" ? `remove ${i.keys.join(", ")}` : "see CONFIGURATION.md for the environment keys" });
    }
  } else if (!parsed.data.host) {
    issues.push({ key: `environments.${name}.host`, value: "", problem: "is not set", fix: `set the SSH host of the ${name} bot in shipit.json` });
  }
  if (issues.length) throw new ConfigError(origin, issues);
  return { ...parsed.data!, name };
}

function deepMerge(base: object, over: object): object {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = b && typeof b === "object" && !Array.isArray(b) && v && typeof v === "object" && !Array.isArray(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function getIn(obj: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((cur, k) => (cur && typeof cur === "object" ? (cur as Record<PropertyKey, unknown>)[k] : undefined), obj);
}

/** The secrets a deploy to this environment needs, by the name the caller passes them under. */
export function requiredSecrets(env: Environment): { arg: string; name: string }[] {
  return [
    { arg: "bot-password", name: env.secrets.botPassword },
    { arg: "smoke-password", name: env.secrets.smokePassword },
  ];
}
