/**
 * Host venvs (one per requirement set, ~300 MB each) pruned least-recently-used under a size cap:
 * SHIPIT_VENV_CACHE_MAX (bytes, or with a K/M/G suffix; default 2G). The venv in use is kept.
 */
import { readdir, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { ShipitError } from "../core/errors.js";

export function parseSize(text: string | undefined, fallback = 2 * 1024 ** 3): number {
  if (!text) return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]i?B?|B)?$/i.exec(text.trim());
  if (!m) throw new ShipitError("ENV_VAR_INVALID", `SHIPIT_VENV_CACHE_MAX=${text}: not a size. Fix: write bytes or a size such as 2G or 500M`);
  const unit = (m[2] ?? "B")[0]!.toUpperCase();
  return Math.round(Number(m[1]) * ({ B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[unit]!);
}

async function sizeOf(dir: string): Promise<number> {
  const r = await execa("du", ["-sb", dir], { reject: false });
  return r.exitCode === 0 ? Number(r.stdout.split(/\s/)[0]) : 0;
}

/** Mark the venvs `inUse` (a run's tools and project venvs) as just used, then remove the least recently used others until the total fits the cap. Returns the removed folders. */
export async function pruneVenvs(root: string, inUse: string | string[], cap = parseSize(process.env.SHIPIT_VENV_CACHE_MAX)): Promise<string[]> {
  const now = new Date();
  const keep = [inUse].flat();
  for (const v of keep) await utimes(v, now, now).catch(() => undefined);
  const names = await readdir(root).catch(() => [] as string[]);
  const venvs = [];
  for (const n of names.filter((n) => !n.endsWith(".lock"))) {
    const p = join(root, n);
    const st = await stat(p).catch(() => null);
    if (st?.isDirectory()) venvs.push({ path: p, used: st.mtimeMs, size: await sizeOf(p) });
  }
  let total = venvs.reduce((a, v) => a + v.size, 0);
  const removed: string[] = [];
  for (const v of venvs.sort((a, b) => a.used - b.used)) {
    if (total <= cap) break;
    if (keep.includes(v.path)) continue;
    await rm(v.path, { recursive: true, force: true });
    total -= v.size;
    removed.push(v.path);
  }
  return removed;
}
