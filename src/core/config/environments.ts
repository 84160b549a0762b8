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

/** A place in the bot's own config file: `channel`, `user[0]`, `llm.model` (keys and list indexes). */
const JSON_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+|\[\d+\])*$/;

/** Each key of a record of paths (runtimeConfig.values, .secrets) must be a path. */
function pathKeys(rec: Record<string, unknown>, ctx: z.core.$RefinementCtx): void {
  for (const key of Object.keys(rec)) {
    if (!JSON_PATH.test(key)) ctx.addIssue({ code: "custom", path: [key], message: "must be a path into the config file such as channel, user[0] or llm.model", params: { fix: "write keys joined by '.' and list indexes in brackets: user[1], llm.model" } });
  }
}

/**
 * The bot's config in its own format: a JSON template in the repository (it travels in the
 * artifact), rendered on the host into the release with values and the bot password set at paths.
 */
const RuntimeConfigSchema = z.strictObject({
  template: ReleasePath.describe("The config template in the repository (and so in the release), e.g. bot/rosey/config.json.dist"),
  path: ReleasePath.describe("Where the rendered file goes inside the release, e.g. bot/rosey/config.json (0600)"),
  values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).superRefine(pathKeys).default({}).describe("Values set at paths of the template, e.g. {\"channel\": \"test-rosey\", \"user[0]\": \"RoseyTest\"}"),
  secrets: z.record(z.string(), SecretName).superRefine(pathKeys).default({}).describe("Secrets set at paths of the template, by name, e.g. {\"user[1]\": \"CYTUBEBOT_TEST_PASSWORD\"}: only the bot password (secrets.botPassword) reaches the host"),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfigSchema>;

export const HEALTH_KINDS = ["contract", "http", "systemd", "log"] as const;
export type HealthKind = (typeof HEALTH_KINDS)[number];
const HealthKindSchema = z.enum(HEALTH_KINDS);

/** How a deploy knows the new release is up; several kinds must all hold. */
const HealthSchema = z
  .strictObject({
    kind: z.union([HealthKindSchema, z.array(HealthKindSchema).min(1)], { error: `must be one of ${HEALTH_KINDS.map((k) => JSON.stringify(k)).join(", ")}, or a list of them` }).default("contract").describe("contract (healthUrl answers the health JSON), http (healthUrl answers any 2xx), systemd (the unit stays active with no restart for stableSec), log (logPattern appears in the unit's journal since this restart); a list: all must hold"),
    stableSec: z.number().positive().default(5).describe("systemd health: how long the unit must stay active with no restart"),
    logPattern: z.string().min(1).max(500).regex(/^[^\p{Cc}]+$/u, "must be one line of printable text (the journal is matched line by line)").optional().describe("log health: a regular expression (Python syntax) one line of the unit's journal since this restart must match, e.g. \"joined channel\""),
  })
  .superRefine((h, ctx) => {
    const kinds = healthKinds(h.kind);
    if (new Set(kinds).size !== kinds.length) ctx.addIssue({ code: "custom", path: ["kind"], message: "names a kind twice", params: { fix: "list each health kind once" } });
    if (kinds.includes("contract") && kinds.includes("http")) ctx.addIssue({ code: "custom", path: ["kind"], message: "has both contract and http, which probe the same healthUrl", params: { fix: "keep contract (it also checks the answer's JSON) or http, not both" } });
    if (kinds.includes("log") && h.logPattern === undefined) ctx.addIssue({ code: "custom", path: ["logPattern"], message: "is not set, and health.kind has log", params: { fix: "set health.logPattern to a regular expression of the line the bot logs once it is up, e.g. \"joined channel\"" } });
    if (h.logPattern !== undefined) {
      try {
        new RegExp(h.logPattern);
      } catch (e) {
        ctx.addIssue({ code: "custom", path: ["logPattern"], message: `is not a regular expression (${(e as Error).message})`, params: { fix: "write a regular expression, e.g. \"joined channel \\\\S+\"" } });
      }
    }
  });

/** `health.kind` as a list, in the order given. */
export function healthKinds(kind: HealthKind | HealthKind[]): HealthKind[] {
  return Array.isArray(kind) ? kind : [kind];
}

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
  runtimeConfig: RuntimeConfigSchema.optional().describe("The bot's config file in its own format (a template with values and secrets at paths) instead of shipit's config.json from runtime"),
  health: HealthSchema.prefault({}).describe("How a deploy knows the new release is up (CONFIGURATION.md, Health)"),
  secrets: z.strictObject({
    botPassword: SecretName.describe("Name of the secret holding the bot's CyTube password"),
    smokePassword: SecretName.describe("Name of the secret holding the smoke account's CyTube password"),
  }),
  smoke: z.strictObject({
    kind: z.enum(["command", "presence", "none"]).default("command").describe("command (the smoke account says command, the bot's answer contains expect), presence (the smoke account sees the bot in the channel's user list), none (no chat smoke: a service that is not a chat bot)"),
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

/**
 * What shipit.json may say about one environment: any key of EnvironmentSchema, at any depth, each
 * checked by the same grammar; a list replaces the default's whole. Built from EnvironmentSchema, so
 * a key added there is a key here (and in config/shipit.schema.json). Defaults are left out: the
 * environment's own defaults come from config/environments.json, not from the schema.
 */
export const EnvironmentOverrideSchema = overridesOf(EnvironmentSchema);

/** What shipit.json may say about environments: overrides of the defaults, or new ones (which start from test's defaults). */
export const UserEnvironmentsSchema = z.record(EnvName, EnvironmentOverrideSchema);

/**
 * Every key optional at every level of an object (lists stay whole), without defaults, descriptions
 * and the object's own unknown-key rule kept. A union of objects (`health` as http or tcp) becomes a
 * union of their overrides. Whole-object refinements are left to the merged parse.
 */
export function overridesOf(schema: z.ZodObject): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    let inner: z.ZodType = field;
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault || inner instanceof z.ZodPrefault) inner = inner.unwrap() as z.ZodType;
    const over = overrideOf(inner);
    const description = field.description ?? inner.description;
    shape[key] = description ? over.optional().describe(description) : over.optional();
  }
  const catchall = schema._zod.def.catchall; // z.never() for a strict object, unset for a stripping one
  return catchall ? z.object(shape).catchall(catchall) : z.object(shape);
}

