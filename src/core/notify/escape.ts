/**
 * Text from a PR or a host, made inert for a chat service: it can ping no one, and it can carry
 * no link, neither a markup link nor one the client would make of a bare URL or domain.
 *
 * - `defang` breaks what clients turn into pings or links (`@everyone`, `@here`, `user@host`,
 *   `http://…`, `evil.example`) with a zero-width space, which people do not see. A dot before a
 *   digit is left alone, so a release name (`1.2.0-20261120T100000Z`) can be copied into `--to=`;
 * - Slack's mrkdwn has exactly three control characters, `&`, `<` and `>` (`<!channel>`,
 *   `<@U123>`, `<http://x|label>`), written as entities;
 * - Discord's markdown takes a backslash before any punctuation (`\[x\]\(y\)`, `\<@123>`), and
 *   the payload also sets `allowed_mentions: {parse: []}` so that nothing pings even if it parsed;
 * - inside a code block neither service formats anything, but a backtick could close the block:
 *   backticks become a look-alike (ˋ).
 *
 * Lengths are capped after escaping, never in the middle of an entity or an escape.
 */

const ZWSP = "\u200b";

export function defang(text: string): string {
  return defangLinks(text.replace(/@/g, `@${ZWSP}`));
}

/** Only the link half of `defang`: for Markdown whose own escaping already breaks mentions. */
export function defangLinks(text: string): string {
  return text.replace(/:\/\//g, `:${ZWSP}//`).replace(/\.(?=\p{L})/gu, `.${ZWSP}`);
}

/** For Slack mrkdwn and `text`. */
export function slackText(text: string): string {
  return defang(text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"));
}

/** For Discord markdown (embed description, field values, content). */
export function discordText(text: string): string {
  return defang(text.replace(/[\\`*_~|>#\-[\]()<:]/g, (c) => `\\${c}`));
}

/** Text for a code block: only the fence can be broken out of. */
export function codeText(text: string, service: "slack" | "discord"): string {
  const t = text.replace(/`/g, "ˋ");
  return service === "slack" ? slackText(t) : defang(t);
}

/**
 * At most `max` characters (UTF-16 units, which never undercount), ending in "…" when cut. The cut
 * never leaves half an entity (`&am`), a dangling backslash, half a surrogate pair or a lone
 * zero-width space.
 */
export function cap(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  cut = cut.replace(/&[a-z]{0,4}$/, "");
  const slashes = /\\+$/.exec(cut)?.[0].length ?? 0;
  if (slashes % 2 === 1) cut = cut.slice(0, -1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** A link a service renders: only our own http(s) URLs, with the characters its link syntax uses encoded. */
export function linkUrl(url: string): string {
  return url.replace(/[|<>()\s]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}
