/**
 * The next release version and its notes, from conventional commits since the last `v<semver>` tag.
 *
 * Pure: the caller reads the repository (src/runners/git.ts) and passes tags and commits in.
 *
 * Rules:
 * - `feat` → minor; `fix` and `perf` → patch; `type!:` or a `BREAKING CHANGE:` / `BREAKING-CHANGE:`
 *   footer → major. The highest level among the commits wins.
 * - 0.x (major version 0): a breaking change bumps the MINOR version (0.3.1 → 0.4.0), not the major,
 *   and `bump` reports the level applied ("minor").
 *   Under semver §4 anything may change in 0.x, and leaving 0.x is a deliberate decision (tag
 *   v1.0.0 by hand), not a side effect of one commit. `feat` and `fix` behave as usual in 0.x.
 * - No releasable commit (only docs/chore/…, non-conventional subjects, or nothing): bump "none",
 *   next = previous. Callers release only when `bump !== "none"`.
 * - No tag yet: next is the configured first version, whatever the commits imply; `bump` still
 *   reports what the commits imply, so "none" there means "nothing releasable yet" too.
 * - Only tags spelled `v<strict semver>` count (`v1.2.3`, `v2.0.0-rc.1`); `v1.2`, `release-1`,
 *   `1.2.3` are ignored. Among them the highest by semver precedence is the last release.
 */
import { CommitParser, type Commit } from "conventional-commits-parser";
import semver from "semver";
import { ShipitError } from "../errors.js";

export interface GitCommit {
  sha: string;
  subject: string;
  body: string;
}

export type Bump = "major" | "minor" | "patch" | "none";

export interface ReleasePlan {
  previous: string | null;
  next: string;
  bump: Bump;
  /** Markdown release notes. */
  notes: string;
}

export interface ReleaseInput {
  /** The last release tag (e.g. "v1.2.3"), or null when there is none. */
  lastTag: string | null;
  /** The version of the very first release, e.g. "0.1.0". */
  firstVersion: string;
  /** Commits since lastTag (as git log lists them: newest first); notes keep this order. */
  commits: GitCommit[];
  /** GitHub "OWNER/REPO", for PR and commit links. */
  repo: string;
}

const TAG = /^v(.+)$/;

/** The version in a `v<semver>` tag, or null when the tag does not count as a release tag. */
export function tagVersion(tag: string): string | null {
  const m = TAG.exec(tag);
  if (!m) return null;
  const parsed = semver.parse(m[1]!);
  return parsed && parsed.version === m[1] ? parsed.version : null;
}

/** The highest release tag by semver among `tags`, or null. */
export function latestReleaseTag(tags: readonly string[]): string | null {
  let best: { tag: string; version: string } | null = null;
  for (const tag of tags) {
    const version = tagVersion(tag.trim());
    if (version && (!best || semver.gt(version, best.version))) best = { tag: tag.trim(), version };
  }
  return best?.tag ?? null;
}

// The conventional-commits spec allows `type(scope)!: subject`; the parser's default header pattern
// does not take the `!`, so both patterns are given (as the conventionalcommits preset does).
const parser = new CommitParser({
  headerPattern: /^(\w*)(?:\(([\w$@.\-*/ ]*)\))?!?: (.*)$/,
  breakingHeaderPattern: /^(\w*)(?:\(([\w$@.\-*/ ]*)\))?!: (.*)$/,
  headerCorrespondence: ["type", "scope", "subject"],
  noteKeywords: ["BREAKING CHANGE", "BREAKING-CHANGE"],
});

type Section = "breaking" | "feat" | "fix" | "perf" | "other";
const SECTIONS: { key: Section; title: string }[] = [
  { key: "breaking", title: "Breaking changes" },
  { key: "feat", title: "Features" },
  { key: "fix", title: "Bug fixes" },
  { key: "perf", title: "Performance" },
  { key: "other", title: "Other" },
];

interface Classified {
  commit: GitCommit;
  section: Section;
  level: Bump;
  /** The text shown: "**scope:** subject" for conventional commits, the raw subject otherwise. */
  text: string;
  /** BREAKING CHANGE footer texts. */
  breakingNotes: string[];
}

