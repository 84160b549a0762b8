/**
 * npm run bench:engine [-- --source=PATH] [--config=FILE] — the engine path against the host runner,
 * in one run, on the sample bot (default) or any Python repository (e.g. a checkout of the Rosey bot):
 *
 *   cold       a private engine with an empty cache volume vs the host runner with an empty cache;
 *   unchanged  the same tree again;
 *   change     after a one-line source change (dependencies unchanged): the case every commit hits;
 *   alone      each check by itself through the engine after a one-line change: the longest one is
 *              the floor ci is compared with.
 *
 * Medians of BENCH_RUNS (default 3), all runs in brackets; per gate, the durations ci's own summary
 * table reports; for the engine, where a call's time goes (SHIPIT_CALL_TIMINGS). BENCH_COLD=0 skips
 * the cold rounds. The source is copied to a temporary folder first, never modified in place.
 * Not a test: nothing here asserts a time.
 */
import { appendFile, cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { REPO, SAMPLE_BOT } from "../helpers/variants.js";

const RUNS = Number(process.env["BENCH_RUNS"] ?? 3);
const COLD = process.env["BENCH_COLD"] !== "0";
const ENV_FILE = "/var/lib/shipit-engine/env.sh";
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const sourceArg = resolve(arg("source") ?? SAMPLE_BOT);
const configArg = arg("config") && resolve(arg("config")!);
const GATES = ["dependencies", "lint", "typecheck", "test", "security", "build"] as const;

if (!existsSync(ENV_FILE)) throw new Error(`no engine: run \`npm run engine:up\` first (${ENV_FILE} is missing)`);
const engineEnv: Record<string, string> = {};
for (const m of (await readFile(ENV_FILE, "utf8")).matchAll(/^export ([A-Z_]+)=(.*)$/gm)) engineEnv[m[1]!] = m[2]!;

interface Run {
  seconds: number;
  gates: Record<string, number>;
  phases: Record<string, number>;
}

function parse(stdout: string, stderr: string, seconds: number): Run {
  const gates: Record<string, number> = {};
  // the table is on stdout when ci passes, in the error on stderr when a gate is red; durations read "4.4s" or "1m48s"
  for (const m of `${stdout}\n${stderr}`.matchAll(/^(dependencies|lint|typecheck|test|security|build) +(ok|FAILED|skipped) +(?:(\d+)m)?([\d.]+)s/gm)) {
    gates[m[1]!] ??= Number(m[3] ?? 0) * 60 + Number(m[4]);
  }
  const phases: Record<string, number> = {};
  for (const m of stderr.matchAll(/^shipit-call-timing (.+) ([\d.]+)s$/gm)) phases[m[1]!.replace(" (cached)", "")] = Number(m[2]);
  return { seconds, gates, phases };
}

async function engine(fn: string, src: string, env: Record<string, string> = {}): Promise<Run> {
  const started = performance.now();
  const args = [join(REPO, "dagger/call.ts"), fn, `--source=${src}`, ...(configArg ? [`--config=${configArg}`] : [])];
  const r = await execa(join(REPO, "node_modules/.bin/tsx"), args, { cwd: REPO, reject: false, env: { ...engineEnv, SHIPIT_CALL_TIMINGS: "1", ...env }, stdin: "ignore" });
  const run = parse(r.stdout, r.stderr, (performance.now() - started) / 1000);
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`npm run call -- ${fn} failed (exit ${r.exitCode}):\n${r.stderr.slice(-2000)}`);
  return run;
}

async function host(src: string, cacheRoot?: string): Promise<Run> {
  const started = performance.now();
  const r = await execa("node", [join(REPO, "dagger/bin/shipit.mjs"), "ci", `--source=${src}`, ...(configArg ? [`--config=${configArg}`] : [])], {
    cwd: REPO,
    reject: false,
    env: cacheRoot ? { SHIPIT_HOST_CACHE: cacheRoot } : {},
    stdin: "ignore",
  });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`shipit ci failed (exit ${r.exitCode}):\n${r.stderr.slice(-2000)}`);
  return parse(r.stdout, r.stderr, (performance.now() - started) / 1000);
}

