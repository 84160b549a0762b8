import { expect, test } from "vitest";
import { scanModule } from "../helpers/introspect.js";

interface Arg { name: string; description: string; type: { kind: string; name?: string }; isOptional: boolean; defaultPath?: string; defaultValue?: unknown; ignore?: string[] }
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
  expect(Object.keys(methods).sort()).toEqual(["build", "ci", "ciReport", "dashboard", "deploy", "deploymentFinish", "deploymentStart", "health", "history", "init", "lint", "metrics", "nextRelease", "notify", "prComment", "release", "rollback", "security", "securityReport", "setup", "smoke", "status", "test", "testReport", "typecheck"]);

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
  expect(methods["build"]!.arguments["version"]).toMatchObject({ type: { kind: "STRING_KIND" }, isOptional: true });
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
  // optional: an environment with smoke.kind "none" has no chat smoke (the core asks for it otherwise)
  expect(methods["deploy"]!.arguments["smokePassword"]!.isOptional).toBe(true);
  expect(methods["deploy"]!.description).toContain("--smoke-password=env:CYTUBE_SMOKE_PASSWORD");
  expect(methods["deploy"]!.arguments["artifact"]!.isOptional).toBe(true);
  for (const name of ["deploy", "rollback", "status", "history", "health", "smoke"]) {
    expect(kinds(name)).toMatchObject({ env: "STRING_KIND", sshKey: "Secret", knownHosts: "File" });
    expect(methods[name]!.description).toMatch(/Example: dagger call \S+ --env=/);
    expect(methods[name]!.isCheck).toBe(false);
  }
  expect(kinds("rollback")).toMatchObject({ to: "STRING_KIND" });
});

test("setup takes the admin key as a Secret and known_hosts as a File; init returns a Directory", async () => {
  const json = await shipitObject();
  const methods = json.objects["Shipit"]!.methods;
  const kinds = (m: string) => Object.fromEntries(Object.entries(methods[m]!.arguments).map(([k, a]) => [k, a.type.name ?? a.type.kind]));
  expect(kinds("setup")).toEqual({ env: "STRING_KIND", adminKey: "Secret", knownHosts: "File", deployKey: "File", source: "Directory", config: "File" }); // pragma: allowlist secret (a type name)
  expect(methods["setup"]!.description).toContain("Example: dagger call setup --env=test --admin-key=env:SHIPIT_ADMIN_SSH_KEY --known-hosts=./known_hosts");
  expect(methods["init"]!.returnType).toEqual({ kind: "OBJECT_KIND", name: "Directory" });
  expect(kinds("init")).toEqual({ source: "Directory", shipitModule: "STRING_KIND", force: "BOOLEAN_KIND" });
  expect(methods["init"]!.arguments["source"]!.defaultPath).toBe("/");
});

