/**
 * No silent failures (#16): each failure that used to be read as "absent", "unknown" or "wait"
 * made to happen for real, with real files, real permissions, a real git and the real agent and
 * driver, and the coded error that names its path or cause.
 *
 * EACCES needs a user the permission applies to: the tests run as root here, so those cases run
 * their process as `nobody` (setpriv); as any other user they run as that user. The cases as root
 * use failures root cannot get past either (ELOOP, ENOTDIR, ENAMETOOLONG, a corrupt repository).
 */
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { exitCodeFor } from "../../src/cli/run.js";
import { loadConfig } from "../../src/core/config/load.js";
import { OperationFailedError } from "../../src/core/deploy/deploy.js";
import { ConfigError, InfraError, ShipitError } from "../../src/core/errors.js";
import { readHostStatus } from "../../src/core/insight/gather.js";
import { commitTimes } from "../../src/runners/git.js";
import { hostSourceView, withDirLock } from "../../src/runners/host.js";
import { REPO } from "../helpers/variants.js";

const BIN = join(REPO, "dagger/bin/shipit.mjs");
const TSX = join(REPO, "node_modules/tsx/dist/esm/index.mjs");
const IS_ROOT = process.getuid?.() === 0;
/** argv prefix that drops root to nobody, so that file permissions apply. */
const UNPRIVILEGED = IS_ROOT ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : [];

const cli = (args: string[], env: Record<string, string> = {}) => execa("node", [BIN, ...args], { cwd: REPO, env, reject: false });

/** A temp folder others can enter (mkdtemp makes it 0700): the unprivileged cases read inside it. */
async function scratch(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

/** The smallest bot repository the default config accepts, with `environments.test` on `host:port`. */
async function botSource(host = "bot.example.invalid", port = 22): Promise<string> {
  const dir = await scratch("shipit-nsf-src-");
  await mkdir(join(dir, "bot"));
  await writeFile(join(dir, "bot/__init__.py"), "");
  await writeFile(join(dir, "shipit.json"), JSON.stringify({ environments: { test: { host, port } } }));
  return dir;
}

async function rejection(p: Promise<unknown>): Promise<ShipitError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ShipitError) return e;
    throw e;
  }
  throw new Error("expected a ShipitError");
}

describe("reading the source: only a path that is not there means the defaults", () => {
  test("a shipit.json this user cannot read (EACCES) stops the run with its path, exit code 3", async () => {
    const src = await botSource();
    await chmod(join(src, "shipit.json"), 0o000);
    const argv = [...UNPRIVILEGED, "node", BIN, "lint", `--source=${src}`];
    const r = await execa(argv[0]!, argv.slice(1), { cwd: REPO, reject: false, env: { HOME: src } });
    expect(r.stderr.trim()).toBe(`shipit: cannot read ${src}/shipit.json: EACCES. Fix: make it readable by this user (or remove it)`);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe("");
  });

  test("a shipit.json that cannot be opened (a symlink loop, ELOOP) is SOURCE_UNREADABLE, not the defaults", async () => {
    const src = await botSource();
    await rm(join(src, "shipit.json"));
    await symlink("shipit.json", join(src, "shipit.json"));
    const e = await rejection(loadConfig(hostSourceView(src)));
    expect(e).toBeInstanceOf(InfraError);
    expect([e.code, e.message]).toEqual(["SOURCE_UNREADABLE", `cannot read ${src}/shipit.json: ELOOP. Fix: make it readable by this user (or remove it)`]);
  });

  test("a configured path the system cannot look at is named with its cause, not reported as missing", async () => {
    const src = await botSource();
    await writeFile(join(src, "shipit.json"), JSON.stringify({ lint: { paths: ["loop"] } }));
    await symlink("loop", join(src, "loop"));
    const e = await rejection(loadConfig(hostSourceView(src)));
    expect([e.code, e.message]).toEqual(["SOURCE_UNREADABLE", `cannot look at ${src}/loop: ELOOP. Fix: make it readable by this user (or remove it)`]);
  });

  test("what is not there still reads as absent: no shipit.json means the defaults, a folder named shipit.json is a config error", async () => {
    const src = await botSource();
    await rm(join(src, "shipit.json"));
    expect((await loadConfig(hostSourceView(src))).origin).toBe("defaults (no shipit.json)");
    expect(await hostSourceView(src).kind("bot/__init__.py/x")).toBeNull(); // ENOTDIR: under a file
    await mkdir(join(src, "shipit.json"));
    const e = await rejection(loadConfig(hostSourceView(src)));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).issues.map((i) => [i.code, i.key])).toEqual([["IS_A_DIRECTORY", "(file)"]]);
  });
});

