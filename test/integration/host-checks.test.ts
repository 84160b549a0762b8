import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { runCheck, runCi } from "../../src/core/checks/pipeline.js";
import { ConfigError } from "../../src/core/errors.js";
import { hostSetup } from "../helpers/host.js";
import { startOsv } from "../helpers/osv.js";
import { makeVariant, REPO } from "../helpers/variants.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("the real ruff, mypy and pytest through the host runner", () => {
  test("clean sample bot: every gate green, one summary table", async () => {
    // The dependency audit asks a local OSV stand-in with no advisories, so the verdict does not depend on the network.
    const osv = await startOsv();
    const dir = await makeVariant("clean", { "shipit.json": JSON.stringify({ security: { auditService: "osv", osvUrl: osv.url } }) });
    const s = await hostSetup(dir, { version: "1.0.0", commit: "abc1234" });
    const report = await runCi(s.plan, s.runner, s.config).finally(() => osv.close());
    expect(report.gates.map((g) => [g.name, g.status]), report.summary).toEqual([
      ["dependencies", "passed"],
      ["lint", "passed"],
      ["typecheck", "passed"],
      ["test", "passed"],
      ["security", "passed"],
      ["build", "passed"],
    ]);
    expect(report.ok).toBe(true);
    expect(report.test?.junit?.tests).toBeGreaterThanOrEqual(30);
    expect(report.test?.coverage?.percent).toBeGreaterThanOrEqual(85);
    expect(report.summary).toMatch(/typecheck +ok .* 0 errors in \d+ files/);
    expect(report.summary).toMatch(/^security +ok +\S+ +0 findings · 2 below threshold · dependency audit: 13 packages, 0 vulnerable$/m);
    expect(report.summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (app): all 6 gates passed");
  });

  test("lint error: red lint gate naming file, line and rule", async () => {
    const s = await hostSetup(await makeVariant("lint-error"));
    const g = await runCheck("lint", s.plan, s.runner, s.config);
    expect(g.status).toBe("failed");
    expect(g.figure).toBe("1 finding");
    expect(g.detail).toBe("ruff reported:\n  lib/bad_lint.py:1:8 F401 `os` imported but unused");
  });

  test("type error: red typecheck gate with mypy's error and code", async () => {
    const s = await hostSetup(await makeVariant("type-error"));
    const g = await runCheck("typecheck", s.plan, s.runner, s.config);
    expect(g.status).toBe("failed");
    expect(g.detail).toBe(`mypy reported:\n  lib/bad_types.py:2 [return-value] Incompatible return value type (got "str", expected "int")`);
  });

  test("failing test: red test gate naming the test and its assertion", async () => {
    const s = await hostSetup(await makeVariant("failing-test"));
    const v = await runCheck("test", s.plan, s.runner, s.config);
    expect(v.status).toBe("failed");
    expect(v.junit?.failed).toEqual([{ id: "tests/test_fails.py::test_fails", message: "AssertionError: arithmetic is broken" }]);
    expect(v.detail).toContain("1 test failed:\n  tests/test_fails.py::test_fails — AssertionError: arithmetic is broken");
    expect(v.detail).toContain("least-covered files:");
  });

  test("coverage under the threshold: red gate with percent, threshold and least-covered files", async () => {
    const s = await hostSetup(await makeVariant("low-coverage"));
    const v = await runCheck("test", s.plan, s.runner, s.config);
    expect(v.status).toBe("failed");
    expect(v.junit?.failures).toBe(0);
    expect(v.coverage!.percent).toBe(74.4);
    expect(v.detail).toContain(`coverage 74.4% is below the threshold 85% (from .coveragerc [report] fail_under)`);
    expect(v.detail).toMatch(/least-covered files:\n +0\.0% {2}lib\/uncovered\.py \(240 of 240 lines missed\)/);
  });

  test("a configured path that is missing is a config error before anything runs", async () => {
    const dir = await makeVariant("missing-path");
    const err = await hostSetup(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(
      `invalid shipit config (shipit.json):\n  - lint.paths[1] = "bots": does not exist in the source. Fix: did you mean "bot"? Otherwise remove the entry`,
    );
  });

  test("`pytest test/` where test is a file is a config error", async () => {
    const err = await hostSetup(await makeVariant("test-path-is-file")).catch((e: unknown) => e);
    expect((err as ConfigError).code).toBe("CONFIG_INVALID");
    expect((err as ConfigError).message).toContain(`test.paths[0] = "test/": ends with '/' (a directory) but "test" is a file`);
  });

  test("requirements that cannot resolve: the dependencies gate is red and names the package; nothing else runs", async () => {
    const s = await hostSetup(await makeVariant("bad-requirements"));
    const report = await runCi(s.plan, s.runner, s.config);
    expect(report.ok).toBe(false);
    expect(report.gates.map((g) => [g.name, g.status])).toEqual([
      ["dependencies", "failed"],
      ["lint", "skipped"],
      ["typecheck", "skipped"],
      ["test", "skipped"],
      ["security", "skipped"],
      ["build", "skipped"],
    ]);
    expect(report.summary).toContain("dependencies could not be installed from requirements.txt");
    expect(report.summary).toContain("shipit-no-such-package-xyz");
    expect(report.summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (app): FAILED gates: dependencies");
  });

  test("ci never stops at the first failure: lint, typecheck and test all red, security and build still run", async () => {
    const dir = await makeVariant("lint-error", {
      "lib/bad_types.py": `def f() -> int:\n    return "not an int"\n`,
      "tests/test_fails.py": `def test_fails() -> None:\n    assert 1 + 1 == 3, "arithmetic is broken"\n`,
    });
    const s = await hostSetup(dir);
    const report = await runCi(s.plan, s.runner, s.config);
    expect(report.gates.map((g) => [g.name, g.status])).toEqual([
      ["dependencies", "passed"],
      ["lint", "failed"],
      ["typecheck", "failed"],
      ["test", "failed"],
      ["security", "passed"],
      ["build", "passed"],
    ]);
    expect(report.summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (app): FAILED gates: lint, typecheck, test");
    for (const detail of ["[lint] ruff reported:", "[typecheck] mypy reported:", "[test] 1 test failed:"]) expect(report.summary).toContain(detail);
  });
});

test("ci with a committed private key: the security gate is red in the same table, the other gates green", async () => {
  const osv = await startOsv();
  const dir = await makeVariant("private-key", { "shipit.json": JSON.stringify({ security: { auditService: "osv", osvUrl: osv.url } }) });
  const s = await hostSetup(dir);
  const report = await runCi(s.plan, s.runner, s.config).finally(() => osv.close());
  expect(report.gates.map((g) => [g.name, g.status])).toEqual([
    ["dependencies", "passed"],
    ["lint", "passed"],
    ["typecheck", "passed"],
    ["test", "passed"],
    ["security", "failed"],
    ["build", "passed"],
  ]);
  expect(report.summary).toMatch(/^security +FAILED +\S+ +1 finding \(1 secret\) · 2 below threshold · dependency audit: 13 packages, 0 vulnerable$/m);
  expect(report.summary).toContain("[security] 1 blocking finding:\n  deploy/rosey_deploy_key:1 private-key Private Key committed.");
  expect(report.summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (app): FAILED gates: security");
  expect(report.security?.findings.filter((f) => f.blocking).map((f) => f.file)).toEqual(["deploy/rosey_deploy_key"]);
});

describe("the release artifact", () => {
  test("holds the app files, requirements, a wheel per dependency and a manifest with every sha256; same inputs, same bytes", async () => {
    const dir = await makeVariant("clean");
    const first = await hostSetup(dir, { version: "2.3.4", commit: "deadbeef" });
    const b1 = await runCheck("build", first.plan, first.runner, first.config);
    expect(b1.status).toBe("passed");
    const path1 = join(first.runner.layout.out, "build", "app-2.3.4.tar.gz");
    const second = await hostSetup(dir, { version: "2.3.4", commit: "deadbeef" });
    await runCheck("build", second.plan, second.runner, second.config);
    const bytes1 = await readFile(path1);
    const bytes2 = await readFile(join(second.runner.layout.out, "build", "app-2.3.4.tar.gz"));
    expect(sha(bytes2)).toBe(sha(bytes1));
    expect(b1.info?.sha256).toBe(sha(bytes1));

    const listing = (await execa("tar", ["-tvzf", path1])).stdout.split("\n");
    expect(listing.every((l) => l.includes("0/0") && l.includes("1980-01-01"))).toBe(true);
    const names = listing.map((l) => l.split(/\s+/).at(-1)!);
    expect(names[0]).toBe("app-2.3.4/manifest.json");
    for (const f of ["app-2.3.4/requirements.txt", "app-2.3.4/bot/rosey/bot.py", "app-2.3.4/web/status_server.py", "app-2.3.4/lib/commands.py", "app-2.3.4/common/config.py"]) {
      expect(names).toContain(f);
    }
    expect(names.some((n) => n.includes("tests/"))).toBe(false);
    expect(names.some((n) => /wheels\/python_socketio-5\.18\.1-.*\.whl$/.test(n))).toBe(true);

    const manifest = JSON.parse((await execa("tar", ["-xzOf", path1, "app-2.3.4/manifest.json"])).stdout);
    expect(manifest).toMatchObject({ name: "app", version: "2.3.4", commit: "deadbeef", python: { tag: "cp311" } });
    expect(manifest.python.version).toMatch(/^3\.11\./);
    const botPy = (await execa("tar", ["-xzOf", path1, "app-2.3.4/bot/rosey/bot.py"], { stripFinalNewline: false })).stdout;
    expect(manifest.files["bot/rosey/bot.py"]).toBe(sha(Buffer.from(botPy)));
    expect(Object.keys(manifest.files).length).toBe(names.length - 1);
  });
});

test("the host CLI prints the summary and exits non-zero naming the red gate", async () => {
  const dir = await makeVariant("failing-test");
  const r = await execa("npx", ["shipit", "ci", `--source=${dir}`], { cwd: REPO, reject: false });
  expect(r.exitCode).toBe(1);
  expect(r.stdout).toContain("shipit ci (app): FAILED gates: test");
  expect(r.stdout).toContain("tests/test_fails.py::test_fails — AssertionError: arithmetic is broken");
});
