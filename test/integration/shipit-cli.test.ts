/**
 * `shipit`, tried as a new user would: help for every command (descriptions from the Dagger
 * functions' JSDoc, as the SDK's own scan reads them), one clean line and the documented exit code
 * for each user error, progress on a pipe, --json in ci.json's shape, a dry run that leaves the
 * tree byte-identical and tells the truth, a reproduce line that replays, and temp folders that go.
 */
import { createHash } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { CiJsonSchema } from "../../src/core/checks/ci-report.js";
import { COMMANDS, describe as describeCommand } from "../../src/cli/shipit.js";
import { firstParagraph, firstSentence } from "../../src/cli/descriptions.js";
import { scanModule } from "../helpers/introspect.js";
import { REPO, SAMPLE_BOT } from "../helpers/variants.js";
import schemaJson from "../../config/shipit.schema.json" with { type: "json" };

const BIN = join(REPO, "dagger/bin/shipit.mjs");
const shipit = (args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) =>
  execa("node", [BIN, ...args], { cwd: opts.cwd ?? REPO, env: opts.env, reject: false });

describe("help", () => {
  test("shipit --help lists every command, the exit codes, and exits 0", async () => {
    const r = await shipit(["--help"]);
    expect(r.exitCode).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c.name}\\b`, "m"));
    expect(r.stdout).toContain("2  a usage or config error (nothing ran)");
    expect(r.stdout).toContain("3  the infrastructure failed");
  });

  test.each(COMMANDS.map((c) => [c.name, c] as const))("shipit %s --help shows its description and every flag with its default", async (name, spec) => {
    const r = await shipit([name, "--help"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.replace(/\s+/g, " ")).toContain(describeCommand(spec));
    const flags = spec.only ?? Object.keys(spec.flags);
    for (const f of flags) {
      expect(r.stdout, `--${f}`).toContain(`--${f}`);
      const d = spec.flags[f]!.default;
      if (typeof d === "string") expect(r.stdout.replace(/\s+/g, " ")).toContain(`(default: "${d}")`);
    }
  });

  test("each description is the first sentence of the Dagger function's own description (what dagger call --help shows)", async () => {
    const scanned = (await scanModule()) as { objects: Record<string, { methods: Record<string, { description: string }> }> };
    const methods = scanned.objects["Shipit"]!.methods;
    for (const c of COMMANDS.filter((c) => c.fn)) {
      const fromScan = firstSentence(firstParagraph(methods[c.fn!]!.description));
      expect(describeCommand(c), c.name).toBe(fromScan);
    }
  });
});

describe("a user error is one line with the fix, and exit code 2", () => {
  let existing: string;
  beforeAll(async () => {
    existing = join(await mkdtemp(join(tmpdir(), "shipit-o-")), "taken.tar.gz");
    await writeFile(existing, "not mine to overwrite");
  });

  test.each([
    [["nonsense"], "error: unknown command 'nonsense' Fix: shipit --help lists the commands"],
    [["lnt"], "error: unknown command 'lnt' (Did you mean lint?) Fix: shipit --help lists the commands"],
    [["ci", "--sourc=x"], "error: unknown option '--sourc=x' (Did you mean --source?) Fix: see shipit ci --help"],
    [["lint", "extra"], "error: too many arguments for 'lint'. Expected 0 arguments but got 1. Fix: see shipit lint --help"],
    [["ci", "--source=/no/such/dir"], "shipit: --source /no/such/dir: no such folder. Fix: pass the repository's root folder (default: the current directory)"],
    [["lint", `--source=${join(SAMPLE_BOT, "requirements.txt")}`], `shipit: --source ${join(SAMPLE_BOT, "requirements.txt")}: is a file, not a folder. Fix: pass the repository's root folder (default: the current directory)`],
    [["deploy"], "shipit: --env is required. Fix: pass --env=test, --env=prod, or another environment from shipit.json"],
    [["metrics", "--days=-3", "--ledger=/dev/null"], `shipit: --days must be a positive number of days, got "-3"`],
  ])("shipit %j", async (args, line) => {
    const r = await shipit(args);
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(line);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  test("-o on an existing file is refused before anything runs", async () => {
    const r = await shipit(["build", `--source=${SAMPLE_BOT}`, "-o", existing]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe(`shipit: -o ${existing}: the file exists. Fix: remove it, or pass a folder (-o dist/) or a new file name`);
    expect(await readFile(existing, "utf8")).toBe("not mine to overwrite");
  });

  test("a config error names the key (exit 2)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shipit-cfg-"));
    await cp(SAMPLE_BOT, dir, { recursive: true });
    await writeFile(join(dir, "shipit.json"), JSON.stringify({ lint: { pathz: ["lib"] } }));
    const r = await shipit(["lint", `--source=${dir}`]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('lint.pathz = ["lib"]: is not a known key. Fix: did you mean "paths"?');
  });

  test("a deploy key's typo is red in ci (exit 2) before any gate runs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shipit-env-"));
    await cp(SAMPLE_BOT, dir, { recursive: true });
    await writeFile(join(dir, "shipit.json"), JSON.stringify({ environments: { test: { hots: "bot-test.example.org" }, staging: { smoke: { timeoutSec: "15" } } } }));
    const before = (await readdir(dir)).sort();
    const r = await shipit(["ci", `--source=${dir}`]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    const topKeys = Object.keys((schemaJson as { properties: { environments: { additionalProperties: { properties: object } } } }).properties.environments.additionalProperties.properties);
    expect(r.stderr.trim()).toBe(
      [
        "shipit: invalid shipit config (shipit.json):",
        `  - environments.test.hots = "bot-test.example.org": is not a known key. Fix: did you mean "host"? Known keys here: ${topKeys.join(", ")}`,
        `  - environments.staging.smoke.timeoutSec = "15": expected number, received string. Fix: give environments.staging.smoke.timeoutSec a value of type number (see CONFIGURATION.md)`,
      ].join("\n"),
    );
    expect(r.stderr).not.toContain("started");
    expect(r.stdout).toBe("");
    expect((await readdir(dir)).sort()).toEqual(before);
  });
});

