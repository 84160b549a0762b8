import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "vitest";
import { resolveConfig } from "../../../src/core/config/config.js";
import { ConfigError } from "../../../src/core/errors.js";
import { lockClosure, parseTomlFile } from "../../../src/core/config/project.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";
import { REPO } from "../../helpers/variants.js";

const PYPROJECT = `[build-system]
requires = ["hatchling==1.33.0"]
build-backend = "hatchling.build"

[project]
name = "chatbot"
version = "0.3.0"
dependencies = [
  "humanize==4.12.3",
]

[project.optional-dependencies]
fancy = ["rich==14.0.0"]
Tests = ["chatbot[fancy]", "hypothesis==6.0.0"]

[dependency-groups]
test = ["pytest-asyncio==1.5.0", { include-group = "typing" }]
typing = ["types-requests==2.32.0"]
docs = ["sphinx==8.0.0"]
`;

const SRC = { "pyproject.toml": PYPROJECT, "src/chatbot/__init__.py": "", "tests/test_x.py": "" };
const resolve = (json: object | null, files: Record<string, string>) => resolveConfig(json && JSON.stringify(json), "shipit.json", memoryView(files));
const issuesOf = (e: unknown) => (e as ConfigError).issues.map((i) => `${i.key}${i.value === undefined ? "" : ` = ${JSON.stringify(i.value)}`}: ${i.problem}. Fix: ${i.fix}`);

test("a src/ layout with only pyproject.toml: its name, version and code are found; the test group and the tests extra by default", async () => {
  const c = await resolve(null, SRC);
  expect([c.name, c.build.version, c.versionSource]).toEqual(["chatbot", "0.3.0", "pyproject"]);
  expect([c.typecheck.paths, c.security.paths, c.build.include]).toEqual([["src"], ["src"], []]);
  expect(c.shape).toMatchObject({ layout: "src", lock: null, files: ["pyproject.toml"], extras: ["tests"], groups: ["test"], testTools: ["pytest==9.2.0", "pytest-cov==7.1.0"] });
  expect(c.shape.pyproject).toMatchObject({ installable: true, dependencies: ["humanize==4.12.3"], buildRequires: ["hatchling==1.33.0"], backend: "hatchling.build" });
  // self-references (chatbot[fancy]) and include-group expanded; each root with its line, for the audit
  expect(c.shape.roots).toEqual([
    { requirement: "humanize==4.12.3", file: "pyproject.toml", line: 9 },
    { requirement: "rich==14.0.0", file: "pyproject.toml", line: 13 },
    { requirement: "hypothesis==6.0.0", file: "pyproject.toml", line: 14 },
    { requirement: "pytest-asyncio==1.5.0", file: "pyproject.toml", line: 17 },
    { requirement: "types-requests==2.32.0", file: "pyproject.toml", line: 18 },
  ]);
});

test("configured extras and groups replace the defaults; shipit.json's build.version wins over pyproject's", async () => {
  const c = await resolve({ project: { extras: [], groups: ["docs"] }, build: { version: "9.9.9" } }, SRC);
  expect([c.shape.extras, c.shape.groups, c.project]).toEqual([[], ["docs"], { extras: [], groups: ["docs"], lock: false }]);
  expect(c.shape.roots.map((r) => r.requirement)).toEqual(["humanize==4.12.3", "sphinx==8.0.0"]);
  expect([c.build.version, c.versionSource]).toEqual(["9.9.9", "config"]);
});

test("a project whose dependencies bring pytest itself keeps its own: shipit adds only what is missing", async () => {
  const c = await resolve({ project: { groups: ["mine"] } }, { ...SRC, "pyproject.toml": PYPROJECT.replace(`docs = [`, `mine = ["Pytest>=8"]\ndocs = [`) });
  expect(c.shape.testTools).toEqual(["pytest-cov==7.1.0"]);
});

