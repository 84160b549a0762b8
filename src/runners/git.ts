/**
 * Reads a repository's release tags and commits with the real `git`, for src/core/github/release.ts.
 *
 * The argv and the parsing are shared by two readers: this host one (execa) and the Dagger one
 * (git in a container over the repository's .git), so both read a history the same way.
 */
import { execa } from "execa";
import { InfraError, ShipitError } from "../core/errors.js";
import { latestReleaseTag, type GitCommit } from "../core/github/release.js";
import { COMMIT_TIMES_ARGS, parseCommitTimes } from "../core/insight/gather.js";
import type { CommitTimes } from "../core/insight/metrics.js";

// Unit separator between fields, record separator after each commit: neither appears in normal
// commit messages, so bodies with blank lines and newlines come back intact.
const US = "\x1f";
const RS = "\x1e";

/** git's words (under LC_ALL=C) for a folder that is not inside a repository. */
const NOT_A_REPOSITORY = /not a git repository/i;

/**
 * A failed git call. A folder that is not a repository is the caller's to fix
 * (GIT_NOT_A_REPOSITORY, exit code 2); anything else is git or the repository itself broken
 * (GIT_FAILED, exit code 3: a corrupt object, a repository owned by another user, …), with git's
 * own words.
 */
export function gitFailure(args: string[], where: string, output: string, fix: string): ShipitError {
  const message = `git ${args[0]}${where ? ` ${where}` : ""} failed: ${output.trim()}. Fix: ${fix}`;
  return NOT_A_REPOSITORY.test(output) ? new ShipitError("GIT_NOT_A_REPOSITORY", message) : new InfraError("GIT_FAILED", message);
}

/** What the release flow needs from a repository; `run` executes `git ARGS` and returns stdout. */
export interface GitReader {
  run(args: string[]): Promise<string>;
}

const TAGS_ARGS = ["tag", "--merged", "HEAD", "--list", "v*.*.*"];
const SHALLOW_ARGS = ["rev-parse", "--is-shallow-repository"];

/**
 * Commits reachable from HEAD and not from `tag` (all of HEAD's history when `tag` is null).
 * Merge commits are left out: the commits they bring in are listed themselves, so a merged
 * `feat:` counts once; squash-merged PRs ("feat: x (#12)") are ordinary commits and stay.
 */
function logArgs(tag: string | null): string[] {
  const range = tag === null ? "HEAD" : `refs/tags/${tag}..HEAD`;
  return ["log", "--no-merges", `--format=%H${US}%s${US}%b${RS}`, range, "--"];
}

function parseLog(out: string): GitCommit[] {
  const commits: GitCommit[] = [];
  for (const record of out.split(RS)) {
    const trimmed = record.replace(/^\n+/, "");
    if (!trimmed) continue;
    const [sha, subject, body] = trimmed.split(US);
    if (!sha || subject === undefined || body === undefined) throw new InfraError("REPORT_INVALID", `git log: unexpected record ${JSON.stringify(record)}`);
    commits.push({ sha, subject, body: body.replace(/\n+$/, "") });
  }
  return commits;
}

/** The last release tag and the commits since it; refuses a shallow clone, whose history would be cut short. */
export async function readHistory(git: GitReader): Promise<{ lastTag: string | null; commits: GitCommit[] }> {
  if ((await git.run(SHALLOW_ARGS)).trim() === "true") {
    throw new ShipitError(
      "GIT_SHALLOW",
      "the git checkout is shallow, so the commits since the last release and its tags are missing. Fix: fetch the full history (actions/checkout with fetch-depth: 0, or `git fetch --unshallow --tags`)",
    );
  }
  const lastTag = latestReleaseTag((await git.run(TAGS_ARGS)).split("\n").filter(Boolean));
  return { lastTag, commits: parseLog(await git.run(logArgs(lastTag))) };
}

/** `git ARGS` in `dir` on this host: stdout, or the failure in git's words (a git that cannot start at all is GIT_FAILED too). */
async function runGit(dir: string, args: string[], fix: string): Promise<string> {
  const r = await execa("git", args, { cwd: dir, stripFinalNewline: false, env: { LC_ALL: "C" }, reject: false });
  if (r.exitCode === undefined) throw new InfraError("GIT_FAILED", `cannot run git in ${dir}: ${r.shortMessage}. Fix: install git, and pass an existing folder`);
  if (r.exitCode !== 0) throw gitFailure(args, `in ${dir}`, r.stderr || r.stdout, fix);
  return r.stdout;
}

export function hostGit(dir: string): GitReader {
  return { run: (args) => runGit(dir, args, "point --git at the repository root (the folder holding .git)") };
}

/**
 * sha → committer time (UTC ISO) for every commit on any ref, for lead time in metrics. Outside a
 * git repository there are none, and `unknown` says why; any other git failure is an error
 * (GIT_FAILED), not an unknown lead time.
 */
export async function commitTimes(dir: string): Promise<{ times: CommitTimes; unknown?: string }> {
  try {
    return { times: parseCommitTimes(await runGit(dir, COMMIT_TIMES_ARGS, "pass --git=PATH, the bot's repository (the folder holding .git)")) };
  } catch (e) {
    if (e instanceof ShipitError && e.code === "GIT_NOT_A_REPOSITORY") return { times: {}, unknown: `${dir} is not inside a git repository (pass --git=PATH, the bot's repository)` };
    throw e;
  }
}
