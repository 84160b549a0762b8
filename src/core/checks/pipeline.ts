import type { ResolvedConfig } from "../config/config.js";
import { evaluateBuild, evaluateDeps, evaluateLint, evaluateTest, evaluateTypecheck, skipped, type BuildInfo, type Gate, type TestVerdict } from "./gates.js";
import { evaluateSecurity, type SecurityVerdict } from "./security/gate.js";
import type { CheckPlan } from "./plan.js";
import type { Layout, Step, StepResult } from "./step.js";
import { renderSummary } from "./summary.js";

/** Runs steps somewhere (a Dagger engine, the host). Tool exit codes come back as results, never as throws. */
export interface Runner {
  readonly layout: Layout;
  /**
   * Build the tools layer (from the tool pins alone), then the project layer from the dependency
   * files alone (before the source is copied in). The result is the first that failed, else the project layer's.
   */
  prepare(tools: Step, deps: Step): Promise<StepResult>;
  /** Run a step on top of the dependency layer, with the source in place. */
  run(step: Step): Promise<StepResult>;
  /**
   * Run steps side by side on the dependency layer: one promise per step, in order. A runner may
   * fold them into one process tree (the Dagger runner: one container), so results may arrive together.
   */
  runAll(steps: Step[]): Promise<StepResult>[];
}

type CheckName = "lint" | "typecheck" | "test" | "security" | "build";

/** Progress: a gate started, or ended with its verdict. Renderers (src/cli/progress.ts) draw these. */
export type GateEvent = { gate: string; phase: "start" } | { gate: string; phase: "end"; status: Gate["status"]; durationMs: number; figure: string };
type OnGate = (e: GateEvent) => void;

/** Run one gate between a start and an end event. */
async function tracked<G extends Gate>(gate: string, onGate: OnGate | undefined, fn: () => Promise<G>): Promise<G> {
  onGate?.({ gate, phase: "start" });
  const started = performance.now();
  const g = await fn();
  onGate?.({ gate, phase: "end", status: g.status, durationMs: g.durationMs || performance.now() - started, figure: g.figure });
  return g;
}

export interface CiReport {
  ok: boolean;
  gates: Gate[];
  test: TestVerdict | null;
  /** The security verdict with its findings, for security.json and security.sarif. */
  security: SecurityVerdict | null;
  build: BuildInfo | null;
  summary: string;
}

function prepareDeps(plan: CheckPlan, runner: Runner, config: ResolvedConfig, onGate?: OnGate): Promise<Gate> {
  return tracked("dependencies", onGate, () => runner.prepare(plan.tools, plan.deps).then((r) => evaluateDeps(r, config)));
}

export async function runCheck(name: "lint" | "typecheck", plan: CheckPlan, runner: Runner, config: ResolvedConfig, onGate?: OnGate): Promise<Gate>;
export async function runCheck(name: "test", plan: CheckPlan, runner: Runner, config: ResolvedConfig, onGate?: OnGate): Promise<TestVerdict>;
export async function runCheck(name: "security", plan: CheckPlan, runner: Runner, config: ResolvedConfig, onGate?: OnGate): Promise<SecurityVerdict>;
export async function runCheck(name: "build", plan: CheckPlan, runner: Runner, config: ResolvedConfig, onGate?: OnGate): Promise<Gate & { info: BuildInfo | null }>;
export async function runCheck(name: CheckName, plan: CheckPlan, runner: Runner, config: ResolvedConfig, onGate?: OnGate): Promise<Gate> {
  const deps = await prepareDeps(plan, runner, config, onGate);
  if (deps.status !== "passed") {
    const blocked = blockedByDeps(name, deps);
    return name === "security" ? blockedSecurity(blocked, plan, config) : blocked;
  }
  if (name === "security") return tracked("security", onGate, () => runSecurity(plan, runner, config));
  return tracked(name, onGate, async () => evaluate(name, await runner.run(plan[name]), plan, runner, config));
}

/** The security gate's three steps side by side on the dependency layer, then one verdict. */
async function runSecurity(plan: CheckPlan, runner: Runner, config: ResolvedConfig): Promise<SecurityVerdict> {
  return securityVerdict(plan, runner.runAll(securitySteps(plan)), config);
}

