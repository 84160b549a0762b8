/**
 * The two contracts that cross to the bot's host, in one place: the bot's health answer and the
 * ledger line. These zod schemas are the source. `npm run schema` writes them as JSON Schema to
 * config/contracts/ (test/core/deploy/contracts.test.ts fails when those files are stale), and the golden
 * fixtures in test/fixtures/contracts/ are checked against the zod schemas here (TypeScript tests)
 * and against the JSON Schema files by the host agent's pytest suite, which also checks that the
 * agent's own copies of the field lists, enums and time pattern are these ones (the agent is one
 * stdlib file shipped to the host and cannot import them).
 */
import { z } from "zod";

/** What the bot's `GET /api/health` answers (CONFIGURATION.md, "The health contract"). Extra fields are allowed. */
export const BotHealthSchema = z
  .object({
    status: z.string().describe('"running" once the bot has started'),
    connected: z.boolean().describe("true while the bot holds a live connection to its CyTube channel"),
    channel: z.string().describe("the channel it is in"),
    version: z.string().describe("the running version"),
    uptime: z.number().nonnegative().describe("seconds since start"),
  })
  .describe("The answer of the bot's GET /api/health, polled by the host agent on the host's loopback");
export type BotHealth = z.infer<typeof BotHealthSchema>;

/** How a deploy or rollback that reached the host ended: the ledger's whole vocabulary. */
export const LedgerOutcomeSchema = z.enum(["succeeded", "failed", "rolled_back", "rollback_failed"]);
export type LedgerOutcome = z.infer<typeof LedgerOutcomeSchema>;

/** The driver's outcomes: the ledger's, and two that never reach the ledger (refused before the lock, the driver itself broke). */
export const DriverOutcomeSchema = z.enum([...LedgerOutcomeSchema.options, "refused", "error"]);
export type DriverOutcome = z.infer<typeof DriverOutcomeSchema>;

/**
 * Outcome words older agents or hand-written lines may hold, read as today's. Nothing writes them:
 * the agent refuses them on append.
 */
export const LEGACY_OUTCOMES: Readonly<Record<string, LedgerOutcome>> = { success: "succeeded" };

/** UTC ISO-8601 with a `Z`, whole or fractional seconds: what the driver writes and the agent accepts. */
export const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const utcTime = z.string().regex(UTC_TIME, "must be a UTC ISO-8601 time such as 2026-11-26T21:00:00Z");

const Seconds = z.record(z.string(), z.number());

/** One line of a host's ledger.jsonl: written by the driver through the agent's `ledger-append`, which adds `host`. Extra fields are allowed. */
export const LedgerEntrySchema = z
  .object({
    kind: z.enum(["deploy", "rollback"]),
    env: z.string().min(1),
    version: z.string().min(1).describe('the version deployed, or "previous" for a rollback without --to'),
    outcome: LedgerOutcomeSchema,
    started: utcTime,
    ended: utcTime,
    seconds: z.number().optional(),
    sha256: z.string().nullable().optional(),
    commit: z.string().nullable().optional().describe("the artifact's commit, for lead time"),
    trigger: z.string().optional(),
    run: z.string().optional(),
    phases: Seconds.optional().describe("seconds per phase"),
    rollbackPhases: Seconds.optional().describe("seconds per phase of the automatic rollback"),
    release: z.string().nullable().optional(),
    previous: z.string().nullable().optional(),
    cause: z.object({ phase: z.string(), code: z.string().optional(), message: z.string().optional() }).optional(),
    host: z.string().optional(),
  })
  .describe("One line of BASE/ledger.jsonl on a bot host");
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

/** A ledger line as JSON → an entry, or null when it is not one. Legacy outcome words are read as today's. */
export function readLedgerEntry(json: unknown): LedgerEntry | null {
  const o = json as { outcome?: unknown } | null;
  const legacy = o && typeof o === "object" && typeof o.outcome === "string" && Object.hasOwn(LEGACY_OUTCOMES, o.outcome) ? LEGACY_OUTCOMES[o.outcome] : undefined;
  const parsed = LedgerEntrySchema.safeParse(legacy ? { ...o, outcome: legacy } : json);
  return parsed.success ? parsed.data : null;
}

/** Every contract with the file its JSON Schema is written to under config/contracts/. */
export const CONTRACTS = { "health.schema.json": BotHealthSchema, "ledger-entry.schema.json": LedgerEntrySchema } as const;
