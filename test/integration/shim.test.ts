/**
 * The workflow shim (`shipit shim`, src/cli/shim.ts), run as the workflows run it, for every event, against a
 * recording stand-in for the dagger CLI (test/helpers/standin/dagger.mjs) first on PATH. Each test
 * asserts the exact `dagger call` sequence, the exit code, what was written for the PR comment, and
 * that canary secrets in the environment appear in no argv, no output and no file.
 */
import { execa } from "execa";
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { scanModule } from "../helpers/introspect.js";

const REPO = resolve(import.meta.dirname, "../..");
const SHIM = join(REPO, "dagger/bin/shipit.mjs");
const STANDIN = join(REPO, "test/helpers/standin/dagger.mjs");
const SHA = "0123456789abcdef0123456789abcdef01234567"; // pragma: allowlist secret (a commit sha)
const CANARY = {
  GITHUB_TOKEN: "ghs_canaryTOKENvalue0000000000000000000", // pragma: allowlist secret
  DEPLOY_SSH_KEY: "-----BEGIN OPENSSH PRIVATE KEY-----canary-ssh-key", // pragma: allowlist secret
  CYTUBEBOT_TEST_PASSWORD: "canary-test-bot-password", // pragma: allowlist secret
  CYTUBEBOT_PROD_PASSWORD: "canary-prod-bot-password", // pragma: allowlist secret
  CYTUBE_SMOKE_PASSWORD: "canary-smoke-password", // pragma: allowlist secret
  SHIPIT_SLACK_WEBHOOK: "https://hooks.slack.com/services/T0CANARY/B0CANARY/canaryWebhookSecret0000", // pragma: allowlist secret
};

const PREVIEW = { previous: "1.2.0", next: "1.3.0", bump: "minor", notes: "## v1.3.0\n\n### Features\n\n- add !dice ([abc1234](https://github.com/acme/rosey/commit/abc1234))\n" };
const API = "https://api.github.com";
const GH = ["--repo=acme/rosey", "--token=env:GITHUB_TOKEN", `--github-api=${API}`];

let work: string;
let bin: string;

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "shipit-shim-"));
  // The module's real signatures, from the SDK's introspector: the stand-in refuses an unknown
  // function, an unknown flag or a missing required argument (one without a default), as the dagger CLI would.
  const scanned = (await scanModule()) as { objects: Record<string, { methods: Record<string, { arguments: Record<string, { isOptional: boolean; defaultPath?: string; defaultValue?: unknown }> }> }> };
  const schema: Record<string, { args: string[]; required: string[] }> = {};
  for (const [name, m] of Object.entries(scanned.objects["Shipit"]!.methods)) {
    const args = Object.entries(m.arguments);
    schema[kebab(name)] = { args: args.map(([a]) => kebab(a)), required: args.filter(([, a]) => !a.isOptional && !a.defaultPath && a.defaultValue == null).map(([a]) => kebab(a)) };
  }
  await writeFile(join(work, "schema.json"), JSON.stringify(schema));
  bin = join(work, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "dagger"), `#!/bin/sh\nexec node ${JSON.stringify(STANDIN)} "$@"\n`);
  await chmod(join(bin, "dagger"), 0o755);
  // The bot: the sample bot with hosts set, so both environments resolve.
  await cp(join(REPO, "test/fixtures/sample-bot"), join(work, "bot"), { recursive: true });
  await writeFile(
    join(work, "bot/shipit.json"),
    JSON.stringify({ environments: { test: { host: "bot-test.example.org" }, prod: { host: "bot.example.org" } } }),
  );
  // A repository, for `git rev-parse HEAD` when the shim synthesizes an event from its name.
  await execa("git", ["init", "-q", "-b", "main"], { cwd: work });
  await execa("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "--allow-empty", "-m", "feat: start"], { cwd: work });
  await mkdir(join(work, ".github"));
  await writeFile(join(work, ".github/known_hosts"), "bot.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnownHostKeyForTests\n");
});

interface Run {
  exitCode: number;
  output: string;
  calls: string[][];
  dir: string;
}

