import { expect, test } from "vitest";
import { InfraError } from "../../../src/core/errors.js";
import { exceptionLine, leastCovered, parseCoverageJson, parseJUnit, parseMypy, parseRuffJson } from "../../../src/core/checks/parsers.js";
import { COLLECTION_JUNIT, MIXED_JUNIT } from "./junit-samples.js";

const JUNIT = `<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5" time="0.1">
<testcase classname="tests.test_bot" name="test_ok" time="0.001" />
<testcase classname="tests.test_bot.TestCommands" name="test_ping" time="0.001"><failure message="AssertionError: assert 'pong!' == 'pong'">long trace</failure></testcase>
<testcase classname="tests.test_db" name="test_open" time="0.001"><error message="failed on setup with &quot;OSError: boom&quot;">trace</error></testcase>
<testcase classname="tests.test_db" name="test_skip" time="0.001"><skipped message="later" /></testcase>
<testcase classname="tests.test_db" name="test_more" time="0.001" />
</testsuite></testsuites>`;

test("JUnit: counts and failing test ids in pytest's node-id form", () => {
  expect(parseJUnit(JUNIT)).toEqual({
    tests: 5,
    failures: 1,
    errors: 1,
    skipped: 1,
    failed: [
      { id: "tests/test_bot.py::TestCommands::test_ping", message: "AssertionError: assert 'pong!' == 'pong'" },
      { id: "tests/test_db.py::test_open", message: `failed on setup with "OSError: boom"` },
    ],
    collection: [],
  });
});

test("JUnit: a collection error is the file and its exception line, not a failed test (pytest 9.2's report for an import and a syntax error)", () => {
  expect(parseJUnit(COLLECTION_JUNIT)).toEqual({
    tests: 2,
    failures: 0,
    errors: 0,
    skipped: 0,
    failed: [],
    collection: [
      { file: "tests/test_commands.py", error: "ModuleNotFoundError: No module named 'chatbot'" },
      { file: "tests/test_syntax.py", error: "SyntaxError: invalid syntax" },
    ],
  });
  // --continue-on-collection-errors: the other modules ran
  expect(parseJUnit(MIXED_JUNIT)).toEqual({
    tests: 3,
    failures: 1,
    errors: 0,
    skipped: 0,
    failed: [{ id: "tests/test_fine.py::test_bad", message: "assert 1 == 2" }],
    collection: [{ file: "tests/test_bad.py", error: "ModuleNotFoundError: No module named 'nope'" }],
  });
});

test.each([
  ["pytest's E lines: the last exception line", "tests/x.py:1: in <module>\n    import a\nE   ImportError: cannot import name 'b' from 'a'", "ImportError: cannot import name 'b' from 'a'"],
  ["a syntax error: not the File line nor the source line", 'E     File "/src/t.py", line 1\nE       def t(:\nE             ^\nE   SyntaxError: invalid syntax', "SyntaxError: invalid syntax"],
  ["chained: the last exception", "E   KeyError: 'x'\n\nDuring handling of the above exception, another exception occurred:\nE   RuntimeError: config missing", "RuntimeError: config missing"],
  ["a dotted exception name", "E   chatbot.errors.ConfigMissing: no token", "chatbot.errors.ConfigMissing: no token"],
  ["--tb=native: no E lines, the last exception line", "Hint: make sure your test modules/packages have valid Python names.\nTraceback (most recent call last):\n  File \"/src/t.py\", line 1\nModuleNotFoundError: No module named 'x'", "ModuleNotFoundError: No module named 'x'"],
  ["no exception line: the first E line", "E   something odd\nE   happened", "something odd"],
  ["no text at all", "", "no error text in the JUnit report"],
])("exceptionLine: %s", (_, text, line) => {
  expect(exceptionLine(text)).toBe(line);
});

test("JUnit: a file that is not JUnit is a clear error", () => {
  expect(() => parseJUnit("<html></html>")).toThrow("JUnit report has no <testsuite>");
  expect(() => parseJUnit("<html></html>")).toThrow(expect.objectContaining({ name: "InfraError", code: "REPORT_INVALID" }));
});

