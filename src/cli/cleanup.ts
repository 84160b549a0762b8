/**
 * Temporary folders that go when the process ends: normally, on an error, and on SIGINT/SIGTERM.
 * Handlers are installed on the first tempDir() call, never on import.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dirs = new Set<string>();
let installed = false;

function removeAll(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", removeAll);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      removeAll();
      process.exit(code);
    });
  }
}

/** A fresh folder under the system's temp dir, removed when this process ends. */
export function tempDir(prefix: string): string {
  install();
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** Remove it now (and forget it). */
export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  dirs.delete(d);
}
