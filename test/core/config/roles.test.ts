/**
 * Environment roles (`roles` in shipit.json): which environment pull requests deploy to and which
 * one is production. Defaults test and prod; each must name a defined environment, and they differ.
 */
import { describe, expect, test } from "vitest";
import { resolveConfig } from "../../../src/core/config/config.js";
import { validateRoles } from "../../../src/core/config/environments.js";
import { ConfigError } from "../../../src/core/errors.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";
import environmentsJson from "../../../config/environments.json" with { type: "json" };

/** A whole new environment (a new one has no defaults to merge over): prod's values under another name. */
const NEW_ENV = { ...environmentsJson.prod, basePath: "/srv/rosey-other", unit: "rosey-other.service" };

async function resolve(cfg: unknown) {
  return resolveConfig(JSON.stringify(cfg), "shipit.json", memoryView(ROSEY));
}

async function configError(cfg: unknown): Promise<ConfigError> {
  const e = await resolve(cfg).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (e instanceof ConfigError) return e;
  throw new Error(`expected a ConfigError, got ${String(e)}`);
}

describe("the roles a config resolves to", () => {
  test.each([
    ["no roles: the defaults", {}, { pullRequests: "test", production: "prod" }],
    ["production only", { roles: { production: "live" }, environments: { live: NEW_ENV } }, { pullRequests: "test", production: "live" }],
    ["both, to added environments", { roles: { pullRequests: "staging", production: "live" }, environments: { staging: NEW_ENV, live: NEW_ENV } }, { pullRequests: "staging", production: "live" }],
    ["swapped defaults are allowed (they differ)", { roles: { pullRequests: "prod", production: "test" } }, { pullRequests: "prod", production: "test" }],
  ])("%s", async (_, cfg, roles) => {
    expect((await resolve(cfg)).roles).toStrictEqual(roles);
  });
});

describe("a role that names no environment is a config error naming the key and the fix", () => {
  test.each([
    [
      { roles: { production: "live" } },
      `invalid shipit config (shipit.json):
  - roles.production = "live": is not a defined environment. Fix: use one of test, prod, or add environments.live to shipit.json`,
    ],
    [
      { roles: { pullRequests: "staging", production: "live" }, environments: { live: NEW_ENV } },
      `invalid shipit config (shipit.json):
  - roles.pullRequests = "staging": is not a defined environment. Fix: use one of test, prod, live, or add environments.staging to shipit.json`,
    ],
    [
      { roles: { pullRequests: "qa", production: "live" } },
      `invalid shipit config (shipit.json):
  - roles.pullRequests = "qa": is not a defined environment. Fix: use one of test, prod, or add environments.qa to shipit.json
  - roles.production = "live": is not a defined environment. Fix: use one of test, prod, or add environments.live to shipit.json`,
    ],
    [
      { roles: { pullRequests: "prod" } },
      `invalid shipit config (shipit.json):
  - roles.pullRequests = "prod": is also roles.production: every pull request would deploy to production. Fix: name another environment for pull requests: test`,
    ],
  ])("%j", async (cfg, message) => {
    const e = await configError(cfg);
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.message).toBe(message);
  });

  test("a role that is not an environment name is refused by the schema, with its grammar", async () => {
    const e = await configError({ roles: { production: "Prod!" } });
    expect(e.message).toBe(`invalid shipit config (shipit.json):
  - roles.production = "Prod!": must be lower-case letters, digits and '-'. Fix: change it in shipit.json to a value of that form (CONFIGURATION.md and config/shipit.schema.json give each key's grammar)`);
  });

  test("an unknown role is an unknown key", async () => {
    const e = await configError({ roles: { staging: "test" } });
    expect(e.issues).toEqual([{ code: "UNKNOWN_KEY", path: ["roles", "staging"], key: "roles.staging", value: "test", problem: "is not a known key", fix: "remove it; known keys here: pullRequests, production" }]);
  });

  test("validateRoles on its own: the issues carry code, path, key, value, problem and fix", () => {
    let caught: unknown;
    try {
      validateRoles({ pullRequests: "test", production: "live" }, { staging: {} }, "--config");
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).issues).toEqual([
      { code: "UNKNOWN_ENVIRONMENT", path: ["roles", "production"], key: "roles.production", value: "live", problem: "is not a defined environment", fix: "use one of test, prod, staging, or add environments.live to shipit.json" },
    ]);
    expect((caught as ConfigError).message.split("\n")[0]).toBe("invalid shipit config (--config):");
  });
});
