import { existsSync, readFileSync } from "node:fs";
import { execa } from "execa";

const ENV = "/var/lib/shipit-engine/env.sh";

/** Fail (never skip) when no engine is up, saying how to get one. */
export default async function setup(): Promise<void> {
  if (!existsSync(ENV)) throw new Error(`no Dagger engine provisioned (${ENV} is missing): run \`npm run engine:up\` first`);
  const runner = /_EXPERIMENTAL_DAGGER_RUNNER_HOST=docker-container:\/\/(\S+)/.exec(readFileSync(ENV, "utf8"))?.[1];
  if (!runner) throw new Error(`${ENV} names no engine container: rerun \`npm run engine:up\``);
  const r = await execa("docker", ["inspect", "-f", "{{.State.Running}}", runner], { reject: false });
  if (r.stdout.trim() !== "true") throw new Error(`the engine container ${runner} is not running (${r.stderr.trim() || r.stdout.trim()}): run \`npm run engine:up\``);
}
