/**
 * notify through the real engine (`npm run call`), against the local stand-ins for a Slack incoming
 * webhook, a generic JSON webhook (test/helpers/webhook-standin.ts) and GitHub's API
 * (test/helpers/fake-github.ts): the exact payloads each webhook received, the production incident
 * issue opened by a rollback and closed by the next healthy deploy. The webhook URLs and the token
 * are canaries, passed as Dagger Secrets (`env:NAME`, the webhooks as one Secret list the way the
 * shim passes them), and show in no output.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildMessage, type NotifyInput } from "../../src/core/notify/message.js";
import { incidentBody } from "../../src/core/notify/incident.js";
import { renderSlack, renderWebhook } from "../../src/core/notify/render.js";
import { argv, type ShimSettings } from "../../src/core/github/workflow.js";
import { call, type CallResult } from "../helpers/call.js";
import { startFakeGitHub, type FakeGitHub } from "../helpers/fake-github.js";
import { startWebhookStandIn, type WebhookStandIn } from "../helpers/webhook-standin.js";
import { makeVariant } from "../helpers/variants.js";

const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const SECRET = { slack: randomBytes(12).toString("hex"), hook: randomBytes(12).toString("hex") };
const PATHS = { slack: `/services/T0SHIPIT/B0SHIPIT/${SECRET.slack}`, hook: `/hooks/shipit/${SECRET.hook}` };
const REPO_PATH = "/repos/acme/rosey";
const ENV_URL = "https://chat.example.org/r/rosey";
const HOSTILE = "<!channel> @everyone [click](http://evil.example/phish)";

let hooks: WebhookStandIn;
let fake: FakeGitHub;
let source: string;
let urls: Record<string, string>;
const results: CallResult[] = [];

beforeAll(async () => {
  hooks = await startWebhookStandIn();
  fake = await startFakeGitHub({ token: TOKEN, owner: "acme", repo: "rosey" });
  fake.collaborators.add("octocat");
  urls = { SHIPIT_SLACK_WEBHOOK: hooks.origin + PATHS.slack, SHIPIT_HOOK_URL: hooks.origin + PATHS.hook };
  const notifications = {
    targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }, { kind: "webhook", secret: "SHIPIT_HOOK_URL" }], // pragma: allowlist secret (secrets' names, not values)
    incident: { enabled: true, labels: ["incident", "prod"], assignees: ["octocat"] },
  };
  source = await makeVariant("clean", { "shipit.json": JSON.stringify({ environments: { test: { host: "bot-test.example.org" }, prod: { host: "bot.example.org", url: ENV_URL, notifications } } }) });
});
afterAll(async () => {
  await hooks?.stop();
  await fake?.stop();
});

const ROLLED_BACK = {
  env: "prod",
  event: "rolled-back",
  version: "1.3.0",
  live: "1.2.0-20261120T100000Z",
  pr: 12,
  prTitle: HOSTILE,
  actor: "octocat",
  cause: "deploy of 1.3.0 to prod FAILED at health: bot not connected after 90 s (HEALTH_NOT_CONNECTED)",
  durationSec: 95.5,
  runUrl: "https://github.com/acme/rosey/actions/runs/9001",
  prUrl: "https://github.com/acme/rosey/pull/12",
  repo: "acme/rosey",
} satisfies NotifyInput;
const HEALTHY = { env: "prod", event: "deploy-succeeded", version: "1.3.1", live: "1.3.1-20261127T120000Z", commit: "0123456789abcdef0123456789abcdef01234567", actor: "octocat", durationSec: 41, runUrl: "https://github.com/acme/rosey/actions/runs/9002", repo: "acme/rosey" } satisfies NotifyInput; // pragma: allowlist secret (a commit sha)

/** The function's arguments exactly as the shim builds them (argv.notify), minus `dagger call` itself. */
function notifyArgs(i: NotifyInput): string[] {
  const s: ShimSettings = { source, git: source, repo: "acme/rosey", apiUrl: fake.url, out: "/unused", knownHosts: "/unused" };
  const a = argv.notify(s, { ...i, webhooks: ["SHIPIT_SLACK_WEBHOOK", "SHIPIT_HOOK_URL"], github: true }); // pragma: allowlist secret (secrets' names)
  expect(a.slice(0, 2)).toEqual(["call", "notify"]);
  return a.slice(1);
}

async function notify(i: NotifyInput): Promise<{ r: CallResult; report: Record<string, unknown> }> {
  const r = await call(notifyArgs(i), { ...urls, GITHUB_TOKEN: TOKEN });
  results.push(r);
  expect(r.exitCode, r.stderr).toBe(0);
  return { r, report: JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))) };
}

