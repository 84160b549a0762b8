/**
 * The GitHub adapter against a local stand-in of GitHub's REST API (test/helpers/fake-github.ts):
 * the exact requests, in order, with their key fields; and the errors, which never carry the token.
 */
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GitHub, GitHubError, STICKY_MARKER } from "../../src/github/github.js";
import { FakeGitHub, startFakeGitHub } from "../helpers/fake-github.js";

const OWNER = "acme";
const REPO = "rosey";
const TOKEN = `ghp_${randomBytes(18).toString("hex")}`;
const REPO_PATH = `/repos/${OWNER}/${REPO}`;

let fake: FakeGitHub;
let gh: GitHub;

beforeEach(async () => {
  fake = await startFakeGitHub({ token: TOKEN, owner: OWNER, repo: REPO });
  gh = new GitHub({ token: TOKEN, owner: OWNER, repo: REPO, baseUrl: fake.url });
});

afterEach(async () => {
  await fake.stop();
  vi.restoreAllMocks();
});

async function caught(p: Promise<unknown>): Promise<GitHubError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitHubError);
  return error as GitHubError;
}

describe("sticky PR comment", () => {
  it("is created once, then updated in place; a foreign comment is left alone", async () => {
    const foreignBody = "LGTM, but see the comment below";
    const foreignId = fake.seedComment(42, foreignBody);

    const first = await gh.upsertStickyComment(42, "## shipit\ngates: 3 failed");
    expect(first.created).toBe(true);
    expect(fake.calls()).toEqual([
      `GET ${REPO_PATH}/issues/42/comments`,
      `POST ${REPO_PATH}/issues/42/comments`,
    ]);
    expect(fake.requests[0]!.query).toMatchObject({ per_page: "100" });
    expect(fake.requests[1]!.body).toEqual({ body: `${STICKY_MARKER}\n## shipit\ngates: 3 failed` });
    expect(fake.requests.every((r) => r.authorized && r.authScheme === "token")).toBe(true);

    const second = await gh.upsertStickyComment(42, "## shipit\ngates: all passed");
    expect(second).toEqual({ id: first.id, created: false });
    expect(fake.calls().slice(2)).toEqual([
      `GET ${REPO_PATH}/issues/42/comments`,
      `PATCH ${REPO_PATH}/issues/comments/${first.id}`,
    ]);
    expect(fake.requests[3]!.body).toEqual({ body: `${STICKY_MARKER}\n## shipit\ngates: all passed` });

    const comments = fake.comments.get(42)!;
    expect(comments.map((c) => c.id)).toEqual([foreignId, first.id]);
    expect(comments[0]!.body).toBe(foreignBody);
    expect(comments[1]!.body).toBe(`${STICKY_MARKER}\n## shipit\ngates: all passed`);
    // Every status the stand-in answered was a success.
    expect(fake.requests.map((r) => r.status)).toEqual([200, 201, 200, 200]);
  });

  it("keeps a body that already carries the marker as it is", async () => {
    const body = `# report\n${STICKY_MARKER}\n`;
    await gh.upsertStickyComment(7, body);
    expect(fake.requests[1]!.body).toEqual({ body });
  });

  it("follows the Link pagination to find the comment on a later page", async () => {
    for (let i = 0; i < 150; i++) fake.seedComment(9, `chatter ${i}`);
    const stickyId = fake.seedComment(9, `${STICKY_MARKER}\nold`, { login: "github-actions[bot]", id: 41898282, type: "Bot" });

    const result = await gh.upsertStickyComment(9, "new");
    expect(result).toEqual({ id: stickyId, created: false });
    expect(fake.calls()).toEqual([
      `GET ${REPO_PATH}/issues/9/comments`,
      `GET ${REPO_PATH}/issues/9/comments`,
      `PATCH ${REPO_PATH}/issues/comments/${stickyId}`,
    ]);
    expect(fake.requests[0]!.query).toEqual({ per_page: "100" });
    expect(fake.requests[1]!.query).toEqual({ per_page: "100", page: "2" });
    expect(fake.comments.get(9)!.filter((c) => c.body.includes(STICKY_MARKER))).toHaveLength(1);
    expect(fake.comments.get(9)!.slice(0, 150).every((c, i) => c.body === `chatter ${i}`)).toBe(true);
  });
});

