/**
 * The security gate's own checks of the source tree, pure over a SourceView: which files a commit
 * would hold (the repository's .gitignore files, evaluated with the `ignore` package), whether
 * .gitignore covers runtime configs, databases, logs and key files, and whether config files hold
 * placeholders where shipit.json's `security.secretKeys` says a secret goes. Findings name the file,
 * the line and the key, never the value.
 */
import ignore from "ignore";
import type { ResolvedConfig, SourceView } from "../../config/config.js";
import { parseDetectSecretsJson } from "../parsers.js";
import { ShipitError } from "../../errors.js";

export type Level = "low" | "medium" | "high";
type FindingCategory = "code" | "secret" | "gitignore" | "dependency";
type FindingTool = "bandit" | "detect-secrets" | "pip-audit" | "shipit";

/** One security finding from any of the gate's tools, in one shape for the summary, JSON and SARIF. */
export interface SecurityFinding {
  category: FindingCategory;
  tool: FindingTool;
  /** The tool's rule id: `B602`, `private-key`, `secret-literal`, `GHSA-…`. */
  rule: string;
  /** The rule's short name, for SARIF and people. */
  title: string;
  /** Path relative to the source root. */
  file: string;
  line: number | null;
  severity: Level;
  confidence: Level;
  /** Counts against the gate (at or above the configured thresholds). */
  blocking: boolean;
  /** One line: what is wrong and what to do. Never the secret itself. */
  message: string;
  helpUri?: string;
}

/** What the pure inspection of the tree found, carried in the plan to the gate's evaluation. */
export interface SourceScan {
  /** Files in the tree (the runner's own exclusions left out). */
  files: number;
  /** The files .gitignore does not ignore: what a commit holds, and what the secret scan reads. */
  tracked: string[];
  /** The .gitignore files that were read, root first. */
  gitignores: string[];
  /** Config files checked for literal secrets. */
  configFiles: string[];
  /** Findings from the .gitignore coverage and the secret-key check. */
  findings: SecurityFinding[];
  /** Secrets the detect-secrets baseline marks as audited false positives: file, type and hash (never shown). */
  accepted: { file: string; type: string; hash: string }[];
  /** A baseline that could not be read: the gate reports it. */
  baselineError: string | null;
}

export const RANK: Record<Level, number> = { low: 1, medium: 2, high: 3 };

type Ignore = ReturnType<typeof ignore>;

/* ------------------------------------------------------------------ .gitignore -- */

/** Every .gitignore in a tree, applied as git does: deeper files win, an ignored folder hides all below it. */
export class Gitignores {
  private readonly byDir = new Map<string, Ignore>();

  /** `files`: .gitignore path (e.g. `.gitignore`, `web/.gitignore`) → its text. */
  constructor(files: Record<string, string>) {
    for (const [path, text] of Object.entries(files)) {
      const dir = path === ".gitignore" ? "" : path.slice(0, -"/.gitignore".length);
      this.byDir.set(dir, ignore().add(text));
    }
  }

  get dirs(): string[] {
    return [...this.byDir.keys()].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
  }

  /** True when git would not pick up `path` (a file path relative to the root, `/` separated). */
  ignored(path: string): boolean {
    const segs = path.split("/").filter((s) => s && s !== ".");
    for (let k = 1; k <= segs.length; k++) {
      const isDir = k < segs.length;
      let state = false;
      for (let j = 0; j < k; j++) {
        const dir = segs.slice(0, j).join("/");
        const ig = this.byDir.get(dir);
        if (!ig) continue;
        const r = ig.test(segs.slice(j, k).join("/") + (isDir ? "/" : ""));
        if (r.ignored) state = true;
        else if (r.unignored) state = false;
      }
      if (state) return true;
    }
    return false;
  }
}

const TEMPLATE = /^(.+)\.(dist|example)$/;

/** A concrete path a pattern stands for, at the root and one folder down, to ask .gitignore about. */
export function probePaths(pattern: string): string[] {
  const anchored = pattern.startsWith("/");
  const dirOnly = pattern.endsWith("/");
  // A leading "**/" matches at any depth, as no slash at all does.
  const body = pattern.replace(/^\/+/, "").replace(/\/+$/, "").replace(/^(\*\*\/)+/, "");
  const inst = body
    .replace(/\*\*\//g, "")
    .replace(/\[!?\^?([^\]])[^\]]*\]/g, "$1")
    .replace(/\*+/g, "shipit-probe")
    .replace(/\?/g, "x");
  const file = dirOnly ? `${inst}/shipit-probe` : inst;
  return anchored || body.includes("/") ? [file] : [file, `shipit-probe-dir/${file}`];
}

/**
 * .gitignore coverage: the runtime config each `*.dist`/`*.example` template stands for, and every
 * `security.mustIgnore` pattern (probed at the root and one folder down), must be ignored; a file
 * that matches a pattern but is not ignored is reported by name.
 */
