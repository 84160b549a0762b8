/**
 * How every shipit CLI ends: its exit code, or a clean one-line error and exit 2. The CLIs in
 * src/cli export `main(argv)` and do nothing on import (Dagger's TypeScript runtime imports every
 * file under src/); the entries in dagger/bin call runMain.
 */
import { ShipitError } from "../core/errors.js";

export type Main = (argv: string[]) => Promise<number>;

export interface RunOptions {
  /** Prefix of the error line (e.g. "shipit shim"). */
  label?: string;
  /**
   * End with process.exit (stops an open engine session or child at once) rather than setting
   * process.exitCode and letting a piped stdout drain.
   */
  forceExit?: boolean;
}

export function runMain(main: Main, opts: RunOptions = {}, argv: string[] = process.argv.slice(2)): void {
  const end = (code: number) => {
    if (opts.forceExit) process.exit(code);
    process.exitCode = code;
  };
  main(argv).then(end, (err: unknown) => {
    const message = err instanceof ShipitError || err instanceof Error ? err.message : String(err);
    console.error(opts.label ? `${opts.label}: ${message}` : err instanceof ShipitError ? message : err);
    end(2);
  });
}
