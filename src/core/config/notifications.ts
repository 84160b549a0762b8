/**
 * The grammar of `environments.<env>.notifications` in shipit.json: which chat webhooks hear about
 * which events, and the production incident issue. Defaults per environment are in
 * config/environments.json (test: failures only, no incident; prod: everything, and an incident).
 *
 * A target names the secret that holds its URL (an incoming-webhook URL is a credential: anyone who
 * has it can post); the URL itself is never in the config.
 */
import { z } from "zod";
import { closest } from "../text.js";
import { SecretName } from "./grammar.js";

/** Every event shipit tells people about, in the order a run can produce them. */
export const NOTIFY_EVENTS = ["deploy-succeeded", "deploy-failed", "rolled-back", "rollback-failed", "manual-rollback", "release-published"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** The events that mean something went wrong (a failed manual rollback is sent as manual-rollback). */
export const FAILURE_EVENTS: readonly NotifyEvent[] = ["deploy-failed", "rolled-back", "rollback-failed"];

export const TARGET_KINDS = ["slack", "discord", "webhook"] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** The fix for a word that is not an event: the near one, and the whole list. */
export function eventFix(word: string): string {
  const near = closest(word, [...NOTIFY_EVENTS]);
  return `${near ? `did you mean "${near}"? ` : ""}events are: ${NOTIFY_EVENTS.join(", ")}`;
}

/** An event name; a near miss gets a "did you mean" (carried as the issue's `fix`). */
export const EventName = z
  .string()
  .superRefine((v, ctx) => {
    if (!(NOTIFY_EVENTS as readonly string[]).includes(v)) ctx.addIssue({ code: "custom", message: "is not a notification event", params: { fix: eventFix(v) } });
  })
  .pipe(z.enum(NOTIFY_EVENTS));

/** The secret's name. A URL here is the credential itself, committed: say so, and how to recover. */
const WebhookSecret = z
  .string()
  .superRefine((v, ctx) => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(v)) {
      ctx.addIssue({
        code: "custom",
        message: "is a URL, not the name of a secret",
        params: { fix: "store the webhook URL as a repository secret (e.g. SHIPIT_SLACK_WEBHOOK) and put that name here; a webhook URL committed to shipit.json is leaked: revoke it and make a new one", redact: true },
      });
    }
  })
  .pipe(SecretName);

const Events = z.array(EventName).max(NOTIFY_EVENTS.length * 2);

const TargetSchema = z.strictObject({
  kind: z.enum(TARGET_KINDS).describe("slack (incoming webhook, Block Kit), discord (webhook, embeds) or webhook (shipit's own JSON, POSTed)"),
  secret: WebhookSecret.describe("Name of the secret holding the webhook URL, e.g. SHIPIT_SLACK_WEBHOOK (the URL is a credential)"),
  events: Events.optional().describe("Events this target hears; default: the environment's notifications.events"),
});
export type NotifyTarget = z.infer<typeof TargetSchema>;

/** A GitHub label: one line, no comma (the REST API takes a list; the web form splits on commas). */
const Label = z.string().min(1).max(50).regex(/^[^\p{Cc},]+$/u, "must be a GitHub label: one line of at most 50 characters, no comma");
/** A GitHub login. */
const Login = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, "must be a GitHub user name such as octocat");

const IncidentSchema = z.strictObject({
  enabled: z.boolean().default(false).describe("Open a GitHub issue when a deploy or rollback of this environment fails, and close it on the next healthy one"),
  labels: z.array(Label).max(20).default(["incident"]).describe("Labels of the incident issue (GitHub creates missing ones)"),
  assignees: z.array(Login).max(10).default([]).describe("GitHub users the incident issue is assigned to (at most 10, each with access to the repository)"),
});

export const NotificationsSchema = z.strictObject({
  events: Events.default([...FAILURE_EVENTS]).describe("Events every target hears unless it lists its own"),
  targets: z.array(TargetSchema).max(10).default([]).describe("Chat webhooks told about this environment's events"),
  incident: IncidentSchema.prefault({}),
});
export type Notifications = z.infer<typeof NotificationsSchema>;
