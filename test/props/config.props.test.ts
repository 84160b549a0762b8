/**
 * Property (issue #20, part 1): 1,000 mutations of a valid shipit.json (wrong types, out-of-range
 * numbers, unknown and misspelled keys at every level, `..` and absolute paths, shell
 * metacharacters, option-looking values, huge strings, deep nesting, duplicate keys, a BOM,
 * invalid UTF-8, cut-off text) are each either accepted or a ConfigError whose every issue has a
 * code, the key's path and a fix: never another exception. An accepted config's values that reach
 * an argv (the checks, the deploy driver, the agent), an ssh command line (host, user, the setup
 * scripts) or a file name are then checked to be inert there.
 *
 * Never a tool run: resolveConfig reads only the in-memory view below, and src/core imports no
 * process API (test/core/purity.test.ts).
 */
import fc from "fast-check";
import { expect, test } from "vitest";
import { resolveConfig, type ResolvedConfig } from "../../src/core/config/config.js";
import { environmentNames, resolveEnvironment, type Environment } from "../../src/core/config/environments.js";
import { ConfigError } from "../../src/core/errors.js";
import { planChecks } from "../../src/core/checks/plan.js";
import { scanSource } from "../../src/core/checks/security/source-scan.js";
import { CONTAINER_LAYOUT, type Step } from "../../src/core/checks/step.js";
import { buildDeployPlan, buildQueryPlan, buildRollbackPlan, deployPaths, type DriverPlan } from "../../src/core/deploy/plan.js";
import { buildSetupPlan } from "../../src/core/setup/plan.js";
import { memoryView, ROSEY } from "../helpers/memory-view.js";
import { props } from "./seed.js";

export const FILES: Record<string, string> = {
  ...ROSEY,
  "bot/rosey/config.json.dist": JSON.stringify({ channel: "", user: ["", ""], llm: { model: "" } }),
  "systemd/rosey.service.in": "[Service]\nUser=@USER@\nExecStart=@PYTHON@ -m bot.rosey\n",
};

/** A valid shipit.json that uses most keys, every environment feature and three environments. */
export const BASE = {
  $schema: "./node_modules/shipit/config/shipit.schema.json",
  name: "rosey",
  python: { image: "python:3.11-slim", installer: "uv" },
  requirements: ["requirements.txt"],
  tools: { ruff: "0.17.6", pytest: "9.2.0" },
  project: { lock: true },
  lint: { paths: ["lib", "bot"], select: ["E", "F401"], format: true, timeoutSec: 600 },
  typecheck: { paths: ["lib", "bot"], flags: ["--strict"], timeoutSec: 600 },
  test: { paths: ["tests"], args: ["-q"], coverageThreshold: 80, timeoutSec: 900 },
  build: { include: ["lib", "common", "bot", "web", "systemd"], version: "1.2.3", timeoutSec: 600 },
  security: {
    severity: "medium",
    confidence: "medium",
    secretKeys: ["*password"],
    configFiles: ["bot/rosey/config.json"],
    mustIgnore: ["*.db"],
    auditService: "osv",
    osvUrl: "https://api.osv.dev/v1/query",
    auditUnreachable: "warn",
    ignoreVulns: ["GHSA-aaaa-bbbb-cccc"],
  },
  release: { firstVersion: "0.1.0" },
  roles: { pullRequests: "test", production: "prod" },
  environments: {
    test: {
      host: "bot.example.org",
      port: 22,
      user: "deploy",
      basePath: "/srv/rosey-test",
      health: { kind: ["contract", "systemd", "log"], stableSec: 5, logPattern: "joined channel \\S+" },
      runtimeConfig: { template: "bot/rosey/config.json.dist", path: "bot/rosey/config.json", values: { channel: "test-rosey", "user[0]": "RoseyTest" }, secrets: { "user[1]": "CYTUBEBOT_TEST_PASSWORD" } },
      notifications: { targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK", events: ["deploy-failed"] }], incident: { enabled: true, labels: ["incident"], assignees: ["octocat"] } }, // pragma: allowlist secret (the name of a secret, not one)
      setup: { adminUser: "admin", unitTemplate: "systemd/rosey.service.in", exec: ["-m", "bot.rosey"], journalGroup: "systemd-journal" },
    },
    prod: { host: "[2001:db8::1]", user: "rosey" },
    staging: {
      host: "10.0.0.5",
      basePath: "/srv/rosey-staging",
      unit: "rosey-staging.service",
      healthUrl: "http://127.0.0.1:8090/api/health",
      runtime: { health_port: 8090, channel: "staging", server: "http://127.0.0.1:8880" },
      smoke: { kind: "presence" },
    },
  },
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Every place in a value: the root, each key of each object, each entry of each list. */
function places(v: Json, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...places(x, [...at, i])));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...places(x, [...at, k]));
  return out;
}
const ALL = places(BASE as Json);
const OBJECTS = ALL.filter((p) => get(BASE as Json, p) !== null && typeof get(BASE as Json, p) === "object" && !Array.isArray(get(BASE as Json, p)));

