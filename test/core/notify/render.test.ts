import { describe, expect, test } from "vitest";
import { buildMessage, type NotifyInput } from "../../../src/core/notify/message.js";
import { DISCORD, renderDiscord, renderSlack, renderWebhook, SLACK, WEBHOOK_SCHEMA } from "../../../src/core/notify/render.js";
import { cap, defang, discordText, slackText } from "../../../src/core/notify/escape.js";

const Z = "\u200b";
const HOSTILE = "<!channel> <!here> <@U123ABC> @everyone @here <@&987> <#42> [click](http://evil.example/x) <http://evil.example|docs> **bold** `code` evil.example";
const input: NotifyInput = {
  env: "prod",
  event: "rolled-back",
  version: "1.3.0",
  live: "1.2.0-20261120T100000Z",
  pr: 12,
  prTitle: HOSTILE,
  actor: "octocat",
  cause: "health: bot not connected after 90 s (HEALTH_NOT_CONNECTED)\n<!channel> ``` [x](http://evil.example)",
  durationSec: 93.25,
  runUrl: "https://github.com/acme/rosey/actions/runs/9001",
  prUrl: "https://github.com/acme/rosey/pull/12",
  at: "2026-11-27T10:00:00Z",
  repo: "acme/rosey",
};

/** Every string in a payload, for "nowhere in it" assertions. */
function strings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === "object") return Object.values(v).flatMap(strings);
  return [];
}

describe("escaping", () => {
  test("Slack: the three control characters become entities, pings and links are broken", () => {
    expect(slackText("<!channel> a & b <@U1> <http://x|y>")).toBe(`&lt;!channel&gt; a &amp; b &lt;@${Z}U1&gt; &lt;http:${Z}//x|y&gt;`);
  });

  test("Discord: markdown and mention syntax are backslash-escaped, pings and links broken", () => {
    expect(discordText("[click](http://evil.example) @everyone <@&1> *x*")).toBe(`\\[click\\]\\(http\\:${Z}//evil.${Z}example\\) @${Z}everyone \\<@${Z}&1\\> \\*x\\*`);
  });

  test("defang: bare domains, schemes and @ get a zero-width space; plain words do not change", () => {
    expect(defang("see evil.example or me@host, http://x")).toBe(`see evil.${Z}example or me@${Z}host, http:${Z}//x`);
    expect(defang("end of sentence. Next")).toBe("end of sentence. Next");
  });

  test("cap never leaves half an entity, a dangling backslash or half a surrogate pair", () => {
    expect(cap("abc&amp;def", 6)).toBe("abc…");
    expect(cap("ab\\[cd", 4)).toBe("ab…");
    expect(cap("ab\\\\cd", 5)).toBe("ab\\\\…");
    expect(cap("a🚀b", 3)).toBe("a…");
    expect(cap("short", 5)).toBe("short");
  });
});

