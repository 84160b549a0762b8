/**
 * What the workflow shim decides, as tables: the PR deploy (fork, green, red), the comment's
 * deploy line, the run's verdict, the release branch, whether a push releases, production, and
 * the run id and URL formats. src/cli/shim.ts only does the I/O around these.
 */
import { describe, expect, test } from "vitest";
import type { CiJson } from "../../../src/core/checks/ci-report.js";
import {
  deployOutcome,
  isProduction,
  isRelease,
  pullRequestDeploy,
  pullRequestVerdict,
  pushesReleaseBranch,
  releaseBranch,
  runId,
  runUrl,
  shippable,
  type PullRequestDeploy,
} from "../../../src/core/github/decisions.js";

const SHA256 = "a".repeat(64);
const gate = (name: string, status: "passed" | "failed" | "skipped") => ({ name, status, durationMs: 1, figure: "", detail: "" });
const GREEN: CiJson = {
  ok: true,
  name: "rosey",
  gates: [gate("lint", "passed"), gate("test", "passed"), gate("build", "passed")],
  coverage: { percent: 91.3, threshold: 85 },
  artifact: "rosey-1.3.0-pr.12.g0123456.tar.gz",
  sha256: SHA256,
  version: "1.3.0-pr.12.g0123456",
  summary: "",
};
const RED: CiJson = { ...GREEN, ok: false, gates: [gate("lint", "failed"), gate("test", "failed"), gate("build", "skipped")], artifact: null, sha256: null };
const BUILD = { name: "rosey", version: "1.3.0-pr.12.g0123456", artifact: "rosey-1.3.0-pr.12.g0123456.tar.gz", sha256: SHA256 };

describe("pullRequestDeploy", () => {
  test.each<[string, Parameters<typeof pullRequestDeploy>[0], PullRequestDeploy]>([
    ["green, ours: deploy to the PR environment", { fork: false, ci: GREEN, env: "test" }, { deploy: true, env: "test", build: BUILD }],
    ["green, ours, another PR environment", { fork: false, ci: GREEN, env: "staging" }, { deploy: true, env: "staging", build: BUILD }],
    ["a fork, even green", { fork: true, ci: GREEN, env: "test" }, { deploy: false, env: "test", status: "skipped", reason: "pull requests from forks are never deployed" }],
    ["a fork wins over a config error", { fork: true, ci: GREEN, env: "test", configError: "bad" }, { deploy: false, env: "test", status: "skipped", reason: "pull requests from forks are never deployed" }],
    ["red: the failed gates named, in order", { fork: false, ci: RED, env: "test" }, { deploy: false, env: "test", status: "skipped", reason: "checks failed: lint, test" }],
    ["ci did not run", { fork: false, ci: null, env: "test" }, { deploy: false, env: "test", status: "skipped", reason: "the checks failed" }],
    [
      "green but no artifact: the deploy fails, not a quiet skip",
      { fork: false, ci: { ...GREEN, artifact: null }, env: "test" },
      { deploy: false, env: "test", status: "failed", reason: "not deployed: the checks passed, but ci.json names no artifact and sha256" },
    ],
    [
      "green but the config cannot be read: the deploy fails with its error",
      { fork: false, ci: GREEN, env: "test", configError: "invalid shipit config (shipit.json):\n  - roles.production = \"live\": is not a defined environment" },
      { deploy: false, env: "test", status: "failed", reason: "not deployed: invalid shipit config (shipit.json):\n  - roles.production = \"live\": is not a defined environment" },
    ],
    ["red and a config error: the checks are the reason", { fork: false, ci: RED, env: "test", configError: "bad" }, { deploy: false, env: "test", status: "skipped", reason: "checks failed: lint, test" }],
  ])("%s", (_, input, decision) => {
    expect(pullRequestDeploy(input)).toStrictEqual(decision);
  });
});

describe("shippable", () => {
  test.each<[string, CiJson | null, ReturnType<typeof shippable>]>([
    ["green with artifact", GREEN, BUILD],
    ["red", RED, null],
    ["green without sha256", { ...GREEN, sha256: null }, null],
    ["no ci", null, null],
  ])("%s", (_, ci, build) => {
    expect(shippable(ci)).toStrictEqual(build);
  });
});

