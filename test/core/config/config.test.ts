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
  const e = await configError(null, { "requirements.txt": "", "app/__init__.py": "" });
  expect(e.message).toContain(`typecheck.paths: none of the default paths ["lib","common","bot","web"] exist in the source. Fix: set "typecheck.paths" in shipit.json to the folders that hold your code (top level has: app, requirements.txt)`);
  expect(e.issues.map((i) => i.key)).toEqual(["typecheck.paths", "build.include"]);
  expect(e.issues.map((i) => [i.code, i.path])).toEqual([["DEFAULT_PATHS_MISSING", ["typecheck", "paths"]], ["DEFAULT_PATHS_MISSING", ["build", "include"]]]);
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
