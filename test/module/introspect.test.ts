import { expect, test } from "vitest";
import { scanModule } from "../helpers/introspect.js";

interface Arg { name: string; description: string; type: { kind: string; name?: string }; isOptional: boolean; defaultPath?: string; ignore?: string[] }
interface Method { isCheck: boolean; name: string; description: string; arguments: Record<string, Arg>; returnType: { kind: string; name?: string } }

async function shipitObject() {
  const json = (await scanModule()) as {
    objects: Record<string, { methods: Record<string, Method>; properties?: Record<string, unknown> }>;
  };
  return json;
}

test("the SDK's own introspector loads shipit as a Dagger module with the check functions", async () => {
  const json = await shipitObject();
  const methods = json.objects["Shipit"]!.methods;
  expect(Object.keys(methods).sort()).toEqual(["build", "ci", "lint", "test", "testReport", "typecheck"]);

  for (const name of ["lint", "typecheck", "test", "testReport", "build", "ci"]) {
    const src = methods[name]!.arguments["source"]!;
    expect(src.type).toEqual({ kind: "OBJECT_KIND", name: "Directory" });
    expect(src.defaultPath).toBe("/");
    expect(src.ignore).toEqual(expect.arrayContaining(["**/.git", "**/.venv", "**/node_modules", "**/__pycache__"]));
    expect(methods[name]!.arguments["config"]).toMatchObject({ type: { kind: "OBJECT_KIND", name: "File" }, isOptional: true });
    expect(methods[name]!.description).toMatch(/Example: dagger call /);
  }
  const checks = Object.values(methods).filter((m) => m.isCheck).map((m) => m.name);
  expect(checks).toEqual(["lint", "typecheck", "test"]);
  expect(methods["build"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "File" });
  expect(methods["ci"]!.returnType).toEqual({ kind: "STRING_KIND" });
  expect(methods["testReport"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "TestReport" });
  expect(methods["build"]!.arguments["version"]).toMatchObject({ type: { kind: "STRING_KIND" }, isOptional: true, description: "The artifact version (default: build.version from the config)." });
  expect(methods["ci"]!.description.split("\n")[0]).toBe(
    "Run lint, typecheck and test concurrently, then build; print one table of every gate and fail",
  );
});

test("TestReport exposes the verdict, figures and the reports directory", async () => {
  const json = await shipitObject();
  const report = json.objects["TestReport"] as unknown as { properties: Record<string, { type: { kind: string; name?: string } }> };
  expect(Object.fromEntries(Object.entries(report.properties).map(([k, v]) => [k, v.type.kind === "OBJECT_KIND" ? v.type.name : v.type.kind]))).toEqual({
    passed: "BOOLEAN_KIND",
    coverage: "FLOAT_KIND",
    threshold: "FLOAT_KIND",
    summary: "STRING_KIND",
    reports: "Directory",
  });
});
