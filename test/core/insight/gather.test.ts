import { expect, test } from "vitest";
import { InfraError } from "../../../src/core/errors.js";
import { readHostStatus } from "../../../src/core/insight/gather.js";

test("the agent's status answer is read as the dashboard needs it, other fields let through", () => {
  const answer = { ok: true, current: "1.2.0-20261127T101500Z", version: "1.2.0", releases: ["1.2.0-20261127T101500Z"], lock: null, health: { ok: false, code: "HEALTH_NOT_CONNECTED", message: "not connected" } };
  expect(readHostStatus(answer, "test")).toEqual(answer);
  expect(readHostStatus({ ok: true, current: null, version: null }, "test")).toEqual({ ok: true, current: null, version: null });
});

test("a status answer of another shape is REPORT_INVALID naming the environment and each path, never shown as unknown", () => {
  expect(() => readHostStatus({ current: 12, health: { ok: "yes" } }, "prod")).toThrow(
    expect.objectContaining({
      name: "InfraError",
      code: "REPORT_INVALID",
      message: "the status answer of the host agent of prod has an unexpected shape: current: expected string, received number; health.ok: expected boolean, received string",
    }),
  );
  expect(() => readHostStatus(undefined, "prod")).toThrow(new InfraError("REPORT_INVALID", "the status answer of the host agent of prod has an unexpected shape: (root): expected object, received undefined"));
});
