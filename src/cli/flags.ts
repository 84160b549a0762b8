/**
 * Each CLI's flags, declared once: the parser (node:util parseArgs) and the `shipit` help
 * (commander, src/cli/shipit.ts) are both built from these tables, so help cannot drift from what
 * a command accepts.
 */
import { parseArgs } from "node:util";
import { ShipitError } from "../core/errors.js";

export interface Flag {
  type: "string" | "boolean";
  help: string;
  default?: string | boolean;
  short?: string;
  multiple?: boolean;
  /** The placeholder in help, e.g. PATH. */
  value?: string;
}
export type Flags = Record<string, Flag>;

/** A usage error: exit 2, one line naming the problem and the fix. */
export class UsageError extends ShipitError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

export function parseFlags<F extends Flags>(argv: string[], flags: F) {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [name, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}), ...(f.default !== undefined ? { default: f.default } : {}) }]),
  ) as { [K in keyof F]: { type: F[K]["type"]; multiple: F[K]["multiple"] extends true ? true : false } };
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options: options as never }) as {
      values: { [K in keyof F]: (F[K]["type"] extends "boolean" ? boolean : F[K]["multiple"] extends true ? string[] : string) | (F[K] extends { default: unknown } ? never : undefined) };
      positionals: string[];
    };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\. To specify a positional.*$/s, "")}. Fix: see --help for the flags`);
  }
}
