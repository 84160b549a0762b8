/**
 * Deploys to a real target: systemd as PID 1, real sshd with a pinned host key, the sample bot as a
 * systemd unit talking to a CyTube-compatible chat server. Every fault case asserts the final
 * state (exactly one `current`, pointing at a healthy release the ledger agrees with) and the message.
 * Needs docker (`.ci/run` installs and starts it); fails with an install hint when missing.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCheck } from "../../src/core/checks/pipeline.js";
import { hostSetup } from "../helpers/host.js";
import { DEFAULT_CHAT_ACCOUNTS, startTarget, stopAllTargets, type Target } from "../helpers/target.js";
import { makeVariant, REPO } from "../helpers/variants.js";

const BASE = "/srv/rosey-test";
const PASSWORD = DEFAULT_CHAT_ACCOUNTS["RoseyTest"]!;
const SMOKE_PASSWORD = DEFAULT_CHAT_ACCOUNTS["ShipitSmoke"]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: Target;
let source: string;
const artifacts: Record<string, string> = {};

/** Build an artifact of the sample bot (or a broken variant of it) with shipit's own build step. */
async function buildArtifact(version: string, patch?: (dir: string) => Promise<void>): Promise<string> {
  const dir = await makeVariant("clean");
  if (patch) await patch(dir);
  const s = await hostSetup(dir, { version, commit: `c-${version}` });
  const b = await runCheck("build", s.plan, s.runner, s.config);
  if (b.status !== "passed" || !b.info) throw new Error(`could not build ${version}: ${b.detail}`);
  return join(s.runner.layout.out, "build", b.info.artifact);
}

async function patchFile(dir: string, file: string, from: string, to: string): Promise<void> {
  const text = await readFile(join(dir, file), "utf8");
  if (!text.includes(from)) throw new Error(`${file} has no "${from}" to patch`);
  await writeFile(join(dir, file), text.replace(from, to));
}

function cli(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; cwd: string; env: Record<string, string>; extendEnv: true }> {
  return execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), ...args], {
    reject: false,
    cwd: REPO,
    env: { DEPLOY_SSH_KEY: t.privateKey, CYTUBEBOT_TEST_PASSWORD: PASSWORD, CYTUBE_SMOKE_PASSWORD: SMOKE_PASSWORD, ...env },
    extendEnv: true,
  });
}