export function gitignoreCoverage(files: string[], gitignores: Gitignores, hasRootGitignore: boolean, mustIgnore: string[]): SecurityFinding[] {
  const findings: SecurityFinding[] = [];
  const where = hasRootGitignore ? ".gitignore" : null;
  const finding = (file: string | null, message: string): SecurityFinding => ({
    category: "gitignore",
    tool: "shipit",
    rule: "not-ignored",
    title: "must be ignored by .gitignore",
    file: file ?? ".gitignore",
    line: null,
    severity: "high",
    confidence: "high",
    blocking: true,
    message,
  });
  if (!hasRootGitignore) {
    findings.push(finding(null, `the source has no .gitignore: runtime configs, databases, logs and key files would be committed. Fix: add a .gitignore that covers ${mustIgnore.join(", ")}`));
  }
  const reported = new Set<string>();
  const present = new Set(files);

  for (const file of files) {
    const m = TEMPLATE.exec(file);
    if (!m || gitignores.ignored(file)) continue;
    const target = m[1]!;
    if (gitignores.ignored(target) || reported.has(target)) continue;
    reported.add(target);
    findings.push(
      finding(
        present.has(target) ? target : where ?? file,
        `${target} (the runtime config made from ${file}) is not ignored: it would be committed with its real values. Fix: add "/${target}" to .gitignore`,
      ),
    );
  }

  for (const pattern of mustIgnore) {
    const missed = probePaths(pattern).find((p) => !gitignores.ignored(p));
    if (missed !== undefined && !reported.has(missed)) {
      const example = missed === pattern ? "" : ` (e.g. ${missed})`;
      findings.push(finding(where, `"${pattern}" is not covered by .gitignore${example}: such files would be committed. Fix: add "${pattern}" to .gitignore`));
    }
    const matcher = ignore().add(pattern);
    for (const file of files) {
      if (matcher.ignores(file) && !gitignores.ignored(file) && !reported.has(file)) {
        reported.add(file);
        findings.push(finding(file, `${file} matches "${pattern}" but is not ignored: it would be committed. Fix: remove it from the repository and add "${pattern}" to .gitignore`));
      }
    }
  }
  return findings;
}

/* ------------------------------------------------------- secret keys in config files -- */

/** Key-name globs (`*password`, `*_key`): `*` any run, `?` one character, case-insensitive. */
export function secretKeyMatcher(globs: string[]): (key: string) => boolean {
  const res = globs.map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\-]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i"));
  return (key) => res.some((r) => r.test(key));
}

/**
 * A value that stands in for a secret rather than being one: empty, an environment reference
 * (`${ROSEY_PASSWORD}`, `$TOKEN`, `%(token)s`, `{{ token }}`), a bracketed hint (`<your token>`),
 * or a marker such as `changeme`, `REPLACE_ME`, `TODO`, `xxxx`, `****`, `...` or `your-token-here`.
 */
export function isPlaceholder(value: string): boolean {
  return /^\s*(|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%\([^)]*\)s|\{\{[^}]*\}\}|<[^<>]*>|\[[^[\]]*\]|x{3,}|\*{3,}|\.{3}|…|(change|replace|fill)[-_ ]?(me|it|this)|todo|tbd|placeholder|none|null|your[-_ ].*)\s*$/i.test(value);
}

interface ConfigEntry {
  key: string;
  path: string;
  value: unknown;
  line: number;
}

