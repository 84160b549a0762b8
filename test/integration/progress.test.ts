import { expect, test } from "vitest";
import { createProgress } from "../../src/cli/progress.js";

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream };
}

test("on a pipe: one plain line when a gate starts and ends, the test gate's percentage, a heartbeat while it runs", async () => {
  const { chunks, stream } = sink(false);
  let t = 0;
  const p = createProgress(stream, { tty: false, now: () => t, heartbeatMs: 20 });
  p.onGate({ gate: "test", phase: "start" });
  p.onOutput("test", "tests/test_a.py ....  [ 10%]\ntests/test_b.py ......  [ 30%]\n");
  t = 65_000;
  await new Promise((r) => setTimeout(r, 60));
  p.onGate({ gate: "test", phase: "end", status: "passed", durationMs: 65_000, figure: "12 passed" });
  p.done();
  const text = chunks.join("");
  expect(text).toContain("… test         started\n");
  expect(text).toContain("… test         30% of tests done\n");
  expect(text).toContain("… test         running 1m5s · 30% of tests done\n");
  expect(text).toContain("✓ test         ok 1m5s · 12 passed\n");
  expect(text).not.toContain("\x1b[");
});

test("in a terminal: the lines repaint in place", () => {
  const { chunks, stream } = sink(true);
  const p = createProgress(stream, { tty: true, now: () => 0 });
  p.onGate({ gate: "lint", phase: "start" });
  p.onGate({ gate: "lint", phase: "end", status: "failed", durationMs: 200, figure: "3 findings" });
  p.done();
  const text = chunks.join("");
  expect(text).toContain("\x1b[1A"); // cursor up: the row is redrawn, not appended
  expect(text).toContain("\x1b[2K✗ lint         failed 0.2s · 3 findings\n");
});
