import { sshHost } from "../config/grammar.js";
import { z } from "zod";
import { checkShape } from "../checks/parsers.js";
import { InfraError, ShipitError } from "../errors.js";
import { tail } from "../text.js";
import { DriverOutcomeSchema } from "./contracts.js";
import { healthKinds, type Environment } from "../config/environments.js";

/** Where the deploy step finds its inputs (container paths in Dagger, temp files on the host). */
export interface DeployPaths {
  dir: string;
  agent: string;
  driver: string;
  plan: string;
  artifact: string;
  identity: string;
  knownHosts: string;
  botPassword: string;
  /** The chat smoke client and the smoke account's password (0600), where the driver runs. */
  smoke: string;
  smokePassword: string;
  /** A Python that has src/python/smoke-requirements.txt installed (the runner provides it). */
  smokePython: string;
}

export function deployPaths(dir: string, smokePython = "python3"): DeployPaths {
  return {
    dir,
    agent: `${dir}/shipit_agent.py`,
    driver: `${dir}/shipit_deploy.py`,
    plan: `${dir}/plan.json`,
    artifact: `${dir}/artifact.tar.gz`,
    identity: `${dir}/secrets/ssh_key`,
    knownHosts: `${dir}/known_hosts`,
    botPassword: `${dir}/secrets/bot_password`,
    smoke: `${dir}/shipit_smoke.py`,
    smokePassword: `${dir}/secrets/smoke_password`,
    smokePython,
  };
}

export interface RemoteCall {
  name: string;
  args: string[];
  stdin?: { file: string } | { json: unknown; secretFiles?: Record<string, string> };
  timeoutSec?: number;
}

/**
 * A call that runs where the driver runs, not on the bot's host: the chat smoke. With `tunnel`,
 * the driver first opens an SSH local forward to that address on the host's loopback (over the
 * deploy's own SSH settings) and appends `--via http://127.0.0.1:<local port>` to argv.
 */
interface LocalCall {
  name: string;
  local: { argv: string[]; tunnel?: { host: string; port: number } };
  timeoutSec?: number;
}

export type PlanCall = RemoteCall | LocalCall;

export interface DriverPlan {
  run: string;
  kind: "deploy" | "rollback" | "query";
  ssh: { host: string; port: number; user: string; identityFile: string; knownHostsFile: string; connectTimeoutSec: number };
  agent: { localPath: string; remotePath: string; python: string };
  lock?: { args: string[] };
  phases: PlanCall[];
  commitAfter?: string;
  rollback: RemoteCall[];
  onSuccess: RemoteCall[];
  ledger?: { args: string[]; entry: Record<string, unknown> };
}

interface DeployRequest {
  env: Environment;
  run: string;
  version: string;
  sha256: string;
  trigger: string;
  /** The artifact manifest's commit, recorded in the ledger so metrics can compute lead time. */
  commit?: string;
  /** Content hash of the agent, so concurrent runs with different agents never overwrite each other's. */
  agentHash: string;
  paths: DeployPaths;
  /** Override of the SSH host/port as seen from where the driver runs (e.g. a container's gateway). */
  via?: { host: string; port: number };
}

function common(r: Pick<DeployRequest, "env" | "run" | "agentHash" | "paths" | "via">, kind: DriverPlan["kind"]) {
  const base = r.env.basePath;
  return {
    run: r.run,
    kind,
    ssh: {
      host: sshHost(r.via?.host ?? r.env.host),
      port: r.via?.port ?? r.env.port,
      user: r.env.user,
      identityFile: r.paths.identity,
      knownHostsFile: r.paths.knownHosts,
      connectTimeoutSec: 15,
    },
    agent: { localPath: r.paths.agent, remotePath: `${base}/.shipit/agent-${r.agentHash.slice(0, 12)}.py`, python: r.env.python },
  };
}

const b = (env: Environment) => ["--base", env.basePath];

/** A non-root deploy user restarts its unit through `sudo -n systemctl` (a sudoers rule for that unit only). */
function restartArgs(env: Environment): string[] {
  return ["restart", ...b(env), "--unit", env.unit, ...(env.user === "root" ? [] : ["--sudo"])];
}

/** Whether the environment's health probes healthUrl (contract or http), so status can show it. */
export function probesUrl(env: Environment): boolean {
  return healthKinds(env.health.kind).some((k) => k === "contract" || k === "http");
}

/**
 * The health call: today's contract probe by default (its argv unchanged), or every kind of
 * `health.kind`, which the agent checks together until all hold. The crash-loop watch on the
 * unit runs whatever the kinds.
 */