describe("deployments", () => {
  it("creates a deployment, then sets in_progress and success with its links", async () => {
    const id = await gh.createDeployment({
      ref: "feature/x",
      environment: "test",
      description: "PR #42 to the test channel",
      transientEnvironment: true,
      productionEnvironment: false,
    });
    await gh.setDeploymentStatus(id, {
      state: "in_progress",
      logUrl: "https://github.com/acme/rosey/actions/runs/1",
      description: "deploying",
    });
    await gh.setDeploymentStatus(id, {
      state: "success",
      environmentUrl: "https://cytu.be/r/rosey-test",
      logUrl: "https://github.com/acme/rosey/actions/runs/1",
      description: "1.2.0 is live",
    });

    expect(fake.calls()).toEqual([
      `POST ${REPO_PATH}/deployments`,
      `POST ${REPO_PATH}/deployments/${id}/statuses`,
      `POST ${REPO_PATH}/deployments/${id}/statuses`,
    ]);
    expect(fake.requests[0]!.body).toEqual({
      ref: "feature/x",
      environment: "test",
      description: "PR #42 to the test channel",
      auto_merge: false,
      required_contexts: [],
      transient_environment: true,
      production_environment: false,
    });
    expect(fake.requests[1]!.body).toEqual({
      state: "in_progress",
      log_url: "https://github.com/acme/rosey/actions/runs/1",
      description: "deploying",
    });
    expect(fake.requests[2]!.body).toEqual({
      state: "success",
      environment_url: "https://cytu.be/r/rosey-test",
      log_url: "https://github.com/acme/rosey/actions/runs/1",
      description: "1.2.0 is live",
    });
    expect(fake.deploymentStatuses.get(id)!.map((s) => s.state)).toEqual(["in_progress", "success"]);
  });

  it("sets failure on a production deployment, omitting the optional flags it was not given", async () => {
    const id = await gh.createDeployment({ ref: "abc1234", environment: "production", description: "release 1.2.0" });
    await gh.setDeploymentStatus(id, { state: "in_progress" });
    await gh.setDeploymentStatus(id, {
      state: "failure",
      environmentUrl: "https://cytu.be/r/rosey",
      logUrl: "https://github.com/acme/rosey/actions/runs/2",
      description: `health check failed: ${"x".repeat(300)}`,
    });
    expect(fake.calls()).toEqual([
      `POST ${REPO_PATH}/deployments`,
      `POST ${REPO_PATH}/deployments/${id}/statuses`,
      `POST ${REPO_PATH}/deployments/${id}/statuses`,
    ]);
    expect(fake.requests[0]!.body).toEqual({
      ref: "abc1234",
      environment: "production",
      description: "release 1.2.0",
      auto_merge: false,
      required_contexts: [],
    });
    expect(fake.requests[1]!.body).toEqual({ state: "in_progress" });
    const failure = fake.requests[2]!.body as Record<string, string>;
    expect(failure).toMatchObject({
      state: "failure",
      environment_url: "https://cytu.be/r/rosey",
      log_url: "https://github.com/acme/rosey/actions/runs/2",
    });
    // GitHub rejects a description over 140 characters; the adapter shortens it.
    expect(failure.description!.length).toBe(140);
    expect(failure.description!.startsWith("health check failed: ")).toBe(true);
    expect(fake.requests.map((r) => r.status)).toEqual([201, 201, 201]);
  });

  it("names the status and route when the deployment does not exist", async () => {
    const error = await caught(gh.setDeploymentStatus(999_999, { state: "success" }));
    expect(error.status).toBe(404);
    expect(error.method).toBe("POST");
    expect(error.route).toBe("/repos/{owner}/{repo}/deployments/{deployment_id}/statuses");
    expect(error.message).toContain("Not Found");
  });
});

describe("releases", () => {
  it("creates the release, then uploads its asset to the upload_url it answered with", async () => {
    const release = await gh.createRelease({
      tag: "v1.2.0",
      name: "v1.2.0",
      body: "## Features\n- greet (#12)",
      commitish: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d", // pragma: allowlist secret (a git sha)
    });
    expect(release.uploadUrl).toBe(`${fake.url}${REPO_PATH}/releases/${release.id}/assets{?name,label}`);

    const data = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), randomBytes(5000)]);
    const asset = await gh.uploadReleaseAsset(release, {
      name: "rosey-1.2.0.tar.gz",
      contentType: "application/gzip",
      data,
    });

    expect(fake.calls()).toEqual([
      `POST ${REPO_PATH}/releases`,
      `POST ${REPO_PATH}/releases/${release.id}/assets`,
    ]);
    expect(fake.requests[0]!.body).toEqual({
      tag_name: "v1.2.0",
      name: "v1.2.0",
      body: "## Features\n- greet (#12)",
      target_commitish: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d", // pragma: allowlist secret (a git sha)
      draft: false,
      prerelease: false,
    });
    const upload = fake.requests[1]!;
    expect(upload.query).toEqual({ name: "rosey-1.2.0.tar.gz" });
    expect(upload.headers["content-type"]).toBe("application/gzip");
    expect(upload.headers["content-length"]).toBe(String(data.length));
    expect(upload.bytes).toBe(data.length);
    expect(upload.body).toBeUndefined();
    expect(upload.authorized).toBe(true);
    expect(fake.assetData.get(asset.id)!.equals(data)).toBe(true);
    expect(asset.browserDownloadUrl).toBe(`https://github.com/${OWNER}/${REPO}/releases/download/v1.2.0/rosey-1.2.0.tar.gz`);
    expect(fake.releases[0]!.assets.map((a) => [a.name, a.content_type, a.size])).toEqual([
      ["rosey-1.2.0.tar.gz", "application/gzip", data.length],
    ]);
  });

  it("gives a clear error for a duplicate tag", async () => {
    const input = { tag: "v1.0.0", name: "v1.0.0", body: "first", commitish: "main" };
    await gh.createRelease(input);
    const error = await caught(gh.createRelease(input));
    expect(error.status).toBe(422);
    expect(error.method).toBe("POST");
    expect(error.route).toBe("/repos/{owner}/{repo}/releases");
    expect(error.message).toBe(
      "GitHub POST /repos/{owner}/{repo}/releases failed: HTTP 422: Validation Failed (Release.tag_name already_exists)",
    );
    expect(fake.calls()).toEqual([`POST ${REPO_PATH}/releases`, `POST ${REPO_PATH}/releases`]);
    expect(fake.releases).toHaveLength(1);
  });
});

