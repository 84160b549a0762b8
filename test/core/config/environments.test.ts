/**
 * `environments` in shipit.json is checked where the config is parsed, by the same zod object that
 * deploys use: one issue per key with a "did you mean", in the JSON Schema for editors, and a new
 * environment starts from test's defaults.
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { parseUserConfig } from "../../../src/core/config/config.js";
import { BASE_ENVIRONMENT, EnvironmentOverrideSchema, overridesOf, resolveEnvironment } from "../../../src/core/config/environments.js";
import { z } from "zod";
import { ConfigError } from "../../../src/core/errors.js";
import defaultsJson from "../../../config/environments.json" with { type: "json" };
import schemaJson from "../../../config/shipit.schema.json" with { type: "json" };
import { thrown } from "../../helpers/thrown.js";

const parse = (environments: unknown) => parseUserConfig(JSON.stringify({ environments }), "shipit.json");
const parseError = (environments: unknown) => thrown(() => parse(environments)) as ConfigError;

type JsonSchema = { type?: string; properties?: Record<string, JsonSchema>; additionalProperties?: JsonSchema | boolean; items?: JsonSchema; required?: string[]; default?: unknown; description?: string };
const envSchema = (schemaJson as unknown as { properties: { environments: JsonSchema } }).properties.environments;
const oneEnv = envSchema.additionalProperties as JsonSchema;
/** Every key an environment has, in the schema's order: what "Known keys here" lists at the top level. */
const TOP_KEYS = Object.keys(oneEnv.properties!).join(", ");

describe("a bad key is one issue naming the key, its value and the fix", () => {
  test.each([
    ["a misspelled key", { test: { hots: "bot.example.org" } }, `environments.test.hots = "bot.example.org": is not a known key. Fix: did you mean "host"? Known keys here: ${TOP_KEYS}`],
    ["a misspelled nested key", { test: { runtime: { chanel: "rosey-dev" } } }, `environments.test.runtime.chanel = "rosey-dev": is not a known key. Fix: did you mean "channel"? Known keys here: channel, bot_name, server, log_level, db_path, health_port`],
    ["a misspelled key in a new environment", { staging: { secrets: { botPasword: "STAGING_PASSWORD" } } }, `environments.staging.secrets.botPasword = "STAGING_PASSWORD": is not a known key. Fix: did you mean "botPassword"? Known keys here: botPassword, smokePassword`],
    ["a key with nothing near", { prod: { colour: "red" } }, `environments.prod.colour = "red": is not a known key. Fix: remove it; known keys here: ${TOP_KEYS}`],
    ["a string for a number", { test: { port: "22" } }, `environments.test.port = "22": expected number, received string. Fix: give environments.test.port a value of type number (see CONFIGURATION.md)`],
    ["a number for a host (a union of \"\" and a host)", { test: { host: 5 } }, `environments.test.host = 5: expected string, received number. Fix: give environments.test.host a value of type string (see CONFIGURATION.md)`],
    ["a list for an object", { test: { runtime: ["rosey"] } }, `environments.test.runtime = ["rosey"]: expected object, received array. Fix: give environments.test.runtime a value of type object (see CONFIGURATION.md)`],
    ["a string for an environment", { test: "bot.example.org" }, `environments.test = "bot.example.org": expected object, received string. Fix: give environments.test a value of type object (see CONFIGURATION.md)`],
    ["a value outside its grammar", { prod: { runtime: { log_level: "LOUD" } } }, `environments.prod.runtime.log_level = "LOUD": Invalid option: expected one of "DEBUG"|"INFO"|"WARNING"|"ERROR". Fix: use one of "DEBUG", "INFO", "WARNING", "ERROR"`],
    ["an upper-case environment name", { Staging: { host: "bot.example.org" } }, `environments.Staging: is not an environment name: it must be lower-case letters, digits and '-', starting with a letter. Fix: rename it to "staging" (and use that name in --env and roles)`],
    ["a list of environments", [{ host: "bot.example.org" }], `environments = [{"host":"bot.example.org"}]: expected record, received array. Fix: make environments an object of environments by name, e.g. {"test": {"host": "bot.example.org"}}`],
  ])("%s", (_what, environments, line) => {
    const e = parseError(environments);
    expect(e.message).toBe(`invalid shipit config (shipit.json):\n  - ${line}`);
  });

  test("each issue has its code and path, the key written from it", () => {
    const e = parseError({ test: { hots: "h", port: "22", runtime: { chanel: "c" } } });
    expect(e.issues.map((i) => [i.code, i.path, i.key])).toEqual([
      ["INVALID_TYPE", ["environments", "test", "port"], "environments.test.port"],
      ["UNKNOWN_KEY", ["environments", "test", "runtime", "chanel"], "environments.test.runtime.chanel"],
      ["UNKNOWN_KEY", ["environments", "test", "hots"], "environments.test.hots"],
    ]);
  });

  test.each([
    [{ test: { hots: "bot.example.org" } }],
    [{ test: { host: 5, runtime: { chanel: "c", health_port: 70000 } } }],
    [{ prod: { notifications: { targets: [{ kind: "slak", secret: "https://hooks.slack.com/services/T0/B0/x" }] } } }], // pragma: allowlist secret
  ])("parse time and deploy time say the same: %j", (environments) => {
    const [name] = Object.keys(environments);
    const atParse = parseError(environments).issues;
    const atDeploy = (thrown(() => resolveEnvironment(name!, environments)) as ConfigError).issues;
    expect(atParse).toEqual(atDeploy);
    expect(JSON.stringify(atParse)).not.toContain("hooks.slack.com");
  });

  test("a shipit.json that says nothing about environments parses to none", () => {
    expect(parseUserConfig("{}", "shipit.json").environments).toBeUndefined();
  });
});

