/**
 * Deploy from the host, without an engine: the same plan, driver and agent as the Dagger
 * functions. For the integration tests and for emergencies (RUNBOOK.md).
 *
 *   npx tsx src/cli/deploy.ts deploy   --env=test --artifact=PATH --ssh-key=env:DEPLOY_SSH_KEY --bot-password=env:CYTUBEBOT_TEST_PASSWORD --smoke-password=env:CYTUBE_SMOKE_PASSWORD --known-hosts=PATH [--source=DIR] [--trigger=manual]
 *   npx tsx src/cli/deploy.ts rollback --env=prod [--to=VERSION] --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=PATH
 *   npx tsx src/cli/deploy.ts status|history|health --env=test --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=PATH
 *   npx tsx src/cli/deploy.ts smoke    --env=test --ssh-key=env:DEPLOY_SSH_KEY --smoke-password=env:CYTUBE_SMOKE_PASSWORD --known-hosts=PATH
 */
import { parseFlags, type Flags } from "./flags.js";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { deploy, OperationFailedError, query, rollback } from "../core/deploy/deploy.js";
import { ShipitError } from "../core/errors.js";
import { loadConfig } from "../core/config/load.js";
import { hostSourceView } from "../runners/host.js";
import { HostDeployRunner } from "../runners/deploy-host.js";
import { newRunId } from "../core/deploy/run-id.js";
import { readKnownHosts, readSecret } from "./secret.js";

export const FLAGS = {
  env: { type: "string", value: "NAME", help: "the environment (test, prod, or one from shipit.json)" },
  source: { type: "string", default: ".", value: "PATH", help: "the Python repository" },
  artifact: { type: "string", value: "PATH", help: "the artifact to ship (shipit build -o dist/)" },
  "ssh-key": { type: "string", value: "REF", help: "the deploy key: env:NAME or file:PATH (never the key itself)" },
  "bot-password": { type: "string", value: "REF", help: "the bot's CyTube password: env:NAME or file:PATH" },
  "smoke-password": { type: "string", value: "REF", help: "the smoke account's CyTube password: env:NAME or file:PATH" },
  "known-hosts": { type: "string", value: "PATH", help: "known_hosts pinning the bot host's key" },
  trigger: { type: "string", default: "manual", value: "WHAT", help: "what started this (manual, push, pull_request), recorded in the ledger" },
  to: { type: "string", value: "RELEASE", help: "roll back to this release (default: the previous one)" },
  run: { type: "string", value: "ID", help: "the run id recorded in the ledger (default: a new one)" },
  limit: { type: "string", value: "N", help: "how many ledger entries (history)" },
  json: { type: "boolean", default: false, help: "print the driver's result as JSON" },
  "expect-sha256": { type: "string", value: "HEX", help: "refuse the artifact unless its sha256 is this (promotion)" },
} satisfies Flags;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS);
  const fn = positionals[0];
  if (!values.env) throw new ShipitError("BAD_ARGUMENT", "--env is required. Fix: pass --env=test, --env=prod, or another environment from shipit.json");
  const config = await loadConfig(hostSourceView(resolve(values.source)));
  const sshKey = readSecret("ssh-key", values["ssh-key"]);
  const botPassword = readSecret("bot-password", values["bot-password"]);
  const smokePassword = readSecret("smoke-password", values["smoke-password"]);
  const knownHosts = readKnownHosts(values["known-hosts"]);
  if (values.artifact !== undefined && !existsSync(values.artifact)) {
    throw new ShipitError("ARTIFACT_MISSING", `--artifact=${values.artifact}: file ${resolve(values.artifact)} does not exist. Fix: build one with \`shipit build -o dist/\` (run in the bot's repository) and pass its path`);
  }
  const secrets = [...(sshKey ? ["ssh-key"] : []), ...(botPassword ? ["bot-password"] : []), ...(smokePassword ? ["smoke-password"] : [])];
  const run = values.run ?? newRunId();
  const runner = await HostDeployRunner.create({ artifactPath: values.artifact, sshKey, botPassword, smokePassword, knownHosts: knownHosts ?? "" });
  try {
    if (fn === "deploy") {
      if (!values.artifact) throw new ShipitError("BAD_ARGUMENT", "--artifact=PATH is required (build one with `shipit build -o dist/`, run in the bot's repository)");
      const r = await deploy(config, values.env, { secrets, knownHosts, trigger: values.trigger, run, expectSha256: values["expect-sha256"] }, runner);
      console.log(values.json ? JSON.stringify(r.result) : r.message);
      return 0;
    }
    if (fn === "rollback") {
      const r = await rollback(config, values.env, values.to, { secrets, knownHosts, trigger: values.trigger, run }, runner);
      console.log(values.json ? JSON.stringify(r.result) : r.message);
      return 0;
    }
    if (fn === "status" || fn === "history" || fn === "health" || fn === "smoke") {
      const r = await query(config, values.env, fn, { secrets, knownHosts, run }, runner, values.limit ? Number(values.limit) : undefined);
      console.log(JSON.stringify(r.answer, null, 2));
      return 0;
    }
    throw new ShipitError("BAD_ARGUMENT", `unknown function "${fn}": use deploy, rollback, status, history, health or smoke`);
  } catch (e) {
    // The driver ran and the operation failed: its report on stdout (as a success's), exit code 1.
    if (!(e instanceof OperationFailedError)) throw e;
    console.log(values.json && (fn === "deploy" || fn === "rollback") ? JSON.stringify(e.result) : e.message);
    return 1;
  } finally {
    await runner.close();
  }
}
