import { expect, test } from "vitest";
import { closest, getIn, isoSeconds, unknownKeyFix } from "../../src/core/text.js";

test("getIn walks objects and arrays, and answers undefined past a missing or scalar step", () => {
  const doc = { a: { b: [10, { c: "deep" }] }, n: null, s: "text" };
  expect(getIn(doc, ["a", "b", 1, "c"])).toBe("deep");
  expect(getIn(doc, ["a", "b", 0])).toBe(10);
  expect(getIn(doc, [])).toBe(doc);
  expect(getIn(doc, ["a", "x", "c"])).toBeUndefined();
  expect(getIn(doc, ["n", "c"])).toBeUndefined();
  expect(getIn(doc, ["s", "length"])).toBeUndefined();
});

test("isoSeconds writes whole-second UTC times, from a Date or epoch milliseconds", () => {
  expect(isoSeconds(new Date("2026-11-26T21:53:00.789Z"))).toBe("2026-11-26T21:53:00Z");
  expect(isoSeconds(Date.parse("2026-11-26T23:53:00+02:00"))).toBe("2026-11-26T21:53:00Z");
  expect(isoSeconds()).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
});

test("closest and unknownKeyFix still name the near key", () => {
  expect(closest("verison", ["version", "name"])).toBe("version");
  expect(unknownKeyFix("verison", ["version", "name"])).toBe('did you mean "version"? Known keys here: version, name');
});
