/**
 * shipit: the whole CI/CD pipeline for a Python chat bot, as a Dagger module.
 *
 * The class is thin on purpose: each function loads the config, asks the pure core for steps,
 * and lets the Dagger runner fold them into containers.
 */
import { argument, check, dag, func, object, type Directory, type File, type float, type Secret, type Service } from "@dagger.io/dagger";
import { deploy, preflight, query, rollback } from "./core/deploy/deploy.js";
import type { QueryKind } from "./core/deploy/plan.js";
import { newRunId } from "./core/deploy/run-id.js";
import { isoSeconds } from "./core/text.js";
import { ShipitError } from "./core/errors.js";
import { DaggerDeployRunner } from "./runners/deploy-dagger.js";
import { loadConfig } from "./core/config/load.js";
import { planChecks, type BuildOptions } from "./core/checks/plan.js";
import { runCheck, runCi } from "./core/checks/pipeline.js";
import { gateError, renderSummary } from "./core/checks/summary.js";
import type { Gate } from "./core/checks/gates.js";
import { scanSource } from "./core/checks/security/source-scan.js";
import { renderSarif, renderSecurityJson, SECURITY_JSON, SECURITY_SARIF } from "./core/checks/security/sarif.js";
import { directorySourceView, DaggerRunner } from "./runners/dagger.js";
import { assets, chartJsSource, runStepsScript } from "./assets.js";
import { buildDashboard, renderDashboard } from "./core/insight/dashboard.js";
import { gatherFromHosts, insightEnvironments } from "./core/insight/gather.js";
import { computeMetrics, renderMetrics, renderMetricsJson, windowOf } from "./core/insight/metrics.js";
import { daggerCommitTimes, dashboardService } from "./runners/insight-dagger.js";
import { CI_JSON, renderCiJson } from "./core/checks/ci-report.js";
import { resolveEnvironment } from "./core/config/environments.js";
import { daggerGit } from "./runners/git-dagger.js";
import { GitHub } from "./github/github.js";
import { finishDeployment, postPrComment, previewRelease, publishRelease, startDeployment } from "./github/flows.js";
import { parseDeploymentId, parseDeploymentState, parseRepo } from "./core/github/inputs.js";
import { isProduction } from "./core/github/decisions.js";
import { releaseAssetName } from "./core/deploy/artifact.js";
import { readArtifact } from "./runners/artifact.js";
import { notifyFromConfig } from "./github/flows.js";
import { setupHost } from "./core/setup/setup.js";
import { detectLayout } from "./core/init/detect.js";
import { parseModuleRef, refuseOverwrites, renderInit } from "./core/init/render.js";

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

/** The delivery dashboard: one self-contained HTML page (no CDN, opens offline), as a file or served. */
@object()
export class Dashboard {
  /** The page, dashboard.html. Example: dagger call dashboard --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts file export --path=dashboard.html */
  @func()
  file: File;

  /** The delivery metrics shown on the page, as JSON. */
  @func()
  metrics: string;

  /** The image that serves the page (the config's Python image). */
  @func()
  image: string;

  constructor(file: File, metrics: string, image: string) {
    this.file = file;
    this.metrics = metrics;
    this.image = image;
  }

  /**
   * Serve the page on port 8080, for a look from a laptop.
   *
   * Example: dagger call dashboard --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts as-service up --ports=8080:8080
   */
  @func()
  asService(): Service {
    return dashboardService(this.file, this.image);
  }
}

