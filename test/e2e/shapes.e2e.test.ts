/**
 * One engine run per project shape (issue 17) and for the collection-error bot: ci-report through
 * the real engine on each fixture, with the same gate rows as the host runner, and the artifact's
 * files and version.
 */
import { cp, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { expect, test } from "vitest";
import { call, gateRows } from "../helpers/call.js";
import { REPO } from "../helpers/variants.js";

async function both(name: string) {
  const dir = await mkdtemp(join(tmpdir(), `e2e-${name}-`));
  await cp(join(REPO, "test/fixtures", name), dir, { recursive: true });
  const out = await mkdtemp(join(tmpdir(), `e2e-${name}-out-`));
  const [engine, host] = await Promise.all([
    call(["ci-report", `--source=${dir}`, "--commit=e2e0017", "-o", out]),
    execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), "ci", `--source=${dir}`], { cwd: REPO, reject: false }),
  ]);
  expect(engine.exitCode, engine.stderr).toBe(0);
  const summary = await readFile(join(out, "summary.txt"), "utf8");
  // the same verdicts and figures from the engine as from the host runner
  expect(gateRows(summary)).toEqual(gateRows(host.stdout));
  const listing = async (file: string) => (await execa("tar", ["-tzf", join(out, file)])).stdout.split("\n");
  const manifest = async (file: string) => JSON.parse((await execa("tar", ["-xzOf", join(out, file), `${file.replace(/\.tar\.gz$/, "")}/manifest.json`])).stdout);
  return { rows: gateRows(summary), summary, host, listing, manifest };
}

test("pyproject.toml + src/ layout: green, the project's wheel and its dependency's in the artifact, version 0.3.0 from pyproject", async () => {
  const r = await both("pyproject-src");
  expect(r.rows.slice(0, 4)).toEqual(["dependencies ok pyproject.toml + tools (uv)", "lint ok 0 findings", "typecheck ok 0 errors in 3 files", "test ok 5 passed · coverage 100% (threshold 90%)"]);
  expect(r.rows[5]).toBe("build ok chatbot-0.3.0.tar.gz (4 files, 119.4 KiB)");
  expect(await r.listing("chatbot-0.3.0.tar.gz")).toEqual([
    "chatbot-0.3.0/manifest.json",
    "chatbot-0.3.0/pyproject.toml",
    "chatbot-0.3.0/shipit-requirements.txt",
    "chatbot-0.3.0/wheels/chatbot-0.3.0-py3-none-any.whl",
    "chatbot-0.3.0/wheels/humanize-4.12.3-py3-none-any.whl",
  ]);
  expect(await r.manifest("chatbot-0.3.0.tar.gz")).toMatchObject({ version: "0.3.0", versionSource: "pyproject", commit: "e2e0017", project: { wheel: "chatbot-0.3.0-py3-none-any.whl" } });
});

test("pyproject.toml + dependency groups (flat, setuptools): the test group's pytest plugin and the configured extra, green", async () => {
  const r = await both("pyproject-groups");
  expect(r.rows.slice(0, 4)).toEqual([
    "dependencies ok pyproject.toml (extras fancy; group test) + tools (uv)",
    "lint ok 0 findings",
    "typecheck ok 0 errors in 2 files",
    "test ok 2 passed · coverage 100% (threshold 85%)",
  ]);
  expect(await r.listing("greeter-1.1.0.tar.gz")).toEqual(["greeter-1.1.0/manifest.json", "greeter-1.1.0/pyproject.toml", "greeter-1.1.0/shipit-requirements.txt", "greeter-1.1.0/wheels/greeter-1.1.0-py3-none-any.whl"]);
  expect(await r.manifest("greeter-1.1.0.tar.gz")).toMatchObject({ version: "1.1.0", versionSource: "pyproject" });
});

test("uv.lock: the locked versions, exactly, in the tests and in the artifact", async () => {
  const r = await both("uv-lock");
  expect(r.rows.slice(0, 4)).toEqual(["dependencies ok uv.lock (group dev) + tools (uv)", "lint ok 0 findings", "typecheck ok 0 errors in 1 files", "test ok 2 passed · coverage 100% (threshold 85%)"]);
  expect(await r.listing("lockbot-1.2.0.tar.gz")).toEqual([
    "lockbot-1.2.0/manifest.json",
    "lockbot-1.2.0/pyproject.toml",
    "lockbot-1.2.0/shipit-requirements.txt",
    "lockbot-1.2.0/uv.lock",
    "lockbot-1.2.0/wheels/attrs-25.3.0-py3-none-any.whl",
    "lockbot-1.2.0/wheels/lockbot-1.2.0-py3-none-any.whl",
  ]);
});

test("tool leak: a test importing pip-audit's requests is red in the engine too", async () => {
  const r = await both("tool-leak");
  expect(r.rows[3]).toBe("test FAILED collection failed in 1 file · no tests ran");
  expect(r.summary).toContain("tests/test_status.py: ModuleNotFoundError: No module named 'requests'");
  expect(r.summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (app): FAILED gates: test");
  expect(r.host.exitCode).toBe(1);
  expect(await r.manifest("app-0.0.0-dev.tar.gz")).toMatchObject({ version: "0.0.0-dev", versionSource: "default", requirements: ["requirements.txt"] });
});

test("collection error: the engine names the exception and the file, and why coverage is missing, as the host runner does", async () => {
  const r = await both("collection-error");
  // (the security row, the same from both runners, says no advisory source is reachable here)
  expect([...r.rows.slice(0, 4), r.rows[5]]).toEqual([
    "dependencies ok requirements.txt + tools (uv)",
    "lint ok 0 findings",
    "typecheck ok 0 errors in 2 files",
    "test FAILED collection failed in 1 file · no tests ran",
    "build ok app-0.0.0-dev.tar.gz (4 files, 117.5 KiB)",
  ]);
  const lines = r.summary.split("\n");
  const at = lines.indexOf("[test] pytest could not collect 1 file (an import or syntax error in a test module or conftest):");
  expect(lines.slice(at, at + 4), r.summary).toEqual([
    "[test] pytest could not collect 1 file (an import or syntax error in a test module or conftest):",
    "  tests/test_commands.py: ModuleNotFoundError: No module named 'chatbot'",
    "no coverage report: pytest stopped at the collection error, before any test ran",
    "Fix: run `python -m pytest --collect-only` in the repository to see the whole error",
  ]);
  // the same detail from the host runner, word for word
  expect(r.host.stdout).toContain(lines.slice(at, at + 4).join("\n"));
  expect(r.summary).not.toContain("pytest-cov");
  expect(await r.manifest("app-0.0.0-dev.tar.gz")).toMatchObject({ version: "0.0.0-dev", versionSource: "default", requirements: ["requirements.txt"] });
});
