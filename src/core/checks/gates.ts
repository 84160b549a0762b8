import { z } from "zod";
import type { ResolvedConfig } from "../config/config.js";
import { tail } from "../text.js";
import { describeShape } from "../config/project.js";
import {
  leastCovered,
  parseJsonShape,
  parseCoverageJson,
  parseJUnit,
  exceptionLine,
  relativeTo,
  parseMypy,
  parseRuffJson,
  type CoverageSummary,
  type JUnitSummary,
} from "./parsers.js";
import { SERVICE_EXIT_CODE, type Step, type StepResult } from "./step.js";

type GateName = "dependencies" | "lint" | "typecheck" | "test" | "security" | "build";
type GateStatus = "passed" | "failed" | "skipped";

export interface Gate {
  name: GateName;
  status: GateStatus;
  durationMs: number;
  /** The one figure a person looks for: findings, errors, coverage, artifact size. */
  figure: string;
  /** Why it failed, with what to look at; empty when it passed. */
  detail: string;
  /** Something a person must know even when the gate passed (printed under the table). */
  warning?: string;
}

export interface TestVerdict extends Gate {
  coverage: CoverageSummary | null;
  junit: JUnitSummary | null;
  threshold: number;
}

const passed = (name: GateName, r: StepResult, figure: string): Gate => ({ name, status: "passed", durationMs: r.durationMs, figure, detail: "" });
const failed = (name: GateName, r: StepResult, figure: string, detail: string): Gate => ({ name, status: "failed", durationMs: r.durationMs, figure, detail });

/** A step the runner stopped at its timeout (`<gate>.timeoutSec`): named as such, with what was still running. */
/** What a runner appends to a step's stderr when it stopped the step at its timeout; timedOut reads it back. */
export function timeoutMessage(step: Step, stdout: string): string {
  const base = `shipit: step ${step.id} timed out after ${Math.round(step.timeoutMs / 1000)} s (raise ${step.id === "deps" ? "nothing: dependencies have a fixed 30 min" : `${step.id.split("-")[0]}.timeoutSec`} in shipit.json if it needs longer)`;
  const running = runningTests(stdout);
  return running ? `${base}; still running: ${running}` : base;
}

export function timedOut(name: GateName, r: StepResult): Gate | null {
  const line = /^shipit: step \S+ timed out after (\d+) s.*$/m.exec(r.stderr);
  if (!line) return null;
  return failed(name, r, `timed out after ${line[1]} s`, `${line[0].replace(/^shipit: /, "")}\n--- last output ---\n${tail(r.stdout, 10)}`);
}

export function skipped(name: GateName, why: string): Gate {
  return { name, status: "skipped", durationMs: 0, figure: why, detail: "" };
}

