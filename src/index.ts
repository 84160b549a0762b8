/**
 * shipit: the whole CI/CD pipeline for a Python chat bot, as a Dagger module.
 *
 * The class is thin on purpose: each function loads the config, asks the pure core for steps,
 * and lets the Dagger runner fold them into containers.
 */
import { argument, check, dag, func, object, type Directory, type File, type float } from "@dagger.io/dagger";
import { loadConfig } from "./core/load.js";
import { planChecks, type BuildOptions } from "./core/plan.js";
import { runCheck, runCi } from "./core/pipeline.js";
import { gateError, renderSummary } from "./core/summary.js";
import type { Gate } from "./core/gates.js";
import { directorySourceView, DaggerRunner } from "./runners/dagger.js";
import { packScript } from "./assets.js";

/** The verdict of the test gate with its reports, returned even when the gate is red. */
@object()
export class TestReport {
  /** True when every test passed and coverage met the threshold. */
  @func()
  passed: boolean;

  /** Total line coverage in percent. */
  @func()
  coverage: float;

  /** The coverage threshold in percent, and where it came from is in the summary. */
  @func()
  threshold: float;

  /** The gate table and, when red, the failing tests and least-covered files. */
  @func()
  summary: string;

  /** junit.xml, coverage.xml and coverage.json. */
  @func()
  reports: Directory;

  constructor(passed: boolean, coverage: float, threshold: float, summary: string, reports: Directory) {
    this.passed = passed;
    this.coverage = coverage;
    this.threshold = threshold;
    this.summary = summary;
    this.reports = reports;
  }
}

const IGNORE = ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"];

@object()
export class Shipit {
  /**
   * Lint the repository with ruff (paths and rules from shipit.json, else the repo's ruff config).
   *
   * Example: dagger call lint
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func()
  @check()
  async lint(@argument({ defaultPath: "/", ignore: IGNORE }) source: Directory, config?: File): Promise<string> {
    return gate("lint", await setup(source, config));
  }

  /**
   * Type-check the repository with mypy on the configured paths and flags.
   *
   * Example: dagger call typecheck
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func()
  @check()
  async typecheck(@argument({ defaultPath: "/", ignore: IGNORE }) source: Directory, config?: File): Promise<string> {
    return gate("typecheck", await setup(source, config));
  }

  /**
   * Run pytest with coverage; fails when a test fails or total coverage is below the threshold.
   *
   * Example: dagger call test
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func()
  @check()
  async test(@argument({ defaultPath: "/", ignore: IGNORE }) source: Directory, config?: File): Promise<string> {
    return gate("test", await setup(source, config));
  }

  /**
   * Run pytest with coverage and return the verdict and the reports without failing, so they can
   * be exported from a red run.
   *
   * Example: dagger call test-report reports export --path=./reports
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func()
  async testReport(@argument({ defaultPath: "/", ignore: IGNORE }) source: Directory, config?: File): Promise<TestReport> {
    const s = await setup(source, config);
    const verdict = await runCheck("test", s.plan, s.runner, s.config);
    const ctr = s.runner.containers.get("test");
    const reports = ctr ? ctr.directory(`${s.runner.layout.out}/test`).withoutFile(".coverage") : dag.directory();
    return new TestReport(
      verdict.status === "passed",
      verdict.coverage?.percent ?? 0,
      verdict.threshold,
      renderSummary(`shipit test (${s.config.name})`, [verdict]) + (verdict.status === "passed" ? "" : `\n${verdict.detail}`),
      reports,
    );
  }

  /**
   * Build the release artifact: a reproducible .tar.gz with the application files, the requirement
   * files, a wheel for every dependency and a manifest.json (name, version, commit, Python, sha256s).
   *
   * Example: dagger call build --version=1.4.0 --commit=$(git rev-parse HEAD) -o ./dist/
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   * @param version The artifact version (default: build.version from the config).
   * @param commit The git commit recorded in the manifest.
   */
  @func()
  async build(
    @argument({ defaultPath: "/", ignore: IGNORE }) source: Directory,
    config?: File,
    version?: string,
    commit?: string,
  ): Promise<File> {
    const s = await setup(source, config, { version, commit });
    const verdict = await runCheck("build", s.plan, s.runner, s.config);
    if (verdict.status !== "passed" || !verdict.info) throw new Error(gateError(verdict));
    return s.runner.containers.get("build")!.file(`${s.runner.layout.out}/build/${verdict.info.artifact}`);
  }

  /**
   * Run lint, typecheck and test concurrently, then build; print one table of every gate and fail
   * naming each red gate. Never stops at the first failure.
   *
   * Example: dagger call ci --commit=$GITHUB_SHA
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   * @param version The artifact version (default: build.version from the config).
   * @param commit The git commit recorded in the manifest.
   */
  @func()
  async ci(
    @argument({ defaultPath: "/", ignore: IGNORE }) source: Directory,
    config?: File,
    version?: string,
    commit?: string,
  ): Promise<string> {
    const s = await setup(source, config, { version, commit });
    const report = await runCi(s.plan, s.runner, s.config);
    if (!report.ok) throw new Error(report.summary);
    return report.summary;
  }
}

async function setup(source: Directory, config: File | undefined, opts: BuildOptions = {}) {
  const view = directorySourceView(source);
  const resolved = await loadConfig(view, config ? { text: await config.contents(), origin: "--config" } : undefined);
  const runner = new DaggerRunner(source, resolved);
  const plan = planChecks(resolved, runner.layout, await packScript(), opts);
  return { config: resolved, runner, plan };
}

async function gate(name: "lint" | "typecheck" | "test", s: Awaited<ReturnType<typeof setup>>): Promise<string> {
  const g: Gate = await runCheck(name as "lint", s.plan, s.runner, s.config);
  const table = renderSummary(`shipit ${name} (${s.config.name})`, [g]);
  if (g.status !== "passed") throw new Error(`${table}`);
  return table;
}

