/**
 * Notifications end to end over HTTP, against local stand-ins: the chat webhooks
 * (test/helpers/webhook-standin.ts) and GitHub's API (test/helpers/fake-github.ts). Each test
 * asserts the exact requests, the delivery records, and that the webhook URLs and the GitHub token
 * (canaries) are in no record, warning, log line or error.
 */
import { randomBytes } from "node:crypto";
import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { buildMessage, type NotifyInput } from "../../src/core/notify/message.js";
import { renderDiscord, renderSlack, renderWebhook, DISCORD, SLACK } from "../../src/core/notify/render.js";
import { incidentBody, incidentMarker } from "../../src/core/notify/incident.js";
import type { Notifications } from "../../src/core/config/notifications.js";
import type { RetryPolicy } from "../../src/core/notify/retry.js";
import { GitHub } from "../../src/github/github.js";
import { sendNotifications, type NotifyOutcome } from "../../src/github/flows.js";
import { deliver } from "../../src/runners/notify.js";
import { FakeGitHub, startFakeGitHub } from "../helpers/fake-github.js";
import { startWebhookStandIn, type WebhookStandIn } from "../helpers/webhook-standin.js";

const OWNER = "acme";
const REPO = "rosey";
const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const SECRET = { slack: randomBytes(12).toString("hex"), discord: randomBytes(12).toString("hex"), hook: randomBytes(12).toString("hex") };
const PATHS = { slack: `/services/T0SHIPIT/B0SHIPIT/${SECRET.slack}`, discord: `/api/webhooks/1234567890/${SECRET.discord}`, hook: `/hooks/shipit/${SECRET.hook}` };
// Waits are recorded, not slept; the timeout is generous so a loaded machine never retries by accident.
const FAST: RetryPolicy = { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000, timeoutMs: 10_000 };
/** For the stand-in that hangs: short attempts, still long enough for the others to answer. */
const HANG: RetryPolicy = { ...FAST, attempts: 2, timeoutMs: 1500 };

let hooks: WebhookStandIn;
let fake: FakeGitHub;
let gh: GitHub;
let urls: Record<string, string>;
let slept: number[];
let logged: string[];

beforeEach(async () => {
  hooks = await startWebhookStandIn();
  fake = await startFakeGitHub({ token: TOKEN, owner: OWNER, repo: REPO });
  gh = new GitHub({ token: TOKEN, owner: OWNER, repo: REPO, baseUrl: fake.url });
  urls = { SHIPIT_SLACK_WEBHOOK: hooks.origin + PATHS.slack, SHIPIT_DISCORD_WEBHOOK: hooks.origin + PATHS.discord, SHIPIT_HOOK_URL: hooks.origin + PATHS.hook };
  slept = [];
  logged = [];
});

afterEach(async () => {
  await hooks.stop();
  await fake.stop();
});

