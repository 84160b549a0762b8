import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { importsOf, importsOfText, type Import } from "../helpers/imports.js";
import { REPO } from "../helpers/variants.js";

/**
 * The core is pure: it may import only itself, shipit's JSON config files, and these libraries
 * that do no I/O. Anything else (Dagger, execa, node:fs, node:child_process, the network) is an
 * offender, however it is written: either quote, `node:` or not, `import type`, `export … from`,
 * or a dynamic `await import(…)`.
 */
const PURE_PACKAGES = ["zod", "smol-toml", "semver", "conventional-commits-parser", "fast-xml-parser", "ignore", "sarif", "node:path"];

function offenders(file: string, imports: Import[]): string[] {
  return imports
    .filter((i) => (i.target ? !(i.target.startsWith("src/core/") || /^config\/[^/]+\.json$/.test(i.target)) : !PURE_PACKAGES.includes(i.specifier)))
    .map((i) => `${file} imports ${i.specifier}`);
}

async function coreFiles(dir = "src/core"): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(REPO, dir), { withFileTypes: true })) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...(await coreFiles(path)));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

test("the core imports no Dagger, no execa, no processes, no network and no file system", async () => {
  const files = await coreFiles();
  expect(files.length).toBeGreaterThan(20);
  const found: string[] = [];
  for (const f of files) found.push(...offenders(f, await importsOf(f, REPO)));
  expect(found).toEqual([]);
});

describe("the purity check catches every way of writing an import", () => {
  const probe = [
    `import { readFileSync } from "fs";`,
    `import { homedir } from 'node:os';`,
    `import type { Agent } from "node:https";`,
    `export { spawn } from "node:child_process";`,
    `import "node:net";`,
    `const { execa } = await import("execa");`,
    `const cp = await import('node:child_process');`,
    `import { z } from "zod";`,
    `import { closest } from "../text.js";`,
    `import { runAll } from "../../runners/host.js";`,
    `import defaults from "../../../config/defaults.json" with { type: "json" };`,
  ].join("\n");

  test("a probe with nine kinds of import is caught on each forbidden one, and only those", () => {
    expect(offenders("src/core/config/probe.ts", importsOfText(probe, "src/core/config/probe.ts", REPO))).toEqual([
      "src/core/config/probe.ts imports fs",
      "src/core/config/probe.ts imports node:os",
      "src/core/config/probe.ts imports node:https",
      "src/core/config/probe.ts imports node:child_process",
      "src/core/config/probe.ts imports node:net",
      "src/core/config/probe.ts imports execa",
      "src/core/config/probe.ts imports node:child_process",
      "src/core/config/probe.ts imports ../../runners/host.js",
    ]);
  });
});
