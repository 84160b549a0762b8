import { expect, test } from "vitest";
import { resolveConfig } from "../../src/core/config.js";
import { imageTag, planChecks } from "../../src/core/plan.js";
import { CONTAINER_LAYOUT } from "../../src/core/step.js";
import { memoryView, ROSEY } from "../helpers/memory-view.js";

const config = (json: object | null = null) => resolveConfig(json && JSON.stringify(json), "shipit.json", memoryView(ROSEY));

test("the dependency layer sees only requirement files and uses uv with versioned cache volumes", async () => {
  const plan = planChecks(await config(), CONTAINER_LAYOUT, "#pack", {});
  expect(plan.deps.cwd).toBe("/deps");
  expect(plan.deps.commands).toEqual([
    ["python3", "-m", "venv", "/opt/venv"],
    ["/opt/venv/bin/python", "-m", "pip", "install", "--quiet", "uv==0.13.9"],
    ["/opt/venv/bin/uv", "pip", "install", "--python", "/opt/venv/bin/python", "-r", "/deps/requirements.txt", "ruff==0.17.6", "mypy==2.4.1", "pytest==9.2.0", "pytest-cov==7.1.0"],
  ]);
  expect(plan.deps.caches).toEqual({ "/root/.cache/pip": "shipit-pip-python3.11-slim", "/root/.cache/uv": "shipit-uv-0.13.9-python3.11-slim" });
});

test("pip installer: one pip install, no uv cache", async () => {
  const plan = planChecks(await config({ python: { installer: "pip" } }), CONTAINER_LAYOUT, "#pack");
  expect(plan.deps.commands.at(-1)).toEqual(["/opt/venv/bin/python", "-m", "pip", "install", "--quiet", "-r", "/deps/requirements.txt", "ruff==0.17.6", "mypy==2.4.1", "pytest==9.2.0", "pytest-cov==7.1.0"]);
  expect(Object.values(plan.deps.caches)).toEqual(["shipit-pip-python3.11-slim"]);
});

test("lint, typecheck and test argv honour the config", async () => {
  const plan = planChecks(await config({ lint: { select: ["E", "F401"], format: true }, typecheck: { flags: ["--strict"] }, test: { paths: ["tests"], args: ["-x"] } }), CONTAINER_LAYOUT, "#pack");
  expect(plan.lint.commands.slice(1)).toEqual([
    ["/opt/venv/bin/ruff", "check", "--no-cache", "--exit-zero", "--output-format=json", "--output-file=/out/lint/ruff.json", "--select", "E,F401", "."],
    ["/opt/venv/bin/ruff", "format", "--no-cache", "--check", "."],
  ]);
  expect(plan.typecheck.commands).toEqual([
    ["/opt/venv/bin/mypy", "--no-color-output", "--show-error-codes", "--cache-dir", "/out/.mypy_cache", "--strict", "lib", "common", "bot", "web"],
  ]);
  expect(plan.test.commands[1]).toEqual([
    "/opt/venv/bin/python", "-m", "pytest", "-p", "no:cacheprovider",
    "--junitxml=/out/test/junit.xml", "--cov", "--cov-report=xml:/out/test/coverage.xml", "--cov-report=json:/out/test/coverage.json",
    "--cov-report=term", "--cov-fail-under=0", "-x", "tests",
  ]);
  expect(plan.test.okExitCodes).toEqual([0, 1, 5]);
});

test("build wheels every requirement and packs the configured include list", async () => {
  const plan = planChecks(await config({ name: "rosey" }), CONTAINER_LAYOUT, "#pack", { version: "1.2.3", commit: "abc123" });
  expect(plan.build.commands.slice(1)).toEqual([
    ["/opt/venv/bin/python", "-m", "pip", "wheel", "--quiet", "--wheel-dir", "/out/wheels", "-r", "requirements.txt"],
    [
      "/opt/venv/bin/python", "/opt/shipit/pack_artifact.py", "--src", "/src", "--out", "/out/build/rosey-1.2.3.tar.gz",
      "--wheels", "/out/wheels", "--name", "rosey", "--version", "1.2.3", "--commit", "abc123",
      "--include", "lib", "--include", "common", "--include", "bot", "--include", "web", "--requirements", "requirements.txt",
    ],
  ]);
  expect(plan.build.files).toEqual({ "/opt/shipit/pack_artifact.py": "#pack" });
});

test("no secret or shell string ever appears in a step: every command is an argv array", async () => {
  const plan = planChecks(await config(), CONTAINER_LAYOUT, "#pack");
  for (const s of Object.values(plan)) {
    for (const cmd of s.commands) expect(cmd[0]).not.toMatch(/^(sh|bash)$/);
    expect(s.secretEnv).toEqual({});
  }
});

test.each([
  ["python:3.11-slim", "python3.11-slim"],
  ["172.17.0.1:5000/library/python:3.12", "python3.12"],
])("imageTag(%s) = %s", (image, tag) => expect(imageTag(image)).toBe(tag));