let counter = 0;
async function runShim(event: string, payload: unknown, scenario: unknown, opts: { secrets?: Partial<typeof CANARY>; extraArgs?: string[]; env?: Record<string, string> } = {}): Promise<Run> {
  const dir = join(work, `run-${++counter}`);
  await mkdir(dir);
  await writeFile(join(dir, "event.json"), JSON.stringify(payload));
  await writeFile(join(dir, "scenario.json"), JSON.stringify(scenario));
  const env: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: process.env.HOME ?? "/root",
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: event,
    GITHUB_EVENT_PATH: join(dir, "event.json"),
    GITHUB_REPOSITORY: "acme/rosey",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_API_URL: API,
    GITHUB_RUN_ID: "9001",
    GITHUB_RUN_ATTEMPT: "2",
    GITHUB_SHA: SHA,
    STANDIN_LOG: join(dir, "calls.jsonl"),
    STANDIN_SCENARIO: join(dir, "scenario.json"),
    STANDIN_SCHEMA: join(work, "schema.json"),
    ...(opts.secrets ?? CANARY),
    ...opts.env,
  };
  const r = await execa(join(REPO, "node_modules/.bin/tsx"), [SHIM, "shim", "--source=bot", `--out=${join("runs", `run-${counter}`, "out")}`, ...(opts.extraArgs ?? [])], {
    cwd: work,
    env,
    extendEnv: false,
    reject: false,
    all: true,
  });
  let calls: string[][] = [];
  try {
    calls = (await readFile(join(dir, "calls.jsonl"), "utf8")).trim().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { argv: string[] }).argv);
  } catch {
    calls = [];
  }
  return { exitCode: r.exitCode ?? -1, output: r.all ?? "", calls, dir: join(work, "runs", `run-${counter}`, "out") };
}

/** The function each call ran, e.g. ["next-release", "ci-report", ...]. */
const fns = (r: Run) => r.calls.map((c) => c[1]);

/** No canary value anywhere: argv of every dagger call, the shim's output, and every file it wrote. */
async function expectNoCanary(r: Run): Promise<void> {
  const files: string[] = [];
  try {
    for (const f of await readdir(r.dir)) files.push(await readFile(join(r.dir, f), "utf8").catch(() => ""));
  } catch {
    // no out dir: nothing written
  }
  const haystack = [JSON.stringify(r.calls), r.output, ...files].join("\n");
  for (const [name, value] of Object.entries(CANARY)) expect(haystack, `${name} leaked`).not.toContain(value);
}

const prEvent = (fork = false) => ({
  pull_request: { number: 12, head: { sha: SHA, repo: { full_name: fork ? "mallory/rosey" : "acme/rosey" } } },
  repository: { full_name: "acme/rosey" },
});
const RUN_URL = "https://github.com/acme/rosey/actions/runs/9001";

