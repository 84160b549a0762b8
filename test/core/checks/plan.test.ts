import { expect, test } from "vitest";
import { resolveConfig } from "../../../src/core/config/config.js";
import { imageTag, planChecks, type BuildOptions } from "../../../src/core/checks/plan.js";
import { scanSource } from "../../../src/core/checks/security/source-scan.js";
import { CONTAINER_LAYOUT } from "../../../src/core/checks/step.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";

const ASSETS = { pack: "#pack", auditPins: "#pins" };
async function plan(json: object | null = null, opts: BuildOptions = {}, files = ROSEY) {
  const c = await resolveConfig(json && JSON.stringify(json), "shipit.json", memoryView(files));
  return planChecks(c, CONTAINER_LAYOUT, ASSETS, await scanSource(memoryView(files), c), opts);
}

const TOOLS = ["ruff==0.17.6", "mypy==2.4.1", "bandit==1.9.4", "detect-secrets==1.5.0", "pip-audit==2.10.1"];
const TEST_TOOLS = ["pytest==9.2.0", "pytest-cov==7.1.0"];
const CACHES = { "/root/.cache/pip": "shipit-pip-python3.11-slim", "/root/.cache/uv": "shipit-uv-0.13.9-python3.11-slim" };

test("two layers: the tools venv from the tool pins alone, the project venv from the requirement files with only pytest and pytest-cov beside them", async () => {
  const p = await plan();
  expect(p.tools.commands).toEqual([
    ["python3", "-m", "venv", "/opt/tools"],
    ["/opt/tools/bin/python", "-m", "pip", "install", "--quiet", "uv==0.13.9"],
    ["/opt/tools/bin/uv", "pip", "install", "--python", "/opt/tools/bin/python", ...TOOLS],
  ]);
  expect(p.tools.caches).toEqual(CACHES);
  expect(p.deps.cwd).toBe("/deps");
  expect(p.deps.commands).toEqual([
    ["python3", "-m", "venv", "/opt/venv"],
    ["/opt/tools/bin/uv", "pip", "install", "--python", "/opt/venv/bin/python", "-r", "/deps/requirements.txt", ...TEST_TOOLS],
    // the artifact's wheels belong to the layer too: a source-only change never rebuilds them
    ["/opt/venv/bin/python", "-m", "pip", "wheel", "--quiet", "--wheel-dir", "/opt/wheels", "-r", "/deps/requirements.txt"],
  ]);
  expect(p.deps.dirs).toEqual(["/opt/wheels"]);
  expect(p.deps.caches).toEqual(CACHES);
});

test("pip installer: pip installs the tools (uv among them) and the project venv", async () => {
  const p = await plan({ python: { installer: "pip" } });
  expect(p.tools.commands.at(-1)).toEqual(["/opt/tools/bin/python", "-m", "pip", "install", "--quiet", "uv==0.13.9", ...TOOLS]);
  expect(p.deps.commands.at(-2)).toEqual(["/opt/venv/bin/python", "-m", "pip", "install", "--quiet", "-r", "/deps/requirements.txt", ...TEST_TOOLS]);
});

test("lint, typecheck and test argv honour the config", async () => {
  const plan_ = await plan({ lint: { select: ["E", "F401"], format: true }, typecheck: { flags: ["--strict"] }, test: { paths: ["tests"], args: ["-x"] } });
  expect(plan_.lint.dirs).toEqual(["/out/lint"]);
  expect(plan_.lint.commands).toEqual([
    ["/opt/tools/bin/ruff", "check", "--no-cache", "--exit-zero", "--output-format=json", "--output-file=/out/lint/ruff.json", "--select", "E,F401", "."],
    ["/opt/tools/bin/ruff", "format", "--no-cache", "--check", "."],
  ]);
  expect(plan_.typecheck.commands).toEqual([
    ["/opt/tools/bin/mypy", "--python-executable", "/opt/venv/bin/python", "--no-color-output", "--show-error-codes", "--cache-dir", "/root/.cache/mypy-2.4.1-app", "--strict", "lib", "common", "bot", "web"],
  ]);
  // mypy's incremental cache, per project and mypy version, one run at a time
  expect(plan_.typecheck.caches).toEqual({ "/root/.cache/mypy-2.4.1-app": "shipit-mypy-2.4.1-python3.11-slim-app" });
  expect(plan_.typecheck.exclusiveCaches).toEqual(["/root/.cache/mypy-2.4.1-app"]);
  expect(plan_.test.dirs).toEqual(["/out/test"]);
  expect(plan_.test.commands[0]).toEqual([
    "/opt/venv/bin/python", "-m", "pytest", "-p", "no:cacheprovider",
    "--junitxml=/out/test/junit.xml", "--cov", "--cov-report=xml:/out/test/coverage.xml", "--cov-report=json:/out/test/coverage.json",
    "--cov-report=term", "--cov-fail-under=0", "-x", "tests",
  ]);
  expect(plan_.test.okExitCodes).toEqual([0, 1, 5]);
});

