/**
 * `shipit setup` on a BARE host (test/targets/bare: systemd, sshd and python3 with venv and an
 * unconfigured sudo; no deploy user, no unit, no /srv layout), through the real CLI, the real
 * driver and real sshd with a pinned host key: a wrong host key is refused before any change; the
 * first run prints each change, the second none; the sudoers drop-in allows exactly restart,
 * reset-failed and show of the unit; then the sample bot deploys as the new deploy user with its
 * own key (not the admin's), and that user reads the unit's journal without sudo.
 * Needs docker; fails (never skips) with an install hint when it is missing.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCheck } from "../../src/core/checks/pipeline.js";
import { hostSetup } from "../helpers/host.js";
import { bridgeGateway, DEFAULT_CHAT_ACCOUNTS, startChatServer, startTarget, stopAllTargets, type HostChatServer, type Target } from "../helpers/target.js";
import { makeVariant, REPO } from "../helpers/variants.js";

const BASE = "/srv/rosey-test";
const UNIT = "rosey-test.service";
let t: Target;
let chat: HostChatServer;
let source: string;
let keys: string;
let deployKey: string;

function cli(args: string[]) {
  return execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), ...args], {
    reject: false,
    cwd: REPO,
    env: {
      SHIPIT_ADMIN_SSH_KEY: t.privateKey,
      DEPLOY_SSH_KEY: deployKey,
      CYTUBEBOT_TEST_PASSWORD: DEFAULT_CHAT_ACCOUNTS["RoseyTest"]!,
      CYTUBE_SMOKE_PASSWORD: DEFAULT_CHAT_ACCOUNTS["ShipitSmoke"]!,
    },
    extendEnv: true,
  });
}

const setupArgs = (knownHosts = t.knownHostsPath) => ["setup", "--env=test", `--source=${source}`, "--admin-key=env:SHIPIT_ADMIN_SSH_KEY", `--known-hosts=${knownHosts}`, `--deploy-key=${join(keys, "deploy.pub")}`];

/** ssh to the target as the deploy user, with the deploy key (not the admin's). */
function asDeploy(cmd: string) {
  return execa("ssh", ["-i", join(keys, "deploy"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${t.knownHostsPath}`, "-o", "LogLevel=ERROR", "-p", String(t.port), "-l", "deploy", "--", "127.0.0.1", cmd], { reject: false });
}

beforeAll(async () => {
  const gateway = await bridgeGateway();
  [t, chat] = await Promise.all([startTarget({ image: "bare" }), startChatServer({ host: gateway })]);
  keys = await mkdtemp(join(tmpdir(), "shipit-setup-keys-"));
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "shipit-deploy", "-f", join(keys, "deploy")]);
  deployKey = await readFile(join(keys, "deploy"), "utf8");
  source = await makeVariant("clean", {
    "shipit.json": JSON.stringify({
      environments: { test: { host: "127.0.0.1", port: t.port, user: "deploy", healthTimeoutSec: 25, runtime: { server: chat.url }, smoke: { timeoutSec: 8 } } },
    }),
  });
}, 600_000);

afterAll(async () => {
  await chat?.stop();
  await t?.stop();
  await stopAllTargets();
});

describe("shipit setup on a bare host", () => {
  test("the bare host has none of it: no deploy user, no unit, no layout", async () => {
    expect((await t.exec(["id", "deploy"])).exitCode).toBe(1);
    expect((await t.exec(["test", "-e", BASE])).exitCode).toBe(1);
    expect((await t.exec(["test", "-e", `/etc/systemd/system/${UNIT}`])).exitCode).toBe(1);
    expect((await t.exec(["sh", "-c", "ls /etc/sudoers.d"])).stdout.trim()).toBe("README");
  });

  test("a host whose key is not the pinned one is refused before any change", async () => {
    const other = await mkdtemp(join(tmpdir(), "shipit-otherkey-"));
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(other, "k")]);
    const fake = (await readFile(join(other, "k.pub"), "utf8")).trim().split(" ").slice(0, 2).join(" ");
    await writeFile(join(other, "known_hosts"), `[127.0.0.1]:${t.port} ${fake}\n`);
    const r = await cli(setupArgs(join(other, "known_hosts")));
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout).toContain("setup of test on root@127.0.0.1:");
    expect(r.stdout).toContain("refused at prerequisites: the host's key is not the one pinned in --known-hosts, so it cannot be verified: nothing was sent to it.");
    expect(r.stdout).toContain("(HOST_KEY_UNVERIFIED); nothing was changed");
    expect(r.stdout).not.toContain("changed:");
    expect((await t.exec(["id", "deploy"])).exitCode).toBe(1);
    expect((await t.exec(["test", "-e", BASE])).exitCode).toBe(1);
  });

  test("a host without what setup needs is refused at the read-only first step, naming it and its package", async () => {
    const noVenv = await makeVariant("clean", {
      "shipit.json": JSON.stringify({ environments: { test: { host: "127.0.0.1", port: t.port, user: "deploy", python: "/opt/no-such/python3" } } }),
    });
    const r = await cli(["setup", "--env=test", `--source=${noVenv}`, "--admin-key=env:SHIPIT_ADMIN_SSH_KEY", `--known-hosts=${t.knownHostsPath}`]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout.trim()).toBe(
      `setup of test on root@127.0.0.1:${t.port} refused at prerequisites: the host lacks what setup needs (nothing was changed): missing /opt/no-such/python3 with venv (apt-get install python3 python3-venv, or set environments.test.python) (HOST_NOT_READY); nothing was changed`,
    );
    expect((await t.exec(["id", "deploy"])).exitCode).toBe(1);
  });

  test("no admin key: refused before touching the host, naming the flag", async () => {
    const r = await cli(["setup", "--env=test", `--source=${source}`, `--known-hosts=${t.knownHostsPath}`]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("setup of test refused before touching the host: missing secret --admin-key (e.g. --admin-key=env:SHIPIT_ADMIN_SSH_KEY)");
  });

  test("the first run prints each change; the second prints none", async () => {
    const first = await cli(setupArgs());
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout.trim().split("\n")).toEqual([
      "changed: created user deploy (no password, key login only)",
      `changed: added deploy to systemd-journal (reads the journal of ${UNIT})`,
      "changed: authorized the deploy key (ssh-ed25519) for deploy",
      `changed: created ${BASE}, ${BASE}/releases, ${BASE}/shared owned by deploy`,
      `changed: wrote /etc/systemd/system/${UNIT} (shipit's built-in unit) and reloaded systemd`,
      `changed: enabled ${UNIT} (starts at boot once a release is live)`,
      `changed: wrote /etc/sudoers.d/shipit-rosey-test: deploy may run only systemctl restart ${UNIT}, systemctl reset-failed ${UNIT}, systemctl show ${UNIT} (checked with visudo -cf)`,
      `setup of test on root@127.0.0.1:${t.port}: 7 changes; the host is ready for deploys as deploy`,
    ]);
    // progress on stderr names what is running: setup's steps, not a deploy's
    expect(first.stderr).toContain("setup: ✓ created user deploy (no password, key login only)\n");
    expect(first.stderr).not.toMatch(/^deploy: /m);
    // the admin key and the deploy key's private half never show
    for (const secret of [t.privateKey, deployKey]) {
      const body = secret.split("\n")[1]!;
      expect(first.stdout + first.stderr).not.toContain(body);
    }
    const second = await cli(setupArgs());
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe(`setup of test on root@127.0.0.1:${t.port}: nothing to change (8 checks); the host is ready for deploys as deploy`);

    const unit = (await t.exec(["cat", `/etc/systemd/system/${UNIT}`])).stdout;
    expect(unit).toContain(`ExecStart=${BASE}/current/.venv/bin/python -m bot.rosey --config config.json\n`);
    expect(unit).toContain("User=deploy\nGroup=deploy\n");
    expect((await t.exec(["stat", "-c", "%U %a", BASE, `${BASE}/releases`, `${BASE}/shared`])).stdout).toBe("deploy 755\ndeploy 755\ndeploy 755\n");
  });

  test("sudoers allows exactly restart, reset-failed and show of the unit", async () => {
    const listed = await asDeploy("sudo -n -l");
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`(root) NOPASSWD: /usr/bin/systemctl restart ${UNIT}, /usr/bin/systemctl reset-failed ${UNIT}, /usr/bin/systemctl show ${UNIT}`);
    for (const cmd of [`systemctl restart ${UNIT}`, `systemctl reset-failed ${UNIT}`, `systemctl show ${UNIT}`]) {
      const ok = await asDeploy(`sudo -n ${cmd}`);
      expect(ok.exitCode, `${cmd}: ${ok.stderr}`).toBe(0);
    }
    for (const cmd of [`systemctl stop ${UNIT}`, `systemctl start ${UNIT}`, `systemctl restart ssh.service`, `systemctl show ${UNIT} -p MainPID`, "journalctl -n 1", "true"]) {
      const refused = await asDeploy(`sudo -n ${cmd}`);
      expect(refused.exitCode, cmd).toBe(1);
      expect(refused.stderr, cmd).toMatch(/a password is required|is not allowed/);
    }
  });

  test("a deploy of the sample bot as the new deploy user works, and it reads the unit's journal without sudo", async () => {
    const dir = await makeVariant("clean");
    const s = await hostSetup(dir, { version: "1.0.0", commit: "c-setup" });
    const b = await runCheck("build", s.plan, s.runner, s.config);
    expect(b.status, b.detail).toBe("passed");
    const artifact = join(s.runner.layout.out, "build", b.info!.artifact);
    const r = await cli(["deploy", "--env=test", `--source=${source}`, `--artifact=${artifact}`, "--ssh-key=env:DEPLOY_SSH_KEY", "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD", `--known-hosts=${t.knownHostsPath}`]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deploy of 1\.0\.0 to test succeeded in [\d.]+s: 1\.0\.0-\d{8}T\d{6}Z is live\.$/m);
    expect((await t.exec(["systemctl", "is-active", UNIT])).stdout.trim()).toBe("active");
    expect((await t.exec(["sh", "-c", `ps -o user= -p $(systemctl show -p MainPID --value ${UNIT})`])).stdout.trim()).toBe("deploy");
    const journal = await asDeploy(`journalctl -u ${UNIT} -n 50 --no-pager`);
    expect(journal.exitCode, journal.stderr).toBe(0);
    expect(journal.stdout).toContain("Started");
    // and setup after a deploy still changes nothing (it never touches releases or restarts the bot)
    const again = await cli(setupArgs());
    expect(again.stdout.trim()).toBe(`setup of test on root@127.0.0.1:${t.port}: nothing to change (8 checks); the host is ready for deploys as deploy`);
  });
});
