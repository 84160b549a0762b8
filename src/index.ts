/**
 * shipit: the whole CI/CD pipeline for a Python chat bot, as a Dagger module.
 *
 * The class is thin on purpose: each function loads the config, asks the pure core for steps,
 * and lets the Dagger runner fold them into containers.
 */
import { argument, check, dag, func, object, type Directory, type File, type float, type Secret } from "@dagger.io/dagger";
import { deploy, preflight, query, rollback } from "./core/deploy.js";
import type { QueryKind } from "./core/deploy-plan.js";
import { newRunId } from "./core/run-id.js";
import { DaggerDeployRunner } from "./runners/deploy-dagger.js";
import { loadConfig } from "./core/load.js";
import { planChecks, type BuildOptions } from "./core/plan.js";
import { runCheck, runCi } from "./core/pipeline.js";
import { gateError, renderSummary } from "./core/summary.js";
import type { Gate } from "./core/gates.js";
import { scanSource } from "./core/security.js";
import { renderSarif, renderSecurityJson, SECURITY_JSON, SECURITY_SARIF } from "./core/sarif.js";
import { directorySourceView, DaggerRunner } from "./runners/dagger.js";
import { assets } from "./assets.js";

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

/** The verdict of the security gate with its reports, returned even when the gate is red. */
@object()
export class SecurityReport {
  /** True when nothing blocks: no finding at or above the thresholds, every tool ran, and the dependency audit did not fail. */
  @func()
  passed: boolean;

  /** The number of blocking findings. */
  @func()
  findings: number;

  /** The gate table, each blocking finding (file, line, rule, reason) and any warning, such as an unreachable advisory source. */
  @func()
  summary: string;

  /** security.json (shipit's report) and security.sarif (SARIF 2.1.0, for GitHub code scanning). */
  @func()
  reports: Directory;

