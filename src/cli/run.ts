/**
 * How every shipit CLI ends: its exit code, or one clean line and the documented exit code
 * (2 a usage or config error, 3 the infrastructure failed). Stack traces only with --debug.
 * The CLIs in src/cli export `main(argv)` and do nothing on import (Dagger's TypeScript runtime
 * imports every file under src/); dagger/bin/shipit.mjs calls runMain.
 */
import { OperationFailedError } from "../core/deploy/deploy.js";
import { InfraError, ShipitError } from "../core/errors.js";

export type Main = (argv: string[]) => Promise<number>;

export interface RunOptions {
  /** Prefix of the error line (default "shipit"). */
  label?: string;
  /**
   * End with process.exit (stops an open engine session or child at once) rather than setting
   * process.exitCode and letting a piped stdout drain.
   */
  forceExit?: boolean;
}

/**
 * A deploy, rollback or query the driver ran without success is 1 (as a red gate); shipit's own
 * refusals (config, arguments, missing inputs) are 2; a tool or the machine failing is 3.
 */
export function exitCodeFor(err: unknown): 1 | 2 | 3 {
  if (err instanceof OperationFailedError) return 1;
  if (err instanceof InfraError) return 3;
  if (err instanceof ShipitError) return 2;
  return 3;
}

function errorLine(err: unknown, label = "shipit"): string {
  const message = err instanceof Error ? err.message : String(err);
  const hint = err instanceof ShipitError ? "" : " (an unexpected error: rerun with --debug for the stack trace)";
  return `${label}: ${message}${hint}`;
}

export function runMain(main: Main, opts: RunOptions = {}, argv: string[] = process.argv.slice(2)): void {
  const debug = argv.includes("--debug");
  const end = (code: number) => {
    if (opts.forceExit) process.exit(code);
    process.exitCode = code;
  };
  main(argv).then(end, (err: unknown) => {
    console.error(errorLine(err, opts.label));
    if (debug && err instanceof Error && err.stack) console.error(err.stack);
    end(exitCodeFor(err));
  });
}