function securitySteps(plan: CheckPlan): Step[] {
  const s = plan.security;
  return [s.code, s.secrets, s.audit].filter((x): x is Step => x !== null);
}

/** The security verdict from its steps' results (the order of securitySteps). */
async function securityVerdict(plan: CheckPlan, results: Promise<StepResult>[], config: ResolvedConfig): Promise<SecurityVerdict> {
  const s = plan.security;
  const [code, ...rest] = await Promise.all(results);
  const secrets = s.secrets ? rest.shift()! : null;
  const audit = s.audit ? rest.shift()! : null;
  return evaluateSecurity({ code: code!, secrets, audit }, s, config);
}

/** A security verdict for a gate whose tools never ran: what the inspection of the tree found, and why the rest is missing. */
function blockedSecurity(g: Gate, plan: CheckPlan, config: ResolvedConfig): SecurityVerdict {
  return {
    ...g,
    findings: plan.security.source.findings,
    errors: [g.figure],
    audit: {
      status: "failed",
      service: config.security.auditService,
      policy: config.security.auditUnreachable,
      packages: 0,
      vulnerable: 0,
      notAudited: [],
      text: "dependency audit: not run",
      reason: g.figure,
    },
    thresholds: { severity: config.security.severity, confidence: config.security.confidence },
    scanned: { files: 0, paths: config.security.paths },
  };
}

const BLOCKED = "blocked: dependencies failed";

/**
 * A check run on its own whose dependencies failed: failed, not skipped (`shipit lint` must not
 * pass when ruff never ran), with the install's detail. In `ci` the dependencies row is the red
 * one and the others are skipped.
 */
function blockedByDeps(name: CheckName, deps: Gate): Gate {
  return { name, status: "failed", durationMs: 0, figure: BLOCKED, detail: deps.detail };
}

function evaluate(name: Exclude<CheckName, "security">, r: StepResult, plan: CheckPlan, runner: Runner, config: ResolvedConfig): Gate {
  switch (name) {
    case "lint":
      return evaluateLint(r, r.reports[plan.reports.ruff] ?? null, runner.layout.src);
    case "typecheck":
      return evaluateTypecheck(r);
    case "test":
      return evaluateTest(r, r.reports[plan.reports.junit] ?? null, r.reports[plan.reports.coverageJson] ?? null, config, runner.layout.src);
    case "build":
      return evaluateBuild(r);
  }
}

/**
 * lint, typecheck, test, security and build side by side on one dependency layer (the build needs
 * no check's result, only the source and the wheels). Never stops at the first failure: every gate
 * gets a row in the summary.
 */
export async function runCi(plan: CheckPlan, runner: Runner, config: ResolvedConfig, title = `shipit ci (${config.name})`, onGate?: OnGate): Promise<CiReport> {
  const deps = await prepareDeps(plan, runner, config, onGate);
  if (deps.status !== "passed") {
    const gates = [deps, ...(["lint", "typecheck", "test", "security", "build"] as const).map((n) => skipped(n, BLOCKED))];
    return { ok: false, gates, test: null, security: null, build: null, summary: renderSummary(title, gates) };
  }
  const sec = securitySteps(plan);
  const [lintR, typecheckR, testR, buildR, ...secR] = runner.runAll([plan.lint, plan.typecheck, plan.test, plan.build, ...sec]);
  const [lint, typecheck, test, security, build] = await Promise.all([
    tracked("lint", onGate, () => lintR!.then((r) => evaluate("lint", r, plan, runner, config))),
    tracked("typecheck", onGate, () => typecheckR!.then((r) => evaluate("typecheck", r, plan, runner, config))),
    tracked("test", onGate, () => testR!.then((r) => evaluate("test", r, plan, runner, config) as TestVerdict)),
    tracked("security", onGate, () => securityVerdict(plan, secR, config)),
    tracked("build", onGate, () => buildR!.then((r) => evaluateBuild(r))),
  ]);
  const gates: Gate[] = [deps, lint, typecheck, test, security, build];
  return {
    ok: gates.every((g) => g.status === "passed"),
    gates,
    test,
    security,
    build: build.info,
    summary: renderSummary(title, gates),
  };
}
