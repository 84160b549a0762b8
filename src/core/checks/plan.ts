import type { ResolvedConfig } from "../config/config.js";
import type { SecurityPlanView } from "./security/gate.js";
import type { SourceScan } from "./security/source-scan.js";
import { step, type Layout, type Step } from "./step.js";
import { ConfigError, configIssue } from "../errors.js";
import { SafeVersion } from "../config/grammar.js";

export interface CheckPlan {
  /** Builds the virtualenv from the requirement files only, before the source is copied in. */
  deps: Step;
  lint: Step;
  typecheck: Step;
  test: Step;
  security: SecurityPlan;
  build: Step;
  /** The report files the lint and test gates read back, by name (the security gate's are in SecurityPlan.reports). */
  reports: CheckReports;
}

interface CheckReports {
  /** ruff's JSON findings. */
  ruff: string;
  /** pytest's JUnit XML. */
  junit: string;
  /** coverage.py's JSON report, which the coverage threshold is checked against. */
  coverageJson: string;
}

/** shipit's own helper scripts (their text), shipped into the steps that run them. */
export interface Assets {
  /** src/python/pack_artifact.py */
  pack: string;
  /** src/python/audit_pins.py */
  auditPins: string;
}

/** The security gate: three steps run side by side, plus what the inspection of the tree found. */
interface SecurityPlan extends SecurityPlanView {
  /** bandit on security.paths. */
  code: Step;
  /** detect-secrets on every file a commit holds; null when there is none. */
  secrets: Step | null;
  /** The installed closure of the requirement files, then pip-audit on it; null without requirement files. */
  audit: Step | null;
}

export interface BuildOptions {
  version?: string;
  commit?: string;
}

/** Python image tag as a cache-name fragment: `python:3.11-slim` → `python3.11-slim`. */
export function imageTag(image: string): string {
  const last = image.replace(/@.*/, "").split("/").pop()!;
  return last.replace(/[^A-Za-z0-9.-]+/g, "");
}

const bin = (l: Layout, tool: string) => `${l.venv}/bin/${tool}`;

function planDeps(c: ResolvedConfig, l: Layout): Step {
  const tools = [
    `ruff==${c.tools.ruff}`,
    `mypy==${c.tools.mypy}`,
    `pytest==${c.tools.pytest}`,
    `pytest-cov==${c.tools.pytestCov}`,
    `bandit==${c.tools.bandit}`,
    `detect-secrets==${c.tools.detectSecrets}`,
    `pip-audit==${c.tools.pipAudit}`,
  ];
  const reqArgs = c.requirements.flatMap((r) => ["-r", `${l.deps}/${r}`]);
  const pipCache = `${l.caches}/pip`;
  const uvCache = `${l.caches}/uv`;
  const tag = imageTag(c.python.image);
  const commands: string[][] = [["python3", "-m", "venv", l.venv]];
  const caches: Record<string, string> = { [pipCache]: `shipit-pip-${tag}` };
  const env: Record<string, string> = { PIP_CACHE_DIR: pipCache, PIP_DISABLE_PIP_VERSION_CHECK: "1" };
  if (c.python.installer === "uv") {
    commands.push([bin(l, "python"), "-m", "pip", "install", "--quiet", `uv==${c.tools.uv}`]);
    commands.push([bin(l, "uv"), "pip", "install", "--python", bin(l, "python"), ...reqArgs, ...tools]);
    caches[uvCache] = `shipit-uv-${c.tools.uv}-${tag}`;
    // UV_SYSTEM_CERTS: trust the image's CA store, as pip does, so CA certificates the engine
    // installs into containers (Dagger's custom-CA support) apply to uv too.
    Object.assign(env, { UV_CACHE_DIR: uvCache, UV_LINK_MODE: "copy", UV_NO_PROGRESS: "1", UV_SYSTEM_CERTS: "1" });
  } else {
    commands.push([bin(l, "python"), "-m", "pip", "install", "--quiet", ...reqArgs, ...tools]);
  }
  // The release artifact's wheels depend on the requirement files alone, so they are built here,
  // once per dependency layer, and a source-only change packs without asking the index again.
  const dirs: string[] = [];
  if (c.requirements.length) {
    dirs.push(l.wheels);
    commands.push([bin(l, "python"), "-m", "pip", "wheel", "--quiet", "--wheel-dir", l.wheels, ...reqArgs]);
  }
  return step({ id: "deps", commands, cwd: l.deps, env, caches, dirs, timeoutMs: 30 * 60_000 });
}