describe("deployOutcome: the comment's deploy line", () => {
  const deploy = { deploy: true, env: "test", build: BUILD } as const;
  test.each<[string, () => ReturnType<typeof deployOutcome>, ReturnType<typeof deployOutcome>]>([
    [
      "a skip keeps its reason",
      () => deployOutcome({ deploy: false, env: "test", status: "skipped", reason: "checks failed: lint" }),
      { status: "skipped", env: "test", message: "checks failed: lint" },
    ],
    [
      "a refusal is a failure",
      () => deployOutcome({ deploy: false, env: "test", status: "failed", reason: "not deployed: bad config" }),
      { status: "failed", env: "test", message: "not deployed: bad config" },
    ],
    [
      "a deploy that went live, with the environment's URL",
      () => deployOutcome(deploy, { ok: true, message: "rosey 1.3.0-pr.12.g0123456 is live on test", url: "https://cytu.be/r/test-rosey" }),
      { status: "succeeded", env: "test", version: "1.3.0-pr.12.g0123456", url: "https://cytu.be/r/test-rosey", message: "rosey 1.3.0-pr.12.g0123456 is live on test" },
    ],
    [
      "a failed deploy without a URL has no url key",
      () => deployOutcome(deploy, { ok: false, message: "health: bot not connected after 60 s; rolled back to 1.2.0", url: undefined }),
      { status: "failed", env: "test", version: "1.3.0-pr.12.g0123456", message: "health: bot not connected after 60 s; rolled back to 1.2.0" },
    ],
    [
      // the overloads require a result; a caller that slips past them still gets a failure, never a success
      "a decided deploy without a result is a failure",
      // @ts-expect-error: a decided deploy needs its result
      () => deployOutcome(deploy),
      { status: "failed", env: "test", version: "1.3.0-pr.12.g0123456", message: "the deploy reported no result" },
    ],
  ])("%s", (_, outcome, expected) => {
    expect(outcome()).toStrictEqual(expected);
  });
});

describe("pullRequestVerdict", () => {
  test.each<[boolean, "succeeded" | "failed" | "skipped", ReturnType<typeof pullRequestVerdict>]>([
    [true, "succeeded", { ok: true, summary: "ok" }],
    [true, "skipped", { ok: true, summary: "ok" }],
    [true, "failed", { ok: false, summary: "deploy failed" }],
    [false, "skipped", { ok: false, summary: "checks failed" }],
    [false, "failed", { ok: false, summary: "checks failed" }],
  ])("checks ok %s, deploy %s", (ciOk, status, verdict) => {
    expect(pullRequestVerdict(ciOk, { status })).toStrictEqual(verdict);
  });
});

describe("the release branch and what a push does", () => {
  test.each<[Record<string, string>, string]>([
    [{}, "main"],
    [{ SHIPIT_RELEASE_BRANCH: "" }, "main"],
    [{ SHIPIT_RELEASE_BRANCH: "release" }, "release"],
  ])("releaseBranch(%j) is %s", (env, branch) => {
    expect(releaseBranch(env)).toBe(branch);
  });

  test.each<[string, string, boolean]>([
    ["refs/heads/main", "main", true],
    ["refs/heads/topic", "main", false],
    ["refs/tags/main", "main", false],
    ["refs/heads/main-2", "main", false],
    ["main", "main", false],
    ["refs/heads/release", "release", true],
  ])("%s pushes the release branch %s: %s", (ref, branch, expected) => {
    expect(pushesReleaseBranch(ref, branch)).toBe(expected);
  });

  test.each<[string, { bump: string; previous: string | null }, boolean]>([
    ["a feat since the last tag", { bump: "minor", previous: "1.2.0" }, true],
    ["a fix", { bump: "patch", previous: "1.2.0" }, true],
    ["a breaking change", { bump: "major", previous: "1.2.0" }, true],
    ["nothing releasable since the last tag", { bump: "none", previous: "1.2.0" }, false],
    ["no tag yet: the first release", { bump: "none", previous: null }, true],
  ])("%s: release %s", (_, preview, expected) => {
    expect(isRelease(preview)).toBe(expected);
  });
});

describe("isProduction follows roles.production, not the name prod", () => {
  test.each([
    [{ pullRequests: "test", production: "prod" }, "prod", true],
    [{ pullRequests: "test", production: "prod" }, "test", false],
    [{ pullRequests: "test", production: "live" }, "prod", false],
    [{ pullRequests: "test", production: "live" }, "live", true],
  ])("roles %j: %s is production: %s", (roles, env, expected) => {
    expect(isProduction({ roles }, env)).toBe(expected);
  });
});

describe("the run's id and URL", () => {
  const NOW = new Date("2026-12-01T10:00:00Z");
  test.each<[Record<string, string>, string]>([
    [{ GITHUB_RUN_ID: "9001", GITHUB_RUN_ATTEMPT: "2" }, "gh-9001-2"],
    [{ GITHUB_RUN_ID: "9001" }, "gh-9001-1"],
    [{ GITHUB_RUN_ID: "9001", GITHUB_RUN_ATTEMPT: "" }, "gh-9001-1"],
    [{}, "local-mx4izwg0"],
    [{ GITHUB_RUN_ID: "" }, "local-mx4izwg0"],
  ])("runId(%j) is %s", (env, id) => {
    expect(runId(env, NOW)).toBe(id);
  });

  test.each<[Record<string, string>, string]>([
    [{ GITHUB_RUN_ID: "9001" }, "https://github.com/acme/rosey/actions/runs/9001"],
    [{ GITHUB_RUN_ID: "9001", GITHUB_SERVER_URL: "https://ghe.example.org" }, "https://ghe.example.org/acme/rosey/actions/runs/9001"],
    [{}, "https://github.com/acme/rosey/actions"],
    [{ GITHUB_SERVER_URL: "https://ghe.example.org" }, "https://ghe.example.org/acme/rosey/actions"],
  ])("runUrl(%j) is %s", (env, url) => {
    expect(runUrl(env, "acme/rosey")).toBe(url);
  });
});