describe("pull_request", () => {
  it("green: preview, ci, test deploy inside a GitHub deployment, then the sticky comment", async () => {
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: {} });
    expect(r.exitCode, r.output).toBe(0);
    const out = join("runs", `run-${counter}`, "out");
    const version = "1.3.0-pr.12.g0123456";
    expect(r.calls).toEqual([
      ["call", "next-release", "--git=.", "--source=bot", "--repo=acme/rosey"],
      ["call", "ci-report", "--source=bot", `--version=${version}`, `--commit=${SHA}`, "export", `--path=${out}`],
      ["call", "deployment-start", "--source=bot", ...GH, "--env=test", `--ref=${SHA}`, `--log-url=${RUN_URL}`, `--description=rosey ${version} to test`],
      [
        "call", "deploy", "--source=bot", "--env=test", `--artifact=${out}/rosey-${version}.tar.gz`, `--expect-sha256=${"a".repeat(64)}`,
        "--ssh-key=env:DEPLOY_SSH_KEY", "--known-hosts=.github/known_hosts", "--bot-password=env:CYTUBEBOT_TEST_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD",
        "--trigger=pull_request", "--run=gh-9001-2",
      ],
      ["call", "deployment-finish", "--source=bot", ...GH, "--env=test", "--id=4242", "--state=success", `--log-url=${RUN_URL}`, `--description=rosey ${version} to test: live`],
      ["call", "pr-comment", ...GH, `--context=${out}/comment.json`],
    ]);
    // Every command is printed before it runs.
    for (const c of r.calls) expect(r.output).toContain(`$ dagger ${c[0]} ${c[1]}`);
    const context = JSON.parse(await readFile(join(r.dir, "comment.json"), "utf8"));
    expect(context).toMatchObject({ pr: 12, fork: false, deploy: { status: "succeeded", env: "test", version, url: "https://cytu.be/r/test-rosey" }, release: PREVIEW, runUrl: RUN_URL });
    expect(context.reproduce).toBe("npx shipit shim pull_request --event-file=" + join(work, `run-${counter}`, "event.json") + " --source=bot --out=" + join("runs", `run-${counter}`, "out"));
    const md = await readFile(join(r.dir, "comment.md"), "utf8");
    expect(md).toContain("✅ **All checks passed**");
    expect(md).toContain("Next release if merged: v1.3.0 (minor from v1.2.0)");
    expect(md).toContain("**Coverage:** 91.3% (threshold 85%) ✅");
    await expectNoCanary(r);
  });

  it("a red gate: no deploy, and the comment is still posted, naming the gate", async () => {
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: { failed: ["test"] } });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "pr-comment"]);
    const md = await readFile(join(r.dir, "comment.md"), "utf8");
    expect(md).toContain("❌ **Checks failed:** test");
    expect(md).toContain("**Deploy to test:** ⏭️ skipped: checks failed: test");
    expect(r.output).toContain("pull request #12: checks failed");
    await expectNoCanary(r);
  });

  it("a failed test deploy: the deployment is marked failure and the comment says so", async () => {
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: {}, deploy: { fail: "health: bot not connected after 60 s; rolled back to 1.2.0" } });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "deployment-start", "deploy", "deployment-finish", "pr-comment"]);
    expect(r.calls[4]).toContain("--state=failure");
    const md = await readFile(join(r.dir, "comment.md"), "utf8");
    expect(md).toContain("failed to deploy; the previous release stays live");
    expect(md).toContain("health: bot not connected after 60 s; rolled back to 1.2.0");
  });

  it("a fork: no secrets, no deploy, no comment call; the context says fork for pr-comment.yml", async () => {
    // GitHub gives a fork's run no secrets; only its read-only token.
    const r = await runShim("pull_request", prEvent(true), { nextRelease: PREVIEW, ci: {} }, { secrets: { GITHUB_TOKEN: CANARY.GITHUB_TOKEN } });
    expect(r.exitCode).toBe(0);
    expect(fns(r)).toEqual(["next-release", "ci-report"]);
    const context = JSON.parse(await readFile(join(r.dir, "comment.json"), "utf8"));
    expect(context.fork).toBe(true);
    expect(context.deploy.status).toBe("skipped");
    expect(await readFile(join(r.dir, "comment.md"), "utf8")).toContain("this pull request comes from a fork. Forks never receive secrets and never deploy");
    await expectNoCanary(r);
  });

  it("missing deploy secrets fail the run, naming them, without calling deploy", async () => {
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: {} }, { secrets: { GITHUB_TOKEN: CANARY.GITHUB_TOKEN } });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "pr-comment"]);
    const md = await readFile(join(r.dir, "comment.md"), "utf8");
    expect(md).toContain("not deployed: missing DEPLOY_SSH_KEY, CYTUBEBOT_TEST_PASSWORD, CYTUBE_SMOKE_PASSWORD. Fix: add them as repository secrets");
  });
});

