import { z } from "zod";

/**
 * The contract of the bot's `GET /api/health` (documented in CONFIGURATION.md). The host agent
 * polls it on the host's loopback; this schema checks what comes back before anyone trusts it.
 */
export const HealthSchema = z.object({
  status: z.string().describe('"running" once the bot has started'),
  connected: z.boolean().describe("true while the bot holds a live connection to its CyTube channel"),
  channel: z.string(),
  version: z.string(),
  uptime: z.number().nonnegative().describe("seconds since start"),
});
export type Health = z.infer<typeof HealthSchema>;

export type HealthProblem =
  | "HEALTH_UNREACHABLE"
  | "HEALTH_NOT_JSON"
  | "HEALTH_BAD_SHAPE"
  | "HEALTH_NOT_CONNECTED"
  | "HEALTH_WRONG_VERSION"
  | "HEALTH_TIMEOUT"
  | "CRASH_LOOP";

const ADVICE: Record<HealthProblem, string> = {
  HEALTH_UNREACHABLE: "the status server is not listening: check the unit's logs (journalctl -u UNIT) and that runtime.health_port matches healthUrl",
  HEALTH_NOT_JSON: "the endpoint answered something that is not JSON: is another program on that port?",
  HEALTH_BAD_SHAPE: "the JSON does not follow the health contract (status, connected, channel, version, uptime): see CONFIGURATION.md",
  HEALTH_NOT_CONNECTED: "the bot runs but is not connected to its channel: check server, channel and the bot password",
  HEALTH_WRONG_VERSION: "another version answers: the unit may run an old release, or the restart did not take",
  HEALTH_TIMEOUT: "no answer within the timeout: the bot may hang at start-up, or healthTimeoutSec is too short",
  CRASH_LOOP: "the unit keeps restarting: read journalctl -u UNIT for the traceback",
};

/** One message per failure kind, with what to do about it. */
export function explainHealth(code: string, message: string): string {
  const advice = ADVICE[code as HealthProblem];
  return advice ? `${message} (${code}): ${advice}` : `${message} (${code})`;
}

/** Validate a health answer the way the agent does, for answers that reach TypeScript directly. */
export function checkHealth(raw: unknown, expectVersion?: string): { ok: true; value: Health } | { ok: false; code: HealthProblem; message: string } {
  const parsed = HealthSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    return { ok: false, code: "HEALTH_BAD_SHAPE", message: `health answer has a bad shape at "${i.path.join(".")}": ${i.message}` };
  }
  const h = parsed.data;
  if (h.status !== "running" || !h.connected) return { ok: false, code: "HEALTH_NOT_CONNECTED", message: `bot reports status "${h.status}", connected ${h.connected}` };
  if (expectVersion && h.version !== expectVersion) return { ok: false, code: "HEALTH_WRONG_VERSION", message: `bot reports version ${h.version}, expected ${expectVersion}` };
  return { ok: true, value: h };
}
