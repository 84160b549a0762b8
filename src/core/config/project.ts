/**
 * The shape of a Python project, read from its files (pure: text in, data out): requirement files,
 * a pyproject.toml with [project] dependencies, extras and PEP 735 dependency groups, a uv.lock,
 * a flat or a src/ layout. The plan installs and bundles what this says.
 */
import { parse as parseToml } from "smol-toml";
import { configIssue, type ConfigIssue } from "../errors.js";
import { closest } from "../text.js";

/** A dependency the project itself declares, and where: the audit names this file and line. */
export interface Root {
  requirement: string;
  file: string;
  line: number;
}

export interface PyProject {
  /** [project].name, or null without a [project] table (a pyproject with dependency groups only). */
  name: string | null;
  /** [project].version when static, else null (dynamic or absent). */
  version: string | null;
  /** The project itself is installed for the tests (editable) and built as a wheel for the artifact. */
  installable: boolean;
  /** [project].dependencies: what the artifact bundles as wheels. */
  dependencies: string[];
  /** [build-system].requires (PEP 517's default when absent): installed into the project venv, so installs need no build isolation and no network. */
  buildRequires: string[];
  /** [build-system].build-backend (PEP 517's default when absent). */
  backend: string;
  /** Every extra and group the file defines (normalized names), for "did you mean". */
  allExtras: string[];
  allGroups: string[];
}

export interface ProjectShape {
  pyproject: PyProject | null;
  /** "uv.lock" when the project layer installs it exactly; null otherwise. */
  lock: string | null;
  /** src/: the import packages live under src/ (they import only once installed). */
  layout: "src" | "flat";
  /** The files the project layer is built from, copied in before the source (a source-only change reuses the layer). */
  files: string[];
  /** The selected extras and groups (normalized), as the project layer installs them. */
  extras: string[];
  groups: string[];
  /** pyproject's declared dependencies the project layer installs: [project].dependencies, the selected extras and groups. */
  roots: Root[];
  /** What the test gate needs that the project does not bring itself: shipit's pytest and pytest-cov pins. */
  testTools: string[];
}

const PEP517_DEFAULT = { requires: ["setuptools>=40.8.0"], backend: "setuptools.build_meta:__legacy__" };

/** PEP 503 / 685 name normalization: `Pytest_Cov` and `pytest.cov` are `pytest-cov`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

/** The distribution name at the start of a requirement specifier (`attrs[x]>=1; python_version<'4'` → `attrs`). */
export function requirementName(spec: string): string | null {
  const m = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/.exec(spec);
  return m ? normalizeName(m[1]!) : null;
}

function requirementExtras(spec: string): string[] {
  const m = /^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*\[([^\]]*)\]/.exec(spec);
  return m ? m[1]!.split(",").map((e) => normalizeName(e.trim())).filter(Boolean) : [];
}

type Toml = Record<string, unknown>;
const isTable = (v: unknown): v is Toml => typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export function parseTomlFile(text: string, file: string): { ok: true; doc: Toml } | { ok: false; issue: ConfigIssue } {
  try {
    return { ok: true, doc: parseToml(text) as Toml };
  } catch (e) {
    const first = (e as Error).message.split("\n")[0];
    return { ok: false, issue: configIssue({ code: "TOML_INVALID", path: [file], key: file, problem: `is not valid TOML (${first})`, fix: `fix the TOML syntax of ${file}` }) };
  }
}

