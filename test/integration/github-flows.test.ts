/**
 * The GitHub flows the Dagger functions run (src/github/flows.ts): release preview and publishing
 * from real git histories, the sticky comment from a shim context, and deployment records, all
 * against the local GitHub stand-in, asserting the exact requests.
 */
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { GitHub } from "../../src/github/github.js";
import { finishDeployment, postPrComment, previewRelease, publishRelease, startDeployment } from "../../src/github/flows.js";
import { hostGit } from "../../src/runners/git.js";
import { FakeGitHub, startFakeGitHub } from "../helpers/fake-github.js";

const TOKEN = `ghs_${randomBytes(18).toString("hex")}`;
const BASE = "/repos/acme/rosey";
const ENV = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "A", GIT_AUTHOR_EMAIL: "a@example.com", GIT_COMMITTER_NAME: "C", GIT_COMMITTER_EMAIL: "c@example.com" };
const dirs: string[] = [];
let fake: FakeGitHub;
let gh: GitHub;

beforeEach(async () => {
  fake = await startFakeGitHub({ token: TOKEN, owner: "acme", repo: "rosey" });
  gh = new GitHub({ token: TOKEN, owner: "acme", repo: "rosey", baseUrl: fake.url });
});
afterEach(async () => fake.stop());
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function repo(messages: string[], tagAfter?: number): Promise<{ dir: string; head: string }> {
  const dir = await mkdtemp(join(tmpdir(), "shipit-flows-"));
  dirs.push(dir);
  await execa("git", ["init", "-q", "-b", "main"], { cwd: dir, env: ENV });
  for (const [i, m] of messages.entries()) {
    await execa("git", ["-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", m], { cwd: dir, env: ENV });
    if (tagAfter === i) await execa("git", ["tag", "v1.2.0"], { cwd: dir, env: ENV });
  }
  return { dir, head: (await execa("git", ["rev-parse", "HEAD"], { cwd: dir })).stdout.trim() };
}

describe("release", () => {
  it("previews from a real history, then tags and publishes with the artifact attached", async () => {
    const { dir, head } = await repo(["feat: first", "fix: old", "feat: add !dice (#14)", "fix: ping reply"], 1);
    const plan = await previewRelease(hostGit(dir), "0.1.0", "acme/rosey");
    expect(plan).toMatchObject({ previous: "1.2.0", next: "1.3.0", bump: "minor" });
    expect(plan.notes).toContain("- add !dice ([#14](https://github.com/acme/rosey/pull/14), [");

    const data = Buffer.from("the artifact bytes");
    const published = await publishRelease(gh, plan, head, { name: "rosey-1.3.0.tar.gz", data, manifestVersion: "1.3.0" });
    expect(fake.calls()).toEqual([`POST ${BASE}/releases`, `POST ${BASE}/releases/${published.releaseId}/assets`]);
    expect(fake.requests[0]!.body).toEqual({ tag_name: "v1.3.0", name: "v1.3.0", body: plan.notes, target_commitish: head, draft: false, prerelease: false });
    expect(fake.requests[1]!.query).toEqual({ name: "rosey-1.3.0.tar.gz" });
    expect(fake.assetData.get(fake.releases[0]!.assets[0]!.id)).toEqual(data);
    expect(published.tag).toBe("v1.3.0");
  });

  it("refuses an artifact built with another version, before any request", async () => {
    const { dir, head } = await repo(["feat: one"]);
    const plan = await previewRelease(hostGit(dir), "0.1.0", "acme/rosey");
    expect(plan.next).toBe("0.1.0");
    await expect(publishRelease(gh, plan, head, { name: "x.tar.gz", data: Buffer.from("x"), manifestVersion: "0.0.0-dev" })).rejects.toThrow(
      "the artifact x.tar.gz was built as version 0.0.0-dev, but this release is v0.1.0. Fix: build it with --version=0.1.0",
    );
    expect(fake.requests).toEqual([]);
  });

  it("refuses when nothing is releasable, and explains an existing tag", async () => {
    const { dir, head } = await repo(["feat: one", "docs: readme"], 0);
    const none = await previewRelease(hostGit(dir), "0.1.0", "acme/rosey");
    expect(none.bump).toBe("none");
    await expect(publishRelease(gh, none, head, { name: "x.tar.gz", data: Buffer.from("x"), manifestVersion: "1.2.0" })).rejects.toThrow(/nothing to release: no feat, fix or breaking commit since v1.2.0/);

    const again = { previous: "1.2.0", next: "1.3.0", bump: "minor" as const, notes: "n" };
    await publishRelease(gh, again, head, { name: "a.tar.gz", data: Buffer.from("a"), manifestVersion: "1.3.0" });
    await expect(publishRelease(gh, again, head, { name: "a.tar.gz", data: Buffer.from("a"), manifestVersion: "1.3.0" })).rejects.toThrow(
      "release v1.3.0 already exists on GitHub: it was published by an earlier run. Nothing was changed.",
    );
  });

  it("refuses a shallow clone, whose history is cut short", async () => {
    const { dir } = await repo(["feat: a", "fix: b", "fix: c"]);
    const shallow = await mkdtemp(join(tmpdir(), "shipit-shallow-"));
    dirs.push(shallow);
    await execa("git", ["clone", "-q", "--depth=1", `file://${dir}`, shallow], { env: ENV });
    await expect(previewRelease(hostGit(shallow), "0.1.0", "acme/rosey")).rejects.toThrow(/the git checkout is shallow.*fetch-depth: 0/);
  });
});

