/**
 * What `shipit init` reads from a bot's repository, from the file list and the files' text alone:
 * the app folders, requirement files or pyproject.toml, tests and their config, coverage config,
 * config templates and the secret-looking keys in them, and systemd units.
 */
import { parse as parseToml } from "smol-toml";
import { DEFAULTS, type SourceView } from "../config/config.js";

export interface ConfigTemplate {
  path: string;
  /** The file it stands for (config.json.dist → config.json), when it is a template. */
  renders?: string;
  format: "json" | "yaml" | "toml";
  /** Paths of values that look secret: a secret-looking key, or a placeholder naming a secret (`user[1]` = "YourPassword"). */
  secrets: string[];
  /** A JSON template's top-level keys whose values are scalars or lists (what `runtimeConfig.values` may set). */
  fields?: Record<string, "scalar" | "list">;
}

export interface SystemdUnit {
  path: string;
  execStart?: string;
  user?: string;
  workingDirectory?: string;
  /** Output appended to a file: the journal (log health, failure messages) would not see it. */
  logsToFile: boolean;
}

export interface Layout {
  pyproject?: { name?: string };
  requirements: string[];
  appFolders: string[];
  /**
   * Top-level modules (`__version__.py`) that the app folders' code imports: a release without
   * them cannot start (seen on the real Rosey: `lib/__init__.py` imports `__version__`).
   */
  appModules: string[];
  testFolders: string[];
  /** Where pytest's settings are (pytest.ini, pyproject.toml, setup.cfg, tox.ini), and its testpaths. */
  pytestConfig?: { file: string; testpaths: string[] };
  coverage?: { file: string; failUnder?: number };
  templates: ConfigTemplate[];
  units: SystemdUnit[];
  /** A package with __main__.py (`python -m` target), when there is one. */
  mainModule?: string;
}

/** Folders that hold no app code a release needs. */
const NOT_APP = new Set(["tests", "test", "docs", "doc", "examples", "example", "scripts", "monitoring", "tools", "build", "dist", "htmlcov", "node_modules", "venv", ".venv", "env"]);
const TEST_DIRS = new Set(["tests", "test"]);
/** A key that looks secret: the security gate's own `security.secretKeys` globs (`*password`, `*token`, `*_key`, …), case-insensitive. */
const SECRET_KEYS = DEFAULTS.security.secretKeys.map((g) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i"));
const isSecretKey = (k: string) => SECRET_KEYS.some((re) => re.test(k));
/** A placeholder value that names a secret, in a list (`"user": ["YourUsername", "YourPassword"]`). */
const PLACEHOLDER_SECRET = /(password|passwd|token|secret|api[_-]?key)/i;

const isTemplate = (p: string) => /\.(dist|example|sample|template)$/.test(p);
const baseName = (p: string) => p.split("/").at(-1)!;
const formatOf = (p: string): ConfigTemplate["format"] | null => {
  const bare = p.replace(/\.(dist|example|sample|template)$/, "");
  if (/\.json$/.test(bare)) return "json";
  if (/\.ya?ml$/.test(bare)) return "yaml";
  if (/\.toml$/.test(bare)) return "toml";
  return null;
};

/** Top-level files that are no module an app imports. */
const NOT_APP_MODULE = /^(setup|conftest|noxfile|fabfile|tasks|manage)\.py$|^test_.*\.py$|_test\.py$/;

/**
 * The top-level `NAME.py` files that code in the app folders imports (`import NAME`, `from NAME
 * import …`, at the start of a line: a statement, not prose in a docstring, in practice).
 */
export async function importedTopModules(view: SourceView, files: string[], appFolders: string[]): Promise<string[]> {
  const candidates = files.filter((f) => !f.includes("/") && f.endsWith(".py") && !NOT_APP_MODULE.test(f)).map((f) => f.slice(0, -3));
  if (!candidates.length) return [];
  const wanted = new Set<string>();
  const statement = /^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)[ \t.]|import[ \t]+([A-Za-z_]\w*(?:[ \t]*,[ \t]*[A-Za-z_]\w*)*))/gm;
  for (const f of files.filter((x) => x.endsWith(".py") && appFolders.includes(x.split("/")[0]!))) {
    const text = (await view.read(f)) ?? "";
    for (const m of text.matchAll(statement)) {
      for (const name of m[1] ? [m[1]] : m[2]!.split(",").map((n) => n.trim())) if (candidates.includes(name)) wanted.add(name);
    }
  }
  return [...wanted].sort().map((n) => `${n}.py`);
}

