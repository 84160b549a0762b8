import { expect, test } from "vitest";
import { buildDeployPlan, buildQueryPlan, buildRollbackPlan, chatTunnel, deployPaths, parseArtifactInspection, parseDriverResult, type PlanCall, type RemoteCall } from "../../../src/core/deploy/plan.js";
import { reportDeploy } from "../../../src/core/deploy/report.js";
import { resolveEnvironment } from "../../../src/core/config/environments.js";
import { ConfigError, InfraError } from "../../../src/core/errors.js";

const env = resolveEnvironment("test", { test: { host: "bot.example.org", user: "deploy" } });
const paths = deployPaths("/opt/shipit-deploy", "/opt/shipit-smoke/bin/python");
const remote = (c: PlanCall | undefined) => c as RemoteCall;

test("test and prod ship as defaults with Rosey's runtime config", () => {
  expect(env.runtime).toEqual({ channel: "test-rosey", bot_name: "RoseyTest", server: "cytu.be", log_level: "DEBUG", db_path: "data/test.db", health_port: 8080 });
  const prod = resolveEnvironment("prod", { prod: { host: "bot.example.org" } });
  expect(prod.runtime).toEqual({ channel: "rosey", bot_name: "Rosey", server: "cytu.be", log_level: "INFO", db_path: "data/rosey.db", health_port: 8081 });
  expect(prod.secrets).toEqual({ botPassword: "CYTUBEBOT_PROD_PASSWORD", smokePassword: "CYTUBE_SMOKE_PASSWORD" });
  expect(prod.smoke).toEqual({ kind: "command", account: "ShipitSmoke", command: "!ping", expect: "pong", timeoutSec: 15 });
  expect(prod.unit).toBe("rosey-prod.service");
});

test.each([
  [{ test: {} }, "test", "environments.test.host", "is not set"],
  [{ test: { host: "h", basePath: "srv/rosey" } }, "test", "environments.test.basePath", "must be an absolute path"],
  [{ test: { host: "h", keepReleases: 1 } }, "test", "environments.test.keepReleases", "must keep at least the live release and the one before it"],
  [{ test: { host: "h", unit: "rosey" } }, "test", "environments.test.unit", "must be a systemd unit name such as rosey-test.service"],
  [{ test: { host: "h", runtime: { log_level: "LOUD" } } }, "test", "environments.test.runtime.log_level", `= "LOUD": Invalid option: expected one of "DEBUG"|"INFO"|"WARNING"|"ERROR". Fix: use one of "DEBUG", "INFO", "WARNING", "ERROR"`],
  [{}, "staging", "--env", "is not a configured environment"],
])("a bad environment config is refused naming the key: %j", (user, name, key, problem) => {
  let err: unknown;
  try {
    resolveEnvironment(name, user);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).issues[0]!.key).toBe(key);
  expect((err as ConfigError).message).toContain(problem);
});

test("a new environment can be added whole in shipit.json", () => {
  const { name: _name, ...whole } = env;
  const staging = resolveEnvironment("staging", { staging: { ...whole, basePath: "/srv/rosey-staging" } });
  expect([staging.name, staging.basePath, staging.runtime.channel]).toEqual(["staging", "/srv/rosey-staging", "test-rosey"]);
});

test("the deploy plan: lock, upload with sha256, install, configure via stdin, atomic switch, restart, health, smoke", () => {
  const plan = buildDeployPlan({ env, run: "r1", version: "1.2.0", sha256: "ab".repeat(32), trigger: "push", agentHash: "0123456789abcdef", paths });
  expect(plan.ssh).toEqual({ host: "bot.example.org", port: 22, user: "deploy", identityFile: "/opt/shipit-deploy/secrets/ssh_key", knownHostsFile: "/opt/shipit-deploy/known_hosts", connectTimeoutSec: 15 });
  expect(plan.agent.remotePath).toBe("/srv/rosey-test/.shipit/agent-0123456789ab.py");
  expect(plan.lock!.args).toEqual(["lock", "--base", "/srv/rosey-test", "--run", "r1", "--version", "1.2.0", "--trigger", "push", "--wait", "300"]);
  expect(plan.phases.map((p) => p.name)).toEqual(["upload", "install", "configure", "switch", "restart", "health", "smoke"]);
  expect(plan.phases[0]).toEqual({ name: "upload", args: ["receive", "--base", "/srv/rosey-test", "--run", "r1", "--sha256", "ab".repeat(32)], stdin: { file: "/opt/shipit-deploy/artifact.tar.gz" } });
  expect(remote(plan.phases[2]).stdin).toEqual({ json: { config: env.runtime }, secretFiles: { bot_password: "/opt/shipit-deploy/secrets/bot_password" } });
  expect(remote(plan.phases[3]).args).toEqual(["switch", "--base", "/srv/rosey-test", "--run", "r1", "--release", "{install.release}"]);
  expect(plan.commitAfter).toBe("switch");
  expect(plan.rollback.map((p) => p.args.slice(0, 1)[0])).toEqual(["switch", "restart", "health"]);
  expect(plan.rollback[0]!.args).toEqual(["switch", "--base", "/srv/rosey-test", "--run", "r1", "--release", "{switch.rollbackTo}"]);
  // a crash loop quotes only this start's journal lines: from the restart's own clock
  expect(plan.rollback[2]!.args.at(-1)).toBe("--since={rollback-restart.since}");
  expect(plan.onSuccess[0]!.args).toEqual(["prune", "--base", "/srv/rosey-test", "--keep", "5"]);
  expect(plan.ledger!.entry).toEqual({ kind: "deploy", env: "test", version: "1.2.0", sha256: "ab".repeat(32), trigger: "push", run: "r1" });
  // No secret value can be in the plan: it only names files.
  expect(JSON.stringify(plan)).not.toMatch(/password"\s*:\s*"[^/]/);
});

