#!/usr/bin/env node
// A recording stand-in for the dagger CLI, for the shim tests. It appends one JSON line per call
// to $STANDIN_LOG ({argv, cwd}) and answers from the scenario in $STANDIN_SCENARIO:
//   { "nextRelease": {previous, next, bump, notes} | {"fail": "message"},
//     "ci": {"ok": bool, "failed": ["lint"]} , "deploy": {"fail": "message"} | {},
//     "rollback": {"fail": "message"} | {}, "release": {"fail": "message"} | {},
//     "notify": {"fail": "message"} | {"failed": ["SECRET_NAME"], "incident": {...}} }
// notify answers with a report as the real function prints it: one delivery per --webhook-names
// (delivered, or failed for the names in notify.failed), the incident opened on a failure when a
// token is given.
// ci-report writes ci.json and an artifact into its --path, as the real export would.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const args = process.argv.slice(2);
appendFileSync(process.env.STANDIN_LOG, JSON.stringify({ argv: args, cwd: process.cwd() }) + "\n");
const scenario = JSON.parse(readFileSync(process.env.STANDIN_SCENARIO, "utf8"));
const fn = args[args[1] === "-m" ? 3 : 1];
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const fail = (message) => {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(1);
};

// Check the call against the module's real signatures (written by the test from the introspector):
// flags up to the first chained call (`export --path=…`) belong to the function.
if (process.env.STANDIN_SCHEMA) {
  const schema = JSON.parse(readFileSync(process.env.STANDIN_SCHEMA, "utf8"));
  const sig = schema[fn];
  if (!sig) fail(`function "${fn}" not found in module shipit`);
  const start = args.indexOf(fn) + 1;
  const rest = args.slice(start);
  const chain = rest.findIndex((a) => !a.startsWith("--"));
  const own = (chain < 0 ? rest : rest.slice(0, chain)).map((a) => a.slice(2).split("=")[0]);
  for (const f of own) if (!sig.args.includes(f)) fail(`unknown flag: --${f} (function ${fn} takes ${sig.args.map((a) => `--${a}`).join(", ")})`);
  for (const r of sig.required) if (!own.includes(r)) fail(`required flag(s) "${r}" not set for ${fn}`);
}

switch (fn) {
  case "next-release": {
    const r = scenario.nextRelease;
    if (r.fail) fail(r.fail);
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    break;
  }
  case "ci-report": {
    const out = flag("path");
    const version = flag("version");
    const failed = scenario.ci.failed ?? [];
    const gates = ["dependencies", "lint", "typecheck", "test", "security", "build"].map((name) => ({
      name,
      status: failed.includes(name) ? "failed" : "passed",
      durationMs: 1200,
      figure: name === "test" ? "42 passed, coverage 91.3%" : "ok",
      detail: failed.includes(name) ? `${name} failed: see the log` : "",
    }));
    const ok = failed.length === 0;
    mkdirSync(out, { recursive: true });
    const artifact = failed.includes("build") ? null : `rosey-${version}.tar.gz`;
    if (artifact) writeFileSync(join(out, artifact), "artifact bytes");
    writeFileSync(
      join(out, "ci.json"),
      JSON.stringify({ ok, name: "rosey", gates, coverage: { percent: 91.3, threshold: 85 }, artifact, sha256: artifact ? "a".repeat(64) : null, version, summary: `shipit ci (rosey): ${ok ? "all 6 gates passed" : `FAILED gates: ${failed.join(", ")}`}` }),
    );
    break;
  }
  case "deployment-start":
    process.stdout.write("4242\n");
    break;
  case "deploy":
  case "rollback":
  case "release":
    if (scenario[fn]?.fail) fail(scenario[fn].fail);
    process.stdout.write(`${fn} ok\n`);
    break;
  case "notify": {
    const n = scenario.notify ?? {};
    if (n.fail) fail(n.fail);
    const event = flag("event");
    const names = (flag("webhook-names") ?? "").split(",").filter(Boolean);
    const deliveries = names.map((secret) =>
      (n.failed ?? []).includes(secret)
        ? { target: "webhook", secret, event, status: "failed", attempts: 4, httpStatus: 503, cause: "HTTP 503 on each of 4 attempts" }
        : { target: "webhook", secret, event, status: "delivered", attempts: 1, httpStatus: 200 },
    );
    const failure = ["deploy-failed", "rolled-back", "rollback-failed"].includes(event) || args.includes("--failed");
    const incident =
      n.incident ??
      (!flag("token") ? { action: "none", detail: "no token" } : failure ? { action: "opened", number: 7, url: "https://github.com/acme/rosey/issues/7" } : { action: "none", detail: `${flag("env")} is healthy and has no open incident` });
    const warnings = deliveries.filter((d) => d.status === "failed").map((d) => `notification not delivered: ${d.target} (${d.secret}): ${event} NOT delivered after ${d.attempts} attempts: ${d.cause}`);
    if (incident.action === "failed") warnings.push(`incident issue not updated: ${incident.detail}`);
    process.stdout.write(JSON.stringify({ env: flag("env"), event, headline: `(stand-in) ${event}`, deliveries, incident, warnings }, null, 2) + "\n");
    break;
  }
  case "deployment-finish":
  case "pr-comment":
    process.stdout.write(`${fn} ok\n`);
    break;
  default:
    fail(`stand-in: unknown function ${fn}`);
}