describe("a new environment starts from test's defaults", () => {
  const { test: testDefaults, prod: prodDefaults } = defaultsJson;

  test("staging with only its host, paths and channel: every other key is test's default", () => {
    const own = { host: "staging.example.org", basePath: "/srv/rosey-staging", unit: "rosey-staging.service", runtime: { channel: "staging-rosey" } };
    expect(parse({ staging: own }).environments).toEqual({ staging: own });
    const staging = resolveEnvironment("staging", { staging: own });
    expect(staging).toEqual({ ...testDefaults, ...own, runtime: { ...testDefaults.runtime, channel: "staging-rosey" }, name: "staging" });
    expect(BASE_ENVIRONMENT).toBe("test");
  });

  test("an empty new environment is test's defaults under its own name; the host is still required to deploy", () => {
    expect(resolveEnvironment("staging", { staging: {} }, "shipit.json", { requireHost: false })).toEqual({ ...testDefaults, name: "staging" });
    expect(thrown(() => resolveEnvironment("staging", { staging: {} })).message).toBe(
      `invalid shipit config (shipit.json):\n  - environments.staging.host = "": is not set. Fix: set the SSH host of the staging bot in shipit.json`,
    );
  });

  test("it starts from shipit's test defaults, not from this shipit.json's test", () => {
    const user = { test: { host: "bot-test.example.org", user: "rosey", keepReleases: 3 }, staging: { host: "staging.example.org" } };
    const staging = resolveEnvironment("staging", user);
    expect([staging.host, staging.user, staging.keepReleases]).toEqual(["staging.example.org", testDefaults.user, testDefaults.keepReleases]);
  });

  test("prod keeps its own defaults", () => {
    expect(resolveEnvironment("prod", { prod: { host: "bot.example.org" } })).toEqual({ ...prodDefaults, host: "bot.example.org", name: "prod" });
  });

  test("a partial override keeps the environment's defaults beside it: no schema default is written into it", () => {
    const environments = { prod: { notifications: { incident: { assignees: ["octocat"] } } } };
    expect(parse(environments).environments).toEqual(environments);
    expect(resolveEnvironment("prod", { prod: { host: "h", ...environments.prod } }).notifications.incident).toEqual({ enabled: true, labels: ["incident", "prod"], assignees: ["octocat"] });
  });

  test.each([
    [
      "on test's host with test's folder, unit and port",
      { test: { host: "bot.example.org" }, staging: { host: "bot.example.org" } },
      [
        `environments.staging.basePath = "/srv/rosey-test": is also environments.test.basePath on the same host (bot.example.org): a deploy of one would replace the other's releases. Fix: give environments.staging.basePath its own value, e.g. "/srv/rosey-staging", or deploy staging to another host`,
        `environments.staging.unit = "rosey-test.service": is also environments.test.unit on the same host (bot.example.org): a deploy of one would restart the other's bot. Fix: give environments.staging.unit its own value, e.g. "rosey-staging.service", or deploy staging to another host`,
        `environments.staging.runtime.health_port = 8080: is also environments.test.runtime.health_port on the same host (bot.example.org): the second bot could not open its status server. Fix: give environments.staging.runtime.health_port its own value, or deploy staging to another host`,
      ],
    ],
    [
      "prod on test's host, written in capitals, with test's folder",
      { test: { host: "bot.example.org" }, prod: { host: "BOT.example.org", basePath: "/srv/rosey-test" } },
      [
        `environments.prod.basePath = "/srv/rosey-test": is also environments.test.basePath on the same host (BOT.example.org): a deploy of one would replace the other's releases. Fix: give environments.prod.basePath its own value, e.g. "/srv/rosey-prod", or deploy prod to another host`,
      ],
    ],
  ])("two environments on one host that share a folder, unit or port are refused: %s", (_what, environments, lines) => {
    expect(parseError(environments).message).toBe(`invalid shipit config (shipit.json):\n${lines.map((l) => `  - ${l}`).join("\n")}`);
  });

  test.each([
    [{ test: { host: "bot.example.org" }, prod: { host: "bot.example.org" } }],
    [{ test: { host: "bot.example.org" }, staging: { host: "bot.example.org", basePath: "/srv/rosey-staging", unit: "rosey-staging.service", runtime: { health_port: 8082 } } }],
    [{ test: { host: "bot.example.org" }, staging: { host: "staging.example.org" } }],
    [{ staging: {}, review: {} }],
  ])("environments that share nothing, or no host, are fine: %j", (environments) => {
    expect(Object.keys(parse(environments).environments!)).toEqual(Object.keys(environments));
  });
});

