/**
 * Webhook delivery over Node's own fetch: one POST per target, each attempt with its own timeout
 * (AbortSignal), retried by the pure policy in src/core/notify/retry.ts.
 *
 * Delivery never throws and never fails a deploy: each target ends as a DeliveryRecord, delivered
 * or failed with a cause. The URL is the secret: it is never in a record, a cause or a log line
 * (causes are built from the status, the error code and a short piece of the answer, with every
 * part of the URL scrubbed out as a last guard). A redirect is not followed (a failure, not
 * retried), so the payload goes nowhere but where the secret says; a URL that is not https
 * (loopback excepted, for tests) is refused before any request.
 */
import type { TargetKind } from "../core/config/notifications.js";
import type { NotifyMessage } from "../core/notify/message.js";
import { renderPayload } from "../core/notify/render.js";
import { DEFAULT_RETRY, nextStep, type AttemptResult, type RetryPolicy } from "../core/notify/retry.js";
import type { DeliveryRecord } from "../core/notify/route.js";

export interface WebhookTarget {
  kind: TargetKind;
  /** The secret's name, for the record. */
  secret: string;
  /** The secret's value. */
  url: string;
}

export interface DeliverOptions {
  policy?: RetryPolicy;
  /** Waits between attempts (tests pass a recording one). */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Progress lines (each retry), never carrying the URL. */
  log?: (line: string) => void;
}

const ANSWER_SNIPPET = 200;

export async function deliverAll(targets: WebhookTarget[], message: NotifyMessage, options: DeliverOptions = {}): Promise<DeliveryRecord[]> {
  return Promise.all(targets.map((t) => deliver(t, message, options)));
}

export async function deliver(target: WebhookTarget, message: NotifyMessage, options: DeliverOptions = {}): Promise<DeliveryRecord> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const base = { target: target.kind, secret: target.secret, event: message.event };
  const refused = urlProblem(target.url);
  if (refused) return { ...base, status: "failed", attempts: 0, cause: `the secret ${target.secret} ${refused}` };
  const body = JSON.stringify(renderPayload(target.kind, message));
  const scrub = scrubber(target.url);
  for (let attempt = 1; ; attempt++) {
    const result = await attemptOnce(target.url, body, policy.timeoutMs);
    const step = nextStep(policy, attempt, result.attempt, now());
    const httpStatus = result.attempt.kind === "answer" ? { httpStatus: result.attempt.status } : {};
    if (step.action === "done") return { ...base, status: "delivered", attempts: attempt, ...httpStatus };
    if (step.action === "give-up") {
      return { ...base, status: "failed", attempts: attempt, ...httpStatus, cause: scrub(result.snippet ? `${step.cause}: ${result.snippet}` : step.cause) };
    }
    options.log?.(scrub(`${target.kind} (${target.secret}): ${step.why}`));
    await sleep(step.delayMs);
  }
}

async function attemptOnce(url: string, body: string, timeoutMs: number): Promise<{ attempt: AttemptResult; snippet?: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "shipit" },
      body,
      // a redirect is answered, not followed: the payload goes only where the secret says
      redirect: "manual",
      signal,
    });
    // read the answer (a short one is worth a cause line; reading also frees the connection)
    const text = await res.text().catch(() => "");
    const ok = res.status >= 200 && res.status < 300;
    const snippet = ok ? undefined : oneLine(text).slice(0, ANSWER_SNIPPET) || undefined;
    return { attempt: { kind: "answer", status: res.status, retryAfter: res.headers.get("retry-after") }, ...(snippet ? { snippet } : {}) };
  } catch (error) {
    const timedOut = signal.aborted || (error as { name?: string } | null)?.name === "TimeoutError";
    return { attempt: { kind: "no-answer", timedOut, cause: timedOut ? `timed out after ${timeoutMs / 1000} s` : causeOf(error) } };
  }
}

/** What is wrong with the secret's value as a webhook URL, without repeating it. */
export function urlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return "does not hold a URL (it must be the webhook's https:// URL)";
  }
  const loopback = u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
  if (u.protocol === "https:" || (u.protocol === "http:" && loopback)) return undefined;
  return "does not hold an https:// URL (a webhook URL over plain http would travel readable)";
}

/** Remove every part of the URL that could be the credential (path, query, the whole) from a text. */
export function scrubber(url: string): (text: string) => string {
  const parts = new Set<string>([url, url.trim()]);
  try {
    const u = new URL(url.trim());
    parts.add(u.href);
    if (u.pathname.length > 1) parts.add(u.pathname);
    if (u.search) parts.add(u.search);
    for (const v of u.searchParams.values()) if (v.length >= 6) parts.add(v);
    for (const seg of u.pathname.split("/")) if (seg.length >= 6) parts.add(seg);
    if (u.username) parts.add(u.username);
    if (u.password) parts.add(u.password);
  } catch {
    // not a URL: the whole value is scrubbed
  }
  const sorted = [...parts].filter(Boolean).sort((a, b) => b.length - a.length);
  return (text) => sorted.reduce((t, p) => t.split(p).join("[webhook URL]"), text);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** A network failure's reason (ECONNREFUSED, ENOTFOUND …), never the request. */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
