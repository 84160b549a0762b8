import { expect, test } from "vitest";
import { evaluateBuild, evaluateDeps, evaluateLint, evaluateTest, evaluateTypecheck } from "../../../src/core/checks/gates.js";
import type { StepResult } from "../../../src/core/checks/step.js";
import { renderSummary } from "../../../src/core/checks/summary.js";
import { COLLECTION_JUNIT, MIXED_JUNIT } from "./junit-samples.js";

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

const NO_TESTS = `<testsuites><testsuite tests="0" failures="0" errors="0" skipped="0"/></testsuites>`;
const COLLECT_FIX = "Fix: run `python -m pytest --collect-only` in the repository to see the whole error";

/**
 * Each way pytest can end without a green run gets its own true message: the cause first, and
 * the coverage report's absence explained by it instead of blamed on pytest-cov.
 */
test.each([
  {
    case: "collection errors stop pytest: the files and their exceptions; no coverage because nothing ran",
    r: result({ exitCode: 2 }),
    junit: COLLECTION_JUNIT,
    cov: null,
    figure: "collection failed in 2 files · no tests ran",
    detail: [
      "pytest could not collect 2 files (an import or syntax error in a test module or conftest):",
      "  tests/test_commands.py: ModuleNotFoundError: No module named 'chatbot'",
      "  tests/test_syntax.py: SyntaxError: invalid syntax",
      "no coverage report: pytest stopped at the collection error, before any test ran",
      COLLECT_FIX,
    ],
  },
  {
    case: "--continue-on-collection-errors: the collection error beside the failed test and the coverage",
    r: result({ exitCode: 1 }),
    junit: MIXED_JUNIT,
    cov: cov(90),
    figure: "1 passed, 1 failed, 1 file not collected · coverage 90% (threshold 85%)",
    detail: [
      "pytest could not collect 1 file (an import or syntax error in a test module or conftest):",
      "  tests/test_bad.py: ModuleNotFoundError: No module named 'nope'",
      "1 test failed:",
      "  tests/test_fine.py::test_bad — assert 1 == 2",
      "least-covered files:",
      "   10.0%  lib/m0.py (9 of 10 lines missed)",
      "   20.0%  lib/m1.py (8 of 10 lines missed)",
      "   30.0%  lib/m2.py (7 of 10 lines missed)",
      "   40.0%  lib/m3.py (6 of 10 lines missed)",
      "   50.0%  lib/m4.py (5 of 10 lines missed)",
      COLLECT_FIX,
    ],
  },
  {
    case: "no tests collected (exit 5), pytest's own discovery",
    r: result({ exitCode: 5 }),
    junit: NO_TESTS,
    cov: null,
    figure: "no tests collected",
    detail: [
      "pytest collected no tests (exit 5): it looked in the pytest config's testpaths, else the whole repository for test_*.py and *_test.py files with test_ functions",
      "no coverage report: no test ran, so there was nothing to measure",
      'Fix: add tests, or point "test": {"paths": [...]} in shipit.json (or testpaths in the pytest config) at the folder that holds them',
    ],
  },
  {
    case: "no tests collected in the configured test.paths",
    r: result({ exitCode: 5 }),
    junit: NO_TESTS,
    cov: null,
    paths: ["tests/unit", "tests/bot"],
    figure: "no tests collected",
    detail: [
      "pytest collected no tests (exit 5): it looked in tests/unit, tests/bot (test.paths) for test_*.py and *_test.py files with test_ functions",
      "no coverage report: no test ran, so there was nothing to measure",
      'Fix: add tests, or point "test": {"paths": [...]} in shipit.json (or testpaths in the pytest config) at the folder that holds them',
    ],
  },
  {
    case: "tests passed with --no-cov: coverage missing, and why",
    r: result({ stdout: "Coverage disabled via --no-cov switch!\n3 passed in 0.1s" }),
    junit: junit(""),
    cov: null,
    figure: "3 passed · no coverage data (threshold 85%)",
    detail: ["coverage report missing: 3 tests ran with coverage turned off by --no-cov. Fix: remove --no-cov from test.args in shipit.json or from addopts in the pytest config"],
  },
  {
    case: "tests passed, coverage.py measured nothing",
    r: result({ stderr: "CovReportWarning: Failed to generate report: No data to report." }),
    junit: junit(""),
    cov: null,
    figure: "3 passed · no coverage data (threshold 85%)",
    detail: ['coverage report missing: 3 tests ran but coverage.py measured no file ("No data to report"). Fix: check [run] source, include and omit in the coverage config: they must name the project\'s code'],
  },
  {
    case: "tests passed, no coverage.json for no reason pytest said",
    r: result(),
    junit: junit(""),
    cov: null,
    figure: "3 passed · no coverage data (threshold 85%)",
    detail: [
      "coverage report missing: 3 tests ran but pytest-cov wrote no coverage.json. Fix: check that nothing in test.args or the pytest config's addopts turns pytest-cov off or redirects its reports (--no-cov, -p no:pytest_cov, --cov-report)",
    ],
  },
  {
    case: "a conftest that cannot be imported: pytest writes no JUnit report; the file (relative to the source) and the exception",
    r: result({ exitCode: 4, stderr: "ImportError while loading conftest '/src/tests/conftest.py'.\ntests/conftest.py:1: in <module>\n    import nope\nE   ModuleNotFoundError: No module named 'nope'\n" }),
    junit: null,
    cov: null,
    figure: "conftest failed · no tests ran",
    detail: ["pytest could not load tests/conftest.py: ModuleNotFoundError: No module named 'nope'", "no coverage report: pytest stopped before collecting any test", COLLECT_FIX],
  },
  {
    case: "pytest without pytest-cov: --cov is unknown, and that is the cause",
    r: result({ exitCode: 4, stderr: "ERROR: usage: pytest [options] [file_or_dir] [file_or_dir] [...]\npytest: error: unrecognized arguments: --cov --cov-report=json:/out/test/coverage.json\n" }),
    junit: null,
    cov: null,
    figure: "pytest did not run",
    detail: [
      "pytest does not know --cov (exit 4): pytest-cov is not installed in the project environment, or test.args / the pytest config turns it off (-p no:pytest_cov).",
      "ERROR: usage: pytest [options] [file_or_dir] [file_or_dir] [...]",
      "pytest: error: unrecognized arguments: --cov --cov-report=json:/out/test/coverage.json",
    ],
  },
])("test gate: $case", ({ r, junit: xml, cov: coverage, paths, figure, detail }) => {
  const v = evaluateTest(r, xml, coverage, { ...config, test: { paths: paths ?? [] } }, "/src");
  expect([v.status, v.figure]).toEqual(["failed", figure]);
  expect(v.detail.split("\n")).toEqual(detail);
  // the pytest-cov hint only where pytest-cov is the cause
  expect(v.detail.includes("pytest-cov")).toBe(/pytest-cov wrote no|does not know --cov/.test(detail.join("\n")));
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
