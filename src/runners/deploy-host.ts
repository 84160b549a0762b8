import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import type { DeployRunner } from "../core/deploy.js";
import { deployPaths, type DeployPaths, type DriverPlan } from "../core/deploy-plan.js";
import { agentHash, agentScript, deployDriverScript } from "../assets.js";

export interface HostDeployInputs {
  artifactPath?: string;
  sshKey?: string;
  botPassword?: string;
  knownHosts?: string;
}

/** Runs the deploy driver as a host process; secrets live only in a 0700 temp folder, removed by close(). */
export class HostDeployRunner implements DeployRunner {
  private constructor(readonly paths: DeployPaths) {}

  static async create(inputs: HostDeployInputs): Promise<HostDeployRunner> {
    const dir = await mkdtemp(join(tmpdir(), "shipit-deploy-"));
    await chmod(dir, 0o700);
    const paths = deployPaths(dir);
    await mkdir(join(dir, "secrets"), { mode: 0o700 });
    await writeFile(paths.agent, await agentScript());
    await writeFile(paths.driver, await deployDriverScript());
    if (inputs.artifactPath) await copyFile(inputs.artifactPath, paths.artifact);
    if (inputs.sshKey !== undefined) await writeFile(paths.identity, inputs.sshKey.endsWith("\n") ? inputs.sshKey : `${inputs.sshKey}\n`, { mode: 0o600 });
    if (inputs.botPassword !== undefined) await writeFile(paths.botPassword, inputs.botPassword, { mode: 0o600 });
    await writeFile(paths.knownHosts, inputs.knownHosts ?? "");
    return new HostDeployRunner(paths);
  }

  agentHash(): Promise<string> {
    return agentHash();
  }

  async inspectArtifact(): Promise<{ sha256: string; manifest: unknown }> {
    const r = await execa("python3", [this.paths.driver, "--inspect", this.paths.artifact], { reject: false });
    const doc = JSON.parse(r.stdout.trim().split("\n").pop() || "{}") as { sha256?: string; manifest?: unknown; error?: string };
    if (!doc.sha256) throw new Error(doc.error ?? `cannot inspect the artifact: ${r.stderr}`);
    return { sha256: doc.sha256, manifest: doc.manifest };
  }

  async runDriver(plan: DriverPlan): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    await writeFile(this.paths.plan, JSON.stringify(plan, null, 2));
    const r = await execa("python3", [this.paths.driver, this.paths.plan], { reject: false, stdin: "ignore" });
    return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
  }

  async close(): Promise<void> {
    await rm(this.paths.dir, { recursive: true, force: true });
  }
}
