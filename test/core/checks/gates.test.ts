import { expect, test } from "vitest";
import { evaluateBuild, evaluateDeps, evaluateLint, evaluateTest, evaluateTypecheck } from "../../../src/core/checks/gates.js";
import type { StepResult } from "../../../src/core/checks/step.js";
import { renderSummary } from "../../../src/core/checks/summary.js";

const result = (over: Partial<StepResult> = {}): StepResult => ({ id: "x", exitCode: 0, stdout: "", stderr: "", durationMs: 1500, reports: {}, argv: [], ...over });
const junit = (failures: string) =>
  `<testsuites><testsuite tests="3" failures="${failures ? 1 : 0}" errors="0" skipped="0"><testcase classname="tests.test_a" name="test_one"/><testcase classname="tests.test_a" name="test_two"/>` +
  `<testcase classname="tests.test_b" name="test_three">${failures}</testcase></testsuite></testsuites>`;
const cov = (total: number) =>
  JSON.stringify({
    totals: { percent_covered: total, covered_lines: 1, num_statements: 1 },
    files: Object.fromEntries(
      [10, 20, 30, 40, 50, 60].map((p, i) => [`lib/m${i}.py`, { summary: { percent_covered: p, num_statements: 10, missing_lines: 10 - p / 10 } }]),
    ),
  });
const config = { coverage: { threshold: 85, from: ".coveragerc [report] fail_under" } };
const NO_PYPROJECT = { pyproject: null, lock: null, extras: [], groups: [] };

test("test gate: green when all pass and coverage meets the threshold", () => {
  const v = evaluateTest(result(), junit(""), cov(85), config);
  expect(v.status).toBe("passed");
  expect(v.figure).toBe("3 passed · coverage 85% (threshold 85%)");
});

test("test gate: the failure names percent, threshold and its source, failing tests and five least-covered files", () => {
  const v = evaluateTest(result({ exitCode: 1 }), junit(`<failure message="AssertionError: assert 2 == 3">t</failure>`), cov(71.25), config);
  expect(v.status).toBe("failed");
  expect(v.figure).toBe("2 passed, 1 failed · coverage 71.3% (threshold 85%)");
  expect(v.detail).toMatchInlineSnapshot(`
    "1 test failed:
      tests/test_b.py::test_three — AssertionError: assert 2 == 3
    coverage 71.3% is below the threshold 85% (from .coveragerc [report] fail_under)
    least-covered files:
       10.0%  lib/m0.py (9 of 10 lines missed)
       20.0%  lib/m1.py (8 of 10 lines missed)
       30.0%  lib/m2.py (7 of 10 lines missed)
       40.0%  lib/m3.py (6 of 10 lines missed)
       50.0%  lib/m4.py (5 of 10 lines missed)"
  `);
});

test("test gate: no tests collected is red", () => {
  const v = evaluateTest(result({ exitCode: 5 }), `<testsuites><testsuite tests="0" failures="0" errors="0" skipped="0"/></testsuites>`, null, config);
  expect(v.status).toBe("failed");
  expect(v.detail).toContain("no tests were collected");
});

test("test gate: pytest that never wrote a report says it could not start", () => {
  const v = evaluateTest(result({ exitCode: 4, stderr: "ERROR: file or directory not found: nope" }), null, null, config);
  expect(v.detail).toContain("pytest wrote no JUnit report (exit 4)");
  expect(v.detail).toContain("file or directory not found: nope");
});

test("lint gate lists findings; typecheck gate lists errors", () => {
  const lint = evaluateLint(result(), JSON.stringify([{ code: "F401", message: "`os` imported but unused", filename: "/src/lib/a.py", location: { row: 1, column: 8 } }]), "/src");
  expect([lint.status, lint.figure, lint.detail]).toEqual(["failed", "1 finding", "ruff reported:\n  lib/a.py:1:8 F401 `os` imported but unused"]);
  const tc = evaluateTypecheck(result({ exitCode: 1, stdout: `lib/a.py:3: error: Bad  [return-value]\nFound 1 error in 1 file (checked 4 source files)\n` }));
  expect([tc.status, tc.figure, tc.detail]).toEqual(["failed", "1 error", "mypy reported:\n  lib/a.py:3 [return-value] Bad"]);
  expect(evaluateTypecheck(result({ exitCode: 2, stderr: "mypy: can't read file 'x'" })).detail).toContain("mypy could not run (exit 2)");
});

