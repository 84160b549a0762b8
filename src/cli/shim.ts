/**
 * The workflow shim: reads a GitHub event and runs the right sequence of `dagger call …`, printing
 * each command before it runs it. The workflows only call this; a laptop runs the same thing.
 *
 *   npx tsx src/cli/shim.ts                                   # in Actions: $GITHUB_EVENT_NAME, $GITHUB_EVENT_PATH
 *   npx tsx src/cli/shim.ts pull_request --event-file=pr.json # replay a CI run from its event file
 *   npx tsx src/cli/shim.ts pull_request --pr=12              # or from the event name alone
 *   npx tsx src/cli/shim.ts push                              # main: ci, release, deploy prod
 *   npx tsx src/cli/shim.ts workflow_dispatch --env=prod [--version=1.3.0]   # manual rollback
 *   npx tsx src/cli/shim.ts workflow_run --context=DIR/comment.json          # a fork PR's comment
 *
 * Options: --source=DIR (the bot, default .), --git=DIR (the repository root, default .),
 * --module=REF (shipit's module for `dagger call -m`), --config=FILE, --out=DIR (default .shipit/ci),
 * --known-hosts=FILE (default .github/known_hosts), --dry-run (print the commands only),
 * --dagger=BIN (default dagger).
 *
 * Secrets are read by the dagger CLI from the environment (`--ssh-key=env:DEPLOY_SSH_KEY`); this
 * program never reads, prints or passes their values.
 */
import { parseFlags, UsageError, type Flags } from "./flags.js";
import { InfraError, ShipitError } from "../core/errors.js";
import { excerpt, tail } from "../core/text.js";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { join } from "node:path";
import { parseCiJson, type CiJson, CI_JSON } from "../core/checks/ci-report.js";
import { parseCommentContext, ReleasePreviewSchema, renderComment, type CommentContext } from "../core/github/comment.js";
import { argv, buildVersion, readEvent, reproduceLine, SECRET_ENV, showCommand, type EventFacts, type ShimEvent, type ShimSettings } from "../core/github/workflow.js";
import { loadConfig } from "../core/config/load.js";
import { DEFAULTS, type ResolvedConfig } from "../core/config/config.js";
import { resolveEnvironment, type Roles } from "../core/config/environments.js";
import { deployOutcome, isRelease, pullRequestDeploy, pullRequestVerdict, pushesReleaseBranch, releaseBranch, runId, runUrl, shippable, type ShippableBuild } from "../core/github/decisions.js";
import { fullName, parseRepo, repoFromRemote, safeParseDeploymentId } from "../core/github/inputs.js";
import { hostSourceView } from "../runners/host.js";
import { appendFile } from "node:fs/promises";
import { outcomeOf } from "../core/notify/outcome.js";
import { cleanText, LIMITS } from "../core/notify/message.js";
import { deliveryLine, secretsFor, type DeliveryRecord, type IncidentRecord } from "../core/notify/route.js";
import type { NotifyEvent } from "../core/config/notifications.js";

interface Outcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

class Shim {
  /** One id for the whole run (the lock and the ledger of each host call), and the run's page. */
  readonly runId: string;
  readonly runUrl: string;
  private loaded: Promise<{ ok: true; config: ResolvedConfig } | { ok: false; error: unknown }> | undefined;

  constructor(
    readonly s: ShimSettings,
    readonly bin: string,
    readonly dryRun: boolean,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.runId = runId(env, new Date());
    this.runUrl = runUrl(env, s.repo);
  }

  /** The config, read once: what the environment roles and each environment come from. Its error is kept for the deploy to report. */
  config(): Promise<{ ok: true; config: ResolvedConfig } | { ok: false; error: unknown }> {
    return (this.loaded ??= (async () => {
      try {
        const explicit = this.s.config ? { text: await readFile(this.s.config, "utf8"), origin: this.s.config } : undefined;
        return { ok: true as const, config: await loadConfig(hostSourceView(this.s.source), explicit) };
      } catch (error) {
        return { ok: false as const, error };
      }
    })());
  }

  /** The environment roles; when the config cannot be read, the defaults' names, used only as labels (the deploy then reports the error). */
  async roles(): Promise<{ roles: Roles; error?: string }> {
    const c = await this.config();
    return c.ok ? { roles: c.config.roles } : { roles: DEFAULTS.roles, error: c.error instanceof Error ? c.error.message : String(c.error) };
  }