describe("the JSON Schema has every environment key, for editors", () => {
  test("each environment offers exactly the keys a resolved environment has, none of them required and none unknown", () => {
    const { name: _name, ...resolved } = resolveEnvironment("test", { test: { host: "h" } });
    // runtimeConfig is the one optional key: a resolved environment has it only when set
    expect(Object.keys(oneEnv.properties!).filter((k) => k !== "runtimeConfig")).toEqual(Object.keys(resolved));
    expect(Object.keys(oneEnv.properties!["runtimeConfig"]!.properties!)).toEqual(["template", "path", "values", "secrets"]);
    expect(Object.keys(oneEnv.properties!["runtime"]!.properties!)).toEqual(Object.keys(resolved.runtime));
    expect(Object.keys(oneEnv.properties!["smoke"]!.properties!)).toEqual(Object.keys(resolved.smoke));
    expect(Object.keys(oneEnv.properties!["notifications"]!.properties!["incident"]!.properties!)).toEqual(["enabled", "labels", "assignees"]);
    expect(Object.keys(oneEnv.properties!["notifications"]!.properties!["targets"]!.items!.properties!)).toEqual(["kind", "secret", "events"]);
    expect([oneEnv.additionalProperties, oneEnv.properties!["runtime"]!.additionalProperties]).toEqual([false, false]);
    // a target is a list entry, which replaces the default list whole: it alone needs its keys
    expect(JSON.stringify(oneEnv).match(/"required":\[[^\]]*\]/g)).toEqual(['"required":["kind","secret"]']);
    expect(JSON.stringify(oneEnv)).not.toContain('"default"');
  });

  test("keys carry the grammar's descriptions and constraints", () => {
    expect(oneEnv.properties!["port"]).toEqual({ description: "SSH port", type: "integer", minimum: 1, maximum: 65535 });
    expect(oneEnv.properties!["runtime"]!.properties!["log_level"]).toEqual({ description: "Bot log level", type: "string", enum: ["DEBUG", "INFO", "WARNING", "ERROR"] });
    expect(envSchema.description).toBe(
      "Deploy environments: overrides of the test and prod defaults in config/environments.json, or new ones, which start from test's defaults (CONFIGURATION.md, Environments)",
    );
  });

  test("the override schema takes any part of an environment, and nothing else", () => {
    expect(EnvironmentOverrideSchema.safeParse({}).success).toBe(true);
    expect(EnvironmentOverrideSchema.safeParse({ smoke: { timeoutSec: 5 } }).success).toBe(true);
    expect(EnvironmentOverrideSchema.safeParse({ smoke: { timeout: 5 } }).error!.issues.map((i) => [i.code, i.path])).toEqual([["unrecognized_keys", ["smoke"]]]);
  });
});

