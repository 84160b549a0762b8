import type { DriverResult } from "./plan.js";
import { explainHealth } from "./health.js";

export interface DeployReport {
  ok: boolean;
  outcome: DriverResult["outcome"];
  message: string;
}

const secs = (n: number | undefined) => `${(n ?? 0).toFixed(1)}s`;

function phaseLine(r: DriverResult): string {
  return r.phases.map((p) => `${p.name} ${secs(p.seconds)}${p.ok ? "" : " FAILED"}`).join(", ");
}

function cause(r: DriverResult): string {
  const c = r.cause;
  if (!c) return "unknown cause";
  const text = c.code?.startsWith("HEALTH_") || c.code === "CRASH_LOOP" ? explainHealth(c.code, c.message ?? "") : `${c.message ?? ""} (${c.code ?? "?"})`;
  return `${c.phase}: ${text}`;
}

/** The chat smoke's answer, when it ran: who answered what, and how fast. */
function smokeLine(r: DriverResult): string {
  const s = r.outputs?.["smoke"];
  if (s && s["present"] === true && typeof s["seen_ms"] === "number") return `\nsmoke: ${String(s["bot"])} is in ${String(s["channel"])}'s user list, seen by ${String(s["account"])} in ${s["seen_ms"]} ms`;
  if (!s || typeof s["rtt_ms"] !== "number") return "";
  return `\nsmoke: ${String(s["bot"])} answered ${JSON.stringify(s["command"])} with ${JSON.stringify(s["reply"])} in ${s["rtt_ms"]} ms`;
}

/** One message a person can act on: what happened, why, and what is live now. */
export function reportDeploy(r: DriverResult, what: { env: string; version: string; kind: "deploy" | "rollback" }): DeployReport {
  const verb = what.kind === "deploy" ? `deploy of ${what.version} to ${what.env}` : `rollback of ${what.env}${what.version === "previous" ? "" : ` to ${what.version}`}`;
  const release = (r.outputs?.["install"]?.["release"] ?? r.outputs?.["rollback-target"]?.["release"]) as string | undefined;
  const previous = r.outputs?.["switch"]?.["previous"] as string | undefined | null;
  // the known-good release the automatic rollback went to (the agent's switch picks it)
  const rolledTo = (r.outputs?.["switch"]?.["rollbackTo"] ?? previous) as string | undefined | null;
  const ledger = r.ledger && !r.ledger.ok ? `\nwarning: the ledger line could not be written: ${r.ledger.error?.message}` : "";
  switch (r.outcome) {
    case "succeeded":
      return {
        ok: true,
        outcome: r.outcome,
        message: `${verb} succeeded in ${secs(r.seconds)}: ${release ?? "?"} is live${previous ? ` (previous: ${previous})` : ""}.${smokeLine(r)}\nphases: ${phaseLine(r)}${ledger}`,
      };
    case "rolled_back":
      return {
        ok: false,
        outcome: r.outcome,
        message:
          `${verb} FAILED at ${cause(r)}\n` +
          (rolledTo === previous
            ? `rolled back automatically: the previous release ${previous} is live again and healthy `
            : `rolled back automatically to ${rolledTo}, the newest release that passed health (the previous one, ${previous}, never did); it is live again and healthy `) +
          `(rollback took ${secs(r.rollback.reduce((a, p) => a + (p.seconds ?? 0), 0))}).\nphases: ${phaseLine(r)}${ledger}`,
      };
    case "rollback_failed": {
      const failed = r.rollback.find((p) => !p.ok);
      return {
        ok: false,
        outcome: r.outcome,
        message:
          `${verb} FAILED at ${cause(r)}\n` +
          `and the automatic rollback FAILED too${failed ? ` at ${failed.name}: ${failed.error?.message} (${failed.error?.code})` : ""}. ` +
          `${what.env} may be down: follow RUNBOOK.md ("a deploy and its rollback failed").\nphases: ${phaseLine(r)}${ledger}`,
      };
    }
    case "failed":
      return { ok: false, outcome: r.outcome, message: `${verb} FAILED before the switch at ${cause(r)}\nthe live release is untouched.\nphases: ${phaseLine(r)}${ledger}` };
    case "refused":
      return { ok: false, outcome: r.outcome, message: `${verb} did not start: ${cause(r)}\nnothing on the host changed.` };
    case "error":
      return { ok: false, outcome: r.outcome, message: `${verb}: the deploy driver broke: ${cause(r)}` };
  }
}
