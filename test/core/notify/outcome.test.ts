import { describe, expect, test } from "vitest";
import { reportDeploy } from "../../../src/core/deploy/report.js";
import type { DriverResult } from "../../../src/core/deploy/plan.js";
import { outcomeOf } from "../../../src/core/notify/outcome.js";

const phase = (name: string, ok = true) => ({ name, ok, seconds: 1, ...(ok ? {} : { error: { code: "HEALTH_NOT_CONNECTED", message: "bot not connected" } }) });
const cause = { phase: "health", code: "HEALTH_NOT_CONNECTED", message: "bot not connected after 90 s" };

function result(outcome: DriverResult["outcome"], over: Partial<DriverResult> = {}): DriverResult {
  return {
    outcome,
    seconds: 12,
    phases: [phase("upload"), phase("switch"), phase("health", outcome === "succeeded")],
    rollback: [],
    outputs: { install: { release: "1.3.0-20261127T100000Z" }, switch: { previous: "1.2.0-20261120T100000Z" } },
    ...(outcome === "succeeded" ? {} : { cause }),
    ...over,
  };
}

/** The message report.ts writes for a result, read back as the shim reads it. */
const read = (kind: "deploy" | "rollback", r: DriverResult) => {
  const rep = reportDeploy(r, { env: "prod", version: kind === "deploy" ? "1.3.0" : "previous", kind });
  return outcomeOf(kind, rep.ok, rep.message);
};

describe("every outcome report.ts can write is read back as its event", () => {
  test("deploy succeeded: what is live", () => {
    expect(read("deploy", result("succeeded"))).toEqual({ event: "deploy-succeeded", live: "1.3.0-20261127T100000Z" });
  });

  test("deploy rolled back: the previous release is live", () => {
    expect(read("deploy", result("rolled_back", { rollback: [phase("rollback-switch"), phase("rollback-health")] }))).toMatchObject({ event: "rolled-back", live: "1.2.0-20261120T100000Z", cause: expect.stringContaining("FAILED at health") });
  });

  test("deploy and rollback failed: DOWN, nothing known to be live", () => {
    const r = read("deploy", result("rollback_failed", { rollback: [phase("rollback-switch"), phase("rollback-health", false)] }));
    expect(r).toMatchObject({ event: "rollback-failed", live: "not known: the environment may be down" });
    expect(r.cause).toContain("the automatic rollback FAILED too at rollback-health");
  });

  test.each(["failed", "refused"] as const)("deploy %s: nothing changed", (outcome) => {
    expect(read("deploy", result(outcome))).toMatchObject({ event: "deploy-failed", live: "the release live before (untouched)" });
  });

  test("the driver broke: a failure whose live release is not known", () => {
    const r = read("deploy", result("error"));
    expect(r.event).toBe("deploy-failed");
    expect(r.live).toBeUndefined();
  });

  test("manual rollback: done, failed with nothing changed, went back, or DOWN", () => {
    expect(read("rollback", result("succeeded", { outputs: { "rollback-target": { release: "1.2.0-20261120T100000Z" }, switch: { previous: "1.3.0-20261127T100000Z" } } }))).toEqual({ event: "manual-rollback", live: "1.2.0-20261120T100000Z" });
    expect(read("rollback", result("failed"))).toMatchObject({ event: "manual-rollback", failed: true, live: "the release live before (untouched)" });
    expect(read("rollback", result("rolled_back"))).toMatchObject({ event: "manual-rollback", failed: true, live: "1.2.0-20261120T100000Z" });
    expect(read("rollback", result("rollback_failed", { rollback: [phase("rollback-health", false)] }))).toMatchObject({ event: "rollback-failed" });
  });
});

describe("what the shim sees besides report.ts's messages", () => {
  test("a refusal before the host (a missing secret, a sha256 mismatch): nothing changed", () => {
    expect(outcomeOf("deploy", false, "Error: deploy to prod refused before touching the host: missing secret --ssh-key")).toMatchObject({ event: "deploy-failed", live: "the release live before (untouched)" });
    expect(outcomeOf("deploy", false, "deploy to prod refused: the artifact's sha256 is …")).toMatchObject({ event: "deploy-failed", live: "the release live before (untouched)" });
  });

  test("the shim's own refusal (a missing secret) changed nothing", () => {
    expect(outcomeOf("deploy", false, "not deployed: missing DEPLOY_SSH_KEY. Fix: add them as repository secrets")).toMatchObject({ event: "deploy-failed", live: "the release live before (untouched)" });
  });

  test("an empty or unknown failure is never a success and never claims what is live", () => {
    expect(outcomeOf("deploy", false, "")).toEqual({ event: "deploy-failed", cause: "the call ended without a message" });
    expect(outcomeOf("rollback", false, "engine: connection reset")).toEqual({ event: "manual-rollback", failed: true, cause: "engine: connection reset" });
  });

  test("a success with an unreadable message still succeeds, with no live claim", () => {
    expect(outcomeOf("deploy", true, "deploy ok")).toEqual({ event: "deploy-succeeded" });
  });
});
