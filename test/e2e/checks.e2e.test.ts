import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { call, gateRows } from "../helpers/call.js";
import { makeVariant, REPO, type Variant } from "../helpers/variants.js";

const sha = async (p: string) => createHash("sha256").update(await readFile(p)).digest("hex");

async function hostCi(dir: string) {
  const r = await execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), "ci", `--source=${dir}`], { cwd: REPO, reject: false });
  return { exitCode: r.exitCode, stdout: r.stdout };
}

describe("every function through the real engine, on the clean sample bot", () => {
  test("lint, typecheck and test pass; build returns the artifact; ci prints the table", async () => {
    const dir = await makeVariant("clean");
    const lint = await call(["lint", `--source=${dir}`]);
    expect(lint.exitCode, lint.stderr).toBe(0);
    expect(lint.stdout).toMatch(/^lint +ok +\S+ +0 findings$/m);

    const typecheck = await call(["typecheck", `--source=${dir}`]);
    expect(typecheck.exitCode, typecheck.stderr).toBe(0);
    expect(typecheck.stdout).toMatch(/^typecheck +ok +\S+ +0 errors in 13 files$/m);

    const t = await call(["test", `--source=${dir}`]);
    expect(t.exitCode, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^test +ok +\S+ +\d+ passed · coverage 100% \(threshold 85%\)$/m);

    const out = await mkdtemp(join(tmpdir(), "e2e-build-"));
    const build = await call(["build", `--source=${dir}`, "--version=1.0.0", "--commit=e2e0001", `-o`, `${out}/app.tar.gz`]);
    expect(build.exitCode, build.stderr).toBe(0);
    const manifest = JSON.parse((await execa("tar", ["-xzOf", `${out}/app.tar.gz`, "app-1.0.0/manifest.json"])).stdout);
    expect(manifest).toMatchObject({ name: "app", version: "1.0.0", commit: "e2e0001", python: { tag: "cp311" } });
    expect(manifest.wheels.some((w: string) => w.startsWith("python_socketio-5.18.1-"))).toBe(true);

    const ci = await call(["ci", `--source=${dir}`]);
    expect(ci.exitCode, ci.stderr).toBe(0);
    expect(ci.stdout.trimEnd().split("\n").at(-1)).toMatch(/^shipit ci \(app\): all \d gates passed$/);
  });
});

const RED: [Variant, RegExp][] = [
  ["lint-error", /\[lint\] ruff reported:\n {2}lib\/bad_lint\.py:1:8 F401 `os` imported but unused/],
  ["type-error", /\[typecheck\] mypy reported:\n {2}lib\/bad_types\.py:2 \[return-value\] Incompatible return value type \(got "str", expected "int"\)/],
  ["failing-test", /tests\/test_fails\.py::test_fails — AssertionError: arithmetic is broken/],
  ["low-coverage", /coverage \d+(\.\d)?% is below the threshold 85% \(from \.coveragerc \[report\] fail_under\)\nleast-covered files:\n +0\.0% {2}lib\/uncovered\.py/],
  ["bad-requirements", /dependencies could not be installed from requirements\.txt[\s\S]*shipit-no-such-package-xyz/],
];