describe("credentials", () => {
  it("a wrong token is a GitHubError naming the status and route, and the token appears nowhere", async () => {
    const canary = `ghp_CANARY${randomBytes(16).toString("hex")}`;
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(() => {}),
    );
    const wrong = new GitHub({ token: canary, owner: OWNER, repo: REPO, baseUrl: fake.url });

    const error = await caught(wrong.upsertStickyComment(42, "hello"));
    expect(error.status).toBe(401);
    expect(error.method).toBe("GET");
    expect(error.route).toBe("/repos/{owner}/{repo}/issues/{issue_number}/comments");
    expect(error.message).toBe(
      "GitHub GET /repos/{owner}/{repo}/issues/{issue_number}/comments failed: HTTP 401: Bad credentials",
    );

    const release = await caught(wrong.createRelease({ tag: "v9.9.9", name: "x", body: "x", commitish: "main" }));
    expect(release.status).toBe(401);
    expect(release.route).toBe("/repos/{owner}/{repo}/releases");

    // Nothing was changed, and the stand-in saw an unauthorized request each time.
    expect(fake.calls()).toEqual([`GET ${REPO_PATH}/issues/42/comments`, `POST ${REPO_PATH}/releases`]);
    expect(fake.requests.map((r) => [r.authorized, r.authScheme, r.status])).toEqual([
      [false, "token", 401],
      [false, "token", 401],
    ]);
    expect(fake.comments.size).toBe(0);
    expect(fake.releases).toHaveLength(0);

    // The canary is nowhere: not in the error however it is printed, not in the log, not on the console.
    for (const e of [error, release]) {
      const renderings = [e.message, String(e), e.stack ?? "", inspect(e, { depth: 10 }), JSON.stringify(e)];
      for (const text of renderings) expect(text).not.toContain(canary);
      expect(Object.keys(e)).not.toContain("request");
      expect(e.cause).toBeUndefined();
    }
    expect(JSON.stringify(fake.requests)).not.toContain(canary);
    expect(JSON.stringify(fake.requests)).not.toContain("CANARY");
    for (const spy of spies) {
      expect(JSON.stringify(spy.mock.calls)).not.toContain(canary);
    }
  });

  it("the stand-in accepts the right token under the bearer scheme too", async () => {
    const jwtLike = "header.payload.signature";
    const jwtFake = await startFakeGitHub({ token: jwtLike, owner: OWNER, repo: REPO });
    try {
      const jwtGh = new GitHub({ token: jwtLike, owner: OWNER, repo: REPO, baseUrl: jwtFake.url });
      await jwtGh.createDeployment({ ref: "main", environment: "test", description: "x" });
      expect(jwtFake.requests.map((r) => [r.authorized, r.authScheme])).toEqual([[true, "bearer"]]);
    } finally {
      await jwtFake.stop();
    }
  });

  it("a stand-in that is not there is a GitHubError with no status", async () => {
    const gone = await startFakeGitHub({ token: TOKEN, owner: OWNER, repo: REPO });
    const url = gone.url;
    await gone.stop();
    const offline = new GitHub({ token: TOKEN, owner: OWNER, repo: REPO, baseUrl: url });
    const error = await caught(offline.createDeployment({ ref: "main", environment: "test", description: "x" }));
    expect(error.status).toBe(0);
    expect(error.route).toBe("/repos/{owner}/{repo}/deployments");
    expect(error.message).toMatch(/no response/);
    expect(error.message).not.toContain(TOKEN);
  });

  it("an unknown repository is a 404 from the stand-in", async () => {
    const other = new GitHub({ token: TOKEN, owner: OWNER, repo: "nope", baseUrl: fake.url });
    const error = await caught(other.createRelease({ tag: "v1.0.0", name: "x", body: "x", commitish: "main" }));
    expect(error.status).toBe(404);
    expect(error.message).toContain("Not Found");
    expect(fake.calls()).toEqual([`POST /repos/${OWNER}/nope/releases`]);
  });
});
