import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { computeRelease } from "../../src/core/github/release.js";
import { hostGit, readHistory } from "../../src/runners/git.js";

// Real git histories in temp repos, isolated from the machine's git config, with fixed identities.
const ENV = {
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "Test Author",
  GIT_AUTHOR_EMAIL: "author@example.com",
  GIT_COMMITTER_NAME: "Test Committer",
  GIT_COMMITTER_EMAIL: "committer@example.com",
};
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function repo() {
  const dir = await mkdtemp(join(tmpdir(), "shipit-release-"));
  dirs.push(dir);
  const git = async (args: string[], input?: string) =>
    (await execa("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", ...args], { cwd: dir, env: ENV, input })).stdout;
  await git(["init", "-q", "-b", "main"]);
  let i = 0;
  /** One empty commit per message; returns its sha. */
  const commit = async (message: string) => {
    i += 1;
    const date = `2026-01-01T00:00:${String(i).padStart(2, "0")}Z`;
    await execa("git", ["-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-F", "-"], {
      cwd: dir,
      input: message,
      env: { ...ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
    return git(["rev-parse", "HEAD"]);
  };
  const tag = (name: string) => git(["tag", name]);
  const shas = new Map<string, string>();
  /** Commit and remember the sha under a label, so notes can be compared with stable names. */
  const labelled = async (label: string, message: string) => {
    shas.set(await commit(message), label);
  };
  const release = async () => {
    const { lastTag, commits } = await readHistory(hostGit(dir));
    const plan = computeRelease({ lastTag, firstVersion: "0.1.0", commits, repo: "acme/bot" });
    let notes = plan.notes;
    for (const [sha, label] of shas) notes = notes.replaceAll(sha, `<${label}>`).replaceAll(sha.slice(0, 7), `<${label}:7>`);
    return { lastTag, version: `${plan.previous} -> ${plan.next} (${plan.bump})`, notes, commits };
  };
  return { dir, git, commit, tag, labelled, release };
}

describe("release version and notes from real git histories", () => {
  test("no tags yet: the configured first version, every commit in the notes", async () => {
    const r = await repo();
    await r.labelled("init", "chore: initial commit");
    await r.labelled("greet", "feat(chat): greet newcomers");
    await r.labelled("fix", "fix: reconnect after a kick");
    const out = await r.release();
    expect(out.lastTag).toBeNull();
    expect(out.version).toBe("null -> 0.1.0 (minor)");
    expect(out.notes).toMatchInlineSnapshot(`
      "## v0.1.0

      ### Features

      - **chat:** greet newcomers ([<greet:7>](https://github.com/acme/bot/commit/<greet>))

      ### Bug fixes

      - reconnect after a kick ([<fix:7>](https://github.com/acme/bot/commit/<fix>))

      ### Other

      - chore: initial commit ([<init:7>](https://github.com/acme/bot/commit/<init>))
      "
    `);
  });

  test("fix only → patch; feat → minor; nothing releasable → none", async () => {
    const r = await repo();
    await r.commit("feat: first");
    await r.tag("v1.0.0");
    await r.labelled("fix", "fix: typo in the greeting");
    expect((await r.release()).version).toBe("1.0.0 -> 1.0.1 (patch)");
    await r.tag("v1.0.1");
    await r.commit("fix: another");
    await r.commit("feat: dice command");
    expect((await r.release()).version).toBe("1.0.1 -> 1.1.0 (minor)");
    await r.tag("v1.1.0");
    await r.labelled("docs", "docs: deployment guide");
    await r.labelled("plain", "Update README");
    const none = await r.release();
    expect(none.version).toBe("1.1.0 -> 1.1.0 (none)");
    expect(none.notes).toMatchInlineSnapshot(`
      "## v1.1.0

      ### Other

      - Update README ([<plain:7>](https://github.com/acme/bot/commit/<plain>))
      - docs: deployment guide ([<docs:7>](https://github.com/acme/bot/commit/<docs>))
      "
    `);
    // Nothing at all since the tag.
    await r.tag("v1.1.1");
    expect((await r.release()).version).toBe("1.1.1 -> 1.1.1 (none)");
  });

  test("breaking: `feat!:` → major", async () => {
    const r = await repo();
    await r.commit("feat: first");
    await r.tag("v1.4.2");
    await r.commit("fix: small");
    await r.labelled("bang", "feat(commands)!: `!roll` takes dice notation");
    const out = await r.release();
    expect(out.version).toBe("1.4.2 -> 2.0.0 (major)");
    expect(out.notes).toContain("### Breaking changes\n\n- **commands:** `!roll` takes dice notation ([<bang:7>]");
  });

  test("breaking: a BREAKING CHANGE footer in a multi-paragraph body → major", async () => {
    const r = await repo();
    await r.commit("feat: first");
    await r.tag("v2.3.0");
    await r.labelled("store", "refactor(store): move to sqlite\n\nThe JSON store was slow.\nIt is gone.\n\nBREAKING CHANGE: the `data/` folder is no longer read;\nrun the migration first\nRefs #7\n");
    const out = await r.release();
    expect(out.commits[0]!.body).toBe("The JSON store was slow.\nIt is gone.\n\nBREAKING CHANGE: the `data/` folder is no longer read;\nrun the migration first\nRefs #7");
    expect(out.version).toBe("2.3.0 -> 3.0.0 (major)");
    expect(out.notes).toMatchInlineSnapshot(`
      "## v3.0.0

      ### Breaking changes

      - **store:** move to sqlite ([<store:7>](https://github.com/acme/bot/commit/<store>))
        - the \`data/\` folder is no longer read; run the migration first
      "
    `);
    await r.tag("v0.9.0"); // a lower tag on the same commit does not win
    expect((await r.release()).lastTag).toBe("v2.3.0");
  });

  test("0.x: a breaking change bumps minor", async () => {
    const r = await repo();
    await r.commit("feat: first");
    await r.tag("v0.3.1");
    await r.commit("feat!: new protocol");
    expect((await r.release()).version).toBe("0.3.1 -> 0.4.0 (minor)");
  });

  test("non-semver tags, lower tags and tags not reachable from HEAD are ignored", async () => {
    const r = await repo();
    await r.commit("feat: first");
    await r.tag("v1.9.0");
    await r.commit("fix: a");
    await r.tag("v1.10.0"); // newer than v1.9.0 by semver, older by name
    await r.commit("fix: b");
    await r.tag("v2.0"); // not semver
    await r.tag("v3.0.0.1"); // matches v*.*.* but is not semver
    await r.tag("release-9.0.0");
    await r.tag("nightly");
    await r.git(["checkout", "-q", "-b", "side"]);
    await r.commit("feat: on a side branch");
    await r.tag("v5.0.0"); // not merged into main
    await r.git(["checkout", "-q", "main"]);
    await r.labelled("c", "fix: c");
    const out = await r.release();
    expect(out.lastTag).toBe("v1.10.0");
    expect(out.commits.map((c) => c.subject)).toEqual(["fix: c", "fix: b"]);
    expect(out.version).toBe("1.10.0 -> 1.10.1 (patch)");
  });

  test("PR subjects `(#12)` are linked; a merge commit is not listed, its branch's commits are", async () => {
    const r = await repo();
    await r.commit("chore: init");
    await r.tag("v1.0.0");
    await r.labelled("squash", "feat(chat): emote autocomplete (#12)");
    await r.git(["checkout", "-q", "-b", "feature/x"]);
    await r.labelled("branch", "fix: handle empty messages");
    await r.git(["checkout", "-q", "main"]);
    await r.labelled("direct", "perf: cache the user list (#15)");
    await r.git(["-c", "commit.gpgsign=false", "merge", "-q", "--no-ff", "feature/x", "-m", "Merge pull request #14 from acme/feature/x"]);
    const out = await r.release();
    expect(out.version).toBe("1.0.0 -> 1.1.0 (minor)");
    expect(out.notes).toMatchInlineSnapshot(`
      "## v1.1.0

      ### Features

      - **chat:** emote autocomplete ([#12](https://github.com/acme/bot/pull/12), [<squash:7>](https://github.com/acme/bot/commit/<squash>))

      ### Bug fixes

      - handle empty messages ([<branch:7>](https://github.com/acme/bot/commit/<branch>))

      ### Performance

      - cache the user list ([#15](https://github.com/acme/bot/pull/15), [<direct:7>](https://github.com/acme/bot/commit/<direct>))
      "
    `);
  });
});
