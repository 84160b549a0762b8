import { expect, test } from "vitest";
import { resolveConfig } from "../../../src/core/config/config.js";
import { runCheck, runCi, type GateEvent, type Runner } from "../../../src/core/checks/pipeline.js";
import { planChecks } from "../../../src/core/checks/plan.js";
import { scanSource } from "../../../src/core/checks/security/source-scan.js";
import { CONTAINER_LAYOUT, type Step, type StepResult } from "../../../src/core/checks/step.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";

async function setup() {
  const config = await resolveConfig(null, "shipit.json", memoryView(ROSEY));
  const plan = planChecks(config, CONTAINER_LAYOUT, { pack: "#pack", auditPins: "#pins" }, await scanSource(memoryView(ROSEY), config));
  return { config, plan };
}

const result = (s: Step, over: Partial<StepResult> = {}): StepResult => ({ id: s.id, exitCode: 0, stdout: "", stderr: "", durationMs: 1500, reports: {}, argv: s.commands.at(-1)!, ...over });

/** A runner that answers from a table and records which steps it ran. */
function fakeRunner(deps: Partial<StepResult>, steps: Record<string, Partial<StepResult>> = {}) {
  const ran: string[] = [];
  const run = async (s: Step) => {
    ran.push(s.id);
    return result(s, steps[s.id]);
  };
  const runner: Runner = { layout: CONTAINER_LAYOUT, prepare: async (_tools, s) => result(s, deps), run, runAll: (ss) => ss.map(run) };
  return { runner, ran };
}

const NO_INDEX = { exitCode: 1, stderr: "ERROR: No matching distribution found for shipit-no-such-package-xyz==9.9.9" };

test("a check run on its own whose dependencies failed is failed (not skipped), with the install's detail, and runs nothing", async () => {
  const { config, plan } = await setup();
  const { runner, ran } = fakeRunner(NO_INDEX);
  const events: GateEvent[] = [];
  const g = await runCheck("lint", plan, runner, config, (e) => events.push(e));
  expect(g).toEqual({
    name: "lint",
    status: "failed",
    durationMs: 0,
    figure: "blocked: dependencies failed",
    detail: "dependencies could not be installed from requirements.txt (exit 1).\nFix: check that every pinned package and version in requirements.txt exists on the package index and that the pins agree.\nERROR: No matching distribution found for shipit-no-such-package-xyz==9.9.9",
  });
  expect(ran).toEqual([]);
  expect(events.map((e) => (e.phase === "end" ? `${e.gate} ${e.status}` : `${e.gate} start`))).toEqual(["dependencies start", "dependencies failed"]);
  const security = await runCheck("security", plan, runner, config);
  expect([security.status, security.figure, security.errors, security.audit.text]).toEqual(["failed", "blocked: dependencies failed", ["blocked: dependencies failed"], "dependency audit: not run"]);
  expect(ran).toEqual([]);
});

test("ci whose dependencies failed: the dependencies row is red, every other gate skipped, nothing run", async () => {
  const { config, plan } = await setup();
  const { runner, ran } = fakeRunner(NO_INDEX);
  const report = await runCi(plan, runner, config);
  expect(report.gates.map((g) => [g.name, g.status, g.figure])).toEqual([
    ["dependencies", "failed", "install failed"],
    ["lint", "skipped", "blocked: dependencies failed"],
    ["typecheck", "skipped", "blocked: dependencies failed"],
    ["test", "skipped", "blocked: dependencies failed"],
    ["security", "skipped", "blocked: dependencies failed"],
    ["build", "skipped", "blocked: dependencies failed"],
  ]);
  expect(report.ok).toBe(false);
  expect(ran).toEqual([]);
});

test("the lint and test gates read the reports the plan names: ruff's JSON, then JUnit and coverage JSON", async () => {
  const { config, plan } = await setup();
  const ruff = JSON.stringify([{ filename: "/src/lib/x.py", location: { row: 3, column: 1 }, code: "F401", message: "`os` imported but unused" }]);
  const junit = `<testsuites><testsuite tests="2" failures="0" errors="0" skipped="0"><testcase classname="tests.test_a" name="t1"/><testcase classname="tests.test_a" name="t2"/></testsuite></testsuites>`;
  const coverage = JSON.stringify({ totals: { percent_covered: 91, covered_lines: 91, num_statements: 100 }, files: {} });
  const { runner } = fakeRunner({}, {
    lint: { reports: { [plan.reports.ruff]: ruff } },
    test: { reports: { [plan.reports.junit]: junit, [plan.reports.coverageJson]: coverage } },
  });
  const lint = await runCheck("lint", plan, runner, config);
  expect([lint.status, lint.figure, lint.detail]).toEqual(["failed", "1 finding", "ruff reported:\n  lib/x.py:3:1 F401 `os` imported but unused"]);
  const t = await runCheck("test", plan, runner, config);
  expect([t.status, t.figure]).toEqual(["passed", "2 passed · coverage 91% (threshold 85%)"]);
});
