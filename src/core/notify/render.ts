/**
 * A message in each service's native format: Slack Block Kit (incoming webhook), a Discord embed
 * (webhook), and shipit's own JSON for a generic webhook. Everything from a PR or a host goes
 * through escape.ts; headlines, versions, environment names and links are shipit's own, checked
 * values.
 *
 * Limits: Slack section text 3000 characters, header 150, `text` (the push notification) capped at
 * 3000 too; Discord embed title 256, description 4096, field value 1024, content 2000, and all of
 * an embed at most 6000 together.
 */
import type { TargetKind } from "../config/notifications.js";
import { cap, codeText, discordText, linkUrl, slackText } from "./escape.js";
import { durationWords, triggerWords, type NotifyMessage, type Severity } from "./message.js";

export const SLACK = { section: 3000, header: 150, text: 3000 } as const;
export const DISCORD = { title: 256, description: 4096, fieldName: 256, fieldValue: 1024, content: 2000, embed: 6000 } as const;

const COLOR: Record<Severity, number> = { info: 0x2eb67d, warning: 0xecb22e, critical: 0xe01e5a };

/** The version of the generic webhook's JSON (CONFIGURATION.md documents it). */
export const WEBHOOK_SCHEMA = "shipit.notification/v1";

export function renderPayload(kind: TargetKind, m: NotifyMessage): unknown {
  if (kind === "slack") return renderSlack(m);
  if (kind === "discord") return renderDiscord(m);
  return renderWebhook(m);
}

interface Fact {
  name: string;
  /** Already escaped for the service. */
  value: string;
}

function facts(m: NotifyMessage, esc: (s: string) => string): Fact[] {
  const t = triggerWords(m.trigger);
  const out: Fact[] = [{ name: "Environment", value: m.env }];
  if (m.version) out.push({ name: "Version", value: m.version });
  out.push({ name: "Live now", value: m.live ? esc(m.live) : "not known" });
  out.push({ name: "Trigger", value: t.title ? `${t.label}: ${esc(t.title)}` : t.label });
  if (m.actor) out.push({ name: "By", value: esc(m.actor) });
  const d = durationWords(m.durationSec);
  if (d) out.push({ name: "Duration", value: d });
  return out;
}

function links(m: NotifyMessage): { label: string; url: string }[] {
  const t = m.trigger;
  return [
    m.links.run && { label: "Workflow run", url: m.links.run },
    m.links.pr && { label: t.kind === "pull_request" ? `PR #${t.pr}` : "Pull request", url: m.links.pr },
    m.links.release && { label: m.version ? `Release v${m.version}` : "Release", url: m.links.release },
    m.links.environment && { label: `${m.env} channel`, url: m.links.environment },
  ].filter((x): x is { label: string; url: string } => !!x);
}

// ---- Slack ----------------------------------------------------------------------------------

export function renderSlack(m: NotifyMessage): Record<string, unknown> {
  const body = facts(m, slackText).map((f) => `*${f.name}:* ${f.value}`).join("\n");
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: cap(m.headline, SLACK.header), emoji: true } },
    { type: "section", text: { type: "mrkdwn", text: cap(body, SLACK.section) } },
  ];
  if (m.cause) {
    const frame = "*Cause*\n```\n\n```";
    blocks.push({ type: "section", text: { type: "mrkdwn", text: `*Cause*\n\`\`\`\n${cap(codeText(m.cause, "slack"), SLACK.section - frame.length)}\n\`\`\`` } });
  }
  const l = links(m);
  if (l.length) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: cap(l.map((x) => `<${linkUrl(x.url)}|${x.label}>`).join(" · "), SLACK.section) }] });
  const fallback = [m.headline, m.live ? `live now: ${slackText(m.live)}` : "", m.cause ? `cause: ${slackText(m.cause.split("\n")[0]!)}` : ""].filter(Boolean).join(" · ");
  return { text: cap(fallback, SLACK.text), blocks, unfurl_links: false, unfurl_media: false };
}

// ---- Discord --------------------------------------------------------------------------------

export function renderDiscord(m: NotifyMessage): Record<string, unknown> {
  const fields = facts(m, discordText).map((f) => ({ name: f.name, value: cap(f.value, DISCORD.fieldValue), inline: f.name !== "Trigger" }));
  const l = links(m);
  if (l.length) fields.push({ name: "Links", value: cap(l.map((x) => `[${x.label}](${linkUrl(x.url)})`).join(" · "), DISCORD.fieldValue), inline: false });
  const title = cap(m.headline, DISCORD.title);
  const footer = `shipit · ${m.event}`;
  const used = title.length + footer.length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  const embed: Record<string, unknown> = { title, color: COLOR[m.severity], fields, footer: { text: footer }, timestamp: m.at };
  if (m.links.run) embed["url"] = m.links.run;
  if (m.cause) {
    const room = Math.min(DISCORD.description, DISCORD.embed - used) - "**Cause**\n```\n\n```".length;
    embed["description"] = `**Cause**\n\`\`\`\n${cap(codeText(m.cause, "discord"), Math.max(0, room))}\n\`\`\``;
  }
  return {
    username: "shipit",
    // the loudest message also says it outside the embed, where it is seen first
    ...(m.severity === "critical" ? { content: cap(m.headline, DISCORD.content) } : {}),
    embeds: [embed],
    allowed_mentions: { parse: [] },
  };
}

// ---- the generic webhook --------------------------------------------------------------------

/** shipit's own JSON: the message as data, the values as the run passed them (JSON is the escaping). */
export function renderWebhook(m: NotifyMessage): Record<string, unknown> {
  const t = m.trigger;
  return {
    schema: WEBHOOK_SCHEMA,
    event: m.event,
    ok: m.ok,
    severity: m.severity,
    env: m.env,
    headline: m.headline,
    version: m.version ?? null,
    live: m.live ?? null,
    trigger: t.kind === "pull_request" ? { kind: t.kind, pr: t.pr, title: t.title ?? null } : t.kind === "push" ? { kind: t.kind, commit: t.commit } : { kind: t.kind },
    actor: m.actor ?? null,
    cause: m.cause ?? null,
    durationSec: m.durationSec ?? null,
    links: { run: m.links.run ?? null, pr: m.links.pr ?? null, release: m.links.release ?? null, environment: m.links.environment ?? null },
    repo: m.repo ?? null,
    at: m.at,
  };
}