/** A config template: `*.dist`/`*.example` of a JSON, YAML or TOML file, or a committed `config*.json|yaml|toml`. */
function isConfigTemplate(p: string): boolean {
  // the bot's own config, not an example's or a test's
  if (p === "shipit.json" || p.startsWith(".") || NOT_APP.has(p.split("/")[0]!) && p.includes("/")) return false;
  if (formatOf(p) === null) return false;
  return isTemplate(p) || /^config[^/]*\.(json|ya?ml|toml)$/.test(baseName(p));
}

function walkSecrets(value: unknown, path: string, out: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      const at = `${path}[${i}]`;
      if (typeof v === "string" && PLACEHOLDER_SECRET.test(v)) out.push(at);
      else walkSecrets(v, at, out);
    });
    return;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const at = path ? `${path}.${k}` : k;
      if (isSecretKey(k) && (typeof v === "string" || typeof v === "number")) out.push(at);
      else walkSecrets(v, at, out);
    }
  }
}

/** Secret-looking keys of a YAML file, by line (no YAML parser): `key: value` with a secret word in the key. */
function yamlSecrets(text: string): string[] {
  const out: string[] = [];
  const stack: { indent: number; key: string }[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\s*)([A-Za-z0-9_.-]+)\s*:\s*(.*)$/.exec(line);
    if (!m || line.trim().startsWith("#")) continue;
    const indent = m[1]!.length;
    while (stack.length && stack.at(-1)!.indent >= indent) stack.pop();
    const path = [...stack.map((s) => s.key), m[2]!].join(".");
    if (m[3]!.trim() === "") stack.push({ indent, key: m[2]! });
    else if (isSecretKey(m[2]!)) out.push(path);
  }
  return out;
}

function jsonFields(text: string): { fields?: Record<string, "scalar" | "list"> } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return {};
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return {};
  const fields: Record<string, "scalar" | "list"> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (Array.isArray(v)) fields[k] = "list";
    else if (v === null || typeof v !== "object") fields[k] = "scalar";
  }
  return { fields };
}

export function templateSecrets(text: string, format: ConfigTemplate["format"]): string[] {
  const out: string[] = [];
  try {
    if (format === "json") walkSecrets(JSON.parse(text), "", out);
    else if (format === "toml") walkSecrets(parseToml(text), "", out);
    else return yamlSecrets(text);
  } catch {
    return [];
  }
  return out;
}

