/**
 * A bot not written for shipit (test/fixtures/plain-bot): its own config file with a
 * `user: [name, password]` array, no health endpoint, no chat command, tests under pyproject.
 * Through ci, then deploys to a real systemd target as the non-root deploy user with `log` +
 * `systemd` health and the `presence` smoke; a bad release rolled back automatically, a manual
 * rollback, and canaries absent from every output. Needs docker; fails with a hint without it.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCheck, runCi } from "../../src/core/checks/pipeline.js";
import { hostSetup } from "../helpers/host.js";
import { startOsv } from "../helpers/osv.js";
import { DEFAULT_CHAT_ACCOUNTS, startTarget, stopAllTargets, type Target } from "../helpers/target.js";
import { REPO } from "../helpers/variants.js";

const BASE = "/srv/rosey-test";
const UNIT = "rosey-test.service";
const RENDERED = "bot/plain/config.json";
const PASSWORD = "plain-bot-password"; // pragma: allowlist secret
const SMOKE_PASSWORD = DEFAULT_CHAT_ACCOUNTS["ShipitSmoke"]!;

let t: Target;
let source: string;
let osv: Awaited<ReturnType<typeof startOsv>>;
const artifacts: Record<string, string> = {};

/** The fixture in a temp folder with this target's SSH address, and an optional patch of its code. */
async function copyFixture(patch?: (dir: string) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shipit-plain-bot-"));
  await cp(join(REPO, "test/fixtures/plain-bot"), dir, { recursive: true });
  const own = JSON.parse(await readFile(join(dir, "shipit.json"), "utf8"));
  const test = { ...own.environments.test, host: "127.0.0.1", port: t.port, user: t.user, healthTimeoutSec: 25, lockWaitSec: 5, keepReleases: 4, smoke: { ...own.environments.test.smoke, timeoutSec: 8 } };
  await writeFile(join(dir, "shipit.json"), JSON.stringify({ ...own, environments: { test }, security: { auditService: "osv", osvUrl: osv.url } }));
  if (patch) await patch(dir);
  return dir;
}

async function buildArtifact(version: string, patch?: (dir: string) => Promise<void>): Promise<string> {
  const s = await hostSetup(await copyFixture(patch), { version, commit: `c-${version}` });
  const b = await runCheck("build", s.plan, s.runner, s.config);
  if (b.status !== "passed" || !b.info) throw new Error(`could not build ${version}: ${b.detail}`);
  return join(s.runner.layout.out, "build", b.info.artifact);
}

function cli(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; cwd: string; env: Record<string, string>; extendEnv: true }> {
  return execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), ...args], {
    reject: false,
    cwd: REPO,
    env: { DEPLOY_SSH_KEY: t.privateKey, CYTUBEBOT_TEST_PASSWORD: PASSWORD, CYTUBE_SMOKE_PASSWORD: SMOKE_PASSWORD, ...env },
    extendEnv: true,
  });
}