// Every `ignore:` below is a literal copy of DAGGER_IGNORE or GIT_ONLY (src/core/config/ignore.ts): the
// 0.19 introspector cannot resolve a named constant in a decorator. A test keeps the copies equal.

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
  async lint(@argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory, config?: File): Promise<string> {
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
  async typecheck(@argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory, config?: File): Promise<string> {
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
  async test(@argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory, config?: File): Promise<string> {
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
  async security(@argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory, config?: File): Promise<string> {
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
  async securityReport(@argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory, config?: File): Promise<SecurityReport> {
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
  async testReport(@argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory, config?: File): Promise<TestReport> {
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
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory,
    config?: File,
    version?: string,
    commit?: string,
  ): Promise<File> {
    const s = await setup(source, config, { version, commit });
    const verdict = await runCheck("build", s.plan, s.runner, s.config);
    if (verdict.status !== "passed" || !verdict.info) throw new ShipitError("GATE_FAILED", gateError(verdict));
    return s.runner.containers.get("build")!.file(`${s.runner.layout.out}/build/${verdict.info.artifact}`);
  }

  /**
   * Run lint, typecheck, test, security and the build side by side; print one table of every gate
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
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory,
    config?: File,
    version?: string,
    commit?: string,
  ): Promise<string> {
    const s = await setup(source, config, { version, commit });
    const report = await runCi(s.plan, s.runner, s.config);
    if (!report.ok) throw new ShipitError("GATE_FAILED", report.summary);
    return report.summary;
  }

  /**
   * Run ci and export its verdict as data, never failing on a red gate: ci.json (gates, coverage,
   * artifact name and sha256), summary.txt, and the artifact itself when the build passed. The
   * workflow shim reads ci.json to decide what runs next and what the PR comment says.
   *
   * Example: dagger call ci-report --version=1.4.0-pr.12.gabc1234 --commit=$GITHUB_SHA export --path=.shipit/ci
   *
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   * @param version The artifact version (default: build.version from the config).
   * @param commit The git commit recorded in the manifest.
   */
  @func()
  async ciReport(
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory,
    config?: File,
    version?: string,
    commit?: string,
  ): Promise<Directory> {
    const s = await setup(source, config, { version, commit });
    const report = await runCi(s.plan, s.runner, s.config);
    const json = renderCiJson(report, s.config.name, version ?? s.config.build.version);
    let out = dag.directory().withNewFile(CI_JSON, JSON.stringify(json, null, 2) + "\n").withNewFile("summary.txt", report.summary + "\n");
    if (report.build) out = out.withFile(report.build.artifact, s.runner.containers.get("build")!.file(`${s.runner.layout.out}/build/${report.build.artifact}`));
    return out;
  }

  /**
   * The next release version and its notes, from conventional commits since the last v<semver>
   * tag, as JSON ({previous, next, bump, notes}). Needs the full history (fetch-depth: 0).
   *
   * Example: dagger call next-release --repo=acme/rosey
   *
   * @param git The repository root with its .git (defaults to the calling repository).
   * @param repo GitHub OWNER/REPO, for the PR and commit links in the notes.
   * @param source The Python repository, for shipit.json (release.firstVersion).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func()
  async nextRelease(
    @argument({ defaultPath: "/", ignore: ["*", "!.git", "!.git/**"] }) git: Directory,
    repo: string,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
  ): Promise<string> {
    const { plan } = await releasePlan(git, repo, source, config);
    return JSON.stringify(plan, null, 2);
  }

  /**
   * Tag v<next> and publish a GitHub Release with the notes and the artifact attached. Refuses an
   * artifact whose manifest carries another version, and a push with nothing releasable.
   *
   * Example: dagger call release --repo=acme/rosey --token=env:GITHUB_TOKEN --commit=$GITHUB_SHA --artifact=.shipit/ci/rosey-1.4.0.tar.gz
   *
   * @param repo GitHub OWNER/REPO.
   * @param token A GitHub token allowed to write contents (releases and tags).
   * @param commit The full sha the tag points at.
   * @param artifact The artifact built by ci-report with --version=<next>.
   * @param git The repository root with its .git (defaults to the calling repository).
   * @param source The Python repository, for shipit.json.
   * @param config A shipit.json to use instead of the one at the source root.
   * @param githubApi The REST API root (GitHub Enterprise, or a stand-in).
   */
  @func({ cache: "never" })
  async release(
    repo: string,
    token: Secret,
    commit: string,
    artifact: File,
    @argument({ defaultPath: "/", ignore: ["*", "!.git", "!.git/**"] }) git: Directory,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
    githubApi = "https://api.github.com",
  ): Promise<string> {
    const gh = await github(repo, token, githubApi);
    const { config: resolved, plan } = await releasePlan(git, repo, source, config);
    const { data, manifest } = await readArtifact(artifact, `release v${plan.next}`);
    const published = await publishRelease(gh, plan, commit, { name: releaseAssetName(resolved.name, manifest), data, manifestVersion: manifest.version });
    return JSON.stringify(published, null, 2);
  }

  /**
   * Open a GitHub deployment for an environment and mark it in progress; prints its id. The
   * environment's URL (the channel) comes from the config.
   *
   * Example: dagger call deployment-start --repo=acme/rosey --token=env:GITHUB_TOKEN --env=prod --ref=$GITHUB_SHA --log-url=$RUN_URL --description="v1.4.0"
   *
   * @param repo GitHub OWNER/REPO.
   * @param token A GitHub token allowed to write deployments.
   * @param env The environment (test, prod, …).
   * @param ref The commit being deployed.
   * @param description What is being deployed, shown in GitHub.
   * @param logUrl The workflow run, linked from the deployment.
   * @param source The Python repository, for shipit.json.
   * @param config A shipit.json to use instead of the one at the source root.
   * @param githubApi The REST API root.
   */
  @func({ cache: "never" })
  async deploymentStart(
    repo: string,
    token: Secret,
    env: string,
    ref: string,
    description: string,
    logUrl?: string,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
    githubApi = "https://api.github.com",
  ): Promise<string> {
    const s = await deploySetup(source, config);
    const e = resolveEnvironment(env, s.config.environments, s.config.origin);
    const id = await startDeployment(await github(repo, token, githubApi), { env, ref, description, production: isProduction(s.config, env), environmentUrl: e.url, logUrl });
    return String(id);
  }

  /**
   * Set a GitHub deployment's final state (success or failure), with the environment and log links.
   *
   * Example: dagger call deployment-finish --repo=acme/rosey --token=env:GITHUB_TOKEN --env=prod --id=42 --state=success --log-url=$RUN_URL --description="v1.4.0 live"
   *
   * @param repo GitHub OWNER/REPO.
   * @param token A GitHub token allowed to write deployments.
   * @param env The environment, for its URL.
   * @param id The id deployment-start printed.
   * @param state success, failure or error.
   * @param description One line shown in GitHub (cut to 140 characters).
   * @param logUrl The workflow run.
   * @param source The Python repository, for shipit.json.
   * @param config A shipit.json to use instead of the one at the source root.
   * @param githubApi The REST API root.
   */
  @func({ cache: "never" })
  async deploymentFinish(
    repo: string,
    token: Secret,
    env: string,
    id: string,
    state: string,
    description: string,
    logUrl?: string,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
    githubApi = "https://api.github.com",
  ): Promise<string> {
    const deploymentId = parseDeploymentId(id);
    const finalState = parseDeploymentState(state);
    const s = await deploySetup(source, config);
    const e = resolveEnvironment(env, s.config.environments, s.config.origin);
    await finishDeployment(await github(repo, token, githubApi), deploymentId, finalState, { environmentUrl: e.url, logUrl, description });
    return `deployment ${deploymentId}: ${finalState}`;
  }

  /**
   * Create or update shipit's one sticky comment on a pull request from the context the shim wrote
   * (gates, coverage, deploy, release preview, links). With --head-sha (fork PRs, posted by a
   * trusted workflow), the PR's head must be that commit.
   *
   * Example: dagger call pr-comment --repo=acme/rosey --token=env:GITHUB_TOKEN --context=.shipit/comment.json
   *
   * @param repo GitHub OWNER/REPO.
   * @param token A GitHub token allowed to write pull-request comments.
   * @param context comment.json as written by the shim.
   * @param headSha The commit the context was built from, checked against the PR's head.
   * @param githubApi The REST API root.
   */
  @func({ cache: "never" })
  async prComment(repo: string, token: Secret, context: File, headSha?: string, githubApi = "https://api.github.com"): Promise<string> {
    let raw: unknown;
    try {
      raw = JSON.parse(await context.contents());
    } catch {
      throw new ShipitError("BAD_ARGUMENT", "--context is not JSON: pass the comment.json the shim wrote");
    }
    const r = await postPrComment(await github(repo, token, githubApi), raw, "--context", headSha);
    return `${r.created ? "created" : "updated"} the shipit comment on PR #${r.pr}`;
  }

  /**
   * Tell an environment's chat webhooks about a deploy, rollback or release, and open, update or
   * close its incident issue. The webhooks (Slack, Discord, a JSON webhook) and the events each
   * hears are the environment's notifications in shipit.json. Prints a JSON report with one record
   * per target (delivered or failed, named by its secret, never the URL); fails only on a bad
   * argument, never on a delivery.
   *
   * Example: dagger call notify --env=prod --event=deploy-succeeded --version=1.4.0 --webhooks=env:SHIPIT_SLACK_WEBHOOK --webhook-names=SHIPIT_SLACK_WEBHOOK --repo=acme/rosey --token=env:GITHUB_TOKEN
   *
   * @param env The environment the event happened to.
   * @param event deploy-succeeded, deploy-failed, rolled-back, rollback-failed, manual-rollback or release-published.
   * @param webhooks The webhook URLs, as secrets, in the order of --webhook-names.
   * @param webhookNames The secret name of each of --webhooks, as notifications.targets[].secret names it.
   * @param version The version deployed, rolled back to, or released.
   * @param live What is live now, as the deploy or rollback reported it.
   * @param failed manual-rollback only: the rollback failed.
   * @param pr The pull request that started the run.
   * @param prTitle Its title (escaped for each service).
   * @param commit The merge commit that started the run.
   * @param actor Who started the run.
   * @param cause Why it failed (the deploy's message).
   * @param durationSec How long the deploy or rollback took.
   * @param runUrl The workflow run.
   * @param prUrl The pull request.
   * @param releaseUrl The GitHub Release.
   * @param repo GitHub OWNER/REPO, for the incident issue.
   * @param token A GitHub token allowed to write issues, for the incident issue.
   * @param githubApi The REST API root.
   * @param source The Python repository, for shipit.json.
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async notify(
    env: string,
    event: string,
    webhooks?: Secret[],
    webhookNames?: string[],
    version?: string,
    live?: string,
    failed?: boolean,
    pr?: number,
    prTitle?: string,
    commit?: string,
    actor?: string,
    cause?: string,
    durationSec?: float,
    runUrl?: string,
    prUrl?: string,
    releaseUrl?: string,
    repo?: string,
    token?: Secret,
    githubApi = "https://api.github.com",
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
  ): Promise<string> {
    const names = webhookNames ?? [];
    const secrets = webhooks ?? [];
    if (names.length !== secrets.length) throw new ShipitError("BAD_ARGUMENT", `--webhook-names must name each of --webhooks, in order: ${secrets.length} webhooks, ${names.length} names`);
    const s = await deploySetup(source, config);
    const urls = Object.fromEntries(await Promise.all(names.map(async (n, i) => [n, await secrets[i]!.plaintext()] as const)));
    const gh = token && repo ? await github(repo, token, githubApi) : undefined;
    const input = { env, event, failed: failed || undefined, version, live, pr: pr || undefined, prTitle, commit, actor, cause, durationSec, runUrl, prUrl, releaseUrl, repo };
    return JSON.stringify(await notifyFromConfig(s.config, input, urls, gh), null, 2);
  }

  /**
   * Deploy a release artifact to an environment over SSH: lock, upload (sha256 verified on the
   * host), install offline from the bundled wheels, switch `current` atomically, restart, health,
   * then the chat smoke (a smoke account says `!ping` in the channel and the bot must answer).
   * Rolls back automatically when anything after the switch fails. Without --artifact it builds
   * one from the source first.
   *
   * Example: dagger call deploy --env=test --ssh-key=env:DEPLOY_SSH_KEY --bot-password=env:CYTUBEBOT_TEST_PASSWORD --smoke-password=env:CYTUBE_SMOKE_PASSWORD --known-hosts=./known_hosts
   *
   * @param env The environment: test, prod, or one added in shipit.json.
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the host's key; host-key checking is never disabled.
   * @param botPassword The bot's CyTube password, written on the host to a 0600 file only.
   * @param smokePassword The CyTube password of the smoke account (smoke.account, default ShipitSmoke); it stays with the driver, never on the host. Not needed when smoke.kind is none.
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
    smokePassword?: Secret,
    artifact?: File,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
    version?: string,
    commit?: string,
    trigger = "manual",
    run?: string,
    expectSha256?: string,
  ): Promise<string> {
    const s = await deploySetup(source, config);
    const runId = run ?? newRunId();
    const inputs = { secrets: ["ssh-key", "bot-password", ...(smokePassword ? ["smoke-password"] : [])], knownHosts: await knownHosts.contents(), trigger, run: runId, expectSha256 };
    // Refuse bad input before spending a build on it; deploy() checks again for callers that skip this.
    preflight(s.config, env, inputs);
    const shipped = artifact ?? (await this.build(source!, config, version, commit));
    const runner = new DaggerDeployRunner({ image: s.config.python.image, artifact: shipped, sshKey, botPassword, smokePassword, knownHosts, run: runId });
    // A deploy that did not succeed throws (OperationFailedError, with the report's message).
    return (await deploy(s.config, env, inputs, runner)).message;
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
   * @param run A run id for the lock and the ledger (default: a fresh one).
   */
  @func({ cache: "never" })
  async rollback(
    env: string,
    sshKey: Secret,
    knownHosts: File,
    to?: string,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
    trigger = "manual",
    run?: string,
  ): Promise<string> {
    const s = await deploySetup(source, config);
    const runId = run ?? newRunId();
    const runner = new DaggerDeployRunner({ image: s.config.python.image, sshKey, knownHosts, run: runId });
    return (await rollback(s.config, env, to, { secrets: ["ssh-key"], knownHosts: await knownHosts.contents(), trigger, run: runId }, runner)).message;
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
  async status(env: string, sshKey: Secret, knownHosts: File, @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory, config?: File): Promise<string> {
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
  async history(env: string, sshKey: Secret, knownHosts: File, limit = 20, @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory, config?: File): Promise<string> {
    return queryHost("history", env, sshKey, knownHosts, source, config, limit);
  }

  /**
   * Prepare a bare host for an environment once, over SSH with an admin key: the deploy user, the
   * base-path layout, the systemd unit (a template from the repository, or shipit's built-in one
   * running the release's own interpreter), a sudoers drop-in allowing only `systemctl restart`,
   * `reset-failed` and `show` of that unit, and read access to its journal. Prints each change; a
   * second run prints none. A host whose key is not the pinned one is refused before any change.
   *
   * Example: dagger call setup --env=test --admin-key=env:SHIPIT_ADMIN_SSH_KEY --known-hosts=./known_hosts --deploy-key=./deploy_key.pub
   *
   * @param env The environment whose host to prepare.
   * @param adminKey The private SSH key of root (or of environments.<env>.setup.adminUser, with passwordless sudo); the deploy key need not have these rights.
   * @param knownHosts known_hosts pinning the host's key; host-key checking is never disabled.
   * @param deployKey The deploy key's public half (.pub), authorized for the deploy user.
   * @param source The bot's repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async setup(env: string, adminKey: Secret, knownHosts: File, deployKey?: File, @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory, config?: File): Promise<string> {
    const view = directorySourceView(source ?? dag.directory());
    const resolved = await loadConfig(view, config ? { text: await config.contents(), origin: "--config" } : undefined);
    const runId = newRunId();
    const runner = new DaggerDeployRunner({ image: resolved.python.image, sshKey: adminKey, knownHosts, run: runId });
    const inputs = { secrets: ["admin-key"], knownHosts: await knownHosts.contents(), run: runId, deployKey: deployKey ? await deployKey.contents() : undefined };
    return (await setupHost(resolved, view, env, inputs, runner)).message;
  }

  /**
   * Detect a bot repository's layout and return what it needs to ship with shipit: shipit.json
   * (checked by the config loader), the GitHub workflows calling shipit's module by reference with
   * the repository as --source, and shipit.init.md (what was found, and the next steps: secrets to
   * add, hosts to set up). Refuses when one of those files exists, unless --force.
   *
   * Example: dagger call init --shipit-module=github.com/acme/shipit@v0.1.0 export --path=.
   *
   * @param source The bot's repository (defaults to the calling repository's root).
   * @param shipitModule shipit's module as the workflows call it: github.com/OWNER/REPO@TAG.
   * @param force Return the files even when the repository already has them (export then overwrites them).
   */
  @func()
  async init(@argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source: Directory, shipitModule = "github.com/acme/shipit@v0.1.0", force = false): Promise<Directory> {
    const view = directorySourceView(source);
    const r = await renderInit(view, await detectLayout(view), parseModuleRef(shipitModule));
    await refuseOverwrites(view, Object.keys(r.files), force);
    return Object.entries(r.files).reduce((d, [path, text]) => d.withNewFile(path, text), dag.directory());
  }

  /**
   * Delivery metrics from the hosts' ledgers, per environment over a window: deploys per day,
   * success and rollback rates, median and p90 time to deploy, median time to roll back and to
   * restore after a failure (an unrestored failure is reported as open), and lead time from commit
   * to deploy (commit times from the repository's .git).
   *
   * Example: dagger call metrics --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts --days=30 --format=table
   *
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the hosts' keys.
   * @param env One environment (default: every environment with a host).
   * @param days The window's length in days, ending at --until.
   * @param since The window's start (UTC ISO, e.g. 2026-11-01T00:00:00Z); overrides --days.
   * @param until The window's end (UTC ISO; default: now).
   * @param format json, table or prometheus (text exposition format).
   * @param git The repository root with its .git, for commit times (lead time); a shallow clone leaves older commits unknown.
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async metrics(
    sshKey: Secret,
    knownHosts: File,
    env?: string,
    days = 30,
    since?: string,
    until?: string,
    format = "json",
    @argument({ defaultPath: "/", ignore: ["*", "!.git", "!.git/**"] }) git?: Directory,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
  ): Promise<string> {
    const s = await insightSetup(sshKey, knownHosts, env, days, since, until, git, source, config, false);
    return renderMetrics(computeMetrics(s.gathered.ledgers, s.window, s.commitTimes), format);
  }

  /**
   * The delivery dashboard: what is live on each environment (version, since when, health), the
   * last 20 deployments with outcomes and phase durations, charts of deploy and rollback durations
   * and of outcomes per day, and the metrics. One self-contained HTML page (Chart.js inlined).
   *
   * Example: dagger call dashboard --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts file export --path=dashboard.html
   *
   * @param sshKey The deploy user's private SSH key.
   * @param knownHosts known_hosts pinning the hosts' keys.
   * @param env One environment (default: every environment with a host).
   * @param days The window's length in days, ending at --until.
   * @param since The window's start (UTC ISO); overrides --days.
   * @param until The window's end (UTC ISO; default: now).
   * @param title The page's title.
   * @param git The repository root with its .git, for commit times (lead time).
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async dashboard(
    sshKey: Secret,
    knownHosts: File,
    env?: string,
    days = 30,
    since?: string,
    until?: string,
    title?: string,
    @argument({ defaultPath: "/", ignore: ["*", "!.git", "!.git/**"] }) git?: Directory,
    @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory,
    config?: File,
  ): Promise<Dashboard> {
    const s = await insightSetup(sshKey, knownHosts, env, days, since, until, git, source, config, true);
    const data = buildDashboard({ ledgers: s.gathered.ledgers, status: s.gathered.status, commitTimes: s.commitTimes, window: s.window, generated: s.now, title });
    const page = dag.directory().withNewFile("dashboard.html", renderDashboard(data, await chartJsSource())).file("dashboard.html");
    return new Dashboard(page, renderMetricsJson(data.metrics), s.config.python.image);
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
  async health(env: string, sshKey: Secret, knownHosts: File, @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory, config?: File): Promise<string> {
    return queryHost("health", env, sshKey, knownHosts, source, config);
  }

  /**
   * Chat-level smoke test: the smoke account joins the bot's channel, says the smoke command
   * (default `!ping`) and waits for the bot's answer (`pong`); prints the reply and the round-trip
   * time, or fails naming why (server down, channel not found, login refused, bot silent, wrong answer).
   *
   * Example: dagger call smoke --env=test --ssh-key=env:DEPLOY_SSH_KEY --smoke-password=env:CYTUBE_SMOKE_PASSWORD --known-hosts=./known_hosts
   *
   * @param env The environment.
   * @param sshKey The deploy user's private SSH key (a chat server on the host's loopback is reached through an SSH tunnel).
   * @param knownHosts known_hosts pinning the host's key.
   * @param smokePassword The CyTube password of the smoke account (smoke.account, default ShipitSmoke).
   * @param source The Python repository (defaults to the calling repository's root).
   * @param config A shipit.json to use instead of the one at the source root.
   */
  @func({ cache: "never" })
  async smoke(env: string, sshKey: Secret, knownHosts: File, smokePassword: Secret, @argument({ defaultPath: "/", ignore: ["**/.git", "**/.venv", "**/venv", "**/node_modules", "**/__pycache__", "**/.pytest_cache", "**/.mypy_cache", "**/.ruff_cache", "**/.tox", "**/.shipit", "**/.coverage"] }) source?: Directory, config?: File): Promise<string> {
    return queryHost("smoke", env, sshKey, knownHosts, source, config, undefined, smokePassword);
  }
}

async function setup(source: Directory, config: File | undefined, opts: BuildOptions = {}) {
  const view = directorySourceView(source);
  const resolved = await loadConfig(view, config ? { text: await config.contents(), origin: "--config" } : undefined);
  const runner = new DaggerRunner(source, resolved, await runStepsScript());
  const plan = planChecks(resolved, runner.layout, await assets(), await scanSource(view, resolved), opts);
  return { config: resolved, runner, plan };
}

async function gate(name: "lint" | "typecheck" | "test" | "security", s: Awaited<ReturnType<typeof setup>>): Promise<string> {
  const g: Gate = await runCheck(name as "lint", s.plan, s.runner, s.config);
  const table = renderSummary(`shipit ${name} (${s.config.name})`, [g]);
  if (g.status !== "passed") throw new ShipitError("GATE_FAILED", table);
  return table;
}


async function deploySetup(source: Directory | undefined, config: File | undefined) {
  const dir = source ?? dag.directory();
  const resolved = await loadConfig(directorySourceView(dir), config ? { text: await config.contents(), origin: "--config" } : undefined);
  return { config: resolved };
}

/** What metrics and the dashboard share: the window, every asked environment's ledger (and status), commit times. */
async function insightSetup(sshKey: Secret, knownHosts: File, env: string | undefined, days: number, since: string | undefined, until: string | undefined, git: Directory | undefined, source: Directory | undefined, config: File | undefined, withStatus: boolean) {
  const s = await deploySetup(source, config);
  const now = isoSeconds();
  const window = windowOf(days, until ?? now, since);
  const envs = insightEnvironments(s.config, env);
  const runId = newRunId();
  const runner = new DaggerDeployRunner({ image: s.config.python.image, sshKey, knownHosts, run: runId });
  const [gathered, commitTimes] = await Promise.all([
    gatherFromHosts(s.config, envs, { secrets: ["ssh-key"], knownHosts: await knownHosts.contents(), run: runId }, runner, withStatus),
    daggerCommitTimes(git, s.config.python.image),
  ]);
  return { config: s.config, now, window, gathered, commitTimes };
}

async function queryHost(kind: QueryKind, env: string, sshKey: Secret, knownHosts: File, source: Directory | undefined, config: File | undefined, limit?: number, smokePassword?: Secret): Promise<string> {
  const s = await deploySetup(source, config);
  const runId = newRunId();
  const runner = new DaggerDeployRunner({ image: s.config.python.image, sshKey, knownHosts, smokePassword, run: runId });
  const r = await query(s.config, env, kind, { secrets: ["ssh-key", ...(smokePassword ? ["smoke-password"] : [])], knownHosts: await knownHosts.contents(), run: runId }, runner, limit);
  return JSON.stringify(r.answer, null, 2);
}

async function github(repo: string, token: Secret, baseUrl: string): Promise<GitHub> {
  const ref = parseRepo(repo);
  return new GitHub({ token: await token.plaintext(), owner: ref.owner, repo: ref.repo, baseUrl });
}

/** The config, and the next release read from the repository's history with git in a container. */
async function releasePlan(git: Directory, repo: string, source: Directory | undefined, config: File | undefined) {
  parseRepo(repo); // the notes link to it: refuse a bad --repo before reading the history
  const s = await deploySetup(source, config);
  return { config: s.config, plan: await previewRelease(daggerGit(git, s.config.python.image), s.config.release.firstVersion, repo) };
}
