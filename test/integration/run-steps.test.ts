/**
 * src/python/run_steps.py, the Dagger runner's batch runner, run with the real python3: steps side
 * by side, each with its folder, environment, exit-code rules, timeout and output files.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, test } from "vitest";
import { REPO } from "../helpers/variants.js";

const SCRIPT = join(REPO, "src/python/run_steps.py");
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "shipit-run-steps-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function run(steps: object[]) {
  const spec = join(dir, `spec-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(spec, JSON.stringify({ steps }));
  return execa("python3", [SCRIPT, spec], { reject: false });
}
const result = async (out: string) => JSON.parse(await readFile(join(out, "result.json"), "utf8")) as { exitCode: number; durationMs: number; argv: string[]; timedOut: boolean };

test("steps run side by side, each in its folder with its environment; output goes to files", async () => {
  const a = join(dir, "a");
  const b = join(dir, "b");
  // each waits for the other's flag: run one after the other, the first would time out
  const wait = (mine: string, theirs: string) => `touch ${join(dir, mine)}; while [ ! -e ${join(dir, theirs)} ]; do sleep 0.05; done`;
  const r = await run([
    { id: "a", commands: [["sh", "-c", `${wait("flag-a", "flag-b")}; echo A=$A; pwd; echo to-stderr >&2`]], cwd: dir, env: { A: "one" }, dirs: [join(dir, "made/by/a")], okExitCodes: [0], timeoutSec: 20, out: a },
    { id: "b", commands: [["sh", "-c", `${wait("flag-b", "flag-a")}; echo B=\${A:-unset}`]], cwd: "/", env: {}, okExitCodes: [0], timeoutSec: 20, out: b },
  ]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toBe(""); // nothing through the script's own output
  expect((await result(b)).timedOut).toBe(false);
  expect(await readFile(join(a, "stdout"), "utf8")).toBe(`A=one\n${dir}\n`);
  expect(await readFile(join(a, "stderr"), "utf8")).toBe("to-stderr\n");
  expect(await readFile(join(b, "stdout"), "utf8")).toBe("B=unset\n");
  expect(existsSync(join(dir, "made/by/a"))).toBe(true);
  expect(await result(a)).toMatchObject({ exitCode: 0, timedOut: false });
});

test("the first failing command ends a step; the last may exit with an ok code; a missing tool is 127", async () => {
  const out = (n: string) => join(dir, n);
  const r = await run([
    { id: "stops", commands: [["sh", "-c", "exit 3"], ["sh", "-c", "echo never"]], cwd: dir, env: {}, okExitCodes: [0, 3], timeoutSec: 30, out: out("stops") },
    { id: "last-ok", commands: [["true"], ["sh", "-c", "echo findings; exit 1"]], cwd: dir, env: {}, okExitCodes: [0, 1], timeoutSec: 30, out: out("last-ok") },
    { id: "missing", commands: [["/no/such/tool", "x"]], cwd: dir, env: {}, okExitCodes: [0], timeoutSec: 30, out: out("missing") },
  ]);
  expect(r.exitCode).toBe(0);
  expect(await result(out("stops"))).toMatchObject({ exitCode: 3, argv: ["sh", "-c", "exit 3"] });
  expect(await readFile(join(out("stops"), "stdout"), "utf8")).toBe("");
  expect(await result(out("last-ok"))).toMatchObject({ exitCode: 1, argv: ["sh", "-c", "echo findings; exit 1"] });
  expect(await readFile(join(out("last-ok"), "stdout"), "utf8")).toBe("findings\n");
  expect(await result(out("missing"))).toMatchObject({ exitCode: 127 });
  expect(await readFile(join(out("missing"), "stderr"), "utf8")).toContain("shipit: cannot start /no/such/tool: No such file or directory");
});

test("a step past its timeout is killed with everything it started, and says so; the others finish", async () => {
  const slow = join(dir, "slow");
  const quick = join(dir, "quick");
  const r = await run([
    { id: "slow", commands: [["sh", "-c", "echo started; sleep 60 & sleep 60; echo never"]], cwd: dir, env: {}, okExitCodes: [0], timeoutSec: 1, out: slow },
    { id: "quick", commands: [["echo", "done"]], cwd: dir, env: {}, okExitCodes: [0], timeoutSec: 30, out: quick },
  ]);
  expect(r.exitCode).toBe(0);
  expect(await result(slow)).toMatchObject({ exitCode: 124, timedOut: true });
  expect(await readFile(join(slow, "stdout"), "utf8")).toBe("started\n");
  expect(await result(quick)).toMatchObject({ exitCode: 0, timedOut: false });
  // the background sleep went with its group
  expect((await execa("pgrep", ["-f", "^sleep 60$"], { reject: false })).stdout).toBe("");
});

test("an unusable spec is exit 2 with the reason, and runs nothing", async () => {
  const r = await run([{ id: "x", commands: [["touch", join(dir, "ran")]], cwd: dir }]);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain("unusable spec");
  expect(r.stderr).toContain("step x has no 'out'");
  expect(existsSync(join(dir, "ran"))).toBe(false);
});