export function parseUnit(path: string, text: string): SystemdUnit {
  const get = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*(.+?)\\s*$`, "m").exec(text)?.[1];
  return {
    path,
    execStart: get("ExecStart"),
    user: get("User"),
    workingDirectory: get("WorkingDirectory"),
    logsToFile: /^\s*Standard(Output|Error)\s*=\s*(append|file):/m.test(text),
  };
}

/** pytest's testpaths from an ini-style section (pytest.ini [pytest], setup.cfg/tox.ini [tool:pytest]/[pytest]). */
function iniTestpaths(text: string, sections: string[]): string[] | null {
  let inSection = false;
  let found = false;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const s = /^\s*\[([^\]]+)\]\s*$/.exec(lines[i]!);
    if (s) {
      inSection = sections.includes(s[1]!.trim());
      found ||= inSection;
      continue;
    }
    const m = inSection ? /^\s*testpaths\s*=\s*(.*)$/.exec(lines[i]!) : null;
    if (m) {
      const parts = m[1]!.split(/\s+/).filter(Boolean);
      while (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]!)) parts.push(...lines[++i]!.trim().split(/\s+/));
      return parts;
    }
  }
  return found ? [] : null;
}

function iniFailUnder(text: string, sections: string[]): number | undefined | null {
  let inSection = false;
  let found = false;
  for (const line of text.split("\n")) {
    const s = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (s) {
      inSection = sections.includes(s[1]!.trim());
      found ||= inSection;
      continue;
    }
    const m = inSection ? /^\s*fail_under\s*=\s*([\d.]+)/.exec(line) : null;
    if (m) return Number(m[1]);
  }
  return found ? undefined : null;
}

export async function detectLayout(view: SourceView): Promise<Layout> {
  const files = await view.files();
  const top = new Set(files.filter((f) => !f.includes("/")));
  const topDirs = [...new Set(files.filter((f) => f.includes("/")).map((f) => f.split("/")[0]!))].sort();
  const layout: Layout = { requirements: [], appFolders: [], appModules: [], testFolders: [], templates: [], units: [] };

  if (top.has("pyproject.toml")) {
    let name: string | undefined;
    try {
      const doc = parseToml((await view.read("pyproject.toml")) ?? "") as { project?: { name?: unknown } };
      if (typeof doc.project?.name === "string") name = doc.project.name;
    } catch {
      // a broken pyproject.toml is the config loader's to report, with its line
    }
    layout.pyproject = { ...(name ? { name } : {}) };
  }
  layout.requirements = [...top].filter((f) => /^requirements([-_.][A-Za-z0-9_.-]*)?\.txt$/.test(f)).sort((a, b) => (a === "requirements.txt" ? -1 : b === "requirements.txt" ? 1 : a.localeCompare(b)));
  layout.appFolders = topDirs.filter((d) => !d.startsWith(".") && !NOT_APP.has(d) && files.some((f) => f.startsWith(`${d}/`) && f.endsWith(".py")));
  layout.appModules = await importedTopModules(view, files, layout.appFolders);
  layout.testFolders = topDirs.filter((d) => TEST_DIRS.has(d) && files.some((f) => f.startsWith(`${d}/`) && f.endsWith(".py")));

  for (const [file, sections] of [["pytest.ini", ["pytest"]], ["setup.cfg", ["tool:pytest"]], ["tox.ini", ["pytest"]]] as const) {
    if (!top.has(file)) continue;
    const paths = iniTestpaths((await view.read(file)) ?? "", [...sections]);
    if (paths !== null) {
      layout.pytestConfig = { file, testpaths: paths };
      break;
    }
  }
  if (!layout.pytestConfig && top.has("pyproject.toml")) {
    try {
      const doc = parseToml((await view.read("pyproject.toml")) ?? "") as { tool?: { pytest?: { ini_options?: { testpaths?: unknown } } } };
      const opts = doc.tool?.pytest?.ini_options;
      if (opts) layout.pytestConfig = { file: "pyproject.toml", testpaths: Array.isArray(opts.testpaths) ? opts.testpaths.map(String) : [] };
    } catch {
      // reported by the config loader
    }
  }

  // coverage.py's own order: .coveragerc, setup.cfg, tox.ini, pyproject.toml
  for (const [file, sections] of [[".coveragerc", ["report", "run"]], ["setup.cfg", ["coverage:report", "coverage:run"]], ["tox.ini", ["coverage:report", "coverage:run"]]] as const) {
    if (!top.has(file)) continue;
    const fu = iniFailUnder((await view.read(file)) ?? "", [...sections]);
    if (fu !== null) {
      layout.coverage = { file, ...(fu !== undefined ? { failUnder: fu } : {}) };
      break;
    }
  }
  if (!layout.coverage && top.has("pyproject.toml")) {
    try {
      const doc = parseToml((await view.read("pyproject.toml")) ?? "") as { tool?: { coverage?: { report?: { fail_under?: unknown } } } };
      if (doc.tool?.coverage) layout.coverage = { file: "pyproject.toml", ...(typeof doc.tool.coverage.report?.fail_under === "number" ? { failUnder: doc.tool.coverage.report.fail_under } : {}) };
    } catch {
      // reported by the config loader
    }
  }

  for (const f of files.filter(isConfigTemplate)) {
    const format = formatOf(f)!;
    const text = (await view.read(f)) ?? "";
    layout.templates.push({ path: f, ...(isTemplate(f) ? { renders: f.replace(/\.(dist|example|sample|template)$/, "") } : {}), format, secrets: templateSecrets(text, format), ...(format === "json" ? jsonFields(text) : {}) });
  }
  for (const f of files.filter((p) => p.endsWith(".service"))) layout.units.push(parseUnit(f, (await view.read(f)) ?? ""));

  const mains = files.filter((f) => f.endsWith("/__main__.py") && layout.appFolders.includes(f.split("/")[0]!)).map((f) => f.slice(0, -"/__main__.py".length).replace(/\//g, "."));
  // the deepest one names the bot (bot.rosey over lib)
  mains.sort((a, b) => b.split(".").length - a.split(".").length || a.localeCompare(b));
  if (mains[0]) layout.mainModule = mains[0];
  return layout;
}