const RANK: Record<Bump, number> = { none: 0, patch: 1, minor: 2, major: 3 };

function classify(commit: GitCommit): Classified {
  const message = commit.body.trim() ? `${commit.subject}\n\n${commit.body}` : commit.subject;
  const parsed: Commit = parser.parse(message);
  const type = parsed.type?.toLowerCase() ?? null;
  const subject = parsed.subject ?? null;
  const breakingNotes = parsed.notes.filter((n) => /^BREAKING[ -]CHANGE$/i.test(n.title)).map((n) => n.text.trim());
  const breaking = type !== null && subject !== null && breakingNotes.length > 0;
  if (!type || subject === null) return { commit, section: "other", level: "none", text: commit.subject, breakingNotes: [] };
  const text = parsed.scope ? `**${parsed.scope}:** ${subject}` : subject;
  // The breaking-header pattern records the subject itself as the note; show only real footer texts.
  const footerNotes = breakingNotes.filter((n) => n && n !== subject);
  if (breaking) return { commit, section: "breaking", level: "major", text, breakingNotes: footerNotes };
  if (type === "feat") return { commit, section: "feat", level: "minor", text, breakingNotes: [] };
  if (type === "fix") return { commit, section: "fix", level: "patch", text, breakingNotes: [] };
  if (type === "perf") return { commit, section: "perf", level: "patch", text, breakingNotes: [] };
  return { commit, section: "other", level: "none", text: commit.subject, breakingNotes: [] };
}

const PR_SUFFIX = /\s*\(#(\d+)\)\s*$/;

function line(c: Classified, repo: string): string {
  const pr = PR_SUFFIX.exec(c.text);
  const text = pr ? c.text.slice(0, pr.index) : c.text;
  const links: string[] = [];
  if (pr) links.push(`[#${pr[1]}](https://github.com/${repo}/pull/${pr[1]})`);
  links.push(`[${c.commit.sha.slice(0, 7)}](https://github.com/${repo}/commit/${c.commit.sha})`);
  const out = [`- ${text} (${links.join(", ")})`];
  for (const note of c.breakingNotes) out.push(`  - ${note.replace(/\s*\n\s*/g, " ")}`);
  return out.join("\n");
}

/** Markdown notes: one "### Title" section per non-empty group, in the fixed order. */
function releaseNotes(version: string, commits: readonly GitCommit[], repo: string): string {
  const classified = commits.map(classify);
  const parts = [`## v${version}`];
  for (const { key, title } of SECTIONS) {
    const items = classified.filter((c) => c.section === key);
    if (items.length) parts.push(`### ${title}\n\n${items.map((c) => line(c, repo)).join("\n")}`);
  }
  if (parts.length === 1) parts.push("No changes.");
  return parts.join("\n\n") + "\n";
}

export function computeRelease(input: ReleaseInput): ReleasePlan {
  const first = semver.parse(input.firstVersion);
  if (!first || first.version !== input.firstVersion)
    throw new ShipitError("RELEASE_FIRST_VERSION", `release: first version "${input.firstVersion}" is not a semver version like "0.1.0"`);
  if (!/^[\w.-]+\/[\w.-]+$/.test(input.repo))
    throw new ShipitError("RELEASE_REPO", `release: repository "${input.repo}" is not OWNER/REPO`);
  let previous: string | null = null;
  if (input.lastTag !== null) {
    previous = tagVersion(input.lastTag);
    if (!previous) throw new ShipitError("RELEASE_TAG", `release: tag "${input.lastTag}" is not a v<semver> release tag`);
  }

  let bump: Bump = "none";
  for (const c of input.commits.map(classify)) if (RANK[c.level] > RANK[bump]) bump = c.level;

  let next: string;
  if (previous === null) next = first.version;
  else if (bump === "none") next = previous;
  else {
    // 0.x: a breaking change bumps minor (see the header comment).
    if (bump === "major" && semver.major(previous) === 0) bump = "minor";
    next = semver.inc(previous, bump)!;
  }
  return { previous, next, bump, notes: releaseNotes(next, input.commits, input.repo) };
}
