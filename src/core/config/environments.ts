import { z } from "zod";
import defaultsJson from "../../../config/environments.json" with { type: "json" };
import { ConfigError, configIssue, formatPath, schemaIssueCode, type ConfigIssue } from "../errors.js";
import { closest, getIn, unknownKeyFix } from "../text.js";
import { NotificationsSchema } from "./notifications.js";
import { AbsolutePath, ChatServer, CytubeChannel, CytubeUser, Host, HostPython, Port, SecretName, ServiceUnit, UserName, relativePathProblem } from "./grammar.js";

/** Free text (a chat message): printable, one line. */
const ChatText = z.string().min(1).max(200).regex(/^[^\p{Cc}]+$/u, "must be one line of printable text");
const ReleasePath = z.string().superRefine((p, ctx) => {
  const problem = relativePathProblem(p, "the release");
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const EnvName = z.string().regex(/^[a-z][a-z0-9-]*$/, "must be lower-case letters, digits and '-'");

/** Which environment plays which part: where pull requests deploy, and which one is production. */
export const RolesSchema = z.strictObject({
  pullRequests: EnvName.describe("The environment a pull request's build deploys to (a fork's never deploys); must not be the production one"),
  production: EnvName.describe("The production environment: a push to the release branch deploys here, and its GitHub deployments are marked production"),
});
export type Roles = z.infer<typeof RolesSchema>;

/** The bot's runtime config, rendered to shared/config.json on the host (secrets are added there as files). */
const RuntimeSchema = z.strictObject({
  channel: CytubeChannel.describe("CyTube channel the bot joins"),
  bot_name: CytubeUser.describe("The bot's CyTube user name"),
  server: ChatServer.describe("CyTube server, e.g. cytu.be"),
  log_level: z.enum(["DEBUG", "INFO", "WARNING", "ERROR"]).describe("Bot log level"),
  db_path: ReleasePath.describe("Database file, relative to the release (data/ is shared between releases)"),
  health_port: Port.describe("Port of the bot's status server on the host's loopback"),
});

const RepoPath = z.string().superRefine((p, ctx) => {
  const problem = relativePathProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
/** One argument of the built-in unit's ExecStart: no spaces, quotes, `%` or `$` (systemd would read them). */
const ExecArg = z.string().regex(/^[A-Za-z0-9._/:=@+,-]+$/, "must be one argument of letters, digits and . _ / : = @ + , - (no spaces, quotes, '%' or '$')");
const GroupName = z.string().regex(/^[A-Za-z_][A-Za-z0-9._-]{0,31}$/, "must be a POSIX group name such as systemd-journal");

/** What `shipit setup` makes on a bare host for this environment (the rest comes from user, basePath, unit, python). */
const SetupSchema = z.strictObject({
  adminUser: UserName.default("root").describe("The SSH user `shipit setup` connects as with the admin key: root, or a user with passwordless sudo"),
  unitTemplate: z.union([z.literal(""), RepoPath]).default("").describe("A systemd unit template in the bot's repository (placeholders @BASE@, @CURRENT@, @PYTHON@, @USER@, @UNIT@, @ENV@); empty: shipit's built-in unit"),
  exec: z.array(ExecArg).min(1).default(["-m", "bot.rosey", "--config", "config.json"]).describe("What the built-in unit runs with the release's own interpreter (current/.venv/bin/python), in current/"),
  journalGroup: GroupName.default("systemd-journal").describe("The group that may read the journal; the deploy user joins it (for log health and failure messages)"),
});

const EnvironmentSchema = z.strictObject({
  host: z.union([z.literal(""), Host]).describe("SSH host of the bot's machine: a DNS name, an IPv4 address or a bracketed IPv6 address (empty: not set yet)"),
  port: Port.describe("SSH port"),
  user: UserName.describe("SSH user: a POSIX user name"),
  basePath: AbsolutePath.describe("Where releases/, current and shared/ live on the host"),
  unit: ServiceUnit.describe("systemd unit of the bot"),
  python: HostPython.describe("Python on the host that creates the release virtualenv"),
  healthUrl: z.url({ protocol: /^https?$/ }).describe("The bot's /api/health on the host's loopback"),
  url: z.union([z.literal(""), z.url({ protocol: /^https?$/ })]).describe("Where people see this environment (for GitHub deployments): an http(s) URL"),
  runtime: RuntimeSchema,
  secrets: z.strictObject({
    botPassword: SecretName.describe("Name of the secret holding the bot's CyTube password"),
    smokePassword: SecretName.describe("Name of the secret holding the smoke account's CyTube password"),
  }),
  smoke: z.strictObject({
    account: CytubeUser.describe("CyTube account the chat smoke test logs in as (not the bot's)"),
    command: ChatText.describe("Chat command the smoke account says in the channel"),
    expect: ChatText.describe("Text the bot's answer must contain"),
    timeoutSec: z.number().positive().describe("How long the smoke waits, from socketconfig to the bot's answer"),
  }),
  keepReleases: z.number().int().min(2, "must keep at least the live release and the one before it").describe("Releases kept on the host"),
  healthTimeoutSec: z.number().positive().describe("How long a deploy waits for the bot to be running and connected"),
  lockWaitSec: z.number().min(0).describe("How long a deploy waits for another deploy of the same environment"),
  notifications: NotificationsSchema.prefault({}).describe("Chat webhooks told about deploys and rollbacks, and the incident issue (CONFIGURATION.md, Notifications)"),
  setup: SetupSchema.prefault({}).describe("What `shipit setup` prepares on a bare host: the admin user it connects as, the unit (a template in the repository or the built-in one)"),
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
export function resolveEnvironment(name: string, user: Record<string, unknown> | undefined, origin = "shipit.json", opts: { requireHost?: boolean } = {}): Environment {
  const known = environmentNames(user);
  if (!known.includes(name)) {
    throw new ConfigError(origin, [configIssue({ code: "UNKNOWN_ENVIRONMENT", path: ["--env"], value: name, problem: "is not a configured environment", fix: `use one of ${known.join(", ")}, or add environments.${name} to shipit.json` })]);
  }
  const merged = deepMerge(DEFAULTS[name] ?? {}, (user?.[name] as object | undefined) ?? {});
  const parsed = EnvironmentSchema.safeParse(merged);
  const issues: ConfigIssue[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const path = ["environments", name, ...i.path];
      if (i.code === "unrecognized_keys") {
        for (const k of i.keys) {
          issues.push(configIssue({ code: "UNKNOWN_KEY", path: [...path, k], value: getIn(merged, [...i.path, k]), problem: "is not a known key", fix: unknownKeyFix(k, knownKeys(i.path)) }));
        }
        continue;
      }
      // a value the grammar flags as a credential (a webhook URL) is never echoed into a log
      const value = i.code === "custom" && i.params?.["redact"] ? "[redacted]" : getIn(merged, i.path);
      issues.push(configIssue({ code: schemaIssueCode(i.code), path, value, problem: i.message.replace(/^Invalid input: /, ""), fix: envFix(i, formatPath(path), value) }));
    }
  } else if (!parsed.data.host && opts.requireHost !== false) {
    issues.push(configIssue({ code: "HOST_NOT_SET", path: ["environments", name, "host"], value: "", problem: "is not set", fix: `set the SSH host of the ${name} bot in shipit.json` }));
  }
  if (issues.length) throw new ConfigError(origin, issues);
  return { ...parsed.data!, name };
}

/** `environments.prod.notifications.targets[0].secret`: list entries in brackets, as config.ts writes them. */
function envKey(name: string, path: PropertyKey[]): string {
  return path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : `${acc}.${String(seg)}`), `environments.${name}`);
}

/** The fix for one schema issue: what to write instead, from the grammar's own message. */
function envFix(i: z.core.$ZodIssue, key: string, value: unknown): string {
  if (i.code === "custom" && typeof i.params?.["fix"] === "string") return i.params["fix"];
  if (i.code === "invalid_type") return `give ${key} a value of type ${i.expected} (see CONFIGURATION.md)`;
  if (i.code === "invalid_value") {
    const near = typeof value === "string" ? closest(value, i.values.filter((v): v is string => typeof v === "string")) : undefined;
    return `${near ? `did you mean "${near}"? ` : ""}use one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `change ${key} in shipit.json to a value of that form (CONFIGURATION.md lists each key's grammar)`;
}

/** The keys an environment allows at a path (`[]`: the top level, `["runtime"]`: runtime's). */
function knownKeys(path: PropertyKey[]): string[] {
  let shape: Record<string, z.ZodType> = EnvironmentSchema.shape;
  for (const seg of path) {
    if (typeof seg === "number") continue; // a list entry: its element's keys (notifications.targets[0])
    const next = objectOf(shape[String(seg)]);
    if (!next) return Object.keys(shape);
    shape = next.shape as Record<string, z.ZodType>;
  }
  return Object.keys(shape);
}

/** The object schema under defaults, optionals and lists, if there is one. */
function objectOf(schema: z.ZodType | undefined): z.ZodObject | undefined {
  let s: unknown = schema;
  for (;;) {
    if (s instanceof z.ZodObject) return s;
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault) s = s.unwrap();
    else if (s instanceof z.ZodArray) s = s.element;
    else return undefined;
  }
}

/**
 * Every environment's values checked against their grammar where the config is parsed, for
 * checks and deploys alike: a hostile `user` or `host` is a config error on `shipit ci` too, not
 * only before a deploy. An environment whose host is not set yet is fine here.
 */
export function validateEnvironments(user: Record<string, unknown> | undefined, origin: string): void {
  const issues: ConfigIssue[] = [];
  for (const name of environmentNames(user)) {
    try {
      resolveEnvironment(name, user, origin);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues.push(...e.issues.filter((i) => i.code !== "HOST_NOT_SET"));
    }
  }
  if (issues.length) throw new ConfigError(origin, issues);
}

function deepMerge(base: object, over: object): object {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = b && typeof b === "object" && !Array.isArray(b) && v && typeof v === "object" && !Array.isArray(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/**
 * Each role must name an environment that exists (a default or one added under `environments`),
 * and pull requests never deploy to production.
 */
export function validateRoles(roles: Roles, user: Record<string, unknown> | undefined, origin: string): void {
  const known = environmentNames(user);
  const issues: ConfigIssue[] = [];
  for (const role of ["pullRequests", "production"] as const) {
    const name = roles[role];
    if (!known.includes(name)) {
      issues.push(configIssue({ code: "UNKNOWN_ENVIRONMENT", path: ["roles", role], value: name, problem: "is not a defined environment", fix: `use one of ${known.join(", ")}, or add environments.${name} to shipit.json` }));
    }
  }
  if (!issues.length && roles.pullRequests === roles.production) {
    issues.push(configIssue({
      code: "ROLE_IS_PRODUCTION",
      path: ["roles", "pullRequests"],
      value: roles.pullRequests,
      problem: "is also roles.production: every pull request would deploy to production",
      fix: `name another environment for pull requests: ${known.filter((n) => n !== roles.production).join(", ")}`,
    }));
  }
  if (issues.length) throw new ConfigError(origin, issues);
}
