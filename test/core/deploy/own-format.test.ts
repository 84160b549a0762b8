/**
 * A bot not written for shipit: its config in its own format (a template with values and the bot
 * password at paths), health kinds that need no endpoint, and the smoke kinds.
 */
import { expect, test } from "vitest";
import { resolveConfig } from "../../../src/core/config/config.js";
import { resolveEnvironment } from "../../../src/core/config/environments.js";
import { checkRuntimeTemplate, missingAt, parseJsonPath } from "../../../src/core/config/runtime-config.js";
import { buildDeployPlan, buildQueryPlan, buildRollbackPlan, deployPaths, type RemoteCall } from "../../../src/core/deploy/plan.js";
import { preflight, query, type DeployRunner } from "../../../src/core/deploy/deploy.js";
import { reportDeploy } from "../../../src/core/deploy/report.js";
import { ConfigError, ShipitError } from "../../../src/core/errors.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";
import { thrown } from "../../helpers/thrown.js";

const paths = deployPaths("/opt/d", "/opt/s/bin/python");
const TEMPLATE = JSON.stringify({ domain: "https://cytu.be", channel: "CHANNEL", user: ["NAME", "PASSWORD"], db: "bot.db", log_level: "INFO", shell: "localhost:5555", llm: { enabled: false } });
const runtimeConfig = {
  template: "bot/rosey/config.json.dist",
  path: "bot/rosey/config.json",
  values: { channel: "test-rosey", "user[0]": "RoseyTest", domain: "http://127.0.0.1:8765", db: "data/test.db", log_level: "DEBUG" },
  secrets: { "user[1]": "CYTUBEBOT_TEST_PASSWORD" },
};
const plain = {
  host: "bot.example.org",
  runtimeConfig,
  health: { kind: ["log", "systemd"], logPattern: "joined channel \\S+", stableSec: 4 },
  smoke: { kind: "presence" },
};
const deployPlan = (e: ReturnType<typeof resolveEnvironment>) => buildDeployPlan({ env: e, run: "r1", version: "1.0.0", sha256: "ab".repeat(32), trigger: "push", agentHash: "0123456789abcdef", paths });

test("JSON paths: keys and list indexes, and where a path leaves the template", () => {
  expect(parseJsonPath("user[1]")).toEqual(["user", 1]);
  expect(parseJsonPath("llm.model")).toEqual(["llm", "model"]);
  expect(parseJsonPath("a.b[0][2].c")).toEqual(["a", "b", 0, 2, "c"]);
  const doc = JSON.parse(TEMPLATE);
  expect(missingAt(doc, ["user", 1])).toBeNull();
  expect(missingAt(doc, ["user", 2])).toBe("user[2] (user has 2 entries)");
  expect(missingAt(doc, ["llm", "model"])).toBe("llm.model");
  expect(missingAt(doc, ["channel", "x"])).toBe("channel.x (channel is not an object)");
  expect(missingAt(doc, ["chanel"])).toBe("chanel");
});

test("a path the template lacks is a config error naming the path, at ci time", async () => {
  const issues = checkRuntimeTemplate("test", { ...runtimeConfig, values: { ...runtimeConfig.values, chanel: "x" }, secrets: { "user[2]": "CYTUBEBOT_TEST_PASSWORD" } }, TEMPLATE);
  expect(issues.map((i) => `${i.code} ${i.key}: ${i.problem}`)).toEqual([
    "PATH_NOT_IN_TEMPLATE environments.test.runtimeConfig.values.chanel: is not in bot/rosey/config.json.dist: no chanel",
    "PATH_NOT_IN_TEMPLATE environments.test.runtimeConfig.secrets[\"user[2]\"]: is not in bot/rosey/config.json.dist: no user[2] (user has 2 entries)",
  ]);
  expect(issues[0]!.fix).toBe("use a path the template has (its keys: domain, channel, user, db, log_level, shell, llm), or add chanel to the template");

  const files = { ...ROSEY, "bot/rosey/config.json.dist": TEMPLATE };
  const text = JSON.stringify({ environments: { test: { runtimeConfig: { ...runtimeConfig, values: { "llm.model": "x" } } } } });
  const e = await resolveConfig(text, "shipit.json", memoryView(files)).then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ConfigError);
  expect((e as ConfigError).message).toBe(
    'invalid shipit config (shipit.json):\n  - environments.test.runtimeConfig.values[\"llm.model\"] = "x": is not in bot/rosey/config.json.dist: no llm.model. Fix: use a path the template has (its keys: domain, channel, user, db, log_level, shell, llm), or add llm.model to the template',
  );
  // the same config with paths the template has is fine
  const ok = await resolveConfig(JSON.stringify({ environments: { test: { runtimeConfig } } }), "shipit.json", memoryView(files));
  expect(resolveEnvironment("test", ok.environments, "shipit.json", { requireHost: false }).runtimeConfig).toEqual(runtimeConfig);
});