  constructor(passed: boolean, findings: number, summary: string, reports: Directory) {
    this.passed = passed;
    this.findings = findings;
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
   * Security gate: bandit (fails at the configured severity, default high), committed credentials
   * (detect-secrets, and literal values under the config's secret keys), .gitignore coverage of
   * runtime configs, databases, logs and key files, and pip-audit of the requirements. An
   * unreachable advisory source is reported, and fails the gate when security.auditUnreachable is "fail".
   *
   * Example: dagger call security
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func()
  @check()
  async security(@argument({ defaultPath: "/", ignore: IGNORE }) source: Directory, config?: File): Promise<string> {
    return gate("security", await setup(source, config));
  }

  /**
   * Run the security gate and return its verdict and reports (security.json and security.sarif)
   * without failing, so they can be exported and uploaded to code scanning from a red run.
   *
   * Example: dagger call security-report reports export --path=./reports
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func()
  async securityReport(@argument({ defaultPath: "/", ignore: IGNORE }) source: Directory, config?: File): Promise<SecurityReport> {
    const s = await setup(source, config);
    const verdict = await runCheck("security", s.plan, s.runner, s.config);
    const reports = dag
      .directory()
      .withNewFile(SECURITY_JSON, renderSecurityJson(verdict, s.config.name))
      .withNewFile(SECURITY_SARIF, renderSarif(verdict, s.config.name));
    return new SecurityReport(
      verdict.status === "passed",
      verdict.findings.filter((f) => f.blocking).length,
      renderSummary(`shipit security (${s.config.name})`, [verdict]),
      reports,
    );
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
   * Run lint, typecheck, test and security concurrently, then build; print one table of every gate
   * and fail naming each red gate. Never stops at the first failure.
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

  /**
   * Deploy a release artifact to an environment over SSH: lock, upload (sha256 verified on the
   * host), install offline from the bundled wheels, switch `current` atomically, restart, health,
   * smoke. Rolls back automatically when anything after the switch fails. Without --artifact it
   * builds one from the source first.
   *
   * Example: dagger call deploy --env=test --ssh-key=env:DEPLOY_SSH_KEY --bot-password=env:CYTUBEBOT_TEST_PASSWORD --known-hosts=./known_hosts
   *
   * @param env The environment: test, prod, or one added in shipit.json.
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the host's key; host-key checking is never disabled.
   * @param botPassword The bot's CyTube password, written on the host to a 0600 file only.
   * @param artifact A release artifact from `build` (promote the bytes test got to prod).
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   * @param version The version to build when no artifact is given.
   * @param commit The commit recorded when building.
   * @param trigger What started this deploy (pull_request, push, manual), for the ledger.
   * @param run A run id for the lock and the ledger (default: a fresh one).
   * @param expectSha256 The sha256 the artifact must have: promote exactly the bytes test got.
   */
  @func({ cache: "never" })
  async deploy(
    env: string,
    sshKey: Secret,
    knownHosts: File,
    botPassword: Secret,
    artifact?: File,
    @argument({ defaultPath: "/", ignore: IGNORE }) source?: Directory,
    config?: File,
    version?: string,
    commit?: string,
    trigger = "manual",
    run?: string,
    expectSha256?: string,
  ): Promise<string> {
    const s = await deploySetup(source, config);
    const runId = run ?? newRunId();
    const inputs = { secrets: ["ssh-key", "bot-password"], knownHosts: await knownHosts.contents(), trigger, run: runId, expectSha256 };
    // Refuse bad input before spending a build on it; deploy() checks again for callers that skip this.
    preflight(s.config, env, inputs);
    const shipped = artifact ?? (await this.build(source!, config, version, commit));
    const runner = new DaggerDeployRunner({ image: s.config.python.image, artifact: shipped, sshKey, botPassword, knownHosts, run: runId });
    const r = await deploy(s.config, env, inputs, runner);
    if (!r.ok) throw new Error(r.message);
    return r.message;
  }

  /**
   * Roll an environment back to the previous release, or --to a version still on the host.
   * Health-gated and recorded in the ledger.
   *
   * Example: dagger call rollback --env=prod --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts
   *
   * @param env The environment.
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the host's key.
   * @param to A version still on the host (default: the release live before the current one).
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   * @param trigger What started this rollback, for the ledger.
   */
  @func({ cache: "never" })
  async rollback(
    env: string,
    sshKey: Secret,
    knownHosts: File,
    to?: string,
    @argument({ defaultPath: "/", ignore: IGNORE }) source?: Directory,
    config?: File,
    trigger = "manual",
  ): Promise<string> {
    const s = await deploySetup(source, config);
    const runId = newRunId();
    const runner = new DaggerDeployRunner({ image: s.config.python.image, sshKey, knownHosts, run: runId });
    const r = await rollback(s.config, env, to, { secrets: ["ssh-key"], knownHosts: await knownHosts.contents(), trigger, run: runId }, runner);
    if (!r.ok) throw new Error(r.message);
    return r.message;
  }

  /**
   * What is live on an environment, the releases on the host, who holds the deploy lock, and
   * whether the bot is healthy, as JSON.
   *
   * Example: dagger call status --env=prod --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts
   *
   * @param env The environment.
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the host's key.
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async status(env: string, sshKey: Secret, knownHosts: File, @argument({ defaultPath: "/", ignore: IGNORE }) source?: Directory, config?: File): Promise<string> {
    return queryHost("status", env, sshKey, knownHosts, source, config);
  }

  /**
   * The deploy and rollback ledger of an environment, newest first, as JSON.
   *
   * Example: dagger call history --env=prod --limit=20 --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts
   *
   * @param env The environment.
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the host's key.
   * @param limit How many entries.
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async history(env: string, sshKey: Secret, knownHosts: File, limit = 20, @argument({ defaultPath: "/", ignore: IGNORE }) source?: Directory, config?: File): Promise<string> {
    return queryHost("history", env, sshKey, knownHosts, source, config, limit);
  }

  /**
   * Poll the bot's /api/health on the host until it is running and connected; fails naming what
   * is wrong (unreachable, not JSON, wrong shape, not connected, timeout, crash loop).
   *
   * Example: dagger call health --env=test --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts
   *
   * @param env The environment.
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the host's key.
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async health(env: string, sshKey: Secret, knownHosts: File, @argument({ defaultPath: "/", ignore: IGNORE }) source?: Directory, config?: File): Promise<string> {
    return queryHost("health", env, sshKey, knownHosts, source, config);
  }

  /**
   * Ask the deployed bot to answer its smoke command (default `!ping` → `pong`).
   *
   * Example: dagger call smoke --env=test --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts
   *
   * @param env The environment.
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the host's key.
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async smoke(env: string, sshKey: Secret, knownHosts: File, @argument({ defaultPath: "/", ignore: IGNORE }) source?: Directory, config?: File): Promise<string> {
    return queryHost("smoke", env, sshKey, knownHosts, source, config);
  }
}

async function setup(source: Directory, config: File | undefined, opts: BuildOptions = {}) {
  const view = directorySourceView(source);
  const resolved = await loadConfig(view, config ? { text: await config.contents(), origin: "--config" } : undefined);
  const runner = new DaggerRunner(source, resolved);
  const plan = planChecks(resolved, runner.layout, await assets(), await scanSource(view, resolved), opts);
  return { config: resolved, runner, plan };
}

async function gate(name: "lint" | "typecheck" | "test" | "security", s: Awaited<ReturnType<typeof setup>>): Promise<string> {
  const g: Gate = await runCheck(name as "lint", s.plan, s.runner, s.config);
  const table = renderSummary(`shipit ${name} (${s.config.name})`, [g]);
  if (g.status !== "passed") throw new Error(`${table}`);
  return table;
}


async function deploySetup(source: Directory | undefined, config: File | undefined) {
  const dir = source ?? dag.directory();
  const resolved = await loadConfig(directorySourceView(dir), config ? { text: await config.contents(), origin: "--config" } : undefined);
  return { config: resolved };
}

async function queryHost(kind: QueryKind, env: string, sshKey: Secret, knownHosts: File, source: Directory | undefined, config: File | undefined, limit?: number): Promise<string> {
  const s = await deploySetup(source, config);
  const runId = newRunId();
  const runner = new DaggerDeployRunner({ image: s.config.python.image, sshKey, knownHosts, run: runId });
  const r = await query(s.config, env, kind, { secrets: ["ssh-key"], knownHosts: await knownHosts.contents(), run: runId }, runner, limit);
  if (!r.ok) throw new Error(r.message);
  return JSON.stringify(r.answer, null, 2);
}
