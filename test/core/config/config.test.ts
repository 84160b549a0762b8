import { expect, test } from "vitest";
import { DEFAULTS, FullConfigSchema, parseIni, resolveConfig } from "../../../src/core/config/config.js";
import { ConfigError } from "../../../src/core/errors.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";
import defaultsJson from "../../../config/defaults.json" with { type: "json" };
import schemaJson from "../../../config/shipit.schema.json" with { type: "json" };
import { z } from "zod";
import { UserConfigSchema } from "../../../src/core/config/config.js";

async function configError(text: string | null, files = ROSEY): Promise<ConfigError> {
  try {
    await resolveConfig(text, "shipit.json", memoryView(files));
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

test("defaults fit a Rosey-style repo with no shipit.json", async () => {
  const c = await resolveConfig(null, "defaults", memoryView(ROSEY));
  expect(c.requirements).toEqual(["requirements.txt"]);
  expect(c.lint.paths).toEqual(["."]);
  expect(c.typecheck.paths).toEqual(["lib", "common", "bot", "web"]);
  expect(c.build.include).toEqual(["lib", "common", "bot", "web"]);
  expect(c.test.paths).toEqual([]);
  expect(c.coverage).toEqual({ threshold: 85, from: "shipit default" });
  expect(c.python).toEqual({ image: "python:3.11-slim", installer: "uv" });
});

test("config/defaults.json is a complete, valid config", () => {
  // DEFAULTS is the file parsed by the full schema at import: the schema dropped and added nothing,
  expect(DEFAULTS).toStrictEqual(defaultsJson);
  // the file has every key the full schema knows ($schema is for editors only),
  expect(Object.keys(defaultsJson).sort()).toEqual(Object.keys(FullConfigSchema.shape).filter((k) => k !== "$schema").sort());
  // and the full schema does require them: without one, the defaults would not load.
  const { lint: _lint, ...noLint } = defaultsJson;
  const r = FullConfigSchema.safeParse(noLint);
  expect(r.success).toBe(false);
  expect(r.error!.issues.map((i) => [i.path.join("."), i.message])).toEqual([["lint", "Invalid input: expected object, received undefined"]]);
});

test("a lint path that does not exist is a config error naming key, value and a near name", async () => {
  const e = await configError(JSON.stringify({ lint: { paths: ["lib", "bots/"] } }));
  expect(e.code).toBe("CONFIG_INVALID");
  expect(e.message).toMatchInlineSnapshot(`
    "invalid shipit config (shipit.json):
      - lint.paths[1] = "bots/": does not exist in the source. Fix: did you mean "bot"? Otherwise remove the entry"
  `);
  // zod-style: a stable code and the path as an array, next to the key people read
  expect(e.issues).toEqual([
    { code: "PATH_MISSING", path: ["lint", "paths", 1], key: "lint.paths[1]", value: "bots/", problem: "does not exist in the source", fix: 'did you mean "bot"? Otherwise remove the entry' },
  ]);
});

test("`test/` where test is a file is a config error, not a red run", async () => {
  const e = await configError(JSON.stringify({ test: { paths: ["test/"] } }));
  expect(e.message).toMatchInlineSnapshot(`
    "invalid shipit config (shipit.json):
      - test.paths[0] = "test/": ends with '/' (a directory) but "test" is a file. Fix: name the file without the slash ("test") or point at the folder that holds the tests"
  `);
});

test("unknown keys are rejected with the known keys listed", async () => {
  const e = await configError(JSON.stringify({ lint: { path: ["."] }, colour: true }));
  expect(e.issues.map((i) => i.key).sort()).toEqual(["colour", "lint.path"]);
  expect(e.issues.map((i) => [i.code, i.path]).sort()).toEqual([["UNKNOWN_KEY", ["colour"]], ["UNKNOWN_KEY", ["lint", "path"]]]);
  expect(e.message).toContain(`lint.path = ["."]: is not a known key. Fix: did you mean "paths"? Known keys here: paths, select, format`);
});

test.each([
  [{ test: { coverageThreshold: 120 } }, "test.coverageThreshold = 120", "use a value of at most 100"],
  [{ python: { installer: "conda" } }, `python.installer = "conda"`, `use one of "uv", "pip"`],
  [{ lint: { paths: [] } }, "lint.paths = []", "list at least one entry"],
  [{ typecheck: { flags: ["strict"] } }, `typecheck.flags[0] = "strict"`, "must be a mypy flag such as --strict"],
  [{ build: { include: ["../secrets"] } }, `build.include[0] = "../secrets"`, "without '..'"],
  [{ lint: { format: "yes" } }, `lint.format = "yes"`, "give a value of type boolean"],
])("bad value %j names the key and the fix", async (cfg, key, fix) => {
  const e = await configError(JSON.stringify(cfg));
  expect(e.message).toContain(key);
  expect(e.message).toContain(fix);
});

test("invalid JSON is a config error", async () => {
  const e = await configError("{ lint: ");
  expect(e.message).toMatch(/\(file\): is not valid JSON .*Fix: fix the JSON syntax/);
  expect(e.issues.map((i) => [i.code, i.path, i.key])).toEqual([["NOT_JSON", [], "(file)"]]);
});

test("typecheck defaults that are all missing ask for an explicit setting", async () => {
  const e = await configError(null, { "requirements.txt": "", "app.py": "" });
  expect(e.message).toContain(`typecheck.paths: none of the default paths ["lib","common","bot","web"] exist in the source. Fix: set "typecheck.paths" in shipit.json to the folders that hold your code (top level has: app.py, requirements.txt)`);
  expect(e.issues.map((i) => i.key)).toEqual(["typecheck.paths", "build.include"]);
  expect(e.issues.map((i) => [i.code, i.path])).toEqual([["DEFAULT_PATHS_MISSING", ["typecheck", "paths"]], ["DEFAULT_PATHS_MISSING", ["build", "include"]]]);
});

/** Each case: the tree, then the two fixes (typecheck.paths, build.include) word for word. */
test.each<{ case: string; files: Record<string, string>; fixes: [string, string] }>([
  {
    case: "a src/ layout without pyproject.toml: its package",
    files: { "requirements.txt": "", "src/chatbot/__init__.py": "", "src/chatbot/commands.py": "", "tests/__init__.py": "", "tests/test_commands.py": "" },
    fixes: [
      `the source has the package folder src/chatbot: to use it, put "typecheck": {"paths": ["src/chatbot"]} in shipit.json`,
      `the source has the package folder src/chatbot: to use it, put "build": {"include": ["src/chatbot"]} in shipit.json`,
    ],
  },
  {
    case: "top-level packages, tests and docs left out, sorted",
    files: { "requirements.txt": "", "rosey/__init__.py": "", "rosey/bot.py": "", "api/__init__.py": "", "docs/__init__.py": "", "test/__init__.py": "", "scripts/run.py": "" },
    fixes: [
      `the source has the package folders api, rosey: to use them, put "typecheck": {"paths": ["api", "rosey"]} in shipit.json`,
      `the source has the package folders api, rosey: to use them, put "build": {"include": ["api", "rosey"]} in shipit.json`,
    ],
  },
  {
    case: "src/ holding modules but no package: src itself, then a top-level package",
    files: { "requirements.txt": "", "src/bot.py": "", "app/__init__.py": "" },
    fixes: [
      `the source has the package folders src, app: to use them, put "typecheck": {"paths": ["src", "app"]} in shipit.json`,
      `the source has the package folders src, app: to use them, put "build": {"include": ["src", "app"]} in shipit.json`,
    ],
  },
  {
    case: "no package folder at all: the top level, as before",
    files: { "requirements.txt": "", "bot.py": "", "tests/__init__.py": "" },
    fixes: [
      `set "typecheck.paths" in shipit.json to the folders that hold your code (top level has: bot.py, requirements.txt, tests)`,
      `set "build.include" in shipit.json to the folders that hold your code (top level has: bot.py, requirements.txt, tests)`,
    ],
  },
])("default paths that match nothing list the package folders there are: $case", async ({ files, fixes }) => {
  const e = await configError(null, files);
  expect(e.message).toBe(
    [
      "invalid shipit config (shipit.json):",
      `  - typecheck.paths: none of the default paths ["lib","common","bot","web"] exist in the source. Fix: ${fixes[0]}`,
      `  - build.include: none of the default paths ["lib","common","bot","web"] exist in the source. Fix: ${fixes[1]}`,
    ].join("\n"),
  );
  // the line it gives, put in shipit.json, is a config that loads
  const used = /put ("typecheck": .*) in shipit.json$/.exec(fixes[0])?.[1];
  const build = /put ("build": .*) in shipit.json$/.exec(fixes[1])?.[1];
  expect(used === undefined).toBe(fixes[0].startsWith("set "));
  if (used === undefined || build === undefined) return; // the no-package case: nothing to put
  const c = await resolveConfig(`{${used}, ${build}}`, "shipit.json", memoryView(files));
  expect([c.typecheck.paths, c.build.include]).toEqual([JSON.parse(`{${used}}`).typecheck.paths, JSON.parse(`{${build}}`).build.include]);
});

test.each([
  [{ ".coveragerc": "[run]\nsource = lib\n[report]\nfail_under = 70\n" }, 70, ".coveragerc [report] fail_under"],
  [{ "setup.cfg": "[coverage:report]\nfail_under = 66\n" }, 66, "setup.cfg [coverage:report] fail_under"],
  [{ "pyproject.toml": "[tool.coverage.report]\nfail_under = 91.5\n" }, 91.5, "pyproject.toml [tool.coverage.report] fail_under"],
  [{ ".coveragerc": "[report]\nshow_missing = true\n" }, 85, "shipit default"],
])("the repo's coverage config sets the threshold: %j", async (extra, threshold, from) => {
  const c = await resolveConfig(null, "defaults", memoryView({ ...ROSEY, ...extra }));
  expect(c.coverage).toEqual({ threshold, from });
});

test("shipit.json's threshold wins over the repo's coverage config", async () => {
  const c = await resolveConfig(JSON.stringify({ test: { coverageThreshold: 60 } }), "shipit.json", memoryView({ ...ROSEY, ".coveragerc": "[report]\nfail_under = 70\n" }));
  expect(c.coverage).toEqual({ threshold: 60, from: "shipit.json test.coverageThreshold" });
});

test("a non-numeric fail_under in the repo is a config error", async () => {
  const e = await configError(null, { ...ROSEY, ".coveragerc": "[report]\nfail_under = lots\n" });
  expect(e.message).toContain(`fail_under = "lots": is not a percentage between 0 and 100`);
});

test("parseIni reads sections and ignores comments and continuation lines", () => {
  expect(parseIni("# c\n[report]\nfail_under = 80\nomit =\n    tests/*\n[run]\nsource=lib\n")).toEqual({
    report: { fail_under: "80", omit: "" },
    run: { source: "lib" },
  });
});

test("the committed JSON Schema is generated from the zod schema", () => {
  expect(schemaJson).toEqual(JSON.parse(JSON.stringify(z.toJSONSchema(UserConfigSchema))));
});

test("security.paths follows the typecheck paths unless set; a set path must exist", async () => {
  const c = await resolveConfig(JSON.stringify({ typecheck: { paths: ["lib", "bot"] } }), "shipit.json", memoryView(ROSEY));
  expect(c.security.paths).toEqual(["lib", "bot"]);
  expect((await resolveConfig(null, "defaults", memoryView(ROSEY))).security).toMatchObject({
    paths: ["lib", "common", "bot", "web"],
    severity: "high",
    confidence: "low",
    auditService: "pypi",
    auditUnreachable: "warn",
  });
  const e = await configError(JSON.stringify({ security: { paths: ["lib", "bots"] } }));
  expect(e.message).toMatchInlineSnapshot(`
    "invalid shipit config (shipit.json):
      - security.paths[1] = "bots": does not exist in the source. Fix: did you mean "bot"? Otherwise remove the entry"
  `);
});

test.each([
  [{ security: { auditUnreachable: "ignore" } }, `security.auditUnreachable = "ignore"`, `use one of "warn", "fail"`],
  [{ security: { severity: "critical" } }, `security.severity = "critical"`, `use one of "low", "medium", "high"`],
  [{ security: { secretKeys: ["pass word"] } }, `security.secretKeys[0] = "pass word"`, "must be a key name or a glob"],
  [{ security: { mustIgnore: ["!keep.db"] } }, `security.mustIgnore[0] = "!keep.db"`, "without '!', '..' or a leading '-'"],
  [{ security: { osvUrl: "api.osv.dev" } }, `security.osvUrl = "api.osv.dev"`, "must be an http(s) URL"],
  [{ security: { auditServise: "osv" } }, "security.auditServise", `did you mean "auditService"?`],
])("bad security value %j names the key and the fix", async (cfg, key, fix) => {
  const e = await configError(JSON.stringify(cfg));
  expect(e.message).toContain(key);
  expect(e.message).toContain(fix);
});
