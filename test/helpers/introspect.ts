import { copyFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { REPO } from "./variants.js";

const API = join(REPO, "node_modules/@dagger.io/dagger/dist/src/api");

/**
 * The SDK's `scan` resolves Dagger core types only from a non-declaration `client.gen.ts`
 * (the engine's runtime has the generated source there); npm ships `client.gen.d.ts`. Put the
 * declarations beside it under the name scan expects, as the engine's runtime layout has it.
 */
export async function ensureScannable(): Promise<void> {
  const target = join(API, "client.gen.ts");
  if (await stat(target).then(() => true, () => false)) return;
  await copyFile(join(API, "client.gen.d.ts"), target);
}

/** Run the SDK's introspector over the module under tsx (it imports the files) and return its JSON. */
let scanned: Promise<unknown> | undefined;
export function scanModule(): Promise<unknown> {
  return (scanned ??= runScan());
}

async function runScan(): Promise<unknown> {
  await ensureScannable();
  const r = await execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/scan.ts")], { cwd: REPO, reject: false });
  if (r.exitCode !== 0) throw new Error(`scan failed (exit ${r.exitCode}):\n${r.stderr}`);
  return JSON.parse(r.stdout);
}