test("build packs the configured include list with the dependency layer's wheels", async () => {
  const plan_ = await plan({ name: "rosey" }, { version: "1.2.3", commit: "abc123" });
  expect(plan_.build.dirs).toEqual(["/out/build"]);
  expect(plan_.build.caches).toEqual({});
  expect(plan_.build.commands).toEqual([
    [
      "/opt/venv/bin/python", "/opt/shipit/pack_artifact.py", "--src", "/src", "--out", "/out/build/rosey-1.2.3.tar.gz",
      "--wheels", "/opt/wheels", "--name", "rosey", "--version", "1.2.3", "--commit", "abc123", "--version-source", "argument",
      "--include", "lib", "--include", "common", "--include", "bot", "--include", "web", "--requirements", "requirements.txt",
    ],
  ]);
  expect(plan_.build.files).toEqual({ "/opt/shipit/pack_artifact.py": "#pack" });
});

test("the lint and test gates' reports by name: the files their steps write and read back", async () => {
  const p = await plan();
  expect(p.reports).toEqual({ ruff: "/out/lint/ruff.json", junit: "/out/test/junit.xml", coverageJson: "/out/test/coverage.json" });
  expect(p.lint.reports).toEqual(["/out/lint/ruff.json"]);
  expect(p.lint.commands[0]).toContain("--output-file=/out/lint/ruff.json");
  expect(p.test.reports).toEqual(["/out/test/junit.xml", "/out/test/coverage.json"]);
  for (const flag of ["--junitxml=/out/test/junit.xml", "--cov-report=json:/out/test/coverage.json"]) expect(p.test.commands[0]).toContain(flag);
});

test("no secret or shell string ever appears in a step: every command is an argv array", async () => {
  const p = await plan();
  const { security, reports: _reports, ...rest } = p;
  const steps = [...Object.values(rest), security.code, security.secrets!, security.audit!];
  for (const s of steps) {
    for (const cmd of s.commands) expect(cmd[0]).not.toMatch(/^(sh|bash)$/);
    // A step is plain data with these fields only: none of them carries a secret for the runner to fill.
    expect(Object.keys(s).sort()).toEqual(["caches", "commands", "cwd", "dirs", "env", "exclusiveCaches", "files", "id", "okExitCodes", "reports", "services", "timeoutMs"]);
    expect(Object.keys(s.env).filter((k) => /pass|token|secret|key/i.test(k))).toEqual([]);
  }
});

test.each([
  ["python:3.11-slim", "python3.11-slim"],
  ["172.17.0.1:5000/library/python:3.12", "python3.12"],
])("imageTag(%s) = %s", (image, tag) => expect(imageTag(image)).toBe(tag));

