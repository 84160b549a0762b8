/** Every error shipit raises on purpose carries a stable `code`, so callers and tests can tell them apart. */
export class ShipitError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export interface ConfigIssue {
  /** Dotted key, e.g. `lint.paths[0]`. */
  key: string;
  /** The offending value as JSON, or undefined when the key is missing. */
  value?: unknown;
  problem: string;
  fix: string;
}

/** The machine or a service failed (docker, the engine, the dagger CLI, the network): exit code 3. */
export class InfraError extends ShipitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INFRA", message, options);
  }
}

/** Bad configuration: names each key, its bad value and the fix. Raised before any container starts. */
export class ConfigError extends ShipitError {
  readonly issues: ConfigIssue[];
  constructor(source: string, issues: ConfigIssue[]) {
    super("CONFIG_INVALID", formatIssues(source, issues));
    this.issues = issues;
  }
}

function formatIssues(source: string, issues: ConfigIssue[]): string {
  const lines = issues.map((i) => {
    const value = i.value === undefined ? "" : ` = ${JSON.stringify(i.value)}`;
    return `  - ${i.key}${value}: ${i.problem}. Fix: ${i.fix}`;
  });
  return `invalid shipit config (${source}):\n${lines.join("\n")}`;
}

/** A tool ran and could not do its job (not a red gate: the tool itself broke, or a step was required to succeed). */
export class StepFailedError extends ShipitError {
  readonly stepId: string;
  readonly argv: string[];
  readonly exitCode: number;
  readonly stdoutTail: string;
  readonly stderrTail: string;
  constructor(
    init: { stepId: string; argv: string[]; exitCode: number; stdout: string; stderr: string; hint?: string },
    options?: { cause?: unknown },
  ) {
    const stderrTail = tail(init.stderr);
    const stdoutTail = tail(init.stdout);
    const shown = stderrTail || stdoutTail;
    super(
      "STEP_FAILED",
      `step "${init.stepId}" failed with exit code ${init.exitCode}: ${init.argv.join(" ")}` +
        (init.hint ? `\n${init.hint}` : "") +
        (shown ? `\n--- output (last lines) ---\n${shown}` : ""),
      options,
    );
    this.stepId = init.stepId;
    this.argv = init.argv;
    this.exitCode = init.exitCode;
    this.stdoutTail = stdoutTail;
    this.stderrTail = stderrTail;
  }
}

/** The last `lines` lines of a tool's output, for error messages. */
export function tail(text: string, lines = 25): string {
  const all = text.trimEnd().split("\n");
  return all.slice(Math.max(0, all.length - lines)).join("\n");
}
