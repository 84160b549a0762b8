/**
 * One notification as data: what happened to which environment, what is live now, what started it
 * and who, why it failed, how long it took, and the links. Built once from the caller's inputs and
 * rendered per service (render.ts) and as the incident issue (incident.ts).
 *
 * The inputs come from a run: the PR title and the actor from GitHub, the cause and what is live
 * from the host. They are normalised here (one line, no control characters, capped), never
 * refused for their content: a hostile PR title must not stop the team from hearing about a
 * deploy. Only the run's own data is refused when malformed (an unknown event, a link that is not
 * http(s)), naming the argument and the fix.
 */
import { z } from "zod";
import { ConfigError, configIssue, schemaIssueCode, type ConfigIssue } from "../errors.js";
import { isoSeconds } from "../text.js";
import { NOTIFY_EVENTS, eventFix, type NotifyEvent } from "../config/notifications.js";
import { SafeVersion } from "../config/grammar.js";

export type Severity = "info" | "warning" | "critical";

export type Trigger = { kind: "pull_request"; pr: number; title?: string } | { kind: "push"; commit: string } | { kind: "manual" };

export interface NotifyMessage {
  env: string;
  event: NotifyEvent;
  /** false for every failure, including a manual rollback that failed. */
  ok: boolean;
  severity: Severity;
  /** shipit's own words, built only from checked values (environment, version, event). */
  headline: string;
  version?: string;
  /** What is live now, as far as the run knows; undefined when it does not. */
  live?: string;
  trigger: Trigger;
  actor?: string;
  cause?: string;
  durationSec?: number;
  links: { run?: string; pr?: string; release?: string; environment?: string };
  repo?: string;
  at: string;
}

/** What a caller passes (the Dagger function's and the CLI's arguments). */
export interface NotifyInput {
  env: string;
  event: string;
  /** manual-rollback only: the rollback failed (nothing changed). Every other event implies its outcome. */
  failed?: boolean;
  version?: string;
  live?: string;
  pr?: number;
  prTitle?: string;
  commit?: string;
  actor?: string;
  cause?: string;
  durationSec?: number;
  runUrl?: string;
  prUrl?: string;
  releaseUrl?: string;
  environmentUrl?: string;
  repo?: string;
  at?: string;
}

/** Caps on what the run passes in; each renderer caps again to its service's own limits. */
export const LIMITS = { title: 256, actor: 100, live: 200, cause: 3500 } as const;

const SEVERITY: Record<NotifyEvent, Severity> = {
  "deploy-succeeded": "info",
  "deploy-failed": "warning",
  "rolled-back": "warning",
  "rollback-failed": "critical",
  "manual-rollback": "info",
  "release-published": "info",
};

const WebUrl = z
  .string()
  .max(500)
  .regex(/^https?:\/\/[^\s]+$/, "must be an http(s) URL")
  .refine((u) => URL.canParse(u), "must be an http(s) URL");

const InputSchema = z.object({
  env: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "must be an environment name such as test or prod"),
  version: SafeVersion.optional(),
  pr: z.number().int().positive().optional(),
  commit: z.string().regex(/^[0-9a-f]{7,40}$/, "must be a commit sha (7 to 40 hex digits)").optional(),
  durationSec: z.number().min(0).max(7 * 24 * 3600).optional(),
  runUrl: WebUrl.optional(),
  prUrl: WebUrl.optional(),
  releaseUrl: WebUrl.optional(),
  environmentUrl: WebUrl.optional(),
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, "must be OWNER/REPO").optional(),
  at: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, "must be a UTC time such as 2026-11-26T21:00:00Z").optional(),
});

const ARG: Record<string, string> = { env: "--env", version: "--version", pr: "--pr", commit: "--commit", durationSec: "--duration-sec", runUrl: "--run-url", prUrl: "--pr-url", releaseUrl: "--release-url", environmentUrl: "--environment-url", repo: "--repo", at: "--at" };

/** Free text from a PR or a host, made one line (or kept multi-line), without control characters, capped. */
export function cleanText(text: string | undefined, max: number, multiline = false): string | undefined {
  if (text === undefined) return undefined;
  let t = text.replace(/\r\n?/g, "\n");
  t = multiline ? t.replace(/[^\P{Cc}\n\t]/gu, "").replace(/\t/g, "  ") : t.replace(/\p{Cc}+/gu, " ").replace(/\s+/g, " ");
  t = t.trim();
  if (!t) return undefined;
  return [...t].length > max ? `${[...t].slice(0, max - 1).join("")}…` : t;
}

