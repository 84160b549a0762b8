/**
 * The running engine is the one this repository describes: its version is dagger.json's
 * engineVersion, and every path distconsts names exists inside its container.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect, test } from "vitest";
import { distconsts } from "../helpers/distconsts.js";
import { REPO } from "../helpers/variants.js";

const ENV = readFileSync("/var/lib/shipit-engine/env.sh", "utf8");
const NAME = /docker-container:\/\/(\S+)/.exec(ENV)![1]!;
const CLI = /_EXPERIMENTAL_DAGGER_CLI_BIN=(\S+)/.exec(ENV)![1]!;
const docker = (args: string[]) => execa("docker", ["exec", NAME, ...args], { reject: false });

test("the engine and the CLI are dagger.json's engineVersion", async () => {
  const { engineVersion } = JSON.parse(readFileSync(join(REPO, "dagger.json"), "utf8")) as { engineVersion: string };
  expect((await docker(["dagger-engine", "--version"])).stdout).toContain(engineVersion);
  expect((await execa(CLI, ["version"])).stdout).toMatch(new RegExp(`^dagger ${engineVersion.replace(/\./g, "\\.")} `));
});

test("every path distconsts names exists in the running engine", async () => {
  const c = await distconsts();
  const checks: [string, string][] = [
    ["-x", c["RuncPath"]!],
    ["-x", c["DaggerInitPath"]!],
    ["-d", c["EngineDefaultStateDir"]!],
    ["-S", c["DefaultEngineSockAddr"]!.slice("unix://".length)],
    ["-d", c["EngineContainerBuiltinContentDir"]!],
    ["-d", c["EngineCustomCACertsDir"]!],
  ];
  for (const [flag, path] of checks) expect((await docker(["test", flag, path])).exitCode, `test ${flag} ${path} in ${NAME}`).toBe(0);
});
