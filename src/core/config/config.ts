import { z } from "zod";
import { parse as parseToml } from "smol-toml";
import defaultsJson from "../../../config/defaults.json" with { type: "json" };
import { ConfigError, configIssue, formatPath, schemaIssueCode, type ConfigIssue } from "../errors.js";
import { environmentNames, resolveEnvironment, RolesSchema, UserEnvironmentsSchema, userEnvironmentsIssues, validateEnvironments, validateRoles } from "./environments.js";
import { checkRuntimeTemplate } from "./runtime-config.js";
import { closest, getIn, unknownKeyFix } from "../text.js";
import { FileNamePart, ImageRef, SafeVersion, relativePathProblem } from "./grammar.js";
import { configText, jsonTextIssues } from "./json-text.js";
import { resolveServices, ServiceSchema, type TestService } from "./services.js";
import { detectShape, parseTomlFile, wrongKindOfRequirements, type ProjectShape } from "./project.js";

/** A path inside the source tree: relative, no `..`, no leading slash. A trailing `/` means "must be a directory". */
const RelPath = z.string().superRefine((p, ctx) => {
  const problem = relativePathProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const Version = SafeVersion;

const Tools = z.strictObject({
  ruff: Version.describe("ruff version installed for the lint gate"),
  mypy: Version.describe("mypy version installed for the typecheck gate"),
  pytest: Version.describe("pytest version installed for the test gate"),
  pytestCov: Version.describe("pytest-cov version installed for the test gate"),
  uv: Version.describe("uv version used to install dependencies when python.installer is uv"),
  bandit: Version.describe("bandit version installed for the security gate (static analysis)"),
  detectSecrets: Version.describe("detect-secrets version installed for the security gate (committed credentials)"),
  pipAudit: Version.describe("pip-audit version installed for the security gate (dependency audit)"),
});

const Level = z.enum(["low", "medium", "high"]);

/** An extra or dependency-group name (PEP 685 / 735), e.g. `test`. */
const DistName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/, "must be an extra or group name such as test");

/** How long a gate may run before it is stopped and reported as timed out. */
const TimeoutSec = z.number().int().min(1).max(24 * 3600).describe("Seconds the gate may run before it is stopped (default 1200)");

/** A gitignore-style pattern (`*.db`, `config-*.json`, `bot/rosey/config.json`): no negation, no `..`. */
const IgnorePattern = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => !p.startsWith("!") && !p.startsWith("-") && !p.split("/").includes(".."), { message: "must be a gitignore-style pattern without '!', '..' or a leading '-'" });

