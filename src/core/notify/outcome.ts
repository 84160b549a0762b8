/**
 * Which event a finished deploy or rollback is, read from its message (src/core/deploy/report.ts
 * writes it; the shim only has the `dagger call`'s exit code and output). A message this does not
 * recognise (the engine broke, the call never ran) is a failure whose live release is not known,
 * never a success. test/core/notify/outcome.test.ts runs every outcome report.ts can write through it.
 */
import type { NotifyEvent } from "../config/notifications.js";

export interface RunOutcome {
  event: NotifyEvent;
  /** manual-rollback only: it failed, and nothing changed. */
  failed?: boolean;
  /** What is live now, when the message says. */
  live?: string;
  /** A failure's message, as the call printed it (the host's words: escaped where rendered). */
  cause?: string;
}

const UNTOUCHED = "the release live before (untouched)";

export function outcomeOf(kind: "deploy" | "rollback", exitOk: boolean, message: string): RunOutcome {
  const text = message.trim();
  const cause = text || "the call ended without a message";
  if (exitOk) {
    const live = /: (\S+) is live(?: \(previous|\.)/.exec(text)?.[1];
    return { event: kind === "deploy" ? "deploy-succeeded" : "manual-rollback", ...(live ? { live } : {}) };
  }
  if (/the automatic rollback FAILED too/.test(text)) {
    return { event: "rollback-failed", live: "not known: the environment may be down", cause };
  }
  const back = /the previous release (\S+) is live again/.exec(text)?.[1];
  if (/rolled back automatically/.test(text)) {
    // a manual rollback whose release failed health went back to where it was: nothing changed
    return kind === "deploy" ? { event: "rolled-back", ...(back ? { live: back } : {}), cause } : { event: "manual-rollback", failed: true, ...(back ? { live: back } : {}), cause };
  }
  const untouched = /the live release is untouched|nothing on the host changed|refused before touching the host|refused:|^not deployed: /m.test(text);
  if (kind === "rollback") return { event: "manual-rollback", failed: true, ...(untouched ? { live: UNTOUCHED } : {}), cause };
  return { event: "deploy-failed", ...(untouched ? { live: UNTOUCHED } : {}), cause };
}
