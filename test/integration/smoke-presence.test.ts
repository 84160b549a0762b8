/**
 * The presence smoke (smoke.kind "presence", `shipit_smoke.py --presence`) against the
 * CyTube-compatible test server on this host: the bot in the user list, joining late, or absent.
 * A stand-in bot (test/fixtures/chat-responder, --silent: it answers nothing) logs in as PlainBot.
 */
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";
import { smokeVenv } from "../../src/runners/deploy-host.js";
import { chatServerVenv, REPO, startChatServer, type HostChatServer } from "../helpers/target.js";

const SMOKE = join(REPO, "src/python/shipit_smoke.py");
const RESPONDER = join(REPO, "test/fixtures/chat-responder/responder.py");
const BOT_PW = "plain-pw-1"; // pragma: allowlist secret
const SMOKE_PW = "smoke-pw-CANARY-9c1d"; // pragma: allowlist secret

let server: HostChatServer;
let smokePython: string;
let chatPython: string;

beforeAll(async () => {
  [smokePython, chatPython] = await Promise.all([smokeVenv().then((v) => join(v, "bin/python")), chatServerVenv().then((v) => join(v, "bin/python"))]);
  server = await startChatServer({ accounts: { PlainBot: BOT_PW, ShipitSmoke: SMOKE_PW } });
});
afterAll(async () => server?.stop());

interface Out {
  ok: boolean;
  present?: boolean;
  seen_ms?: number;
  kind?: string;
  command?: string;
  error?: { code: string; message: string };
  exitCode: number;
}

function presence(timeout = 3): ResultPromise<{ reject: false; input: string; timeout: number }> {
  return execa(smokePython, [SMOKE, "--server", server.url, "--channel", "test-rosey", "--account", "ShipitSmoke", "--password-file", "-", "--bot", "PlainBot", "--presence", "--timeout", String(timeout)], { reject: false, input: SMOKE_PW, timeout: 60_000 });
}

async function parse(r: Awaited<ReturnType<typeof presence>>): Promise<Out> {
  expect(r.stdout + r.stderr).not.toContain(SMOKE_PW);
  return { ...(JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as Omit<Out, "exitCode">), exitCode: r.exitCode ?? -1 };
}

/** A silent stand-in bot logged in as PlainBot; resolves once it is in the channel. */
async function bot(): Promise<{ stop: () => Promise<void> }> {
  const child: ResultPromise = execa(chatPython, [RESPONDER, "--server", server.url, "--channel", "test-rosey", "--name", "PlainBot", "--pw-env", "BOT_PW", "--silent"], { reject: false, env: { BOT_PW }, buffer: false, stdin: "ignore" });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the stand-in bot did not log in: ${out}`)), 20_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes('"ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then(() => reject(new Error(`the stand-in bot exited: ${out}`)));
  });
  return {
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
  };
}

test("the bot is in the user list: ok, with no command said", async () => {
  const b = await bot();
  try {
    const r = await parse(await presence());
    expect(r).toMatchObject({ ok: true, present: true, kind: "presence", exitCode: 0 });
    expect(r.command).toBeUndefined();
    expect(r.seen_ms).toBeGreaterThan(0);
  } finally {
    await b.stop();
  }
});

test("a bot that joins after the smoke account is seen when it arrives", async () => {
  const pending = presence(15);
  await new Promise((r) => setTimeout(r, 1500));
  const b = await bot();
  try {
    const r = await parse(await pending);
    expect(r).toMatchObject({ ok: true, present: true, exitCode: 0 });
    expect(r.seen_ms).toBeGreaterThan(1000);
  } finally {
    await b.stop();
  }
});

test("no bot in the channel: SMOKE_BOT_ABSENT", async () => {
  const r = await parse(await presence(2));
  expect(r).toMatchObject({ ok: false, exitCode: 1 });
  expect(r.error!.code).toBe("SMOKE_BOT_ABSENT");
  expect(r.error!.message).toMatch(/^PlainBot is not in test-rosey's user list after [\d.]+s: the bot did not join the channel \(check its log: journalctl -u UNIT, and its server, channel and password\)$/);
});

test("without --presence, --command and --expect are required", async () => {
  const r = await execa(smokePython, [SMOKE, "--server", server.url, "--channel", "test-rosey", "--account", "ShipitSmoke", "--password-file", "-", "--bot", "PlainBot"], { reject: false, input: SMOKE_PW });
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("error: --command and --expect are required (or --presence)");
});
