/**
 * The docs say what the code does: every `npx shipit …` line in a ```bash block of the README and
 * the guides that needs no bot host, no engine and no GitHub runs here, and exits as documented
 * (0, unless its comment says "exit N"). PATH_TO_BOT becomes the sample bot. Lines that need a host
 * (ssh keys, known_hosts), the engine (dagger call) or a file the reader brings are listed as
 * skipped by reason, so a new example is either run or visibly left out.
 */
import { cp, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { REPO, SAMPLE_BOT } from "../helpers/variants.js";

const DOCS = ["README.md", "CONFIGURATION.md", "DEPLOYMENT.md", "TROUBLESHOOTING.md", "RUNBOOK.md"];

interface Example {
  doc: string;
  line: string;
  command: string;
  exit: number;
}

function examples(doc: string, text: string): { run: Example[]; skipped: { line: string; why: string }[] } {
  const run: Example[] = [];
  const skipped: { line: string; why: string }[] = [];
  for (const block of text.matchAll(/```bash\n([\s\S]*?)```/g)) {
    for (const raw of block[1]!.split("\n")) {
      const line = raw.trim();
      if (!/(^|&& )npx shipit\b/.test(line)) continue;
      const [cmd, comment = ""] = line.split(/\s+#\s+/, 2) as [string, string?];
      const why =
        /--ssh-key|--known-hosts|\bdeploy\b|\brollback\b|\bstatus\b|\bhistory\b|\bhealth\b|\bsmoke\b/.test(cmd) ? "needs a bot host"
        : /\$[A-Z(]|…|<[a-z]/.test(cmd) ? "a placeholder the reader fills in"
        : /--event-file=event\.json|--ledger /.test(cmd) ? "a file the reader brings"
        : /^npx shipit shim (pull_request|push|workflow_dispatch)(?!.*--dry-run)/.test(cmd) ? "runs dagger call (the engine)"
        : null;
      if (why) {
        skipped.push({ line, why });
        continue;
      }
      const exit = Number(/exit (\d)/.exec(comment)?.[1] ?? 0);
      run.push({ doc, line, command: cmd.replace(/^npm ci && /, "").replace(/PATH_TO_BOT/g, "test/fixtures/sample-bot"), exit });
    }
  }
  return { run, skipped };
}

const all = await Promise.all(DOCS.map(async (d) => examples(d, await readFile(join(REPO, d), "utf8"))));
const RUN = all.flatMap((a) => a.run);

describe("shell examples in the docs", () => {
  test("the docs have runnable examples, and the README main command is one that runs", () => {
    expect(RUN.length).toBeGreaterThan(5);
    const skipped = all.flatMap((a) => a.skipped);
    expect(skipped.filter((s) => s.why === "needs a bot host").length).toBeGreaterThan(0);
    // the README's main command is always among those that run
    expect(RUN.map((e) => e.command)).toContain("npx shipit ci --source=test/fixtures/sample-bot");
  });

  test.each(RUN.map((e) => [`${e.doc}: ${e.line}`, e] as const))("%s", async (_name, e) => {
    // a scratch folder shaped like a checkout: the sample bot where the docs point, a git repo for the shim
    const dir = await mkdtemp(join(tmpdir(), "shipit-doc-"));
    await cp(SAMPLE_BOT, dir, { recursive: true }); // the current directory is the bot
    await cp(SAMPLE_BOT, join(dir, "test/fixtures/sample-bot"), { recursive: true });
    // any other fixture an example names (the project shapes), where the docs point
    for (const [, name] of e.command.matchAll(/test\/fixtures\/([\w-]+)/g)) {
      if (name !== "sample-bot") await cp(join(REPO, "test/fixtures", name!), join(dir, "test/fixtures", name!), { recursive: true });
    }
    await execa("git", ["init", "-q", "-b", "main"], { cwd: dir });
    await execa("git", ["add", "."], { cwd: dir });
    await execa("git", ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "feat: x"], { cwd: dir });
    const argv = e.command.replace(/^npx shipit /, "").split(/\s+/);
    const r = await execa("node", [join(REPO, "dagger/bin/shipit.mjs"), ...argv], { cwd: dir, reject: false, env: { GITHUB_EVENT_NAME: "", GITHUB_EVENT_PATH: "", GITHUB_REPOSITORY: "acme/rosey" } });
    expect(r.exitCode, `${e.command}\n${r.stdout}\n${r.stderr}`).toBe(e.exit);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