/** pyproject.toml's [project] and [dependency-groups]; null when it has neither (a file of tool settings only). */
export function readPyProject(doc: Toml, issues: ConfigIssue[]): (PyProject & { doc: Toml }) | null {
  const project = isTable(doc["project"]) ? doc["project"] : null;
  const groups = isTable(doc["dependency-groups"]) ? doc["dependency-groups"] : null;
  if (!project && !groups) return null;
  const dynamic = strings(project?.["dynamic"]);
  for (const field of ["dependencies", "optional-dependencies"]) {
    if (dynamic.includes(field)) {
      issues.push(configIssue({
        code: "DYNAMIC_DEPENDENCIES",
        path: ["pyproject.toml"],
        key: "pyproject.toml",
        value: `dynamic = ${JSON.stringify(dynamic)}`,
        problem: `declares [project].${field} as dynamic, which shipit cannot install before the source is there`,
        fix: `list them statically in [project].${field}, or in requirement files named in "requirements" of shipit.json`,
      }));
    }
  }
  const build = isTable(doc["build-system"]) ? doc["build-system"] : null;
  const tool = isTable(doc["tool"]) ? doc["tool"] : {};
  const uv = isTable(tool["uv"]) ? tool["uv"] : {};
  const name = typeof project?.["name"] === "string" ? project["name"] : null;
  return {
    doc,
    name,
    version: typeof project?.["version"] === "string" && !dynamic.includes("version") ? project["version"] : null,
    installable: name !== null && uv["package"] !== false,
    dependencies: strings(project?.["dependencies"]),
    buildRequires: build && Array.isArray(build["requires"]) ? strings(build["requires"]) : PEP517_DEFAULT.requires,
    backend: typeof build?.["build-backend"] === "string" ? build["build-backend"] : PEP517_DEFAULT.backend,
    allExtras: Object.keys(isTable(project?.["optional-dependencies"]) ? project["optional-dependencies"] : {}).map(normalizeName),
    allGroups: Object.keys(groups ?? {}).map(normalizeName),
  };
}

/** The dependencies of the selected extras and groups, self-references (`me[other]`) and `{include-group}` expanded. */
function selectedRoots(py: PyProject & { doc: Toml }, text: string, extras: string[], groups: string[]): Root[] {
  const project = isTable(py.doc["project"]) ? py.doc["project"] : {};
  const optional = isTable(project["optional-dependencies"]) ? project["optional-dependencies"] : {};
  const groupTable = isTable(py.doc["dependency-groups"]) ? py.doc["dependency-groups"] : {};
  const byNorm = (t: Toml) => new Map(Object.entries(t).map(([k, v]) => [normalizeName(k), v]));
  const optionalByName = byNorm(optional);
  const groupsByName = byNorm(groupTable);
  const self = py.name ? normalizeName(py.name) : null;
  const out: Root[] = [];
  const seen = new Set<string>();
  const add = (spec: string) => {
    if (seen.has(spec)) return;
    seen.add(spec);
    out.push({ requirement: spec, file: "pyproject.toml", line: lineOf(text, spec) });
  };
  const doneExtras = new Set<string>();
  const addExtra = (extra: string) => {
    if (doneExtras.has(extra)) return;
    doneExtras.add(extra);
    for (const spec of strings(optionalByName.get(extra))) {
      if (self && requirementName(spec) === self) requirementExtras(spec).forEach(addExtra);
      else add(spec);
    }
  };
  const doneGroups = new Set<string>();
  const addGroup = (group: string) => {
    if (doneGroups.has(group)) return;
    doneGroups.add(group);
    const entries = groupsByName.get(group);
    for (const entry of Array.isArray(entries) ? entries : []) {
      if (typeof entry === "string") {
        if (self && requirementName(entry) === self) requirementExtras(entry).forEach(addExtra);
        else add(entry);
      } else if (isTable(entry) && typeof entry["include-group"] === "string") addGroup(normalizeName(entry["include-group"]));
    }
  };
  py.dependencies.forEach(add);
  extras.forEach(addExtra);
  groups.forEach(addGroup);
  return out;
}

/** The 1-based line where a requirement string is written (its quoted form), for messages; 0 when not found. */
function lineOf(text: string, spec: string): number {
  const lines = text.split(/\r?\n/);
  const i = lines.findIndex((l) => l.includes(`"${spec}"`) || l.includes(`'${spec}'`));
  return i + 1;
}

