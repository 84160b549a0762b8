/**
 * A shared engine for a team's runners: `engine-up.sh --share=ssh` starts an engine whose socket
 * only SSH hands out (a forced command per authorized key; no TCP port anywhere), and a runner in a
 * second network namespace, which reaches this machine only over a veth pair, runs `ci` on it
 * through Dagger v0.19.10's own ssh:// driver. The first run warms the shared engine's cache; the
 * runner's next run after a source change reuses it. Both figures are printed.
 */
import { cp, mkdtemp, readFile, rm, writeFile, appendFile, chmod } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";
import { gateRows } from "../helpers/call.js";
import { REPO, SAMPLE_BOT } from "../helpers/variants.js";

const NAME = "dagger-engine-v0.19.10-shared-test";
const NETNS = "shipit-runner-ns";
const HOST_IP = "10.213.0.1";
const RUNNER_IP = "10.213.0.2";
const PORT = 2222;
const CLI = /_EXPERIMENTAL_DAGGER_CLI_BIN=(\S+)/.exec(readFileSync("/var/lib/shipit-engine/env.sh", "utf8"))![1]!;

let work = "";
let sshd: ResultPromise | undefined;
const sh = (cmd: string, args: string[]) => execa(cmd, args, { reject: false });

/** The runner's shell: inside the second namespace, with its own ssh config (key, pinned host key). */
function runner(args: string[], opts: { timeout?: number } = {}) {
  return execa("ip", ["netns", "exec", NETNS, "env", `PATH=${work}/bin:${process.env["PATH"]}`, "_EXPERIMENTAL_DAGGER_RUNNER_HOST=ssh://shipit-engine-host", `_EXPERIMENTAL_DAGGER_CLI_BIN=${CLI}`, "DAGGER_NO_UPDATE_CHECK=1", "DO_NOT_TRACK=1", ...args], {
    cwd: REPO,
    reject: false,
    stdin: "ignore",
    timeout: opts.timeout ?? 15 * 60_000,
  });
}
const ci = (source: string) => runner([join(REPO, "node_modules/.bin/tsx"), join(REPO, "dagger/call.ts"), "ci", `--source=${source}`]);

