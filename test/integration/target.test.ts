/**
 * The real deploy target: systemd as PID 1, sshd with a pinned host key, the CyTube test server on
 * the target's loopback, and a MANUAL install of the sample bot that documents, step by step, what
 * the deploy code must do (upload, unpack, venv from bundled wheels, config + 0600 password file,
 * atomic `current` switch, systemctl start, health, smoke).
 * Needs docker (fails with an install hint when it is missing; never skipped).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { chatServerVenv, DEFAULT_CHAT_ACCOUNTS, DOCKER, REPO, startChatServer, startTarget, stopAllTargets, TARGETS_DIR, type Target } from "../helpers/target.js";

const SAMPLE_BOT = join(REPO, "test/fixtures/sample-bot");
const BASE = "/srv/rosey-test";
const HEALTH = "http://127.0.0.1:8080/api/health";
const SMOKE = "http://127.0.0.1:8080/api/smoke";

interface Health {
  status: string;
  connected: boolean;
  channel: string;
  version: string;
  uptime: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET the bot's /api/health on the target's loopback, over real SSH (as the deploy code will). */
async function health(t: Target): Promise<Health | null> {
  const r = await t.ssh(["curl", "-sf", "--max-time", "5", HEALTH]);
  return r.exitCode === 0 ? (JSON.parse(r.stdout) as Health) : null;
}

/** Poll /api/health until `want` holds; returns the last answer and how long it took. */
async function waitForHealth(t: Target, want: (h: Health | null) => boolean, timeoutMs = 90_000): Promise<{ h: Health | null; ms: number }> {
  const t0 = performance.now();
  let h: Health | null = null;
  while (performance.now() - t0 < timeoutMs) {
    h = await health(t);
    if (want(h)) return { h, ms: performance.now() - t0 };
    await sleep(200);
  }
  throw new Error(`health never matched within ${timeoutMs} ms; last: ${JSON.stringify(h)}\n--- journal:\n${await t.journal("rosey-test", 40)}`);
}