test("notify takes the webhook URLs and the token as Secrets, the names in a list beside them", async () => {
  const json = await shipitObject();
  const m = json.objects["Shipit"]!.methods["notify"]!;
  const type = (a: Arg & { type: { typeDef?: { kind: string; name?: string } } }) => (a.type.kind === "LIST_KIND" ? `[${a.type.typeDef!.name ?? a.type.typeDef!.kind}]` : (a.type.name ?? a.type.kind));
  expect(Object.fromEntries(Object.entries(m.arguments).map(([k, a]) => [k, type(a as never)]))).toMatchObject({
    env: "STRING_KIND",
    event: "STRING_KIND",
    webhooks: "[Secret]",
    webhookNames: "[STRING_KIND]",
    failed: "BOOLEAN_KIND",
    pr: "INTEGER_KIND",
    durationSec: "FLOAT_KIND",
    token: "Secret", // pragma: allowlist secret (a type name)
    source: "Directory",
  });
  expect(Object.entries(m.arguments).filter(([, a]) => !a.isOptional).map(([k]) => k)).toEqual(["env", "event", "githubApi"]);
  expect(m.description).toContain("Example: dagger call notify --env=prod --event=deploy-succeeded");
  expect(m.returnType).toEqual({ kind: "STRING_KIND" });
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

// What the module does with its JSDoc, not its wording: every function, argument, object and field
// is described, and every function's example is a call the module accepts, secrets passed as env:.
type Obj = { description?: string; methods?: Record<string, Method>; properties?: Record<string, { name: string; description?: string; type: { kind: string; name?: string } }> };

test("every function, argument, object and field reaches the module with a description", async () => {
  const objects = (await shipitObject()).objects as Record<string, Obj>;
  const missing: string[] = [];
  for (const [o, obj] of Object.entries(objects)) {
    if (o !== "Shipit" && !obj.description?.trim()) missing.push(o);
    for (const [f, p] of Object.entries(obj.properties ?? {})) if (!p.description?.trim()) missing.push(`${o}.${f}`);
    for (const [m, method] of Object.entries(obj.methods ?? {})) {
      if (!method.description.trim()) missing.push(`${o}.${m}`);
      for (const a of Object.keys(method.arguments)) if (!method.arguments[a]!.description?.trim()) missing.push(`${o}.${m}(${a})`);
    }
  }
  expect(missing).toEqual([]);
});

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** The few core calls the examples chain onto (dagger's File, Directory and Service), with their flags. */
const CORE: Record<string, Record<string, string[]>> = { File: { export: ["path"] }, Directory: { export: ["path"] }, Service: { up: ["ports"] } };

/** What is wrong with a `dagger call …` line for the module: unknown functions and flags, missing required arguments, literal secrets. */
function exampleProblems(objects: Record<string, Obj>, line: string): string[] {
  const problems: string[] = [];
  // Words, keeping `$(git rev-parse HEAD)` and quoted values whole.
  const words = line.replace(/^.*?dagger call /, "").match(/(?:[^\s"$]+|"[^"]*"|\$\([^)]*\)|\$)+/g) ?? [];
  let type = "Shipit";
  let i = 0;
  while (i < words.length) {
    const fn = words[i++]!;
    const core = CORE[type];
    // A field is called like a function without arguments.
    const fields = Object.values(objects[type]?.properties ?? {}).map((p): Method => ({ name: p.name, description: "", isCheck: false, arguments: {}, returnType: p.type }));
    const method = core ? undefined : [...Object.values(objects[type]?.methods ?? {}), ...fields].find((m) => kebab(m.name) === fn);
    if (!method && !core?.[fn]) {
      problems.push(`${type} has no function ${fn}`);
      break;
    }
    const given = new Set<string>();
    for (; i < words.length && words[i]!.startsWith("-"); i++) {
      if (!words[i]!.startsWith("--")) {
        i++; // a dagger option with its value (-o PATH)
        continue;
      }
      const [flag, value = ""] = words[i]!.slice(2).split(/=(.*)/s);
      given.add(flag!);
      const arg = method && Object.values(method.arguments).find((a) => kebab(a.name) === flag);
      if (method ? !arg : !core![fn]!.includes(flag!)) problems.push(`${fn} has no flag --${flag}`);
      if (arg?.type.name === "Secret" && !/^env:[A-Z][A-Z0-9_]*$/.test(value)) problems.push(`${fn} --${flag} is a secret: pass it as env:NAME, not ${value}`);
    }
    if (!method) break;
    for (const a of Object.values(method.arguments)) if (!a.isOptional && a.defaultPath === undefined && a.defaultValue === undefined && !given.has(kebab(a.name))) problems.push(`${fn} needs --${kebab(a.name)}`);
    type = method.returnType.name ?? "";
    if (i < words.length && !objects[type] && !CORE[type]) {
      problems.push(`${fn} returns ${method.returnType.name ?? method.returnType.kind}, which has no function ${words[i]}`);
      break;
    }
  }
  return problems;
}

test("every function documents an example, and each example is a call the module accepts", async () => {
  const objects = (await shipitObject()).objects as Record<string, Obj>;
  const problems: Record<string, string[]> = {};
  for (const [o, obj] of Object.entries(objects)) {
    for (const [m, method] of Object.entries(obj.methods ?? {})) {
      const examples = method.description.split("\n").filter((l) => l.trim().startsWith("Example: dagger call "));
      const found = examples.length ? examples.flatMap((l) => exampleProblems(objects, l)) : ["no `Example: dagger call …` line"];
      // The example calls the function it documents (a field's function through its object).
      if (examples.length && !examples.some((l) => l.split(/\s+/).includes(kebab(m)))) found.push(`the example does not call ${kebab(m)}`);
      if (found.length) problems[`${o}.${m}`] = found;
    }
  }
  expect(problems).toEqual({});
});

test("the example checker finds what is wrong with a call", async () => {
  const objects = (await shipitObject()).objects as Record<string, Obj>;
  expect(exampleProblems(objects, "Example: dagger call deploy --env=test --ssh-key=./id_ed25519 --known-hosts=./known_hosts --bot-pasword=env:X")).toEqual([
    "deploy --ssh-key is a secret: pass it as env:NAME, not ./id_ed25519",
    "deploy has no flag --bot-pasword",
    "deploy needs --bot-password",
  ]);
  expect(exampleProblems(objects, "Example: dagger call lint export --path=x")).toEqual(["lint returns STRING_KIND, which has no function export"]);
  expect(exampleProblems(objects, "Example: dagger call dashboard --ssh-key=env:K --known-hosts=k file export --pth=d.html")).toEqual(["export has no flag --pth"]);
  expect(exampleProblems(objects, "Example: dagger call deploy-now --env=test")).toEqual(["Shipit has no function deploy-now"]);
});
