import type { ResolvedConfig } from "./config.js";
import { tail } from "./errors.js";
import {
  leastCovered,
  parseCoverageJson,
  parseJUnit,
  parseMypy,
  parseRuffJson,
  type CoverageSummary,
  type JUnitSummary,
} from "./reports.js";
import type { StepResult } from "./step.js";

export type GateName = "dependencies" | "lint" | "typecheck" | "test" | "build";
export type GateStatus = "passed" | "failed" | "skipped";

export interface Gate {
  name: GateName;
  status: GateStatus;
  durationMs: number;
  /** The one figure a person looks for: findings, errors, coverage, artifact size. */
  figure: string;
  /** Why it failed, with what to look at; empty when it passed. */
  detail: string;
}

export interface TestVerdict extends Gate {
  coverage: CoverageSummary | null;
  junit: JUnitSummary | null;
  threshold: number;
}

const passed = (name: GateName, r: StepResult, figure: string): Gate => ({ name, status: "passed", durationMs: r.durationMs, figure, detail: "" });
const failed = (name: GateName, r: StepResult, figure: string, detail: string): Gate => ({ name, status: "failed", durationMs: r.durationMs, figure, detail });

export function skipped(name: GateName, why: string): Gate {
  return { name, status: "skipped", durationMs: 0, figure: why, detail: "" };
}

export function evaluateDeps(r: StepResult, c: ResolvedConfig): Gate {
  const files = c.requirements.length ? c.requirements.join(", ") : "no requirement files";
  if (r.exitCode === 0) return passed("dependencies", r, `${files} + tools (${c.python.installer})`);
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
  c: Pick<ResolvedConfig, "coverage">,
): TestVerdict {
  const threshold = c.coverage.threshold;
  const base = { threshold, coverage: null, junit: null };
  if (junitXml === null) {
    return {
      ...failed("test", r, "pytest did not run", `pytest wrote no JUnit report (exit ${r.exitCode}); it could not start or collect.\n${tail(r.stdout + r.stderr)}`),
      ...base,
    };
  }
  const junit = parseJUnit(junitXml);
  const coverage = coverageJson === null ? null : parseCoverageJson(coverageJson);
  const bad = junit.failures + junit.errors;
  const passedCount = junit.tests - bad - junit.skipped;
  const covText = coverage ? `coverage ${coverage.percent}%` : "no coverage data";
  const figure = `${passedCount} passed${bad ? `, ${bad} failed` : ""} · ${covText} (threshold ${threshold}%)`;

  const problems: string[] = [];
  if (r.exitCode === 5 || junit.tests === 0) problems.push("no tests were collected");
  else if (r.exitCode !== 0 && bad === 0) problems.push(`pytest exited with code ${r.exitCode}:\n${tail(r.stdout + r.stderr, 15)}`);
  if (bad) problems.push(`${bad} test${bad === 1 ? "" : "s"} failed:\n${junit.failed.map((t) => `  ${t.id} — ${t.message}`).join("\n")}`);
  if (coverage === null) problems.push("coverage report missing: is pytest-cov installed and `--cov` honoured?");
  else if (coverage.percent < threshold) {
    problems.push(`coverage ${coverage.percent}% is below the threshold ${threshold}% (from ${c.coverage.from})`);
  }
  if (problems.length === 0) return { ...passed("test", r, figure), threshold, coverage, junit };

  const worst = coverage ? leastCovered(coverage.files) : [];
  const worstText = worst.length
    ? `\nleast-covered files:\n${worst.map((f) => `  ${f.percent.toFixed(1).padStart(5)}%  ${f.path} (${f.missing} of ${f.statements} lines missed)`).join("\n")}`
    : "";
  return {
    ...failed("test", r, figure, `${problems.join("\n")}${worstText}`),
    threshold,
    coverage,
    junit,
  };
}

export interface BuildInfo {
  artifact: string;
  sha256: string;
  bytes: number;
  files: number;
}

export function evaluateBuild(r: StepResult): Gate & { info: BuildInfo | null } {
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let info: BuildInfo | null = null;
  try {
    info = r.exitCode === 0 ? (JSON.parse(last) as BuildInfo) : null;
  } catch {
    info = null;
  }
  if (info === null) {
    return {
      ...failed("build", r, "no artifact", `the artifact could not be built (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`),
      info,
    };
  }
  return { ...passed("build", r, `${info.artifact} (${info.files} files, ${formatBytes(info.bytes)})`), info };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
