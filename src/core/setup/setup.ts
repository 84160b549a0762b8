/**
 * `shipit setup`: refuse what can be refused before touching the host (the environment, the admin
 * key, a pinned host key, the unit template), build the plan, let the driver run it, and tell
 * each change. Returns only when the host is set up; any other ending throws.
 */
import { z } from "zod";
import type { ResolvedConfig, SourceView } from "../config/config.js";
import { resolveEnvironment, type Environment } from "../config/environments.js";
import { ConfigError, configIssue, InfraError, ShipitError } from "../errors.js";
import { tail } from "../text.js";
import type { DeployPaths } from "../deploy/plan.js";
import { buildSetupPlan, renderUnit, type SetupPlan } from "./plan.js";

const StepRecord = z.object({
  id: z.string(),
  change: z.string(),
  status: z.enum(["unchanged", "changed", "failed", "refused"]),
  seconds: z.number(),
  detail: z.string().optional(),
});

/** What the driver prints for a setup plan (one JSON line on stdout). */
export const SetupResultSchema = z.object({
  kind: z.literal("setup"),
  outcome: z.enum(["succeeded", "failed", "refused"]),
  steps: z.array(StepRecord),
  cause: z.object({ step: z.string(), code: z.string(), message: z.string() }).optional(),
});
export type SetupResult = z.infer<typeof SetupResultSchema>;

/** The driver ran and the host is not set up (a refusal, a failed step): exit code 1. */
export class SetupFailedError extends ShipitError {
  constructor(message: string, readonly result: SetupResult) {
    super("SETUP_FAILED", message);
  }
}

export interface SetupRunner {
  readonly paths: Pick<DeployPaths, "identity" | "knownHosts">;
  runDriver(plan: SetupPlan): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

export interface SetupInputs {
  /** Names of the secrets given: "admin-key" must be one. */
  secrets: string[];
  knownHosts: string | null;
  run: string;
  /** The deploy key's public half, to authorize for the deploy user. */
  deployKey?: string;
  via?: { host: string; port: number };
}

export function parseSetupResult(stdout: string, stderr: string): SetupResult {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    throw new InfraError("REPORT_INVALID", `the setup driver gave no JSON answer: ${tail(stderr || stdout, 5)}`);
  }
  const parsed = SetupResultSchema.safeParse(doc);
  if (!parsed.success) throw new InfraError("REPORT_INVALID", `the setup driver's answer has an unexpected shape: ${parsed.error.issues.map((i) => i.path.join(".") + ": " + i.message).join("; ")}`);
  return parsed.data;
}

/** Each change on its own line, then one line that says how it ended. */
export function reportSetup(r: SetupResult, env: Environment, where: string): string {
  const changed = r.steps.filter((s) => s.status === "changed");
  const lines = changed.map((s) => `changed: ${s.change}`);
  if (r.outcome === "succeeded") {
    lines.push(changed.length ? `setup of ${env.name} on ${where}: ${changed.length} change${changed.length === 1 ? "" : "s"}; the host is ready for deploys as ${env.user}` : `setup of ${env.name} on ${where}: nothing to change (${r.steps.length} checks); the host is ready for deploys as ${env.user}`);
    return lines.join("\n");
  }
  const c = r.cause;
  const verb = r.outcome === "refused" ? "refused" : "failed";
  lines.push(`setup of ${env.name} on ${where} ${verb} at ${c?.step ?? "?"}: ${c?.message ?? "unknown cause"} (${c?.code ?? "?"})${changed.length ? `; the changes above were made` : "; nothing was changed"}`);
  return lines.join("\n");
}

export function setupPreflight(config: ResolvedConfig, envName: string, inputs: Pick<SetupInputs, "secrets" | "knownHosts">): Environment {
  const env = resolveEnvironment(envName, config.environments, config.origin);
  if (!inputs.secrets.includes("admin-key")) {
    throw new ShipitError("SECRET_MISSING", `setup of ${env.name} refused before touching the host: missing secret --admin-key (e.g. --admin-key=env:SHIPIT_ADMIN_SSH_KEY): the private key of ${env.setup.adminUser}@${env.host}, which may create users and write /etc (the deploy key need not)`);
  }
  if (!inputs.knownHosts || !inputs.knownHosts.trim()) {
    throw new ShipitError("KNOWN_HOSTS_MISSING", `setup of ${env.name} refused: a known_hosts file pinning ${env.host}'s host key is required (--known-hosts=PATH; get the line with ssh-keyscan -p ${env.port} ${env.host} and check its fingerprint). Host-key checking is never disabled.`);
  }
  return env;
}

/** The unit template's text from the repository, or undefined for the built-in unit. */
async function unitTemplate(env: Environment, view: SourceView, origin: string): Promise<string | undefined> {
  const path = env.setup.unitTemplate;
  if (!path) return undefined;
  const text = await view.read(path);
  if (text === null) {
    throw new ConfigError(origin, [configIssue({ code: "PATH_MISSING", path: ["environments", env.name, "setup", "unitTemplate"], value: path, problem: "does not exist in the source", fix: "name the unit template's path in the repository, or set it to \"\" for shipit's built-in unit" })]);
  }
  return renderUnit(text, env, origin);
}

export async function setupHost(config: ResolvedConfig, view: SourceView, envName: string, inputs: SetupInputs, runner: SetupRunner): Promise<{ message: string; result: SetupResult; changes: string[] }> {
  const env = setupPreflight(config, envName, inputs);
  const template = await unitTemplate(env, view, config.origin);
  const plan = buildSetupPlan({ env, run: inputs.run, paths: runner.paths, unitTemplate: template, deployKey: inputs.deployKey, via: inputs.via });
  const out = await runner.runDriver(plan);
  const result = parseSetupResult(out.stdout, out.stderr);
  const message = reportSetup(result, env, `${env.setup.adminUser}@${env.host}:${env.port}`);
  if (result.outcome !== "succeeded") throw new SetupFailedError(message, result);
  return { message, result, changes: result.steps.filter((s) => s.status === "changed").map((s) => s.change) };
}