test("dependencies gate names the requirement files and the fix", () => {
  const g = evaluateDeps(result({ exitCode: 1, stderr: "No solution found when resolving dependencies:\n  Because there is no version of nosuchpkg==9.9.9" }), {
    requirements: ["requirements.txt"],
    python: { image: "python:3.11-slim", installer: "uv" },
    shape: NO_PYPROJECT,
  } as never);
  expect(g.detail).toContain("dependencies could not be installed from requirements.txt (exit 1)");
  expect(g.detail).toContain("Fix: check that every pinned package and version in requirements.txt exists");
  expect(g.detail).toContain("no version of nosuchpkg==9.9.9");
});

test("build gate reads the packer's JSON line", () => {
  const b = evaluateBuild(result({ stdout: `{"artifact": "app-1.0.0.tar.gz", "sha256": "${"ab".repeat(32)}", "bytes": 2048, "files": 12}\n` }));
  expect([b.status, b.figure]).toEqual(["passed", "app-1.0.0.tar.gz (12 files, 2.0 KiB)"]);
  expect(evaluateBuild(result({ exitCode: 1, stderr: "pack: include path 'x' does not exist" })).detail).toContain("include path 'x' does not exist");
});

test("a build that exits 0 without the packer's record is the build step broken, never a green gate showing undefined", () => {
  expect(() => evaluateBuild(result({ stdout: `{"artifact": "app-1.0.0.tar.gz", "files": "12"}\n` }))).toThrow(
    expect.objectContaining({
      name: "InfraError",
      code: "REPORT_INVALID",
      message: "the build step's last line (pack_artifact.py's record of the artifact) has an unexpected shape: sha256: expected string, received undefined; bytes: expected number, received undefined; files: expected number, received string",
    }),
  );
  expect(() => evaluateBuild(result({ stdout: "packed\n" }))).toThrow(/^the build step's last line \(pack_artifact\.py's record of the artifact\) is not JSON \(Unexpected token/);
});

test("summary: one table, details of red gates, a verdict naming each", () => {
  const gates = [
    evaluateLint(result({ durationMs: 400 }), "[]", "/src"),
    evaluateTest(result({ exitCode: 1, durationMs: 61_000 }), junit(`<failure message="boom">t</failure>`), cov(90), config),
  ];
  const text = renderSummary("shipit ci (app)", gates);
  expect(text.split("\n").slice(0, 4)).toEqual([
    "shipit ci (app)",
    "gate  status  duration  figure",
    "----  ------  --------  ------",
    "lint  ok      0.4s      0 findings",
  ]);
  expect(text).toContain("test  FAILED  1m1s      2 passed, 1 failed · coverage 90% (threshold 85%)");
  expect(text.trimEnd().split("\n").at(-1)).toBe("shipit ci (app): FAILED gates: test");
});

test("dependencies gate tells an unreachable index from a bad pin", () => {
  const config = { requirements: ["requirements.txt"], python: { image: "python:3.11-slim", installer: "uv" }, shape: NO_PYPROJECT } as never;
  const tls = evaluateDeps(result({ exitCode: 2, stderr: "error: Failed to fetch: https://pypi.org/simple/mypy/\n  cause: invalid peer certificate: UnknownIssuer" }), config);
  expect(tls.figure).toBe("package index unreachable");
  expect(tls.detail).toContain("Fix: check the network, proxy and CA certificates of the runner");
  const pin = evaluateDeps(result({ exitCode: 1, stderr: "× No solution found when resolving dependencies:\n  Because nosuchpkg was not found in the package registry" }), config);
  expect(pin.figure).toBe("install failed");
});

test("a collection error is named with its file and error, not as a failed test with missing coverage", async () => {
  const { collectionErrors } = await import("../../../src/core/checks/gates.js");
  const stdout = [
    "==================================== ERRORS ====================================",
    "____________________ ERROR collecting tests/test_broken.py _____________________",
    "ImportError while importing test module '/src/tests/test_broken.py'.",
    "tests/test_broken.py:1: in <module>",
    "    import no_such_module",
    "E   ModuleNotFoundError: No module named 'no_such_module'",
    "!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!",
  ].join("\n");
  expect(collectionErrors(stdout)).toEqual([{ file: "tests/test_broken.py", error: "ModuleNotFoundError: No module named 'no_such_module'" }]);
  expect(collectionErrors("5 passed in 0.1s")).toEqual([]);
});

