/**
 * The workflow shim's knowledge as data: which GitHub event it is, and the exact `dagger call`
 * argv of every step. src/cli/shim.ts runs them in order; tests compare the argv with `toEqual`.
 *
 * Secrets only ever appear as `env:NAME` references: the dagger CLI reads the value itself, so no
 * secret is in argv, in the printed commands or in the reproduce line.
 */
import { z } from "zod";
import type { NotifyInput } from "../notify/message.js";
import { isRepo } from "./inputs.js";
import { formatSchemaIssues, ShipitError } from "../errors.js";

export type ShimEvent = "pull_request" | "push" | "workflow_dispatch" | "workflow_run";
const SHIM_EVENTS: readonly ShimEvent[] = ["pull_request", "push", "workflow_dispatch", "workflow_run"];

const Sha = z.string().regex(/^[0-9a-f]{40}$/, "must be a 40-hex commit sha");
const RepoName = z.string().refine(isRepo, "must be OWNER/REPO");

const PullRequestEvent = z.object({
  pull_request: z.object({
    number: z.number().int().positive(),
    /** The PR author's words: only ever passed on as data (notify escapes them per service). */
    title: z.string().optional(),
    head: z.object({ sha: Sha, repo: z.object({ full_name: RepoName }).nullable() }),
  }),
  repository: z.object({ full_name: RepoName }),
});
const PushEvent = z.object({ after: Sha, ref: z.string() });
const DispatchEvent = z.object({
  inputs: z.object({
    environment: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "must be an environment name such as test or prod"),
    version: z
      .string()
      .regex(/^([0-9A-Za-z][0-9A-Za-z.+!_-]{0,63})?$/, "must be a version on the host, such as 1.4.0, or empty for the previous release")
      .optional(),
  }),
});
const WorkflowRunEvent = z.object({
  workflow_run: z.object({ head_sha: Sha, event: z.string(), id: z.number().int() }),
});

export type EventFacts =
  | { event: "pull_request"; pr: number; sha: string; fork: boolean; title?: string }
  | { event: "push"; sha: string; ref: string }
  | { event: "workflow_dispatch"; env: string; version: string | undefined }
  | { event: "workflow_run"; headSha: string; triggeringEvent: string };

/** What the shim needs from a GitHub event payload; a wrong payload is an error that names the field. */
export function readEvent(event: string, payload: unknown): EventFacts {
  const parse = <T>(schema: z.ZodType<T>): T => {
    const r = schema.safeParse(payload);
    if (!r.success) {
      throw new ShipitError("EVENT_INVALID", `the ${event} event payload is not what GitHub sends: ${formatSchemaIssues(r.error.issues)}. Fix: pass the event file GitHub wrote ($GITHUB_EVENT_PATH), or one shaped like it`);
    }
    return r.data;
  };
  switch (event) {
    case "pull_request": {
      const e = parse(PullRequestEvent);
      const head = e.pull_request.head.repo?.full_name ?? null;
      // A deleted fork has no head repo: treat it as a fork, never as ours.
      const title = e.pull_request.title;
      return { event, pr: e.pull_request.number, sha: e.pull_request.head.sha, fork: head === null || head !== e.repository.full_name, ...(title ? { title } : {}) };
    }
    case "push": {
      const e = parse(PushEvent);
      return { event, sha: e.after, ref: e.ref };
    }
    case "workflow_dispatch": {
      const e = parse(DispatchEvent);
      return { event, env: e.inputs.environment, version: e.inputs.version || undefined };
    }
    case "workflow_run": {
      const e = parse(WorkflowRunEvent);
      return { event, headSha: e.workflow_run.head_sha, triggeringEvent: e.workflow_run.event };
    }
    default:
      throw new ShipitError("EVENT_UNKNOWN", `unknown event "${event}": the shim handles ${SHIM_EVENTS.join(", ")}`);
  }
}

/** Where things are, as the dagger CLI sees them (paths relative to the working directory). */
export interface ShimSettings {
  /** `-m` for the dagger CLI: shipit's module ref when the bot's repo calls it (empty: the module in the working directory). */
  module?: string;
  /** The bot's source directory. */
  source: string;
  /** The git repository root (for release versions and notes). */
  git: string;
  config?: string;
  repo: string;
  apiUrl: string;
  /** Where ci-report exports ci.json and the artifact. */
  out: string;
  knownHosts: string;
}

const call = (s: ShimSettings, fn: string) => ["call", ...(s.module ? ["-m", s.module] : []), fn];
const src = (s: ShimSettings) => [`--source=${s.source}`, ...(s.config ? [`--config=${s.config}`] : [])];
const gh = (s: ShimSettings) => [`--repo=${s.repo}`, "--token=env:GITHUB_TOKEN", `--github-api=${s.apiUrl}`];

export const SECRET_ENV = {
  github: "GITHUB_TOKEN",
  sshKey: "DEPLOY_SSH_KEY",
  smoke: "CYTUBE_SMOKE_PASSWORD",
} as const;

/** notify's arguments as the shim passes them: the message's fields, then which secrets go along. */
export interface NotifyArgs extends Omit<NotifyInput, "environmentUrl" | "repo" | "at"> {
  /** Secret names of the webhooks to pass (each must be set in the environment). */
  webhooks: string[];
  /** Pass the GitHub token and repository, for the incident issue. */
  github: boolean;
}

const flag = (name: string, v: string | number | undefined) => (v === undefined || v === "" ? [] : [`--${name}=${v}`]);

