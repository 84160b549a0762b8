/**
 * The sticky PR comment: what the shim learned from one pull-request run, rendered as Markdown.
 *
 * The context is data the shim assembles from `ci.json`, the release preview and the deploy
 * outcome. For a fork it travels through a workflow artifact the fork's own code wrote, so it is
 * parsed strictly here and every string is escaped before it reaches Markdown.
 */
import { z } from "zod";
import { CiJsonSchema } from "../checks/ci-report.js";
import { formatSchemaIssues, ShipitError } from "../errors.js";

/** The hidden marker that identifies shipit's sticky PR comment. */
export const STICKY_MARKER = "<!-- shipit:sticky -->";

/** A link the comment renders: http(s) only, so a forged context cannot plant a javascript: link. */
const WebUrl = z.string().url().max(300).regex(/^https?:\/\//, "must be an http(s) URL");

const DeployOutcomeSchema = z.strictObject({
  status: z.enum(["succeeded", "failed", "skipped"]),
  env: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  version: z.string().max(100).optional(),
  /** Where people see the environment (the test channel). */
  url: WebUrl.optional(),
  /** The deploy's own message (success line, or why it failed / rolled back). */
  message: z.string().max(4000).optional(),
});

export const ReleasePreviewSchema = z.strictObject({
  previous: z.string().max(100).nullable(),
  next: z.string().max(100),
  bump: z.enum(["major", "minor", "patch", "none"]),
  notes: z.string().max(20000),
});

const CommentContextSchema = z.strictObject({
  pr: z.number().int().positive(),
  sha: z.string().regex(/^[0-9a-f]{7,40}$/),
  fork: z.boolean(),
  /** null when ci could not run at all; `ciError` then says why. */
  ci: CiJsonSchema.nullable(),
  ciError: z.string().max(4000).optional(),
  deploy: DeployOutcomeSchema,
  release: ReleasePreviewSchema.nullable(),
  runUrl: WebUrl,
  reproduce: z.string().max(1000),
  /** What went wrong without failing the run (a notification not delivered). */
  warnings: z.array(z.string().max(2000)).max(20).optional(),
});
export type CommentContext = z.infer<typeof CommentContextSchema>;

export function parseCommentContext(raw: unknown, origin: string): CommentContext {
  const r = CommentContextSchema.safeParse(raw);
  if (!r.success) {
    throw new ShipitError(
      "CONTEXT_INVALID",
      `${origin} is not a PR comment context shipit wrote: ${formatSchemaIssues(r.error.issues)}`,
    );
  }
  return r.data;
}

/** Text inside a table cell or a line: no Markdown, no HTML, no line breaks. */
export function inline(text: string): string {
  return text
    .replace(/\s*\n\s*/g, " ")
    .replace(/[\\`*_{}[\]()#+!|<>~]/g, (c) => `\\${c}`)
    .replace(/@/g, "@\u200b");
}

/** A fenced block that the text cannot close early. */
export function fenced(text: string, lang = ""): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${lang}\n${text.replace(/<!--/g, "<!\u200b--")}\n${fence}`;
}

const ICON = { passed: "✅", failed: "❌", skipped: "⏭️" } as const;

export function renderComment(c: CommentContext): string {
  const failed = c.ci?.gates.filter((g) => g.status === "failed").map((g) => g.name) ?? [];
  const headline = !c.ci
    ? "❌ **shipit could not run the checks**"
    : failed.length
      ? `❌ **Checks failed:** ${failed.map(inline).join(", ")}`
      : "✅ **All checks passed**";
  const out: string[] = [STICKY_MARKER, `### shipit · ${c.sha.slice(0, 7)}`, "", headline, ""];

  if (c.ci) {
    out.push("| gate | status | duration | figure |", "|---|---|---|---|");
    for (const g of c.ci.gates) {
      const duration = g.status === "skipped" ? "–" : `${(g.durationMs / 1000).toFixed(1)} s`;
      out.push(`| ${inline(g.name)} | ${ICON[g.status]} ${g.status} | ${duration} | ${inline(g.figure)} |`);
    }
    out.push("");
    if (c.ci.coverage) {
      const ok = c.ci.coverage.percent >= c.ci.coverage.threshold;
      out.push(`**Coverage:** ${c.ci.coverage.percent.toFixed(1)}% (threshold ${c.ci.coverage.threshold}%) ${ok ? "✅" : "❌"}`, "");
    }
    for (const g of c.ci.gates.filter((x) => x.status === "failed" && x.detail)) {
      out.push(`<details><summary>${inline(g.name)}: why it failed</summary>`, "", fenced(g.detail), "", "</details>", "");
    }
  } else {
    out.push(fenced(c.ciError ?? "the ci step ended without a report"), "");
  }

  out.push(`**Deploy to ${inline(c.deploy.env)}:** ${deployLine(c)}`, "");
  if (c.deploy.status === "failed" && c.deploy.message) {
    out.push("<details><summary>deploy output</summary>", "", fenced(c.deploy.message), "", "</details>", "");
  }

  if (c.warnings?.length) {
    out.push("⚠️ **Warnings** (none of them failed the run):", "", ...c.warnings.map((w) => `- ${inline(w)}`), "");
  }

  if (c.release) {
    const title =
      c.release.bump === "none"
        ? `Next release: none (no feat/fix/breaking commit since ${c.release.previous ? `v${inline(c.release.previous)}` : "the start"})`
        : `Next release if merged: v${inline(c.release.next)} (${c.release.bump}${c.release.previous ? ` from v${inline(c.release.previous)}` : ", first release"})`;
    out.push(`<details><summary>${title}</summary>`, "", quoteNotes(c.release.notes), "", "</details>", "");
  }

  out.push(`[Workflow run](${c.runUrl}) · reproduce locally:`, "", fenced(c.reproduce, "sh"));
  return out.join("\n") + "\n";
}

function deployLine(c: CommentContext): string {
  const d = c.deploy;
  if (c.fork) {
    return "⏭️ not deployed: this pull request comes from a fork. Forks never receive secrets and never deploy; a maintainer can push the branch to this repository to get a test deploy.";
  }
  const where = d.url ? ` · [${inline(d.env)} channel](${d.url})` : "";
  const version = d.version ? ` v${inline(d.version)}` : "";
  if (d.status === "succeeded") return `✅${version} is live${where}`;
  if (d.status === "failed") return `❌${version} failed to deploy; the previous release stays live${where}`;
  return `⏭️ skipped: ${inline(d.message ?? "the checks failed")}`;
}

/** Release notes are shipit's own Markdown but built from commit subjects: keep their links, drop any HTML. */
function quoteNotes(notes: string): string {
  return notes.replace(/</g, "&lt;").replace(/@/g, "@\u200b");
}
