/**
 * The incident issue of an environment (production by default): what to do with it after an
 * event, as data. The adapter (src/github/github.ts) finds the one open issue by its marker, as the
 * sticky PR comment is found, and makes the calls the decision names.
 *
 * - a failed deploy or rollback opens the issue, or, when one is open, updates it (never a second);
 * - the next healthy deploy or rollback comments on it and closes it;
 * - a release, or an environment without incidents, leaves it alone.
 *
 * The body is Markdown built from the message: the host's and the PR's words are escaped with the
 * sticky comment's own helpers, so they can neither mention anyone nor plant a link.
 */
import type { Notifications } from "../config/notifications.js";
import { fenced, inline } from "../github/comment.js";
import { defangLinks, linkUrl } from "./escape.js";
import { durationWords, triggerWords, type NotifyMessage } from "./message.js";

/** The hidden marker that identifies an environment's incident issue. */
export function incidentMarker(env: string): string {
  return `<!-- shipit:incident:${env} -->`;
}

/** The RUNBOOK.md section each failure sends people to (test/core/notify/incident.test.ts checks each heading exists). */
export const RUNBOOK_SECTIONS = {
  "rollback-failed": "A deploy and its rollback failed",
  "rolled-back": "3. Roll back first, investigate later",
  "deploy-failed": "2. What changed?",
  "manual-rollback": "Rollback",
} as const;

const TITLE_MAX = 256;

export interface OpenIncident {
  number: number;
  title: string;
  body: string;
}

export type IncidentDecision =
  | { action: "none"; reason: string }
  | { action: "open"; title: string; body: string; labels: string[]; assignees: string[] }
  | { action: "update"; number: number; title: string; body: string; comment: string }
  | { action: "close"; number: number; comment: string };

export function decideIncident(m: NotifyMessage, config: Notifications["incident"], open: OpenIncident | null): IncidentDecision {
  if (!config.enabled) return { action: "none", reason: `incidents are off for ${m.env} (environments.${m.env}.notifications.incident.enabled)` };
  if (m.event === "release-published") return { action: "none", reason: "a release is no incident" };
  if (m.ok) {
    if (!open) return { action: "none", reason: `${m.env} is healthy and has no open incident` };
    return { action: "close", number: open.number, comment: closingComment(m) };
  }
  const title = incidentTitle(m);
  const body = incidentBody(m);
  if (!open) return { action: "open", title, body, labels: [...config.labels], assignees: [...config.assignees] };
  return { action: "update", number: open.number, title, body, comment: failureComment(m) };
}

/** The issue's title says the latest state; a DOWN environment says so first. */
export function incidentTitle(m: NotifyMessage): string {
  const t = `Incident: ${m.headline.replace(/^\S+\s/, "")}`; // the headline (which names the environment) without its emoji
  return t.length <= TITLE_MAX ? t : `${t.slice(0, TITLE_MAX - 1)}…`;
}

/** Text from a PR or a host in the issue: no Markdown, no mention, and no bare URL GitHub would link. */
function text(s: string): string {
  return inline(defangLinks(s));
}

function facts(m: NotifyMessage): string[] {
  const t = triggerWords(m.trigger);
  const rows: [string, string][] = [
    ["Environment", inline(m.env)],
    ["Version", m.version ? inline(m.version) : "–"],
    ["Live now", m.live ? text(m.live) : "not known"],
    ["Trigger", t.title ? `${inline(t.label)}: ${text(t.title)}` : inline(t.label)],
  ];
  if (m.actor) rows.push(["Started by", text(m.actor)]);
  const d = durationWords(m.durationSec);
  if (d) rows.push(["Duration", d]);
  if (m.links.run) rows.push(["Run", `[workflow run](${linkUrl(m.links.run)})`]);
  if (m.links.pr) rows.push(["Pull request", `[${m.trigger.kind === "pull_request" ? `#${m.trigger.pr}` : "link"}](${linkUrl(m.links.pr)})`]);
  if (m.links.release) rows.push(["Release", `[${m.version ? `v${inline(m.version)}` : "link"}](${linkUrl(m.links.release)})`]);
  rows.push(["When", m.at]);
  return ["| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v} |`)];
}

function runbook(m: NotifyMessage): string {
  const section = RUNBOOK_SECTIONS[m.event as keyof typeof RUNBOOK_SECTIONS] ?? RUNBOOK_SECTIONS["deploy-failed"];
  const urgent = m.event === "rollback-failed" ? `**${inline(m.env)} may be down: act now.** ` : "";
  return `${urgent}Follow RUNBOOK.md, section “${section}”.`;
}

export function incidentBody(m: NotifyMessage): string {
  return [
    incidentMarker(m.env),
    `## ${inline(m.headline)}`,
    "",
    ...facts(m),
    "",
    "### Cause",
    "",
    fenced(m.cause ?? "(no message)"),
    "",
    "### What to do",
    "",
    runbook(m),
    "",
    `shipit keeps this issue up to date: each further failure of ${inline(m.env)} is added here, and the next healthy deploy or rollback closes it.`,
    "",
  ].join("\n");
}

function failureComment(m: NotifyMessage): string {
  return [`**Another failure:** ${inline(m.headline)}`, "", ...facts(m), "", fenced(m.cause ?? "(no message)"), "", runbook(m), ""].join("\n");
}

function closingComment(m: NotifyMessage): string {
  const live = m.live ? ` ${text(m.live)} is live and healthy.` : "";
  const run = m.links.run ? ` ([workflow run](${linkUrl(m.links.run)}))` : "";
  return `**Resolved:** ${inline(m.headline)}.${live}${run}\n\nClosed by shipit. Write down what happened (RUNBOOK.md, “7. After the incident”).\n`;
}