test("security: bandit on the typecheck paths, detect-secrets on the files a commit holds, pip-audit on the installed closure", async () => {
  const files = { ...ROSEY, ".gitignore": "*.db\n*.log\n*.pem\n*.key\n.env\ndata/\n", "data/rosey.db": "x", ".secrets.baseline": "{}" };
  const p = (await plan({ security: { ignoreVulns: ["PYSEC-2099-1"] } }, {}, files)).security;
  expect(p.code.dirs).toEqual(["/out/security"]);
  expect(p.code.commands).toEqual([
    ["/opt/tools/bin/bandit", "--recursive", "--format", "json", "--output", "/out/security/bandit.json", "--quiet", "--exit-zero", "lib", "common", "bot", "web"],
  ]);
  expect(p.secrets!.commands).toEqual([
    ["/opt/tools/bin/detect-secrets", "scan", ".gitignore", "bot/rosey/__init__.py", "common/__init__.py", "lib/__init__.py", "pytest.ini", "requirements.txt", "test", "tests/test_x.py", "web/__init__.py"],
  ]);
  expect(p.audit!.dirs).toEqual(["/out/security"]);
  expect(p.audit!.commands).toEqual([
    ["/opt/tools/bin/python", "/opt/shipit/audit_pins.py", "--venv", "/opt/venv", "--out", "/out/security/audit-requirements.txt", "--json", "/out/security/audit-pins.json", "-r", "requirements.txt"],
    [
      "/opt/tools/bin/pip-audit", "--requirement", "/out/security/audit-requirements.txt", "--no-deps", "--disable-pip", "--format", "json",
      "--output", "/out/security/pip-audit.json", "--progress-spinner", "off", "--vulnerability-service", "pypi",
      "--cache-dir", "/root/.cache/pip-audit", "--ignore-vuln", "PYSEC-2099-1",
    ],
  ]);
  expect(p.audit!.files).toEqual({ "/opt/shipit/audit_pins.py": "#pins" });
  expect(p.audit!.caches).toEqual({ "/root/.cache/pip-audit": "shipit-pip-audit" });
  expect(p.audit!.okExitCodes).toEqual([0, 1]);
  expect(p.reports).toEqual({ bandit: "/out/security/bandit.json", pins: "/out/security/audit-pins.json", audit: "/out/security/pip-audit.json" });
});

test("security: the OSV source with its URL; no requirement files, no audit step", async () => {
  const osv = (await plan({ security: { auditService: "osv", osvUrl: "http://127.0.0.1:8999/v1/query", paths: ["lib"] } })).security;
  expect(osv.audit!.commands.at(-1)).toEqual([
    "/opt/tools/bin/pip-audit", "--requirement", "/out/security/audit-requirements.txt", "--no-deps", "--disable-pip", "--format", "json",
    "--output", "/out/security/pip-audit.json", "--progress-spinner", "off", "--vulnerability-service", "osv", "--osv-url", "http://127.0.0.1:8999/v1/query",
    "--cache-dir", "/root/.cache/pip-audit",
  ]);
  expect(osv.code.commands[0]!.slice(-1)).toEqual(["lib"]);
  const none = (await plan({ requirements: [] })).security;
  expect(none.audit).toBeNull();
});

const CHATBOT = {
  "pyproject.toml": `[build-system]\nrequires = ["hatchling==1.33.0"]\nbuild-backend = "hatchling.build"\n\n[project]\nname = "chatbot"\nversion = "0.3.0"\ndependencies = ["humanize==4.12.3"]\n\n[dependency-groups]\ntest = ["pytest-asyncio==1.5.0"]\n`,
  "src/chatbot/__init__.py": "",
  "tests/test_x.py": "",
};

test("pyproject: the project venv gets the declared dependencies, the test group, the build requirements; the wheels are [project].dependencies'", async () => {
  const p = await plan(null, {}, CHATBOT);
  expect(p.deps.commands).toEqual([
    ["python3", "-m", "venv", "/opt/venv"],
    ["/opt/tools/bin/uv", "pip", "install", "--python", "/opt/venv/bin/python", "humanize==4.12.3", "pytest-asyncio==1.5.0", ...TEST_TOOLS, "hatchling==1.33.0"],
    ["/opt/venv/bin/python", "-c", expect.stringContaining("get_requires_for_build_editable"), "hatchling.build", "/opt/venv/shipit-build-requires.txt"],
    ["/opt/tools/bin/uv", "pip", "install", "--python", "/opt/venv/bin/python", "-r", "/opt/venv/shipit-build-requires.txt"],
    ["/opt/venv/bin/python", "-m", "pip", "wheel", "--quiet", "--wheel-dir", "/opt/wheels", "humanize==4.12.3"],
  ]);
});

test("pyproject: the tests run in a venv of their own layered on the project venv, with the project installed editable, offline", async () => {
  const p = await plan(null, {}, CHATBOT);
  expect(p.test.commands.slice(0, 3)).toEqual([
    ["/opt/venv/bin/python", "-m", "venv", "--without-pip", "/out/test-venv"],
    ["/out/test-venv/bin/python", "-c", expect.stringContaining("site.addsitedir"), "/opt/venv"],
    ["/opt/tools/bin/uv", "pip", "install", "--python", "/out/test-venv/bin/python", "--quiet", "--no-deps", "--no-build-isolation", "--offline", "--no-cache", "--editable", "/src"],
  ]);
  expect(p.test.commands[3]!.slice(0, 3)).toEqual(["/out/test-venv/bin/python", "-m", "pytest"]);
  // mypy needs no install: it sees the dependencies through the project's interpreter
  expect(p.typecheck.commands[0]!.slice(0, 3)).toEqual(["/opt/tools/bin/mypy", "--python-executable", "/opt/venv/bin/python"]);
});

