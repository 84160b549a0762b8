/**
 * Generated ledger lines (issue #20, part 4), shared by the property test and the 100,000-line
 * benchmark: entries as the driver writes them, lines from a newer shipit (unknown fields, a new
 * outcome word), garbage, and the last line cut off where the host lost power mid-append.
 */
import fc from "fast-check";

export interface Line {
  text: string;
  /** "entry": a ledger entry every reader keeps; "skip": a non-blank line every reader counts as skipped. */
  kind: "entry" | "skip";
}

const T0 = Date.UTC(2026, 10, 1);
const time = (offsetSec: number, frac: boolean) => new Date(T0 + offsetSec * 1000).toISOString().replace(/\.\d+Z$/, frac ? ".25Z" : "Z");

export const entry = fc
  .record({
    kind: fc.constantFrom("deploy", "rollback"),
    env: fc.constantFrom("test", "prod"),
    version: fc.oneof(fc.constantFrom("1.0.0", "1.2.3", "2.0.0rc1", "previous"), fc.string({ minLength: 1, maxLength: 20 })),
    outcome: fc.constantFrom("succeeded", "failed", "rolled_back", "rollback_failed", "success"),
    at: fc.integer({ min: 0, max: 40 * 86_400 }),
    took: fc.integer({ min: 1, max: 3_600 }),
    frac: fc.boolean(),
    seconds: fc.option(fc.oneof(fc.double({ min: 0, max: 3_600, noNaN: true }), fc.constantFrom(0, 1e308, -1)), { nil: undefined }),
    phases: fc.option(fc.dictionary(fc.constantFrom("upload", "install", "health", "smoke"), fc.oneof(fc.double({ min: 0, max: 600, noNaN: true }), fc.constant(1e308))), { nil: undefined }),
    rollbackPhases: fc.option(fc.dictionary(fc.constantFrom("rollback-switch", "rollback-restart", "rollback-health"), fc.oneof(fc.double({ min: 0, max: 600, noNaN: true }), fc.constant(1e308))), { nil: undefined }),
    release: fc.option(fc.constantFrom("1.0.0-20261101T000000Z", "1.2.3-20261102T000000Z", "<script>alert(1)</script>"), { nil: undefined }),
    previous: fc.option(fc.constantFrom("1.0.0-20261101T000000Z", null), { nil: undefined }),
    commit: fc.option(fc.constantFrom("0123456789abcdef0123456789abcdef01234567", "0123456", "zz", null), { nil: undefined }),
    cause: fc.option(fc.record({ phase: fc.constantFrom("health", "smoke"), code: fc.constantFrom("HEALTH_TIMEOUT", "</script><script>x()</script>"), message: fc.string({ maxLength: 30 }) }), { nil: undefined }),
  })
  .map(({ at, took, frac, ...e }) => {
    const out: Record<string, unknown> = { ...e, started: time(at, frac), ended: time(at + took, frac) };
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
  });

/** A line from a newer shipit: today's entry with fields this version does not know (kept: readers let extra fields through). */
const newer = fc.tuple(entry, fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).map((k) => `x_${k}`), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 })).map(([e, extra]) => ({ ...extra, ...e, schema: 2 }));

const deepLine = fc.integer({ min: 100, max: 3_000 }).map((n) => "[".repeat(n) + "]".repeat(n));
/** Lines nothing can read as an entry. None holds a newline; blank ones are generated apart (readers ignore them). */
export const garbage: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 60 }).filter((s) => !s.includes("\n") && s.trim() !== "" && !s.trim().startsWith("{")),
  fc.constantFrom("{", "{}", "null", "[]", "42", '"deploy"', '{"kind":"deploy"}', '{"kind":"deploy","env":"test","version":"1","outcome":"partial","started":"2026-11-01T00:00:00Z","ended":"2026-11-01T00:00:01Z"}', '{"kind":"deploy","env":"test","version":"1","outcome":"succeeded","started":"2026-11-01T00:00:00Z","ended":"2026-13-45T99:99:99Z"}', "\u0000\u0000\u0000", "x".repeat(100_000)),
  deepLine,
);

/** A whole ledger: lines in any mix, maybe CRLF line ends, maybe a last line cut short with no newline. */
export const ledger = fc
  .tuple(
    fc.array(fc.oneof({ weight: 5, arbitrary: entry.map((e): Line => ({ text: JSON.stringify(e), kind: "entry" })) }, { weight: 1, arbitrary: newer.map((e): Line => ({ text: JSON.stringify(e), kind: "entry" })) }, { weight: 2, arbitrary: garbage.map((text): Line => ({ text, kind: "skip" })) }, { weight: 1, arbitrary: fc.constantFrom("", "   ", "\r").map((text): Line => ({ text, kind: "entry" })) }), { maxLength: 30 }),
    fc.option(fc.tuple(entry, fc.double({ min: 0.01, max: 0.99, noNaN: true })), { nil: undefined }),
    fc.boolean(),
  )
  .map(([lines, cut, crlf]) => {
    const kept = lines.filter((l) => l.text.trim() !== "" || l.kind === "entry");
    const blank = (l: Line) => l.text.trim() === "";
    let text = kept.map((l) => l.text + (crlf ? "\r\n" : "\n")).join("");
    let skipped = kept.filter((l) => l.kind === "skip").length;
    if (cut) {
      const whole = JSON.stringify(cut[0]);
      text += whole.slice(0, Math.max(1, Math.floor(whole.length * cut[1]))); // the host lost power mid-append
      skipped++;
    }
    return { text, entries: kept.filter((l) => l.kind === "entry" && !blank(l)).length, skipped };
  });
