/**
 * Run shipit's checks on the host (no engine): the same steps, verdicts and summary as the Dagger
 * functions, with execa instead of containers.
 *
 *   shipit ci|lint|typecheck|test|security|build [--source=DIR] [--config=FILE] [--version=V]
 *          [--commit=SHA] [-o PATH] [--reports=DIR] [--json]
 *
 * --reports=DIR writes every report the run made (junit.xml, coverage.xml, coverage.json,
 * security.json, security.sarif), red or green.
 */
import { parseFlags, UsageError, type Flags } from "./flags.js";
import { readFile, copyFile, mkdir, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { loadConfig } from "../core/config/load.js";
import { planChecks } from "../core/checks/plan.js";
import { runCheck, runCi, type CiReport } from "../core/checks/pipeline.js";
import { renderCiJson } from "../core/checks/ci-report.js";
import { TEST_REPORTS } from "../core/checks/plan.js";
import { renderSummary } from "../core/checks/summary.js";
import type { BuildInfo, TestVerdict } from "../core/checks/gates.js";
import type { SecurityVerdict } from "../core/checks/security/gate.js";
import { scanSource } from "../core/checks/security/source-scan.js";
import { renderSarif, renderSecurityJson, SECURITY_JSON, SECURITY_SARIF } from "../core/checks/security/sarif.js";
import { HostRunner, hostSourceView } from "../runners/host.js";
import { assets } from "../assets.js";
import { removeTempDir, tempDir } from "./cleanup.js";
import { createProgress } from "./progress.js";
import { pruneVenvs } from "../runners/venv-prune.js";

const ROOT = resolve(import.meta.dirname, "../..");
/** Where venvs and package caches persist between runs: SHIPIT_HOST_CACHE, else shipit's own .shipit/host. */
const cacheRoot = () => resolve(process.env["SHIPIT_HOST_CACHE"] || join(ROOT, ".shipit/host"));

export const FLAGS = {
  source: { type: "string", default: ".", value: "PATH", help: "the Python repository" },
  config: { type: "string", value: "FILE", help: "a shipit.json to use instead of the one at the source root" },
  version: { type: "string", value: "V", help: "the artifact version (default: build.version from the config)" },
  commit: { type: "string", value: "SHA", help: "the commit recorded in the artifact manifest" },
  output: { type: "string", short: "o", value: "PATH", help: "export the artifact here (a folder, or a file name that does not exist yet)" },
  json: { type: "boolean", default: false, help: "print the verdict as JSON, the shape of ci.json (progress and the table stay off)" },
  reports: { type: "string", value: "DIR", help: "write the report files here (junit.xml, coverage.xml, coverage.json, security.json, security.sarif)" },
} satisfies Flags;

export const CHECKS = ["ci", "lint", "typecheck", "test", "security", "build"] as const;
type CheckCommand = (typeof CHECKS)[number];

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS);
  const fn = (positionals[0] ?? "ci") as CheckCommand;
  if (!CHECKS.includes(fn)) throw new UsageError(`unknown check "${fn}". Fix: use one of ${CHECKS.join(", ")}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}". Fix: name one check (${CHECKS.join(", ")}); flags take the form --name=value`);
  const source = resolve(values.source);
  const kind = await stat(source).then((st) => (st.isDirectory() ? "dir" : "file"), () => null);
  if (kind !== "dir") throw new UsageError(`--source ${values.source}: ${kind ? "is a file, not a folder" : "no such folder"}. Fix: pass the repository's root folder (default: the current directory)`);
  const output = values.output ? await outputTarget(values.output) : undefined;
  const view = hostSourceView(source);
  const configText = values.config ? await readFile(values.config, "utf8").catch(() => { throw new UsageError(`--config ${values.config}: cannot read it. Fix: pass an existing shipit.json`); }) : undefined;
  const config = await loadConfig(view, configText !== undefined ? { text: configText, origin: values.config! } : undefined);
  const runDir = tempDir("shipit-run-");
  const progress = values.json ? undefined : createProgress();
  try {
    const runner = await HostRunner.create(source, config, { cacheRoot: cacheRoot(), runDir, onOutput: progress?.onOutput });
    const plan = planChecks(config, runner.layout, await assets(), await scanSource(view, config), { version: values.version, commit: values.commit });
    const version = values.version ?? config.build.version;
    let report: CiReport;
    if (fn === "ci") {
      report = await runCi(plan, runner, config, undefined, progress?.onGate);
    } else {
      const gate = await runCheck(fn as "lint", plan, runner, config, progress?.onGate);
      report = {
        ok: gate.status === "passed",
        gates: [gate],
        test: fn === "test" ? (gate as TestVerdict) : null,
        security: fn === "security" ? (gate as SecurityVerdict) : null,
        build: fn === "build" ? ((gate as { info?: BuildInfo | null }).info ?? null) : null,
        summary: renderSummary(`shipit ${fn} (${config.name})`, [gate]),
      };
    }
    progress?.done();
    if (values.json) console.log(JSON.stringify(renderCiJson(report, config.name, version), null, 2));
    else console.log(report.summary);
    if (values.reports) await exportReports(report, runner.layout.out, config.name, values.reports, !values.json);
    if (report.build && output) await exportArtifact(join(runner.layout.out, "build", report.build.artifact), output, !values.json);
    await pruneVenvs(join(cacheRoot(), "venvs"), [runner.layout.venv, runner.layout.tools]);
    if (report.ok) return 0;
    // the machine, not the code: the package index could not be reached (exit 3, see --help)
    return report.gates.some((g) => g.status === "failed" && /the package index could not be reached/.test(g.detail)) ? 3 : 1;
  } finally {
    progress?.done();
    removeTempDir(runDir);
  }
}

/** -o PATH: an existing folder gets the artifact inside; an existing file is never overwritten. */
async function outputTarget(to: string): Promise<{ dir: string } | { file: string }> {
  const st = await stat(to).catch(() => null);
  if (st?.isDirectory() || to.endsWith("/")) return { dir: to };
  if (st) throw new UsageError(`-o ${to}: the file exists. Fix: remove it, or pass a folder (-o dist/) or a new file name`);
  return { file: to };
}

/** Every report the run made: test (junit.xml, coverage.xml, coverage.json) and security (security.json, security.sarif). */
async function exportReports(report: CiReport, out: string, name: string, dir: string, say: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  if (report.security) {
    await writeFile(join(dir, SECURITY_JSON), renderSecurityJson(report.security, name));
    await writeFile(join(dir, SECURITY_SARIF), renderSarif(report.security, name));
    written.push(SECURITY_JSON, SECURITY_SARIF);
  }
  for (const f of Object.values(TEST_REPORTS)) {
    const from = join(out, "test", f);
    if (await stat(from).then(() => true, () => false)) {
      await copyFile(from, join(dir, f));
      written.push(f);
    }
  }
  if (say) console.log(`reports written to ${dir}: ${written.join(", ") || "none (no gate made one)"}`);
}

async function exportArtifact(from: string, to: { dir: string } | { file: string }, say: boolean): Promise<void> {
  const dest = "dir" in to ? join(to.dir, basename(from)) : to.file;
  await mkdir(dirname(resolve(dest)), { recursive: true });
  await copyFile(from, dest);
  if (say) console.log(`artifact exported to ${dest}`);
}

