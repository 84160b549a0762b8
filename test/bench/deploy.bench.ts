/**
 * npm run bench:deploy — median wall time of deploy and rollback on the sample target (a systemd
 * container over real SSH), and how much of each is the bot's own start-up (restart + health) and
 * the chat smoke.
 * Not a test: nothing asserts a time. Needs docker (bash .ci/docker-up.sh).
 */
import { join } from "node:path";
import { deploy, rollback } from "../../src/core/deploy/deploy.js";
import { loadConfig } from "../../src/core/config/load.js";
import { runCheck } from "../../src/core/checks/pipeline.js";
import { newRunId } from "../../src/core/deploy/run-id.js";
import { hostSourceView } from "../../src/runners/host.js";
import { HostDeployRunner } from "../../src/runners/deploy-host.js";
import { hostSetup } from "../helpers/host.js";
import { DEFAULT_CHAT_ACCOUNTS, startTarget } from "../helpers/target.js";
import { makeVariant } from "../helpers/variants.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const t = await startTarget();
try {
  const source = await makeVariant("clean", {
    "shipit.json": JSON.stringify({ environments: { test: { host: "127.0.0.1", port: t.port, user: t.user, runtime: { server: "http://127.0.0.1:8765" } } } }),
  });
  const config = await loadConfig(hostSourceView(source));
  const artifacts: string[] = [];
  for (const v of ["1.0.0", "1.1.0"]) {
    const s = await hostSetup(source, { version: v });
    const b = await runCheck("build", s.plan, s.runner, s.config);
    artifacts.push(join(s.runner.layout.out, "build", b.info!.artifact));
  }
  const rows = { deploy: [] as number[], deployStartup: [] as number[], smoke: [] as number[], rollback: [] as number[], rollbackStartup: [] as number[] };
  const startup = (phases: { name: string; seconds?: number }[]) => phases.filter((p) => p.name === "restart" || p.name === "health").reduce((a, p) => a + (p.seconds ?? 0), 0);
  for (let i = 0; i < RUNS + 1; i++) {
    const runner = await HostDeployRunner.create({ artifactPath: artifacts[i % 2], sshKey: t.privateKey, botPassword: DEFAULT_CHAT_ACCOUNTS["RoseyTest"], smokePassword: DEFAULT_CHAT_ACCOUNTS["ShipitSmoke"], knownHosts: t.knownHosts });
    const t0 = performance.now();
    const d = await deploy(config, "test", { secrets: ["ssh-key", "bot-password", "smoke-password"], knownHosts: t.knownHosts, trigger: "bench", run: newRunId() }, runner);
    const ms = performance.now() - t0;
    await runner.close();
    if (i === 0) continue; // the first deploy has no previous release to roll back to
    rows.deploy.push(ms / 1000);
    rows.deployStartup.push(startup(d.result.phases));
    rows.smoke.push(d.result.phases.find((p) => p.name === "smoke")?.seconds ?? 0);
    const rr = await HostDeployRunner.create({ sshKey: t.privateKey, knownHosts: t.knownHosts });
    const r0 = performance.now();
    const r = await rollback(config, "test", undefined, { secrets: ["ssh-key"], knownHosts: t.knownHosts, trigger: "bench", run: newRunId() }, rr);
    const rms = performance.now() - r0;
    await rr.close();
    rows.rollback.push(rms / 1000);
    rows.rollbackStartup.push(startup(r.result.phases));
    process.stderr.write(`run ${i}/${RUNS}: deploy ${(ms / 1000).toFixed(1)}s, rollback ${(rms / 1000).toFixed(1)}s\n`);
  }
  console.log(`sample target (systemd container, real ssh), ${RUNS} runs each, medians in seconds [all runs]`);
  const f = (xs: number[]) => `${median(xs).toFixed(2).padStart(6)}  [${xs.map((x) => x.toFixed(2)).join(", ")}]`;
  console.log(`deploy (wall)                 ${f(rows.deploy)}`);
  console.log(`  of which bot start-up       ${f(rows.deployStartup)}   (restart + health until connected)`);
  console.log(`  of which chat smoke         ${f(rows.smoke)}   (tunnel, socketconfig, join, login, !ping → pong)`);
  console.log(`rollback (wall)               ${f(rows.rollback)}`);
  console.log(`  of which bot start-up       ${f(rows.rollbackStartup)}`);
  console.log(`rollback without start-up     ${(median(rows.rollback) - median(rows.rollbackStartup)).toFixed(2).padStart(6)}   (the PRD asks < 120 s; the aim is < 10 s + start-up)`);
} finally {
  await t.stop();
}