function overrideOf(inner: z.ZodType): z.ZodType {
  if (inner instanceof z.ZodObject) return overridesOf(inner);
  if (inner instanceof z.ZodUnion && inner.options.every((o) => o instanceof z.ZodObject)) {
    return z.union((inner.options as z.ZodObject[]).map((o) => overridesOf(o)) as [z.ZodObject, z.ZodObject, ...z.ZodObject[]]);
  }
  return inner;
}

const DEFAULTS = z.record(EnvName, EnvironmentSchema).parse(defaultsJson);

/** The environment a new one (not in config/environments.json) starts from. */
export const BASE_ENVIRONMENT = "test";

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
  const over = user?.[name];
  const merged = deepMerge(DEFAULTS[name] ?? DEFAULTS[BASE_ENVIRONMENT]!, over && typeof over === "object" && !Array.isArray(over) ? over : {});
  const parsed = EnvironmentSchema.safeParse(merged);
  const issues: ConfigIssue[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) issues.push(...environmentIssues(i, merged, ["environments", name]));
  } else {
    issues.push(...crossFieldIssues(name, parsed.data));
  }
  if (parsed.success && !issues.length && !parsed.data.host && opts.requireHost !== false) {
    issues.push(configIssue({ code: "HOST_NOT_SET", path: ["environments", name, "host"], value: "", problem: "is not set", fix: `set the SSH host of the ${name} bot in shipit.json` }));
  }
  if (issues.length) throw new ConfigError(origin, issues);
  return { ...parsed.data!, name };
}

/**
 * One zod issue about an environment as ConfigIssues, the same at parse time and at deploy time:
 * one per key, with its value, the grammar's fix or a "did you mean". `root` is the value the
 * issue's path starts in (one environment), `at` where that value is in shipit.json.
 */
