/** Small helpers shared across the core: near names, key paths, times, the end of a tool's output. */

/** Nearest name by edit distance (at most 2), for "did you mean". */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d <= 2 && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The fix for an unknown key: the near one if there is one, and every key allowed at that level. */
export function unknownKeyFix(key: string, known: string[]): string {
  const near = closest(key, known);
  return near ? `did you mean "${near}"? Known keys here: ${known.join(", ")}` : `remove it; known keys here: ${known.join(", ")}`;
}

/** The value at a key path in parsed JSON, or undefined when any step is missing or not an object. */
export function getIn(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

/** A UTC time as shipit writes it everywhere (ledger, run ids, metrics windows): whole seconds, `2026-11-26T21:53:00Z`. */
export function isoSeconds(t: Date | number = new Date()): string {
  return new Date(t).toISOString().replace(/\.\d+Z$/, "Z");
}

/** The last `lines` lines of a tool's output, for a gate's detail or an error message. */
export function tail(text: string, lines = 25): string {
  const all = text.trimEnd().split("\n");
  return all.slice(Math.max(0, all.length - lines)).join("\n");
}

/**
 * The end of a tool's output cut to fit a one-line warning or a PR comment: its last 30 lines, and
 * of those at most the last 3,500 characters.
 */
export function excerpt(text: string): string {
  return text.trim().split("\n").slice(-30).join("\n").slice(-3500);
}
