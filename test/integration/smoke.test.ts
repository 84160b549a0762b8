/**
 * The chat smoke client (src/python/shipit_smoke.py) against the CyTube-compatible test server on
 * this host, with a stand-in bot (test/fixtures/chat-responder) that answers, stays silent or says
 * the wrong thing. Real socket.io both ways; the deploy-level cases are in deploy.test.ts.
 */
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";
import { smokeVenv } from "../../src/runners/deploy-host.js";
import { chatServerVenv, REPO, startChatServer, type HostChatServer } from "../helpers/target.js";

const SMOKE = join(REPO, "src/python/shipit_smoke.py");
const RESPONDER = join(REPO, "test/fixtures/chat-responder/responder.py");
const BOT_PW = "responder-pw-1"; // pragma: allowlist secret
const SMOKE_PW = "smoke-pw-CANARY-7f3a"; // pragma: allowlist secret

let server: HostChatServer;
let smokePython: string;
let chatPython: string;

beforeAll(async () => {
  [smokePython, chatPython] = await Promise.all([smokeVenv().then((v) => join(v, "bin/python")), chatServerVenv().then((v) => join(v, "bin/python"))]);
  server = await startChatServer({ accounts: { RoseyTest: BOT_PW, ShipitSmoke: SMOKE_PW } });
});
afterAll(async () => server?.stop());

interface SmokeOut {
  ok: boolean;
  error?: { code: string; message: string };
  reply?: string;
  rtt_ms?: number;
  server_url?: string;
  replies?: string[];
  exitCode: number;
  raw: string;
}

/** Run the smoke client; the password goes in on stdin (`--password-file -`), as a file would. */
async function smoke(opts: { channel?: string; password?: string; expect?: string; timeout?: number; server?: string; bot?: string } = {}): Promise<SmokeOut> {
  const r = await execa(
    smokePython,
    [
      SMOKE, "--server", opts.server ?? server.url, "--channel", opts.channel ?? "test-rosey", "--account", "ShipitSmoke", "--password-file", "-",
      "--bot", opts.bot ?? "RoseyTest", "--command", "!ping", "--expect", opts.expect ?? "pong", "--timeout", String(opts.timeout ?? 4),
    ],
    { reject: false, input: opts.password ?? SMOKE_PW, timeout: 60_000 },
  );
  const raw = r.stdout + r.stderr;
  expect(raw).not.toContain(opts.password ?? SMOKE_PW);
  return { ...(JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as Omit<SmokeOut, "exitCode" | "raw">), exitCode: r.exitCode ?? -1, raw };
}

/** A stand-in bot logged in as RoseyTest; resolves once it is in the channel. */
async function responder(...extra: string[]): Promise<{ stop: () => Promise<void> }> {
  const child: ResultPromise = execa(chatPython, [RESPONDER, "--server", server.url, "--channel", "test-rosey", "--name", "RoseyTest", "--pw-env", "RESPONDER_PW", ...extra], {
    reject: false,
    env: { RESPONDER_PW: BOT_PW },
    buffer: false,
    stdin: "ignore",
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the responder did not log in: ${out}`)), 20_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes('"ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then(() => reject(new Error(`the responder exited: ${out}`)));
  });
  return {
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
  };
}

test("the bot answers: ok, with its reply and the round-trip time", async () => {
  const bot = await responder();
  try {
    const r = await smoke();
    expect(r, r.raw).toMatchObject({ ok: true, reply: "pong", server_url: server.url, exitCode: 0 });
    expect(r.rtt_ms).toBeGreaterThan(0);
    expect(r.rtt_ms).toBeLessThan(4000);
    console.log(`smoke round trip against the host chat server: ${r.rtt_ms} ms`);
  } finally {
    await bot.stop();
  }
});

test("a greeting before the answer does not count against it", async () => {
  const bot = await responder("--greet", "welcome, friend");
  try {
    expect(await smoke()).toMatchObject({ ok: true, reply: "pong" });
  } finally {
    await bot.stop();
  }
});

test("channel not found", async () => {
  const r = await smoke({ channel: "no-such-channel" });
  expect(r).toMatchObject({ ok: false, exitCode: 1 });
  expect(r.error).toEqual({
    code: "SMOKE_CHANNEL_NOT_FOUND",
    message: `channel 'no-such-channel' not found: GET ${server.url}/socketconfig/no-such-channel.json answered HTTP 404. Check runtime.channel`,
  });
});

test("login refused", async () => {
  const r = await smoke({ password: "not-the-password" }); // pragma: allowlist secret
  expect(r.error).toEqual({
    code: "SMOKE_LOGIN_REFUSED",
    message: "the chat server refused the smoke account ShipitSmoke: Invalid username/password. Check the smoke password secret (smokePassword) and smoke.account",
  });
});

test("bot silent: connected but deaf, and its old answers replayed on join never count", async () => {
  const talking = await responder();
  expect(await smoke()).toMatchObject({ ok: true }); // leaves "pong" from RoseyTest in the replayed history
  await talking.stop();
  const deaf = await responder("--silent");
  try {
    const r = await smoke({ timeout: 3 });
    expect(r.error?.code).toBe("SMOKE_BOT_SILENT");
    expect(r.error?.message).toMatch(/^RoseyTest did not answer '!ping' in test-rosey within [\d.]+s$/);
  } finally {
    await deaf.stop();
  }
});

test("bot silent because it is not in the channel says so", async () => {
  const r = await smoke({ timeout: 2 });
  expect(r.error?.code).toBe("SMOKE_BOT_SILENT");
  expect(r.error?.message).toMatch(/^RoseyTest did not answer '!ping' in test-rosey within [\d.]+s \(RoseyTest is not in test-rosey's user list: is the bot logged in to this channel\?\)$/);
});

test("wrong answer", async () => {
  const bot = await responder("--reply", "pang <b>");
  try {
    const r = await smoke({ timeout: 10 });
    expect(r.error).toEqual({
      code: "SMOKE_WRONG_ANSWER",
      message: `RoseyTest answered '!ping' with "pang <b>", which does not contain 'pong'. The release does not handle basic commands`,
    });
    expect(r.replies).toEqual(["pang <b>"]);
  } finally {
    await bot.stop();
  }
});

test("server down", async () => {
  const gone = await startChatServer();
  const url = gone.url;
  await gone.stop();
  const r = await smoke({ server: url });
  expect(r.error?.code).toBe("SMOKE_SERVER_DOWN");
  expect(r.error?.message).toBe(`cannot reach the chat server: GET ${url}/socketconfig/test-rosey.json failed: [Errno 111] Connection refused. Is the CyTube server up?`);
});