export const argv = {
  nextRelease: (s: ShimSettings) => [...call(s, "next-release"), `--git=${s.git}`, ...src(s), `--repo=${s.repo}`],
  ciReport: (s: ShimSettings, version: string, commit: string) => [...call(s, "ci-report"), ...src(s), `--version=${version}`, `--commit=${commit}`, "export", `--path=${s.out}`],
  release: (s: ShimSettings, commit: string, artifact: string) => [...call(s, "release"), `--git=${s.git}`, ...src(s), ...gh(s), `--commit=${commit}`, `--artifact=${s.out}/${artifact}`],
  deploymentStart: (s: ShimSettings, env: string, ref: string, logUrl: string, description: string) => [
    ...call(s, "deployment-start"), ...src(s), ...gh(s), `--env=${env}`, `--ref=${ref}`, `--log-url=${logUrl}`, `--description=${description}`,
  ],
  deploymentFinish: (s: ShimSettings, env: string, id: string, ok: boolean, logUrl: string, description: string) => [
    ...call(s, "deployment-finish"), ...src(s), ...gh(s), `--env=${env}`, `--id=${id}`, `--state=${ok ? "success" : "failure"}`, `--log-url=${logUrl}`, `--description=${description}`,
  ],
  deploy: (s: ShimSettings, o: { env: string; botPasswordEnv: string; smokePasswordEnv: string; artifact: string; sha256: string; trigger: string; run: string }) => [
    ...call(s, "deploy"), ...src(s), `--env=${o.env}`, `--artifact=${s.out}/${o.artifact}`, `--expect-sha256=${o.sha256}`,
    `--ssh-key=env:${SECRET_ENV.sshKey}`, `--known-hosts=${s.knownHosts}`, `--bot-password=env:${o.botPasswordEnv}`, `--smoke-password=env:${o.smokePasswordEnv}`,
    `--trigger=${o.trigger}`, `--run=${o.run}`,
  ],
  rollback: (s: ShimSettings, o: { env: string; to?: string; run: string }) => [
    ...call(s, "rollback"), ...src(s), `--env=${o.env}`, ...(o.to ? [`--to=${o.to}`] : []), `--ssh-key=env:${SECRET_ENV.sshKey}`, `--known-hosts=${s.knownHosts}`, "--trigger=manual", `--run=${o.run}`,
  ],
  /**
   * Tell people about an event: the webhooks routed for it as `env:NAME` secrets with their names
   * beside them, and, for the incident issue, the GitHub token. Every other value is data.
   */
  notify: (s: ShimSettings, o: NotifyArgs) => [
    ...call(s, "notify"), ...src(s), `--env=${o.env}`, `--event=${o.event}`, ...(o.failed ? ["--failed"] : []),
    ...flag("version", o.version), ...flag("live", o.live), ...flag("pr", o.pr), ...flag("pr-title", o.prTitle), ...flag("commit", o.commit),
    ...flag("actor", o.actor), ...flag("cause", o.cause), ...flag("duration-sec", o.durationSec), ...flag("run-url", o.runUrl), ...flag("pr-url", o.prUrl), ...flag("release-url", o.releaseUrl),
    ...(o.webhooks.length ? [`--webhooks=${o.webhooks.map((n) => `env:${n}`).join(",")}`, `--webhook-names=${o.webhooks.join(",")}`] : []),
    ...(o.github ? gh(s) : []),
  ],
  prComment: (s: ShimSettings, context: string, headSha?: string) => [...call(s, "pr-comment"), ...gh(s), `--context=${context}`, ...(headSha ? [`--head-sha=${headSha}`] : [])],
};

/** The version a run builds: the next release on main, a pre-release for a PR, `<last>+g<sha>` when nothing is releasable. */
export function buildVersion(facts: { event: "pull_request" | "push"; pr?: number; sha: string }, preview: { next: string; bump: string; previous: string | null }): string {
  const g = `g${facts.sha.slice(0, 7)}`;
  if (facts.event === "pull_request") return `${preview.next}-pr.${facts.pr}.${g}`;
  if (preview.bump === "none" && preview.previous !== null) return `${preview.previous}+${g}`;
  return preview.next;
}

/** The one line that reproduces this run on a laptop: every flag that shaped it. */
export function reproduceLine(event: ShimEvent, eventFile: string | undefined, s: ShimSettings, synth: { pr?: string; env?: string; version?: string } = {}): string {
  const parts = ["npx", "shipit", "shim", event];
  if (eventFile) parts.push(`--event-file=${eventFile}`);
  else {
    if (synth.pr) parts.push(`--pr=${synth.pr}`);
    if (synth.env) parts.push(`--env=${synth.env}`);
    if (synth.version) parts.push(`--version=${synth.version}`);
  }
  if (s.source !== ".") parts.push(`--source=${s.source}`);
  if (s.git !== ".") parts.push(`--git=${s.git}`);
  if (s.config) parts.push(`--config=${s.config}`);
  if (s.module) parts.push(`--module=${s.module}`);
  if (s.knownHosts !== ".github/known_hosts") parts.push(`--known-hosts=${s.knownHosts}`);
  if (s.out !== ".shipit/ci") parts.push(`--out=${s.out}`);
  return showCommand(parts[0]!, parts.slice(1));
}

/** Render a command for the log exactly as it runs (argv quoted only where a shell would need it). */
export function showCommand(bin: string, args: readonly string[]): string {
  return [bin, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}
