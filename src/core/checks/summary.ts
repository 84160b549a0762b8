import type { Gate } from "./gates.js";

const STATUS = { passed: "ok", failed: "FAILED", skipped: "skipped" } as const;

/** A gate's duration in milliseconds → "4.2s", "3m7s". */
export function formatMs(ms: number): string {
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000); // rounded once, so 119.6 s is 2m0s, not 1m60s
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

/** One table of every gate, then the details of each failed gate, then a verdict line naming the failures. */
export function renderSummary(title: string, gates: Gate[]): string {
  const rows = [["gate", "status", "duration", "figure"], ...gates.map((g) => [g.name, STATUS[g.status], g.status === "skipped" ? "-" : formatMs(g.durationMs), g.figure])];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd());
  table.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  ") + "  " + "-".repeat(6));
  const failedGates = gates.filter((g) => g.status === "failed");
  const details = failedGates.map((g) => `\n[${g.name}] ${g.detail}`);
  const warnings = gates.filter((g) => g.warning).map((g) => `\n[${g.name}] warning: ${g.warning}`);
  const verdict = failedGates.length
    ? `${title}: FAILED gates: ${failedGates.map((g) => g.name).join(", ")}`
    : passedVerdict(title, gates.filter((g) => g.status === "passed").length);
  return [`${title}`, ...table, ...details, ...warnings, "", verdict].join("\n");
}

function passedVerdict(title: string, n: number): string {
  return n === 1 ? `${title}: the gate passed` : `${title}: all ${n} gates passed`;
}

export function gateError(g: Gate): string {
  return `${g.name} gate failed: ${g.figure}\n${g.detail}`;
}