function planLint(c: ResolvedConfig, l: Layout): Step {
  const report = checkReports(l).ruff;
  const select = c.lint.select.length ? ["--select", c.lint.select.join(",")] : [];
  const commands = [
    [bin(l, "ruff"), "check", "--no-cache", "--exit-zero", "--output-format=json", `--output-file=${report}`, ...select, ...c.lint.paths],
  ];
  if (c.lint.format) commands.push([bin(l, "ruff"), "format", "--no-cache", "--check", ...c.lint.paths]);
  return step({ id: "lint", commands, cwd: l.src, dirs: [`${l.out}/lint`], reports: [report], okExitCodes: [0, 1] });
}

/**
 * mypy keeps its incremental cache between runs, per project and mypy version: after a one-line
 * change it re-checks the changed module and what depends on it, with the same verdict. The cache
 * validates every entry against the source's hash, so a stale entry is never trusted.
 */
function planTypecheck(c: ResolvedConfig, l: Layout): Step {
  const cache = `${l.caches}/mypy-${c.tools.mypy}-${c.name}`;
  return step({
    id: "typecheck",
    commands: [
      [bin(l, "mypy"), "--no-color-output", "--show-error-codes", "--cache-dir", cache, ...c.typecheck.flags, ...c.typecheck.paths],
    ],
    caches: { [cache]: `shipit-mypy-${c.tools.mypy}-${imageTag(c.python.image)}-${c.name}` },
    exclusiveCaches: [cache],
    cwd: l.src,
    okExitCodes: [0, 1],
    env: { MYPY_FORCE_COLOR: "0", TERM: "dumb" },
  });
}

export const TEST_REPORTS = { junit: "junit.xml", coverageXml: "coverage.xml", coverageJson: "coverage.json" } as const;

function checkReports(l: Layout): CheckReports {
  return { ruff: `${l.out}/lint/ruff.json`, junit: `${l.out}/test/${TEST_REPORTS.junit}`, coverageJson: `${l.out}/test/${TEST_REPORTS.coverageJson}` };
}

