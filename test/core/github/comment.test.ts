import { describe, expect, it } from "vitest";
import { fenced, inline, parseCommentContext, renderComment, type CommentContext, STICKY_MARKER } from "../../../src/core/github/comment.js";
import { argv, buildVersion, readEvent, showCommand, type ShimSettings } from "../../../src/core/github/workflow.js";

const SHA = "0123456789abcdef0123456789abcdef01234567"; // pragma: allowlist secret (a commit sha)
const gate = (name: string, status: "passed" | "failed" | "skipped", figure = "ok", detail = "") => ({ name, status, durationMs: 2500, figure, detail });

function context(over: Partial<CommentContext> = {}): CommentContext {
  return {
    pr: 7,
    sha: SHA,
    fork: false,
    ci: {
      ok: true,
      name: "rosey",
      gates: [gate("lint", "passed", "0 findings"), gate("test", "passed", "120 passed, coverage 91.3%"), gate("build", "passed", "rosey-1.3.0.tar.gz")],
      coverage: { percent: 91.3, threshold: 85 },
      artifact: "rosey-1.3.0-pr.7.g0123456.tar.gz",
      sha256: "a".repeat(64),
      version: "1.3.0-pr.7.g0123456",
      summary: "…",
    },
    deploy: { status: "succeeded", env: "test", version: "1.3.0-pr.7.g0123456", url: "https://cytu.be/r/test-rosey" },
    release: { previous: "1.2.0", next: "1.3.0", bump: "minor", notes: "## v1.3.0\n\n### Features\n\n- add !dice\n" },
    runUrl: "https://github.com/acme/rosey/actions/runs/1",
    reproduce: "npx shipit shim pull_request --pr=7",
    ...over,
  };
}

describe("the sticky comment", () => {
  it("holds the marker, the gate table, coverage, the deploy with its channel, the release preview, the run and the reproduce line", () => {
    const md = renderComment(context());
    expect(md.startsWith(`${STICKY_MARKER}\n### shipit · 0123456\n\n✅ **All checks passed**`)).toBe(true);
    expect(md).toContain("| gate | status | duration | figure |\n|---|---|---|---|\n| lint | ✅ passed | 2.5 s | 0 findings |");
    expect(md).toContain("**Coverage:** 91.3% (threshold 85%) ✅");
    expect(md).toContain("**Deploy to test:** ✅ v1.3.0-pr.7.g0123456 is live · [test channel](https://cytu.be/r/test-rosey)");
    expect(md).toContain("<details><summary>Next release if merged: v1.3.0 (minor from v1.2.0)</summary>\n\n## v1.3.0");
    expect(md).toContain("[Workflow run](https://github.com/acme/rosey/actions/runs/1) · reproduce locally:\n\n```sh\nnpx shipit shim pull_request --pr=7\n```");
  });

  it("names the failed gate and shows why, even when the deploy was skipped", () => {
    const c = context();
    c.ci!.ok = false;
    c.ci!.gates[1] = gate("test", "failed", "2 failed", "tests/test_bot.py::test_ping FAILED");
    c.ci!.coverage = { percent: 80, threshold: 85 };
    c.deploy = { status: "skipped", env: "test", message: "checks failed: test" };
    const md = renderComment(c);
    expect(md).toContain("❌ **Checks failed:** test");
    expect(md).toContain("<details><summary>test: why it failed</summary>\n\n```\ntests/test_bot.py::test_ping FAILED\n```");
    expect(md).toContain("**Coverage:** 80.0% (threshold 85%) ❌");
    expect(md).toContain("**Deploy to test:** ⏭️ skipped: checks failed: test");
  });

  it("says a fork is never deployed and gets no secrets", () => {
    const md = renderComment(context({ fork: true, deploy: { status: "skipped", env: "test" } }));
    expect(md).toContain("not deployed: this pull request comes from a fork. Forks never receive secrets and never deploy");
  });

  it("escapes what a fork controls: no HTML, no mentions, no second marker, no breaking out of a table or a fence", () => {
    const c = context({ fork: true });
    c.ci!.gates[0] = gate("lint", "failed", `x | <img src=x onerror=alert(1)> @org/admins ${STICKY_MARKER}`, "```\n<!-- shipit:sticky -->\n```");
    const md = renderComment(c);
    expect(md.split(STICKY_MARKER).length).toBe(2);
    expect(md).not.toMatch(/(?<!\\)<img/);
    expect(md).not.toContain("@org/admins");
    expect(md).toContain("x \\| \\<img src=x onerror=alert\\(1\\)\\>");
    // the detail's own fence cannot close ours
    expect(md).toContain("````\n```\n<!\u200b-- shipit:sticky -->\n```\n````");
  });

  it("inline() and fenced() are the two escapes", () => {
    expect(inline("a|b\nc `d`")).toBe("a\\|b c \\`d\\`");
    expect(fenced("no ticks")).toBe("```\nno ticks\n```");
    expect(fenced("has ```` four")).toBe("`````\nhas ```` four\n`````");
  });

  it("a context that is not shipit's is refused, naming the field", () => {
    expect(() => parseCommentContext({ ...context(), pr: -1 }, "comment.json")).toThrow("comment.json is not a PR comment context shipit wrote: pr: Too small");
    expect(() => parseCommentContext({ ...context(), extra: 1 }, "comment.json")).toThrow(/Unrecognized key/);
    expect(() => parseCommentContext({ ...context(), runUrl: "javascript:alert(1)" }, "c")).toThrow("c is not a PR comment context shipit wrote: runUrl: must be an http(s) URL");
    expect(() => parseCommentContext({ ...context(), deploy: { status: "succeeded", env: "test", url: "data:text/html,x" } }, "c")).toThrow("deploy.url: must be an http(s) URL");
  });
});