describe("push to main", () => {
  const push = { after: SHA, ref: "refs/heads/main" };

  it("ci, release, then the same artifact to prod, inside a GitHub deployment", async () => {
    const r = await runShim("push", push, { nextRelease: PREVIEW, ci: {} });
    expect(r.exitCode, r.output).toBe(0);
    const out = join("runs", `run-${counter}`, "out");
    expect(r.calls).toEqual([
      ["call", "next-release", "--git=.", "--source=bot", "--repo=acme/rosey"],
      ["call", "ci-report", "--source=bot", "--version=1.3.0", `--commit=${SHA}`, "export", `--path=${out}`],
      ["call", "release", "--git=.", "--source=bot", ...GH, `--commit=${SHA}`, `--artifact=${out}/rosey-1.3.0.tar.gz`],
      ["call", "deployment-start", "--source=bot", ...GH, "--env=prod", `--ref=${SHA}`, `--log-url=${RUN_URL}`, "--description=rosey 1.3.0 to prod"],
      [
        "call", "deploy", "--source=bot", "--env=prod", `--artifact=${out}/rosey-1.3.0.tar.gz`, `--expect-sha256=${"a".repeat(64)}`,
        "--ssh-key=env:DEPLOY_SSH_KEY", "--known-hosts=.github/known_hosts", "--bot-password=env:CYTUBEBOT_PROD_PASSWORD", "--smoke-password=env:CYTUBE_SMOKE_PASSWORD",
        "--trigger=push", "--run=gh-9001-2",
      ],
      ["call", "deployment-finish", "--source=bot", ...GH, "--env=prod", "--id=4242", "--state=success", `--log-url=${RUN_URL}`, "--description=rosey 1.3.0 to prod: live"],
      // prod's incident issue is on by default: a healthy deploy closes an open one
      ["call", "notify", "--source=bot", "--env=prod", "--event=deploy-succeeded", "--version=1.3.0", `--commit=${SHA}`, expect.stringMatching(/^--duration-sec=\d+(\.\d)?$/), `--run-url=${RUN_URL}`, "--release-url=https://github.com/acme/rosey/releases/tag/v1.3.0", ...GH],
    ]);
    expect(r.output).toContain("1.3.0 is live on prod");
    await expectNoCanary(r);
  });

  it("nothing releasable: no release, the build is <last>+g<sha>", async () => {
    const r = await runShim("push", push, { nextRelease: { ...PREVIEW, next: "1.2.0", bump: "none" }, ci: {} });
    expect(r.exitCode).toBe(0);
    expect(fns(r)).toEqual(["next-release", "ci-report", "deployment-start", "deploy", "deployment-finish", "notify"]);
    expect(r.calls[1]).toContain("--version=1.2.0+g0123456");
    expect(r.calls[5]!.some((a) => a.startsWith("--release-url="))).toBe(false);
  });

  it("a failed prod deploy marks the deployment failure and fails the run", async () => {
    const r = await runShim("push", push, { nextRelease: PREVIEW, ci: {}, deploy: { fail: "smoke: the bot did not answer !ping; rolled back to 1.2.0" } });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "release", "deployment-start", "deploy", "deployment-finish", "notify"]);
    expect(r.calls[5]).toContain("--state=failure");
    expect(r.calls[6]).toContain("--event=deploy-failed");
    expect(r.calls[6]).toContain("--cause=Error: smoke: the bot did not answer !ping; rolled back to 1.2.0");
    expect(r.output).toContain("the prod deploy failed: Error: smoke: the bot did not answer !ping; rolled back to 1.2.0");
  });

  it("red checks: nothing is released or deployed", async () => {
    const r = await runShim("push", push, { nextRelease: PREVIEW, ci: { failed: ["lint"] } });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report"]);
  });

  it("a failed release leaves prod untouched", async () => {
    const r = await runShim("push", push, { nextRelease: PREVIEW, ci: {}, release: { fail: "release v1.3.0 already exists on GitHub" } });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "release"]);
    expect(r.output).toContain("the release failed, so production was not touched");
  });

  it("a push to another branch does nothing", async () => {
    const r = await runShim("push", { after: SHA, ref: "refs/heads/topic" }, { nextRelease: PREVIEW, ci: {} });
    expect(r.exitCode).toBe(0);
    expect(r.calls).toEqual([]);
  });
});