/** The message for one event; a malformed argument is a ConfigError naming it. */
export function buildMessage(input: NotifyInput): NotifyMessage {
  const issues: ConfigIssue[] = [];
  if (!(NOTIFY_EVENTS as readonly string[]).includes(input.event)) {
    issues.push(configIssue({ code: "UNKNOWN_EVENT", path: ["--event"], value: input.event, problem: "is not a notification event", fix: eventFix(input.event) }));
  }
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const field = String(i.path[0] ?? "");
      issues.push(configIssue({ code: schemaIssueCode(i.code), path: [ARG[field] ?? field], value: (input as unknown as Record<string, unknown>)[field], problem: i.message.replace(/^Invalid input: /, ""), fix: `pass ${ARG[field] ?? field} in that form, or leave it out` }));
    }
  }
  if (input.failed !== undefined && input.event !== "manual-rollback") {
    issues.push(configIssue({ code: "NOT_APPLICABLE", path: ["--failed"], value: input.failed, problem: `applies to manual-rollback only (${input.event} says its own outcome)`, fix: "leave --failed out: it is for --event=manual-rollback" }));
  }
  if (issues.length) throw new ConfigError("notify arguments", issues);
  const event = input.event as NotifyEvent;
  const d = parsed.data!;
  const ok = event === "manual-rollback" ? !input.failed : !["deploy-failed", "rolled-back", "rollback-failed"].includes(event);
  const title = cleanText(input.prTitle, LIMITS.title);
  const trigger: Trigger = d.pr !== undefined ? { kind: "pull_request", pr: d.pr, ...(title ? { title } : {}) } : d.commit ? { kind: "push", commit: d.commit } : { kind: "manual" };
  const m: NotifyMessage = {
    env: d.env,
    event,
    ok,
    severity: event === "manual-rollback" && !ok ? "warning" : SEVERITY[event],
    headline: "",
    ...(d.version ? { version: d.version } : {}),
    ...optional("live", cleanText(input.live, LIMITS.live)),
    trigger,
    ...optional("actor", cleanText(input.actor, LIMITS.actor)),
    ...optional("cause", ok ? undefined : cleanText(input.cause, LIMITS.cause, true)),
    ...(d.durationSec !== undefined ? { durationSec: d.durationSec } : {}),
    links: {
      ...optional("run", d.runUrl),
      ...optional("pr", d.prUrl),
      ...optional("release", d.releaseUrl),
      ...optional("environment", d.environmentUrl),
    },
    ...(d.repo ? { repo: d.repo } : {}),
    at: d.at ?? isoSeconds(),
  };
  m.headline = headline(m);
  return m;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/** The one-line headline. The loudest (rollback-failed) says DOWN in capitals. */
export function headline(m: Pick<NotifyMessage, "env" | "event" | "ok" | "version" | "live" | "trigger">): string {
  const v = m.version ? ` ${m.version}` : "";
  const manual = m.trigger.kind === "manual";
  switch (m.event) {
    case "deploy-succeeded":
      return `✅ ${m.env}:${v || " the release"} is live and healthy`;
    case "deploy-failed":
      return m.live ? `⚠️ ${m.env}: the deploy of${v || " a release"} failed; nothing changed` : `⚠️ ${m.env}: the deploy of${v || " a release"} failed; what is live is not known`;
    case "rolled-back":
      return `↩️ ${m.env}: the deploy of${v || " a release"} failed and was rolled back automatically`;
    case "rollback-failed":
      return manual ? `🚨 ${m.env} is DOWN: the manual rollback failed and could not go back` : `🚨 ${m.env} is DOWN: the deploy of${v || " a release"} failed and so did its rollback`;
    case "manual-rollback": {
      const to = m.version && m.version !== "previous" ? ` to ${m.version}` : " to the previous release";
      if (m.ok) return `↩️ ${m.env}: rolled back by hand${to}`;
      return m.live ? `⚠️ ${m.env}: the manual rollback${to} failed; nothing changed` : `⚠️ ${m.env}: the manual rollback${to} failed; what is live is not known`;
    }
    case "release-published":
      return `📦 released${m.version ? ` v${m.version}` : ""}`;
  }
}

/** What started the run, in words (the PR title is the caller's to escape). */
export function triggerWords(t: Trigger): { label: string; title?: string } {
  if (t.kind === "pull_request") return { label: `PR #${t.pr}`, ...(t.title ? { title: t.title } : {}) };
  if (t.kind === "push") return { label: `merge commit ${t.commit.slice(0, 7)}` };
  return { label: "started by hand" };
}

export function durationWords(sec: number | undefined): string | undefined {
  if (sec === undefined) return undefined;
  if (sec < 120) return `${sec.toFixed(1)} s`;
  return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
}
