/**
 * `shipit setup`: prepare a bare host for an environment once, over SSH with an admin key, through
 * the same driver (and ssh options) as every deploy. Prints each change; a second run prints none.
 *
 *   shipit setup --env=test --admin-key=env:SHIPIT_ADMIN_SSH_KEY --known-hosts=PATH [--deploy-key=PATH.pub] [--source=DIR]
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseFlags, type Flags } from "./flags.js";
import { ShipitError } from "../core/errors.js";
import { loadConfig } from "../core/config/load.js";
import { hostSourceView } from "../runners/host.js";
import { HostDeployRunner } from "../runners/deploy-host.js";
import { newRunId } from "../core/deploy/run-id.js";
import { SetupFailedError, setupHost } from "../core/setup/setup.js";
import { readKnownHosts, readSecret } from "./secret.js";

export const FLAGS = {
  env: { type: "string", value: "NAME", help: "the environment whose host to prepare (test, prod, or one from shipit.json)" },
  source: { type: "string", default: ".", value: "PATH", help: "the bot's repository (its shipit.json, and the unit template if it names one)" },
  "admin-key": { type: "string", value: "REF", help: "the admin's private SSH key (root, or environments.<env>.setup.adminUser): env:NAME or file:PATH (never the key itself)" },
  "known-hosts": { type: "string", value: "PATH", help: "known_hosts pinning the host's key" },
  "deploy-key": { type: "string", value: "PATH", help: "the deploy key's public half (.pub), authorized for the deploy user" },
  json: { type: "boolean", default: false, help: "print the driver's result as JSON" },
} satisfies Flags;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS);
  if (!values.env) throw new ShipitError("BAD_ARGUMENT", "--env is required. Fix: pass --env=test, --env=prod, or another environment from shipit.json");
  const view = hostSourceView(resolve(values.source));
  const config = await loadConfig(view);
  const adminKey = readSecret("admin-key", values["admin-key"]);
  const knownHosts = readKnownHosts(values["known-hosts"]);
  let deployKey: string | undefined;
  if (values["deploy-key"] !== undefined) {
    try {
      deployKey = readFileSync(values["deploy-key"], "utf8");
    } catch {
      throw new ShipitError("DEPLOY_KEY_MISSING", `--deploy-key=${values["deploy-key"]}: cannot read ${resolve(values["deploy-key"])}. Fix: pass the deploy key's .pub file`);
    }
  }
  const runner = await HostDeployRunner.create({ sshKey: adminKey, knownHosts: knownHosts ?? "" });
  try {
    const r = await setupHost(config, view, values.env, { secrets: adminKey ? ["admin-key"] : [], knownHosts, run: newRunId(), deployKey }, runner);
    console.log(values.json ? JSON.stringify(r.result) : r.message);
    return 0;
  } catch (e) {
    if (!(e instanceof SetupFailedError)) throw e;
    console.log(values.json ? JSON.stringify(e.result) : e.message);
    return 1;
  } finally {
    await runner.close();
  }
}
