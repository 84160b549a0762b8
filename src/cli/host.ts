/**
 * Run shipit's checks on the host (no engine): the same steps, verdicts and summary as the Dagger
 * functions, with execa instead of containers.
 *
 *   npx tsx src/cli/host.ts ci [--source=DIR] [--config=FILE] [--version=V] [--commit=SHA] [--reports=DIR]
 *   npx tsx src/cli/host.ts lint|typecheck|test|build [...]
 *   npx tsx src/cli/host.ts security [--source=DIR] [--config=FILE] [--reports=DIR]
 *
 * --reports=DIR writes the security gate's security.json and security.sarif there, red or green.
 */
import { mkdtemp, readFile, copyFile, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve, basename } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../core/load.js";
import { planChecks } from "../core/plan.js";
import { runCheck, runCi } from "../core/pipeline.js";
import { renderSummary, gateError } from "../core/summary.js";
import { ShipitError } from "../core/errors.js";
import type { SecurityVerdict } from "../core/gates.js";
import { scanSource } from "../core/security.js";
import { renderSarif, renderSecurityJson, SECURITY_JSON, SECURITY_SARIF } from "../core/sarif.js";
import { HostRunner, hostSourceView } from "../runners/host.js";
import { assets } from "../assets.js";

const ROOT = resolve(import.meta.dirname, "../..");

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      source: { type: "string", default: join(ROOT, "test/fixtures/sample-bot") },
      config: { type: "string" },
      version: { type: "string" },
      commit: { type: "string" },
      output: { type: "string", short: "o" },
      reports: { type: "string" },
    },
  });
  const fn = positionals[0] ?? "ci";
  const source = resolve(values.source);
  const view = hostSourceView(source);
  const config = await loadConfig(view, values.config ? { text: await readFile(values.config, "utf8"), origin: values.config } : undefined);
  const runDir = await mkdtemp(join(tmpdir(), "shipit-run-"));
  const runner = await HostRunner.create(source, config, { cacheRoot: join(ROOT, ".shipit/host"), runDir });
  const plan = planChecks(config, runner.layout, await assets(), await scanSource(view, config), { version: values.version, commit: values.commit });

  if (fn === "ci") {
    const report = await runCi(plan, runner, config);
    console.log(report.summary);
    if (report.security && values.reports) await exportSecurityReports(report.security, config.name, values.reports);
    if (report.build && values.output) await exportArtifact(join(runner.layout.out, "build", report.build.artifact), values.output);
    return report.ok ? 0 : 1;
  }
  if (fn === "security") {
    const verdict = await runCheck("security", plan, runner, config);
    console.log(renderSummary(`shipit security (${config.name})`, [verdict]));
    if (values.reports) await exportSecurityReports(verdict, config.name, values.reports);
    return verdict.status === "passed" ? 0 : 1;
  }
  if (fn === "lint" || fn === "typecheck" || fn === "test" || fn === "build") {
    const gate = await runCheck(fn as "lint", plan, runner, config);
    console.log(renderSummary(`shipit ${fn} (${config.name})`, [gate]));
    if (gate.status !== "passed") console.error(gateError(gate));
    const info = (gate as { info?: { artifact: string } | null }).info;
    if (fn === "build" && info && values.output) await exportArtifact(join(runner.layout.out, "build", info.artifact), values.output);
    return gate.status === "passed" ? 0 : 1;
  }
  console.error(`unknown function "${fn}": use ci, lint, typecheck, test, security or build`);
  return 2;
}

async function exportSecurityReports(verdict: SecurityVerdict, name: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, SECURITY_JSON), renderSecurityJson(verdict, name));
  await writeFile(join(dir, SECURITY_SARIF), renderSarif(verdict, name));
  console.log(`security reports written to ${join(dir, SECURITY_JSON)} and ${join(dir, SECURITY_SARIF)}`);
}

async function exportArtifact(from: string, to: string): Promise<void> {
  const dest = to.endsWith("/") ? join(to, basename(from)) : to;
  await mkdir(resolve(dest, ".."), { recursive: true });
  await copyFile(from, dest);
  console.log(`artifact exported to ${dest}`);
}
