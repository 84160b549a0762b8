/**
 * Delivery metrics and the dashboard from the host, without an engine: from the live hosts over
 * SSH (the same driver and agent as deploys), or from ledger files for offline use.
 *
 *   npx tsx src/cli/insight.ts metrics   [--env=test] [--days=30 | --since=ISO] [--until=ISO] [--format=json|table|prometheus] --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=PATH
 *   npx tsx src/cli/insight.ts dashboard [--env=test] [--days=30] [-o dashboard.html] --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=PATH
 *   npx tsx src/cli/insight.ts metrics --ledger test=ledger-test.jsonl --ledger prod=ledger-prod.jsonl [--git=.]
 *
 * Lead time reads commit times from the git repository at --git (default: --source); outside a
 * repository every deploy's commit counts as unknown, with a warning that says so. Any other git
 * failure is an error (GIT_FAILED).
 */
import { parseFlags, type Flags } from "./flags.js";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { chartJsSource } from "../assets.js";
import { buildDashboard, renderDashboard } from "../core/insight/dashboard.js";
import { ShipitError } from "../core/errors.js";
import { isoSeconds } from "../core/text.js";
import { gatherFromHosts, insightEnvironments, type Gathered } from "../core/insight/gather.js";
import { loadConfig } from "../core/config/load.js";
import { computeMetrics, parseLedger, renderMetrics, windowOf } from "../core/insight/metrics.js";
import { newRunId } from "../core/deploy/run-id.js";
import { HostDeployRunner } from "../runners/deploy-host.js";
import { commitTimes } from "../runners/git.js";
import { hostSourceView } from "../runners/host.js";
import { readKnownHosts, readSecret } from "./secret.js";

function fromFiles(specs: string[], only: string | undefined): Gathered {
  const out: Gathered = { ledgers: {}, status: {}, corrupt: {} };
  for (const spec of specs) {
    const i = spec.indexOf("=");
    if (i < 1) throw new ShipitError("BAD_ARGUMENT", `--ledger takes ENV=PATH (e.g. --ledger test=ledger.jsonl), got "${spec}"`);
    const [env, path] = [spec.slice(0, i), spec.slice(i + 1)];
    if (!existsSync(path)) throw new ShipitError("BAD_ARGUMENT", `--ledger ${spec}: file ${path} does not exist (copy it from the host's BASE/ledger.jsonl)`);
    if (only && env !== only) continue;
    const parsed = parseLedger(readFileSync(path, "utf8"));
    out.ledgers[env] = [...(out.ledgers[env] ?? []), ...parsed.entries];
    out.corrupt[env] = (out.corrupt[env] ?? 0) + parsed.corrupt;
  }
  return out;
}

export const FLAGS = {
  env: { type: "string", value: "NAME", help: "the environment (test, prod, or one from shipit.json)" },
  days: { type: "string", default: "30", value: "N", help: "the window in days" },
  since: { type: "string", value: "ISO", help: "the window start (default: --days before --until)" },
  until: { type: "string", value: "ISO", help: "the window end (default: now)" },
  format: { type: "string", default: "table", value: "FMT", help: "table, json or prometheus" },
  ledger: { type: "string", multiple: true, value: "FILE", help: "read a ledger file instead of the hosts (repeatable)" },
  git: { type: "string", value: "PATH", help: "the git repository for commit times (default: --source)" },
  source: { type: "string", default: ".", value: "PATH", help: "the Python repository" },
  "ssh-key": { type: "string", value: "REF", help: "the deploy key: env:NAME or file:PATH (never the key itself)" },
  "known-hosts": { type: "string", value: "PATH", help: "known_hosts pinning the bot host's key" },
  output: { type: "string", short: "o", default: "dashboard.html", value: "FILE", help: "where the dashboard page goes" },
  title: { type: "string", value: "TEXT", help: "the page title" },
} satisfies Flags;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS);
  const fn = positionals[0];
  if (fn !== "metrics" && fn !== "dashboard") throw new ShipitError("BAD_ARGUMENT", `unknown function "${fn ?? ""}": use metrics or dashboard`);
  const days = Number(values.days);
  if (!(days > 0)) throw new ShipitError("BAD_ARGUMENT", `--days must be a positive number of days, got "${values.days}"`);
  const now = isoSeconds();
  const window = windowOf(days, values.until ?? now, values.since);

  let gathered: Gathered;
  if (values.ledger?.length) {
    gathered = fromFiles(values.ledger, values.env);
  } else {
    const config = await loadConfig(hostSourceView(resolve(values.source)));
    const envs = insightEnvironments(config, values.env);
    const sshKey = readSecret("ssh-key", values["ssh-key"]);
    const knownHosts = readKnownHosts(values["known-hosts"]);
    const runner = await HostDeployRunner.create({ sshKey, knownHosts: knownHosts ?? "" });
    try {
      gathered = await gatherFromHosts(config, envs, { secrets: sshKey ? ["ssh-key"] : [], knownHosts, run: newRunId() }, runner, fn === "dashboard");
    } finally {
      await runner.close();
    }
  }
  for (const [env, n] of Object.entries(gathered.corrupt)) if (n) console.error(`[${env}] warning: ${n} ledger line(s) could not be read and were left out`);
  const gitDir = resolve(values.git ?? values.source);
  if (!statSync(gitDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ShipitError("BAD_ARGUMENT", `${values.git === undefined ? "--source" : "--git"} ${gitDir}: no such folder. Fix: pass the bot's repository (the folder holding .git) for lead time`);
  }
  const { times, unknown } = await commitTimes(gitDir);
  if (unknown) console.error(`warning: lead time unknown: ${unknown}`);

  if (fn === "metrics") {
    process.stdout.write(renderMetrics(computeMetrics(gathered.ledgers, window, times), values.format));
    return 0;
  }
  const data = buildDashboard({ ledgers: gathered.ledgers, status: gathered.status, commitTimes: times, window, generated: now, title: values.title });
  writeFileSync(values.output, renderDashboard(data, await chartJsSource()));
  console.log(`dashboard: ${resolve(values.output)} (${data.recent.length} recent deployments, ${Object.keys(data.metrics.environments).length} environments)`);
  return 0;
}
