import { join } from "node:path";
import { execa } from "execa";
import { REPO } from "./variants.js";

export interface CallResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `npm run call -- ARGS` as a subprocess, exactly as a developer types it. */
export async function call(args: string[], env: Record<string, string> = {}): Promise<CallResult> {
  const started = performance.now();
  const r = await execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/call.ts"), ...args], { cwd: REPO, reject: false, env, timeout: 20 * 60_000, stdin: "ignore" });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started };
}

/** The gate table rows without the duration column, for comparing runs on different runners. */
export function gateRows(summary: string): string[] {
  return summary
    .split("\n")
    .filter((l) => /^(dependencies|lint|typecheck|test|build|security) +(ok|FAILED|skipped) /.test(l))
    .map((l) => l.replace(/^(\S+ +\S+ +)\S+ +/, "$1").replace(/ +/g, " "));
}
