/**
 * One source for each command's one-line description: the JSDoc of the matching Dagger function
 * in src/index.ts (what `dagger call X --help` shows). test/integration/shipit-cli.test.ts checks
 * `shipit X --help` against the SDK's own scan of the module.
 */
import { readFileSync } from "node:fs";

const INDEX = new URL("../index.ts", import.meta.url);

/** The first paragraph of a JSDoc block, on one line. */
export function firstParagraph(doc: string): string {
  const lines = doc.split("\n").map((l) => l.replace(/^\s*\*\s?/, "").trimEnd());
  const out: string[] = [];
  for (const l of lines) {
    if (!l.trim()) {
      if (out.length) break;
      continue;
    }
    if (l.trim().startsWith("@")) break;
    out.push(l.trim());
  }
  return out.join(" ");
}

/** The first sentence of a text (up to the first ". " or the end). */
export function firstSentence(text: string): string {
  const m = /^(.+?\.)(\s|$)/.exec(text);
  return (m ? m[1]! : text).trim();
}

let cached: Map<string, string> | undefined;

/** Dagger function name (camelCase) → the first sentence of its description, from src/index.ts (read once). */
export function functionDescriptions(): Map<string, string> {
  return (cached ??= parseDescriptions(readFileSync(INDEX, "utf8")));
}

function parseDescriptions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(?:@\w+\((?:[^()]|\([^()]*\))*\)\s*)*async (\w+)\(/g)) {
    out.set(m[2]!, firstSentence(firstParagraph(m[1]!)));
  }
  return out;
}