function get(v: Json, p: Path): Json | undefined {
  let cur: Json | undefined = v;
  for (const s of p) cur = cur && typeof cur === "object" ? (cur as Record<string, Json>)[s as string] : undefined;
  return cur;
}

const HOSTILE = [
  "..", "../../etc/passwd", "lib/../..", "/etc/passwd", "/", "./lib", "lib//x", "~root/x",
  "-oProxyCommand=touch /tmp/pwned", "-lroot", "--help", "-", "-x",
  "$(touch /tmp/pwned)", "`id`", "a;b", "a|b", "a&&b", "a>b", "a b", "a\nb", "a\rb", "a\u0000b", "a\tb",
  "'", "\"", "\\", "%n%s", "${HOME}", "*", "?", "[a]", "{a,b}", "!x", "#x",
  "\u202egnp.exe", "\uFEFF", "\uFFFD", "é", "日本", "\u{1F600}", "",
  "http://x/-oProxyCommand=x", "http://u:p@h/", "javascript:alert(1)", "file:///etc/passwd",
  "bot.example.org", "127.0.0.1", "[::1]", "deploy", "root", "test", "prod", "1.2.3",
] as const;

/**
 * Huge and deep values are generated as markers and expanded when the file is written, so a
 * failure prints `{"$huge":["a",100000]}`, not the 100,000 characters.
 */
const hugeString = fc.record({ $huge: fc.tuple(fc.constantFrom("a", "-", "a.", "/a", "日", "../"), fc.constantFrom(300, 5_000, 100_000)) });
const deep = fc.record({ $deep: fc.integer({ min: 40, max: 20_000 }) });

function expand(v: Json): Json {
  if (Array.isArray(v)) return v.map(expand);
  if (v && typeof v === "object") {
    const huge = (v as { $huge?: [string, number] }).$huge;
    if (huge) return huge[0].repeat(Math.ceil(huge[1] / huge[0].length));
    const depth = (v as { $deep?: number }).$deep;
    if (depth !== undefined) return `@@DEEP:${depth}@@`; // written as nested lists by render (JSON.stringify would overflow on it)
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: expand(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}
const numbers = fc.oneof(fc.constantFrom(-1, 0, 1, 1.5, -0.5, 65535, 65536, 2 ** 31, 2 ** 53 + 2, 1e308, -1e308, 5e-324, 86_401, 101), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());

/** A value of any JSON type, weighted towards the ones a grammar must refuse. */
const value: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 3, arbitrary: numbers },
  { weight: 1, arbitrary: fc.constantFrom<Json>(true, false, null, [], {}, [""], [1], { a: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom<Json>(...HOSTILE), { maxLength: 3 }) },
  { weight: 1, arbitrary: hugeString as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: deep as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
);

/** A near miss of a key: a dropped, doubled or swapped letter, another case, a suffix. */
const misspell = (key: string) =>
  fc.oneof(
    fc.nat(Math.max(0, key.length - 1)).map((i) => key.slice(0, i) + key.slice(i + 1)),
    fc.nat(Math.max(0, key.length - 1)).map((i) => key.slice(0, i) + key[i] + key.slice(i)),
    fc.nat(Math.max(0, key.length - 2)).map((i) => key.slice(0, i) + (key[i + 1] ?? "") + (key[i] ?? "") + key.slice(i + 2)),
    fc.constant(key.toUpperCase()),
    fc.constant(`${key}s`),
    fc.constant(`${key} `),
  );

type Mutation =
  | { op: "set"; at: Path; v: Json }
  | { op: "delete"; at: Path }
  | { op: "rename"; at: Path; to: string }
  | { op: "add"; at: Path; key: string; v: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("set" as const), at: fc.constantFrom(...ALL), v: value }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), at: fc.constantFrom(...ALL.filter((p) => p.length)) }) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(...ALL.filter((p) => typeof p.at(-1) === "string"))
      .chain((at) => misspell(String(at.at(-1))).map((to) => ({ op: "rename" as const, at, to }))),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("add" as const), at: fc.constantFrom(...OBJECTS), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("__proto__", "constructor", "toString", "hostname", "users", "pathes")), v: value }) },
);

