/**
 * The deploy driver (src/python/shipit_deploy.py) when a remote phase hangs. A stand-in `ssh` first
 * on PATH answers each agent command and, for `health`, never answers (the real failure is a host
 * or network that stops responding, which a real sshd cannot be made to do on demand). The driver
 * must stop waiting at the phase's timeout, roll back like any failure after the switch, and
 * record it in the ledger.
 */
import { execa } from "execa";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const DRIVER = resolve(import.meta.dirname, "../../src/python/shipit_deploy.py");

const FAKE_SSH = `#!/bin/sh
# the remote command is the last argument
for last; do :; done
echo "$last" >> "$SSH_LOG"
case "$last" in
  *" health "*|*" health") exec sleep 60 ;;
  *" switch "*) echo '{"ok": true, "previous": "1.0.0-20261126T000000Z", "release": "1.1.0-20261127T000000Z"}' ;;
  *" ledger-append "*|*" ledger-append") cat > "$SSH_LEDGER"; echo '{"ok": true}' ;;
  *) cat > /dev/null; echo '{"ok": true}' ;;
esac
`;

it("a phase that never answers times out, rolls back, and is in the ledger with its cause", async () => {
  const dir = await mkdtemp(join(tmpdir(), "shipit-driver-"));
  await writeFile(join(dir, "ssh"), FAKE_SSH);
  await chmod(join(dir, "ssh"), 0o755);
  await writeFile(join(dir, "agent.py"), "# agent\n");
  const plan = {
    run: "r-timeout",
    kind: "deploy",
    ssh: { identityFile: "/dev/null", knownHostsFile: "/dev/null", port: 22, user: "deploy", host: "bot.example.org" },
    agent: { localPath: join(dir, "agent.py"), remotePath: "/srv/rosey-test/.shipit/agent.py", python: "python3" },
    phases: [
      { name: "switch", args: ["switch", "--release", "1.1.0-20261127T000000Z"] },
      { name: "health", args: ["health", "--url", "http://127.0.0.1:8080/api/health"], timeoutSec: 2 },
    ],
    commitAfter: "switch",
    rollback: [{ name: "rollback-switch", args: ["switch", "--release", "{switch.previous}"] }],
    onSuccess: [],
    ledger: { args: ["ledger-append"], entry: { kind: "deploy", env: "test", version: "1.1.0", trigger: "manual", run: "r-timeout" } },
  };
  await writeFile(join(dir, "plan.json"), JSON.stringify(plan));
  const r = await execa("python3", [DRIVER, join(dir, "plan.json")], {
    env: { PATH: `${dir}:${process.env.PATH}`, SSH_LOG: join(dir, "ssh.log"), SSH_LEDGER: join(dir, "ledger.json") },
    reject: false,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
  expect(result.outcome).toBe("rolled_back");
  expect(result.cause).toEqual({ phase: "health", code: "PHASE_TIMEOUT", message: "health gave no answer within 2s (the host or the network hung); ssh was stopped" });
  expect(result.rollback).toMatchObject([{ name: "rollback-switch", ok: true }]);
  const calls = (await readFile(join(dir, "ssh.log"), "utf8")).trim().split("\n");
  expect(calls.at(-2)).toContain("switch --release 1.0.0-20261126T000000Z");
  const ledger = JSON.parse(await readFile(join(dir, "ledger.json"), "utf8"));
  expect(ledger).toMatchObject({ outcome: "rolled_back", cause: { phase: "health", code: "PHASE_TIMEOUT" } });
});

it("a failed deploy with no known-good release: no rollback is attempted, and the agent's reason is the message", async () => {
  const dir = await mkdtemp(join(tmpdir(), "shipit-driver-"));
  const note = "0.9.0-20261126T000000Z, live before this deploy, failed its own deploy and never passed health, and no other release on the host has: there is no known-good release to roll back to";
  const ssh = FAKE_SSH.replace(
    `*" switch "*) echo '{"ok": true, "previous": "1.0.0-20261126T000000Z", "release": "1.1.0-20261127T000000Z"}' ;;`,
    `*" switch "*) echo '{"ok": true, "previous": "0.9.0-20261126T000000Z", "current": "1.1.0-20261127T000000Z", "rollbackTo": null, "rollbackNote": "${note}"}' ;;`,
  ).replace(`*" health "*|*" health") exec sleep 60 ;;`, `*" health "*|*" health") echo '{"ok": false, "error": {"code": "CRASH_LOOP", "message": "the unit keeps restarting"}}'; exit 1 ;;`);
  expect(ssh).not.toBe(FAKE_SSH);
  await writeFile(join(dir, "ssh"), ssh);
  await chmod(join(dir, "ssh"), 0o755);
  await writeFile(join(dir, "agent.py"), "# agent\n");
  const plan = {
    run: "r-none",
    kind: "deploy",
    ssh: { identityFile: "/dev/null", knownHostsFile: "/dev/null", port: 22, user: "deploy", host: "bot.example.org" },
    agent: { localPath: join(dir, "agent.py"), remotePath: "/srv/rosey-test/.shipit/agent.py", python: "python3" },
    phases: [
      { name: "switch", args: ["switch", "--release", "1.1.0-20261127T000000Z"] },
      { name: "health", args: ["health", "--url", "http://127.0.0.1:8080/api/health"], timeoutSec: 5 },
    ],
    commitAfter: "switch",
    rollback: [{ name: "rollback-switch", args: ["switch", "--release", "{switch.rollbackTo}"] }],
    onSuccess: [],
    ledger: { args: ["ledger-append"], entry: { kind: "deploy", env: "test", version: "1.1.0", trigger: "manual", run: "r-none" } },
  };
  await writeFile(join(dir, "plan.json"), JSON.stringify(plan));
  const r = await execa("python3", [DRIVER, join(dir, "plan.json")], {
    env: { PATH: `${dir}:${process.env.PATH}`, SSH_LOG: join(dir, "ssh.log"), SSH_LEDGER: join(dir, "ledger.json") },
    reject: false,
  });
  const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
  expect(result.outcome, r.stderr).toBe("rollback_failed");
  expect(result.cause).toMatchObject({ phase: "health", code: "CRASH_LOOP" });
  expect(result.rollback).toEqual([{ name: "rollback", ok: false, seconds: 0, error: { code: "NO_PREVIOUS_RELEASE", message: note } }]);
  const calls = (await readFile(join(dir, "ssh.log"), "utf8")).trim().split("\n");
  expect(calls.filter((c) => c.includes(" switch ")), "no switch back to a release that never passed health").toHaveLength(1);
});
