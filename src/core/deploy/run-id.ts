import { isoSeconds } from "../text.js";

/** A run id people can read and sort: `r20261126T215300Z-1a2b`. GITHUB_RUN_ID-style ids are passed in instead when CI has one. */
export function newRunId(now = new Date(), random = Math.random): string {
  const stamp = isoSeconds(now).replace(/[-:]/g, "");
  return `r${stamp}-${Math.floor(random() * 0xffff).toString(16).padStart(4, "0")}`;
}
