/** A Python virtualenv with a requirements file installed, built once and reused. */
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { InfraError } from "../core/errors.js";

/**
 * Create `venv` with `requirements` installed unless a complete one is there (`.complete` is
 * written last). A `flock` in the venv's folder serializes concurrent builders, so parallel test
 * workers or deploys never install into the same venv at once. `what` names the venv in errors.
 */
export async function cachedVenv(venv: string, requirements: string, what: string): Promise<string> {
  if (existsSync(join(venv, ".complete"))) return venv;
  const root = dirname(venv);
  await mkdir(root, { recursive: true });
  const script = `set -e
[ -f "$1/.complete" ] && exit 0
rm -rf "$1"
python3 -m venv "$1"
"$1/bin/python" -m pip install --quiet --disable-pip-version-check -r "$2"
touch "$1/.complete"`;
  const r = await execa("flock", [join(root, ".lock"), "bash", "-c", script, "venv", venv, requirements], { reject: false, timeout: 15 * 60_000 });
  if (r.exitCode !== 0) throw new InfraError("VENV_FAILED", `creating ${what} ${venv} failed (pip install -r ${requirements}):\n${r.stderr || r.message}`);
  return venv;
}