describe("the override schema follows whatever the environment object holds", () => {
  // what a key added to EnvironmentSchema may look like: a union of objects with defaults, a loose object, a refined one
  const Health = z.union([z.strictObject({ kind: z.literal("http"), url: z.string() }), z.strictObject({ kind: z.literal("tcp"), port: z.number() })]);
  const Env = z
    .strictObject({
      health: Health.prefault({ kind: "http", url: "http://127.0.0.1/" }),
      templates: z.looseObject({ dir: z.string().default("deploy") }),
      retries: z.number().int().default(3),
    })
    .superRefine(() => {});
  const Over = overridesOf(Env);

  test.each([
    [{}, []],
    [{ health: { port: 9 } }, []],
    [{ templates: { extra: true } }, []],
    [{ retries: 5 }, []],
    [{ health: { prot: 9 } }, [["invalid_union", ["health"]]]],
    [{ retries: "5" }, [["invalid_type", ["retries"]]]],
    [{ colour: "red" }, [["unrecognized_keys", []]]],
  ])("%j", (value, issues) => {
    const r = Over.safeParse(value);
    expect(r.success ? [] : r.error.issues.map((i) => [i.code, i.path])).toEqual(issues);
    if (r.success) expect(r.data).toEqual(value); // no default is filled in
  });
});

describe("CONFIGURATION.md shows what the code says", () => {
  const doc = readFileSync(new URL("../../../CONFIGURATION.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("### A new environment starts from test's defaults"), doc.indexOf("### Roles"));
  const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => [m[1], m[2]!.trimEnd()] as const);

  test("its staging example parses, and is test's defaults beside what it lists", () => {
    const [lang, json] = blocks[0]!;
    expect(lang).toBe("json");
    const { environments } = JSON.parse(json) as { environments: { staging: Record<string, unknown> } };
    expect(parse({ test: { host: "bot.example.org" }, ...environments }).environments!["staging"]).toEqual(environments.staging);
    expect(resolveEnvironment("staging", environments).keepReleases).toBe(defaultsJson.test.keepReleases);
  });

  test.each([
    [1, { test: { host: "bot.example.org" }, staging: { host: "bot.example.org" } }],
    [2, { test: { hots: "bot-test.example.org" } }],
  ])("its message block %i is the first line shipit prints", (n, environments) => {
    const [lang, text] = blocks[n]!;
    expect(lang).toBe("");
    const [first, second] = parseError(environments).message.split("\n");
    expect(text).toBe(`${first}\n${second}`);
  });
});