describe("the venv lock waits only for another run, never forever", () => {
  test("a lock where a regular file stands (EEXIST, ENOTDIR) fails at once, naming it", { timeout: 20_000 }, async () => {
    const dir = await scratch("shipit-nsf-lock-");
    await writeFile(join(dir, "venvs"), "not a folder");
    let ran = false;
    const e = await rejection(withDirLock(join(dir, "venvs/abc.lock"), async () => (ran = true)));
    expect([e.name, e.code, e.message]).toEqual(["InfraError", "LOCK_FAILED", `cannot create the lock ${dir}/venvs/abc.lock: ${dir}/venvs is a file, not a folder. Fix: make ${dir}/venvs a folder this user can write (it holds shipit's cached venvs)`]);
    const deeper = await rejection(withDirLock(join(dir, "venvs/cache/abc.lock"), async () => (ran = true)));
    expect(deeper.message).toBe(`cannot create the lock ${dir}/venvs/cache/abc.lock: ENOTDIR. Fix: make ${dir}/venvs/cache a folder this user can write (it holds shipit's cached venvs)`);
    expect(ran).toBe(false);
  });

  test("a lock the system refuses to create in an existing folder (ENAMETOOLONG) fails at once", { timeout: 20_000 }, async () => {
    const dir = await scratch("shipit-nsf-lock-");
    const lock = join(dir, `${"v".repeat(300)}.lock`);
    const e = await rejection(withDirLock(lock, async () => 1));
    expect([e.code, e.message]).toEqual(["LOCK_FAILED", `cannot create the lock ${lock}: ENAMETOOLONG. Fix: make ${dir} a folder this user can write (it holds shipit's cached venvs)`]);
  });

  test("a lock in a folder this user cannot write (EACCES) fails at once", { timeout: 120_000 }, async () => {
    const dir = await scratch("shipit-nsf-lock-");
    const readOnly = join(dir, "venvs");
    await mkdir(readOnly, { mode: 0o555 });
    await chmod(readOnly, 0o555);
    const script = join(dir, "lock.mts");
    await writeFile(
      script,
      `import { withDirLock } from ${JSON.stringify(join(REPO, "src/runners/host.ts"))};\n` +
        `try { await withDirLock(${JSON.stringify(join(readOnly, "abc.lock"))}, async () => console.log("RAN")); } catch (e) { console.log(JSON.stringify([e.code, e.message])); }\n`,
    );
    const argv = [...UNPRIVILEGED, "node", "--import", TSX, script];
    const r = await execa(argv[0]!, argv.slice(1), { cwd: dir, reject: false, timeout: 90_000, env: { HOME: dir } });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual(["LOCK_FAILED", `cannot create the lock ${readOnly}/abc.lock: EACCES. Fix: make ${readOnly} a folder this user can write (it holds shipit's cached venvs)`]);
  });

  test("a lock another run holds (EEXIST) is waited for, then taken", { timeout: 20_000 }, async () => {
    const dir = await scratch("shipit-nsf-lock-");
    const lock = join(dir, "abc.lock");
    await mkdir(lock);
    const events: string[] = [];
    const held = withDirLock(lock, async () => {
      events.push(existsSync(lock) ? "ran holding the lock" : "ran without the lock");
    });
    await new Promise((r) => setTimeout(r, 700));
    events.push("other run let go");
    await rm(lock, { recursive: true });
    await held;
    expect(events).toEqual(["other run let go", "ran holding the lock"]);
    expect(existsSync(lock)).toBe(false);
  });
});

