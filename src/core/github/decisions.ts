/**
 * What the workflow shim decides, as pure functions over what it has read: whether a pull request
 * deploys (and why not), what the PR comment says about the deploy, whether a push releases, which
 * branch releases, which environment is production, and the run's id and URL. src/cli/shim.ts only
 * reads the event, the files and the environment, calls these, and runs the commands.
 */
import type { CiJson } from "../checks/ci-report.js";
import type { Roles } from "../config/environments.js";
import type { CommentContext } from "./comment.js";

/** The release branch when SHIPIT_RELEASE_BRANCH is not set. */
const DEFAULT_RELEASE_BRANCH = "main";

/** A green build that can be deployed: ci.json's artifact with its sha256. */
export interface ShippableBuild {
  name: string;
  version: string;
  artifact: string;
  sha256: string;
}

/** The build ci.json describes, when it passed and names its artifact; null otherwise. */
export function shippable(ci: CiJson | null): ShippableBuild | null {
  if (!ci?.ok || !ci.artifact || !ci.sha256) return null;
  return { name: ci.name, version: ci.version, artifact: ci.artifact, sha256: ci.sha256 };
}

/** Whether a pull request's build goes to the pull-request environment, and if not, the reason the comment gives. */
export type PullRequestDeploy =
  | { deploy: true; env: string; build: ShippableBuild }
  /** `failed`: the build should have deployed but cannot (the run fails); `skipped`: it was not meant to. */
  | { deploy: false; env: string; status: "skipped" | "failed"; reason: string };

/**
 * A fork never deploys (its run has no secrets, and its code must not reach a host); then only
 * green checks with an artifact do. `configError` is why the config (and so the environment
 * roles) could not be read: the build is then not deployed, and `env` is only the label shown.
 */
export function pullRequestDeploy(o: { fork: boolean; ci: CiJson | null; env: string; configError?: string }): PullRequestDeploy {
  const skip = (reason: string, status: "skipped" | "failed" = "skipped"): PullRequestDeploy => ({ deploy: false, env: o.env, status, reason });
  if (o.fork) return skip("pull requests from forks are never deployed");
  if (!o.ci) return skip("the checks failed");
  if (!o.ci.ok) return skip(`checks failed: ${o.ci.gates.filter((g) => g.status === "failed").map((g) => g.name).join(", ")}`);
  const build = shippable(o.ci);
  if (!build) return skip("not deployed: the checks passed, but ci.json names no artifact and sha256", "failed");
  if (o.configError !== undefined) return skip(`not deployed: ${o.configError}`, "failed");
  return { deploy: true, env: o.env, build };
}

interface DeployResult {
  ok: boolean;
  message: string;
  /** Where people see the environment, when the config gives one. */
  url: string | undefined;
}

/** The deploy line of the PR comment: the skip and its reason, or the deploy's own result. */
export function deployOutcome(decision: Extract<PullRequestDeploy, { deploy: false }>): CommentContext["deploy"];
export function deployOutcome(decision: Extract<PullRequestDeploy, { deploy: true }>, result: DeployResult): CommentContext["deploy"];
export function deployOutcome(decision: PullRequestDeploy, result?: DeployResult): CommentContext["deploy"] {
  if (!decision.deploy) return { status: decision.status, env: decision.env, message: decision.reason };
  if (!result) return { status: "failed", env: decision.env, version: decision.build.version, message: "the deploy reported no result" };
  return { status: result.ok ? "succeeded" : "failed", env: decision.env, version: decision.build.version, ...(result.url ? { url: result.url } : {}), message: result.message };
}

/** The pull request run's verdict: green only when the checks passed and the deploy did not fail (a fork's skip is fine). */
export function pullRequestVerdict(ciOk: boolean, deploy: Pick<CommentContext["deploy"], "status">): { ok: boolean; summary: "ok" | "deploy failed" | "checks failed" } {
  if (!ciOk) return { ok: false, summary: "checks failed" };
  return deploy.status === "failed" ? { ok: false, summary: "deploy failed" } : { ok: true, summary: "ok" };
}

/** The branch whose pushes release and deploy to production: SHIPIT_RELEASE_BRANCH, else main. */
export function releaseBranch(env: { SHIPIT_RELEASE_BRANCH?: string }): string {
  return env.SHIPIT_RELEASE_BRANCH || DEFAULT_RELEASE_BRANCH;
}

/** Whether a push's ref is the release branch (`refs/heads/<branch>`; a tag or another branch is not). */
export function pushesReleaseBranch(ref: string, branch: string): boolean {
  return ref === `refs/heads/${branch}`;
}

/** Whether a push to the release branch publishes a release: a releasable commit since the last tag, or no tag yet. */
export function isRelease(preview: { bump: string; previous: string | null }): boolean {
  return preview.bump !== "none" || preview.previous === null;
}

/** Whether GitHub should mark deployments to `env` as production (and keep them, not transient). */
export function isProduction(config: { roles: Roles }, env: string): boolean {
  return env === config.roles.production;
}

interface RunEnv {
  GITHUB_RUN_ID?: string;
  GITHUB_RUN_ATTEMPT?: string;
  GITHUB_SERVER_URL?: string;
}

/**
 * The run id for the lock and the ledger: `gh-<run id>-<attempt>` in Actions (a re-run is a new
 * attempt, so a new id), `local-<base-36 ms>` on a laptop.
 */
export function runId(env: RunEnv, now: Date): string {
  return env.GITHUB_RUN_ID ? `gh-${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT || "1"}` : `local-${now.getTime().toString(36)}`;
}

/** The workflow run's page (linked from deployments and the PR comment); without a run id, the repository's Actions page. */
export function runUrl(env: RunEnv, repo: string): string {
  const server = env.GITHUB_SERVER_URL || "https://github.com";
  return env.GITHUB_RUN_ID ? `${server}/${repo}/actions/runs/${env.GITHUB_RUN_ID}` : `${server}/${repo}/actions`;
}