describe("a check on a pipe", () => {
  test("progress lines on stderr, the table on stdout; --json is ci.json's shape; temp folders are gone", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "shipit-tmp-"));
    const env = { TMPDIR: tmp };
    const r = await shipit(["lint", `--source=${SAMPLE_BOT}`], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^… dependencies started$/m);
    expect(r.stderr).toMatch(/^… lint {9}started$/m);
    expect(r.stderr).toMatch(/^✓ lint {9}ok \d+\.\ds · 0 findings$/m);
    expect(r.stdout).toContain("shipit lint (app): the gate passed");
    const j = await shipit(["lint", `--source=${SAMPLE_BOT}`, "--json"], { env });
    expect(j.exitCode).toBe(0);
    const parsed = CiJsonSchema.parse(JSON.parse(j.stdout));
    expect(parsed.gates.map((g) => [g.name, g.status])).toEqual([["lint", "passed"]]);
    expect(j.stderr).toBe("");
    expect((await readdir(tmp)).filter((f) => f.startsWith("shipit-run-"))).toEqual([]);
  });

  test("SIGTERM in the middle of a gate removes the run's temp folder (exit 143)", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "shipit-tmp-"));
    const child = execa("node", [BIN, "test", `--source=${SAMPLE_BOT}`], { env: { TMPDIR: tmp }, reject: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the test gate never started")), 120_000);
      child.stderr!.on("data", (d: Buffer) => {
        if (d.toString().includes("test         started")) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    expect((await readdir(tmp)).filter((f) => f.startsWith("shipit-run-")).length).toBe(1);
    child.kill("SIGTERM");
    const r = await child;
    expect(r.exitCode ?? r.signal).toBe(143);
    expect((await readdir(tmp)).filter((f) => f.startsWith("shipit-run-"))).toEqual([]);
  });
});

async function treeHash(dir: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (d: string) => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      h.update(p);
      if (e.isDirectory()) await walk(p);
      else h.update(await readFile(p));
    }
  };
  await walk(dir);
  return h.digest("hex");
}

describe("the shim's dry run and its replay line", () => {
  let repo: string;
  beforeAll(async () => {
    repo = await mkdtemp(join(tmpdir(), "shipit-dry-"));
    await cp(SAMPLE_BOT, join(repo, "bot"), { recursive: true });
    await execa("git", ["init", "-q", "-b", "main"], { cwd: repo });
    await execa("git", ["add", "."], { cwd: repo });
    await execa("git", ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "feat: bot"], { cwd: repo });
  });

  test("--dry-run writes nothing, names what a real run would miss, and never claims a deploy", async () => {
    const before = await treeHash(repo);
    const r = await shipit(["shim", "pull_request", "--pr=12", "--source=bot", "--dry-run"], { cwd: repo, env: { GITHUB_REPOSITORY: "acme/rosey", DEPLOY_SSH_KEY: "", GITHUB_EVENT_PATH: "", GITHUB_EVENT_NAME: "" } });
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(await treeHash(repo)).toBe(before);
    expect(r.stdout).toContain("a real run would stop on:");
    expect(r.stdout).toContain("  - missing DEPLOY_SSH_KEY (a secret)");
    expect(r.stdout).toContain("  - missing .github/known_hosts (the host's known_hosts entry)");
    expect(r.stdout).toContain("the test environment is not deployable yet");
    expect(r.stdout).not.toMatch(/is live|✅/);
    expect(r.stdout).toContain("(dry run) would write .shipit/ci/comment.json");
  });

  test("the reproduce line replays the same dagger call sequence", async () => {
    const env = { GITHUB_REPOSITORY: "acme/rosey", GITHUB_EVENT_PATH: "", GITHUB_EVENT_NAME: "" };
    const first = await shipit(["shim", "workflow_dispatch", "--env=prod", "--version=1.2.0", "--source=bot", "--known-hosts=kh", "--dry-run"], { cwd: repo, env });
    const line = /^reproduce: (.+)$/m.exec(first.stdout)?.[1];
    expect(line).toBe("npx shipit shim workflow_dispatch --env=prod --version=1.2.0 --source=bot --known-hosts=kh");
    const args = line!.split(" ").slice(2);
    const again = await shipit([...args, "--dry-run"], { cwd: repo, env });
    const calls = (out: string) => [...out.matchAll(/^\$ (dagger call .+)$/gm)].map((m) => m[1]!.replace(/--run=\S+/, "--run=RUN"));
    expect(calls(first.stdout).length).toBeGreaterThan(0);
    expect(calls(again.stdout)).toEqual(calls(first.stdout));
  });
});
