/**
 * The GitHub functions through the real engine (`npm run call`), against the local GitHub stand-in:
 * next-release reads a real history from `--git` in a container, ci-report builds the release's
 * artifact, release publishes it with the exact bytes, deployments get their statuses, and the
 * sticky comment is created then updated. The token is a Dagger Secret and never shows.
 */
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { call, type CallResult } from "../helpers/call.js";
import { startFakeGitHub, type FakeGitHub } from "../helpers/fake-github.js";
import { makeVariant } from "../helpers/variants.js";

const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const ENV = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "A", GIT_AUTHOR_EMAIL: "a@example.com", GIT_COMMITTER_NAME: "C", GIT_COMMITTER_EMAIL: "c@example.com" };
let fake: FakeGitHub;
let repo: string;
let head: string;
const results: CallResult[] = [];

beforeAll(async () => {
  fake = await startFakeGitHub({ token: TOKEN, owner: "acme", repo: "rosey" });
  // The bot's repository: the sample bot, committed with a release tag and conventional commits after it.
  repo = await makeVariant("clean", { "shipit.json": JSON.stringify({ environments: { test: { host: "bot-test.example.org" }, prod: { host: "bot.example.org" } } }) });
  const git = (args: string[]) => execa("git", ["-c", "commit.gpgsign=false", ...args], { cwd: repo, env: ENV });
  await git(["init", "-q", "-b", "main"]);
  await git(["add", "-A"]);
  await git(["commit", "-q", "-m", "feat: the bot"]);
  await git(["tag", "v1.2.0"]);
  await git(["commit", "-q", "--allow-empty", "-m", "feat(commands): add !dice (#14)"]);
  await git(["commit", "-q", "--allow-empty", "-m", "fix: ping answers in the right channel"]);
  head = (await git(["rev-parse", "HEAD"])).stdout.trim();
});
afterAll(async () => fake?.stop());

const gh = () => ["--repo=acme/rosey", "--token=env:GITHUB_TOKEN", `--github-api=${fake.url}`];
const run = async (args: string[]) => {
  const r = await call(args, { GITHUB_TOKEN: TOKEN });
  results.push(r);
  return r;
};
const json = (r: CallResult) => JSON.parse(r.stdout.slice(r.stdout.indexOf("{")));

test("next-release, ci-report and release: the tag, the notes and the artifact's bytes on GitHub", async () => {
  const preview = await run(["next-release", `--git=${repo}`, `--source=${repo}`, "--repo=acme/rosey"]);
  expect(preview.exitCode, preview.stderr).toBe(0);
  expect(json(preview)).toMatchObject({ previous: "1.2.0", next: "1.3.0", bump: "minor" });
  expect(json(preview).notes).toContain("- **commands:** add !dice ([#14](https://github.com/acme/rosey/pull/14), [");

  const out = await mkdtemp(join(tmpdir(), "e2e-release-"));
  const ci = await run(["ci-report", `--source=${repo}`, "--version=1.3.0", `--commit=${head}`, "-o", out]);
  expect(ci.exitCode, ci.stderr).toBe(0);
  const report = JSON.parse(await readFile(join(out, "ci.json"), "utf8"));
  expect(report).toMatchObject({ ok: true, version: "1.3.0", artifact: "app-1.3.0.tar.gz" });

  const released = await run(["release", ...gh(), `--commit=${head}`, `--artifact=${join(out, report.artifact)}`, `--git=${repo}`, `--source=${repo}`]);
  expect(released.exitCode, released.stderr).toBe(0);
  expect(json(released)).toMatchObject({ tag: "v1.3.0", version: "1.3.0" });
  const rel = fake.releases[0]!;
  expect(rel).toMatchObject({ tag_name: "v1.3.0", target_commitish: head });
  expect(fake.assetData.get(rel.assets[0]!.id)).toEqual(await readFile(join(out, report.artifact)));

  // Publishing the same version again is refused with what happened, after one request.
  const before = fake.requests.length;
  const wrong = await run(["release", ...gh(), `--commit=${head}`, `--artifact=${join(out, report.artifact)}`, `--git=${repo}`, `--source=${repo}`]);
  expect(wrong.exitCode).toBe(1);
  expect(wrong.stderr).toContain("release v1.3.0 already exists on GitHub");
  expect(fake.requests.length).toBe(before + 1);
});

test("deployment-start and -finish, and the sticky comment created then updated", async () => {
  const started = await run(["deployment-start", ...gh(), "--env=prod", `--ref=${head}`, "--description=app 1.3.0 to prod", "--log-url=https://github.com/acme/rosey/actions/runs/1", `--source=${repo}`]);
  expect(started.exitCode, started.stderr).toBe(0);
  const id = started.stdout.trim().split("\n").pop()!.trim();
  expect(id).toMatch(/^\d+$/);
  const finished = await run(["deployment-finish", ...gh(), "--env=prod", `--id=${id}`, "--state=success", "--description=app 1.3.0 to prod: live", `--source=${repo}`]);
  expect(finished.exitCode, finished.stderr).toBe(0);
  expect(fake.deploymentStatuses.get(Number(id))!.map((s) => s.state)).toEqual(["in_progress", "success"]);

  const dir = await mkdtemp(join(tmpdir(), "e2e-comment-"));
  const context = {
    pr: 12, sha: head, fork: false, ci: null, ciError: "first run", deploy: { status: "skipped", env: "test", message: "the checks failed" },
    release: null, runUrl: "https://github.com/acme/rosey/actions/runs/1", reproduce: "npx shipit shim pull_request --pr=12",
  };
  await writeFile(join(dir, "c1.json"), JSON.stringify(context));
  await writeFile(join(dir, "c2.json"), JSON.stringify({ ...context, ciError: "second run" }));
  const first = await run(["pr-comment", ...gh(), `--context=${join(dir, "c1.json")}`]);
  const second = await run(["pr-comment", ...gh(), `--context=${join(dir, "c2.json")}`]);
  expect(first.stdout).toContain("created the shipit comment on PR #12");
  expect(second.stdout).toContain("updated the shipit comment on PR #12");
  expect(fake.comments.get(12)).toHaveLength(1);
  expect(fake.comments.get(12)![0]!.body).toContain("second run");
});

test("the token never shows in any output", () => {
  expect(results.length).toBeGreaterThan(5);
  for (const r of results) expect(r.stdout + r.stderr).not.toContain(TOKEN);
});
