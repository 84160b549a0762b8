import { expect, test } from "vitest";
import { formatMs } from "../../../src/core/checks/summary.js";

test("formatMs: a gate's milliseconds as seconds with one decimal, then minutes and seconds", () => {
  expect([0, 420, 4_250, 59_940, 59_960, 60_000, 119_600, 187_000, 3_725_000].map(formatMs)).toEqual(["0.0s", "0.4s", "4.3s", "59.9s", "1m0s", "1m0s", "2m0s", "3m7s", "62m5s"]);
});