test("a pyproject.toml listed in requirements is a config error that names the fix", async () => {
  const err = await resolve({ requirements: ["pyproject.toml", "uv.lock", "deps.txt"] }, { ...SRC, "uv.lock": "version = 1\n", "deps.txt": "[tool.x]\na = 1\n" }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(issuesOf(err)).toEqual([
    `requirements[0] = "pyproject.toml": is a TOML file, not a pip requirements file. Fix: remove it from "requirements": shipit reads pyproject.toml by itself ([project].dependencies; the extras and dependency groups to install go in "project.extras" and "project.groups")`,
    `requirements[1] = "uv.lock": is a TOML file, not a pip requirements file. Fix: remove it from "requirements": a uv.lock beside pyproject.toml is installed exactly by itself ("project.lock", default true)`,
    `requirements[2] = "deps.txt": is a TOML file, not a pip requirements file. Fix: list pip requirement files only (one requirement per line, such as requests==2.32.3)`,
  ]);
});

test("an unknown extra or group is named with a did-you-mean; extras without a pyproject.toml are an error", async () => {
  const err = await resolve({ project: { extras: ["fancey"], groups: ["tests", "nope"] } }, SRC).catch((e: unknown) => e);
  expect(issuesOf(err)).toEqual([
    `project.extras[0] = "fancey": is not in pyproject.toml's [project.optional-dependencies] (it has fancy, tests). Fix: did you mean "fancy"? Otherwise remove the entry`,
    `project.groups[0] = "tests": is not in pyproject.toml's [dependency-groups] (it has test, typing, docs). Fix: did you mean "test"? Otherwise remove the entry`,
    `project.groups[1] = "nope": is not in pyproject.toml's [dependency-groups] (it has test, typing, docs). Fix: remove the entry, or add it to pyproject.toml`,
  ]);
  const none = await resolve({ project: { groups: ["test"] } }, ROSEY).catch((e: unknown) => e);
  expect(issuesOf(none)).toEqual([`project.groups = ["test"]: names extras or groups, but the source has no pyproject.toml. Fix: remove the key, or declare them in pyproject.toml`]);
});

test("dynamic dependencies and a broken pyproject.toml are config errors", async () => {
  const dynamic = await resolve(null, { ...SRC, "pyproject.toml": `[project]\nname = "x"\nversion = "1"\ndynamic = ["dependencies"]\n` }).catch((e: unknown) => e);
  expect(issuesOf(dynamic)).toEqual([
    `pyproject.toml = "dynamic = [\\"dependencies\\"]": declares [project].dependencies as dynamic, which shipit cannot install before the source is there. Fix: list them statically in [project].dependencies, or in requirement files named in "requirements" of shipit.json`,
  ]);
  const broken = await resolve(null, { ...SRC, "pyproject.toml": `[project\nname = "x"\n` }).catch((e: unknown) => e);
  expect(issuesOf(broken).at(-1)).toMatch(/^pyproject\.toml: is not valid TOML \(.+\)\. Fix: fix the TOML syntax of pyproject\.toml$/);
});

test("a Rosey-shaped tree keeps its shape: requirement files, no project install, a tool-settings-only pyproject.toml ignored", async () => {
  const c = await resolve(null, { ...ROSEY, "pyproject.toml": `[tool.ruff]\nline-length = 100\n` });
  expect(c.shape).toEqual({ pyproject: null, lock: null, layout: "flat", files: ["requirements.txt"], extras: [], groups: [], roots: [], testTools: ["pytest==9.2.0", "pytest-cov==7.1.0"] });
  expect([c.build.version, c.versionSource, c.typecheck.paths]).toEqual(["0.0.0-dev", "default", ["lib", "common", "bot", "web"]]);
});

test("a flat pyproject layout: the package folder named after the project is the default code path", async () => {
  const c = await resolve(null, { "pyproject.toml": `[project]\nname = "chat-bot"\nversion = "2.0"\n`, "chat_bot/__init__.py": "" });
  expect([c.shape.layout, c.typecheck.paths, c.build.include]).toEqual(["flat", ["chat_bot"], []]);
  expect(c.shape.pyproject).toMatchObject({ buildRequires: ["setuptools>=40.8.0"], backend: "setuptools.build_meta:__legacy__" });
});

test("uv.lock: used beside pyproject.toml (project.lock false ignores it); the lock's own pytest is kept", async () => {
  const dir = join(REPO, "test/fixtures/uv-lock");
  const files = { "pyproject.toml": await readFile(join(dir, "pyproject.toml"), "utf8"), "uv.lock": await readFile(join(dir, "uv.lock"), "utf8"), "src/lockbot/__init__.py": "" };
  const c = await resolve(null, files);
  expect(c.shape).toMatchObject({ lock: "uv.lock", files: ["pyproject.toml", "uv.lock"], groups: ["dev"], testTools: ["pytest-cov==7.1.0"] });
  const doc = parseTomlFile(files["uv.lock"], "uv.lock");
  if (!doc.ok) throw new Error("uv.lock does not parse");
  expect([...lockClosure(doc.doc, [], ["dev"])].sort()).toEqual(["attrs", "colorama", "iniconfig", "packaging", "pluggy", "pygments", "pytest"]);
  expect([...lockClosure(doc.doc, [], [])]).toEqual(["attrs"]);
  const off = await resolve({ project: { lock: false } }, files);
  expect([off.shape.lock, off.shape.files, off.shape.testTools]).toEqual([null, ["pyproject.toml"], ["pytest-cov==7.1.0"]]);
});
