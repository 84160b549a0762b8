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
  expect(Object.keys(methods).sort()).toEqual(["build", "ci", "ciReport", "dashboard", "deploy", "deploymentFinish", "deploymentStart", "health", "history", "lint", "metrics", "nextRelease", "prComment", "release", "rollback", "security", "securityReport", "smoke", "status", "test", "testReport", "typecheck"]);

  for (const name of ["lint", "typecheck", "security", "securityReport", "test", "testReport", "build", "ci"]) {
    const src = methods[name]!.arguments["source"]!;
    expect(src.type).toEqual({ kind: "OBJECT_KIND", name: "Directory" });
    expect(src.defaultPath).toBe("/");
    expect(src.ignore).toEqual(expect.arrayContaining(["**/.git", "**/.venv", "**/node_modules", "**/__pycache__"]));
    expect(methods[name]!.arguments["config"]).toMatchObject({ type: { kind: "OBJECT_KIND", name: "File" }, isOptional: true });
    expect(methods[name]!.description).toMatch(/Example: dagger call /);
  }
  const checks = Object.values(methods).filter((m) => m.isCheck).map((m) => m.name);
  expect(checks).toEqual(["lint", "typecheck", "test", "security"]);
  expect(methods["build"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "File" });
  expect(methods["ci"]!.returnType).toEqual({ kind: "STRING_KIND" });
  expect(methods["testReport"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "TestReport" });
  expect(methods["security"]!.returnType).toEqual({ kind: "STRING_KIND" });
  expect(methods["securityReport"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "SecurityReport" });
  expect(methods["securityReport"]!.description).toContain("Example: dagger call security-report reports export --path=./reports");
  expect(methods["build"]!.arguments["version"]).toMatchObject({ type: { kind: "STRING_KIND" }, isOptional: true, description: "The artifact version (default: build.version from the config)." });
  expect(methods["ci"]!.description.split("\n")[0]).toBe(
    "Run lint, typecheck, test, security and the build side by side; print one table of every gate",
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

test("SecurityReport exposes the verdict, the blocking count, the summary and the reports directory", async () => {
  const json = await shipitObject();
  const report = json.objects["SecurityReport"] as unknown as { properties: Record<string, { type: { kind: string; name?: string } }> };
  expect(Object.fromEntries(Object.entries(report.properties).map(([k, v]) => [k, v.type.kind === "OBJECT_KIND" ? v.type.name : v.type.kind]))).toEqual({
    passed: "BOOLEAN_KIND",
    findings: "INTEGER_KIND",
    summary: "STRING_KIND",
    reports: "Directory",
  });
});

test("the deploy functions take secrets as Secret, known_hosts as a File, and document an example", async () => {
  const json = await shipitObject();
  const methods = json.objects["Shipit"]!.methods;
  const kinds = (m: string) => Object.fromEntries(Object.entries(methods[m]!.arguments).map(([k, a]) => [k, a.type.name ?? a.type.kind]));
  expect(kinds("deploy")).toMatchObject({ env: "STRING_KIND", sshKey: "Secret", knownHosts: "File", botPassword: "Secret", smokePassword: "Secret", artifact: "File", source: "Directory", expectSha256: "STRING_KIND" }); // pragma: allowlist secret (type names, not values)
  expect(kinds("smoke")).toMatchObject({ smokePassword: "Secret" }); // pragma: allowlist secret (a type name)
  expect(methods["deploy"]!.arguments["smokePassword"]!.isOptional).toBe(false);
  expect(methods["deploy"]!.description).toContain("--smoke-password=env:CYTUBE_SMOKE_PASSWORD");
  expect(methods["deploy"]!.arguments["artifact"]!.isOptional).toBe(true);
  for (const name of ["deploy", "rollback", "status", "history", "health", "smoke"]) {
    expect(kinds(name)).toMatchObject({ env: "STRING_KIND", sshKey: "Secret", knownHosts: "File" });
    expect(methods[name]!.description).toMatch(/Example: dagger call \S+ --env=/);
    expect(methods[name]!.isCheck).toBe(false);
  }
  expect(kinds("rollback")).toMatchObject({ to: "STRING_KIND" });
});

test("metrics and dashboard read the hosts like the other queries, with an optional env, a window and the repository's .git", async () => {
  const json = await shipitObject();
  const methods = json.objects["Shipit"]!.methods;
  const kinds = (m: string) => Object.fromEntries(Object.entries(methods[m]!.arguments).map(([k, a]) => [k, a.type.name ?? a.type.kind]));
  for (const name of ["metrics", "dashboard"]) {
    expect(kinds(name)).toMatchObject({ sshKey: "Secret", knownHosts: "File", env: "STRING_KIND", days: "INTEGER_KIND", since: "STRING_KIND", until: "STRING_KIND", git: "Directory", source: "Directory", config: "File" });
    expect(methods[name]!.arguments["env"]!.isOptional).toBe(true);
    expect(methods[name]!.arguments["git"]).toMatchObject({ defaultPath: "/", ignore: ["*", "!.git", "!.git/**"], isOptional: true });
    expect(methods[name]!.isCheck).toBe(false);
  }
  expect(kinds("metrics")).toMatchObject({ format: "STRING_KIND" });
  expect(methods["metrics"]!.returnType).toEqual({ kind: "STRING_KIND" });
  expect(methods["metrics"]!.description).toContain("Example: dagger call metrics --ssh-key=env:DEPLOY_SSH_KEY --known-hosts=./known_hosts --days=30 --format=table");
  expect(methods["dashboard"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "Dashboard" });
  expect(methods["dashboard"]!.description).toContain("file export --path=dashboard.html");

  const dashboard = json.objects["Dashboard"] as unknown as { properties: Record<string, { type: { kind: string; name?: string } }>; methods: Record<string, Method> };
  expect(Object.fromEntries(Object.entries(dashboard.properties).map(([k, v]) => [k, v.type.kind === "OBJECT_KIND" ? v.type.name : v.type.kind]))).toEqual({ file: "File", metrics: "STRING_KIND", image: "STRING_KIND" });
  expect(dashboard.methods["asService"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "Service" });
  expect(dashboard.methods["asService"]!.description).toContain("as-service up --ports=8080:8080");
});

test("the GitHub functions take the token as a Secret, read git from the repository's .git, and document an example", async () => {
  const json = await shipitObject();
  const methods = json.objects["Shipit"]!.methods;
  const kinds = (fn: string) => Object.fromEntries(Object.entries(methods[fn]!.arguments).map(([k, a]) => [k, a.type.kind === "OBJECT_KIND" ? a.type.name : a.type.kind]));
  for (const fn of ["release", "deploymentStart", "deploymentFinish", "prComment"]) {
    expect(kinds(fn)).toMatchObject({ repo: "STRING_KIND", token: "Secret", githubApi: "STRING_KIND" }); // pragma: allowlist secret (type names)
    expect(methods[fn]!.arguments["token"]!.isOptional).toBe(false);
    expect(methods[fn]!.description).toContain("--token=env:GITHUB_TOKEN");
  }
  for (const fn of ["nextRelease", "release"]) {
    expect(methods[fn]!.arguments["git"]).toMatchObject({ defaultPath: "/", ignore: ["*", "!.git", "!.git/**"] });
  }
  expect(kinds("release")).toMatchObject({ commit: "STRING_KIND", artifact: "File" });
  expect(kinds("prComment")).toMatchObject({ context: "File", headSha: "STRING_KIND" });
  expect(methods["ciReport"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "Directory" });
  expect(methods["ciReport"]!.description).toContain("export --path=.shipit/ci");
});
