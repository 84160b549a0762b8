/**
 * The host CLI (npm run metrics / npm run dashboard) as a real process: from ledger files, with
 * commit times read by the real git from a repository made here with fixed commit dates.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { expect, test } from "vitest";
import { computeEnvMetrics, computeMetrics, ledgerFromHistory, parseLedger } from "../../src/core/insight/metrics.js";
import { REPO } from "../helpers/variants.js";

const dir = join(REPO, "test/fixtures/ledgers");
const WINDOW = ["--since=2026-11-20T00:00:00Z", "--until=2026-11-27T00:00:00Z"];
const cli = (args: string[], cwd = REPO) => execa("node", [join(REPO, "dagger/bin/shipit.mjs"), ...args], { cwd, reject: false });

test("metrics --format=json from ledger files equals the core's figures; lead time joins the ledger's commit to real git", async () => {
  const repo = await mkdtemp(join(tmpdir(), "shipit-insight-"));
  const env = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.invalid", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.invalid" };
  await execa("git", ["init", "-q", repo]);
  // Committed at 11:30:00+02:00 = 09:30:00 UTC; git reports the offset, the metrics use UTC.
  await execa("git", ["-C", repo, "commit", "-q", "--allow-empty", "-m", "feat: x"], { env: { ...env, GIT_COMMITTER_DATE: "2026-11-26T11:30:00+02:00", GIT_AUTHOR_DATE: "2026-11-26T11:30:00+02:00" } });
  const sha = (await execa("git", ["-C", repo, "rev-parse", "HEAD"])).stdout.trim();
  const entry = { kind: "deploy", env: "test", version: "1.0.0", commit: sha, outcome: "succeeded", started: "2026-11-26T10:00:00Z", ended: "2026-11-26T10:01:00Z", seconds: 60, phases: {}, rollbackPhases: {} };
  await writeFile(join(repo, "ledger.jsonl"), `${JSON.stringify(entry)}\n`);

  const own = await cli(["metrics", "--format=json", `--ledger=test=${join(repo, "ledger.jsonl")}`, `--git=${repo}`, ...WINDOW]);
  expect(own.stderr).toBe("");
  expect(JSON.parse(own.stdout).environments.test.leadTime).toEqual({ median: 1860, samples: 1, unknownCommits: 0 }); // 09:30:00 → 10:01:00

  const r = await cli(["metrics", "--format=json", `--ledger=test=${join(dir, "rollbacks.jsonl")}`, `--ledger=prod=${join(dir, "failed-open.jsonl")}`, `--git=${repo}`, ...WINDOW]);
  expect(r.exitCode).toBe(0);
  expect(r.stderr).toBe("[prod] warning: 1 ledger line(s) could not be read and were left out");
  const read = async (n: string) => parseLedger(await readFile(join(dir, `${n}.jsonl`), "utf8")).entries;
  expect(JSON.parse(r.stdout)).toEqual(computeMetrics({ test: await read("rollbacks"), prod: await read("failed-open") }, { since: "2026-11-20T00:00:00Z", until: "2026-11-27T00:00:00Z" }, {}));

  const prom = await cli(["metrics", "--format=prometheus", `--ledger=prod=${join(dir, "failed-open.jsonl")}`, `--git=${repo}`, ...WINDOW]);
  expect(prom.stdout).toContain('shipit_incident_open{env="prod"} 1');
});

test("dashboard -o writes one self-contained page; bad arguments fail with the fix", async () => {
  const out = join(await mkdtemp(join(tmpdir(), "shipit-dash-")), "dashboard.html");
  const r = await cli(["dashboard", `--ledger=test=${join(dir, "single-deploy.jsonl")}`, "-o", out, ...WINDOW]);
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toBe(`dashboard: ${out} (1 recent deployments, 1 environments)`);
  const html = await readFile(out, "utf8");
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).toContain("Chart.js v4.6.1");
  expect(html).toContain('<td data-env="test" data-metric="timeToDeploy.median">1m 05s</td>');

  const bad = await cli(["metrics", "--ledger=test"]);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.trim()).toBe('shipit: --ledger takes ENV=PATH (e.g. --ledger test=ledger.jsonl), got "test"');
  const missing = await cli(["metrics", "--ledger=test=/nonexistent.jsonl"]);
  expect(missing.stderr.trim()).toBe("shipit: --ledger test=/nonexistent.jsonl: file /nonexistent.jsonl does not exist (copy it from the host's BASE/ledger.jsonl)");
  const days = await cli(["metrics", "--days=0", `--ledger=test=${join(dir, "empty.jsonl")}`]);
  expect(days.stderr.trim()).toBe('shipit: --days must be a positive number of days, got "0"');
});

test("the host agent's own ledger-append and history carry every golden entry, commit included, to the same figures", async () => {
  const base = join(await mkdtemp(join(tmpdir(), "shipit-ledger-")), "srv");
  const agent = join(REPO, "src/python/shipit_agent.py");
  const entries = parseLedger(await readFile(join(dir, "rollbacks.jsonl"), "utf8")).entries;
  for (const e of entries) {
    const r = await execa("python3", [agent, "ledger-append", "--base", base], { input: JSON.stringify(e) });
    expect(JSON.parse(r.stdout).ok).toBe(true);
  }
  const history = JSON.parse((await execa("python3", [agent, "history", "--base", base, "--limit", "1000000"])).stdout);
  expect(history.total).toBe(entries.length);
  const back = ledgerFromHistory(history);
  expect(back.corrupt).toBe(0);
  expect(back.entries.filter((e) => e.commit).length).toBe(5);
  const commits = JSON.parse(await readFile(join(dir, "commits.json"), "utf8")) as Record<string, string>;
  const window = { since: "2026-11-20T00:00:00Z", until: "2026-11-27T00:00:00Z" };
  expect(computeEnvMetrics(back.entries, window, commits)).toEqual(computeEnvMetrics(entries, window, commits));
});