function planTest(c: ResolvedConfig, l: Layout): Step {
  const dir = `${l.out}/test`;
  const reports = checkReports(l);
  return step({
    id: "test",
    dirs: [dir],
    commands: [
      [
        bin(l, "python"),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        `--junitxml=${reports.junit}`,
        "--cov",
        `--cov-report=xml:${dir}/${TEST_REPORTS.coverageXml}`,
        `--cov-report=json:${reports.coverageJson}`,
        "--cov-report=term",
        // shipit decides the gate from coverage.json; pytest-cov must not fail the run on fail_under itself.
        "--cov-fail-under=0",
        ...c.test.args,
        ...c.test.paths,
      ],
    ],
    cwd: l.src,
    // unbuffered: pytest's progress reaches `shipit test` as it happens, not in 8 KiB blocks
    env: { COVERAGE_FILE: `${dir}/.coverage`, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" },
    reports: [reports.junit, reports.coverageJson],
    okExitCodes: [0, 1, 5],
  });
}

export const PACK_SCRIPT = "pack_artifact.py";

function artifactName(c: ResolvedConfig, version: string): string {
  return `${c.name}-${version}.tar.gz`;
}

function planBuild(c: ResolvedConfig, l: Layout, packScript: string, opts: BuildOptions = {}): Step {
  const version = opts.version ?? c.build.version;
  if (!SafeVersion.safeParse(version).success) {
    throw new ConfigError("arguments", [configIssue({ code: "INVALID_FORMAT", path: ["--version"], value: version, problem: "is not a version that is safe in a file name", fix: "pass a version such as 1.2.3 or 1.2.3-pr.4.gabc1234 (letters, digits, '.', '+', '!', '_', '-')" })]);
  }
  const dir = `${l.out}/build`;
  return step({
    id: "build",
    dirs: [dir],
    commands: [
      [
        bin(l, "python"),
        `${l.assets}/${PACK_SCRIPT}`,
        "--src",
        l.src,
        "--out",
        `${dir}/${artifactName(c, version)}`,
        "--wheels",
        l.wheels,
        "--name",
        c.name,
        "--version",
        version,
        "--commit",
        opts.commit ?? "unknown",
        ...c.build.include.flatMap((p) => ["--include", p]),
        ...c.requirements.flatMap((p) => ["--requirements", p]),
      ],
    ],
    cwd: l.src,
    files: { [`${l.assets}/${PACK_SCRIPT}`]: packScript },
    reports: [`${dir}/manifest.json`],
  });
}

export const AUDIT_SCRIPT = "audit_pins.py";
const SECURITY_REPORTS = {
  bandit: "bandit.json",
  pins: "audit-pins.json",
  pinned: "audit-requirements.txt",
  audit: "pip-audit.json",
} as const;

/**
 * The security gate's steps. bandit reports every finding (`--exit-zero`); the gate applies the
 * thresholds. detect-secrets reads exactly the files .gitignore lets through. The audit pins the
 * packages the requirement files installed and asks only the advisory source about them
 * (`--no-deps --disable-pip`: no resolver, no package index).
 */
function planSecurity(c: ResolvedConfig, l: Layout, source: SourceScan, auditScript: string): SecurityPlan {
  const dir = `${l.out}/security`;
  const reports = { bandit: `${dir}/${SECURITY_REPORTS.bandit}`, pins: `${dir}/${SECURITY_REPORTS.pins}`, audit: `${dir}/${SECURITY_REPORTS.audit}` };
  const code = step({
    id: "security-code",
    dirs: [dir],
    commands: [
      [bin(l, "bandit"), "--recursive", "--format", "json", "--output", reports.bandit, "--quiet", "--exit-zero", ...c.security.paths],
    ],
    cwd: l.src,
    reports: [reports.bandit],
  });
  const secrets = source.tracked.length
    ? step({
        id: "security-secrets",
        // A file named like an option ("-x") is passed as "./-x"; the gate strips the "./" again.
        commands: [[bin(l, "detect-secrets"), "scan", ...source.tracked.map((f) => (f.startsWith("-") ? `./${f}` : f))]],
        cwd: l.src,
      })
    : null;
  const auditCache = `${l.caches}/pip-audit`;
  const audit = c.requirements.length
    ? step({
        id: "security-audit",
        dirs: [dir],
        commands: [
          [
            bin(l, "python"),
            `${l.assets}/${AUDIT_SCRIPT}`,
            "--out",
            `${dir}/${SECURITY_REPORTS.pinned}`,
            "--json",
            reports.pins,
            ...c.requirements.flatMap((r) => ["-r", r]),
          ],
          [
            bin(l, "pip-audit"),
            "--requirement",
            `${dir}/${SECURITY_REPORTS.pinned}`,
            "--no-deps",
            "--disable-pip",
            "--format",
            "json",
            "--output",
            reports.audit,
            "--progress-spinner",
            "off",
            "--vulnerability-service",
            c.security.auditService,
            ...(c.security.auditService === "osv" ? ["--osv-url", c.security.osvUrl] : []),
            "--cache-dir",
            auditCache,
            ...c.security.ignoreVulns.flatMap((id) => ["--ignore-vuln", id]),
          ],
        ],
        cwd: l.src,
        env: { PIP_DISABLE_PIP_VERSION_CHECK: "1" },
        caches: { [auditCache]: "shipit-pip-audit" },
        files: { [`${l.assets}/${AUDIT_SCRIPT}`]: auditScript },
        reports: [reports.pins, reports.audit],
        // pip-audit exits 1 both for "vulnerabilities found" and for "could not audit"; the report tells them apart.
        okExitCodes: [0, 1],
        timeoutMs: 10 * 60_000,
      })
    : null;
  return { source, reports, code, secrets, audit };
}

export function planChecks(c: ResolvedConfig, l: Layout, assets: Assets, source: SourceScan, opts: BuildOptions = {}): CheckPlan {
  const within = (sec: number) => (st: Step): Step => ({ ...st, timeoutMs: sec * 1000 });
  const security = planSecurity(c, l, source, assets.auditPins);
  const sec = within(c.security.timeoutSec);
  return {
    deps: planDeps(c, l),
    lint: within(c.lint.timeoutSec)(planLint(c, l)),
    typecheck: within(c.typecheck.timeoutSec)(planTypecheck(c, l)),
    test: within(c.test.timeoutSec)(planTest(c, l)),
    security: { ...security, code: sec(security.code), secrets: security.secrets && sec(security.secrets), audit: security.audit && sec(security.audit) },
    build: within(c.build.timeoutSec)(planBuild(c, l, assets.pack, opts)),
    reports: checkReports(l),
  };
}