describe("Slack blocks", () => {
  test("the shape: header, facts, cause in a code block, links as context; no unfurling", () => {
    const p = renderSlack(buildMessage(input)) as { text: string; blocks: { type: string; text?: { type: string; text: string }; elements?: { text: string }[] }[]; unfurl_links: boolean; unfurl_media: boolean };
    expect(p.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context"]);
    expect(p.blocks[0]!.text).toEqual({ type: "plain_text", text: "↩️ prod: the deploy of 1.3.0 failed and was rolled back automatically", emoji: true });
    expect(p.blocks[1]!.text!.text).toBe(
      [
        "*Environment:* prod",
        "*Version:* 1.3.0",
        "*Live now:* 1.2.0-20261120T100000Z",
        `*Trigger:* PR #12: ${slackText(HOSTILE)}`,
        "*By:* octocat",
        "*Duration:* 93.3 s",
      ].join("\n"),
    );
    expect(p.blocks[2]!.text!.text).toBe(`*Cause*\n\`\`\`\nhealth: bot not connected after 90 s (HEALTH_NOT_CONNECTED)\n&lt;!channel&gt; ˋˋˋ [x](http:${Z}//evil.${Z}example)\n\`\`\``);
    expect(p.blocks[3]!.elements).toEqual([{ type: "mrkdwn", text: "<https://github.com/acme/rosey/actions/runs/9001|Workflow run> · <https://github.com/acme/rosey/pull/12|PR #12>" }]);
    expect([p.unfurl_links, p.unfurl_media]).toEqual([false, false]);
  });

  test("nothing from the PR or the host can ping or link: no raw <, no @ before a name, no scheme", () => {
    const p = renderSlack(buildMessage(input)) as { blocks: unknown[]; text: string };
    const ours = /<https:\/\/github\.com\/acme\/rosey\/(actions\/runs\/9001\|Workflow run|pull\/12\|PR #12)>/g;
    for (const s of strings(p).map((x) => x.replace(ours, ""))) {
      expect(s).not.toMatch(/<[!@#]/);
      expect(s).not.toMatch(/@(everyone|here|channel)/);
      expect(s).not.toMatch(/https?:\/\//);
      expect(s).not.toMatch(/evil\.example/);
    }
  });

  test("10k characters of title and cause stay within Slack's limits", () => {
    const p = renderSlack(buildMessage({ ...input, prTitle: "<".repeat(10_000), cause: "&".repeat(10_000), live: "@".repeat(10_000) })) as { text: string; blocks: { text?: { text: string } }[] };
    expect(p.text.length).toBeLessThanOrEqual(SLACK.text);
    expect(p.blocks[0]!.text!.text.length).toBeLessThanOrEqual(SLACK.header);
    for (const b of p.blocks.slice(1, 3)) {
      expect(b.text!.text.length).toBeLessThanOrEqual(SLACK.section);
      expect(b.text!.text).not.toMatch(/&[a-z]{0,4}…/);
    }
    expect(p.blocks[2]!.text!.text.endsWith("…\n```")).toBe(true);
  });
});

describe("Discord embeds", () => {
  test("the shape: one embed with title, colour, fields, cause, footer, time; mentions parse nothing", () => {
    const p = renderDiscord(buildMessage(input)) as { username: string; embeds: Record<string, unknown>[]; allowed_mentions: unknown; content?: string };
    expect(p.allowed_mentions).toEqual({ parse: [] });
    expect(p.username).toBe("shipit");
    expect(p.content).toBeUndefined();
    const e = p.embeds[0]!;
    expect(e).toMatchObject({ title: "↩️ prod: the deploy of 1.3.0 failed and was rolled back automatically", color: 0xecb22e, url: input.runUrl, timestamp: "2026-11-27T10:00:00Z", footer: { text: "shipit · rolled-back" } });
    expect((e["fields"] as { name: string }[]).map((f) => f.name)).toEqual(["Environment", "Version", "Live now", "Trigger", "By", "Duration", "Links"]);
    expect((e["fields"] as { value: string }[])[3]!.value).toBe(`PR #12: ${discordText(HOSTILE)}`);
    expect((e["fields"] as { value: string }[])[6]!.value).toBe("[Workflow run](https://github.com/acme/rosey/actions/runs/9001) · [PR #12](https://github.com/acme/rosey/pull/12)");
    expect(e["description"]).toBe(`**Cause**\n\`\`\`\nhealth: bot not connected after 90 s (HEALTH_NOT_CONNECTED)\n<!channel> ˋˋˋ [x](http:${Z}//evil.${Z}example)\n\`\`\``);
  });

  test("the loudest: red, and the headline also as the message content", () => {
    const p = renderDiscord(buildMessage({ ...input, event: "rollback-failed", commit: "0123456", pr: undefined })) as { content: string; embeds: { color: number }[] };
    expect(p.content).toBe("🚨 prod is DOWN: the deploy of 1.3.0 failed and so did its rollback");
    expect(p.embeds[0]!.color).toBe(0xe01e5a);
  });

  test("10k characters stay within Discord's limits, the embed as a whole too", () => {
    const p = renderDiscord(buildMessage({ ...input, prTitle: "[".repeat(10_000), cause: "(".repeat(10_000), actor: "*".repeat(10_000) })) as { embeds: { title: string; description: string; fields: { name: string; value: string }[]; footer: { text: string } }[] };
    const e = p.embeds[0]!;
    expect(e.title.length).toBeLessThanOrEqual(DISCORD.title);
    expect(e.description.length).toBeLessThanOrEqual(DISCORD.description);
    for (const f of e.fields) expect(f.value.length).toBeLessThanOrEqual(DISCORD.fieldValue);
    const total = e.title.length + e.description.length + e.footer.text.length + e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
    expect(total).toBeLessThanOrEqual(DISCORD.embed);
    expect(e.fields[3]!.value).not.toMatch(/[^\\]\[/);
  });
});

describe("the generic webhook", () => {
  test("shipit's own JSON: every field, values as given (JSON is the escaping)", () => {
    expect(renderWebhook(buildMessage(input))).toEqual({
      schema: WEBHOOK_SCHEMA,
      event: "rolled-back",
      ok: false,
      severity: "warning",
      env: "prod",
      headline: "↩️ prod: the deploy of 1.3.0 failed and was rolled back automatically",
      version: "1.3.0",
      live: "1.2.0-20261120T100000Z",
      trigger: { kind: "pull_request", pr: 12, title: HOSTILE },
      actor: "octocat",
      cause: input.cause,
      durationSec: 93.25,
      links: { run: input.runUrl, pr: input.prUrl, release: null, environment: null },
      repo: "acme/rosey",
      at: "2026-11-27T10:00:00Z",
    });
  });
});
