import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { AUDIT_SCRIPT, PACK_SCRIPT, type Assets } from "./core/checks/plan.js";

const read = (name: string) => readFile(new URL(`./python/${name}`, import.meta.url), "utf8");

/** Every helper script the steps ship (see Assets), read from the module's files so they travel with it into the engine's runtime. */
export async function assets(): Promise<Assets> {
  const [pack, auditPins] = await Promise.all([read(PACK_SCRIPT), read(AUDIT_SCRIPT)]);
  return { pack, auditPins };
}

/** The Dagger runner's batch runner: a run's steps side by side in one container. */
export function runStepsScript(): Promise<string> {
  return read("run_steps.py");
}

/** The host agent uploaded with every deploy. */
export function agentScript(): Promise<string> {
  return read("shipit_agent.py");
}

/** The deploy driver that runs a deploy plan over SSH. */
export function deployDriverScript(): Promise<string> {
  return read("shipit_deploy.py");
}

/** The chat smoke client, run where the deploy driver runs. */
export function smokeScript(): Promise<string> {
  return read("shipit_smoke.py");
}

/** The smoke client's pinned requirements (python-socketio's client and its closure). */
export function smokeRequirements(): Promise<string> {
  return read("smoke-requirements.txt");
}

/** sha256 of the host agent: each agent version gets its own file on the host. */
export async function agentHash(): Promise<string> {
  return createHash("sha256").update(await agentScript()).digest("hex");
}

/**
 * Chart.js's UMD bundle (it defines the global `Chart`), inlined into the dashboard page. Resolved
 * through the package's main entry, since its exports map does not list the bundle.
 */
export function chartJsSource(): Promise<string> {
  const main = createRequire(import.meta.url).resolve("chart.js");
  return readFile(join(dirname(main), "chart.umd.min.js"), "utf8");
}