  /** What a real run would stop on, found by a dry run (missing secrets, known_hosts, config). */
  readonly notReady: string[] = [];

  log(line: string): void {
    process.stdout.write(`${line}\n`);
  }

  /** A file the shim writes; a dry run writes nothing and says what it would have written. */
  async write(path: string, text: string): Promise<void> {
    if (this.dryRun) return this.log(`(dry run) would write ${path}`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }

  notReadyBecause(problem: string): void {
    if (!this.notReady.includes(problem)) this.notReady.push(problem);
  }

  /** The last line of a dry run: what a real run would need, or that it is ready. */
  dryRunVerdict(): number {
    if (!this.notReady.length) {
      this.log("\ndry run: nothing ran and nothing was written; a real run has every secret and file it needs");
      return 0;
    }
    this.log(`\ndry run: nothing ran and nothing was written; a real run would stop on:\n${this.notReady.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }

  async dagger(args: string[]): Promise<Outcome> {
    this.log(`\n$ ${showCommand(this.bin, args)}`);
    if (this.dryRun) return { exitCode: 0, stdout: "", stderr: "" };
    const r = await execa(this.bin, args, { reject: false, stdin: "ignore", stdout: ["pipe", "inherit"], stderr: ["pipe", "inherit"], env: this.env });
    if (r.failed && r.exitCode === undefined) {
      throw new InfraError("DAGGER_UNAVAILABLE", `cannot run ${this.bin}: ${r.shortMessage}. Fix: install the dagger CLI v0.19.10 (see README), or pass --dagger=PATH`);
    }
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  }

  /** Whether a secret is set (a dry run assumes every secret is, to print the whole sequence). */
  has(name: string): boolean {
    return this.dryRun || !!this.env[name];
  }

  releaseUrl(version: string): string {
    return `${this.env.GITHUB_SERVER_URL || "https://github.com"}/${this.s.repo}/releases/tag/v${version}`;
  }

  prUrl(pr: number): string {
    return `${this.env.GITHUB_SERVER_URL || "https://github.com"}/${this.s.repo}/pull/${pr}`;
  }
}

export const FLAGS = {
  "event-file": { type: "string", value: "FILE", help: "the GitHub event payload (GITHUB_EVENT_PATH in Actions)" },
  source: { type: "string", default: ".", value: "PATH", help: "the Python repository" },
  git: { type: "string", default: ".", value: "PATH", help: "the git repository" },
  module: { type: "string", value: "REF", help: "call this Dagger module (dagger call -m REF)" },
  config: { type: "string", value: "FILE", help: "a shipit.json to use instead of the one at the source root" },
  out: { type: "string", default: ".shipit/ci", value: "DIR", help: "where the shim keeps ci.json and comment.json" },
  "known-hosts": { type: "string", default: ".github/known_hosts", value: "PATH", help: "known_hosts pinning the bot host's key" },
  "dry-run": { type: "boolean", default: false, help: "write nothing, run nothing: check readiness and print the commands" },
  dagger: { type: "string", default: "dagger", value: "BIN", help: "the dagger CLI to run" },
  pr: { type: "string", value: "N", help: "the pull request number (without --event-file)" },
  env: { type: "string", value: "NAME", help: "the environment to roll back (workflow_dispatch)" },
  version: { type: "string", value: "V", help: "the release to roll back to (workflow_dispatch)" },
  context: { type: "string", value: "FILE", help: "the comment context of a fork run (workflow_run)" },
} satisfies Flags;

export async function main(argv: string[]): Promise<number> {
  try {
    return await runShim(argv);
  } catch (e) {
    // the shim's own refusals (no event, a bad event file or input) are usage errors: exit 2
    if (e instanceof ShipitError || !(e instanceof Error)) throw e;
    throw new UsageError(e.message);
  }
}

async function runShim(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS);
  const env = process.env;
  const event = (positionals[0] ?? env.GITHUB_EVENT_NAME ?? "") as ShimEvent;
  if (!event) throw new UsageError("which event? Pass one (pull_request, push, workflow_dispatch, workflow_run) or set GITHUB_EVENT_NAME");
  const eventFile = values["event-file"] ?? (positionals[0] ? undefined : env.GITHUB_EVENT_PATH);
  const payload = eventFile ? JSON.parse(await readFile(eventFile, "utf8")) : await synthesize(event, values);
  const facts = readEvent(event, payload);

  const repo = env.GITHUB_REPOSITORY ? fullName(parseRepo(env.GITHUB_REPOSITORY, "GITHUB_REPOSITORY")) : repoFromRemote(await originUrl(values.git));
  const s: ShimSettings = {
    module: values.module,
    source: values.source,
    git: values.git,
    config: values.config,
    repo,
    apiUrl: env.GITHUB_API_URL || "https://api.github.com",
    out: values.out,
    knownHosts: values["known-hosts"],
  };
  const shim = new Shim(s, values.dagger, values["dry-run"], env);
  shim.log(`shipit shim: ${event} on ${repo}${values["dry-run"] ? " (dry run: commands are printed, not run)" : ""}`);
  shim.log(`reproduce: ${reproduceLine(event, eventFile, s, eventFile ? {} : values)}`);
  switch (facts.event) {
    case "pull_request":
      return pullRequest(shim, facts, reproduceLine(event, eventFile, s, eventFile ? {} : values));
    case "push":
      return push(shim, facts);
    case "workflow_dispatch":
      return manualRollback(shim, facts);
    case "workflow_run":
      return forkComment(shim, facts, values.context ?? join(s.out, "comment.json"));
  }
}

/** An event from its name alone, for a laptop: HEAD as the commit, our own repository as the head. */
async function synthesize(event: string, v: { pr?: string; env?: string; version?: string; git?: string }): Promise<unknown> {
  const head = async () => (await execa("git", ["rev-parse", "HEAD"], { cwd: v.git ?? "." })).stdout.trim();
  switch (event) {
    case "pull_request": {
      if (!v.pr || !/^\d+$/.test(v.pr)) throw new UsageError("pull_request without --event-file needs --pr=NUMBER");
      const repo = { full_name: process.env.GITHUB_REPOSITORY || "local/repo" };
      return { pull_request: { number: Number(v.pr), head: { sha: await head(), repo } }, repository: repo };
    }
    case "push":
      return { after: await head(), ref: "refs/heads/main" };
    case "workflow_dispatch":
      if (!v.env) throw new UsageError("workflow_dispatch without --event-file needs --env=ENVIRONMENT (and optionally --version=V)");
      return { inputs: { environment: v.env, version: v.version ?? "" } };
    default:
      throw new UsageError(`${event} needs --event-file=PATH (the event GitHub wrote)`);
  }
}

/** The origin remote's URL, or undefined when there is none (or no repository). */
async function originUrl(dir: string): Promise<string | undefined> {
  const r = await execa("git", ["remote", "get-url", "origin"], { cwd: dir, reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

async function readPreview(shim: Shim): Promise<{ preview: CommentContext["release"]; error?: string }> {
  const r = await shim.dagger(argv.nextRelease(shim.s));
  if (shim.dryRun) return { preview: { previous: null, next: "0.1.0", bump: "minor", notes: "(dry run)" } };
  if (r.exitCode !== 0) return { preview: null, error: excerpt(r.stderr || r.stdout) };
  const parsed = ReleasePreviewSchema.safeParse(safeJson(r.stdout));
  if (!parsed.success) return { preview: null, error: `next-release printed something that is not a release plan: ${excerpt(r.stdout)}` };
  return { preview: parsed.data };
}

async function readCi(shim: Shim, version: string, sha: string): Promise<{ ci: CiJson | null; error?: string }> {
  const r = await shim.dagger(argv.ciReport(shim.s, version, sha));
  if (shim.dryRun) return { ci: dryRunCi(version) };
  const file = join(shim.s.out, CI_JSON);
  if (r.exitCode !== 0 || !existsSync(file)) return { ci: null, error: `ci-report did not finish (exit ${r.exitCode}): ${excerpt(r.stderr || r.stdout)}` };
  const ci = parseCiJson(await readFile(file, "utf8"), file);
  shim.log(ci.summary);
  return { ci };
}

/** The environment as the config resolves it: its secrets' names and its URL. A dry run shows placeholders for an incomplete config. */
async function environment(shim: Shim, envName: string): Promise<{ botPassword: string; smokePassword: string; url: string | undefined }> {
  try {
    const loaded = await shim.config();
    if (!loaded.ok) throw loaded.error;
    const c = loaded.config;
    const e = resolveEnvironment(envName, c.environments, c.origin);
    return { botPassword: e.secrets.botPassword, smokePassword: e.secrets.smokePassword, url: e.url || undefined };
  } catch (error) {
    if (!shim.dryRun) throw error;
    shim.notReadyBecause(`the ${envName} environment is not deployable yet: ${error instanceof Error ? error.message.split("\n").slice(1).join(" ").trim() : String(error)}`);
    return { botPassword: "BOT_PASSWORD_SECRET", smokePassword: SECRET_ENV.smoke, url: undefined }; // pragma: allowlist secret (a placeholder secret name)
  }
}

/** The secrets (env names) and known_hosts file a host call needs that are not there. */
function missingInputs(shim: Shim, secrets: string[]): string[] {
  const missing = secrets.filter((n) => !shim.env[n]);
  if (!existsSync(shim.s.knownHosts)) missing.push(`${shim.s.knownHosts} (the host's known_hosts entry)`);
  if (!shim.dryRun) return missing;
  for (const m of missing) shim.notReadyBecause(`missing ${m}${secrets.includes(m) ? " (a secret)" : ""}`);
  return [];
}

/**
 * Run one host call (deploy or rollback) inside a GitHub deployment when a token is there:
 * deployment-start, the call, then deployment-finish with success or failure. A deployment that
 * cannot be opened or closed is a warning; the host call decides the outcome.
 */
async function withGitHubDeployment(shim: Shim, d: { env: string; sha: string; description: string; done: string; failed: string }, hostCall: () => Promise<Outcome>): Promise<Outcome> {
  let id: string | undefined;
  if (shim.has(SECRET_ENV.github)) {
    const started = await shim.dagger(argv.deploymentStart(shim.s, d.env, d.sha, shim.runUrl, d.description));
    id = shim.dryRun ? "DEPLOYMENT_ID" : started.stdout.trim().split("\n").pop()?.trim();
    if (!shim.dryRun && (started.exitCode !== 0 || !id || !safeParseDeploymentId(id).ok)) {
      shim.log(`warning: the GitHub deployment could not be opened (going on without it): ${excerpt(started.stderr || started.stdout)}`);
      id = undefined;
    }
  }
  const r = await hostCall();
  if (id) {
    const ok = r.exitCode === 0;
    const finished = await shim.dagger(argv.deploymentFinish(shim.s, d.env, id, ok, shim.runUrl, `${d.description}: ${ok ? d.done : d.failed}`));
    if (finished.exitCode !== 0) shim.log(`warning: the GitHub deployment status could not be set: ${excerpt(finished.stderr || finished.stdout)}`);
  }
  return r;
}

/** Deploy the ci artifact, inside a GitHub deployment. */
async function deployWithStatus(shim: Shim, o: { env: string; build: ShippableBuild; sha: string; trigger: string }): Promise<{ ok: boolean; message: string; url: string | undefined; durationSec?: number }> {
  let e: Awaited<ReturnType<typeof environment>>;
  try {
    e = await environment(shim, o.env);
  } catch (error) {
    return { ok: false, url: undefined, message: `not deployed: ${error instanceof Error ? error.message : String(error)}` };
  }
  const missing = missingInputs(shim, [SECRET_ENV.sshKey, e.botPassword, e.smokePassword]);
  if (missing.length) {
    return { ok: false, url: e.url, message: `not deployed: missing ${missing.join(", ")}. Fix: add them as repository secrets (see CONFIGURATION.md), or export them to reproduce locally` };
  }
  const description = `${o.build.name} ${o.build.version} to ${o.env}`;
  let started = 0;
  const r = await withGitHubDeployment(shim, { env: o.env, sha: o.sha, description, done: "live", failed: "failed, previous release kept" }, () => {
    started = Date.now();
    return shim.dagger(argv.deploy(shim.s, { env: o.env, botPasswordEnv: e.botPassword, smokePasswordEnv: e.smokePassword, artifact: o.build.artifact, sha256: o.build.sha256, trigger: o.trigger, run: shim.runId }));
  });
  const ok = r.exitCode === 0;
  return { ok, message: excerpt(ok ? r.stdout : r.stderr || r.stdout), url: e.url, durationSec: (Date.now() - started) / 1000 };
}

interface NotifyRequest {
  env: string;
  kind: "deploy" | "rollback" | "release";
  /** The call's exit status and its message (a deploy's or rollback's report). */
  ok: boolean;
  message: string;
  version?: string;
  durationSec?: number;
  pr?: number;
  prTitle?: string;
  commit?: string;
  releaseUrl?: string;
}

/** The run's notification ledger: one JSON line per delivery and per incident call, next to ci.json. */
const NOTIFY_LEDGER = "notifications.jsonl";

/**
 * Tell people what happened (`dagger call notify`), as the environment's notifications route the
 * event, and keep its incident issue. Never fails the run: whatever goes wrong is a warning,
 * printed and returned (for the PR comment). Nothing to tell, nothing is called.
 */
async function notify(shim: Shim, r: NotifyRequest): Promise<string[]> {
  const warn = (w: string): string[] => {
    shim.log(`warning: ${w}`);
    return [w];
  };
  let settings: ReturnType<typeof resolveEnvironment>["notifications"];
  try {
    const c = await loadConfig(hostSourceView(shim.s.source), shim.s.config ? { text: await readFile(shim.s.config, "utf8"), origin: shim.s.config } : undefined);
    settings = resolveEnvironment(r.env, c.environments, c.origin, { requireHost: false }).notifications;
  } catch (error) {
    return warn(`no notifications sent: ${error instanceof Error ? error.message.replace(/\s*\n\s*/g, " ") : String(error)}`);
  }
  const o = r.kind === "release" ? { event: "release-published" as NotifyEvent, failed: undefined, live: undefined, cause: undefined } : outcomeOf(r.kind, r.ok, r.message);
  const webhooks = secretsFor(settings, o.event);
  const incident = settings.incident.enabled && o.event !== "release-published";
  const github = incident && shim.has(SECRET_ENV.github);
  if (!webhooks.length && !github) {
    shim.log(`notifications: nothing hears ${o.event} on ${r.env}`);
    return incident ? warn(`incident issue not updated: no ${SECRET_ENV.github}`) : [];
  }
  const args = argv.notify(shim.s, {
    env: r.env,
    event: o.event,
    failed: o.failed,
    version: r.version,
    live: o.live,
    pr: r.pr,
    // one line, capped: the PR author's words go on as data and are escaped by notify itself
    prTitle: cleanText(r.prTitle, LIMITS.title),
    commit: r.commit,
    actor: cleanText(shim.env.GITHUB_ACTOR, LIMITS.actor),
    cause: o.cause ? tail(o.cause, 20).slice(-1500) : undefined,
    durationSec: r.durationSec === undefined ? undefined : Math.round(r.durationSec * 10) / 10,
    runUrl: shim.runUrl,
    prUrl: r.pr ? shim.prUrl(r.pr) : undefined,
    releaseUrl: r.releaseUrl,
    // only secrets the run has: notify records the others as not given
    webhooks: webhooks.filter((w) => shim.has(w)),
    github,
  });
  const res = await shim.dagger(args);
  if (shim.dryRun) return [];
  if (res.exitCode !== 0) return warn(`notifications not sent (notify failed, exit ${res.exitCode}): ${tail(res.stderr || res.stdout, 5)}`);
  const report = readNotifyReport(res.stdout);
  if (!report) return warn(`notifications: notify printed no report: ${tail(res.stdout, 3)}`);
  for (const d of report.deliveries) shim.log(`notify: ${deliveryLine(d)}`);
  shim.log(`notify: incident ${report.incident.action}${report.incident.number ? ` #${report.incident.number}` : ""}${report.incident.detail ? ` (${report.incident.detail})` : ""}`);
  const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const lines = [
    ...report.deliveries.map((d) => ({ at, run: shim.runId, env: r.env, kind: "delivery", ...d })),
    { at, run: shim.runId, env: r.env, kind: "incident", event: o.event, ...report.incident },
  ];
  await mkdir(shim.s.out, { recursive: true });
  await appendFile(join(shim.s.out, NOTIFY_LEDGER), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  for (const w of report.warnings) shim.log(`warning: ${w}`);
  return report.warnings;
}

/** notify's report, from the dagger CLI's stdout (the function's return value). */
function readNotifyReport(stdout: string): { deliveries: DeliveryRecord[]; incident: IncidentRecord; warnings: string[] } | null {
  const start = stdout.indexOf("{");
  const json = start < 0 ? undefined : safeJson(stdout.slice(start));
  const r = json as { deliveries?: unknown; incident?: unknown; warnings?: unknown } | undefined;
  if (!r || !Array.isArray(r.deliveries) || !r.incident || typeof r.incident !== "object" || !Array.isArray(r.warnings)) return null;
  return { deliveries: r.deliveries as DeliveryRecord[], incident: r.incident as IncidentRecord, warnings: (r.warnings as unknown[]).map(String) };
}

async function pullRequest(shim: Shim, f: Extract<EventFacts, { event: "pull_request" }>, reproduce: string): Promise<number> {
  shim.log(`pull request #${f.pr} at ${f.sha.slice(0, 7)}${f.fork ? " (from a fork: no secrets, no deploy)" : ""}`);
  const { preview, error: previewError } = await readPreview(shim);
  if (previewError) shim.log(`warning: no release preview: ${previewError}`);
  const version = buildVersion({ event: "pull_request", pr: f.pr, sha: f.sha }, preview ?? { next: "0.0.0", bump: "none", previous: null });
  const { ci, error: ciError } = await readCi(shim, version, f.sha);

  // a dry run reports an unreadable config as not ready (in deployWithStatus) and prints the deploy anyway
  const { roles, error: configError } = await shim.roles();
  const decision = pullRequestDeploy({ fork: f.fork, ci, env: roles.pullRequests, configError: shim.dryRun ? undefined : configError });
  let deploy: CommentContext["deploy"];
  let warnings: string[] = [];
  if (!decision.deploy) deploy = deployOutcome(decision);
  else {
    const d = await deployWithStatus(shim, { env: decision.env, build: decision.build, sha: f.sha, trigger: "pull_request" });
    deploy = deployOutcome(decision, d);
    warnings = await notify(shim, { env: decision.env, kind: "deploy", ok: d.ok, message: d.message, version: decision.build.version, durationSec: d.durationSec, pr: f.pr, prTitle: f.title });
  }

  const context: CommentContext = parseCommentContext(
    { pr: f.pr, sha: f.sha, fork: f.fork, ci, ...(ci ? {} : { ciError: ciError ?? "ci did not run" }), deploy, release: preview, runUrl: shim.runUrl, reproduce, ...(warnings.length ? { warnings } : {}) },
    "the comment context",
  );
  const contextFile = join(shim.s.out, "comment.json");
  if (shim.dryRun) {
    // a dry run renders no comment: nothing ran, so there is nothing true to say about a deploy
    shim.log(`(dry run) would write ${contextFile} and ${join(shim.s.out, "comment.md")}, and post the comment`);
    return shim.dryRunVerdict();
  }
  await shim.write(contextFile, JSON.stringify(context, null, 2) + "\n");
  await shim.write(join(shim.s.out, "comment.md"), renderComment(context));
  if (f.fork) shim.log(`fork: ${contextFile} goes up as the workflow's artifact; the pr-comment workflow posts it with its own token`);
  else if (shim.has(SECRET_ENV.github)) {
    const r = await shim.dagger(argv.prComment(shim.s, contextFile));
    if (r.exitCode !== 0) shim.log(`warning: the PR comment could not be posted: ${excerpt(r.stderr || r.stdout)}`);
  } else shim.log(`no GITHUB_TOKEN: the comment is in ${join(shim.s.out, "comment.md")}, not posted`);

  const verdict = pullRequestVerdict(!!ci?.ok, deploy);
  shim.log(`\nshipit shim: pull request #${f.pr}: ${verdict.summary}`);
  return verdict.ok ? 0 : 1;
}

async function push(shim: Shim, f: Extract<EventFacts, { event: "push" }>): Promise<number> {
  const branch = releaseBranch(shim.env);
  if (!pushesReleaseBranch(f.ref, branch)) {
    shim.log(`push to ${f.ref}: shipit releases and deploys only ${branch} (set SHIPIT_RELEASE_BRANCH to change it); nothing to do`);
    return 0;
  }
  const { preview, error } = await readPreview(shim);
  if (!preview) {
    shim.log(`release preview failed, nothing was built or deployed: ${error}`);
    return 1;
  }
  const releasing = isRelease(preview);
  const version = buildVersion({ event: "push", sha: f.sha }, preview);
  shim.log(releasing ? `release v${version} (${preview.bump})` : `no releasable commit since v${preview.previous}: building ${version}, no new release`);
  const { ci, error: ciError } = await readCi(shim, version, f.sha);
  const build = shippable(ci);
  if (!build) {
    shim.log(`\nshipit shim: ${branch} at ${f.sha.slice(0, 7)}: checks failed, nothing released or deployed${ciError ? `: ${ciError}` : ""}`);
    return 1;
  }
  const production = (await shim.roles()).roles.production;
  if (releasing) {
    const r = await shim.dagger(argv.release(shim.s, f.sha, build.artifact));
    if (r.exitCode !== 0) {
      shim.log(`\nshipit shim: the release failed, so production was not touched: ${excerpt(r.stderr || r.stdout)}`);
      return 1;
    }
    await notify(shim, { env: production, kind: "release", ok: true, message: "", version, commit: f.sha });
  }
  const d = await deployWithStatus(shim, { env: production, build, sha: f.sha, trigger: "push" });
  await notify(shim, { env: production, kind: "deploy", ok: d.ok, message: d.message, version, durationSec: d.durationSec, commit: f.sha, ...(releasing ? { releaseUrl: shim.releaseUrl(version) } : {}) });
  if (shim.dryRun) return shim.dryRunVerdict();
  shim.log(`\nshipit shim: ${branch} at ${f.sha.slice(0, 7)}: ${d.ok ? `${version} is live on ${production}` : `the ${production} deploy failed: ${d.message}`}`);
  return d.ok ? 0 : 1;
}

async function manualRollback(shim: Shim, f: Extract<EventFacts, { event: "workflow_dispatch" }>): Promise<number> {
  const target = f.version ? `v${f.version}` : "the previous release";
  shim.log(`manual rollback of ${f.env} to ${target}`);
  const missing = missingInputs(shim, [SECRET_ENV.sshKey]);
  if (missing.length) {
    shim.log(`not rolled back: missing ${missing.join(", ")}. Fix: add them as repository secrets (see CONFIGURATION.md)`);
    return 1;
  }
  const sha = shim.env.GITHUB_SHA || (await execa("git", ["rev-parse", "HEAD"], { cwd: shim.s.git })).stdout.trim();
  const description = `rollback of ${f.env} to ${target}`;
  let started = 0;
  const r = await withGitHubDeployment(shim, { env: f.env, sha, description, done: "done", failed: "failed" }, () => {
    started = Date.now();
    return shim.dagger(argv.rollback(shim.s, { env: f.env, to: f.version, run: shim.runId }));
  });
  const ok = r.exitCode === 0;
  await notify(shim, { env: f.env, kind: "rollback", ok, message: tail(ok ? r.stdout : r.stderr || r.stdout), version: f.version ?? "previous", durationSec: (Date.now() - started) / 1000 });
  if (shim.dryRun) return shim.dryRunVerdict();
  shim.log(`\nshipit shim: ${description}: ${ok ? "done" : "FAILED"}`);
  return ok ? 0 : 1;
}

async function forkComment(shim: Shim, f: Extract<EventFacts, { event: "workflow_run" }>, contextFile: string): Promise<number> {
  if (f.triggeringEvent !== "pull_request") {
    shim.log(`workflow_run of a ${f.triggeringEvent} run: no PR comment to post`);
    return 0;
  }
  if (!existsSync(contextFile)) {
    shim.log(`no ${contextFile}: the pull-request run uploaded no comment context (it may have failed before writing one)`);
    return 1;
  }
  const context = parseCommentContext(safeJson(await readFile(contextFile, "utf8")), contextFile);
  if (!context.fork) {
    shim.log(`PR #${context.pr} is not from a fork: its own run posted the comment`);
    return 0;
  }
  const r = await shim.dagger(argv.prComment(shim.s, contextFile, f.headSha));
  if (shim.dryRun) return shim.dryRunVerdict();
  return r.exitCode === 0 ? 0 : 1;
}

/** What a dry run pretends ci-report wrote: green, so the rest of the sequence is printed too. */
function dryRunCi(version: string): CiJson {
  return { ok: true, name: "app", gates: [], coverage: null, artifact: `app-${version}.tar.gz`, sha256: "0".repeat(64), version, summary: "(dry run: ci-report not run)" };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