const common = () => ["--env=test", `--source=${source}`, "--ssh-key=env:DEPLOY_SSH_KEY", `--known-hosts=${t.knownHostsPath}`];
const deployArgs = (artifact: string) => ["deploy", ...common(), `--artifact=${artifact}`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"];

async function ledger(): Promise<Record<string, unknown>[]> {
  const r = await t.exec(["cat", `${BASE}/ledger.jsonl`]);
  return r.stdout.trim() ? r.stdout.trim().split("\n").map((l) => JSON.parse(l)) : [];
}

async function live(): Promise<string> {
  return (await t.exec(["readlink", `${BASE}/current`])).stdout.trim().replace(/^releases\//, "");
}

async function renderedConfig(release: string): Promise<{ mode: string; owner: string; doc: Record<string, unknown> }> {
  const file = `${BASE}/releases/${release}/${RENDERED}`;
  const [mode, owner] = (await t.exec(["stat", "-c", "%a %U", file])).stdout.trim().split(" ");
  return { mode: mode!, owner: owner!, doc: JSON.parse((await t.exec(["cat", file])).stdout) };
}

beforeAll(async () => {
  osv = await startOsv();
  t = await startTarget({ user: "deploy" });
  // The bot's own unit line, as Rosey's systemd/cytube-bot.service starts it: the release's
  // interpreter, the script and its config path inside `current/`.
  const dropIn = `[Service]\nExecStart=\nExecStart=${BASE}/current/.venv/bin/python bot/plain/plainbot.py ${RENDERED}\n`;
  const unit = await t.exec(["sh", "-c", `cat > /etc/systemd/system/${UNIT}.d/plain.conf && systemctl daemon-reload`], { input: dropIn });
  expect(unit.exitCode, unit.stderr).toBe(0);
  await t.chat.setAccounts({ ...DEFAULT_CHAT_ACCOUNTS, PlainBot: PASSWORD });
  source = await copyFixture();
  const built = await Promise.all([
    buildArtifact("1.1.0"),
    // Runs, stays up, joins, and never logs its join line: only log health sees it.
    buildArtifact("1.2.0-lost", async (d) => {
      const f = join(d, "bot/plain/plainbot.py");
      const text = await readFile(f, "utf8");
      const from = `log.info("joined channel`;
      if (!text.includes(from)) throw new Error("plainbot.py has no join line to patch");
      await writeFile(f, text.replace(from, `log.info("in channel`));
    }),
    buildArtifact("1.3.0-crash", async (d) => {
      const f = join(d, "bot/plain/plainbot.py");
      const text = await readFile(f, "utf8");
      const from = "def main(argv: list[str]) -> int:\n";
      if (!text.includes(from)) throw new Error("plainbot.py has no main to patch");
      await writeFile(f, text.replace(from, `${from}    raise SystemExit("deliberately broken release: crash on start")\n`));
    }),
  ]);
  [artifacts["1.1.0"], artifacts["lost"], artifacts["crash"]] = built;
}, 900_000);

afterAll(async () => {
  await t?.stop();
  await stopAllTargets();
  await osv?.close();
});

describe("a bot in its own format: ci, deploy, rollback", () => {
  test("ci: every gate passes under pyproject, and the artifact carries the config template", async () => {
    const s = await hostSetup(source, { version: "1.0.0", commit: "c0ffee1" });
    const report = await runCi(s.plan, s.runner, s.config);
    expect(report.gates.map((g) => `${g.name} ${g.status}`), report.summary).toEqual(["dependencies passed", "lint passed", "typecheck passed", "test passed", "security passed", "build passed"]);
    const build = report.gates.find((g) => g.name === "build")!;
    expect(build.figure).toMatch(/^plainbot-1\.0\.0\.tar\.gz /);
    artifacts["1.0.0"] = join(s.runner.layout.out, "build", "plainbot-1.0.0.tar.gz");
    const names = (await execa("tar", ["-tzf", artifacts["1.0.0"]])).stdout.split("\n");
    expect(names).toContain("plainbot-1.0.0/bot/plain/config.json.dist");
    expect(names).not.toContain(`plainbot-1.0.0/${RENDERED}`);
  });

  test("a path the template lacks is refused at config time, naming the path", async () => {
    const dir = await copyFixture();
    const cfg = JSON.parse(await readFile(join(dir, "shipit.json"), "utf8"));
    cfg.environments.test.runtimeConfig.values["user[2]"] = "x";
    await writeFile(join(dir, "shipit.json"), JSON.stringify(cfg));
    const r = await cli(["deploy", "--env=test", `--source=${dir}`, "--ssh-key=env:DEPLOY_SSH_KEY", `--known-hosts=${t.knownHostsPath}`, `--artifact=${artifacts["1.0.0"]}`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`environments.test.runtimeConfig.values["user[2]"] = "x": is not in bot/plain/config.json.dist: no user[2] (user has 2 entries). Fix: use a path the template has`);
    expect((await t.exec(["ls", "-A", BASE])).stdout.trim().split("\n").sort()).toEqual(["releases", "shared"]);
  });

  test("first deploy: its own config rendered 0600 into the release, log + systemd health, presence smoke", async () => {
    const r = await cli(deployArgs(artifacts["1.0.0"]!));
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deploy of 1\.0\.0 to test succeeded in [\d.]+s: 1\.0\.0-\d{8}T\d{6}Z is live\.$/m);
    expect(r.stdout).toMatch(/^smoke: PlainBot is in test-rosey's user list, seen by ShipitSmoke in [\d.]+ ms$/m);
    const release = await live();
    const cfg = await renderedConfig(release);
    expect(cfg).toEqual({
      mode: "600",
      owner: "deploy",
      doc: { domain: "http://127.0.0.1:8765", channel: "test-rosey", user: ["PlainBot", PASSWORD], db: "data/plain.db", log_level: "DEBUG", greeting: null },
    });
    const [entry] = (await ledger()).slice(-1);
    expect(entry).toMatchObject({ kind: "deploy", version: "1.0.0", outcome: "succeeded", release });
    expect(Object.keys(entry!["phases"] as object)).toEqual(["agent", "lock", "upload", "install", "configure", "switch", "restart", "health", "smoke", "prune"]);
    // the health phase waited for the unit to stay up for stableSec (3 s) and for the join line
    const phases = entry!["phases"] as Record<string, number>;
    expect(phases["health"]).toBeGreaterThanOrEqual(3);
    console.log(`first deploy of the plain bot: ${entry!["seconds"]} s; health (log + systemd, stableSec 3) ${phases["health"]} s; presence smoke ${phases["smoke"]} s`);
    expect(await t.journal(UNIT, 100)).toMatch(/joined channel test-rosey as PlainBot/);
    const health = await cli(["health", ...common()]);
    expect(health.exitCode, health.stdout + health.stderr).toBe(0);
    const answer = JSON.parse(health.stdout) as { kinds: string[]; checks: { log: string; systemd: { restarts: number } } };
    expect(answer.kinds).toEqual(["log", "systemd"]);
    expect(answer.checks.log).toMatch(/joined channel test-rosey as PlainBot$/);
    const smoke = await cli(["smoke", ...common(), "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"]);
    expect(smoke.exitCode, smoke.stdout + smoke.stderr).toBe(0);
    expect(JSON.parse(smoke.stdout)).toMatchObject({ ok: true, present: true, bot: "PlainBot", channel: "test-rosey", kind: "presence" });
  });

  test("a release that never logs its join line fails log health and rolls back automatically", async () => {
    expect((await cli(deployArgs(artifacts["1.1.0"]!))).exitCode).toBe(0);
    const good = await live();
    const r = await cli(deployArgs(artifacts["lost"]!));
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^deploy of 1\.2\.0-lost to test FAILED at health: log: no line of rosey-test\.service's journal since this restart matches 'joined channel \\\\S\+ as PlainBot' \(still failing after [\d.]+ s and \d+ attempts\) \(HEALTH_LOG_NOT_SEEN\): the bot runs but never logged the line of health\.logPattern/m);
    expect(r.stdout).toContain(`rolled back automatically: the previous release ${good} is live again and healthy`);
    expect(await live()).toBe(good);
    expect((await ledger()).at(-1)).toMatchObject({ version: "1.2.0-lost", outcome: "rolled_back", previous: good, cause: { phase: "health", code: "HEALTH_LOG_NOT_SEEN" } });
    expect(Object.keys((await ledger()).at(-1)!["rollbackPhases"] as object)).toEqual(["rollback-switch", "rollback-restart", "rollback-health"]);
    expect(JSON.parse((await cli(["smoke", ...common(), "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"])).stdout)).toMatchObject({ ok: true, present: true });
  });

  test("a crash-looping release is still caught with no endpoint to probe, and rolled back", async () => {
    const good = await live();
    const r = await cli(deployArgs(artifacts["crash"]!));
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/FAILED at health: unit rosey-test\.service is crash-looping[\s\S]*deliberately broken release: crash on start[\s\S]*\(CRASH_LOOP\)/);
    expect(r.stdout).toContain(`rolled back automatically: the previous release ${good} is live again and healthy`);
    expect(await live()).toBe(good);
    const last = (await ledger()).at(-1)!;
    expect(last).toMatchObject({ version: "1.3.0-crash", outcome: "rolled_back", cause: { phase: "health", code: "CRASH_LOOP" } });
    console.log(`crash loop caught after ${(last["phases"] as Record<string, number>)["health"]} s of health (log + systemd)`);
  });

  test("a wrong bot password: login refused, no join line, rolled back; each release keeps the config it ran with", async () => {
    const good = await live();
    const r = await cli(deployArgs(artifacts["1.1.0"]!), { CYTUBEBOT_TEST_PASSWORD: "not-the-plain-password" }); // pragma: allowlist secret
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain("(HEALTH_LOG_NOT_SEEN)");
    expect(r.stdout).toContain(`rolled back automatically: the previous release ${good} is live again and healthy`);
    const failed = (await ledger()).at(-1)!["release"] as string;
    expect((await renderedConfig(failed)).doc["user"]).toEqual(["PlainBot", "not-the-plain-password"]);
    expect((await renderedConfig(good)).doc["user"]).toEqual(["PlainBot", PASSWORD]);
    expect(await live()).toBe(good);
  });

  test("a manual rollback to the previous release, health-gated and in the ledger", async () => {
    const before = await live();
    const r = await cli(["rollback", ...common()]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rollback of test succeeded in [\d.]+s: 1\.0\.0-\d{8}T\d{6}Z is live/m);
    const now = await live();
    expect(now).not.toBe(before);
    expect(now).toMatch(/^1\.0\.0-/);
    expect((await renderedConfig(now)).doc["user"]).toEqual(["PlainBot", PASSWORD]);
    expect((await ledger()).at(-1)).toMatchObject({ kind: "rollback", outcome: "succeeded", release: now });
  });

  test("canaries: the bot's and the smoke account's passwords are in no output, ledger, journal or artifact", async () => {
    const canary = `CANARY-${randomBytes(8).toString("hex")}`;
    const smokeCanary = `SMOKE-CANARY-${randomBytes(8).toString("hex")}`;
    await t.chat.setAccounts({ ...DEFAULT_CHAT_ACCOUNTS, PlainBot: canary, ShipitSmoke: smokeCanary });
    try {
      const env = { CYTUBEBOT_TEST_PASSWORD: canary, CYTUBE_SMOKE_PASSWORD: smokeCanary };
      const r = await cli(deployArgs(artifacts["1.1.0"]!), env);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain("smoke: PlainBot is in test-rosey's user list");
      const outputs = await Promise.all([cli(["history", ...common()], env), cli(["status", ...common()], env), cli(["health", ...common()], env), cli(["smoke", ...common(), "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"], env)]);
      const everything = [r.stdout, r.stderr, ...outputs.flatMap((o) => [o.stdout, o.stderr]), (await t.exec(["cat", `${BASE}/ledger.jsonl`])).stdout, await t.journal(UNIT, 400), await t.journal("cytube-test", 400), (await readFile(artifacts["1.1.0"]!)).toString("latin1")];
      for (const out of everything) {
        expect(out).not.toContain(canary);
        expect(out).not.toContain(smokeCanary);
      }
      // the bot's password is only in its release's 0600 files; the smoke password never reaches the host
      const holders = (await t.exec(["grep", "-rlF", canary, BASE])).stdout.trim().split("\n").sort();
      const release = await live();
      expect(holders).toEqual([`${BASE}/releases/${release}/${RENDERED}`, `${BASE}/releases/${release}/secrets/bot_password`]);
      expect((await renderedConfig(release)).mode).toBe("600");
      expect((await t.exec(["grep", "-rlF", smokeCanary, BASE])).exitCode).toBe(1);
    } finally {
      await t.chat.setAccounts({ ...DEFAULT_CHAT_ACCOUNTS, PlainBot: PASSWORD });
    }
  });
});