function apply(doc: Json, m: Mutation): Json {
  if (m.at.length === 0) return m.op === "set" ? m.v : doc;
  const parent = get(doc, m.at.slice(0, -1));
  const last = m.at.at(-1)!;
  if (parent === null || typeof parent !== "object" || get(doc, m.at) === undefined && m.op !== "add") return doc;
  if (m.op === "add") {
    const target = get(doc, m.at);
    if (target && typeof target === "object" && !Array.isArray(target)) Object.defineProperty(target, m.key, { value: m.v, enumerable: true, writable: true, configurable: true });
    return doc;
  }
  if (Array.isArray(parent)) {
    if (m.op === "set") parent[last as number] = m.v;
    else parent.splice(last as number, 1);
    return doc;
  }
  const obj = parent as Record<string, Json>;
  if (m.op === "set") obj[last as string] = m.v;
  else if (m.op === "delete") delete obj[last as string];
  else {
    const v = obj[last as string]!;
    delete obj[last as string];
    Object.defineProperty(obj, m.to, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return doc;
}

/** How the mutated document becomes the file's text. */
type TextOp = { op: "none" } | { op: "bom" } | { op: "duplicate"; at: number } | { op: "badUtf8"; at: number; bytes: number[] } | { op: "cut"; at: number };
const textOp: fc.Arbitrary<TextOp> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ op: "none" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "bom" as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("badUtf8" as const), at: fc.nat(), bytes: fc.array(fc.constantFrom(0xff, 0xfe, 0xc3, 0xe2, 0x80, 0xed, 0xa0, 0xf8), { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("cut" as const), at: fc.nat() }) },
);

function render(doc: Json, t: TextOp): string {
  const text = (JSON.stringify(doc, null, 2) ?? "null").replace(/"@@DEEP:(\d+)@@"/g, (_, n: string) => "[".repeat(Number(n)) + "]".repeat(Number(n)));
  switch (t.op) {
    case "none":
      return text;
    case "bom":
      return `\uFEFF${text}`;
    case "cut":
      return text.slice(0, t.at % (text.length + 1));
    case "duplicate": {
      // repeat one "key": value line of the pretty text right after itself (a key given twice)
      const lines = text.split("\n");
      const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*"[^"]*": ("[^"]*"|-?[\d.e+-]+|true|false|null),?$/.test(l));
      if (!keyed.length) return text;
      const [line, i] = keyed[t.at % keyed.length]!;
      lines.splice(i, 0, line.endsWith(",") ? line : `${line},`);
      return lines.join("\n");
    }
    case "badUtf8": {
      // the bytes of the file, with bytes that are not UTF-8 put in, read as runners read it (invalid bytes become U+FFFD)
      const bytes = Buffer.from(text, "utf8");
      const at = t.at % (bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(t.bytes), bytes.subarray(at)]).toString("utf8");
    }
  }
}

const CODE = /^[A-Z][A-Z0-9_]+$/;