describe("every failing variant: the same verdicts and messages as the host runner", () => {
  test.each(RED)("%s", async (variant, message) => {
    const dir = await makeVariant(variant);
    const [engine, host] = await Promise.all([call(["ci", `--source=${dir}`]), hostCi(dir)]);
    expect(engine.exitCode, engine.stdout + engine.stderr).toBe(1);
    expect(host.exitCode).toBe(1);
    const failure = engine.stderr;
    expect(failure).toMatch(message);
    expect(gateRows(failure)).toEqual(gateRows(host.stdout));
    expect(failure.trimEnd().split("\n").at(-1)).toBe(host.stdout.trimEnd().split("\n").at(-1));
  });

  test.each([
    ["missing-path", `lint.paths[1] = "bots": does not exist in the source. Fix: did you mean "bot"? Otherwise remove the entry`],
    ["test-path-is-file", `test.paths[0] = "test/": ends with '/' (a directory) but "test" is a file`],
  ] as const)("%s is a config error before any container starts", async (variant, message) => {
    const dir = await makeVariant(variant);
    const r = await call(["ci", `--source=${dir}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("invalid shipit config (shipit.json):");
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/withExec/);
  });
});

describe("reports and artifacts", () => {
  test("test-report never fails and exports the reports of a red run", async () => {
    const dir = await makeVariant("failing-test");
    const verdict = await call(["test-report", `--source=${dir}`]);
    expect(verdict.exitCode, verdict.stderr).toBe(0);
    const json = JSON.parse(verdict.stdout.slice(verdict.stdout.indexOf("{")));
    expect(json).toMatchObject({ passed: false, threshold: 85 });
    expect(json.summary).toContain("tests/test_fails.py::test_fails — AssertionError: arithmetic is broken");

    const out1 = await mkdtemp(join(tmpdir(), "e2e-reports-"));
    const out2 = await mkdtemp(join(tmpdir(), "e2e-reports-"));
    expect((await call(["test-report", `--source=${dir}`, "reports", "-o", out1])).exitCode).toBe(0);
    expect((await call(["test-report", `--source=${dir}`, "reports", "-o", out2])).exitCode).toBe(0);
    expect((await readdir(out1)).sort()).toEqual(["coverage.json", "coverage.xml", "junit.xml"]);
    for (const f of ["coverage.json", "coverage.xml", "junit.xml"]) expect(await sha(join(out2, f))).toBe(await sha(join(out1, f)));
    expect(await readFile(join(out1, "junit.xml"), "utf8")).toContain(`name="test_fails"`);
  });

  test("the artifact is byte-identical when rebuilt from a changed tree with the same packed inputs", async () => {
    const dir = await makeVariant("clean");
    const out = await mkdtemp(join(tmpdir(), "e2e-repro-"));
    const first = await call(["build", `--source=${dir}`, "--version=3.0.0", "--commit=feed", "-o", `${out}/a.tar.gz`]);
    expect(first.exitCode, first.stderr).toBe(0);
    // A file outside the include list changes the source, so the engine cannot reuse the first build.
    await writeFile(join(dir, "tests", "test_extra_note.py"), `# a note that is not packed: ${Date.now()}\n`);
    const second = await call(["build", `--source=${dir}`, "--version=3.0.0", "--commit=feed", "-o", `${out}/b.tar.gz`]);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/pack_artifact\.py/);
    expect(await sha(`${out}/b.tar.gz`)).toBe(await sha(`${out}/a.tar.gz`));
  });

  test("a source-only change reuses the dependency layer", async () => {
    const dir = await makeVariant("clean");
    const before = await call(["lint", `--source=${dir}`]);
    expect(before.exitCode, before.stderr).toBe(0);
    // A value no earlier run has seen: otherwise the engine has the whole lint cached and shows no layer at all.
    await writeFile(join(dir, "lib", "extra.py"), `VALUE = ${Date.now()}\n`);
    const after = await call(["lint", `--source=${dir}`]);
    expect(after.exitCode, after.stderr).toBe(0);
    // The engine's progress names each operation by id: the dependency layer's execs must be CACHED.
    const log = after.stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
    const layer = ["python3 -m venv /opt/venv", "pip install --quiet uv==", "uv pip install --python /opt/venv/bin/python"];
    for (const marker of layer) {
      const id = log.map((l) => new RegExp(`^(\\d+)\\s*:.*withExec .*${marker.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`).exec(l)?.[1]).find(Boolean);
      expect(id, `no withExec line for "${marker}" in:\n${after.stderr}`).toBeDefined();
      expect(log.some((l) => new RegExp(`^${id}\\s*:.*CACHED`).test(l)), `"${marker}" (op ${id}) was not CACHED`).toBe(true);
    }
  });
});