test.each([
  [{}, "TEMPLATE_MISSING", "environments.test.runtimeConfig.template", "is not a file in the repository"],
  [{ "bot/rosey/config.json.dist": "{ not json" }, "TEMPLATE_NOT_JSON", "environments.test.runtimeConfig.template", "is not JSON ("],
  [{ "bot/rosey/config.json.dist": "[1]" }, "TEMPLATE_NOT_OBJECT", "environments.test.runtimeConfig.template", "is JSON but not an object"],
])("a template that is missing or not a JSON object is a config error: %j", async (extra, code, key, problem) => {
  const e = await resolveConfig(JSON.stringify({ environments: { test: { runtimeConfig } } }), "shipit.json", memoryView({ ...ROSEY, ...extra })).then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ConfigError);
  const issue = (e as ConfigError).issues[0]!;
  expect([issue.code, issue.key]).toEqual([code, key]);
  expect(issue.problem).toContain(problem);
});

test("a template outside build.include would not be in the release: a config error", async () => {
  const files = { ...ROSEY, "conf/config.json.dist": TEMPLATE };
  const text = JSON.stringify({ environments: { test: { runtimeConfig: { ...runtimeConfig, template: "conf/config.json.dist" } } } });
  const e = await resolveConfig(text, "shipit.json", memoryView(files)).then(() => null, (err: unknown) => err);
  expect((e as ConfigError).issues.map((i) => [i.code, i.key, i.problem, i.fix])).toEqual([
    ["TEMPLATE_NOT_SHIPPED", "environments.test.runtimeConfig.template", "is not in the artifact: build.include (lib, common, bot, web) does not cover it", "add conf to build.include"],
  ]);
});

