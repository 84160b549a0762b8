import { expect, test } from "vitest";
import { DEFAULT_RETRY, nextStep, parseRetryAfter, type RetryPolicy } from "../../../src/core/notify/retry.js";

const P: RetryPolicy = { attempts: 3, baseDelayMs: 1000, maxDelayMs: 10_000, timeoutMs: 5000 };
const NOW = Date.parse("2026-11-27T10:00:00Z");

test("a 2xx is done; 429, 5xx and no answer are retried with doubling backoff", () => {
  expect(nextStep(P, 1, { kind: "answer", status: 204 }, NOW)).toEqual({ action: "done" });
  expect(nextStep(P, 1, { kind: "answer", status: 503 }, NOW)).toEqual({ action: "retry", delayMs: 1000, why: "HTTP 503, retry 2/3 in 1.0 s" });
  expect(nextStep(P, 2, { kind: "answer", status: 500 }, NOW)).toEqual({ action: "retry", delayMs: 2000, why: "HTTP 500, retry 3/3 in 2.0 s" });
  expect(nextStep(P, 1, { kind: "no-answer", cause: "ECONNREFUSED", timedOut: false }, NOW)).toEqual({ action: "retry", delayMs: 1000, why: "no answer (ECONNREFUSED), retry 2/3 in 1.0 s" });
  expect(nextStep(P, 1, { kind: "no-answer", cause: "timed out after 5 s", timedOut: true }, NOW)).toMatchObject({ action: "retry", why: "no answer (timed out), retry 2/3 in 1.0 s" });
});

test("the backoff never exceeds the longest wait", () => {
  expect(nextStep({ ...P, attempts: 10 }, 8, { kind: "answer", status: 502 }, NOW)).toMatchObject({ action: "retry", delayMs: 10_000 });
});

test("after the last attempt it gives up, saying how often", () => {
  expect(nextStep(P, 3, { kind: "answer", status: 429, retryAfter: "1" }, NOW)).toEqual({ action: "give-up", cause: "HTTP 429 on each of 3 attempts" });
});

test("other 4xx are not retried: the same request would get the same answer", () => {
  for (const status of [400, 403, 404, 410]) {
    expect(nextStep(P, 1, { kind: "answer", status }, NOW)).toEqual({ action: "give-up", cause: `HTTP ${status}, not retried (the same request would get the same answer)` });
  }
});

test("Retry-After in seconds or as an HTTP date is honoured over the backoff", () => {
  expect(nextStep(P, 1, { kind: "answer", status: 429, retryAfter: "3" }, NOW)).toEqual({ action: "retry", delayMs: 3000, why: "HTTP 429, retry 2/3 in 3.0 s (Retry-After)" });
  expect(nextStep(P, 1, { kind: "answer", status: 503, retryAfter: "Fri, 27 Nov 2026 10:00:07 GMT" }, NOW)).toMatchObject({ action: "retry", delayMs: 7000 });
  expect(nextStep(P, 1, { kind: "answer", status: 429, retryAfter: "0" }, NOW)).toMatchObject({ action: "retry", delayMs: 0 });
});

test("a Retry-After longer than shipit waits gives up instead of holding the deploy", () => {
  expect(nextStep(P, 1, { kind: "answer", status: 429, retryAfter: "120" }, NOW)).toEqual({ action: "give-up", cause: "HTTP 429, and Retry-After asks for 120 s, more than the 10 s shipit waits" });
});

test("parseRetryAfter: seconds, an HTTP date (past is now), nonsense is ignored", () => {
  expect(parseRetryAfter("5", NOW)).toBe(5000);
  expect(parseRetryAfter(" 12 ", NOW)).toBe(12_000);
  expect(parseRetryAfter("Fri, 27 Nov 2026 10:01:00 GMT", NOW)).toBe(60_000);
  expect(parseRetryAfter("Fri, 27 Nov 2026 09:00:00 GMT", NOW)).toBe(0);
  for (const v of ["soon", "-3", "1.5", "", null, undefined, "2026-11-27"]) expect(parseRetryAfter(v, NOW)).toBeUndefined();
});

test("the default policy is bounded: at most about a minute on one target", () => {
  const waits = [1, 2, 3].map((a) => Math.min(DEFAULT_RETRY.maxDelayMs, DEFAULT_RETRY.baseDelayMs * 2 ** (a - 1)));
  const worst = DEFAULT_RETRY.attempts * DEFAULT_RETRY.timeoutMs + waits.reduce((a, b) => a + b, 0);
  expect(DEFAULT_RETRY.attempts).toBe(4);
  expect(worst).toBe(47_000);
});
