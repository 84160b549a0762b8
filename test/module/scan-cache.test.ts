/**
 * npm run call keeps the SDK's scan of the module (dagger/introspect.ts): the JSON round trip gives
 * back what a fresh scan gives, with the SDK's own classes, and the cache key follows src/.
 */
import { expect, test } from "vitest";
import { execa } from "execa";
import { join } from "node:path";
import { REPO } from "../helpers/variants.js";

const probe = `
import { scanModule, scanToJson, scanFromJson, moduleDigest, sdk } from "./dagger/introspect.ts";
const fresh = await scanModule();
const json = scanToJson(fresh);
const rebuilt = await scanFromJson(JSON.parse(JSON.stringify(json)));
const { DaggerObject } = await sdk("module/introspector/dagger_module/object.js");
const { DaggerFunction } = await sdk("module/introspector/dagger_module/function.js");
const ci = rebuilt.objects.Shipit.methods.ci;
console.log(JSON.stringify({
  same: JSON.stringify(scanToJson(rebuilt)) === JSON.stringify(json),
  objectsAreDaggerObjects: Object.values(rebuilt.objects).every((o) => o instanceof DaggerObject),
  ciIsDaggerFunction: ci instanceof DaggerFunction,
  ciArgsOrder: ci.getArgsOrder(),
  testReportProps: Object.keys(rebuilt.objects.TestReport.properties),
  withEnum: await scanFromJson({ ...json, enums: { Color: {} } }),
  digest: await moduleDigest(),
  digestAgain: await moduleDigest(),
}));
`;

test("a scan rebuilt from its JSON is the fresh scan, with the SDK's classes; a module with enums is not rebuilt", async () => {
  const r = await execa(join(REPO, "node_modules/.bin/tsx"), ["--input-type=module", "-e", probe], { cwd: REPO, reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  expect(out).toMatchObject({
    same: true,
    objectsAreDaggerObjects: true,
    ciIsDaggerFunction: true,
    ciArgsOrder: ["source", "config", "version", "commit"],
    testReportProps: ["passed", "coverage", "threshold", "summary", "reports"],
    withEnum: null,
  });
  expect(out.digest).toMatch(/^[0-9a-f]{24}$/);
  expect(out.digestAgain).toBe(out.digest);
}, 120_000);