export function environmentIssues(i: z.core.$ZodIssue, root: unknown, at: PropertyKey[]): ConfigIssue[] {
  const path = [...at, ...i.path];
  if (i.code === "unrecognized_keys") {
    return i.keys.map((k) => configIssue({ code: "UNKNOWN_KEY", path: [...path, k], value: getIn(root, [...i.path, k]), problem: "is not a known key", fix: unknownKeyFix(k, knownKeys(i.path)) }));
  }
  // a value the grammar flags as a credential (a webhook URL) is never echoed into a log
  const value = i.code === "custom" && i.params?.["redact"] ? "[redacted]" : getIn(root, i.path);
  const wrongType = unionOfOneType(i);
  if (wrongType) {
    const fix = `give ${formatPath(path)} a value of type ${wrongType} (see CONFIGURATION.md)`;
    return [configIssue({ code: "INVALID_TYPE", path, value, problem: `expected ${wrongType}, received ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}`, fix })];
  }
  return [configIssue({ code: schemaIssueCode(i.code), path, value, problem: i.message.replace(/^Invalid input: /, ""), fix: envFix(i, formatPath(path), value) })];
}

/** A union (`"" or a host`) every branch of which wants the same type the value is not: that type, so the message says so instead of zod's "Invalid input". */
function unionOfOneType(i: z.core.$ZodIssue): string | undefined {
  if (i.code !== "invalid_union" || i.errors.length === 0) return undefined;
  const typeOf = (branch: z.core.$ZodIssue[]): string => {
    const [b] = branch;
    if (branch.length !== 1 || !b) return "";
    if (b.code === "invalid_type") return b.expected;
    const types = b.code === "invalid_value" ? new Set(b.values.map((v) => typeof v)) : new Set<string>();
    return types.size === 1 ? [...types][0]! : ""; // a literal such as "" wants a string
  };
  const expected = new Set(i.errors.map(typeOf));
  const [only] = [...expected];
  return expected.size === 1 && only ? only : undefined;
}

/**
 * A zod issue from shipit.json's `environments` (path `["environments", name, …]`, or shorter for
 * the map itself or a bad environment name) as ConfigIssues.
 */
export function userEnvironmentsIssues(i: z.core.$ZodIssue, json: unknown): ConfigIssue[] {
  const name = i.path[1];
  if (i.code === "invalid_key" && typeof name === "string") {
    const suggestion = name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^[^a-z]+/, "");
    return [
      configIssue({
        code: "INVALID_ENVIRONMENT_NAME",
        path: i.path,
        problem: "is not an environment name: it must be lower-case letters, digits and '-', starting with a letter",
        fix: suggestion ? `rename it to "${suggestion}" (and use that name in --env and roles)` : "rename it, e.g. staging",
      }),
    ];
  }
  if (typeof name !== "string") return [configIssue({ code: schemaIssueCode(i.code), path: i.path, value: getIn(json, i.path), problem: i.message.replace(/^Invalid input: /, ""), fix: "make environments an object of environments by name, e.g. {\"test\": {\"host\": \"bot.example.org\"}}" })];
  return environmentIssues({ ...i, path: i.path.slice(2) }, getIn(json, ["environments", name]), ["environments", name]);
}

