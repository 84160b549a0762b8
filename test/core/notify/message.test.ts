import { describe, expect, test } from "vitest";
import { buildMessage, cleanText, headline, LIMITS, type NotifyInput } from "../../../src/core/notify/message.js";
import { ConfigError } from "../../../src/core/errors.js";
import { NOTIFY_EVENTS } from "../../../src/core/config/notifications.js";

const base: NotifyInput = { env: "prod", event: "deploy-succeeded", version: "1.3.0", at: "2026-11-27T10:00:00Z" };

function argError(input: NotifyInput): ConfigError {
  try {
    buildMessage(input);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("the message model", () => {
  test("a PR deploy: trigger, actor, duration, links, and no cause on success", () => {
    const m = buildMessage({ ...base, env: "test", pr: 12, prTitle: "feat: add !dice", actor: "octocat", durationSec: 41.5, live: "1.3.0-20261127T100000Z", cause: "ignored on success", runUrl: "https://github.com/acme/rosey/actions/runs/1", prUrl: "https://github.com/acme/rosey/pull/12", repo: "acme/rosey" });
    expect(m).toEqual({
      env: "test",
      event: "deploy-succeeded",
      ok: true,
      severity: "info",
      headline: "✅ test: 1.3.0 is live and healthy",
      version: "1.3.0",
      live: "1.3.0-20261127T100000Z",
      trigger: { kind: "pull_request", pr: 12, title: "feat: add !dice" },
      actor: "octocat",
      durationSec: 41.5,
      links: { run: "https://github.com/acme/rosey/actions/runs/1", pr: "https://github.com/acme/rosey/pull/12" },
      repo: "acme/rosey",
      at: "2026-11-27T10:00:00Z",
    });
  });

  test.each([
    ["deploy-succeeded", {}, true, "info", "✅ prod: 1.3.0 is live and healthy"],
    ["deploy-failed", { live: "the release live before (untouched)" }, false, "warning", "⚠️ prod: the deploy of 1.3.0 failed; nothing changed"],
    ["deploy-failed", {}, false, "warning", "⚠️ prod: the deploy of 1.3.0 failed; what is live is not known"],
    ["rolled-back", {}, false, "warning", "↩️ prod: the deploy of 1.3.0 failed and was rolled back automatically"],
    ["rollback-failed", { commit: "0123456" }, false, "critical", "🚨 prod is DOWN: the deploy of 1.3.0 failed and so did its rollback"],
    ["rollback-failed", {}, false, "critical", "🚨 prod is DOWN: the manual rollback failed and could not go back"],
    ["manual-rollback", { version: "previous" }, true, "info", "↩️ prod: rolled back by hand to the previous release"],
    ["manual-rollback", { version: "1.2.0", failed: true, live: "1.3.0" }, false, "warning", "⚠️ prod: the manual rollback to 1.2.0 failed; nothing changed"],
    ["release-published", {}, true, "info", "📦 released v1.3.0"],
  ] as const)("%s %j: ok %s, %s, %s", (event, over, ok, severity, line) => {
    const m = buildMessage({ ...base, event, ...over });
    expect([m.ok, m.severity, m.headline]).toEqual([ok, severity, line]);
  });

  test("every event has a headline", () => {
    for (const event of NOTIFY_EVENTS) expect(headline({ env: "prod", event, ok: true, trigger: { kind: "manual" } })).toMatch(/\S/);
  });

  test("the trigger: a PR, else the merge commit, else by hand", () => {
    expect(buildMessage({ ...base, pr: 3 }).trigger).toEqual({ kind: "pull_request", pr: 3 });
    expect(buildMessage({ ...base, commit: "0123456789abcdef0123456789abcdef01234567" }).trigger).toEqual({ kind: "push", commit: "0123456789abcdef0123456789abcdef01234567" }); // pragma: allowlist secret (a commit sha)
    expect(buildMessage(base).trigger).toEqual({ kind: "manual" });
  });

  test("hostile text is kept but made one line, without control characters, and capped; a cause keeps its lines", () => {
    const m = buildMessage({ ...base, event: "deploy-failed", pr: 1, prTitle: `a\u0007b\n\r\tc ${"x".repeat(10_000)}`, actor: "\u001b[31mred", cause: `line 1\r\nline\u0000 2\n${"y".repeat(10_000)}`, live: "z".repeat(999) });
    expect(m.trigger).toMatchObject({ title: expect.stringMatching(/^a b c x+…$/) });
    expect([...(m.trigger as { title: string }).title]).toHaveLength(LIMITS.title);
    expect(m.actor).toBe("[31mred");
    expect(m.cause!.startsWith("line 1\nline 2\nyyy")).toBe(true);
    expect([...m.cause!]).toHaveLength(LIMITS.cause);
    expect(m.live).toHaveLength(LIMITS.live);
  });

  test("cleanText: blank is absent; astral characters are never cut in half", () => {
    expect(cleanText(" \n\t ", 10)).toBeUndefined();
    expect(cleanText(undefined, 10)).toBeUndefined();
    expect(cleanText("🚀".repeat(20), 5)).toBe("🚀🚀🚀🚀…");
  });
});

describe("malformed arguments are refused, naming each and the fix", () => {
  test("an unknown event gets a did-you-mean", () => {
    expect(argError({ ...base, event: "deploy-succeded" }).message).toMatchInlineSnapshot(`
      "invalid shipit config (notify arguments):
        - --event = "deploy-succeded": is not a notification event. Fix: did you mean "deploy-succeeded"? events are: deploy-succeeded, deploy-failed, rolled-back, rollback-failed, manual-rollback, release-published"
    `);
  });

  test("links must be http(s), the environment and the version their grammar; --failed is for manual-rollback", () => {
    const e = argError({ ...base, env: "Prod", version: "-rf", runUrl: "javascript:alert(1)", prUrl: "https://ok.example/pr/1", failed: true });
    expect(e.issues.map((i) => [i.key, i.problem])).toEqual([
      ["--env", "must be an environment name such as test or prod"],
      ["--version", "must be a version such as 1.2.3 (letters, digits, '.', '+', '!', '_', '-')"],
      ["--run-url", "must be an http(s) URL"],
      ["--failed", "applies to manual-rollback only (deploy-succeeded says its own outcome)"],
    ]);
  });
});
