/**
 * Gathering what metrics and the dashboard read: every environment's whole ledger (agent `history`)
 * and, for the dashboard, what is live (agent `status`), through the same DeployRunner as deploys.
 * Also the git side of lead time, as data: the argv that lists commit times and its parser.
 */
import type { ResolvedConfig } from "../config/config.js";
import { OperationFailedError, query, type DeployInputs, type DeployRunner } from "../deploy/deploy.js";
import { HostStatusSchema, type HostStatus } from "./dashboard.js";
import { checkShape } from "../checks/parsers.js";
import { environmentNames, resolveEnvironment } from "../config/environments.js";
import { ConfigError, ShipitError } from "../errors.js";
import { isoSeconds } from "../text.js";
import { ledgerFromHistory, type CommitTimes } from "./metrics.js";
import type { LedgerEntry } from "../deploy/contracts.js";

/** `history --limit` large enough for a whole ledger: metrics need every line, not the last 20. */
const HISTORY_ALL = 1_000_000;

/**
 * The environments to read: the one asked for, or every configured one that has a host (the
 * defaults name test and prod; one without a host is not deployed to, so it has no ledger).
 */
export function insightEnvironments(config: ResolvedConfig, env: string | undefined): string[] {
  if (env) return [resolveEnvironment(env, config.environments, config.origin).name];
  const names: string[] = [];
  for (const name of environmentNames(config.environments)) {
    try {
      names.push(resolveEnvironment(name, config.environments, config.origin).name);
    } catch (e) {
      const hostOnly = e instanceof ConfigError && e.issues.every((i) => i.code === "HOST_NOT_SET");
      if (!hostOnly) throw e;
    }
  }
  if (!names.length) throw new ShipitError("NO_ENVIRONMENT", "no environment has a host: set environments.<name>.host in shipit.json (see CONFIGURATION.md), or read ledger files with --ledger ENV=PATH");
  return names;
}

export interface Gathered {
  ledgers: Record<string, LedgerEntry[]>;
  status: Record<string, HostStatus>;
  /** Ledger lines the host could not parse, or that are not ledger entries, per environment. */
  corrupt: Record<string, number>;
}

/** The agent's `status` answer as the dashboard reads it; another shape is REPORT_INVALID naming the environment. */
export function readHostStatus(answer: unknown, env: string): HostStatus {
  return checkShape(HostStatusSchema, answer, `the status answer of the host agent of ${env}`);
}

/** A query's answer; a failed query is HOST_QUERY_FAILED, saying what needed the answer. */
async function ask(asked: Promise<Awaited<ReturnType<typeof query>>>, need: string, fix = ""): Promise<unknown> {
  try {
    return (await asked).answer;
  } catch (e) {
    if (e instanceof OperationFailedError) throw new ShipitError("HOST_QUERY_FAILED", `${need}: ${e.message}${fix}`, { cause: e });
    throw e;
  }
}

/**
 * Every environment's ledger (and status when asked); a host that does not answer fails the whole
 * call, naming it, and so does an answer of the wrong shape (REPORT_INVALID), never read as empty.
 */
export async function gatherFromHosts(config: ResolvedConfig, envs: string[], inputs: Omit<DeployInputs, "trigger">, runner: DeployRunner, withStatus: boolean): Promise<Gathered> {
  const out: Gathered = { ledgers: {}, status: {}, corrupt: {} };
  for (const env of envs) {
    const history = await ask(query(config, env, "history", inputs, runner, HISTORY_ALL), "metrics need every environment's ledger", ". Pass --env to read only the others.");
    const parsed = ledgerFromHistory(history, `the host agent of ${env}`);
    out.ledgers[env] = parsed.entries;
    out.corrupt[env] = parsed.corrupt;
    if (withStatus) {
      const status = await ask(query(config, env, "status", inputs, runner), "the dashboard needs what is live");
      out.status[env] = readHostStatus(status, env);
    }
  }
  return out;
}

const US = "\x1f";

/** `git log` over every ref: full sha and committer time, one commit a line (git's arguments after `git`). */
export const COMMIT_TIMES_ARGS = ["log", "--all", `--format=%H${US}%cI`];

/** git's strict ISO times (with an offset) → UTC ISO, keyed by sha. */
export function parseCommitTimes(stdout: string): CommitTimes {
  const out: CommitTimes = {};
  for (const line of stdout.split("\n")) {
    const [sha, time] = line.trim().split(US);
    if (!sha || !time) continue;
    const t = Date.parse(time);
    if (!Number.isNaN(t)) out[sha.toLowerCase()] = isoSeconds(t);
  }
  return out;
}
