/**
 * What a TypeScript file imports, read by TypeScript's own pre-processor (not a regex): static
 * imports and re-exports with either quote, side-effect imports, `import type`, and dynamic
 * `import("…")`. Relative specifiers are resolved to repository paths (`.js` → `.ts`).
 */
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

export interface Import {
  /** As written: `zod`, `node:fs`, `../config/config.js`. */
  specifier: string;
  /** For a relative import: the repository path of the file it names, e.g. `src/core/config/config.ts`. */
  target?: string;
}

export function importsOfText(text: string, file: string, repo: string): Import[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map(({ fileName }) => {
    if (!fileName.startsWith(".")) return { specifier: fileName };
    const abs = resolve(dirname(join(repo, file)), fileName).replace(/\.js$/, ".ts");
    return { specifier: fileName, target: relative(repo, abs) };
  });
}

export async function importsOf(file: string, repo: string): Promise<Import[]> {
  return importsOfText(await readFile(join(repo, file), "utf8"), file, repo);
}

/** Every cycle in a graph of file → files it imports, each as the path that closes it. */
export function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}