describe("git for lead time: not a repository is unknown with the reason; a broken git is an error", () => {
  const ledger = join(REPO, "test/fixtures/ledgers/single-deploy.jsonl");
  const WINDOW = ["--since=2026-11-20T00:00:00Z", "--until=2026-11-27T00:00:00Z"];

  async function brokenRepository(): Promise<string> {
    const repo = await scratch("shipit-nsf-git-");
    await execa("git", ["init", "-q", "-b", "main", repo]);
    await execa("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "--allow-empty", "-m", "feat: x"]);
    await writeFile(join(repo, ".git/refs/heads/main"), "not an object id\n");
    return repo;
  }

  test("outside a repository: no commit times, and why", async () => {
    const dir = await scratch("shipit-nsf-norepo-");
    expect(await commitTimes(dir)).toEqual({ times: {}, unknown: `${dir} is not inside a git repository (pass --git=PATH, the bot's repository)` });
  });

  test("a corrupt repository is GIT_FAILED in git's own words", async () => {
    const repo = await brokenRepository();
    const e = await rejection(commitTimes(repo));
    expect([e.name, e.code, e.message]).toEqual(["InfraError", "GIT_FAILED", `git log in ${repo} failed: fatal: bad object refs/heads/main. Fix: pass --git=PATH, the bot's repository (the folder holding .git)`]);
  });

  test("the metrics command: a warning for no repository, exit 3 for a broken one, exit 2 for no folder", async () => {
    const plain = await scratch("shipit-nsf-norepo-");
    const unknown = await cli(["metrics", "--format=json", `--ledger=test=${ledger}`, `--git=${plain}`, ...WINDOW]);
    expect(unknown.stderr).toBe(`warning: lead time unknown: ${plain} is not inside a git repository (pass --git=PATH, the bot's repository)`);
    expect(unknown.exitCode).toBe(0);
    expect(JSON.parse(unknown.stdout).environments.test.leadTime.samples).toBe(0);

    const repo = await brokenRepository();
    const broken = await cli(["metrics", "--format=json", `--ledger=test=${ledger}`, `--git=${repo}`, ...WINDOW]);
    expect(broken.stderr).toBe(`shipit: git log in ${repo} failed: fatal: bad object refs/heads/main. Fix: pass --git=PATH, the bot's repository (the folder holding .git)`);
    expect([broken.exitCode, broken.stdout]).toEqual([3, ""]);

    const none = await cli(["metrics", "--format=json", `--ledger=test=${ledger}`, "--git=/nonexistent/repo", ...WINDOW]);
    expect(none.stderr).toBe("shipit: --git /nonexistent/repo: no such folder. Fix: pass the bot's repository (the folder holding .git) for lead time");
    expect(none.exitCode).toBe(2);
  });
});

describe("--known-hosts and --artifact that are not there are named as such", () => {
  const KEY = { SHIPIT_NSF_KEY: "not a real key" };

  test.each([
    ["status", ["status", "--env=test"]],
    ["metrics", ["metrics", "--env=test"]],
  ])("%s: a --known-hosts path that does not exist", async (_, args) => {
    const src = await botSource();
    const r = await cli([...args, `--source=${src}`, "--ssh-key=env:SHIPIT_NSF_KEY", "--known-hosts=/nonexistent/known_hosts"], KEY);
    expect(r.stderr.trim()).toBe("shipit: --known-hosts=/nonexistent/known_hosts: file /nonexistent/known_hosts does not exist. Fix: pass the known_hosts file that pins the bot host's key (ssh-keyscan -p PORT HOST, then check its fingerprint)");
    expect(r.exitCode).toBe(2);
  });

  test("a --known-hosts that is a folder", async () => {
    const src = await botSource();
    const r = await cli(["status", "--env=test", `--source=${src}`, "--ssh-key=env:SHIPIT_NSF_KEY", `--known-hosts=${src}`], KEY);
    expect(r.stderr.trim()).toBe(`shipit: --known-hosts=${src}: ${src} is a directory. Fix: pass the known_hosts file itself`);
    expect(r.exitCode).toBe(2);
  });

  test("without --known-hosts the deploy core still says how to get the line", async () => {
    const src = await botSource();
    const r = await cli(["status", "--env=test", `--source=${src}`, "--ssh-key=env:SHIPIT_NSF_KEY"], KEY);
    expect(r.stderr.trim()).toBe(
      "shipit: status of test refused: a known_hosts file pinning bot.example.invalid's host key is required (--known-hosts=PATH; get the line with ssh-keyscan -p 22 bot.example.invalid and check its fingerprint). Host-key checking is never disabled.",
    );
    expect(r.exitCode).toBe(2);
  });

  test("a --artifact path that does not exist, before anything is copied", async () => {
    const src = await botSource();
    const kh = join(src, "known_hosts");
    await writeFile(kh, "bot.example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsXDuSvVQ1fWahxWaWp9+zkUIbyUBFPrY0i7Mdes5YP\n");
    const r = await cli(["deploy", "--env=test", `--source=${src}`, "--ssh-key=env:SHIPIT_NSF_KEY", `--known-hosts=${kh}`, "--artifact=/nonexistent/app-1.0.0.tar.gz"], KEY);
    expect(r.stderr.trim()).toBe("shipit: --artifact=/nonexistent/app-1.0.0.tar.gz: file /nonexistent/app-1.0.0.tar.gz does not exist. Fix: build one with `shipit build -o dist/` (run in the bot's repository) and pass its path");
    expect(r.exitCode).toBe(2);
  });
});

describe("a failed host call is an error with its code and exit code 1, its report on stdout", () => {
  test("status against a host that refuses the connection: the real driver and ssh", async () => {
    // port 9 (discard) on the loopback: nothing listens there, so ssh is refused at once
    const src = await botSource("127.0.0.1", 9);
    const kh = join(src, "known_hosts");
    await writeFile(kh, "[127.0.0.1]:9 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsXDuSvVQ1fWahxWaWp9+zkUIbyUBFPrY0i7Mdes5YP\n");
    const r = await cli(["status", "--env=test", `--source=${src}`, "--ssh-key=env:SHIPIT_NSF_KEY", `--known-hosts=${kh}`], { SHIPIT_NSF_KEY: "not a real key" });
    expect(r.stdout.trim()).toBe("status of test failed at agent: ssh failed: ssh: connect to host 127.0.0.1 port 9: Connection refused (SSH_FAILED)");
    expect(r.exitCode).toBe(1);
  });

  test("exit codes follow the error's class: a failed operation 1, a refusal 2, the machine 3", () => {
    const result = { outcome: "failed" as const, phases: [], rollback: [] };
    expect(
      [new OperationFailedError("DEPLOY_FAILED", "deploy failed", result), new ShipitError("BAD_ARGUMENT", "x"), new ConfigError("shipit.json", []), new InfraError("REPORT_INVALID", "x"), new Error("a bug")].map(exitCodeFor),
    ).toEqual([1, 2, 2, 3, 3]);
  });
});

describe("the host agent's status answer", () => {
  test("the real agent's answer is what the dashboard reads; the schema would name any other shape", async () => {
    const base = join(await scratch("shipit-nsf-agent-"), "srv");
    const r = await execa("python3", [join(REPO, "src/python/shipit_agent.py"), "status", "--base", base]);
    const answer = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(readHostStatus(answer, "test")).toEqual(answer);
    expect(() => readHostStatus({ ...answer, current: ["1.0.0"] }, "test")).toThrow(new InfraError("REPORT_INVALID", "the status answer of the host agent of test has an unexpected shape: current: expected string, received array"));
  });
});
