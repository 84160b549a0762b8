import { mkdir, mkdtemp, readdir, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { parseSize, pruneVenvs } from "../../src/runners/venv-prune.js";

test("sizes: bytes, K, M, G; a bad one names the variable and the fix", () => {
  expect(parseSize(undefined)).toBe(2 * 1024 ** 3);
  expect(parseSize("500M")).toBe(500 * 1024 ** 2);
  expect(parseSize("2G")).toBe(2 * 1024 ** 3);
  expect(parseSize("1024")).toBe(1024);
  expect(() => parseSize("lots")).toThrow("SHIPIT_VENV_CACHE_MAX=lots: not a size. Fix: write bytes or a size such as 2G or 500M");
});

test("least recently used venvs go until the rest fits the cap; the one in use stays", async () => {
  const root = await mkdtemp(join(tmpdir(), "shipit-venvs-"));
  const mk = async (name: string, kib: number, ageDays: number) => {
    await mkdir(join(root, name));
    await writeFile(join(root, name, "blob"), Buffer.alloc(kib * 1024));
    const t = new Date(Date.now() - ageDays * 86_400_000);
    await utimes(join(root, name), t, t);
  };
  await mk("oldest", 400, 30);
  await mk("old", 400, 20);
  await mk("recent", 400, 1);
  await mk("in-use", 400, 40); // the oldest, but the run uses it: marked used, never removed
  const removed = await pruneVenvs(root, join(root, "in-use"), 1000 * 1024);
  expect(removed.map((p) => p.slice(root.length + 1))).toEqual(["oldest", "old"]);
  expect((await readdir(root)).sort()).toEqual(["in-use", "recent"]);
});