export function evaluateDeps(r: StepResult, c: ResolvedConfig): Gate {
  const shape = describeShape(c.shape, c.requirements);
  if (r.exitCode === 0) return passed("dependencies", r, `${shape} + tools (${c.python.installer})`);
  // the tools layer comes first: its failure is about shipit's pins, not the project's files
  const files = r.id === "tools" ? "shipit's tool pins (tools.* in shipit.json)" : shape;
  const out = r.stderr || r.stdout;
  // `uv export --locked --offline` resolves only when the lock does not match pyproject.toml: it
  // says so, or (offline, the new requirement not in uv's cache) fails to resolve with the network off
  if (/lockfile at `[^`]*` needs to be updated/.test(out) || (r.argv[1] === "export" && /the network was disabled/.test(out))) {
    return failed(
      "dependencies",
      r,
      "uv.lock out of date",
      `uv.lock does not match pyproject.toml: it would install something other than what pyproject.toml declares (exit ${r.exitCode}).\n` +
        "Fix: run `uv lock` in the repository and commit uv.lock (or set project.lock to false to resolve pyproject.toml instead).\n" +
        tail(out, 5),
    );
  }
  if (/certificate|Failed to fetch|Connect|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ProxyError/i.test(out) && !/No solution found|not found in the package registry|No matching distribution/i.test(out)) {
    return failed(
      "dependencies",
      r,
      "package index unreachable",
      `the package index could not be reached to install ${files} (exit ${r.exitCode}).\n` +
        "Fix: check the network, proxy and CA certificates of the runner (a TLS-intercepting proxy needs its CA in the image or the engine), then rerun.\n" +
        tail(out, 15),
    );
  }
  return failed(
    "dependencies",
    r,
    "install failed",
    `dependencies could not be installed from ${files} (exit ${r.exitCode}).\n` +
      `Fix: check that every pinned package and version in ${files} exists on the package index and that the pins agree.\n` +
      tail(r.stderr || r.stdout, 15),
  );
}

export function evaluateLint(r: StepResult, report: string | null, root: string): Gate {
  const late = timedOut("lint", r);
  if (late) return late;
  if (report === null) {
    return failed("lint", r, "ruff did not run", `ruff wrote no report (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`);
  }
  const findings = parseRuffJson(report, root);
  const formatFailed = r.exitCode !== 0 && r.argv.includes("format");
  const figure = `${findings.length} finding${findings.length === 1 ? "" : "s"}${formatFailed ? ", format check failed" : ""}`;
  if (findings.length === 0 && r.exitCode === 0) return passed("lint", r, figure);
  if (findings.length === 0 && !formatFailed) {
    return failed("lint", r, figure, `ruff failed (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`);
  }
  const lines = findings.slice(0, 20).map((f) => `  ${f.file}:${f.line}:${f.col} ${f.code} ${f.message}`);
  if (findings.length > 20) lines.push(`  … and ${findings.length - 20} more`);
  if (formatFailed) lines.push(`  files need formatting (run \`ruff format\`):\n${tail(r.stdout, 10)}`);
  return failed("lint", r, figure, `ruff reported:\n${lines.join("\n")}`);
}

export function evaluateTypecheck(r: StepResult): Gate {
  const late = timedOut("typecheck", r);
  if (late) return late;
  const summary = parseMypy(r.stdout);
  const filesNote = summary.files === null ? "" : ` in ${summary.files} files`;
  if (r.exitCode === 0) return passed("typecheck", r, `0 errors${filesNote}`);
  if (summary.errors.length === 0) {
    return failed("typecheck", r, "mypy crashed", `mypy could not run (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`);
  }
  const lines = summary.errors.slice(0, 20).map((e) => `  ${e.file}:${e.line} [${e.code}] ${e.message}`);
  if (summary.errors.length > 20) lines.push(`  … and ${summary.errors.length - 20} more`);
  const n = summary.errors.length;
  return failed("typecheck", r, `${n} error${n === 1 ? "" : "s"}`, `mypy reported:\n${lines.join("\n")}`);
}

/** The test gate: every test passes and total coverage ≥ threshold. */
export function evaluateTest(
  r: StepResult,
  junitXml: string | null,
  coverageJson: string | null,
  c: Pick<ResolvedConfig, "coverage"> & { test?: Pick<ResolvedConfig["test"], "paths"> },
  /** The source folder pytest ran in, to name a conftest relative to it. */
  root = "",
): TestVerdict {
  const threshold = c.coverage.threshold;
  const base = { threshold, coverage: null, junit: null };
  const late = timedOut("test", r);
  if (late) return { ...late, ...base };
  const service = serviceFailed(r);
  if (service) return { ...service, ...base };
  if (junitXml === null) {
    const [figure, detail] = pytestDidNotRun(r, root);
    return { ...failed("test", r, figure, detail), ...base };
  }
  const junit = parseJUnit(junitXml);
  const coverage = coverageJson === null ? null : parseCoverageJson(coverageJson);
  const collection = junit.collection;
  const bad = junit.failures + junit.errors;
  const ran = junit.tests - collection.length;
  const passedCount = ran - bad - junit.skipped;
  const notCollected = (n: number) => `${n} file${n === 1 ? "" : "s"}`;
  const collectionText = collection.length
    ? `pytest could not collect ${notCollected(collection.length)} (an import or syntax error in a test module or conftest):\n${collection.map((e) => `  ${e.file}: ${e.error}`).join("\n")}`
    : "";
  const collectFix = "Fix: run `python -m pytest --collect-only` in the repository to see the whole error";

  if (collection.length && ran === 0) {
    // pytest stopped at collection: no test ran, so there is no coverage to miss
    return {
      ...failed(
        "test",
        r,
        `collection failed in ${notCollected(collection.length)} · no tests ran`,
        `${collectionText}\nno coverage report: pytest stopped at the collection error, before any test ran\n${collectFix}`,
      ),
      ...base,
      junit,
    };
  }
  if (ran === 0) {
    const where = c.test?.paths.length ? `in ${c.test.paths.join(", ")} (test.paths)` : "in the pytest config's testpaths, else the whole repository";
    return {
      ...failed(
        "test",
        r,
        "no tests collected",
        `pytest collected no tests (exit ${r.exitCode}): it looked ${where} for test_*.py and *_test.py files with test_ functions\n` +
          "no coverage report: no test ran, so there was nothing to measure\n" +
          'Fix: add tests, or point "test": {"paths": [...]} in shipit.json (or testpaths in the pytest config) at the folder that holds them',
      ),
      ...base,
      junit,
    };
  }

  const covText = coverage ? `coverage ${coverage.percent}%` : "no coverage data";
  const figure = `${passedCount} passed${bad ? `, ${bad} failed` : ""}${collection.length ? `, ${notCollected(collection.length)} not collected` : ""} · ${covText} (threshold ${threshold}%)`;
  const problems: string[] = [];
  if (collectionText) problems.push(collectionText);
  if (r.exitCode !== 0 && bad === 0 && !collection.length) problems.push(`pytest exited with code ${r.exitCode}:\n${tail(r.stdout + r.stderr, 15)}`);
  if (bad) problems.push(`${bad} test${bad === 1 ? "" : "s"} failed:\n${junit.failed.map((t) => `  ${t.id} — ${t.message}`).join("\n")}`);
  if (coverage === null) problems.push(coverageMissing(r, ran));
  else if (coverage.percent < threshold) {
    problems.push(`coverage ${coverage.percent}% is below the threshold ${threshold}% (from ${c.coverage.from})`);
  }
  if (problems.length === 0) return { ...passed("test", r, figure), threshold, coverage, junit };

  const worst = coverage ? leastCovered(coverage.files) : [];
  const worstText = worst.length
    ? `\nleast-covered files:\n${worst.map((f) => `  ${f.percent.toFixed(1).padStart(5)}%  ${f.path} (${f.missing} of ${f.statements} lines missed)`).join("\n")}`
    : "";
  return {
    ...failed("test", r, figure, `${problems.join("\n")}${worstText}${collection.length ? `\n${collectFix}` : ""}`),
    threshold,
    coverage,
    junit,
  };
}

/** A service of test.services was not ready: pytest never ran. The runner's line names the service, port and fix. */
function serviceFailed(r: StepResult): Gate | null {
  if (r.exitCode !== SERVICE_EXIT_CODE) return null;
  const lines = [...r.stderr.matchAll(/^shipit: service (\S+) .*$/gm)];
  if (!lines.length) return null;
  const names = lines.map((m) => m[1]!);
  return failed(
    "test",
    r,
    `service ${names.join(", ")} not ready · no tests ran`,
    // the whole of it: a service's own output follows its line
    `${r.stderr.trim().replace(/^shipit: (?=service )/gm, "")}\nno tests ran: pytest starts only once every service in test.services is ready`,
  );
}

/**
 * Tests ran but there is no coverage.json: pytest-cov was turned off, or coverage.py measured
 * nothing. (pytest-cov missing altogether never gets here: pytest then rejects `--cov` and writes no
 * JUnit report either.)
 */
function coverageMissing(r: StepResult, ran: number): string {
  const tests = `${ran} test${ran === 1 ? "" : "s"} ran`;
  const out = r.stdout + r.stderr;
  if (/Coverage disabled via --no-cov/.test(out)) {
    return `coverage report missing: ${tests} with coverage turned off by --no-cov. Fix: remove --no-cov from test.args in shipit.json or from addopts in the pytest config`;
  }
  if (/No data to report|No data was collected/.test(out)) {
    return `coverage report missing: ${tests} but coverage.py measured no file ("No data to report"). Fix: check [run] source, include and omit in the coverage config: they must name the project's code`;
  }
  return `coverage report missing: ${tests} but pytest-cov wrote no coverage.json. Fix: check that nothing in test.args or the pytest config's addopts turns pytest-cov off or redirects its reports (--no-cov, -p no:pytest_cov, --cov-report)`;
}

/**
 * pytest wrote no JUnit report: it stopped before collecting. A conftest that cannot be imported
 * and a pytest without pytest-cov (`--cov` unknown) are named; anything else shows pytest's words.
 */
function pytestDidNotRun(r: StepResult, root: string): [string, string] {
  const out = `${r.stdout}\n${r.stderr}`;
  const conftest = /ImportError while loading conftest '([^']+)'/.exec(out);
  if (conftest) {
    const after = out.slice(conftest.index);
    const file = root ? relativeTo(conftest[1]!, root) : conftest[1]!;
    return [
      "conftest failed · no tests ran",
      `pytest could not load ${file}: ${exceptionLine(after)}\nno coverage report: pytest stopped before collecting any test\nFix: run \`python -m pytest --collect-only\` in the repository to see the whole error`,
    ];
  }
  if (/unrecognized arguments: .*--cov/.test(out)) {
    return [
      "pytest did not run",
      `pytest does not know --cov (exit ${r.exitCode}): pytest-cov is not installed in the project environment, or test.args / the pytest config turns it off (-p no:pytest_cov).\n${tail(r.stdout + r.stderr, 5)}`,
    ];
  }
  return ["pytest did not run", `pytest wrote no JUnit report (exit ${r.exitCode}); it could not start or collect.\n${tail(r.stdout + r.stderr)}`];
}

