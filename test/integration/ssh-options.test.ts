/**
 * Issue #12: a `user` or `host` in shipit.json that ssh would read as an option (ProxyCommand runs a
 * command where the deploy key and the bot password are mounted). Through the real CLI and the real
 * driver against the real target: the config is refused naming the key, the driver refuses such a
 * plan by itself, no ssh process starts and no file appears. A valid config, through the same
 * `ssh` wrapper, reaches the target with the destination after every option (`-l USER -- HOST`).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startTarget, stopAllTargets, type Target } from "../helpers/target.js";
import { makeVariant, REPO } from "../helpers/variants.js";

const DRIVER = join(REPO, "src/python/shipit_deploy.py");
let t: Target;
let wrapDir: string;
let sshLog: string;

/** An `ssh` first on PATH that records its argv, then runs the real ssh. */
async function sshWrapper(): Promise<void> {
  wrapDir = await mkdtemp(join(tmpdir(), "shipit-sshwrap-"));
  sshLog = join(wrapDir, "ssh.log");
  const real = (await execa("sh", ["-c", "command -v ssh"])).stdout.trim();
  await writeFile(join(wrapDir, "ssh"), `#!/bin/sh\nprintf '%s\\n' "$*" >> "${sshLog}"\nexec ${real} "$@"\n`);
  await chmod(join(wrapDir, "ssh"), 0o755);
}

const withWrapper = () => ({ PATH: `${wrapDir}:${process.env.PATH}`, DEPLOY_SSH_KEY: t.privateKey });
const canary = () => join(tmpdir(), `shipit-pwn-${randomBytes(6).toString("hex")}`);

beforeAll(async () => {
  t = await startTarget();
  await sshWrapper();
});

afterAll(async () => {
  await t?.stop();
  await stopAllTargets();
});

async function cliStatus(shipitJson: unknown) {
  const source = await makeVariant("clean", { "shipit.json": JSON.stringify(shipitJson) });
  return execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), "status", "--env=test", `--source=${source}`, "--ssh-key=env:DEPLOY_SSH_KEY", `--known-hosts=${t.knownHostsPath}`], {
    reject: false,
    cwd: REPO,
    env: withWrapper(),
  });
}

describe("an ssh option hidden in the config never reaches ssh", () => {
  test("user -oProxyCommand=…: a config error naming environments.test.user; no ssh, no file", async () => {
    const pwn = canary();
    const r = await cliStatus({ environments: { test: { host: "127.0.0.1", port: t.port, user: `-oProxyCommand=touch ${pwn}` } } });
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(`environments.test.user = "-oProxyCommand=touch ${pwn}": must be a POSIX user name`);
    expect(r.stderr).toContain("Fix: change environments.test.user in shipit.json");
    expect(existsSync(sshLog), "no ssh process may start").toBe(false);
    expect(existsSync(pwn)).toBe(false);
    expect(existsSync(`${pwn}@127.0.0.1`)).toBe(false);
  });

  test("host -oProxyCommand=…: refused the same way", async () => {
    const pwn = canary();
    const r = await cliStatus({ environments: { test: { host: `-oProxyCommand=touch ${pwn}`, port: t.port, user: t.user } } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("environments.test.host");
    expect(r.stderr).toContain("must be a DNS name");
    expect(existsSync(sshLog)).toBe(false);
    expect(existsSync(pwn)).toBe(false);
  });

  test.each([
    ["user", (pwn: string) => ({ user: `-oProxyCommand=touch ${pwn}`, host: "127.0.0.1" }), "refusing ssh user"],
    ["host", (pwn: string) => ({ user: "root", host: `-oProxyCommand=touch ${pwn}` }), "refusing ssh host"],
    ["user with a space", (pwn: string) => ({ user: `root -oProxyCommand=touch ${pwn}`, host: "127.0.0.1" }), "refusing ssh user"],
    ["host with a remote command", (pwn: string) => ({ user: "root", host: `127.0.0.1 touch ${pwn}` }), "refusing ssh host"],
  ])("the driver itself refuses a plan whose %s ssh would misread", async (_what, dest, message) => {
    const pwn = canary();
    const dir = await mkdtemp(join(tmpdir(), "shipit-plan-"));
    await writeFile(join(dir, "agent.py"), "# agent\n");
    const plan = {
      run: "r-unsafe",
      kind: "query",
      ssh: { identityFile: t.privateKeyPath, knownHostsFile: t.knownHostsPath, port: t.port, ...dest(pwn) },
      agent: { localPath: join(dir, "agent.py"), remotePath: "/srv/rosey-test/.shipit/agent.py", python: "python3" },
      phases: [{ name: "status", args: ["status"] }],
      rollback: [],
      onSuccess: [],
    };
    await writeFile(join(dir, "plan.json"), JSON.stringify(plan));
    const r = await execa("python3", [DRIVER, join(dir, "plan.json")], { env: withWrapper(), reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(result.outcome).toBe("error");
    expect(result.cause.code).toBe("UNSAFE_CONFIG");
    expect(result.cause.message).toContain(message);
    expect(existsSync(sshLog), "no ssh process may start").toBe(false);
    expect(existsSync(pwn)).toBe(false);
  });

  // Last: it is the one that starts ssh through the wrapper.
  test("a valid config reaches the target, the destination after every option", async () => {
    const r = await cliStatus({ environments: { test: { host: "127.0.0.1", port: t.port, user: t.user } } });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty("current");
    const calls = (await readFile(sshLog, "utf8")).trim().split("\n");
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(call).toMatch(new RegExp(` -p ${t.port} -l ${t.user} -- 127\\.0\\.0\\.1( |$)`));
  });
});