const notifications = (over: Partial<Notifications> = {}): Notifications => ({
  events: ["deploy-succeeded", "deploy-failed", "rolled-back", "rollback-failed", "manual-rollback", "release-published"],
  targets: [
    { kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }, // pragma: allowlist secret (a secret's name, not a value)
    { kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK" }, // pragma: allowlist secret (a secret's name, not a value)
    { kind: "webhook", secret: "SHIPIT_HOOK_URL" }, // pragma: allowlist secret (a secret's name, not a value)
  ],
  incident: { enabled: true, labels: ["incident", "prod"], assignees: ["octocat"] },
  ...over,
});

const HOSTILE = `<!channel> @everyone @here <@U0ADMIN> <@&42> [click](http://evil.example/phish) ${"A".repeat(10_000)}`;
const input = (over: Partial<NotifyInput> = {}): NotifyInput => ({
  env: "prod",
  event: "rolled-back",
  version: "1.3.0",
  live: "1.2.0-20261120T100000Z",
  pr: 12,
  prTitle: HOSTILE,
  actor: "octocat",
  cause: "deploy of 1.3.0 to prod FAILED at health: bot not connected after 90 s (HEALTH_NOT_CONNECTED) <!here>",
  durationSec: 95.5,
  runUrl: "https://github.com/acme/rosey/actions/runs/9001",
  prUrl: "https://github.com/acme/rosey/pull/12",
  at: "2026-11-27T10:00:00Z",
  repo: "acme/rosey",
  ...over,
});

async function send(m: ReturnType<typeof buildMessage>, n = notifications(), withGitHub = true, policy = FAST): Promise<NotifyOutcome> {
  return sendNotifications({ message: m, notifications: n, urls, gh: withGitHub ? gh : undefined, deliver: { policy, sleep: async (ms) => void slept.push(ms), log: (l) => logged.push(l) } });
}

/** No webhook URL, no secret path part and no token anywhere the run shows or keeps. */
function expectNoCanary(...outputs: unknown[]): void {
  const haystack = JSON.stringify(outputs) + logged.join("\n");
  for (const c of [TOKEN, SECRET.slack, SECRET.discord, SECRET.hook, ...Object.values(urls)]) expect(haystack).not.toContain(c);
}

describe("delivery: the exact requests", () => {
  test("slack, discord and webhook each get one POST of their native payload; all delivered at the first attempt", async () => {
    const m = buildMessage(input());
    const out = await send(m, notifications(), false);
    expect(hooks.requests.map((r) => [r.method, r.path])).toEqual(expect.arrayContaining([["POST", PATHS.slack], ["POST", PATHS.discord], ["POST", PATHS.hook]]));
    expect(hooks.requests).toHaveLength(3);
    for (const r of hooks.requests) expect([r.headers["content-type"], r.headers["user-agent"]]).toEqual(["application/json", "shipit"]);
    expect(hooks.to(PATHS.slack)[0]!.body).toEqual(renderSlack(m));
    expect(hooks.to(PATHS.discord)[0]!.body).toEqual(renderDiscord(m));
    expect(hooks.to(PATHS.hook)[0]!.body).toEqual(renderWebhook(m));
    expect(out.deliveries).toEqual([
      { target: "slack", secret: "SHIPIT_SLACK_WEBHOOK", event: "rolled-back", status: "delivered", attempts: 1, httpStatus: 200 }, // pragma: allowlist secret (a secret's name, not a value)
      { target: "discord", secret: "SHIPIT_DISCORD_WEBHOOK", event: "rolled-back", status: "delivered", attempts: 1, httpStatus: 200 }, // pragma: allowlist secret (a secret's name, not a value)
      { target: "webhook", secret: "SHIPIT_HOOK_URL", event: "rolled-back", status: "delivered", attempts: 1, httpStatus: 200 }, // pragma: allowlist secret (a secret's name, not a value)
    ]);
    // incidents are on for prod, but no token was given: a warning, not a failure of anything else
    expect(out.warnings).toEqual(["incident issue not updated: no GitHub token was given (--token), so the incident issue could not be looked up"]);
    expectNoCanary(out);
  });

  test("a hostile 10k-character PR title reaches no one as a ping or a link, and fits each service", async () => {
    await send(buildMessage(input()), notifications(), false);
    const slack = hooks.to(PATHS.slack)[0]!;
    const discord = hooks.to(PATHS.discord)[0]!;
    // Slack's own control sequences are entities everywhere, its code block included
    expect(slack.text).not.toContain("<!channel>");
    expect(slack.text).not.toContain("<!here>");
    // Discord: `<!here>` means nothing there; mention syntax is escaped or (in the cause) inside a code block
    expect(discord.text).not.toContain("PR #12: <");
    expect((discord.body as { embeds: { description: string }[] }).embeds[0]!.description).toBe("**Cause**\n```\ndeploy of 1.3.0 to prod FAILED at health: bot not connected after 90 s (HEALTH_NOT_CONNECTED) <!here>\n```");
    for (const raw of [slack.text, discord.text]) {
      expect(raw).not.toMatch(/@(everyone|here)\b/);
      expect(raw).not.toContain("<@U0ADMIN>");
      expect(raw).not.toContain("[click](http://");
      expect(raw).not.toContain("http://evil");
      expect(raw).not.toContain("evil.example");
    }
    const s = slack.body as { text: string; blocks: { text?: { text: string } }[] };
    expect(s.text.length).toBeLessThanOrEqual(SLACK.text);
    for (const b of s.blocks) if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(SLACK.section);
    const d = discord.body as { allowed_mentions: unknown; embeds: { title: string; description: string; fields: { value: string }[] }[] };
    expect(d.allowed_mentions).toEqual({ parse: [] });
    expect(d.embeds[0]!.title.length).toBeLessThanOrEqual(DISCORD.title);
    expect(d.embeds[0]!.description.length).toBeLessThanOrEqual(DISCORD.description);
    for (const f of d.embeds[0]!.fields) expect(f.value.length).toBeLessThanOrEqual(DISCORD.fieldValue);
    // the generic webhook gets the title as data (JSON-encoded, capped by the model)
    const hook = hooks.to(PATHS.hook)[0]!.body as { trigger: { title: string } };
    expect(hook.trigger.title.startsWith("<!channel> @everyone")).toBe(true);
    expect([...hook.trigger.title]).toHaveLength(256);
  });

  test("429 with Retry-After: waits what it asks, then delivers", async () => {
    hooks.script(PATHS.slack, { status: 429, headers: { "retry-after": "1" }, body: "rate_limited" }, { status: 200, body: "ok" });
    const r = await deliver({ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK", url: urls.SHIPIT_SLACK_WEBHOOK! }, buildMessage(input()), { policy: FAST, sleep: async (ms) => void slept.push(ms), log: (l) => logged.push(l) }); // pragma: allowlist secret (a secret's name, not a value)
    expect(r).toEqual({ target: "slack", secret: "SHIPIT_SLACK_WEBHOOK", event: "rolled-back", status: "delivered", attempts: 2, httpStatus: 200 }); // pragma: allowlist secret (a secret's name, not a value)
    expect(slept).toEqual([1000]);
    expect(logged).toEqual(["slack (SHIPIT_SLACK_WEBHOOK): HTTP 429, retry 2/3 in 1.0 s (Retry-After)"]);
    expect(hooks.to(PATHS.slack).map((q) => q.text)).toEqual([hooks.to(PATHS.slack)[0]!.text, hooks.to(PATHS.slack)[0]!.text]);
  });

  test("429 with an HTTP-date Retry-After, with real waiting", async () => {
    const at = new Date(Date.now() + 1500).toUTCString();
    hooks.script(PATHS.discord, { status: 429, headers: { "retry-after": at } }, { status: 204, body: "" });
    const r = await deliver({ kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK", url: urls.SHIPIT_DISCORD_WEBHOOK! }, buildMessage(input()), { policy: FAST }); // pragma: allowlist secret (a secret's name, not a value)
    expect(r).toMatchObject({ status: "delivered", attempts: 2, httpStatus: 204 });
    expect(hooks.to(PATHS.discord)).toHaveLength(2);
  });

  test("5xx every time: gives up after the bound, with the answer in the cause and the URL scrubbed out of it", async () => {
    hooks.script(PATHS.hook, { status: 503 });
    const out = await send(buildMessage(input()), notifications({ targets: [{ kind: "webhook", secret: "SHIPIT_HOOK_URL" }], incident: { enabled: false, labels: [], assignees: [] } })); // pragma: allowlist secret (a secret's name, not a value)
    expect(hooks.to(PATHS.hook)).toHaveLength(3);
    expect(slept).toEqual([10, 20]);
    expect(out.deliveries).toEqual([
      { target: "webhook", secret: "SHIPIT_HOOK_URL", event: "rolled-back", status: "failed", attempts: 3, httpStatus: 503, cause: "HTTP 503 on each of 3 attempts: error for [webhook URL]: try again" }, // pragma: allowlist secret (a secret's name, not a value)
    ]);
    expect(out.warnings).toEqual(["notification not delivered: webhook (SHIPIT_HOOK_URL): rolled-back NOT delivered after 3 attempts: HTTP 503 on each of 3 attempts: error for [webhook URL]: try again"]);
    expectNoCanary(out);
  });

  test("a stand-in that hangs: each attempt times out, then it gives up; the others are delivered meanwhile", async () => {
    hooks.script(PATHS.discord, { hang: true });
    const out = await send(buildMessage(input()), notifications({ incident: { enabled: false, labels: [], assignees: [] } }), true, HANG);
    expect(hooks.to(PATHS.discord)).toHaveLength(2);
    expect(out.deliveries.map((d) => [d.target, d.status, d.attempts, d.cause])).toEqual([
      ["slack", "delivered", 1, undefined],
      ["discord", "failed", 2, "no answer (timed out) on each of 2 attempts"],
      ["webhook", "delivered", 1, undefined],
    ]);
    expectNoCanary(out);
  });

  test("a 404 (a revoked webhook) is not retried; a redirect is not followed", async () => {
    hooks.script(PATHS.slack, { status: 404, body: "no_service" });
    hooks.script(PATHS.discord, { status: 302, headers: { location: `${hooks.origin}/elsewhere` } });
    const out = await send(buildMessage(input()), notifications({ targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }, { kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK" }], incident: { enabled: false, labels: [], assignees: [] } })); // pragma: allowlist secret (a secret's name, not a value)
    expect(out.deliveries.map((d) => [d.target, d.attempts, d.cause])).toEqual([
      ["slack", 1, "HTTP 404, not retried (the same request would get the same answer): no_service"],
      ["discord", 1, "HTTP 302, not retried (the same request would get the same answer): ok"],
    ]);
    expect(hooks.to("/elsewhere")).toEqual([]);
    expect(slept).toEqual([]);
  });

  test("nothing listens: connection refused, retried, then given up", async () => {
    const dead = await startWebhookStandIn();
    const url = `${dead.origin}/services/T/B/${SECRET.slack}`;
    await dead.stop();
    const r = await deliver({ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK", url }, buildMessage(input()), { policy: FAST, sleep: async (ms) => void slept.push(ms) }); // pragma: allowlist secret (a secret's name, not a value)
    expect(r).toEqual({ target: "slack", secret: "SHIPIT_SLACK_WEBHOOK", event: "rolled-back", status: "failed", attempts: 3, cause: "no answer (ECONNREFUSED) on each of 3 attempts" }); // pragma: allowlist secret (a secret's name, not a value)
    expectNoCanary(r);
  });

  test("a secret that was not given, or that holds no https URL, fails before any request, without repeating its value", async () => {
    const plain = `http://hooks.example.org/services/${SECRET.slack}`;
    const out = await sendNotifications({
      message: buildMessage(input()),
      notifications: notifications({ incident: { enabled: false, labels: [], assignees: [] } }),
      urls: { SHIPIT_SLACK_WEBHOOK: plain, SHIPIT_DISCORD_WEBHOOK: `not a url ${SECRET.discord}` },
    });
    expect(hooks.requests).toEqual([]);
    expect(out.deliveries.map((d) => [d.target, d.attempts, d.cause])).toEqual([
      ["slack", 0, "the secret SHIPIT_SLACK_WEBHOOK does not hold an https:// URL (a webhook URL over plain http would travel readable)"],
      ["discord", 0, "the secret SHIPIT_DISCORD_WEBHOOK does not hold a URL (it must be the webhook's https:// URL)"],
      ["webhook", 0, "the secret SHIPIT_HOOK_URL was not given: add it as a repository secret and pass it in the workflow's env (CONFIGURATION.md, Notifications)"],
    ]);
    expect(JSON.stringify(out)).not.toContain(SECRET.slack);
    expect(JSON.stringify(out)).not.toContain(SECRET.discord);
  });

  test("routing: test's default hears failures only", async () => {
    const n = notifications({ events: ["deploy-failed", "rolled-back", "rollback-failed"], targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }], incident: { enabled: false, labels: [], assignees: [] } });
    const quiet = await send(buildMessage(input({ env: "test", event: "deploy-succeeded" })), n);
    expect([quiet.deliveries, quiet.incident.action, hooks.requests.length]).toEqual([[], "none", 0]);
    const loud = await send(buildMessage(input({ env: "test", event: "rollback-failed" })), n);
    expect(loud.deliveries.map((d) => d.status)).toEqual(["delivered"]);
  });
});

describe("the incident issue, against the GitHub stand-in", () => {
  const REPO_PATH = `/repos/${OWNER}/${REPO}`;

  test("opened on a failure, updated on the next (never a second), commented and closed on the next healthy deploy", async () => {
    fake.collaborators.add("octocat");
    const foreign = fake.seedIssue({ title: "Feature: dice", body: "please add !dice" });
    // a pull request quoting the marker (the issues list includes PRs) is not the incident
    fake.seedIssue({ title: "docs", body: `mentions ${incidentMarker("prod")}`, pullRequest: true });
    const n = notifications({ targets: [] });

    const first = buildMessage(input());
    const opened = await send(first, n);
    expect(opened.incident).toEqual({ action: "opened", number: 103, url: `https://github.com/${OWNER}/${REPO}/issues/103` });
    expect(fake.calls()).toEqual([`GET ${REPO_PATH}/issues`, `POST ${REPO_PATH}/issues`]);
    expect(fake.requests[0]!.query).toMatchObject({ state: "open", per_page: "100" });
    expect(fake.requests[1]!.body).toEqual({ title: "Incident: prod: the deploy of 1.3.0 failed and was rolled back automatically", body: incidentBody(first), labels: ["incident", "prod"], assignees: ["octocat"] });
    expect(fake.requests.every((r) => r.authorized)).toBe(true);

    const second = buildMessage(input({ event: "rollback-failed", live: undefined, version: "1.3.1", pr: undefined, prTitle: undefined, commit: "0123456789abcdef0123456789abcdef01234567" })); // pragma: allowlist secret (a commit sha)
    const updated = await send(second, n);
    expect(updated.incident).toEqual({ action: "updated", number: 103, url: `https://github.com/${OWNER}/${REPO}/issues/103` });
    expect(fake.calls().slice(2)).toEqual([`GET ${REPO_PATH}/issues`, `PATCH ${REPO_PATH}/issues/103`, `POST ${REPO_PATH}/issues/103/comments`]);
    expect(fake.requests[3]!.body).toEqual({ title: "Incident: prod is DOWN: the deploy of 1.3.1 failed and so did its rollback", body: incidentBody(second) });
    expect((fake.requests[4]!.body as { body: string }).body).toContain("**Another failure:** 🚨 prod is DOWN");
    expect([...fake.issues.values()].filter((i) => i.state === "open" && !i.pull_request).map((i) => i.number)).toEqual([foreign, 103]);

    const healthy = buildMessage(input({ event: "deploy-succeeded", version: "1.3.2", live: "1.3.2-20261127T120000Z", cause: undefined }));
    const closed = await send(healthy, n);
    expect(closed.incident).toEqual({ action: "closed", number: 103, url: `https://github.com/${OWNER}/${REPO}/issues/103` });
    expect(fake.calls().slice(5)).toEqual([`GET ${REPO_PATH}/issues`, `POST ${REPO_PATH}/issues/103/comments`, `PATCH ${REPO_PATH}/issues/103`]);
    expect((fake.requests[6]!.body as { body: string }).body).toContain("**Resolved:** ✅ prod: 1.3.2 is live and healthy. 1.3.2-20261127T120000Z is live and healthy.");
    expect(fake.requests[7]!.body).toEqual({ state: "closed", state_reason: "completed" });
    expect(fake.issues.get(103)).toMatchObject({ state: "closed", state_reason: "completed" });
    expect(fake.comments.get(103)).toHaveLength(2);

    // healthy again with nothing open: one look, no write
    const again = await send(healthy, n);
    expect(again.incident).toEqual({ action: "none", detail: "prod is healthy and has no open incident" });
    expect(fake.calls().slice(8)).toEqual([`GET ${REPO_PATH}/issues`]);
    expectNoCanary(opened, updated, closed, again);
  });

  test("the open incident is found on a later page", async () => {
    for (let i = 0; i < 120; i++) fake.seedIssue({ title: `chatter ${i}`, body: "…" });
    const number = fake.seedIssue({ title: "Incident: old", body: `${incidentMarker("prod")}\nold` });
    const out = await send(buildMessage(input()), notifications({ targets: [] }));
    expect(out.incident).toMatchObject({ action: "updated", number });
    expect(fake.calls().filter((c) => c.endsWith("/issues"))).toHaveLength(2);
  });

  test("a GitHub that refuses is a warning; the chat deliveries still go out; the token is in nothing", async () => {
    const wrong = new GitHub({ token: `${TOKEN}x`, owner: OWNER, repo: REPO, baseUrl: fake.url });
    const out = await sendNotifications({ message: buildMessage(input()), notifications: notifications(), urls, gh: wrong, deliver: { policy: FAST } });
    expect(out.deliveries.map((d) => d.status)).toEqual(["delivered", "delivered", "delivered"]);
    expect(out.incident).toEqual({ action: "failed", detail: "GitHub GET /repos/{owner}/{repo}/issues failed: HTTP 401: Bad credentials" });
    expect(out.warnings).toEqual(["incident issue not updated: GitHub GET /repos/{owner}/{repo}/issues failed: HTTP 401: Bad credentials"]);
    expectNoCanary(out);
    expect(JSON.stringify(out)).not.toContain(`${TOKEN}x`);
  });

  test("test has no incidents: no GitHub call at all", async () => {
    await send(buildMessage(input({ env: "test" })), notifications({ targets: [], incident: { enabled: false, labels: ["incident"], assignees: [] } }));
    expect(fake.requests).toEqual([]);
  });
});

describe("shipit notify (the host CLI)", () => {
  const BIN = resolve(import.meta.dirname, "../../dagger/bin/shipit.mjs");

  async function bot(notificationsJson: unknown): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "shipit-notify-"));
    await cp(resolve(import.meta.dirname, "../fixtures/sample-bot"), dir, { recursive: true });
    await writeFile(join(dir, "shipit.json"), JSON.stringify({ environments: { prod: { notifications: notificationsJson } } }));
    return dir;
  }

  test("reads each routed URL from the variable its secret names; a failure is a warning on stderr and exit 0; no canary in any output", async () => {
    hooks.script(PATHS.discord, { status: 404, body: `unknown webhook ${PATHS.discord}` });
    const dir = await bot({ targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }, { kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK" }, { kind: "webhook", secret: "SHIPIT_HOOK_URL", events: ["release-published"] }] }); // pragma: allowlist secret (a secret's name, not a value)
    const r = await execa("node", [BIN, "notify", `--source=${dir}`, "--env=prod", "--event=rollback-failed", "--version=1.3.0", "--commit=0123456", "--cause=health: CRASH_LOOP", `--repo=${OWNER}/${REPO}`, "--token=env:GH_CANARY_TOKEN", `--github-api=${fake.url}`], {
      reject: false,
      env: { ...urls, GH_CANARY_TOKEN: TOKEN },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "🚨 prod is DOWN: the deploy of 1.3.0 failed and so did its rollback",
      "slack (SHIPIT_SLACK_WEBHOOK): rollback-failed delivered, 1 attempt",
      "discord (SHIPIT_DISCORD_WEBHOOK): rollback-failed NOT delivered after 1 attempt: HTTP 404, not retried (the same request would get the same answer): unknown webhook [webhook URL]",
      "incident: opened #101",
    ]);
    expect(r.stderr.trim()).toBe("warning: notification not delivered: discord (SHIPIT_DISCORD_WEBHOOK): rollback-failed NOT delivered after 1 attempt: HTTP 404, not retried (the same request would get the same answer): unknown webhook [webhook URL]");
    expect(hooks.to(PATHS.hook)).toEqual([]);
    expect(fake.issues.get(101)).toMatchObject({ state: "open", title: "Incident: prod is DOWN: the deploy of 1.3.0 failed and so did its rollback", labels: [{ name: "incident" }, { name: "prod" }] });
    expectNoCanary(r.stdout, r.stderr);
  });

  test("--json prints the report; a routed secret not set is a warning naming it", async () => {
    const dir = await bot({ targets: [{ kind: "slack", secret: "SHIPIT_UNSET_WEBHOOK" }], incident: { enabled: false } }); // pragma: allowlist secret (a secret's name, not a value)
    const r = await execa("node", [BIN, "notify", `--source=${dir}`, "--env=prod", "--event=deploy-succeeded", "--version=1.3.0", "--json"], { reject: false, env: { SHIPIT_UNSET_WEBHOOK: "" } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      env: "prod",
      event: "deploy-succeeded",
      headline: "✅ prod: 1.3.0 is live and healthy",
      deliveries: [{ target: "slack", secret: "SHIPIT_UNSET_WEBHOOK", event: "deploy-succeeded", status: "failed", attempts: 0, cause: "the secret SHIPIT_UNSET_WEBHOOK was not given: add it as a repository secret and pass it in the workflow's env (CONFIGURATION.md, Notifications)" }], // pragma: allowlist secret (a secret's name, not a value)
      incident: { action: "none", detail: "incidents are off for prod (environments.prod.notifications.incident.enabled)" },
      warnings: ["notification not delivered: slack (SHIPIT_UNSET_WEBHOOK): deploy-succeeded NOT delivered after 0 attempts: the secret SHIPIT_UNSET_WEBHOOK was not given: add it as a repository secret and pass it in the workflow's env (CONFIGURATION.md, Notifications)"],
    });
  });

  test("a bad event or link is a usage error (exit 2) with the fix, before any request", async () => {
    const r = await execa("node", [BIN, "notify", "--source=test/fixtures/sample-bot", "--env=prod", "--event=deploy-succeded", "--run-url=javascript:alert(1)"], { reject: false, cwd: resolve(import.meta.dirname, "../..") });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`--event = "deploy-succeded": is not a notification event. Fix: did you mean "deploy-succeeded"?`);
    expect(r.stderr).toContain(`--run-url = "javascript:alert(1)": must be an http(s) URL`);
    expect(hooks.requests).toEqual([]);
    expect(fake.requests).toEqual([]);
  });
});
