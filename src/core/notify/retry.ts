/**
 * The retry policy for one webhook delivery, as a pure function of what the last attempt got.
 *
 * Retried: 429 (rate limited), 5xx, no answer (connection refused, reset, timeout). Not retried:
 * any other 4xx (a revoked or mistyped webhook answers 404 or 403, a bad payload 400: the same
 * request would get the same answer). `Retry-After` (seconds or an HTTP date) is honoured; a wait
 * longer than the policy allows, or a run out of attempts, gives up with a reason. Delivery never
 * holds a deploy for long: the worst case is attempts × timeout + the waits between them.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The first backoff; each next one doubles. */
  baseDelayMs: number;
  /** The longest wait between attempts, Retry-After included. */
  maxDelayMs: number;
  /** Each attempt's own timeout. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 30_000, timeoutMs: 10_000 };

export type AttemptResult = { kind: "answer"; status: number; retryAfter?: string | null } | { kind: "no-answer"; cause: string; timedOut: boolean };

export type NextStep = { action: "done" } | { action: "retry"; delayMs: number; why: string } | { action: "give-up"; cause: string };

/** `Retry-After` in milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP date (IMF-fixdate, or the obsolete forms Date.parse also reads).
  if (!/^[A-Za-z]{3},? /.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

function describe(r: AttemptResult): string {
  if (r.kind === "no-answer") return r.timedOut ? "no answer (timed out)" : `no answer (${r.cause})`;
  return `HTTP ${r.status}`;
}

/** After attempt number `attempt` (1-based) got `result`: stop, wait and retry, or give up. */
export function nextStep(policy: RetryPolicy, attempt: number, result: AttemptResult, now: number): NextStep {
  if (result.kind === "answer" && result.status >= 200 && result.status < 300) return { action: "done" };
  const retryable = result.kind === "no-answer" || result.status === 429 || result.status >= 500;
  const what = describe(result);
  if (!retryable) return { action: "give-up", cause: `${what}, not retried (the same request would get the same answer)` };
  if (attempt >= policy.attempts) return { action: "give-up", cause: `${what} on each of ${policy.attempts} attempts` };
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const asked = result.kind === "answer" ? parseRetryAfter(result.retryAfter, now) : undefined;
  if (asked !== undefined && asked > policy.maxDelayMs) {
    return { action: "give-up", cause: `${what}, and Retry-After asks for ${Math.ceil(asked / 1000)} s, more than the ${policy.maxDelayMs / 1000} s shipit waits` };
  }
  const delayMs = asked ?? backoff;
  return { action: "retry", delayMs, why: `${what}, retry ${attempt + 1}/${policy.attempts} in ${(delayMs / 1000).toFixed(1)} s${asked !== undefined ? " (Retry-After)" : ""}` };
}