describe("environment roles from shipit.json", () => {
  /** A config with the given roles and whole extra environments (test's values, their own host and paths). */
  async function rolesConfig(name: string, roles: Record<string, string>, extra: string[]): Promise<string> {
    const defaults = JSON.parse(await readFile(join(REPO, "config/environments.json"), "utf8")) as Record<string, Record<string, unknown>>;
    const environments: Record<string, unknown> = { test: { host: "bot-test.example.org" }, prod: { host: "bot.example.org" } };
    for (const e of extra) environments[e] = { ...defaults.test, host: `bot-${e}.example.org`, basePath: `/srv/rosey-${e}`, unit: `rosey-${e}.service`, url: `https://cytu.be/r/${e}-rosey` };
    const file = join(work, `${name}.json`);
    await writeFile(file, JSON.stringify({ roles, environments }));
    return file;
  }

  it("a pull request deploys to roles.pullRequests", async () => {
    const config = await rolesConfig("roles-staging", { pullRequests: "staging" }, ["staging"]);
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: {} }, { extraArgs: [`--config=${config}`] });
    expect(r.exitCode, r.output).toBe(0);
    expect(fns(r)).toEqual(["next-release", "ci-report", "deployment-start", "deploy", "deployment-finish", "pr-comment"]);
    expect(r.calls[2]).toContain("--env=staging");
    expect(r.calls[3]).toContain("--env=staging");
    expect(r.calls[4]).toContain("--env=staging");
    const context = JSON.parse(await readFile(join(r.dir, "comment.json"), "utf8"));
    expect(context.deploy).toMatchObject({ status: "succeeded", env: "staging", url: "https://cytu.be/r/staging-rosey" });
  });

  it("a push deploys to roles.production", async () => {
    const config = await rolesConfig("roles-live", { production: "live" }, ["live"]);
    const r = await runShim("push", { after: SHA, ref: "refs/heads/main" }, { nextRelease: PREVIEW, ci: {} }, { extraArgs: [`--config=${config}`] });
    expect(r.exitCode, r.output).toBe(0);
    expect(fns(r)).toEqual(["next-release", "ci-report", "release", "deployment-start", "deploy", "deployment-finish"]);
    for (const i of [3, 4, 5]) expect(r.calls[i]).toContain("--env=live");
    expect(r.output).toContain("main at 0123456: 1.3.0 is live on live");
  });

  it("a role naming no environment: the PR is not deployed, the comment says why, and the run fails", async () => {
    const config = await rolesConfig("roles-bad", { production: "live" }, []);
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: {} }, { extraArgs: [`--config=${config}`] });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "pr-comment"]);
    const context = JSON.parse(await readFile(join(r.dir, "comment.json"), "utf8"));
    expect(context.deploy).toEqual({
      status: "failed",
      env: "test",
      message: `not deployed: invalid shipit config (${config}):\n  - roles.production = "live": is not a defined environment. Fix: use one of test, prod, or add environments.live to shipit.json`,
    });
    expect(r.output).toContain("pull request #12: deploy failed");
  });
});

describe("workflow_dispatch (manual rollback)", () => {
  it("rolls the environment back to a version, inside a GitHub deployment", async () => {
    const r = await runShim("workflow_dispatch", { inputs: { environment: "prod", version: "1.2.0" } }, {});
    expect(r.exitCode, r.output).toBe(0);
    expect(r.calls).toEqual([
      ["call", "deployment-start", "--source=bot", ...GH, "--env=prod", `--ref=${SHA}`, `--log-url=${RUN_URL}`, "--description=rollback of prod to v1.2.0"],
      ["call", "rollback", "--source=bot", "--env=prod", "--to=1.2.0", "--ssh-key=env:DEPLOY_SSH_KEY", "--known-hosts=.github/known_hosts", "--trigger=manual", "--run=gh-9001-2"],
      ["call", "deployment-finish", "--source=bot", ...GH, "--env=prod", "--id=4242", "--state=success", `--log-url=${RUN_URL}`, "--description=rollback of prod to v1.2.0: done"],
      ["call", "notify", "--source=bot", "--env=prod", "--event=manual-rollback", "--version=1.2.0", expect.stringMatching(/^--duration-sec=/), `--run-url=${RUN_URL}`, ...GH],
    ]);
    expect(r.output).toContain("notify: incident none (prod is healthy and has no open incident)");
    await expectNoCanary(r);
  });

  it("without a version goes to the previous release; a failure is reported", async () => {
    const r = await runShim("workflow_dispatch", { inputs: { environment: "test", version: "" } }, { rollback: { fail: "no previous release" } });
    expect(r.exitCode).toBe(1);
    expect(r.calls[1]).toEqual(["call", "rollback", "--source=bot", "--env=test", "--ssh-key=env:DEPLOY_SSH_KEY", "--known-hosts=.github/known_hosts", "--trigger=manual", "--run=gh-9001-2"]);
    expect(r.calls[2]).toContain("--state=failure");
  });

  it("a bad input is refused before any dagger call, naming the field", async () => {
    const r = await runShim("workflow_dispatch", { inputs: { environment: "prod; rm -rf /", version: "" } }, {});
    expect(r.exitCode).toBe(2);
    expect(r.calls).toEqual([]);
    expect(r.output).toContain("inputs.environment: must be an environment name such as test or prod");
  });
});

