import { describe, expect, test } from "vitest";
import { computeRelease, latestReleaseTag, tagVersion, type GitCommit } from "../../../src/core/github/release.js";
import { ShipitError } from "../../../src/core/errors.js";

const REPO = "acme/bot";
let n = 0;
function c(subject: string, body = ""): GitCommit {
  n += 1;
  return { sha: `${n.toString(16).padStart(2, "0")}`.repeat(20), subject, body };
}
function plan(lastTag: string | null, commits: GitCommit[], firstVersion = "0.1.0") {
  return computeRelease({ lastTag, firstVersion, commits, repo: REPO });
}
const v = (lastTag: string | null, ...subjects: string[]) => {
  const p = plan(lastTag, subjects.map((s) => c(s)));
  return `${p.previous} -> ${p.next} (${p.bump})`;
};

describe("version", () => {
  test("no tag: the configured first version", () => {
    expect(v(null, "feat: hello")).toBe("null -> 0.1.0 (minor)");
    expect(plan(null, [c("fix: x")], "1.0.0").next).toBe("1.0.0");
    expect(v(null, "chore: init")).toBe("null -> 0.1.0 (none)");
  });
  test("fix and perf bump patch", () => {
    expect(v("v1.2.3", "fix: a")).toBe("1.2.3 -> 1.2.4 (patch)");
    expect(v("v1.2.3", "perf(db): faster")).toBe("1.2.3 -> 1.2.4 (patch)");
  });
  test("feat bumps minor and wins over fix", () => {
    expect(v("v1.2.3", "fix: a", "feat(chat): b", "docs: c")).toBe("1.2.3 -> 1.3.0 (minor)");
  });
  test("breaking: `!` or a BREAKING CHANGE footer bumps major", () => {
    expect(v("v1.2.3", "feat!: drop py3.9")).toBe("1.2.3 -> 2.0.0 (major)");
    expect(v("v1.2.3", "fix(api)!: rename")).toBe("1.2.3 -> 2.0.0 (major)");
    expect(plan("v1.2.3", [c("refactor: config", "Moves things.\n\nBREAKING CHANGE: `bot.yml` is now `bot.toml`")]).next).toBe("2.0.0");
    expect(plan("v1.2.3", [c("fix: x", "BREAKING-CHANGE: y")]).bump).toBe("major");
  });
  test("0.x: a breaking change bumps minor, feat minor, fix patch", () => {
    expect(v("v0.3.1", "feat!: new protocol")).toBe("0.3.1 -> 0.4.0 (minor)");
    expect(v("v0.3.1", "feat: x")).toBe("0.3.1 -> 0.4.0 (minor)");
    expect(v("v0.3.1", "fix: x")).toBe("0.3.1 -> 0.3.2 (patch)");
  });
  test("nothing releasable: none, next = previous", () => {
    expect(v("v1.2.3", "docs: readme", "chore: deps", "Update things")).toBe("1.2.3 -> 1.2.3 (none)");
    expect(v("v1.2.3")).toBe("1.2.3 -> 1.2.3 (none)");
  });
  test("a BREAKING CHANGE footer on a non-conventional subject is not releasable", () => {
    expect(plan("v1.0.0", [c("Update everything", "BREAKING CHANGE: x")]).bump).toBe("none");
  });
  test("from a prerelease tag", () => {
    expect(v("v2.0.0-rc.1", "fix: x")).toBe("2.0.0-rc.1 -> 2.0.0 (patch)");
  });
  test("bad inputs", () => {
    expect(() => plan(null, [], "1.0")).toThrow(ShipitError);
    expect(() => plan("release-1", [])).toThrow(/not a v<semver> release tag/);
    expect(() => computeRelease({ lastTag: null, firstVersion: "0.1.0", commits: [], repo: "nope" })).toThrow(/OWNER\/REPO/);
  });
});

describe("tags", () => {
  test("only v<semver> counts", () => {
    expect(tagVersion("v1.2.3")).toBe("1.2.3");
    expect(tagVersion("v1.2.3-rc.1")).toBe("1.2.3-rc.1");
    for (const t of ["1.2.3", "v1.2", "v01.2.3", "release-1.2.3", "v1.2.3.4", "vfoo.1.2"]) expect(tagVersion(t)).toBeNull();
  });
  test("the highest by semver, not by name", () => {
    expect(latestReleaseTag(["v1.9.0", "v1.10.0", "v1.10.0-rc.1", "v2.0", "latest"])).toBe("v1.10.0");
    expect(latestReleaseTag(["v2.0", "nightly"])).toBeNull();
    expect(latestReleaseTag([])).toBeNull();
  });
});

describe("notes", () => {
  test("grouped in a fixed order, with PR and commit links", () => {
    n = 0;
    const commits = [
      c("perf: cache emotes (#40)"),
      c("Update README"),
      c("fix(chat): reconnect after a kick (#38)"),
      c("feat(commands)!: `!roll` takes dice notation (#37)", "Old `!roll 6` still works.\n\nBREAKING CHANGE: `!roll` without\nan argument now errors"),
      c("docs: deployment guide"),
      c("feat: greet newcomers"),
      c("refactor: store", "BREAKING CHANGE: the sqlite schema changed"),
    ];
    const p = plan("v1.4.2", commits);
    expect(p.next).toBe("2.0.0");
    expect(p.notes).toMatchInlineSnapshot(`
      "## v2.0.0

      ### Breaking changes

      - **commands:** \`!roll\` takes dice notation ([#37](https://github.com/acme/bot/pull/37), [0404040](https://github.com/acme/bot/commit/0404040404040404040404040404040404040404))
        - \`!roll\` without an argument now errors
      - store ([0707070](https://github.com/acme/bot/commit/0707070707070707070707070707070707070707))
        - the sqlite schema changed

      ### Features

      - greet newcomers ([0606060](https://github.com/acme/bot/commit/0606060606060606060606060606060606060606))

      ### Bug fixes

      - **chat:** reconnect after a kick ([#38](https://github.com/acme/bot/pull/38), [0303030](https://github.com/acme/bot/commit/0303030303030303030303030303030303030303))

      ### Performance

      - cache emotes ([#40](https://github.com/acme/bot/pull/40), [0101010](https://github.com/acme/bot/commit/0101010101010101010101010101010101010101))

      ### Other

      - Update README ([0202020](https://github.com/acme/bot/commit/0202020202020202020202020202020202020202))
      - docs: deployment guide ([0505050](https://github.com/acme/bot/commit/0505050505050505050505050505050505050505))
      "
    `);
  });
  test("a non-conventional subject keeps its text under Other, PR link included", () => {
    const notes = plan("v1.0.0", [{ sha: "abcdef0123456789abcdef0123456789abcdef01", subject: "Bump requests (#9)", body: "" }]).notes;
    expect(notes).toBe(
      "## v1.0.0\n\n### Other\n\n- Bump requests ([#9](https://github.com/acme/bot/pull/9), [abcdef0](https://github.com/acme/bot/commit/abcdef0123456789abcdef0123456789abcdef01))\n",
    );
  });
  test("a release with nothing in it", () => {
    expect(plan("v1.0.0", []).notes).toMatchInlineSnapshot(`
      "## v1.0.0

      No changes.
      "
    `);
  });
});
