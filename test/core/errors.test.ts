import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { ConfigError, configIssue, formatPath, formatSchemaIssues, InfraError, schemaIssueCode, ShipitError } from "../../src/core/errors.js";
import { REPO } from "../helpers/variants.js";

/**
 * The only plain errors src/ may raise: bugs in shipit itself, which no user can fix and no
 * caller should tell apart. Every other error is a ShipitError with a stable code. Each entry is
 * a file and the start of the message.
 */
const INVARIANTS: [file: string, message: string][] = [
  ["src/cli/shipit.ts", "src/index.ts has no JSDoc for the Dagger function"],
  ["src/runners/dagger.ts", "DaggerRunner.run called before prepare"],
  ["src/runners/dagger.ts", "steps share cache path"],
];

async function sourceFiles(dir = "src"): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(REPO, dir), { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Every plain `new Error(…)` (or `throw Error(…)`, TypeError, RangeError) in a file's text not on the list, as `file:line: text`. */
function plainErrors(file: string, text: string): string[] {
  const found: string[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    const m = /\b(?:new|throw)\s+(?:Type|Range|Syntax)?Error\s*\(\s*(?:[`"'](.*))?/.exec(line);
    if (!m) continue;
    const allowed = INVARIANTS.some(([f, message]) => f === file && (m[1] ?? "").startsWith(message));
    if (!allowed) found.push(`${file}:${i + 1}: ${line.trim()}`);
  }
  return found;
}

/** A class that extends Error itself: only ShipitError may, so every error class has a code. */
function rootErrorClasses(file: string, text: string): string[] {
  return [...text.matchAll(/class (\w+) extends Error\b/g)].map((m) => `${file}: ${m[1]}`);
}

describe("every deliberate error has a stable code", () => {
  test("src/ raises no plain Error outside the short list of invariants", async () => {
    const files = await sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const found: string[] = [];
    for (const f of files) found.push(...plainErrors(f, await readFile(join(REPO, f), "utf8")));
    expect(found).toEqual([]);
  });

  test("each listed invariant is still there (a stale entry would let a new plain error through)", async () => {
    const stale: string[] = [];
    for (const [file, message] of INVARIANTS) {
      const lines = (await readFile(join(REPO, file), "utf8")).split("\n");
      if (!lines.some((l) => l.includes("new Error(") && l.includes(message))) stale.push(`${file}: ${message}`);
    }
    expect(stale).toEqual([]);
  });

  test("only ShipitError extends Error; every code written in src/ is UPPER_SNAKE", async () => {
    const files = await sourceFiles();
    const roots: string[] = [];
    const codes = new Set<string>();
    for (const f of files) {
      const text = await readFile(join(REPO, f), "utf8");
      roots.push(...rootErrorClasses(f, text));
      for (const m of text.matchAll(/new (?:ShipitError|InfraError)\(\s*"([^"]*)"/g)) codes.add(m[1]!);
      for (const m of text.matchAll(/configIssue\(\{\s*code: "([^"]*)"/g)) codes.add(m[1]!);
    }
    expect(roots).toEqual(["src/core/errors.ts: ShipitError"]);
    expect(codes.size).toBeGreaterThan(30);
    expect([...codes].filter((c) => !/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/.test(c))).toEqual([]);
  });

  test("the scan can fail: it names a plain error, a TypeError and a bare throw, and lets a listed invariant through", () => {
    const probe = [
      'throw new Error("the report is broken");',
      "if (!x) throw new TypeError(`bad ${x}`);",
      "throw Error('no new');",
      'throw new ShipitError("FINE", "has a code");',
      'throw new Error(`steps share cache path ${path} under two names`);',
    ].join("\n");
    expect(plainErrors("src/runners/dagger.ts", probe)).toEqual([
      'src/runners/dagger.ts:1: throw new Error("the report is broken");',
      "src/runners/dagger.ts:2: if (!x) throw new TypeError(`bad ${x}`);",
      "src/runners/dagger.ts:3: throw Error('no new');",
    ]);
    // the same invariant in another file is not on the list
    expect(plainErrors("src/runners/host.ts", probe)).toHaveLength(4);
    expect(rootErrorClasses("src/x.ts", "export class Oops extends Error {}")).toEqual(["src/x.ts: Oops"]);
  });
});

describe("paths as people write them", () => {
  test.each([
    [[], "(root)"],
    [["runtime", 0], "runtime[0]"],
    [["environments", "test", "runtime", "channel"], "environments.test.runtime.channel"],
    [["lint", "paths", 1], "lint.paths[1]"],
    [[0, "code"], "[0].code"],
    [["files", "app/main.py", "summary"], 'files["app/main.py"].summary'],
    [["results", "a.b", 2], 'results["a.b"][2]'],
    [["--env"], "--env"],
  ] as [PropertyKey[], string][])("%j → %s", (path, key) => {
    expect(formatPath(path)).toBe(key);
  });

  test("zod's issues: every one with its path, zod's preamble dropped", () => {
    const r = z.object({ runtime: z.array(z.object({ port: z.number() })), name: z.string() }).safeParse({ runtime: [{ port: "80" }, {}] });
    expect(r.success).toBe(false);
    expect(formatSchemaIssues(r.error!.issues)).toBe("runtime[0].port: expected number, received string; runtime[1].port: expected number, received undefined; name: expected string, received undefined");
  });

  test("a long list of issues is cut at 20, counting the rest", () => {
    const issues = Array.from({ length: 23 }, (_, i) => ({ path: ["files", i], message: "Invalid input: expected object" }));
    const text = formatSchemaIssues(issues);
    expect(text.split("; ")).toHaveLength(21);
    expect(text).toMatch(/^files\[0\]: expected object; files\[1\]: expected object; .* files\[19\]: expected object; and 3 more issues$/);
    expect(formatSchemaIssues(issues.slice(0, 21))).toMatch(/; and 1 more issue$/);
  });
});

describe("config issues carry a code and a path next to the key", () => {
  test("the key follows from the path, unless given for what a path cannot name", () => {
    expect(configIssue({ code: "PATH_MISSING", path: ["lint", "paths", 0], value: "bots/", problem: "does not exist in the source", fix: "remove it" })).toEqual({
      code: "PATH_MISSING",
      path: ["lint", "paths", 0],
      key: "lint.paths[0]",
      value: "bots/",
      problem: "does not exist in the source",
      fix: "remove it",
    });
    const file = configIssue({ code: "NOT_JSON", path: [], key: "(file)", problem: "is not valid JSON", fix: "fix the JSON syntax" });
    expect(file).toEqual({ code: "NOT_JSON", path: [], key: "(file)", problem: "is not valid JSON", fix: "fix the JSON syntax" });
    expect(Object.keys(file)).not.toContain("value");
    expect(new ConfigError("shipit.json", [file]).message).toBe("invalid shipit config (shipit.json):\n  - (file): is not valid JSON. Fix: fix the JSON syntax");
  });

  test("zod's codes in upper case; shipit's grammar refinements are INVALID_FORMAT", () => {
    expect(["invalid_type", "too_small", "invalid_value", "custom", "invalid_format"].map(schemaIssueCode)).toEqual(["INVALID_TYPE", "TOO_SMALL", "INVALID_VALUE", "INVALID_FORMAT", "INVALID_FORMAT"]);
  });

  test("an InfraError is a ShipitError with its own code", () => {
    const e = new InfraError("REPORT_INVALID", "the report is broken", { cause: new Error("x") });
    expect([e instanceof ShipitError, e.code, e.name, e.message]).toEqual([true, "REPORT_INVALID", "InfraError", "the report is broken"]);
  });
});
