/**
 * Every common Python project shape through the host runner with the real tools (issue 17):
 * pyproject + src/ layout, pyproject + dependency groups (flat layout, setuptools), a uv.lock,
 * the tool-leak fixture that proves the tools' packages are not the project's, and a collection
 * error (a src/ layout pytest cannot import, whose defaults also find nothing). Each asserts the
 * gate table, the messages, and the artifact's files and version; the src/ bot's artifact is
 * installed by the real host agent, offline, and answers a command.
 */
import { createHash } from "node:crypto";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runCheck, runCi, type CiReport } from "../../src/core/checks/pipeline.js";
import { hostSetup } from "../helpers/host.js";
import { startOsv } from "../helpers/osv.js";
import { REPO } from "../helpers/variants.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
let osv: Awaited<ReturnType<typeof startOsv>>;
beforeAll(async () => {
  osv = await startOsv();
});
afterAll(() => osv.close());

/** A fixture copied to a temp folder, its shipit.json (if any) with the audit asking the local OSV stand-in. */
async function fixture(name: string, config: object = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `shipit-${name}-`));
  await cp(join(REPO, "test/fixtures", name), dir, { recursive: true });
  const own = JSON.parse(await readFile(join(dir, "shipit.json"), "utf8").catch(() => "{}"));
  await writeFile(join(dir, "shipit.json"), JSON.stringify({ ...own, ...config, security: { auditService: "osv", osvUrl: osv.url } }));
  return dir;
}

/** Each row as "gate status figure", the duration column left out. */
const rows = (r: CiReport) => r.gates.map((g) => `${g.name} ${g.status} ${g.figure}`);

async function artifact(out: string, file: string): Promise<{ names: string[]; manifest: Record<string, unknown>; read: (p: string) => Promise<string> }> {
  const path = join(out, "build", file);
  const names = (await execa("tar", ["-tzf", path])).stdout.split("\n");
  const top = file.replace(/\.tar\.gz$/, "");
  const read = async (p: string) => (await execa("tar", ["-xzOf", path, `${top}/${p}`], { stripFinalNewline: false })).stdout;
  return { names, manifest: JSON.parse(await read("manifest.json")), read };
}