/** A private engine with an empty cache, started and removed by engine-up/-down --name. */
async function coldEngine<T>(fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  const name = "dagger-engine-v0.19.10-bench-cold";
  await execa("bash", [join(REPO, "dagger/engine-down.sh"), `--name=${name}`, "--volume"], { reject: false });
  const up = await execa("bash", [join(REPO, "dagger/engine-up.sh"), `--name=${name}`], { reject: false });
  if (up.exitCode !== 0) throw new Error(`engine-up --name=${name} failed:\n${up.stderr.slice(-2000)}`);
  try {
    return await fn({ _EXPERIMENTAL_DAGGER_RUNNER_HOST: `docker-container://${name}` });
  } finally {
    await execa("bash", [join(REPO, "dagger/engine-down.sh"), `--name=${name}`, "--volume"], { reject: false });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `${median(xs).toFixed(1).padStart(6)} s  [${xs.map((x) => x.toFixed(1)).join(", ")}]`;
let counter = 0;
const change = (src: string) => appendFile(join(src, pickFile), `\n# bench change ${++counter}\n`);

const src = await mkdtemp(join(tmpdir(), "shipit-bench-src-"));
await cp(sourceArg, src, { recursive: true, filter: (p) => !/\/(\.git|\.venv|venv|node_modules|__pycache__|\.mypy_cache|\.pytest_cache|\.ruff_cache)(\/|$)/.test(p) });
const pyFiles = (await execa("find", [src, "-name", "*.py", "-not", "-path", "*/tests/*", "-not", "-name", "__init__.py"])).stdout.split("\n").filter(Boolean).sort();
// a module inside a package (lib/…, bot/…), which mypy and the tests import: a realistic edit
const rel = pyFiles.map((f) => f.slice(src.length + 1));
const pickFile = ["lib/", "common/", "bot/", "src/"].map((d) => rel.find((f) => f.startsWith(d))).find(Boolean) ?? rel.find((f) => f.includes("/")) ?? rel[0]!;
process.stderr.write(`bench:engine on ${sourceArg} (${pyFiles.length} source files; the change appends a comment to ${pickFile}), ${RUNS} runs each\n`);

const results: Record<string, Run[]> = {};
const add = (k: string, r: Run) => (results[k] ??= []).push(r);
try {
  for (let i = 0; i < RUNS; i++) {
    if (COLD) {
      add("cold engine", await coldEngine((env) => engine("ci", src, env)));
      const cache = await mkdtemp(join(tmpdir(), "shipit-bench-cache-"));
      add("cold host", await host(src, cache));
      await rm(cache, { recursive: true, force: true });
    }
    await engine("ci", src); // warm both for this tree
    await host(src);
    add("unchanged engine", await engine("ci", src));
    add("unchanged host", await host(src));
    await change(src);
    add("change engine", await engine("ci", src));
    await change(src);
    add("change host", await host(src));
    for (const check of ["lint", "typecheck", "test", "security"]) {
      await change(src);
      add(`alone ${check}`, await engine(check, src));
    }
    process.stderr.write(`round ${i + 1}/${RUNS} done\n`);
  }
} finally {
  await rm(src, { recursive: true, force: true });
}

const seconds = (k: string) => (results[k] ?? []).map((r) => r.seconds);
console.log(`\nbench:engine — ${sourceArg}, ${RUNS} runs each, medians (all runs in brackets)\n`);
for (const k of Object.keys(results)) console.log(`${k.padEnd(18)} ${fmt(seconds(k))}`);

console.log("\nper gate, after a one-line change (medians of ci's own table, seconds):");
console.log(`${"gate".padEnd(14)} ${"engine".padStart(7)} ${"host".padStart(7)}`);
for (const g of GATES) {
  const e = median(results["change engine"]!.map((r) => r.gates[g] ?? NaN));
  const h = median(results["change host"]!.map((r) => r.gates[g] ?? NaN));
  console.log(`${g.padEnd(14)} ${e.toFixed(1).padStart(7)} ${h.toFixed(1).padStart(7)}`);
}
console.log("\nwhere an engine call's time goes, after a one-line change (medians, seconds):");
for (const p of Object.keys(results["change engine"]![0]!.phases)) {
  console.log(`${p.padEnd(24)} ${median(results["change engine"]!.map((r) => r.phases[p] ?? NaN)).toFixed(2).padStart(6)}`);
}

const eng = median(seconds("change engine"));
const hst = median(seconds("change host"));
const alone = ["lint", "typecheck", "test", "security"].map((c) => [c, median(seconds(`alone ${c}`))] as const).sort((a, b) => b[1] - a[1]);
console.log(`\nafter a one-line change: engine ci ${eng.toFixed(1)} s = ${(eng / hst).toFixed(2)}x the host runner (${hst.toFixed(1)} s; goal <= 1.3x)`);
console.log(`                         = ${(eng / alone[0]![1]).toFixed(2)}x its longest check alone (${alone[0]![0]}, ${alone[0]![1].toFixed(1)} s; goal <= 1.5x)`);
if (COLD) console.log(`cold: engine ${median(seconds("cold engine")).toFixed(1)} s, host ${median(seconds("cold host")).toFixed(1)} s; unchanged: engine ${median(seconds("unchanged engine")).toFixed(1)} s, host ${median(seconds("unchanged host")).toFixed(1)} s`);
