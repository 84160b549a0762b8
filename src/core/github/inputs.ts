/**
 * The GitHub inputs the module's functions and the workflow shim take as text: a repository
 * (OWNER/REPO, from --repo, GITHUB_REPOSITORY or a git remote), a deployment id and a deployment
 * state. One parser each, shared by src/index.ts and src/cli/shim.ts, so both refuse the same text
 * with the same message.
 */
import { ShipitError } from "../errors.js";

/** OWNER/REPO as GitHub spells it: letters, digits, `.`, `_`, `-`; never a `.` or `..` segment (it would climb out of /repos/). */
const REPO_SEGMENT = /^[\w.-]+$/;

export interface RepoRef {
  owner: string;
  repo: string;
}

/** Whether `text` is OWNER/REPO; the event schemas (workflow.ts) use the same test. */
export function isRepo(text: string): boolean {
  const parts = text.split("/");
  return parts.length === 2 && parts.every((p) => REPO_SEGMENT.test(p) && p !== "." && p !== "..");
}

/** `acme/rosey` as { owner, repo }; anything else is an INPUT_REPO error naming where the text came from. */
export function parseRepo(text: string, from = "--repo"): RepoRef {
  if (!isRepo(text)) throw new ShipitError("INPUT_REPO", `${from} must be OWNER/REPO, such as acme/rosey, not ${JSON.stringify(text)}`);
  const [owner, repo] = text.split("/");
  return { owner: owner!, repo: repo! };
}

/** `owner/repo` again, as GitHub and the argv of every call spell it. */
export function fullName(ref: RepoRef): string {
  return `${ref.owner}/${ref.repo}`;
}

/**
 * OWNER/REPO from a git remote URL (`git@github.com:acme/rosey.git`, `https://github.com/acme/rosey`,
 * `ssh://git@github.com/acme/rosey.git`). `url` is undefined when the repository has no such remote.
 */
export function repoFromRemote(url: string | undefined): string {
  const m = /github\.com[:/]([^/\s]+\/[^/\s]+?)(\.git)?\/?$/.exec(url?.trim() ?? "");
  if (m && isRepo(m[1]!)) return m[1]!;
  throw new ShipitError("INPUT_REPO_UNKNOWN", "which GitHub repository? Set GITHUB_REPOSITORY=OWNER/REPO (Actions sets it), or add a github.com origin remote");
}

export type DeploymentIdResult = { ok: true; value: number } | { ok: false; error: string };

/** A GitHub deployment id as deployment-start prints it: a positive integer. */
export function safeParseDeploymentId(text: string, from = "--id"): DeploymentIdResult {
  const n = Number(text);
  if (/^[1-9]\d*$/.test(text) && Number.isSafeInteger(n)) return { ok: true, value: n };
  return { ok: false, error: `${from} must be the number deployment-start printed, not ${JSON.stringify(text)}` };
}

export function parseDeploymentId(text: string, from = "--id"): number {
  const r = safeParseDeploymentId(text, from);
  if (!r.ok) throw new ShipitError("INPUT_DEPLOYMENT_ID", r.error);
  return r.value;
}

/** The final states a deployment can be given (in_progress is set by deployment-start itself). */
const FINAL_DEPLOYMENT_STATES = ["success", "failure", "error"] as const;
export type FinalDeploymentState = (typeof FINAL_DEPLOYMENT_STATES)[number];

export function parseDeploymentState(text: string, from = "--state"): FinalDeploymentState {
  const state = FINAL_DEPLOYMENT_STATES.find((s) => s === text);
  if (state) return state;
  throw new ShipitError("INPUT_DEPLOYMENT_STATE", `${from} must be ${FINAL_DEPLOYMENT_STATES.slice(0, -1).join(", ")} or ${FINAL_DEPLOYMENT_STATES.at(-1)}, not ${JSON.stringify(text)}`);
}
