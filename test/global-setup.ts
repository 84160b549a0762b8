import { execa } from "execa";

/** Fail loudly, never skip: the integration tests need a real Python with venv support on the host. */
export default async function setup(): Promise<void> {
  const r = await execa("python3", ["-c", "import sys, venv, ensurepip; print(sys.version_info[:2])"], { reject: false });
  if (r.exitCode !== 0) {
    throw new Error(
      `the tests need python3 (3.9+) with venv and ensurepip on PATH: ${r.stderr || r.message}\n` +
        "Install it: apt-get install -y python3 python3-venv (Debian), then rerun `npm test`.",
    );
  }
}