test("the smoke phase runs the chat smoke where the driver runs: cytu.be directly, a loopback server through a tunnel", () => {
  const plan = buildDeployPlan({ env, run: "r1", version: "1.2.0", sha256: "ab".repeat(32), trigger: "push", agentHash: "0123456789abcdef", paths });
  expect(plan.phases.at(-1)).toEqual({
    name: "smoke",
    local: {
      argv: [
        "/opt/shipit-smoke/bin/python", "/opt/shipit-deploy/shipit_smoke.py",
        "--server=cytu.be", "--channel=test-rosey", "--account=ShipitSmoke",
        "--password-file=/opt/shipit-deploy/secrets/smoke_password",
        "--bot=RoseyTest", "--command=!ping", "--expect=pong", "--timeout=15",
      ],
    },
    timeoutSec: 75,
  });
  const local = resolveEnvironment("test", { test: { host: "h", runtime: { server: "http://127.0.0.1:8765" }, smoke: { command: "!version", expect: "RoseyTest" } } });
  const query = buildQueryPlan("smoke", { env: local, run: "q1", agentHash: "f".repeat(64), paths });
  expect(query.phases).toEqual([
    {
      name: "smoke",
      local: {
        argv: [
          "/opt/shipit-smoke/bin/python", "/opt/shipit-deploy/shipit_smoke.py",
          "--server=http://127.0.0.1:8765", "--channel=test-rosey", "--account=ShipitSmoke",
          "--password-file=/opt/shipit-deploy/secrets/smoke_password",
          "--bot=RoseyTest", "--command=!version", "--expect=RoseyTest", "--timeout=15",
        ],
        tunnel: { host: "127.0.0.1", port: 8765 },
      },
      timeoutSec: 75,
    },
  ]);
});

test.each([
  ["cytu.be", undefined],
  ["https://cytu.be", undefined],
  ["http://10.0.0.5:8765", undefined],
  ["http://127.0.0.1:8765", { host: "127.0.0.1", port: 8765 }],
  ["http://localhost", { host: "localhost", port: 80 }],
  ["https://[::1]", { host: "::1", port: 443 }],
  ["localhost:9000", { host: "localhost", port: 9000 }],
])("chatTunnel(%j)", (server, tunnel) => {
  expect(chatTunnel(server)).toEqual(tunnel);
});

test("rollback --to a version goes through rollback-target", () => {
  const plan = buildRollbackPlan({ env, run: "r2", trigger: "manual", to: "1.1.0", agentHash: "f".repeat(64), paths });
  expect(plan.phases.map((p) => remote(p).args.slice(0, 1)[0])).toEqual(["rollback-target", "switch", "restart", "health"]);
  expect(remote(plan.phases[0]).args).toEqual(["rollback-target", "--base", "/srv/rosey-test", "--to", "1.1.0"]);
  expect(remote(plan.phases[1]).args.at(-1)).toBe("{rollback-target.release}");
  expect(plan.ledger!.entry["kind"]).toBe("rollback");
});

const driverOut = (o: object) => JSON.stringify({ phases: [], rollback: [], ...o });