test("a gate stopped at its timeout says so, with what was still running", async () => {
  const { evaluateTest, evaluateLint } = await import("../../../src/core/checks/gates.js");
  const r = { id: "test", exitCode: 124, stdout: "collected 3 items\ntests/test_a.py::test_one PASSED [ 33%]\ntests/test_a.py::test_hangs ", stderr: "\nshipit: step test timed out after 90 s (raise test.timeoutSec in shipit.json if it needs longer); still running: tests/test_a.py::test_hangs", durationMs: 90_000, reports: {}, argv: ["pytest"] };
  const g = evaluateTest(r, null, null, { coverage: { threshold: 85, from: "shipit default" } });
  expect(g.status).toBe("failed");
  expect(g.figure).toBe("timed out after 90 s");
  expect(g.detail).toContain("step test timed out after 90 s (raise test.timeoutSec in shipit.json if it needs longer); still running: tests/test_a.py::test_hangs");
  expect(evaluateLint({ ...r, id: "lint", stderr: "shipit: step lint timed out after 5 s (raise lint.timeoutSec in shipit.json if it needs longer)" }, null, "/src").figure).toBe("timed out after 5 s");
});

test("the test still running when pytest is stopped, in its quiet and verbose forms", async () => {
  const { runningTests } = await import("../../../src/core/checks/gates.js");
  expect(runningTests("tests/test_a.py ..F.                [ 40%]\ntests/test_b.py ..")).toBe("tests in tests/test_b.py (after 2 finished there)");
  expect(runningTests("tests/test_a.py::test_x PASSED [ 10%]\ntests/test_a.py::TestLock::test_wait ")).toBe("tests/test_a.py::TestLock::test_wait");
  expect(runningTests("tests/test_a.py ....  [100%]\n")).toBeNull();
});

test("dependencies gate: the row names the project's shape; a tools failure names shipit's pins; a stale uv.lock says to re-lock", () => {
  const pyproject = { pyproject: { name: "chatbot" }, lock: null, extras: ["fancy"], groups: ["test", "async"] };
  const config = { requirements: [], python: { image: "python:3.11-slim", installer: "uv" }, shape: pyproject } as never;
  expect(evaluateDeps(result(), config).figure).toBe("pyproject.toml (extras fancy; groups test, async) + tools (uv)");
  const locked = { requirements: ["requirements.txt"], python: { image: "python:3.11-slim", installer: "pip" }, shape: { ...pyproject, lock: "uv.lock", extras: [], groups: ["dev"] } } as never;
  expect(evaluateDeps(result(), locked).figure).toBe("requirements.txt, uv.lock (group dev) + tools (pip)");

  const tools = evaluateDeps(result({ id: "tools", exitCode: 1, stderr: "× No solution found when resolving dependencies:\n  Because there is no version of ruff==99.0.0" }), config);
  expect(tools.detail).toContain("dependencies could not be installed from shipit's tool pins (tools.* in shipit.json) (exit 1)");

  const stale = evaluateDeps(
    result({ exitCode: 2, stderr: "Resolved 8 packages in 3ms\nerror: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided. To update the lockfile, run `uv lock`." }),
    locked,
  );
  expect(stale.figure).toBe("uv.lock out of date");
  const offline = evaluateDeps(
    result({ exitCode: 1, argv: ["/opt/tools/bin/uv", "export", "--locked", "--offline"], stderr: "error: No solution found when resolving dependencies\n  cause: Because humanize was not found in the cache\n\nhint: Packages were unavailable because the network was disabled." }),
    locked,
  );
  expect(offline.figure).toBe("uv.lock out of date");
  expect(evaluateDeps(result({ exitCode: 1, argv: ["/opt/tools/bin/uv", "pip", "install"], stderr: "hint: Packages were unavailable because the network was disabled." }), locked).figure).toBe("install failed");
  expect(stale.detail).toBe(
    "uv.lock does not match pyproject.toml: it would install something other than what pyproject.toml declares (exit 2).\n" +
      "Fix: run `uv lock` in the repository and commit uv.lock (or set project.lock to false to resolve pyproject.toml instead).\n" +
      "Resolved 8 packages in 3ms\nerror: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided. To update the lockfile, run `uv lock`.",
  );
});
