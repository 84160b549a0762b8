/**
 * The shrunk cases the config property (test/props/config.props.test.ts) found, and the file-level
 * cases of issue #20 (a BOM, bytes that are not UTF-8, a key given twice), as plain tests.
 */
import { expect, test } from "vitest";
import { resolveConfig } from "../../../src/core/config/config.js";
import { ConfigError } from "../../../src/core/errors.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";

async function refusal(text: string): Promise<ConfigError> {
  try {
    await resolveConfig(text, "shipit.json", memoryView(ROSEY));
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

test("a huge bad value is named by its first 200 characters and its length, not echoed whole", async () => {
  const e = await refusal(JSON.stringify("a".repeat(100_000)));
  expect(e.issues.map((i) => [i.code, i.key])).toEqual([["INVALID_TYPE", "(root)"]]);
  expect(e.message).toContain(`"${"a".repeat(199)}… (100002 characters)`);
  expect(e.message.length).toBeLessThan(1000);
});

test("a value nested thousands of levels deep is TOO_DEEP, not a stack overflow", async () => {
  const e = await refusal(`{"lint": {"paths": ${"[".repeat(4112)}${"]".repeat(4112)}}}`);
  expect(e.issues).toHaveLength(1);
  expect(e.issues[0]).toMatchObject({ code: "TOO_DEEP", key: "lint.paths[0][0][0][0]…", problem: "nests deeper than 32 levels" });
  expect(e.message).toContain("Fix: remove the nested value");
});

test("a NUL in test.args (it would reach pytest's argv) is refused", async () => {
  const e = await refusal(JSON.stringify({ test: { args: ["a\u0000b"] } }));
  expect(e.issues.map((i) => [i.code, i.key, i.problem])).toEqual([["INVALID_FORMAT", "test.args[0]", "must be one argument of printable text (no control characters such as NUL or a newline)"]]);
});

test("a NUL in health.logPattern (it would reach the agent's argv) is refused", async () => {
  const e = await refusal(JSON.stringify({ environments: { test: { host: "bot.example.org", health: { kind: "log", logPattern: "a\u0000b" } } } }));
  expect(e.issues.map((i) => [i.code, i.key, i.problem])).toEqual([["INVALID_FORMAT", "environments.test.health.logPattern", "must be one line of printable text (the journal is matched line by line)"]]);
});

test("a byte order mark before the JSON is accepted (RFC 8259 lets a parser ignore it)", async () => {
  const c = await resolveConfig(`\uFEFF${JSON.stringify({ name: "rosey" })}`, "shipit.json", memoryView(ROSEY));
  expect(c.name).toBe("rosey");
});

test("bytes that are not UTF-8 (read as U+FFFD) are NOT_UTF8 with the line and column, not a value silently changed", async () => {
  const text = Buffer.concat([Buffer.from('{\n  "name": "ro'), Buffer.from([0xff]), Buffer.from('sey"\n}')]).toString("utf8");
  const e = await refusal(text);
  expect(e.issues.map((i) => [i.code, i.key])).toEqual([["NOT_UTF8", "(file)"]]);
  expect(e.message).toContain("line 2, column 14 holds bytes that are not UTF-8");
  expect(e.message).toContain("Fix: save shipit.json as UTF-8");
});

test("a key given twice is DUPLICATE_KEY at its path (JSON.parse would keep the last one silently)", async () => {
  const e = await refusal('{"environments": {"test": {"host": "bot.example.org", "host": "other.example.org"}}}');
  expect(e.issues.map((i) => [i.code, i.key, i.fix])).toEqual([["DUPLICATE_KEY", "environments.test.host", 'keep one "host" and delete the other']]);
});

test("the same key in two different objects is not a duplicate", async () => {
  const c = await resolveConfig(JSON.stringify({ lint: { timeoutSec: 60 }, test: { timeoutSec: 60 } }), "shipit.json", memoryView(ROSEY));
  expect([c.lint.timeoutSec, c.test.timeoutSec]).toEqual([60, 60]);
});

test("a config error lists at most 50 issues and counts the rest", async () => {
  const e = await refusal(JSON.stringify({ lint: { select: Array.from({ length: 60 }, () => "x") } }));
  expect(e.issues).toHaveLength(60);
  expect(e.message.split("\n").filter((l) => l.startsWith("  - "))).toHaveLength(51);
  expect(e.message).toContain("  - and 10 more issues (fix these first)");
});