function healthCall(name: string, env: Environment, expectVersion?: string, afterRestart?: string): RemoteCall {
  const kinds = healthKinds(env.health.kind);
  const plain = kinds.length === 1 && kinds[0] === "contract";
  return {
    name,
    args: [
      "health", ...b(env),
      ...(plain ? [] : kinds.flatMap((k) => ["--kind", k])),
      ...(probesUrl(env) ? ["--url", env.healthUrl] : []),
      "--timeout", String(env.healthTimeoutSec), "--unit", env.unit,
      ...(kinds.includes("systemd") ? ["--stable", String(env.health.stableSec)] : []),
      // --key=value: a pattern such as "-x" stays a value
      ...(kinds.includes("log") && env.health.logPattern !== undefined ? [`--log-pattern=${env.health.logPattern}`] : []),
      ...(expectVersion ? ["--expect-version", expectVersion] : []),
      // the restart's wall clock: a crash loop quotes this release's journal lines, not the last one's
      ...(afterRestart ? [`--since={${afterRestart}.since}`] : []),
    ],
    timeoutSec: env.healthTimeoutSec + 60,
  };
}

/**
 * Where the chat server is, seen from the bot's host: a loopback address (a chat server on the
 * bot's own machine, as in the tests) needs a tunnel; a public server (cytu.be) is reached directly.
 */
export function chatTunnel(server: string): { host: string; port: number } | undefined {
  const base = /^https?:\/\//.test(server) ? server : `https://${server}`;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host !== "localhost" && host !== "::1" && !/^127\./.test(host)) return undefined;
  return { host, port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80 };
}

/**
 * The chat smoke: the smoke account says the command in the bot's channel and waits for its
 * answer (`command`), or looks for the bot in the channel's user list (`presence`).
 */
function smokeCall(env: Environment, paths: DeployPaths): LocalCall {
  const tunnel = chatTunnel(env.runtime.server);
  return {
    name: "smoke",
    local: {
      argv: [
        paths.smokePython, paths.smoke,
        // --key=value: a value such as "-x" (CyTube allows a leading '-') stays a value
        `--server=${env.runtime.server}`, `--channel=${env.runtime.channel}`,
        `--account=${env.smoke.account}`, `--password-file=${paths.smokePassword}`,
        `--bot=${env.runtime.bot_name}`,
        ...(env.smoke.kind === "presence" ? ["--presence"] : [`--command=${env.smoke.command}`, `--expect=${env.smoke.expect}`]),
        `--timeout=${env.smoke.timeoutSec}`,
      ],
      ...(tunnel ? { tunnel } : {}),
    },
    timeoutSec: env.smoke.timeoutSec + 60,
  };
}

function rollbackCalls(env: Environment): RemoteCall[] {
  return [
    { name: "rollback-switch", args: ["switch", ...b(env), "--run", "{run}", "--release", "{switch.rollbackTo}"] },
    { name: "rollback-restart", args: restartArgs(env) },
    healthCall("rollback-health", env, undefined, "rollback-restart"),
  ];
}

function ledger(r: DeployRequest | RollbackRequest, kind: "deploy" | "rollback", version: string): DriverPlan["ledger"] {
  return {
    args: ["ledger-append", ...b(r.env)],
    entry: { kind, env: r.env.name, version, sha256: "sha256" in r ? r.sha256 : null, trigger: r.trigger, run: r.run, ...("commit" in r && r.commit ? { commit: r.commit } : {}) },
  };
}

/** Fill the plan's own run id into `{run}`: the driver resolves only phase outputs. */
function withRun(calls: RemoteCall[], run: string): RemoteCall[] {
  return calls.map((c) => ({ ...c, args: c.args.map((a) => (a === "{run}" ? run : a)) }));
}

/**
 * What `configure` renders: shipit's config.json from `runtime`, or the bot's own file from its
 * template in the release. A secret path names the secret file it is filled from (the bot
 * password is the one secret a deploy takes to the host); the value travels in `secrets` only.
 */
function configureInput(env: Environment): Record<string, unknown> {
  const rc = env.runtimeConfig;
  if (!rc) return { config: env.runtime };
  return { file: { template: rc.template, path: rc.path, values: rc.values, secrets: Object.fromEntries(Object.keys(rc.secrets).map((p) => [p, "bot_password"])) } };
}

/**
 * The deploy as data: lock, upload (sha256 checked on the host), install (venv from the bundled
 * wheels), configure (secrets on stdin into 0600 files), switch `current` atomically, restart,
 * health, smoke. A failure after the switch rolls back to the previous release. Prune and the
 * ledger line always come last.
 */
export function buildDeployPlan(r: DeployRequest): DriverPlan {
  const env = r.env;
  const run = ["--run", r.run];
  return {
    ...common(r, "deploy"),
    lock: { args: ["lock", ...b(env), ...run, "--version", r.version, "--trigger", r.trigger, "--wait", String(env.lockWaitSec)] },
    phases: [
      { name: "upload", args: ["receive", ...b(env), ...run, "--sha256", r.sha256], stdin: { file: r.paths.artifact } },
      { name: "install", args: ["install", ...b(env), ...run, "--sha256", r.sha256, "--python", env.python] },
      { name: "configure", args: ["configure", ...b(env), ...run, "--release", "{install.release}"], stdin: { json: configureInput(env), secretFiles: { bot_password: r.paths.botPassword } } },
      { name: "switch", args: ["switch", ...b(env), ...run, "--release", "{install.release}"] },
      { name: "restart", args: restartArgs(env) },
      healthCall("health", env, undefined, "restart"),
      ...(env.smoke.kind === "none" ? [] : [smokeCall(env, r.paths)]),
    ],
    commitAfter: "switch",
    rollback: withRun(rollbackCalls(env), r.run),
    onSuccess: [{ name: "prune", args: ["prune", ...b(env), "--keep", String(env.keepReleases)] }],
    ledger: ledger(r, "deploy", r.version),
  };
}