/** The full, resolved shape (defaults filled in). */
export const FullConfigSchema = z.strictObject({
  $schema: z.string().optional().describe("Path or URL of the JSON Schema, for editors"),
  name: FileNamePart.describe("Application name, used in the artifact file name"),
  python: z.strictObject({
    image: ImageRef.describe("Container image every check runs in, e.g. python:3.11-slim"),
    installer: z.enum(["uv", "pip"]).describe("Installer for the dependency layer: uv (faster) or pip"),
  }),
  requirements: z.array(RelPath).describe("Requirement files installed into the check virtualenv and bundled as wheels"),
  tools: Tools,
  project: z.strictObject({
    extras: z.array(DistName).describe(
      "Extras of pyproject.toml's [project.optional-dependencies] installed into the project environment for the checks; default: test and tests where present",
    ),
    groups: z.array(DistName).describe("PEP 735 [dependency-groups] of pyproject.toml installed into the project environment; default: test and dev where present"),
    lock: z.boolean().describe("Install uv.lock exactly when it is beside pyproject.toml (default true); false resolves pyproject.toml instead"),
  }),
  lint: z.strictObject({
    paths: z.array(RelPath).min(1).describe("Paths ruff checks"),
    select: z.array(z.string().regex(/^[A-Z]+[0-9]*$/, "must be a ruff rule code or prefix such as E or F401")).describe(
      "Ruff rule selection; empty keeps the repository's own ruff config",
    ),
    format: z.boolean().describe("Also run `ruff format --check`"),
    timeoutSec: TimeoutSec,
  }),
  typecheck: z.strictObject({
    paths: z.array(RelPath).min(1).describe("Paths mypy checks"),
    flags: z.array(z.string().regex(/^--?[A-Za-z0-9][A-Za-z0-9_-]*(=\S+)?$/, "must be a mypy flag such as --strict or --python-version=3.11")).describe("Extra mypy flags"),
    timeoutSec: TimeoutSec,
  }),
  test: z.strictObject({
    paths: z.array(RelPath).describe("Paths given to pytest; empty keeps pytest.ini's testpaths"),
    args: z.array(z.string().regex(/^[^\p{Cc}]*$/u, "must be one argument of printable text (no control characters such as NUL or a newline)")).describe("Extra pytest arguments"),
    coverageThreshold: z.number().min(0).max(100).describe(
      "Minimum total coverage in percent. Used only when the repository's coverage config sets no fail_under, unless set in shipit.json",
    ),
    services: z.array(ServiceSchema).describe(
      "Services the tests need (a NATS server, PostgreSQL), started before the test gate and stopped after it: Dagger services on the engine, local processes on the host; the tests reach each on 127.0.0.1:<port> (CONFIGURATION.md, Services for tests)",
    ),
    timeoutSec: TimeoutSec,
  }),
  build: z.strictObject({
    include: z.array(RelPath).min(1).describe("Application files and folders packed into the release artifact"),
    version: Version.describe("Artifact version when no --version argument is given"),
    timeoutSec: TimeoutSec,
  }),
  security: z.strictObject({
    paths: z.array(RelPath).min(1).describe("Paths bandit scans; default: the typecheck paths"),
    severity: Level.describe("Lowest bandit severity that fails the gate"),
    confidence: Level.describe("Lowest bandit confidence that fails the gate (low: any confidence)"),
    secretKeys: z
      .array(z.string().regex(/^[A-Za-z0-9_.*?-]+$/, "must be a key name or a glob such as *password or *_key"))
      .min(1)
      .describe("Config keys that hold secrets (case-insensitive globs over the key name); in config files they must hold placeholders"),
    configFiles: z.array(IgnorePattern).describe("Committed config files (gitignore-style patterns) whose secret keys must hold placeholders, not values"),
    mustIgnore: z
      .array(IgnorePattern)
      .describe("Paths and patterns .gitignore must cover (databases, logs, key files); the file a *.dist or *.example template stands for is always added"),
    secretsBaseline: RelPath.describe(
      "A detect-secrets baseline (`detect-secrets scan > .secrets.baseline`, then `detect-secrets audit`): the entries audited as false positives are accepted. Used when the file exists",
    ),
    auditService: z.enum(["pypi", "osv"]).describe("Advisory source pip-audit asks: PyPI's JSON API or the OSV API"),
    osvUrl: z.string().regex(/^https?:\/\/\S+$/, "must be an http(s) URL").describe("OSV query endpoint when auditService is osv"),
    auditUnreachable: z
      .enum(["warn", "fail"])
      .describe("What the gate does when no advisory source is reachable: warn (green, with a warning) or fail (red)"),
    ignoreVulns: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "must be an advisory id such as GHSA-xxxx or PYSEC-2024-1")).describe(
      "Advisory ids the dependency audit accepts (each one reviewed: say why in your commit)",
    ),
    timeoutSec: TimeoutSec,
  }),
  release: z.strictObject({
    firstVersion: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/, "must be a version such as 0.1.0")
      .describe("The version of the first release, used while the repository has no v<semver> tag yet"),
  }),  roles: RolesSchema,
});
type FullConfig = z.infer<typeof FullConfigSchema>;

/** What a repository's shipit.json may hold: every key optional, unknown keys rejected. */
export const UserConfigSchema = z.strictObject({
  $schema: FullConfigSchema.shape.$schema,
  name: FullConfigSchema.shape.name.optional(),
  python: FullConfigSchema.shape.python.partial().optional(),
  requirements: FullConfigSchema.shape.requirements.optional(),
  tools: Tools.partial().optional(),
  project: FullConfigSchema.shape.project.partial().optional(),
  lint: FullConfigSchema.shape.lint.partial().optional(),
  typecheck: FullConfigSchema.shape.typecheck.partial().optional(),
  test: FullConfigSchema.shape.test.partial().optional(),
  build: FullConfigSchema.shape.build.partial().optional(),
  security: FullConfigSchema.shape.security.partial().optional(),
  release: FullConfigSchema.shape.release.partial().optional(),
  roles: RolesSchema.partial().optional().describe("Which environment pull requests deploy to and which one is production (defaults: test and prod)"),
  environments: UserEnvironmentsSchema.optional().describe(
    "Deploy environments: overrides of the test and prod defaults in config/environments.json, or new ones, which start from test's defaults (CONFIGURATION.md, Environments)",
  ),
});
type UserConfig = z.infer<typeof UserConfigSchema>;

