import { generateKeyPairSync, randomBytes } from "node:crypto";
import { cp, mkdtemp, mkdir, readFile, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
export const SAMPLE_BOT = join(REPO, "test/fixtures/sample-bot");

/** Statements no test runs, enough to pull the sample bot's total coverage well under 85%. */
const UNCOVERED = Array.from({ length: 60 }, (_, i) => `def unused_${i}(x: int) -> int:\n    y = x + ${i}\n    z = y * 2\n    return z - x\n`).join("\n\n");

/**
 * A value that must never appear in any output of the security gate. Made at run time, like the
 * key below, so that no credential is ever committed: shipit's own secret scan reads this file.
 */
export const CANARY = `canary-${randomBytes(12).toString("hex")}`;
const PRIVATE_KEY = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** The sample bot's .gitignore without the runtime config line. */
const GITIGNORE_WITHOUT_CONFIG = `*.db\ndata/\n*.log\n.venv/\n__pycache__/\n*.pem\n*.key\n.env\n`;

const ROSEY_CONFIG = { channel: "test-rosey", bot_name: "RoseyTest", server: "cytu.be", log_level: "DEBUG", db_path: "data/test.db", health_port: 8080 };

/** The failing variants the issue names, each a mutation of the clean sample bot. */
export const VARIANTS = {
  clean: {},
  "lint-error": { "lib/bad_lint.py": `import os\n\n\ndef f() -> int:\n    return 1\n` },
  "type-error": { "lib/bad_types.py": `def f() -> int:\n    return "not an int"\n` },
  "failing-test": { "tests/test_fails.py": `def test_fails() -> None:\n    assert 1 + 1 == 3, "arithmetic is broken"\n` },
  "low-coverage": { "lib/uncovered.py": `${UNCOVERED}` },
  "missing-path": { "shipit.json": JSON.stringify({ lint: { paths: ["lib", "bots"] } }) },
  "test-path-is-file": { test: "notes, not tests\n", "shipit.json": JSON.stringify({ test: { paths: ["test/"] } }) },
  "bad-requirements": { "requirements.txt": { append: "shipit-no-such-package-xyz==9.9.9\n" } },
  "shell-injection": {
    "lib/lookup.py":
      `"""!lookup <host>: resolve a host name for the chat, by shelling out."""\n\nimport subprocess\n\n\n` +
      `def lookup(user_input: str) -> str:\n    result = subprocess.run(f"host {user_input}", shell=True, capture_output=True, text=True)\n    return result.stdout\n`,
  },
  "hardcoded-password": { "bot/rosey/config.json.dist": JSON.stringify({ ...ROSEY_CONFIG, password: CANARY }, null, 2) + "\n" },
  "private-key": { "deploy/rosey_deploy_key": PRIVATE_KEY },
  "config-not-ignored": { ".gitignore": GITIGNORE_WITHOUT_CONFIG, "bot/rosey/config.json": JSON.stringify({ ...ROSEY_CONFIG, channel: "rosey" }, null, 2) + "\n" },
} satisfies Record<string, Record<string, string | { append: string }>>;

export type Variant = keyof typeof VARIANTS;

/** Copy the sample bot into a fresh temp folder and apply the variant's changes. */
export async function makeVariant(name: Variant, extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `shipit-${name}-`));
  await cp(SAMPLE_BOT, dir, { recursive: true, filter: (s) => !/__pycache__|\.pytest_cache|\.mypy_cache|\.ruff_cache/.test(s) });
  const changes: Record<string, string | { append: string }> = { ...VARIANTS[name], ...extra };
  for (const [path, change] of Object.entries(changes)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    if (typeof change === "string") await writeFile(file, change);
    else await appendFile(file, change.append);
  }
  return dir;
}

export async function readText(path: string): Promise<string> {
  return readFile(path, "utf8");
}
