/**
 * npm run bench — times, in one run, on the sample bot:
 *   (a) baseline: what a hand-written CI job does — fresh venv, pip install (no cache), then ruff,
 *       mypy and pytest one after another;
 *   (b) shipit: the same checks through the host runner, warm dependency layer, run concurrently;
 *   (c) the dependency install alone, pip vs uv, both into a fresh venv with a warm package cache.
 * Prints medians side by side. Not a test: nothing here asserts a time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { DEFAULTS } from "../../src/core/config/config.js";
import { runCheck } from "../../src/core/checks/pipeline.js";
import { hostSetup } from "../helpers/host.js";
import { makeVariant, REPO } from "../helpers/variants.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const t = DEFAULTS.tools;
const TOOLS = [`ruff==${t.ruff}`, `mypy==${t.mypy}`, `pytest==${t.pytest}`, `pytest-cov==${t.pytestCov}`];

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function sh(cwd: string, cmd: string[], env: Record<string, string> = {}) {
  const r = await execa(cmd[0]!, cmd.slice(1), { cwd, env, reject: false });
  if (r.exitCode !== 0 && !cmd.includes("pytest")) throw new Error(`${cmd.join(" ")} failed:\n${r.stderr}`);
}

async function baseline(src: string): Promise<number> {
  const venv = await mkdtemp(join(tmpdir(), "bench-venv-"));
  try {
    return await time(async () => {
      await sh(src, ["python3", "-m", "venv", venv]);
      await sh(src, [`${venv}/bin/pip`, "install", "--quiet", "--no-cache-dir", "-r", "requirements.txt", ...TOOLS]);
      await sh(src, [`${venv}/bin/ruff`, "check", "--no-cache", "."]);
      await sh(src, [`${venv}/bin/mypy`, "--cache-dir=/dev/null", "lib", "common", "bot", "web"]);
      await sh(src, [`${venv}/bin/python`, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov", "--cov-report=term"]);
    });
  } finally {
    await rm(venv, { recursive: true, force: true });
  }
}

async function shipit(src: string): Promise<number> {
  return time(async () => {
    const s = await hostSetup(src);
    await Promise.all([runCheck("lint", s.plan, s.runner, s.config), runCheck("typecheck", s.plan, s.runner, s.config), runCheck("test", s.plan, s.runner, s.config)]);
  });
}

async function install(src: string, installer: "pip" | "uv"): Promise<number> {
  const venv = await mkdtemp(join(tmpdir(), `bench-${installer}-`));
  const caches = join(REPO, ".shipit/host/caches");
  try {
    await sh(src, ["python3", "-m", "venv", venv]);
    if (installer === "uv") await sh(src, [`${venv}/bin/pip`, "install", "--quiet", `uv==${t.uv}`], { PIP_CACHE_DIR: `${caches}/pip` });
    const env = { PIP_CACHE_DIR: `${caches}/pip`, UV_CACHE_DIR: `${caches}/uv`, UV_LINK_MODE: "copy" };
    const cmd = installer === "uv"
      ? [`${venv}/bin/uv`, "pip", "install", "--quiet", "--python", `${venv}/bin/python`, "-r", "requirements.txt", ...TOOLS]
      : [`${venv}/bin/pip`, "install", "--quiet", "-r", "requirements.txt", ...TOOLS];
    return await time(() => sh(src, cmd, env));
  } finally {
    await rm(venv, { recursive: true, force: true });
  }
}

const src = await makeVariant("clean");
await shipit(src); // warm the dependency layer and package caches once, outside the figures
await install(src, "pip");
const rows: [string, number[]][] = [
  ["baseline: fresh venv + pip (no cache) + ruff, mypy, pytest in sequence", []],
  ["shipit host runner: warm layer, concurrent checks", []],
  ["dependency install, pip, warm package cache", []],
  ["dependency install, uv, warm package cache", []],
];
for (let i = 0; i < RUNS; i++) {
  rows[0]![1].push(await baseline(src));
  rows[1]![1].push(await shipit(src));
  rows[2]![1].push(await install(src, "pip"));
  rows[3]![1].push(await install(src, "uv"));
  process.stderr.write(`run ${i + 1}/${RUNS} done\n`);
}
console.log(`sample bot, ${RUNS} runs each, medians in seconds (all runs in brackets)`);
for (const [name, xs] of rows) console.log(`${median(xs).toFixed(2).padStart(7)}  ${name}  [${xs.map((x) => x.toFixed(2)).join(", ")}]`);
console.log(`checks speed-up (baseline / shipit): ${(median(rows[0]![1]) / median(rows[1]![1])).toFixed(1)}x`);
console.log(`install speed-up (pip / uv): ${(median(rows[2]![1]) / median(rows[3]![1])).toFixed(1)}x`);