const SHA = "0123456789abcdef0123456789abcdef01234567"; // pragma: allowlist secret (a commit sha)
const context = (fork: boolean) => ({
  pr: 12,
  sha: SHA,
  fork,
  ci: null,
  ciError: "ci-report did not finish",
  deploy: { status: "skipped", env: "test", message: "the checks failed" },
  release: null,
  runUrl: "https://github.com/acme/rosey/actions/runs/5",
  reproduce: "npx shipit shim pull_request --pr=12",
});

describe("the sticky comment", () => {
  it("is created once, then updated in place", async () => {
    const first = await postPrComment(gh, context(false), "comment.json");
    const second = await postPrComment(gh, { ...context(false), ciError: "second run" }, "comment.json");
    expect(first).toMatchObject({ created: true, pr: 12 });
    expect(second).toEqual({ id: first.id, created: false, pr: 12 });
    expect(fake.calls()).toEqual([`GET ${BASE}/issues/12/comments`, `POST ${BASE}/issues/12/comments`, `GET ${BASE}/issues/12/comments`, `PATCH ${BASE}/issues/comments/${first.id}`]);
    expect(fake.comments.get(12)).toHaveLength(1);
    expect(fake.comments.get(12)![0]!.body).toContain("second run");
  });

  it("a fork's comment goes only to the PR whose head is the commit its run built", async () => {
    fake.pulls.set(12, { headSha: SHA, headRepo: "mallory/rosey" });
    await postPrComment(gh, context(true), "comment.json", SHA);
    expect(fake.calls()).toEqual([`GET ${BASE}/pulls/12`, `GET ${BASE}/issues/12/comments`, `POST ${BASE}/issues/12/comments`]);

    fake.pulls.set(12, { headSha: "f".repeat(40), headRepo: "mallory/rosey" });
    fake.requests.length = 0;
    await expect(postPrComment(gh, context(true), "comment.json", SHA)).rejects.toThrow(`refusing to comment on PR #12: its head is ${"f".repeat(40)}, but the run that wrote comment.json built ${SHA}`);
    expect(fake.calls()).toEqual([`GET ${BASE}/pulls/12`]);
  });
});

describe("deployments", () => {
  it("start creates the deployment and marks it in progress; finish sets its state with the links", async () => {
    const id = await startDeployment(gh, { env: "prod", ref: SHA, description: "rosey 1.3.0 to prod", production: true, environmentUrl: "https://cytu.be/r/rosey", logUrl: "https://github.com/acme/rosey/actions/runs/5" });
    await finishDeployment(gh, id, "success", { environmentUrl: "https://cytu.be/r/rosey", logUrl: "https://github.com/acme/rosey/actions/runs/5", description: "rosey 1.3.0 to prod: live" });
    expect(fake.calls()).toEqual([`POST ${BASE}/deployments`, `POST ${BASE}/deployments/${id}/statuses`, `POST ${BASE}/deployments/${id}/statuses`]);
    expect(fake.requests[0]!.body).toEqual({ ref: SHA, environment: "prod", description: "rosey 1.3.0 to prod", auto_merge: false, required_contexts: [], transient_environment: false, production_environment: true });
    expect(fake.requests[1]!.body).toEqual({ state: "in_progress", environment_url: "https://cytu.be/r/rosey", log_url: "https://github.com/acme/rosey/actions/runs/5", description: "rosey 1.3.0 to prod" });
    expect(fake.requests[2]!.body).toMatchObject({ state: "success", description: "rosey 1.3.0 to prod: live" });
    expect(fake.requests.every((r) => r.authorized)).toBe(true);
  });
});