export const DEFAULTS: FullConfig = FullConfigSchema.parse(defaultsJson);

/** Read-only view of the source tree, so validation runs the same against a host folder or a Dagger Directory. */
export interface SourceView {
  kind(path: string): Promise<"file" | "dir" | null>;
  read(path: string): Promise<string | null>;
  /** Top-level entry names, for "did you mean" hints. */
  entries(): Promise<string[]>;
  /**
   * Every regular file in the tree, as sorted relative paths with `/` separators (the runner's own
   * exclusions, such as `.git` and virtualenvs, left out). Used by the security gate.
   */
  files(): Promise<string[]>;
}

export interface ResolvedConfig extends FullConfig {
  coverage: { threshold: number; from: string };
  /** What the project is made of (requirement files, pyproject.toml, uv.lock, layout) and what the project environment installs. */
  shape: ProjectShape;
  /** test.services filled in from the catalogue of known services: what the runners start around the test gate. */
  services: TestService[];
  /** Where build.version came from: shipit.json, pyproject's [project].version, or shipit's default. */
  versionSource: "config" | "pyproject" | "default";
  /** shipit.json's `environments`, resolved per environment by resolveEnvironment. */
  environments: Record<string, unknown>;
  /** Where the config came from, for messages. */
  origin: string;
}

/** Path lists whose defaults are candidates (kept where they exist); configured values must all exist. */
const PATH_KEYS = [
  ["requirements"],
  ["lint", "paths"],
  ["typecheck", "paths"],
  ["test", "paths"],
  ["build", "include"],
  ["security", "paths"],
] as const;

/**
 * Parse, merge over defaults, and check every path against the source. Throws ConfigError naming
 * each bad key, its value and the fix. Nothing runs before this returns.
 */
export async function resolveConfig(
  text: string | null,
  origin: string,
  view: SourceView,
): Promise<ResolvedConfig> {
  const user = parseUserConfig(text, origin);
  const issues: ConfigIssue[] = [];
  const merged: FullConfig = {
    $schema: user.$schema,
    name: user.name ?? (await projectName(view)) ?? DEFAULTS.name,
    python: { ...DEFAULTS.python, ...user.python },
    requirements: user.requirements ?? DEFAULTS.requirements,
    tools: { ...DEFAULTS.tools, ...user.tools },
    project: { ...DEFAULTS.project, ...user.project },
    lint: { ...DEFAULTS.lint, ...user.lint },
    typecheck: { ...DEFAULTS.typecheck, ...user.typecheck },
    test: { ...DEFAULTS.test, ...user.test },
    build: { ...DEFAULTS.build, ...user.build },
    security: { ...DEFAULTS.security, ...user.security },
    release: { ...DEFAULTS.release, ...user.release },
    roles: { ...DEFAULTS.roles, ...user.roles },
  };

  const top = await view.entries();
  const packages = await packageRoots(view);
  // listed only when a default path list matched nothing, for the hint
  let found: string[] | undefined;
  for (const keyPath of PATH_KEYS) {
    const configured = getIn(user, keyPath) as string[] | undefined;
    if (configured) {
      for (const [i, p] of configured.entries()) {
        const issue = await checkPath(view, [...keyPath, i], p, top);
        if (issue) issues.push(issue);
      }
    } else {
      const defaults = getIn(DEFAULTS, keyPath) as string[];
      const present: string[] = [];
      for (const p of defaults) if ((await checkPath(view, keyPath, p, top)) === null) present.push(p);
      // A pyproject project whose code is not in the default folders: its src/ or its package folder.
      if (present.length === 0 && (keyPath[0] === "typecheck" || keyPath[0] === "security")) present.push(...packages.dirs);
      setIn(merged, keyPath, present);
      // An installable project's artifact carries its code as a wheel: no app folder is required.
      const required = keyPath[0] === "typecheck" || (keyPath[0] === "build" && !packages.installable);
      if (required && present.length === 0 && defaults.length > 0) {
        found ??= packageFolders(await view.files());
        issues.push(
          configIssue({
            code: "DEFAULT_PATHS_MISSING",
            path: keyPath,
            problem: `none of the default paths ${JSON.stringify(defaults)} exist in the source`,
            fix: defaultPathsFix(keyPath as readonly [string, string], found, top),
          }),
        );
      }
    }
  }
  for (const [i, r] of (user.requirements ?? []).entries()) {
    const issue = (await view.kind(r)) === "file" ? wrongKindOfRequirements(["requirements", i], r, await view.read(r)) : null;
    if (issue) issues.push(issue);
  }
  const shape = detectShape(
    {
      requirements: merged.requirements,
      pyprojectText: await view.read("pyproject.toml"),
      lockText: await view.read("uv.lock"),
      srcIsDir: (await view.kind("src")) === "dir",
      options: user.project ?? {},
      defaults: DEFAULTS.project,
      testTools: merged.tools,
    },
    issues,
  );
  issues.push(...(await runtimeTemplateIssues(view, user.environments, merged.build.include)));
  const services = resolveServices(user.test?.services, issues);
  if (issues.length) throw new ConfigError(origin, issues);
  merged.project = { ...merged.project, extras: shape.extras, groups: shape.groups, lock: shape.lock !== null };
  let versionSource: ResolvedConfig["versionSource"] = user.build?.version !== undefined ? "config" : "default";
  const pyVersion = shape.pyproject?.version;
  if (versionSource === "default" && pyVersion && SafeVersion.safeParse(pyVersion).success) {
    merged.build.version = pyVersion;
    versionSource = "pyproject";
  }
  // bandit follows the code the typecheck gate checks unless told otherwise.
  if (!user.security?.paths) merged.security.paths = [...merged.typecheck.paths];

  const coverage =
    user.test?.coverageThreshold !== undefined
      ? { threshold: user.test.coverageThreshold, from: `${origin} test.coverageThreshold` }
      : ((await repoCoverageThreshold(view)) ?? { threshold: DEFAULTS.test.coverageThreshold, from: "shipit default" });
  merged.test.coverageThreshold = coverage.threshold;
  return { ...merged, coverage, origin, environments: user.environments ?? {}, shape, versionSource, services };
}