test("reports: success, automatic rollback, failure before the switch, refused", () => {
  const ok = reportDeploy(parseDriverResult(driverOut({ outcome: "succeeded", seconds: 12.3, phases: [{ name: "upload", ok: true, seconds: 1 }], outputs: { install: { release: "1.2.0-20261126T000000Z" }, switch: { previous: "1.1.0-20261125T000000Z" } } }), ""), { env: "test", version: "1.2.0", kind: "deploy" });
  expect(ok.ok).toBe(true);
  expect(ok.message.split("\n")[0]).toBe("deploy of 1.2.0 to test succeeded in 12.3s: 1.2.0-20261126T000000Z is live (previous: 1.1.0-20261125T000000Z).");

  const rolled = reportDeploy(
    parseDriverResult(driverOut({ outcome: "rolled_back", cause: { phase: "health", code: "HEALTH_NOT_CONNECTED", message: "bot reports connected false" }, rollback: [{ name: "rollback-switch", ok: true, seconds: 0.2 }, { name: "rollback-health", ok: true, seconds: 2 }], outputs: { switch: { previous: "1.1.0-x" } } }), ""),
    { env: "prod", version: "1.2.0", kind: "deploy" },
  );
  expect(rolled.ok).toBe(false);
  expect(rolled.message).toContain("deploy of 1.2.0 to prod FAILED at health: bot reports connected false (HEALTH_NOT_CONNECTED): the bot runs but is not connected");
  expect(rolled.message).toContain("rolled back automatically: the previous release 1.1.0-x is live again and healthy (rollback took 2.2s)");

  const before = reportDeploy(parseDriverResult(driverOut({ outcome: "failed", cause: { phase: "upload", code: "SHA256_MISMATCH", message: "sha256 mismatch" } }), ""), { env: "prod", version: "1.2.0", kind: "deploy" });
  expect(before.message).toContain("FAILED before the switch at upload: sha256 mismatch (SHA256_MISMATCH)\nthe live release is untouched.");

  const refused = reportDeploy(parseDriverResult(driverOut({ outcome: "refused", cause: { phase: "lock", code: "LOCKED", message: "environment is locked by run 42" } }), ""), { env: "prod", version: "1.2.0", kind: "deploy" });
  expect(refused.message).toBe("deploy of 1.2.0 to prod did not start: lock: environment is locked by run 42 (LOCKED)\nnothing on the host changed.");
});

test("a driver that answers no JSON is a clear error", () => {
  expect(() => parseDriverResult("Traceback ...", "boom")).toThrow("the deploy driver gave no JSON result.\nboom");
  expect(() => parseDriverResult("Traceback ...", "boom")).toThrow(expect.objectContaining({ name: "InfraError", code: "REPORT_INVALID" }));
});

test("a driver result of another shape names every issue with its path", () => {
  const wrong = JSON.stringify({ outcome: "maybe", phases: [{ name: "lock", ok: "yes" }], rollback: [] });
  expect(() => parseDriverResult(wrong, "")).toThrow(
    new InfraError("REPORT_INVALID", 'the deploy driver\'s result has an unexpected shape: outcome: Invalid option: expected one of "succeeded"|"failed"|"rolled_back"|"rollback_failed"|"refused"|"error"; phases[0].ok: expected boolean, received string'),
  );
});

test("the artifact inspection: an artifact the driver cannot read is the caller's to fix, a broken answer is the driver's", () => {
  const sha = "a".repeat(64);
  expect(parseArtifactInspection(`${JSON.stringify({ sha256: sha, manifest: { name: "app" } })}\n`, "")).toEqual({ sha256: sha, manifest: { name: "app" } });
  expect(() => parseArtifactInspection(JSON.stringify({ error: "cannot read the artifact /x.tar.gz: not a gzip file" }), "")).toThrow(
    expect.objectContaining({ name: "ShipitError", code: "ARTIFACT_INVALID", message: "cannot read the artifact /x.tar.gz: not a gzip file. Fix: pass an artifact built by `shipit build -o dist/` (or the build function)" }),
  );
  expect(() => parseArtifactInspection(JSON.stringify({ sha256: "ab", manifest: null }), "")).toThrow(
    expect.objectContaining({ name: "InfraError", code: "REPORT_INVALID", message: "the deploy driver's inspection of the artifact has an unexpected shape: sha256: Invalid string: must match pattern /^[0-9a-f]{64}$/" }),
  );
  expect(() => parseArtifactInspection("", "Traceback (most recent call last):\nOSError: boom")).toThrow(
    expect.objectContaining({ code: "REPORT_INVALID", message: "the deploy driver gave no JSON answer when inspecting the artifact.\nTraceback (most recent call last):\nOSError: boom" }),
  );
});