describe("project shapes through the host runner", () => {
  test("pyproject.toml + src/ layout, no pythonpath: the project is installed for its tests; the artifact is its wheel and its dependency's, version 0.3.0", async () => {
    const s = await hostSetup(await fixture("pyproject-src"), { commit: "c0ffee1" });
    const report = await runCi(s.plan, s.runner, s.config);
    expect(rows(report), report.summary).toEqual([
      "dependencies passed pyproject.toml + tools (uv)",
      "lint passed 0 findings",
      "typecheck passed 0 errors in 3 files",
      "test passed 5 passed · coverage 100% (threshold 90%)",
      "security passed 0 findings · dependency audit: 1 package, 0 vulnerable",
      "build passed chatbot-0.3.0.tar.gz (4 files, 119.4 KiB)",
    ]);
    expect(report.summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (chatbot): all 6 gates passed");
    expect(osv.queries).toContain("humanize==4.12.3");
    // coverage measured the source, not an installed copy
    expect(report.test?.coverage?.files.map((f) => f.path).sort()).toEqual(["src/chatbot/__init__.py", "src/chatbot/__main__.py", "src/chatbot/commands.py", "tests/test_commands.py"]);

    const a = await artifact(s.runner.layout.out, "chatbot-0.3.0.tar.gz");
    expect(a.names).toEqual([
      "chatbot-0.3.0/manifest.json",
      "chatbot-0.3.0/pyproject.toml",
      "chatbot-0.3.0/shipit-requirements.txt",
      "chatbot-0.3.0/wheels/chatbot-0.3.0-py3-none-any.whl",
      "chatbot-0.3.0/wheels/humanize-4.12.3-py3-none-any.whl",
    ]);
    expect(a.manifest).toMatchObject({
      name: "chatbot",
      version: "0.3.0",
      versionSource: "pyproject",
      commit: "c0ffee1",
      project: { name: "chatbot", version: "0.3.0", wheel: "chatbot-0.3.0-py3-none-any.whl" },
      requirements: ["shipit-requirements.txt"],
      wheels: ["chatbot-0.3.0-py3-none-any.whl", "humanize-4.12.3-py3-none-any.whl"],
    });
    expect(await a.read("shipit-requirements.txt")).toBe("chatbot==0.3.0\nhumanize==4.12.3\n");

    // the same artifact rebuilt is the same bytes (the project's wheel too)
    const again = await hostSetup(await fixture("pyproject-src"), { commit: "c0ffee1" });
    const b = await runCheck("build", again.plan, again.runner, again.config);
    expect(b.info?.sha256).toBe(report.build?.sha256);

    // --version wins, and the manifest says so
    const v = await hostSetup(await fixture("pyproject-src"), { version: "1.4.0" });
    expect((await runCheck("build", v.plan, v.runner, v.config)).figure).toMatch(/^chatbot-1\.4\.0\.tar\.gz /);
    expect((await artifact(v.runner.layout.out, "chatbot-1.4.0.tar.gz")).manifest).toMatchObject({ version: "1.4.0", versionSource: "argument", project: { version: "0.3.0" } });
  });

  test("the host agent installs the pyproject artifact offline (--no-index) and the installed bot answers", async () => {
    const s = await hostSetup(await fixture("pyproject-src"));
    const b = await runCheck("build", s.plan, s.runner, s.config);
    expect(b.status, b.detail).toBe("passed");
    const bytes = await readFile(join(s.runner.layout.out, "build", "chatbot-0.3.0.tar.gz"));
    const base = join(await mkdtemp(join(tmpdir(), "shipit-agent-")), "srv");
    const agent = join(REPO, "src/python/shipit_agent.py");
    // any index pip could be pointed at is unreachable: the wheels in the artifact must do
    const env = { PIP_INDEX_URL: "http://127.0.0.1:9/simple" };
    const lock = execa("python3", [agent, "lock", "--base", base, "--run", "r1", "--version", "0.3.0", "--trigger", "test"], { stdin: "pipe", env });
    try {
      const first = await new Promise<string>((ok) => lock.stdout!.once("data", (d: Buffer) => ok(d.toString())));
      expect(JSON.parse(first)).toEqual({ ok: true, locked: true, run: "r1" });
      const received = await execa("python3", [agent, "receive", "--base", base, "--run", "r1", "--sha256", sha(bytes)], { input: bytes, env });
      expect(JSON.parse(received.stdout)).toMatchObject({ ok: true, sha256: sha(bytes) });
      const installed = await execa("python3", [agent, "install", "--base", base, "--run", "r1", "--sha256", sha(bytes), "--python", "python3"], { env, reject: false });
      expect(installed.exitCode, installed.stdout + installed.stderr).toBe(0);
      expect(installed.stderr).toContain("installing shipit-requirements.txt from the bundled wheels");
      const release = join(base, "releases", JSON.parse(installed.stdout).release as string);
      const ran = await execa(join(release, ".venv/bin/python"), ["-m", "chatbot", "!uptime"], { cwd: tmpdir() });
      expect(ran.stdout).toBe("up for a moment");
      expect((await execa(join(release, ".venv/bin/chatbot"), ["!version"])).stdout).toBe("chatbot 0.3.0");
    } finally {
      lock.stdin!.end();
      await lock.catch(() => undefined);
    }
  });

  test("pyproject.toml + dependency groups, flat layout, setuptools: the test group (with its included group: a pytest plugin) and the configured extra are installed, the docs group is not", async () => {
    const s = await hostSetup(await fixture("pyproject-groups"));
    const report = await runCi(s.plan, s.runner, s.config);
    expect(rows(report), report.summary).toEqual([
      "dependencies passed pyproject.toml (extras fancy; group test) + tools (uv)",
      "lint passed 0 findings",
      "typecheck passed 0 errors in 2 files",
      "test passed 2 passed · coverage 100% (threshold 85%)",
      "security passed 0 findings · dependency audit: 8 packages, 0 vulnerable",
      "build passed greeter-1.1.0.tar.gz (3 files, 2.2 KiB)",
    ]);
    expect(s.config.typecheck.paths).toEqual(["greeter"]);
    const a = await artifact(s.runner.layout.out, "greeter-1.1.0.tar.gz");
    // extras serve the checks; the artifact bundles [project].dependencies (none) and the project
    expect(a.names).toEqual(["greeter-1.1.0/manifest.json", "greeter-1.1.0/pyproject.toml", "greeter-1.1.0/shipit-requirements.txt", "greeter-1.1.0/wheels/greeter-1.1.0-py3-none-any.whl"]);
    expect(a.manifest).toMatchObject({ version: "1.1.0", versionSource: "pyproject", wheels: ["greeter-1.1.0-py3-none-any.whl"] });

    // without the group, the async tests cannot run: the plugin came from the project, not from shipit
    const without = await hostSetup(await fixture("pyproject-groups", { project: { extras: ["fancy"], groups: [] } }));
    const t = await runCheck("test", without.plan, without.runner, without.config);
    expect(t.status).toBe("failed");
    expect(t.junit?.failed.map((f) => f.id)).toEqual(["tests/test_greet.py::test_greet", "tests/test_greet.py::test_greet_many_needs_the_fancy_extra"]);
    expect(t.detail).toContain("async def functions are not natively supported");
  });

  test("uv.lock: installed exactly (attrs 25.3.0 and the lock's pytest 9.1.1, not the newest nor shipit's pin); the artifact bundles the locked runtime closure", async () => {
    const s = await hostSetup(await fixture("uv-lock"));
    const report = await runCi(s.plan, s.runner, s.config);
    expect(rows(report), report.summary).toEqual([
      "dependencies passed uv.lock (group dev) + tools (uv)",
      "lint passed 0 findings",
      "typecheck passed 0 errors in 1 files",
      "test passed 2 passed · coverage 100% (threshold 85%)",
      "security passed 0 findings · dependency audit: 6 packages, 0 vulnerable",
      "build passed lockbot-1.2.0.tar.gz (5 files, 64.1 KiB)",
    ]);
    const a = await artifact(s.runner.layout.out, "lockbot-1.2.0.tar.gz");
    expect(a.names).toEqual([
      "lockbot-1.2.0/manifest.json",
      "lockbot-1.2.0/pyproject.toml",
      "lockbot-1.2.0/shipit-requirements.txt",
      "lockbot-1.2.0/uv.lock",
      "lockbot-1.2.0/wheels/attrs-25.3.0-py3-none-any.whl",
      "lockbot-1.2.0/wheels/lockbot-1.2.0-py3-none-any.whl",
    ]);
    expect(a.manifest).toMatchObject({ version: "1.2.0", versionSource: "pyproject", requirements: ["shipit-requirements.txt"] });

    // a lock that no longer matches pyproject.toml is red before anything runs
    const stale = await fixture("uv-lock");
    const py = join(stale, "pyproject.toml");
    await writeFile(py, (await readFile(py, "utf8")).replace(`dependencies = ["attrs>=24"]`, `dependencies = ["attrs>=24", "humanize==4.12.3"]`));
    const r = await hostSetup(stale);
    const red = await runCi(r.plan, r.runner, r.config);
    expect(rows(red)[0]).toBe("dependencies failed uv.lock out of date");
    expect(red.summary).toContain("Fix: run `uv lock` in the repository and commit uv.lock (or set project.lock to false to resolve pyproject.toml instead).");
  });

  test("tool leak: a test importing requests (a dependency of pip-audit, one of shipit's tools) is red: the tools are not in the project's environment", async () => {
    const s = await hostSetup(await fixture("tool-leak"));
    const report = await runCi(s.plan, s.runner, s.config);
    expect(rows(report), report.summary).toEqual([
      "dependencies passed requirements.txt + tools (uv)",
      "lint passed 0 findings",
      "typecheck passed 0 errors in 2 files",
      "test failed collection failed in 1 file · no tests ran",
      "security passed 0 findings · dependency audit: 1 package, 0 vulnerable",
      "build passed app-0.0.0-dev.tar.gz (4 files, 117.5 KiB)",
    ]);
    expect(report.gates[3]!.detail.split("\n")).toEqual([
      "pytest could not collect 1 file (an import or syntax error in a test module or conftest):",
      "  tests/test_status.py: ModuleNotFoundError: No module named 'requests'",
      "no coverage report: pytest stopped at the collection error, before any test ran",
      "Fix: run `python -m pytest --collect-only` in the repository to see the whole error",
    ]);
    // requests is there, in the tools venv, for pip-audit
    const tools = await execa(join(s.runner.layout.tools, "bin/python"), ["-c", "import requests; print(requests.__name__)"]);
    expect(tools.stdout).toBe("requests");
    const a = await artifact(s.runner.layout.out, "app-0.0.0-dev.tar.gz");
    expect(a.names).toEqual(["app-0.0.0-dev/manifest.json", "app-0.0.0-dev/lib/__init__.py", "app-0.0.0-dev/lib/status.py", "app-0.0.0-dev/requirements.txt", "app-0.0.0-dev/wheels/humanize-4.12.3-py3-none-any.whl"]);
    expect(a.manifest).toMatchObject({ version: "0.0.0-dev", versionSource: "default", requirements: ["requirements.txt"] });
    expect(a.manifest).not.toHaveProperty("project");
  });

  test("collection error: a src/ layout with no pyproject.toml and no pythonpath; the test gate names the exception and the file, and why coverage is missing", async () => {
    const s = await hostSetup(await fixture("collection-error"));
    const report = await runCi(s.plan, s.runner, s.config);
    expect(rows(report), report.summary).toEqual([
      "dependencies passed requirements.txt + tools (uv)",
      "lint passed 0 findings",
      "typecheck passed 0 errors in 2 files",
      "test failed collection failed in 1 file · no tests ran",
      "security passed 0 findings · dependency audit: 1 package, 0 vulnerable",
      "build passed app-0.0.0-dev.tar.gz (4 files, 117.5 KiB)",
    ]);
    const summary = report.summary.split("\n");
    const at = summary.indexOf("[test] pytest could not collect 1 file (an import or syntax error in a test module or conftest):");
    expect(summary.slice(at, at + 4), report.summary).toEqual([
      "[test] pytest could not collect 1 file (an import or syntax error in a test module or conftest):",
      "  tests/test_commands.py: ModuleNotFoundError: No module named 'chatbot'",
      "no coverage report: pytest stopped at the collection error, before any test ran",
      "Fix: run `python -m pytest --collect-only` in the repository to see the whole error",
    ]);
    expect(report.summary).not.toContain("pytest-cov");
    expect(summary.at(-1)).toBe("shipit ci (app): FAILED gates: test");
    const a = await artifact(s.runner.layout.out, "app-0.0.0-dev.tar.gz");
    expect(a.names).toEqual([
      "app-0.0.0-dev/manifest.json",
      "app-0.0.0-dev/requirements.txt",
      "app-0.0.0-dev/src/chatbot/__init__.py",
      "app-0.0.0-dev/src/chatbot/commands.py",
      "app-0.0.0-dev/wheels/humanize-4.12.3-py3-none-any.whl",
    ]);
    expect(a.manifest).toMatchObject({ version: "0.0.0-dev", versionSource: "default", requirements: ["requirements.txt"] });

    // read from junit.xml, not from pytest's terminal output: the same with --tb=no -q, with which
    // pytest prints only "ERROR tests/test_commands.py" there
    const quiet = await hostSetup(await fixture("collection-error", { test: { args: ["--tb=no", "-q"] } }));
    const t = await runCheck("test", quiet.plan, quiet.runner, quiet.config);
    expect([t.figure, t.detail]).toEqual([report.gates[3]!.figure, report.gates[3]!.detail]);

    // without its shipit.json, the defaults find nothing: the error names src/chatbot and the lines to use it
    const bare = await fixture("collection-error");
    await rm(join(bare, "shipit.json"));
    const e = await hostSetup(bare).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ name: "ConfigError", code: "CONFIG_INVALID" });
    expect((e as Error).message).toBe(
      [
        "invalid shipit config (defaults (no shipit.json)):",
        `  - typecheck.paths: none of the default paths ["lib","common","bot","web"] exist in the source. Fix: the source has the package folder src/chatbot: to use it, put "typecheck": {"paths": ["src/chatbot"]} in shipit.json`,
        `  - build.include: none of the default paths ["lib","common","bot","web"] exist in the source. Fix: the source has the package folder src/chatbot: to use it, put "build": {"include": ["src/chatbot"]} in shipit.json`,
      ].join("\n"),
    );
  });
});

