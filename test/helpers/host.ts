import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/core/config/load.js";
import { planChecks } from "../../src/core/checks/plan.js";
import { scanSource } from "../../src/core/checks/security/source-scan.js";
import { HostRunner, hostSourceView } from "../../src/runners/host.js";
import { assets } from "../../src/assets.js";
import { REPO } from "./variants.js";

/** Resolve config and plan for a folder, with the host runner and the shared venv cache. */
export async function hostSetup(source: string, opts: { version?: string; commit?: string } = {}) {
  const view = hostSourceView(source);
  const config = await loadConfig(view);
  const runDir = await mkdtemp(join(tmpdir(), "shipit-run-"));
  const runner = await HostRunner.create(source, config, { cacheRoot: join(REPO, ".shipit/host"), runDir });
  const plan = planChecks(config, runner.layout, await assets(), await scanSource(view, config), opts);
  return { config, runner, plan };
}
