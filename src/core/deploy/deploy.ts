import { z } from "zod";
import type { ResolvedConfig } from "../config/config.js";
import { buildDeployPlan, buildQueryPlan, buildRollbackPlan, parseDriverResult, type DeployPaths, type DriverPlan, type DriverResult, type QueryKind } from "./plan.js";
import { reportDeploy, type DeployReport } from "./report.js";
import { resolveEnvironment, type Environment } from "../config/environments.js";
import { ConfigError, ShipitError } from "../errors.js";
import { FileNamePart, SafeVersion } from "../config/grammar.js";

/** Runs the deploy driver somewhere (a Dagger container, the host) with the inputs in `paths`. */
export interface DeployRunner {
  readonly paths: DeployPaths;
  /** sha256 of shipit_agent.py, so each agent version gets its own file on the host. */
  agentHash(): Promise<string>;
  /** sha256 and manifest of the artifact to ship. */
  inspectArtifact(): Promise<{ sha256: string; manifest: unknown }>;
  runDriver(plan: DriverPlan): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

export interface DeployInputs {
  /** Names of the secrets the caller provided (values stay with the runner). */
  secrets: string[];
  knownHosts: string | null;
  trigger: string;
  run: string;
  via?: { host: string; port: number };
  /** The sha256 the artifact must have (promotion: prod ships the bytes test got). */
  expectSha256?: string;
}

/** manifest.json as src/python/pack_artifact.py writes it (the fields a deploy reads, and what a pyproject project adds). */
export const Manifest = z.object({
  name: FileNamePart,
  version: SafeVersion,
  /** Where the version came from: --version, shipit.json's build.version, pyproject's [project].version, or shipit's default. */
  versionSource: z.enum(["argument", "config", "pyproject", "default"]).optional(),
  commit: z.string().optional(),
  /** A pyproject project's own wheel (in wheels/, pinned in shipit-requirements.txt with every dependency). */
  project: z.object({ name: z.string(), version: z.string(), wheel: z.string() }).optional(),
  files: z.record(z.string(), z.string()),
});

/**
 * Everything that can be refused is refused here, before the host is touched: unknown environment,
 * bad environment config, a missing secret, a missing or empty known_hosts, an artifact without a
 * valid manifest.
 */
export function preflight(config: ResolvedConfig, envName: string, inputs: DeployInputs): Environment {
  return checkInputs(config, envName, inputs, "deploy to", ["bot-password", "smoke-password"]);
}

/**
 * The checks every host call shares: a valid environment, the SSH key, a pinned host key, and the
 * bot's or the smoke account's password where the call needs them.
 */
function checkInputs(config: ResolvedConfig, envName: string, inputs: Pick<DeployInputs, "secrets" | "knownHosts">, verb: string, needs: ("bot-password" | "smoke-password")[] = []): Environment {
  const env = resolveEnvironment(envName, config.environments, config.origin);
  const missing: string[] = [];
  if (!inputs.secrets.includes("ssh-key")) missing.push("--ssh-key (e.g. --ssh-key=env:DEPLOY_SSH_KEY)");
  if (needs.includes("bot-password") && !inputs.secrets.includes("bot-password")) missing.push(`--bot-password (e.g. --bot-password=env:${env.secrets.botPassword})`);
  if (needs.includes("smoke-password") && !inputs.secrets.includes("smoke-password")) {
    missing.push(`--smoke-password (e.g. --smoke-password=env:${env.secrets.smokePassword}: the password of ${env.smoke.account}, the CyTube account the chat smoke test logs in as)`);
  }
  if (missing.length) throw new ShipitError("SECRET_MISSING", `${verb} ${env.name} refused before touching the host: missing secret ${missing.join(" and ")}`);
  if (!inputs.knownHosts || !inputs.knownHosts.trim()) {
    throw new ShipitError("KNOWN_HOSTS_MISSING", `${verb} ${env.name} refused: a known_hosts file pinning ${env.host}'s host key is required (--known-hosts=PATH; get the line with ssh-keyscan -p ${env.port} ${env.host} and check its fingerprint). Host-key checking is never disabled.`);
  }
  return env;
}

async function drive(runner: DeployRunner, plan: DriverPlan): Promise<DriverResult> {
  const out = await runner.runDriver(plan);
  return parseDriverResult(out.stdout, out.stderr);
}

export async function deploy(config: ResolvedConfig, envName: string, inputs: DeployInputs, runner: DeployRunner): Promise<DeployReport & { result: DriverResult; version: string; sha256: string }> {
  const env = preflight(config, envName, inputs);
  const artifact = await runner.inspectArtifact();
  const manifest = Manifest.safeParse(artifact.manifest);
  if (!manifest.success) throw new ShipitError("ARTIFACT_INVALID", `deploy to ${env.name} refused: the artifact has no valid manifest.json (${manifest.error.issues[0]?.message}); build it with \`shipit build -o dist/\` (or the build function)`);
  if (inputs.expectSha256 && inputs.expectSha256.toLowerCase() !== artifact.sha256) {
    throw new ShipitError(
      "ARTIFACT_SHA256_MISMATCH",
      `deploy to ${env.name} refused: the artifact's sha256 is ${artifact.sha256}, but ${inputs.expectSha256} was promised (--expect-sha256). Promote the exact artifact that was tested; nothing on the host changed.`,
    );
  }
  const result = await drive(runner, buildDeployPlan({ env, run: inputs.run, version: manifest.data.version, sha256: artifact.sha256, trigger: inputs.trigger, commit: recordedCommit(manifest.data.commit), agentHash: await runner.agentHash(), paths: runner.paths, via: inputs.via }));
  return { ...reportDeploy(result, { env: env.name, version: manifest.data.version, kind: "deploy" }), result, version: manifest.data.version, sha256: artifact.sha256 };
}

/** A build without --commit records "unknown": only a real sha goes into the ledger. */
function recordedCommit(commit: string | undefined): string | undefined {
  return commit && /^[0-9a-f]{7,64}$/i.test(commit) ? commit.toLowerCase() : undefined;
}

export async function rollback(config: ResolvedConfig, envName: string, to: string | undefined, inputs: DeployInputs, runner: DeployRunner): Promise<DeployReport & { result: DriverResult }> {
  if (to !== undefined && !SafeVersion.safeParse(to).success) {
    throw new ConfigError("arguments", [{ key: "--to", value: to, problem: "is not a release name (letters, digits, '.', '+', '_', '-', not starting with '-')", fix: "pass a release from `shipit history`, e.g. 1.2.0-20261127T101500Z, or leave --to out for the previous release" }]);
  }
  const env = checkInputs(config, envName, inputs, "rollback of");
  const result = await drive(runner, buildRollbackPlan({ env, run: inputs.run, trigger: inputs.trigger, to, agentHash: await runner.agentHash(), paths: runner.paths, via: inputs.via }));
  return { ...reportDeploy(result, { env: env.name, version: to ?? "previous", kind: "rollback" }), result };
}

/** status, history, health (one read-only agent call) and the chat smoke (run where the driver runs). */
export async function query(config: ResolvedConfig, envName: string, kind: QueryKind, inputs: Omit<DeployInputs, "trigger">, runner: DeployRunner, limit?: number): Promise<{ ok: boolean; env: Environment; result: DriverResult; answer: Record<string, unknown> | undefined; message: string }> {
  const env = checkInputs(config, envName, inputs, `${kind} of`, kind === "smoke" ? ["smoke-password"] : []);
  const result = await drive(runner, buildQueryPlan(kind, { env, run: inputs.run, agentHash: await runner.agentHash(), paths: runner.paths, via: inputs.via }, limit));
  const phase = result.phases.find((p) => p.name === kind);
  const ok = result.outcome === "succeeded";
  const message = ok ? "" : `${kind} of ${env.name} failed at ${result.cause?.phase}: ${result.cause?.message} (${result.cause?.code})`;
  return { ok, env, result, answer: phase?.result, message };
}
