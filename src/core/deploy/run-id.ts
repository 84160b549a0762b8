import { isoSeconds } from "../text.js";

/** A run id people can read and sort: `r20261126T215300Z-1a2b`. The workflow shim passes its own instead (`runId` in core/github/decisions.ts: `gh-<run>-<attempt>` in Actions). */
export function newRunId(now = new Date(), random = Math.random): string {
  const stamp = isoSeconds(now).replace(/[-:]/g, "");
  return `r${stamp}-${Math.floor(random() * 0xffff).toString(16).padStart(4, "0")}`;
}