test("a rolled-back prod deploy: slack and the webhook get their exact payloads, and the incident issue opens; the next healthy deploy closes it", async () => {
  const { report: rolled } = await notify(ROLLED_BACK);
  // One POST each, the native payload of each service, built from the function's arguments.
  expect(hooks.requests.map((r) => [r.method, r.path, r.headers["content-type"]])).toEqual(expect.arrayContaining([["POST", PATHS.slack, "application/json"], ["POST", PATHS.hook, "application/json"]]));
  expect(hooks.requests).toHaveLength(2);
  const at = (hooks.to(PATHS.hook)[0]!.body as { at: string }).at;
  expect(at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  const first = buildMessage({ ...ROLLED_BACK, environmentUrl: ENV_URL, at });
  expect(hooks.to(PATHS.hook)[0]!.body).toEqual(renderWebhook(first));
  expect(hooks.to(PATHS.slack)[0]!.body).toEqual(renderSlack(first));
  expect(hooks.to(PATHS.slack)[0]!.text).not.toContain("<!channel>");
  expect(rolled).toEqual({
    env: "prod",
    event: "rolled-back",
    headline: first.headline,
    deliveries: [
      { target: "slack", secret: "SHIPIT_SLACK_WEBHOOK", event: "rolled-back", status: "delivered", attempts: 1, httpStatus: 200 }, // pragma: allowlist secret (a secret's name)
      { target: "webhook", secret: "SHIPIT_HOOK_URL", event: "rolled-back", status: "delivered", attempts: 1, httpStatus: 200 }, // pragma: allowlist secret (a secret's name)
    ],
    incident: { action: "opened", number: 101, url: "https://github.com/acme/rosey/issues/101" },
    warnings: [],
  });
  expect(fake.calls()).toEqual([`GET ${REPO_PATH}/issues`, `POST ${REPO_PATH}/issues`]);
  expect(fake.requests[1]!.body).toEqual({ title: "Incident: prod: the deploy of 1.3.0 failed and was rolled back automatically", body: incidentBody(first), labels: ["incident", "prod"], assignees: ["octocat"] });
  expect(fake.requests.every((r) => r.authorized)).toBe(true);
  expect(fake.issues.get(101)).toMatchObject({ state: "open", labels: [{ name: "incident" }, { name: "prod" }] });

  const { report: healthy } = await notify(HEALTHY);
  expect(hooks.requests).toHaveLength(4);
  const at2 = (hooks.to(PATHS.hook)[1]!.body as { at: string }).at;
  const second = buildMessage({ ...HEALTHY, environmentUrl: ENV_URL, at: at2 });
  expect(hooks.to(PATHS.hook)[1]!.body).toEqual(renderWebhook(second));
  expect(hooks.to(PATHS.slack)[1]!.body).toEqual(renderSlack(second));
  expect(healthy).toMatchObject({ event: "deploy-succeeded", incident: { action: "closed", number: 101, url: "https://github.com/acme/rosey/issues/101" }, warnings: [] });
  expect(fake.calls().slice(2)).toEqual([`GET ${REPO_PATH}/issues`, `POST ${REPO_PATH}/issues/101/comments`, `PATCH ${REPO_PATH}/issues/101`]);
  expect((fake.requests[3]!.body as { body: string }).body).toContain("**Resolved:** ✅ prod: 1.3.1 is live and healthy.");
  expect(fake.requests[4]!.body).toEqual({ state: "closed", state_reason: "completed" });
  expect(fake.issues.get(101)).toMatchObject({ state: "closed", state_reason: "completed" });
});

test("the dagger v0.19.10 CLI itself takes a Secret list as comma-separated env: references, as the shim passes --webhooks", async () => {
  // Through the engine's own CLI (not npm run call): a core function with a [Secret!] argument.
  const dir = await mkdtemp(join(tmpdir(), "e2e-secret-list-"));
  await writeFile(join(dir, "Dockerfile"), "FROM scratch\nCOPY hello /hello\n");
  await writeFile(join(dir, "hello"), "hi\n");
  const env = Object.fromEntries([...(await execa("bash", ["-c", "source /var/lib/shipit-engine/env.sh && env -0"])).stdout.split("\0")].map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  const r = await execa(env["_EXPERIMENTAL_DAGGER_CLI_BIN"]!, ["--progress=plain", "core", "host", "directory", `--path=${dir}`, "docker-build", "--secrets=env:SHIPIT_SLACK_WEBHOOK,env:SHIPIT_HOOK_URL", "file", "--path=/hello", "contents"], { reject: false, env: { ...env, ...urls, DAGGER_NO_NAG: "1" }, stdin: "ignore" });
  results.push({ exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, ms: 0 });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe("hi");
  // two secrets, each resolved from its own variable (the trace shows them hashed, never the value)
  const list = /Directory\.\S*dockerBuild\S*\(\S*secrets: \S*\[(.*?)\]/.exec(r.stderr.replace(/\x1b\[[0-9;]*m/g, ""))?.[1];
  expect(list?.split(", ").map((s) => s.replace(/:.*/, ""))).toEqual(["argon2", "argon2"]);
  expect(new Set(list!.split(", ")).size).toBe(2);
});

test("the webhook URLs and the token never show in any output", () => {
  expect(results).toHaveLength(3);
  for (const r of results) for (const c of [TOKEN, SECRET.slack, SECRET.hook, ...Object.values(urls)]) expect(r.stdout + r.stderr).not.toContain(c);
});
