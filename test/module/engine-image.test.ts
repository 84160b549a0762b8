/**
 * dagger/engine/distconsts is shipit's own configuration of its engine image: every path it names
 * must be one that dagger/engine/Dockerfile makes, every name one the image and engine-up.sh use.
 * (test/e2e/engine.e2e.test.ts checks the same paths inside the running engine.)
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, test } from "vitest";
import { distconsts } from "../helpers/distconsts.js";
import { REPO } from "../helpers/variants.js";

const NAMES = [
  "RuncPath", "DaggerInitPath", "EngineDefaultStateDir", "DefaultEngineSockAddr", "EngineContainerBuiltinContentDir", "EngineCustomCACertsDir",
  "EngineContainerName", "OCIVersionAnnotation", "GoSDKManifestDigestEnvName", "PythonSDKManifestDigestEnvName", "TypescriptSDKManifestDigestEnvName",
  "AlpineVersion", "AlpineImage", "GolangImage", "BusyboxImage",
];

test("distconsts defines exactly the 15 names the engine's code uses, all strings", async () => {
  const c = await distconsts();
  expect(Object.keys(c).sort()).toEqual([...NAMES].sort());
  for (const [k, v] of Object.entries(c)) expect(v, k).not.toMatch(/<unknown/);
  expect(c["AlpineImage"]).toBe(`alpine:${c["AlpineVersion"]}`);
  expect(c["GoSDKManifestDigestEnvName"]).toMatch(/^[A-Z_]+$/);
});

test("every distconsts path is one the Dockerfile makes", async () => {
  const c = await distconsts();
  const docker = await readFile(join(REPO, "dagger/engine/Dockerfile"), "utf8");
  const flat = docker.replace(/\\\n/g, " ");
  const mkdirs = [...flat.matchAll(/mkdir -p ([^&\n]+)/g)].flatMap((m) => m[1]!.trim().split(/\s+/));
  const made = (dir: string) => mkdirs.some((d) => d === dir || d.startsWith(`${dir}/`));
  expect(flat).toContain(`ln -s /usr/sbin/runc ${c["RuncPath"]}`);
  expect(flat).toMatch(new RegExp(`COPY [^\\n]*bin/dagger-init[^\\n]* ${c["DaggerInitPath"]!.replace(/dagger-init$/, "")}`));
  expect(made(c["EngineDefaultStateDir"]!), "state dir").toBe(true);
  expect(flat).toContain(`VOLUME ${c["EngineDefaultStateDir"]}`);
  const sock = c["DefaultEngineSockAddr"]!;
  expect(sock).toMatch(/^unix:\/\//);
  expect(made(sock.slice("unix://".length).replace(/\/[^/]+$/, "")), "socket dir").toBe(true);
  expect(made(c["EngineContainerBuiltinContentDir"]!), "builtin content dir").toBe(true);
  expect(made(c["EngineCustomCACertsDir"]!), "CA certificates dir").toBe(true);
  expect(flat).toContain(`LABEL ${c["OCIVersionAnnotation"]}=`);
});

test("engine-up.sh mounts the CA certificates and waits for the socket where distconsts says", async () => {
  const c = await distconsts();
  const up = await readFile(join(REPO, "dagger/engine-up.sh"), "utf8");
  expect(up).toContain(`:${c["EngineCustomCACertsDir"]}"`);
  expect(up).toContain(`test -S ${c["DefaultEngineSockAddr"]!.slice("unix://".length)}`);
  expect(up).toContain(`:${c["EngineDefaultStateDir"]}"`);
  expect(up).toContain('NAME="${ENGINE_NAME:-dagger-engine-$VERSION}"');
  expect(c["EngineContainerName"]).toBe("dagger-engine-v0.19.10");
});