beforeAll(async () => {
  if (!existsSync("/usr/sbin/sshd")) throw new Error("the shared-engine test runs its own sshd: install openssh-server (apt-get install -y openssh-server; .ci/docker-up.sh does)");
  work = await mkdtemp(join(tmpdir(), "shipit-shared-"));
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "runner@test", "-f", join(work, "runner_key")]);
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "host_key")]);
  // A cold shared engine: fresh volume, socket shared over SSH for the runner's key only.
  await sh("bash", [join(REPO, "dagger/engine-down.sh"), `--name=${NAME}`, "--volume"]);
  const up = await execa("bash", [join(REPO, "dagger/engine-up.sh"), `--name=${NAME}`, "--share=ssh", `--authorized-keys=${join(work, "runner_key.pub")}`], { reject: false });
  if (up.exitCode !== 0) throw new Error(`engine-up --share=ssh failed:\n${up.stderr.slice(-3000)}`);
  expect(up.stderr).toContain("1 key(s) may use /run/shipit-engine/" + NAME + "/engine.sock as shipit-engine over SSH");

  // The second network namespace and the veth pair that is its only way to this machine.
  await sh("ip", ["netns", "del", NETNS]);
  await sh("ip", ["link", "del", "vshipit0"]);
  for (const args of [
    ["netns", "add", NETNS],
    ["link", "add", "vshipit0", "type", "veth", "peer", "name", "vshipit1"],
    ["link", "set", "vshipit1", "netns", NETNS],
    ["addr", "add", `${HOST_IP}/30`, "dev", "vshipit0"],
    ["link", "set", "vshipit0", "up"],
    ["netns", "exec", NETNS, "ip", "addr", "add", `${RUNNER_IP}/30`, "dev", "vshipit1"],
    ["netns", "exec", NETNS, "ip", "link", "set", "vshipit1", "up"],
    ["netns", "exec", NETNS, "ip", "link", "set", "lo", "up"],
  ]) {
    const r = await sh("ip", args);
    if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  }

  // sshd listening on the veth address only (never 0.0.0.0), keys only.
  await writeFile(join(work, "sshd_config"), [
    `ListenAddress ${HOST_IP}:${PORT}`, `HostKey ${join(work, "host_key")}`, "PidFile none", "UsePAM no",
    "PasswordAuthentication no", "KbdInteractiveAuthentication no", "AllowUsers shipit-engine", "StrictModes yes", "LogLevel VERBOSE",
  ].join("\n") + "\n");
  await execa("mkdir", ["-p", "/run/sshd"]);
  sshd = execa("/usr/sbin/sshd", ["-D", "-e", "-f", join(work, "sshd_config")], { reject: false });
  for (let i = 0; i < 50; i++) {
    if ((await runner(["bash", "-c", `exec 3<>/dev/tcp/${HOST_IP}/${PORT}`])).exitCode === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }

  // The runner's ssh: its key, the engine host's key pinned, nothing interactive.
  const hostPub = (await readFile(join(work, "host_key.pub"), "utf8")).trim().split(" ").slice(0, 2).join(" ");
  await writeFile(join(work, "known_hosts"), `[${HOST_IP}]:${PORT} ${hostPub}\n`);
  await writeFile(join(work, "ssh_config"), [
    "Host shipit-engine-host", `  HostName ${HOST_IP}`, `  Port ${PORT}`, "  User shipit-engine", `  IdentityFile ${join(work, "runner_key")}`,
    "  IdentitiesOnly yes", `  UserKnownHostsFile ${join(work, "known_hosts")}`, "  StrictHostKeyChecking yes", "  BatchMode yes",
  ].join("\n") + "\n");
  await execa("mkdir", ["-p", join(work, "bin")]);
  await writeFile(join(work, "bin/ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F ${join(work, "ssh_config")} "$@"\n`);
  await chmod(join(work, "bin/ssh"), 0o755);
}, 20 * 60_000);

afterAll(async () => {
  sshd?.kill();
  await sh("ip", ["netns", "del", NETNS]);
  await sh("ip", ["link", "del", "vshipit0"]);
  await sh("bash", [join(REPO, "dagger/engine-down.sh"), `--name=${NAME}`, "--volume"]);
  if (work) await rm(work, { recursive: true, force: true });
});

test("the shared engine opens no TCP port and hands its socket to the SSH account's group only", async () => {
  const ports = await sh("docker", ["inspect", "-f", "{{json .NetworkSettings.Ports}}", NAME]);
  expect(ports.stdout.trim()).toMatch(/^(\{\}|null)$/);
  const sock = await sh("stat", ["-c", "%a %U:%G %F", `/run/shipit-engine/${NAME}/engine.sock`]);
  expect(sock.stdout.trim()).toBe("660 root:shipit-engine socket");
  // From the namespace, this machine's loopback (where a careless engine would listen) is not there.
  expect((await runner(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2375"])).exitCode).not.toBe(0);
  // The key runs the forced command whatever the client asks for: no shell for `id`.
  const id = await runner(["ssh", "shipit-engine-host", "id"], { timeout: 20_000 });
  expect(id.stderr).not.toMatch(/Permission denied|Connection refused|Host key verification failed|Could not resolve/);
  expect(id.stdout).not.toMatch(/uid=/);
});

test("a runner in a second network namespace runs ci on the shared engine over ssh://, then reuses its warm cache", async () => {
  const source = await mkdtemp(join(tmpdir(), "shipit-shared-src-"));
  await cp(SAMPLE_BOT, source, { recursive: true });
  try {
    let t = performance.now();
    const cold = await ci(source);
    const coldS = (performance.now() - t) / 1000;
    expect(cold.exitCode, cold.stderr.slice(-3000)).toBe(0);
    expect(cold.stdout).toContain("shipit ci (app): all 6 gates passed");

    await appendFile(join(source, "lib/commands.py"), "\n# a one-line change\n");
    t = performance.now();
    const warm = await ci(source);
    const warmS = (performance.now() - t) / 1000;
    expect(warm.exitCode, warm.stderr.slice(-3000)).toBe(0);
    expect(gateRows(warm.stdout)).toEqual(gateRows(cold.stdout));
    // the dependency layer came from the shared cache: no install ran
    expect(warm.stdout).toMatch(/^dependencies +ok +0\.\ds/m);
    console.log(`[shared engine] ci from the runner namespace over ssh://: cold engine ${coldS.toFixed(1)} s, warm shared engine after a one-line change ${warmS.toFixed(1)} s`);
  } finally {
    await rm(source, { recursive: true, force: true });
  }
});