describe("notifications", () => {
  // A bot whose test environment tells Slack about everything, and prod a webhook that is not set.
  const config = "notify-shipit.json";
  beforeAll(async () => {
    await writeFile(
      join(work, config),
      JSON.stringify({
        environments: {
          test: { host: "bot-test.example.org", notifications: { events: ["deploy-succeeded", "deploy-failed", "rolled-back", "rollback-failed"], targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }] } }, // pragma: allowlist secret (a secret's name, not a value)
          prod: { host: "bot.example.org", notifications: { targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK", events: ["release-published"] }, { kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK" }] } }, // pragma: allowlist secret (a secret's name, not a value)
        },
      }),
    );
  });
  const HOSTILE = "<!channel> @everyone [click](http://evil.example)\n::error::pwned";
  const titled = () => {
    const e = prEvent();
    return { ...e, pull_request: { ...e.pull_request, title: HOSTILE } };
  };
  const notifyCall = (r: Run) => r.calls.filter((c) => c[1] === "notify");

  it("a rolled-back test deploy: notify gets the event, what is live, the PR and its title as one line, the webhook as env:NAME", async () => {
    const message = "deploy of 1.3.0-pr.12.g0123456 to test FAILED at health: bot not connected\nrolled back automatically: the previous release 1.2.0-20261120T100000Z is live again and healthy (rollback took 2.1s).";
    const r = await runShim("pull_request", titled(), { nextRelease: PREVIEW, ci: {}, deploy: { fail: message } }, { extraArgs: [`--config=${config}`], env: { GITHUB_ACTOR: "octocat" } });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "deployment-start", "deploy", "deployment-finish", "notify", "pr-comment"]);
    const [call] = notifyCall(r);
    expect(call).toEqual([
      "call", "notify", "--source=bot", `--config=${config}`, "--env=test", "--event=rolled-back", "--version=1.3.0-pr.12.g0123456", "--live=1.2.0-20261120T100000Z", "--pr=12",
      "--pr-title=<!channel> @everyone [click](http://evil.example) ::error::pwned", "--actor=octocat", `--cause=Error: ${message}`, expect.stringMatching(/^--duration-sec=/),
      `--run-url=${RUN_URL}`, "--pr-url=https://github.com/acme/rosey/pull/12", "--webhooks=env:SHIPIT_SLACK_WEBHOOK", "--webhook-names=SHIPIT_SLACK_WEBHOOK", // pragma: allowlist secret (links and secret names)
    ]);
    // the title never starts a log line (no workflow command from a PR title)
    expect(r.output).not.toMatch(/^::error::/m);
    expect(r.output).toContain("notify: webhook (SHIPIT_SLACK_WEBHOOK): rolled-back delivered, 1 attempt");
    const ledger = (await readFile(join(r.dir, "notifications.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(ledger).toEqual([
      { at: expect.any(String), run: "gh-9001-2", env: "test", kind: "delivery", target: "webhook", secret: "SHIPIT_SLACK_WEBHOOK", event: "rolled-back", status: "delivered", attempts: 1, httpStatus: 200 },
      { at: expect.any(String), run: "gh-9001-2", env: "test", kind: "incident", event: "rolled-back", action: "none", detail: "no token" },
    ]);
    await expectNoCanary(r);
  });

  it("a delivery that fails is a warning in the output and in the PR comment, and the green run stays green", async () => {
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: {}, notify: { failed: ["SHIPIT_SLACK_WEBHOOK"] } }, { extraArgs: [`--config=${config}`] });
    expect(r.exitCode, r.output).toBe(0);
    expect(notifyCall(r)[0]).toContain("--event=deploy-succeeded");
    const warning = "notification not delivered: webhook (SHIPIT_SLACK_WEBHOOK): deploy-succeeded NOT delivered after 4 attempts: HTTP 503 on each of 4 attempts";
    expect(r.output).toContain(`warning: ${warning}`);
    expect(JSON.parse(await readFile(join(r.dir, "comment.json"), "utf8")).warnings).toEqual([warning]);
    expect(await readFile(join(r.dir, "comment.md"), "utf8")).toContain("⚠️ **Warnings** (none of them failed the run):\n\n- notification not delivered: webhook \\(SHIPIT\\_SLACK\\_WEBHOOK\\): deploy-succeeded NOT delivered after 4 attempts: HTTP 503 on each of 4 attempts\n");
    await expectNoCanary(r);
  });

  it("notify itself failing is a warning too; a webhook secret the run does not have is left out, for notify to report", async () => {
    const { SHIPIT_SLACK_WEBHOOK: _slack, ...rest } = CANARY;
    const r = await runShim("pull_request", prEvent(), { nextRelease: PREVIEW, ci: {}, notify: { fail: "the engine went away" } }, { extraArgs: [`--config=${config}`], secrets: rest });
    expect(r.exitCode, r.output).toBe(0);
    const call = notifyCall(r)[0]!;
    expect(call.some((a) => a.startsWith("--webhooks"))).toBe(false);
    expect(r.output).toContain("warning: notifications not sent (notify failed, exit 1): Error: the engine went away");
    expect(JSON.parse(await readFile(join(r.dir, "comment.json"), "utf8")).warnings).toEqual(["notifications not sent (notify failed, exit 1): Error: the engine went away"]);
  });

  it("main: the release is announced where release-published is routed, then the prod deploy with the incident issue", async () => {
    const r = await runShim("push", { after: SHA, ref: "refs/heads/main" }, { nextRelease: PREVIEW, ci: {}, deploy: { fail: "deploy of 1.3.0 to prod FAILED at health: x (HEALTH_TIMEOUT)\nand the automatic rollback FAILED too at rollback-health: y (HEALTH_TIMEOUT). prod may be down" } }, { extraArgs: [`--config=${config}`] });
    expect(r.exitCode).toBe(1);
    expect(fns(r)).toEqual(["next-release", "ci-report", "release", "notify", "deployment-start", "deploy", "deployment-finish", "notify"]);
    const [release, deploy] = notifyCall(r);
    expect(release).toEqual(["call", "notify", "--source=bot", `--config=${config}`, "--env=prod", "--event=release-published", "--version=1.3.0", `--commit=${SHA}`, `--run-url=${RUN_URL}`, "--webhooks=env:SHIPIT_SLACK_WEBHOOK", "--webhook-names=SHIPIT_SLACK_WEBHOOK"]); // pragma: allowlist secret (a secret's name, not a value)
    expect(deploy).toContain("--event=rollback-failed");
    expect(deploy).toContain("--live=not known: the environment may be down");
    // the discord secret is routed but not set: not passed; the GitHub token is, for the incident
    expect(deploy!.some((a) => a.startsWith("--webhooks"))).toBe(false);
    expect(deploy!.slice(-3)).toEqual(GH);
    expect(r.output).toContain("notify: incident opened #7");
    await expectNoCanary(r);
  });
});

