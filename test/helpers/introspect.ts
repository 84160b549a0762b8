import { join } from "node:path";
import { execa } from "execa";
import { REPO } from "./variants.js";

/** Run the SDK's introspector over the module under tsx (it imports the files) and return its JSON. */
let scanned: Promise<unknown> | undefined;
export function scanModule(): Promise<unknown> {
  return (scanned ??= runScan());
}

async function runScan(): Promise<unknown> {
  const r = await execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/scan.ts")], { cwd: REPO, reject: false });
  if (r.exitCode !== 0) throw new Error(`scan failed (exit ${r.exitCode}):\n${r.stderr}`);
  return JSON.parse(r.stdout);
}
