import { serviceWhat, type TestService } from "../config/services.js";

/** A pipeline step as plain data. Runners (Dagger, host) turn it into processes; nothing here runs anything. */
export interface Step {
  id: string;
  /** Commands run in order; the first non-zero exit ends the step. */
  commands: string[][];
  env: Record<string, string>;
  /** Files written into the runtime before the commands run (path → contents), e.g. shipit's own helper scripts. */
  files: Record<string, string>;
  /** Folders created (empty) before the commands run, e.g. where reports go: no process is spent on them. */
  dirs: string[];
  /** Cache directories: path → cache name (names carry tool and version). */
  caches: Record<string, string>;
  /** Cache paths one run uses at a time; a run alongside gets a fresh one (the engine's PRIVATE sharing). */
  exclusiveCaches: string[];
  /** Working directory. */
  cwd: string;
  /** Report files the step writes; read back as text after the step, present or not. */
  reports: string[];
  /** Exit codes that are results, not tool crashes (e.g. pytest 1 = tests failed). */
  okExitCodes: number[];
  timeoutMs: number;
  /**
   * Services started before the commands and stopped after them, each reachable on
   * 127.0.0.1:<port> (test.services). A service not ready in time ends the step with
   * SERVICE_EXIT_CODE and a `shipit: service …` line (serviceNotReady) on stderr.
   */
  services: TestService[];
}

/** The exit code of a step whose service was not ready: the commands never ran. */
export const SERVICE_EXIT_CODE = 125;

/**
 * The line a runner writes to stderr when a service was not ready; evaluateTest reads it back.
 * `why` says what was seen (the process ended, nothing answered on the port), `fix` what to do.
 */
export function serviceNotReady(s: TestService, why: string, fix: string): string {
  return `shipit: service ${s.name} (${serviceWhat(s)}, port ${s.port}) not ready: ${why}. Fix: ${fix}`;
}

/** Where things live for one runner. The Dagger runner uses fixed container paths, the host runner temp folders. */
export interface Layout {
  src: string;
  /** The project environment: the project's dependencies, pytest and pytest-cov (and the project, per test run). */
  venv: string;
  /** shipit's tools (ruff, mypy, bandit, detect-secrets, pip-audit, uv), apart from the project environment. */
  tools: string;
  out: string;
  /** The dependency files (requirement files, pyproject.toml, uv.lock) are copied here (same relative paths) for the dependency layer. */
  deps: string;
  /** shipit's own helper scripts. */
  assets: string;
  /** A wheel for every dependency, built with the virtualenv from the requirement files alone. */
  wheels: string;
  caches: string;
}

export const CONTAINER_LAYOUT: Layout = {
  src: "/src",
  venv: "/opt/venv",
  tools: "/opt/tools",
  out: "/out",
  deps: "/deps",
  assets: "/opt/shipit",
  wheels: "/opt/wheels",
  caches: "/root/.cache",
};

export interface StepResult {
  id: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Report path → text, or null when the step did not write it. */
  reports: Record<string, string | null>;
  /** The command that ended the step (the failing one, or the last). */
  argv: string[];
}

export function step(init: Partial<Step> & Pick<Step, "id" | "commands" | "cwd">): Step {
  return {
    env: {},
    files: {},
    dirs: [],
    caches: {},
    exclusiveCaches: [],
    reports: [],
    okExitCodes: [0],
    timeoutMs: 20 * 60_000,
    services: [],
    ...init,
  };
}