describe("workflow_run (a fork's comment)", () => {
  it("posts the fork's context with the head sha the run built", async () => {
    const dir = join(work, "fork-context");
    await mkdir(dir, { recursive: true });
    const context = {
      pr: 12, sha: SHA, fork: true, ci: null, ciError: "ci did not run", deploy: { status: "skipped", env: "test", message: "forks are never deployed" },
      release: null, runUrl: RUN_URL, reproduce: "npx shipit shim pull_request --pr=12",
    };
    await writeFile(join(dir, "comment.json"), JSON.stringify(context));
    const r = await runShim("workflow_run", { workflow_run: { head_sha: SHA, event: "pull_request", id: 77 } }, {}, { extraArgs: [`--context=${join(dir, "comment.json")}`] });
    expect(r.exitCode, r.output).toBe(0);
    expect(r.calls).toEqual([["call", "pr-comment", ...GH, `--context=${join(dir, "comment.json")}`, `--head-sha=${SHA}`]]);
  });

  it("a context that is not shipit's is refused before any call", async () => {
    const dir = join(work, "bad-context");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "comment.json"), JSON.stringify({ pr: "12; curl evil", fork: true }));
    const r = await runShim("workflow_run", { workflow_run: { head_sha: SHA, event: "pull_request", id: 77 } }, {}, { extraArgs: [`--context=${join(dir, "comment.json")}`] });
    expect(r.exitCode).toBe(2);
    expect(r.calls).toEqual([]);
    expect(r.output).toContain("is not a PR comment context shipit wrote: pr:");
  });
});