describe("deploy target: systemd + sshd + chat server, and a manual install of the sample bot", () => {
  let t: Target;
  let startMs = 0;

  beforeAll(async () => {
    const t0 = performance.now();
    t = await startTarget();
    startMs = performance.now() - t0;
    console.log(`[target] ${t.name} ready in ${Math.round(startMs)} ms (ssh 127.0.0.1:${t.port}, bridge ${t.bridgeHost}:${t.bridgePort})`);
  });
  afterAll(async () => {
    await t?.stop();
    await stopAllTargets();
  });

  test("systemd is PID 1 and the system is running; units are installed, the bot's not started", async () => {
    expect((await t.exec(["systemctl", "is-system-running"])).stdout.trim()).toMatch(/^(running|degraded)$/);
    expect((await t.exec(["ps", "-o", "comm=", "-p", "1"])).stdout.trim()).toBe("systemd");
    expect((await t.exec(["systemctl", "is-active", "ssh", "cytube-test"])).stdout.trim().split("\n")).toEqual(["active", "active"]);
    for (const unit of ["rosey-test.service", "rosey-prod.service"]) {
      const show = (await t.exec(["systemctl", "show", unit, "-p", "LoadState,ActiveState,UnitFileState,Restart,StartLimitBurst,WorkingDirectory"])).stdout;
      const env = unit.slice(6, -8);
      expect(show).toContain("LoadState=loaded");
      expect(show).toContain("ActiveState=inactive");
      expect(show).toContain("UnitFileState=disabled");
      expect(show).toContain("Restart=on-failure");
      expect(show).toContain("StartLimitBurst=3");
      expect(show).toContain(`WorkingDirectory=/srv/rosey-${env}/current`);
    }
    expect((await t.exec(["python3", "--version"])).stdout).toMatch(/^Python 3\.11\./);
  });

  test("sshd: the key and the pinned host key work, from the host and from a container via the bridge", async () => {
    const r = await t.ssh(["sh", "-c", 'id -un; echo "$0 $1"', "two words", "it's"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("root\ntwo words it's\n"); // argv survives the trip
    expect(t.knownHosts).toBe(`[127.0.0.1]:${t.port} ${t.hostKey}\n[${t.bridgeHost}]:${t.bridgePort} ${t.hostKey}\n`);
    expect(t.hostKey).toMatch(/^ssh-ed25519 AAAA\S+$/);

    // What a container started by the Dagger engine sees: sshd on the docker bridge gateway.
    const viaBridge = await execa(DOCKER, [
      "run", "--rm", "-v", `${t.dir}:/k:ro`, t.image, "sh", "-c",
      `cp /k/id_ed25519 /tmp/id && chmod 600 /tmp/id && ssh -i /tmp/id -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/k/known_hosts -p ${t.bridgePort} root@${t.bridgeHost} hostname`,
    ], { reject: false });
    expect(viaBridge.exitCode, viaBridge.stderr).toBe(0);
    expect(viaBridge.stdout.trim()).toBe(t.name);
  });

  test("host key checking stays on: a wrong or missing known_hosts entry fails; passwords are refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shipit-kh-"));
    try {
      await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "other")]);
      const otherKey = (await execa("cat", [join(dir, "other.pub")])).stdout.split(" ").slice(0, 2).join(" ");
      await writeFile(join(dir, "wrong"), `[127.0.0.1]:${t.port} ${otherKey}\n`);
      await writeFile(join(dir, "empty"), "");
      const sshWith = (kh: string, extra: string[] = []) =>
        execa("ssh", [
          "-i", t.privateKeyPath, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
          "-o", `UserKnownHostsFile=${kh}`, "-o", "GlobalKnownHostsFile=/dev/null", "-p", String(t.port), ...extra, "root@127.0.0.1", "true",
        ], { reject: false });

      const wrong = await sshWith(join(dir, "wrong"));
      expect(wrong.exitCode).toBe(255);
      expect(wrong.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
      expect(wrong.stderr).toMatch(/Host key verification failed/);

      const unknown = await sshWith(join(dir, "empty"));
      expect(unknown.exitCode).toBe(255);
      expect(unknown.stderr).toMatch(/Host key verification failed/);

      const password = await sshWith(t.knownHostsPath, ["-o", "PubkeyAuthentication=no", "-o", "PasswordAuthentication=yes"]);
      expect(password.exitCode).toBe(255);
      expect(password.stderr).toMatch(/Permission denied \(publickey\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the CyTube test server answers on the target's loopback", async () => {
    const cfg = await t.ssh(["curl", "-sf", "http://127.0.0.1:8765/socketconfig/test-rosey.json"]);
    expect(cfg.exitCode, cfg.stderr).toBe(0);
    expect(JSON.parse(cfg.stdout)).toEqual({ servers: [{ url: "http://127.0.0.1:8765", secure: false }] });
    const unknown = await t.ssh(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:8765/socketconfig/no-such-channel.json"]);
    expect(unknown.stdout).toBe("404");

    const refused = await t.chat.probe({ channel: "test-rosey", name: "ShipitSmoke", password: "wrong" });
    expect(refused.ok).toBe(false);
    expect(refused.login).toEqual({ success: false, error: "Invalid username/password" });
    const ok = await t.chat.probe({ channel: "test-rosey", name: "ShipitSmoke", password: DEFAULT_CHAT_ACCOUNTS.ShipitSmoke, say: "hello" });
    expect(ok.ok, ok.error).toBe(true);
    expect(ok.events.find(([e]) => e === "chatMsg")?.[1]).toMatchObject({ username: "ShipitSmoke", msg: "hello" });
  });

  test("manual install of the sample bot: upload, unpack, offline venv, config, switch, start, health, smoke", async () => {
    const work = await mkdtemp(join(tmpdir(), "shipit-manual-"));
    let mark = performance.now();
    const phases: string[] = [];
    const phase = (name: string) => {
      phases.push(`${name} ${((performance.now() - mark) / 1000).toFixed(1)}s`);
      mark = performance.now();
    };
    try {
      // Build on the host: wheels for the requirements, then the artifact (as `shipit build` does).
      const wheels = join(work, "wheels");
      const pw = await execa("python3", ["-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "-r", join(SAMPLE_BOT, "requirements.txt"), "-w", wheels], { reject: false });
      expect(pw.exitCode, pw.stderr).toBe(0);
      const artifact = join(work, "app-1.0.0.tar.gz");
      const pack = await execa("python3", [
        join(REPO, "src/python/pack_artifact.py"), "--src", SAMPLE_BOT, "--out", artifact, "--wheels", wheels,
        "--name", "app", "--version", "1.0.0", "--include", "lib", "--include", "common", "--include", "bot", "--include", "web",
        "--requirements", "requirements.txt",
      ], { reject: false });
      expect(pack.exitCode, pack.stderr).toBe(0);
      const { sha256 } = JSON.parse(pack.stdout) as { sha256: string };
      phase("wheels+pack");

      // The bot's chat account, with a fresh password the chat server accepts.
      const botPassword = `pw-${randomBytes(9).toString("hex")}`;
      await t.chat.setAccounts({ ...DEFAULT_CHAT_ACCOUNTS, RoseyTest: botPassword });

      // 1. upload over ssh (stdin), and verify the bytes on the host
      const up = await t.ssh(["sh", "-c", `mkdir -p ${BASE}/incoming && cat > ${BASE}/incoming/app-1.0.0.tar.gz.part && mv ${BASE}/incoming/app-1.0.0.tar.gz.part ${BASE}/incoming/app-1.0.0.tar.gz && sha256sum ${BASE}/incoming/app-1.0.0.tar.gz`], { inputFile: artifact });
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stdout.split(" ")[0]).toBe(sha256);
      phase("upload");

      // 2. unpack into releases/<version>-<stamp>, venv from the bundled wheels only (no index)
      const rel = `${BASE}/releases/1.0.0-x`;
      const install = await t.ssh(["sh", "-c", [
        "set -eu",
        `mkdir -p ${rel} ${BASE}/shared/data`,
        `tar -xzf ${BASE}/incoming/app-1.0.0.tar.gz -C ${rel} --strip-components=1`,
        `python3 -m venv ${rel}/.venv`,
        `${rel}/.venv/bin/pip install --quiet --no-index --find-links ${rel}/wheels -r ${rel}/requirements.txt`,
        `cd ${rel} && .venv/bin/python -c 'import socketio, bot.rosey'`,
      ].join("\n")], { timeoutMs: 300_000 });
      expect(install.exitCode, install.stderr).toBe(0);
      phase("unpack+venv");

      // 3. config: the password in a 0600 file (on stdin, never in argv), config.json and the shared data linked in
      const secret = await t.ssh(["sh", "-c", `umask 077 && mkdir -p ${BASE}/shared/secrets && cat > ${BASE}/shared/secrets/bot_password`], { input: botPassword });
      expect(secret.exitCode, secret.stderr).toBe(0);
      const config = { channel: "test-rosey", bot_name: "RoseyTest", server: "http://127.0.0.1:8765", log_level: "DEBUG", db_path: "data/test.db", health_port: 8080, password_file: `${BASE}/shared/secrets/bot_password` };
      const conf = await t.ssh(["sh", "-c", [
        "set -eu",
        `umask 077 && cat > ${BASE}/shared/config.json`,
        `ln -sfn ${BASE}/shared/config.json ${rel}/config.json`,
        `ln -sfn ${BASE}/shared/data ${rel}/data`,
        `stat -c %a ${BASE}/shared/secrets/bot_password`,
      ].join("\n")], { input: JSON.stringify(config) });
      expect(conf.exitCode, conf.stderr).toBe(0);
      expect(conf.stdout.trim()).toBe("600");

      // 4. switch `current` atomically (a new link renamed over the old), then start the unit
      const sw = await t.ssh(["sh", "-c", `ln -sfn releases/1.0.0-x ${BASE}/current.new && mv -T ${BASE}/current.new ${BASE}/current && readlink ${BASE}/current`]);
      expect(sw.stdout.trim()).toBe("releases/1.0.0-x");
      const t0 = performance.now();
      const start = await t.ssh(["systemctl", "start", "rosey-test.service"]);
      expect(start.exitCode, start.stderr).toBe(0);

      // 5. health: running and connected (a live socket.io connection to the test server)
      const { h, ms } = await waitForHealth(t, (x) => x?.connected === true);
      console.log(`[target] bot start-up: systemctl start -> health connected in ${Math.round(ms)} ms (${Math.round(performance.now() - t0)} ms incl. the start call)`);
      expect(h).toMatchObject({ status: "running", connected: true, channel: "test-rosey", version: "1.0.0" });
      expect(typeof h!.uptime).toBe("number");
      phase("config+switch+start+health");

      // 6. smoke: the status server answers a command without chatting ...
      const smoke = await t.ssh(["curl", "-s", "-H", "Content-Type: application/json", "-d", '{"command": "!ping"}', SMOKE]);
      expect(JSON.parse(smoke.stdout)).toEqual({ reply: "pong" });
      const bad = await t.ssh(["curl", "-s", "-w", "\n%{http_code}", "-d", "{}", SMOKE]);
      expect(bad.stdout.trim().split("\n").at(-1)).toBe("400");
      // ... and in the channel: a smoke account says !ping, the bot answers (chat-level smoke)
      const chat = await t.chat.probe({ channel: "test-rosey", name: "ShipitSmoke", password: DEFAULT_CHAT_ACCOUNTS.ShipitSmoke, say: "!ping", expectFrom: "RoseyTest", expect: "pong", timeoutSec: 15 });
      expect(chat.ok, chat.error).toBe(true);
      expect(chat.userlist).toContain("RoseyTest");
      expect(chat.reply).toMatchObject({ username: "RoseyTest", msg: "pong" });
      phase("smoke (http + chat)");

      // The password never reached the unit's journal or argv.
      expect(await t.journal("rosey-test", 200)).not.toContain(botPassword);
      expect((await t.exec(["ps", "-eo", "args"])).stdout).not.toContain(botPassword);

      // 7. chat server down: the bot keeps running and says connected:false; back up: connected again
      await t.exec(["systemctl", "stop", "cytube-test"]);
      await waitForHealth(t, (x) => x?.connected === false, 30_000);
      expect((await t.exec(["systemctl", "is-active", "rosey-test"])).stdout.trim()).toBe("active");
      await t.exec(["systemctl", "start", "cytube-test"]);
      const back = await waitForHealth(t, (x) => x?.connected === true, 60_000);
      console.log(`[target] chat server restarted -> bot connected again in ${Math.round(back.ms)} ms`);
      phase("chat server down/up");

      // 8. a crash loop ends as `failed` within seconds (StartLimitBurst=3 in 30 s) ...
      await t.ssh(["sh", "-c", `echo '{}' > ${BASE}/shared/config.json && systemctl restart rosey-test`]);
      const c0 = performance.now();
      let state = "";
      while (performance.now() - c0 < 60_000) {
        state = (await t.exec(["systemctl", "show", "rosey-test", "-p", "ActiveState", "--value"])).stdout.trim();
        if (state === "failed") break;
        await sleep(200);
      }
      expect(state, await t.journal("rosey-test", 20)).toBe("failed");
      console.log(`[target] crash loop -> failed in ${Math.round(performance.now() - c0)} ms`);
      // ... and stays refused until reset-failed (what a rollback must do before restarting)
      await t.ssh(["sh", "-c", `umask 077 && cat > ${BASE}/shared/config.json`], { input: JSON.stringify(config) });
      const refused = await t.ssh(["systemctl", "restart", "rosey-test"]);
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr + (await t.journal("rosey-test", 5))).toMatch(/attempted too often|repeated too quickly/i);
      const again = await t.ssh(["sh", "-c", "systemctl reset-failed rosey-test && systemctl restart rosey-test"]);
      expect(again.exitCode, again.stderr).toBe(0);
      await waitForHealth(t, (x) => x?.connected === true);
      phase("crash loop, reset-failed, restart");
    } finally {
      console.log(`[target] phases: ${phases.join(", ")}`);
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe("deploy target with the non-root deploy user", () => {
  let t: Target;
  beforeAll(async () => {
    t = await startTarget({ user: "deploy" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  test("deploy owns the base paths, manages rosey-* through sudo -n, nothing else; the units run as deploy", async () => {
    const r = await t.ssh(["sh", "-c", "id -un; stat -c %U /srv/rosey-test /srv/rosey-prod/releases; systemctl show rosey-test -p User --value; sudo -n systemctl stop rosey-test && echo sudo-ok"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["deploy", "deploy", "deploy", "deploy", "sudo-ok"]);
    const notAllowed = await t.ssh(["sudo", "-n", "systemctl", "restart", "ssh"]);
    expect(notAllowed.exitCode).not.toBe(0);
    // unprivileged reads work too (systemctl show over the system bus, the journal through systemd-journal)
    expect((await t.ssh(["systemctl", "is-active", "cytube-test"])).stdout.trim()).toBe("active");
    expect((await t.ssh(["journalctl", "-u", "cytube-test", "-n", "5", "--no-pager"])).exitCode).toBe(0);
  });
});

describe("the CyTube test server on this host (startChatServer)", () => {
  test("Engine.IO 3 clients (socket.io 2 framing, as Rosey's own client speaks) share channels with socket.io 4 ones", async () => {
    const chat = await startChatServer({ accounts: { RoseyTest: "rosey-pw", ShipitSmoke: "smoke-pw" } });
    try {
      const py = join(await chatServerVenv(), "bin/python");
      const check = join(TARGETS_DIR, "cytube/eio3_check.py");
      const old = execa(py, [check, chat.url, "test-rosey", "RoseyTest", "--say", "hello from eio3", "--hold", "8"], { reject: false, env: { EIO3_PW: "rosey-pw" } });
      const deadline = Date.now() + 20_000;
      while (!(await chat.channelState("test-rosey"))?.users.includes("RoseyTest") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const probe = await chat.probe({ channel: "test-rosey", name: "ShipitSmoke", password: "smoke-pw", say: "!hi" }); // pragma: allowlist secret
      expect(probe.ok, JSON.stringify(probe)).toBe(true);
      expect(probe.userlist).toContain("RoseyTest"); // the socket.io 4 client sees the EIO3 one
      const r = await old;
      expect(r.exitCode, r.stderr + r.stdout + chat.logs()).toBe(0);
      const out = JSON.parse(r.stdout) as { steps: string[]; open: { sid: string; upgrades: string[] }; events: [string, Record<string, unknown>][] };
      expect(out.steps).toEqual(["socketconfig", "handshake", "upgrade", "connected", "pong", "joined", "login"]);
      expect(out.open.upgrades).toEqual(["websocket"]);
      expect(out.events).toContainEqual(["login", { success: true, name: "RoseyTest", guest: false }]);
      expect(out.events).toContainEqual(["addUser", expect.objectContaining({ name: "ShipitSmoke" })]);
      expect(out.events.filter(([n, d]) => n === "chatMsg" && d.username === "ShipitSmoke").map(([, d]) => d.msg)).toEqual(["!hi"]);
      expect((await chat.channelState("test-rosey"))?.history.map((h) => [h.username, h.msg])).toEqual([["RoseyTest", "hello from eio3"], ["ShipitSmoke", "!hi"]]);

      const wsOnly = await execa(py, [check, chat.url, "test-rosey", "RoseyTest", "--websocket-only"], { reject: false, env: { EIO3_PW: "rosey-pw" } });
      expect(wsOnly.exitCode, wsOnly.stdout).toBe(0);
      expect((JSON.parse(wsOnly.stdout) as { steps: string[] }).steps).toEqual(["socketconfig", "open", "connected", "pong", "joined", "login"]);
      const post = await fetch(`${chat.url}/socket.io/?transport=polling&sid=x`, { method: "POST", body: "1:2" });
      expect([post.status, await post.json()]).toEqual([400, { code: 3, message: "Bad request: this test server takes Engine.IO 3 clients by a polling handshake and a websocket upgrade, or by a websocket alone" }]);
      const unknown = await fetch(`${chat.url}/socket.io/?transport=polling&sid=nope`);
      expect([unknown.status, await unknown.json()]).toEqual([400, { code: 1, message: "Session ID unknown" }]);
    } finally {
      await chat.stop();
    }
  });

  test("socketconfig, login, userlist, addUser/userLeave, chat broadcast with history, duplicate-login kick", async () => {
    const chat = await startChatServer({ accounts: { Alice: "alice-pw", Bob: "bob-pw" } });
    try {
      expect(chat.url).toBe(`http://127.0.0.1:${chat.port}`);
      const cfg = await fetch(`${chat.url}/socketconfig/test-rosey.json`);
      expect(await cfg.json()).toEqual({ servers: [{ url: chat.url, secure: false }] });
      const missing = await fetch(`${chat.url}/socketconfig/elsewhere.json`);
      expect(missing.status).toBe(404);

      const refused = await chat.probe({ channel: "test-rosey", name: "Alice", password: "nope" });
      expect(refused.login).toEqual({ success: false, error: "Invalid username/password" });
      const guest = await chat.probe({ channel: "test-rosey", name: "Nobody" });
      expect(guest.login).toEqual({ success: false, error: "Invalid username/password" });
      const noChannel = await chat.probe({ channel: "elsewhere", name: "Alice", password: "alice-pw" });
      expect(noChannel.error).toMatch(/HTTP 404/);

      const py = join(await chatServerVenv(), "bin/python");
      const r = await execa(py, [join(TARGETS_DIR, "cytube/protocol_check.py"), chat.url, "test-rosey", "alice", "alice-pw", "Bob", "bob-pw"], { reject: false });
      expect(r.exitCode, r.stderr + r.stdout + chat.logs()).toBe(0);
      const ev = JSON.parse(r.stdout) as Record<string, [string, Record<string, unknown>][]>;
      const names = (who: string, e: string) => ev[who]!.filter(([n]) => n === e).map(([, p]) => p);
      expect(names("a", "login")[0]).toEqual({ success: true, name: "Alice", guest: false }); // canonical case
      expect(names("b", "userlist")[0]).toEqual([expect.objectContaining({ name: "Alice", rank: 1 })]);
      expect(names("a", "addUser")).toContainEqual(expect.objectContaining({ name: "Bob" }));
      const msg = names("a", "chatMsg").find((m) => m.username === "Bob")!;
      expect(msg).toMatchObject({ username: "Bob", msg: "hello from B &lt;3", meta: {} });
      expect(Math.abs((msg.time as number) - Date.now())).toBeLessThan(60_000); // ms since the epoch
      expect(names("c", "chatMsg").map((m) => m.msg)).toEqual(["hello from B &lt;3"]); // replayed on join; anonymous chat dropped
      expect(names("a", "userLeave")).toContainEqual({ name: "Bob" });
      expect(names("a", "kick")).toEqual([{ reason: "Duplicate login" }]);

      await chat.setAccounts({ Alice: "new-pw" });
      expect((await chat.probe({ channel: "test-rosey", name: "Alice", password: "new-pw" })).ok).toBe(true);
      expect((await chat.channelState("test-rosey"))?.history.map((h) => h.username)).toEqual(["Bob"]);
    } finally {
      await chat.stop();
    }
  });
});