test.each([
  [{ runtimeConfig: { ...runtimeConfig, secrets: { "user[1]": "OTHER_SECRET" } } }, "SECRET_NOT_PASSED", "environments.test.runtimeConfig.secrets[\"user[1]\"]", 'Fix: use "CYTUBEBOT_TEST_PASSWORD" (passed as --bot-password)'],
  [{ runtimeConfig: { ...runtimeConfig, secrets: { channel: "CYTUBEBOT_TEST_PASSWORD" } } }, "PATH_SET_TWICE", "environments.test.runtimeConfig.secrets.channel", "is also in runtimeConfig.values"],
  [{ runtimeConfig: { ...runtimeConfig, path: runtimeConfig.template } }, "CONFIG_OVER_TEMPLATE", "environments.test.runtimeConfig.path", "is the template itself"],
  [{ runtimeConfig: { ...runtimeConfig, values: { "user[x]": "a" } } }, "INVALID_FORMAT", "environments.test.runtimeConfig.values[\"user[x]\"]", "must be a path into the config file such as channel, user[0] or llm.model"],
  [{ runtimeConfig: { ...runtimeConfig, path: "../etc/config.json" } }, "INVALID_FORMAT", "environments.test.runtimeConfig.path", "must be a path relative to the release, without '..'"],
  [{ runtimeConfig: { ...runtimeConfig, values: { "llm.api_key": "sk-live-1" } } }, "SECRET_IN_VALUES", 'environments.test.runtimeConfig.values["llm.api_key"]', '= "[redacted]": looks like a secret written into shipit.json. Fix: move it to runtimeConfig.secrets'], // pragma: allowlist secret
  [{ health: { kind: "log" } }, "INVALID_FORMAT", "environments.test.health.logPattern", "is not set, and health.kind has log"],
  [{ health: { kind: ["log"], logPattern: "joined (" } }, "INVALID_FORMAT", "environments.test.health.logPattern", "is not a regular expression ("],
  [{ health: { kind: ["contract", "http"] } }, "INVALID_FORMAT", "environments.test.health.kind", "has both contract and http"],
  [{ health: { kind: ["systemd", "systemd"] } }, "INVALID_FORMAT", "environments.test.health.kind", "names a kind twice"],
  [{ health: { kind: "tcp" } }, "INVALID_VALUE", "environments.test.health.kind", 'must be one of "contract", "http", "systemd", "log", or a list of them'],
  [{ health: { kind: "systemd", stableSec: 60 }, healthTimeoutSec: 30 }, "HEALTH_STABLE_TOO_LONG", "environments.test.health.stableSec", "is not shorter than healthTimeoutSec (30)"],
  [{ smoke: { kind: "chat" } }, "INVALID_VALUE", "environments.test.smoke.kind", 'expected one of "command"|"presence"|"none"'],
])("a bad runtimeConfig, health or smoke kind is refused naming the key: %j", (over, code, key, text) => {
  const e = thrown(() => resolveEnvironment("test", { test: { host: "h", ...over } }));
  expect(e).toBeInstanceOf(ConfigError);
  const issue = (e as ConfigError).issues.find((i) => i.key === key);
  expect(issue, e.message).toBeDefined();
  expect(e.message).toContain(text);
  if (!["INVALID_FORMAT", "INVALID_VALUE"].includes(code)) expect(issue!.code).toBe(code);
  expect(e.message).not.toContain("sk-live-1");
});

test("configure renders the bot's own file: values, and the password only as a secret file's name", () => {
  const env = resolveEnvironment("test", { test: plain });
  const plan = deployPlan(env);
  const configure = plan.phases.find((p) => p.name === "configure") as RemoteCall;
  expect(configure.stdin).toEqual({
    json: { file: { template: "bot/rosey/config.json.dist", path: "bot/rosey/config.json", values: runtimeConfig.values, secrets: { "user[1]": "bot_password" } } },
    secretFiles: { bot_password: "/opt/d/secrets/bot_password" },
  });
});

test("health kinds: each reaches the agent's argv; the contract default keeps today's argv", () => {
  const env = resolveEnvironment("test", { test: plain });
  const plan = deployPlan(env);
  const health = plan.phases.find((p) => p.name === "health") as RemoteCall;
  expect(health.args).toEqual(["health", "--base", "/srv/rosey-test", "--kind", "log", "--kind", "systemd", "--timeout", "60", "--unit", "rosey-test.service", "--stable", "4", "--log-pattern=joined channel \\S+", "--since={restart.since}"]);
  // the rollback's health reads the journal from the rollback's own restart
  expect(plan.rollback.at(-1)!.args).toEqual([...health.args.slice(0, -1), "--since={rollback-restart.since}"]);
  expect((buildRollbackPlan({ env, run: "r2", trigger: "manual", agentHash: "0".repeat(16), paths }).phases.at(-1) as RemoteCall).args).toEqual(health.args);
  // status has no URL to show when nothing probes one
  expect((buildQueryPlan("status", { env, run: "q", agentHash: "0".repeat(16), paths }).phases[0] as RemoteCall).args).toEqual(["status", "--base", "/srv/rosey-test"]);

  const http = resolveEnvironment("test", { test: { host: "h", healthUrl: "http://127.0.0.1:9000/ping", health: { kind: ["http", "systemd"] } } });
  expect((deployPlan(http).phases.find((p) => p.name === "health") as RemoteCall).args).toEqual(["health", "--base", "/srv/rosey-test", "--kind", "http", "--kind", "systemd", "--url", "http://127.0.0.1:9000/ping", "--timeout", "60", "--unit", "rosey-test.service", "--stable", "5", "--since={restart.since}"]);
  const contract = resolveEnvironment("test", { test: { host: "h" } });
  expect((deployPlan(contract).phases.find((p) => p.name === "health") as RemoteCall).args).toEqual(["health", "--base", "/srv/rosey-test", "--url", "http://127.0.0.1:8080/api/health", "--timeout", "60", "--unit", "rosey-test.service", "--since={restart.since}"]);
});