const common = () => [`--env=test`, `--source=${source}`, "--ssh-key=env:DEPLOY_SSH_KEY", `--known-hosts=${t.knownHostsPath}`];
const deployArgs = (artifact: string, extra: string[] = []) => ["deploy", ...common(), `--artifact=${artifact}`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD", ...extra];
const smokeArgs = () => ["smoke", ...common(), "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"];

async function status(): Promise<{ current: string | null; releases: string[]; lock: unknown; health?: { ok: boolean; body?: { connected: boolean; version: string } } }> {
  const r = await cli(["status", ...common()]);
  expect(r.exitCode, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout);
}

async function ledger(): Promise<Record<string, unknown>[]> {
  const r = await t.exec(["cat", `${BASE}/ledger.jsonl`]);
  return r.stdout.trim() ? r.stdout.trim().split("\n").map((l) => JSON.parse(l)) : [];
}

/** The invariant after any fault: one `current`, a complete release, healthy, and the ledger's last good release. */
async function expectConsistent(expectedRelease?: string): Promise<string> {
  const links = (await t.exec(["sh", "-c", `ls -1 ${BASE} | grep '^current'`])).stdout.trim().split("\n");
  expect(links.filter((l) => l === "current")).toEqual(["current"]);
  const target = (await t.exec(["readlink", `${BASE}/current`])).stdout.trim();
  expect(target).toMatch(/^releases\/\S+$/);
  expect((await t.exec(["test", "-f", `${BASE}/${target}/manifest.json`])).exitCode).toBe(0);
  const s = await status();
  expect(s.current).toBe(target.slice("releases/".length));
  if (expectedRelease) expect(s.current).toBe(expectedRelease);
  expect(s.health?.ok, JSON.stringify(s.health)).toBe(true);
  return s.current!;
}

beforeAll(async () => {
  t = await startTarget();
  source = await makeVariant("clean", {
    "shipit.json": JSON.stringify({
      environments: {
        test: {
          host: "127.0.0.1",
          port: t.port,
          user: t.user,
          healthTimeoutSec: 25,
          lockWaitSec: 5,
          keepReleases: 3,
          runtime: { server: "http://127.0.0.1:8765" },
          smoke: { timeoutSec: 8 },
        },
      },
    }),
  });
  const built = await Promise.all([
    buildArtifact("1.0.0"),
    buildArtifact("1.1.0"),
    buildArtifact("1.2.0-deaf", (d) => patchFile(d, "web/status_server.py", `"connected": bool(source.connected),`, `"connected": False,`)),
    buildArtifact("1.3.0-crash", (d) => patchFile(d, "bot/rosey/__main__.py", "from __future__ import annotations\n", `from __future__ import annotations\n\nraise SystemExit("deliberately broken release: crash on start")\n`)),
    // Starts, connects, reports healthy, and cannot answer !ping: only the chat smoke sees it.
    buildArtifact("1.4.0-mute", (d) => patchFile(d, "lib/commands.py", `return "pong"`, `raise RuntimeError("deliberately broken command handler")`)),
  ]);
  [artifacts["1.0.0"], artifacts["1.1.0"], artifacts["deaf"], artifacts["crash"], artifacts["mute"]] = built;
});

afterAll(async () => {
  await t?.stop();
  await stopAllTargets();
});

describe("deploy to a systemd host over SSH", () => {
  test("refused before touching the host: missing secret, bad environment config, no known_hosts", async () => {
    const noPassword = await cli(["deploy", ...common(), `--artifact=${artifacts["1.0.0"]}`]);
    expect(noPassword.exitCode).toBe(2);
    expect(noPassword.stderr).toContain("deploy to test refused before touching the host: missing secret --bot-password (e.g. --bot-password=env:CYTUBEBOT_TEST_PASSWORD)");

    const noSmokePassword = await cli(["deploy", ...common(), `--artifact=${artifacts["1.0.0"]}`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD"]);
    expect(noSmokePassword.exitCode).toBe(2);
    expect(noSmokePassword.stderr.trim()).toBe(
      "shipit: deploy to test refused before touching the host: missing secret --smoke-password (e.g. --smoke-password=env:CYTUBE_SMOKE_PASSWORD: the password of ShipitSmoke, the CyTube account the chat smoke test logs in as)",
    );
    const smokeWithout = await cli(["smoke", ...common()]);
    expect(smokeWithout.exitCode).toBe(2);
    expect(smokeWithout.stderr).toContain("smoke of test refused before touching the host: missing secret --smoke-password (e.g. --smoke-password=env:CYTUBE_SMOKE_PASSWORD");

    const badEnvDir = await makeVariant("clean", { "shipit.json": JSON.stringify({ environments: { test: { host: "127.0.0.1", basePath: "srv/relative" } } }) });
    const badEnv = await cli(["deploy", "--env=test", `--source=${badEnvDir}`, "--ssh-key=env:DEPLOY_SSH_KEY", `--known-hosts=${t.knownHostsPath}`, `--artifact=${artifacts["1.0.0"]}`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD"]);
    expect(badEnv.exitCode).toBe(2);
    expect(badEnv.stderr).toContain(`environments.test.basePath = "srv/relative": must be an absolute path`);

    const noKnownHosts = await cli(["deploy", "--env=test", `--source=${source}`, "--ssh-key=env:DEPLOY_SSH_KEY", `--artifact=${artifacts["1.0.0"]}`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"]);
    expect(noKnownHosts.exitCode).toBe(2);
    expect(noKnownHosts.stderr).toContain("a known_hosts file pinning 127.0.0.1's host key is required");

    expect((await t.exec(["ls", "-A", BASE])).stdout.trim().split("\n").filter(Boolean).sort()).toEqual(["releases", "shared"]);
  });

  test("rollback with no previous release is a clear error", async () => {
    const r = await cli(["rollback", ...common()]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/rollback of test FAILED before the switch at rollback-target: .*\(NO_PREVIOUS_RELEASE\)/);
  });

  test("first deploy: installed offline, switched, healthy, smoke answered, ledger written", async () => {
    const r = await cli(deployArgs(artifacts["1.0.0"]!, ["--trigger=pull_request"]));
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deploy of 1\.0\.0 to test succeeded in [\d.]+s: 1\.0\.0-\d{8}T\d{6}Z is live\.$/m);
    expect(r.stdout).toMatch(/^smoke: RoseyTest answered "!ping" with "pong" in [\d.]+ ms$/m);
    const live = await expectConsistent();
    const [entry] = (await ledger()).slice(-1);
    expect(entry).toMatchObject({ kind: "deploy", env: "test", version: "1.0.0", outcome: "succeeded", trigger: "pull_request", release: live });
    expect(Object.keys(entry!["phases"] as object)).toEqual(["agent", "lock", "upload", "install", "configure", "switch", "restart", "health", "smoke", "prune"]);
    const smoke = await cli(smokeArgs());
    expect(smoke.exitCode, smoke.stdout + smoke.stderr).toBe(0);
    const answer = JSON.parse(smoke.stdout) as { ok: boolean; reply: string; rtt_ms: number; server_url: string };
    expect(answer).toMatchObject({ ok: true, reply: "pong", bot: "RoseyTest", account: "ShipitSmoke", channel: "test-rosey", server_url: "http://127.0.0.1:8765" });
    expect(answer.rtt_ms).toBeGreaterThan(0);
    console.log(`chat smoke round trip through the SSH tunnel: ${answer.rtt_ms} ms`);
  });

  test("a release that runs, connects and is healthy but cannot answer !ping fails the chat smoke and rolls back", async () => {
    const good = await expectConsistent();
    const r = await cli(deployArgs(artifacts["mute"]!));
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^deploy of 1\.4\.0-mute to test FAILED at smoke: RoseyTest did not answer '!ping' in test-rosey within [\d.]+s \(SMOKE_BOT_SILENT\)$/m);
    expect(r.stdout).toContain(`rolled back automatically: the previous release ${good} is live again and healthy`);
    expect(r.stdout).toMatch(/phases: .*health [\d.]+s, smoke [\d.]+s FAILED/);
    await expectConsistent(good);
    const last = (await ledger()).at(-1)!;
    expect(last).toMatchObject({ version: "1.4.0-mute", outcome: "rolled_back", previous: good, cause: { phase: "smoke", code: "SMOKE_BOT_SILENT" } });
    expect(Object.keys(last["rollbackPhases"] as object)).toEqual(["rollback-switch", "rollback-restart", "rollback-health"]);
    expect(await t.journal("rosey-test", 400)).toContain("deliberately broken command handler");
    const smoke = await cli(smokeArgs());
    expect(JSON.parse(smoke.stdout)).toMatchObject({ ok: true, reply: "pong" });
  });

  test("a second release, then a bot that never connects rolls back automatically", async () => {
    expect((await cli(deployArgs(artifacts["1.1.0"]!))).exitCode).toBe(0);
    const good = await expectConsistent();
    const r = await cli(deployArgs(artifacts["deaf"]!));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain("deploy of 1.2.0-deaf to test FAILED at health:");
    expect(r.stdout).toContain("(HEALTH_NOT_CONNECTED)");
    expect(r.stdout).toContain(`rolled back automatically: the previous release ${good} is live again and healthy`);
    await expectConsistent(good);
    expect((await ledger()).at(-1)).toMatchObject({ version: "1.2.0-deaf", outcome: "rolled_back", cause: { phase: "health", code: "HEALTH_NOT_CONNECTED" } });
  });

  test("a deploy with a wrong bot password fails health and rolls back; the previous release keeps its own password", async () => {
    const good = await expectConsistent();
    const r = await cli(deployArgs(artifacts["1.1.0"]!), { CYTUBEBOT_TEST_PASSWORD: "not-the-bot-password" }); // pragma: allowlist secret
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stdout, r.stdout).toMatch(/^deploy of 1\.1\.0 to test FAILED at health: .*\(HEALTH_NOT_CONNECTED\): .*check server, channel and the bot password$/m);
    expect(r.stdout).toContain(`rolled back automatically: the previous release ${good} is live again and healthy`);
    await expectConsistent(good);
    // Each release holds the password it was deployed with, next to its config.
    const failed = (await ledger()).at(-1)!["release"] as string;
    expect((await t.exec(["cat", `${BASE}/releases/${failed}/secrets/bot_password`])).stdout).toBe("not-the-bot-password");
    expect((await t.exec(["cat", `${BASE}/releases/${good}/secrets/bot_password`])).stdout).not.toBe("not-the-bot-password");
  });

  test("a crash-looping release rolls back automatically", async () => {
    const before = await expectConsistent();
    const r = await cli(deployArgs(artifacts["crash"]!));
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/FAILED at health: unit rosey-test.service is crash-looping[\s\S]*deliberately broken release: crash on start[\s\S]*\(CRASH_LOOP\)/);
    expect(r.stdout).toContain(`the previous release ${before} is live again and healthy`);
    await expectConsistent(before);
  });

  test("an artifact whose sha256 does not match what was promised is refused before the switch", async () => {
    const before = await expectConsistent();
    const r = await cli(deployArgs(artifacts["1.0.0"]!, [`--expect-sha256=${"0".repeat(64)}`]));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("refused: the artifact's sha256");
    await expectConsistent(before);
  });

  test("a connection cut mid-upload leaves the live release untouched", async () => {
    const before = await expectConsistent();
    const bytes = await readFile(artifacts["1.1.0"]!);
    const half = join(await mkdtemp(join(tmpdir(), "cut-")), "half.tar.gz");
    await writeFile(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const agent = (await t.exec(["sh", "-c", `ls ${BASE}/.shipit/agent-*.py | head -1`])).stdout.trim();
    const cut = await t.ssh(["python3", agent, "receive", "--base", BASE, "--run", "cut-1", "--sha256", "a".repeat(64)], { inputFile: half });
    expect(JSON.parse(cut.stdout.trim().split("\n").pop()!).error.code).toBe("SHA256_MISMATCH");
    await expectConsistent(before);
    expect((await t.exec(["ls", `${BASE}/incoming`])).stdout).not.toContain("cut-1.tar.gz\n");
  });

  test("a second deploy shows who holds the lock, waits, then fails clearly", async () => {
    // The holder is the agent's real lock, taken as a deploy takes it and held until the test lets
    // go (its stdin closes when the sleep is killed): a real deploy can finish inside the 5 s wait.
    const before = await expectConsistent();
    const agent = (await t.exec(["sh", "-c", `ls ${BASE}/.shipit/agent-*.py | head -1`])).stdout.trim();
    const holder = t.ssh(["sh", "-c", `sleep 117 | python3 ${agent} lock --base ${BASE} --run holder-run --version 1.1.0 --trigger manual --wait 0`]);
    for (let i = 0; i < 100; i++) {
      if ((await t.exec(["test", "-f", `${BASE}/deploy.lock.json`])).exitCode === 0) break;
      await sleep(100);
    }
    const second = await cli(deployArgs(artifacts["1.0.0"]!, ["--run=waiting-run"]));
    expect(second.exitCode).toBe(1);
    expect(second.stdout).toMatch(/did not start: lock: environment is locked by run holder-run \(version 1\.1\.0, trigger manual\) since \S+Z; waited [\d.]+ s/);
    await expectConsistent(before);
    expect((await t.exec(["pkill", "-f", "^sleep 117$"])).exitCode).toBe(0);
    const held = await holder;
    expect(held.exitCode).toBe(0);
    expect(JSON.parse(held.stdout.trim().split("\n").pop()!)).toEqual({ ok: true, locked: true, run: "holder-run" });
    expect((await t.exec(["test", "-e", `${BASE}/deploy.lock.json`])).exitCode).toBe(1);
    // Released: the next deploy takes the lock at once.
    expect((await cli(deployArgs(artifacts["1.1.0"]!, ["--run=after-holder"]))).exitCode).toBe(0);
    await expectConsistent();
  });

  test("a deploy killed mid-way leaves a consistent state and no stale lock", async () => {
    const before = await expectConsistent();
    const victim = cli(deployArgs(artifacts["1.0.0"]!, ["--run=victim-run"]));
    for (let i = 0; i < 300; i++) {
      const r = await t.exec(["sh", "-c", `ls ${BASE}/releases | grep -c '^1.0.0-' || true`]);
      if ((await t.exec(["test", "-f", `${BASE}/deploy.lock.json`])).exitCode === 0 && Number(r.stdout.trim()) > 0) break;
      await sleep(50);
    }
    victim.kill("SIGKILL");
    await victim;
    await execa("pkill", ["-9", "-f", "victim-run"], { reject: false });
    const after = await expectConsistent();
    expect([before, after]).toContain(after);
    const next = await cli(deployArgs(artifacts["1.1.0"]!));
    expect(next.exitCode, next.stdout).toBe(0);
    await expectConsistent();
  });

  test("5 deploys at once are serialized; none is corrupted", async () => {
    const before = (await ledger()).length;
    const runs = await Promise.all([0, 1, 2, 3, 4].map((i) => cli(deployArgs(artifacts[i % 2 ? "1.0.0" : "1.1.0"]!, [`--run=burst-${i}`]), {})));
    for (const r of runs) expect(r.exitCode, r.stdout + r.stderr).not.toBe(2);
    const entries = (await ledger()).slice(before);
    const done = entries.filter((e) => e["outcome"] === "succeeded");
    expect(done.length).toBe(runs.filter((r) => r.exitCode === 0).length);
    const spans = done.map((e) => [Date.parse(String(e["started"])), Date.parse(String(e["ended"]))] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1] - 1000);
    for (const r of runs.filter((x) => x.exitCode !== 0)) expect(r.stdout).toContain("environment is locked by run burst-");
    await expectConsistent();
    const releases = (await status()).releases;
    expect(releases.length).toBeLessThanOrEqual(3 + 1);
  });

  test("manual rollback --to a version on the host, health-gated and in the ledger", async () => {
    const s = await status();
    const target = s.releases.find((r) => r.startsWith("1.0.0-") && r !== s.current) ?? s.releases.find((r) => r !== s.current)!;
    const version = target.split("-")[0]!;
    const r = await cli(["rollback", ...common(), `--to=${version}`]);
    expect(r.exitCode, r.stdout).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^rollback of test to ${version.replace(/\./g, "\\.")} succeeded in [\\d.]+s: ${version.replace(/\./g, "\\.")}-\\S+ is live`, "m"));
    await expectConsistent();
    expect((await ledger()).at(-1)).toMatchObject({ kind: "rollback", outcome: "succeeded" });
  });

  test("the chat server down: the smoke fails clearly, through the tunnel", async () => {
    await expectConsistent();
    expect((await t.exec(["systemctl", "stop", "cytube-test"])).exitCode).toBe(0);
    try {
      const r = await cli(smokeArgs());
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(
        /^smoke of test failed at smoke: cannot reach the chat server: GET http:\/\/127\.0\.0\.1:8765\/socketconfig\/test-rosey\.json \(through an SSH tunnel to the bot's host\) failed: .+\. Is the CyTube server up\? \(SMOKE_SERVER_DOWN\)$/m,
      );
    } finally {
      expect((await t.exec(["systemctl", "start", "cytube-test"])).exitCode).toBe(0);
    }
    // The bot reconnects by itself (backoff of at most 10 s).
    for (let i = 0; i < 60 && !(await status()).health?.body?.connected; i++) await sleep(1000);
    await expectConsistent();
    expect(JSON.parse((await cli(smokeArgs())).stdout)).toMatchObject({ ok: true, reply: "pong" });
  });

  test("a canary secret is absent from every output, the ledger and the artifact", async () => {
    const canary = `CANARY-${randomBytes(8).toString("hex")}`;
    const smokeCanary = `SMOKE-CANARY-${randomBytes(8).toString("hex")}`;
    await t.chat.setAccounts({ ...DEFAULT_CHAT_ACCOUNTS, RoseyTest: canary, ShipitSmoke: smokeCanary });
    const r = await cli(deployArgs(artifacts["1.1.0"]!), { CYTUBEBOT_TEST_PASSWORD: canary, CYTUBE_SMOKE_PASSWORD: smokeCanary });
    expect(r.exitCode, r.stdout).toBe(0);
    expect(r.stdout).toContain('smoke: RoseyTest answered "!ping" with "pong"');
    const history = await cli(["history", ...common()]);
    const st = await cli(["status", ...common()]);
    const smoke = await cli(smokeArgs(), { CYTUBE_SMOKE_PASSWORD: smokeCanary });
    expect(smoke.exitCode, smoke.stdout).toBe(0);
    const refused = await cli(smokeArgs(), { CYTUBE_SMOKE_PASSWORD: `${smokeCanary}-wrong` });
    expect(refused.stdout).toContain("the chat server refused the smoke account ShipitSmoke: Invalid username/password. Check the smoke password secret (smokePassword) and smoke.account (SMOKE_LOGIN_REFUSED)");
    const everything = [r.stdout, r.stderr, history.stdout, history.stderr, st.stdout, st.stderr, smoke.stdout, smoke.stderr, refused.stdout, refused.stderr, (await t.exec(["cat", `${BASE}/ledger.jsonl`])).stdout, (await t.journal("rosey-test", 200)), (await t.journal("cytube-test", 400)), (await readFile(artifacts["1.1.0"]!)).toString("latin1")];
    for (const out of everything) {
      expect(out).not.toContain(canary);
      expect(out).not.toContain(smokeCanary);
    }
    // The smoke password stays where the driver runs: nothing under the base path holds it.
    expect((await t.exec(["grep", "-rlF", smokeCanary, BASE])).exitCode).toBe(1);
    const secret = await t.exec(["stat", "-c", "%a", `${BASE}/current/secrets/bot_password`]);
    expect(secret.stdout.trim()).toBe("600");
    expect((await t.exec(["cat", `${BASE}/current/secrets/bot_password`])).stdout).toBe(canary);
    await t.chat.setAccounts({ ...DEFAULT_CHAT_ACCOUNTS });
  });
});