interface RollbackRequest {
  env: Environment;
  run: string;
  trigger: string;
  to?: string;
  agentHash: string;
  paths: DeployPaths;
  via?: { host: string; port: number };
}

/** Manual rollback: to the previous release, or `--to` a named version still on the host; health-gated and in the ledger. */
export function buildRollbackPlan(r: RollbackRequest): DriverPlan {
  const env = r.env;
  const run = ["--run", r.run];
  return {
    ...common(r, "rollback"),
    lock: { args: ["lock", ...b(env), ...run, "--version", r.to ?? "previous", "--trigger", r.trigger, "--wait", String(env.lockWaitSec)] },
    phases: [
      { name: "rollback-target", args: ["rollback-target", ...b(env), ...(r.to ? ["--to", r.to] : [])] },
      { name: "switch", args: ["switch", ...b(env), ...run, "--release", "{rollback-target.release}"] },
      { name: "restart", args: restartArgs(env) },
      healthCall("health", env, undefined, "restart"),
    ],
    commitAfter: "switch",
    rollback: withRun(rollbackCalls(env), r.run),
    onSuccess: [],
    ledger: ledger(r, "rollback", r.to ?? "previous"),
  };
}

export type QueryKind = "status" | "history" | "health" | "smoke";

/** Read-only calls: no lock, no ledger. */
export function buildQueryPlan(kind: QueryKind, r: Omit<RollbackRequest, "trigger" | "to">, limit = 20): DriverPlan {
  const env = r.env;
  const call: PlanCall =
    kind === "status"
      ? { name: "status", args: ["status", ...b(env), ...(probesUrl(env) ? ["--url", env.healthUrl] : [])] }
      : kind === "history"
        ? { name: "history", args: ["history", ...b(env), "--limit", String(limit)] }
        : kind === "health"
          ? healthCall("health", env)
          : smokeCall(env, r.paths);
  return { ...common(r, "query"), phases: [call], rollback: [], onSuccess: [] };
}

// ---- what the driver answers --------------------------------------------------------------

const PhaseRecord = z.object({
  name: z.string(),
  ok: z.boolean(),
  seconds: z.number().optional(),
  result: z.record(z.string(), z.unknown()).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const DriverResultSchema = z.object({
  run: z.string().nullable().optional(),
  kind: z.string().optional(),
  outcome: DriverOutcomeSchema,
  started: z.string().optional(),
  ended: z.string().optional(),
  seconds: z.number().optional(),
  phases: z.array(PhaseRecord),
  rollback: z.array(PhaseRecord),
  cause: z.object({ phase: z.string(), code: z.string().optional(), message: z.string().optional() }).optional(),
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  ledger: z.object({ ok: z.boolean(), entry: z.record(z.string(), z.unknown()), error: z.object({ code: z.string(), message: z.string() }).optional() }).optional(),
});
export type DriverResult = z.infer<typeof DriverResultSchema>;

/** The driver's last stdout line as JSON, or null when it is not JSON. */
function lastJson(stdout: string): unknown {
  try {
    return JSON.parse(stdout.trim().split("\n").pop() ?? "");
  } catch {
    return null;
  }
}

/** Parse the driver's last stdout line; a missing or malformed answer is itself a clear failure (InfraError REPORT_INVALID). */
export function parseDriverResult(stdout: string, stderr: string): DriverResult {
  const json = lastJson(stdout);
  if (json === null) throw new InfraError("REPORT_INVALID", `the deploy driver gave no JSON result.\n${tail(stderr.trim(), 10)}`);
  return checkShape(DriverResultSchema, json, "the deploy driver's result");
}

const ArtifactInspection = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), manifest: z.unknown() });

/**
 * The answer of `shipit_deploy.py --inspect ARTIFACT`: the artifact's sha256 and manifest. An
 * artifact the driver cannot read (missing, not a gzip tar) is the caller's to fix
 * (ARTIFACT_INVALID); no answer, or one of another shape, is the driver broken (REPORT_INVALID).
 */
export function parseArtifactInspection(stdout: string, stderr: string): { sha256: string; manifest: unknown } {
  const json = lastJson(stdout);
  if (json === null) throw new InfraError("REPORT_INVALID", `the deploy driver gave no JSON answer when inspecting the artifact.\n${tail((stderr || stdout).trim(), 10)}`);
  const error = (json as { error?: unknown }).error;
  if (typeof error === "string") throw new ShipitError("ARTIFACT_INVALID", `${error}. Fix: pass an artifact built by \`shipit build -o dist/\` (or the build function)`);
  return checkShape(ArtifactInspection, json, "the deploy driver's inspection of the artifact");
}
