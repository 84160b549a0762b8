import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { cachedVenv } from "./venv.js";
import type { DeployRunner } from "../core/deploy/deploy.js";
import { deployPaths, parseArtifactInspection, type DeployPaths, type DriverPlan } from "../core/deploy/plan.js";
import type { SetupPlan } from "../core/setup/plan.js";
import { agentHash, agentScript, deployDriverScript, smokeRequirements, smokeScript } from "../assets.js";

interface HostDeployInputs {
  artifactPath?: string;
  sshKey?: string;
  botPassword?: string;
  smokePassword?: string;
  knownHosts?: string;
}

/** Where the smoke client's venv lives on this host: under shipit's own .shipit/, one per requirements hash. */
const SMOKE_ROOT = resolve(import.meta.dirname, "../../.shipit/smoke");

const smokeVenvDir = (requirements: string) => join(SMOKE_ROOT, `venv-${createHash("sha256").update(requirements).digest("hex").slice(0, 16)}`);

/** The venv holding the smoke client's requirements, created on first use (flock against concurrent runs). */
export async function smokeVenv(): Promise<string> {
  const requirements = await smokeRequirements();
  const venv = smokeVenvDir(requirements);
  if (existsSync(join(venv, ".complete"))) return venv;
  await mkdir(SMOKE_ROOT, { recursive: true });
  const reqFile = `${venv}.requirements.txt`;
  await writeFile(reqFile, requirements);
  return cachedVenv(venv, reqFile, "the smoke client's venv (src/python/smoke-requirements.txt)");
}

/** Runs the deploy driver as a host process; secrets live only in a 0700 temp folder, removed by close(). */
export class HostDeployRunner implements DeployRunner {
  private constructor(readonly paths: DeployPaths) {}

  static async create(inputs: HostDeployInputs): Promise<HostDeployRunner> {
    const dir = await mkdtemp(join(tmpdir(), "shipit-deploy-"));
    await chmod(dir, 0o700);
    const paths = deployPaths(dir, join(smokeVenvDir(await smokeRequirements()), "bin/python"));
    await mkdir(join(dir, "secrets"), { mode: 0o700 });
    await writeFile(paths.agent, await agentScript());
    await writeFile(paths.driver, await deployDriverScript());
    await writeFile(paths.smoke, await smokeScript());
    if (inputs.artifactPath) await copyFile(inputs.artifactPath, paths.artifact);
    if (inputs.sshKey !== undefined) await writeFile(paths.identity, inputs.sshKey.endsWith("\n") ? inputs.sshKey : `${inputs.sshKey}\n`, { mode: 0o600 });
    if (inputs.botPassword !== undefined) await writeFile(paths.botPassword, inputs.botPassword, { mode: 0o600 });
    if (inputs.smokePassword !== undefined) await writeFile(paths.smokePassword, inputs.smokePassword, { mode: 0o600 });
    await writeFile(paths.knownHosts, inputs.knownHosts ?? "");
    return new HostDeployRunner(paths);
  }

  agentHash(): Promise<string> {
    return agentHash();
  }

  async inspectArtifact(): Promise<{ sha256: string; manifest: unknown }> {
    const r = await execa("python3", [this.paths.driver, "--inspect", this.paths.artifact], { reject: false });
    return parseArtifactInspection(r.stdout, r.stderr);
  }

  async runDriver(plan: DriverPlan | SetupPlan): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    // Only plans with a local call (the chat smoke) need the smoke client's venv.
    if ("phases" in plan && plan.phases.some((p) => "local" in p)) await smokeVenv();
    await writeFile(this.paths.plan, JSON.stringify(plan, null, 2));
    // Each phase's start and end reach the person running `shipit deploy` as they happen.
    const child = execa("python3", [this.paths.driver, this.paths.plan], { reject: false, stdin: "ignore", env: { SHIPIT_PROGRESS: "1" } });
    child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
    const r = await child;
    return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
  }

  async close(): Promise<void> {
    await rm(this.paths.dir, { recursive: true, force: true });
  }
}