test("pyproject: the build makes the project's wheel, then packs it with the dependency wheels, pyproject.toml and the version's source", async () => {
  const p = await plan(null, { commit: "abc" }, CHATBOT);
  expect(p.build.env).toEqual({ SOURCE_DATE_EPOCH: "315532800", UV_NO_PROGRESS: "1" });
  expect(p.build.commands).toEqual([
    ["/opt/tools/bin/uv", "build", "--wheel", "--no-build-isolation", "--offline", "--no-cache", "--quiet", "--python", "/opt/venv/bin/python", "--out-dir", "/out/build/project", "/src"],
    [
      "/opt/venv/bin/python", "/opt/shipit/pack_artifact.py", "--src", "/src", "--out", "/out/build/chatbot-0.3.0.tar.gz",
      "--wheels", "/opt/wheels", "--name", "chatbot", "--version", "0.3.0", "--commit", "abc", "--version-source", "pyproject",
      "--project-wheels", "/out/build/project", "--file", "pyproject.toml",
    ],
  ]);
});

test("pyproject: the audit reads the project venv, with pyproject's declared dependencies and their lines as roots", async () => {
  const audit = (await plan(null, {}, CHATBOT)).security.audit!;
  expect(audit.commands[0]).toEqual([
    "/opt/tools/bin/python", "/opt/shipit/audit_pins.py", "--venv", "/opt/venv", "--out", "/out/security/audit-requirements.txt", "--json", "/out/security/audit-pins.json",
    "--roots", "/opt/shipit/audit-roots.json",
  ]);
  expect(JSON.parse(audit.files["/opt/shipit/audit-roots.json"]!)).toEqual([
    { requirement: "humanize==4.12.3", file: "pyproject.toml", line: 8 },
    { requirement: "pytest-asyncio==1.5.0", file: "pyproject.toml", line: 11 },
  ]);
});

test("uv.lock: exported exactly with --locked --offline, installed without resolving, then only what the lock lacks; the wheels from the runtime export", async () => {
  const lock = `version = 1\n\n[[package]]\nname = "chatbot"\nversion = "0.3.0"\nsource = { editable = "." }\ndependencies = [{ name = "humanize" }]\n\n[package.dev-dependencies]\ntest = [{ name = "pytest" }]\n\n[[package]]\nname = "humanize"\nversion = "4.12.3"\n\n[[package]]\nname = "pytest"\nversion = "9.1.1"\n`;
  const p = await plan({ python: { installer: "pip" } }, {}, { ...CHATBOT, "uv.lock": lock });
  const exp = (out: string, select: string[]) => ["/opt/tools/bin/uv", "export", "--locked", "--offline", "--no-hashes", "--no-emit-project", "--format", "requirements.txt", "--no-default-groups", ...select, "--python", "/opt/venv/bin/python", "--output-file", out];
  expect(p.deps.commands).toEqual([
    ["python3", "-m", "venv", "/opt/venv"],
    exp("/opt/venv/shipit-locked.txt", ["--group", "test"]),
    ["/opt/venv/bin/python", "-m", "pip", "install", "--quiet", "--no-deps", "-r", "/opt/venv/shipit-locked.txt"],
    ["/opt/venv/bin/python", "-m", "pip", "install", "--quiet", "pytest-cov==7.1.0", "hatchling==1.33.0"],
    ["/opt/venv/bin/python", "-c", expect.stringContaining("get_requires_for_build_wheel"), "hatchling.build", "/opt/venv/shipit-build-requires.txt"],
    ["/opt/venv/bin/python", "-m", "pip", "install", "--quiet", "-r", "/opt/venv/shipit-build-requires.txt"],
    exp("/opt/venv/shipit-runtime.txt", []),
    ["/opt/venv/bin/python", "-m", "pip", "wheel", "--quiet", "--wheel-dir", "/opt/wheels", "--no-deps", "-r", "/opt/venv/shipit-runtime.txt"],
  ]);
  expect(p.build.commands.at(-1)!.slice(-4)).toEqual(["--file", "pyproject.toml", "--file", "uv.lock"]);
});
