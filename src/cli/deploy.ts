/**
 * Deploy from the host, without an engine: the same plan, driver and agent as the Dagger
 * functions. For the integration tests and for emergencies (RUNBOOK.md).
 *
 *   npx tsx src/cli/deploy.ts deploy   --env=test --artifact=PATH --ssh-key=env:DEPLOY_SSH_KEY --bot-password=env:CYTUBEBOT_TEST_PASSWORD --smoke-password=env:CYTUBE_SMOKE_PASSWORD --known-hosts=PATH [--source=DIR] [--trigger=manual]
 *   npx tsx src/cli/deploy.ts rollback --env=prod [--to=VERSION] --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=PATH
 *   npx tsx src/cli/deploy.ts status|history|health --env=test --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=PATH
 *   npx tsx src/cli/deploy.ts smoke    --env=test --ssh-key=env:DEPLOY_SSH_KEY --smoke-password=env:CYTUBE_SMOKE_PASSWORD --known-hosts=PATH
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { deploy, query, rollback } from "../core/deploy.js";
import { ShipitError } from "../core/errors.js";
import { loadConfig } from "../core/load.js";
import { hostSourceView } from "../runners/host.js";
import { HostDeployRunner } from "../runners/deploy-host.js";
import { newRunId } from "../core/run-id.js";
import { readSecret } from "./secret.js";

// Shared with src/cli/insight.ts, which cannot import this file (it runs main on import).
export { readSecret };

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      env: { type: "string" },
      source: { type: "string", default: "." },
      artifact: { type: "string" },
      "ssh-key": { type: "string" },
      "bot-password": { type: "string" },
      "smoke-password": { type: "string" },
      "known-hosts": { type: "string" },
      trigger: { type: "string", default: "manual" },
      to: { type: "string" },
      run: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean", default: false },
      "expect-sha256": { type: "string" },
    },
  });
  const fn = positionals[0];
  if (!values.env) throw new ShipitError("BAD_ARGUMENT", "--env is required (test, prod, or another configured environment)");
  const config = await loadConfig(hostSourceView(resolve(values.source)));
  const sshKey = readSecret("ssh-key", values["ssh-key"]);
  const botPassword = readSecret("bot-password", values["bot-password"]);
  const smokePassword = readSecret("smoke-password", values["smoke-password"]);
  const knownHosts = values["known-hosts"] && existsSync(values["known-hosts"]) ? readFileSync(values["known-hosts"], "utf8") : null;
  const secrets = [...(sshKey ? ["ssh-key"] : []), ...(botPassword ? ["bot-password"] : []), ...(smokePassword ? ["smoke-password"] : [])];
  const run = values.run ?? newRunId();
  const runner = await HostDeployRunner.create({ artifactPath: values.artifact, sshKey, botPassword, smokePassword, knownHosts: knownHosts ?? "" });
  try {
    if (fn === "deploy") {
      if (!values.artifact) throw new ShipitError("BAD_ARGUMENT", "--artifact=PATH is required (build one with `npm run pipeline -- build -o dist/`)");
      const r = await deploy(config, values.env, { secrets, knownHosts, trigger: values.trigger, run, expectSha256: values["expect-sha256"] }, runner);
      console.log(values.json ? JSON.stringify(r.result) : r.message);
      return r.ok ? 0 : 1;
    }
    if (fn === "rollback") {
      const r = await rollback(config, values.env, values.to, { secrets, knownHosts, trigger: values.trigger, run }, runner);
      console.log(values.json ? JSON.stringify(r.result) : r.message);
      return r.ok ? 0 : 1;
    }
    if (fn === "status" || fn === "history" || fn === "health" || fn === "smoke") {
      const r = await query(config, values.env, fn, { secrets, knownHosts, run }, runner, values.limit ? Number(values.limit) : undefined);
      console.log(r.ok ? JSON.stringify(r.answer, null, 2) : r.message);
      return r.ok ? 0 : 1;
    }
    throw new ShipitError("BAD_ARGUMENT", `unknown function "${fn}": use deploy, rollback, status, history, health or smoke`);
  } finally {
    await runner.close();
  }
}
