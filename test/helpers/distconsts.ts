import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "./variants.js";

/** The constants of dagger/engine/distconsts/consts.go, by name (a value is a literal, or literal + Name). */
export async function distconsts(): Promise<Record<string, string>> {
  const go = await readFile(join(REPO, "dagger/engine/distconsts/consts.go"), "utf8");
  const out: Record<string, string> = {};
  for (const m of go.matchAll(/^\s*([A-Z][A-Za-z]+)\s*=\s*(.+)$/gm)) {
    // a value is a string literal, or literal + Name
    out[m[1]!] = m[2]!.split("+").map((part) => {
      const p = part.trim();
      return p.startsWith('"') ? JSON.parse(p) : out[p] ?? `<unknown ${p}>`;
    }).join("");
  }
  return out;
}