/**
 * The test pytest was still running. Its progress lines read `tests/test_x.py ..F.  [ 40%]`, or
 * with -v `tests/test_x.py::test_y PASSED  [ 40%]`; the last one without its result was running.
 */
export function runningTests(stdout: string): string | null {
  const lines = stdout.split("\n").filter((l) => /^\S+\.py\b/.test(l));
  const last = lines.at(-1);
  if (!last || /\[\s*\d+%\]\s*$/.test(last)) return null;
  const [where, rest = ""] = last.split(/\s+/, 2);
  if (where!.includes("::")) return where!;
  return `tests in ${where} (after ${rest.length} finished there)`;
}

/** The line src/python/pack_artifact.py prints last when it has written the artifact. */
const BuildInfoSchema = z.object({
  artifact: z.string().regex(/^[\w.+!-]+\.tar\.gz$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
});
export type BuildInfo = z.infer<typeof BuildInfoSchema>;

/**
 * The build gate. A build that exits 0 must end with pack_artifact.py's record of the artifact;
 * anything else there is the build step broken (InfraError REPORT_INVALID), never a passed gate
 * showing "undefined".
 */
export function evaluateBuild(r: StepResult): Gate & { info: BuildInfo | null } {
  const late = timedOut("build", r);
  if (late) return { ...late, info: null };
  if (r.exitCode !== 0) {
    return {
      ...failed("build", r, "no artifact", `the artifact could not be built (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`),
      info: null,
    };
  }
  const info = parseJsonShape(BuildInfoSchema, r.stdout.trim().split("\n").pop() ?? "", "the build step's last line (pack_artifact.py's record of the artifact)");
  return { ...passed("build", r, `${info.artifact} (${info.files} files, ${formatBytes(info.bytes)})`), info };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
