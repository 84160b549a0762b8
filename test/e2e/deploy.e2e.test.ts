/**
 * The deploy functions through the real engine (`npm run call`), against the real systemd target:
 * the deploy container reaches the target's sshd through the docker bridge gateway.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { call } from "../helpers/call.js";
import { DEFAULT_CHAT_ACCOUNTS, startTarget, type Target } from "../helpers/target.js";
import { makeVariant } from "../helpers/variants.js";

let t: Target;
let source: string;
const canary = `CANARY-${randomBytes(8).toString("hex")}`;
const smokeCanary = `SMOKE-CANARY-${randomBytes(8).toString("hex")}`;

beforeAll(async () => {
  t = await startTarget();
  await t.chat.setAccounts({ ...DEFAULT_CHAT_ACCOUNTS, RoseyTest: canary, ShipitSmoke: smokeCanary });
  source = await makeVariant("clean", {
    "shipit.json": JSON.stringify({ environments: { test: { host: t.bridgeHost, port: t.bridgePort, user: t.user, healthTimeoutSec: 25, runtime: { server: "http://127.0.0.1:8765" } } } }),
  });
});
afterAll(async () => t?.stop());

const secrets = () => ({ DEPLOY_SSH_KEY: t.privateKey, CYTUBEBOT_TEST_PASSWORD: canary, CYTUBE_SMOKE_PASSWORD: smokeCanary });
const sshArgs = () => ["--env=test", `--source=${source}`, "--ssh-key=env:DEPLOY_SSH_KEY", `--known-hosts=${t.knownHostsPath}`];

test("build once, deploy the bytes, then a deaf release rolls back by itself; secrets never show", async () => {
  const out = await mkdtemp(join(tmpdir(), "e2e-deploy-"));
  const built = await call(["build", `--source=${source}`, "--version=2.0.0", "-o", `${out}/good.tar.gz`]);
  expect(built.exitCode, built.stderr).toBe(0);

  const first = await call(["deploy", ...sshArgs(), `--artifact=${out}/good.tar.gz`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"], secrets());
  expect(first.exitCode, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/^deploy of 2\.0\.0 to test succeeded in [\d.]+s: 2\.0\.0-\d{8}T\d{6}Z is live\.$/m);
  // The chat smoke ran in the deploy container, through an SSH tunnel to the target's chat server.
  expect(first.stdout).toMatch(/^smoke: RoseyTest answered "!ping" with "pong" in [\d.]+ ms$/m);

  const deafDir = await makeVariant("clean");
  const status = join(deafDir, "web/status_server.py");
  await writeFile(status, (await readFile(status, "utf8")).replace(`"connected": bool(source.connected),`, `"connected": False,`));
  expect((await call(["build", `--source=${deafDir}`, "--version=2.1.0", "-o", `${out}/deaf.tar.gz`])).exitCode).toBe(0);
  const deaf = await call(["deploy", ...sshArgs(), `--artifact=${out}/deaf.tar.gz`, "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD"], secrets());
  expect(deaf.exitCode).toBe(1);
  expect(deaf.stderr).toContain("deploy of 2.1.0 to test FAILED at health:");
  expect(deaf.stderr).toMatch(/rolled back automatically: the previous release 2\.0\.0-\S+ is live again and healthy/);

  const st = await call(["status", ...sshArgs()], secrets());
  expect(st.exitCode, st.stderr).toBe(0);
  expect(JSON.parse(st.stdout.slice(st.stdout.indexOf("{")))).toMatchObject({ version: "2.0.0", lock: null, health: { ok: true } });
  const hist = await call(["history", ...sshArgs()], secrets());
  expect(JSON.parse(hist.stdout.slice(hist.stdout.indexOf("{"))).entries.map((e: { outcome: string }) => e.outcome)).toEqual(["rolled_back", "succeeded"]);

  // Delivery metrics and the dashboard from the same host's ledger, through the engine.
  const metrics = await call(["metrics", ...sshArgs(), "--format=json", `--git=${source}`], secrets());
  expect(metrics.exitCode, metrics.stderr).toBe(0);
  expect(JSON.parse(metrics.stdout.slice(metrics.stdout.indexOf("{"))).environments.test).toMatchObject({ deploys: 2, succeeded: 1, failed: 1, rolledBack: 1, successRate: 0.5, rollbackRate: 0.5 });
  const page = await call(["dashboard", ...sshArgs(), `--git=${source}`, "file", "-o", `${out}/dashboard.html`], secrets());
  expect(page.exitCode, page.stderr).toBe(0);
  const html = await readFile(`${out}/dashboard.html`, "utf8");
  expect(html).toContain("2.0.0");
  expect(html).toContain("<canvas");

  for (const r of [built, first, deaf, st, hist, metrics, page]) {
    expect(r.stdout + r.stderr).not.toContain(canary);
    expect(r.stdout + r.stderr).not.toContain(smokeCanary);
    expect(r.stdout + r.stderr).not.toContain(t.privateKey.split("\n")[1]!);
  }
});