describe("on a laptop", () => {
  it("--dry-run replays from the event name alone: prints the whole sequence, runs nothing", async () => {
    const r = await runShim("push", {}, {}, { extraArgs: ["push", "--dry-run"], env: { GITHUB_EVENT_PATH: "", GITHUB_EVENT_NAME: "" } });
    expect(r.exitCode, r.output).toBe(0);
    expect(r.calls).toEqual([]);
    const printed = [...r.output.matchAll(/^\$ dagger call ([a-z-]+) /gm)].map((m) => m[1]);
    expect(printed).toEqual(["next-release", "ci-report", "release", "deployment-start", "deploy", "deployment-finish", "notify"]);
  });

  it("a GITHUB_REPOSITORY that is not OWNER/REPO is refused before any call, with the module's own message", async () => {
    const r = await runShim("push", { after: SHA, ref: "refs/heads/main" }, { nextRelease: PREVIEW, ci: {} }, { env: { GITHUB_REPOSITORY: "acme/rosey/../../x" } });
    expect(r.exitCode).toBe(2);
    expect(r.calls).toEqual([]);
    expect(r.output).toContain(`GITHUB_REPOSITORY must be OWNER/REPO, such as acme/rosey, not "acme/rosey/../../x"`);
  });

  it("with no event at all, says how to give one", async () => {
    const r = await runShim("push", {}, {}, { env: { GITHUB_EVENT_PATH: "", GITHUB_EVENT_NAME: "" } });
    expect(r.exitCode).toBe(2);
    expect(r.output).toContain("which event? Pass one (pull_request, push, workflow_dispatch, workflow_run) or set GITHUB_EVENT_NAME");
  });
});

describe("the stand-in", () => {
  it("holds the shim to the module's real signatures, as the dagger CLI does", async () => {
    await writeFile(join(work, "empty-scenario.json"), "{}");
    const env = { STANDIN_LOG: join(work, "standin.jsonl"), STANDIN_SCENARIO: join(work, "empty-scenario.json"), STANDIN_SCHEMA: join(work, "schema.json") };
    const bogus = await execa("node", [STANDIN, "call", "rollback", "--env=prod", "--ssh-key=env:K", "--known-hosts=kh", "--bogus=1"], { env, reject: false });
    expect(bogus.exitCode).toBe(1);
    expect(bogus.stderr).toContain("unknown flag: --bogus (function rollback takes --env, --ssh-key, --known-hosts, --to, --source, --config, --trigger, --run)");
    const missing = await execa("node", [STANDIN, "call", "deployment-finish", "--repo=a/b", "--token=env:T"], { env, reject: false });
    expect(missing.stderr).toContain('required flag(s) "env" not set for deployment-finish');
    const unknown = await execa("node", [STANDIN, "call", "deploy-everything"], { env, reject: false });
    expect(unknown.stderr).toContain('function "deploy-everything" not found in module shipit');
  });
});