const COVERAGE = JSON.stringify({
  totals: { percent_covered: 82.3456, covered_lines: 80, num_statements: 97 },
  files: {
    "lib/a.py": { summary: { percent_covered: 100, num_statements: 10, missing_lines: 0 } },
    "lib/b.py": { summary: { percent_covered: 40, num_statements: 10, missing_lines: 6 } },
    "lib/c.py": { summary: { percent_covered: 40, num_statements: 20, missing_lines: 12 } },
    "lib/d.py": { summary: { percent_covered: 90, num_statements: 10, missing_lines: 1 } },
    "lib/e.py": { summary: { percent_covered: 75, num_statements: 4, missing_lines: 1 } },
    "lib/f.py": { summary: { percent_covered: 50, num_statements: 2, missing_lines: 1 } },
    "lib/empty.py": { summary: { percent_covered: 100, num_statements: 0, missing_lines: 0 } },
  },
});

test("coverage JSON: total rounded to one decimal, five least-covered files in a stable order", () => {
  const c = parseCoverageJson(COVERAGE);
  expect(c.percent).toBe(82.3);
  expect(leastCovered(c.files).map((f) => f.path)).toEqual(["lib/c.py", "lib/b.py", "lib/f.py", "lib/e.py", "lib/d.py"]);
});

test("coverage JSON with the wrong shape says so", () => {
  expect(() => parseCoverageJson(`{"meta": {}}`)).toThrow(/coverage JSON report has an unexpected shape/);
  // every issue, each with its path (a file name with a dot is one key, quoted)
  const twoFiles = { totals: { percent_covered: "82", covered_lines: 1, num_statements: 2 }, files: { "lib/a.py": { summary: { percent_covered: 1, num_statements: 1 } } } };
  expect(() => parseCoverageJson(JSON.stringify(twoFiles))).toThrow(
    new InfraError("REPORT_INVALID", 'coverage JSON report has an unexpected shape: totals.percent_covered: expected number, received string; files["lib/a.py"].summary.missing_lines: expected number, received undefined'),
  );
  expect(() => parseCoverageJson("<html>")).toThrow(expect.objectContaining({ code: "REPORT_INVALID", message: expect.stringMatching(/^coverage JSON report is not JSON \(Unexpected token/) }));
});

test("ruff JSON: findings relative to the source root", () => {
  const json = JSON.stringify([{ code: "F401", message: "`os` imported but unused", filename: "/src/lib/x.py", location: { row: 1, column: 8 } }]);
  expect(parseRuffJson(json, "/src")).toEqual([{ file: "lib/x.py", line: 1, col: 8, code: "F401", message: "`os` imported but unused" }]);
});

test("ruff JSON of another shape names each issue's path, not a bare zod error", () => {
  const wrong = JSON.stringify([{ code: "F401", message: "m", filename: "/src/x.py", location: { row: "1", column: 8 } }]);
  expect(() => parseRuffJson(wrong, "/src")).toThrow(expect.objectContaining({ name: "InfraError", code: "REPORT_INVALID", message: "ruff JSON report has an unexpected shape: [0].location.row: expected number, received string" }));
});

test("mypy text: errors with codes, and the files count from either closing line", () => {
  const out = `lib/x.py:3: error: Incompatible return value type (got "int", expected "str")  [return-value]\nlib/y.py:9:5: error: Name "z" is not defined  [name-defined]\nlib/y.py:9: note: hint\nFound 2 errors in 2 files (checked 13 source files)\n`;
  expect(parseMypy(out)).toEqual({
    errors: [
      { file: "lib/x.py", line: 3, code: "return-value", message: `Incompatible return value type (got "int", expected "str")` },
      { file: "lib/y.py", line: 9, code: "name-defined", message: `Name "z" is not defined` },
    ],
    files: 13,
  });
  expect(parseMypy("Success: no issues found in 13 source files\n")).toEqual({ errors: [], files: 13 });
});