/** Each environment's runtimeConfig against its template in the repository (ci fails on a path the template lacks). */
async function runtimeTemplateIssues(view: SourceView, user: Record<string, unknown> | undefined, include: string[]): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  for (const name of environmentNames(user)) {
    const rc = resolveEnvironment(name, user, "shipit.json", { requireHost: false }).runtimeConfig;
    if (!rc) continue;
    const found = checkRuntimeTemplate(name, rc, (await view.kind(rc.template)) === "file" ? await view.read(rc.template) : null);
    issues.push(...found);
    const shipped = include.some((i) => rc.template === i.replace(/\/$/, "") || rc.template.startsWith(`${i.replace(/\/$/, "")}/`));
    if (!found.length && !shipped) {
      issues.push(configIssue({ code: "TEMPLATE_NOT_SHIPPED", path: ["environments", name, "runtimeConfig", "template"], value: rc.template, problem: `is not in the artifact: build.include (${include.join(", ")}) does not cover it`, fix: `add ${rc.template.split("/")[0]} to build.include` }));
    }
  }
  return issues;
}

export function parseUserConfig(text: string | null, origin: string): UserConfig {
  if (text === null) return {};
  const read = configText(text);
  if ("issue" in read) throw new ConfigError(origin, [read.issue]);
  let json: unknown;
  try {
    json = JSON.parse(read.text);
  } catch (e) {
    throw new ConfigError(origin, [configIssue({ code: "NOT_JSON", path: [], key: "(file)", problem: `is not valid JSON (${(e as Error).message})`, fix: "fix the JSON syntax" })]);
  }
  const textIssues = jsonTextIssues(read.text);
  if (textIssues.length) throw new ConfigError(origin, textIssues);
  const parsed = UserConfigSchema.safeParse(json);
  if (parsed.success) {
    // Environments are kept as written: they are merged over their defaults and parsed whole by
    // resolveEnvironment, so a default or a transform of the schema applies once, after the merge.
    const environments = (json as { environments?: UserConfig["environments"] }).environments;
    validateEnvironments(environments, origin);
    validateRoles({ ...DEFAULTS.roles, ...parsed.data.roles }, environments, origin);
    return environments === undefined ? parsed.data : { ...parsed.data, environments };
  }
  throw new ConfigError(origin, parsed.error.issues.flatMap((issue) => toConfigIssues(issue, json)));
}