describe("the shim's data", () => {
  const s: ShimSettings = { source: ".", git: ".", repo: "acme/rosey", apiUrl: "https://api.github.com", out: ".shipit/ci", knownHosts: ".github/known_hosts" };

  it("reads pull_request, fork and deleted-fork payloads", () => {
    const pr = (head: string | null) => ({ pull_request: { number: 3, head: { sha: SHA, repo: head === null ? null : { full_name: head } } }, repository: { full_name: "acme/rosey" } });
    expect(readEvent("pull_request", pr("acme/rosey"))).toEqual({ event: "pull_request", pr: 3, sha: SHA, fork: false });
    expect(readEvent("pull_request", pr("mallory/rosey"))).toMatchObject({ fork: true });
    expect(readEvent("pull_request", pr(null))).toMatchObject({ fork: true });
    expect(() => readEvent("pull_request", { pull_request: { number: 3 } })).toThrow(/the pull_request event payload is not what GitHub sends: pull_request.head/);
    expect(() => readEvent("issues", {})).toThrow('unknown event "issues": the shim handles pull_request, push, workflow_dispatch, workflow_run');
  });

  it("versions: a PR pre-release, the next release, or <last>+g<sha> when nothing is releasable", () => {
    const preview = { next: "1.3.0", bump: "minor", previous: "1.2.0" };
    expect(buildVersion({ event: "pull_request", pr: 7, sha: SHA }, preview)).toBe("1.3.0-pr.7.g0123456");
    expect(buildVersion({ event: "push", sha: SHA }, preview)).toBe("1.3.0");
    expect(buildVersion({ event: "push", sha: SHA }, { next: "1.2.0", bump: "none", previous: "1.2.0" })).toBe("1.2.0+g0123456");
    expect(buildVersion({ event: "push", sha: SHA }, { next: "0.1.0", bump: "none", previous: null })).toBe("0.1.0");
  });

  it("argv: secrets only as env: references, -m when a module is named", () => {
    expect(argv.rollback({ ...s, module: "github.com/acme/shipit@v1.0.0" }, { env: "prod", run: "gh-1-1" })).toEqual([
      "call", "-m", "github.com/acme/shipit@v1.0.0", "rollback", "--source=.", "--env=prod", "--ssh-key=env:DEPLOY_SSH_KEY", "--known-hosts=.github/known_hosts", "--trigger=manual", "--run=gh-1-1",
    ]);
    expect(argv.prComment(s, ".shipit/ci/comment.json")).toEqual(["call", "pr-comment", "--repo=acme/rosey", "--token=env:GITHUB_TOKEN", "--github-api=https://api.github.com", "--context=.shipit/ci/comment.json"]);
    expect(showCommand("dagger", ["call", "x", "--description=a b's"])).toBe("dagger call x '--description=a b'\\''s'");
  });
});

describe("warnings", () => {
  it("are listed after the deploy, escaped, and only when there are some", () => {
    const md = renderComment(context({ warnings: ["notification not delivered: slack (SHIPIT_SLACK_WEBHOOK): <!channel> @everyone [x](http://evil)"] }));
    expect(md).toContain("⚠️ **Warnings** (none of them failed the run):\n\n- notification not delivered: slack \\(SHIPIT\\_SLACK\\_WEBHOOK\\): \\<\\!channel\\> @\u200beveryone \\[x\\]\\(http://evil\\)\n");
    expect(renderComment(context())).not.toContain("Warnings");
    expect(() => parseCommentContext({ ...context(), warnings: ["x".repeat(2001)] }, "comment.json")).toThrow("warnings[0]: Too big");
  });
});
