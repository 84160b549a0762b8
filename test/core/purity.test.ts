import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "vitest";
import { REPO } from "../helpers/variants.js";

const FORBIDDEN = ["@dagger.io/dagger", "execa", "node:child_process", "child_process", "node:net", "node:http", "node:fs", "fs/promises"];

test("the core imports no Dagger, no execa, no processes, no network and no file system", async () => {
  const dir = join(REPO, "src/core");
  const offenders: string[] = [];
  for (const f of await readdir(dir)) {
    const text = await readFile(join(dir, f), "utf8");
    for (const m of text.matchAll(/from\s+"([^"]+)"/g)) if (FORBIDDEN.includes(m[1]!)) offenders.push(`${f} imports ${m[1]}`);
  }
  expect(offenders).toEqual([]);
});
