/**
 * The GitHub inputs shared by the module (src/index.ts) and the shim: OWNER/REPO, a deployment id
 * and state, and the repository from a git remote. Exact values, codes and messages.
 */
import { describe, expect, test } from "vitest";
import { fullName, isRepo, parseDeploymentId, parseDeploymentState, parseRepo, repoFromRemote, safeParseDeploymentId } from "../../../src/core/github/inputs.js";
import { readEvent } from "../../../src/core/github/workflow.js";
import { thrown } from "../../helpers/thrown.js";


describe("parseRepo", () => {
  test.each([
    ["acme/rosey", { owner: "acme", repo: "rosey" }],
    ["Acme-Org/rosey.bot", { owner: "Acme-Org", repo: "rosey.bot" }],
    ["a_b/c-d_e.f", { owner: "a_b", repo: "c-d_e.f" }],
  ])("%s", (text, ref) => {
    expect(parseRepo(text)).toStrictEqual(ref);
    expect(fullName(parseRepo(text))).toBe(text);
    expect(isRepo(text)).toBe(true);
  });

  test.each([
    ["rosey", "--repo", `--repo must be OWNER/REPO, such as acme/rosey, not "rosey"`],
    ["acme/rosey/extra", "--repo", `--repo must be OWNER/REPO, such as acme/rosey, not "acme/rosey/extra"`],
    ["acme/", "--repo", `--repo must be OWNER/REPO, such as acme/rosey, not "acme/"`],
    ["/rosey", "--repo", `--repo must be OWNER/REPO, such as acme/rosey, not "/rosey"`],
    ["../..", "--repo", `--repo must be OWNER/REPO, such as acme/rosey, not "../.."`],
    ["acme/.", "--repo", `--repo must be OWNER/REPO, such as acme/rosey, not "acme/."`],
    ["acme/ro sey", "GITHUB_REPOSITORY", `GITHUB_REPOSITORY must be OWNER/REPO, such as acme/rosey, not "acme/ro sey"`],
    ["acme/rosey;id", "GITHUB_REPOSITORY", `GITHUB_REPOSITORY must be OWNER/REPO, such as acme/rosey, not "acme/rosey;id"`],
  ])("%j from %s is refused", (text, from, message) => {
    const e = thrown(() => parseRepo(text, from));
    expect(e.code).toBe("INPUT_REPO");
    expect(e.message).toBe(message);
    expect(isRepo(text)).toBe(false);
  });

  test("the event schemas use the same test: a pull request from ../.. is not what GitHub sends", () => {
    const payload = { pull_request: { number: 1, head: { sha: "a".repeat(40), repo: { full_name: "../.." } } }, repository: { full_name: "acme/rosey" } };
    expect(() => readEvent("pull_request", payload)).toThrow(
      "the pull_request event payload is not what GitHub sends: pull_request.head.repo.full_name: must be OWNER/REPO. Fix: pass the event file GitHub wrote ($GITHUB_EVENT_PATH), or one shaped like it",
    );
  });
});

describe("repoFromRemote", () => {
  test.each([
    ["git@github.com:acme/rosey.git", "acme/rosey"],
    ["git@github.com:acme/rosey", "acme/rosey"],
    ["https://github.com/acme/rosey.git", "acme/rosey"],
    ["https://github.com/acme/rosey", "acme/rosey"],
    ["https://github.com/acme/rosey/", "acme/rosey"],
    ["ssh://git@github.com/acme/rosey.bot.git", "acme/rosey.bot"],
    ["  https://github.com/acme/rosey.git\n", "acme/rosey"],
  ])("%j is %s", (url, repo) => {
    expect(repoFromRemote(url)).toBe(repo);
  });

  test.each([[undefined], [""], ["https://gitlab.com/acme/rosey.git"], ["git@github.com:acme.git"], ["https://github.com/acme/rosey/tree/main"], ["https://github.com/../...git"]])(
    "%j names no GitHub repository",
    (url) => {
      const e = thrown(() => repoFromRemote(url));
      expect(e.code).toBe("INPUT_REPO_UNKNOWN");
      expect(e.message).toBe("which GitHub repository? Set GITHUB_REPOSITORY=OWNER/REPO (Actions sets it), or add a github.com origin remote");
    },
  );
});

describe("deployment ids", () => {
  test.each([
    ["1", 1],
    ["4242", 4242],
    ["9007199254740991", 9007199254740991],
  ])("%s is %d", (text, id) => {
    expect(parseDeploymentId(text)).toBe(id);
    expect(safeParseDeploymentId(text)).toStrictEqual({ ok: true, value: id });
  });

  test.each([["0"], ["042"], ["-1"], ["1.5"], ["1e3"], [" 42"], ["42\n"], [""], ["9007199254740993"], ["DEPLOYMENT_ID"]])("%j is refused", (text) => {
    const message = `--id must be the number deployment-start printed, not ${JSON.stringify(text)}`;
    expect(safeParseDeploymentId(text)).toStrictEqual({ ok: false, error: message });
    const e = thrown(() => parseDeploymentId(text));
    expect(e.code).toBe("INPUT_DEPLOYMENT_ID");
    expect(e.message).toBe(message);
  });

  test("the error names where the id came from", () => {
    expect(safeParseDeploymentId("x", "deployment-start's output")).toStrictEqual({ ok: false, error: `deployment-start's output must be the number deployment-start printed, not "x"` });
  });
});

describe("deployment states", () => {
  test.each([["success"], ["failure"], ["error"]] as const)("%s", (state) => {
    expect(parseDeploymentState(state)).toBe(state);
  });

  test.each([["in_progress"], ["inactive"], ["Success"], ["ok"], [""]])("%j is refused", (text) => {
    const e = thrown(() => parseDeploymentState(text));
    expect(e.code).toBe("INPUT_DEPLOYMENT_STATE");
    expect(e.message).toBe(`--state must be success, failure or error, not ${JSON.stringify(text)}`);
  });
});
