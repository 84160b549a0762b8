import { dag, ReturnType, type Container, type File, type Secret } from "@dagger.io/dagger";
import type { DeployRunner } from "../core/deploy.js";
import { deployPaths, type DriverPlan } from "../core/deploy-plan.js";
import { agentHash, agentScript, deployDriverScript } from "../assets.js";

export interface DaggerDeployInputs {
  image: string;
  artifact?: File;
  sshKey?: Secret;
  botPassword?: Secret;
  knownHosts?: File;
  /** Busts the engine's cache: a deploy must run every time. */
  run: string;
}

/**
 * The deploy driver in a container: the Python image plus openssh-client. Secrets are mounted as
 * 0600 files (never env, never argv); the artifact goes in as a File.
 */
export class DaggerDeployRunner implements DeployRunner {
  readonly paths = deployPaths("/opt/shipit-deploy");
  private ctr: Promise<Container> | undefined;

  constructor(private readonly inputs: DaggerDeployInputs) {}

  private container(): Promise<Container> {
    return (this.ctr ??= (async () => {
      const p = this.paths;
      let c = dag
        .container()
        .from(this.inputs.image)
        .withEnvVariable("DEBIAN_FRONTEND", "noninteractive")
        .withExec(["apt-get", "update", "-qq"])
        .withExec(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-client"])
        .withNewFile(p.agent, await agentScript())
        .withNewFile(p.driver, await deployDriverScript())
        .withNewFile(p.knownHosts, "");
      if (this.inputs.artifact) c = c.withFile(p.artifact, this.inputs.artifact);
      if (this.inputs.knownHosts) c = c.withFile(p.knownHosts, this.inputs.knownHosts);
      if (this.inputs.sshKey) c = c.withMountedSecret(p.identity, this.inputs.sshKey, { mode: 0o600 });
      if (this.inputs.botPassword) c = c.withMountedSecret(p.botPassword, this.inputs.botPassword, { mode: 0o600 });
      return c;
    })());
  }

  agentHash(): Promise<string> {
    return agentHash();
  }

  async inspectArtifact(): Promise<{ sha256: string; manifest: unknown }> {
    const out = await (await this.container()).withExec(["python3", this.paths.driver, "--inspect", this.paths.artifact], { expect: ReturnType.Any }).stdout();
    const doc = JSON.parse(out.trim().split("\n").pop() || "{}") as { sha256?: string; manifest?: unknown; error?: string };
    if (!doc.sha256) throw new Error(doc.error ?? "cannot inspect the artifact");
    return { sha256: doc.sha256, manifest: doc.manifest };
  }

  async runDriver(plan: DriverPlan): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const c = (await this.container())
      .withNewFile(this.paths.plan, JSON.stringify(plan, null, 2))
      .withEnvVariable("SHIPIT_RUN", this.inputs.run)
      .withExec(["python3", this.paths.driver, this.paths.plan], { expect: ReturnType.Any });
    const [exitCode, stdout, stderr] = await Promise.all([c.exitCode(), c.stdout(), c.stderr()]);
    return { exitCode, stdout, stderr };
  }
}
