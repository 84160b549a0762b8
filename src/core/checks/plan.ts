import type { ResolvedConfig } from "../config/config.js";
import type { SecurityPlanView } from "./security/gate.js";
import type { SourceScan } from "./security/source-scan.js";
import { step, type Layout, type Step } from "./step.js";
import { ConfigError, configIssue } from "../errors.js";
import { SafeVersion } from "../config/grammar.js";
import { serviceEnvPrefix } from "../config/services.js";

export interface CheckPlan {
  /** Builds shipit's tools venv from the tool pins alone: shared by every project with the same pins and image. */
  tools: Step;
  /** Builds the project venv from the dependency files only (on top of the tools), before the source is copied in. */
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
const tool = (l: Layout, name: string) => `${l.tools}/bin/${name}`;

/** Package caches and installer settings, shared by the two layers (names carry tool and version). */
function installEnv(c: ResolvedConfig, l: Layout): { env: Record<string, string>; caches: Record<string, string> } {
  const tag = imageTag(c.python.image);
  const pipCache = `${l.caches}/pip`;
  const uvCache = `${l.caches}/uv`;
  // UV_SYSTEM_CERTS: trust the image's CA store, as pip does, so CA certificates the engine
  // installs into containers (Dagger's custom-CA support) apply to uv too.
  return {
    env: { PIP_CACHE_DIR: pipCache, PIP_DISABLE_PIP_VERSION_CHECK: "1", UV_CACHE_DIR: uvCache, UV_LINK_MODE: "copy", UV_NO_PROGRESS: "1", UV_SYSTEM_CERTS: "1" },
    caches: { [pipCache]: `shipit-pip-${tag}`, [uvCache]: `shipit-uv-${c.tools.uv}-${tag}` },
  };
}

/**
 * shipit's own tools in a venv of their own, so that none of their dependencies (requests, through
 * pip-audit, say) is importable by the project's tests or changes what mypy sees. Its inputs are
 * the tool pins and the image only.
 */
function planTools(c: ResolvedConfig, l: Layout): Step {
  const pins = [`ruff==${c.tools.ruff}`, `mypy==${c.tools.mypy}`, `bandit==${c.tools.bandit}`, `detect-secrets==${c.tools.detectSecrets}`, `pip-audit==${c.tools.pipAudit}`];
  const py = tool(l, "python");
  const commands: string[][] = [["python3", "-m", "venv", l.tools]];
  if (c.python.installer === "uv") {
    commands.push([py, "-m", "pip", "install", "--quiet", `uv==${c.tools.uv}`]);
    commands.push([tool(l, "uv"), "pip", "install", "--python", py, ...pins]);
  } else {
    commands.push([py, "-m", "pip", "install", "--quiet", `uv==${c.tools.uv}`, ...pins]);
  }
  return step({ id: "tools", commands, cwd: "/", ...installEnv(c, l), timeoutMs: 30 * 60_000 });
}

/**
 * Asks the project's build backend (PEP 517) what else it needs to build an editable install and
 * a wheel, so both can run later with no build isolation and no network. A backend that cannot
 * answer without the source says nothing here; the install then names what is missing.
 */
const BUILD_REQUIRES_SCRIPT = [
  "import importlib, sys",
  "spec, out = sys.argv[1:3]  # before the backend: setuptools rewrites sys.argv",
  "mod, _, attr = spec.partition(':')",
  "backend = importlib.import_module(mod)",
  "for part in filter(None, attr.split('.')): backend = getattr(backend, part)",
  "reqs = []",
  "for hook in ('get_requires_for_build_editable', 'get_requires_for_build_wheel'):",
  "    try: reqs += getattr(backend, hook, lambda: [])()",
  "    except BaseException as exc: print(f'shipit: {hook}: {exc}', file=sys.stderr)",
  "open(out, 'w').write(''.join(r + chr(10) for r in reqs))",
].join("\n");

/**
 * The project venv, from the dependency files alone (copied to l.deps before the source exists):
 * the requirement files; pyproject's [project].dependencies with the selected extras and groups;
 * or, with a uv.lock, exactly the locked versions (exported with --locked --offline: a stale lock
 * is red, and the lock needs no index). Then what the tests need that the project does not bring
 * (shipit's pytest and pytest-cov pins) and, for an installable project, its build requirements.
 */
function planDeps(c: ResolvedConfig, l: Layout): Step {
  const s = c.shape;
  const py = bin(l, "python");
  const uv = tool(l, "uv");
  const reqArgs = c.requirements.flatMap((r) => ["-r", `${l.deps}/${r}`]);
  const install = (args: string[]) => (c.python.installer === "uv" ? [uv, "pip", "install", "--python", py, ...args] : [py, "-m", "pip", "install", "--quiet", ...args]);
  const installable = s.pyproject?.installable ?? false;
  const buildReqs = installable ? s.pyproject!.buildRequires : [];
  const commands: string[][] = [["python3", "-m", "venv", l.venv]];
  const selection = [...s.extras.flatMap((e) => ["--extra", e]), ...s.groups.flatMap((g) => ["--group", g])];
  const exportLock = (out: string, select: string[]) => [uv, "export", "--locked", "--offline", "--no-hashes", "--no-emit-project", "--format", "requirements.txt", "--no-default-groups", ...select, "--python", py, "--output-file", out];
  if (s.lock) {
    const locked = `${l.venv}/shipit-locked.txt`;
    commands.push(exportLock(locked, selection));
    commands.push(install(["--no-deps", "-r", locked]));
    const rest = [...reqArgs, ...s.testTools, ...buildReqs];
    if (rest.length) commands.push(install(rest));
  } else {
    commands.push(install([...reqArgs, ...s.roots.map((r) => r.requirement), ...s.testTools, ...buildReqs]));
  }
  if (installable) {
    const extra = `${l.venv}/shipit-build-requires.txt`;
    commands.push([py, "-c", BUILD_REQUIRES_SCRIPT, s.pyproject!.backend, extra]);
    commands.push(install(["-r", extra]));
  }
  // The release artifact's wheels depend on the dependency files alone, so they are built here,
  // once per dependency layer, and a source-only change packs without asking the index again.
  const wheel = (args: string[]) => [py, "-m", "pip", "wheel", "--quiet", "--wheel-dir", l.wheels, ...args];
  const wheels: string[][] = [];
  if (c.requirements.length) wheels.push(wheel(reqArgs));
  if (installable && s.pyproject!.dependencies.length) {
    if (s.lock) {
      const runtime = `${l.venv}/shipit-runtime.txt`;
      wheels.push(exportLock(runtime, []), wheel(["--no-deps", "-r", runtime]));
    } else wheels.push(wheel(s.pyproject!.dependencies));
  }
  commands.push(...wheels);
  return step({ id: "deps", commands, cwd: l.deps, ...installEnv(c, l), dirs: wheels.length ? [l.wheels] : [], timeoutMs: 30 * 60_000 });
}

function planLint(c: ResolvedConfig, l: Layout): Step {
  const report = checkReports(l).ruff;
  const select = c.lint.select.length ? ["--select", c.lint.select.join(",")] : [];
  const commands = [
    [tool(l, "ruff"), "check", "--no-cache", "--exit-zero", "--output-format=json", `--output-file=${report}`, ...select, ...c.lint.paths],
  ];
  if (c.lint.format) commands.push([tool(l, "ruff"), "format", "--no-cache", "--check", ...c.lint.paths]);
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
      // mypy runs from the tools venv and sees the project's packages through the project's interpreter.
      [tool(l, "mypy"), "--python-executable", bin(l, "python"), "--no-color-output", "--show-error-codes", "--cache-dir", cache, ...c.typecheck.flags, ...c.typecheck.paths],
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

/**
 * Writes, into the site-packages of the venv it runs in, a .pth that adds the project venv's
 * site-packages (argv[1]) as a site dir: a per-run venv layered on the cached one.
 */
const LAYER_SCRIPT = [
  "import glob, os, sys, sysconfig",
  "dirs = sorted(glob.glob(os.path.join(sys.argv[1], 'lib', 'python*', 'site-packages')))",
  "line = 'import site; ' + '; '.join(f'site.addsitedir({d!r})' for d in dirs)",
  "open(os.path.join(sysconfig.get_path('purelib'), '_shipit_project_env.pth'), 'w').write(line + chr(10))",
].join("\n");

/**
 * An installable project is installed editable for its tests, as its users would, into a venv of
 * this run layered on the cached project venv (which concurrent runs share, each with its own
 * source folder): offline, with no build isolation, from the build requirements the layer holds.
 */
function projectInstall(c: ResolvedConfig, l: Layout, venv: string): string[][] {
  return [
    [bin(l, "python"), "-m", "venv", "--without-pip", venv],
    [`${venv}/bin/python`, "-c", LAYER_SCRIPT, l.venv],
    [tool(l, "uv"), "pip", "install", "--python", `${venv}/bin/python`, "--quiet", "--no-deps", "--no-build-isolation", "--offline", "--no-cache", "--editable", l.src],
  ];
}

function planTest(c: ResolvedConfig, l: Layout): Step {
  const dir = `${l.out}/test`;
  const reports = checkReports(l);
  const installable = c.shape.pyproject?.installable ?? false;
  // beside the reports, not among them: test-report exports the whole report folder
  const venv = `${l.out}/test-venv`;
  return step({
    id: "test",
    dirs: [dir],
    commands: [
      ...(installable ? projectInstall(c, l, venv) : []),
      [
        installable ? `${venv}/bin/python` : bin(l, "python"),
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
    env: { COVERAGE_FILE: `${dir}/.coverage`, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1", ...serviceEnv(c) },
    reports: [reports.junit, reports.coverageJson],
    services: c.services,
    okExitCodes: [0, 1, 5],
  });
}

/** Where the tests find each service: `NATS_HOST=127.0.0.1`, `NATS_PORT=4222` (both runners). */
function serviceEnv(c: ResolvedConfig): Record<string, string> {
  return Object.fromEntries(c.services.flatMap((s) => [[`${serviceEnvPrefix(s.name)}_HOST`, "127.0.0.1"], [`${serviceEnvPrefix(s.name)}_PORT`, String(s.port)]]));
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
  const s = c.shape;
  const installable = s.pyproject?.installable ?? false;
  const projectDir = `${dir}/project`;
  return step({
    id: "build",
    dirs: [dir],
    // an installable project's own wheel, from this source, offline with the layer's build requirements
    env: installable ? { SOURCE_DATE_EPOCH: "315532800", UV_NO_PROGRESS: "1" } : {},
    commands: [
      ...(installable ? [[tool(l, "uv"), "build", "--wheel", "--no-build-isolation", "--offline", "--no-cache", "--quiet", "--python", bin(l, "python"), "--out-dir", projectDir, l.src]] : []),
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
        "--version-source",
        opts.version !== undefined ? "argument" : c.versionSource,
        ...c.build.include.flatMap((p) => ["--include", p]),
        ...c.requirements.flatMap((p) => ["--requirements", p]),
        ...(installable ? ["--project-wheels", projectDir, ...s.files.filter((f) => !c.requirements.includes(f)).flatMap((f) => ["--file", f])] : []),
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
  /** pyproject's declared dependencies the project venv installed, with their lines, for audit_pins.py. */
  roots: "audit-roots.json",
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
      [tool(l, "bandit"), "--recursive", "--format", "json", "--output", reports.bandit, "--quiet", "--exit-zero", ...c.security.paths],
    ],
    cwd: l.src,
    reports: [reports.bandit],
  });
  const secrets = source.tracked.length
    ? step({
        id: "security-secrets",
        // A file named like an option ("-x") is passed as "./-x"; the gate strips the "./" again.
        commands: [[tool(l, "detect-secrets"), "scan", ...source.tracked.map((f) => (f.startsWith("-") ? `./${f}` : f))]],
        cwd: l.src,
      })
    : null;
  const auditCache = `${l.caches}/pip-audit`;
  const roots = c.shape.roots;
  const rootsFile = `${l.assets}/${SECURITY_REPORTS.roots}`;
  const audit = c.requirements.length || roots.length
    ? step({
        id: "security-audit",
        dirs: [dir],
        commands: [
          // the project's installed closure, read from the project venv (the tools' packages are not the project's)
          [
            tool(l, "python"),
            `${l.assets}/${AUDIT_SCRIPT}`,
            "--venv",
            l.venv,
            "--out",
            `${dir}/${SECURITY_REPORTS.pinned}`,
            "--json",
            reports.pins,
            ...c.requirements.flatMap((r) => ["-r", r]),
            ...(roots.length ? ["--roots", rootsFile] : []),
          ],
          [
            tool(l, "pip-audit"),
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
        files: { [`${l.assets}/${AUDIT_SCRIPT}`]: auditScript, ...(roots.length ? { [rootsFile]: JSON.stringify(roots, null, 1) + "\n" } : {}) },
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
    tools: planTools(c, l),
    deps: planDeps(c, l),
    lint: within(c.lint.timeoutSec)(planLint(c, l)),
    typecheck: within(c.typecheck.timeoutSec)(planTypecheck(c, l)),
    test: within(c.test.timeoutSec)(planTest(c, l)),
    security: { ...security, code: sec(security.code), secrets: security.secrets && sec(security.secrets), audit: security.audit && sec(security.audit) },
    build: within(c.build.timeoutSec)(planBuild(c, l, assets.pack, opts)),
    reports: checkReports(l),
  };
}
