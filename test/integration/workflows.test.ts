/**
 * The workflows in .github/workflows: actionlint and zizmor (pedantic) find nothing, both tools
 * demonstrably catch a bad workflow, and the workflows hold no pipeline logic: their only commands
 * are `npm ci`, the dagger installer and the shim.
 */
import { execa } from "execa";
import { mkdtemp, readdir, readFile, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { actionlintBin, zizmorBin } from "../helpers/workflow-tools.js";

const REPO = resolve(import.meta.dirname, "../..");
const WORKFLOWS = join(REPO, ".github/workflows");
let actionlint: string;
let zizmor: string;

beforeAll(async () => {
  [actionlint, zizmor] = await Promise.all([actionlintBin(), zizmorBin()]);
}, 300_000);

const BAD = `name: bad
on:
  pull_request_target:
jobs:
  x:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
        with:
          ref: \${{ github.event.pull_request.head.sha }}
      - run: echo "\${{ github.event.pull_request.title }}"
      - run: echo \${{ matrix.nope }}
`;

async function badRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shipit-badwf-"));
  await mkdir(join(dir, ".github/workflows"), { recursive: true });
  await writeFile(join(dir, ".github/workflows/bad.yml"), BAD);
  return dir;
}

describe("workflow linters", () => {
  it("actionlint finds nothing in shipit's workflows, and catches a bad one", async () => {
    const ok = await execa(actionlint, ["-color=false"], { cwd: REPO, reject: false });
    expect(ok.stdout + ok.stderr).toBe("");
    expect(ok.exitCode).toBe(0);
    const dir = await badRepo();
    const bad = await execa(actionlint, ["-color=false", join(dir, ".github/workflows/bad.yml")], { cwd: dir, reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain('property "nope" is not defined in object type');
  });

  it("zizmor (pedantic, offline) finds nothing in shipit's workflows, and catches a bad one", async () => {
    const ok = await execa(zizmor, ["--offline", "--persona=pedantic", "--no-progress", WORKFLOWS], { reject: false });
    expect(ok.stdout).toContain("No findings to report");
    expect(ok.exitCode).toBe(0);
    const bad = await execa(zizmor, ["--offline", "--no-progress", join(await badRepo(), ".github/workflows")], { reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout).toContain("dangerous-triggers");
    expect(bad.stdout).toContain("template-injection");
    expect(bad.stdout).toContain("unpinned-uses");
  });
});

describe("the workflows are shims", () => {
  it("every run: is npm ci or the shim (dagger comes from dagger/dagger-for-github, pinned); one shim call per workflow; secrets only in env", async () => {
    const files = (await readdir(WORKFLOWS)).filter((f) => f.endsWith(".yml")).sort();
    expect(files).toEqual(["main.yml", "pr-comment.yml", "pull-request.yml", "rollback.yml"]);
    for (const f of files) {
      const text = await readFile(join(WORKFLOWS, f), "utf8");
      const runs = [...text.matchAll(/^\s*(?:- )?run:\s*(.+)$/gm)].map((m) => m[1]!.trim());
      for (const r of runs) expect(r, `${f}: ${r}`).toMatch(/^(npm ci|npx shipit shim( --[a-z-]+=[\w./-]+)*)$/);
      expect(runs.filter((r) => r.startsWith("npx shipit shim")), f).toHaveLength(1);
      for (const line of text.split("\n").filter((l) => l.includes("secrets."))) {
        expect(line, `${f}: ${line}`).toMatch(/^\s+(GITHUB_TOKEN|DEPLOY_SSH_KEY|CYTUBEBOT_TEST_PASSWORD|CYTUBEBOT_PROD_PASSWORD|CYTUBE_SMOKE_PASSWORD|github-token): \$\{\{ secrets\.[A-Z_]+ \}\}$/);
      }
      expect(text, f).toMatch(/^permissions: \{\}$/m);
      expect(text, f).toContain("persist-credentials: false");
    }
  });

  it("only the jobs that deploy or roll back production may write issues (the incident issue), each saying why", async () => {
    for (const f of ["main.yml", "rollback.yml"]) expect(await readFile(join(WORKFLOWS, f), "utf8"), f).toMatch(/^ {6}issues: write # .*incident issue/m);
    for (const f of ["pull-request.yml", "pr-comment.yml"]) expect(await readFile(join(WORKFLOWS, f), "utf8"), f).not.toMatch(/issues: write/);
    for (const f of ["main.yml", "pr-comment.yml", "pull-request.yml", "rollback.yml"]) expect(await readFile(join(WORKFLOWS, f), "utf8"), f).not.toMatch(/^permissions:\s*\n\s+issues/m);
  });

  it("deploys queue per environment instead of cancelling", async () => {
    for (const [f, group] of [["pull-request.yml", "shipit-deploy-test"], ["main.yml", "shipit-deploy-prod"], ["rollback.yml", "shipit-deploy-${{ inputs.environment }}"]] as const) {
      const text = await readFile(join(WORKFLOWS, f), "utf8");
      expect(text).toContain(`concurrency:\n      group: ${group}\n      cancel-in-progress: false`);
    }
  });
});
