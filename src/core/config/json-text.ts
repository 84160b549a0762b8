/**
 * What JSON.parse lets through silently in a config file, found in its text: a key given twice in
 * one object (JSON.parse keeps the last one, so the value a reviewer reads may not be the one
 * that applies) and nesting deeper than any shipit.json needs (deep enough, it overflows the
 * stack of whatever walks the value). Also the file-level problems: a byte order mark (accepted)
 * and bytes that are not UTF-8 (read as U+FFFD by every runner: refused, rather than a value
 * silently changed).
 */
import { configIssue, type ConfigIssue, type IssuePath } from "../errors.js";

/** shipit.json needs 7 levels (environments.test.notifications.targets[0].events); a config's extra keys may nest a little more. */
export const MAX_DEPTH = 32;

interface Frame {
  array: boolean;
  path: IssuePath;
  keys: Set<string>;
  key: string;
  index: number;
  expectKey: boolean;
}

/**
 * Keys given twice and nesting past MAX_DEPTH, by path. `text` is JSON that JSON.parse accepted;
 * the walk is iterative, so it has no depth limit of its own.
 */
export function jsonTextIssues(text: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const stack: Frame[] = [];
  const childPath = (): IssuePath => {
    const top = stack.at(-1);
    if (!top) return [];
    return [...top.path, top.array ? top.index : top.key];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack.at(-1);
      if (top && !top.array && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) {
          issues.push(configIssue({ code: "DUPLICATE_KEY", path: [...top.path, key], problem: "is given twice in the same object (JSON keeps only the last one)", fix: `keep one "${key}" and delete the other` }));
        }
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      const path = childPath();
      if (stack.length >= MAX_DEPTH) {
        issues.push(configIssue({ code: "TOO_DEEP", path: path.slice(0, 12), key: `${formatShort(path)}`, problem: `nests deeper than ${MAX_DEPTH} levels`, fix: "remove the nested value: no shipit.json key takes more than a few levels (CONFIGURATION.md)" }));
        return issues;
      }
      stack.push({ array: c === "[", path, keys: new Set(), key: "", index: 0, expectKey: c === "{" });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === ",") {
      const top = stack.at(-1);
      if (top?.array) top.index++;
      else if (top) top.expectKey = true;
    }
  }
  return issues;
}

/** A deep path's first steps, for the issue's key: `zzz[0][0][0]…`. */
function formatShort(path: IssuePath): string {
  const head = path.slice(0, 6).reduce<string>((acc, s) => (typeof s === "number" ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
  return `${head || "(root)"}${path.length > 6 ? "…" : ""}`;
}

/** Line and column (1-based) of an offset, for a message about the file's text. */
export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/**
 * The file's text as JSON.parse should see it: without a byte order mark (RFC 8259 lets a parser
 * ignore one; editors on Windows write it). Text holding U+FFFD is refused: that is what a runner
 * reads where the file has bytes that are not UTF-8.
 */
export function configText(text: string): { text: string } | { issue: ConfigIssue } {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const bad = body.indexOf("\uFFFD");
  if (bad >= 0) {
    return {
      issue: configIssue({ code: "NOT_UTF8", path: [], key: "(file)", problem: `is not valid UTF-8 (${lineColumn(body, bad)} holds bytes that are not UTF-8, or the replacement character U+FFFD)`, fix: "save shipit.json as UTF-8 (or write that character as a \\uXXXX escape)" }),
    };
  }
  return { text: body };
}
