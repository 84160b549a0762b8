/** Reads a repository's release tags and commits with the real `git`, for src/core/release.ts. */
import { execa } from "execa";
import { latestReleaseTag, type GitCommit } from "../core/release.js";

// Unit separator between fields, record separator after each commit: neither appears in normal
// commit messages, so bodies with blank lines and newlines come back intact.
const US = "\x1f";
const RS = "\x1e";

async function git(dir: string, args: string[]): Promise<string> {
  const r = await execa("git", args, { cwd: dir, stripFinalNewline: false, env: { LC_ALL: "C" } });
  return r.stdout;
}

/** The newest release tag reachable from HEAD (highest `v<semver>` by semver precedence), or null. */
export async function lastReleaseTag(dir: string): Promise<string | null> {
  const out = await git(dir, ["tag", "--merged", "HEAD", "--list", "v*.*.*"]);
  return latestReleaseTag(out.split("\n").filter(Boolean));
}

/**
 * Commits reachable from HEAD and not from `tag` (all of HEAD's history when `tag` is null), newest
 * first. Merge commits are left out: the commits they bring in are listed themselves, so a merged
 * `feat:` counts once; squash-merged PRs ("feat: x (#12)") are ordinary commits and stay.
 */
export async function commitsSince(dir: string, tag: string | null): Promise<GitCommit[]> {
  const range = tag === null ? "HEAD" : `refs/tags/${tag}..HEAD`;
  const out = await git(dir, ["log", "--no-merges", `--format=%H${US}%s${US}%b${RS}`, range, "--"]);
  const commits: GitCommit[] = [];
  for (const record of out.split(RS)) {
    const trimmed = record.replace(/^\n+/, "");
    if (!trimmed) continue;
    const [sha, subject, body] = trimmed.split(US);
    if (!sha || subject === undefined || body === undefined) throw new Error(`git log: unexpected record ${JSON.stringify(record)}`);
    commits.push({ sha, subject, body: body.replace(/\n+$/, "") });
  }
  return commits;
}