test("smoke kinds: presence looks for the bot in the user list; none has no smoke phase and needs no smoke password", () => {
  const presence = deployPlan(resolveEnvironment("test", { test: plain }));
  expect(presence.phases.at(-1)).toEqual({
    name: "smoke",
    local: { argv: ["/opt/s/bin/python", "/opt/d/shipit_smoke.py", "--server=cytu.be", "--channel=test-rosey", "--account=ShipitSmoke", "--password-file=/opt/d/secrets/smoke_password", "--bot=RoseyTest", "--presence", "--timeout=15"] },
    timeoutSec: 75,
  });
  const none = resolveEnvironment("test", { test: { ...plain, smoke: { kind: "none" } } });
  expect(deployPlan(none).phases.map((p) => p.name)).toEqual(["upload", "install", "configure", "switch", "restart", "health"]);
});

test("smoke.kind none: a deploy needs no smoke password, and `smoke` says there is none", async () => {
  const config = { environments: { test: { ...plain, smoke: { kind: "none" } } }, origin: "shipit.json" } as unknown as Parameters<typeof preflight>[0];
  expect(preflight(config, "test", { secrets: ["ssh-key", "bot-password"], knownHosts: "h ssh-ed25519 AAAA", trigger: "manual", run: "r" }).smoke.kind).toBe("none");
  const runner = { paths } as DeployRunner;
  const e = await query(config, "test", "smoke", { secrets: ["ssh-key"], knownHosts: "x", run: "q" }, runner).then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ShipitError);
  expect([(e as ShipitError).code, (e as ShipitError).message]).toEqual(["SMOKE_NONE", 'smoke of test refused: environments.test.smoke.kind is "none", so there is no chat smoke to run. Set smoke.kind to "command" or "presence" for a chat bot']);
  // presence still needs the smoke account's password
  const withPresence = { ...config, environments: { test: plain } } as typeof config;
  expect(thrown(() => preflight(withPresence, "test", { secrets: ["ssh-key", "bot-password"], knownHosts: "h", trigger: "manual", run: "r" })).code).toBe("SECRET_MISSING");
});

test("the report of a presence smoke and of each new health failure", () => {
  const base = { run: "r", kind: "deploy", seconds: 9, phases: [{ name: "health", ok: true, seconds: 4 }, { name: "smoke", ok: true, seconds: 1 }], rollback: [] };
  const ok = reportDeploy({ ...base, outcome: "succeeded", outputs: { install: { release: "1.0.0-20261202T000000Z" }, smoke: { ok: true, present: true, seen_ms: 812.5, bot: "PlainBot", channel: "test-plain", account: "ShipitSmoke" } } }, { env: "test", version: "1.0.0", kind: "deploy" });
  expect(ok.message).toContain("\nsmoke: PlainBot is in test-plain's user list, seen by ShipitSmoke in 812.5 ms\n");
  const failed = reportDeploy({ ...base, outcome: "rolled_back", cause: { phase: "health", code: "HEALTH_LOG_NOT_SEEN", message: "no line of plain-test.service's journal since this restart matches 'joined channel'" }, outputs: { switch: { previous: "0.9.0-x" } } }, { env: "test", version: "1.0.0", kind: "deploy" });
  expect(failed.message.split("\n")[0]).toBe(
    "deploy of 1.0.0 to test FAILED at health: no line of plain-test.service's journal since this restart matches 'joined channel' (HEALTH_LOG_NOT_SEEN): the bot runs but never logged the line of health.logPattern: it may not have joined (check server, channel and the bot password), or the pattern does not match its log",
  );
});
