/**
 * `shipit notify`: the notify function on the host, without an engine. Each routed target's URL is
 * read from the environment variable its secret names (`SHIPIT_SLACK_WEBHOOK=… shipit notify …`),
 * the GitHub token for the incident issue from `--token=env:NAME` or `file:PATH`.
 *
 *   npx shipit notify --env=prod --event=deploy-succeeded --version=1.4.0 [--repo=acme/rosey --token=env:GITHUB_TOKEN]
 *
 * It exits 0 when every argument is right, whatever the deliveries did: a delivery that failed is a
 * warning on stderr (and a record in --json), as in the workflows.
 */
import { resolve } from "node:path";
import { parseFlags, UsageError, type Flags } from "./flags.js";
import { readSecret } from "./secret.js";
import { loadConfig } from "../core/config/load.js";
import { resolveEnvironment } from "../core/config/environments.js";
import { secretsFor, deliveryLine } from "../core/notify/route.js";
import { NOTIFY_EVENTS, type NotifyEvent } from "../core/config/notifications.js";
import { hostSourceView } from "../runners/host.js";
import { GitHub } from "../github/github.js";
import { notifyFromConfig } from "../github/flows.js";

export const FLAGS = {
  env: { type: "string", value: "NAME", help: "the environment the event happened to" },
  event: { type: "string", value: "EVENT", help: `what happened: ${NOTIFY_EVENTS.join(", ")}` },
  source: { type: "string", default: ".", value: "PATH", help: "the Python repository (its shipit.json routes the event)" },
  version: { type: "string", value: "V", help: "the version deployed, rolled back to, or released" },
  live: { type: "string", value: "RELEASE", help: "what is live now" },
  failed: { type: "boolean", default: false, help: "manual-rollback only: the rollback failed" },
  pr: { type: "string", value: "N", help: "the pull request that started the run" },
  "pr-title": { type: "string", value: "TEXT", help: "its title" },
  commit: { type: "string", value: "SHA", help: "the merge commit that started the run" },
  actor: { type: "string", value: "LOGIN", help: "who started the run" },
  cause: { type: "string", value: "TEXT", help: "why it failed" },
  "duration-sec": { type: "string", value: "S", help: "how long it took" },
  "run-url": { type: "string", value: "URL", help: "the workflow run" },
  "pr-url": { type: "string", value: "URL", help: "the pull request" },
  "release-url": { type: "string", value: "URL", help: "the GitHub Release" },
  repo: { type: "string", value: "OWNER/REPO", help: "the repository of the incident issue" },
  token: { type: "string", value: "REF", help: "a GitHub token (env:NAME or file:PATH) allowed to write issues" },
  "github-api": { type: "string", default: "https://api.github.com", value: "URL", help: "the REST API root" },
  json: { type: "boolean", default: false, help: "print the report as JSON" },
} satisfies Flags;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS);
  if (!values.env || !values.event) throw new UsageError("--env and --event are required. Fix: e.g. shipit notify --env=prod --event=deploy-succeeded --version=1.4.0");
  const number = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`--${flag} must be a number, not "${v}"`);
    return Number(v);
  };
  const config = await loadConfig(hostSourceView(resolve(values.source)));
  const notifications = resolveEnvironment(values.env, config.environments, config.origin, { requireHost: false }).notifications;
  const routed = (NOTIFY_EVENTS as readonly string[]).includes(values.event) ? secretsFor(notifications, values.event as NotifyEvent) : [];
  const urls = Object.fromEntries(routed.map((name) => [name, process.env[name] || undefined]));
  let gh: GitHub | undefined;
  if (values.token || values.repo) {
    const m = /^([\w.-]+)\/([\w.-]+)$/.exec(values.repo ?? "");
    if (!m) throw new UsageError(`--repo must be OWNER/REPO${values.repo ? `, not "${values.repo}"` : " (with --token)"}`);
    const token = readSecret("token", values.token);
    if (!token) throw new UsageError("--token is required with --repo (env:NAME or file:PATH)");
    gh = new GitHub({ token: token.trim(), owner: m[1]!, repo: m[2]!, baseUrl: values["github-api"] });
  }
  const report = await notifyFromConfig(
    config,
    {
      env: values.env,
      event: values.event,
      failed: values.failed || undefined,
      version: values.version,
      live: values.live,
      pr: number("pr", values.pr),
      prTitle: values["pr-title"],
      commit: values.commit,
      actor: values.actor,
      cause: values.cause,
      durationSec: number("duration-sec", values["duration-sec"]),
      runUrl: values["run-url"],
      prUrl: values["pr-url"],
      releaseUrl: values["release-url"],
      repo: values.repo,
    },
    urls,
    gh,
    { log: (line) => process.stderr.write(`${line}\n`) },
  );
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(report.headline);
    console.log(report.deliveries.length ? report.deliveries.map(deliveryLine).join("\n") : `no target hears ${report.event} on ${report.env}`);
    console.log(`incident: ${report.incident.action}${report.incident.number ? ` #${report.incident.number}` : ""}${report.incident.detail ? ` (${report.incident.detail})` : ""}`);
  }
  for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
  return 0;
}
