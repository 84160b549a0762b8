import { dag, ReturnType, type Container, type File, type Secret } from "@dagger.io/dagger";
import type { DeployRunner } from "../core/deploy/deploy.js";
import { deployPaths, parseArtifactInspection, type DriverPlan } from "../core/deploy/plan.js";
import type { SetupPlan } from "../core/setup/plan.js";
import { imageTag } from "../core/checks/plan.js";
import { agentHash, agentScript, deployDriverScript, smokeRequirements, smokeScript } from "../assets.js";

interface DaggerDeployInputs {
  image: string;
  artifact?: File;
  sshKey?: Secret;
  botPassword?: Secret;
  /** The smoke account's password; given, the container also gets the chat smoke client's venv. */
  smokePassword?: Secret;
  knownHosts?: File;
  /** Busts the engine's cache: a deploy must run every time. */
  run: string;
}

const SMOKE_VENV = "/opt/shipit-smoke";

/**
 * The deploy driver in a container: the Python image plus openssh-client (and, for deploys and the
 * smoke, a venv with the chat smoke client's pinned requirements, in its own cached layer). Secrets
 * are mounted as 0600 files (never env, never argv); the artifact goes in as a File.
 */
export class DaggerDeployRunner implements DeployRunner {
  readonly paths = deployPaths("/opt/shipit-deploy", `${SMOKE_VENV}/bin/python`);
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
        .withExec(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-client"]);
      if (this.inputs.smokePassword) {
        // Before anything per-run, so the layer is cached until the requirements change.
        c = c
          .withNewFile(`${SMOKE_VENV}.requirements.txt`, await smokeRequirements())
          .withMountedCache("/root/.cache/pip", dag.cacheVolume(`shipit-pip-${imageTag(this.inputs.image)}`))
          .withExec(["python3", "-m", "venv", SMOKE_VENV])
          .withExec([`${SMOKE_VENV}/bin/python`, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", `${SMOKE_VENV}.requirements.txt`])
          .withoutMount("/root/.cache/pip");
      }
      c = c
        .withNewFile(p.agent, await agentScript())
        .withNewFile(p.smoke, await smokeScript())
        .withNewFile(p.driver, await deployDriverScript())
        .withNewFile(p.knownHosts, "");
      if (this.inputs.artifact) c = c.withFile(p.artifact, this.inputs.artifact);
      if (this.inputs.knownHosts) c = c.withFile(p.knownHosts, this.inputs.knownHosts);
      if (this.inputs.sshKey) c = c.withMountedSecret(p.identity, this.inputs.sshKey, { mode: 0o600 });
      if (this.inputs.botPassword) c = c.withMountedSecret(p.botPassword, this.inputs.botPassword, { mode: 0o600 });
      if (this.inputs.smokePassword) c = c.withMountedSecret(p.smokePassword, this.inputs.smokePassword, { mode: 0o600 });
      return c;
    })());
  }

  agentHash(): Promise<string> {
    return agentHash();
  }

  async inspectArtifact(): Promise<{ sha256: string; manifest: unknown }> {
    const c = (await this.container()).withExec(["python3", this.paths.driver, "--inspect", this.paths.artifact], { expect: ReturnType.Any });
    const [stdout, stderr] = await Promise.all([c.stdout(), c.stderr()]);
    return parseArtifactInspection(stdout, stderr);
  }

  async runDriver(plan: DriverPlan | SetupPlan): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const c = (await this.container())
      .withNewFile(this.paths.plan, JSON.stringify(plan, null, 2))
      .withEnvVariable("SHIPIT_RUN", this.inputs.run)
      .withExec(["python3", this.paths.driver, this.paths.plan], { expect: ReturnType.Any });
    const [exitCode, stdout, stderr] = await Promise.all([c.exitCode(), c.stdout(), c.stderr()]);
    return { exitCode, stdout, stderr };
  }
}