/**
 * The packages the lock brings in for the root project, its selected extras and groups (markers
 * ignored: a superset), by normalized name. Used to tell whether the lock already holds pytest.
 */
export function lockClosure(lock: Toml, extras: string[], groups: string[]): Set<string> {
  const packages = Array.isArray(lock["package"]) ? lock["package"].filter(isTable) : [];
  const byName = new Map(packages.map((p) => [normalizeName(String(p["name"])), p]));
  const root = packages.find((p) => isTable(p["source"]) && (p["source"]["editable"] === "." || p["source"]["virtual"] === "."));
  const seen = new Set<string>();
  const deps = (list: unknown) => (Array.isArray(list) ? list.filter(isTable) : []);
  const queue: Toml[] = [];
  if (root) {
    queue.push(...deps(root["dependencies"]));
    const opt = isTable(root["optional-dependencies"]) ? root["optional-dependencies"] : {};
    const dev = isTable(root["dev-dependencies"]) ? root["dev-dependencies"] : {};
    for (const [k, v] of Object.entries(opt)) if (extras.includes(normalizeName(k))) queue.push(...deps(v));
    for (const [k, v] of Object.entries(dev)) if (groups.includes(normalizeName(k))) queue.push(...deps(v));
  }
  while (queue.length) {
    const d = queue.shift()!;
    const name = normalizeName(String(d["name"]));
    const extra = strings(d["extra"]);
    const key = `${name}[${extra.join(",")}]`;
    if (seen.has(key)) continue;
    seen.add(key);
    const p = byName.get(name);
    if (!p) continue;
    queue.push(...deps(p["dependencies"]));
    const opt = isTable(p["optional-dependencies"]) ? p["optional-dependencies"] : {};
    for (const e of extra) queue.push(...deps(opt[e]));
  }
  return new Set([...seen].map((k) => k.replace(/\[.*$/, "")));
}

/**
 * A file given as a requirements file that is not one (a pyproject.toml, a uv.lock or any TOML
 * file): pip would read `[build-system]` as a requirement. Returns the issue, or null.
 */
export function wrongKindOfRequirements(at: readonly PropertyKey[], path: string, text: string | null): ConfigIssue | null {
  const base = path.split("/").pop()!;
  const firstLine = (text ?? "").split(/\r?\n/).map((l) => l.trim()).find((l) => l && !l.startsWith("#")) ?? "";
  const looksToml = /\.(toml|lock)$/.test(base) || /^\[[A-Za-z0-9_.\- "']+\]$/.test(firstLine);
  if (!looksToml) return null;
  const fix =
    base === "pyproject.toml"
      ? `remove it from "requirements": shipit reads pyproject.toml by itself ([project].dependencies; the extras and dependency groups to install go in "project.extras" and "project.groups")`
      : base === "uv.lock"
        ? `remove it from "requirements": a uv.lock beside pyproject.toml is installed exactly by itself ("project.lock", default true)`
        : `list pip requirement files only (one requirement per line, such as requests==2.32.3)`;
  return configIssue({ code: "WRONG_FILE_KIND", path: at, value: path, problem: "is a TOML file, not a pip requirements file", fix });
}

/**
 * Pick the configured extras or groups (each must exist) or, by default, those of the candidates
 * that exist. Issues name a missing one with a "did you mean".
 */
export function selectNames(kind: "extras" | "groups", configured: string[] | undefined, candidates: string[], available: string[], issues: ConfigIssue[]): string[] {
  const what = kind === "extras" ? "[project.optional-dependencies]" : "[dependency-groups]";
  if (!configured) return candidates.map(normalizeName).filter((c) => available.includes(c));
  const out: string[] = [];
  for (const [i, raw] of configured.entries()) {
    const name = normalizeName(raw);
    if (available.includes(name)) {
      out.push(name);
      continue;
    }
    const near = closest(name, available);
    issues.push(configIssue({
      code: "NOT_IN_PYPROJECT",
      path: ["project", kind, i],
      value: raw,
      problem: available.length ? `is not in pyproject.toml's ${what} (it has ${available.join(", ")})` : `is not in pyproject.toml: it has no ${what}`,
      fix: near ? `did you mean "${near}"? Otherwise remove the entry` : "remove the entry, or add it to pyproject.toml",
    }));
  }
  return out;
}

export interface ShapeInputs {
  requirements: string[];
  pyprojectText: string | null;
  lockText: string | null;
  srcIsDir: boolean;
  options: { extras?: string[]; groups?: string[]; lock?: boolean };
  defaults: { extras: string[]; groups: string[] };
  testTools: { pytest: string; pytestCov: string };
}

/** The project's shape from its files and the config; config problems go to `issues`. */
export function detectShape(inp: ShapeInputs, issues: ConfigIssue[]): ProjectShape {
  let py: (PyProject & { doc: Toml }) | null = null;
  if (inp.pyprojectText !== null) {
    const parsed = parseTomlFile(inp.pyprojectText, "pyproject.toml");
    if (parsed.ok) py = readPyProject(parsed.doc, issues);
    else issues.push(parsed.issue);
  }
  const wantsSelection = inp.options.extras !== undefined || inp.options.groups !== undefined;
  if (!py && wantsSelection) {
    issues.push(configIssue({
      code: "NO_PYPROJECT",
      path: ["project", inp.options.extras !== undefined ? "extras" : "groups"],
      value: inp.options.extras ?? inp.options.groups,
      problem: inp.pyprojectText === null ? "names extras or groups, but the source has no pyproject.toml" : "names extras or groups, but pyproject.toml has no [project] table and no [dependency-groups]",
      fix: "remove the key, or declare them in pyproject.toml",
    }));
  }
  const extras = py ? selectNames("extras", inp.options.extras, inp.defaults.extras, py.allExtras, issues) : [];
  const groups = py ? selectNames("groups", inp.options.groups, inp.defaults.groups, py.allGroups, issues) : [];
  const useLock = py !== null && inp.lockText !== null && inp.options.lock !== false;
  const roots = py ? selectedRoots(py, inp.pyprojectText!, extras, groups) : [];
  let provided = new Set(roots.map((r) => requirementName(r.requirement)));
  if (useLock) {
    const parsed = parseTomlFile(inp.lockText!, "uv.lock");
    if (parsed.ok) provided = lockClosure(parsed.doc, extras, groups);
    else issues.push(parsed.issue);
  }
  const testTools = [
    ["pytest", inp.testTools.pytest],
    ["pytest-cov", inp.testTools.pytestCov],
  ]
    .filter(([name]) => !provided.has(name!))
    .map(([name, v]) => `${name}==${v}`);
  const files = [...inp.requirements, ...(py ? ["pyproject.toml"] : []), ...(useLock ? ["uv.lock"] : [])];
  const { doc: _doc, ...pyproject } = py ?? { doc: null };
  return {
    pyproject: py ? (pyproject as PyProject) : null,
    lock: useLock ? "uv.lock" : null,
    layout: py?.installable && inp.srcIsDir ? "src" : "flat",
    files,
    extras,
    groups,
    roots,
    testTools,
  };
}

/** The one phrase that names what the project layer installs, for the dependencies row and its messages. */
export function describeShape(s: ProjectShape, requirements: string[]): string {
  const parts: string[] = [...requirements];
  if (s.pyproject) {
    const sel = [s.extras.length ? `extras ${s.extras.join(", ")}` : "", s.groups.length ? `group${s.groups.length > 1 ? "s" : ""} ${s.groups.join(", ")}` : ""].filter(Boolean).join("; ");
    parts.push(`${s.lock ? "uv.lock" : "pyproject.toml"}${sel ? ` (${sel})` : ""}`);
  }
  return parts.length ? parts.join(", ") : "no requirement files";
}