/** What one key's grammar cannot say: how keys of an environment fit together. */
function crossFieldIssues(name: string, env: z.infer<typeof EnvironmentSchema>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const at = (...path: (string | number)[]) => ["environments", name, ...path];
  if (healthKinds(env.health.kind).includes("systemd") && env.health.stableSec >= env.healthTimeoutSec) {
    issues.push(configIssue({ code: "HEALTH_STABLE_TOO_LONG", path: at("health", "stableSec"), value: env.health.stableSec, problem: `is not shorter than healthTimeoutSec (${env.healthTimeoutSec}): the unit could never be up long enough`, fix: `lower health.stableSec or raise healthTimeoutSec above it` }));
  }
  const rc = env.runtimeConfig;
  if (rc) {
    for (const [path, secret] of Object.entries(rc.secrets)) {
      if (secret !== env.secrets.botPassword) {
        issues.push(configIssue({ code: "SECRET_NOT_PASSED", path: at("runtimeConfig", "secrets", path), value: secret, problem: `is not the bot password secret (${env.secrets.botPassword}), the only secret a deploy takes to the host`, fix: `use "${env.secrets.botPassword}" (passed as --bot-password), or rename secrets.botPassword` }));
      }
      if (path in rc.values) {
        issues.push(configIssue({ code: "PATH_SET_TWICE", path: at("runtimeConfig", "secrets", path), value: secret, problem: "is also in runtimeConfig.values", fix: `set ${path} in values or in secrets, not both` }));
      }
    }
    for (const [path, value] of Object.entries(rc.values)) {
      // shipit.json is committed: a password written there is already leaked, and it must never be echoed
      const last = path.replace(/\[\d+\]$/, "").split(".").at(-1) ?? "";
      if (/password|passwd|secret|token|api_?key/i.test(last) && typeof value === "string" && value !== "") {
        issues.push(configIssue({ code: "SECRET_IN_VALUES", path: at("runtimeConfig", "values", path), value: "[redacted]", problem: "looks like a secret written into shipit.json", fix: `move it to runtimeConfig.secrets ({"${path}": "${env.secrets.botPassword}"}) and rotate it, since shipit.json is committed` }));
      }
    }
    if (rc.path === rc.template) {
      issues.push(configIssue({ code: "CONFIG_OVER_TEMPLATE", path: at("runtimeConfig", "path"), value: rc.path, problem: "is the template itself", fix: "render to another file, e.g. the template's name without .dist" }));
    }
  }
  return issues;
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
  const resolved: Environment[] = [];
  for (const name of environmentNames(user)) {
    try {
      resolved.push(resolveEnvironment(name, user, origin, { requireHost: false }));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues.push(...e.issues);
    }
  }
  if (!issues.length) issues.push(...sharedOnOneHost(resolved));
  if (issues.length) throw new ConfigError(origin, issues);
}

/**
 * Two environments on one host must not share a release folder, a systemd unit or a status port:
 * one's deploy would replace, restart or shadow the other's bot. A new environment starts from
 * test's defaults, so this is what catches `staging` set on test's host with only its host changed.
 */
function sharedOnOneHost(envs: Environment[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const CLASHES = [
    { path: ["basePath"], what: "a deploy of one would replace the other's releases", fix: (v: string, a: string, b: string) => renamed(v, a, b) },
    { path: ["unit"], what: "a deploy of one would restart the other's bot", fix: (v: string, a: string, b: string) => renamed(v, a, b) },
    { path: ["runtime", "health_port"], what: "the second bot could not open its status server", fix: () => undefined },
  ] as const;
  for (const [j, b] of envs.entries()) {
    for (const a of envs.slice(0, j)) {
      if (!a.host || a.host.toLowerCase() !== b.host.toLowerCase()) continue;
      for (const c of CLASHES) {
        const value = getIn(b, c.path);
        if (value !== getIn(a, c.path)) continue;
        const key = formatPath(["environments", b.name, ...c.path]);
        const example = c.fix(String(value), a.name, b.name);
        issues.push(
          configIssue({
            code: "SHARED_ON_HOST",
            path: ["environments", b.name, ...c.path],
            value,
            problem: `is also ${formatPath(["environments", a.name, ...c.path])} on the same host (${b.host}): ${c.what}`,
            fix: `give ${key} its own value${example ? `, e.g. ${JSON.stringify(example)}` : ""}, or deploy ${b.name} to another host`,
          }),
        );
      }
    }
  }
  return issues;
}

/** `/srv/rosey-test` for staging: `/srv/rosey-staging`; `rosey-test.service`: `rosey-staging.service`. */
function renamed(value: string, from: string, to: string): string | undefined {
  const out = value.replace(new RegExp(`(^|[-_/.])${from}(?=$|[-_/.])`, "g"), `$1${to}`);
  return out === value ? undefined : out;
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
