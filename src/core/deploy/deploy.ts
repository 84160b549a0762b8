/**
 * Deploy, rollback and the read-only queries: one input check, one driver call.
 *
 * One error style for every operation here: it returns only when it succeeded, and every other
 * ending is a thrown ShipitError with a stable code, so a caller cannot go on with a failure it
 * did not look at:
 * - shipit's own refusals, before the host is touched (an unknown environment, a bad --to, a
 *   missing secret or known_hosts, an artifact without a valid manifest or with another sha256):
 *   ShipitError or ConfigError, exit code 2;
 * - a driver that gives no valid answer: InfraError REPORT_INVALID, exit code 3;
 * - everything the driver answered that is not a success (a failed or rolled-back deploy, a
 *   failed rollback, its own refusal such as a lock another deploy holds, a failed query):
 *   OperationFailedError, which carries the driver's whole result and the message people act on,
 *   exit code 1.
 */
import type { ResolvedConfig } from "../config/config.js";
import { buildDeployPlan, buildQueryPlan, buildRollbackPlan, parseDriverResult, type DeployPaths, type DriverPlan, type DriverResult, type QueryKind } from "./plan.js";
import { reportDeploy } from "./report.js";
import { resolveEnvironment, type Environment } from "../config/environments.js";
import { ConfigError, configIssue, ShipitError } from "../errors.js";
import { SafeVersion } from "../config/grammar.js";
import { parseManifest } from "./artifact.js";
import type { DriverOutcome } from "./contracts.js";

/** A deploy, rollback or query the driver ran (or refused) without success: exit code 1. */
export class OperationFailedError extends ShipitError {
  readonly outcome: DriverOutcome;
  /** The driver's whole answer (for --json, and what each phase said). */
  readonly result: DriverResult;
  constructor(code: "DEPLOY_FAILED" | "ROLLBACK_FAILED" | "QUERY_FAILED", message: string, result: DriverResult) {
    super(code, message);
    this.outcome = result.outcome;
    this.result = result;
  }
}

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

/**
 * Everything that can be refused is refused here, before the host is touched: unknown environment,
 * bad environment config, a missing secret, a missing or empty known_hosts, an artifact without a
 * valid manifest.
 */
export function preflight(config: ResolvedConfig, envName: string, inputs: DeployInputs): Environment {
  const env = resolveEnvironment(envName, config.environments, config.origin);
  return checkInputs(config, envName, inputs, "deploy to", env.smoke.kind === "none" ? ["bot-password"] : ["bot-password", "smoke-password"]);
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

/** What a successful deploy or rollback tells: the message for people and the driver's answer. */
interface Done {
  message: string;
  result: DriverResult;
}

export async function deploy(config: ResolvedConfig, envName: string, inputs: DeployInputs, runner: DeployRunner): Promise<Done & { version: string; sha256: string }> {
  const env = preflight(config, envName, inputs);
  const artifact = await runner.inspectArtifact();
  const manifest = parseManifest(artifact.manifest, `deploy to ${env.name}`);
  if (inputs.expectSha256 && inputs.expectSha256.toLowerCase() !== artifact.sha256) {
    throw new ShipitError(
      "ARTIFACT_SHA256_MISMATCH",
      `deploy to ${env.name} refused: the artifact's sha256 is ${artifact.sha256}, but ${inputs.expectSha256} was promised (--expect-sha256). Promote the exact artifact that was tested; nothing on the host changed.`,
    );
  }
  const result = await drive(runner, buildDeployPlan({ env, run: inputs.run, version: manifest.version, sha256: artifact.sha256, trigger: inputs.trigger, commit: recordedCommit(manifest.commit), agentHash: await runner.agentHash(), paths: runner.paths, via: inputs.via }));
  const report = reportDeploy(result, { env: env.name, version: manifest.version, kind: "deploy" });
  if (!report.ok) throw new OperationFailedError("DEPLOY_FAILED", report.message, result);
  return { message: report.message, result, version: manifest.version, sha256: artifact.sha256 };
}

/** A build without --commit records "unknown": only a real sha goes into the ledger. */
function recordedCommit(commit: string | undefined): string | undefined {
  return commit && /^[0-9a-f]{7,64}$/i.test(commit) ? commit.toLowerCase() : undefined;
}

export async function rollback(config: ResolvedConfig, envName: string, to: string | undefined, inputs: DeployInputs, runner: DeployRunner): Promise<Done> {
  if (to !== undefined && !SafeVersion.safeParse(to).success) {
    throw new ConfigError("arguments", [configIssue({ code: "INVALID_FORMAT", path: ["--to"], value: to, problem: "is not a release name (letters, digits, '.', '+', '_', '-', not starting with '-')", fix: "pass a release from `shipit history`, e.g. 1.2.0-20261127T101500Z, or leave --to out for the previous release" })]);
  }
  const env = checkInputs(config, envName, inputs, "rollback of");
  const result = await drive(runner, buildRollbackPlan({ env, run: inputs.run, trigger: inputs.trigger, to, agentHash: await runner.agentHash(), paths: runner.paths, via: inputs.via }));
  const report = reportDeploy(result, { env: env.name, version: to ?? "previous", kind: "rollback" });
  if (!report.ok) throw new OperationFailedError("ROLLBACK_FAILED", report.message, result);
  return { message: report.message, result };
}

/** status, history, health (one read-only agent call) and the chat smoke (run where the driver runs). */
export async function query(config: ResolvedConfig, envName: string, kind: QueryKind, inputs: Omit<DeployInputs, "trigger">, runner: DeployRunner, limit?: number): Promise<{ env: Environment; result: DriverResult; answer: Record<string, unknown> | undefined }> {
  if (kind === "smoke") {
    const env = resolveEnvironment(envName, config.environments, config.origin);
    if (env.smoke.kind === "none") {
      throw new ShipitError("SMOKE_NONE", `smoke of ${env.name} refused: environments.${env.name}.smoke.kind is "none", so there is no chat smoke to run. Set smoke.kind to "command" or "presence" for a chat bot`);
    }
  }
  const env = checkInputs(config, envName, inputs, `${kind} of`, kind === "smoke" ? ["smoke-password"] : []);
  const result = await drive(runner, buildQueryPlan(kind, { env, run: inputs.run, agentHash: await runner.agentHash(), paths: runner.paths, via: inputs.via }, limit));
  if (result.outcome !== "succeeded") {
    throw new OperationFailedError("QUERY_FAILED", `${kind} of ${env.name} failed at ${result.cause?.phase}: ${result.cause?.message} (${result.cause?.code})`, result);
  }
  return { env, result, answer: result.phases.find((p) => p.name === kind)?.result };
}