function toConfigIssues(issue: z.core.$ZodIssue, json: unknown): ConfigIssue[] {
  if (issue.path[0] === "environments") return userEnvironmentsIssues(issue, json);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) =>
      configIssue({ code: "UNKNOWN_KEY", path: [...issue.path, k], value: getIn(json, [...issue.path, k]), problem: "is not a known key", fix: unknownKeyFix(k, Object.keys(shapeAt(issue.path) ?? {})) }),
    );
  }
  return [configIssue({ code: schemaIssueCode(issue.code), path: issue.path, value: getIn(json, issue.path), problem: issue.message.replace(/^Invalid input: /, ""), fix: fixFor(issue) })];
}

function fixFor(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `give a value of type ${issue.expected}`;
    case "invalid_value":
      return `use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return issue.origin === "array" ? "list at least one entry" : `use a value of at least ${String(issue.minimum)}`;
    case "too_big":
      return `use a value of at most ${String(issue.maximum)}`;
    default:
      return "change it in shipit.json to a value of that form (CONFIGURATION.md and config/shipit.schema.json give each key's grammar)";
  }
}

function shapeAt(path: PropertyKey[]): Record<string, unknown> | undefined {
  let schema: z.ZodType = UserConfigSchema;
  for (const seg of path) {
    const inner = unwrap(schema);
    // an entry of a list (test.services[0]): the entry's keys
    if (inner instanceof z.ZodArray && typeof seg === "number") {
      schema = inner.element as z.ZodType;
      continue;
    }
    if (!(inner instanceof z.ZodObject)) return undefined;
    schema = (inner.shape as Record<string, z.ZodType>)[String(seg)]!;
    if (!schema) return undefined;
  }
  const inner = unwrap(schema);
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, unknown>) : undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

async function checkPath(view: SourceView, path: readonly (string | number)[], p: string, top: string[]): Promise<ConfigIssue | null> {
  const wantsDir = p.endsWith("/");
  const clean = p.replace(/\/+$/, "") || ".";
  const kind = await view.kind(clean);
  if (kind === null) {
    const first = clean.split("/")[0]!;
    const near = closest(first, top);
    return configIssue({
      code: "PATH_MISSING",
      path,
      value: p,
      problem: "does not exist in the source",
      fix: near && near !== first ? `did you mean "${clean.replace(first, near)}"? Otherwise remove the entry` : "remove the entry or create the path",
    });
  }
  if (wantsDir && kind !== "dir") {
    return configIssue({
      code: "PATH_NOT_A_DIRECTORY",
      path,
      value: p,
      problem: `ends with '/' (a directory) but "${clean}" is a file`,
      fix: `name the file without the slash ("${clean}") or point at the folder that holds the tests`,
    });
  }
  return null;
}

/** Coverage.py's own lookup order: .coveragerc, setup.cfg, tox.ini, pyproject.toml. */
async function repoCoverageThreshold(view: SourceView): Promise<{ threshold: number; from: string } | null> {
  const ini: [string, string][] = [
    [".coveragerc", "report"],
    ["setup.cfg", "coverage:report"],
    ["tox.ini", "coverage:report"],
  ];
  for (const [file, section] of ini) {
    const text = await view.read(file);
    if (text === null) continue;
    const raw = parseIni(text)[section]?.["fail_under"];
    if (raw !== undefined) return { threshold: toThreshold(raw, `${file} [${section}] fail_under`, [section, "fail_under"]), from: `${file} [${section}] fail_under` };
  }
  const pyproject = await view.read("pyproject.toml");
  if (pyproject !== null) {
    const doc = parseToml(pyproject) as { tool?: { coverage?: { report?: { fail_under?: unknown } } } };
    const raw = doc.tool?.coverage?.report?.fail_under;
    if (raw !== undefined) {
      const from = "pyproject.toml [tool.coverage.report] fail_under";
      return { threshold: toThreshold(String(raw), from, ["tool", "coverage", "report", "fail_under"]), from };
    }
  }
  return null;
}

/**
 * Where an installable pyproject project's code is, for the default typecheck and security paths:
 * `src` in a src/ layout, else the package folder named after the project (`chat-bot` → `chat_bot`).
 */
async function packageRoots(view: SourceView): Promise<{ installable: boolean; dirs: string[] }> {
  const text = await view.read("pyproject.toml");
  const parsed = text === null ? null : parseTomlFile(text, "pyproject.toml");
  const project = parsed?.ok ? (parsed.doc["project"] as { name?: unknown } | undefined) : undefined;
  const tool = parsed?.ok ? (parsed.doc["tool"] as { uv?: { package?: unknown } } | undefined) : undefined;
  if (typeof project?.name !== "string" || tool?.uv?.package === false) return { installable: false, dirs: [] };
  if ((await view.kind("src")) === "dir") return { installable: true, dirs: ["src"] };
  const pkg = project.name.replace(/[-.]+/g, "_").toLowerCase();
  return { installable: true, dirs: (await view.kind(pkg)) === "dir" ? [pkg] : [] };
}

/** Folder names that hold tests or docs, not the code a default path list is for. */
const NOT_CODE = /^(tests?|testing|docs?|examples?)$/;

/**
 * The folders that hold Python packages, from the source's file list: the packages in src/ (or
 * src itself when its modules are not in a package), then the top-level folders with an
 * `__init__.py`, tests and docs left out.
 */
export function packageFolders(files: string[]): string[] {
  const inSrc = new Set<string>();
  const top = new Set<string>();
  let srcModules = false;
  for (const f of files) {
    const parts = f.split("/");
    if (parts[0] === "src") {
      if (parts.length === 3 && parts[2] === "__init__.py" && !NOT_CODE.test(parts[1]!)) inSrc.add(`src/${parts[1]}`);
      if (f.endsWith(".py")) srcModules = true;
    } else if (parts.length === 2 && parts[1] === "__init__.py" && !parts[0]!.startsWith(".") && !NOT_CODE.test(parts[0]!)) top.add(parts[0]!);
  }
  const src = inSrc.size ? [...inSrc].sort() : srcModules ? ["src"] : [];
  return [...src, ...[...top].sort()];
}

/** The fix for a default path list that matched nothing: the exact shipit.json line for the package folders there are. */
function defaultPathsFix(keyPath: readonly [string, string], found: string[], top: string[]): string {
  if (found.length === 0) {
    return `set "${formatPath(keyPath)}" in shipit.json to the folders that hold your code (top level has: ${top.slice(0, 12).join(", ")})`;
  }
  const list = `[${found.map((f) => JSON.stringify(f)).join(", ")}]`;
  const what = found.length === 1 ? `the package folder ${found[0]}` : `the package folders ${found.join(", ")}`;
  return `the source has ${what}: to use ${found.length === 1 ? "it" : "them"}, put "${keyPath[0]}": {"${keyPath[1]}": ${list}} in shipit.json`;
}

async function projectName(view: SourceView): Promise<string | undefined> {
  const pyproject = await view.read("pyproject.toml");
  if (pyproject === null) return undefined;
  const parsed = parseTomlFile(pyproject, "pyproject.toml"); // a broken file is reported by the shape's check
  const name = parsed.ok ? (parsed.doc as { project?: { name?: unknown } }).project?.name : undefined;
  return typeof name === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) ? name : undefined;
}

/** `where` names the setting in its own file (`setup.cfg [coverage:report] fail_under`); `path` is its place in that file. */
function toThreshold(raw: string, where: string, path: string[]): number {
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n < 0 || n > 100) {
    throw new ConfigError(where, [
      configIssue({ code: "INVALID_VALUE", path, key: where, value: raw, problem: "is not a percentage between 0 and 100", fix: "set fail_under to a number such as 85" }),
    ]);
  }
  return n;
}

/** Minimal INI reader for coverage/setup.cfg sections: `key = value`, `#`/`;` comments, continuation lines ignored. */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith("#") || t.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(t);
    if (header) {
      section = out[header[1]!.trim()] ??= {};
      continue;
    }
    const kv = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(line);
    if (kv && section && !/^\s/.test(line)) section[kv[1]!.trim()] = kv[2]!.trim();
  }
  return out;
}

function setIn(obj: object, path: readonly string[], value: unknown): void {
  let cur = obj as Record<string, unknown>;
  for (const seg of path.slice(0, -1)) cur = cur[seg] as Record<string, unknown>;
  cur[path[path.length - 1]!] = value;
}

export { closest };