/** JSON object members with the line each key stands on (comments tolerated). Throws on invalid JSON. */
export function jsonEntries(text: string): ConfigEntry[] {
  let i = 0;
  let line = 1;
  const out: ConfigEntry[] = [];
  const fail = (what: string): never => {
    throw new ShipitError("JSON_INVALID", `${what} at line ${line}`);
  };
  const ws = () => {
    for (;;) {
      const c = text[i];
      if (c === "\n") (line++, i++);
      else if (c === " " || c === "\t" || c === "\r" || c === "\ufeff") i++;
      else if (c === "/" && text[i + 1] === "/") while (i < text.length && text[i] !== "\n") i++;
      else if (c === "/" && text[i + 1] === "*") {
        const end = text.indexOf("*/", i + 2);
        if (end < 0) fail("unterminated comment");
        line += (text.slice(i, end).match(/\n/g) ?? []).length;
        i = end + 2;
      } else return;
    }
  };
  const str = (): string => {
    let j = i + 1;
    while (j < text.length && text[j] !== '"') {
      if (text[j] === "\n") fail("newline in a string");
      j += text[j] === "\\" ? 2 : 1;
    }
    if (j >= text.length) fail("unterminated string");
    const raw = text.slice(i, j + 1);
    i = j + 1;
    return JSON.parse(raw) as string;
  };
  const value = (path: string): unknown => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") return (i++, {});
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a key`);
        const keyLine = line;
        const key = str();
        ws();
        if (text[i] !== ":") fail(`expected ':' after "${key}"`);
        i++;
        const childPath = path ? `${path}.${key}` : key;
        const v = value(childPath);
        out.push({ key, path: childPath, value: v, line: keyLine });
        ws();
        if (text[i] === ",") {
          i++;
          ws();
          if (text[i] === "}") return (i++, {});
          continue;
        }
        if (text[i] === "}") return (i++, {});
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      ws();
      const items: unknown[] = [];
      if (text[i] === "]") return (i++, items);
      for (let n = 0; ; n++) {
        items.push(value(`${path}[${n}]`));
        ws();
        if (text[i] === ",") {
          i++;
          ws();
          if (text[i] === "]") return (i++, items);
          continue;
        }
        if (text[i] === "]") return (i++, items);
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const lit = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!lit) fail("unexpected token");
    i += lit![0].length;
    return JSON.parse(lit![0]);
  };
  value("");
  ws();
  if (i < text.length) fail("unexpected text after the document");
  return out;
}

/** `KEY=value` lines of a dotenv file (`export` prefix, quotes and trailing comments handled). */
export function dotenvEntries(text: string): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*)$/.exec(raw);
    if (!m || raw.trimStart().startsWith("#")) return;
    let v = m[2]!.trim();
    const q = /^(["'])(.*)\1$/.exec(v);
    v = q ? q[2]! : v.replace(/\s+#.*$/, "");
    out.push({ key: m[1]!, path: m[1]!, value: v, line: idx + 1 });
  });
  return out;
}

/** Secret keys holding literal values in one config file: reported with key path and line, never the value. */
export function configLiterals(file: string, text: string, secretKeys: string[]): SecurityFinding[] {
  const isSecret = secretKeyMatcher(secretKeys);
  const base = { category: "secret" as const, tool: "shipit" as const, file, severity: "high" as const, confidence: "high" as const, blocking: true };
  let entries: ConfigEntry[];
  if (/\.json($|\.)/i.test(file.split("/").pop()!)) {
    try {
      entries = jsonEntries(text);
    } catch (e) {
      return [
        {
          ...base,
          rule: "unreadable-config",
          title: "config file cannot be checked",
          line: null,
          message: `${file} is not valid JSON (${(e as Error).message}), so its secret keys cannot be checked. Fix: make it valid JSON`,
        },
      ];
    }
  } else {
    entries = dotenvEntries(text);
  }
  const findings: SecurityFinding[] = [];
  for (const e of entries) {
    if (!isSecret(e.key)) continue;
    const values = Array.isArray(e.value) ? e.value : [e.value];
    const literal = values.some((v) => (typeof v === "string" && !isPlaceholder(v)) || typeof v === "number");
    if (!literal) continue;
    const env = e.key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[^A-Za-z0-9]+/g, "_").toUpperCase();
    findings.push({
      ...base,
      rule: "secret-literal",
      title: "secret key holds a literal value",
      line: e.line,
      message: `key "${e.path}" holds a literal value, not a placeholder. Fix: put a placeholder such as "\${${env}}" or "<${e.key}>" in the file, keep the real value out of the repository, and rotate it`,
    });
  }
  return findings;
}

/* ---------------------------------------------------------------- the whole tree -- */

/**
 * Inspect the tree before any container starts: which files a commit holds, the .gitignore
 * coverage, and the secret keys of the committed config files.
 */
export async function scanSource(view: SourceView, config: Pick<ResolvedConfig, "security">): Promise<SourceScan> {
  const files = (await view.files()).map((f) => f.replace(/^\.\//, "")).sort();
  const gitignorePaths = files.filter((f) => f === ".gitignore" || f.endsWith("/.gitignore"));
  const texts: Record<string, string> = {};
  for (const p of gitignorePaths) texts[p] = (await view.read(p)) ?? "";
  const gitignores = new Gitignores(texts);
  const tracked = files.filter((f) => !gitignores.ignored(f));

  const findings = gitignoreCoverage(files, gitignores, gitignorePaths.includes(".gitignore"), config.security.mustIgnore);

  let accepted: SourceScan["accepted"] = [];
  let baselineError: string | null = null;
  const baselinePath = config.security.secretsBaseline;
  const baseline = files.includes(baselinePath) ? await view.read(baselinePath) : null;
  if (baseline !== null) {
    try {
      accepted = parseDetectSecretsJson(baseline)
        .filter((s) => s.isSecret === false)
        .map(({ file, type, hash }) => ({ file, type, hash }));
    } catch (e) {
      baselineError = `${baselinePath} is not a detect-secrets baseline: ${(e as Error).message}`;
    }
  }

  const configMatcher = ignore().add(config.security.configFiles);
  const runtimeConfigs = new Set(tracked.map((f) => TEMPLATE.exec(f)?.[1]).filter((t): t is string => t !== undefined));
  const configFiles = tracked.filter((f) => configMatcher.ignores(f) || runtimeConfigs.has(f));
  for (const f of configFiles) {
    const text = await view.read(f);
    if (text !== null) findings.push(...configLiterals(f, text, config.security.secretKeys));
  }
  return {
    files: files.length,
    // The baseline holds hashes of secrets, not secrets: it is not scanned itself.
    tracked: tracked.filter((f) => f !== baselinePath),
    gitignores: gitignores.dirs.map((d) => (d ? `${d}/.gitignore` : ".gitignore")),
    configFiles,
    findings,
    accepted,
    baselineError,
  };
}
