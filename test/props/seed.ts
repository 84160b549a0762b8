/**
 * One seed for every property test (issue #20): fixed, so `npm test` generates the same cases on
 * every machine, and a failure is replayed by running with the seed (and path) fast-check prints.
 * Set SHIPIT_PROP_SEED to explore other cases; SHIPIT_PROP_RUNS scales every file's case count
 * (e.g. 10 for a long local hunt). The counts below are chosen so each file runs in a few seconds.
 */
import fc from "fast-check";

export const SEED = Number(process.env["SHIPIT_PROP_SEED"] ?? 20_2026);
const SCALE = Number(process.env["SHIPIT_PROP_RUNS"] ?? 1);

/** fast-check's options for `runs` cases: the fixed seed, and the shrunk counterexample printed on failure. */
export function props(runs: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: Math.max(1, Math.round(runs * SCALE)), verbose: 1 };
}
