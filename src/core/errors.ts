/**
 * Every error shipit raises on purpose carries a stable UPPER_SNAKE `code`, so callers and tests
 * can tell them apart. The command line maps the classes to exit codes (src/cli/run.ts): a
 * ShipitError is a refusal of shipit's own (usage, config, inputs: 2), an InfraError a machine,
 * service or tool that failed (3). A plain `Error` is left only where it means a bug in shipit
 * itself; test/core/errors.test.ts keeps the list of those.
 */
export class ShipitError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * The machine or a service failed (docker, the engine, the dagger CLI, git, the network, a tool
 * that answered in a shape it never writes): exit code 3.
 */
export class InfraError extends ShipitError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Where in a value, as zod gives it: keys and array indexes (`["runtime", "channel"]`, `["paths", 0]`). */
export type IssuePath = (string | number)[];

/**
 * A path as people write it: `lint.paths[0]`, `environments.test.runtime.channel`; a key that
 * would read as more than one step is quoted (`files["app/main.py"]`); the empty path is `(root)`.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  const key = path.reduce<string>((acc, seg) => {
    if (typeof seg === "number") return `${acc}[${seg}]`;
    const name = String(seg);
    if (name === "" || /[.[\]"'\s/]/.test(name)) return `${acc}[${JSON.stringify(name)}]`;
    return acc ? `${acc}.${name}` : name;
  }, "");
  return key || "(root)";
}

/** Issues shown in one message at most; the rest are counted. */
const SHOWN_ISSUES = 20;

/**
 * zod's issues in every message that shows them: `path: message; path: message`, each path as
 * formatPath writes it, without zod's "Invalid input: " preamble.
 */
export function formatSchemaIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const shown = issues.slice(0, SHOWN_ISSUES).map((i) => `${formatPath(i.path)}: ${i.message.replace(/^Invalid input: /, "")}`);
  const more = issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more issue${more === 1 ? "" : "s"}` : "");
}

export interface ConfigIssue {
  /** The kind of problem, stable for callers: UNKNOWN_KEY, INVALID_TYPE, PATH_MISSING, HOST_NOT_SET, … */
  code: string;
  /** Where, as a zod path: `["lint", "paths", 0]`; a flag is a one-segment path (`["--env"]`). */
  path: IssuePath;
  /** The path as people write it (formatPath): `lint.paths[0]`; `(file)` for the file as a whole. */
  key: string;
  /** The offending value as JSON, or undefined when the key is missing. */
  value?: unknown;
  problem: string;
  fix: string;
}

/**
 * A zod issue's code as a ConfigIssue's: zod's own in upper case (INVALID_TYPE, TOO_SMALL,
 * INVALID_FORMAT, …); shipit's grammar refinements (zod's "custom") are INVALID_FORMAT too.
 */
export function schemaIssueCode(zodCode: string): string {
  return zodCode === "custom" ? "INVALID_FORMAT" : zodCode.toUpperCase();
}

/** The one way to make a ConfigIssue: `key` follows from `path` unless the issue is about something a path cannot name (the whole file, another file's setting). */
export function configIssue(init: { code: string; path: readonly PropertyKey[]; value?: unknown; problem: string; fix: string; key?: string }): ConfigIssue {
  const path = init.path.map((s) => (typeof s === "number" ? s : String(s)));
  return { code: init.code, path, key: init.key ?? formatPath(path), ...(init.value === undefined ? {} : { value: init.value }), problem: init.problem, fix: init.fix };
}

/** Bad configuration: names each key, its bad value and the fix. Raised before any container starts. */
export class ConfigError extends ShipitError {
  readonly issues: ConfigIssue[];
  constructor(source: string, issues: ConfigIssue[]) {
    super("CONFIG_INVALID", formatIssues(source, issues));
    this.issues = issues;
  }
}

/** Characters of a bad value a message shows at most: a 100,000-character value is named by its length. */
const SHOWN_VALUE = 200;
/** Issues one config error lists at most; the issues array keeps them all. */
const SHOWN_CONFIG_ISSUES = 50;

/** The value as JSON for a message, cut to SHOWN_VALUE characters. */
export function shownValue(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length <= SHOWN_VALUE ? json : `${json.slice(0, SHOWN_VALUE)}… (${json.length} characters)`;
}

function formatIssues(source: string, issues: ConfigIssue[]): string {
  const lines = issues.slice(0, SHOWN_CONFIG_ISSUES).map((i) => {
    const value = i.value === undefined ? "" : ` = ${shownValue(i.value)}`;
    return `  - ${i.key}${value}: ${i.problem}. Fix: ${i.fix}`;
  });
  const more = issues.length - lines.length;
  if (more > 0) lines.push(`  - and ${more} more issue${more === 1 ? "" : "s"} (fix these first)`);
  return `invalid shipit config (${source}):\n${lines.join("\n")}`;
}