/** Every issue of a refusal says what, where and the fix; the message stays readable (bounded). */
function checkRefusal(e: unknown): void {
  if (!(e instanceof ConfigError)) throw e;
  expect(e.code).toBe("CONFIG_INVALID");
  expect(e.issues.length).toBeGreaterThan(0);
  for (const i of e.issues) {
    expect(i.code).toMatch(CODE);
    expect(Array.isArray(i.path)).toBe(true);
    expect(typeof i.key === "string" && i.key.length > 0).toBe(true);
    expect(i.problem.length).toBeGreaterThan(0);
    expect(i.fix.length).toBeGreaterThan(0);
  }
  expect(e.message).toContain("Fix: ");
  expect(e.message.length).toBeLessThan(40_000);
}

/** Only these keys hold command-line options on purpose (mypy's flags, pytest's extra arguments, the unit's ExecStart words). */
const OPTION_KEYS = [["typecheck", "flags"], ["test", "args"], ["setup", "exec"]];

function userStrings(v: unknown, at: string[] = [], out: { value: string; at: string[] }[] = []) {
  if (typeof v === "string") out.push({ value: v, at });
  else if (Array.isArray(v)) v.forEach((x) => userStrings(x, at, out));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) userStrings(x, [...at, k], out);
  return out;
}

/** A value that is inert in a POSIX shell word and in ssh's argv: no metacharacter, no space, no leading '-'. */
const SHELL_INERT = /^(?!-)[A-Za-z0-9._/:=@+,%\[\]-]+$/;

function argvOf(step: Step): string[][] {
  return step.commands;
}

function planArgv(p: DriverPlan): string[][] {
  const calls = [...p.phases, ...p.rollback, ...p.onSuccess];
  return [...(p.lock ? [p.lock.args] : []), ...(p.ledger ? [p.ledger.args] : []), ...calls.map((c) => ("args" in c ? c.args : c.local.argv))];
}

/** A failed invariant of an accepted config (plain throws: the checks run thousands of times). */
function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

async function checkAccepted(c: ResolvedConfig, user: unknown): Promise<void> {
  const view = memoryView(FILES);
  const checks = planChecks(c, CONTAINER_LAYOUT, { pack: "#pack", auditPins: "#pins" }, await scanSource(view, c), {});
  const argvs: string[][] = [checks.tools, checks.deps, checks.lint, checks.typecheck, checks.test, checks.build, checks.security.code, ...(checks.security.secrets ? [checks.security.secrets] : []), ...(checks.security.audit ? [checks.security.audit] : [])].flatMap(argvOf);
  // the artifact's file name
  must(/^[A-Za-z0-9][A-Za-z0-9._+!-]*$/.test(`${c.name}-${c.build.version}`), `artifact name ${c.name}-${c.build.version}`);
  const envs: Environment[] = [];
  for (const name of environmentNames(c.environments)) {
    try {
      envs.push(resolveEnvironment(name, c.environments, c.origin));
    } catch (e) {
      checkRefusal(e);
    }
  }
  const paths = deployPaths("/opt/shipit-deploy", "/opt/shipit-smoke/bin/python");
  for (const env of envs) {
    const common = { env, run: "r1", agentHash: "0123456789abcdef", paths };
    const plans = [
      buildDeployPlan({ ...common, version: c.build.version, sha256: "ab".repeat(32), trigger: "push" }),
      buildRollbackPlan({ ...common, trigger: "manual" }),
      ...(["status", "history", "health", "smoke"] as const).map((k) => buildQueryPlan(k, common)),
    ];
    const setup = buildSetupPlan({ env, run: "r1", paths, ...(env.setup.unitTemplate ? { unitTemplate: FILES[env.setup.unitTemplate] ?? "" } : {}) });
    for (const p of [...plans, setup]) {
      // ssh: host and user can never read as options or carry a command
      must(/^(?!-)[A-Za-z0-9.:-]+$/.test(p.ssh.host), `ssh host ${JSON.stringify(p.ssh.host)}`);
      must(/^[A-Za-z_][A-Za-z0-9._-]*$/.test(p.ssh.user), `ssh user ${JSON.stringify(p.ssh.user)}`);
    }
    for (const p of plans) argvs.push(...planArgv(p));
    // file names on the host: under the base path, normalised
    must(/^(\/(?!\.\.?(\/|$))(?!-)[A-Za-z0-9._@+-]+)+$/.test(env.basePath), `basePath ${JSON.stringify(env.basePath)}`);
    for (const rel of [env.runtime.db_path, env.runtimeConfig?.path, env.runtimeConfig?.template]) {
      if (rel !== undefined) must(!rel.startsWith("/") && !rel.split("/").includes(".."), `release path ${JSON.stringify(rel)}`);
    }
    // every value the setup scripts put into a shell line is inert there even before quoting
    for (const v of [env.host, env.user, env.basePath, env.unit, env.python, env.setup.adminUser, env.setup.journalGroup]) {
      if (v) must(SHELL_INERT.test(v), `a setup script value ${JSON.stringify(v)} is not shell-inert`);
    }
    for (const v of env.setup.exec) must(/^[A-Za-z0-9._/:=@+,-]+$/.test(v), `ExecStart word ${JSON.stringify(v)}`);
  }
  // argv: nothing a process cannot take (NUL), and no config value outside the option keys as an option
  const values = new Set(userStrings(user).filter((s) => !OPTION_KEYS.some((k) => k.every((seg, i) => s.at[s.at.length - k.length + i] === seg))).map((s) => s.value));
  for (const argv of argvs) {
    for (const a of argv) {
      must(!a.includes("\u0000"), `NUL in argv element ${JSON.stringify(a.slice(0, 80))}`);
      must(!(a.startsWith("-") && values.has(a)), `the config value ${JSON.stringify(a)} reaches an argv as an option: ${JSON.stringify(argv.slice(0, 12))}`);
    }
  }
}

