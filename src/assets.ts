import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { AUDIT_SCRIPT, PACK_SCRIPT, type Assets } from "./core/plan.js";

const read = (name: string) => readFile(new URL(`./python/${name}`, import.meta.url), "utf8");

/** shipit's own helper scripts, read from the module's files so they travel with it into the engine's runtime. */
export function packScript(): Promise<string> {
  return read(PACK_SCRIPT);
}

/** Every helper script the steps ship (see Assets). */
export async function assets(): Promise<Assets> {
  const [pack, auditPins] = await Promise.all([read(PACK_SCRIPT), read(AUDIT_SCRIPT)]);
  return { pack, auditPins };
}

/** The host agent uploaded with every deploy. */
export function agentScript(): Promise<string> {
  return read("shipit_agent.py");
}

/** The deploy driver that runs a deploy plan over SSH. */
export function deployDriverScript(): Promise<string> {
  return read("shipit_deploy.py");
}

/** sha256 of the host agent: each agent version gets its own file on the host. */
export async function agentHash(): Promise<string> {
  return createHash("sha256").update(await agentScript()).digest("hex");
}