test("the base config is accepted whole (so every mutation starts from a valid file)", async () => {
  const c = await resolveConfig(JSON.stringify(BASE), "shipit.json", memoryView(FILES));
  expect(environmentNames(c.environments)).toEqual(["test", "prod", "staging"]);
  await checkAccepted(c, BASE);
});

test("1,000 mutated shipit.json files: accepted and inert, or a coded config error with the key's path and a fix", async () => {
  let accepted = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), textOp, async (ms, t) => {
      const doc = expand(structuredClone(ms).reduce<Json>((d, m) => apply(d, m), structuredClone(BASE) as Json));
      const text = render(doc, t);
      let c: ResolvedConfig;
      try {
        c = await resolveConfig(text, "shipit.json", memoryView(FILES));
      } catch (e) {
        checkRefusal(e);
        refused++;
        return;
      }
      accepted++;
      await checkAccepted(c, doc);
    }),
    props(1000),
  );
  console.log(`config property: ${accepted + refused} cases, ${accepted} accepted, ${refused} refused with a coded config error`);
});

/** Every place in the base config that holds a string or a number, or a list of them. */
const LEAVES = ALL.filter((p) => p.length > 0 && (typeof get(BASE as Json, p) !== "object" || Array.isArray(get(BASE as Json, p))));

test("every hostile string at every string leaf (the whole cross product): refused with a code, or inert wherever it reaches", async () => {
  const strings = LEAVES.filter((p) => typeof get(BASE as Json, p) === "string" || Array.isArray(get(BASE as Json, p)));
  const failures: string[] = [];
  let cases = 0;
  for (const at of strings) {
    for (const h of HOSTILE) {
      const list = Array.isArray(get(BASE as Json, at));
      const doc = apply(structuredClone(BASE) as Json, { op: "set", at, v: list ? [h] : h });
      cases++;
      try {
        let c: ResolvedConfig;
        try {
          c = await resolveConfig(JSON.stringify(doc), "shipit.json", memoryView(FILES));
        } catch (e) {
          checkRefusal(e);
          continue;
        }
        await checkAccepted(c, doc);
      } catch (e) {
        failures.push(`${JSON.stringify(at)} = ${JSON.stringify(list ? [h] : h)}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
  }
  console.log(`config cross product: ${cases} cases (${strings.length} string leaves x ${HOSTILE.length} hostile strings)`);
  expect(failures).toEqual([]);
});
